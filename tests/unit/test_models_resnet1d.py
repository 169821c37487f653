"""resnet1d_bilstm: registered, stride-free, one map per block and per LSTM layer."""

from __future__ import annotations

import pytest
import torch

from spatialrep.models import EncoderConfig, list_encoders


def test_registered_stride_free_and_its_maps():
    assert "resnet1d_bilstm" in list_encoders()
    encoder = EncoderConfig("resnet1d_bilstm", {"blocks": 3, "channels": 8, "lstm_hidden": 5}).build(12)
    x = torch.randn(2, 17, 12)
    maps = encoder.layer_features(x)
    assert [m.shape for m in maps] == [(2, 17, 8)] * 3 + [(2, 17, 10)] * 2
    assert encoder.forward_features(x).shape == (2, 17, 10) and encoder(x).shape == (2, 10)
    assert encoder.output_dim == 10


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="lstm_hidden"):
        EncoderConfig("resnet1d_bilstm", {"lstm_hidden": 0}).build(4)
    with pytest.raises(ValueError, match="4 features"):
        EncoderConfig("resnet1d_bilstm").build(4)(torch.randn(1, 3, 5))
