"""The classic distances SQM-BS is compared with: L1, multi-resolution STFT, SFD embedding distance."""

from __future__ import annotations

import torch

from spatialrep.methods import QualityMetric
from spatialrep.methods.sfd import SfdConfig, SfdPretrainer
from spatialrep.methods.sqm_baselines import L1Distance, MultiResolutionStftDistance, SfdEmbeddingDistance


def test_distances_are_zero_on_identity_grow_with_noise_and_are_differentiable():
    g = torch.Generator().manual_seed(0)
    clean = torch.randn(1, 2, 4000, generator=g)
    noise = torch.randn(1, 2, 4000, generator=g)
    for metric in (L1Distance(16000), MultiResolutionStftDistance(16000)):
        assert isinstance(metric, QualityMetric)
        assert metric(clean, clean).item() == 0.0
        levels = [metric(clean, clean + a * noise).item() for a in (0.01, 0.1, 1.0)]
        assert levels[0] < levels[1] < levels[2]
        test = (clean + 0.1 * noise).requires_grad_(True)
        metric(clean, test).sum().backward()
        assert test.grad is not None and torch.isfinite(test.grad).all()


def test_sfd_embedding_distance():
    torch.manual_seed(0)
    metric = SfdEmbeddingDistance(SfdPretrainer(SfdConfig()))
    x = torch.randn(2, 2, 4000)
    assert torch.all(metric(x, x) == 0)
    d = metric(x, torch.flip(x, dims=[1]))
    assert d.shape == (2,) and torch.all((d >= 0) & (d <= 2))
    assert metric.sample_rate == 16000
