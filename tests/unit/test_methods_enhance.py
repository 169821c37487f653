"""The binaural enhancer trains through SpatialQualityMetric (gradients reach it, the metric stays frozen)."""

from __future__ import annotations

import pytest
import torch

from spatialrep.data.sqm_pairs import SqmDataConfig, SqmScenes
from spatialrep.methods.enhance import (
    BinauralEnhancer,
    EnhanceConfig,
    EnhanceDataset,
    enhance_step,
    si_sdr,
    train_enhancer,
)
from spatialrep.methods.sqm import SpatialQualityMetric, SqmConfig, SqmModel
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

RATE = 8000


def tiny_metric() -> SpatialQualityMetric:
    torch.manual_seed(0)
    encoder = EncoderConfig("resnet1d_bilstm", {"blocks": 1, "channels": 4, "lstm_hidden": 4})
    return SpatialQualityMetric(
        SqmModel(SqmConfig(sample_rate=RATE, encoder=encoder, embedding_dim=4, view_dim=8))
    )


def test_the_enhancer_trains_through_the_metric(tmp_path):
    scenes = SqmScenes(SqmDataConfig(sample_rate=RATE, segment_s=0.1, rooms=0, pool_size=6), "train")
    data = EnhanceDataset(scenes, 8, (0.0, 5.0), "train")
    train = TrainConfig(max_steps=3, batch_size=4, lr=1e-2, accelerator="cpu", devices=1, log_every_n_steps=1)
    config = EnhanceConfig(sample_rate=RATE, n_fft=64, hop_length=16, hidden=8, train=train)
    metric = tiny_metric()
    frozen = {k: v.clone() for k, v in metric.state_dict().items()}
    # one step by hand: the SQM loss's gradient reaches every enhancer parameter
    model = BinauralEnhancer(config)
    batch = torch.utils.data.default_collate([data[i] for i in range(4)])
    out = enhance_step("sqm", metric)(model, batch)
    out["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    # and through train_model: the weights move, the metric's do not
    start = BinauralEnhancer(config)
    trained = train_enhancer(config, "l1+sqm", data, tmp_path, metric=metric)
    moved = any(
        not torch.equal(a, b)
        for a, b in zip(start.state_dict().values(), trained.model.state_dict().values())
    )
    assert moved
    assert all(torch.equal(v, metric.state_dict()[k]) for k, v in frozen.items())


def test_si_sdr_and_step_validation():
    x = torch.randn(2, 1000)
    assert torch.all(si_sdr(3 * x, x) > 80)
    with pytest.raises(ValueError, match="needs a SpatialQualityMetric"):
        enhance_step("sqm", None)
    with pytest.raises(ValueError, match="unknown"):
        enhance_step("nope", None)
