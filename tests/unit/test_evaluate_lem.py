"""Laplacian eigenmaps: embedding of a known manifold, out-of-sample extension, guards."""

from __future__ import annotations

import numpy as np
import pytest

from spatialrep.evaluate.lem import LaplacianEigenmaps


def _circle(n: int = 120, dim: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    basis = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, 2)))[0]  # orthonormal 2-D plane
    return np.stack([np.cos(theta), np.sin(theta)], axis=1) @ basis.T, theta


def test_circle_embeds_as_a_circle_in_the_first_two_components() -> None:
    x, _ = _circle()
    y = LaplacianEigenmaps(n_components=3, n_neighbors=11).fit_transform(x)
    # The first two non-trivial eigenvectors of a ring graph are cos/sin of the angle (any rotation/sign).
    angle = np.arctan2(y[:, 1], y[:, 0])
    step = np.angle(np.exp(1j * (np.diff(np.unwrap(angle)))))
    assert np.all(np.sign(step) == np.sign(step[0]))  # monotone around the ring
    radius = np.hypot(y[:, 0], y[:, 1])
    assert radius.std() / radius.mean() < 1e-6
    lem = LaplacianEigenmaps(n_components=3, n_neighbors=11).fit(x)
    assert lem.eigenvalues_ is not None and lem.eigenvalues_[0] == pytest.approx(
        lem.eigenvalues_[1], rel=1e-6
    )


def test_out_of_sample_of_training_points_is_their_embedding() -> None:
    x, _ = _circle()
    lem = LaplacianEigenmaps(n_components=2, n_neighbors=11).fit(x)
    np.testing.assert_allclose(lem.transform(x), lem.embedding_, atol=1e-9)
    # A point half-way between neighbours i and i + 1 lands between their embeddings.
    mid = 0.5 * (x[10] + x[11])
    z = lem.transform(mid[None])[0]
    assert lem.embedding_ is not None
    a, b = lem.embedding_[10], lem.embedding_[11]
    assert np.linalg.norm(z - 0.5 * (a + b)) < 0.2 * np.linalg.norm(a - b)


def test_line_gives_a_monotone_first_component() -> None:
    t = np.linspace(0.0, 1.0, 60)
    x = np.stack([t, t**2, np.sin(t)], axis=1)
    y = LaplacianEigenmaps(n_components=1, n_neighbors=6).fit_transform(x)[:, 0]
    d = np.diff(y)
    assert np.all(d > 0) or np.all(d < 0)


def test_fit_is_deterministic() -> None:
    x = np.random.default_rng(1).normal(size=(80, 5))
    a = LaplacianEigenmaps(3, 10).fit_transform(x)
    b = LaplacianEigenmaps(3, 10).fit_transform(x)
    np.testing.assert_array_equal(a, b)


def test_guards() -> None:
    with pytest.raises(ValueError, match="n_components"):
        LaplacianEigenmaps(n_components=0)
    with pytest.raises(ValueError, match="n_neighbors"):
        LaplacianEigenmaps(n_neighbors=1)
    with pytest.raises(ValueError, match="bandwidth"):
        LaplacianEigenmaps(bandwidth=0.0)
    with pytest.raises(RuntimeError, match="fit"):
        LaplacianEigenmaps().transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="more than"):
        LaplacianEigenmaps(3, 10).fit(np.zeros((10, 3)))
    x = np.random.default_rng(0).normal(size=(30, 4))
    lem = LaplacianEigenmaps(2, 5).fit(x)
    with pytest.raises(ValueError, match="dimension"):
        lem.transform(np.zeros((2, 3)))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LaplacianEigenmaps(2, 5).fit(bad)
