"""Quality evaluations: common area vs its closed form, MP@K vs a naive loop, 2AFC, RMSE, Spearman."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from spatialrep.evaluate.quality import (
    common_area,
    mean_precision_at_k,
    rmse_deg,
    spearman,
    two_afc,
    two_afc_triplets,
)


def test_common_area_matches_the_closed_form_for_equal_variances():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(500)
    x = rng.standard_normal(500) + 1.5
    ms, mx, ss, sx = s.mean(), x.mean(), s.std(ddof=1), x.std(ddof=1)
    # make the variances exactly equal so the closed form 2 Φ(-|Δμ| / 2σ) applies
    x = (x - mx) * (ss / sx) + mx
    expected = 2 * stats.norm.cdf(-abs(mx - ms) / (2 * ss))
    assert common_area(s, x) == pytest.approx(expected, abs=1e-6)


def test_common_area_unequal_variances_against_numerical_integration():
    s, x = np.array([0.0, 1.0, 2.0, 1.0]), np.array([3.0, 5.0, 4.0, 6.0, 2.0])
    ms, ss, mx, sx = s.mean(), s.std(ddof=1), x.mean(), x.std(ddof=1)
    from scipy.integrate import quad

    expected, _ = quad(
        lambda v: min(stats.norm.pdf(v, ms, ss), stats.norm.pdf(v, mx, sx)), -30, 40, limit=200
    )
    assert common_area(s, x) == pytest.approx(expected, abs=1e-5)
    assert common_area(s, s) == pytest.approx(1.0, abs=1e-6)


def test_mean_precision_at_k_matches_a_naive_loop():
    rng = np.random.default_rng(1)
    n = 30
    groups = rng.integers(0, 4, n)
    points = rng.standard_normal((n, 3)) + groups[:, None]
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    for k in (1, 5, 10):
        total = 0.0
        for q in range(n):
            others = sorted((d[q, j], j) for j in range(n) if j != q)[:k]
            total += sum(groups[j] == groups[q] for _, j in others) / k
        assert mean_precision_at_k(d, groups, k) == pytest.approx(total / n)
    with pytest.raises(ValueError, match="k must be"):
        mean_precision_at_k(d, groups, n)


def test_two_afc_and_its_triplets():
    items = np.array([0, 0, 0, 1, 1])
    ranks = np.array([0, 1, 2, 0, 1])
    pairs = two_afc_triplets(items, ranks)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (0, 2), (1, 2), (3, 4)]
    severity = ranks.astype(float)
    assert two_afc(severity, severity, pairs) == 1.0
    assert two_afc(-severity, severity, pairs) == 0.0
    assert two_afc(np.zeros(5), severity, pairs) == 0.5


def test_rmse_wraps_and_spearman():
    assert rmse_deg([179.0], [-179.0]) == pytest.approx(2.0)
    assert rmse_deg([10.0, 0.0], [0.0, 0.0], wrap=False) == pytest.approx(math.sqrt(50.0))
    assert spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
