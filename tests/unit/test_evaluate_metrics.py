"""Localization metrics: hand-computed examples, symmetry, wrap-around, SNR bands, guards."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialrep.evaluate import angular_errors, localization_metrics, summarize_errors
from spatialrep.geometry import fold_front_back

angles = st.floats(-math.pi, math.pi, allow_nan=False)


def test_known_small_example_by_hand():
    true = np.radians([0.0, 10.0, 20.0, 30.0])
    pred = np.radians([3.0, 18.0, 45.0, 30.0])  # errors 3, 8, 25, 0 degrees
    m = localization_metrics(pred, true)
    assert m["count"] == 4
    assert m["mae_deg"] == pytest.approx(9.0)
    assert m["median_deg"] == pytest.approx(5.5)
    assert m["acc5"] == pytest.approx(0.5)
    assert m["acc10"] == pytest.approx(0.75)
    assert m["er20"] == pytest.approx(0.25)
    assert "snr_bands" not in m


def test_wrap_around_and_torch_input():
    e = angular_errors(torch.tensor([math.radians(179.0)]), torch.tensor([math.radians(-179.0)]))
    assert np.degrees(e) == pytest.approx([2.0], abs=1e-4)  # float32 input
    m = localization_metrics(torch.tensor([math.radians(179.0)], dtype=torch.float64), np.radians([-179.0]))
    assert m["mae_deg"] == pytest.approx(2.0)


@settings(max_examples=50, deadline=None)
@given(angles, angles, st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_symmetric_and_zero_on_diagonal(a1, a2, e1, e2):
    assert angular_errors([a1], [a2]) == pytest.approx(angular_errors([a2], [a1]), abs=1e-12)
    assert angular_errors([a1], [a2], [e1], [e2]) == pytest.approx(
        angular_errors([a2], [a1], [e2], [e1]), abs=1e-12
    )
    assert angular_errors([a1], [a1], [e1], [e1]) == pytest.approx([0.0], abs=1e-7)
    assert angular_errors([a1], [a1]) == pytest.approx([0.0], abs=1e-12)


def test_elevation_uses_great_circle():
    # Same azimuth, elevations 0 and 30 degrees: 30 degrees; near the pole azimuth matters little.
    assert np.degrees(angular_errors([0.0], [0.0], [0.0], [math.radians(30)])) == pytest.approx([30.0])
    e = angular_errors([0.0], [math.pi / 2], [math.radians(89.0)], [math.radians(89.0)])
    assert np.degrees(e)[0] < 2.0


def test_fold_front_back():
    folded = np.degrees(fold_front_back(np.radians([0.0, 30.0, 150.0, -150.0, 180.0, 90.0, -100.0])))
    assert folded == pytest.approx([0.0, 30.0, 30.0, -30.0, 0.0, 90.0, -80.0], abs=1e-9)
    pred, true = np.radians([150.0]), np.radians([30.0])
    assert localization_metrics(pred, true)["mae_deg"] == pytest.approx(120.0)
    assert localization_metrics(pred, true, fold_front_back=True)["mae_deg"] == pytest.approx(0.0, abs=1e-9)


def test_snr_band_assignment():
    true = np.zeros(5)
    pred = np.radians([1.0, 2.0, 30.0, 4.0, 8.0])
    snr = np.array([-5.0, 0.0, 9.99, 10.0, 40.0])  # half-open bands: 0 -> [0, 10), 10 -> [10, inf)
    m = localization_metrics(pred, true, snr_db=snr)
    bands = m["snr_bands"]
    assert list(bands) == ["[-inf, 0)", "[0, 10)", "[10, inf)"]
    assert bands["[-inf, 0)"]["count"] == 1 and bands["[-inf, 0)"]["mae_deg"] == pytest.approx(1.0)
    assert bands["[0, 10)"]["count"] == 2 and bands["[0, 10)"]["mae_deg"] == pytest.approx(16.0)
    assert bands["[0, 10)"]["er20"] == pytest.approx(0.5)
    assert bands["[10, inf)"]["count"] == 2 and bands["[10, inf)"]["median_deg"] == pytest.approx(6.0)
    custom = localization_metrics(pred, true, snr_db=snr, snr_bands=[(100.0, 200.0)])["snr_bands"]
    assert custom["[100, 200)"]["count"] == 0 and math.isnan(custom["[100, 200)"]["mae_deg"])


def test_empty_summary_is_nan():
    s = summarize_errors([])
    assert s["count"] == 0 and all(math.isnan(v) for k, v in s.items() if k != "count")


def test_guards():
    with pytest.raises(ValueError, match="same shape"):
        angular_errors([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="both pred_el and true_el"):
        angular_errors([0.0], [0.0], pred_el=[0.0])
    with pytest.raises(ValueError, match="elevations"):
        angular_errors([0.0], [0.0], [0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="finite"):
        angular_errors([np.nan], [0.0])
    with pytest.raises(ValueError, match="1-D"):
        angular_errors(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="snr_db must have shape"):
        localization_metrics([0.0], [0.0], snr_db=[1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        localization_metrics([0.0], [0.0], snr_db=[np.nan])
    with pytest.raises(ValueError, match="low < high"):
        localization_metrics([0.0], [0.0], snr_db=[1.0], snr_bands=[(10.0, 0.0)])
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        localization_metrics([0.0], [0.0], snr_db=[1.0], snr_bands=[(0.0, 1.0, 2.0)])  # type: ignore[list-item]


def test_docs_example_runs(capsys):
    """The runnable example of docs/evaluation.md stays runnable and reports the documented numbers."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/evaluation.md lost its python example"
    exec(compile(blocks[0], "docs/evaluation.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("GccPhatItdLocalizer 0.27 ") and out[1].startswith("SrpPhatLocalizer 0.0 1.0")


def test_average_precision_by_hand_and_against_sklearn() -> None:
    from sklearn.metrics import average_precision_score

    from spatialrep.evaluate.metrics import average_precision, mean_average_precision

    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(0.8333, abs=1e-4)
    rng = np.random.default_rng(0)
    scores = rng.random((200, 5))
    labels = (rng.random((200, 5)) < 0.3).astype(int)
    result = mean_average_precision(scores, labels)
    for c in range(5):
        assert result["per_class"][c] == pytest.approx(average_precision_score(labels[:, c], scores[:, c]))
    assert result["map"] == pytest.approx(
        np.mean([average_precision_score(labels[:, c], scores[:, c]) for c in range(5)])
    )
    tied = np.round(scores[:, 0], 1)  # ties: one step per distinct score, as scikit-learn
    assert average_precision(tied, labels[:, 0]) == pytest.approx(average_precision_score(labels[:, 0], tied))


def test_map_skips_classes_without_positives_with_a_warning() -> None:
    from spatialrep.evaluate.metrics import mean_average_precision

    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    labels = np.array([[1, 0], [0, 0], [1, 0]])
    with pytest.warns(UserWarning, match=r"classes \[1\]"):
        result = mean_average_precision(scores, labels)
    assert result["map"] == pytest.approx(1.0) and result["skipped"] == [1]
    with pytest.raises(ValueError, match="no class"):
        mean_average_precision(scores, np.zeros((3, 2)))


def test_distance_error_rate_by_hand() -> None:
    from spatialrep.evaluate.metrics import distance_error_rate

    assert distance_error_rate([3, 6, 6], [1.0, 2.2, 3.0]) == pytest.approx(1 / 3)
    assert distance_error_rate([2, 4, 6], [1.0, 2.2, 3.0]) == 0.0
    with pytest.raises(ValueError, match="shape"):
        distance_error_rate([1], [1.0, 2.0])
