"""NT-Xent against pytorch-metric-learning's ``NTXentLoss`` (test extra): same values and gradients."""

from __future__ import annotations

import pytest
import torch

# The test extra installs it; a missing reference library fails instead of skipping (../shared/DESIGN.md).
from pytorch_metric_learning.losses import NTXentLoss as ReferenceNTXent

from spatialrep.losses import NTXentLoss


@pytest.mark.parametrize(("n", "dim", "temperature"), [(2, 3, 0.5), (16, 8, 0.1), (64, 32, 0.07)])
def test_matches_pytorch_metric_learning(n, dim, temperature):
    g = torch.Generator().manual_seed(n)
    a = torch.randn(n, dim, generator=g, dtype=torch.float64, requires_grad=True)
    b = (a.detach() + 0.4 * torch.randn(n, dim, generator=g, dtype=torch.float64)).requires_grad_()
    ours = NTXentLoss(temperature)(a, b)
    labels = torch.cat((torch.arange(n), torch.arange(n)))  # the two views of clip i share label i
    theirs = ReferenceNTXent(temperature=temperature)(torch.cat((a, b)), labels)
    torch.testing.assert_close(ours, theirs.to(ours.dtype), rtol=1e-10, atol=1e-12)
    # The comparison can fail: another temperature gives another value.
    assert not torch.isclose(NTXentLoss(2 * temperature)(a, b), theirs.to(ours.dtype))
    grads = torch.autograd.grad(ours, (a, b))
    reference = torch.autograd.grad(theirs, (a, b))
    for got, want in zip(grads, reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)
