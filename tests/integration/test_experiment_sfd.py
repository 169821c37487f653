"""The SFD experiment end to end at a micro scale: every file, resume after a kill, guards, the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import yaml

from spatialrep.cli.main import main
from spatialrep.experiments.runner import list_scales, load_recipe, run_experiment
from spatialrep.experiments.sfd_config import SfdExperimentConfig
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

pytestmark = pytest.mark.slow  # minutes of rendering and training, end to end

TRAIN = {"batch_size": 8, "lr": 3e-3, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 2}


def micro() -> SfdExperimentConfig:
    tiny = load_recipe("sfd", scale="tiny")
    dataset = {**tiny.dataset, "num_examples": 48, "budgets": {"4s": 4, "10s": 10}}
    encoder = EncoderConfig(
        "causal_conformer", {"d_model": 16, "num_layers": 1, "num_heads": 2, "conv_kernel": 3}
    )
    return dataclasses.replace(
        tiny,
        scale="micro",
        dataset=dataset,
        model=dataclasses.replace(tiny.model, encoder=encoder),
        targets=("gcc_phat",),
        seeds=(0, 1),
        classic=("gcc-phat-itd",),
        pretrain=TrainConfig(**TRAIN, max_steps=4, val_every_n_steps=2),
        finetune=TrainConfig(**TRAIN, max_steps=3),
    )


def run(config, out, lines=None):
    log = lines.append if lines is not None else (lambda _: None)
    return run_experiment("sfd", out, config=config, workers=1, progress=False, log=log)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("sfd-exp") / "run"
    lines: list[str] = []
    result = run(micro(), out, lines)
    return out, result, lines


def test_every_model_baseline_and_floor_is_evaluated_on_each_test_set(experiment):
    out, result, lines = experiment
    methods = {"sfd-gcc_phat", "stft-dnn", "gccphat-dnn"}
    rows = result.rows
    per_set = len(methods) * 2 * 2 + 1 + 2  # 3 learned x 2 budgets x 2 seeds + 1 classic + 2 floors
    assert len(rows) == 2 * per_set  # the in-domain test split and the unseen (sphere) head
    assert {r["test_set"] for r in rows} == {"in-domain", "sphere"}
    assert {r["method"] for r in rows} == methods | {"gcc-phat-itd", "always-0°", "class-prior"}
    counts = {r["count"] for r in rows}
    assert len(counts) == 1 and counts.pop() >= 4  # one test split, the same for every model
    bands = {"[-20, -5)", "[-5, 0)", "[0, 10)", "[10, 30)"}
    for row in rows:
        assert 0.0 <= row["mae_deg"] <= 180.0 and set(row["snr_bands"]) == bands
        assert len(row["pred_azimuth_deg"]) == row["count"]
    zero = next(r for r in rows if r["method"] == "always-0°" and r["test_set"] == "in-domain")
    assert set(zero["pred_azimuth_deg"]) == {0.0}
    summary = {(r["method"], r["budget"]): r for r in result.summary}
    assert summary[("stft-dnn", "4s")]["n"] == 2 and summary[("gcc-phat-itd", "none")]["n"] == 1
    assert summary[("class-prior", "floor")]["n"] == 1
    for name in ("results.csv", "results.json", "results.md", "mae_vs_snr.png", "mae_vs_labels.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "mae_vs_snr.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text()  # the runner's one-page report: the table and both plots
    assert page.count("<img ") == 2 and "<td>sfd-gcc_phat</td>" in page
    table = (out / "results.md").read_text()
    assert "| sfd-gcc_phat | 4s | 2 |" in table and "MAE reduction against STFT-DNN" in table
    assert "Best trivial floor on this test set" in table and "## Test set sphere" in table
    assert "## Learned against classic (in-domain)" in table and "| [-5, 0) |" in table
    assert "R² against the training-mean predictor" in table and "| gcc_phat | seed0 |" in table
    reference = json.loads((out / "pretrain" / "gcc_phat" / "mean_predictor.json").read_text())
    assert reference["mse"] > 0 and reference["zero_mse"] > 0
    assert table in "\n".join(lines)  # the table is printed
    stored = json.loads((out / "results.json").read_text())
    assert stored["metadata"]["config"]["targets"] == ["gcc_phat"] and len(stored["rows"]) == len(rows)
    assert len(stored["metadata"]["units"]) == 1 + 12 + 2 * per_set
    assert all(u["wall_time_s"] >= 0 for u in stored["metadata"]["units"])
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())  # the resolved recipe, loadable as --config
    assert recipe["model"]["encoder"]["kwargs"]["d_model"] == 16 and recipe["dataset"]["num_examples"] == 48
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1 and csv_lines[0].startswith("test_set,method,budget,seed")
    assert (result.try_model / "best" / "model.json").is_file() and result.try_file.is_file()
    assert not list(out.rglob("*.part"))


def test_lag_range_comes_from_the_receiver():
    config = micro()
    assert config.max_lag == 15  # KEMAR: 0.81 ms = 13 samples, + 2
    sfd = config.sfd_config("gcc_phat", "gcc:instance")
    assert sfd.frontend.max_lag == sfd.target.max_lag == 15 and sfd.target.normalization == "instance"
    fixed = dataclasses.replace(config, lags_from_receiver=False)
    assert fixed.sfd_config("stft", "gcc").target.max_lag == config.model.target.max_lag


def test_rerun_skips_finished_work_and_a_killed_run_resumes_to_the_same_numbers(experiment):
    out, result, _ = experiment
    lines: list[str] = []
    again = run(micro(), out, lines)
    # 1 pretraining + 12 fine-tunings + 2 test sets x (12 evaluations + 1 classic baseline + 2 floors)
    assert "[sfd] 43 units, 43 already done" in lines
    assert [r["mae_deg"] for r in again.rows] == [r["mae_deg"] for r in result.rows]

    # A kill in the middle: one fine-tuning lost its marker and its evaluation, another evaluation never ran.
    shutil.rmtree(out / "finetune" / "stft-dnn" / "10s" / "seed1")
    for test_set in ("in-domain", "sphere"):
        (out / "eval" / test_set / "stft-dnn__10s__seed1.json").unlink()
    (out / "eval" / "in-domain" / "gccphat-dnn__4s__seed0.json").unlink()
    lines = []
    resumed = run(micro(), out, lines)
    assert "[sfd] 43 units, 39 already done" in lines
    before = {
        (r["test_set"], r["method"], r["budget"], r["seed"]): r["pred_azimuth_deg"] for r in result.rows
    }
    after = {
        (r["test_set"], r["method"], r["budget"], r["seed"]): r["pred_azimuth_deg"] for r in resumed.rows
    }
    assert after == before


def test_another_configuration_in_the_same_folder_is_refused(experiment):
    out, _, _ = experiment
    other = dataclasses.replace(micro(), seeds=(0, 1, 2))
    with pytest.raises(ValueError, match=r"another configuration.*config"):
        run(other, out)


def test_foreign_folder_and_bad_configs_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        run(micro(), tmp_path)
    with pytest.raises(ValueError, match=r"no scale 'huge'.*paper, small, tiny"):
        load_recipe("sfd", scale="huge")
    with pytest.raises(ValueError, match=r"target .mfcc. is not <target>\[:<normalization>\]"):
        dataclasses.replace(micro(), targets=("mfcc",))
    with pytest.raises(ValueError, match="seeds"):
        dataclasses.replace(micro(), seeds=(1, 1))
    with pytest.raises(ValueError, match="d_model"):
        load_recipe("sfd", scale="tiny", overrides=["model.encoder.kwargs.d_model=15"])
    with pytest.raises(ValueError, match="unknown preset"):
        load_recipe("sfd", scale="tiny", overrides=["dataset.preset=nowhere"])


def test_recipes_load_and_overrides_apply():
    config = load_recipe(
        "sfd", scale="tiny", overrides=["seeds=[4, 5]", "finetune.lr=1e-4", "dataset.num_examples=64"]
    )
    assert config.seeds == (4, 5) and config.finetune.lr == 1e-4 and config.dataset["num_examples"] == 64
    assert config.dataset["name"] == "sfd-experiment-tiny"  # the preset, with the recipe's changes


@pytest.mark.parametrize("scale", list_scales("sfd"))
def test_named_scales_are_valid_and_use_at_least_three_seeds(scale):
    config = load_recipe("sfd", scale=scale)
    pretrained = {target.partition(":")[0] for target in (*config.targets, *config.diagnostic_targets)}
    assert len(config.seeds) >= 3 and pretrained == {"gcc", "gcc_phat", "cps_phat", "ipd_ild"}
    assert {"gcc-phat-itd-snr", "srp-phat-framemean", "music-freefield"} <= set(config.classic)
    assert list(config.budgets.values()) == sorted(config.budgets.values())
    assert config.dataset["scene"]["num_sources"] == [1, 1]


def test_cli_rejects_an_unknown_scale_before_touching_the_disk(capsys, tmp_path):
    code = main(["experiment", "sce", "--scale", "paper", "--out", str(tmp_path / "x")])
    assert code == 2 and "experiment sce has no scale 'paper'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    code = main(
        ["experiment", "sfd", "--scale", "tiny", "--set", "seeds=[1, 1]", "--out", str(tmp_path / "y")]
    )
    assert code == 2 and "seeds" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_cli_runs_a_config_file_and_points_at_a_model(monkeypatch, capsys, tmp_path):
    """The CLI resolves --config and --set through the runner, with no per-experiment branch."""
    import spatialrep.experiments.runner as runner
    from spatialrep.experiments.runner import ExperimentResult

    calls = []
    spec = runner.get_experiment("sce")

    def fake(config, out, **kwargs):
        calls.append((config, out, kwargs))
        return ExperimentResult(rows=[], summary=[], paths={}, try_model=out / "models" / "wsce")

    monkeypatch.setitem(runner._EXPERIMENTS, "sce", dataclasses.replace(spec, run=fake))
    recipe = tmp_path / "mine.yaml"
    shutil.copy(runner.recipe_path("sce", "tiny"), recipe)
    out = tmp_path / "sce"
    args = [
        "experiment",
        "sce",
        "--config",
        str(recipe),
        "--set",
        "max_steps=7",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    ((config, folder, kwargs),) = calls
    assert config.max_steps == 7 and folder == out and kwargs["progress"] is False
    assert yaml.safe_load((out / "recipe.yaml").read_text())["max_steps"] == 7
    assert json.loads((out / "experiment.json").read_text())["experiment"] == "sce"
    assert f"spatialrep localize FILE.wav --model {out}/models/wsce" in capsys.readouterr().out
