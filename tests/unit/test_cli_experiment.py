"""`spatialrep experiment --threads`: torch's thread count for the run, restored by nothing else."""

from __future__ import annotations

import torch

import spatialrep.experiments.runner as runner
from spatialrep.cli.main import main
from spatialrep.experiments.runner import ExperimentResult


def test_threads_sets_torch_threads_for_the_run(monkeypatch, tmp_path, capsys):
    seen = []

    def fake_run_experiment(name, out, **kwargs):
        seen.append((name, torch.get_num_threads()))
        return ExperimentResult(rows=[], summary=[], paths={})

    monkeypatch.setattr(runner, "run_experiment", fake_run_experiment)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert main(["experiment", "sce", "--threads", "1", "--out", str(tmp_path / "e"), "--quiet"]) == 0
        assert seen == [("sce", 1)]
        torch.set_num_threads(2)
        assert main(["experiment", "sce", "--out", str(tmp_path / "e"), "--quiet"]) == 0
        assert seen[-1] == ("sce", 2)  # without --threads torch keeps its own setting
    finally:
        torch.set_num_threads(before)
