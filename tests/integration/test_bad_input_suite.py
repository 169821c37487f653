"""The bad-input suite: every command and the main API entry points, each fed something a hostile but
realistic user would give it. One table per surface; each case asserts the exit status (or exception), a word
of the message, no traceback, and that nothing was left behind (the folders it touched are as they were).

Add a case here when a new bad input is found: the count only grows.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from spatialrep.cli.main import main

RATE = 16000


# ------------------------------------------------------------------------------------------------ the world


def _wav(path: Path, samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, subtype=subtype)
    return path


def _noise(seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal((round(seconds * RATE), channels))


def _sfd_model(folder: Path, *, d_model: int | None = None) -> Path:
    from spatialrep.config import to_dict
    from spatialrep.methods.sfd import SfdConfig, SfdLocalizer
    from spatialrep.models import EncoderConfig
    from spatialrep.train import build_seeded, save_checkpoint

    encoder = {"d_model": 16, "num_heads": 2, "num_layers": 1, "conv_kernel": 3}
    config = SfdConfig(encoder=EncoderConfig("causal_conformer", encoder))
    model = build_seeded(SfdLocalizer, {"config": config}, 0)
    save_checkpoint(folder, model, model_name="sfd_localizer", model_kwargs={"config": to_dict(config)})
    if d_model is not None:  # an edited model.json asking for a huge model
        meta = json.loads((folder / "model.json").read_text())
        meta["model_kwargs"]["config"]["encoder"]["kwargs"]["d_model"] = d_model
        (folder / "model.json").write_text(json.dumps(meta))
    return folder


def _mcsimclr_model(folder: Path) -> Path:
    """A 4-channel MC-SimCLR model (random weights) that localizes and names a class."""
    from spatialrep.config import to_dict
    from spatialrep.methods.mcsimclr import McSimclrConfig, McSimclrModel
    from spatialrep.models import EncoderConfig
    from spatialrep.train import build_seeded, save_checkpoint

    config = McSimclrConfig(encoder=EncoderConfig("crnn", {"conv_channels": 4, "gru_hidden": 4}))
    model = build_seeded(McSimclrModel, {"config": config, "class_names": ["dog", "bell"]}, 0)
    kwargs = {"config": to_dict(config), "class_names": ["dog", "bell"]}
    save_checkpoint(folder, model, model_name="mcsimclr_model", model_kwargs=kwargs)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Every file the cases read: good and bad audio, label files, YAML, models, a tiny dataset."""
    w = tmp_path_factory.mktemp("world")
    _wav(w / "good.wav", _noise(1.0))
    _wav(w / "mono.wav", _noise(1.0, channels=1))
    _wav(w / "four.wav", _noise(1.0, channels=4))
    _wav(w / "short.wav", _noise(0.001))
    _wav(w / "silent.wav", np.zeros((RATE, 2)))
    nan = _noise(1.0)
    nan[100, 0] = np.nan
    _wav(w / "nan.wav", nan, subtype="FLOAT")
    _wav(w / "one_hz.wav", _noise(1.0)[:200], rate=1)
    (w / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (w / "empty.wav").write_bytes(b"")
    (w / "text.flac").write_text("not audio at all\n")
    (w / "a_folder.wav").mkdir()
    (w / "no_audio").mkdir()
    (w / "no_audio" / "notes.txt").write_text("x")

    # label files for `dataset import`, audio in w/rec
    rec = w / "rec"
    _wav(rec / "a.wav", _noise(1.0))
    _wav(rec / "b.wav", _noise(1.0, seed=1))
    header = "file,azimuth_deg,elevation_deg,distance_m,class\n"
    labels = {
        "good.csv": header + "a.wav,30,0,1,dog\nb.wav,-30,0,1,dog\n",
        "dup.csv": header + "a.wav,30,0,1,dog\na.wav,30,0,1,dog\n",
        "escape.csv": header + "../good.wav,30,0,1,dog\n",
        "absolute.csv": header + f"{w / 'good.wav'},30,0,1,dog\n",
        "quote.csv": header + 'a.wav,30,0,1,"dog\n',
        "columns.csv": "file,azimuth_deg\na.wav,30\n",
        "angle.csv": header + "a.wav,270,0,1,dog\n",
        "nan_angle.csv": header + "a.wav,nan,0,1,dog\n",
        "word.csv": header + "a.wav,left,0,1,dog\n",
        "distance.csv": header + "a.wav,30,0,-2,dog\n",
        "ghost.csv": header + "ghost.wav,30,0,1,dog\n",
        "rows.csv": header,
    }
    for name, text in labels.items():
        (w / name).write_text(text)
    (w / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01" * 20)

    # YAML
    (w / "empty.yaml").write_text("# nothing\n")
    (w / "broken.yaml").write_text("dataset: [unclosed\n")
    (w / "list.yaml").write_text("- 1\n- 2\n")
    (w / "unknown_key.yaml").write_text("scale: x\nbogus_key: 1\n")
    (w / "features_bad.yaml").write_text("n_fft: -4\n")

    # models
    _sfd_model(w / "model")
    _sfd_model(w / "huge_model", d_model=65536)
    _mcsimclr_model(w / "mc_model")
    (w / "no_json").mkdir()
    (w / "bad_json").mkdir()
    (w / "bad_json" / "model.json").write_text("{not json")
    shutil.copytree(w / "model", w / "no_weights")
    (w / "no_weights" / "model.safetensors").unlink()
    shutil.copytree(w / "model", w / "pickle_weights")
    torch.save({"w": torch.zeros(2)}, w / "pickle_weights" / "model.safetensors")

    # a tiny dataset, a copy with a truncated file, and folders that hold something else
    assert main(["simulate", "--preset", "binaural-speech-tiny", "--num", "4", "--out", str(w / "data"),
                 "--workers", "1", "--quiet"]) == 0  # fmt: skip
    shutil.copytree(w / "data", w / "data_truncated")
    victim = sorted((w / "data_truncated").rglob("*.noisy.flac"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    (w / "foreign").mkdir()
    (w / "foreign" / "thesis.tex").write_text("mine")
    (w / "a_file").write_text("x")
    (w / "sce_folder").mkdir()
    (w / "sce_folder" / "experiment.json").write_text(json.dumps({"experiment": "sce", "config": {}}))
    np.savez(w / "pickled.npz", x=np.array([{"a": 1}], dtype=object))
    (w / "cache").mkdir()
    (w / "cache" / "damaged.npz").write_bytes(b"PK\x03\x04 cut short")
    return w


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folders``: files with their size and modification time, folders by name (a lock
    file made and removed again changes a folder's time, not what it holds)."""
    out = {}
    for folder in folders:
        if folder.exists():
            for p in sorted(folder.rglob("*")):
                st = p.stat()
                out[str(p)] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


# ---------------------------------------------------------------------------------------- the command line

W, T = "{w}", "{t}"  # the world folder (shared, read-only) and this case's own empty folder

CLI_CASES: list[tuple[str, list[str], str]] = [
    # simulate
    ("sim-no-out", ["simulate", "--preset", "binaural-speech-tiny"], "needs --preset NAME and --out"),
    ("sim-unknown-preset", ["simulate", "--preset", "bogus", "--out", f"{T}/o"], "bogus"),
    ("sim-num-zero", ["simulate", "--preset", "binaural-speech-tiny", "--num", "0", "--out", f"{T}/o"],
     "positive integer"),
    ("sim-num-huge", ["simulate", "--preset", "binaural-speech-tiny", "--num", "1e12", "--out", f"{T}/o"],
     "more than the 10,000,000"),
    ("sim-num-word", ["simulate", "--preset", "binaural-speech-tiny", "--num", "many", "--out", f"{T}/o"],
     "positive integer"),
    ("sim-hours-huge", ["simulate", "--preset", "binaural-speech-tiny", "--hours", "1e9", "--out", f"{T}/o"],
     "more than the 10,000,000"),
    ("sim-hours-nan", ["simulate", "--preset", "binaural-speech-tiny", "--hours", "nan", "--out", f"{T}/o"],
     "--hours"),
    ("sim-hours-negative", ["simulate", "--preset", "binaural-speech-tiny", "--hours", "-1", "--out",
                            f"{T}/o"], "--hours"),
    ("sim-workers-zero", ["simulate", "--preset", "binaural-speech-tiny", "--num", "2", "--workers", "0",
                          "--out", f"{T}/o"], "positive integer"),
    ("sim-workers-negative", ["simulate", "--preset", "binaural-speech-tiny", "--num", "2", "--workers", "-3",
                              "--out", f"{T}/o"], "positive integer"),
    ("sim-executor", ["simulate", "--preset", "binaural-speech-tiny", "--executor", "slurm", "--out",
                      f"{T}/o"], "invalid choice"),
    ("sim-set-unknown-key", ["simulate", "--preset", "binaural-speech-tiny", "--set", "scene.bogus=1",
                             "--out", f"{T}/o"], "bogus"),
    ("sim-set-nan", ["simulate", "--preset", "binaural-speech-tiny", "--set", "scene.snr_range_db=[.nan, 5]",
                     "--out", f"{T}/o"], "snr_range_db"),
    ("sim-set-no-equals", ["simulate", "--preset", "binaural-speech-tiny", "--set", "scene.rt60", "--out",
                           f"{T}/o"], "KEY=VALUE"),
    ("sim-empty-yaml", ["simulate", "--preset", f"{W}/empty.yaml", "--out", f"{T}/o"], "empty"),
    ("sim-broken-yaml", ["simulate", "--preset", f"{W}/broken.yaml", "--out", f"{T}/o"], "not valid YAML"),
    ("sim-list-yaml", ["simulate", "--preset", f"{W}/list.yaml", "--out", f"{T}/o"], "mapping"),
    ("sim-missing-sofa", ["simulate", "--preset", "binaural-speech-tiny", "--set",
                          f"scene.receiver={W}/absent.sofa", "--out", f"{T}/o"], "absent.sofa"),
    ("sim-text-as-sofa", ["simulate", "--preset", "binaural-speech-tiny", "--num", "2", "--set",
                          f"scene.receiver={W}/empty.yaml", "--out", f"{T}/o"], "empty.yaml"),
    ("sim-out-is-file", ["simulate", "--preset", "binaural-speech-tiny", "--num", "2", "--out",
                         f"{W}/a_file"],
     "is a file"),
    ("sim-out-foreign", ["simulate", "--preset", "binaural-speech-tiny", "--num", "2", "--out",
                         f"{W}/foreign"],
     "not empty"),
    ("sim-out-other-dataset", ["simulate", "--preset", "binaural-speech-tiny", "--num", "3", "--out",
                               f"{W}/data", "--workers", "1"], "another config"),
    ("sim-corrupt-source", ["simulate", "--preset", "binaural-speech-tiny", "--num", "1", "--workers", "1",
                            "--set", f"scene.source=folder:{W}/corrupt_bank", "--out", f"{T}/o"], "corrupt"),
    # dataset import / info
    ("import-good-bad-receiver", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/good.csv",
                                  "--out", f"{T}/o", "--receiver", "array:circular4"], "4 channels"),
    ("import-dup", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/dup.csv", "--out",
                    f"{T}/o"],
     "repeats line 2"),
    ("import-escape", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/escape.csv", "--out",
                       f"{T}/o"], "inside the audio folder"),
    ("import-absolute", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/absolute.csv", "--out",
                         f"{T}/o"], "inside the audio folder"),
    ("import-quote", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/quote.csv", "--out",
                      f"{T}/o"], "not valid CSV"),
    ("import-binary", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/binary.csv", "--out",
                       f"{T}/o"], "not UTF-8"),
    ("import-columns", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/columns.csv", "--out",
                        f"{T}/o"], "lacks column"),
    ("import-angle", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/angle.csv", "--out",
                      f"{T}/o"], "out of range"),
    ("import-nan-angle", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/nan_angle.csv",
                          "--out", f"{T}/o"], "azimuth_deg"),
    ("import-word-angle", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/word.csv", "--out",
                           f"{T}/o"], "not a number"),
    ("import-distance", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/distance.csv", "--out",
                         f"{T}/o"], "must be positive"),
    ("import-ghost", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/ghost.csv", "--out",
                      f"{T}/o"], "ghost.wav"),
    ("import-no-rows", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/rows.csv", "--out",
                        f"{T}/o"], "no rows"),
    ("import-no-labels", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/absent.csv", "--out",
                          f"{T}/o"], "absent.csv"),
    ("import-no-audio-folder", ["dataset", "import", "--audio", f"{W}/nowhere", "--labels", f"{W}/good.csv",
                                "--out", f"{T}/o"], "nowhere"),
    ("import-out-foreign", ["dataset", "import", "--audio", f"{W}/rec", "--labels", f"{W}/good.csv", "--out",
                            f"{W}/foreign"], "not empty"),
    ("info-missing", ["dataset", "info", f"{W}/nowhere"], "nowhere"),
    ("info-no-manifest", ["dataset", "info", f"{W}/foreign"], "manifest"),
    ("info-not-a-manifest", ["dataset", "info", f"{W}/binary.csv"], "binary.csv"),
    # features
    ("feat-unknown-stack", ["features", f"{W}/data", "--stack", "bogus", "--out", f"{T}/c"], "bogus"),
    ("feat-bad-set", ["features", f"{W}/data", "--set", "n_fft=-1", "--out", f"{T}/c"], "n_fft"),
    ("feat-bad-config", ["features", f"{W}/data", "--config", f"{W}/features_bad.yaml", "--out", f"{T}/c"],
     "n_fft"),
    ("feat-missing-config", ["features", f"{W}/data", "--config", f"{W}/absent.yaml", "--out", f"{T}/c"],
     "absent.yaml"),
    ("feat-rate", ["features", f"{W}/data", "--set", "sample_rate=48000", "--out", f"{T}/c"], "48000"),
    ("feat-channels", ["features", f"{W}/data", "--stack", "dcase_4ch", "--set", "sample_rate=16000", "--out",
                       f"{T}/c"], "channel"),
    ("feat-split", ["features", f"{W}/data", "--split", "dev", "--out", f"{T}/c"], "dev"),
    ("feat-signal", ["features", f"{W}/data", "--signal", "wet", "--out", f"{T}/c"], "wet"),
    ("feat-batch", ["features", f"{W}/data", "--batch-size", "0", "--out", f"{T}/c"], "batch"),
    ("feat-truncated", ["features", f"{W}/data_truncated", "--out", f"{T}/c"], "flac"),
    ("feat-audio-file", ["features", f"{W}/good.wav", "--out", f"{T}/c"], "--plot"),
    ("feat-missing", ["features", f"{W}/nowhere", "--out", f"{T}/c"], "nowhere"),
    ("feat-plot-corrupt", ["features", f"{W}/corrupt.wav", "--plot", f"{T}/p.png"], "corrupt.wav"),
    ("feat-plot-mono", ["features", f"{W}/mono.wav", "--plot", f"{T}/p.png"], "channels"),
    # experiment
    ("exp-unknown", ["experiment", "bogus", "--out", f"{T}/e"], "invalid choice"),
    ("exp-unknown-scale", ["experiment", "sfd", "--scale", "huge", "--out", f"{T}/e"], "huge"),
    ("exp-missing-config", ["experiment", "sfd", "--config", f"{W}/absent.yaml", "--out", f"{T}/e"],
     "absent.yaml"),
    ("exp-empty-config", ["experiment", "sfd", "--config", f"{W}/empty.yaml", "--out", f"{T}/e"], "empty"),
    ("exp-broken-config", ["experiment", "sce", "--config", f"{W}/broken.yaml", "--out", f"{T}/e"],
     "not valid YAML"),
    ("exp-unknown-key", ["experiment", "sfd", "--config", f"{W}/unknown_key.yaml", "--out", f"{T}/e"],
     "bogus_key"),
    ("exp-set-seeds", ["experiment", "sfd", "--set", "seeds=[]", "--out", f"{T}/e"], "seeds"),
    ("exp-set-lr-nan", ["experiment", "sfd", "--set", "finetune.lr=.nan", "--out", f"{T}/e"], "lr"),
    ("exp-set-sce", ["experiment", "sce", "--set", "batch_size=-4", "--out", f"{T}/e"], "batch_size"),
    ("exp-set-target", ["experiment", "sfd", "--set", "targets=[bogus]", "--out", f"{T}/e"], "bogus"),
    ("exp-workers", ["experiment", "sfd", "--workers", "0", "--out", f"{T}/e"], "positive integer"),
    ("exp-sce-workers", ["experiment", "sce", "--workers", "-2", "--out", f"{T}/e"], "positive integer"),
    ("exp-threads", ["experiment", "sfd", "--threads", "0", "--out", f"{T}/e"], "positive integer"),
    ("exp-foreign", ["experiment", "sfd", "--out", f"{W}/foreign"], "not empty"),
    ("exp-sce-folder", ["experiment", "sfd", "--out", f"{W}/sce_folder"], "sce experiment"),
    ("exp-out-file", ["experiment", "sce", "--out", f"{W}/a_file"], "is a file"),
    ("exp-mc-crop", ["experiment", "mcsimclr", "--set", "model.crop_s=-1", "--out", f"{T}/e"], "crop_s"),
    ("exp-mc-long-crop", ["experiment", "mcsimclr", "--set", "model.crop_s=5", "--out", f"{T}/e"],
     "longer than the clips"),
    ("exp-mc-no-full", ["experiment", "mcsimclr", "--set", "pretrained=[none]", "--out", f"{T}/e"], "full"),
    ("exp-mc-variant", ["experiment", "mcsimclr", "--set", "pretrained=[full, no-xyz]", "--out", f"{T}/e"],
     "no-xyz"),
    ("exp-mc-gcc", ["experiment", "mcsimclr", "--set", "classic=[gcc-phat-itd]", "--out", f"{T}/e"],
     "binaural"),
    ("exp-mc-sources", ["experiment", "mcsimclr", "--set", "dataset.scene.num_sources=[1, 2]", "--out",
                        f"{T}/e"], "one source"),
    ("exp-mc-receiver", ["experiment", "mcsimclr", "--set", "dataset.scene.receiver=kemar", "--out",
                         f"{T}/e"], "array:circular4"),
    ("exp-dsp-models", ["experiment", "dspast", "--set", "models=[spatialast]", "--out", f"{T}/e"], "dspast"),
    ("exp-dsp-stack", ["experiment", "dspast", "--set", "stack=binaural_default", "--out", f"{T}/e"],
     "stack"),
    ("exp-dsp-rate", ["experiment", "dspast", "--set", "dataset.scene.sample_rate=32000", "--out", f"{T}/e"],
     "32000"),
    ("exp-dsp-bins", ["experiment", "dspast", "--set", "targets.azimuth_bin_deg=7", "--out", f"{T}/e"],
     "azimuth_bin_deg"),
    ("exp-dsp-array", ["experiment", "dspast", "--set", "dataset.scene.receiver=array:circular4", "--out",
                       f"{T}/e"], "binaural"),
    ("exp-mc-temperature", ["experiment", "mcsimclr", "--set", "model.loss.temperature=0", "--out", f"{T}/e"],
     "temperature"),
    ("exp-mc-drop", ["experiment", "mcsimclr", "--set", "model.augment.channel_drop=1.5", "--out", f"{T}/e"],
     "channel_drop"),
    # demo
    ("demo-workers", ["demo", "--workers", "0", "--out", f"{T}/d"], "positive integer"),
    ("demo-workers-negative", ["demo", "--workers", "-2", "--out", f"{T}/d"], "positive integer"),
    ("demo-foreign", ["demo", "--out", f"{W}/foreign"], "not empty"),
    # embed
    ("emb-missing-file", ["embed", f"{W}/absent.wav", "--model", f"{W}/model", "--out", f"{T}/e"],
     "absent.wav"),
    ("emb-no-audio", ["embed", f"{W}/no_audio", "--model", f"{W}/model", "--out", f"{T}/e"],
     "no audio files"),
    ("emb-classic", ["embed", f"{W}/good.wav", "--model", "gcc-phat-itd", "--out", f"{T}/e"], "gcc-phat-itd"),
    ("emb-no-json", ["embed", f"{W}/good.wav", "--model", f"{W}/no_json", "--out", f"{T}/e"], "no_json"),
    ("emb-out-is-file", ["embed", f"{W}/good.wav", "--model", f"{W}/model", "--out", f"{W}/empty.wav"],
     "is a file"),
    ("emb-format", ["embed", f"{W}/good.wav", "--model", f"{W}/model", "--out", f"{T}/e", "--format", "pkl"],
     "format"),
    ("emb-segment", ["embed", f"{W}/good.wav", "--model", f"{W}/model", "--out", f"{T}/e", "--segment", "-1"],
     "segment"),
    # benchmark
    ("bench-suite", ["benchmark", "--suite", "huge", "--out", f"{T}/b"], "huge"),
    ("bench-methods", ["benchmark", "--methods", "deep-magic", "--out", f"{T}/b"], "deep-magic"),
    ("bench-set", ["benchmark", "--set", "seeds=[]", "--out", f"{T}/b"], "seeds"),
    # report
    ("report-not-run", ["report", f"{W}/no_audio"], "no results.md"),
    ("report-missing", ["report", f"{W}/absent_run"], "absent_run"),
    # localize
    ("loc-missing-file", ["localize", f"{W}/absent.wav", "--model", "gcc-phat-itd"], "absent.wav"),
    ("loc-folder-as-file", ["localize", f"{W}/a_folder.wav", "--model", "gcc-phat-itd"], "a_folder.wav"),
    ("loc-no-audio", ["localize", f"{W}/no_audio", "--model", "gcc-phat-itd"], "no audio files"),
    ("loc-corrupt", ["localize", f"{W}/corrupt.wav", "--model", "gcc-phat-itd"], "corrupt.wav"),
    ("loc-empty-file", ["localize", f"{W}/empty.wav", "--model", "gcc-phat-itd"], "empty.wav"),
    ("loc-text", ["localize", f"{W}/text.flac", "--model", "gcc-phat-itd"], "text.flac"),
    ("loc-nan", ["localize", f"{W}/nan.wav", "--model", "gcc-phat-itd"], "nan.wav"),
    ("loc-mono", ["localize", f"{W}/mono.wav", "--model", "gcc-phat-itd"], "channel"),
    ("loc-four", ["localize", f"{W}/four.wav", "--model", f"{W}/model"], "channel"),
    ("loc-two-for-four", ["localize", f"{W}/good.wav", "--model", f"{W}/mc_model"], "2 channels, expected 4"),
    ("loc-mc-stream", ["localize", f"{W}/four.wav", "--model", f"{W}/mc_model", "--stream"], "stream"),
    ("loc-short", ["localize", f"{W}/short.wav", "--model", f"{W}/model"], "short"),
    ("loc-one-hz", ["localize", f"{W}/one_hz.wav", "--model", "gcc-phat-itd"], "sample rate"),
    ("loc-unknown-model", ["localize", f"{W}/good.wav", "--model", "deep-magic"], "deep-magic"),
    ("loc-no-json", ["localize", f"{W}/good.wav", "--model", f"{W}/no_json"], "no_json"),
    ("loc-bad-json", ["localize", f"{W}/good.wav", "--model", f"{W}/bad_json"], "model.json"),
    ("loc-no-weights", ["localize", f"{W}/good.wav", "--model", f"{W}/no_weights"], "model.safetensors"),
    ("loc-pickle", ["localize", f"{W}/good.wav", "--model", f"{W}/pickle_weights"], "model.safetensors"),
    ("loc-huge-model", ["localize", f"{W}/good.wav", "--model", f"{W}/huge_model"], "shape"),
    ("loc-receiver", ["localize", f"{W}/good.wav", "--model", "gcc-phat-itd", "--receiver", "bogus"],
     "bogus"),
    ("loc-segment-nan", ["localize", f"{W}/good.wav", "--model", "gcc-phat-itd", "--segment", "nan"],
     "finite positive number"),
    ("loc-segment-negative", ["localize", f"{W}/good.wav", "--model", "gcc-phat-itd", "--segment", "-1"],
     "-1"),
    ("loc-chunk-zero", ["localize", f"{W}/good.wav", "--model", f"{W}/model", "--stream", "--chunk", "0"],
     "0"),
    ("loc-stream-classic", ["localize", f"{W}/good.wav", "--model", "gcc-phat-itd", "--stream"], "stream"),
    ("loc-out-folder", ["localize", f"{W}/good.wav", f"{W}/rec", "--model", "gcc-phat-itd", "--out",
                        f"{W}/foreign"], "is a folder"),
    # export
    ("exp-missing-run", ["export", "--model", f"{W}/absent_run", "--out", f"{T}/m.onnx"], "absent_run"),
    ("exp-no-json", ["export", "--model", f"{W}/no_json", "--out", f"{T}/m.onnx"], "model.json"),
    ("exp-not-sfd", ["export", "--model", f"{W}/mc_model", "--out", f"{T}/m.onnx"], "McSimclrModel"),
    ("exp-out-suffix", ["export", "--model", f"{W}/model", "--out", f"{T}/m.txt"], ".onnx"),
    ("exp-context-zero", ["export", "--model", f"{W}/model", "--out", f"{T}/m.onnx", "--context-s", "0"],
     "positive"),
    # score (SQM-BS and the cue distance)
    ("score-missing", ["score", f"{W}/missing.wav", f"{W}/good.wav", "--metric", "cue"], "not found"),
    ("score-corrupt", ["score", f"{W}/good.wav", f"{W}/corrupt.wav", "--metric", "cue"], "corrupt.wav"),
    ("score-silent", ["score", f"{W}/silent.wav", f"{W}/good.wav", "--metric", "cue"], "silent"),
    ("score-nan", ["score", f"{W}/nan.wav", f"{W}/good.wav", "--metric", "cue"], "nan"),
    ("score-mono-file", ["score", f"{W}/mono.wav", f"{W}/good.wav", "--metric", "cue"], "channels"),
    ("score-no-model", ["score", f"{W}/good.wav", f"{W}/good.wav"], "--model"),
    ("score-not-sqm", ["score", f"{W}/good.wav", f"{W}/good.wav", "--model", f"{W}/model"], "not an SQM-BS"),
    ("score-metric", ["score", f"{W}/good.wav", f"{W}/good.wav", "--metric", "bogus"], "invalid choice"),
    # info and the top level
    ("info-flag", ["info", "--bogus"], "unrecognized"),
    ("no-command", ["bogus-command"], "invalid choice"),
]  # fmt: skip


