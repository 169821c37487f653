"""Measured binaural heads: an HRIR set (e.g. MIT KEMAR) as a :class:`~.receivers.Receiver`.

Direction lookup is vectorised (a k-d tree over the unit vectors of the measured grid) so thousands of image
sources cost milliseconds. Two lookups:

* ``"nearest"`` (default): the measured response of the nearest measured direction, returned exactly.
* ``"interpolated"``: barycentric interpolation between the 3 measured directions of the triangle that
  contains the request, after aligning their onsets. The triangles are the facets of the convex hull of the
  grid's unit vectors (its spherical Delaunay triangulation); the weights are the request's barycentric
  coordinates in its facet normalised to sum 1, as VBAP's gains. Each ear's response is advanced by its own
  arrival time, the aligned responses are averaged, and the result is delayed by the weighted mean arrival
  time (exact band-limited shifts in the frequency domain). Averaging aligned responses avoids the comb
  filtering of averaging misaligned ones and interpolates the ITD linearly. The result is continuous in the
  direction and reproduces a measured response exactly at its direction. For a grid that does not surround
  the head (one plane, one hemisphere) the 3 nearest measured directions are weighted instead by the
  modified Shepard scheme ``w_k ∝ ((d_4 - d_k) / (d_4 d_k))²`` (``d_k``: angle to the ``k``-th nearest).

Arrival times (``arrival_times``) come from onset detection: the first crossing of -20 dB relative to the
peak of a smoothed (zero-phase Gaussian), ×8-upsampled copy at the file's own sample rate, calibrated so that
a band-limited impulse arrives at its centre. The smoothing makes it immune to the pre-ringing of band-limited
onsets; on MIT KEMAR it gives a smooth ITD surface. ``onset`` is the mean left/right arrival time at the
measured direction nearest the front (azimuth 0, elevation 0), where both ears sit on the plane of a wavefront
passing the head centre: the measurement distance cannot serve, because measured sets (KEMAR among them) are
cropped before the direct sound.

Two ITDs, both positive when the left ear leads (``itd_xcorr`` computes the second for any responses):

* ``"onset"``: right minus left arrival time, the leading-edge (high-frequency, Woodworth-like) ITD. KEMAR:
  0 to 0.65 ms, largest near 85° azimuth.
* ``"xcorr"``: the lag of the peak of the cross-correlation of the two ears' responses at the output rate
  (1/8-sample resolution), the delay an unweighted cross-correlation finds for a white source. Larger on the
  sides (diffraction delays low frequencies more: KEMAR 0.72 ms at 90° at 16 kHz) and it can jump between two
  peaks behind the ears. ``max_delay`` is the larger of both over the grid, a safe bound for lag windows.

The measured grid is honest about its gaps: a request farther than ``max_grid_distance_deg`` from every
measured direction (MIT KEMAR has nothing below -40° elevation) raises one :class:`HRTFGridWarning` per call.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np
from scipy.spatial import ConvexHull, QhullError, cKDTree

from spatialrep.dsp import resample
from spatialrep.geometry.coordinates import cartesian_to_spherical, fibonacci_sphere, spherical_to_cartesian
from spatialrep.io.sofa import HRIRData, read_sofa
from spatialrep.simulate.receivers import as_directions

INTERPOLATIONS = ("nearest", "interpolated")
"""Valid values of ``interpolation``."""

ITD_METHODS = ("onset", "xcorr")
"""Valid values of ``method`` in ``itd``."""

DEFAULT_MAX_GRID_DISTANCE_DEG = 6.0
"""Requests farther than this from every measured direction warn. Above MIT KEMAR's own covering radius
(5.6° between its rings), so only its unmeasured cap below about -46° elevation warns."""

ONSET_THRESHOLD_DB = -20.0
"""Onset detection threshold relative to each response's peak magnitude."""

_ONSET_SMOOTHING = 0.3
"""Standard deviation of the Gaussian smoothing before onset detection, cycles per sample."""

_ONSET_UPSAMPLE = 8
_ONSET_CALIBRATION_LEAD = 32

DEFAULT_HRTF_FILE = "MIT_KEMAR_normal_pinna.sofa"


class HRTFGridWarning(UserWarning):
    """A requested direction lies farther than the threshold from every measured direction of an HRTF set."""


