"""The trivial floors: always 0°, the class prior, the mean predictor and R² against it."""

from __future__ import annotations

import numpy as np
import pytest

from spatialrep.evaluate import AzimuthGrid, localization_metrics
from spatialrep.evaluate.floors import azimuth_floors, class_prior_azimuth, mean_predictor, r2_against_mean


def test_always_zero_scores_45_degrees_on_uniform_frontal_azimuths():
    truth = np.random.default_rng(0).uniform(-np.pi / 2, np.pi / 2, 20000)
    floors = azimuth_floors(truth[:100], AzimuthGrid(), truth.size)
    assert localization_metrics(floors["always-0°"], truth)["mae_deg"] == pytest.approx(45.0, abs=0.5)


def test_class_prior_is_the_most_frequent_training_class():
    grid = AzimuthGrid(5.0)
    train = np.radians([10.0, 11.0, 9.0, -40.0, 60.0])  # three fall in the 10° class
    assert np.degrees(class_prior_azimuth(train, grid)) == pytest.approx(10.0)
    np.testing.assert_allclose(np.degrees(azimuth_floors(train, grid, 3)["class-prior"]), [10.0] * 3)
    with pytest.raises(ValueError, match="at least one"):
        class_prior_azimuth([], grid)


def test_r2_of_the_mean_predictor_is_zero_and_of_a_perfect_one_is_one():
    rng = np.random.default_rng(1)
    targets = rng.normal(loc=[1.0, -3.0, 0.5], scale=[1.0, 2.0, 0.1], size=(500, 3))
    mean = mean_predictor(targets)
    mean_mse = float(np.mean((targets - mean) ** 2))
    assert r2_against_mean(mean_mse, mean_mse) == 0.0
    assert r2_against_mean(0.0, mean_mse) == 1.0
    noisy = targets + rng.normal(scale=0.5, size=targets.shape)
    ours = r2_against_mean(float(np.mean((noisy - targets) ** 2)), mean_mse)
    from sklearn.metrics import r2_score

    # With the set's own mean as the reference, pooling the errors over dimensions is scikit-learn's
    # variance-weighted R².
    assert ours == pytest.approx(r2_score(targets, noisy, multioutput="variance_weighted"), rel=1e-12)
    assert 0 < ours < 1
    with pytest.raises(ValueError, match="positive"):
        r2_against_mean(1.0, 0.0)
