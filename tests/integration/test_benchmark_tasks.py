"""The benchmark's ``events`` and ``quality`` tasks cut down: every row on every suite, real metrics, floors
that can be checked by hand, suites disjoint from training, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialrep.config import ConfigError, from_dict
from spatialrep.data.manifest import find_manifest, read_rows
from spatialrep.data.sqm_pairs import SqmScenes
from spatialrep.experiments.benchmark import cell_key, winners_markdown
from spatialrep.experiments.benchmark_config import BenchmarkConfig
from spatialrep.experiments.runner import run_experiment

TRAIN = {"batch_size": 8, "lr": 2.0e-3, "devices": 1, "log_every_n_steps": 1}
STAGE = {
    "name": "all",
    "loss_weights": {"sed": 1.0, "distance": 1.0, "direction": 1.0},
    "train": {**TRAIN, "max_steps": 3},
}
AST = {
    "n_mels": 32,
    "backbone": "ast_tiny",
    "targets": {"num_distance_bins": 8, "azimuth_bin_deg": 10.0, "elevation_bin_deg": 10.0},
    "stages": [STAGE],
}
CONFORMER = {
    "name": "causal_conformer",
    "kwargs": {"d_model": 16, "num_layers": 1, "num_heads": 2, "conv_kernel": 3},
}
SQM_ENCODER = {
    "name": "resnet1d_bilstm",
    "kwargs": {"blocks": 1, "channels": 8, "lstm_hidden": 8, "lstm_layers": 1},
}
QUALITY_DATA = {
    "segment_s": 0.25,
    "azimuth_step_deg": 30.0,
    "elevations_deg": [0.0],
    "rooms": 1,
    "synthetic_heads": 1,
    "unseen_heads": 1,
    "unseen_rooms": 1,
    "pool_size": 12,
}


def _config(**changes: Any) -> BenchmarkConfig:
    mapping: dict[str, Any] = {
        "scale": "test",
        "seeds": [0, 1],
        "events": {
            "dataset": {
                "preset": "binaural-events-tiny",
                "name": "bench-events-test",
                "num_examples": 32,
                "budgets": {},
                "splits": {"train": {"size": 20}, "val": {"size": 4}, "test": {"size": 8}},
                "unit_partition": {"train": 0.75, "test": 0.25},
            },
            "suites": {"low-snr": {"snr_range_db": [-5.0, 0.0]}},
            "classic": ["srp-phat"],
        },
        "quality": {
            "data": QUALITY_DATA,
            "eval": {
                "sweep_items": 2,
                "ca_items": 4,
                "degradation_items": 2,
                "degradations": ["azimuth", "ild", "lowpass", "content"],
            },
        },
        "methods": {
            "dspast-events": AST,
            "spatialast-events": AST,
            "conformer-events": {**AST, "baseline_encoder": CONFORMER},
            "sqm-bs": {
                "model": {"encoder": SQM_ENCODER},
                "train": {**TRAIN, "max_steps": 2, "batch_size": 4},
            },
        },
        "eval_batch_size": 8,
    }
    mapping.update(changes)
    return from_dict(BenchmarkConfig, mapping)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("bench-tasks") / "run"
    result = run_experiment("benchmark", out, config=_config(), workers=1, progress=False, log=lambda _: None)
    return out, result


def _rows(result: Any, task: str, suite: str, model: str) -> list[dict[str, Any]]:
    return [r for r in result.rows if (r["task"], r["suite"], r["model"]) == (task, suite, model)]


def test_every_events_model_classic_and_floor_is_scored_on_every_suite(finished) -> None:
    _, result = finished
    for suite in ("in-domain", "low-snr"):
        for model in ("dspast-events", "spatialast-events", "conformer-events"):
            rows = _rows(result, "events", suite, model)
            assert sorted(r["seed"] for r in rows) == [0, 1]
            for row in rows:
                assert 0.0 <= row["mAP"] <= 100.0 and 0.0 <= row["MAE"] <= 180.0 and 0 <= row["DER"] <= 100
                assert np.isfinite(row["dist_r2"]) and row["params"] > 0 and row["infer_s_per_s"] > 0
        (srp,) = _rows(result, "events", suite, "srp-phat")
        assert "MAE" in srp and "mAP" not in srp and "DER" not in srp  # direction only
        (prior,) = _rows(result, "events", suite, "class-prior")
        assert "mAP" in prior and "MAE" not in prior
        (mean,) = _rows(result, "events", suite, "mean-distance")
        assert mean["dist_r2"] == pytest.approx(0.0)  # R² of the mean predictor against itself
        (zero,) = _rows(result, "events", suite, "always-0°")
        assert zero["az_MAE"] >= 0.0


def test_the_class_prior_floor_scores_the_class_prevalence(finished) -> None:
    """Constant scores rank every clip equally: each class's AP is its prevalence in the suite."""
    out, result = finished
    test = read_rows(find_manifest(out / "data" / "events-in-domain"))
    train = read_rows(find_manifest(out / "data" / "events-train"))
    classes = sorted({c for r in train if r["split"] == "train" for c in r["class"]})
    present = [np.mean([c in r["class"] for r in test]) for c in classes]
    expected = 100.0 * np.mean([p for p in present if p > 0])
    (prior,) = _rows(result, "events", "in-domain", "class-prior")
    assert prior["mAP"] == pytest.approx(expected)


