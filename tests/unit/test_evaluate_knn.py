"""k-NN regression of directions: naive per-query reference, circular averaging, exact matches, guards."""

import math

import numpy as np
import pytest
import torch

from spatialrep.evaluate.knn import KnnRegressor
from spatialrep.geometry import azimuth_difference


def naive_predict(train, azimuth, elevation, query, k):
    """Independent per-query loop: sort all distances, Gaussian weights with the median bandwidth."""
    dists = [float(np.sum((query - row) ** 2)) for row in train]
    order = sorted(range(len(dists)), key=lambda i: dists[i])[:k]
    s = [dists[i] for i in order]
    srt = sorted(s)
    h = srt[k // 2] if k % 2 else 0.5 * (srt[k // 2 - 1] + srt[k // 2])
    if h > 0:
        w = [math.exp(-v / h) for v in s]
    else:
        w = [1.0 if v == 0 else 0.0 for v in s]
    total = sum(w)
    w = [v / total for v in w]
    az = math.atan2(sum(wi * math.sin(azimuth[i]) for wi, i in zip(w, order)),
                    sum(wi * math.cos(azimuth[i]) for wi, i in zip(w, order)))  # fmt: skip
    el = sum(wi * elevation[i] for wi, i in zip(w, order))
    return az, el


@pytest.mark.parametrize("k", [1, 4, 5, 7])
def test_matches_naive_per_query_loop(k):
    rng = np.random.default_rng(k)
    train = rng.normal(size=(60, 3))
    az = rng.uniform(-math.pi, math.pi, 60)
    el = rng.uniform(-math.pi / 2, math.pi / 2, 60)
    queries = rng.normal(size=(25, 3))
    pred_az, pred_el = KnnRegressor(k=k).fit(train, az, el).predict(queries)
    for m in range(25):
        exp_az, exp_el = naive_predict(train, az, el, queries[m], k)
        assert azimuth_difference(pred_az[m], exp_az) < 1e-12
        assert pred_el[m] == pytest.approx(exp_el, abs=1e-12)


def test_chunking_gives_the_same_answer(monkeypatch):
    rng = np.random.default_rng(3)
    train, az = rng.normal(size=(40, 2)), rng.uniform(-3, 3, 40)
    queries = rng.normal(size=(17, 2))
    full = KnnRegressor(k=5).fit(train, az).predict(queries)
    monkeypatch.setattr("spatialrep.evaluate.neighbours._CHUNK_ELEMENTS", 1)  # one query per chunk
    np.testing.assert_array_equal(KnnRegressor(k=5).fit(train, az).predict(queries), full)


def test_k_equal_n_uses_every_point():
    train = np.array([[0.0], [1.0], [3.0]])
    az = np.array([0.0, 0.5, 1.0])
    idx, w = KnnRegressor(k=3).fit(train, az).neighbour_weights(np.array([[0.9]]))
    assert idx.tolist() == [[1, 0, 2]]
    s = np.array([0.01, 0.81, 4.41])
    np.testing.assert_allclose(w[0], np.exp(-s / 0.81) / np.exp(-s / 0.81).sum())


def test_circular_average_across_180_degrees():
    train = np.array([[0.0, 1.0], [0.0, -1.0]])
    az = np.radians([179.0, -179.0])
    pred = KnnRegressor(k=2).fit(train, az).predict(np.array([[0.0, 0.0]]))
    assert abs(abs(pred[0]) - math.pi) < 1e-12  # 180°, not the arithmetic mean 0°
    assert -math.pi < pred[0] <= math.pi


def test_exact_recovery_when_query_is_a_training_point_k1():
    rng = np.random.default_rng(11)
    train = rng.normal(size=(30, 4))
    az = rng.uniform(-math.pi, math.pi, 30)
    el = rng.uniform(-1.0, 1.0, 30)
    pred_az, pred_el = KnnRegressor(k=1).fit(train, az, el).predict(train)
    assert np.max(azimuth_difference(pred_az, az)) < 1e-12
    np.testing.assert_allclose(pred_el, el, atol=1e-15)


def test_exact_recovery_with_duplicates_zero_bandwidth():
    # Three copies of the query among K = 5: median squared distance is 0, only exact matches count.
    train = np.array([[0.0, 0.0]] * 3 + [[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    az = np.array([0.3, 0.3, 0.3, -2.0, 2.0, 1.0])
    el = np.array([0.1, 0.1, 0.1, 0.5, -0.5, 0.0])
    pred_az, pred_el = KnnRegressor(k=5).fit(train, az, el).predict(np.array([[0.0, 0.0]]))
    assert pred_az[0] == pytest.approx(0.3, abs=1e-15)
    assert pred_el[0] == pytest.approx(0.1, abs=1e-15)


def test_paper_kernel_smooths_an_exact_match_when_k_gt_1():
    # Documented behaviour of eq. 15-16: the median neighbour keeps weight e^-1 relative to an exact match.
    train = np.array([[0.0], [1.0], [1.0], [1.0], [1.0]])
    az = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    _, w = KnnRegressor(k=5).fit(train, az).neighbour_weights(np.array([[0.0]]))
    expected = np.array([1.0] + [math.exp(-1.0)] * 4)
    np.testing.assert_allclose(w[0], expected / expected.sum())


def test_azimuth_only_returns_array_and_accepts_torch():
    rng = np.random.default_rng(0)
    train = torch.from_numpy(rng.normal(size=(10, 3))).float()
    az = torch.linspace(-3.0, 3.0, 10)
    pred = KnnRegressor(k=3).fit(train, az).predict(train[:4])
    assert isinstance(pred, np.ndarray)
    assert pred.shape == (4,)
    assert pred.dtype == np.float64


def test_weights_sum_to_one_and_nearest_first():
    rng = np.random.default_rng(8)
    model = KnnRegressor(k=6).fit(rng.normal(size=(50, 3)), rng.uniform(-3, 3, 50))
    queries = rng.normal(size=(9, 3))
    idx, w = model.neighbour_weights(queries)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(np.diff(w, axis=1) <= 1e-15)  # weights decrease with distance
    assert idx.shape == (9, 6)


# ---- guards ------------------------------------------------------------------------------------------------


def test_constructor_guards():
    with pytest.raises(ValueError, match="k must be >= 1"):
        KnnRegressor(k=0)
    with pytest.raises(TypeError, match="k must be an integer"):
        KnnRegressor(k=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="k must be an integer"):
        KnnRegressor(k=True)


def test_fit_guards():
    z = np.zeros((4, 2))
    az = np.zeros(4)
    with pytest.raises(ValueError, match="k=5 exceeds the number of training embeddings N=4"):
        KnnRegressor(k=5).fit(z, az)
    with pytest.raises(ValueError, match="azimuth has 3 entries but embeddings has 4"):
        KnnRegressor(k=2).fit(z, np.zeros(3))
    with pytest.raises(ValueError, match="elevation has 5 entries"):
        KnnRegressor(k=2).fit(z, az, np.zeros(5))
    with pytest.raises(ValueError, match=r"embeddings must be 2-D"):
        KnnRegressor(k=2).fit(np.zeros(4), az)
    with pytest.raises(ValueError, match=r"azimuth must be 1-D"):
        KnnRegressor(k=2).fit(z, np.zeros((4, 1)))
    bad = z.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="embeddings contains NaN"):
        KnnRegressor(k=2).fit(bad, az)
    with pytest.raises(ValueError, match="azimuth contains NaN"):
        KnnRegressor(k=2).fit(z, np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="elevation contains NaN"):
        KnnRegressor(k=2).fit(z, az, np.array([0.0, np.inf, 0.0, 0.0]))


def test_predict_guards():
    with pytest.raises(RuntimeError, match="fit must be called"):
        KnnRegressor().predict(np.zeros((1, 2)))
    model = KnnRegressor(k=2).fit(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="queries have dimension 3 but the training embeddings 2"):
        model.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"queries must be 2-D"):
        model.predict(np.zeros(2))
    with pytest.raises(ValueError, match="queries contains NaN"):
        model.predict(np.array([[0.0, np.nan]]))


def test_gram_form_search_agrees_with_explicit_differences(monkeypatch):
    from spatialrep.evaluate.neighbours import nearest_neighbours

    rng = np.random.default_rng(5)
    train, queries = rng.normal(size=(60, 30)), rng.normal(size=(25, 30))
    exact = nearest_neighbours(queries, train, 7)
    gram = nearest_neighbours(queries, train, 7, exact=False)
    np.testing.assert_array_equal(gram[0], exact[0])
    np.testing.assert_allclose(gram[1], exact[1], rtol=1e-10)
    brute = ((queries[:, None, :] - train[None]) ** 2).sum(-1)
    np.testing.assert_allclose(exact[1], np.sort(brute, axis=1)[:, :7], rtol=1e-12)
    monkeypatch.setattr("spatialrep.evaluate.neighbours._CHUNK_ELEMENTS", 1)
    np.testing.assert_array_equal(nearest_neighbours(queries, train, 7, exact=False)[0], exact[0])
