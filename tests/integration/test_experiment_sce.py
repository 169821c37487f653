"""SCE experiment end to end at a reduced tiny scale: outputs, every method and experiment, resume."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest

from spatialrep.experiments.runner import list_scales, load_recipe, run_experiment
from spatialrep.methods import load_model
from spatialrep.methods.classic import CLASSIC_VARIANTS
from spatialrep.methods.sce import SceEmbedding

pytestmark = pytest.mark.slow  # minutes of rendering and training, end to end

SMALLER = dataclasses.replace(
    load_recipe("sce", scale="tiny"), azimuth_step_deg=20.0, num_train_rooms=2, directions_per_room=8,
    test1_per_room=4, num_test_rooms=1, test2_per_room=4, num_train_heads=1, directions_per_head=8,
    max_steps=12, val_every_n_steps=6,
)  # fmt: skip


def run(out: Path, config=SMALLER, lines: list[str] | None = None):
    log = lines.append if lines is not None else (lambda _: None)
    return run_experiment("sce", out, config=config, progress=False, log=log)


def _numbers(summary: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in summary]


def test_tiny_experiment_end_to_end_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "sce"
    lines: list[str] = []
    result = run(out, lines=lines)
    paths = result.paths
    for name in ("results.csv", "results.json", "results.md"):
        assert (out / name).is_file()
    assert any(Path(p).name.startswith("boxplot_") for p in paths["boxplots"])
    assert {Path(p).name for p in paths["embeddings"]} >= {"embedding_3d_wsce.png", "embedding_3d_lem.png"}
    assert all(Path(p).stat().st_size > 1000 for p in paths["boxplots"] + paths["embeddings"])
    summary = result.summary
    seen = {(r["experiment"], r["test_set"], r["method"]) for r in summary}
    sweep = ("SCE ε=5°", "SCE ε=15°", "WSCE ε=15°", "WSCE ε=30°", "FF", "LEM")
    for test_set in ("seen_rooms", "unseen_rooms"):
        for method in sweep:
            assert ("rooms", test_set, method) in seen
    for method in sweep:
        assert ("fixed", "speech_15db", method) in seen and ("fixed", "speech_clean", method) in seen
    # (c) and (d) use the first ε of each sweep only.
    assert {r["method"] for r in summary if r["experiment"] == "fraction"} == {"SCE ε=5°", "FF", "LEM"}
    assert {r["fraction"] for r in summary if r["experiment"] == "fraction"} == {0.25, 0.7}
    references = {"always-0°", "training-mean", *CLASSIC_VARIANTS}
    assert {r["method"] for r in summary if r["experiment"] == "heads"} == {
        "WSCE ε=15° (KEMAR only)", "WSCE ε=15° (KEMAR + spheres)", *references,
    }  # fmt: skip
    # Floors and classic localizers are rows of every (a), (b), (d) table; classic elevation is 0°.
    for experiment, test_set in (("fixed", "speech_15db"), ("fixed", "speech_clean"), ("rooms", "seen_rooms"),
                                 ("rooms", "unseen_rooms"), ("heads", "held_out_spheres")):  # fmt: skip
        rows = {r["method"]: r for r in summary if (r["experiment"], r["test_set"]) == (experiment, test_set)}
        assert references <= set(rows), (experiment, test_set)
        for name in CLASSIC_VARIANTS:
            assert math.isclose(rows[name]["el_median_deg"], rows["always-0°"]["el_median_deg"])
        # They hear the clips the features were made from: the best one beats the floor in azimuth.
        best_classic = min(rows[name]["median_deg"] for name in CLASSIC_VARIANTS)
        assert best_classic < rows["always-0°"]["median_deg"], (experiment, test_set, best_classic)
    for row in summary:
        assert 0.0 <= row["median_deg"] <= 180.0 and 0.0 <= row["el_median_deg"] <= 90.0
    table = "\n".join(lines)
    assert "| fixed | speech_15db |" in table and "LEM" in table
    with open(out / "results.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(
            json.loads((out / "results.json").read_text())["rows"]
        )
    # The 70 % fraction is the full training split: the same trained models as the fixed condition.
    fixed = {r["method"]: r["median_deg"] for r in summary if r["experiment"] == "fixed"}
    full = {
        r["method"]: r["median_deg"]
        for r in summary
        if r["experiment"] == "fraction" and r["fraction"] == 0.7
    }
    assert all(math.isclose(full[m], fixed[m]) for m in full)

    model = load_model(out / "models" / "wsce")
    assert isinstance(model, SceEmbedding) and model.config.loss.mode == "wsce" and model.num_references > 0
    assert model.config.loss.epsilon_deg == 15.0
    log = (out / "runs" / "fixed" / "wsce_eps15" / "seed0" / "fit" / "best" / "model.json").read_text()
    assert '"best_score"' in log  # selected by the validation localization error (the recipe's choice)
    metrics = json.loads(log)["extra"]["metrics"]
    assert "val/localization_error_deg" in metrics and metrics["lr"] <= 1e-3
    assert isinstance(load_model(out / "models" / "sce_azimuth"), SceEmbedding)
    assert result.try_model == out / "models" / "wsce"

    # Rerun: everything is reused and identical.
    again = run(out)
    assert _numbers(again.summary) == _numbers(summary)
    # A unit killed before it finished (no done.json) is retrained from scratch to the same numbers.
    unit = out / "runs" / "rooms" / "wsce_eps15" / "seed0"
    (unit / "done.json").unlink()
    (unit / "predictions.npz").unlink()
    third = run(out)
    assert (unit / "done.json").is_file()
    assert _numbers(third.summary) == _numbers(summary)
    # Another configuration would silently reuse units made for this one: it is refused.
    with pytest.raises(ValueError, match=r"another configuration"):
        run(out, dataclasses.replace(SMALLER, seeds=(0, 1)))
    # So is a folder of another experiment.
    with pytest.raises(ValueError, match="holds a sce experiment, not sfd experiment"):
        run_experiment("sfd", out, scale="tiny", progress=False, log=lambda _: None)


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no sce experiment"):
        run(tmp_path)


def test_recipes_and_guards() -> None:
    assert list_scales("sce") == ("small", "tiny")
    with pytest.raises(ValueError, match="small, tiny"):
        load_recipe("sce", scale="huge")
    with pytest.raises(ValueError, match="seeds"):
        load_recipe("sce", scale="tiny", overrides=["seeds=[]"])
    with pytest.raises(ValueError, match="direction_stride"):
        load_recipe("sce", scale="tiny", overrides=["direction_stride=0"])
