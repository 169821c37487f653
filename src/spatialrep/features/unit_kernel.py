"""The elementwise half of the fused planar features in one pass on the CPU (numba).

:func:`spatialrep.features.fused.unit_spectra` composes about ten torch passes over each pair's real and
imaginary planes (powers, magnitudes, cross products, denominators, reciprocals, scaling), after a copy that
splits the complex STFT into planes. Each pass streams its operands through the cache, so the chain is bound
by memory traffic, not arithmetic. :func:`unit_spectra` computes the same quantities with the same formulas
in one loop over the bins of each frame: every STFT bin is read once from the complex FFT output and every
output is written once (``benchmarks/bench_features.py``; numbers in ``docs/features.md``).

numba is imported lazily; :func:`available` says whether the kernel can run. The first call per dtype
compiles it (about a second; then cached on disk next to this module, or in numba's user cache where that is
read-only).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor


@functools.cache
def _compiled() -> Callable[..., None] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; torch ops are the fallback
        return None

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def kernel(
        spec: Any,
        first: Any,
        second: Any,
        channels: int,
        one: Any,
        eps: Any,
        stack: Any,
        fold: Any,
        magnitude: Any,
        unit: Any,
    ) -> None:  # pragma: no cover - compiled; covered through unit_spectra
        # spec (n, C, T, F) complex; stack (C [+ 2 P], n, T, F) and fold (4, P, n, T, G) or (0, ...) real;
        # magnitude (C, F) and unit (2, F) scratch.
        n, _, frames, bins = spec.shape
        count = first.shape[0]
        cross = stack.shape[0] > channels
        folding = fold.shape[0] > 0
        half = bins - 1
        for i in range(n):
            for t in range(frames):
                for c in range(channels):
                    row, power, mag = spec[i, c, t], stack[c, i, t], magnitude[c]
                    for k in range(bins):
                        re, im = row[k].real, row[k].imag
                        value = re * re + im * im
                        power[k] = value
                        mag[k] = np.sqrt(value)
                for p in range(count):
                    a, b = first[p], second[p]
                    xa, xb, ma, mb = spec[i, a, t], spec[i, b, t], magnitude[a], magnitude[b]
                    if cross:
                        real, imag = stack[channels + p, i, t], stack[channels + count + p, i, t]
                    else:
                        real, imag = unit[0], unit[1]
                    for k in range(bins):
                        # X_a conj(X_b) / (|X_a| |X_b| + eps), as functional.ipd_cos_sin.
                        scale = one / (mb[k] * ma[k] + eps)
                        ar, ai, br, bi = xa[k].real, xa[k].imag, xb[k].real, xb[k].imag
                        real[k] = (br * ar + bi * ai) * scale
                        imag[k] = (br * ai - bi * ar) * scale
                    if folding:
                        a_plus, a_minus = fold[0, p, i, t], fold[1, p, i, t]
                        b_minus, b_plus = fold[2, p, i, t], fold[3, p, i, t]
                        for k in range(fold.shape[-1]):
                            j = np.uintp(half - k)  # unsigned: no negative-index wraparound, so it vectorises
                            a_plus[k] = real[k] + real[j]
                            a_minus[k] = real[k] - real[j]
                            b_minus[k] = imag[k] - imag[j]
                            b_plus[k] = imag[k] + imag[j]

    return kernel


def available() -> bool:
    """Whether numba is installed, so that :func:`unit_spectra` can run."""
    return _compiled() is not None


def pair_index(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The first and second channel of every pair, as the kernel takes them (``int64``)."""
    first = np.array([a for a, _ in pairs], dtype=np.int64)
    second = np.array([b for _, b in pairs], dtype=np.int64)
    return first, second


def unit_spectra(
    spec: Tensor,
    pairs: tuple[np.ndarray, np.ndarray],
    eps: float,
    stack: Tensor,
    fold: Tensor | None = None,
) -> None:
    """Powers and unit cross planes of a frames-first STFT block, as ``fused.unit_spectra``, in one pass.

    Args:
        spec: ``(n, C, T, F)`` complex64 or complex128, contiguous, on the CPU.
        pairs: :func:`pair_index` of the ``P`` channel pairs (``P`` may be 0: powers only).
        eps: the unit cross spectrum's ``eps``.
        stack: ``(C + 2 P, n, T, F)`` output of the matching real dtype, contiguous: the ``C`` powers
            ``|X_c|^2``, then the real and the imaginary planes of ``X_a conj(X_b) / (|X_a| |X_b| + eps)`` by
            pair; or ``(C, n, T, F)``, the powers only (with ``fold``).
        fold: optional ``(4, P, n, T, G)`` output: the unit cross planes ``R``, ``I`` folded over
            ``k <-> H - k`` (``H = F - 1``) for ``k < G`` (``fused.folded_lag_matrices``): ``(A+, A-, B-, B+)
            = (R_k + R_{H-k}, R_k - R_{H-k}, I_k - I_{H-k}, I_k + I_{H-k})``.

    Raises:
        RuntimeError: numba is not installed (:func:`available`).
        ValueError: shapes, dtypes or layouts that do not match.
    """
    kernel = _compiled()
    if kernel is None:
        raise RuntimeError("the one-pass unit spectra kernel needs numba (pip install numba)")
    n, channels, frames, bins = spec.shape
    count = len(pairs[0])
    real = spec.real.dtype
    planes = channels if fold is not None else channels + 2 * count
    if stack.shape not in {(planes, n, frames, bins), (channels + 2 * count, n, frames, bins)}:
        raise ValueError(f"stack must be ({planes}, {n}, {frames}, {bins}), got {tuple(stack.shape)}")
    if fold is not None and (fold.shape[:4] != (4, count, n, frames) or 2 * (fold.shape[4] - 1) > bins - 1):
        raise ValueError(
            f"fold must be (4, {count}, {n}, {frames}, G <= {(bins - 1) // 2 + 1}), got {tuple(fold.shape)}"
        )
    tensors = (spec, stack) if fold is None else (spec, stack, fold)
    if any(t.device.type != "cpu" or not t.is_contiguous() for t in tensors) or spec.is_conj():
        raise ValueError("unit_spectra needs contiguous CPU tensors (and no lazy conjugation)")
    if stack.dtype != real or (fold is not None and fold.dtype != real):
        raise ValueError(f"stack and fold must be {real} for a {spec.dtype} spectrum")
    scalar = np.float32 if real == torch.float32 else np.float64
    magnitude = np.empty((channels, bins), dtype=scalar)
    unit = np.empty((2, bins), dtype=scalar)
    folded = fold.numpy() if fold is not None else np.empty((0, 0, 0, 0, 0), dtype=scalar)
    kernel(
        spec.numpy(), pairs[0], pairs[1], channels, scalar(1.0), scalar(eps), stack.numpy(), folded,
        magnitude, unit,
    )  # fmt: skip
