"""The layer contracts (import-linter, `make lint`) hold, and break when a module imports against them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(package_parent), "PATH": str(LINT.parent), "HOME": str(package_parent)}
    return subprocess.run(
        [str(LINT), str(config), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=package_parent,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not LINT.is_file():
        pytest.fail(f"lint-imports is not installed next to {sys.executable} (the test extra installs it)")
    folder = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "src" / "spatialrep", folder / "spatialrep", ignore=shutil.ignore_patterns("_data")
    )
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    return folder


def test_the_package_keeps_its_layers(copy: Path) -> None:
    result = _lint(copy, copy / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("features/functional.py", "import spatialrep.methods.sfd", "layers"),
        ("methods/base.py", "import spatialrep.experiments.runner", "layers"),
        ("evaluate/knn.py", "import spatialrep.data.manifest", "layers"),  # independent siblings
        ("methods/base.py", "import spatialrep.methods.sfd", "cycle"),  # sfd imports base: a cycle
    ],
)
def test_a_back_edge_breaks_the_contract(
    copy: Path, tmp_path: Path, module: str, line: str, broken: str
) -> None:
    bad = tmp_path / "pkg"
    shutil.copytree(copy, bad)
    path = bad / "spatialrep" / module
    path.write_text(
        path.read_text(encoding="utf-8") + f"\n{line}  # a deliberate back-edge\n", encoding="utf-8"
    )
    result = _lint(bad, bad / "pyproject.toml")
    assert result.returncode != 0, result.stdout
    contract = (
        "dependencies point one way" if broken == "layers" else "no import cycle between sibling modules"
    )
    status = next(
        line
        for line in result.stdout.splitlines()
        if line.startswith(("the pipeline", "no import")) and contract in line
    )
    assert status.endswith("BROKEN"), result.stdout
