"""NT-Xent: a naive float64 double loop, symmetries, the identical-embedding value, gradients, guards."""

from __future__ import annotations

import math

import pytest
import torch

from spatialrep.losses import NTXentLoss


def _naive(a: torch.Tensor, b: torch.Tensor, temperature: float) -> float:
    """SimCLR's loss by the definition, one anchor and one candidate at a time, in float64."""
    z = [v.double() for v in torch.cat((a, b))]
    n = a.shape[0]

    def sim(i: int, j: int) -> float:
        return float(torch.dot(z[i], z[j]) / (z[i].norm() * z[j].norm())) / temperature

    total = 0.0
    for k in range(2 * n):
        positive = k + n if k < n else k - n
        denominator = sum(math.exp(sim(k, m)) for m in range(2 * n) if m != k)
        total += -math.log(math.exp(sim(k, positive)) / denominator)
    return total / (2 * n)


def _views(n: int = 7, dim: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, dim, generator=g, dtype=torch.float64)
    return a, a + 0.5 * torch.randn(n, dim, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("temperature", [0.05, 0.1, 1.0])
def test_equals_a_naive_double_loop(temperature):
    a, b = _views()
    loss = NTXentLoss(temperature)(a, b)
    assert loss.dtype == torch.float64
    assert float(loss) == pytest.approx(_naive(a, b, temperature), rel=1e-12)
    assert float(NTXentLoss(temperature)(a.float(), b.float())) == pytest.approx(
        _naive(a, b, temperature), rel=1e-5
    )


def test_symmetric_in_the_views_and_invariant_to_a_common_permutation():
    a, b = _views(n=9)
    loss = NTXentLoss(0.2)
    torch.testing.assert_close(loss(a, b), loss(b, a), rtol=1e-14, atol=0)
    order = torch.randperm(9, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(loss(a[order], b[order]), loss(a, b), rtol=1e-14, atol=0)
    # The guard can fail: permuting one view only breaks the positive pairs.
    assert not torch.isclose(loss(a[order], b), loss(a, b))


def test_identical_embeddings_give_log_2n_minus_1():
    for n in (1, 2, 10):
        same = torch.ones(n, 4, dtype=torch.float64)
        assert float(NTXentLoss(0.1)(same, same)) == pytest.approx(math.log(2 * n - 1), abs=1e-12)


def test_scale_invariance_and_gradcheck():
    a, b = _views(n=4, dim=3)
    loss = NTXentLoss(0.3)
    torch.testing.assert_close(loss(3.0 * a, 0.5 * b), loss(a, b))
    assert torch.autograd.gradcheck(lambda x, y: loss(x, y), (a.requires_grad_(), b.requires_grad_()))


def test_guards():
    a, b = _views()
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="temperature"):
            NTXentLoss(bad)
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(True)  # type: ignore[arg-type]
    loss = NTXentLoss()
    with pytest.raises(ValueError, match="one shape"):
        loss(a, b[:-1])
    with pytest.raises(ValueError, match=r"\(batch, dim\)"):
        loss(a[0], b[0])
    with pytest.raises(ValueError, match="batch >= 1"):
        loss(a[:0], b[:0])
    with pytest.raises(TypeError, match="floating"):
        loss(a.long(), b.long())


def test_without_a_process_group_gathering_is_the_identity():
    a, b = _views()
    torch.testing.assert_close(NTXentLoss(0.1, gather_distributed=True)(a, b), NTXentLoss(0.1)(a, b))


def test_half_precision_views_are_computed_in_float32():
    """Under bf16 autocast (the paper recipe) the loss equals float32 arithmetic on the same bf16 views."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(256, 128, generator=g).bfloat16()
    b = (a.float() + 0.3 * torch.randn(256, 128, generator=g)).bfloat16()
    reference = NTXentLoss(0.1)(a.double(), b.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = NTXentLoss(0.1)(a, b)
    assert loss.dtype == torch.float32
    assert torch.allclose(loss.double(), reference, rtol=1e-5)
    # the guard's failing counterpart: plain bf16 arithmetic is off by far more than that
    naive = NTXentLoss(0.1)._loss(a, b)
    assert not torch.allclose(naive.double(), reference, rtol=1e-3)