def arrival_times(
    hrirs: np.ndarray, sample_rate: int, threshold_db: float = ONSET_THRESHOLD_DB
) -> np.ndarray:
    """Arrival time of each impulse response by onset detection.

    Each response is smoothed by a zero-phase Gaussian low-pass (standard deviation 30 % of the sample rate,
    which removes the pre-ringing of band-limited onsets without ringing itself) and upsampled ×8; the
    arrival is the first crossing of ``threshold_db`` relative to the smoothed response's peak magnitude,
    refined by linear interpolation. The detector is calibrated on a band-limited unit impulse, so an impulse
    centred at ``t`` arrives at ``t`` at any fractional position (within 0.01 sample).

    Args:
        hrirs: shape ``(..., taps)``.
        sample_rate: Hz.
        threshold_db: detection threshold, dB below the peak (negative).

    Returns:
        shape ``(...)``, seconds from sample 0.

    Raises:
        ValueError: an all-zero response (it has no onset).
    """
    x = np.asarray(hrirs, dtype=np.float64)
    calibration = np.zeros(2 * _ONSET_CALIBRATION_LEAD)
    calibration[_ONSET_CALIBRATION_LEAD] = 1.0
    offset = _ONSET_CALIBRATION_LEAD - _first_crossing(calibration, threshold_db)
    return (_first_crossing(x, threshold_db) + offset) / sample_rate


