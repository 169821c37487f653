"""Analytic binaural heads: a rigid sphere with two point ears, as a :class:`~.receivers.Receiver`.

The response of each ear is the exact far-field solution for a plane wave scattered by a rigid sphere of
radius ``a`` (Rayleigh; Duda & Martens 1998), relative to the free-field pressure at the sphere centre:

    H(θ, ka) = i / (ka)² · Σ_m (2m + 1) (-i)^m P_m(cos θ) / h_m'(ka)        (time convention e^{-iωt})

with ``θ`` the angle between the source direction and the ear, ``P_m`` Legendre polynomials and ``h_m'`` the
derivative of the spherical Hankel function of the first kind. The series is truncated at
``m ≤ ka + 4 (ka)^{1/3} + 10`` per frequency (converged to better than 0.001 dB). The response is tapered to
zero over the top 15 % of the band (raised cosine, so responses are band-limited and short) and delayed so
that sample ``onset`` is the moment a wavefront passes the sphere centre. It holds everything the structural
models approximate: the interaural delay (close to Woodworth's ray path at high frequencies, 1.5 times
longer at low ones), the head shadow, the +6 dB pressure doubling on the near side and the bright spot
opposite the source.

Everything is vectorised over directions: a request is one Legendre recurrence, two real matrix products
with precomputed per-frequency coefficients, and one inverse FFT.

Ears sit at ±100° azimuth by default (Brown & Duda 1998): slightly behind the centre like real ears. The ITD
is then front/back asymmetric and largest near ±80° azimuth (0.64 ms for a = 8.75 cm), where the far ear
sits in the bright spot; ears at ±90° give a front/back symmetric ITD, largest at ±90° (0.66 ms).

References:
    Duda, R. O., & Martens, W. L. (1998). Range dependence of the response of a spherical head model. JASA
    104(5), 3048-3058.
    Brown, C. P., & Duda, R. O. (1998). A structural model for binaural sound synthesis. IEEE TSAP 6(5).
    Woodworth, R. S., & Schlosberg, H. (1954). Experimental Psychology.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from scipy import special

from spatialrep.geometry.coordinates import SPEED_OF_SOUND, fibonacci_sphere, spherical_to_cartesian
from spatialrep.simulate.hrtf import ITD_METHODS, check_itd_method, itd_xcorr
from spatialrep.simulate.receivers import as_directions

DEFAULT_RADIUS = 0.0875
"""Head radius, metres (the classic 8.75 cm)."""

DEFAULT_EAR_AZIMUTH_DEG = (100.0, -100.0)
DEFAULT_EAR_ELEVATION_DEG = (0.0, 0.0)

_TAPER_START = 0.85
"""Fraction of the Nyquist frequency where the band-limiting raised-cosine taper starts."""

_RINGING = 24
"""Samples kept before the earliest arrival and after the tail for the taper's ringing (< -50 dB beyond)."""

_TAIL_RADII = 6.0
"""Response kept after the centre arrival, in units of a / c (creeping waves are below -50 dB after it)."""


