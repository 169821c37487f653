import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialrep.geometry.coordinates import (
    angular_distance,
    azimuth_difference,
    cartesian_to_spherical,
    fibonacci_sphere,
    rotate_yaw,
    spherical_to_cartesian,
    wrap_angle,
)

angles = st.floats(-10.0, 10.0, allow_nan=False)
elevations = st.floats(-np.pi / 2, np.pi / 2, allow_nan=False)


def test_axes_follow_sofa_convention():
    front = spherical_to_cartesian(0.0, 0.0, 2.0)
    left = spherical_to_cartesian(np.pi / 2, 0.0)
    up = spherical_to_cartesian(0.3, np.pi / 2)
    np.testing.assert_allclose(front, [2.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(left, [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(up, [0.0, 0.0, 1.0], atol=1e-12)


def test_wrap_angle_is_half_open_interval():
    np.testing.assert_allclose(wrap_angle([np.pi, -np.pi, 3 * np.pi, 0.5]), [np.pi, np.pi, np.pi, 0.5])
    assert np.all(wrap_angle(np.linspace(-20, 20, 1001)) > -np.pi)


@settings(max_examples=50, deadline=None)
@given(az=angles, el=st.floats(-1.5, 1.5), r=st.floats(0.1, 10.0))
def test_spherical_roundtrip(az, el, r):
    a, e, d = cartesian_to_spherical(spherical_to_cartesian(az, el, r))
    assert angular_distance(a, e, az, el) < 1e-7
    assert d == pytest.approx(r)


@settings(max_examples=50, deadline=None)
@given(az1=angles, el1=elevations, az2=angles, el2=elevations)
def test_angular_distance_symmetric_and_bounded(az1, el1, az2, el2):
    d12 = angular_distance(az1, el1, az2, el2)
    assert d12 == pytest.approx(angular_distance(az2, el2, az1, el1), abs=1e-12)
    assert 0.0 <= d12 <= np.pi + 1e-12
    assert angular_distance(az1, el1, az1, el1) == pytest.approx(0.0, abs=1e-7)
    u1, u2 = spherical_to_cartesian(az1, el1), spherical_to_cartesian(az2, el2)
    assert d12 == pytest.approx(np.arccos(np.clip(u1 @ u2, -1, 1)), abs=1e-6)


def test_azimuth_difference_wraps():
    assert azimuth_difference(np.deg2rad(170), np.deg2rad(-170)) == pytest.approx(np.deg2rad(20))
    assert angular_distance(np.deg2rad(170), 0, np.deg2rad(-170), 0) == pytest.approx(np.deg2rad(20))


def test_rotate_yaw_turns_receiver_frame():
    # A receiver facing +y (yaw 90°) sees a world source on +y straight ahead.
    local = rotate_yaw([0.0, 1.0, 0.0], -np.pi / 2)
    np.testing.assert_allclose(local, [1.0, 0.0, 0.0], atol=1e-12)


def test_cartesian_to_spherical_rejects_bad_shape():
    with pytest.raises(ValueError, match="last axis of size 3"):
        cartesian_to_spherical(np.zeros((4, 2)))


def test_fibonacci_sphere_is_nearly_uniform():
    az, el = fibonacci_sphere(400)
    xyz = spherical_to_cartesian(az, el)
    assert np.linalg.norm(xyz.mean(axis=0)) < 0.01
    assert np.mean(el > 0) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError):
        fibonacci_sphere(0)
