"""``spatialrep localize``: azimuth over time and for the whole clip, from a fine-tuned SFD model."""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Any

import numpy as np
import torch


def localize_file(
    path: str, model_dir: str, *, stream: bool = False, segment_s: float = 0.1, chunk_s: float = 0.1
) -> dict[str, Any]:
    """Localize the binaural file ``path`` with the SFD localizer in ``model_dir``.

    Args:
        path: a 2-channel audio file (channel 0 = left); another sample rate is resampled, with a warning.
        model_dir: a fine-tuning output folder, or its ``best``/``last`` checkpoint folder.
        stream: feed the audio ``chunk_s`` at a time through the encoder's cached state.
        segment_s: length of the reported segments (frames are pooled as for the whole clip).
        chunk_s: chunk length of ``stream``.

    Returns:
        ``{"file", "model", "sample_rate", "stream", "clip": {"azimuth_deg"}, "segments": [{"start_s",
        "end_s", "azimuth_deg"}], "frame_logits": [[...]]}``.

    Raises:
        ValueError: not a localizer checkpoint, not 2 channels, too short, or non-positive lengths.
    """
    from spatialrep.dsp import resample
    from spatialrep.io.audio import read_audio
    from spatialrep.methods.sfd import SfdLocalizer, load_sfd

    if segment_s <= 0 or chunk_s <= 0:
        raise ValueError(f"--segment and --chunk must be positive, got {segment_s} and {chunk_s}")
    model = load_sfd(model_dir)
    if not isinstance(model, SfdLocalizer):
        raise ValueError(
            f"{model_dir} holds a {type(model).__name__}, not a fine-tuned SfdLocalizer "
            "(run spatialrep.methods.sfd.finetune first)"
        )
    config = model.config
    audio, rate = read_audio(path, expected_channels=2)
    if rate != config.sample_rate:
        warnings.warn(
            f"{path} is at {rate} Hz; resampling to the model's {config.sample_rate} Hz",
            UserWarning,
            stacklevel=2,
        )
        audio = resample(audio, rate, config.sample_rate)
    noisy = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if stream:
        chunk = max(1, round(chunk_s * config.sample_rate))
        result = model.predict_streaming(noisy, chunk_samples=chunk)
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
                "azimuth_deg": float(np.degrees(model.grid.clip_estimate(block))),
            }
        )
    return {
        "file": str(path),
        "model": str(model_dir),
        "sample_rate": config.sample_rate,
        "stream": stream,
        "clip": {"azimuth_deg": float(np.degrees(float(result["clip_azimuth"][0])))},
        "segments": segments,
        "frame_logits": result["frame_logits"][0].tolist(),
    }


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
        if not args.logits:
            result.pop("frame_logits")
        print(json.dumps(result, indent=2, allow_nan=False))
        return 0
    mode = "streaming" if args.stream else "offline"
    print(f"{result['file']}: azimuth {result['clip']['azimuth_deg']:+.1f}° (whole clip, {mode})")
    print("  start_s   end_s  azimuth")
    for seg in result["segments"]:
        azimuth = seg["azimuth_deg"]
        text = "   n/a" if math.isnan(azimuth) else f"{azimuth:+6.1f}°"
        print(f"  {seg['start_s']:7.2f} {seg['end_s']:7.3f}  {text}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "localize",
        help="estimate the azimuth of a binaural recording with a fine-tuned SFD model",
        description="Estimate the azimuth (degrees, 0 = front, +90 = left) of a 2-channel recording over "
        "time and for the whole clip with a fine-tuned SFD localizer. Audio at another sample rate is "
        "resampled. --stream runs chunk by chunk through the encoder's cached state (same output).",
    )
    parser.add_argument("file", help="binaural audio file (channel 0 = left ear)")
    parser.add_argument("--model", required=True, help="fine-tuning output folder (or its best/ or last/)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--logits", action="store_true", help="with --json: include the frame logits")
    parser.add_argument("--stream", action="store_true", help="process the audio chunk by chunk")
    parser.add_argument(
        "--segment", type=float, default=0.1, help="seconds per reported segment (default 0.1)"
    )
    parser.add_argument("--chunk", type=float, default=0.1, help="seconds per --stream chunk (default 0.1)")
    parser.set_defaults(func=run)