def _run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


@pytest.mark.parametrize(("argv", "word"), [pytest.param(a, w, id=i) for i, a, w in CLI_CASES])
def test_a_bad_command_line_fails_cleanly(world, tmp_path, capsys, monkeypatch, argv, word):
    bank = world / "corrupt_bank" / "dog"
    if not bank.exists():
        _wav(bank / "good.wav", _noise(0.5, channels=1))
        shutil.copy(world / "corrupt.wav", bank / "corrupt.wav")
    monkeypatch.chdir(tmp_path)
    args = [a.replace(W, str(world)).replace(T, str(tmp_path)) for a in argv]
    before = _snapshot(world, tmp_path)
    code = _run_cli(args)
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}; stderr:\n{err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if "error" in line]
    assert lines, err
    assert word.lower() in lines[-1].lower(), f"{word!r} not in {lines[-1]!r}"
    assert _snapshot(world, tmp_path) == before, "files were left behind or changed"


def test_the_table_covers_every_command():
    from spatialrep.cli.main import _COMMANDS

    covered = {argv[0] for _, argv, _ in CLI_CASES}
    assert set(_COMMANDS) <= covered | {"info"}, set(_COMMANDS) - covered
    assert len(CLI_CASES) + len(API_CASES) >= 60


# ----------------------------------------------------------------------------------------------- the API


