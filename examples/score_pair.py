"""Score a binaural recording against degraded copies of itself with ``spatialrep.inference.score_files``.

Renders one utterance through KEMAR in the free field (no download), writes it and copies with a larger ITD,
a larger ILD and a narrower width, and prints each copy's distance from the reference: the binaural-cue
distance always, and a trained SQM-BS model's when you pass its run folder.

Run: ``.venv/bin/python examples/score_pair.py [OUT_DIR] [SQM_RUN]``
"""

from __future__ import annotations

import sys
from pathlib import Path

from spatialrep.data.sqm_pairs import PairDataset, SqmDataConfig, SqmScenes, degrade
from spatialrep.inference.score import score_files
from spatialrep.io.audio import write_audio


def main(out_dir: str = "example-score", model: str | None = None) -> None:
    out = Path(out_dir)
    config = SqmDataConfig(segment_s=1.0, rooms=0, pool_size=4)
    scenes = SqmScenes(config, "test")
    reference = PairDataset(scenes, "azimuth", 1, (0.0,), head=0, room=0, azimuth_deg=30.0)[0]["reference"]
    rate = config.sample_rate
    write_audio(out / "reference.wav", reference[:2], rate)
    write_audio(out / "dry.wav", reference[2], rate)
    copies = {"itd+200us": ("itd", 200.0), "ild+6dB": ("ild", 6.0), "width-50%": ("width", 0.5)}
    for name, (kind, value) in copies.items():
        write_audio(out / f"{name}.wav", degrade(reference[:2], kind, value, rate), rate)
    for name in ["reference", *copies]:
        cue = score_files(out / "reference.wav", out / f"{name}.wav", metric="cue").score
        line = f"{name:>10}: cue {cue:7.3f}"
        if model is not None:
            deep = score_files(out / "reference.wav", out / f"{name}.wav", model=model, mono=out / "dry.wav")
            line += f"   SQM-BS {deep.score:7.4f}"
        print(line)


if __name__ == "__main__":
    main(*sys.argv[1:3])
