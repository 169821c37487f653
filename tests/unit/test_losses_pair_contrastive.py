"""Pair contrastive loss (SCE/WSCE): naive double-loop reference, symmetry, zero case, gradients, guards."""

import math

import numpy as np
import pytest
import torch

from spatialrep.geometry import spherical_to_cartesian
from spatialrep.losses import (
    BaseDistance,
    EuclideanDistance,
    PairContrastiveLoss,
    adaptive_margin,
    arc_to_chord,
    supervised_label_distances,
    supervised_neighbours,
    weakly_supervised_label_distances,
    weakly_supervised_neighbours,
)


def naive_loss(z: np.ndarray, y: np.ndarray, margin, delta: np.ndarray | None, form: str) -> float:
    """Independent double loop over i < j, plain Python floats."""
    total, count = 0.0, 0
    n = z.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            d = math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(z[i], z[j])))
            mu = math.exp(delta[i, j]) / (math.exp(delta[i, j]) + 1.0) if margin == "adaptive" else margin
            if form == "paper":
                term = d**2 if y[i, j] else max(0.0, mu - d**2)
            else:
                term = 0.5 * d**2 if y[i, j] else 0.5 * max(0.0, mu - d) ** 2
            total += term
            count += 1
    return total / count


def random_batch(seed: int, batch: int = 24, dim: int = 3, eps_deg: float = 30.0):
    rng = np.random.default_rng(seed)
    azimuth = rng.uniform(-math.pi, math.pi, batch)
    # Embeddings small enough that many negatives sit inside the margin (the hinge is active).
    z = rng.normal(scale=0.4, size=(batch, dim))
    y = supervised_neighbours(azimuth, math.radians(eps_deg))
    delta = supervised_label_distances(azimuth)
    return z, y, delta


@pytest.mark.parametrize("form", ["paper", "hadsell"])
@pytest.mark.parametrize("margin", ["adaptive", 1.0, 0.3])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_naive_double_loop(form, margin, seed):
    z, y, delta = random_batch(seed)
    loss_fn = PairContrastiveLoss(margin=margin, form=form)
    got = loss_fn(torch.from_numpy(z), y, delta if margin == "adaptive" else None)
    expected = naive_loss(z, y.numpy(), margin, delta.numpy(), form)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(expected, rel=1e-12, abs=1e-14)
    # Both positives and active negatives are exercised, so the check is not vacuous.
    assert 0 < int(y.sum()) - 24 < 24 * 23
    assert expected > 0


def test_batch_128_uses_all_8128_pairs():
    rng = np.random.default_rng(5)
    z = torch.from_numpy(rng.normal(size=(128, 3)))
    y = torch.zeros(128, 128, dtype=torch.bool)  # all negatives, constant margin far away: loss = mean hinge
    per_pair = []
    for i in range(128):
        for j in range(i + 1, 128):
            per_pair.append(max(0.0, 100.0 - float(((z[i] - z[j]) ** 2).sum())))
    assert len(per_pair) == 8128
    got = PairContrastiveLoss(margin=100.0)(z, y)
    assert got.item() == pytest.approx(sum(per_pair) / 8128, rel=1e-12)


def test_symmetric_in_pair_order():
    z, y, delta = random_batch(3)
    loss_fn = PairContrastiveLoss()
    perm = torch.from_numpy(np.random.default_rng(9).permutation(z.shape[0]))
    zt = torch.from_numpy(z)
    base = loss_fn(zt, y, delta)
    permuted = loss_fn(zt[perm], y[perm][:, perm], delta[perm][:, perm])
    assert permuted.item() == pytest.approx(base.item(), rel=1e-12)
    # Reversing the batch swaps every (i, j) into (j, i).
    rev = torch.arange(z.shape[0] - 1, -1, -1)
    assert loss_fn(zt[rev], y[rev][:, rev], delta[rev][:, rev]).item() == pytest.approx(
        base.item(), rel=1e-12
    )


@pytest.mark.parametrize("form", ["paper", "hadsell"])
def test_zero_when_positives_coincide_and_negatives_beyond_margin(form):
    # Two clusters of coinciding points, 10 apart; margins are below 1 so negatives are beyond them.
    z = torch.tensor([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [10.0, 0.0]], dtype=torch.float64)
    angles = torch.tensor([0.0, 0.05, 2.0, 2.05], dtype=torch.float64)
    y = supervised_neighbours(angles, 0.1)
    assert y.tolist() == [[True, True, False, False]] * 2 + [[False, False, True, True]] * 2
    loss = PairContrastiveLoss(form=form)(z, y, supervised_label_distances(angles))
    assert loss.item() == 0.0
    # Moving a negative inside the margin makes it positive again.
    z[2] = torch.tensor([0.3, 0.0])
    assert PairContrastiveLoss(form=form)(z, y, supervised_label_distances(angles)).item() > 0


