"""The Python example of docs/dspast.md runs and gives the documented shapes."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "dspast.md"


def test_dspast_doc_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    assert tuple(namespace["tokens"].shape) == (2, 3 + 8 * 12, 63)  # type: ignore[attr-defined]
    assert namespace["found"]["sed"].shape == (2, 3)  # type: ignore[index]
