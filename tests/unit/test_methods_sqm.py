"""SQM-BS: the metric's properties (identity, symmetry, batching, gradients), variants, checkpoints."""

from __future__ import annotations

import warnings

import pytest
import torch

from spatialrep.data.sqm_pairs import SqmDataConfig, SqmScenes, TripletDataset
from spatialrep.methods import Embedder, Localizer, QualityMetric, load_model
from spatialrep.methods.sqm import (
    SQM_VARIANTS,
    SpatialQualityMetric,
    SqmConfig,
    SqmModel,
    sqm_step,
    train_sqm,
)
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig

TINY_ENCODER = EncoderConfig(
    "resnet1d_bilstm", {"blocks": 1, "channels": 4, "lstm_hidden": 4, "lstm_layers": 2}
)
TINY = SqmConfig(sample_rate=8000, segment_s=0.1, encoder=TINY_ENCODER, embedding_dim=4, view_dim=8)


def metric(config: SqmConfig = TINY, mode: str = "deep", seed: int = 0) -> SpatialQualityMetric:
    torch.manual_seed(seed)
    return SpatialQualityMetric(SqmModel(config), mode)


def pair(batch: int = 3, time: int = 400, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2, time, generator=g), torch.randn(batch, 2, time, generator=g)


@pytest.mark.parametrize("mode", ["deep", "embedding"])
def test_identity_symmetry_non_negativity_and_batching(mode):
    m = metric(mode=mode)
    ref, test = pair()
    mono = torch.randn(3, 400)
    assert torch.all(m(ref, ref, mono, mono) == 0)  # exactly
    d = m(ref, test, mono, mono)
    assert d.shape == (3,)
    assert torch.all(d > 0)
    assert torch.equal(d, m(test, ref, mono, mono))  # exactly symmetric
    per_item = torch.cat(
        [m(ref[i : i + 1], test[i : i + 1], mono[i : i + 1], mono[i : i + 1]) for i in range(3)]
    )
    torch.testing.assert_close(d, per_item, rtol=1e-5, atol=1e-6)


def test_float64_gradcheck_on_the_test_signal():
    m = metric().double()
    ref, test = (x.double() for x in pair(1, 64))
    mono = torch.randn(1, 64, dtype=torch.float64)
    test.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: m(ref, t, mono, mono), (test,), eps=1e-6, atol=1e-5, fast_mode=True
    )


def test_as_a_loss_the_gradient_reaches_the_test_signal_and_not_the_weights():
    m = metric()
    m.train()  # a parent switching to train mode leaves the metric frozen in eval mode
    assert not m.model.training
    ref, test = pair()
    test.requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m(ref, test).sum().backward()
    assert test.grad is not None and test.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in m.parameters())


def test_mono_fallback_warns_once_and_given_mono_does_not():
    m = metric()
    ref, test = pair(1)
    with pytest.warns(UserWarning, match=r"\(left \+ right\) / 2"):
        fallback = m(ref, test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explicit = m(ref, test, 0.5 * ref.sum(1), 0.5 * test.sum(1))
    torch.testing.assert_close(fallback, explicit)
    two_channel = metric(TINY.replace(use_mono=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two_channel(ref, test)
        # the 2-channel model drops a third (mono) channel where the protocols get one
        model = two_channel.model
        three = torch.cat([ref, 0.5 * ref.sum(1, keepdim=True)], dim=1)
        torch.testing.assert_close(model.embed(three, 8000), model.embed(ref, 8000))
        assert model.localize(three, 8000).azimuth.shape == (1,)


def test_bad_inputs_are_named():
    m = metric()
    ref, test = pair(1)
    with pytest.raises(ValueError, match="same shape"):
        m(ref, test[..., :-1])
    with pytest.raises(ValueError, match="binaural"):
        m(torch.zeros(1, 3, 400), torch.zeros(1, 3, 400), torch.zeros(1, 400))
    with pytest.raises(ValueError, match="NaN"):
        m(ref, torch.full_like(test, float("nan")), torch.zeros(1, 400))
    with pytest.raises(ValueError, match="mono"):
        m(ref, test, torch.zeros(1, 399))


def test_protocols_and_every_variant_trains_one_step():
    model = SqmModel(TINY)
    assert isinstance(model, QualityMetric) and isinstance(model, Embedder) and isinstance(model, Localizer)
    batch = {
        "audio": torch.randn(2, 3, 3, 800),
        "azimuth": torch.rand(2, 3),
        "elevation": torch.rand(2, 3) * 0.3,
        "az_class": torch.randint(0, 36, (2, 3)),
        "el_class": torch.randint(0, 4, (2, 3)),
        "view": torch.randn(2, 3, 4),
    }
    for variant in SQM_VARIANTS:
        model = SqmModel(TINY.replace(variant=variant))
        out = sqm_step(model, batch)
        out["loss"].backward()
        assert torch.isfinite(out["loss"])
        assert ("triplet" in out) == (variant in ("triplet", "doa", "dec", "combined"))
        assert ("dec" in out) == (variant in ("dec", "combined"))
        directions = model.localize(torch.randn(2, 3, 800), 8000)  # left, right, mono
        assert directions.azimuth.shape == (2,) and directions.elevation is not None


def test_train_and_checkpoint_round_trip(tmp_path):
    data_config = SqmDataConfig(
        sample_rate=8000, segment_s=0.1, rooms=0, pool_size=6, elevations_deg=(0.0, 20.0)
    )
    data = TripletDataset(SqmScenes(data_config, "train"), 8)
    config = TINY.replace(elevations_deg=(0.0, 20.0))
    train = TrainConfig(max_steps=2, batch_size=4, lr=1e-3, accelerator="cpu", devices=1, log_every_n_steps=1)
    trained = train_sqm(config, data, train, tmp_path)
    loaded = SpatialQualityMetric.from_checkpoint(tmp_path)
    ref, test = pair(2, 800)
    mono = torch.randn(2, 800)
    torch.testing.assert_close(
        loaded(ref, test, mono, mono), SpatialQualityMetric(trained.model)(ref, test, mono, mono)
    )
    assert isinstance(load_model(tmp_path), SqmModel)


def test_config_validation():
    with pytest.raises(ValueError, match="variant"):
        SqmConfig(variant="nope")
    with pytest.raises(ValueError, match="azimuth_step_deg"):
        SqmConfig(azimuth_step_deg=7.0)
    with pytest.raises(TypeError, match="SqmModel"):
        SpatialQualityMetric(torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def test_backward_on_each_device(device):
    m = metric().to(device)
    ref, test = (x.to(device) for x in pair(2))
    mono = torch.randn(2, 400, device=device)
    test.requires_grad_(True)
    m(ref, test, mono, mono).sum().backward()  # cuDNN is off: an eval-mode LSTM has a backward on CUDA too
    assert test.grad is not None and torch.isfinite(test.grad).all()
