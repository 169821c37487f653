"""Brute-force k-nearest-neighbour search (Euclidean) for the k-NN regressor and Laplacian eigenmaps."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["as_float_matrix", "nearest_neighbours"]

FloatArray = npt.NDArray[np.float64]

_CHUNK_ELEMENTS = 1 << 22  # bound each query block's temporary to about 32 MiB of float64


def as_float_matrix(value: Any, name: str, ndim: int = 2) -> FloatArray:
    """``value`` (numpy, sequence or torch tensor) as a finite float64 array with ``ndim`` axes.

    Raises:
        ValueError: another number of axes, or NaN / inf (``name`` is named).
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        expected = "(n, dim)" if ndim == 2 else "(n,)"
        raise ValueError(f"{name} must be {ndim}-D {expected}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def nearest_neighbours(
    queries: FloatArray, train: FloatArray, k: int, *, exact: bool = True
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Indices and squared distances of the ``k`` nearest training points of each query, nearest first.

    Args:
        queries: ``(M, D)``.
        train: ``(N, D)``, ``N >= k``.
        k: neighbours per query.
        exact: explicit differences, so an exact match gives exactly 0 (memory ``O(chunk N D)``);
            ``False`` uses ``|a|² + |b|² - 2 a·b`` (memory ``O(chunk N)``, rounding of order
            ``1e-16 |a|²``), for high ``D``.

    Returns:
        ``(indices, squared)``, each ``(M, k)``; ties keep the lower index first.
    """
    m, n = queries.shape[0], train.shape[0]
    indices = np.empty((m, k), dtype=np.intp)
    squared = np.empty((m, k), dtype=np.float64)
    train_sq = None if exact else np.einsum("nd,nd->n", train, train)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n * (train.shape[1] if exact else 1)))
    for start in range(0, m, chunk):
        block = queries[start : start + chunk]
        if train_sq is None:
            diff = block[:, None, :] - train[None, :, :]
            dist2 = np.einsum("mnd,mnd->mn", diff, diff)
        else:
            dist2 = np.einsum("md,md->m", block, block)[:, None] + train_sq[None, :] - 2.0 * block @ train.T
            np.maximum(dist2, 0.0, out=dist2)
        if k < n:
            cand = np.argpartition(dist2, k - 1, axis=1)[:, :k]
        else:
            cand = np.broadcast_to(np.arange(n), dist2.shape)
        cand_d = np.take_along_axis(dist2, cand, axis=1)
        order = np.argsort(cand_d, axis=1, kind="stable")
        indices[start : start + chunk] = np.take_along_axis(cand, order, axis=1)
        squared[start : start + chunk] = np.take_along_axis(cand_d, order, axis=1)
    return indices, squared
