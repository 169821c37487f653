"""Fused pairwise features of the front-end's fast path: mel-band cos/sin IPD and GCC-PHAT from real and
imaginary planes of the unit cross-spectrum.

The interleaved ``(re, im)`` layout of :class:`~spatialrep.features.frontend.FeatureFrontEnd` multiplies the
cos/sin mel matrix, half of whose entries are zero, with twice the bins it needs; and GCC-PHAT at ``L`` lags
costs ``L x 2F`` multiply-adds per frame. With separate real and imaginary planes ``R`` and ``I``:

* cos/sin mel IPD is ``B R`` and ``B I`` (``B`` the row-normalised mel filterbank): half the products;
* GCC-PHAT at lag ``τ`` is ``Σ_f w_f (R_f cos(2π f τ / N) - I_f sin(2π f τ / N)) / N``; cosine is even
  and sine odd in ``τ``, so the ``L`` lags need only the ``U ≈ L / 2`` distinct ``|τ|``:
  ``E R + sign(τ) O I`` with ``E``, ``O`` of ``U`` rows each, again half the products.

The results equal the interleaved products up to float rounding (the sums are split differently).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from spatialrep.features import functional as F


def symmetric_lag_matrices(
    n_fft: int, max_lag: int | None, num_lags: int | None, upsample: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The partial inverse DFT of GCC at the lags of ``functional.gcc_lags``, folded over ``±τ``.

    Returns:
        ``(even, odd, row, sign)``: ``even`` and ``odd``, shape ``(U, F)`` float64, applied to the real and
        the imaginary plane of a one-sided spectrum; ``row`` ``(L,)`` int64, each lag's row; ``sign``
        ``(L,)`` float64, ``sign(τ)`` (``+1`` at ``τ = 0``, where ``odd`` is zero). Lag ``k`` of GCC is then
        ``even[row[k]] @ R + sign[k] * odd[row[k]] @ I``.
    """
    lags = F.gcc_lags(n_fft, max_lag, num_lags=num_lags, upsample=upsample)
    magnitudes, row = torch.unique(lags.abs(), return_inverse=True)
    n_freq = n_fft // 2 + 1
    freqs = torch.arange(n_freq, dtype=torch.float64)
    # irfft weights: DC once, the Nyquist bin once (for even n_fft), the others twice.
    weight = torch.full((n_freq,), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    angle = 2.0 * math.pi * magnitudes[:, None] * freqs[None, :] / n_fft
    even = torch.cos(angle) * (weight / n_fft)
    odd = -torch.sin(angle) * (weight / n_fft)
    sign = torch.where(lags < 0, -1.0, 1.0).to(torch.float64)
    return even, odd, row, sign


def pair_groups(pairs: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Runs of consecutive pairs ``(a, b), (a, b + 1), ...``, each computed by one broadcast operation.

    Returns:
        ``(p0, p1, a, b0)``: pairs ``p0 .. p1 - 1`` are ``(a, b0), (a, b0 + 1), ...``.
    """
    groups: list[tuple[int, int, int, int]] = []
    for p, (a, b) in enumerate(pairs):
        if groups and groups[-1][2] == a and groups[-1][3] + (p - groups[-1][0]) == b:
            p0, _, _, b0 = groups[-1]
            groups[-1] = (p0, p + 1, a, b0)
        else:
            groups.append((p, p + 1, a, b))
    return groups


def planes_and_power(parts: Tensor, power: Tensor, ws: Any) -> Tensor:
    """Real and imaginary planes of an STFT block and its power.

    Args:
        parts: ``torch.view_as_real`` of the block, ``(n, C, T, F, 2)``.
        power: written with ``|X|^2``, ``(n, C, T, F)``.
        ws: scratch memory (``get(name, shape, dtype, device)``).

    Returns:
        ``(n, C, 2, T, F)``: real parts, then imaginary parts, each contiguous.
    """
    n, channels, frames, n_freq, _ = parts.shape
    planes = ws.get("planes", (n, channels, 2, frames, n_freq), parts.dtype, parts.device)
    planes.copy_(parts.permute(0, 1, 4, 2, 3))
    re, im = planes[:, :, 0], planes[:, :, 1]
    torch.mul(re, re, out=power).addcmul_(im, im)
    return planes


def pair_block(
    planes: Tensor,
    power: Tensor,
    pairs: list[tuple[int, int]],
    uses: frozenset[str],
    consts: dict[str, Tensor],
    mel_groups: list[tuple[int, int, int, int]],
    ws: Any,
    dest: dict[str, Tensor],
    groups: list[tuple[int, int, int, int]] | None = None,
) -> None:
    """Write ``ipd_cos_sin_mel`` and ``gcc_phat`` of a frames-first STFT block into the ``dest`` views.

    Args:
        planes: real and imaginary planes of the block, ``(n, C, 2, T, F)`` (:func:`planes_and_power`).
        power: ``|X|^2`` of the block, ``(n, C, T, F)``.
        pairs: channel pairs ``(i, j)``.
        uses: the feature names computed.
        consts: ``eps`` and, as used, ``unit_mel_fb`` ``(M, F)``, ``lag_even_odd`` ``(2, U, F)``, ``lag_row``
            ``(L,)`` int64 and ``lag_sign`` ``(L, 1)``, in the block's dtype and device.
        mel_groups: ``(m0, m1, lo, hi)`` bands of adjacent mel rows and the bins they touch.
        ws: the caller's scratch memory (``get(name, shape, dtype, device)``).
        dest: ``(n, channels, bins, T)`` output views, ``ipd_cos_sin_mel`` channels ``(pair, cos|sin)``.
        groups: :func:`pair_groups` of ``pairs`` (computed when not given).
    """
    n, channels, _, frames, n_freq = planes.shape
    real, device = planes.dtype, planes.device
    magnitude = ws.get("magnitude", (n, channels, frames, n_freq), real, device)
    torch.sqrt(power, out=magnitude)
    # (re|im, n, P, T, F): each plane of every pair is one (n P T, F) matrix for the GCC products.
    cross = ws.get("cross_planes", (2, n, len(pairs), frames, n_freq), real, device)
    for p0, p1, a, b0 in pair_groups(pairs) if groups is None else groups:
        # X_a conj(X_b) / (|X_a| |X_b| + eps), as functional.ipd_cos_sin, for pairs (a, b0), (a, b0 + 1)..
        b1 = b0 + p1 - p0
        ar, ai = planes[:, a : a + 1, 0], planes[:, a : a + 1, 1]
        br, bi = planes[:, b0:b1, 0], planes[:, b0:b1, 1]
        torch.mul(br, ar, out=cross[0, :, p0:p1]).addcmul_(bi, ai)
        torch.mul(br, ai, out=cross[1, :, p0:p1]).addcmul_(bi, ar, value=-1.0)
        scale = ws.get("denominator", (n, p1 - p0, frames, n_freq), real, device)
        torch.addcmul(consts["eps"], magnitude[:, b0:b1], magnitude[:, a : a + 1], out=scale)
        cross[:, :, p0:p1] *= scale.reciprocal_()
    if "ipd_cos_sin_mel" in uses:
        target = (
            dest["ipd_cos_sin_mel"].unflatten(1, (len(pairs), 2)).permute(2, 0, 1, 3, 4)
        )  # (2, n, P, M, T)
        unit_fb = consts["unit_mel_fb"]
        for m0, m1, lo, hi in mel_groups:
            torch.matmul(unit_fb[m0:m1, lo:hi], cross[..., lo:hi].mT, out=target[..., m0:m1, :])
    if "gcc_phat" in uses:
        # Even lag matrix on the real planes, odd on the imaginary ones: two GEMMs over all pairs and frames.
        columns = n * len(pairs) * frames
        matrices = consts["lag_even_odd"]
        folded = ws.get("lag_products", (2, matrices.shape[1], columns), real, device)
        for k in (0, 1):
            torch.mm(matrices[k], cross[k].view(columns, n_freq).T, out=folded[k])
        row = consts["lag_row"]
        shape = (row.numel(), n, len(pairs), frames)
        torch.addcmul(
            folded[0].index_select(0, row).view(shape),
            folded[1].index_select(0, row).view(shape),
            consts["lag_sign"][:, :, None, None],
            out=dest["gcc_phat"].permute(2, 0, 1, 3),  # (L, n, P, T)
        )
