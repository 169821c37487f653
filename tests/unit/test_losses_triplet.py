"""CosineDistance and TripletMarginLoss against naive loops."""

from __future__ import annotations

import math

import pytest
import torch

from spatialrep.losses import CosineDistance, TripletMarginLoss


def test_cosine_distance_range_symmetry_zero_diagonal():
    torch.manual_seed(0)
    z = torch.randn(9, 5, dtype=torch.float64)
    z[3] = -z[2]  # opposite: distance 2
    d = CosineDistance().pairwise(z)
    assert torch.all(d >= 0) and torch.all(d <= 2)
    assert torch.equal(d, d.T)
    assert torch.all(torch.diagonal(d) == 0)
    assert d[2, 3].item() == pytest.approx(2.0)
    for i in range(9):
        for j in range(9):
            if i != j:
                naive = 1 - float(z[i] @ z[j]) / (float(z[i].norm()) * float(z[j].norm()))
                assert d[i, j].item() == pytest.approx(naive, abs=1e-12)


def test_triplet_loss_matches_a_naive_loop():
    torch.manual_seed(1)
    a, p, n = (torch.randn(7, 4, dtype=torch.float64) for _ in range(3))
    loss = TripletMarginLoss(margin=0.3)(a, p, n)

    def cos_d(u, v):
        return 1 - float(u @ v) / math.sqrt(float(u @ u) * float(v @ v))

    naive = sum(max(0.0, cos_d(a[i], p[i]) - cos_d(a[i], n[i]) + 0.3) for i in range(7)) / 7
    assert loss.item() == pytest.approx(naive, abs=1e-12)


def test_triplet_loss_is_zero_when_positives_are_much_closer():
    a = torch.tensor([[1.0, 0.0]])
    assert TripletMarginLoss(1.0)(a, a, -a).item() == 0.0  # d(a,p)=0, d(a,n)=2
    assert TripletMarginLoss(1.0)(a, -a, a).item() == pytest.approx(3.0)


def test_triplet_loss_validates():
    with pytest.raises(ValueError, match="positive"):
        TripletMarginLoss()(torch.zeros(2, 3), torch.zeros(3, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="margin"):
        TripletMarginLoss(-1.0)
    with pytest.raises(TypeError):
        TripletMarginLoss()(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3), torch.zeros(2, 3))
