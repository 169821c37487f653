"""ONNX export of the streaming SFD localizer and its numpy + onnxruntime runner (spatialrep.deploy).

One tiny model is exported once through the CLI (and quantised once); the runner's output is compared with
PyTorch's streaming output.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from spatialrep.cli.main import main
from spatialrep.config import to_dict
from spatialrep.deploy import StreamingLocalizer
from spatialrep.deploy.export import quantize_int8
from spatialrep.features.distillation import FrameInput
from spatialrep.methods.sfd import SfdConfig, SfdLocalizer, SfdPretrainer
from spatialrep.models import EncoderConfig
from spatialrep.train import build_seeded, save_checkpoint

RATE = 16000
CONTEXT_S = 0.2  # 20 frames: streams longer than this exercise the bounded cache
RUNNER = Path(__file__).resolve().parents[2] / "src" / "spatialrep" / "deploy" / "runner.py"


def _save(folder: Path, encoder: EncoderConfig, cls: type = SfdLocalizer) -> Path:
    config = SfdConfig(encoder=encoder)
    model = build_seeded(cls, {"config": config}, 0)
    name = "sfd_localizer" if cls is SfdLocalizer else "sfd_pretrainer"
    save_checkpoint(folder, model, model_name=name, model_kwargs={"config": to_dict(config)})
    return folder


def _tiny_encoder() -> EncoderConfig:
    kwargs = {"d_model": 16, "num_layers": 2, "num_heads": 2, "conv_kernel": 5, "dropout": 0.0}
    return EncoderConfig("causal_conformer", kwargs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("deploy")
    run = _save(folder / "run" / "best", _tiny_encoder()).parent
    out = folder / "model.onnx"
    assert main(["export", "--model", str(run), "--out", str(out), "--context-s", str(CONTEXT_S)]) == 0
    quantize_int8(out, folder / "model-int8.onnx")
    return {"run": run, "float": out, "int8": folder / "model-int8.onnx"}


@pytest.fixture(scope="module")
def model(exported) -> SfdLocalizer:
    from spatialrep.train import load_checkpoint

    loaded, _ = load_checkpoint(exported["run"] / "best")
    assert isinstance(loaded, SfdLocalizer)
    return loaded


def _audio(seconds: float, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(1, 2, round(seconds * RATE), generator=torch.Generator().manual_seed(seed))


def _push_in_pieces(runner: StreamingLocalizer, audio: torch.Tensor) -> np.ndarray:
    sizes = (1, 77, 160, 333, 1000)
    samples, out, start, i = audio[0].numpy(), [], 0, 0
    while start < samples.shape[1]:
        size = sizes[i % len(sizes)]
        out.append(runner.push(samples[:, start : start + size]))
        start, i = start + size, i + 1
    return np.concatenate(out)


def test_runner_equals_pytorch_streaming_output(exported, model):
    audio = _audio(0.2)  # 17 frames, within the context: equals the unbounded stream too
    reference = model.localize_stream(audio, RATE, chunk_samples=480).track.logits[0]
    runner = StreamingLocalizer(exported["float"])
    logits = _push_in_pieces(runner, audio)
    # A frame is out once its last windowed sample arrives (456 of its 512 samples): one frame earlier here.
    assert len(logits) == 1 + (audio.shape[-1] - 456) // 160 == len(reference) + 1
    np.testing.assert_allclose(logits[: len(reference)], reference, atol=1e-4, rtol=0)
    assert runner.localize(audio[0].numpy()) == pytest.approx(
        float(np.degrees(model.localize(audio, RATE).azimuth[0]))
    )
    assert runner.latency_s == pytest.approx(0.025)


def test_state_round_trip_over_many_hops_equals_one_long_pytorch_pass(exported, model):
    audio = _audio(2.0, seed=1)  # 197 frames, ten times the context
    with torch.no_grad():
        reference = model.open_stream(RATE, context_s=CONTEXT_S).step(audio)[0].numpy()  # one call
    runner = StreamingLocalizer(exported["float"])
    logits = np.stack([runner.step(w) for w in _windows(audio[0].numpy())])  # one hop per call
    assert len(logits) >= len(reference) == 197
    np.testing.assert_allclose(logits[: len(reference)], reference, atol=1e-4, rtol=0)
    assert np.abs(logits[60:] - logits[60]).max() > 1e-3  # the frames differ: not a constant output


def _windows(samples: np.ndarray, hop: int = 160, offset: int = 56, win: int = 400) -> list[np.ndarray]:
    return [samples[:, s : s + win] for s in range(offset, samples.shape[1] - win + 1, hop)]


def test_reset_starts_a_new_stream(exported):
    runner = StreamingLocalizer(exported["float"])
    audio = _audio(0.3, seed=2)[0].numpy()
    first = runner.push(audio)
    runner.reset()
    np.testing.assert_array_equal(runner.push(audio), first)


def test_int8_runs_and_stays_close(exported):
    graph = onnx.load(str(exported["int8"])).graph
    assert any(node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for node in graph.node)
    audio = _audio(1.0, seed=3)
    full = StreamingLocalizer(exported["float"]).push(audio[0].numpy())
    quantized = StreamingLocalizer(exported["int8"])
    assert quantized.metadata["weights"].startswith("int8")
    logits = quantized.push(audio[0].numpy())
    assert logits.shape == full.shape
    assert np.abs(logits - full).max() < 0.1 * np.abs(full).max()
    assert (logits.argmax(-1) == full.argmax(-1)).mean() > 0.8


def test_the_runner_needs_neither_torch_nor_spatialrep(exported, model, tmp_path):
    import soundfile as sf

    audio = _audio(7960 / RATE, seed=4)  # 47 frames for the runner and for PyTorch alike
    wav = tmp_path / "clip.wav"
    sf.write(wav, audio[0].numpy().T, RATE, subtype="PCM_16")
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        import numpy as np
        sys.modules["torch"] = None  # any import of torch now fails
        spec = importlib.util.spec_from_file_location("runner", {str(RUNNER)!r})
        runner = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(runner)
        loc = runner.StreamingLocalizer({str(exported["float"])!r})
        print(loc.push(np.zeros((2, 1600), np.float32)).shape)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "spatialrep") and sys.modules[m]))
        runner.main([{str(exported["float"])!r}, {str(wav)!r}, "--every", "20"])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().split("\n")
    assert lines[:2] == ["(8, 37)", "[]"]
    # The command line streams the WAV file hop by hop: its clip azimuth is PyTorch's on the same samples.
    pcm = torch.from_numpy(sf.read(wav, dtype="float32")[0].T.copy())[None]
    expected = float(np.degrees(model.localize(pcm, RATE).azimuth[0]))
    assert lines[-1].startswith(f"whole clip: {expected:+.1f} deg")
    assert len(lines) == 2 + 3 + 1  # frames 0, 20, 40 of 47


def test_runner_refuses_bad_audio_and_foreign_files(exported, tmp_path):
    runner = StreamingLocalizer(exported["float"])
    with pytest.raises(ValueError, match=r"\(2, samples\)"):
        runner.push(np.zeros((1, 400), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        runner.push(np.full((2, 400), np.nan, np.float32))
    foreign = tmp_path / "foreign.onnx"
    model = onnx.load(str(exported["float"]))
    del model.metadata_props[:]
    onnx.save(model, str(foreign))
    with pytest.raises(ValueError, match="not a spatialrep streaming localizer"):
        StreamingLocalizer(foreign)
    with pytest.raises(FileNotFoundError):
        StreamingLocalizer(tmp_path / "absent.onnx")


def test_metadata_describes_the_framing(exported):
    meta = StreamingLocalizer(exported["float"]).metadata
    assert (meta["sample_rate"], meta["hop_length"], meta["win_length"]) == ("16000", "160", "400")
    assert meta["context_frames"] == "20"
    azimuths = json.loads(meta["class_azimuth_deg"])
    assert len(azimuths) == 37 and azimuths[0] == -90.0 and azimuths[-1] == 90.0


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda f: f / "absent", "no such run folder"),
        (lambda f: _save(f / "mlp", EncoderConfig("mlp", {"hidden_sizes": [8]})), "cannot stream"),
        (lambda f: _save(f / "pre", _tiny_encoder(), SfdPretrainer), "SfdPretrainer"),
    ],
    ids=["missing-run", "non-streaming-encoder", "pretraining-checkpoint"],
)
def test_cli_bad_model_is_one_clear_error_and_writes_nothing(tmp_path, capsys, make, word):
    run = make(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, err = _cli(["export", "--model", str(run), "--out", str(out_dir / "m.onnx")], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and word in err and "Traceback" not in err
    assert list(out_dir.iterdir()) == []


def test_a_failing_write_leaves_no_half_written_file(exported, tmp_path, capsys, monkeypatch):
    def broken_save(proto, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    import spatialrep.deploy.export as export

    proto = onnx.load(str(exported["float"]))
    monkeypatch.setattr(export, "_onnx_proto", lambda *args: proto)  # skip the (slow) export itself
    monkeypatch.setattr(onnx, "save", broken_save)
    code, err = _cli(["export", "--model", str(exported["run"]), "--out", str(tmp_path / "m.onnx")], capsys)
    assert code == 2 and "disk full" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_without_the_deploy_extra_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, err = _cli(["export", "--model", str(tmp_path), "--out", str(tmp_path / "m.onnx")], capsys)
    assert code == 2 and "pip install 'spatialrep[deploy]'" in err
    assert list(tmp_path.iterdir()) == []


def test_the_docs_example_runs(exported, capsys):
    doc = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    code = blocks[0].replace('"sfd.onnx"', repr(str(exported["float"])))
    exec(compile(code, str(doc), "exec", dont_inherit=True), {})
    printed = capsys.readouterr().out.split("\n")
    assert printed[0] == "16000 160 0.025"
    classes = json.loads(StreamingLocalizer(exported["float"]).metadata["class_azimuth_deg"])
    assert float(printed[1]) in classes


def test_gcc_phat_front_end_runs_in_the_graph_too(tmp_path):
    from spatialrep.deploy.export import export_onnx

    config = SfdConfig(frontend=FrameInput(kind="gcc_phat"), encoder=_tiny_encoder())
    model = build_seeded(SfdLocalizer, {"config": config}, 0).eval()
    runner = StreamingLocalizer(export_onnx(model, tmp_path / "gcc.onnx", context_s=CONTEXT_S))
    # Noise, then silence (GCC-PHAT's unit phasors divide by |Z| + eps: zeros must stay zeros, not NaN).
    audio = torch.cat((_audio(0.5, seed=5), torch.zeros(1, 2, 4000)), dim=-1)
    with torch.no_grad():
        reference = model.open_stream(RATE, context_s=CONTEXT_S).step(audio)[0].numpy()
    logits = runner.push(audio[0].numpy())
    assert np.isfinite(logits).all()
    np.testing.assert_allclose(logits[: len(reference)], reference, atol=1e-4, rtol=0)


def test_cli_int8_export_writes_one_quantised_file(exported, tmp_path, capsys, monkeypatch):
    import spatialrep.deploy.export as export

    proto = onnx.load(str(exported["float"]))
    monkeypatch.setattr(export, "_onnx_proto", lambda *args: proto)  # skip the (slow) export itself
    out = tmp_path / "m.onnx"
    code, err = _cli(["export", "--model", str(exported["run"]), "--out", str(out), "--int8"], capsys)
    assert code == 0, err
    assert list(tmp_path.iterdir()) == [out]
    assert "int8" in StreamingLocalizer(out).metadata["weights"]
    assert any(node.op_type == "MatMulInteger" for node in onnx.load(str(out)).graph.node)