class SphericalHead:
    """Rigid-sphere head with two point ears (channel 0 = left).

    Args:
        sample_rate: Hz.
        head_radius: metres.
        ear_azimuth_deg: ``(left, right)`` ear azimuths, degrees; left in ``(0, 180)``, right in
            ``(-180, 0)``.
        ear_elevation_deg: ``(left, right)`` ear elevations (or one for both), degrees, in ``(-90, 90)``.
        taps: response length; default ``onset + ceil(6 a / c · fs) + 24`` (everything above about -50 dB).
        speed_of_sound: m/s.
        name: identifier for labels; default the receiver spec that rebuilds this head
            (``"sphere"``, ``"sphere:radius=0.09"``...; see :func:`sphere_spec`).

    Raises:
        ValueError: non-positive rate, radius, speed or taps; ears on the wrong side; taps shorter than onset.
    """

    kind = "binaural"
    num_channels = 2

    def __init__(
        self,
        sample_rate: int,
        head_radius: float = DEFAULT_RADIUS,
        ear_azimuth_deg: Sequence[float] = DEFAULT_EAR_AZIMUTH_DEG,
        ear_elevation_deg: float | Sequence[float] = DEFAULT_EAR_ELEVATION_DEG,
        *,
        taps: int | None = None,
        speed_of_sound: float = SPEED_OF_SOUND,
        name: str | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if not (math.isfinite(head_radius) and head_radius > 0):
            raise ValueError(f"head_radius must be positive (metres), got {head_radius}")
        if not (math.isfinite(speed_of_sound) and speed_of_sound > 0):
            raise ValueError(f"speed_of_sound must be positive, got {speed_of_sound}")
        ear_az = tuple(float(v) for v in ear_azimuth_deg)
        ear_el = (
            (float(ear_elevation_deg),) * 2
            if isinstance(ear_elevation_deg, int | float)
            else tuple(float(v) for v in ear_elevation_deg)
        )
        if len(ear_az) != 2 or len(ear_el) != 2:
            raise ValueError(f"ear angles must be (left, right) pairs; got {ear_az}, {ear_el}")
        if not (0.0 < ear_az[0] < 180.0 and -180.0 < ear_az[1] < 0.0):
            raise ValueError(
                f"ear_azimuth_deg must put the left ear (channel 0) in (0, 180) and the right in (-180, 0); "
                f"got {ear_az}"
            )
        if not all(-90.0 < e < 90.0 for e in ear_el):
            raise ValueError(f"ear_elevation_deg must lie in (-90, 90); got {ear_el}")
        self._sample_rate = int(sample_rate)
        self.head_radius = float(head_radius)
        self.ear_azimuth_deg = ear_az
        self.ear_elevation_deg = ear_el
        self.speed_of_sound = float(speed_of_sound)
        radius_time = self.head_radius / self.speed_of_sound * self._sample_rate  # a / c in samples
        self._onset = math.ceil(radius_time) + _RINGING
        self._taps = (
            self._onset + math.ceil(_TAIL_RADII * radius_time) + _RINGING if taps is None else int(taps)
        )
        if self._taps <= self._onset:
            raise ValueError(f"taps must exceed onset ({self._onset}), got {self._taps}")
        self._name = name if name is not None else sphere_spec(self.head_radius, ear_az, ear_el)
        self._ears = spherical_to_cartesian(np.deg2rad(ear_az), np.deg2rad(ear_el))  # (2, 3)
        self._nfft = 2 ** math.ceil(math.log2(2 * self._taps))
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / self._sample_rate)
        coeffs = _rigid_sphere_coefficients(2.0 * np.pi * freqs * self.head_radius / self.speed_of_sound)
        relative = freqs / (self._sample_rate / 2.0)
        taper = np.where(
            relative <= _TAPER_START,
            1.0,
            0.5 * (1.0 + np.cos(np.pi * (relative - _TAPER_START) / (1.0 - _TAPER_START))),
        )
        # conj: the series uses e^{-iωt}, numpy's FFT e^{+iωt}. Then band-limit and delay to the onset.
        coeffs = np.conj(coeffs) * taper * np.exp(-2j * np.pi * freqs * self._onset / self._sample_rate)
        self._coeffs_real = np.ascontiguousarray(coeffs.real)
        self._coeffs_imag = np.ascontiguousarray(coeffs.imag)

    @classmethod
    def from_spec(cls, spec: str, sample_rate: int) -> SphericalHead:
        """Build a head from its spec: ``"sphere"`` or ``"sphere:key=value,..."`` (see :func:`sphere_spec`).

        Keys: ``radius`` (metres), ``left_azimuth``, ``right_azimuth``, ``left_elevation``,
        ``right_elevation`` (degrees); missing ones take the defaults.

        Raises:
            ValueError: not a sphere spec, an unknown or repeated key (the message lists the valid ones), a
                non-numeric value, or values the constructor refuses.
        """
        kind, _, options = spec.strip().partition(":")
        if kind != "sphere":
            raise ValueError(f"not a sphere spec: {spec!r}")
        values = dict(zip(_SPEC_KEYS, _spec_defaults()))
        given: set[str] = set()
        for item in filter(None, (part.strip() for part in options.split(","))):
            key, sep, value = (t.strip() for t in item.partition("="))
            if not sep or key not in _SPEC_KEYS:
                raise ValueError(
                    f"bad sphere option {item!r}; valid keys: {', '.join(_SPEC_KEYS)} (key=value)"
                )
            if key in given:
                raise ValueError(f"sphere option {key!r} given twice in {spec!r}")
            given.add(key)
            try:
                values[key] = float(value)
            except ValueError:
                raise ValueError(f"sphere option {key!r} needs a number, got {value!r}") from None
        return cls(
            sample_rate,
            values["radius"],
            (values["left_azimuth"], values["right_azimuth"]),
            (values["left_elevation"], values["right_elevation"]),
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def onset(self) -> int:
        return self._onset

    @property
    def taps(self) -> int:
        return self._taps

    @cached_property
    def max_delay(self) -> float:
        """Largest |ITD| by either method of :meth:`itd` over 4000 directions plus the horizontal plane, s."""
        az, el = fibonacci_sphere(4000)
        ring = np.deg2rad(np.arange(-180.0, 180.0, 0.5))
        az, el = np.concatenate([az, ring]), np.concatenate([el, np.zeros_like(ring)])
        return float(max(np.max(np.abs(self.itd(az, el, method=m))) for m in ITD_METHODS))

    def impulse_responses(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
        """Far-field responses of both ears for directions in the head frame.

        Args:
            azimuth: shape ``(n,)``, radians.
            elevation: shape ``(n,)``, radians.

        Returns:
            shape ``(n, 2, taps)``, float64; sample ``onset`` is the wavefront at the head centre.
        """
        legendre = _legendre(self._cos_to_ears(azimuth, elevation), self._coeffs_real.shape[0] - 1)
        spectrum = legendre @ self._coeffs_real + 1j * (legendre @ self._coeffs_imag)  # (n, 2, F)
        return np.fft.irfft(spectrum, self._nfft, axis=-1)[..., : self._taps]

    def itd(self, azimuth: np.ndarray, elevation: np.ndarray, *, method: str = "onset") -> np.ndarray:
        """Interaural time difference, seconds, positive when the left ear leads (source on the left).

        Args:
            azimuth: shape ``(n,)``, radians.
            elevation: shape ``(n,)``, radians.
            method: ``"onset"``: Woodworth's ray path generalised to any ear position,
                ``τ = -(a/c) cos θ`` for an ear facing the source (``θ ≤ 90°``), ``(a/c)(θ - π/2)`` around the
                sphere otherwise; the leading edge of the exact responses follows it within a few
                microseconds. ``"xcorr"``: the
                cross-correlation peak of the two responses at ``sample_rate`` (1/8 sample resolution), as
                for :class:`~spatialrep.simulate.hrtf.HRTFSet`.

        Returns:
            shape ``(n,)``.
        """
        check_itd_method(method)
        if method == "xcorr":
            return itd_xcorr(self.impulse_responses(azimuth, elevation), self._sample_rate)
        theta = np.arccos(np.clip(self._cos_to_ears(azimuth, elevation), -1.0, 1.0))  # (n, 2)
        path = np.where(theta <= np.pi / 2, -np.cos(theta), theta - np.pi / 2)
        delay = path * self.head_radius / self.speed_of_sound
        return delay[:, 1] - delay[:, 0]

    def diffuse_directions(self, num_directions: int) -> tuple[np.ndarray, np.ndarray]:
        """Fibonacci-lattice directions: the model answers for every direction."""
        return fibonacci_sphere(num_directions)

    def _cos_to_ears(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
        unit = spherical_to_cartesian(*as_directions(azimuth, elevation))
        return np.clip(unit @ self._ears.T, -1.0, 1.0)  # (n, 2)


def _rigid_sphere_coefficients(ka: np.ndarray) -> np.ndarray:
    """Per-order, per-frequency series coefficients, shape ``(orders, F)``; ``H = Σ_m P_m(cos θ) c_m``."""
    limit = np.ceil(ka + 4.0 * np.cbrt(ka) + 10.0)
    order = np.arange(int(limit.max()) + 1)[:, None]
    m, x = np.broadcast_arrays(order, ka[None, :])
    needed = (m <= limit[None, :]) & (x > 0)
    # Orders beyond the limit are left out rather than evaluated: h_m'(ka) overflows there.
    mm, xx = m[needed], x[needed]
    hankel_prime = special.spherical_jn(mm, xx, derivative=True) + 1j * special.spherical_yn(
        mm, xx, derivative=True
    )
    coeffs = np.zeros(m.shape, dtype=np.complex128)
    coeffs[needed] = 1j * (2 * mm + 1) * (-1j) ** mm / (xx**2 * hankel_prime)
    coeffs[0, ka == 0] = 1.0  # DC: the sphere is acoustically transparent
    return coeffs


def _legendre(x: np.ndarray, max_order: int) -> np.ndarray:
    """Legendre polynomials ``P_0 … P_max_order`` at ``x``, shape ``(*x.shape, max_order + 1)`` (Bonnet)."""
    out = np.empty((*x.shape, max_order + 1))
    out[..., 0] = 1.0
    if max_order >= 1:
        out[..., 1] = x
    for m in range(1, max_order):
        out[..., m + 1] = ((2 * m + 1) * x * out[..., m] - m * out[..., m - 1]) / (m + 1)
    return out


_SPEC_KEYS = ("radius", "left_azimuth", "right_azimuth", "left_elevation", "right_elevation")
_SPEC_DIGITS = (5, 2, 2, 2, 2)


def _spec_defaults() -> tuple[float, ...]:
    return (DEFAULT_RADIUS, *DEFAULT_EAR_AZIMUTH_DEG, *DEFAULT_EAR_ELEVATION_DEG)


def sphere_spec(
    head_radius: float = DEFAULT_RADIUS,
    ear_azimuth_deg: Sequence[float] = DEFAULT_EAR_AZIMUTH_DEG,
    ear_elevation_deg: Sequence[float] = DEFAULT_EAR_ELEVATION_DEG,
) -> str:
    """The receiver spec of a spherical head (:func:`~spatialrep.simulate.receiver_factory.make_receiver`).

    Values equal to the defaults are left out: ``"sphere"``, ``"sphere:radius=0.09,left_azimuth=95"``.
    Radius in metres (0.01 mm precision), angles in degrees (0.01°).
    """
    values = (head_radius, *ear_azimuth_deg, *ear_elevation_deg)
    options = [
        f"{key}={round(value, d):g}"
        for key, value, default, d in zip(_SPEC_KEYS, values, _spec_defaults(), _SPEC_DIGITS)
        if round(value, d) != round(default, d)
    ]
    return "sphere" + (":" + ",".join(options) if options else "")


def make_synthetic_subjects(
    num: int,
    rng: np.random.Generator,
    radius_range: tuple[float, float] = (0.075, 0.10),
    ear_angle_jitter_deg: float = 5.0,
    *,
    sample_rate: int = 16000,
) -> list[SphericalHead]:
    """Many synthetic "subjects": spherical heads of random size and ear placement.

    Each subject draws its radius uniformly from ``radius_range`` and offsets each ear's azimuth (from ±100°)
    and elevation (from 0°) independently and uniformly within ``±ear_angle_jitter_deg``, so heads are also
    slightly asymmetric. Values are rounded to the precision of :func:`sphere_spec`, so each subject's
    ``name`` is the exact spec that rebuilds it. All subjects share one response length (that of the largest
    radius).

    Args:
        num: number of subjects, ≥ 0.
        rng: the only source of randomness; the same generator state gives the same subjects.
        radius_range: ``(low, high)`` metres, ``0 < low ≤ high``.
        ear_angle_jitter_deg: half-width of the uniform ear-angle jitter, degrees, in ``[0, 80)``.
        sample_rate: Hz.

    Returns:
        ``num`` heads.
    """
    low, high = radius_range
    if num < 0:
        raise ValueError(f"num must be >= 0, got {num}")
    if not 0 < low <= high:
        raise ValueError(f"radius_range must satisfy 0 < low <= high, got {radius_range}")
    if not 0 <= ear_angle_jitter_deg < 80:
        raise ValueError(f"ear_angle_jitter_deg must lie in [0, 80), got {ear_angle_jitter_deg}")
    taps = SphericalHead(sample_rate, high).taps
    radii = np.round(rng.uniform(low, high, num), _SPEC_DIGITS[0])
    jitter = rng.uniform(-ear_angle_jitter_deg, ear_angle_jitter_deg, (num, 4))
    angles = np.round(np.array(_spec_defaults()[1:]) + jitter, _SPEC_DIGITS[1])
    return [
        SphericalHead(
            sample_rate,
            float(radius),
            (float(a[0]), float(a[1])),
            (float(a[2]), float(a[3])),
            taps=taps,
        )
        for radius, a in zip(radii, angles)
    ]
