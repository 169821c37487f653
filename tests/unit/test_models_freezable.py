"""``FreezableEncoder``: the linear-probe freeze and the encoder's learning-rate group."""

from __future__ import annotations

import torch
from torch import nn

from spatialrep.models import FreezableEncoder, create_encoder


class Probe(FreezableEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = create_encoder("mlp", input_dim=4, hidden_sizes=[8], output_dim=6, dropout=0.5)
        self.head = nn.Linear(6, 2)


def test_groups_split_encoder_and_everything_else():
    model = Probe()
    model.encoder_lr_scale = 0.3
    encoder, rest = model.optimizer_groups()
    assert encoder["lr_scale"] == 0.3 and rest["lr_scale"] == 1.0
    assert {id(p) for p in encoder["params"]} == {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in rest["params"]} == {id(p) for p in model.head.parameters()}


def test_a_frozen_encoder_stays_in_eval_mode_without_gradients():
    model = Probe()
    assert not model.encoder_frozen
    model.freeze_encoder()
    model.train()
    assert model.training and model.head.training and not model.encoder.training
    assert all(not p.requires_grad for p in model.encoder.parameters())
    x = torch.randn(3, 5, 4)
    assert torch.equal(model.encoder(x), model.encoder(x))  # no dropout
    other = Probe().train()
    assert other.encoder.training  # the freeze is per instance
