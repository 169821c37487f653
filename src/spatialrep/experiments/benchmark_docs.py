"""Documentation tables from a finished benchmark run (``spatialrep report RUN --update-docs FILE``).

A document marks where a run's tables go with a pair of HTML comments naming the suite's scale::

    <!-- benchmark:small:begin -->
    ... replaced by the tables of the run ...
    <!-- benchmark:small:end -->

:func:`update_docs` replaces what lies between them (``full``: one table per task with every suite and the
verdicts; ``compact`` when the begin marker says so, ``<!-- benchmark:small:begin compact -->``: the first
suite of each task only), so the README and ``docs/benchmark.md`` always show the numbers a run wrote, with
the command that reproduces them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from spatialrep.config import from_dict
from spatialrep.experiments.benchmark import (
    cell_key,
    format_cell,
    metric_digits,
    summary_markdown,
    winners_markdown,
)
from spatialrep.experiments.benchmark_config import BenchmarkConfig
from spatialrep.experiments.report import markdown_table, read_json
from spatialrep.io.atomic import atomic_write_text

__all__ = ["docs_block", "update_docs"]

_MARKERS = re.compile(
    r"(<!-- benchmark:(?P<scale>[\w-]+):begin(?P<mode> compact)? -->\n)"
    r"(?P<body>.*?)"
    r"(<!-- benchmark:(?P=scale):end -->)",
    re.DOTALL,
)


def _load(run: Path) -> tuple[BenchmarkConfig, dict[str, Any]]:
    path = Path(run) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {run} is not a finished benchmark run")
    results = read_json(path)
    config = from_dict(BenchmarkConfig, results["metadata"]["config"], "results.json metadata.config")
    # JSON keeps NaN (a metric a row does not have) as null
    results["summary"] = [
        {k: float("nan") if v is None else v for k, v in entry.items()} for entry in results["summary"]
    ]
    return config, results


def _compact_table(config: BenchmarkConfig, summary: list[dict[str, Any]], task_name: str) -> str:
    task = config.tasks[task_name]
    suite = task.suite_names[0]
    table = []
    for entry in summary:
        if entry["task"] != task_name:
            continue
        row: dict[str, Any] = {"model": entry["model"], "kind": entry["kind"]}
        for metric in task.metrics:
            key = cell_key(task, suite, metric)
            row[f"{suite}: {metric.label}"] = format_cell(entry, key, metric_digits(metric))
        table.append(row)
    return markdown_table(table)


def _block(config: BenchmarkConfig, results: dict[str, Any], compact: bool) -> str:
    summary = results["summary"]
    seeds = ", ".join(str(s) for s in config.seeds)
    lines = [
        f"Generated from a `{config.scale}` run (`spatialrep benchmark --suite {config.scale} --out RUN`, "
        f"then `spatialrep report RUN --update-docs FILE`); seeds {seeds}; mean ± std over seeds.",
        "",
    ]
    for task_name, task in config.tasks.items():
        what = ", ".join(m.label for m in task.metrics)
        lines += [f"**{task_name}** ({what}):", ""]
        if compact:
            lines += [_compact_table(config, summary, task_name).rstrip(), ""]
        else:
            lines += [summary_markdown(config, summary, task_name).rstrip(), ""]
            lines += [winners_markdown(config, summary, task_name), ""]
    suites = results["metadata"].get("suites", {})
    if suites and not compact:
        hashes = ", ".join(f"{name} `{info['sha256'][:12]}`" for name, info in suites.items())
        lines += [f"Suites (SHA-256 prefixes): {hashes}.", ""]
    return "\n".join(lines)


def docs_block(run: str | os.PathLike[str], *, compact: bool = False) -> str:
    """The Markdown of a finished run: the command, then per task its table (and, unless ``compact``, who
    wins each suite), then the suites' SHA-256 prefixes."""
    config, results = _load(Path(run))
    return _block(config, results, compact)


def update_docs(run: str | os.PathLike[str], files: list[str | os.PathLike[str]]) -> list[Path]:
    """Replace every ``benchmark:<scale>`` block of ``files`` whose scale is the run's with its tables.

    Every file is checked before any is written.

    Returns:
        The files changed.

    Raises:
        FileNotFoundError: a missing run or file.
        ValueError: a file without a block for the run's scale.
    """
    config, results = _load(Path(run))
    blocks = {compact: _block(config, results, compact) for compact in (False, True)}
    texts = {}
    for name in files:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        if not any(m.group("scale") == config.scale for m in _MARKERS.finditer(text)):
            raise ValueError(
                f"{path} has no <!-- benchmark:{config.scale}:begin --> ... "
                f"<!-- benchmark:{config.scale}:end --> block"
            )
        texts[path] = text

    def replace(match: re.Match[str]) -> str:
        if match.group("scale") != config.scale:
            return match.group(0)
        body = blocks[bool(match.group("mode"))]
        return match.group(1) + body.rstrip() + "\n" + match.group(5)

    changed = []
    for path, text in texts.items():
        new = _MARKERS.sub(replace, text)
        if new != text:
            atomic_write_text(path, new)
            changed.append(path)
    return changed
