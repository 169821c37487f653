"""The fused planar path of the feature front-end equals the interleaved path it replaced."""

import pytest
import torch

from spatialrep.features import fused
from spatialrep.features.frontend import FeatureFrontEnd, _partial_irfft_matrix, feature_preset


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
