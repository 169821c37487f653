"""ChannelSwap's relabelling: rendering a scene with every direction mapped by ``R⁻¹`` of an array symmetry
equals the original rendering with its channels permuted by ``π`` (free field and, for rotations, a shoebox
room with the receiver turned)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialrep.dsp import fft_convolve
from spatialrep.geometry import array_symmetries, make_array
from spatialrep.geometry.coordinates import spherical_to_cartesian
from spatialrep.simulate.receivers import FreeFieldArray
from spatialrep.simulate.room_response import room_response
from spatialrep.simulate.rooms import ShoeboxRoom

RATE = 16000
AZIMUTH = st.floats(-np.pi, np.pi, allow_nan=False)
ELEVATION = st.floats(-0.7, 0.7, allow_nan=False)


def _clean_direct(receiver: FreeFieldArray, azimuth: float, elevation: float, dry: np.ndarray) -> np.ndarray:
    """The dry signal through the free-field direct path from a source 2 m away in that direction."""
    position = spherical_to_cartesian(azimuth, elevation, 2.0)
    response = room_response(None, receiver, None, position, np.random.default_rng(0))
    return fft_convolve(dry[None, :], response.direct)


@pytest.mark.parametrize("name", ["circular4", "tetrahedral"])
@settings(max_examples=8, deadline=None)
@given(azimuth=AZIMUTH, elevation=ELEVATION, which=st.integers(0, 7))
def test_free_field_rendering_of_mapped_directions_is_the_permuted_recording(name, azimuth, elevation, which):
    array = make_array(name)
    receiver = FreeFieldArray(array, RATE)
    symmetry = array_symmetries(array)[which % len(array_symmetries(array))]
    dry = np.random.default_rng(1).standard_normal(400)
    original = _clean_direct(receiver, azimuth, elevation, dry)
    mapped_az, mapped_el = symmetry.map_direction(azimuth, elevation)
    assert float(mapped_el) == elevation  # a map about z never changes the elevation
    mapped = _clean_direct(receiver, float(mapped_az), float(mapped_el), dry)
    np.testing.assert_allclose(mapped, original[list(symmetry.perm)], atol=1e-9)


@pytest.mark.filterwarnings("ignore:length 0.02 s truncates")
def test_a_wrong_relabelling_is_caught():
    """The guard above can fail: mapping by R instead of R⁻¹ (a quarter turn the wrong way) does not give
    the permuted recording."""
    array = make_array("circular4")
    receiver = FreeFieldArray(array, RATE)
    quarter = next(s for s in array_symmetries(array) if s.kind == "rotation" and s.angle > 1.0)
    dry = np.random.default_rng(1).standard_normal(400)
    original = _clean_direct(receiver, 0.3, 0.1, dry)
    wrong = _clean_direct(receiver, 0.3 + quarter.angle, 0.1, dry)
    assert not np.allclose(wrong, original[list(quarter.perm)], atol=1e-3)
    # In the room too: turning the receiver the wrong way does not give the permuted early response.
    room, centre = ShoeboxRoom("box", (5.0, 4.0, 3.0), 0.3), np.array([2.4, 1.9, 1.4])
    source = centre + spherical_to_cartesian(0.3, 0.1, 1.2)
    turned, wrong_way = (
        room_response(
            room,
            receiver,
            centre,
            source,
            np.random.default_rng(5),
            receiver_yaw=yaw,
            mode="exact",
            length=0.02,
        ).full
        for yaw in (0.0, -quarter.angle)
    )
    assert not np.allclose(wrong_way, turned[list(quarter.perm)], atol=1e-3)


@pytest.mark.filterwarnings("ignore:length 0.02 s truncates")  # only the early part is compared
@settings(max_examples=4, deadline=None)
@given(azimuth=AZIMUTH, elevation=st.floats(-0.4, 0.4), yaw=st.floats(-np.pi, np.pi), which=st.integers(0, 3))
def test_a_turned_receiver_in_a_room_records_the_permuted_channels(azimuth, elevation, yaw, which):
    """Rotations: turning the receiver by θ maps every direction it hears (direct path and every image
    source) by R⁻¹, so the early response is the permuted one."""
    array = make_array("circular4")
    receiver = FreeFieldArray(array, RATE)
    rotations = [s for s in array_symmetries(array) if s.kind == "rotation"]
    symmetry = rotations[which]
    room = ShoeboxRoom("box", (5.0, 4.0, 3.0), 0.3)
    centre = np.array([2.4, 1.9, 1.4])
    source = centre + spherical_to_cartesian(azimuth + yaw, elevation, 1.2)

    def early(receiver_yaw: float) -> np.ndarray:
        response = room_response(
            room, receiver, centre, source, np.random.default_rng(5), receiver_yaw=receiver_yaw, mode="exact",
            length=0.02,
        )  # fmt: skip
        return response.full

    np.testing.assert_allclose(early(yaw + symmetry.angle), early(yaw)[list(symmetry.perm)], atol=1e-9)


def test_symmetry_groups():
    circular = array_symmetries(make_array("circular4"))
    assert len(circular) == 8 and circular[0].is_identity  # D4
    assert [s.kind for s in circular].count("reflection") == 4
    assert len(array_symmetries(make_array("tetrahedral"))) == 4
    for name in ("circular4", "tetrahedral"):
        positions = make_array(name).positions
        for s in array_symmetries(make_array(name)):
            np.testing.assert_allclose(positions @ s.matrix.T, positions[list(s.perm)], atol=1e-12)
            np.testing.assert_allclose(s.matrix @ s.matrix.T, np.eye(3), atol=1e-12)
            assert s.matrix[2, 2] == 1.0
    assert [s.perm for s in array_symmetries(make_array("pair"))] == [(0, 1), (1, 0)]
    with pytest.raises(ValueError, match="tolerance"):
        array_symmetries(make_array("pair"), tolerance=0.0)
