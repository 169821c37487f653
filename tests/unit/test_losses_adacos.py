"""AdaCos: the scale update against a naive loop, soft labels, no gradient through the scale."""

from __future__ import annotations

import math

import pytest
import torch

from spatialrep.losses.adacos import AdaCos, adacos_scale


def _naive_scale(cosine: list[list[float]], targets: list[int], scale: float) -> float:
    b_sum, thetas = 0.0, []
    for row, target in zip(cosine, targets, strict=True):
        for k, value in enumerate(row):
            if k != target:
                b_sum += math.exp(scale * value)
        thetas.append(math.acos(row[target]))
    b_avg = b_sum / len(cosine)
    thetas.sort()
    n = len(thetas)
    median = thetas[(n - 1) // 2]  # torch.median: the lower of the two middle values
    return math.log(b_avg) / math.cos(min(math.pi / 4, median))


def test_scale_matches_a_naive_loop_and_initial_value() -> None:
    torch.manual_seed(0)
    head = AdaCos(8, 12)
    assert float(head.scale) == pytest.approx(math.sqrt(2) * math.log(11))
    x = torch.randn(7, 8)
    targets = torch.randint(0, 12, (7,))
    cosine = head.cosine(x).detach()
    expected = _naive_scale(cosine.tolist(), targets.tolist(), float(head.scale))
    assert adacos_scale(cosine, head.soft_labels(targets), float(head.scale)) == pytest.approx(expected)
    head.train()
    loss = head.loss(x, targets)
    assert float(head.scale) == pytest.approx(expected, rel=1e-6)
    logits = expected * cosine
    assert float(loss.detach()) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, targets)), rel=1e-5
    )


def test_soft_labels_equal_indices_when_one_hot_and_eval_keeps_the_scale() -> None:
    torch.manual_seed(1)
    a, b = AdaCos(4, 5), AdaCos(4, 5)
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(6, 4), torch.randint(0, 5, (6,))
    torch.testing.assert_close(a.loss(x, y), b.loss(x, torch.nn.functional.one_hot(y, 5).float()))
    a.eval()
    before = float(a.scale)
    a.loss(x, y)
    assert float(a.scale) == before
    assert "scale" in a.state_dict() and not a.scale.requires_grad


def test_gradient_reaches_weights_and_inputs_not_the_scale() -> None:
    head = AdaCos(4, 3)
    x = torch.randn(5, 4, requires_grad=True)
    head.loss(x, torch.tensor([0, 1, 2, 0, 1])).backward()
    assert x.grad is not None and head.weight.grad is not None
    assert [n for n, _ in head.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="at least 2"):
        AdaCos(4, 1)
