"""Accuracy of the deployed SFD localizer: PyTorch float32 vs ONNX float32 vs ONNX int8 on the SFD test set.

For each fine-tuned SFD checkpoint of an SFD experiment folder (default: the ``small`` run's best SFD
variant, ``sfd-gcc_phat-instance`` with the 1 h label budget, all three seeds, and seed 0 of the other
exportable 1 h models: SFD with the IPD+ILD and per-frame GCC-PHAT targets, STFT-DNN), the in-domain test
split's ``noisy`` clips are localized:

* ``pytorch_float32``: :meth:`SfdLocalizer.localize_stream` (PyTorch streaming, 100 ms chunks);
* ``onnx_float32`` / ``onnx_int8``: ``spatialrep export`` (attention context 1 s, longer than the 1 s clips'
  97 frames, so nothing is cut) run by :class:`spatialrep.deploy.StreamingLocalizer` one hop at a time;
  ``onnx_int8_per_tensor``: int8 with one scale per weight matrix instead of one per output channel.

Each clip's azimuth is the class of the mean frame posterior over the same frames for all three (the
runner completes one more frame at the end of a clip, as it needs only the windowed samples; it is left out
so the three pool identical frames). Reported: MAE and the other azimuth metrics
(:func:`spatialrep.evaluate.metrics.localization_metrics`), the MAE change int8 − float (goal: within 1°),
the share of clips whose prediction changes, and the PyTorch predictions' agreement with the experiment's
own stored evaluation (a check that this is the same model and test set). Floors: always-0° MAE.

Run: ``.venv/bin/python benchmarks/deploy_accuracy.py [--experiment /work/runs/sfd-small] [--limit N]``
(one to two minutes per checkpoint at one thread). Writes ``benchmarks/results/deploy_accuracy.json``
(``--name``: another name); the experiment folder is only read. The GCCPHAT-DNN figures:
``--models finetune/gccphat-dnn/1h/seed{0,1,2}/best --name deploy_accuracy_gccphat_dnn``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from spatialrep.deploy import StreamingLocalizer
from spatialrep.deploy.export import export_onnx, load_streaming_sfd, quantize_int8
from spatialrep.evaluate.metrics import localization_metrics
from spatialrep.methods.sfd import SfdLocalizer

DEFAULT_MODELS = [f"finetune/sfd-gcc_phat-instance/1h/seed{seed}/best" for seed in (0, 1, 2)] + [
    f"finetune/{method}/1h/seed0/best" for method in ("sfd-ipd_ild", "sfd-gcc_phat", "stft-dnn")
]


def _test_clips(data: Path, limit: int | None) -> tuple[list[np.ndarray], np.ndarray]:
    """The test split's noisy clips ``(2, samples)`` float32 and their azimuths (radians), manifest order."""
    with open(data / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    rows = rows[:limit] if limit else rows
    clips = [sf.read(data / row["noisy_path"], dtype="float32", always_2d=True)[0].T.copy() for row in rows]
    azimuth = np.radians([json.loads(row["azimuth_deg"])[0] for row in rows])
    return clips, azimuth


def _pytorch(model: SfdLocalizer, clips: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    predictions, frames = [], []
    for clip in clips:
        found = model.localize_stream(torch.from_numpy(clip)[None], model.sample_rate)
        assert found.track is not None
        predictions.append(float(found.azimuth[0]))
        frames.append(found.track.num_frames)
    return np.array(predictions), frames


def _onnx(path: Path, clips: list[np.ndarray], frames: list[int]) -> np.ndarray:
    runner = StreamingLocalizer(path)
    predictions = []
    for clip, count in zip(clips, frames, strict=True):
        runner.reset()
        posterior = runner.posteriors(runner.push(clip)[:count]).mean(axis=0)
        predictions.append(np.radians(runner.class_azimuth_deg[posterior.argmax()]))
    return np.array(predictions)


def _metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {
        key: float(value) for key, value in localization_metrics(pred, true).items() if key != "snr_bands"
    }


def evaluate(experiment: Path, model_path: str, clips: list[np.ndarray], true: np.ndarray) -> dict[str, Any]:
    model = load_streaming_sfd(experiment / model_path)
    started = time.perf_counter()
    pytorch, frames = _pytorch(model, clips)
    timings = {"pytorch_float32": time.perf_counter() - started}
    predictions = {"pytorch_float32": pytorch}
    with tempfile.TemporaryDirectory() as folder:
        float_path = export_onnx(model, Path(folder) / "sfd.onnx", context_s=1.0)
        int8_path = quantize_int8(float_path, Path(folder) / "sfd-int8.onnx")
        per_tensor = quantize_int8(float_path, Path(folder) / "sfd-int8-tensor.onnx", per_channel=False)
        variants = (
            ("onnx_float32", float_path),
            ("onnx_int8", int8_path),
            ("onnx_int8_per_tensor", per_tensor),
        )
        for name, path in variants:
            started = time.perf_counter()
            predictions[name] = _onnx(path, clips, frames)
            timings[name] = time.perf_counter() - started
    metrics = {name: _metrics(pred, true) for name, pred in predictions.items()}
    result: dict[str, Any] = {
        "model": model_path,
        **metrics,
        "mae_delta_deg": {
            "onnx_float32_minus_pytorch": metrics["onnx_float32"]["mae_deg"]
            - metrics["pytorch_float32"]["mae_deg"],
            "onnx_int8_minus_pytorch": metrics["onnx_int8"]["mae_deg"]
            - metrics["pytorch_float32"]["mae_deg"],
            "onnx_int8_minus_onnx_float32": metrics["onnx_int8"]["mae_deg"]
            - metrics["onnx_float32"]["mae_deg"],
            "onnx_int8_per_tensor_minus_pytorch": metrics["onnx_int8_per_tensor"]["mae_deg"]
            - metrics["pytorch_float32"]["mae_deg"],
        },
        "changed_predictions": {
            name: float((predictions[name] != pytorch).mean())
            for name in ("onnx_float32", "onnx_int8", "onnx_int8_per_tensor")
        },
        "wall_time_s": timings,
    }
    # The experiment evaluated finetune/<m>/<b>/seed<k>/best into eval/in-domain/<m>__<b>__seed<k>.json
    parts = Path(model_path).parts
    stored = experiment / "eval" / "in-domain" / ("__".join(parts[1:4]) + ".json")
    if len(parts) >= 4 and stored.is_file():
        reference = json.loads(stored.read_text(encoding="utf-8"))["result"]["pred_azimuth_deg"]
        if len(reference) >= len(clips):
            agree = np.isclose(np.degrees(pytorch), reference[: len(clips)], atol=1e-3)
            result["pytorch_agreement_with_experiment_eval"] = float(agree.mean())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=Path, default=Path("/work/runs/sfd-small"))
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="checkpoints, relative paths")
    parser.add_argument("--limit", type=int, default=None, help="first N test clips only")
    parser.add_argument(
        "--name", default="deploy_accuracy", help="results file: benchmarks/results/NAME.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips, true = _test_clips(args.experiment / "data", args.limit)
    rows = []
    for model_path in args.models:
        row = evaluate(args.experiment, model_path, clips, true)
        rows.append(row)
        print(
            f"{model_path}: MAE pytorch {row['pytorch_float32']['mae_deg']:.2f}°, onnx float32 "
            f"{row['onnx_float32']['mae_deg']:.2f}°, onnx int8 {row['onnx_int8']['mae_deg']:.2f}° "
            f"(int8 - float {row['mae_delta_deg']['onnx_int8_minus_onnx_float32']:+.2f}°)"
        )
    deltas = [row["mae_delta_deg"]["onnx_int8_minus_pytorch"] for row in rows]
    per_tensor = [row["mae_delta_deg"]["onnx_int8_per_tensor_minus_pytorch"] for row in rows]
    path = write_result(
        args.name,
        {
            "experiment": str(args.experiment),
            "test_set": "in-domain test split (noisy, SNR -20..20 dB, 1 s clips)",
            "clips": len(clips),
            "subset": args.limit is not None,
            "floor_always_0_deg": _metrics(np.zeros_like(true), true),
            "models": rows,
            "int8_mae_delta_deg": {
                "per_model": deltas,
                "mean": float(np.mean(deltas)),
                "max_abs": float(np.max(np.abs(deltas))),
                "goal_within_1_deg": bool(np.max(np.abs(deltas)) <= 1.0),
            },
            "int8_per_tensor_mae_delta_deg": {
                "per_model": per_tensor,
                "max_abs": float(np.max(np.abs(per_tensor))),
                "goal_within_1_deg": bool(np.max(np.abs(per_tensor)) <= 1.0),
            },
        },
    )
    print(f"int8 MAE change (vs PyTorch float32): {deltas}; wrote {path}")


if __name__ == "__main__":
    main()
