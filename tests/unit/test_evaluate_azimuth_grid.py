"""The azimuth classification grid."""

import math

import numpy as np
import pytest
import torch

from spatialrep.evaluate import AzimuthGrid


def test_frontal_grid_classes_and_round_trip():
    grid = AzimuthGrid(5, "frontal")
    assert grid.num_classes == 37
    assert np.degrees(grid.azimuths[[0, 18, 36]]) == pytest.approx([-90.0, 0.0, 90.0])
    idx = np.arange(37)
    assert np.array_equal(grid.to_index(grid.to_azimuth(idx)), idx)
    assert grid.to_index(np.radians([-88.0, 2.4, 2.6, 90.0])).tolist() == [0, 18, 19, 36]
    assert grid.to_index(np.radians(150.0), fold_front_back=True) == 24  # folds to 30 degrees
    assert "num_classes=37" in repr(grid)


def test_full_grid_is_circular():
    grid = AzimuthGrid(5, "full")
    assert grid.num_classes == 72
    assert grid.to_index(np.radians([0.0, -1.0, 179.0, -179.0, 180.0, 360.0])).tolist() == [
        0,
        0,
        36,
        36,
        36,
        0,
    ]
    assert np.degrees(grid.to_azimuth([36, 71])) == pytest.approx([180.0, -5.0])
    d = np.degrees(grid.class_distance(np.radians(-178.0)))
    assert d[36] == pytest.approx(2.0) and d[0] == pytest.approx(178.0)


def test_soft_targets():
    grid = AzimuthGrid(5, "full")
    t = grid.soft_targets(np.radians([180.0, 2.5]), sigma_deg=5.0)
    assert t.shape == (2, 72)
    assert t.sum(axis=-1) == pytest.approx([1.0, 1.0])
    assert t[0].argmax() == 36 and t[0, 35] == pytest.approx(t[0, 37])  # circular symmetry around 180
    assert t[1, 0] == pytest.approx(t[1, 1])  # halfway between 0 and 5 degrees
    frontal = AzimuthGrid(5, "frontal").soft_targets(np.radians(-90.0))
    assert frontal.argmax() == 0 and frontal[1] < frontal[0]


def test_clip_estimate_is_mean_of_probabilities_then_argmax():
    grid = AzimuthGrid(30, "frontal")  # 7 classes: -90 .. 90
    probs = np.zeros((3, 7))
    # Two frames weakly favour class 1 but give class 4 much mass; one frame is sure of class 4. Majority vote
    # of argmaxes would say class 1; the mean posterior says class 4.
    probs[0, [1, 4]] = [0.55, 0.45]
    probs[1, [1, 4]] = [0.55, 0.45]
    probs[2, 4] = 1.0
    assert np.degrees(grid.clip_estimate(probs)) == pytest.approx(30.0)
    batched = grid.clip_estimate(torch.from_numpy(np.stack([probs, probs[::-1]])))
    assert batched.shape == (2,)


def test_guards():
    with pytest.raises(ValueError, match="region must be one of"):
        AzimuthGrid(5, "rear")
    with pytest.raises(ValueError, match="positive"):
        AzimuthGrid(0)
    with pytest.raises(ValueError, match="must divide 180"):
        AzimuthGrid(7)
    grid = AzimuthGrid(5)
    with pytest.raises(ValueError, match="outside the frontal grid"):
        grid.to_index(np.radians(120.0))
    with pytest.raises(ValueError, match="finite"):
        grid.to_index(np.nan)
    with pytest.raises(ValueError, match=r"\[0, 37\)"):
        grid.to_azimuth(37)
    with pytest.raises(ValueError, match="integers"):
        grid.to_azimuth(1.5)
    with pytest.raises(ValueError, match="sigma_deg"):
        grid.soft_targets(0.0, sigma_deg=0.0)
    with pytest.raises(ValueError, match="frame_probs must have shape"):
        grid.clip_estimate(np.ones((4, 36)))
    with pytest.raises(ValueError, match="frame_probs must have shape"):
        grid.clip_estimate(np.ones((0, 37)))
    with pytest.raises(ValueError, match="finite"):
        grid.clip_estimate(np.full((2, 37), math.nan))


def test_float32_labels_at_the_frontal_edges_map_to_the_edge_classes():
    import numpy as np

    from spatialrep.evaluate.azimuth_grid import AzimuthGrid

    grid = AzimuthGrid(step_deg=5, region="frontal")
    edges = np.array([np.pi / 2, -np.pi / 2], dtype=np.float32).astype(np.float64)
    assert abs(edges[0]) > np.pi / 2  # float32 rounding puts the label just outside the float64 edge
    assert list(grid.to_index(edges)) == [grid.num_classes - 1, 0]