@pytest.mark.parametrize("form", ["paper", "hadsell"])
def test_gradient_flows_and_is_finite_with_coincident_points(form):
    z, y, delta = random_batch(4, batch=8)
    zt = torch.from_numpy(z).requires_grad_(True)
    zt.data[1] = zt.data[0]  # coincident pair: sqrt at zero must not give NaN
    loss = PairContrastiveLoss(form=form)(zt, y, delta)
    loss.backward()
    assert zt.grad is not None
    assert torch.isfinite(zt.grad).all()
    assert zt.grad.abs().sum() > 0


def test_gradient_matches_finite_differences():
    z, y, delta = random_batch(6, batch=6)
    zt = torch.from_numpy(z).requires_grad_(True)
    loss_fn = PairContrastiveLoss(form="hadsell")
    assert torch.autograd.gradcheck(lambda e: loss_fn(e, y, delta), (zt,))


def test_float32_and_label_distances_follow_embedding_dtype():
    z, y, delta = random_batch(2)
    got = PairContrastiveLoss()(torch.from_numpy(z).float(), y, delta)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(naive_loss(z, y.numpy(), "adaptive", delta.numpy(), "paper"), rel=1e-5)


def test_adaptive_margin_is_logistic_of_label_distance():
    d = torch.tensor([0.0, 1.0, math.pi, 800.0], dtype=torch.float64)
    mu = adaptive_margin(d)
    assert mu[0].item() == pytest.approx(0.5)
    assert mu[1].item() == pytest.approx(math.e / (math.e + 1))
    assert mu[2].item() == pytest.approx(math.exp(math.pi) / (math.exp(math.pi) + 1))
    assert mu[3].item() == 1.0  # no overflow
    assert torch.all(mu[1:] > mu[:-1])


def test_supervised_neighbours_wrap_around():
    az = np.radians([179.0, -179.0, 0.0, 10.0])
    y = supervised_neighbours(az, math.radians(5.0))
    assert y[0, 1] and y[1, 0]  # 2 degrees apart across ±180
    assert not y[0, 2] and not y[2, 3]
    assert torch.all(torch.diagonal(y))
    assert supervised_neighbours(az, math.radians(10.0))[2, 3]  # boundary is inclusive (≤ ε)
    d = supervised_label_distances(torch.tensor(az))
    assert d[0, 1].item() == pytest.approx(math.radians(2.0))
    assert d.dtype == torch.float64


def test_weakly_supervised_is_euclidean_between_unit_sphere_positions():
    rng = np.random.default_rng(7)
    az = rng.uniform(-math.pi, math.pi, 30)
    el = rng.uniform(-math.pi / 2, math.pi / 2, 30)
    xyz = spherical_to_cartesian(az, el)
    expected = np.linalg.norm(xyz[:, None, :] - xyz[None, :, :], axis=-1)
    got = weakly_supervised_label_distances(az, el).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    eps = 0.6
    np.testing.assert_array_equal(weakly_supervised_neighbours(az, el, eps).numpy(), expected <= eps)


def test_weakly_supervised_sees_azimuth_collapse_at_the_pole():
    # Near the zenith azimuth is meaningless: far azimuths, near positions.
    y = weakly_supervised_neighbours(
        [0.0, math.pi], [math.radians(89.0)] * 2, arc_to_chord(math.radians(5.0))
    )
    assert y[0, 1]


def test_arc_to_chord():
    assert arc_to_chord(math.pi) == pytest.approx(2.0)
    assert arc_to_chord(math.radians(15.0), 2.0) == pytest.approx(2 * 2 * math.sin(math.radians(7.5)))
    with pytest.raises(ValueError, match="angle_rad"):
        arc_to_chord(-0.1)
    with pytest.raises(ValueError, match="radius"):
        arc_to_chord(0.1, 0.0)


# ---- guards ------------------------------------------------------------------------------------------------