def _by_rows(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, row_axes: int, work: int) -> np.ndarray:
    """``fn`` over blocks of ``x``'s leading rows (all but the last ``row_axes`` axes).

    Bounds the temporary memory of upsampled FFTs (about ``work`` floats per row) to some 64 MB per block.
    """
    lead = x.shape[: x.ndim - row_axes]
    rows = x.reshape(-1, *x.shape[x.ndim - row_axes :])
    if rows.shape[0] == 0:
        return np.zeros(lead)
    step = max(1, (1 << 23) // max(1, work))
    out = np.concatenate([fn(rows[i : i + step]) for i in range(0, rows.shape[0], step)])
    return out.reshape(lead + out.shape[1:])


def _first_crossing(x: np.ndarray, threshold_db: float) -> np.ndarray:
    """Sub-sample index of the first ``threshold_db`` crossing of the smoothed, upsampled ``|x|``."""
    work = 4 * x.shape[-1] * _ONSET_UPSAMPLE
    return _by_rows(lambda rows: _first_crossing_block(rows, threshold_db), x, 1, work)


def _first_crossing_block(x: np.ndarray, threshold_db: float) -> np.ndarray:
    taps = x.shape[-1]
    nfft = 2 ** math.ceil(math.log2(2 * taps))  # room for the smoothing kernel's spread without wrap-around
    freqs = np.fft.rfftfreq(nfft)  # cycles per sample
    spectrum = np.fft.rfft(x, nfft, axis=-1) * np.exp(-0.5 * (freqs / _ONSET_SMOOTHING) ** 2)
    up = np.abs(np.fft.irfft(spectrum, nfft * _ONSET_UPSAMPLE, axis=-1)[..., : taps * _ONSET_UPSAMPLE])
    peak = up.max(axis=-1)
    if np.any(peak <= 0):
        raise ValueError("an impulse response is all zeros and has no onset")
    level = peak * 10.0 ** (threshold_db / 20.0)
    first = np.argmax(up >= level[..., None], axis=-1)
    after = np.take_along_axis(up, first[..., None], axis=-1)[..., 0]
    before = np.take_along_axis(up, np.maximum(first - 1, 0)[..., None], axis=-1)[..., 0]
    step = after - before
    frac = np.divide(level - before, step, out=np.ones_like(step), where=(first > 0) & (step > 0))
    return (first - 1 + frac) / _ONSET_UPSAMPLE


def itd_xcorr(irs: np.ndarray, sample_rate: int, upsample: int = 8) -> np.ndarray:
    """ITD from the peak of the cross-correlation of left and right responses.

    The cross-spectrum is zero-padded ``upsample`` times (band-limited interpolation of the correlation), so
    the lag resolution is ``1 / (upsample * sample_rate)``.

    Args:
        irs: shape ``(..., 2, taps)``, channel 0 = left.
        sample_rate: Hz.
        upsample: lag resolution in fractions of a sample.

    Returns:
        shape ``(...)``, seconds; positive when the left ear leads.
    """
    x = np.asarray(irs, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2] != 2:
        raise ValueError(f"irs must have shape (..., 2, taps); got {x.shape}")
    nfft = 2 * x.shape[-1]  # linear (not circular) correlation for lags up to ±taps
    n_up = nfft * upsample

    def lags(pairs: np.ndarray) -> np.ndarray:
        spectrum = np.fft.rfft(pairs, nfft, axis=-1)
        corr = np.fft.irfft(spectrum[:, 1] * np.conj(spectrum[:, 0]), n_up, axis=-1)
        # corr[k] = sum_t right[t + k] left[t]: it peaks at the right ear's delay (wrapped when negative).
        lag = np.argmax(corr, axis=-1)
        return np.where(lag > n_up // 2, lag - n_up, lag)

    return _by_rows(lags, x, 2, 2 * n_up) / (upsample * sample_rate)


class HRTFSet:
    """A measured HRIR set as a binaural receiver (channel 0 = left ear).

    Args:
        data: the measured responses (e.g. from :func:`spatialrep.io.sofa.read_sofa`).
        sample_rate: output rate, Hz; responses are resampled with :func:`spatialrep.dsp.resample`.
        interpolation: ``"nearest"`` or ``"interpolated"`` (see the module docstring); per-call override in
            :meth:`impulse_responses` and :meth:`itd`.
        max_grid_distance_deg: requests farther than this (degrees, great-circle) from every measured
            direction warn; ``None`` never warns.
        name: overrides ``data.name``.

    Raises:
        ValueError: bad ``interpolation``, non-positive ``sample_rate`` or threshold, a silent response.
    """

    kind = "binaural"
    num_channels = 2

    def __init__(
        self,
        data: HRIRData,
        sample_rate: int,
        *,
        interpolation: str = "nearest",
        max_grid_distance_deg: float | None = DEFAULT_MAX_GRID_DISTANCE_DEG,
        name: str | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        _check_interpolation(interpolation)
        if max_grid_distance_deg is not None and not max_grid_distance_deg > 0:
            raise ValueError(f"max_grid_distance_deg must be positive or None, got {max_grid_distance_deg}")
        self.data = data
        self.interpolation = interpolation
        self.max_grid_distance_deg = max_grid_distance_deg
        self._name = name if name is not None else data.name
        self._sample_rate = int(sample_rate)
        irs = resample(data.hrirs, data.sample_rate, self._sample_rate, axis=-1)
        irs.setflags(write=False)
        self._irs = irs
        self._tree = cKDTree(spherical_to_cartesian(data.azimuth, data.elevation))
        # Detected at the file's own rate, so every output rate shares the same (most precise) times.
        self._arrival = arrival_times(data.hrirs, data.sample_rate)  # (n, 2) seconds
        front = int(self._tree.query([1.0, 0.0, 0.0])[1])
        self.onset_time = float(np.mean(self._arrival[front]))
        """Seconds from sample 0 at which a wavefront passes the head centre (``onset`` before rounding)."""
        self._onset = round(self.onset_time * self._sample_rate)

    @classmethod
    def from_sofa(
        cls,
        path: str | os.PathLike[str],
        sample_rate: int,
        *,
        interpolation: str = "nearest",
        max_grid_distance_deg: float | None = DEFAULT_MAX_GRID_DISTANCE_DEG,
        name: str | None = None,
    ) -> HRTFSet:
        """Read a ``SimpleFreeFieldHRIR`` file (see :func:`spatialrep.io.sofa.read_sofa`); keywords as the
        constructor's."""
        return cls(
            read_sofa(path),
            sample_rate,
            interpolation=interpolation,
            max_grid_distance_deg=max_grid_distance_deg,
            name=name,
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

    @cached_property
    def max_delay(self) -> float:
        """Largest |ITD| over the measured directions by either method of :meth:`itd`, seconds."""
        return float(max(np.max(np.abs(table)) for table in self._itd_tables.values()))

    @property
    def taps(self) -> int:
        return int(self._irs.shape[-1])

    @property
    def num_directions(self) -> int:
        return int(self._irs.shape[0])

    @property
    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured ``(azimuth, elevation)``, radians, shape ``(num_directions,)`` each."""
        return self.data.azimuth, self.data.elevation

    @property
    def hrirs(self) -> np.ndarray:
        """Measured responses at ``sample_rate``, shape ``(num_directions, 2, taps)``, read-only."""
        return self._irs

    def grid_distance(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
        """Great-circle distance (radians) from each direction to the nearest measured direction."""
        return self._nearest(azimuth, elevation)[2]

    def impulse_responses(
        self, azimuth: np.ndarray, elevation: np.ndarray, *, interpolation: str | None = None
    ) -> np.ndarray:
        """Far-field HRIRs for directions in the head frame.

        Args:
            azimuth: shape ``(n,)``, radians.
            elevation: shape ``(n,)``, radians.
            interpolation: overrides the set's default for this call.

        Returns:
            shape ``(n, 2, taps)``, float64; sample ``onset`` is the wavefront at the head centre.

        Warns:
            HRTFGridWarning: once per call when a direction is farther than ``max_grid_distance_deg`` from
                every measured direction; the message names the farthest one and its distance.
        """
        mode = self._mode(interpolation)
        unit, nearest, angle = self._nearest(azimuth, elevation)
        self._warn_if_far(unit, angle, nearest)
        if mode == "nearest":
            return self._irs[nearest]
        idx, weights = self._interpolation_weights(unit, nearest)
        freqs = self._freqs
        spectrum = np.zeros((nearest.size, 2, freqs.size), dtype=np.complex128)
        for k in range(3):
            spectrum += weights[:, k, None, None] * self._aligned[idx[:, k]]
        delay = np.einsum("nk,nke->ne", weights, self._arrival[idx]) * self._sample_rate
        spectrum *= np.exp(-2j * np.pi * freqs * delay[..., None])
        return np.fft.irfft(spectrum, self._nfft, axis=-1)[..., : self.taps]

    def itd(
        self,
        azimuth: np.ndarray,
        elevation: np.ndarray,
        *,
        method: str = "onset",
        interpolation: str | None = None,
    ) -> np.ndarray:
        """Interaural time difference, seconds, positive when the left ear leads (source on the left).

        Args:
            azimuth: shape ``(n,)``, radians.
            elevation: shape ``(n,)``, radians.
            method: ``"onset"`` (right minus left arrival time) or ``"xcorr"`` (cross-correlation peak at the
                output rate); see the module docstring.
            interpolation: as in :meth:`impulse_responses` (values of the measured directions, weighted the
                same way); no grid warning.

        Returns:
            shape ``(n,)``.
        """
        check_itd_method(method)
        table = self._itd_tables[method]
        mode = self._mode(interpolation)
        unit, nearest, _ = self._nearest(azimuth, elevation)
        if mode == "nearest":
            return table[nearest]
        idx, weights = self._interpolation_weights(unit, nearest)
        return np.einsum("nk,nk->n", weights, table[idx])

    def diffuse_directions(self, num_directions: int) -> tuple[np.ndarray, np.ndarray]:
        """``num_directions`` Fibonacci-lattice directions, each moved to its nearest measured direction.

        Every returned direction stands for an equal solid angle: a measured direction appears once for each
        lattice point it is nearest to (a Voronoi-area weighting of a non-uniform grid). Regions the set does
        not measure are represented by the nearest measured directions (KEMAR's cap below -40° by the -40°
        ring), so no direction ever warns.
        """
        az, el = fibonacci_sphere(num_directions)
        _, idx = self._tree.query(spherical_to_cartesian(az, el), k=1)
        return self.data.azimuth[idx], self.data.elevation[idx]

    def _mode(self, interpolation: str | None) -> str:
        mode = self.interpolation if interpolation is None else interpolation
        _check_interpolation(mode)
        return mode

    def _nearest(self, azimuth: np.ndarray, elevation: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(unit vectors (n, 3), index of the nearest measured direction (n,), its distance (n,) rad)``."""
        unit = spherical_to_cartesian(*as_directions(azimuth, elevation))
        chord, nearest = self._tree.query(unit, k=1)
        return unit, np.asarray(nearest, dtype=np.int64), _chord_to_angle(np.asarray(chord))

    def _interpolation_weights(self, unit: np.ndarray, nearest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices and weights of 3 measured directions per request, each shape ``(n, 3)``."""
        if self._triangulation is not None:
            return self._triangulation.locate(unit, nearest)
        k = min(4, self.num_directions)
        chord, idx = self._tree.query(unit, k=k)
        chord, idx = np.asarray(chord).reshape(-1, k), np.asarray(idx).reshape(-1, k)
        if k < 4:  # tiny sets: the missing neighbours count as infinitely far
            chord = np.concatenate([chord, np.full((chord.shape[0], 4 - k), 2.0)], axis=1)
            idx = np.concatenate([idx, np.repeat(idx[:, -1:], 4 - k, axis=1)], axis=1)
        return idx[:, :3], _shepard_weights(_chord_to_angle(chord))

    @cached_property
    def _triangulation(self) -> _Triangulation | None:
        return _Triangulation.build(spherical_to_cartesian(self.data.azimuth, self.data.elevation))

    def _warn_if_far(self, unit: np.ndarray, angle: np.ndarray, nearest: np.ndarray) -> None:
        if self.max_grid_distance_deg is None or angle.size == 0:
            return
        far = np.degrees(angle) > self.max_grid_distance_deg
        if not far.any():
            return
        worst = int(np.argmax(angle))
        az, el, _ = cartesian_to_spherical(unit[worst])
        j = int(nearest[worst])
        warnings.warn(
            f"HRTF set {self.name!r}: {int(far.sum())} of {angle.size} requested directions lie more than "
            f"{self.max_grid_distance_deg:g}° from any measured direction; the farthest, azimuth "
            f"{np.degrees(az):.1f}°, elevation {np.degrees(el):.1f}°, is "
            f"{np.degrees(angle[worst]):.1f}° from the nearest measurement (azimuth "
            f"{np.degrees(self.data.azimuth[j]):.1f}°, elevation {np.degrees(self.data.elevation[j]):.1f}°)",
            HRTFGridWarning,
            stacklevel=3,
        )

    @cached_property
    def _itd_tables(self) -> dict[str, np.ndarray]:
        return {
            "onset": self._arrival[:, 1] - self._arrival[:, 0],
            "xcorr": itd_xcorr(self._irs, self._sample_rate),
        }

    @cached_property
    def _nfft(self) -> int:
        # Room for the largest shift between neighbouring arrival times without wrap-around.
        spread = float(np.ptp(self._arrival)) * self._sample_rate
        return int(2 ** math.ceil(math.log2(self.taps + 2 * math.ceil(spread) + 32)))

    @cached_property
    def _freqs(self) -> np.ndarray:
        return np.fft.rfftfreq(self._nfft)  # cycles per sample

    @cached_property
    def _aligned(self) -> np.ndarray:
        """Spectra of the responses advanced by their own arrival times, shape ``(n, 2, nfft // 2 + 1)``."""
        spectrum = np.fft.rfft(self._irs, self._nfft, axis=-1)
        advance = self._arrival * self._sample_rate
        return spectrum * np.exp(2j * np.pi * self._freqs * advance[..., None])


class _Triangulation:
    """Spherical triangulation of a measured grid (its convex hull) for barycentric interpolation.

    A request lies in the cone of exactly one hull facet when the grid surrounds the centre; its weights are
    the facet's barycentric coordinates of the request direction, normalised to sum 1 (VBAP's gains).
    """

    _BLOCK = 1 << 18  # candidate (request, facet) pairs evaluated at once

    def __init__(self, unit: np.ndarray, simplices: np.ndarray) -> None:
        self.simplices = simplices  # (T, 3) indices into the grid
        # Columns are the facet's vertices: inverse @ u gives the barycentric coordinates of u.
        self.inverse = np.linalg.inv(np.transpose(unit[simplices], (0, 2, 1)))  # (T, 3, 3)
        facets = np.repeat(np.arange(simplices.shape[0]), 3)
        vertices = simplices.ravel()
        order = np.argsort(vertices, kind="stable")
        vertices, facets = vertices[order], facets[order]
        counts = np.bincount(vertices, minlength=unit.shape[0])
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.incident = np.full((unit.shape[0], int(counts.max())), -1, dtype=np.int64)  # facets per vertex
        self.incident[vertices, np.arange(vertices.size) - starts[vertices]] = facets

    @classmethod
    def build(cls, unit: np.ndarray) -> _Triangulation | None:
        """``None`` when the directions do not surround the centre (coplanar, one hemisphere, < 4)."""
        try:
            hull = ConvexHull(unit)
        except (QhullError, ValueError):
            return None
        if np.max(hull.equations[:, -1]) > -1e-6:  # the centre is not strictly inside
            return None
        return cls(unit, np.asarray(hull.simplices, dtype=np.int64))

    def locate(self, unit: np.ndarray, nearest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vertex indices and weights ``(n, 3)`` of the facet containing each direction ``unit`` ``(n, 3)``.

        The facets around the nearest measured direction are tried first; the few requests that lie in none
        of them are searched among all facets.
        """
        n = unit.shape[0]
        facet = np.empty(n, dtype=np.int64)
        coords = np.empty((n, 3))
        found = np.zeros(n, dtype=bool)
        width = self.incident.shape[1]
        step = max(1, self._BLOCK // width)
        for lo in range(0, n, step):
            sl = slice(lo, min(n, lo + step))
            candidates = self.incident[nearest[sl]]  # (m, width)
            lam = np.einsum("mwij,mj->mwi", self.inverse[np.maximum(candidates, 0)], unit[sl])
            score = np.where(candidates >= 0, _smallest_of_three(lam), -np.inf)
            best = np.argmax(score, axis=1)
            rows = np.arange(best.size)
            facet[sl], coords[sl] = candidates[rows, best], lam[rows, best]
            found[sl] = score[rows, best] >= -1e-9
        missing = np.flatnonzero(~found)
        step = max(1, self._BLOCK // self.inverse.shape[0])
        for lo in range(0, missing.size, step):
            rows = missing[lo : lo + step]
            lam = np.einsum("tij,mj->mti", self.inverse, unit[rows])  # (m, T, 3)
            best = np.argmax(_smallest_of_three(lam), axis=1)
            facet[rows], coords[rows] = best, lam[np.arange(rows.size), best]
        weights = np.maximum(coords, 0.0)
        return self.simplices[facet], weights / weights.sum(axis=1, keepdims=True)


def _smallest_of_three(x: np.ndarray) -> np.ndarray:
    """``x.min(axis=-1)`` for a last axis of 3, without numpy's slow reduction over a short axis."""
    return np.minimum(np.minimum(x[..., 0], x[..., 1]), x[..., 2])


def _check_interpolation(mode: str) -> None:
    if mode not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {mode!r}; valid: {', '.join(INTERPOLATIONS)}")


def check_itd_method(method: str) -> None:
    """Raises ``ValueError`` (listing the valid ones) unless ``method`` is in :data:`ITD_METHODS`."""
    if method not in ITD_METHODS:
        raise ValueError(f"unknown ITD method {method!r}; valid: {', '.join(ITD_METHODS)}")


def _chord_to_angle(chord: np.ndarray) -> np.ndarray:
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def _shepard_weights(angle: np.ndarray) -> np.ndarray:
    """Modified Shepard weights of the 3 nearest of 4 neighbours, shape ``(n, 3)``, rows summing to 1."""
    d, radius = angle[:, :3], angle[:, 3:4]
    exact = d[:, 0] <= 1e-12
    safe = np.where(exact[:, None], 1.0, d)
    w = (np.maximum(radius - d, 0.0) / (radius * safe)) ** 2
    w[exact] = (1.0, 0.0, 0.0)
    total = w.sum(axis=1, keepdims=True)
    # All 4 neighbours equidistant (e.g. the pole of a ring): no neighbour is favoured.
    return np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / 3.0)


@lru_cache(maxsize=1)
def _default_hrir_data() -> HRIRData:
    resource = resources.files("spatialrep") / "_data" / DEFAULT_HRTF_FILE
    with resources.as_file(resource) as path:
        return read_sofa(path)


def load_default_hrtf(
    sample_rate: int = 16000,
    *,
    interpolation: str = "nearest",
    max_grid_distance_deg: float | None = DEFAULT_MAX_GRID_DISTANCE_DEG,
    name: str | None = None,
) -> HRTFSet:
    """The MIT KEMAR set shipped with spatialrep (normal pinna, 710 directions, elevations -40° to 90°).

    © 1994 MIT Media Laboratory; cite Gardner & Martin (1995), see ``_data/MIT_KEMAR_LICENSE.txt``.

    Args:
        sample_rate: output rate, Hz.
        interpolation, max_grid_distance_deg, name: as in :class:`HRTFSet`.

    References:
        Gardner, W. G., & Martin, K. D. (1995). HRTF measurements of a KEMAR. JASA 97(6), 3907-3908.
    """
    return HRTFSet(
        _default_hrir_data(),
        sample_rate,
        interpolation=interpolation,
        max_grid_distance_deg=max_grid_distance_deg,
        name=name,
    )
