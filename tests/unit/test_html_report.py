"""report.html: one self-contained page per experiment folder, opened in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from spatialrep.cli.main import main
from spatialrep.experiments.html_report import render_html_report, write_html_report

RESULTS = """# Toy experiment (tiny): azimuth errors in degrees

| method | n | MAE ± std |
|---|---|---|
| always-0 | 1 | 90.0 ± 0.0 |
| gcc-phat-itd | 1 | 12.5 ± 0.0 |

Notes: the classic baseline wins.
"""


def _plot(path: Path, slope: float) -> None:
    figure, axis = plt.subplots(figsize=(3, 2), dpi=60)
    axis.plot([0, 1, 2], [0, slope, 2 * slope])
    axis.set_title(f"slope {slope}")
    figure.savefig(path)
    plt.close(figure)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.md").write_text(RESULTS)
    (out / "results.json").write_text('{"rows": []}\n')
    (out / "recipe.yaml").write_text("scale: tiny\nnote: <b>not markup</b>\n")
    _plot(out / "mae_vs_snr.png", 1.0)
    _plot(out / "error_vs_azimuth.png", -1.0)
    return out


def test_the_page_is_self_contained_and_reproducible(folder: Path) -> None:
    text = render_html_report(folder)
    assert text.count('<img src="data:image/png;base64,') == 2
    assert "<table>" in text and "<td>gcc-phat-itd</td>" in text and "the classic baseline wins" in text
    assert "<title>Toy experiment (tiny): azimuth errors in degrees</title>" in text
    assert "&lt;b&gt;not markup&lt;/b&gt;" in text  # the recipe is shown, not interpreted
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", text), "external resource"
    assert "<script" not in text and "<link" not in text
    path = write_html_report(folder)
    assert path == folder / "report.html" and path.read_text() == text
    assert render_html_report(folder) == text  # no timestamp: same folder, same bytes


def test_a_folder_without_results_and_a_broken_image(folder: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no results\.md"):
        render_html_report(empty)
    assert main(["report", str(empty)]) == 2
    assert "no results.md" in capsys.readouterr().err and not (empty / "report.html").exists()
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match=r"broken\.png is not a PNG"):
        text = render_html_report(folder)
    assert text.count("<img ") == 2
    assert main(["report", str(folder), "--out", str(tmp_path / "page.html")]) == 0
    assert (tmp_path / "page.html").is_file()


def test_the_page_loads_in_chromium_without_console_errors_and_every_image_decodes(
    folder: Path, open_in_chromium
) -> None:
    page = open_in_chromium(write_html_report(folder))
    assert page["messages"] == []
    assert len(page["images"]) == 2 and all(done and w > 0 and h > 0 for done, w, h in page["images"])
    assert page["tables"] == 1 and page["title"].startswith("Toy experiment")
