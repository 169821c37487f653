"""SFD end to end on a tiny rendered dataset: pretrain -> finetune -> ``spatialrep localize``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from spatialrep.cli.main import main
from spatialrep.data.datasets import ManifestDataset, collate_examples
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.io.audio import read_audio, write_audio
from spatialrep.methods.sfd import (
    SfdConfig,
    SfdLocalizer,
    SfdPretrainer,
    finetune,
    load_sfd,
    pretrain,
    pretrain_step,
)
from spatialrep.train import TrainConfig, read_meta

CFG = SfdConfig(d_model=32, num_heads=2, num_layers=2, conv_kernel=3, dropout=0.0)


def train_config(steps: int) -> TrainConfig:
    return TrainConfig(
        max_steps=steps, batch_size=6, lr=3e-3, accelerator="cpu", devices=1, log_every_n_steps=5
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sfd")
    data = root / "data"
    render_dataset(load_dataset_config("binaural-speech-tiny", ["num_examples=24"]), data, workers=1)
    pretrain(data, root / "pre", CFG, train_config(30))
    finetune(data, root / "ft", train_config=train_config(20), init_from=root / "pre")
    return root


def test_pretrain_loss_decreases_and_checkpoint_rebuilds(runs):
    data = ManifestDataset(runs / "data", split="train", signals=("noisy", "clean_direct"))
    batch = collate_examples([data[i] for i in range(len(data))])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # pretrain seeds its initial model with TrainConfig.seed (0)
        initial = SfdPretrainer(CFG).eval()
    trained = load_sfd(runs / "pre" / "last")
    assert isinstance(trained, SfdPretrainer) and trained.config == CFG
    with torch.no_grad():
        before = pretrain_step(initial, batch)["loss"].item()
        after = pretrain_step(trained, batch)["loss"].item()
    assert after < 0.7 * before, (before, after)
    meta = read_meta(runs / "pre" / "last")
    assert meta.model_name == "sfd_pretrainer"
    assert meta.feature_config == CFG.to_dict() and meta.model_kwargs == {"config": CFG.to_dict()}
    assert (runs / "pre" / "last" / "model.safetensors").is_file()


def test_finetune_saves_a_localizer_with_the_pretrained_config(runs):
    meta = read_meta(runs / "ft" / "best")
    assert meta.model_name == "sfd_localizer" and meta.feature_config == CFG.to_dict()
    model = load_sfd(runs / "ft")
    assert isinstance(model, SfdLocalizer) and model.config == CFG


def test_linear_probe_keeps_the_pretrained_encoder(runs, tmp_path):
    pretrained = runs / "pre"
    finetune(
        runs / "data", tmp_path, None, train_config(5), init_from=pretrained, freeze_encoder=True, budget="1h"
    )
    pre, probe = load_sfd(runs / "pre"), load_sfd(tmp_path / "last")
    assert isinstance(pre, SfdPretrainer) and isinstance(probe, SfdLocalizer)
    for name, value in pre.encoder.state_dict().items():
        assert torch.equal(probe.encoder.state_dict()[name], value), name


def test_finetune_guards(runs, tmp_path):
    with pytest.raises(ValueError, match="SfdLocalizer, not an SfdPretrainer"):
        finetune(runs / "data", tmp_path / "a", train_config=train_config(1), init_from=runs / "ft")
    with pytest.raises(ValueError, match=r"d_model=32.*needs 16"):
        other = SfdConfig(d_model=16, num_heads=2, num_layers=2, conv_kernel=3)
        finetune(runs / "data", tmp_path / "b", other, train_config(1), init_from=runs / "pre")
    with pytest.raises(ValueError, match=r"16000 Hz but SfdConfig\.sample_rate is 8000 Hz"):
        pretrain(runs / "data", tmp_path / "c", SfdConfig(sample_rate=8000), train_config(1))


def _localize(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["localize", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _test_file(runs):
    return str(sorted((runs / "data" / "test").glob("*/*.noisy.flac"))[0])


def test_localize_text_and_json(runs, capsys):
    wav = _test_file(runs)
    code, out, _ = _localize(capsys, wav, "--model", str(runs / "ft"))
    assert code == 0
    lines = out.strip().splitlines()
    assert "whole clip" in lines[0] and "°" in lines[0]
    assert len(lines) == 2 + 5  # header + 47 frames in 100 ms segments
    code, out, _ = _localize(capsys, wav, "--model", str(runs / "ft"), "--json")
    assert code == 0
    result = json.loads(out)
    grid = np.degrees(CFG.grid().azimuths)
    assert np.min(np.abs(grid - result["clip"]["azimuth_deg"])) < 1e-9
    assert [s["start_s"] for s in result["segments"]] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert "frame_logits" not in result and result["stream"] is False
    assert f"{result['clip']['azimuth_deg']:+.1f}°" in lines[0]


def test_localize_stream_equals_offline(runs, capsys):
    args = [_test_file(runs), "--model", str(runs / "ft"), "--json", "--logits"]
    offline = json.loads(_localize(capsys, *args)[1])
    streamed = json.loads(_localize(capsys, *args, "--stream", "--chunk", "0.037")[1])
    delta = np.abs(np.array(offline["frame_logits"]) - np.array(streamed["frame_logits"]))
    assert delta.shape == (47, 37) and delta.max() <= 1e-5
    assert streamed["segments"] == offline["segments"] and streamed["clip"] == offline["clip"]


def test_localize_bad_channel_count_exits_2(runs, tmp_path, capsys):
    audio, rate = read_audio(_test_file(runs))
    mono = tmp_path / "mono.wav"
    write_audio(mono, audio[:1], rate)
    code, out, err = _localize(capsys, str(mono), "--model", str(runs / "ft"))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "mono.wav has 1 channels, expected 2" in lines[0]


def test_localize_needs_a_finetuned_model(runs, capsys):
    code, _, err = _localize(capsys, _test_file(runs), "--model", str(runs / "pre"))
    assert code == 2 and "SfdPretrainer, which does not localize" in err


def test_localize_resamples_other_rates_with_a_notice(runs, tmp_path, capsys):
    from spatialrep.dsp import resample

    audio, rate = read_audio(_test_file(runs))
    high = tmp_path / "48k.wav"
    write_audio(high, resample(audio, rate, 48000), 48000)
    code, out, err = _localize(capsys, str(high), "--model", str(runs / "ft"), "--json")
    assert code == 0 and "resampling to the model's 16000 Hz" in err
    result = json.loads(out)
    assert len(result["segments"]) == 5 and math.isfinite(result["clip"]["azimuth_deg"])


def test_localize_rejects_non_positive_segment(runs, capsys):
    code, _, err = _localize(capsys, _test_file(runs), "--model", str(runs / "ft"), "--segment", "0")
    assert code == 2 and "--segment and --chunk must be positive" in err
