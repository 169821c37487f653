"""SIGKILL during an experiment, at three points (pretraining, fine-tuning or probing, evaluation): each
rerun resumes, and the final results equal those of an uninterrupted run, row for row.

Runs ``spatialrep experiment sfd`` and ``experiment mcsimclr`` in subprocesses on cut-down recipes (seconds of
training). A kill is sent as soon as a file that marks the point appears, so the process dies in the middle of
that stage.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spatialrep.config import save_config
from spatialrep.experiments.runner import load_recipe
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

pytestmark = pytest.mark.slow  # four runs of a small experiment in subprocesses, about a minute or two

TRAIN = {"batch_size": 8, "lr": 3e-3, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 2}


def _sfd_recipe(path: Path) -> Path:
    tiny = load_recipe("sfd", scale="tiny")
    encoder = EncoderConfig(
        "causal_conformer", {"d_model": 16, "num_layers": 1, "num_heads": 2, "conv_kernel": 3}
    )
    config = dataclasses.replace(
        tiny,
        scale="kill-test",
        dataset={**tiny.dataset, "num_examples": 40, "budgets": {"8s": 8}},
        model=dataclasses.replace(tiny.model, encoder=encoder),
        targets=("gcc_phat",),
        seeds=(0, 1),
        classic=("gcc-phat-itd",),
        extra_tests={},
        pretrain=TrainConfig(**TRAIN, max_steps=8, val_every_n_steps=4, checkpoint_every_n_steps=2),
        finetune=TrainConfig(**TRAIN, max_steps=6, val_every_n_steps=3, checkpoint_every_n_steps=2),
    )
    save_config(config, path)
    return path


def _mcsimclr_recipe(path: Path) -> Path:
    tiny = load_recipe("mcsimclr", scale="tiny")
    model = dataclasses.replace(
        tiny.model,
        encoder=EncoderConfig("crnn", {"conv_channels": 4, "gru_hidden": 6, "gru_layers": 1}),
        projector=EncoderConfig("mlp", {"hidden_sizes": [8], "output_dim": 8}),
    )
    config = dataclasses.replace(
        tiny,
        scale="kill-test",
        dataset={**tiny.dataset, "num_examples": 40, "budgets": {"4s": 4}},
        model=model,
        pretrained=("full",),
        finetuned=("full",),
        pretrain=TrainConfig(**TRAIN, max_steps=6, val_every_n_steps=3, checkpoint_every_n_steps=1),
        probe=TrainConfig(**TRAIN, max_steps=4),
        finetune=TrainConfig(**TRAIN, max_steps=4, checkpoint_every_n_steps=1),
    )
    save_config(config, path)
    return path


EXPERIMENTS = {
    "sfd": (
        _sfd_recipe,
        (
            "pretrain/*/seed0/lightning/*.ckpt",  # pretraining, after its first resumable checkpoint
            "finetune/*/*/seed0/lightning/*.ckpt",  # the first fine-tuning, mid-way
            "eval/in-domain/*.json",  # evaluation, after its first model
        ),
    ),
    "mcsimclr": (
        _mcsimclr_recipe,
        (
            "pretrain/full/seed0/lightning/*.ckpt",  # pretraining, mid-way
            "probe/*/*/seed0/done.json",  # among the probes, after the first
            "finetune/*/*/seed0/lightning/*.ckpt",  # the first fine-tuning, mid-way
        ),
    ),
}


def _command(name: str, recipe: Path, out: Path) -> list[str]:
    command = [sys.executable, "-m", "spatialrep", "experiment", name]
    return [*command, "--config", str(recipe), "--out", str(out)]


def _env() -> dict[str, str]:
    # One thread everywhere: the same float arithmetic in every process, whatever the machine's load.
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _run_and_kill_when(name: str, recipe: Path, out: Path, marker: str, timeout: float = 300.0) -> bool:
    """Run the experiment; SIGKILL it once a file matching the glob ``marker`` exists under ``out``.

    Returns whether it was killed (False: it finished before the marker appeared).
    """
    cmd = [*_command(name, recipe, out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if any(out.glob(marker)):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{' '.join(cmd)} did not reach {marker} in {timeout:.0f} s")
        time.sleep(0.02)
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else proc.returncode
    return False


def _finish(name: str, recipe: Path, out: Path) -> list[dict[str, str]]:
    done = subprocess.run(
        [*_command(name, recipe, out), "--workers", "1", "--quiet"],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with (out / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_sigkill_at_three_points_resumes_to_the_rows_of_an_uninterrupted_run(tmp_path, name):
    make_recipe, points = EXPERIMENTS[name]
    recipe = make_recipe(tmp_path / "recipe.yaml")
    reference = _finish(name, recipe, tmp_path / "reference")

    out = tmp_path / "killed"
    killed = [_run_and_kill_when(name, recipe, out, marker) for marker in points]
    assert all(killed), f"the run finished before a kill point: {killed}"
    assert not (out / "results.csv").exists()
    resumed = _finish(name, recipe, out)

    assert len(resumed) == len(reference) > 0
    assert resumed == reference
