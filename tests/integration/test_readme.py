"""The README's quick start runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quick_start_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    quick_start = blocks[0]
    assert "SceneRenderer" in quick_start
    exec(compile(quick_start, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "(2, 32000)" in printed