def test_neighbour_guards():
    with pytest.raises(ValueError, match="eps_rad"):
        supervised_neighbours([0.0, 1.0], -0.1)
    with pytest.raises(ValueError, match="eps_rad"):
        supervised_neighbours([0.0, 1.0], float("nan"))
    with pytest.raises(ValueError, match="eps"):
        weakly_supervised_neighbours([0.0, 1.0], [0.0, 0.0], -1.0)
    with pytest.raises(ValueError, match="angles must be 1-D"):
        supervised_neighbours(np.zeros((2, 2)), 0.1)
    with pytest.raises(ValueError, match="angles contains NaN"):
        supervised_neighbours([0.0, float("nan")], 0.1)
    with pytest.raises(ValueError, match="same length"):
        weakly_supervised_neighbours([0.0, 1.0], [0.0], 0.1)
    with pytest.raises(ValueError, match="elevation contains NaN"):
        weakly_supervised_neighbours([0.0, 1.0], [0.0, float("inf")], 0.1)


def test_constructor_guards():
    with pytest.raises(ValueError, match=r"unknown margin 'adaptve'.*adaptive"):
        PairContrastiveLoss(margin="adaptve")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="margin must be finite and > 0"):
        PairContrastiveLoss(margin=0.0)
    with pytest.raises(ValueError, match="margin must be finite and > 0"):
        PairContrastiveLoss(margin=float("inf"))
    with pytest.raises(TypeError, match="margin"):
        PairContrastiveLoss(margin=True)
    with pytest.raises(TypeError, match="margin"):
        PairContrastiveLoss(margin=[1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown form 'lecun'.*paper.*hadsell"):
        PairContrastiveLoss(form="lecun")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="distance must be a BaseDistance"):
        PairContrastiveLoss(distance=torch.nn.PairwiseDistance())  # type: ignore[arg-type]
    assert "adaptive" in repr(PairContrastiveLoss())


def test_forward_guards():
    loss = PairContrastiveLoss()
    constant = PairContrastiveLoss(margin=1.0)
    z = torch.zeros(4, 3)
    y = torch.eye(4, dtype=torch.bool)
    d = torch.zeros(4, 4)
    with pytest.raises(TypeError, match="embeddings must be a floating tensor"):
        loss(torch.zeros(4, 3, dtype=torch.long), y, d)
    with pytest.raises(ValueError, match=r"embeddings must be \(batch, dim\)"):
        loss(torch.zeros(4), y, d)
    with pytest.raises(ValueError, match="at least 2"):
        loss(torch.zeros(1, 3), torch.ones(1, 1, dtype=torch.bool), torch.zeros(1, 1))
    with pytest.raises(TypeError, match="neighbours must be a bool tensor"):
        loss(z, y.float(), d)
    with pytest.raises(ValueError, match=r"neighbours must be \(4, 4\)"):
        loss(z, torch.eye(3, dtype=torch.bool), d)
    asym = y.clone()
    asym[0, 1] = True
    with pytest.raises(ValueError, match="neighbours must be symmetric"):
        loss(z, asym, d)
    with pytest.raises(ValueError, match="needs label_distances"):
        loss(z, y)
    with pytest.raises(TypeError, match="label_distances must be a floating tensor"):
        loss(z, y, torch.zeros(4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"label_distances must be \(4, 4\)"):
        loss(z, y, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="finite and >= 0"):
        loss(z, y, -torch.ones(4, 4))
    with pytest.raises(ValueError, match="finite and >= 0"):
        loss(z, y, torch.full((4, 4), float("nan")))
    asym_d = d.clone()
    asym_d[0, 1] = 1.0
    with pytest.raises(ValueError, match="label_distances must be symmetric"):
        loss(z, y, asym_d)
    with pytest.raises(ValueError, match="only used with margin='adaptive'"):
        constant(z, y, d)


def test_base_distance_default_and_injection():
    class Manhattan(BaseDistance):
        def pairwise(self, embeddings):
            return (embeddings.unsqueeze(1) - embeddings.unsqueeze(0)).abs().sum(-1)

    z = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.eye(2, dtype=torch.bool) | True  # the single pair is positive
    assert PairContrastiveLoss(margin=1.0, distance=Manhattan())(z, y).item() == pytest.approx(4.0)
    assert PairContrastiveLoss(margin=1.0, distance=EuclideanDistance())(z, y).item() == pytest.approx(2.0)
    with pytest.raises(NotImplementedError):
        BaseDistance().pairwise(z)


def test_docs_examples_run():
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "losses.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert len(blocks) == 4  # pair contrastive loss, k-NN regression, NT-Xent, triplet (SQM-BS)
    for block in blocks:
        exec(block, {})