def _api_cases(w: Path, t: Path) -> dict[str, Callable[[], Any]]:
    from spatialrep.config import load_config
    from spatialrep.data.config import DatasetConfig
    from spatialrep.data.feature_cache import cache_features
    from spatialrep.data.importer import import_recordings
    from spatialrep.data.measurement_sets import load_or_build
    from spatialrep.data.presets import load_dataset_config
    from spatialrep.data.writer import render_dataset
    from spatialrep.experiments.runner import load_recipe, run_experiment
    from spatialrep.features.frontend import FeatureConfig, FeatureFrontEnd
    from spatialrep.inference import localize_file
    from spatialrep.inference.localize import load_localizer
    from spatialrep.io.arrays import load_npz
    from spatialrep.io.audio import read_audio
    from spatialrep.losses import NTXentLoss
    from spatialrep.methods.mcsimclr import McSimclrConfig, linear_probe
    from spatialrep.methods.sce import SceConfig
    from spatialrep.methods.sfd import SfdConfig
    from spatialrep.train import TrainConfig, load_checkpoint

    tiny = load_dataset_config("binaural-speech-tiny")
    nan_audio = torch.zeros(1, 2, RATE)
    nan_audio[0, 1, 5] = math.nan
    return {
        "read_audio-nan": lambda: read_audio(w / "nan.wav"),
        "read_audio-channels": lambda: read_audio(w / "good.wav", expected_channels=4),
        "read_audio-folder": lambda: read_audio(w / "a_folder.wav"),
        "load_config-empty": lambda: load_config(FeatureConfig, w / "empty.yaml"),
        "TrainConfig-lr-nan": lambda: TrainConfig(lr=math.nan),
        "TrainConfig-steps-text": lambda: TrainConfig(max_steps="10"),  # type: ignore[arg-type]
        "FeatureConfig-rate": lambda: FeatureConfig(sample_rate=0),
        "FeatureFrontEnd-nan": lambda: FeatureFrontEnd(FeatureConfig())(nan_audio),
        "SfdConfig-section": lambda: SfdConfig(head={"bogus": 1}),  # type: ignore[arg-type]
        "SceConfig-margin-nan": lambda: SceConfig(loss={"margin": math.nan}),  # type: ignore[arg-type]
        "DatasetConfig-num": lambda: DatasetConfig(num_examples=-1),
        "render_dataset-workers": lambda: render_dataset(tiny, t / "o", workers=0),
        "render_dataset-executor": lambda: render_dataset(tiny, t / "o", executor="slurm"),
        "cache_features-truncated": lambda: cache_features(w / "data_truncated", FeatureConfig(), t / "c"),
        "import-dup": lambda: import_recordings(w / "rec", w / "dup.csv", t / "o"),
        "load_checkpoint-huge": lambda: load_checkpoint(w / "huge_model"),
        "load_checkpoint-pickle": lambda: load_checkpoint(w / "pickle_weights"),
        "load_localizer-unknown": lambda: load_localizer("deep-magic"),
        "localize_file-corrupt": lambda: localize_file(w / "corrupt.wav", "gcc-phat-itd"),
        "load_recipe-scale": lambda: load_recipe("sfd", scale="huge"),
        "run_experiment-workers": lambda: run_experiment("sfd", t / "e", scale="tiny", workers=0),
        "run_experiment-foreign": lambda: run_experiment("sce", w / "foreign", scale="tiny"),
        "load_npz-pickled": lambda: load_npz(w / "pickled.npz"),
        "load_npz-text": lambda: load_npz(w / "good.csv"),
        "McSimclrConfig-crop": lambda: McSimclrConfig(crop_s=math.nan),
        "McSimclrConfig-array": lambda: McSimclrConfig(array="tetrahedron"),
        "NTXentLoss-temperature": lambda: NTXentLoss(temperature=0.0),
        "NTXentLoss-shapes": lambda: NTXentLoss()(torch.zeros(3, 4), torch.zeros(2, 4)),
        "localize_file-two-for-four": lambda: localize_file(w / "good.wav", w / "mc_model"),
        "linear_probe-binaural": lambda: linear_probe(w / "data", t / "p", source="encoder"),
        "load_recipe-mcsimclr-seeds": lambda: load_recipe(
            "mcsimclr", scale="tiny", overrides=["seeds=[1, 1]"]
        ),
        "load_or_build-damaged-cache": lambda: load_or_build(
            w / "cache", "damaged", lambda: pytest.fail("built")
        ),
    }


