"""The causal Conformer: causality, streaming equals offline, left context, guards."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from spatialrep.features import stft_real_imag
from spatialrep.features.functional import stft_frames_to_sequence
from spatialrep.models import CausalConformer


def _model(**kwargs: Any) -> CausalConformer:
    torch.manual_seed(0)
    config: dict[str, Any] = {"input_dim": 10, "d_model": 16, "num_heads": 2, "conv_kernel": 5}
    config.update(kwargs)
    return CausalConformer(**config).eval()


def test_default_config_is_two_layers_of_256() -> None:
    model = CausalConformer(input_dim=1028)
    assert len(model.layers) == 2 and model.output_dim == 256 and model.is_causal


@pytest.mark.parametrize("position_bias", ["alibi", "none"])
@pytest.mark.parametrize("left_context", [None, 3])
def test_future_frames_never_change_earlier_outputs(position_bias: str, left_context: int | None) -> None:
    model = _model(position_bias=position_bias, left_context=left_context)
    x = torch.randn(2, 20, 10)
    reference = model.forward_features(x)
    for t in (0, 7, 18):
        y = x.clone()
        y[:, t + 1 :] = 100 * torch.randn_like(y[:, t + 1 :])
        out = model.forward_features(y)
        assert torch.equal(out[:, : t + 1], reference[:, : t + 1])
        assert not torch.allclose(out[:, t + 1 :], reference[:, t + 1 :])


def test_causal_in_training_mode_without_dropout() -> None:
    model = _model(dropout=0.0).train()
    x = torch.randn(2, 12, 10)
    y = x.clone()
    y[:, 5:] += torch.randn_like(y[:, 5:])
    assert torch.equal(model.forward_features(x)[:, :5], model.forward_features(y)[:, :5])


def test_future_samples_never_change_earlier_outputs() -> None:
    # With center=False, frame t of the STFT covers samples [t * hop, t * hop + n_fft).
    n_fft, hop = 32, 8
    model = _model(input_dim=2 * 2 * (n_fft // 2 + 1))
    waveform = torch.randn(1, 2, 400)
    cut = 203
    perturbed = waveform.clone()
    perturbed[..., cut:] = torch.randn_like(perturbed[..., cut:])

    def encode(w: torch.Tensor) -> torch.Tensor:
        return model.forward_features(stft_frames_to_sequence(stft_real_imag(w, n_fft, hop, center=False)))

    a, b = encode(waveform), encode(perturbed)
    complete = (cut - n_fft) // hop + 1  # frames that end before sample `cut`
    assert torch.equal(a[:, :complete], b[:, :complete])
    assert not torch.allclose(a[:, complete:], b[:, complete:])


@pytest.mark.parametrize("position_bias", ["alibi", "none"])
@pytest.mark.parametrize("left_context", [None, 4])
@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_streaming_equals_offline(chunk: int, left_context: int | None, position_bias: str) -> None:
    model = _model(left_context=left_context, position_bias=position_bias)
    x = torch.randn(2, 23, 10)
    offline = model.forward_features(x)
    streamed = model.forward_streaming(x, chunk)
    assert streamed.shape == offline.shape
    assert (streamed - offline).abs().max() <= 1e-5


def test_streaming_with_uneven_chunks_and_bounded_cache() -> None:
    model = _model(left_context=4, num_layers=3)
    x = torch.randn(1, 19, 10)
    state = model.init_state(1)
    outputs = []
    start = 0
    for size in (2, 1, 5, 1, 6, 4):
        out, state = model.forward_step(x[:, start : start + size], state)
        outputs.append(out)
        start += size
        assert state.frames == start
        for layer in state.layers:
            assert layer.keys.shape == (1, 2, min(start, 4), 8)
            assert layer.conv.shape == (1, 16, 4)
    assert (torch.cat(outputs, dim=1) - model.forward_features(x)).abs().max() <= 1e-5


def test_forward_step_leaves_the_state_unchanged() -> None:
    model = _model()
    state = model.init_state(2)
    chunk = torch.randn(2, 3, 10)
    first, after = model.forward_step(chunk, state)
    again, _ = model.forward_step(chunk, state)
    assert state.frames == 0 and state.layers[0].keys.shape[2] == 0
    assert torch.equal(first, again) and after.frames == 3


def test_left_context_bounds_the_receptive_field() -> None:
    # conv_kernel=1: only attention reaches back, left_context frames per layer.
    layers, context = 2, 3
    bounded = _model(left_context=context, conv_kernel=1, num_layers=layers)
    unbounded = _model(left_context=None, conv_kernel=1, num_layers=layers)
    unbounded.load_state_dict(bounded.state_dict())
    x = torch.randn(1, 15, 10)
    y = x.clone()
    y[:, 0] = 5 * torch.randn(10)
    reach = layers * context
    a, b = bounded.forward_features(x), bounded.forward_features(y)
    assert not torch.allclose(a[:, reach], b[:, reach])
    assert torch.equal(a[:, reach + 1 :], b[:, reach + 1 :])
    c, d = unbounded.forward_features(x), unbounded.forward_features(y)
    assert not torch.allclose(c[:, reach + 1 :], d[:, reach + 1 :])


def test_streaming_in_float64() -> None:
    model = _model().double()
    x = torch.randn(1, 11, 10, dtype=torch.float64)
    assert (model.forward_streaming(x, 2) - model.forward_features(x)).abs().max() <= 1e-12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_dim": 0}, "input_dim"),
        ({"d_model": 15}, "divide"),
        ({"num_layers": 0}, "num_layers"),
        ({"num_heads": True}, "num_heads"),
        ({"ff_mult": 1.5}, "ff_mult"),
        ({"conv_kernel": 0}, "conv_kernel"),
        ({"dropout": 1.0}, "dropout"),
        ({"left_context": -1}, "left_context"),
        ({"position_bias": "rope"}, "alibi, none"),
    ],
)
def test_constructor_guards(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)


def test_streaming_guards() -> None:
    model = _model()
    state = model.init_state(2)
    with pytest.raises(ValueError, match="batch size 2"):
        model.forward_step(torch.randn(1, 1, 10), state)
    with pytest.raises(ValueError, match="layers"):
        _model(num_layers=3).forward_step(torch.randn(2, 1, 10), state)
    with pytest.raises(ValueError, match="10 features"):
        model.forward_step(torch.randn(2, 1, 9), state)
    with pytest.raises(ValueError, match="chunk_frames"):
        model.forward_streaming(torch.randn(2, 4, 10), 0)
    with pytest.raises(ValueError, match="batch_size"):
        model.init_state(0)


@pytest.mark.parametrize("chunk", [3, 10])
def test_long_stream_grows_the_unbounded_cache(chunk: int) -> None:
    # 150 frames exceed the initial 64-frame buffer twice; chunk 10 takes the convolution (not window) path.
    model = _model()
    x = torch.randn(1, 150, 10)
    state = model.init_state(1)
    outputs = []
    capacities = set()
    for start in range(0, 150, chunk):
        out, state = model.forward_step(x[:, start : start + chunk], state)
        outputs.append(out)
        capacities.add(state.layers[0].key_buffer.shape[2])
    assert state.layers[0].cached == 150 and len(capacities) >= 3
    assert (torch.cat(outputs, dim=1) - model.forward_features(x)).abs().max() <= 1e-5
