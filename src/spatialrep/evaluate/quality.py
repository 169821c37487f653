"""Evaluations of a spatial-quality metric (SQM-BS, Manocha et al. 2023, §4) and of its DoA heads.

* :func:`rmse_deg`: localization RMSE in degrees (azimuth wrapped).
* :func:`spearman`: Spearman's ρ (monotonicity SC, degradation sweeps).
* :func:`common_area`: overlap ``∫ min(N(μ_S, σ_S), N(μ_X, σ_X)) dx`` of two fitted normals (content
  invariance; lower is better).
* :func:`mean_precision_at_k`: retrieval ``MP@K = mean_q |topK(q) ∩ G(q)| / K`` from a distance matrix.
* :func:`two_afc`: agreement of a metric's choice with the severity order over reference / A / B triplets
  (the 2AFC proxy where listening tests are unavailable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["common_area", "mean_precision_at_k", "rmse_deg", "spearman", "two_afc", "two_afc_triplets"]


def rmse_deg(pred_deg: Any, true_deg: Any, *, wrap: bool = True) -> float:
    """``sqrt(mean(err^2))`` in degrees; ``wrap`` takes the azimuth error modulo 360° into [-180, 180)."""
    p, t = np.asarray(pred_deg, np.float64), np.asarray(true_deg, np.float64)
    if p.shape != t.shape or p.size == 0:
        raise ValueError(f"rmse_deg needs equal, non-empty arrays, got {p.shape} and {t.shape}")
    err = p - t
    if wrap:
        err = (err + 180.0) % 360.0 - 180.0
    return float(np.sqrt(np.mean(err**2)))


def spearman(x: Any, y: Any) -> float:
    """Spearman's rank correlation (NaN when either side is constant)."""
    a, b = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"spearman needs two equal arrays of at least 2 values, got {a.shape}, {b.shape}")
    if np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan
    return float(stats.spearmanr(a, b).statistic)


def _normal_pdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def common_area(same: Any, different: Any, *, points: int = 20001) -> float:
    """Overlap of the normals fitted to two samples (``S``: same location, ``X``: both differ), in [0, 1].

    A sample's standard deviation is floored at ``1e-6`` of the pooled scale (a degenerate normal).
    """
    s, x = np.asarray(same, np.float64).ravel(), np.asarray(different, np.float64).ravel()
    if s.size < 2 or x.size < 2 or not (np.all(np.isfinite(s)) and np.all(np.isfinite(x))):
        raise ValueError("common_area needs at least two finite values on each side")
    scale = max(float(np.std(np.concatenate([s, x]))), float(np.abs(np.concatenate([s, x])).max()), 1e-12)
    ms, mx = float(s.mean()), float(x.mean())
    ss, sx = max(float(s.std(ddof=1)), 1e-6 * scale), max(float(x.std(ddof=1)), 1e-6 * scale)
    low = min(ms - 10 * ss, mx - 10 * sx)
    high = max(ms + 10 * ss, mx + 10 * sx)
    grid = np.linspace(low, high, points)
    overlap = np.minimum(_normal_pdf(grid, ms, ss), _normal_pdf(grid, mx, sx))
    area = float(np.sum(0.5 * (overlap[1:] + overlap[:-1]) * np.diff(grid)))  # trapezoid rule
    return min(1.0, area)


def mean_precision_at_k(distances: Any, groups: Any, k: int) -> float:
    """``MP@K``: for each query, the share of its ``k`` nearest others (itself excluded, ties by index)
    that share its group; the mean over queries.

    Raises:
        ValueError: not a square matrix matching ``groups``, or ``k`` not in ``[1, N - 1]``.
    """
    d = np.array(distances, dtype=np.float64)
    g = np.asarray(groups)
    n = d.shape[0]
    if d.ndim != 2 or d.shape != (n, n) or g.shape != (n,):
        raise ValueError(
            f"mean_precision_at_k needs an (N, N) matrix and (N,) groups, got {d.shape}, {g.shape}"
        )
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= n - 1):
        raise ValueError(f"k must be in [1, {n - 1}], got {k!r}")
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    return float((g[nearest] == g[:, None]).mean())


def two_afc_triplets(items: Any, ranks: Any) -> np.ndarray:
    """``(n, 2)`` index pairs ``(A, B)`` of rows sharing an item (one reference) with different severities."""
    it, rk = np.asarray(items), np.asarray(ranks)
    pairs = []
    for item in np.unique(it):
        rows = np.flatnonzero(it == item)
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if rk[a] != rk[b]:
                    pairs.append((a, b))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def two_afc(distances: Any, severities: Any, pairs: Sequence[tuple[int, int]] | np.ndarray) -> float:
    """``mean 1[(D(r, A) < D(r, B)) == (sev_A < sev_B)]`` over the given ``(A, B)`` pairs (ties count 0.5)."""
    d, s = np.asarray(distances, np.float64), np.asarray(severities, np.float64)
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not p.size:
        return math.nan
    da, db = d[p[:, 0]], d[p[:, 1]]
    metric_says = np.sign(db - da)  # +1: A closer
    truth = np.sign(s[p[:, 1]] - s[p[:, 0]])  # +1: A milder
    agree = np.where(metric_says == 0, 0.5, (metric_says == truth).astype(np.float64))
    return float(agree.mean())
