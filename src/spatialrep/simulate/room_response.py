"""Room impulse responses of a shoebox room for any :class:`~spatialrep.simulate.receivers.Receiver`.

Image sources come from a vectorised shoebox image lattice (Allen & Berkley), enumerated by distance rather
than reflection order so that every image arriving before a given time is included; pyroomacoustics' ISM gives
the same images (checked in the tests) but enumerates by order and is slow at the orders a 1 s response needs.
An image at distance ``r`` that met ``n`` walls contributes ``β^n / r`` (``β = sqrt(1 - absorption)``, the
free-field response at 1 m is 1) times the receiver's response for its direction of arrival in the receiver
frame, placed with a band-limited fractional delay so that the receiver's ``onset`` sample lands at ``r / c``
(time 0 of every response is the emission).

Two modes:

* ``"exact"`` (the reference): every image up to the response length (by default the time the room's expected
  Schroeder curve has decayed by 60 dB), each through its own direction's receiver response.
* ``"hybrid"`` (the default): the same images up to a transition time, then a late tail from
  :func:`~spatialrep.simulate.diffuse.diffuse_field` (independent noise per direction through the receiver, so
  the tail has the interaural/inter-microphone coherence of a diffuse field). Its level follows the image
  lattice's own energy density, computed in closed form without enumerating images
  (:func:`lattice_energy_density`; frequency-independent, as the walls are); each tail direction decays as the
  images arriving from it do (:meth:`ShoeboxRoom.directional_energy_envelope`); a factor measured on the
  rendered early reflections accounts for what rendering removes. The two parts are crossfaded with
  power-complementary (sine/cosine) windows.

Rendering cost: receivers whose responses repeat over directions (measured HRTFs with nearest-neighbour
lookup) are rendered by building one band-limited impulse train per distinct response and convolving once per
response in the frequency domain; receivers with direction-continuous responses (free-field arrays) are
rendered image by image in vectorised chunks. The direct path is always rendered on its own, by the same code
in both modes, so its samples are identical.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft
from scipy import signal as sps

from spatialrep.dsp import fractional_delay_kernel
from spatialrep.geometry.coordinates import (
    SPEED_OF_SOUND,
    cartesian_to_spherical,
    rotate_yaw,
    spherical_to_cartesian,
)
from spatialrep.simulate.diffuse import diffuse_field
from spatialrep.simulate.hrtf import HRTFGridWarning
from spatialrep.simulate.interpolated_tail import interpolated_tail
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.room_analysis import direct_to_reverberant_ratio
from spatialrep.simulate.rooms import ShoeboxRoom, check_inside

MODES = ("hybrid", "exact")
"""Valid values of ``room_response(mode=...)``."""

TAILS = ("directions", "knots")
"""Valid values of ``room_response(tail=...)``: the hybrid tail of render version ``v1`` (one noise per
direction, :func:`~spatialrep.simulate.diffuse.diffuse_field`) or ``v2``
(:func:`~spatialrep.simulate.interpolated_tail.interpolated_tail`)."""

MIN_SOURCE_DISTANCE = 0.05
"""Smallest source–receiver distance accepted, metres (the 1/r law is meaningless closer)."""

_KERNEL_HALF_WIDTH = 16
_CHUNK_BYTES = 48 * 2**20
_GROUP_BLOCK = 32
_MAX_GROUPS = 4096
_TRUNCATION_WARNING_DB = 40.0


@dataclass(frozen=True, eq=False)
class RoomResponse:
    """A room impulse response and its direct-path part.

    Attributes:
        full: full response, shape ``(channels, taps)``; sample 0 is the emission time.
        direct: the direct-path part alone, shape ``(channels, taps)``: exactly the samples the direct path
            contributes to ``full`` (``dry * direct`` is the clean direct signal).
        drr_db: direct-to-reverberant energy ratio over all channels, dB (``inf`` when anechoic).
        sample_rate: Hz.
        mode: ``"hybrid"`` or ``"exact"``.
        num_images: image sources rendered, direct path included.
        transition_time: centre of the crossfade into the late tail, seconds (``None``: no tail).
    """

    full: np.ndarray
    direct: np.ndarray
    drr_db: float
    sample_rate: int
    mode: str
    num_images: int
    transition_time: float | None


def image_sources(
    room: ShoeboxRoom,
    source_position: npt.ArrayLike,
    receiver_position: npt.ArrayLike,
    max_distance: float,
    *,
    jitter: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All image sources of a shoebox room within ``max_distance`` of the receiver.

    Args:
        room: the room.
        source_position: world coordinates, shape ``(3,)``, metres.
        receiver_position: world coordinates, shape ``(3,)``, metres.
        max_distance: metres (before jitter).
        jitter: randomized image method: every image but the direct path moves by a uniform offset in
            ``[-jitter, jitter]`` per axis, metres.
        seed: the offsets are a fixed function of ``seed`` and the image's lattice index, so the same image
            moves the same way whatever ``max_distance`` is.

    Returns:
        ``(offset, distance, order)``: world-frame vectors from the receiver to each image, shape ``(n, 3)``;
        their lengths, shape ``(n,)``, metres; and the number of wall reflections, shape ``(n,)``, int. The
        direct path (order 0) is included.

    References:
        E. De Sena et al., "On the modeling of rectangular geometries in room acoustic simulations", IEEE/ACM
        TASLP 23(4), 2015 (randomized image method).
    """
    size = room.dimensions
    s = np.asarray(source_position, dtype=np.float64)
    p = np.asarray(receiver_position, dtype=np.float64)
    coords, orders, lattice = [], [], []
    for k in range(3):
        half = math.ceil(max_distance / (2 * size[k])) + 1
        n = np.arange(-half, half + 1)
        # Image q = 0 sits at s + 2nL (|n| + |n| reflections), q = 1 at -s + 2nL (|n - 1| + |n|).
        c = np.concatenate([s[k] + 2 * n * size[k], -s[k] + 2 * n * size[k]]) - p[k]
        o = np.concatenate([2 * np.abs(n), np.abs(n - 1) + np.abs(n)])
        m = np.concatenate([2 * n, 2 * n + 1])  # lattice index, 0 for the direct path
        keep = np.abs(c) <= max_distance
        coords.append(c[keep])
        orders.append(o[keep])
        lattice.append(m[keep])
    (dx, dy, dz), (ox, oy, oz), (mx, my, mz) = coords, orders, lattice
    r2_yz = dy[:, None] ** 2 + dz[None, :] ** 2
    o_yz = oy[:, None] + oz[None, :]
    parts: list[tuple[np.ndarray, ...]] = []
    limit = max_distance**2
    for x, ord_x, m_x in zip(dx, ox, mx):  # one slab per x image: bounded memory, a few hundred iterations
        iy, iz = np.nonzero(r2_yz <= limit - x * x)
        if iy.size:
            parts.append(
                (
                    np.full(iy.size, x),
                    dy[iy],
                    dz[iz],
                    ord_x + o_yz[iy, iz],
                    np.full(iy.size, m_x),
                    my[iy],
                    mz[iz],
                )
            )
    if not parts:
        return np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=np.int64)
    joined = [np.concatenate([q[i] for q in parts]) for i in range(7)]
    offset = np.stack(joined[:3], axis=-1)
    order = joined[3].astype(np.int64)
    if jitter > 0:
        index = np.stack(joined[4:], axis=-1).astype(np.int64)  # (n, 3)
        offset += jitter * (2.0 * _hash_uniform(index, seed) - 1.0) * (order > 0)[:, None]
    return offset, np.linalg.norm(offset, axis=-1), order


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash_uniform(index: np.ndarray, seed: int) -> np.ndarray:
    """Uniform numbers in ``[0, 1)``, shape ``(n, 3)``: a counter-based hash of (seed, lattice index)."""
    with np.errstate(over="ignore"):
        key = _splitmix64(np.full(index.shape[0], seed % 2**64, dtype=np.uint64))
        for k in range(3):
            key = _splitmix64(key ^ index[:, k].astype(np.uint64))
        out = np.stack([_splitmix64(key + np.uint64(k + 1)) for k in range(3)], axis=-1)
    return (out >> np.uint64(11)).astype(np.float64) / float(2**53)


