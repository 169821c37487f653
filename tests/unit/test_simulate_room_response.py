"""Room impulse responses: image sources, exact vs hybrid, direct path, decay and the analysis utilities."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import signal as sps

import spatialrep.simulate.room_response as rr
from spatialrep.geometry.arrays import MicArray, mic_pair
from spatialrep.geometry.coordinates import SPEED_OF_SOUND, rotate_yaw, spherical_to_cartesian
from spatialrep.simulate.diffuse import diffuse_field
from spatialrep.simulate.hrtf import load_default_hrtf
from spatialrep.simulate.receivers import FreeFieldArray
from spatialrep.simulate.room_analysis import (
    direct_to_reverberant_ratio,
    edc_deviation,
    estimate_rt60,
)
from spatialrep.simulate.room_response import MIN_SOURCE_DISTANCE, image_sources, room_response
from spatialrep.simulate.rooms import ShoeboxRoom
from spatialrep.simulate.spherical_head import SphericalHead

FS = 8000
C = SPEED_OF_SOUND
ROOM = ShoeboxRoom("small", (5.0, 4.0, 3.0), 0.3)
RECEIVER_POS = np.array([2.0, 1.6, 1.5])
SOURCE_POS = np.array([3.6, 2.7, 1.3])


@pytest.fixture(scope="module")
def pair() -> FreeFieldArray:
    return FreeFieldArray(mic_pair(), FS)


@pytest.fixture(scope="module")
def single_mic() -> FreeFieldArray:
    return FreeFieldArray(MicArray("one", np.zeros((1, 3))), FS)


@pytest.fixture(scope="module")
def kemar():  # type: ignore[no-untyped-def]
    return load_default_hrtf(16000)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- image sources


def test_image_jitter_is_deterministic_bounded_and_spares_direct_path() -> None:
    source, mic = np.array([1.2, 1.5, 1.4]), np.array([3.1, 2.2, 1.6])
    base, _, order = image_sources(ROOM, source, mic, 30.0)
    moved, _, order2 = image_sources(ROOM, source, mic, 30.0, jitter=0.08, seed=5)
    again, _, _ = image_sources(ROOM, source, mic, 30.0, jitter=0.08, seed=5)
    other, _, _ = image_sources(ROOM, source, mic, 30.0, jitter=0.08, seed=6)
    np.testing.assert_array_equal(order, order2)
    np.testing.assert_array_equal(moved, again)
    shift = moved - base
    assert np.all(np.abs(shift) <= 0.08) and np.abs(shift).max() > 0.07
    assert np.all(shift[order == 0] == 0)
    assert not np.allclose(moved, other)
    # The same image moves the same way whatever radius is enumerated.
    small, _, _ = image_sources(ROOM, source, mic, 12.0, jitter=0.08, seed=5)
    index = {tuple(np.round(b, 9)): m for b, m in zip(base, moved)}
    base_small, _, _ = image_sources(ROOM, source, mic, 12.0)
    np.testing.assert_array_equal(small, np.array([index[tuple(np.round(b, 9))] for b in base_small]))


def test_lattice_energy_density_matches_enumerated_images() -> None:
    room = ShoeboxRoom("long", (9.0, 3.5, 2.6), 0.4)
    s, p = np.array([3.0, 1.5, 1.2]), np.array([5.0, 2.0, 1.5])
    t = np.arange(0, 0.4, 1 / 8000)
    density = rr.lattice_energy_density(room, s, p, t)
    assert density.shape == t.shape and np.all(density >= 0)
    _, distance, order = image_sources(room, s, p, C * 0.4)
    energy = np.where(order > 0, (1 - room.absorption) ** order / distance**2, 0.0)
    for a, b in [(0.03, 0.06), (0.06, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.39)]:
        inside = (t >= a) & (t < b)
        enumerated = energy[(distance / C >= a) & (distance / C < b)].sum()
        assert density[inside].sum() / 8000 == pytest.approx(enumerated, rel=0.08)
    # The direct path (1 / r0², 0.23 here) is not counted.
    assert density[t < 0.06].sum() / 8000 == pytest.approx(energy[distance / C < 0.06].sum(), rel=0.1)


# ---------------------------------------------------------------- direct path, anechoic


def test_direct_path_arrives_at_distance_over_c(pair: FreeFieldArray) -> None:
    res = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), mode="exact")
    r0 = float(np.linalg.norm(SOURCE_POS - RECEIVER_POS))
    direction = (SOURCE_POS - RECEIVER_POS) / r0
    for ch, mic in enumerate(pair.array.positions):
        arrival = (r0 - direction @ mic) / C * FS  # plane wave: the mic nearer the source hears it earlier
        d = res.direct[ch]
        # Band-limited interpolation (32x) of the peak.
        fine = sps.resample(np.concatenate([d, np.zeros(d.size)]), 64 * d.size)
        assert np.argmax(fine) / 32 == pytest.approx(arrival, abs=0.05)
        assert d.sum() == pytest.approx(1.0 / r0, rel=0.01)  # 1/r law, unit DC gain of the delay kernel
    assert res.direct[:, : int(r0 / C * FS) - 20].std() < 1e-3 / r0
    assert res.sample_rate == FS and res.full.shape == res.direct.shape


def test_anechoic_room_and_free_field_give_only_direct_path(pair: FreeFieldArray) -> None:
    anechoic = ShoeboxRoom("a", ROOM.size, None)
    res = room_response(anechoic, pair, RECEIVER_POS, SOURCE_POS, _rng())
    np.testing.assert_array_equal(res.full, res.direct)
    assert res.drr_db == math.inf and res.num_images == 1 and res.transition_time is None
    free = room_response(None, pair, None, SOURCE_POS - RECEIVER_POS, _rng())
    np.testing.assert_allclose(free.direct, res.direct, atol=1e-12)
    assert free.full.shape[-1] < 100  # just the direct path, no reverberation time


def test_direct_path_identical_in_both_modes_and_yaw_consistent(pair: FreeFieldArray) -> None:
    exact = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(1), mode="exact")
    hybrid = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(1), mode="hybrid")
    np.testing.assert_array_equal(exact.direct, hybrid.direct)
    # Turning the receiver and moving the source with it leaves the direct part unchanged.
    yaw = 0.9
    local = SOURCE_POS - RECEIVER_POS
    turned = room_response(ROOM, pair, RECEIVER_POS, RECEIVER_POS + rotate_yaw(local, yaw), _rng(1),
                           receiver_yaw=yaw, mode="exact")  # fmt: skip
    np.testing.assert_allclose(turned.direct, exact.direct, atol=1e-12)


# ---------------------------------------------------------------- decay


@pytest.mark.parametrize("rt60", [0.2, 0.35, 0.5])
def test_estimated_rt60_matches_room(pair: FreeFieldArray, rt60: float) -> None:
    """T30 of rendered responses is within 10 % of the room's RT60 (absorption inverts the ISM's decay)."""
    room = ShoeboxRoom("r", (5.0, 4.0, 3.0), rt60)
    exact = room_response(room, pair, RECEIVER_POS, SOURCE_POS, _rng(), mode="exact")
    hybrid = room_response(room, pair, RECEIVER_POS, SOURCE_POS, _rng())
    assert estimate_rt60(exact.full, FS) == pytest.approx(rt60, rel=0.10)
    assert estimate_rt60(hybrid.full, FS) == pytest.approx(rt60, rel=0.10)


def test_hybrid_matches_exact_array(pair: FreeFieldArray) -> None:
    room = ShoeboxRoom("r", (6.0, 4.0, 3.0), 0.45)
    exact = [room_response(room, pair, RECEIVER_POS, SOURCE_POS, _rng(k), mode="exact") for k in range(2)]
    hybrid = [room_response(room, pair, RECEIVER_POS, SOURCE_POS, _rng(k)) for k in range(2)]
    for e, h in zip(exact, hybrid):
        np.testing.assert_array_equal(e.direct, h.direct)
        assert e.full.shape == h.full.shape
        assert h.num_images < e.num_images / 20
    e_energy = np.mean([np.sum(e.full**2, 0) for e in exact], 0)
    h_energy = np.mean([np.sum(h.full**2, 0) for h in hybrid], 0)
    assert edc_deviation(np.sqrt(e_energy), np.sqrt(h_energy)) <= 1.0
    assert estimate_rt60(np.sqrt(h_energy), FS) == pytest.approx(
        estimate_rt60(np.sqrt(e_energy), FS), rel=0.1
    )
    # The hybrid's early part is the exact one's, up to the crossfade.
    start = int((hybrid[0].transition_time - 0.0025) * FS)  # type: ignore[operator]
    np.testing.assert_allclose(hybrid[0].full[:, :start], exact[0].full[:, :start], atol=1e-12)


def test_hybrid_matches_exact_binaural(kemar) -> None:  # type: ignore[no-untyped-def]
    room = ShoeboxRoom("r", (5.0, 4.0, 3.0), 0.3)
    exact = [room_response(room, kemar, RECEIVER_POS, SOURCE_POS, _rng(k), mode="exact") for k in range(2)]
    hybrid = [room_response(room, kemar, RECEIVER_POS, SOURCE_POS, _rng(k)) for k in range(2)]
    for e, h in zip(exact, hybrid):
        np.testing.assert_array_equal(e.direct, h.direct)
        assert e.full.shape[0] == 2
    e_energy = np.mean([np.sum(e.full**2, 0) for e in exact], 0)
    h_energy = np.mean([np.sum(h.full**2, 0) for h in hybrid], 0)
    assert edc_deviation(np.sqrt(e_energy), np.sqrt(h_energy)) <= 1.0
    fs = kemar.sample_rate
    assert estimate_rt60(np.sqrt(h_energy), fs) == pytest.approx(
        estimate_rt60(np.sqrt(e_energy), fs), rel=0.1
    )
    assert estimate_rt60(np.sqrt(e_energy), fs) == pytest.approx(0.3, rel=0.1)


def test_binaural_source_on_the_left_is_louder_in_left_ear(kemar) -> None:  # type: ignore[no-untyped-def]
    left = RECEIVER_POS + np.array([0.0, 1.5, 0.0])  # +y is left for yaw 0
    res = room_response(ROOM, kemar, RECEIVER_POS, left, _rng())
    energy = np.sum(res.direct**2, axis=-1)
    assert energy[0] > 2 * energy[1]
    assert math.isfinite(res.drr_db)
    turned = room_response(ROOM, kemar, RECEIVER_POS, left, _rng(), receiver_yaw=np.pi)  # now on the right
    energy = np.sum(turned.direct**2, axis=-1)
    assert energy[1] > 2 * energy[0]


def test_spherical_head_receiver() -> None:
    head = SphericalHead(FS)
    res = room_response(ROOM, head, RECEIVER_POS, SOURCE_POS, _rng())
    assert res.full.shape[0] == 2 and np.all(np.isfinite(res.full))
    assert estimate_rt60(res.full, FS) == pytest.approx(0.3, rel=0.15)


def test_grouped_rendering_equals_per_image(kemar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    grouped = room_response(ROOM, kemar, RECEIVER_POS, SOURCE_POS, _rng(), mode="exact")
    monkeypatch.setattr(rr, "_MAX_GROUPS", 0)
    per_image = room_response(ROOM, kemar, RECEIVER_POS, SOURCE_POS, _rng(), mode="exact")
    np.testing.assert_allclose(grouped.full, per_image.full, atol=1e-12)


def test_drr_decreases_with_distance(pair: FreeFieldArray) -> None:
    direction = np.array([1.0, 0.3, -0.1]) / np.linalg.norm([1.0, 0.3, -0.1])
    receiver = np.array([1.0, 1.5, 1.5])
    drr = [
        room_response(ROOM, pair, receiver, receiver + d * direction, _rng(), mode="exact").drr_db
        for d in (0.5, 1.0, 2.0, 3.0)
    ]
    assert all(a > b for a, b in itertools.pairwise(drr))
    assert drr[0] > 0 > drr[-1]


def test_highpass_removes_dc_build_up(single_mic: FreeFieldArray) -> None:
    def reflections_dc(highpass: float | None) -> float:
        res = room_response(
            ROOM, single_mic, RECEIVER_POS, SOURCE_POS, _rng(), mode="exact", highpass_hz=highpass
        )
        return abs(float(np.sum(res.full - res.direct)))

    # Positive real reflection coefficients add up at 0 Hz (sum of β^n / r over all images).
    assert reflections_dc(None) > 20 * reflections_dc(20.0)


def test_hybrid_tail_is_diffuse_on_a_pair(pair: FreeFieldArray) -> None:
    """Late tail coherence between two free-field mics follows the diffuse-field sinc."""
    room = ShoeboxRoom("r", (6.0, 5.0, 3.0), 0.8)
    res = room_response(room, pair, np.array([3.0, 2.5, 1.5]), np.array([4.5, 3.0, 1.2]), _rng())
    late = res.full[:, int(0.15 * FS) : int(0.5 * FS)]
    late = late / np.sqrt(np.mean(late**2, axis=1, keepdims=True) + 1e-30)
    rho = float(np.mean(late[0] * late[1]))
    # 0.18 m spacing: broadband diffuse coherence is small; an identical-channel tail would give ~1.
    assert abs(rho) < 0.3


# ---------------------------------------------------------------- guards


def test_guards(pair: FreeFieldArray) -> None:
    call = rr.room_response
    with pytest.raises(ValueError, match="unknown mode 'fast'; valid: hybrid, exact"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), mode="fast")
    with pytest.raises(TypeError, match="Generator"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"receiver .* outside"):
        call(ROOM, pair, (6.0, 1.0, 1.0), SOURCE_POS, _rng())
    with pytest.raises(ValueError, match=r"source .* outside"):
        call(ROOM, pair, RECEIVER_POS, (1.0, 1.0, 3.5), _rng())
    with pytest.raises(ValueError, match="MIN_SOURCE_DISTANCE"):
        call(ROOM, pair, RECEIVER_POS, RECEIVER_POS + MIN_SOURCE_DISTANCE / 2, _rng())
    with pytest.raises(ValueError, match="receiver_position is required"):
        call(ROOM, pair, None, SOURCE_POS, _rng())
    with pytest.raises(ValueError, match="source_position"):
        call(None, pair, None, (1.0, 2.0), _rng())
    with pytest.raises(ValueError, match="length"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), length=-1.0)
    with pytest.raises(ValueError, match="too short"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), length=0.001)
    with pytest.raises(ValueError, match="transition_time"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), transition_time=0.002)
    with pytest.raises(ValueError, match="crossfade_time"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), crossfade_time=-0.001)
    with pytest.raises(ValueError, match="num_directions"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), num_directions=0)
    with pytest.raises(ValueError, match="highpass_hz"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), highpass_hz=FS)
    with pytest.raises(ValueError, match="image_jitter"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), image_jitter=-0.1)
    with pytest.raises(ValueError, match="max_images"):
        call(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), mode="exact", max_images=1000)


def test_truncation_warnings(pair: FreeFieldArray) -> None:
    with pytest.warns(UserWarning, match="truncates the response"):
        res = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), length=0.05)
    assert res.full.shape[-1] == int(0.05 * FS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), length=ROOM.decay_time(45.0))
    # So close that the receiver's response would start before the emission.
    with pytest.warns(UserWarning, match="falls before time 0"):
        room_response(None, pair, None, (0.06, 0.0, 0.0), _rng())


def test_short_length_without_tail_is_all_image_sources(pair: FreeFieldArray) -> None:
    with pytest.warns(UserWarning):
        hybrid = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), length=0.06)
        exact = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(), length=0.06, mode="exact")
    assert hybrid.transition_time is None
    np.testing.assert_array_equal(hybrid.full, exact.full)


# ---------------------------------------------------------------- utilities


def test_diffuse_field_envelopes(pair: FreeFieldArray) -> None:
    """The per-direction envelopes of diffuse_field are applied at the receiver-centre time."""
    n = 800
    az, _ = pair.diffuse_directions(16)
    step = np.zeros((az.size, n))
    step[:, 400:] = 1.0
    x = diffuse_field(pair, n, _rng(), num_directions=16, envelopes=step)
    half_width = pair.onset  # the array's responses spread at most this far around the centre time
    assert np.abs(x[:, : 400 - half_width]).max() < 1e-12
    assert np.mean(x[:, 400 + half_width :] ** 2) > 0.5
    plain = diffuse_field(pair, n, _rng(), num_directions=16)
    ones = diffuse_field(pair, n, _rng(), num_directions=16, envelopes=np.ones((az.size, n)))
    np.testing.assert_allclose(ones, plain)
    with pytest.raises(ValueError, match="envelopes must have shape"):
        diffuse_field(pair, n, _rng(), num_directions=16, envelopes=np.ones((3, n)))


def test_hybrid_is_reproducible(pair: FreeFieldArray) -> None:
    a = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(4))
    b = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(4))
    c = room_response(ROOM, pair, RECEIVER_POS, SOURCE_POS, _rng(5))
    np.testing.assert_array_equal(a.full, b.full)
    assert not np.allclose(a.full, c.full)
    assert a.drr_db == pytest.approx(direct_to_reverberant_ratio(a.full, a.direct))


def test_free_field_direct_path_is_the_delayed_receiver_response() -> None:
    pair = FreeFieldArray(mic_pair(), FS)
    r = 1.2
    res = room_response(None, pair, None, spherical_to_cartesian(0.4, 0.1, r), _rng())
    ir = pair.impulse_responses(np.array([0.4]), np.array([0.1]))[0] / r  # onset at pair.onset
    shift = r / C * FS - pair.onset
    np.testing.assert_allclose(np.sum(res.direct**2, axis=-1), np.sum(ir**2, axis=-1), rtol=0.02)
    # Cross-correlation peak: the response is the receiver's, delayed by r / c minus its onset.
    for ch in range(2):
        lag = np.argmax(np.correlate(res.direct[ch], ir[ch], mode="full")) - (ir.shape[-1] - 1)
        assert abs(lag - shift) <= 0.5
