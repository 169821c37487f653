"""One self-contained HTML page for an experiment folder: its tables and its plots, to look at in a browser.

:func:`write_html_report` reads what an experiment wrote (``results.md``: the tables and notes;
``*.png``: the plots; ``recipe.yaml``) and writes ``report.html`` beside it: no external file, script or
font, every image inlined as a data URI, so the page can be mailed, attached to an issue or opened offline.
The page carries no timestamp: the same folder gives the same bytes. The experiment runner writes it at the
end of every experiment; ``spatialrep report DIR`` (re)writes it for any folder.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import markdown

from spatialrep.io.atomic import atomic_write_text

__all__ = ["REPORT_FILE", "render_html_report", "write_html_report"]

REPORT_FILE = "report.html"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f3f5; }
td:first-child, th:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { display: inline-block; margin: .5em; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; text-align: center; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .85em; }
.provenance { font-size: .8em; color: #666; }
"""


def _figure(path: Path) -> str | None:
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        warnings.warn(f"{path} is not a PNG image; left out of the report", UserWarning, stacklevel=3)
        return None
    encoded = base64.b64encode(data).decode("ascii")
    caption = html.escape(path.stem.replace("_", " "))
    return (
        f'<figure id="fig-{html.escape(path.stem)}"><img src="data:image/png;base64,{encoded}" '
        f'alt="{caption}"><figcaption>{caption}</figcaption></figure>'
    )


def render_html_report(
    folder: str | os.PathLike[str], *, title: str | None = None, figures: Sequence[Path] | None = None
) -> str:
    """The HTML text of ``folder``'s report.

    Args:
        folder: an experiment folder (``results.md``; ``*.png`` and ``recipe.yaml`` when present).
        title: the page title (default: ``results.md``'s first heading, else the folder's name).
        figures: the images to show, in order (default: every ``*.png`` directly in ``folder``, sorted).

    Raises:
        FileNotFoundError: no ``results.md`` in ``folder`` (the experiment has not finished).
    """
    root = Path(folder)
    results = root / "results.md"
    if not results.is_file():
        raise FileNotFoundError(f"{root} has no results.md: run (or resume) the experiment first")
    text = results.read_text(encoding="utf-8")
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    heading = title or (first.lstrip("#").strip() if first.startswith("#") else root.name)
    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    images = sorted(root.glob("*.png")) if figures is None else list(figures)
    blocks = [block for block in (_figure(path) for path in images) if block is not None]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(heading)}</title><style>{_STYLE}</style></head><body>",
        body,
    ]
    if blocks:
        parts += ["<h2>Plots</h2>", '<div class="figures">', *blocks, "</div>"]
    recipe = root / "recipe.yaml"
    if recipe.is_file():
        parts += [
            "<h2>Recipe</h2>",
            f"<details><summary>recipe.yaml</summary><pre>{html.escape(recipe.read_text())}</pre></details>",
        ]
    digests = [
        f"{html.escape(name)}: <code>{hashlib.sha256((root / name).read_bytes()).hexdigest()[:16]}</code>"
        for name in ("results.json", "results.csv", "recipe.yaml")
        if (root / name).is_file()
    ]
    if digests:
        parts.append(f'<p class="provenance">SHA-256 (first 16 hex digits): {"; ".join(digests)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html_report(folder: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write :func:`render_html_report` of ``folder`` to ``out`` (default ``folder/report.html``), atomically.

    Raises:
        FileNotFoundError: no ``results.md`` in ``folder``.
    """
    path = Path(folder) / REPORT_FILE if out is None else Path(out)
    atomic_write_text(path, render_html_report(folder))
    return path
