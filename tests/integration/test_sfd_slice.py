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
from spatialrep.features.distillation import FrameInput
from spatialrep.io.audio import read_audio, write_audio
from spatialrep.methods import load_model
from spatialrep.methods.sfd import SfdConfig, SfdLocalizer, SfdPretrainer, finetune, pretrain, pretrain_step
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig, read_meta

ENCODER = {"d_model": 32, "num_heads": 2, "num_layers": 2, "conv_kernel": 3, "dropout": 0.0}
CFG = SfdConfig(encoder=EncoderConfig("causal_conformer", ENCODER))


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
    trained = load_model(runs / "pre" / "last")
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
    model = load_model(runs / "ft")
    assert isinstance(model, SfdLocalizer) and model.config == CFG


def test_linear_probe_keeps_the_pretrained_encoder(runs, tmp_path):
    pretrained = runs / "pre"
    finetune(
        runs / "data", tmp_path, None, train_config(5), init_from=pretrained, freeze_encoder=True, budget="1h"
    )
    pre, probe = load_model(runs / "pre"), load_model(tmp_path / "last")
    assert isinstance(pre, SfdPretrainer) and isinstance(probe, SfdLocalizer)
    for name, value in pre.encoder.state_dict().items():
        assert torch.equal(probe.encoder.state_dict()[name], value), name


def test_finetune_guards(runs, tmp_path):
    with pytest.raises(ValueError, match="SfdLocalizer, not an SfdPretrainer"):
        finetune(runs / "data", tmp_path / "a", train_config=train_config(1), init_from=runs / "ft")
    with pytest.raises(ValueError, match=r"d_model=32.*needs 16"):
        other = SfdConfig(encoder=EncoderConfig("causal_conformer", {**ENCODER, "d_model": 16}))
        finetune(runs / "data", tmp_path / "b", other, train_config(1), init_from=runs / "pre")
    with pytest.raises(ValueError, match=r"16000 Hz but the SFD front-end expects 8000 Hz"):
        slow = CFG.replace(frontend=FrameInput(sample_rate=8000))
        pretrain(runs / "data", tmp_path / "c", slow, train_config(1))


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
    assert result["model_type"] == "SfdLocalizer"


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
    for value in ("0", "nan", "-2"):
        with pytest.raises(SystemExit) as exit_info:
            _localize(capsys, _test_file(runs), "--model", str(runs / "ft"), "--segment", value)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "--segment: expected a finite positive number" in err


