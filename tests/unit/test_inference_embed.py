"""``spatialrep embed``: embeddings of files and folders from any Embedder, resumable, one error per file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spatialrep.cli.main import main
from spatialrep.config import to_dict
from spatialrep.inference.embed import embed_file, embed_paths
from spatialrep.io.audio import read_audio
from spatialrep.methods.base import Embedder, LayeredEmbedder
from spatialrep.methods.sfd import SfdConfig, SfdLocalizer, SfdPretrainer
from spatialrep.models import EncoderConfig
from spatialrep.train import build_seeded, save_checkpoint

FS = 16000
ENCODER = EncoderConfig(
    "causal_conformer", {"d_model": 16, "num_heads": 2, "num_layers": 1, "conv_kernel": 3, "dropout": 0.0}
)


def _checkpoint(folder: Path, kind: str = "sfd_pretrainer") -> Path:
    config = SfdConfig(encoder=ENCODER)
    cls = SfdPretrainer if kind == "sfd_pretrainer" else SfdLocalizer
    model = build_seeded(cls, {"config": config}, 0)
    save_checkpoint(folder, model, model_name=kind, model_kwargs={"config": to_dict(config)})
    return folder


def _noise(path: Path, seconds: float, seed: int, rate: int = FS, channels: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * rng.standard_normal((round(seconds * rate), channels)), rate, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _checkpoint(tmp_path_factory.mktemp("embedder") / "model")


def test_sfd_pretrainer_is_an_embedder_whose_segments_equal_direct_calls(
    model_dir: Path, tmp_path: Path
) -> None:
    from spatialrep.methods import load_model

    model = load_model(model_dir)
    assert isinstance(model, Embedder) and not isinstance(model, LayeredEmbedder)
    path = _noise(tmp_path / "a.wav", 2.5, seed=1)
    segments, arrays = embed_file(path, model, segment_s=1.0)
    # The last 0.5 s is longer than one FFT, so it stays its own segment.
    assert segments == [(0.0, 1.0), (1.0, 2.0), (2.0, 2.5)]
    assert np.stack(arrays["embedding"]).shape == (3, model.embedding_dim)
    audio, _ = read_audio(path)
    clip = torch.from_numpy(audio.astype(np.float32))[None]
    direct = model.embed(clip[..., FS : 2 * FS], FS)[0].numpy()
    np.testing.assert_allclose(arrays["embedding"][1], direct, rtol=1e-5, atol=1e-6)


def test_a_last_piece_shorter_than_the_model_input_joins_the_segment_before(
    model_dir: Path, tmp_path: Path
) -> None:
    from spatialrep.methods import load_model

    model = load_model(model_dir)
    assert isinstance(model, Embedder)
    path = _noise(tmp_path / "a.wav", 2.0 + 100 / FS, seed=2)  # 100 samples over: less than one FFT (512)
    segments, arrays = embed_file(path, model, segment_s=1.0)
    assert segments == [(0.0, 1.0), (1.0, 2.0 + 100 / FS)]
    assert len(arrays["embedding"]) == 2


class TwoLayers:
    """A spy LayeredEmbedder: a clip's mean per channel and its first 3 samples per channel (with
    ``ragged``: every 4000th sample, so the shape follows the segment's length, as patch tokens do)."""

    ragged = False

    sample_rate = FS
    num_channels = 2
    min_samples = 16
    embedding_dim = 2

    def embed(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return audio.mean(dim=-1)

    def embed_layers(self, audio: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
        tokens = audio[..., ::4000] if self.ragged else audio[..., :3]
        return {"cls": self.embed(audio, sample_rate), "tokens": tokens}


def test_every_layer_of_a_layered_embedder_is_kept(tmp_path: Path) -> None:
    path = _noise(tmp_path / "a.wav", 1.0, seed=3)
    segments, arrays = embed_file(path, TwoLayers(), segment_s=0.5)
    assert len(segments) == 2 and set(arrays) == {"cls", "tokens"}
    assert np.stack(arrays["tokens"]).shape == (2, 2, 3)
    audio, _ = read_audio(path)
    np.testing.assert_allclose(arrays["tokens"][1], audio[:, FS // 2 : FS // 2 + 3], rtol=1e-6)


def _manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_embed_cli_over_a_folder_reports_bad_files_and_resumes(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _noise(data / "x" / "one.wav", 1.2, seed=4)
    _noise(data / "y" / "one.wav", 0.6, seed=5)  # same name in another folder: its own output
    _noise(data / "mono.wav", 1.0, seed=6, channels=1)
    (data / "broken.wav").write_bytes(b"RIFF not audio")
    out = tmp_path / "emb"
    args = ["embed", str(data), "--model", str(model_dir), "--out", str(out), "--segment", "0.5", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "mono.wav has 1 channels, expected 2" in err and "broken.wav" in err
    rows = _manifest(out)
    # 1.2 s at 0.5 s: 0.5, 0.5, 0.2 (>= one FFT) -> 3 segments; 0.6 s -> 0.5 + 0.1 s (1600 samples) -> 2.
    assert sorted({r["file"] for r in rows}) == sorted(
        str(p) for p in [data / "x/one.wav", data / "y/one.wav"]
    )
    assert len(rows) == 5 and {r["layer"] for r in rows} == {"embedding"}
    outputs = {r["output"] for r in rows}
    assert len(outputs) == 2
    for row in rows:
        array = np.load(out / row["output"])
        assert array.shape[1:] == (16,) and row["shape"] == "16"
    with open(out / "errors.csv", newline="") as handle:
        failed = sorted(Path(r["file"]).name for r in csv.DictReader(handle))
    assert failed == ["broken.wav", "mono.wav"]

    # Rerun: the two good files are skipped (their arrays untouched), the bad ones retried.
    before = {name: (out / name).stat().st_mtime_ns for name in outputs}
    (data / "mono.wav").unlink()
    (data / "broken.wav").unlink()
    assert main(args) == 0
    assert "2 file(s) embedded (0 now, 2 already done), 0 failed" in capsys.readouterr().out
    assert {name: (out / name).stat().st_mtime_ns for name in outputs} == before
    assert _manifest(out) == rows and not (out / "errors.csv").exists()

    # Other settings into the same folder: refused, naming what changed.
    assert main([*args[:-3], "--segment", "0.25", "--quiet"]) == 2
    assert "segment_s" in capsys.readouterr().err


def test_a_killed_run_leaves_no_record_of_an_unfinished_file_and_resumes_to_the_same_folder(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spatialrep.inference.embed as embed_module

    data = tmp_path / "data"
    for index in range(3):
        _noise(data / f"{index}.wav", 0.7, seed=10 + index)
    reference = embed_paths([data], model_dir, tmp_path / "reference", segment_s=0.5, fmt="safetensors")
    assert reference.embedded == 3

    real = embed_module._write_arrays
    calls = {"n": 0}

    def dies_on_the_second_file(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(embed_module, "_write_arrays", dies_on_the_second_file)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        embed_paths([data], model_dir, out, segment_s=0.5, fmt="safetensors")
    assert len(list(out.glob("*.json"))) == 2  # embed.json and the first file's record only
    assert not list(out.glob(".*.part"))
    monkeypatch.setattr(embed_module, "_write_arrays", real)
    summary = embed_paths([data], model_dir, out, segment_s=0.5, fmt="safetensors")
    assert (summary.embedded, summary.skipped) == (2, 1)

    from safetensors.numpy import load_file

    for path in (tmp_path / "reference").glob("*.safetensors"):
        np.testing.assert_array_equal(load_file(path)["embedding"], load_file(out / path.name)["embedding"])
    rows = [{k: v for k, v in row.items()} for row in _manifest(out)]
    assert rows == _manifest(tmp_path / "reference")


def test_a_model_without_embed_and_a_missing_model_are_refused(tmp_path: Path) -> None:
    audio = _noise(tmp_path / "a.wav", 0.5, seed=7)
    folder = tmp_path / "classic-like"
    from spatialrep.methods.mcsimclr import McSimclrHeads  # registered, but answers no embed()

    heads = build_seeded(McSimclrHeads, {"input_dim": 4, "num_classes": 2}, 0)
    save_checkpoint(
        folder, heads, model_name="mcsimclr_heads", model_kwargs={"input_dim": 4, "num_classes": 2}
    )
    with pytest.raises(ValueError, match="no embed"):
        embed_paths([audio], folder, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        embed_paths([audio], tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(ValueError, match="--format"):
        embed_paths([audio], folder, tmp_path / "out", fmt="pickle")


def test_embed_json_records_the_settings(model_dir: Path, tmp_path: Path) -> None:
    path = _noise(tmp_path / "a.wav", 0.5, seed=8)
    embed_paths([path], model_dir, tmp_path / "out")
    settings = json.loads((tmp_path / "out" / "embed.json").read_text())
    assert settings == {"model": str(model_dir.resolve()), "segment_s": 10.0, "format": "npy"}


def test_a_layer_whose_shape_follows_the_segment_length_is_stored_per_segment(
    tmp_path: Path, monkeypatch
) -> None:
    import spatialrep.inference.embed as embed_module

    model = TwoLayers()
    model.ragged = True
    monkeypatch.setattr(embed_module, "load_embedder", lambda _: model)
    path = _noise(tmp_path / "a.wav", 1.25, seed=9)  # segments of 0.5, 0.5, 0.25 s: 2, 2 and 1 token(s)
    for fmt in ("npy", "safetensors"):
        out = tmp_path / fmt
        assert embed_paths([path], tmp_path, out, segment_s=0.5, fmt=fmt).embedded == 1
        rows = [r for r in _manifest(out) if r["layer"] == "tokens"]
        assert [r["shape"] for r in rows] == ["2x2", "2x2", "2x1"]
        audio, _ = read_audio(path)
        for segment, row in enumerate(rows):
            if fmt == "npy":
                value = np.load(out / row["output"])[int(row["row"])]
            else:
                from safetensors.numpy import load_file

                value = load_file(out / row["output"])[row["key"]][int(row["row"])]
            start = segment * FS // 2
            np.testing.assert_allclose(value, audio[:, start : start + FS // 2 : 4000], rtol=1e-6)
        cls = [r for r in _manifest(out) if r["layer"] == "cls"]
        assert {r["row"] for r in cls} == {"0", "1", "2"} and len({r["output"] for r in cls}) == 1
