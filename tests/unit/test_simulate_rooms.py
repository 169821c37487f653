"""Shoebox rooms: validation, absorption from RT60, sampling and placement."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from spatialrep.config import ConfigError, load_config
from spatialrep.geometry.coordinates import (
    SPEED_OF_SOUND,
    cartesian_to_spherical,
    fibonacci_sphere,
    rotate_yaw,
)
from spatialrep.geometry.coordinates import spherical_to_cartesian as sph2cart
from spatialrep.simulate.room_response import image_sources
from spatialrep.simulate.rooms import (
    MAX_ABSORPTION,
    RoomSampler,
    ShoeboxRoom,
    check_inside,
    max_source_distance,
    place_receiver_and_source,
    place_source,
    sample_room,
)


def _edc_t30(t: np.ndarray, energy: np.ndarray) -> float:
    edc = np.cumsum(energy[::-1])[::-1]
    db = 10 * np.log10(edc / edc[0])
    fit = (db <= -5) & (db >= -35)
    return float(-60.0 / np.polyfit(t[fit], db[fit], 1)[0])


# ---------------------------------------------------------------- ShoeboxRoom


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"id": "", "size": (5, 4, 3), "rt60": 0.5}, "id"),
        ({"id": "r", "size": (5, 4), "rt60": 0.5}, "size"),
        ({"id": "r", "size": (5, -4, 3), "rt60": 0.5}, "size"),
        ({"id": "r", "size": (5, 0, 3), "rt60": 0.5}, "size"),
        ({"id": "r", "size": (5, float("nan"), 3), "rt60": 0.5}, "size"),
        ({"id": "r", "size": (5, 4, 3), "rt60": -0.5}, "rt60"),
        ({"id": "r", "size": (5, 4, 3), "rt60": 0.0}, "rt60"),
        ({"id": "r", "size": (5, 4, 3), "rt60": float("nan")}, "rt60"),
        ({"id": "r", "size": (5, 4, 3), "rt60": float("inf")}, "rt60"),
        ({"id": "r", "size": (5, 4, 3), "rt60": "0.5"}, "rt60"),
    ],
)
def test_room_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ShoeboxRoom(**kwargs)


def test_unreachable_rt60_raises_with_shortest_reachable() -> None:
    with pytest.raises(ValueError, match=r"unreachable.*shortest reachable RT60 is ([0-9.]+) s") as info:
        ShoeboxRoom("big", (20.0, 15.0, 6.0), 0.1)
    shortest = float(str(info.value).rsplit("is ", 1)[1].split(" s")[0])
    room = ShoeboxRoom("big", (20.0, 15.0, 6.0), shortest * 1.001)  # just reachable
    assert room.absorption == pytest.approx(MAX_ABSORPTION, abs=2e-3)


def test_absorption_range_and_monotonic() -> None:
    rt60s = [0.2, 0.4, 0.8, 1.6]
    alphas = [ShoeboxRoom("r", (6.0, 4.0, 3.0), t).absorption for t in rt60s]
    assert all(0 < a <= MAX_ABSORPTION for a in alphas)
    assert alphas == sorted(alphas, reverse=True)
    anechoic = ShoeboxRoom("a", (6.0, 4.0, 3.0), None)
    assert anechoic.is_anechoic and anechoic.absorption == 1.0 and anechoic.reflection_coefficient == 0.0
    assert anechoic.decay_time() == 0.0
    assert np.all(anechoic.energy_envelope(np.array([0.0, 0.1])) == 0)


def test_size_is_normalised_to_float_tuple() -> None:
    room = ShoeboxRoom("r", np.array([5, 4, 3]), 0.5)  # type: ignore[arg-type]
    assert room.size == (5.0, 4.0, 3.0)
    assert room.volume == 60.0 and room.surface_area == 94.0
    assert room.mixing_time == pytest.approx(math.sqrt(60) * 1e-3)
    assert hash(room) == hash(ShoeboxRoom("r", (5.0, 4.0, 3.0), 0.5))


@pytest.mark.parametrize("size", [(5.0, 4.0, 3.0), (10.0, 4.0, 3.0), (20.0, 3.0, 3.0)])
def test_model_t30_equals_requested_rt60(size: tuple[float, float, float]) -> None:
    room = ShoeboxRoom("r", size, 0.6)
    t = np.linspace(0, 3.0, 30001)
    assert _edc_t30(t, room.energy_envelope(t)) == pytest.approx(0.6, rel=0.01)
    # The decay curve reaches -60 dB a little after RT60 (later in elongated rooms, where it bends).
    assert 1.0 <= room.decay_time(60.0) / 0.6 <= 1.3
    assert room.decay_time(30.0) < room.decay_time(60.0)
    with pytest.raises(ValueError, match="level_db"):
        room.decay_time(0.0)


def test_elongated_room_needs_more_absorption_than_sabine() -> None:
    # Sabine inversion would give an ISM decay far longer than asked in an elongated room.
    room = ShoeboxRoom("r", (10.0, 4.0, 3.0), 0.5)
    sabine = 24 * math.log(10) / SPEED_OF_SOUND * room.volume / (room.surface_area * 0.5)
    assert room.absorption > 1.2 * sabine


def test_envelope_matches_image_lattice_energy() -> None:
    """The closed-form envelope is the expected energy of the image lattice (Σ β^(2n) / r² per second)."""
    room = ShoeboxRoom("r", (5.0, 4.0, 3.0), 0.4)
    _, distance, order = image_sources(room, (1.2, 1.5, 1.4), (3.1, 2.2, 1.6), SPEED_OF_SOUND * 0.35)
    energy = (1 - room.absorption) ** order / distance**2
    edges = np.arange(0.05, 0.35, 0.05)
    binned = np.histogram(distance / SPEED_OF_SOUND, edges, weights=energy)[0]
    grid = np.linspace(0.05, 0.3, 2001)
    env = room.energy_envelope(grid) * 4 * math.pi * SPEED_OF_SOUND / room.volume
    inside = [(grid >= a) & (grid <= b) for a, b in itertools.pairwise(edges)]
    expected = [np.trapezoid(env[m], grid[m]) for m in inside]
    np.testing.assert_allclose(binned, expected, rtol=0.1)


def test_directional_envelope_mean_is_envelope() -> None:
    room = ShoeboxRoom("r", (8.0, 5.0, 3.0), 0.7)
    az, el = fibonacci_sphere(4096)
    t = np.array([0.0, 0.1, 0.3])
    per_dir = room.directional_energy_envelope(t, sph2cart(az, el))
    assert per_dir.shape == (4096, 3)
    np.testing.assert_allclose(per_dir.mean(axis=0), room.energy_envelope(t), rtol=0.02)
    # Paths along the longest axis meet the fewest walls: they decay slowest.
    axes = room.directional_energy_envelope(np.array([0.3]), np.eye(3))[:, 0]
    assert axes[0] > axes[1] > axes[2]
    with pytest.raises(ValueError, match="directions"):
        room.directional_energy_envelope(t, np.ones(3))


# ---------------------------------------------------------------- RoomSampler


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size_range": ((3, 5), (3, 5))}, "size_range"),
        ({"size_range": ((3, 5), (5, 3), (2, 3))}, r"size_range\[y\].*inverted"),
        ({"size_range": ((0, 5), (3, 5), (2, 3))}, r"size_range\[x\]"),
        ({"size_range": ((3, 5), (3, 5), (-2, 3))}, r"size_range\[z\]"),
        ({"size_range": ((3, 5), (3, 5), (2, float("nan")))}, r"size_range\[z\]"),
        ({"size_range": ((3, 5), (3, 5), (2,))}, r"size_range\[z\]"),
        ({"rt60_range": (0.9, 0.2)}, "rt60_range.*inverted"),
        ({"rt60_range": (-0.2, 0.5)}, "rt60_range"),
        ({"rt60_range": (0.0, 0.5)}, "rt60_range"),
        ({"anechoic_probability": 1.5}, "anechoic_probability"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_sampler_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RoomSampler(**kwargs)


def test_sampler_draws_within_ranges_reproducibly() -> None:
    sampler = RoomSampler(size_range=((4, 6), (3, 5), (2.5, 3)), rt60_range=(0.3, 0.6))
    rooms = [sampler.sample(np.random.default_rng(k)) for k in range(20)]
    again = [sampler.sample(np.random.default_rng(k)) for k in range(20)]
    assert rooms == again
    for room in rooms:
        assert 4 <= room.size[0] <= 6 and 3 <= room.size[1] <= 5 and 2.5 <= room.size[2] <= 3
        assert room.rt60 is not None and 0.3 <= room.rt60 <= 0.6
        assert room.id.startswith("shoebox_")
    assert len({r.id for r in rooms}) == 20
    assert sampler.sample(np.random.default_rng(0), room_id="mine").id == "mine"


def test_sample_room_and_anechoic_probability() -> None:
    room = sample_room(np.random.default_rng(1), ((4, 5), (4, 5), (3, 3)), (0.2, 0.3))
    assert 0.2 <= room.rt60 <= 0.3  # type: ignore[operator]
    anechoic = sample_room(np.random.default_rng(1), anechoic_probability=1.0)
    assert anechoic.is_anechoic and anechoic.id.endswith("anechoic")


def test_sampler_gives_up_on_unreachable_rt60() -> None:
    sampler = RoomSampler(size_range=((20, 25), (15, 20), (6, 8)), rt60_range=(0.01, 0.02), max_attempts=5)
    with pytest.raises(ValueError, match="no reachable RT60"):
        sampler.sample(np.random.default_rng(0))


def test_sampler_loads_from_config() -> None:
    sampler = load_config(RoomSampler, {"rt60_range": [0.3, 0.5]}, ["size_range=[[3,4],[3,4],[2.5,3]]"])
    assert sampler.rt60_range == (0.3, 0.5) and sampler.size_range[2] == (2.5, 3.0)
    with pytest.raises(ConfigError, match="rt60_range"):
        load_config(RoomSampler, {"rt60_range": [0.5, 0.3]})


# ---------------------------------------------------------------- placement

ROOM = ShoeboxRoom("r", (6.0, 4.0, 3.0), 0.5)


def test_check_inside() -> None:
    np.testing.assert_array_equal(check_inside(ROOM, (1, 2, 1.5), 0.5), [1.0, 2.0, 1.5])
    with pytest.raises(ValueError, match=r"source .* is outside room"):
        check_inside(ROOM, (7.0, 2.0, 1.5), name="source")
    with pytest.raises(ValueError, match="outside"):
        check_inside(ROOM, (1.0, -0.1, 1.5))
    with pytest.raises(ValueError, match=r"0\.200 m from a wall.*margin of 0\.5"):
        check_inside(ROOM, (1.0, 2.0, 2.8), 0.5)
    with pytest.raises(ValueError, match="three finite"):
        check_inside(ROOM, (1.0, 2.0))
    with pytest.raises(ValueError, match="three finite"):
        check_inside(ROOM, (1.0, 2.0, float("nan")))
    with pytest.raises(ValueError, match="margin"):
        check_inside(ROOM, (1.0, 2.0, 1.0), -0.1)


@pytest.mark.parametrize("yaw", [0.0, 1.0, -2.5])
def test_place_source_direction_in_receiver_frame(yaw: float) -> None:
    receiver = np.array([3.0, 2.0, 1.5])
    source = place_source(ROOM, receiver, 0.7, 0.2, 1.5, yaw=yaw, margin=0.3)
    az, el, dist = cartesian_to_spherical(rotate_yaw(source - receiver, -yaw))
    assert (float(az), float(el), float(dist)) == pytest.approx((0.7, 0.2, 1.5))
    check_inside(ROOM, source, 0.3)


def test_place_source_impossible_distance() -> None:
    receiver = np.array([3.0, 2.0, 1.5])
    limit = max_source_distance(ROOM, receiver, 0.0, 0.0, margin=0.5)
    assert limit == pytest.approx(2.5)  # x wall at 6 m, 0.5 m margin
    edge = place_source(ROOM, receiver, 0.0, 0.0, limit, margin=0.5)
    assert edge[0] == pytest.approx(5.5)
    with pytest.raises(ValueError, match="a distance the room cannot hold"):
        place_source(ROOM, receiver, 0.0, 0.0, limit + 0.01, margin=0.5)
    with pytest.raises(ValueError, match="distance must be > 0"):
        place_source(ROOM, receiver, 0.0, 0.0, 0.0)
    assert max_source_distance(ROOM, (0.2, 2.0, 1.5), 0.0, 0.0, margin=0.5) == 0.0


@pytest.mark.parametrize("yaw", [None, 0.5])
def test_place_receiver_and_source(yaw: float | None) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        az, el, dist = rng.uniform(-np.pi, np.pi), rng.uniform(-0.5, 0.5), rng.uniform(0.5, 2.5)
        place = place_receiver_and_source(
            ROOM,
            rng,
            az,
            el,
            dist,
            yaw=yaw,
            receiver_margin=0.6,
            source_margin=0.4,
            receiver_height=(1.2, 1.8),
        )
        check_inside(ROOM, place.receiver, 0.6)
        check_inside(ROOM, place.source, 0.4)
        assert 1.2 <= place.receiver[2] <= 1.8
        if yaw is not None:
            assert place.yaw == yaw
        got = cartesian_to_spherical(rotate_yaw(place.source - place.receiver, -place.yaw))
        np.testing.assert_allclose([float(g) for g in got], [np.angle(np.exp(1j * az)), el, dist], atol=1e-9)


def test_place_receiver_and_source_reproducible_and_guards() -> None:
    a = place_receiver_and_source(ROOM, np.random.default_rng(7), 1.0, 0.0, 2.0)
    b = place_receiver_and_source(ROOM, np.random.default_rng(7), 1.0, 0.0, 2.0)
    np.testing.assert_array_equal(a.receiver, b.receiver)
    assert a.yaw == b.yaw
    with pytest.raises(ValueError, match="a distance the room cannot hold"):
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, 8.0)
    with pytest.raises(ValueError, match=r"yaw 0\.000 rad"):  # along x only 6 - 2 * 0.5 m fit
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, 5.5, yaw=0.0)
    with pytest.raises(ValueError, match="distance must be > 0"):
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="margins"):
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, 1.0, source_margin=-1)
    with pytest.raises(ValueError, match="num_yaw_candidates"):
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, 1.0, num_yaw_candidates=0)
    with pytest.raises(ValueError, match="receiver_height"):
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, 1.0, receiver_height=(2.0, 1.0))
    with pytest.raises(ValueError, match="cannot hold"):  # height outside the room's usable band
        place_receiver_and_source(ROOM, np.random.default_rng(0), 0.0, 0.0, 1.0, receiver_height=(2.8, 2.9))
