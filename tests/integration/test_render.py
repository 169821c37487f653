"""Rendering whole scenes: signal relations, physics at the ears, determinism and labels."""

import math

import numpy as np
import pytest
from scipy import signal as sps

from spatialrep.simulate.render import SceneRenderer
from spatialrep.simulate.room_analysis import estimate_rt60
from spatialrep.simulate.sampling import sample_scene
from spatialrep.simulate.scene import SceneSpec, SourceSpec
from spatialrep.simulate.scene_config import SceneConfig

FS = 16000


@pytest.fixture(scope="module")
def kemar_renderer():
    return SceneRenderer(SceneConfig(duration_s=1.0, noise_types=("white", "pink", "speech_shaped")))


def _anechoic_spec(azimuth_deg, snr_db=40.0):
    source = SourceSpec(azimuth=math.radians(azimuth_deg), elevation=0.0, distance=1.5, seed=3)
    return SceneSpec(
        index=0,
        sources=(source,),
        room=None,
        receiver_position=None,
        receiver_yaw=0.0,
        noise_type="white",
        snr_db=snr_db,
        noise_seed=1,
        tail_seed=2,
    )


def _lag(x):
    """Lag (samples) of the left channel behind the right: negative when the left ear hears first."""
    corr = sps.correlate(x[0], x[1], mode="full")
    return int(np.argmax(corr)) - (x.shape[1] - 1)


@pytest.mark.parametrize("azimuth_deg", [60.0, 90.0, -90.0])
def test_lateral_source_is_louder_and_earlier_at_the_near_ear(kemar_renderer, azimuth_deg):
    scene = kemar_renderer.render(_anechoic_spec(azimuth_deg))
    direct = scene.clean_direct[0]
    left_db = 10 * np.log10(np.mean(direct[0] ** 2))
    right_db = 10 * np.log10(np.mean(direct[1] ** 2))
    lag = _lag(direct)
    if azimuth_deg > 0:
        assert left_db > right_db + 3 and lag < 0
    else:
        assert right_db > left_db + 3 and lag > 0
    assert abs(lag) / FS <= 0.0009  # within the head's ITD range


def test_signals_add_up_and_snr_is_exact(kemar_renderer):
    cfg = kemar_renderer.config
    for index in range(3):
        spec = sample_scene(cfg, 5, index)
        scene = kemar_renderer.render(spec)
        np.testing.assert_allclose(scene.noisy, scene.clean_reverb.sum(0) + scene.noise, atol=1e-12)
        snr = 10 * np.log10(np.mean(scene.clean_reverb.sum(0) ** 2) / np.mean(scene.noise**2))
        assert snr == pytest.approx(spec.snr_db, abs=0.01)
        assert np.max(np.abs(scene.noisy)) <= 0.9 + 1e-12
        # The direct path is part of the reverberant signal: what is left is the room's reflections.
        reflections = scene.clean_reverb - scene.clean_direct
        assert np.mean(reflections**2) > 0
        labels = scene.labels
        assert labels["room_id"] == spec.room.id and labels["rt60_s"] == spec.room.rt60
        assert labels["azimuth_deg"][0] == pytest.approx(math.degrees(spec.sources[0].azimuth), abs=1e-5)
        assert labels["receiver"] == "mit_kemar_normal_pinna" and labels["sample_rate"] == FS
        assert labels["class"] == ["speech"] and labels["unit"][0]


def test_rendering_is_deterministic(kemar_renderer):
    spec = sample_scene(kemar_renderer.config, 11, 0)
    a = kemar_renderer.render(spec)
    b = SceneRenderer(kemar_renderer.config).render(spec)
    for name in ("noisy", "clean_direct", "clean_reverb", "dry", "noise"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.labels == b.labels


def test_rendered_room_rt60_matches_sampled_value():
    cfg = SceneConfig(duration_s=0.5, rt60_range_s=(0.3, 0.8), noise_types=("white",))
    renderer = SceneRenderer(cfg)
    for index in range(3):
        spec = sample_scene(cfg, 2, index)
        response = renderer._response(spec, spec.sources[0])
        measured = estimate_rt60(response.full.sum(axis=0), FS)
        assert measured == pytest.approx(spec.room.rt60, rel=0.15)


def test_array_receiver_and_events_render():
    cfg = SceneConfig(
        duration_s=0.5,
        receiver="array:circular4",
        source="events",
        num_sources=(2, 2),
        region="horizontal",
        noise_types=("pink",),
    )
    scene = SceneRenderer(cfg).render(sample_scene(cfg, 0, 0))
    assert scene.noisy.shape == (4, 8000)
    assert scene.clean_direct.shape == (2, 4, 8000) and scene.dry.shape == (2, 8000)
    assert scene.labels["receiver_kind"] == "array" and len(scene.labels["class"]) == 2


def test_sample_rate_mismatch_raises():
    from spatialrep.simulate.hrtf import load_default_hrtf

    with pytest.raises(ValueError, match="runs at 16000 Hz but the config asks for 32000 Hz"):
        SceneRenderer(SceneConfig(sample_rate=32000), receiver=load_default_hrtf(16000))