def test_the_events_suites_are_disjoint_from_training(finished) -> None:
    """Other rooms, and other sources (programs, recordings) of every class that has more than one; a class
    with a single source is shared, and the dataset says so."""
    out, _ = finished
    train = [r for r in read_rows(find_manifest(out / "data" / "events-train")) if r["split"] == "train"]
    units, rooms = {u for r in train for u in r["unit"]}, {r["room_id"] for r in train}
    for suite in ("in-domain", "low-snr"):
        folder = out / "data" / f"events-{suite}"
        shared = set(json.loads((folder / "dataset.json").read_text())["splits"]["test"]["shared_classes"])
        assert shared == {"applause", "bird", "gunshot", "helicopter", "seashore", "telephone"}
        rows = read_rows(find_manifest(folder))
        test_units = {u for r in rows for u in r["unit"] if u.split(":")[0] not in shared}
        assert rows and test_units and not test_units & units, suite
        assert not {r["room_id"] for r in rows} & rooms, suite


def test_every_quality_distance_is_scored_on_both_splits(finished) -> None:
    out, result = finished
    for suite in ("test", "unseen"):
        rows = [r for r in result.rows if r["task"] == "quality" and r["suite"] == suite]
        models = {(r["model"], r["kind"], r["seed"]) for r in rows}
        assert {("sqm-bs", "learned", 0), ("sqm-bs", "learned", 1), ("cue", "classic", None)} <= models
        assert {("l1", "classic", None), ("mrstft", "classic", None), ("random", "floor", None)} <= models
        for row in rows:
            for key in ("deg_mean", "sc_az", "two_afc", "ca"):
                assert -1.0 <= row[key] <= 1.0, (row["model"], key)
    suites = json.loads((out / "suites.json").read_text())
    assert suites["quality/test"]["sha256"] != suites["quality/unseen"]["sha256"]
    assert suites["quality/test"]["pairs"] > 0


def test_the_quality_splits_hold_out_what_they_promise() -> None:
    """``test``: the training heads and rooms, other utterances; ``unseen``: other heads, rooms, voices."""
    config = _config().quality.data
    train, test, unseen = (SqmScenes(config, s) for s in ("train", "test", "unseen"))
    assert test.head_names == train.head_names and test.dry.voices == train.dry.voices
    train_clips = {c.tobytes() for c in train.dry.clips}
    assert not {c.tobytes() for c in test.dry.clips} & train_clips
    assert not set(unseen.dry.voices) & set(train.dry.voices)
    assert not set(unseen.head_names) & set(train.head_names)
    assert not (set(unseen.room_names) - {"free-field"}) & set(train.room_names)


def test_the_report_has_a_table_and_a_verdict_per_task(finished) -> None:
    out, _ = finished
    report = (out / "report.md").read_text()
    assert "## events: mAP %, DoA MAE (°), DER %, distance R² per test suite" in report
    assert "## quality: degradation ρ, SC Δaz, 2AFC, CA per test suite" in report
    assert "- **in-domain, DoA MAE (°)**:" in report and "- **unseen, CA**:" in report
    assert (out / "suites_events.png").is_file() and (out / "suites_quality.png").is_file()
    assert "suites_quality.png" not in (out / "report.html").read_text()  # inlined, not linked
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 2


