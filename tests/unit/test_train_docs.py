"""The runnable example of docs/training.md runs and its claims hold."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


def python_blocks() -> list[str]:
    return re.findall(
        r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE
    )


def test_doc_has_one_runnable_example():
    blocks = python_blocks()
    assert len(blocks) == 1
    assert "fit(" in blocks[0] and "load_checkpoint(" in blocks[0]


def test_training_example_runs():
    namespace: dict[str, object] = {"__name__": "docs_training_example"}
    exec(compile(python_blocks()[0], str(DOC), "exec"), namespace)
    result = namespace["result"]
    assert result.global_step == 40  # type: ignore[attr-defined]
    assert namespace["meta"].model_kwargs == {"in_features": 3, "out_features": 1}  # type: ignore[attr-defined]


def test_documented_layout_matches_fit_docstring():
    from spatialrep.train import loop

    for entry in ("train_config.yaml", "lightning/last.ckpt", "lightning/best-", "logs/", "best/", "last/"):
        assert entry in DOC.read_text(encoding="utf-8")
        assert entry.split("-")[0] in (loop.__doc__ or "")
