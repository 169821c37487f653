"""The one-pass numba kernel of the unit spectra equals the torch passes it replaces on the CPU."""

import pytest
import torch

from spatialrep.features import fused, unit_kernel

pytestmark = pytest.mark.skipif(not unit_kernel.available(), reason="numba is not installed")

PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (3, 1), (2, 3)]


def _spec(dtype, n=2, channels=4, frames=7, bins=33, seed=0):
    generator = torch.Generator().manual_seed(seed)
    real = torch.randn(2, n, channels, frames, bins, dtype=dtype, generator=generator)
    spec = torch.complex(real[0], real[1])
    spec[0, 1, 2] = 0  # a silent frame of one channel: zero unit cross spectra, not NaN
    return spec


def _torch_stack(spec, pairs, eps):
    n, channels, frames, bins = spec.shape
    planes = torch.empty(2, n, channels, frames, bins, dtype=spec.real.dtype)
    fused.deinterleave(spec, planes)
    stack = torch.empty(channels + 2 * len(pairs), n, frames, bins, dtype=spec.real.dtype)

    class Scratch:
        def get(self, name, shape, dtype, device):
            return torch.empty(shape, dtype=dtype, device=device)

    fused.unit_spectra(planes, fused.pair_groups(pairs), len(pairs), torch.tensor(eps, dtype=stack.dtype),
                       Scratch(), stack)  # fmt: skip
    return stack


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pairs", [PAIRS, [(2, 0)], []], ids=["six", "one_reversed", "none"])
def test_kernel_equals_the_torch_passes(dtype, pairs):
    spec = _spec(dtype)
    expected = _torch_stack(spec, pairs, 1e-12)
    stack = torch.full_like(expected, float("nan"))
    unit_kernel.unit_spectra(spec, unit_kernel.pair_index(pairs), 1e-12, stack)
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    torch.testing.assert_close(stack, expected, atol=tol, rtol=tol)
    assert not stack.isnan().any()


@pytest.mark.parametrize("bins", [33, 32])  # N / 2 even (a self-paired middle bin) and odd
def test_fold_holds_the_unit_cross_planes_folded_over_the_half_spectrum(bins):
    spec = _spec(torch.float64, bins=bins)
    channels, count = spec.shape[1], len(PAIRS)
    full = _torch_stack(spec, PAIRS, 1e-12)
    real, imag = full[channels : channels + count], full[channels + count :]
    half, width = bins - 1, (bins - 1) // 2 + 1
    k = torch.arange(width)
    expected = torch.stack(
        (real[..., k] + real[..., half - k], real[..., k] - real[..., half - k],
         imag[..., k] - imag[..., half - k], imag[..., k] + imag[..., half - k])
    )  # fmt: skip
    fold = torch.empty(4, count, *spec.shape[:1], spec.shape[2], width, dtype=torch.float64)
    powers = torch.empty(channels, spec.shape[0], spec.shape[2], bins, dtype=torch.float64)
    unit_kernel.unit_spectra(spec, unit_kernel.pair_index(PAIRS), 1e-12, powers, fold)
    torch.testing.assert_close(fold, expected, atol=1e-14, rtol=0)
    torch.testing.assert_close(powers, full[:channels], atol=1e-14, rtol=0)
    both = torch.empty_like(full)  # the unit cross planes too (mel IPD with folded GCC-PHAT)
    unit_kernel.unit_spectra(spec, unit_kernel.pair_index(PAIRS), 1e-12, both, fold)
    torch.testing.assert_close(both, full, atol=1e-14, rtol=0)


def test_kernel_refuses_mismatched_outputs():
    spec = _spec(torch.float32)
    pairs = unit_kernel.pair_index(PAIRS)
    with pytest.raises(ValueError, match="stack must be"):
        unit_kernel.unit_spectra(spec, pairs, 1e-12, torch.empty(4, 2, 7, 32))
    with pytest.raises(ValueError, match=r"float32"):
        unit_kernel.unit_spectra(spec, pairs, 1e-12, torch.empty(16, 2, 7, 33, dtype=torch.float64))
    with pytest.raises(ValueError, match="contiguous"):
        unit_kernel.unit_spectra(spec.transpose(2, 3).contiguous().transpose(2, 3), pairs, 1e-12,
                                 torch.empty(16, 2, 7, 33))  # fmt: skip
    with pytest.raises(ValueError, match="fold must be"):
        unit_kernel.unit_spectra(spec, pairs, 1e-12, torch.empty(4, 2, 7, 33), torch.empty(4, 6, 2, 7, 20))
