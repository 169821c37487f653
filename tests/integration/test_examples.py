"""The examples in examples/ run and produce what they say."""

import runpy
import sys
from pathlib import Path

from spatialrep.io.audio import read_audio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_render_scene_example(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["render_scene.py", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "render_scene.py"), run_name="__main__")
    noisy, rate = read_audio(tmp_path / "noisy.wav", expected_channels=2)
    assert rate == 16000 and noisy.shape[1] == 32000
    assert "RT60" in capsys.readouterr().out


def test_score_pair_example(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["score_pair.py", str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "score_pair.py"), run_name="__main__")
    lines = capsys.readouterr().out.strip().splitlines()
    scores = {line.split(":")[0].strip(): float(line.split("cue")[1]) for line in lines}
    assert scores["reference"] == 0.0
    assert all(scores[name] > 0 for name in ("itd+200us", "ild+6dB", "width-50%"))
