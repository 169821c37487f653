"""SIGINT and SIGTERM during a command (training included): one line, exit 130 / 143, and a rerun resumes."""

from __future__ import annotations

import argparse
import os
import signal

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import TensorDataset

import spatialrep.cli.experiment as experiment_cli
from spatialrep.cli.main import main
from spatialrep.train import MethodModule, TrainConfig, fit, make_loader


def _train(out, stop_at: int | None, signum: int) -> int:
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = x.sum(dim=1, keepdim=True)

    class Signal(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            if stop_at is not None and trainer.global_step == stop_at:
                os.kill(os.getpid(), signum)

    torch.manual_seed(0)
    module = MethodModule(nn.Linear(3, 1), lambda m, b: {"loss": nn.functional.mse_loss(m(b[0]), b[1])})
    config = TrainConfig(
        max_steps=12, lr=0.05, batch_size=8, checkpoint_every_n_steps=2, accelerator="cpu", devices=1
    )
    loader = make_loader(TensorDataset(x, y), batch_size=8, seed=0)
    result = fit(module, loader, None, config, out, progress=False, callbacks=[Signal()])
    return result.global_step


@pytest.mark.parametrize(
    ("signum", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_during_training_exits_cleanly_and_a_rerun_resumes(
    tmp_path, monkeypatch, capsys, signum, code, word
):
    steps: list[int] = []

    def run(args: argparse.Namespace) -> int:
        steps.append(_train(tmp_path / "run", args.stop_at, signum))
        return 0

    monkeypatch.setattr(experiment_cli, "run", run)
    original = experiment_cli.register

    def register(subparsers) -> None:
        original(subparsers)
        subparsers.choices["experiment"].add_argument("--stop-at", type=int, default=None)

    monkeypatch.setattr(experiment_cli, "register", register)
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    assert main(["experiment", "sce", "--out", str(tmp_path / "x"), "--stop-at", "5"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"spatialrep: {word}; rerun the same command to resume" and not steps
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # restored
    assert (tmp_path / "run" / "lightning" / "last.ckpt").is_file()  # the periodic checkpoint of step 4
    assert main(["experiment", "sce", "--out", str(tmp_path / "x")]) == 0
    assert steps == [12]
