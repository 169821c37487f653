"""The fused planar path of the feature front-end equals the interleaved path it replaced."""

import itertools

import pytest
import torch

from spatialrep.features import functional as F
from spatialrep.features import fused
from spatialrep.features.frontend import (
    FeatureConfig,
    FeatureFrontEnd,
    _band_groups,
    _partial_irfft_matrix,
    feature_preset,
)


@pytest.mark.parametrize(
    ("n_fft", "max_lag", "num_lags", "upsample"),
    [(512, None, 64, 2), (1024, None, 64, 1), (512, 10, None, 4)],
)
def test_folded_lag_matrices_rebuild_the_partial_inverse_dft(n_fft, max_lag, num_lags, upsample):
    even, odd, row, sign = fused.symmetric_lag_matrices(n_fft, max_lag, num_lags, upsample)
    assert even.shape[0] == odd.shape[0] < row.numel()  # about half the rows
    full = _partial_irfft_matrix(n_fft, max_lag, num_lags, upsample).T  # (lags, 2F), (re, im) interleaved
    torch.testing.assert_close(even[row], full[:, 0::2], atol=1e-15, rtol=0)
    torch.testing.assert_close(sign[:, None] * odd[row], full[:, 1::2], atol=1e-15, rtol=0)


@pytest.mark.parametrize("preset", ["binaural_default", "dcase_4ch", "array4_mel_gcc"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_planar_and_interleaved_paths_agree(preset, dtype):
    cfg = feature_preset(preset)
    x = torch.randn(
        3, cfg.num_channels, cfg.sample_rate // 2 + 37, generator=torch.Generator().manual_seed(0)
    )
    x = x.to(dtype)
    planar = FeatureFrontEnd(cfg)
    interleaved = FeatureFrontEnd(cfg)
    assert planar._planar
    interleaved._planar = False  # the complex, interleaved code the planar path replaced
    with torch.inference_mode():
        ours, theirs = planar.compute(x), interleaved.compute(x)
    tol = 2e-5 if dtype == torch.float32 else 1e-12
    for name in cfg.features:
        torch.testing.assert_close(ours[name], theirs[name], atol=tol, rtol=0, msg=name)


def test_nan_and_inf_inputs_are_still_refused():
    front = FeatureFrontEnd(feature_preset("binaural_default"))
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.zeros(2, 2, 4000)
        x[1, 0, 123] = bad
        with pytest.raises(ValueError, match=r"NaN or infinite samples \(batch item\(s\) 1"):
            front(x)


def test_cached_constants_follow_dtype_and_module_moves():
    cfg = feature_preset("dcase_4ch")
    x = torch.randn(2, 4, 6000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    front = FeatureFrontEnd(cfg)
    with torch.inference_mode():
        first32, first64 = front(x.float()), front(x)
        front.to(torch.float32)  # new buffer tensors: the cache must not serve the old casts
        again32, again64 = front(x.float()), front(x)
        fresh32, fresh64 = FeatureFrontEnd(cfg)(x.float()), FeatureFrontEnd(cfg)(x)
    assert first64.dtype == torch.float64 and first32.dtype == torch.float32
    torch.testing.assert_close(first32, fresh32, atol=0, rtol=0)
    torch.testing.assert_close(first64, fresh64, atol=0, rtol=0)
    torch.testing.assert_close(again32, fresh32, atol=0, rtol=0)
    torch.testing.assert_close(again64, fresh64, atol=1e-5, rtol=0)  # float32 buffers now


def test_pair_groups_are_runs_sharing_a_first_channel():
    assert fused.pair_groups([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]) == [
        (0, 3, 0, 1),
        (3, 5, 1, 2),
        (5, 6, 2, 3),
    ]
    # Reversed, repeated and non-consecutive pairs break the runs.
    assert fused.pair_groups([(1, 0), (0, 2), (0, 3), (0, 1), (3, 2), (3, 3)]) == [
        (0, 1, 1, 0),
        (1, 3, 0, 2),
        (3, 4, 0, 1),
        (4, 6, 3, 2),
    ]
    assert fused.pair_groups([]) == []


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_deinterleave_matches_a_plain_copy(dtype):
    complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    spec = torch.randn(2, 3, 5, 9, dtype=complex_dtype, generator=torch.Generator().manual_seed(3))
    out = torch.empty(2, 2, 3, 5, 9, dtype=dtype)
    fused.deinterleave(spec, out)
    torch.testing.assert_close(out[0], spec.real, atol=0, rtol=0)
    torch.testing.assert_close(out[1], spec.imag, atol=0, rtol=0)
    fused.deinterleave(spec[:, :, 1:4], out[:, :, :, :3])  # a strided block, as the front-end passes
    torch.testing.assert_close(out[1, :, :, :3], spec[:, :, 1:4].imag, atol=0, rtol=0)


# Custom pairs (reversed, runs of one and of two) and both lag grids through the planar block.
_PLANAR = [
    FeatureConfig(
        num_channels=4,
        n_fft=128,
        hop_length=48,
        win_length=100,
        features=("logmel", "ipd_cos_sin_mel", "ild_mel", "gcc_phat"),
        n_mels=16,
        num_lags=16,
        gcc_upsample=upsample,
        pairs=((1, 0), (0, 2), (0, 3), (3, 2)),
    )
    for upsample in (1, 2)
] + [
    FeatureConfig(
        num_channels=3,
        n_fft=128,
        hop_length=40,
        win_length=None,
        features=("gcc_phat",),
        max_lag=6,
        num_lags=None,
    ),
    FeatureConfig(
        num_channels=2,
        n_fft=128,
        hop_length=40,
        win_length=None,
        features=("ipd_cos_sin_mel",),
        n_mels=12,
        f_min=300.0,
    ),
    # N / 2 odd: the bin fold has no self-paired middle bin.
    FeatureConfig(
        num_channels=3,
        n_fft=126,
        hop_length=40,
        win_length=None,
        features=("logmel", "gcc_phat"),
        n_mels=20,
        num_lags=20,
    ),
]


@pytest.mark.parametrize("kernel", [True, False], ids=["numba_kernel", "torch_ops"])
@pytest.mark.parametrize(
    "cfg", _PLANAR, ids=["whole_lags", "half_lags", "gcc_only", "ipd_only", "odd_half_spectrum"]
)
def test_planar_block_matches_the_differentiable_path(cfg, kernel):
    """The fused planar path (the one-pass CPU kernel with the bin fold, or torch passes) against the
    functional composition (the autograd path), float64, at clip lengths and block sizes that put frames on
    both padded edges, inside and across blocks."""
    front = FeatureFrontEnd(cfg)
    assert front._planar
    generator = torch.Generator().manual_seed(7)
    for length in (1, 60, 128, 48 * 7 + 3, 1500):
        x = torch.randn(2, cfg.num_channels, length, dtype=torch.float64, generator=generator)
        slow = front.compute(x.clone().requires_grad_(True))  # functional definitions, with autograd
        for block_frames in (1, 2, 5, 64):
            fast_front = FeatureFrontEnd(cfg, block_frames=block_frames)
            fast_front.cpu_kernel = kernel
            with torch.no_grad():
                fast = fast_front.compute(x)
            for name in cfg.features:
                torch.testing.assert_close(fast[name], slow[name].detach(), atol=1e-9, rtol=0, msg=name)
    slow[cfg.features[-1]].sum().backward()  # the differentiable path still has gradients


@pytest.mark.parametrize(
    ("n_fft", "num_lags", "max_lag"), [(1024, 64, None), (128, 16, None), (126, None, 9)]
)
def test_bin_folded_lag_matrices_rebuild_gcc(n_fft, num_lags, max_lag):
    """GCC-PHAT from the planes folded over k <-> N/2 - k equals the unfolded partial inverse DFT."""
    fold = fused.folded_lag_matrices(n_fft, max_lag, num_lags, 1)
    assert fold is not None
    even, odd, row, sign = fused.symmetric_lag_matrices(n_fft, max_lag, num_lags, 1)
    generator = torch.Generator().manual_seed(3)
    real, imag = torch.randn(2, n_fft // 2 + 1, 5, dtype=torch.float64, generator=generator)
    expected = even[row] @ real + sign[:, None] * (odd[row] @ imag)
    half, width = n_fft // 2, fused.folded_bins(n_fft)
    k = torch.arange(width)
    planes = torch.stack(
        (
            real[k] + real[half - k],
            real[k] - real[half - k],
            imag[k] - imag[half - k],
            imag[k] + imag[half - k],
        )
    )  # (4, G, columns)
    products = (fold.weights @ planes).reshape(-1, 5)
    got = products[fold.cos_row] + fold.sign[:, None] * products[fold.sin_row]
    torch.testing.assert_close(got, expected, atol=1e-13, rtol=0)
    assert fold.weights.shape[-1] * 2 <= n_fft // 2 + 2  # about half the bins


def test_bin_fold_applies_to_whole_lags_and_even_n_fft_only():
    assert fused.folded_lag_matrices(512, None, 64, 2) is None  # half-sample lags
    assert fused.folded_lag_matrices(127, 10, None, 1) is None  # odd n_fft
    assert FeatureFrontEnd(feature_preset("dcase_4ch"))._bin_fold is not None
    assert FeatureFrontEnd(feature_preset("binaural_default"))._bin_fold is None


def test_planar_path_is_not_used_for_linear_grid_features():
    cfg = FeatureConfig(features=("ipd", "ild"), num_lags=None, n_mels=64)
    assert not FeatureFrontEnd(cfg)._planar


def test_band_groups_cover_every_band_with_the_fewest_products():
    fb = F.mel_filterbank(16000, 128, 10, dtype=torch.float64)

    def cost(groups):
        return sum((m1 - m0) * (hi - lo) for m0, m1, lo, hi in groups)

    for count in (1, 2, 3, 4):
        groups = _band_groups(fb, count)
        assert len(groups) <= count and groups[0][0] == 0 and groups[-1][1] == 10
        assert all(a[1] == b[0] for a, b in itertools.pairwise(groups))  # adjacent runs, every band once
        for m0, m1, lo, hi in groups:  # each run's products see every nonzero weight of its bands
            assert fb[m0:m1, :lo].abs().sum() == 0 and fb[m0:m1, hi:].abs().sum() == 0
        # No split into at most `count` runs needs fewer multiply-adds (exhaustive search).
        best = min(
            cost(_band_groups_at(fb, cuts))
            for k in range(count)
            for cuts in itertools.combinations(range(1, 10), k)
        )
        assert cost(groups) == best
    assert _band_groups(torch.zeros(0, 65, dtype=torch.float64), 4) == []


def _band_groups_at(fb, cuts):
    edges = [0, *cuts, fb.shape[0]]
    out = []
    for m0, m1 in itertools.pairwise(edges):
        cols = (fb[m0:m1] != 0).any(dim=0).nonzero()
        out.append((m0, m1, int(cols.min()), int(cols.max()) + 1))
    return out


def test_block_size_follows_the_scratch_budget():
    small = FeatureFrontEnd(feature_preset("binaural_default"))
    large = FeatureFrontEnd(feature_preset("dcase_4ch"))
    assert small._planar and large._planar
    # Per frame: the stack of C powers and 2 P unit cross planes, (C + 2 P) F floats.
    assert small.block_frames == max(64, FeatureFrontEnd.SCRATCH_BYTES // (4 * 257 * (2 + 2)))
    assert large.block_frames == max(64, FeatureFrontEnd.SCRATCH_BYTES // (4 * 513 * (4 + 12)))
    interleaved = FeatureFrontEnd(FeatureConfig(features=("ipd", "ild"), num_lags=None))
    assert interleaved.block_frames == 512
    assert FeatureFrontEnd(feature_preset("dcase_4ch"), block_frames=37).block_frames == 37
    with pytest.raises(ValueError, match="block_frames"):
        FeatureFrontEnd(feature_preset("dcase_4ch"), block_frames=0)
