"""The Python example of docs/sfd.md runs (in a temporary folder) and yields a localizer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spatialrep.methods.sfd import SfdLocalizer

DOC = Path(__file__).resolve().parents[2] / "docs" / "sfd.md"


def test_sfd_doc_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    assert isinstance(namespace["model"], SfdLocalizer)
    assert (tmp_path / "runs" / "finetune" / "best" / "model.safetensors").is_file()
