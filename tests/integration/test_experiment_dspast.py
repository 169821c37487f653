"""The DSpAST experiment end to end at a micro scale (4 of its 6 models; dspast-4feat and spatialast-3x differ
from these only in their configuration): every row and plot, resume after a kill, the recipes,
the localize command."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from spatialrep.cli.main import main
from spatialrep.experiments.dspast import DspastExperimentConfig
from spatialrep.experiments.runner import list_scales, load_recipe, run_experiment
from spatialrep.models import EncoderConfig

pytestmark = pytest.mark.slow  # rendering, three short curricula and their evaluations, end to end


def micro() -> DspastExperimentConfig:
    tiny = load_recipe("dspast", scale="tiny")
    dataset = {**tiny.dataset, "num_examples": 40}
    dataset["scene"] = {**dataset["scene"], "duration_s": 0.5}
    stages = tuple(
        dataclasses.replace(s, train=dataclasses.replace(s.train, max_steps=2, warmup_steps=1, batch_size=8))
        for s in tiny.stages
    )
    return dataclasses.replace(
        tiny, scale="micro", dataset=dataset, n_mels=32, stages=stages,
        backbone_overrides={"embed_dim": 16, "depth": 1, "num_heads": 2, "patch_size": 8},
        models=("dspast", "spatialast", "dspast-noattn", "crnn"),
        baseline_encoder=EncoderConfig("crnn", {"conv_channels": 4, "gru_hidden": 4, "gru_layers": 1}),
    )  # fmt: skip


def run(config, out):
    return run_experiment("dspast", out, config=config, workers=1, progress=False, log=lambda _: None)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("dspast-exp") / "run"
    return out, run(micro(), out)


def test_every_model_stage_baseline_and_floor_is_a_row(experiment):
    out, result = experiment
    rows = {(r["method"], r["stage"]): r for r in result.rows}
    last = [(m, "3-finetune") for m in ("dspast", "spatialast", "dspast-noattn", "crnn")]
    learned = [("dspast", "1-sed"), ("dspast", "2-all"), *last]
    floors = ["class-prior", "always-0°", "direction-prior", "median-distance", "mean-distance"]
    expected = {*learned, ("srp-phat (HRTF grid)", "classic"), *((name, "floor") for name in floors)}
    assert set(rows) == expected
    for key in [k for k in expected if k[1] not in ("floor", "classic")]:
        row = rows[key]
        assert 0 <= row["mAP"] <= 100 and 0 <= row["ER20"] <= 100 and 0 <= row["DER"] <= 100
        assert 0 <= row["MAE"] <= 180 and row["params_M"] > 0 and row["mflops_clip"] > 0
    # DSpAST runs three branches: about three times SpatialAST's compute; attention weights in (0, 1)
    assert (
        rows[("dspast", "3-finetune")]["mflops_clip"]
        > 2.5 * rows[("spatialast", "3-finetune")]["mflops_clip"]
    )
    weights = rows[("dspast", "3-finetune")]["attention"]
    assert len(weights) == 3 and len(weights[0]) == 6 and all(0 < w < 1 for b in weights for w in b)
    assert "attention" not in rows[("dspast-noattn", "3-finetune")]
    assert rows[("crnn", "3-finetune")]["params_M"] < rows[("spatialast", "3-finetune")]["params_M"]
    assert rows[("class-prior", "floor")]["mAP"] > 0 and rows[("mean-distance", "floor")]["dist_r2"] == 0.0
    for name in ("results.csv", "results.json", "results.md", "attention_weights.png", "per_class_ap.png",
                 "error_vs_distance.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert "Claims checked" in (out / "results.md").read_text()


def test_a_killed_run_resumes_to_the_same_rows(experiment):
    out, result = experiment
    before = json.loads((out / "results.json").read_text())["rows"]
    # a kill inside DSpAST's last stage: its marker, its stage record and the evaluations are gone
    (out / "train" / "dspast" / "done.json").unlink()
    (out / "train" / "dspast" / "stage3-finetune" / "stage.json").unlink()
    shutil.rmtree(out / "train" / "dspast" / "stage3-finetune" / "last")
    shutil.rmtree(out / "eval")
    again = run(micro(), out)
    after = json.loads((out / "results.json").read_text())["rows"]
    drop = {"train_s"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in after] == [
        {k: v for k, v in r.items() if k not in drop} for r in before
    ]
    assert len(again.rows) == len(result.rows)


def test_the_localize_command_serves_the_model(experiment, capsys):
    _, result = experiment
    code = main(["localize", str(result.try_file), "--model", str(result.try_model), "--json", "--quiet"])
    assert code == 0
    assert '"azimuth_deg"' in capsys.readouterr().out


@pytest.mark.parametrize("scale", ["tiny", "small", "paper"])
def test_named_scales_are_valid(scale):
    config = load_recipe("dspast", scale=scale)
    assert config.scale == scale and len(config.stages) == 3
    assert config.stages[0].loss_weights.get("distance", 0.0) == 0.0


def test_list_scales():
    assert list_scales("dspast") == ("paper", "small", "tiny")