def test_classic_localizers_run_by_name(runs, capsys):
    """The classic localizers answer the same command; their clip estimate equals the library's."""
    from spatialrep.evaluate import GccPhatItdLocalizer
    from spatialrep.methods.classic import resolve_classic
    from spatialrep.simulate.hrtf import load_default_hrtf

    wav = _test_file(runs)
    code, out, _ = _localize(capsys, wav, "--model", "gcc-phat-itd", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["model_type"] == "ClassicLocalizer" and result["model"] == "gcc-phat-itd"
    audio, rate = read_audio(wav)
    validated = resolve_classic("gcc-phat-itd").binaural  # the name means the family's validated variant
    direct = GccPhatItdLocalizer.from_hrtf(load_default_hrtf(rate), **validated).localize(
        audio.astype(np.float32)
    )
    assert result["clip"]["azimuth_deg"] == pytest.approx(math.degrees(direct[0]))
    assert len(result["segments"]) == 1  # 0.5 s clip, 0.5 s segments
    code, _, err = _localize(capsys, wav, "--model", "srp-phat", "--stream")
    assert code == 2 and "--stream needs a streaming model" in err
    code, _, err = _localize(capsys, wav, "--model", "gcc-phat-itd", "--receiver", "array:circular4")
    assert code == 2 and "microphone array" in err
    code, _, err = _localize(capsys, wav, "--model", "not-a-model")
    assert code == 2 and "neither a folder nor a classic localizer" in err


def test_localize_folders_in_one_call_writes_rows(runs, tmp_path, capsys):
    """Files and folders at once: a CSV row per file (or per segment); a bad file is reported, not fatal."""
    import csv
    import shutil

    folder = tmp_path / "recordings"
    (folder / "sub").mkdir(parents=True)
    files = sorted((runs / "data" / "test").glob("*/*.noisy.flac"))[:3]
    copies = [folder / "a.flac", folder / "b.flac", folder / "sub" / "c.flac"]
    for source, copy in zip(files, copies, strict=True):
        shutil.copy(source, copy)
    (folder / "notes.txt").write_text("not audio: skipped in folders")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    out_csv = tmp_path / "rows.csv"
    code, _, err = _localize(
        capsys, str(folder), str(broken), "--model", str(runs / "ft"), "--out", str(out_csv)
    )
    rows = list(csv.DictReader(out_csv.open()))
    assert code == 2 and "broken.wav" in err  # one bad file: reported, the others localized
    assert [r["file"] for r in rows] == [*map(str, copies), str(broken)]
    assert all(r["azimuth_deg"] and not r["error"] for r in rows[:-1]) and rows[-1]["error"]
    single = json.loads(_localize(capsys, str(copies[0]), "--model", str(runs / "ft"), "--json")[1])
    assert float(rows[0]["azimuth_deg"]) == pytest.approx(single["clip"]["azimuth_deg"], abs=0.005)
    code, out, _ = _localize(
        capsys, str(copies[0]), str(copies[1]), "--model", str(runs / "ft"), "--segments"
    )
    segment_rows = list(csv.DictReader(out.splitlines()))
    assert code == 0 and len(segment_rows) == 10 and segment_rows[0]["segment"] == "0"
    code, _, err = _localize(capsys, str(copies[0]), str(copies[1]), "--model", str(runs / "ft"), "--json")
    assert code == 2 and "--json" in err


def test_silence_has_no_source_and_implausible_rates_are_refused(runs, tmp_path, capsys):
    """Silent stretches get no direction (NaN / null, with the reason) instead of a confident guess."""
    import csv

    audio, rate = read_audio(_test_file(runs))
    padded = tmp_path / "pause_then_speech.wav"
    write_audio(padded, np.concatenate([np.zeros((2, rate // 2)), audio], axis=1), rate)
    code, out, _ = _localize(capsys, str(padded), "--model", str(runs / "ft"), "--json")
    result = json.loads(out)
    assert code == 0 and math.isfinite(result["clip"]["azimuth_deg"])
    first, last = result["segments"][0], result["segments"][-1]
    assert first["azimuth_deg"] is None and "silent" in first["no_source"]
    assert last["azimuth_deg"] is not None and "no_source" not in last
    speech_only = json.loads(_localize(capsys, _test_file(runs), "--model", str(runs / "ft"), "--json")[1])
    assert result["clip"]["azimuth_deg"] == speech_only["clip"]["azimuth_deg"]  # silent frames do not vote
    silent = tmp_path / "silence.wav"
    write_audio(silent, np.zeros((2, rate)), rate)
    for model in (str(runs / "ft"), "gcc-phat-itd"):
        code, out, _ = _localize(capsys, str(silent), "--model", model, "--json")
        clip = json.loads(out)["clip"]
        assert (
            code == 0
            and clip["azimuth_deg"] is None
            and "below the -70 dBFS activity floor" in clip["no_source"]
        )
    code, out, _ = _localize(capsys, str(silent), "--model", str(runs / "ft"))
    assert "azimuth n/a (no source: silent" in out
    rows_csv = tmp_path / "rows.csv"
    assert (
        _localize(capsys, str(silent), str(padded), "--model", str(runs / "ft"), "--out", str(rows_csv))[0]
        == 0
    )
    rows = list(csv.DictReader(rows_csv.open()))
    assert rows[0]["azimuth_deg"] == "" and rows[0]["no_source"].startswith("silent")
    slow = tmp_path / "one_hertz.wav"
    import soundfile as sf

    sf.write(slow, np.zeros((100, 2)) + 0.1, 1)
    code, _, err = _localize(capsys, str(slow), "--model", str(runs / "ft"))
    assert code == 2 and "sample rate of 1 Hz, outside the plausible 4000-384000 Hz" in err
