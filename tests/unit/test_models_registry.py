"""The encoder registry, and one sweep over every registered encoder."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from spatialrep.models import Encoder, EncoderConfig, create_encoder, list_encoders, register_encoder
from spatialrep.models import registry as registry_module

# A small configuration of every registered encoder; a new encoder must be added here.
SMALL: dict[str, dict[str, Any]] = {
    "causal_conformer": {"input_dim": 12, "d_model": 16, "num_heads": 2, "conv_kernel": 3, "dropout": 0.2},
    "crnn": {
        "input_dim": 12, "in_channels": 3, "num_bins": 4, "conv_channels": 4, "pool_sizes": (2, 2),
        "gru_hidden": 5, "gru_layers": 2, "dropout": 0.2,
    },
    "mlp": {"input_dim": 12, "hidden_sizes": (16,), "output_dim": 8, "dropout": 0.2},
    "resnet1d_bilstm": {"input_dim": 12, "blocks": 2, "channels": 4, "lstm_hidden": 3, "dropout": 0.2},
    "ast_tiny": {"input_dim": 12, "num_maps": 3, "patch_size": 2, "embed_dim": 16, "dropout": 0.2},
    "ast_small": {"input_dim": 12, "patch_size": 4, "embed_dim": 16, "depth": 1, "dropout": 0.2},
    "ast_base": {"input_dim": 12, "patch_size": 4, "embed_dim": 24, "depth": 1, "num_heads": 2,
                 "dropout": 0.2},
}  # fmt: skip


def test_every_encoder_has_a_sweep_config() -> None:
    assert sorted(SMALL) == list_encoders()


@pytest.fixture(params=sorted(SMALL))
def encoder(request: pytest.FixtureRequest) -> Encoder:
    torch.manual_seed(0)
    return create_encoder(request.param, **SMALL[request.param])


def test_shapes_and_finite(encoder: Encoder) -> None:
    encoder.eval()
    x = torch.randn(3, 9, encoder.input_dim)
    features = encoder.forward_features(x)
    pooled = encoder(x)
    assert features.shape[0] == 3 and features.shape[2] == encoder.output_dim
    assert pooled.shape == (3, encoder.output_dim)
    assert torch.isfinite(features).all() and torch.isfinite(pooled).all()
    torch.testing.assert_close(pooled, encoder.pool(encoder.forward_features(x)))


def test_gradients_reach_every_parameter_and_the_input(encoder: Encoder) -> None:
    x = torch.randn(2, 6, encoder.input_dim, requires_grad=True)
    encoder(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_eval_is_deterministic_and_training_uses_dropout(encoder: Encoder) -> None:
    x = torch.randn(2, 7, encoder.input_dim)
    encoder.eval()
    assert torch.equal(encoder.forward_features(x), encoder.forward_features(x))
    encoder.train()
    assert not torch.equal(encoder.forward_features(x), encoder.forward_features(x))


def test_causal_encoders_ignore_future_frames(encoder: Encoder) -> None:
    encoder.eval()
    x = torch.randn(2, 10, encoder.input_dim)
    y = x.clone()
    y[:, 6:] += torch.randn_like(y[:, 6:])
    a, b = encoder.forward_features(x), encoder.forward_features(y)
    assert not torch.allclose(a[:, 6:], b[:, 6:])
    # is_causal is a promise: a causal encoder's past ignores the future, a non-causal one's does not.
    assert torch.equal(a[:, :6], b[:, :6]) == encoder.is_causal


@pytest.mark.parametrize("shape", [(12,), (2, 12), (1, 2, 3, 12), (2, 4, 11)])
def test_wrong_input_shape_is_rejected(encoder: Encoder, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="12"):
        encoder.forward_features(torch.randn(*shape))


def test_non_float_input_is_rejected(encoder: Encoder) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        encoder.forward_features(torch.ones(2, 4, 12, dtype=torch.int64))


def test_empty_sequence_is_rejected(encoder: Encoder) -> None:
    with pytest.raises(ValueError, match="no frames"):
        encoder.forward_features(torch.randn(2, 0, 12))


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"causal_conformer.*mlp"):
        create_encoder("transformer", input_dim=4)


def test_register_and_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))

    @register_encoder("toy")
    class Toy(Encoder):
        def __init__(self, input_dim: int) -> None:
            super().__init__()
            self.input_dim = self.output_dim = input_dim

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * x

    assert "toy" in list_encoders()
    toy = create_encoder("toy", input_dim=3)
    assert isinstance(toy, Toy)
    torch.testing.assert_close(toy(torch.ones(1, 4, 3)), torch.full((1, 3), 2.0))
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("toy")(Toy)
    with pytest.raises(ValueError, match="non-empty"):
        register_encoder("")


def test_base_class_forward_features_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        Encoder().forward_features(torch.zeros(1, 1, 1))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_encoder_config_builds_every_encoder_from_its_section(name: str) -> None:
    kwargs = {k: v for k, v in SMALL[name].items() if k != "input_dim"}
    section = EncoderConfig(name, kwargs)
    torch.manual_seed(0)
    built = section.build(12)
    torch.manual_seed(0)
    direct = create_encoder(name, **SMALL[name])
    assert type(built) is type(direct) and built.input_dim == 12
    for (key, a), (_, b) in zip(built.state_dict().items(), direct.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)


def test_encoder_config_guards() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown encoder 'rnn'; valid: ast_base, ast_small, ast_tiny, causal_conformer, crnn, mlp",
    ):
        EncoderConfig("rnn")
    with pytest.raises(ValueError, match="input_dim"):
        EncoderConfig("mlp", {"input_dim": 3})
    with pytest.raises(ValueError, match=r"encoder 'mlp'.*unexpected keyword"):
        EncoderConfig("mlp", {"depth": 3}).build(4)
