"""`spatialrep score`: a file against itself is 0, a degraded copy is further, bad input: one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from spatialrep.cli.main import main
from spatialrep.data.sqm_pairs import degrade
from spatialrep.methods.sqm import SqmConfig, SqmModel
from spatialrep.models import EncoderConfig
from spatialrep.train import save_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    encoder = EncoderConfig("resnet1d_bilstm", {"blocks": 1, "channels": 4, "lstm_hidden": 4})
    config = SqmConfig(sample_rate=8000, segment_s=0.25, encoder=encoder, embedding_dim=4, view_dim=8)
    save_checkpoint(
        root / "run" / "model", SqmModel(config), model_name="sqm", model_kwargs={"config": config.to_dict()}
    )
    rng = np.random.default_rng(0)
    mono = np.convolve(rng.standard_normal(16000), np.ones(4) / 4, mode="same") * 0.3
    ref = np.stack([mono, np.roll(mono, 3) * 0.7])
    sf.write(root / "ref.wav", ref.T, 16000)  # another rate than the model's: resampled
    sf.write(root / "itd.wav", degrade(ref, "itd", 400, 16000).T, 16000)
    sf.write(root / "mono.wav", mono, 16000)
    sf.write(root / "silent.wav", np.zeros((1000, 2)), 16000)
    return root


def test_a_file_against_itself_scores_zero_and_a_degraded_copy_more(files, capsys):
    run = str(files / "run")
    for metric in ("deep", "embedding", "cue"):
        args = [str(files / "ref.wav"), str(files / "ref.wav"), "--metric", metric, "--json"]
        args += [] if metric == "cue" else ["--model", run, "--mono", str(files / "mono.wav")]
        assert main(["score", *args]) == 0
        same = json.loads(capsys.readouterr().out)
        assert same["score"] == 0.0 and len(same["segments"]) == (1 if metric == "cue" else 4)
    assert main(["score", str(files / "ref.wav"), str(files / "itd.wav"), "--metric", "cue"]) == 0
    assert "D = " in capsys.readouterr().out
    assert main(["score", str(files / "ref.wav"), str(files / "itd.wav"), "--model", run, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["score"] > 0
    assert "warning: no mono signal" in captured.err


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["missing.wav", "ref.wav", "--metric", "cue"], "not found"),
        (["silent.wav", "ref.wav", "--metric", "cue"], "silent"),
        (["mono.wav", "ref.wav", "--metric", "cue"], "channels"),
        (["ref.wav", "ref.wav"], "--model"),
        (["ref.wav", "ref.wav", "--model", "ref.wav"], "ref.wav"),
        (["ref.wav", "ref.wav", "--model", "run", "--mono", "ref.wav"], "channels"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, capsys, monkeypatch, args, word):
    monkeypatch.chdir(files)
    assert main(["score", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spatialrep: error:") and word in err[0]
