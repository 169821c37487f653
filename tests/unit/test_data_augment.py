"""Noise augmentation: level, probability, independent channels, randomness only from its generator."""

from __future__ import annotations

import pytest
import torch

from spatialrep.config import ConfigError
from spatialrep.data.augment import NoiseAugmentation


def noise(batch: int = 64, time: int = 16000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 2, time, generator=torch.Generator().manual_seed(seed))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_noise_augmentation_level_probability_and_guards():
    x = noise()
    y = NoiseAugmentation((10.0, 10.0), probability=1.0)(x, gen(0))
    added = (y - x).square().mean(dim=(1, 2))
    snr_db = 10 * torch.log10(x.square().mean(dim=(1, 2)) / added)
    assert torch.allclose(snr_db, torch.full_like(snr_db, 10.0), atol=0.2)
    left_right = torch.corrcoef((y - x)[0])[0, 1]
    assert abs(left_right) < 0.05  # independent per ear
    assert torch.equal(NoiseAugmentation(probability=0.0)(x, gen(0)), x)
    changed = (NoiseAugmentation(probability=0.5)(x, gen(1)) != x).flatten(1).any(dim=1).float().mean()
    assert 0.25 < changed < 0.75
    with pytest.raises(ConfigError, match="snr_range_db"):
        NoiseAugmentation((20.0, 0.0))
    with pytest.raises(ConfigError, match="probability"):
        NoiseAugmentation(probability=1.5)
    with pytest.raises(ConfigError, match="probability"):
        NoiseAugmentation(probability=float("nan"))
    with pytest.raises(TypeError, match="Generator"):
        NoiseAugmentation()(x, 0)  # type: ignore[arg-type]


def test_draws_come_only_from_the_given_generator():
    x = noise(batch=4, time=2000)
    augment = NoiseAugmentation((0.0, 20.0), probability=0.5)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = augment(x, gen(7))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched
    torch.manual_seed(999)  # whatever the global state, the same generator seed gives the same draws
    assert torch.equal(augment(x, gen(7)), first)
    assert not torch.equal(augment(x, gen(8)), first)
