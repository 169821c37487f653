import math

import numpy as np
import pytest

from spatialrep.geometry.coordinates import angular_distance, rotate_yaw, spherical_to_cartesian
from spatialrep.simulate.sampling import PlacementError, sample_scene
from spatialrep.simulate.scene_config import SceneConfig


def _source_world_positions(spec):
    out = []
    for s in spec.sources:
        local = spherical_to_cartesian(s.azimuth, s.elevation, s.distance)
        out.append(np.asarray(spec.receiver_position) + rotate_yaw(local, spec.receiver_yaw))
    return np.array(out)


def test_same_seed_and_index_give_the_same_scene():
    cfg = SceneConfig(num_sources=(1, 3))
    assert sample_scene(cfg, 7, 3) == sample_scene(cfg, 7, 3)
    assert sample_scene(cfg, 7, 3) != sample_scene(cfg, 7, 4)
    assert sample_scene(cfg, 7, 3) != sample_scene(cfg, 8, 3)


@pytest.mark.parametrize("region", ["frontal", "horizontal", "sphere"])
def test_directions_stay_in_region_and_sources_in_room(region):
    cfg = SceneConfig(region=region, num_sources=(1, 2), num_interferers=(0, 1), wall_margin_m=0.4)
    for index in range(40):
        spec = sample_scene(cfg, 0, index)
        (az_lo, az_hi), (el_lo, el_hi) = cfg.direction_ranges_deg
        for s in spec.sources:
            assert math.radians(az_lo) - 1e-9 <= s.azimuth <= math.radians(az_hi) + 1e-9
            assert math.radians(el_lo) - 1e-9 <= s.elevation <= math.radians(el_hi) + 1e-9
            assert cfg.distance_range_m[0] <= s.distance <= cfg.distance_range_m[1]
        size = np.asarray(spec.room.size)
        pos = _source_world_positions(spec)
        assert np.all(pos >= 0.4 - 1e-9) and np.all(pos <= size - 0.4 + 1e-9), "no source outside the room"
        receiver = np.asarray(spec.receiver_position)
        assert np.all(receiver >= 0.4 - 1e-9) and np.all(receiver <= size - 0.4 + 1e-9)
        assert cfg.rt60_range_s[0] <= spec.room.rt60 <= cfg.rt60_range_s[1]
        assert cfg.snr_range_db[0] <= spec.snr_db <= cfg.snr_range_db[1]


def test_sources_respect_minimum_separation():
    cfg = SceneConfig(num_sources=(3, 3), region="horizontal", min_separation_deg=40.0)
    for index in range(20):
        s = sample_scene(cfg, 1, index).sources
        for i in range(3):
            for j in range(i + 1, 3):
                assert (
                    angular_distance(s[i].azimuth, s[i].elevation, s[j].azimuth, s[j].elevation)
                    >= math.radians(40.0) - 1e-9
                )


def test_sphere_region_is_uniform_in_sin_elevation():
    cfg = SceneConfig(region="sphere", room="anechoic")
    el = np.array([sample_scene(cfg, 0, i).sources[0].elevation for i in range(2000)])
    assert np.mean(np.sin(el) > 0) == pytest.approx(0.5, abs=0.04)
    assert np.mean(np.abs(np.sin(el)) < 0.5) == pytest.approx(0.5, abs=0.04)


def test_anechoic_scene_has_no_room():
    spec = sample_scene(SceneConfig(room="anechoic"), 0, 0)
    assert spec.room is None and spec.receiver_position is None


def test_a_distance_the_room_cannot_hold_raises():
    cfg = SceneConfig(
        distance_range_m=(9.0, 9.5), room_size_min_m=(4.0, 4.0, 2.5), room_size_max_m=(5.0, 5.0, 3.0)
    )
    with pytest.raises(PlacementError, match=r"distance 9.* does not fit in room"):
        sample_scene(cfg, 0, 0)


def test_impossible_separation_raises():
    cfg = SceneConfig(num_sources=(4, 4), region="custom", azimuth_range_deg=(0, 10), min_separation_deg=30)
    with pytest.raises(PlacementError, match="cannot place 4 sources"):
        sample_scene(cfg, 0, 0)


def test_negative_seed_raises():
    with pytest.raises(ValueError, match="seed and index must be >= 0"):
        sample_scene(SceneConfig(), -1, 0)
