"""On-the-fly binaural speech for SQM-BS: BRIR and dry-speech banks, triplets, degraded pairs, sweep sets.

Every clip is rendered on demand: a dry utterance from a cached pool (:class:`DryBank`, synthetic speech,
voices split by ``SourceBank.partition``) convolved with a cached binaural room impulse response
(:class:`BrirBank`: KEMAR plus synthetic spherical heads, in random shoebox rooms or the free field,
:func:`~spatialrep.simulate.room_response.room_response`), plus white noise. All randomness derives from
``(seed, name, index)`` (:mod:`spatialrep.seeding`), so item ``i`` is the same whenever and wherever it is
drawn (the SCE measurement-set pattern, without the feature reduction).

A clip is ``(3, samples)`` float32: left, right and the dry mono (aligned with the binaural signal).

* :class:`TripletDataset`: anchor, positive and negative with three different utterances, same head and room,
  ``angle(anchor, positive) < angle(anchor, negative)`` (random triplets, no mining).
* :class:`PairDataset`: a reference and a degraded copy, one :data:`DEGRADATIONS` kind at a graded severity;
  severity 0 is the identical signal.
* :class:`ClipDataset`: single clips at given directions (localization and retrieval sets).

Splits (:class:`SqmScenes`): ``train`` and ``test`` share heads, rooms and voices (different utterances, the
paper's held-out D1 recordings); ``unseen`` holds out rooms, heads and voices (the D2 analogue).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import signal as sps
from torch.utils.data import Dataset

from spatialrep import seeding
from spatialrep.dsp import fft_convolve, fractional_delay_kernel
from spatialrep.simulate.noise import white
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.simulate.room_response import room_response
from spatialrep.simulate.rooms import RoomSampler, ShoeboxRoom, source_offset
from spatialrep.simulate.sources import make_source_bank
from spatialrep.simulate.spherical_head import make_synthetic_subjects

__all__ = [
    "DEGRADATIONS",
    "SPLITS",
    "BrirBank",
    "ClipDataset",
    "DryBank",
    "PairDataset",
    "SqmDataConfig",
    "SqmScenes",
    "TripletDataset",
    "angle_between",
    "degrade",
]

SPLITS = ("train", "test", "unseen")

DEGRADATIONS: Mapping[str, tuple[float, ...]] = {
    "azimuth": (0.0, 5.0, 10.0, 20.0, 40.0, 80.0),  # degrees added to the azimuth
    "elevation": (0.0, 5.0, 10.0, 20.0, 40.0, 80.0),  # degrees added to the elevation
    "hrtf": (0.0, 1.0),  # another head
    "ild": (0.0, 1.0, 3.0, 6.0, 12.0),  # dB added to left-minus-right level
    "itd": (0.0, 50.0, 100.0, 200.0, 400.0),  # microseconds of extra delay of the right ear
    "rt60": (0.0, 0.2, 0.4, 0.8),  # seconds added to the room's RT60
    "lowpass": (0.0, 6000.0, 4000.0, 2000.0, 1000.0),  # cut-off, Hz (0: none)
    "codec": (0.0, 4000.0, 2000.0, 1000.0, 500.0),  # parametric-stereo proxy: mid above this, Hz (0: none)
    "width": (0.0, 0.25, 0.5, 0.75, 1.0),  # mix towards the mid (1: mono)
    "content": (0.0, 1.0),  # another utterance, same BRIR
}
"""Degradation kinds and their severities, mildest (0 = none) first."""

# Rooms large enough for a 1 m source at any direction from a centred receiver.
ROOMS = RoomSampler(size_range=((4.0, 8.0), (3.5, 6.0), (2.8, 3.4)), rt60_range=(0.2, 0.6))
SOURCE_DISTANCE_M = 1.0
RECEIVER_HEIGHT_M = 1.4
KEMAR = "kemar:interpolation=interpolated"


@dataclasses.dataclass(frozen=True)
class SqmDataConfig:
    """What the SQM-BS clips are made of.

    Attributes:
        sample_rate: Hz.
        segment_s: clip length, seconds.
        azimuth_step_deg: training direction grid step over the full circle (also the DoA class width).
        elevations_deg: training elevation rings (the DoA elevation classes).
        rooms: random training rooms (besides the free field when ``anechoic``).
        anechoic: also render in the free field.
        synthetic_heads: spherical-head subjects besides KEMAR.
        unseen_rooms, unseen_heads: held-out rooms and spherical heads of the ``unseen`` split (no rooms: the
            free field, which then holds out heads and voices only).
        unseen_voice_fraction: share of the voices held out for ``unseen``.
        pool_size: utterances in each split's dry pool.
        snr_db: white noise added to each ear (``None``: none).
        seed: data seed.
    """

    sample_rate: int = 16000
    segment_s: float = 0.5
    azimuth_step_deg: float = 10.0
    elevations_deg: tuple[float, ...] = (-20.0, 0.0, 20.0, 40.0)
    rooms: int = 2
    anechoic: bool = True
    synthetic_heads: int = 1
    unseen_rooms: int = 1
    unseen_heads: int = 1
    unseen_voice_fraction: float = 0.2
    pool_size: int = 64
    snr_db: float | None = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.sample_rate, int) and self.sample_rate >= 8000):
            raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {self.sample_rate!r}")
        if not (math.isfinite(self.segment_s) and 0.05 <= self.segment_s <= 10.0):
            raise ValueError(f"segment_s must be in [0.05, 10] seconds, got {self.segment_s!r}")
        if not (0 < self.azimuth_step_deg <= 90 and (360.0 / self.azimuth_step_deg).is_integer()):
            raise ValueError(
                f"azimuth_step_deg must divide 360 and be in (0, 90], got {self.azimuth_step_deg!r}"
            )
        object.__setattr__(self, "elevations_deg", tuple(float(e) for e in self.elevations_deg))
        if not self.elevations_deg or any(not -40 <= e <= 80 for e in self.elevations_deg):
            raise ValueError(
                f"elevations_deg must be non-empty, within [-40, 80], got {self.elevations_deg!r}"
            )
        if sorted(set(self.elevations_deg)) != list(self.elevations_deg):
            raise ValueError(f"elevations_deg must be increasing and distinct, got {self.elevations_deg!r}")
        for name in ("rooms", "synthetic_heads", "unseen_rooms", "unseen_heads"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 0):
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.rooms == 0 and not self.anechoic:
            raise ValueError("give rooms >= 1 or anechoic: true (no acoustic condition to render)")
        if self.unseen_heads < 1:
            raise ValueError("unseen_heads must be >= 1 (the unseen split needs a head)")
        if self.unseen_rooms < 1 and not self.anechoic:
            raise ValueError("unseen_rooms must be >= 1 unless anechoic (the unseen split needs a room)")
        if not 0 < self.unseen_voice_fraction < 1:
            raise ValueError(f"unseen_voice_fraction must be in (0, 1), got {self.unseen_voice_fraction!r}")
        if not (isinstance(self.pool_size, int) and self.pool_size >= 4):
            raise ValueError(f"pool_size must be an integer >= 4, got {self.pool_size!r}")
        if self.snr_db is not None and not math.isfinite(self.snr_db):
            raise ValueError(f"snr_db must be a number or null, got {self.snr_db!r}")

    @property
    def num_samples(self) -> int:
        return round(self.segment_s * self.sample_rate)

    @property
    def azimuths_deg(self) -> np.ndarray:
        """Azimuth class centres, ``[-180, 180)`` degrees."""
        return -180.0 + self.azimuth_step_deg * np.arange(round(360.0 / self.azimuth_step_deg))

    def azimuth_class(self, azimuth_deg: Any) -> np.ndarray:
        """Nearest azimuth class of each angle (degrees)."""
        count = len(self.azimuths_deg)
        return (
            np.round((np.asarray(azimuth_deg, np.float64) + 180.0) / self.azimuth_step_deg).astype(int)
            % count
        )

    def elevation_class(self, elevation_deg: Any) -> np.ndarray:
        """Nearest elevation ring of each angle (degrees)."""
        rings = np.asarray(self.elevations_deg)
        return np.abs(np.asarray(elevation_deg, np.float64)[..., None] - rings).argmin(axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def angle_between(az1: Any, el1: Any, az2: Any, el2: Any) -> np.ndarray:
    """Great-circle angle between directions (degrees in, degrees out)."""
    a1, e1, a2, e2 = (np.radians(np.asarray(v, np.float64)) for v in (az1, el1, az2, el2))
    cos = np.sin(e1) * np.sin(e2) + np.cos(e1) * np.cos(e2) * np.cos(a1 - a2)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def wrap_deg(angle: Any) -> np.ndarray:
    """Angles wrapped to ``[-180, 180)`` degrees."""
    return (np.asarray(angle, np.float64) + 180.0) % 360.0 - 180.0


class BrirBank:
    """Binaural room impulse responses by (head, room, direction), rendered once and kept in memory.

    The receiver stands at the room's centre (1.4 m high) facing +x; the source is 1 m away. ``room=None`` is
    the free field.

    Args:
        heads: receivers (KEMAR, spherical heads) at one sample rate.
        rooms: rooms (``None``: free field).
        seed: seed of the late-tail randomness (one stream per BRIR).
    """

    def __init__(self, heads: Sequence[Any], rooms: Sequence[ShoeboxRoom | None], seed: int) -> None:
        if not heads or not rooms:
            raise ValueError("BrirBank needs at least one head and one room (or None for the free field)")
        self.heads, self.rooms, self.seed = list(heads), list(rooms), seed
        self._cache: dict[tuple[Any, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def brir(
        self, head: int, room: int, azimuth_deg: float, elevation_deg: float, rt60_add: float = 0.0
    ) -> np.ndarray:
        """``(2, taps)`` float64, cached."""
        az, el = round(float(wrap_deg(azimuth_deg)), 4), round(float(elevation_deg), 4)
        key = (head, room, az, el, round(rt60_add, 4))
        if key not in self._cache:
            shoebox = self.rooms[room]
            if shoebox is not None and rt60_add:
                shoebox = ShoeboxRoom(
                    f"{shoebox.id}+{rt60_add:g}s", shoebox.size, (shoebox.rt60 or 0.0) + rt60_add
                )
            elif shoebox is None and rt60_add:
                shoebox = ShoeboxRoom(f"free+{rt60_add:g}s", (6.0, 5.0, 3.0), rt60_add)
            rng = seeding.rng(self.seed, "brir", head, room, f"{az:.4f}", f"{el:.4f}", f"{rt60_add:.4f}")
            if shoebox is None:
                receiver = np.zeros(3)
            else:
                size = np.asarray(shoebox.size)
                receiver = np.array([size[0] / 2, size[1] / 2, RECEIVER_HEIGHT_M])
            source = receiver + source_offset(math.radians(az), math.radians(el), SOURCE_DISTANCE_M, 0.0)
            self._cache[key] = room_response(shoebox, self.heads[head], receiver, source, rng).full
        return self._cache[key]


class DryBank:
    """A pool of dry speech utterances of one voice set, synthesised once.

    Args:
        voices: the speakers (units of the speech bank).
        pool_size: utterances.
        length: samples per utterance.
        sample_rate: Hz.
        seed, name: the randomness.
    """

    def __init__(
        self, voices: Sequence[str], pool_size: int, length: int, sample_rate: int, seed: int, name: str
    ) -> None:
        bank = make_source_bank("speech").partition(voices)
        self.voices = tuple(voices)
        clips = []
        for index in range(pool_size):
            rng = seeding.rng(seed, "dry", name, spawn_key=(index,))
            clips.append(bank.sample(rng, length / sample_rate, sample_rate).signal)
        self.clips = np.stack(clips)

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    def draw(self, rng: np.random.Generator, count: int) -> list[int]:
        """``count`` different utterance indices."""
        return [int(i) for i in rng.choice(len(self), size=count, replace=False)]


def _voices(seed: int, unseen_fraction: float) -> tuple[list[str], list[str]]:
    units = sorted(make_source_bank("speech").units())
    order = seeding.rng(seed, "voices").permutation(len(units))
    held = max(1, round(unseen_fraction * len(units)))
    unseen = sorted(units[i] for i in order[:held])
    seen = sorted(units[i] for i in order[held:])
    return seen, unseen


class SqmScenes:
    """Heads, rooms, voices and the renderer of one split (``train``, ``test`` or ``unseen``)."""

    def __init__(self, config: SqmDataConfig, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        self.config, self.split = config, split
        rate, seed = config.sample_rate, config.seed
        spheres = make_synthetic_subjects(
            config.synthetic_heads + config.unseen_heads, seeding.rng(seed, "heads"), sample_rate=rate
        )
        rooms_rng = seeding.rng(seed, "rooms")
        all_rooms = [
            ROOMS.sample(rooms_rng, room_id=f"sqm_room_{i}")
            for i in range(config.rooms + config.unseen_rooms)
        ]
        seen_voices, unseen_voices = _voices(seed, config.unseen_voice_fraction)
        if split == "unseen":
            heads: list[Any] = spheres[config.synthetic_heads :]
            rooms: list[ShoeboxRoom | None] = list(all_rooms[config.rooms :]) or [None]
            voices = unseen_voices
        else:
            heads = [make_receiver(KEMAR, rate), *spheres[: config.synthetic_heads]]
            rooms = ([None] if config.anechoic else []) + list(all_rooms[: config.rooms])
            voices = seen_voices
        self.head_names = [getattr(h, "name", str(h)) for h in heads]
        self.room_names = ["free-field" if r is None else r.id for r in rooms]
        self.brirs = BrirBank(heads, rooms, seed)
        # One second of history before the segment, so the segment holds the reverberant steady state.
        self.history = rate
        self.dry = DryBank(voices, config.pool_size, config.num_samples + self.history, rate, seed, split)

    @property
    def num_heads(self) -> int:
        return len(self.brirs.heads)

    @property
    def num_rooms(self) -> int:
        return len(self.brirs.rooms)

    def render(
        self,
        head: int,
        room: int,
        azimuth_deg: float,
        elevation_deg: float,
        utterance: int,
        noise: np.ndarray | None,
        rt60_add: float = 0.0,
    ) -> np.ndarray:
        """``(3, samples)`` float64: left, right (BRIR * dry, plus ``noise`` at ``snr_db``), dry mono."""
        n, start = self.config.num_samples, self.history
        dry = self.dry.clips[utterance]
        wet = fft_convolve(dry[None, :], self.brirs.brir(head, room, azimuth_deg, elevation_deg, rt60_add))
        binaural = wet[:, start : start + n]
        if noise is not None and self.config.snr_db is not None:
            level = math.sqrt(float(np.mean(binaural**2))) * 10.0 ** (-self.config.snr_db / 20.0)
            binaural = binaural + noise * level
        return np.concatenate([binaural, dry[None, start : start + n]])

    def noise(self, rng: np.random.Generator) -> np.ndarray | None:
        """Unit-power white noise per ear (``render`` scales it to ``snr_db`` below the binaural signal's mean
        power), or ``None``."""
        if self.config.snr_db is None:
            return None
        n = self.config.num_samples
        return np.stack([white(rng, n), white(rng, n)])

    def random_direction(self, rng: np.random.Generator) -> tuple[float, float]:
        """A training-grid direction (degrees)."""
        cfg = self.config
        return float(rng.choice(cfg.azimuths_deg)), float(rng.choice(cfg.elevations_deg))


def _labels(config: SqmDataConfig, az: np.ndarray, el: np.ndarray) -> dict[str, np.ndarray]:
    a, e = np.radians(az), np.radians(el)
    view = np.stack(
        [
            np.cos(e) * np.cos(a),
            np.cos(e) * np.sin(a),
            np.sin(e),
            np.full_like(a, math.log(SOURCE_DISTANCE_M)),
        ],
        -1,
    )
    return {
        "azimuth": a.astype(np.float32),
        "elevation": e.astype(np.float32),
        "az_class": config.azimuth_class(az).astype(np.int64),
        "el_class": config.elevation_class(el).astype(np.int64),
        "view": view.astype(np.float32),
    }


class TripletDataset(Dataset[dict[str, np.ndarray]]):
    """Triplets ``(anchor, positive, negative)`` of one head and room, three different utterances, with
    ``angle(anchor, positive) < angle(anchor, negative)``.

    Item ``i`` is ``{"audio": (3, 3, samples), "azimuth", "elevation": (3,) radians, "az_class",
    "el_class": (3,), "view": (3, 4) (unit direction, log distance)}``, rows anchor, positive, negative.
    """

    def __init__(self, scenes: SqmScenes, length: int, name: str = "triplets") -> None:
        if length < 1:
            raise ValueError(f"TripletDataset length must be >= 1, got {length!r}")
        self.scenes, self.length, self.name = scenes, length, name

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        scenes = self.scenes
        rng = seeding.rng(scenes.config.seed, self.name, spawn_key=(int(index),))
        head, room = int(rng.integers(scenes.num_heads)), int(rng.integers(scenes.num_rooms))
        while True:
            dirs = [scenes.random_direction(rng) for _ in range(3)]
            near = angle_between(*dirs[0], *dirs[1])
            far = angle_between(*dirs[0], *dirs[2])
            if near != far:
                break
        if near > far:
            dirs[1], dirs[2] = dirs[2], dirs[1]
        utterances = scenes.dry.draw(rng, 3)
        audio = np.stack(
            [
                scenes.render(head, room, a, e, u, scenes.noise(rng))
                for (a, e), u in zip(dirs, utterances, strict=True)
            ]
        )
        az, el = np.array([d[0] for d in dirs]), np.array([d[1] for d in dirs])
        return {"audio": audio.astype(np.float32), **_labels(scenes.config, az, el)}


def degrade(binaural: np.ndarray, kind: str, value: float, sample_rate: int) -> np.ndarray:
    """A signal-domain degradation of ``(2, samples)`` binaural audio (``ild``, ``itd``, ``lowpass``,
    ``codec``, ``width``); ``value == 0`` returns an identical copy.

    Raises:
        ValueError: a kind that needs re-rendering or an unknown kind.
    """
    x = np.array(binaural, dtype=np.float64, copy=True)
    if value == 0:
        return x
    if kind == "ild":
        gain = 10.0 ** (value / 40.0)
        return x * np.array([[gain], [1.0 / gain]])
    if kind == "itd":
        delay = value * 1e-6 * sample_rate
        start, taps = fractional_delay_kernel(np.array(delay))
        shift = int(start)  # y[n] = sum_k taps[k] x[n - shift - k]
        full = fft_convolve(x[1], taps)
        n = x.shape[1]
        if shift >= 0:
            x[1] = np.concatenate([np.zeros(shift), full[: n - shift]])[:n]
        else:
            x[1] = full[-shift : -shift + n]
        return x
    if kind == "lowpass":
        sos = sps.butter(8, value, btype="low", fs=sample_rate, output="sos")
        return sps.sosfiltfilt(sos, x, axis=-1)
    if kind == "codec":
        nperseg = 512
        _, _, spec = sps.stft(x, fs=sample_rate, nperseg=nperseg)
        freqs = np.fft.rfftfreq(nperseg, 1.0 / sample_rate)
        high = freqs >= value
        mid = 0.5 * (spec[0] + spec[1])
        spec[:, high] = mid[None, high]
        _, out = sps.istft(spec, fs=sample_rate, nperseg=nperseg)
        return np.asarray(out[:, : x.shape[1]], dtype=np.float64)
    if kind == "width":
        mid = 0.5 * (x[0] + x[1])
        return (1.0 - value) * x + value * mid[None, :]
    raise ValueError(f"degrade: {kind!r} is not a signal-domain degradation")


class PairDataset(Dataset[dict[str, Any]]):
    """Reference / degraded pairs of one :data:`DEGRADATIONS` kind at every severity.

    Item ``i * len(values) + s`` is scene ``i`` at severity ``values[s]`` (so every severity shares its
    references): ``{"reference", "test": (3, samples) float32 (left, right, mono), "severity": value,
    "rank": s, "item": i}``. Severity 0 is the identical signal unless ``content_change``, which gives the
    test another utterance at every severity (the monotonicity sweeps with non-matched content).

    Args:
        scenes: the split.
        kind: a :data:`DEGRADATIONS` key, or ``relocate`` (another direction at least 30° away and another
            utterance: the "both differ" set of the common area).
        items: scenes per severity.
        values: severities (default the kind's :data:`DEGRADATIONS`).
        content_change: a different utterance in the test signal.
        head, room: fix the head and room (default: drawn per item).
        azimuth_deg: fix the reference azimuth (default: drawn from the grid).
        elevation_deg: fix the reference elevation (default: drawn from the grid; ``elevation`` sweeps
            start from the lowest ring).
        name: seed name (default the kind).
    """

    def __init__(
        self,
        scenes: SqmScenes,
        kind: str,
        items: int,
        values: Sequence[float] | None = None,
        *,
        content_change: bool = False,
        head: int | None = None,
        room: int | None = None,
        azimuth_deg: float | None = None,
        elevation_deg: float | None = None,
        name: str | None = None,
    ) -> None:
        if kind not in DEGRADATIONS and kind != "relocate":
            raise ValueError(f"unknown degradation {kind!r}; valid: {', '.join([*DEGRADATIONS, 'relocate'])}")
        if items < 1:
            raise ValueError(f"PairDataset items must be >= 1, got {items!r}")
        self.values = tuple(
            float(v) for v in (values if values is not None else DEGRADATIONS.get(kind, (1.0,)))
        )
        if not self.values:
            raise ValueError("PairDataset needs at least one severity")
        if kind == "hrtf" and scenes.num_heads < 2:
            raise ValueError("the hrtf degradation needs at least two heads")
        self.scenes, self.kind, self.items = scenes, kind, items
        self.content_change, self.head, self.room = content_change, head, room
        self.azimuth_deg, self.elevation_deg, self.name = azimuth_deg, elevation_deg, name or kind

    def __len__(self) -> int:
        return self.items * len(self.values)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item, rank = divmod(int(index), len(self.values))
        value = self.values[rank]
        scenes, cfg, kind = self.scenes, self.scenes.config, self.kind
        rng = seeding.rng(cfg.seed, "pairs", self.name, spawn_key=(item,))
        head = int(rng.integers(scenes.num_heads)) if self.head is None else self.head
        room = int(rng.integers(scenes.num_rooms)) if self.room is None else self.room
        az, el = scenes.random_direction(rng)
        if self.azimuth_deg is not None:
            az = self.azimuth_deg
        if kind == "elevation":
            el = cfg.elevations_deg[0] if self.elevation_deg is None else self.elevation_deg
        elif self.elevation_deg is not None:
            el = self.elevation_deg
        utt, other = scenes.dry.draw(rng, 2)
        noise = scenes.noise(rng)
        other_head = (
            (head + 1 + int(rng.integers(scenes.num_heads - 1))) % scenes.num_heads
            if scenes.num_heads > 1
            else head
        )
        while True:
            new_az, new_el = scenes.random_direction(rng)
            if angle_between(az, el, new_az, new_el) >= 30.0:
                break
        reference = scenes.render(head, room, az, el, utt, noise)
        test_utt = other if (self.content_change or (kind == "content" and value)) else utt
        if value == 0 and test_utt == utt and kind != "relocate":
            test = reference.copy()
        elif kind in ("azimuth", "elevation", "hrtf", "rt60", "content", "relocate"):
            t_az, t_el, t_head, rt = az, el, head, 0.0
            if kind == "azimuth":
                t_az = az + value
            elif kind == "elevation":
                t_el = el + value
            elif kind == "hrtf" and value:
                t_head = other_head
            elif kind == "rt60":
                rt = value
            elif kind == "relocate":
                t_az, t_el, test_utt = new_az, new_el, other
            test = scenes.render(t_head, room, t_az, t_el, test_utt, noise, rt60_add=rt)
        else:
            base = reference if test_utt == utt else scenes.render(head, room, az, el, test_utt, noise)
            test = np.concatenate([degrade(base[:2], kind, value, cfg.sample_rate), base[2:]])
        return {
            "reference": reference.astype(np.float32),
            "test": test.astype(np.float32),
            "severity": value,
            "rank": rank,
            "item": item,
        }


class ClipDataset(Dataset[dict[str, Any]]):
    """Single clips at given directions, one utterance each.

    Args:
        scenes: the split.
        azimuth_deg, elevation_deg: one direction per clip (degrees).
        group: a label per clip (e.g. the retrieval group).
        head, room: fix the head and room (default: drawn per clip).
        name: seed name.

    Item ``i``: ``{"audio": (3, samples) float32, "azimuth", "elevation" (radians), "az_class", "el_class",
    "group"}``.
    """

    def __init__(
        self,
        scenes: SqmScenes,
        azimuth_deg: Sequence[float] | np.ndarray,
        elevation_deg: Sequence[float] | np.ndarray,
        group: Sequence[int] | np.ndarray | None = None,
        *,
        head: int | None = None,
        room: int | None = None,
        name: str = "clips",
    ) -> None:
        self.az = np.asarray(azimuth_deg, np.float64)
        self.el = np.asarray(elevation_deg, np.float64)
        if self.az.shape != self.el.shape or self.az.ndim != 1 or not self.az.size:
            raise ValueError("ClipDataset needs equal, non-empty azimuth and elevation lists")
        self.group = np.zeros(len(self.az), np.int64) if group is None else np.asarray(group, np.int64)
        self.scenes, self.head, self.room, self.name = scenes, head, room, name

    def __len__(self) -> int:
        return len(self.az)

    def __getitem__(self, index: int) -> dict[str, Any]:
        scenes = self.scenes
        rng = seeding.rng(scenes.config.seed, "clips", self.name, spawn_key=(int(index),))
        head = int(rng.integers(scenes.num_heads)) if self.head is None else self.head
        room = int(rng.integers(scenes.num_rooms)) if self.room is None else self.room
        (utt,) = scenes.dry.draw(rng, 1)
        audio = scenes.render(
            head, room, float(self.az[index]), float(self.el[index]), utt, scenes.noise(rng)
        )
        labels = _labels(scenes.config, self.az[index : index + 1], self.el[index : index + 1])
        return {
            "audio": audio.astype(np.float32),
            **{k: v[0] for k, v in labels.items()},
            "group": int(self.group[index]),
        }
