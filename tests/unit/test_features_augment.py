"""MC-SimCLR's augmentations: determinism, the ChannelSwap map identity, ChannelDrop's rate, identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from spatialrep.features import functional as F
from spatialrep.features.augment import (
    McSimclrAugment,
    channel_drop,
    channel_swap,
    map_permutation,
    mixup,
    permute_maps,
    random_crops,
    random_resized_crop,
)
from spatialrep.features.frontend import FeatureConfig, FeatureFrontEnd, feature_preset
from spatialrep.geometry import array_symmetries, make_array

SYMMETRIES = array_symmetries(make_array("circular4"))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _audio(batch: int = 6, samples: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 4, samples, generator=_generator(seed))


def _views(seed: int, augment: McSimclrAugment | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    config = feature_preset("array4_mel_gcc")
    return (augment or McSimclrAugment()).views(
        _audio(), _generator(seed), crop=1600, symmetries=SYMMETRIES, frontend=FeatureFrontEnd(config),
        mel_maps=[True] * 4 + [False] * 6,
    )  # fmt: skip


def test_the_chain_is_deterministic_per_generator():
    a1, b1 = _views(3)
    a2, b2 = _views(3)
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    a3, _ = _views(4)
    assert not torch.equal(a1, a3)
    assert a1.shape == (6, 10, 64, 11) and not torch.equal(a1, b1)  # two different views


def test_both_views_share_one_channel_swap():
    """Swap only, crops of the whole clip: both views are the same reordering of the clip."""
    only_swap = McSimclrAugment(channel_swap=1.0, mixup=0.0, resized_crop=0.0, channel_drop=0.0)
    config = feature_preset("array4_mel_gcc")
    frontend = FeatureFrontEnd(config)
    audio = _audio(samples=1600)
    first, second = only_swap.views(
        audio, _generator(0), crop=1600, symmetries=SYMMETRIES, frontend=frontend, mel_maps=[True] * 10
    )
    assert torch.equal(first, second)
    originals = [frontend(audio[:, list(s.perm)]) for s in SYMMETRIES]
    for clip in range(audio.shape[0]):
        matches = [k for k, maps in enumerate(originals) if torch.equal(maps[clip], first[clip])]
        assert matches and 0 not in matches  # swapped (p = 1), never the identity


def test_channel_swap_maps_the_labels_with_the_chosen_symmetry():
    audio = _audio(batch=64, samples=50)
    azimuth = torch.rand(64, dtype=torch.float64, generator=_generator(1)) * 2 * math.pi - math.pi
    swapped, mapped, choice = channel_swap(audio, SYMMETRIES, _generator(2), probability=0.5, azimuth=azimuth)
    assert mapped is not None and mapped.dtype == azimuth.dtype
    for k in range(64):
        s = SYMMETRIES[int(choice[k])]
        assert torch.equal(swapped[k], audio[k, list(s.perm)])
        expected, _ = s.map_direction(float(azimuth[k]))
        assert math.isclose(float(mapped[k]), float(expected), abs_tol=1e-12)
    swapped_share = float((choice != 0).double().mean())
    assert 0.3 < swapped_share < 0.7  # p = 0.5
    same, unchanged, none = channel_swap(audio, SYMMETRIES, _generator(2), probability=0.0, azimuth=azimuth)
    assert torch.equal(same, audio) and torch.equal(unchanged, azimuth) and bool((none == 0).all())


@pytest.mark.parametrize("k", range(8))
def test_a_swap_of_the_waveform_equals_permuting_mel_maps_and_gcc_pairs(k):
    """Odd lag count (a symmetric lag axis): the flipped pairs' lag axes reverse exactly."""
    config = FeatureConfig(
        num_channels=4, features=("logmel", "gcc_phat"), n_mels=33, num_lags=None, max_lag=4, gcc_upsample=4
    )
    frontend = FeatureFrontEnd(config)
    audio = _audio(batch=2, samples=3200).double()
    lags = F.gcc_lags(config.n_fft, config.max_lag, upsample=config.gcc_upsample)
    symmetry = SYMMETRIES[k]
    direct = frontend(audio[:, list(symmetry.perm)])
    mapped = permute_maps(frontend(audio), symmetry.perm, config.resolved_pairs, lags)
    torch.testing.assert_close(mapped, direct, rtol=0, atol=1e-9)
    _, flipped, _ = map_permutation(symmetry.perm, config.resolved_pairs, lags)
    if any(flipped):  # the guard can fail: without the lag reversal the flipped pairs differ
        source, _, _ = map_permutation(symmetry.perm, config.resolved_pairs, lags)
        unflipped = frontend(audio)[:, source]
        assert not torch.allclose(unflipped, direct, atol=1e-3)


