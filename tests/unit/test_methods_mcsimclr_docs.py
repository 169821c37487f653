"""The Python example of docs/mcsimclr.md runs (in a temporary folder) and yields a class + azimuth model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from spatialrep.methods.mcsimclr import McSimclrModel

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcsimclr.md"


def test_mcsimclr_doc_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    model = namespace["model"]
    assert isinstance(model, McSimclrModel) and isinstance(namespace["probe"].model, McSimclrModel)  # type: ignore[attr-defined]
    assert (tmp_path / "runs" / "probe" / "model" / "model.safetensors").is_file()
    found = model.localize(0.1 * torch.randn(2, 4, 8000, generator=torch.Generator().manual_seed(0)), 16000)
    assert found.azimuth.shape == (2,) and found.best_class(0) in model.class_names