def test_a_rerun_resumes_to_the_same_rows(finished) -> None:
    out, result = finished
    again = run_experiment("benchmark", out, config=_config(), workers=1, progress=False, log=lambda _: None)
    assert again.rows == result.rows


def test_task_errors_name_the_culprit() -> None:
    with pytest.raises(ConfigError, match=r"quality\.suites"):
        _config(quality={"data": QUALITY_DATA, "suites": ["val"]})
    with pytest.raises(ConfigError, match=r"quality\.baselines.*pesq"):
        _config(quality={"data": QUALITY_DATA, "baselines": ["pesq"]})
    with pytest.raises(ConfigError, match=r"classic.*music.*srp-phat"):
        events = dict(_config().events.__dict__)
        _config(events={"dataset": events["dataset"], "classic": ["music"]})
    with pytest.raises(ConfigError, match=r"methods\.sqm-bs\.variant"):
        from spatialrep.experiments.benchmark import _entries

        _entries(_config(methods={"sqm-bs": {"variant": "best"}}))


def test_the_docs_blocks_are_generated_from_the_run(finished, tmp_path: Path) -> None:
    from spatialrep.cli.main import main

    out, _ = finished
    doc = tmp_path / "doc.md"
    doc.write_text(
        "intro\n<!-- benchmark:test:begin -->\nold\n<!-- benchmark:test:end -->\nmiddle\n"
        "<!-- benchmark:test:begin compact -->\nold\n<!-- benchmark:test:end -->\n"
        "<!-- benchmark:small:begin -->\nkeep\n<!-- benchmark:small:end -->\n"
    )
    assert main(["report", str(out), "--update-docs", str(doc)]) == 0
    text = doc.read_text()
    assert "old" not in text and "keep" in text and text.startswith("intro\n")
    assert "spatialrep benchmark --suite test" in text and "| sqm-bs | learned |" in text
    assert text.count("- **unseen, CA**:") == 1  # verdicts in the full block only
    assert "in-domain: mAP %" in text and "unseen: CA" in text
    assert main(["report", str(out), "--update-docs", str(doc)]) == 0
    assert doc.read_text() == text  # idempotent
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n")
    assert main(["report", str(out), "--update-docs", str(bare)]) != 0
    assert bare.read_text() == "no markers\n"
    doc.write_text(doc.read_text().replace("| sqm-bs | learned |", "| edited |"))
    edited = doc.read_text()
    assert main(["report", str(out), "--update-docs", str(doc), str(bare)]) != 0
    assert doc.read_text() == edited  # every file is checked before any is written


def test_a_der_win_without_distance_learning_is_flagged() -> None:
    """DER beats the mean-distance floor by chance binning too: the verdict says so when the winner's distance
    R² is not above 0 (the training mean's) on that suite."""
    config = _config()
    task = config.tasks["events"]

    def row(model: str, kind: str, der: float, r2: float) -> dict[str, Any]:
        entry: dict[str, Any] = {"task": "events", "model": model, "kind": kind, "seeds": 1}
        for suite in task.suite_names:
            for metric in task.metrics:
                key = cell_key(task, suite, metric)
                entry[key] = {"DER": der, "dist_r2": r2}.get(metric.key, float("nan"))
                entry[f"{key}_std"] = 0.0
        return entry

    floor = row("mean-distance", "floor", 50.0, 0.0)
    text = winners_markdown(config, [row("dspast-events", "learned", 40.0, -0.3), floor], "events")
    assert "- **in-domain, DER %**: learned `dspast-events` wins with 40.0" in text
    assert "its distance R² is -0.30, not above 0: not evidence of learning" in text
    assert "R²**: floor `mean-distance` wins" in text and text.count("not evidence") == len(task.suite_names)
    backed = winners_markdown(config, [row("dspast-events", "learned", 40.0, 0.2), floor], "events")
    assert "not evidence" not in backed
