"""The SQM-BS experiment end to end at a micro scale: every file, resume, combined SC_az > 0 on KEMAR."""

from __future__ import annotations

import dataclasses
import json

import pytest

from spatialrep.data.sqm_pairs import SqmDataConfig
from spatialrep.experiments.runner import load_recipe, run_experiment
from spatialrep.experiments.sqm_config import EvalSizes
from spatialrep.methods.enhance import EnhanceConfig
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

pytestmark = pytest.mark.slow  # a short training, two enhancer steps and the evaluations, twice (resume)

TRAIN = {"accelerator": "cpu", "devices": 1, "log_every_n_steps": 5, "optimizer": "adam"}


def micro():
    tiny = load_recipe("sqm", scale="tiny")
    data = SqmDataConfig(
        sample_rate=8000, segment_s=0.25, elevations_deg=(0.0, 20.0), rooms=0, synthetic_heads=1,
        unseen_rooms=0, unseen_heads=2, pool_size=24,
    )  # fmt: skip
    encoder = EncoderConfig(
        "resnet1d_bilstm", {"blocks": 1, "channels": 8, "lstm_hidden": 16, "lstm_layers": 2}
    )
    sizes = EvalSizes(
        sweep_items=3, ca_items=6, retrieval_groups=3, retrieval_members=4, retrieval_k=(3,),
        degradation_items=2, degradations=("azimuth", "ild", "itd", "width", "content", "hrtf"),
        localization_clips=8,
    )  # fmt: skip
    enhance = EnhanceConfig(
        n_fft=64, hop_length=16, hidden=8, losses=("l1+sqm",), train_clips=4, test_clips=2,
        train=TrainConfig(**TRAIN, max_steps=2, batch_size=2, lr=1e-3),
    )  # fmt: skip
    return dataclasses.replace(
        tiny,
        scale="micro",
        data=data,
        model=dataclasses.replace(tiny.model, encoder=encoder),
        variants=("combined",),
        baselines=("cue", "l1", "mrstft"),
        train=TrainConfig(**TRAIN, max_steps=60, batch_size=8, lr=3e-3),
        eval=sizes,
        enhance=enhance,
    )


def run(config, out):
    return run_experiment("sqm", out, config=config, workers=1, progress=False, log=lambda _: None)


def test_micro_run_end_to_end_and_resumed(tmp_path):
    out = tmp_path / "sqm"
    config = micro()
    result = run(config, out)
    for name in ("results.md", "results.csv", "results.json", "d_vs_delta.png", "enhancement_cues.png"):
        assert (out / name).is_file(), name
    rows = {(r["split"], r["metric"]): r for r in result.rows}
    assert {"combined", "combined (embedding)", "cue", "l1", "mrstft", "random"} <= {
        m for s, m in rows if s == "test"
    }
    assert ("test", "always-front") in rows and ("unseen", "random-direction") in rows
    # the learned metric orders a KEMAR azimuth sweep (content not matched)
    assert rows[("test", "combined")]["sc_az"] > 0
    assert 0 <= rows[("test", "combined")]["ca"] <= 1
    # resume: drop the last evaluation; the rerun redoes it and gives the same table
    before = json.loads((out / "results.json").read_text())["rows"]
    (out / "eval" / "unseen.json").unlink()
    run(config, out)
    assert json.loads((out / "results.json").read_text())["rows"] == before
    # another configuration in the same folder is refused
    with pytest.raises(ValueError, match="another configuration"):
        run(dataclasses.replace(config, eval_batch_size=3), out)