def _scatter(out: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``out[c, index] += values[c]``, index ``(n, m)`` ≥ 0, values ``(C, n, m)``; beyond the end dropped."""
    channels, length = out.shape
    width = max(length, int(index.max(initial=0)) + 1)  # a row per channel, wide enough for every index
    flat = (np.arange(channels)[:, None, None] * width + index[None]).ravel()
    summed = np.bincount(flat, weights=values.ravel(), minlength=channels * width)
    out += summed.reshape(channels, width)[:, :length]


def _render(
    receiver: Receiver,
    azimuth: np.ndarray,
    elevation: np.ndarray,
    start: np.ndarray,
    amplitude: np.ndarray,
    num_samples: int,
    ir_len: int,
) -> tuple[np.ndarray, float]:
    """Sum of ``amplitude * receiver IR(direction)`` with IR sample 0 at fractional sample ``start``.

    Args:
        ir_len: taps of the receiver's responses.

    Returns:
        ``(signal, lost_energy)``: shape ``(C, num_samples)``; energy that fell before sample 0.
    """
    first, taps = fractional_delay_kernel(start, _KERNEL_HALF_WIDTH)  # (n,), (n, K)
    inside = first < num_samples  # later images would land wholly beyond the end
    if not np.all(inside):
        first, taps, amplitude = first[inside], taps[inside], amplitude[inside]
        azimuth, elevation = azimuth[inside], elevation[inside]
    taps = taps * amplitude[:, None]
    lead = max(0, -int(first.min())) if first.size else 0
    length = num_samples + lead
    out = np.zeros((receiver.num_channels, length))
    first = first + lead
    groups: dict[bytes, int] = {}
    group_irs: list[np.ndarray] = []
    grouped_img: list[np.ndarray] = []
    grouped_gid: list[np.ndarray] = []
    n = azimuth.size
    conv_len = ir_len + taps.shape[-1] - 1
    nfft = sfft.next_fast_len(conv_len, real=True)
    chunk = max(64, _CHUNK_BYTES // (16 * out.shape[0] * nfft))
    for lo in range(0, n, chunk):
        sl = slice(lo, min(n, lo + chunk))
        irs = receiver.impulse_responses(azimuth[sl], elevation[sl])  # (m, C, L)
        m = irs.shape[0]
        flat = irs.reshape(m, -1)
        keyed = _group_rows(flat) if m >= 64 and len(groups) < _MAX_GROUPS else None
        # A group costs FFTs over the whole response, an image one short FFT: use impulse trains only when
        # images per distinct response (extrapolated from this chunk) outnumber that cost ratio.
        trains = (
            keyed is not None and n >= keyed[0].size * sfft.next_fast_len(length + ir_len, real=True) / nfft
        )
        if keyed is not None and trains:
            # Responses repeat (measured grid): defer to one impulse train per distinct response.
            representative, inverse = keyed
            gids = np.empty(representative.size, dtype=np.int64)
            for u, row in enumerate(representative):
                key = flat[row].tobytes()
                if key not in groups:
                    groups[key] = len(group_irs)
                    group_irs.append(irs[row])
                gids[u] = groups[key]
            grouped_img.append(np.arange(sl.start, sl.stop))
            grouped_gid.append(gids[inverse])
            continue
        if keyed is not None:  # transform each distinct response once
            irs_f = sfft.rfft(irs[keyed[0]], nfft, axis=-1)[keyed[1]]
        else:
            irs_f = sfft.rfft(irs, nfft, axis=-1)
        spec = irs_f.transpose(1, 0, 2) * sfft.rfft(taps[sl], nfft, axis=-1)  # (C, m, F)
        contrib = sfft.irfft(spec, nfft, axis=-1)[..., :conv_len]
        _scatter(out, first[sl, None] + np.arange(conv_len), contrib)
    if grouped_img:
        _render_grouped(out, np.concatenate(grouped_img), np.concatenate(grouped_gid), group_irs, first, taps)
    lost = float(np.sum(out[:, :lead] ** 2))
    return out[:, lead:], lost


_KEY_WEIGHTS = np.cos(np.arange(4096) * 0.7548776662466927) + 1.5  # fixed, distinct, positive


def _group_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Index of one row per distinct row and each row's group, or ``None`` when rows hardly repeat.

    Rows are keyed by a weighted sum of a few of their columns (a 1-D sort instead of a row-wise one); the
    grouping is then verified exactly, so a key collision only costs the fallback.
    """
    m, width = rows.shape
    cols = np.linspace(0, width - 1, min(width, 64)).astype(np.int64)
    keys = rows[:, cols] @ _KEY_WEIGHTS[: cols.size]
    _, representative, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if representative.size > m // 4 or not np.array_equal(rows, rows[representative[inverse]]):
        return None
    return representative, inverse.reshape(-1)


def _render_grouped(
    out: np.ndarray,
    images: np.ndarray,
    gids: np.ndarray,
    group_irs: list[np.ndarray],
    first: np.ndarray,
    taps: np.ndarray,
) -> None:
    """Add ``sum_g IR_g * (impulse train of group g)`` to ``out``; one bincount per block of groups."""
    channels, length = out.shape
    ir_len = group_irs[0].shape[-1]
    nfft = sfft.next_fast_len(length + ir_len - 1, real=True)
    order = np.argsort(gids, kind="stable")
    images, gids = images[order], gids[order]
    total = np.zeros((channels, nfft // 2 + 1), dtype=np.complex128)
    k = taps.shape[-1]
    for g0 in range(0, len(group_irs), _GROUP_BLOCK):
        g1 = min(len(group_irs), g0 + _GROUP_BLOCK)
        a, b = np.searchsorted(gids, [g0, g1])
        sel = images[a:b]
        idx = first[sel, None] + np.arange(k)
        valid = idx < length
        flat = ((gids[a:b, None] - g0) * length + idx)[valid]
        trains = np.bincount(flat, weights=taps[sel][valid], minlength=(g1 - g0) * length)
        trains_f = sfft.rfft(trains.reshape(g1 - g0, length), nfft, axis=-1)
        irs_f = sfft.rfft(np.stack(group_irs[g0:g1]), nfft, axis=-1)  # (B, C, F)
        total += np.einsum("bf,bcf->cf", trains_f, irs_f)
    out += sfft.irfft(total, nfft, axis=-1)[:, :length]


def _directions(offset: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    azimuth, elevation, _ = cartesian_to_spherical(rotate_yaw(offset, -yaw))
    return azimuth, elevation


def room_response(
    room: ShoeboxRoom | None,
    receiver: Receiver,
    receiver_position: npt.ArrayLike | None,
    source_position: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    receiver_yaw: float = 0.0,
    mode: str = "hybrid",
    length: float | None = None,
    transition_time: float | None = None,
    crossfade_time: float = 0.005,
    num_directions: int = 64,
    highpass_hz: float | None = 20.0,
    image_jitter: float = 0.08,
    max_images: int = 20_000_000,
    tail: str = "directions",
) -> RoomResponse:
    """Impulse response from a source to a receiver in a shoebox room.

    Args:
        room: the room; an anechoic room or ``None`` (free field, no walls) gives the direct path only.
        receiver: the listener (binaural head or array); its sample rate is the response's.
        receiver_position: world position of the receiver centre, shape ``(3,)``, metres (``None``: the
            origin, only without a room).
        source_position: world position of the source, shape ``(3,)``, metres.
        rng: random generator of the image jitter and the hybrid late tail (unused by anechoic rooms).
        receiver_yaw: receiver orientation: world azimuth its front faces, radians.
        mode: ``"hybrid"`` (image sources, then a diffuse tail) or ``"exact"`` (image sources throughout).
        length: response length in seconds from emission; default: until the room's expected decay curve has
            fallen by 60 dB (anechoic: until the direct path has ended).
        transition_time: hybrid only, seconds from emission to the crossfade centre; default
            ``max(80 ms, 2 * mixing_time, direct arrival + 20 ms)``.
        crossfade_time: hybrid only, crossfade duration in seconds.
        num_directions: hybrid only, directions of the diffuse tail.
        highpass_hz: cut-off of the causal 2nd-order Butterworth high-pass applied to the reflections (not to
            the direct path), or ``None``. Image sources with real, positive reflection coefficients add up
            coherently near 0 Hz (Allen & Berkley's DC build-up: ~10 dB of spurious energy in a 0.3 s room at
            16 kHz); the filter removes it so the reflections carry the incoherent energy the room model and
            the diffuse tail describe.
        image_jitter: randomized image method (De Sena et al. 2015; pyroomacoustics' ``use_rand_ism``): each
            reflected image moves by up to this many metres per axis, drawn from ``rng`` and identical in both
            modes. A perfectly regular image lattice makes near-axial images arrive in tight coherent clusters
            (sweeping echoes) whose late energy shifts towards low frequencies: through a head that lowers the
            late binaural energy by up to ~5 dB below the incoherent room model. 0 gives the regular lattice.
        max_images: refuse to render more image sources than this (memory and time guard).
        tail: hybrid only: ``"directions"`` (render version ``v1``) or ``"knots"`` (``v2``: the tail of
            :func:`~spatialrep.simulate.interpolated_tail.interpolated_tail`, and the early reflections
            rendered only up to the end of the crossfade, as later samples are faded out anyway).

    Returns:
        The response, its direct part, the DRR and the sample rate.

    Raises:
        ValueError: unknown mode (valid ones listed), positions outside the room, a source within
            ``MIN_SOURCE_DISTANCE`` of the receiver, a non-positive or too short length, a transition time not
            after the direct path plus half the crossfade, a negative crossfade, ``num_directions < 1``, or
            more than ``max_images`` images needed (use ``"hybrid"`` or a shorter ``length``).
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    Warns:
        UserWarning: ``length`` cuts the response before it has decayed by 40 dB, or the source is so close
            that part of the receiver's response would start before time 0 (that part is dropped).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if tail not in TAILS:
        raise ValueError(f"unknown tail {tail!r}; valid: {', '.join(TAILS)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not crossfade_time >= 0:
        raise ValueError(f"crossfade_time must be >= 0 s, got {crossfade_time}")
    if num_directions < 1:
        raise ValueError(f"num_directions must be >= 1, got {num_directions}")
    if not (math.isfinite(image_jitter) and image_jitter >= 0):
        raise ValueError(f"image_jitter must be finite and >= 0 m, got {image_jitter}")
    if highpass_hz is not None and not (0 < highpass_hz < receiver.sample_rate / 2):
        raise ValueError(
            f"highpass_hz must be None or in (0, {receiver.sample_rate / 2}) Hz (Nyquist), got {highpass_hz}"
        )
    if room is None:
        p = np.zeros(3) if receiver_position is None else _point(receiver_position, "receiver_position")
        s = _point(source_position, "source_position")
    else:
        if receiver_position is None:
            raise ValueError(f"receiver_position is required in room {room.id!r} (None only without a room)")
        p = check_inside(room, receiver_position, 0.0, "receiver")
        s = check_inside(room, source_position, 0.0, "source")
    r0 = float(np.linalg.norm(s - p))
    if r0 < MIN_SOURCE_DISTANCE:
        raise ValueError(
            f"source is {r0:.4f} m from the receiver, closer than MIN_SOURCE_DISTANCE={MIN_SOURCE_DISTANCE} m"
        )
    fs = receiver.sample_rate
    c = SPEED_OF_SOUND
    onset = receiver.onset
    t_direct = r0 / c

    az0, el0 = _directions((s - p)[None, :], receiver_yaw)
    ir_len = receiver.impulse_responses(az0, el0).shape[-1]
    # Samples after the centre arrival that an image's contribution can still occupy.
    tail_samples = ir_len - onset + _KERNEL_HALF_WIDTH + 1
    min_samples = math.ceil(t_direct * fs) + tail_samples
    anechoic = room is None or room.is_anechoic
    if length is None:
        num_samples = min_samples if room is None else max(min_samples, math.ceil(room.decay_time(60.0) * fs))
    else:
        if not (math.isfinite(length) and length > 0):
            raise ValueError(f"length must be finite and > 0 s, got {length}")
        num_samples = math.ceil(length * fs)
        if num_samples < min_samples:
            raise ValueError(
                f"length {length} s is too short: the direct path alone needs {min_samples / fs:.4f} s "
                f"(source {r0:.3f} m away)"
            )
        if room is not None and not anechoic and length < room.decay_time(_TRUNCATION_WARNING_DB):
            warnings.warn(
                f"length {length} s truncates the response of room {room.id!r} before it has decayed by "
                f"{_TRUNCATION_WARNING_DB:.0f} dB (needs {room.decay_time(_TRUNCATION_WARNING_DB):.3f} s)",
                stacklevel=2,
            )
    duration = num_samples / fs

    direct, lost = _render(
        receiver, az0, el0, np.array([t_direct * fs - onset]), np.array([1.0 / r0]), num_samples, ir_len
    )
    if lost > 1e-3 * (lost + float(np.sum(direct**2))):
        warnings.warn(
            f"source at {r0:.3f} m is so close that "
            f"{10 * math.log10(lost / (lost + np.sum(direct**2))):.1f} dB of the receiver's response falls "
            "before time 0 and is dropped",
            stacklevel=2,
        )
    if room is None or anechoic:
        return RoomResponse(direct.copy(), direct, math.inf, fs, mode, 1, None)

    t_tr: float | None = None
    if mode == "hybrid":
        t_tr = transition_time
        if t_tr is None:
            t_tr = max(0.08, 2.0 * room.mixing_time, t_direct + 0.02)
        elif not (math.isfinite(t_tr) and t_tr > t_direct + crossfade_time / 2):
            raise ValueError(
                f"transition_time {t_tr} s must come after the direct path ({t_direct:.4f} s) plus half the "
                f"crossfade ({crossfade_time / 2} s)"
            )
        if t_tr + crossfade_time / 2 >= duration:
            t_tr = None  # the response ends before the tail would start: all image sources

    reach = (
        c * ((t_tr + crossfade_time / 2) if t_tr is not None else duration)
        + c * (onset + _KERNEL_HALF_WIDTH) / fs
    )
    expected = 4.0 / 3.0 * math.pi * reach**3 / room.volume
    if expected > max_images:
        raise ValueError(
            f"about {expected:.3g} image sources needed (> max_images={max_images}) for {reach / c:.3f} s in "
            f"room {room.id!r}; use mode='hybrid' or a shorter length"
        )
    seed = int(rng.integers(2**63)) if image_jitter > 0 else 0
    offset, distance, order = image_sources(room, s, p, reach, jitter=image_jitter, seed=seed)
    reflected = order > 0
    offset, distance, order = offset[reflected], distance[reflected], order[reflected]
    amplitude = np.exp(order * math.log(room.reflection_coefficient)) / distance
    az, el = _directions(offset, receiver_yaw)
    with warnings.catch_warnings():
        # Floor reflections arrive from below what measured HRTF sets cover (KEMAR stops at -40°): they take
        # the nearest measured response by design, so only the direct path may warn about the grid.
        warnings.simplefilter("ignore", HRTFGridWarning)
        early_samples = num_samples
        if tail == "knots" and t_tr is not None:  # everything after the crossfade is faded out
            early_samples = min(num_samples, math.ceil((t_tr + crossfade_time / 2) * fs) + 1)
        early, _ = _render(receiver, az, el, distance / c * fs - onset, amplitude, early_samples, ir_len)
    if highpass_hz is not None:
        early = sps.sosfilt(_highpass(highpass_hz, fs).copy(), early, axis=-1)  # sosfilt wants it writable
    if early.shape[-1] < num_samples:
        early = np.pad(early, ((0, 0), (0, num_samples - early.shape[-1])))
    num_images = 1 + distance.size
    if t_tr is None:
        response = direct + early
    else:
        reverberant = _add_tail(
            early,
            room,
            receiver,
            receiver_yaw,
            rng,
            t_tr,
            crossfade_time,
            num_directions,
            distance / c,
            amplitude,
            az,
            el,
            lattice_energy_density(room, s, p, np.arange(num_samples) / fs),
            knots=tail == "knots",
        )
        response = direct + reverberant
    drr = direct_to_reverberant_ratio(response, direct)
    return RoomResponse(response, direct, drr, fs, mode, num_images, t_tr)


@functools.lru_cache(maxsize=16)
def _highpass(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """The 2nd-order Butterworth high-pass of the reflections as second-order sections (read-only): designed
    once per cut-off and rate, the same coefficients every call (about 1.6 ms per response otherwise)."""
    sos = sps.butter(2, cutoff_hz, "highpass", fs=sample_rate, output="sos")
    sos.setflags(write=False)
    return sos


def _point(position: npt.ArrayLike, name: str) -> np.ndarray:
    p = np.asarray(position, dtype=np.float64)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be three finite coordinates (x, y, z) in metres, got {position!r}")
    return p


def _add_tail(
    early: np.ndarray,
    room: ShoeboxRoom,
    receiver: Receiver,
    receiver_yaw: float,
    rng: np.random.Generator,
    t_tr: float,
    crossfade: float,
    num_directions: int,
    arrival: np.ndarray,
    amplitude: np.ndarray,
    azimuth_images: np.ndarray,
    elevation_images: np.ndarray,
    density: np.ndarray,
    knots: bool = False,
) -> np.ndarray:
    """Crossfade the rendered reflections into a diffuse tail whose mean energy per second is ``density``.

    ``knots``: the tail of :func:`~spatialrep.simulate.interpolated_tail.interpolated_tail` (render version
    ``v2``) instead of one noise per direction.
    """
    fs = receiver.sample_rate
    num_samples = early.shape[-1]
    t = np.arange(num_samples) / fs
    if crossfade > 0:
        x = np.clip((t - (t_tr - crossfade / 2)) / crossfade, 0.0, 1.0)
    else:
        x = (t >= t_tr).astype(np.float64)
    fade_out, fade_in = np.cos(0.5 * np.pi * x), np.sin(0.5 * np.pi * x)
    out = early * fade_out
    active = np.flatnonzero(fade_in > 0)
    if active.size == 0:
        return out
    start = int(active[0])
    first = min(int(t_tr / 2 * fs), start - 1)

    # The ratio of the rendered energy of the reflections of [t_tr / 2, start) to their energy through the
    # receiver corrects for what rendering removes (high-pass, fractional-delay band limit).
    window = (arrival >= first / fs) & (arrival < start / fs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HRTFGridWarning)
        ir_energy = np.sum(
            receiver.impulse_responses(azimuth_images[window], elevation_images[window]) ** 2, -1
        )
    through = float(np.sum(amplitude[window] ** 2 * np.sum(ir_energy, axis=-1)))
    rendered = float(np.sum(early[:, first:start] ** 2))
    correction = rendered / through if through > 0 and rendered > 0 else 1.0
    if knots:
        power = correction / fs * density[start:] * fade_in[start:] ** 2
        out[:, start:] += interpolated_tail(
            room, receiver, receiver_yaw, rng, t[start:], power, num_directions=num_directions
        )
        return out
    # Each tail direction decays like the images arriving from it (the ISM's late field is anisotropic),
    # normalised so that the directions' mean is the image lattice's own energy density.
    azimuth, elevation = receiver.diffuse_directions(num_directions)
    world = rotate_yaw(spherical_to_cartesian(azimuth, elevation), receiver_yaw)
    envelope = room.directional_energy_envelope(t[start:], world)  # (n, T - start)
    envelope *= density[start:] / np.maximum(envelope.mean(axis=0), 1e-300)
    # diffuse_field then gives channel c the energy per sample correction / fs * mean_d P_dc envelope_d(t),
    # P_dc the energy of direction d's response: the expected energy of the images through the receiver.
    gains = np.sqrt(correction / fs * envelope) * fade_in[start:]
    noise = diffuse_field(receiver, num_samples - start, rng, num_directions=num_directions, envelopes=gains)
    out[:, start:] += noise
    return out


def lattice_energy_density(
    room: ShoeboxRoom,
    source_position: npt.ArrayLike,
    receiver_position: npt.ArrayLike,
    time: npt.ArrayLike,
    smoothing: float = 0.01,
) -> np.ndarray:
    """Reflection energy per second of the (unjittered) image lattice, omnidirectional, at given times.

    ``sum over images of β^(2n) / r²`` per unit arrival time, direct path excluded, moving-average smoothed.
    Computed without enumerating images: the weights ``β^(2n)`` factor over the three axes, so the weighted
    distribution of ``r² = dx² + dy² + dz²`` is the convolution of three one-axis distributions (one FFT
    convolution on a grid of squared distances). Cheap for any response length; it carries the lattice's own
    structure (axial echo shells, early departures from the room's continuous average) that the hybrid tail
    follows.

    Args:
        room: the room (not anechoic).
        source_position, receiver_position: world coordinates, shape ``(3,)``, metres.
        time: seconds since emission, shape ``(T,)``, increasing.
        smoothing: moving-average length, seconds.

    Returns:
        shape ``(T,)``, energy per second (free-field energy at 1 m = 1).
    """
    t = np.asarray(time, dtype=np.float64)
    c = SPEED_OF_SOUND
    r_max = c * float(t.max()) + 1.0
    # Squared-distance grid: fine enough to resolve 1 ms at 10 m.
    du = 2.0 * 10.0 * c * 1e-3
    n_u = math.ceil(r_max**2 / du) + 2
    size = room.dimensions
    s = np.asarray(source_position, dtype=np.float64)
    p = np.asarray(receiver_position, dtype=np.float64)
    beta2 = 1.0 - room.absorption
    axes = []
    direct_index, direct_weights = 0, np.ones(1)  # the direct path's own deposit, removed below
    for k in range(3):
        half = math.ceil(r_max / (2 * size[k])) + 1
        n = np.arange(-half, half + 1)
        d = np.concatenate([s[k] + 2 * n * size[k], -s[k] + 2 * n * size[k]]) - p[k]
        order = np.concatenate([2 * np.abs(n), np.abs(n - 1) + np.abs(n)])
        u = d**2 / du
        keep = u < n_u - 1
        # Linear (cloud-in-cell) deposit of each image's weight on the squared-distance grid.
        lo = np.floor(u[keep]).astype(np.int64)
        frac = u[keep] - lo
        w = beta2 ** order[keep].astype(np.float64)
        hist = np.bincount(lo, w * (1 - frac), minlength=n_u) + np.bincount(lo + 1, w * frac, minlength=n_u)
        axes.append(hist[:n_u])
        u0 = (s[k] - p[k]) ** 2 / du  # n = 0, q = 0 on every axis
        direct_index += math.floor(u0)
        direct_weights = np.convolve(direct_weights, [1.0 - (u0 - math.floor(u0)), u0 - math.floor(u0)])
    nfft = sfft.next_fast_len(3 * n_u, real=True)
    spectrum = sfft.rfft(axes[0], nfft) * sfft.rfft(axes[1], nfft) * sfft.rfft(axes[2], nfft)
    weights = sfft.irfft(spectrum, nfft)[:n_u]  # Σ β^(2n) per squared-distance bin
    end = min(n_u, direct_index + direct_weights.size)
    weights[direct_index:end] -= direct_weights[: end - direct_index]
    u = (np.arange(n_u) + 0.0) * du
    r = np.sqrt(np.maximum(u, du / 4))
    energy = np.maximum(weights, 0.0) / r**2  # per bin
    # Bin energies to 1 ms arrival bins, then smooth.
    step = 1e-3
    edges = np.arange(0.0, float(t.max()) + 2 * step, step)
    binned = np.histogram(r / c, edges, weights=energy)[0]
    width = max(1, round(smoothing / step))
    kernel = np.ones(width) / width
    support = np.convolve(np.ones(binned.size), kernel, mode="same")
    density = np.convolve(binned, kernel, mode="same") / np.maximum(support, 1e-12) / step
    return np.interp(t, edges[:-1] + step / 2, density)
