"""The MLP encoder and the task heads."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from spatialrep.models import FramewiseClassifier, LinearHead, MLPEncoder


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "gelu"])
def test_mlp_layers_and_output_dim(activation: str) -> None:
    mlp = MLPEncoder(6, hidden_sizes=(8, 4), batch_norm=False, activation=activation)
    assert mlp.output_dim == 4
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp.net) == 2
    out = mlp.forward_features(torch.randn(2, 3, 6))
    assert out.shape == (2, 3, 4)
    if activation == "sigmoid":
        assert ((out > 0) & (out < 1)).all()
    if activation == "relu":
        assert (out >= 0).all()


def test_mlp_output_layer_only_is_linear() -> None:
    mlp = MLPEncoder(3, hidden_sizes=(), output_dim=2)
    x = torch.randn(1, 4, 3)
    linear = mlp.net[0]
    assert isinstance(linear, torch.nn.Linear)
    torch.testing.assert_close(mlp.forward_features(x), linear(x))


def test_mlp_batch_norm_uses_running_statistics_in_eval() -> None:
    mlp = MLPEncoder(3, hidden_sizes=(5,), batch_norm=True)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in mlp.net)
    mlp.eval()
    x = torch.randn(4, 2, 3)
    single = torch.cat([mlp.forward_features(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(mlp.forward_features(x), single)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_dim": 0}, "input_dim"),
        ({"hidden_sizes": (4, -1)}, "hidden_sizes"),
        ({"output_dim": 0}, "output_dim"),
        ({"dropout": -0.1}, "dropout"),
        ({"activation": "tanh"}, "relu, sigmoid, gelu"),
        ({"hidden_sizes": ()}, "hidden_sizes or an output_dim"),
    ],
)
def test_mlp_guards(kwargs: dict[str, Any], match: str) -> None:
    config: dict[str, Any] = {"input_dim": 4}
    config.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MLPEncoder(**config)


def test_linear_head() -> None:
    head = LinearHead(4, 3)
    assert head(torch.randn(2, 5, 4)).shape == (2, 5, 3)
    assert head(torch.randn(2, 4)).shape == (2, 3)
    with pytest.raises(ValueError, match="last axis 4"):
        head(torch.randn(2, 5))
    with pytest.raises(ValueError, match="num_outputs"):
        LinearHead(4, 0)


def test_framewise_classifier_mean_logits() -> None:
    torch.manual_seed(0)
    clf = FramewiseClassifier(4, 6)
    frames, clip = clf(torch.randn(2, 5, 4))
    assert frames.shape == (2, 5, 6) and clip.shape == (2, 6)
    torch.testing.assert_close(clip, frames.mean(dim=1))


def test_framewise_classifier_mean_probs_is_log_of_mean_posterior() -> None:
    torch.manual_seed(0)
    clf = FramewiseClassifier(4, 6, pooling="mean_probs")
    frames, clip = clf(torch.randn(2, 5, 4))
    mean_posterior = frames.softmax(dim=-1).mean(dim=1)
    torch.testing.assert_close(clip.exp(), mean_posterior)
    torch.testing.assert_close(clip.softmax(dim=-1), mean_posterior)
    torch.testing.assert_close(clip.exp().sum(dim=-1), torch.ones(2))


def test_framewise_classifier_guards() -> None:
    with pytest.raises(ValueError, match="mean_logits, mean_probs"):
        FramewiseClassifier(4, 3, pooling="max")
    with pytest.raises(ValueError, match="num_classes"):
        FramewiseClassifier(4, 0)
    with pytest.raises(ValueError, match="batch, frames, 4"):
        FramewiseClassifier(4, 3)(torch.randn(2, 4))
