"""Result tables: aggregation over seeds, Markdown, strict JSON and atomic CSV/JSON/Markdown files."""

from __future__ import annotations

import json
import math

import pytest

from spatialrep.experiments.report import aggregate, markdown_table, read_json, write_json, write_results

ROWS = [
    {"method": "a", "budget": "1h", "seed": 0, "mae_deg": 10.0, "snr_bands": {"[0, 10)": {"mae_deg": 1.0}}},
    {"method": "a", "budget": "1h", "seed": 1, "mae_deg": 14.0, "snr_bands": {"[0, 10)": {"mae_deg": 2.0}}},
    {"method": "b", "budget": "1h", "seed": 0, "mae_deg": float("nan"), "snr_bands": {}},
    {"method": "b", "budget": "1h", "seed": 1, "mae_deg": 7.0, "snr_bands": {}},
]


def test_aggregate_mean_std_and_nan_skipping():
    summary = aggregate(ROWS, ["method", "budget"], ["mae_deg"])
    assert [(r["method"], r["n"]) for r in summary] == [("a", 2), ("b", 2)]
    assert summary[0]["mae_deg"] == 12.0 and summary[0]["mae_deg_std"] == pytest.approx(math.sqrt(8.0))
    assert summary[1]["mae_deg"] == 7.0 and summary[1]["mae_deg_std"] == 0.0  # the NaN seed is skipped


def test_markdown_table_formats_and_leaves_missing_cells_empty():
    text = markdown_table([{"m": "a", "x": 1.234}, {"m": "b", "x": float("nan"), "y": 2}], float_format=".1f")
    assert text.splitlines() == ["| m | x | y |", "|---|---|---|", "| a | 1.2 |  |", "| b |  | 2 |"]


def test_write_results_files(tmp_path):
    summary = aggregate(ROWS, ["method", "budget"], ["mae_deg"])
    paths = write_results(tmp_path, ROWS, summary, title="T", extra_markdown="note", metadata={"x": 1})
    csv_lines = paths["csv"].read_text().splitlines()
    assert (
        csv_lines[0] == "method,budget,seed,mae_deg" and csv_lines[3] == "b,1h,0,"
    )  # nested dicts: JSON only
    stored = json.loads(paths["json"].read_text())  # strict JSON: NaN became null
    assert (
        stored["rows"][2]["mae_deg"] is None and stored["rows"][0]["snr_bands"]["[0, 10)"]["mae_deg"] == 1.0
    )
    assert stored["metadata"] == {"x": 1}
    assert (
        paths["markdown"].read_text().startswith("# T\n\n| method | budget | n |")
        and "note" in paths["markdown"].read_text()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.json", "results.md"]


def test_read_json_names_a_corrupt_file(tmp_path):
    path = tmp_path / "eval.json"
    write_json(path, {"a": [1, float("inf")]})
    assert read_json(path) == {"a": [1, None]}
    path.write_text("{ half")
    with pytest.raises(ValueError, match=r"eval\.json is not valid JSON"):
        read_json(path)
