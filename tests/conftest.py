"""Shared fixtures: the devices to test on (CPU always, CUDA when this machine has it)."""

from __future__ import annotations

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each device of this machine in turn: tests taking it run on CPU, and on CUDA where present."""
    return torch.device(request.param)
