"""The MC-SimCLR experiment end to end at a micro scale: every file, resume after a kill, guards, the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from spatialrep.cli.main import main
from spatialrep.data.datasets import ManifestDataset
from spatialrep.experiments.mcsimclr_config import McSimclrExperimentConfig
from spatialrep.experiments.runner import list_scales, load_recipe, run_experiment
from spatialrep.methods import load_model
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

pytestmark = pytest.mark.slow  # rendering and about twenty short trainings, end to end

TRAIN = {"batch_size": 8, "lr": 3e-3, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 2}


def micro() -> McSimclrExperimentConfig:
    tiny = load_recipe("mcsimclr", scale="tiny")
    dataset = {**tiny.dataset, "num_examples": 40, "budgets": {"4s": 4}}
    model = dataclasses.replace(
        tiny.model,
        encoder=EncoderConfig("crnn", {"conv_channels": 4, "gru_hidden": 6, "gru_layers": 1}),
        projector=EncoderConfig("mlp", {"hidden_sizes": [8], "output_dim": 8}),
    )
    return dataclasses.replace(
        tiny,
        scale="micro",
        dataset=dataset,
        model=model,
        pretrained=("full", "no-mu"),
        finetuned=("full",),
        pretrain=TrainConfig(**TRAIN, max_steps=3, val_every_n_steps=3),
        probe=TrainConfig(**TRAIN, max_steps=4),
        finetune=TrainConfig(**TRAIN, max_steps=2),
    )


def run(config, out, lines=None):
    log = lines.append if lines is not None else (lambda _: None)
    return run_experiment("mcsimclr", out, config=config, workers=1, progress=False, log=log)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("mcsimclr-exp") / "run"
    lines: list[str] = []
    result = run(micro(), out, lines)
    return out, result, lines


def test_every_model_baseline_and_floor_is_evaluated(experiment):
    out, result, lines = experiment
    learned = {"lp-full", "lp-no-mu", "lp-random-init", "lp-features", "ft-full", "scratch"}
    rows = result.rows
    assert len(rows) == len(learned) * 2 + 2 + 2  # 6 models x 2 budgets + SRP-PHAT, MUSIC + 2 floors
    assert {r["method"] for r in rows} == learned | {"srp-phat", "music", "class-prior", "always-0°"}
    assert {r["budget"] for r in rows} == {"4s", "all", "none", "floor"}
    counts = {r["count"] for r in rows}
    assert len(counts) == 1 and counts.pop() >= 4  # one test split for every model
    for row in rows:
        assert 0.0 <= row["mae_deg"] <= 180.0 and len(row["pred_azimuth_deg"]) == row["count"]
        if row["method"] in learned or row["method"] == "class-prior":
            assert 0.0 <= row["accuracy"] <= 1.0 and len(row["pred_class"]) == row["count"]
        else:
            assert row["accuracy"] is None  # classic localizers do not classify
    zero = next(r for r in rows if r["method"] == "always-0°")
    assert set(zero["pred_azimuth_deg"]) == {0.0}
    for name in ("results.csv", "results.json", "results.md", "lp_ft.png", "label_curve.png", "ablation.png",
                 "embedding_pca.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert (out / "embedding_pca.png").read_bytes()[:4] == b"\x89PNG"
    table = (out / "results.md").read_text()
    assert (
        "| lp-full | 4s | 1 |" in table and "## Comparisons" in table and "lp-full vs lp-random-init" in table
    )
    assert "| lp-no-mu | 4s |" in table and "## The paper's anchors" in table and "## Floors" in table
    assert table in "\n".join(lines)
    stored = json.loads((out / "results.json").read_text())
    timings = stored["metadata"]["units"]
    assert len(timings) == 2 + 12 + 1 + 16 and all(u["wall_time_s"] >= 0 for u in timings)
    assert stored["metadata"]["hours"]["4s"] == pytest.approx(4 / 3600)
    assert result.try_model == out / "finetune" / "ft-full" / "all" / "seed0" and result.try_file.is_file()


def test_probes_scored_from_cached_embeddings_equal_localize(experiment):
    """Probe rows come from the test embeddings cached once per encoder: the same answers as localize."""
    out, result, _ = experiment
    test = ManifestDataset(out / "data", split="test", signals=("noisy",))
    audio = torch.stack([test[i]["noisy"] for i in range(len(test))])
    for method in ("lp-full", "lp-random-init", "lp-features"):
        model = load_model(out / "probe" / method / "4s" / "seed0" / "model")
        found = model.localize(audio, 16000)
        row = next(r for r in result.rows if r["method"] == method and r["budget"] == "4s")
        np.testing.assert_allclose(np.degrees(found.azimuth), row["pred_azimuth_deg"], atol=1e-3)
        assert [found.best_class(i) for i in range(len(found))] == row["pred_class"]


def test_rerun_has_nothing_left_and_a_killed_run_resumes_to_the_same_rows(experiment):
    out, result, _ = experiment
    lines: list[str] = []
    again = run(micro(), out, lines)
    assert "[mcsimclr] 31 units, 31 already done" in lines
    assert again.rows == result.rows

    # A kill in the middle: a probe and a fine-tuning lost their markers and evaluations.
    shutil.rmtree(out / "probe" / "lp-full" / "4s" / "seed0")
    (out / "finetune" / "scratch" / "all" / "seed0" / "done.json").unlink()
    for name in ("lp-full__4s__seed0", "scratch__all__seed0", "music"):
        (out / "eval" / f"{name}.json").unlink()
    lines = []
    resumed = run(micro(), out, lines)
    assert "[mcsimclr] 31 units, 26 already done" in lines
    key = ("method", "budget", "seed")
    before = {tuple(r[k] for k in key): (r["pred_azimuth_deg"], r.get("pred_class")) for r in result.rows}
    after = {tuple(r[k] for k in key): (r["pred_azimuth_deg"], r.get("pred_class")) for r in resumed.rows}
    assert after == before


def test_another_configuration_or_experiment_in_the_folder_is_refused(experiment, tmp_path):
    out, _, _ = experiment
    with pytest.raises(ValueError, match=r"another configuration"):
        run(dataclasses.replace(micro(), seeds=(0, 1)), out)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        run(micro(), tmp_path)


def test_the_localize_command_runs_the_model_on_a_four_channel_file(experiment, capsys):
    _, result, _ = experiment
    code = main(["localize", str(result.try_file), "--model", str(result.try_model), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0 and "azimuth" in printed and "class " in printed and "McSimclrModel" in printed
    code = main(["localize", str(result.try_file), "--model", str(result.try_model), "--json", "--quiet"])
    clip = json.loads(capsys.readouterr().out)["clip"]
    assert code == 0 and isinstance(clip["class"], str) and -180 <= clip["azimuth_deg"] <= 180


@pytest.mark.parametrize("scale", list_scales("mcsimclr"))
def test_named_scales_are_valid(scale):
    config = load_recipe("mcsimclr", scale=scale)
    assert set(config.pretrained) == {"full", "none", "no-cs", "no-mu", "no-rrc", "no-cd"}
    assert set(config.finetuned) == {"full", "none"} and set(config.baselines) == {
        "random-init",
        "features",
        "scratch",
    }
    assert set(config.classic) == {"srp-phat", "music"}
    assert config.budgets[-1] == ("2.4h" if scale == "paper" else "all")
    assert config.dataset["scene"]["num_sources"] == [1, 1] and config.dataset["unit_partition"]
    assert config.pretrain.optimizer == "adam" and config.model.loss.temperature == 0.1
    assert len(config.seeds) == (1 if scale == "tiny" else 3)


def test_list_scales():
    assert list_scales("mcsimclr") == ("paper", "small", "tiny")