def test_map_permutation_guards():
    lags = torch.arange(-2.0, 3.0)
    with pytest.raises(ValueError, match="not a permutation"):
        map_permutation((0, 0, 1, 2), F.channel_pairs(4), lags)
    with pytest.raises(ValueError, match="not computed"):
        map_permutation((1, 2, 0, 3), [(0, 1), (0, 2)], lags)
    _, _, reverse = map_permutation((0, 1), [(0, 1)], torch.arange(-4.0, 4.0))  # even: -4 has no mirror
    assert reverse.tolist() == [7, 7, 6, 5, 4, 3, 2, 1]


def test_channel_drop_hits_its_rate():
    maps = torch.ones(400, 10, 2, 3)
    dropped = channel_drop(maps, _generator(7), probability=0.1)
    zero = (dropped.flatten(2) == 0).all(dim=-1)
    assert bool(((dropped.flatten(2) == 1).all(dim=-1) | zero).all())  # whole maps, never parts
    count, trials = int(zero.sum()), zero.numel()
    assert binomtest(count, trials, 0.1).pvalue > 1e-3
    assert binomtest(count, trials, 0.2).pvalue < 1e-6  # the test can fail: a wrong rate is rejected


def test_identities_scale_one_crop_and_zero_mixup():
    maps = torch.randn(5, 10, 64, 21, generator=_generator(0))
    kept = random_resized_crop(maps, _generator(1), mel_maps=[True] * 10, probability=1.0, scale=(1.0, 1.0))
    assert torch.equal(kept, maps)
    skipped = random_resized_crop(
        maps, _generator(1), mel_maps=[True] * 10, probability=0.0, scale=(0.5, 0.5)
    )
    assert torch.equal(skipped, maps)
    audio = _audio()
    assert torch.equal(mixup(audio, _generator(2), probability=1.0, max_weight=0.0), audio)
    mixed = mixup(audio, _generator(2), probability=1.0, max_weight=0.4)
    assert not torch.equal(mixed, audio)
    assert torch.equal(mixup(audio[:1], _generator(2), probability=1.0), audio[:1])  # no partner


def test_mixup_mixes_with_another_clip():
    audio = torch.arange(4, dtype=torch.float64)[:, None, None].expand(4, 2, 3).clone()
    mixed = mixup(audio, _generator(3), probability=1.0, max_weight=0.4)
    weight_and_partner = mixed[:, 0, 0] - audio[:, 0, 0]
    assert bool((weight_and_partner != 0).all())  # the partner is another clip
    assert bool(((mixed - audio).abs() <= 0.4 * 3 + 1e-12).all())


def test_resized_crop_never_touches_the_lag_axis():
    lags = torch.linspace(-1, 1, 64)
    maps = torch.zeros(3, 2, 64, 30)
    maps[:, 0] = torch.arange(64.0)[:, None]  # a mel map that varies over bins
    maps[:, 1] = lags[:, None]  # a lag map, constant in time
    out = random_resized_crop(maps, _generator(5), mel_maps=[True, False], probability=1.0, scale=(0.5, 0.6))
    torch.testing.assert_close(out[:, 1], maps[:, 1])
    assert not torch.allclose(out[:, 0], maps[:, 0])


def test_random_crops_are_windows_of_the_clip():
    audio = torch.arange(100.0).expand(3, 4, 100).clone()
    crops = random_crops(audio, 10, _generator(0))
    start = crops[:, :, 0]
    assert torch.equal(crops, start[..., None] + torch.arange(10.0))
    assert bool((start == start[:, :1]).all())  # one window for every channel
    with pytest.raises(ValueError, match="crop length"):
        random_crops(audio, 101, _generator(0))


def test_bad_arguments():
    with pytest.raises(ValueError, match="probability"):
        channel_drop(torch.zeros(1, 2, 3, 4), _generator(0), probability=1.5)
    with pytest.raises(ValueError, match="scale"):
        random_resized_crop(torch.zeros(1, 2, 3, 4), _generator(0), mel_maps=[True, True], scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="mel_maps"):
        random_resized_crop(torch.zeros(1, 2, 3, 4), _generator(0), mel_maps=[True])
    with pytest.raises(TypeError, match="Generator"):
        mixup(_audio(), np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2-microphone"):
        channel_swap(_audio(), array_symmetries(make_array("pair")), _generator(0))
    with pytest.raises(ValueError, match="mixup_max"):
        McSimclrAugment(mixup_max=1.0)
