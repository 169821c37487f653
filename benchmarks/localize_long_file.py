"""Peak memory of ``localize_file`` on long files, against one offline pass over the whole clip.

An untrained SFD localizer (weights seeded, built from its config: ``--model default`` is ``SfdConfig()``,
the paper's causal Conformer with d_model 256, 2 layers, 4 heads; ``tiny`` is the tiny recipe's d_model 64)
localizes noise files of each ``--seconds`` length (16 kHz binaural, 16-bit WAV, written in pieces). Each
measurement runs in a fresh process and reports its peak resident set size (``ru_maxrss``), the RSS high-water
mark after the model is built and has localized 1 s (``setup``), and the wall time:

* ``blocks``: ``localize_file(path, model, logits=False)`` — what ``spatialrep localize FILE`` runs: 10 s
  blocks through the encoder's cached state, attention at most 30 s back.
* ``offline``: the file read whole and ``model.localize`` over all of it (what ``localize_file`` did before:
  attention over the whole clip, memory growing with the square of the length); only up to
  ``--offline-up-to`` seconds.

Run: ``.venv/bin/python benchmarks/localize_long_file.py [--seconds 60 600] [--model default|tiny]`` (600 s
takes a few minutes of CPU; the offline pass at 600 s would need about 29 GB and is not run by default).
Writes ``benchmarks/results/localize_long_file.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

SAMPLE_RATE = 16_000
MODELS = {
    "default": None,
    "tiny": {"d_model": 64, "num_layers": 2, "num_heads": 4, "conv_kernel": 7, "dropout": 0.1},
}


def _peak_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(model: str) -> Any:
    from spatialrep.methods.sfd import SfdConfig, SfdLocalizer
    from spatialrep.models import EncoderConfig
    from spatialrep.train import build_seeded

    kwargs = MODELS[model]
    config = SfdConfig() if kwargs is None else SfdConfig(encoder=EncoderConfig("causal_conformer", kwargs))
    return build_seeded(SfdLocalizer, {"config": config}, 0).eval()


def write_noise(path: Path, seconds: float, seed: int = 0) -> None:
    """Binaural noise, written a minute at a time so that the parent process stays small."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = round(seconds * SAMPLE_RATE)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 2, subtype="PCM_16") as out:
        for start in range(0, total, 60 * SAMPLE_RATE):
            count = min(60 * SAMPLE_RATE, total - start)
            out.write(0.1 * rng.standard_normal((count, 2)))


def child(mode: str, path: str, model_name: str) -> dict[str, Any]:
    """One measurement (in a fresh process)."""
    import torch

    from spatialrep.inference import localize_file
    from spatialrep.io.audio import read_audio

    torch.set_num_threads(1)
    model = _build(model_name)
    with torch.inference_mode():
        model.localize(torch.zeros(1, 2, SAMPLE_RATE), SAMPLE_RATE)  # warm up: allocator, kernels
    setup = _peak_mb()
    start = time.perf_counter()
    if mode == "blocks":
        result = localize_file(path, model, logits=False)
        azimuth = result["clip"]["azimuth_deg"]
    else:
        audio, _ = read_audio(path)
        found = model.localize(torch.from_numpy(audio.astype(np.float32))[None], SAMPLE_RATE)
        azimuth = float(np.degrees(found.azimuth[0]))
    seconds = time.perf_counter() - start
    return {"setup_mb": setup, "peak_mb": _peak_mb(), "wall_s": seconds, "clip_azimuth_deg": azimuth}


def measure(mode: str, path: Path, model: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, str(path), "--model", model]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {
            "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else str(done.returncode)
        }
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60.0, 600.0])
    parser.add_argument("--model", choices=sorted(MODELS), default="default")
    parser.add_argument("--offline-up-to", type=float, default=60.0, help="offline pass only up to this long")
    parser.add_argument("--name", default="localize_long_file", help="results/<name>.json")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.model)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.seconds:
            path = Path(tmp) / f"noise_{seconds:g}s.wav"
            write_noise(path, seconds)
            modes = ["blocks"] + (["offline"] if seconds <= args.offline_up_to else [])
            for mode in modes:
                row = {"seconds": seconds, "mode": mode, **measure(mode, path, args.model)}
                print(json.dumps(row), flush=True)
                rows.append(row)
            path.unlink()
    out = write_result(
        args.name,
        {
            "benchmark": "peak RSS of localize_file on long files (fresh process per row, 1 torch thread)",
            "model": args.model,
            "sample_rate": SAMPLE_RATE,
            "rows": rows,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
