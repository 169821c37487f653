"""``spatialrep benchmark`` cut down: every method on the same suites, disjoint from training, resumable."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from spatialrep.config import ConfigError
from spatialrep.data.manifest import find_manifest, read_rows
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.experiments.benchmark import suite_hashes
from spatialrep.experiments.benchmark_config import BenchmarkConfig
from spatialrep.experiments.runner import run_experiment

TRAIN = {"batch_size": 8, "lr": 2.0e-3, "val_every_n_steps": 3, "devices": 1, "log_every_n_steps": 1}
ENCODER = {
    "name": "causal_conformer",
    "kwargs": {"d_model": 16, "num_layers": 1, "num_heads": 2, "conv_kernel": 3},
}


def _config(**changes: Any) -> BenchmarkConfig:
    mapping: dict[str, Any] = {
        "scale": "test",
        "seeds": [0, 1],
        "binaural": {
            "dataset": {
                "preset": "binaural-speech-tiny",
                "name": "bench-test",
                "num_examples": 40,
                "budgets": {},
                "scene": {"duration_s": 0.25},
                "splits": {"train": {"size": 24}, "val": {"size": 8}, "test": {"size": 8}},
            },
            "suites": {
                "unseen-head-sphere": {"receiver": "sphere"},
                "other-sources": {"source": "noise:pink"},
            },
            "classic": ["gcc-phat-itd"],
        },
        "methods": {
            "gccphat-dnn": {"model": {"encoder": ENCODER}, "finetune": {**TRAIN, "max_steps": 3}},
            "sce": {"train": {**TRAIN, "max_steps": 3}},
            "dspast": {
                "n_mels": 64,
                "backbone": "ast_tiny",
                "targets": {"num_distance_bins": 8, "azimuth_bin_deg": 10.0, "elevation_bin_deg": 10.0},
                "stages": [
                    {
                        "name": "all",
                        "loss_weights": {"sed": 1.0, "distance": 1.0, "direction": 1.0},
                        "train": {**TRAIN, "max_steps": 3},
                    },
                ],
            },
        },
        "eval_batch_size": 8,
    }
    mapping.update(changes)
    from spatialrep.config import from_dict

    return from_dict(BenchmarkConfig, mapping)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, list[str]]:
    out = tmp_path_factory.mktemp("bench") / "run"
    lines: list[str] = []
    result = run_experiment("benchmark", out, config=_config(), workers=1, progress=False, log=lines.append)
    return out, result, lines


def test_every_model_classic_and_floor_is_a_row_of_every_suite(finished) -> None:
    out, result, _ = finished
    suites = ["in-domain", "unseen-head-sphere", "other-sources"]
    seen = {(r["suite"], r["model"], r["seed"]) for r in result.rows}
    for suite in suites:
        for seed in (0, 1):
            for model in ("gccphat-dnn", "sce-azimuth-eps5", "dspast"):
                assert (suite, model, seed) in seen, (suite, model, seed)
        for name in ("gcc-phat-itd", "always-0°", "class-prior"):
            assert (suite, name, None) in seen
    learned = [r for r in result.rows if r["kind"] == "learned"]
    assert all(r["params"] > 0 and r["train_s"] > 0 and r["infer_s_per_s"] > 0 for r in learned)
    assert {r["count"] for r in result.rows} == {8.0}
    zero = next(r for r in result.rows if r["model"] == "always-0°" and r["suite"] == "in-domain")
    assert set(zero["pred_azimuth_deg"]) == {0.0}

    table = (out / "results.md").read_text()
    assert "## binaural: azimuth MAE (°) per test suite" in table and "Who wins each suite" in table
    assert "**unseen-head-sphere**" in table and "## Test suites" in table
    assert (out / "report.md").read_text() == table
    for name in ("suites_binaural", "error_vs_snr_binaural", "error_vs_azimuth_binaural",
                 "azimuth_confusion_binaural", "embeddings_binaural"):  # fmt: skip
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    page = (out / "report.html").read_text()
    assert page.count("<img ") == 5 and "<td>gccphat-dnn</td>" in page and "<td>dspast</td>" in page
    assert result.try_model is not None and result.try_model.is_dir()


def test_the_report_opens_in_chromium_with_every_image_decoded(finished, open_in_chromium) -> None:
    out, _, _ = finished
    page = open_in_chromium(out / "report.html")
    assert page["messages"] == []
    assert len(page["images"]) == 5 and all(done and w > 0 and h > 0 for done, w, h in page["images"])
    assert page["tables"] >= 3 and page["title"].startswith("Benchmark (test)")


def test_suites_are_disjoint_from_training_by_construction(finished) -> None:
    """No voice, room or (for the head suite) head of a test suite is in the training data."""
    out, _, _ = finished
    train = read_rows(find_manifest(out / "data" / "binaural-train"))
    assert {r["split"] for r in train} == {"train", "val"}
    train_units = {u for r in train for u in r["unit"]}
    train_rooms = {r["room_id"] for r in train}
    for suite in ("in-domain", "unseen-head-sphere", "other-sources"):
        rows = read_rows(find_manifest(out / "data" / f"binaural-{suite}"))
        assert {r["split"] for r in rows} == {"test"} and len(rows) == 8
        assert not {u for r in rows for u in r["unit"]} & train_units, suite
        assert not {r["room_id"] for r in rows} & train_rooms, suite
    sphere = read_rows(find_manifest(out / "data" / "binaural-unseen-head-sphere"))
    assert {r["receiver"] for r in sphere}.isdisjoint({r["receiver"] for r in train})


def test_a_suite_renders_to_the_same_bytes_again(finished, tmp_path: Path) -> None:
    out, _, _ = finished
    config = _config()
    again = tmp_path / "again"
    render_dataset(load_dataset_config(config.binaural.suite_dataset("unseen-head-sphere")), again, workers=1)
    assert suite_hashes(again) == suite_hashes(out / "data" / "binaural-unseen-head-sphere")
    stored = json.loads((out / "suites.json").read_text())
    assert stored["binaural/unseen-head-sphere"]["sha256"] == suite_hashes(again)


def test_a_rerun_resumes_to_the_same_results(finished) -> None:
    out, result, _ = finished
    with open(out / "results.csv", newline="") as handle:
        before = list(csv.DictReader(handle))
    lines: list[str] = []
    again = run_experiment("benchmark", out, config=_config(), workers=1, progress=False, log=lines.append)
    assert any("6 units, 6 already done" in line for line in lines), lines
    with open(out / "results.csv", newline="") as handle:
        after = list(csv.DictReader(handle))
    assert after == before  # every unit was done: nothing is trained, evaluated or timed again
    assert again.summary == result.summary


def test_recipe_errors_name_the_culprit() -> None:
    with pytest.raises(ConfigError, match="no benchmark entry"):
        from spatialrep.experiments.benchmark import _entries

        _entries(_config(methods={"deep-magic": {}}))
    with pytest.raises(ConfigError, match="in-domain"):
        _config(binaural={**_config().to_dict()["binaural"], "suites": {"in-domain": {}}})
    with pytest.raises(ConfigError, match="no task"):
        _config(binaural=None)
    with pytest.raises(ConfigError, match="num_sources"):
        binaural = _config().to_dict()["binaural"]
        binaural["dataset"]["scene"]["num_sources"] = [1, 2]
        _config(binaural=binaural)


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_every_shipped_recipe_validates_with_every_method_section(scale: str) -> None:
    from spatialrep.experiments.benchmark import _entries
    from spatialrep.experiments.runner import benchmark_entries, list_scales, load_recipe

    assert set(list_scales("benchmark")) == {"tiny", "small"}
    config = load_recipe("benchmark", scale=scale)
    assert set(_entries(config)) == set(benchmark_entries())  # every method joins every suite


def test_a_bad_method_section_is_refused_before_anything_is_rendered() -> None:
    from spatialrep.experiments.benchmark import _entries

    bad = _config(methods={"gccphat-dnn": {"finetune": {"max_steps": -3}}})
    with pytest.raises(ConfigError, match=r"methods\.gccphat-dnn.*max_steps"):
        _entries(bad)
    with pytest.raises(ConfigError, match=r"methods\.sce.*unknown keys"):
        _entries(_config(methods={"sce": {"trian": {}}}))
