"""What kind of scenes to sample: the validated, frozen config of the scene simulator.

Angles in configs are **degrees** (they are an edge of the library, like the CLI); everything sampled from a
config is converted to radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

REGIONS = ("frontal", "horizontal", "sphere", "custom")
"""Named source-direction regions: frontal horizontal half-plane (azimuth -90..90°, elevation 0), full
horizontal plane, whole sphere, or the explicit ``azimuth_range_deg`` / ``elevation_range_deg``."""

BRIR_MODES = ("hybrid", "exact")
ROOM_KINDS = ("shoebox", "anechoic")
SIGNALS = ("noisy", "clean_direct", "clean_reverb", "dry", "noise")

RENDER_VERSIONS = ("v1", "v2")
"""How a scene spec is turned into signals (see ``docs/simulation.md``, "Render versions"):

* ``v1``: every target and babble talker synthesised afresh, a 64-direction late tail, time-domain diffuse
  noise; the bytes of every dataset rendered before render versions existed;
* ``v2`` (default): targets and babble talkers drawn from per-split pools of synthesised clips
  (:mod:`~spatialrep.simulate.clip_pool`), a late tail interpolated between a few time knots
  (:mod:`~spatialrep.simulate.interpolated_tail`) and frequency-domain diffuse noise
  (:mod:`~spatialrep.simulate.spectral_diffuse`): about 3x faster, statistically equivalent."""

DEFAULT_RENDER_VERSION = "v2"

POOLED_SOURCES = ("speech", "events", "midi", "procedural")
"""Source banks whose clips render version ``v2`` pools (they are synthesised, which costs; recordings
(``folder:``, ``librispeech:``) and noise excitations are drawn afresh for every target, as in ``v1``)."""


def _check_range(
    name: str, value: tuple[float, float], low: float = -math.inf, high: float = math.inf
) -> None:
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value}")
    if lo > hi:
        raise ValueError(f"{name} is empty: lower bound {lo} > upper bound {hi}")
    if lo < low or hi > high:
        raise ValueError(f"{name} must lie within [{low}, {high}], got {value}")


@dataclass(frozen=True)
class SceneConfig:
    """Distribution of scenes.

    Attributes:
        sample_rate: Hz.
        duration_s: length of every rendered signal, seconds.
        receiver: receiver spec (``kemar``, ``sphere``, ``array:circular4``, a ``.sofa`` path; see
            ``spatialrep.simulate.receiver_factory.list_receivers``).
        source: source bank spec (``speech``, ``events``, ``folder:PATH``, ``librispeech:PATH``).
        source_units: restrict the bank to these units (voices, instrument programs, files; see the bank's
            ``units()``); empty means all. Dataset splits use it to keep voices or clips disjoint.
        num_sources: inclusive range of simultaneous sources.
        region: direction region (see ``REGIONS``); ``custom`` uses the two ranges below.
        azimuth_range_deg: used when ``region == "custom"``; -180..180.
        elevation_range_deg: used when ``region == "custom"``; -90..90.
        distance_range_m: source distance from the receiver centre, metres.
        min_separation_deg: smallest great-circle angle between simultaneous sources.
        room: ``shoebox`` or ``anechoic``.
        room_size_min_m / room_size_max_m: shoebox length, width, height ranges, metres.
        rt60_range_s: reverberation time range, seconds.
        brir_mode: ``hybrid`` (exact early reflections + modelled diffuse tail) or ``exact``.
        receiver_height_m: receiver centre height range, metres.
        wall_margin_m: minimum distance of receiver and sources from any wall, metres.
        noise_types: diffuse noise types to draw from (``white``, ``pink``, ``speech_shaped``, ``babble``).
        snr_range_db: SNR of the reverberant mixture to the diffuse noise, dB (mean over channels).
        num_interferers: inclusive range of directional noise interferers.
        interferer_sir_range_db: signal-to-interferer ratio per interferer, dB.
        render_version: how specs become signals, one of ``RENDER_VERSIONS`` (``v1`` reproduces datasets
            rendered before versions existed, byte for byte).
        source_pool_size: ``v2`` only: targets of a synthesised source (``POOLED_SOURCES``) are drawn from a
            pool of this many clips per split (each synthesised once per worker); 0 synthesises every target
            afresh. Ignored by ``v1`` and by other sources.
    """

    sample_rate: int = 16000
    duration_s: float = 4.0
    receiver: str = "kemar"
    source: str = "speech"
    source_units: tuple[str, ...] = ()
    num_sources: tuple[int, int] = (1, 1)
    region: str = "frontal"
    azimuth_range_deg: tuple[float, float] = (-90.0, 90.0)
    elevation_range_deg: tuple[float, float] = (0.0, 0.0)
    distance_range_m: tuple[float, float] = (1.0, 3.0)
    min_separation_deg: float = 20.0
    room: str = "shoebox"
    room_size_min_m: tuple[float, float, float] = (4.0, 4.0, 2.5)
    room_size_max_m: tuple[float, float, float] = (10.0, 8.0, 4.0)
    rt60_range_s: tuple[float, float] = (0.2, 0.9)
    brir_mode: str = "hybrid"
    receiver_height_m: tuple[float, float] = (1.2, 1.8)
    wall_margin_m: float = 0.5
    noise_types: tuple[str, ...] = ("white", "pink", "speech_shaped", "babble")
    snr_range_db: tuple[float, float] = (-5.0, 20.0)
    num_interferers: tuple[int, int] = (0, 0)
    interferer_sir_range_db: tuple[float, float] = (0.0, 20.0)
    render_version: str = DEFAULT_RENDER_VERSION
    source_pool_size: int = 512
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.sample_rate, int) or self.sample_rate < 8000:
            raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {self.sample_rate!r}")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"duration_s must be a positive number of seconds, got {self.duration_s!r}")
        lo, hi = self.num_sources
        if lo < 1 or hi < lo:
            raise ValueError(
                f"num_sources must be a range (min, max) with 1 <= min <= max, got {self.num_sources}"
            )
        if self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r}; valid: {', '.join(REGIONS)}")
        _check_range("azimuth_range_deg", self.azimuth_range_deg, -180.0, 180.0)
        _check_range("elevation_range_deg", self.elevation_range_deg, -90.0, 90.0)
        _check_range("distance_range_m", self.distance_range_m)
        if self.distance_range_m[0] <= 0:
            raise ValueError(
                f"distance_range_m must be positive (a source cannot sit inside the head), got "
                f"{self.distance_range_m}"
            )
        if not (math.isfinite(self.min_separation_deg) and 0 <= self.min_separation_deg < 180):
            raise ValueError(f"min_separation_deg must lie in [0, 180), got {self.min_separation_deg}")
        if self.room not in ROOM_KINDS:
            raise ValueError(f"unknown room {self.room!r}; valid: {', '.join(ROOM_KINDS)}")
        for i, (a, b) in enumerate(zip(self.room_size_min_m, self.room_size_max_m)):
            _check_range(f"room size axis {i} (room_size_min_m..room_size_max_m)", (a, b))
            if a <= 0:
                raise ValueError(f"room_size_min_m must be positive, got {self.room_size_min_m}")
        _check_range("rt60_range_s", self.rt60_range_s)
        if self.rt60_range_s[0] <= 0:
            raise ValueError(f"rt60_range_s must be positive seconds, got {self.rt60_range_s}")
        if self.brir_mode not in BRIR_MODES:
            raise ValueError(f"unknown brir_mode {self.brir_mode!r}; valid: {', '.join(BRIR_MODES)}")
        _check_range("receiver_height_m", self.receiver_height_m)
        if not (math.isfinite(self.wall_margin_m) and self.wall_margin_m >= 0):
            raise ValueError(f"wall_margin_m must be >= 0, got {self.wall_margin_m}")
        if not self.noise_types:
            raise ValueError("noise_types must name at least one noise type")
        _check_range("snr_range_db", self.snr_range_db)
        lo, hi = self.num_interferers
        if lo < 0 or hi < lo:
            raise ValueError(
                f"num_interferers must be a range (min, max) with 0 <= min <= max, got {self.num_interferers}"
            )
        _check_range("interferer_sir_range_db", self.interferer_sir_range_db)
        if self.render_version not in RENDER_VERSIONS:
            raise ValueError(
                f"unknown render_version {self.render_version!r}; valid: {', '.join(RENDER_VERSIONS)}"
            )
        if isinstance(self.source_pool_size, bool) or not isinstance(self.source_pool_size, int):
            raise ValueError(f"source_pool_size must be an integer, got {self.source_pool_size!r}")
        if self.source_pool_size < 0:
            raise ValueError(f"source_pool_size must be >= 0 (0: no pool), got {self.source_pool_size}")

    @property
    def direction_ranges_deg(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(azimuth_range, elevation_range)`` in degrees after resolving ``region``."""
        if self.region == "frontal":
            return (-90.0, 90.0), (0.0, 0.0)
        if self.region == "horizontal":
            return (-180.0, 180.0), (0.0, 0.0)
        if self.region == "sphere":
            return (-180.0, 180.0), (-90.0, 90.0)
        return self.azimuth_range_deg, self.elevation_range_deg

    @property
    def num_samples(self) -> int:
        return round(self.duration_s * self.sample_rate)
