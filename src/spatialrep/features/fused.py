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
from typing import Any, NamedTuple

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


class BinFold(NamedTuple):
    """GCC-PHAT at whole-sample lags from the unit cross spectrum folded over ``k <-> N/2 - k``
    (:func:`folded_lag_matrices`)."""

    weights: Tensor
    """``(4, R, G)`` float64: even-``|τ|`` cosine rows on ``A+``, odd-``|τ|`` cosine rows on ``A-``,
    even-``|τ|`` sine rows on ``B-``, odd-``|τ|`` sine rows on ``B+`` (``R`` rows each, zero-padded)."""
    cos_row: Tensor
    """``(L,)`` int64: each lag's cosine row in the ``(4 R)`` rows of the products."""
    sin_row: Tensor
    """``(L,)`` int64: each lag's sine row."""
    sign: Tensor
    """``(L,)`` float64: ``sign(τ)`` (``+1`` at ``τ = 0``, whose sine row is zero)."""


def folded_bins(n_fft: int) -> int:
    """``G = N/4 + 1`` (rounded down): the bins ``k = 0 .. G - 1`` of a folded one-sided spectrum."""
    return n_fft // 4 + 1


def folded_lag_matrices(
    n_fft: int, max_lag: int | None, num_lags: int | None, upsample: int
) -> BinFold | None:
    """The partial inverse DFT of GCC at whole-sample lags, folded over ``±τ`` and over ``k <-> H - k``.

    With ``H = N / 2`` and ``u = |τ|`` a whole number, the cosine weight of bin ``H - k`` is ``(-1)^u`` times
    that of bin ``k`` and the sine weight ``-(-1)^u`` times. So with the folded planes ``A± = R_k ± R_{H-k}``
    and ``B± = I_k ± I_{H-k}`` (``k = 0 .. G - 1``; at ``k = H / 2`` they pair the bin with itself), the
    cosine products of even ``u`` need ``A+`` only, of odd ``u`` ``A-``; the sine products of even ``u`` need
    ``B-``, of odd ``u`` ``B+``: each product over ``G ≈ F / 2`` bins, half the multiply-adds of
    :func:`symmetric_lag_matrices`.

    Returns:
        a :class:`BinFold`, or ``None`` where it does not apply (fractional lags, odd ``n_fft``). Lag ``l``
        of GCC is then ``P[cos_row[l]] + sign[l] * P[sin_row[l]]`` with ``P`` the ``(4 R, columns)`` products
        of ``weights`` with ``(A+, A-, B-, B+)``.
    """
    lags = F.gcc_lags(n_fft, max_lag, num_lags=num_lags, upsample=upsample)
    if n_fft % 2 or not bool((lags == lags.round()).all()):
        return None
    even, odd, row, sign = symmetric_lag_matrices(n_fft, max_lag, num_lags, upsample)
    magnitudes = torch.unique(lags.abs()).to(torch.int64)
    half, width = n_fft // 2, folded_bins(n_fft)
    parity = magnitudes % 2
    by_parity = [torch.nonzero(parity == q).flatten() for q in (0, 1)]
    rows = max(len(r) for r in by_parity)
    weights = torch.zeros(4, rows, width, dtype=torch.float64)
    for q, members in enumerate(by_parity):
        weights[q, : len(members)] = even[members, :width]
        weights[2 + q, : len(members)] = odd[members, :width]
    if half % 2 == 0:  # bin H / 2 is its own partner: A+ and B+ hold it twice
        weights[:, :, half // 2] *= torch.tensor([0.5, 1.0, 1.0, 0.5], dtype=torch.float64)[:, None]
    within = torch.empty_like(magnitudes)
    for members in by_parity:
        within[members] = torch.arange(len(members))
    cos_row = parity[row] * rows + within[row]
    sin_row = (2 + parity[row]) * rows + within[row]
    return BinFold(weights, cos_row, sin_row, sign)


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


def unit_spectra(
    planes: Tensor,
    groups: list[tuple[int, int, int, int]],
    count: int,
    eps: Tensor,
    ws: Any,
    stack: Tensor,
) -> None:
    """The power of every channel and the real and imaginary planes of every pair's unit cross spectrum.

    The elementwise half of the planar block in torch passes (any device; on the CPU the front-end uses
    the one-pass ``unit_kernel`` instead), called on one block at a time, right after its FFT.

    Args:
        planes: real and imaginary parts of an STFT chunk, ``(2, n, C, T, F)`` (:func:`deinterleave`).
        groups: the :func:`pair_groups` of the pairs; ``count``: the number of pairs (0: power only).
        eps: the unit cross spectrum's ``eps`` (a 0-d tensor of the planes' dtype).
        ws: the caller's scratch memory (``get(name, shape, dtype, device)``).
        stack: ``(C + 2 count, n, T, F)`` output: powers, then the real and the imaginary planes by pair.
    """
    _, n, channels, frames, n_freq = planes.shape
    real, device = planes.dtype, planes.device
    re, im = planes[0], planes[1]
    power = stack[:channels].transpose(0, 1)  # (n, C, T, F)
    torch.mul(re, re, out=power).addcmul_(im, im)
    if not count:
        return
    cross = stack[channels:].view(2, count, n, frames, n_freq).transpose(1, 2)  # (re|im, n, P, T, F)
    magnitude = ws.get("magnitude", (n, channels, frames, n_freq), real, device)
    torch.sqrt(power, out=magnitude)
    for p0, p1, a, b0 in groups:
        # X_a conj(X_b) / (|X_a| |X_b| + eps), as functional.ipd_cos_sin, for pairs (a, b0), (a, b0 + 1)..
        b1 = b0 + p1 - p0
        ar, ai, br, bi = re[:, a : a + 1], im[:, a : a + 1], re[:, b0:b1], im[:, b0:b1]
        torch.mul(br, ar, out=cross[0, :, p0:p1]).addcmul_(bi, ai)
        torch.mul(br, ai, out=cross[1, :, p0:p1]).addcmul_(bi, ar, value=-1.0)
        scale = ws.get("denominator", (n, p1 - p0, frames, n_freq), real, device)
        torch.addcmul(eps, magnitude[:, b0:b1], magnitude[:, a : a + 1], out=scale)
        cross[:, :, p0:p1] *= scale.reciprocal_()


def project(
    stack: Tensor,
    channels: int,
    groups: list[tuple[int, int, int, int]],
    uses: frozenset[str],
    consts: dict[str, Tensor],
    mel_groups: list[tuple[int, int, int, int]],
    floor: float,
    ws: Any,
    dest: dict[str, Tensor],
    fold: Tensor | None = None,
) -> None:
    """Write ``logmel``, ``ild_mel``, ``ipd_cos_sin_mel`` and ``gcc_phat`` (as used) from a
    :func:`unit_spectra` stack ``(C + 2 P, n, T, F)``: the matrix-product half of the planar block.

    One banded mel product projects the powers and the unit cross planes together (log-mel with the
    filterbank, mel IPD with the same product scaled by the inverse band sums: the row-normalised filterbank),
    and GCC-PHAT of all pairs is a few GEMMs.

    Args:
        consts: ``mel_fb``, ``band_scale``, ``lag_sign`` and, for GCC-PHAT, ``lag_even_odd`` ``(2, U, F)``
            with ``lag_cos_row`` / ``lag_sin_row`` (each lag's rows in their ``(2 U)`` products), or with
            ``fold`` ``fold_weights`` ``(4, R, G)`` and ``fold_cos_row`` / ``fold_sin_row``.
        fold: the folded planes ``(A+, A-, B-, B+)`` of every pair, ``(4, P, n, T, G)``
            (:func:`folded_lag_matrices`): GCC-PHAT from them in four products of half the multiply-adds;
            the stack then needs its unit cross planes only for mel IPD (else it may hold the ``C`` powers
            alone).
    """
    _, n, frames, n_freq = stack.shape
    real, device = stack.dtype, stack.device
    count = (stack.shape[0] - channels) // 2
    if fold is not None:
        count = fold.shape[1]
    first = 0 if uses & {"logmel", "ild_mel"} else channels
    last = channels + 2 * count if "ipd_cos_sin_mel" in uses else channels
    if last > first:
        mel_fb = consts["mel_fb"]
        bands = ws.get("mel", (last - first, n, mel_fb.shape[0], frames), real, device)
        for m0, m1, lo, hi in mel_groups:  # bins-first output: no transposed copy later
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
        columns = count * n * frames
        if fold is not None:  # four products over the folded bins
            weights = consts["fold_weights"]
            products = ws.get("lag_products", (4, weights.shape[1], columns), real, device)
            torch.bmm(weights, fold.view(4, columns, fold.shape[-1]).mT, out=products)
            cos_row, sin_row = consts["fold_cos_row"], consts["fold_sin_row"]
        else:  # even lag matrix on the real planes, odd on the imaginary ones, over all pairs and frames
            matrices = consts["lag_even_odd"]
            products = ws.get("lag_products", (2, matrices.shape[1], columns), real, device)
            for k in (0, 1):
                torch.mm(
                    matrices[k],
                    stack[channels + k * count : channels + (k + 1) * count].view(columns, n_freq).T,
                    out=products[k],
                )
            cos_row, sin_row = consts["lag_cos_row"], consts["lag_sin_row"]
        # Lag τ: its cosine row plus sign(τ) times its sine row.
        flat, shape = products.view(-1, columns), (cos_row.numel(), count, n, frames)
        torch.addcmul(
            flat.index_select(0, cos_row).view(shape),
            flat.index_select(0, sin_row).view(shape),
            consts["lag_sign"][:, :, None, None],
            out=dest["gcc_phat"].permute(2, 1, 0, 3),  # (L, P, n, T)
        )
