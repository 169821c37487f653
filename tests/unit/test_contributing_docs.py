"""The method of docs/contributing.md trains, loads by path and localizes through the protocol."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "contributing.md"


def test_contributing_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec", dont_inherit=True), namespace)
    assert namespace["accuracy"] == 1.0