API_CASES: list[tuple[str, type[BaseException], str]] = [
    ("read_audio-nan", ValueError, "nan.wav"),
    ("read_audio-channels", ValueError, "expected 4"),
    ("read_audio-folder", ValueError, "is a folder"),
    ("load_config-empty", ValueError, "is empty"),
    ("TrainConfig-lr-nan", ValueError, "TrainConfig.lr"),
    ("TrainConfig-steps-text", ValueError, "TrainConfig.max_steps"),
    ("FeatureConfig-rate", ValueError, "sample_rate"),
    ("FeatureFrontEnd-nan", ValueError, "NaN"),
    ("SfdConfig-section", ValueError, "SfdConfig.head"),
    ("SceConfig-margin-nan", ValueError, "SceConfig.loss"),
    ("DatasetConfig-num", ValueError, "num_examples"),
    ("render_dataset-workers", ValueError, "workers"),
    ("render_dataset-executor", ValueError, "slurm"),
    ("cache_features-truncated", ValueError, "flac"),
    ("import-dup", ValueError, "repeats line 2"),
    ("load_checkpoint-huge", ValueError, "wrong shape"),
    ("load_checkpoint-pickle", ValueError, "model.safetensors"),
    ("load_localizer-unknown", FileNotFoundError, "deep-magic"),
    ("localize_file-corrupt", ValueError, "corrupt.wav"),
    ("load_recipe-scale", ValueError, "huge"),
    ("run_experiment-workers", ValueError, "workers"),
    ("run_experiment-foreign", ValueError, "not empty"),
    ("load_npz-pickled", ValueError, "pickled.npz"),
    ("load_npz-text", ValueError, "good.csv"),
    ("load_or_build-damaged-cache", ValueError, "damaged.npz"),
    ("McSimclrConfig-crop", ValueError, "crop_s"),
    ("McSimclrConfig-array", ValueError, "tetrahedron"),
    ("NTXentLoss-temperature", ValueError, "temperature"),
    ("NTXentLoss-shapes", ValueError, "one shape"),
    ("localize_file-two-for-four", ValueError, "2 channels, expected 4"),
    ("linear_probe-binaural", ValueError, "2 channels but the front-end reads 4"),
    ("load_recipe-mcsimclr-seeds", ValueError, "seeds"),
]


@pytest.mark.parametrize(("case", "error", "word"), [pytest.param(*c, id=c[0]) for c in API_CASES])
def test_a_bad_api_call_raises_one_clear_error(world, tmp_path, case, error, word):
    call = _api_cases(world, tmp_path)[case]
    before = _snapshot(world, tmp_path)
    with pytest.raises(error) as info:
        call()
    assert word.lower() in str(info.value).lower(), str(info.value)
    assert _snapshot(world, tmp_path) == before, "files were left behind or changed"
