"""``spatialrep localize``: direction over time and for the whole clip, from any trained localization model.

Two kinds of model are served by the one command:

* frame-wise causal models (SFD and its supervised baselines, :class:`SfdLocalizer`): azimuth per frame,
  pooled per segment and over the clip; ``--stream`` runs chunk by chunk with cached state;
* clip-level models with ``localize_clip`` / ``localize_segments`` (SCE and WSCE embeddings with their k-NN
  reference set): azimuth and elevation per segment and for the clip; no streaming.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Any

import numpy as np
import torch


def _read(path: str, sample_rate: int) -> torch.Tensor:
    from spatialrep.dsp import resample
    from spatialrep.io.audio import read_audio

    audio, rate = read_audio(path, expected_channels=2)
    if rate != sample_rate:
        warnings.warn(
            f"{path} is at {rate} Hz; resampling to the model's {sample_rate} Hz", UserWarning, stacklevel=3
        )
        audio = resample(audio, rate, sample_rate)
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))


def _degrees(radians: float) -> float:
    return float(np.degrees(radians))


def _localize_framewise(
    model: Any, path: str, stream: bool, segment_s: float, chunk_s: float
) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[float]] | None]:
    config = model.config
    noisy = _read(path, config.sample_rate)
    if stream:
        result = model.predict_streaming(noisy, chunk_samples=max(1, round(chunk_s * config.sample_rate)))
    else:
        result = model.predict(noisy)
    probs = torch.softmax(result["frame_logits"][0], dim=-1).numpy()
    hop_s = config.hop_length / config.sample_rate
    per_segment = max(1, round(segment_s / hop_s))
    segments = []
    for start in range(0, probs.shape[0], per_segment):
        block = probs[start : start + per_segment]
        segments.append(
            {
                "start_s": round(start * hop_s, 6),
                "end_s": round((start + block.shape[0] - 1) * hop_s + config.n_fft / config.sample_rate, 6),
                "azimuth_deg": _degrees(model.grid.clip_estimate(block)),
            }
        )
    clip = {"azimuth_deg": _degrees(float(result["clip_azimuth"][0]))}
    return clip, segments, result["frame_logits"][0].tolist()


def _localize_clipwise(
    model: Any, path: str, stream: bool, segment_s: float
) -> tuple[dict[str, Any], list[dict[str, Any]], None]:
    if stream:
        raise ValueError(
            f"--stream needs a frame-wise causal model (SFD); this {type(model).__name__} estimates one "
            "direction per segment: use --segment instead"
        )
    rate = int(model.sample_rate)
    audio = _read(path, rate)
    whole = model.localize_clip(audio)
    clip = {"azimuth_deg": _degrees(whole["azimuth"]), "elevation_deg": _degrees(whole["elevation"])}
    segment = max(int(model.config.n_fft), round(segment_s * rate))
    segments = [
        {
            "start_s": round(seg["start"] / rate, 6),
            "end_s": round(seg["end"] / rate, 6),
            "azimuth_deg": _degrees(seg["azimuth"]),
            "elevation_deg": _degrees(seg["elevation"]),
        }
        for seg in model.localize_segments(audio, segment)
    ]
    return clip, segments, None


def localize_file(
    path: str, model_dir: str, *, stream: bool = False, segment_s: float | None = None, chunk_s: float = 0.1
) -> dict[str, Any]:
    """Localize the binaural file ``path`` with the trained model in ``model_dir``.

    Args:
        path: a 2-channel audio file (channel 0 = left); another sample rate is resampled, with a warning.
        model_dir: a training output folder, or its ``best``/``last``/``model`` checkpoint folder: an SFD
            localizer (or STFT-DNN / GCCPHAT-DNN) or an SCE / WSCE embedding.
        stream: frame-wise models only: feed the audio ``chunk_s`` at a time through the cached state.
        segment_s: length of the reported segments (default 0.1 s frame-wise, 0.5 s clip-wise; clip-wise
            segments are at least one analysis frame).
        chunk_s: chunk length of ``stream``.

    Returns:
        ``{"file", "model", "model_type", "sample_rate", "stream", "clip": {"azimuth_deg"[, "elevation_deg"]},
        "segments": [{"start_s", "end_s", "azimuth_deg"[, "elevation_deg"]}], "frame_logits"}``
        (``frame_logits`` is ``None`` for clip-wise models).

    Raises:
        ValueError: not a localization model, not 2 channels, too short, non-positive lengths, or ``stream``
            with a clip-wise model.
    """
    from spatialrep.methods.registry import load_model
    from spatialrep.methods.sfd import SfdLocalizer

    if (segment_s is not None and segment_s <= 0) or chunk_s <= 0:
        raise ValueError(f"--segment and --chunk must be positive, got {segment_s} and {chunk_s}")
    model = load_model(model_dir)
    frame_logits: list[list[float]] | None
    if isinstance(model, SfdLocalizer):
        clip, segments, frame_logits = _localize_framewise(model, path, stream, segment_s or 0.1, chunk_s)
        rate = model.config.sample_rate
    elif hasattr(model, "localize_clip") and hasattr(model, "localize_segments"):
        clip, segments, frame_logits = _localize_clipwise(model, path, stream, segment_s or 0.5)
        rate = int(getattr(model, "sample_rate"))  # noqa: B009 (a protocol attribute, not a typo)
    else:
        raise ValueError(
            f"{model_dir} holds a {type(model).__name__}, which does not localize (a pretraining checkpoint? "
            "fine-tune it first, see docs/sfd.md)"
        )
    return {
        "file": str(path),
        "model": str(model_dir),
        "model_type": type(model).__name__,
        "sample_rate": rate,
        "stream": stream,
        "clip": clip,
        "segments": segments,
        "frame_logits": frame_logits,
    }


def _angle(value: float) -> str:
    return "   n/a" if math.isnan(value) else f"{value:+6.1f}°"


def run(args: argparse.Namespace) -> int:
    # The resampling notice must reach the user whatever the warning filters say.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = localize_file(
            args.file, args.model, stream=args.stream, segment_s=args.segment, chunk_s=args.chunk
        )
    for warning in caught:
        if issubclass(warning.category, UserWarning) and "resampling" in str(warning.message):
            print(f"spatialrep: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if args.json:
        if not args.logits or result["frame_logits"] is None:
            result.pop("frame_logits")
        print(json.dumps(result, indent=2, allow_nan=False))
        return 0
    mode = "streaming" if args.stream else "offline"
    clip = result["clip"]
    with_elevation = "elevation_deg" in clip
    where = f"azimuth {clip['azimuth_deg']:+.1f}°"
    if with_elevation:
        where += f", elevation {clip['elevation_deg']:+.1f}°"
    print(f"{result['file']}: {where} (whole clip, {mode}, {result['model_type']})")
    print("  start_s   end_s  azimuth" + ("  elevation" if with_elevation else ""))
    for seg in result["segments"]:
        line = f"  {seg['start_s']:7.2f} {seg['end_s']:7.3f}  {_angle(seg['azimuth_deg'])}"
        if with_elevation:
            line += f"  {_angle(seg['elevation_deg'])}"
        print(line)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "localize",
        help="estimate the direction of a binaural recording with any trained model (SFD, SCE, WSCE)",
        description="Estimate the azimuth (degrees, 0 = front, +90 = left) of a 2-channel recording over "
        "time and for the whole clip with a trained model: a fine-tuned SFD localizer (or STFT-DNN / "
        "GCCPHAT-DNN), or an SCE / WSCE embedding (which also gives elevation). Audio at another sample rate "
        "is resampled. --stream (SFD models) runs chunk by chunk through the encoder's cached state (same "
        "output).",
    )
    parser.add_argument("file", help="binaural audio file (channel 0 = left ear)")
    parser.add_argument("--model", required=True, help="a trained model's folder (or its best/ or last/)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--logits", action="store_true", help="with --json: include the frame logits")
    parser.add_argument("--stream", action="store_true", help="process the audio chunk by chunk")
    parser.add_argument(
        "--segment", type=float, default=None, help="seconds per reported segment (default 0.1 SFD, 0.5 SCE)"
    )
    parser.add_argument("--chunk", type=float, default=0.1, help="seconds per --stream chunk (default 0.1)")
    parser.set_defaults(func=run)
