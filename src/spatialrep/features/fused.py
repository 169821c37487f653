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

import numpy as np
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


def deinterleave(spec: Tensor, out: Tensor) -> None:
    """Real and imaginary parts of ``spec`` ``(...)`` complex into ``out`` ``(2, ...)`` real.

    On the CPU through numpy (views of the same memory): its strided copy is vectorised, torch's copy of this
    permutation is not (half the speed, measured with torch 2.13).
    """
    parts = torch.view_as_real(spec).movedim(-1, 0)
    if out.device.type == "cpu" and not spec.is_conj():
        np.copyto(out.numpy(), parts.numpy())
    else:
        out.copy_(parts)


def planar_block(
    planes: Tensor,
    pairs: list[tuple[int, int]],
    groups: list[tuple[int, int, int, int]],
    uses: frozenset[str],
    consts: dict[str, Tensor],
    mel_groups: list[tuple[int, int, int, int]],
    floor: float,
    ws: Any,
    dest: dict[str, Tensor],
) -> None:
    """Write ``logmel``, ``ild_mel``, ``ipd_cos_sin_mel`` and ``gcc_phat`` (as used) of an STFT block.

    Real and imaginary planes, never complex arithmetic. The power of every channel and the real and
    imaginary planes of every pair's unit cross spectrum are slices of one ``(C + 2 P, n, T, F)`` stack, so
    one banded mel product projects them all (log-mel with the filterbank, mel IPD with the same product
    scaled by the inverse band sums: the row-normalised filterbank), and GCC-PHAT of all pairs is two GEMMs.

    Args:
        planes: real and imaginary parts of the STFT block, ``(2, n, C, T, F)`` (:func:`deinterleave`).
        pairs: channel pairs ``(i, j)``; ``groups``: their :func:`pair_groups`.
        uses: the feature names computed (a subset of the four above).
        consts: ``eps``; as used, ``mel_fb`` ``(M, F)``, ``band_scale`` ``(M, 1)`` (inverse row sums, 1 for
            empty bands), ``lag_even_odd`` ``(2, U, F)``, ``lag_row`` ``(L,)`` int64 and ``lag_sign``
            ``(L, 1)``; in the block's dtype and device.
        mel_groups: ``(m0, m1, lo, hi)`` bands of adjacent mel rows and the bins they touch.
        floor: power floor of the log-mel.
        ws: the caller's scratch memory (``get(name, shape, dtype, device)``).
        dest: ``(n, channels, bins, T)`` output views, ``ipd_cos_sin_mel`` channels ``(pair, cos|sin)``.
    """
    _, n, channels, frames, n_freq = planes.shape
    real, device = planes.dtype, planes.device
    count = len(pairs) if uses & {"ipd_cos_sin_mel", "gcc_phat"} else 0
    re, im = planes[0], planes[1]
    stack = ws.get("stack", (channels + 2 * count, n, frames, n_freq), real, device)
    power = stack[:channels].transpose(0, 1)  # (n, C, T, F)
    torch.mul(re, re, out=power).addcmul_(im, im)
    cross = stack[channels:].view(2, count, n, frames, n_freq).transpose(1, 2)  # (re|im, n, P, T, F)
    if count:
        magnitude = ws.get("magnitude", (n, channels, frames, n_freq), real, device)
        torch.sqrt(power, out=magnitude)
        for p0, p1, a, b0 in groups:
            # X_a conj(X_b) / (|X_a| |X_b| + eps), as functional.ipd_cos_sin, for pairs (a, b0), (a, b0 + 1)..
            b1 = b0 + p1 - p0
            ar, ai, br, bi = re[:, a : a + 1], im[:, a : a + 1], re[:, b0:b1], im[:, b0:b1]
            torch.mul(br, ar, out=cross[0, :, p0:p1]).addcmul_(bi, ai)
            torch.mul(br, ai, out=cross[1, :, p0:p1]).addcmul_(bi, ar, value=-1.0)
            scale = ws.get("denominator", (n, p1 - p0, frames, n_freq), real, device)
            torch.addcmul(consts["eps"], magnitude[:, b0:b1], magnitude[:, a : a + 1], out=scale)
            cross[:, :, p0:p1] *= scale.reciprocal_()
    # One banded mel product for the power (log-mel) and the unit cross planes (mel IPD); bins-first output.
    first = 0 if uses & {"logmel", "ild_mel"} else channels
    last = channels + 2 * count if "ipd_cos_sin_mel" in uses else channels
    if last > first:
        mel_fb = consts["mel_fb"]
        bands = ws.get("mel", (last - first, n, mel_fb.shape[0], frames), real, device)
        for m0, m1, lo, hi in mel_groups:
            torch.matmul(mel_fb[m0:m1, lo:hi], stack[first:last, ..., lo:hi].mT, out=bands[:, :, m0:m1])
        if first == 0:
            logmel = bands[:channels].transpose(0, 1)  # (n, C, M, T)
            if "logmel" in uses:
                torch.add(logmel, floor, out=dest["logmel"]).log10_().mul_(10.0)
                logmel = dest["logmel"]
            else:
                logmel.add_(floor).log10_().mul_(10.0)
            if "ild_mel" in uses:
                for p0, p1, a, b0 in groups:
                    b1 = b0 + p1 - p0
                    torch.sub(logmel[:, a : a + 1], logmel[:, b0:b1], out=dest["ild_mel"][:, p0:p1])
        if "ipd_cos_sin_mel" in uses:
            target = (
                dest["ipd_cos_sin_mel"].unflatten(1, (count, 2)).permute(2, 1, 0, 3, 4)
            )  # (2, P, n, M, T)
            unit = bands[channels - first :].view(2, count, n, -1, frames)
            torch.mul(unit, consts["band_scale"], out=target)
    if "gcc_phat" in uses:
        # Even lag matrix on the real planes, odd on the imaginary ones: two GEMMs over all pairs and frames.
        columns = count * n * frames
        matrices = consts["lag_even_odd"]
        folded = ws.get("lag_products", (2, matrices.shape[1], columns), real, device)
        for k in (0, 1):
            torch.mm(
                matrices[k],
                stack[channels + k * count : channels + (k + 1) * count].view(columns, n_freq).T,
                out=folded[k],
            )
        row = consts["lag_row"]
        shape = (row.numel(), count, n, frames)
        torch.addcmul(
            folded[0].index_select(0, row).view(shape),
            folded[1].index_select(0, row).view(shape),
            consts["lag_sign"][:, :, None, None],
            out=dest["gcc_phat"].permute(2, 1, 0, 3),  # (L, P, n, T)
        )
