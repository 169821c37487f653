"""Classic, training-free localization baselines: GCC-PHAT + ITD table, SRP-PHAT, MUSIC, and their variants.

All share one interface: ``localize(x)`` with ``x`` a waveform ``(channel, time)`` or
``(batch, channel, time)`` (numpy or torch, float) returns the azimuth estimate in radians, a float64 numpy
array of shape ``(batch,)`` (``batch = 1`` for a single clip). The grid-search baselines
(:class:`SrpPhatLocalizer`, :class:`MusicLocalizer`) also have
``localize_direction(x) -> (azimuth, elevation)``. Binaural input is ``(left, right)`` (channel 0 = left, as
everywhere in spatialrep).

* :class:`GccPhatItdLocalizer` (binaural; Knapp & Carter 1976): clip-level GCC-PHAT of the (left, right)
  pair, its peak lag (upsampled and / or parabolically refined), then the azimuth whose interaural time
  difference in a table (built from an HRTF set with :meth:`GccPhatItdLocalizer.from_hrtf`) is nearest. The
  frames are pooled by whole-clip accumulation of the cross spectra, per-frame PHAT averaged (the original
  behaviour), or energy- or SNR-weighted per-frame PHAT (:data:`GCC_ACCUMULATIONS`). The ITD cannot tell
  front from back, so the table covers the frontal half-plane only.
* :class:`GccPhatItdTracker`: its streaming form, exponentially weighted cross spectra, chunk by chunk.
* :class:`SrpPhatLocalizer` (DiBiase 2000): argmax of the clip's SRP-PHAT map (:mod:`spatialrep.features.srp`)
  with HRIR steering or free-field (ITD delay) steering (binaural) or plane-wave steering (arrays), frames
  pooled after (per-frame mean) or before (whole clip) the phase transform.
* :class:`MusicLocalizer` (Schmidt 1986): narrowband MUSIC in every STFT bin of a band, pseudo-spectra
  averaged over bins, optionally normalised per bin first (as ``pyroomacoustics.doa.MUSIC``).

Which variant is strongest is measured, not assumed: ``benchmarks/validate_classic.py`` and
``docs/evaluation.md``; :mod:`spatialrep.methods.classic` builds the validated ones by name. The classes'
own defaults keep their original behaviour.

This module takes HRTF sets duck-typed (``sample_rate``, ``itd(az, el, method=)``,
``impulse_responses(az, el)``); it does not import :mod:`spatialrep.simulate`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol, Self

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from spatialrep.features import functional as F
from spatialrep.features.srp import SRPPhat, srp_bins, steering_from_array, steering_from_hrirs
from spatialrep.geometry import SPEED_OF_SOUND, MicArray

__all__ = [
    "BINAURAL_STEERINGS",
    "GCC_ACCUMULATIONS",
    "ITD_TABLE_METHODS",
    "PEAK_INTERPOLATIONS",
    "SRP_ACCUMULATIONS",
    "TRACKER_ACCUMULATIONS",
    "GccPhatItdLocalizer",
    "GccPhatItdTracker",
    "HRTFLike",
    "MusicLocalizer",
    "SrpPhatLocalizer",
    "TrackerState",
    "frontal_azimuths",
    "steering_from_itd",
]

FloatArray = npt.NDArray[np.float64]


class HRTFLike(Protocol):
    """What the baselines need of an HRTF set (``spatialrep.simulate.HRTFSet`` has it)."""

    @property
    def sample_rate(self) -> int: ...

    def itd(self, azimuth: np.ndarray, elevation: np.ndarray, *, method: str = "onset") -> np.ndarray: ...

    def impulse_responses(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray: ...


def frontal_azimuths(step_deg: float = 5.0) -> FloatArray:
    """Azimuths ``-90°, -90° + step, ..., 90°``, radians: the default candidates of the binaural baselines."""
    if not step_deg > 0:
        raise ValueError(f"step_deg must be > 0, got {step_deg!r}")
    n = round(180.0 / step_deg)
    return np.radians(np.linspace(-90.0, 90.0, n + 1))


def _as_batch(x: Any, num_channels: int | None = None, min_channels: int = 2) -> Tensor:
    """``(C, T)`` or ``(B, C, T)`` float numpy/torch -> float tensor ``(B, C, T)``."""
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.is_complex() or not t.is_floating_point():
        raise TypeError(f"x must be a real float waveform, got dtype {t.dtype}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise ValueError(f"x must have shape (channel, time) or (batch, channel, time), got {tuple(t.shape)}")
    if num_channels is not None and t.shape[1] != num_channels:
        raise ValueError(f"expected {num_channels} channels on axis -2, got shape {tuple(t.shape)}")
    if t.shape[1] < min_channels:
        raise ValueError(f"need at least {min_channels} channels, got shape {tuple(t.shape)}")
    return t


def _directions(azimuth: npt.ArrayLike, elevation: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    az, el = np.broadcast_arrays(np.asarray(azimuth, np.float64), np.asarray(elevation, np.float64))
    az, el = np.atleast_1d(az).copy(), np.atleast_1d(el).copy()
    if az.ndim != 1 or az.size == 0:
        raise ValueError(f"candidate azimuths must be a non-empty 1-D array, got shape {az.shape}")
    if not (np.all(np.isfinite(az)) and np.all(np.isfinite(el))):
        raise ValueError("candidate directions must be finite")
    return az, el


def _parabolic_offset(left: Tensor, centre: Tensor, right: Tensor) -> Tensor:
    """Vertex offset in ``[-0.5, 0.5]`` samples of the parabola through three equally spaced points."""
    denom = left - 2.0 * centre + right
    safe = torch.where(denom.abs() > 1e-12, denom, torch.ones_like(denom))
    offset = torch.where(denom.abs() > 1e-12, 0.5 * (left - right) / safe, torch.zeros_like(denom))
    return offset.clamp(-0.5, 0.5)


GCC_ACCUMULATIONS = ("clip", "frame-mean", "energy", "snr")
"""How :class:`GccPhatItdLocalizer` turns a clip's frames into one cross-correlation (see its docstring)."""

PEAK_INTERPOLATIONS = ("parabolic", "none")
"""Sub-sample refinement of the GCC peak: a parabola through the peak and its neighbours, or none."""

TRACKER_ACCUMULATIONS = ("clip", "frame-mean")
"""What :class:`GccPhatItdTracker` averages over time: raw cross spectra, or per-frame PHAT phasors."""

ITD_TABLE_METHODS = ("xcorr", "onset", "gcc-phat")
"""ITD definitions :meth:`GccPhatItdLocalizer.from_hrtf` can build its table with."""


def _check_choice(value: str, valid: tuple[str, ...], name: str) -> str:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def _gcc_basis(n_fft: int, lags: Tensor, bins: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Real matrices ``(cos, sin)``, each ``(bins, lags)``: ``Re(C) @ cos - Im(C) @ sin`` is the GCC.

    For a one-sided spectrum ``C`` of bins ``k_low <= k < k_high`` (zero elsewhere) this equals
    ``irfft(C, n_fft * u)[lag * u] * u`` at every (fractional, multiple of ``1 / u``) lag: band-limited
    interpolation by zero padding, the Nyquist bin counted once (as :func:`spatialrep.features.functional.gcc`
    does), evaluated only where it is needed.
    """
    k = torch.arange(bins[0], bins[1], dtype=torch.float64)
    weight = torch.full_like(k, 2.0)
    weight[k == 0] = 1.0
    if n_fft % 2 == 0:
        weight[k == n_fft // 2] = 1.0
    theta = (2.0 * math.pi / n_fft) * k[:, None] * lags[None, :].to(torch.float64)
    scale = weight[:, None] / n_fft
    return scale * torch.cos(theta), scale * torch.sin(theta)


class GccPhatItdLocalizer:
    """Binaural azimuth from the GCC-PHAT interaural delay matched against an ITD table.

    The cross-power spectrum ``Z_t(f) = L_t(f) conj(R_t(f))`` of every STFT frame ``t`` is reduced to one
    clip spectrum ``C(f)`` by ``accumulation``; its inverse transform over the lags ``|k| <= max_lag``
    (resolution ``1 / upsample`` samples, band-limited interpolation) is the clip's GCC, whose peak lag ``k``
    (optionally refined by a parabola through the peak and its two neighbours) is the left arrival time minus
    the right one. The ITD (positive when the left ear leads, as ``HRTFSet.itd``) is ``-k / sample_rate`` and
    the estimate is the table azimuth whose ITD is nearest.

    ``accumulation`` (all PHAT-weighted; ``eps`` = :data:`spatialrep.features.functional.DEFAULT_EPS`):

    * ``"clip"``: ``C = S / |S|`` with ``S = sum_t Z_t``: the PHAT weighting ``1 / |G_LR|`` of Knapp & Carter
      (1976) applied to the clip's cross-power spectral density estimated by averaging the frames (Welch).
      Frames with more cross-power weigh more *before* the phase transform (the hope: the direct sound of loud
      onsets outweighs weak reverberant or noisy frames), but every bin then weighs 1. Measured on rendered
      reverberant speech (``docs/evaluation.md``) it is *worse* than ``"frame-mean"``.
    * ``"frame-mean"``: ``C = mean_t Z_t / |Z_t|``: the mean of the per-frame GCC-PHAT (the phase transform of
      every frame first, every frame votes equally). ``|C(f)|`` is how consistent bin ``f``'s phase is across
      frames, an implicit coherence weight that damps reverberant and noisy bins. The GCC-PHAT feature of
      learned models; this class's original behaviour.
    * ``"energy"``: ``C = sum_t w_t Z_t / |Z_t|`` with frame weights ``w_t = sum_f |Z_t(f)|`` (the frame's
      cross-power): per-frame PHAT, frames weighted by energy.
    * ``"snr"``: ``C = sum_t sum_f w_t(f) Z_t(f) / |Z_t(f)|`` with the Wiener-like weight
      ``w_t(f) = max(0, 1 - N(f) / |Z_t(f)|)``, ``N(f)`` the ``noise_quantile`` quantile of ``|Z_t(f)|`` over
      the clip's frames (a minimum-statistics noise floor, after Martin 2001): a bin votes with its estimated
      a-posteriori SNR ``g = |Z| / N`` as ``(g - 1) / g``, noise-only bins not at all.

    Args:
        itd_table_az: table azimuths, radians, shape ``(K,)``, frontal half-plane ``[-π/2, π/2]`` (the ITD is
            front-back ambiguous).
        itd_table: ITD of each table azimuth, seconds, shape ``(K,)``, positive when the left ear leads.
        sample_rate: Hz.
        n_fft: FFT size of the frames.
        hop_length: default ``n_fft // 2``.
        max_lag: lag search range, samples; default the table's largest ``|ITD|`` (the head's maximum ITD)
            plus 2 samples (:func:`spatialrep.features.functional.default_max_lag`).
        upsample: GCC lag resolution ``1 / upsample`` samples (zero-padded cross spectrum) before the
            parabolic refinement.
        accumulation: one of :data:`GCC_ACCUMULATIONS` (above); default ``"frame-mean"``, the original
            behaviour (the validated configuration is ``classic_localizer("gcc-phat-itd")``, see
            ``docs/evaluation.md``).
        interpolation: ``"parabolic"`` (default) or ``"none"`` (:data:`PEAK_INTERPOLATIONS`).
        freq_range: ``(low, high)`` Hz, both ends included (:func:`spatialrep.features.srp_bins`); default
            every bin, DC included.
        noise_quantile: ``accumulation="snr"`` only: quantile in ``(0, 1)`` of the noise floor ``N(f)``.

    Raises:
        ValueError: tables of different or empty shape, non-finite values, rear azimuths, an unknown
            accumulation or interpolation, invalid STFT, band or lag parameters.
    """

    def __init__(
        self,
        itd_table_az: npt.ArrayLike,
        itd_table: npt.ArrayLike,
        sample_rate: float,
        n_fft: int = 1024,
        hop_length: int | None = None,
        *,
        max_lag: int | None = None,
        upsample: int = 1,
        accumulation: str = "frame-mean",
        interpolation: str = "parabolic",
        freq_range: tuple[float, float] | None = None,
        noise_quantile: float = 0.1,
    ) -> None:
        az = np.asarray(itd_table_az, dtype=np.float64)
        itd = np.asarray(itd_table, dtype=np.float64)
        if az.ndim != 1 or az.size == 0 or itd.shape != az.shape:
            raise ValueError(
                f"itd_table_az and itd_table must be 1-D of the same non-zero length, got {az.shape} and "
                f"{itd.shape}"
            )
        if not (np.all(np.isfinite(az)) and np.all(np.isfinite(itd))):
            raise ValueError("ITD table must be finite")
        if np.any(np.abs(az) > math.pi / 2 + 1e-9):
            raise ValueError(
                "itd_table_az must lie in the frontal half-plane [-pi/2, pi/2] (the ITD cannot tell front "
                f"from back), got up to {np.degrees(np.abs(az).max()):.1f} degrees"
            )
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
        self.table_az = az
        self.table_itd = itd
        self.sample_rate = float(sample_rate)
        self.n_fft = F.check_positive_int(n_fft, "n_fft")
        self.hop_length = F.check_positive_int(n_fft // 2 if hop_length is None else hop_length, "hop_length")
        self.win_length = F.check_stft_params(self.n_fft, self.hop_length, None, "constant")
        self.upsample = F.check_positive_int(upsample, "upsample")
        self.accumulation = _check_choice(accumulation, GCC_ACCUMULATIONS, "accumulation")
        self.interpolation = _check_choice(interpolation, PEAK_INTERPOLATIONS, "interpolation")
        if not (isinstance(noise_quantile, int | float) and 0.0 < noise_quantile < 1.0):
            raise ValueError(f"noise_quantile must lie in (0, 1), got {noise_quantile!r}")
        self.noise_quantile = float(noise_quantile)
        if max_lag is None:
            max_lag = F.default_max_lag(float(np.abs(itd).max()), self.sample_rate)
        self.lags = F.gcc_lags(self.n_fft, max_lag, upsample=self.upsample)  # validates max_lag
        self.max_lag = int(max_lag)
        self.freq_range = freq_range
        self.bins = (
            (0, self.n_fft // 2 + 1) if freq_range is None else srp_bins(sample_rate, n_fft, freq_range)
        )
        self._cos, self._sin = _gcc_basis(self.n_fft, self.lags, self.bins)
        self._window = F.make_window("hann", self.win_length, dtype=torch.float64)

    @classmethod
    def from_hrtf(
        cls,
        hrtf_set: HRTFLike,
        azimuths: npt.ArrayLike | None = None,
        elevation: float = 0.0,
        *,
        method: str = "xcorr",
        **kwargs: Any,
    ) -> Self:
        """Build the ITD table of ``hrtf_set`` at ``azimuths``.

        Args:
            hrtf_set: e.g. ``spatialrep.simulate.load_default_hrtf(16000)``; its ``sample_rate`` is used.
            azimuths: table azimuths, radians; default :func:`frontal_azimuths` at 5° (KEMAR's grid).
            elevation: radians.
            method: ITD definition (:data:`ITD_TABLE_METHODS`). ``"xcorr"`` (default,
                ``hrtf_set.itd(..., method="xcorr")``) measures what GCC-PHAT measures, the cross-correlation
                peak; ``"onset"`` (difference of first arrivals) is biased against it by head diffraction (on
                KEMAR, anechoic noise at the measured 5° frontal directions: mean error 2.97° with
                ``"onset"``, 0.27° with ``"xcorr"``); ``"gcc-phat"`` runs this localizer's own estimator
                (band, PHAT, lags, interpolation) on each direction's impulse responses
                (:meth:`impulse_response_itd`), so the table is calibrated to the estimator. The lag range
                default comes from the ``"xcorr"`` table in every case.
            **kwargs: the constructor's keyword arguments (``n_fft``, ``accumulation``, ...).

        Raises:
            ValueError: an unknown ``method``, plus the constructor's errors.
        """
        _check_choice(method, ITD_TABLE_METHODS, "ITD table method")
        az = frontal_azimuths(5.0) if azimuths is None else np.asarray(azimuths, dtype=np.float64)
        el = np.full(az.shape, float(elevation))
        itd_method = "xcorr" if method == "gcc-phat" else method
        itd = np.asarray(hrtf_set.itd(az, el, method=itd_method), dtype=np.float64)
        localizer = cls(az, itd, hrtf_set.sample_rate, **kwargs)
        if method == "gcc-phat":
            localizer.table_itd = localizer.impulse_response_itd(hrtf_set.impulse_responses(az, el))
        return localizer

    # -- the estimator, step by step ---------------------------------------------------------------------

    def cross_spectra(self, x: Any) -> Tensor:
        """Per-frame cross-power spectra ``L conj(R)`` in the band, complex128, ``(batch, bins, frames)``.

        Frames of :func:`spatialrep.features.functional.stft` (Hann window, centred, zero padded).
        """
        t = _as_batch(x, num_channels=2).to(torch.float64)
        spec = F.stft(t, self.n_fft, self.hop_length, self.win_length, self._window)
        spec = spec[:, :, self.bins[0] : self.bins[1], :]
        return spec[:, 0] * spec[:, 1].conj()

    def accumulate(self, cross: Tensor) -> Tensor:
        """Clip spectrum ``C`` ``(batch, bins)`` from per-frame cross spectra ``(batch, bins, frames)``."""
        eps = F.DEFAULT_EPS
        if self.accumulation == "clip":
            total = cross.sum(dim=-1)
            return total / (total.abs() + eps)
        magnitude = cross.abs()
        phasor = cross / (magnitude + eps)
        if self.accumulation == "frame-mean":
            return phasor.mean(dim=-1)
        if self.accumulation == "energy":
            weight = magnitude.sum(dim=-2, keepdim=True)  # (B, 1, T)
        else:  # "snr"
            floor = torch.quantile(magnitude, self.noise_quantile, dim=-1, keepdim=True)  # (B, F', 1)
            weight = (1.0 - floor / (magnitude + eps)).clamp_min(0.0)
        total = (phasor * weight).sum(dim=-1)
        return total / (weight.sum(dim=(-2, -1))[:, None] + eps)

    def correlation(self, spectrum: Tensor) -> Tensor:
        """GCC at :attr:`lags` of clip spectra ``(..., bins)`` (complex), float64 ``(..., lags)``."""
        return spectrum.real @ self._cos - spectrum.imag @ self._sin

    def peak_lag(self, corr: Tensor) -> Tensor:
        """Peak lag in samples (fractional), float64 ``(...)``, of correlations ``(..., lags)``."""
        peak = corr.argmax(dim=-1)
        lag = self.lags[peak]
        if self.interpolation == "none":
            return lag
        n = corr.shape[-1]
        inner = peak.clamp(1, n - 2)[..., None]
        left, centre, right = (corr.gather(-1, inner + d)[..., 0] for d in (-1, 0, 1))
        offset = _parabolic_offset(left, centre, right)
        offset = torch.where((peak > 0) & (peak < n - 1), offset, torch.zeros_like(offset))
        return lag + offset / self.upsample

    def itd_to_azimuth(self, itd: npt.ArrayLike) -> FloatArray:
        """Azimuth of the nearest table ITD, radians, same shape as ``itd`` (seconds)."""
        itd = np.asarray(itd, dtype=np.float64)
        nearest = np.abs(itd[..., None] - self.table_itd).argmin(axis=-1)
        return self.table_az[nearest]

    def impulse_response_itd(self, irs: npt.ArrayLike) -> FloatArray:
        """This estimator's ITD of impulse-response pairs, seconds, ``(directions,)``.

        The cross spectrum of each pair (one frame, no window) goes through the band, the PHAT, the lag
        range and the peak interpolation of :meth:`estimate_itd`: the ``"gcc-phat"`` table of
        :meth:`from_hrtf`.

        Args:
            irs: ``(directions, 2, taps)``, channel 0 = left, at :attr:`sample_rate`; ``taps`` at most
                ``n_fft - max_lag`` (so the circular correlation equals the linear one over the lag range).

        Raises:
            ValueError: a wrong shape or responses too long for ``n_fft``.
        """
        h = torch.as_tensor(np.asarray(irs, dtype=np.float64))
        if h.ndim != 3 or h.shape[1] != 2 or h.shape[-1] < 1:
            raise ValueError(f"irs must have shape (directions, 2, taps), got {tuple(h.shape)}")
        if h.shape[-1] > self.n_fft - self.max_lag:
            raise ValueError(
                f"impulse responses of {h.shape[-1]} taps need n_fft >= taps + max_lag = "
                f"{h.shape[-1] + self.max_lag}, got n_fft={self.n_fft}"
            )
        spec = torch.fft.rfft(h, n=self.n_fft, dim=-1)[..., self.bins[0] : self.bins[1]]
        cross = spec[:, 0] * spec[:, 1].conj()
        lag = self.peak_lag(self.correlation(cross / (cross.abs() + F.DEFAULT_EPS)))
        return (-lag / self.sample_rate).numpy()

    def estimate_itd(self, x: Any) -> FloatArray:
        """Clip ITD, seconds (positive: left ear leads), shape ``(batch,)``; ``x`` as :meth:`localize`."""
        spectrum = self.accumulate(self.cross_spectra(x))
        return (-self.peak_lag(self.correlation(spectrum)) / self.sample_rate).numpy()

    def localize(self, x: Any) -> FloatArray:
        """Azimuth, radians, shape ``(batch,)``, from binaural ``x`` ``(2, time)`` or ``(batch, 2, time)``.

        Raises:
            TypeError: non-float input.
            ValueError: not 2 channels, wrong rank.
        """
        return self.itd_to_azimuth(self.estimate_itd(x))


@dataclasses.dataclass
class TrackerState:
    """What :class:`GccPhatItdTracker` carries between chunks.

    Attributes:
        pending: samples not yet in a complete frame, ``(batch, 2, n)`` float64, ``n < n_fft + hop``.
        cross: exponentially weighted cross-power spectrum, complex128 ``(batch, bins)``.
        frames: frames processed so far.
    """

    pending: Tensor
    cross: Tensor
    frames: int = 0


class GccPhatItdTracker(GccPhatItdLocalizer):
    """Streaming GCC-PHAT + ITD table: exponentially weighted cross-power spectra, one estimate per frame.

    Causal frames ``t`` (samples ``[t hop, t hop + n_fft)``, Hann window, no padding) update an exponentially
    weighted cross spectrum ``S_t = lam S_(t-1) + V_t`` with the forgetting factor
    ``lam = exp(-hop / (time_constant_s * sample_rate))``, the recursive cross-spectral density estimate of
    real-time time-delay trackers. ``accumulation`` says what is averaged, as in :class:`GccPhatItdLocalizer`:

    * ``"clip"``: ``V_t = Z_t = L_t conj(R_t)``, and the estimate after frame ``t`` is the GCC of the phase
      transform ``S_t / |S_t|`` (Knapp & Carter's PHAT on the running cross-spectral density);
    * ``"frame-mean"``: ``V_t = Z_t / |Z_t|``, and the estimate is the GCC of ``S_t`` itself (a running mean
      of per-frame GCC-PHAT).

    Then its peak lag and the nearest table ITD. With ``time_constant_s -> inf`` the last estimate is the
    same accumulation of :class:`GccPhatItdLocalizer` over causal frames.

    :meth:`localize` gives the estimate after the clip's last complete frame; :meth:`advance` /
    :meth:`state_itd` run the same recursion chunk by chunk, with the same result. :meth:`track` gives one
    azimuth per frame.

    Args:
        time_constant_s: memory of the average, seconds (``> 0``).
        accumulation: ``"clip"`` or ``"frame-mean"`` (:data:`TRACKER_ACCUMULATIONS`, above).
        Others: as :class:`GccPhatItdLocalizer`.

    Raises:
        ValueError: a non-positive time constant, another accumulation, plus the errors of
            :class:`GccPhatItdLocalizer`.
    """

    def __init__(
        self,
        itd_table_az: npt.ArrayLike,
        itd_table: npt.ArrayLike,
        sample_rate: float,
        n_fft: int = 1024,
        hop_length: int | None = None,
        *,
        time_constant_s: float = 0.5,
        accumulation: str = "clip",
        max_lag: int | None = None,
        upsample: int = 1,
        interpolation: str = "parabolic",
        freq_range: tuple[float, float] | None = None,
    ) -> None:
        _check_choice(accumulation, TRACKER_ACCUMULATIONS, "tracker accumulation")
        super().__init__(
            itd_table_az,
            itd_table,
            sample_rate,
            n_fft,
            hop_length,
            max_lag=max_lag,
            upsample=upsample,
            accumulation=accumulation,
            interpolation=interpolation,
            freq_range=freq_range,
        )
        if not (isinstance(time_constant_s, int | float) and 0 < time_constant_s < math.inf):
            raise ValueError(f"time_constant_s must be a finite number > 0, got {time_constant_s!r}")
        self.time_constant_s = float(time_constant_s)
        self.forget = math.exp(-self.hop_length / (self.time_constant_s * self.sample_rate))

    def init_state(self, batch: int) -> TrackerState:
        """Empty state for ``batch`` streams."""
        n_bins = self.bins[1] - self.bins[0]
        return TrackerState(
            pending=torch.zeros(batch, 2, 0, dtype=torch.float64),
            cross=torch.zeros(batch, n_bins, dtype=torch.complex128),
        )

    def _frames(self, pending: Tensor) -> tuple[Tensor, Tensor]:
        """Cross spectra ``(B, bins, frames)`` of the complete frames of ``pending``, and what is left."""
        count = (
            0 if pending.shape[-1] < self.n_fft else 1 + (pending.shape[-1] - self.n_fft) // self.hop_length
        )
        if count == 0:
            n_bins = self.bins[1] - self.bins[0]
            return torch.zeros(pending.shape[0], n_bins, 0, dtype=torch.complex128), pending
        frames = pending.unfold(-1, self.n_fft, self.hop_length)[:, :, :count] * self._window  # (B, 2, T, N)
        spec = torch.fft.rfft(frames, dim=-1)[..., self.bins[0] : self.bins[1]]
        cross = (spec[:, 0] * spec[:, 1].conj()).transpose(-1, -2)  # (B, bins, T)
        return cross, pending[..., count * self.hop_length :]

    def advance(self, state: TrackerState, chunk: Any, *, keep: bool = False) -> tuple[TrackerState, Tensor]:
        """Feed ``chunk`` ``(batch, 2, samples)`` (``samples >= 0``) to ``state``.

        Returns:
            The new state, and the tracked cross spectrum after each new frame, complex128
            ``(batch, bins, new frames)`` if ``keep`` (else an empty ``(batch, bins, 0)``).
        """
        t = chunk if isinstance(chunk, Tensor) else torch.as_tensor(np.asarray(chunk))
        if t.ndim != 3 or t.shape[:2] != state.pending.shape[:2]:
            raise ValueError(
                f"chunk must have shape {tuple(state.pending.shape[:2])} + (samples,), got {tuple(t.shape)}"
            )
        pending = torch.cat([state.pending, t.to(torch.float64)], dim=-1)
        cross, rest = self._frames(pending)
        if self.accumulation == "frame-mean":
            cross = cross / (cross.abs() + F.DEFAULT_EPS)
        current = state.cross
        kept = []
        for index in range(cross.shape[-1]):
            current = self.forget * current + cross[..., index]
            if keep:
                kept.append(current)
        history = torch.stack(kept, dim=-1) if kept else cross[..., :0]
        return TrackerState(rest, current, state.frames + cross.shape[-1]), history

    def state_itd(self, state: TrackerState) -> FloatArray:
        """ITD after the last processed frame, seconds, ``(batch,)`` (0 before any frame)."""
        return (-self.peak_lag(self.correlation(self._spectrum(state.cross))) / self.sample_rate).numpy()

    def _spectrum(self, cross: Tensor) -> Tensor:
        """The spectrum whose GCC is the estimate: PHAT of the running sum (``"clip"``) or the sum itself."""
        if self.accumulation == "clip":
            return cross / (cross.abs() + F.DEFAULT_EPS)
        return cross

    def estimate_itd(self, x: Any) -> FloatArray:
        """ITD after the clip's last complete frame, seconds, ``(batch,)``.

        Raises:
            ValueError: fewer than ``n_fft`` samples (no complete frame), plus the input checks.
        """
        t = _as_batch(x, num_channels=2)
        if t.shape[-1] < self.n_fft:
            raise ValueError(f"need at least n_fft={self.n_fft} samples for one frame, got {t.shape[-1]}")
        state, _ = self.advance(self.init_state(t.shape[0]), t)
        return self.state_itd(state)

    def track(self, x: Any) -> FloatArray:
        """Azimuth after every complete frame, radians, ``(batch, frames)`` (frame ``t`` ends at sample
        ``t hop + n_fft``)."""
        t = _as_batch(x, num_channels=2)
        _, history = self.advance(self.init_state(t.shape[0]), t, keep=True)
        spectrum = self._spectrum(history).transpose(-1, -2)  # (B, T, bins)
        itd = -self.peak_lag(self.correlation(spectrum)) / self.sample_rate
        return self.itd_to_azimuth(itd.numpy())

    def localize_stream(self, x: Any, chunk_samples: int) -> FloatArray:
        """:meth:`localize` fed ``chunk_samples`` at a time through :meth:`advance` (the same result)."""
        t = _as_batch(x, num_channels=2)
        chunk = F.check_positive_int(chunk_samples, "chunk_samples")
        if t.shape[-1] < self.n_fft:
            raise ValueError(f"need at least n_fft={self.n_fft} samples for one frame, got {t.shape[-1]}")
        state = self.init_state(t.shape[0])
        for start in range(0, t.shape[-1], chunk):
            state, _ = self.advance(state, t[..., start : start + chunk])
        return self.itd_to_azimuth(self.state_itd(state))


SRP_ACCUMULATIONS = ("frame-mean", "clip")
"""How :class:`SrpPhatLocalizer` pools a clip's frames (see its docstring)."""

BINAURAL_STEERINGS = ("hrtf", "freefield")
"""Steering of the binaural grid baselines: the head's HRIRs, or pure delays from its ITD table."""


def steering_from_itd(itd: npt.ArrayLike, sample_rate: float, n_fft: int) -> Tensor:
    """Free-field (pure delay) binaural steering vectors from interaural time differences.

    The two ears are treated as two omnidirectional points whose arrival times differ by the ITD:
    ``A[d, 0] = exp(2j pi f itd_d / 2)`` (left), ``A[d, 1] = exp(-2j pi f itd_d / 2)`` (right), so
    ``A_0 conj(A_1) = exp(2j pi f itd_d)``, the cross spectrum ``L conj(R)`` of a source whose left ear leads
    by ``itd_d``. No level, no frequency-dependent phase of the head: the head enters only through its ITDs.

    Args:
        itd: seconds, ``(directions,)``, positive when the left ear leads (as ``HRTFSet.itd``).
        sample_rate: Hz.
        n_fft: FFT size.

    Returns:
        complex128 tensor ``(directions, 2, n_fft // 2 + 1)``.

    Raises:
        ValueError: ``itd`` not 1-D or not finite, non-positive sample rate.
    """
    tau = np.asarray(itd, dtype=np.float64)
    if tau.ndim != 1 or tau.size == 0 or not np.all(np.isfinite(tau)):
        raise ValueError(f"itd must be a non-empty finite 1-D array (seconds), got shape {tau.shape}")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    freqs = np.arange(F.check_positive_int(n_fft, "n_fft") // 2 + 1) * (sample_rate / n_fft)
    half = math.pi * tau[:, None] * freqs[None, :]  # (D, F): 2 pi f itd / 2
    phase = torch.from_numpy(np.stack([half, -half], axis=1))
    return torch.polar(torch.ones_like(phase), phase)


def _binaural_steering(
    hrtf_set: HRTFLike, az: FloatArray, el: FloatArray, n_fft: int, steering: str, itd_method: str
) -> Tensor:
    _check_choice(steering, BINAURAL_STEERINGS, "steering")
    if steering == "hrtf":
        return steering_from_hrirs(np.asarray(hrtf_set.impulse_responses(az, el)), n_fft)
    itd = np.asarray(hrtf_set.itd(az, el, method=itd_method), dtype=np.float64)
    return steering_from_itd(itd, hrtf_set.sample_rate, n_fft)


class _GridLocalizer:
    """Shared constructor checks of the grid-search baselines."""

    azimuth: FloatArray
    elevation: FloatArray
    steering: Tensor

    def _init_grid(self, steering: Tensor, azimuth: npt.ArrayLike, elevation: npt.ArrayLike) -> None:
        if not isinstance(steering, Tensor) or not steering.is_complex() or steering.ndim != 3:
            raise TypeError("steering must be a complex tensor (directions, channels, n_fft // 2 + 1)")
        az, el = _directions(azimuth, elevation)
        if az.size != steering.shape[0]:
            raise ValueError(
                f"{az.size} candidate directions but steering has {steering.shape[0]} (axis 0 must match)"
            )
        self.azimuth, self.elevation, self.steering = az, el, steering
        self.num_channels = int(steering.shape[1])

    def localize_index(self, x: Any) -> Tensor:
        raise NotImplementedError

    def localize(self, x: Any) -> FloatArray:
        """Azimuth of the best candidate, radians, shape ``(batch,)``.

        Args:
            x: waveform ``(channel, time)`` or ``(batch, channel, time)``, numpy or torch float.
        """
        return self.azimuth[self.localize_index(x).numpy()]

    def localize_direction(self, x: Any) -> tuple[FloatArray, FloatArray]:
        """``(azimuth, elevation)`` of the best candidate, radians, each shape ``(batch,)``."""
        idx = self.localize_index(x).numpy()
        return self.azimuth[idx], self.elevation[idx]


class SrpPhatLocalizer(_GridLocalizer):
    """Argmax over candidate directions of the clip's SRP-PHAT map (DiBiase 2000; DiBiase, Silverman &
    Brandstein 2001).

    ``accumulation``:

    * ``"frame-mean"`` (default, the original behaviour): the mean over frames of the per-frame map, i.e. the
      PHAT-weighted cross spectra ``Z_ij / |Z_ij|`` of every frame averaged before matching
      (:mod:`spatialrep.features.srp`; as ``pyroomacoustics.doa.SRP``).
    * ``"clip"``: the cross spectra summed over the clip's frames first, then PHAT-weighted once,
      ``S_ij / |S_ij|`` with ``S_ij = sum_t Z_ij,t`` (the whole-clip accumulation of
      :class:`GccPhatItdLocalizer`): loud direct-sound frames weigh more than reverberant or noisy ones.

    The map of both is ``P[d] = 1 / (P F') sum_pairs sum_f Re{ Zhat_ij[f] conj(G_ij[d, f]) }`` with the PHAT
    steering ``G`` of :mod:`spatialrep.features.srp`.

    Args:
        steering: ``(directions, channels, n_fft // 2 + 1)`` complex (:func:`steering_from_hrirs`,
            :func:`steering_from_array`, :func:`steering_from_itd`); prefer the classmethods.
        azimuth, elevation: the candidate directions, radians, ``(directions,)`` (elevation broadcasts).
        sample_rate: Hz.
        n_fft: FFT size.
        hop_length: default ``n_fft // 2``.
        freq_range: ``(low, high)`` Hz; default every bin but DC.
        accumulation: ``"frame-mean"`` or ``"clip"`` (:data:`SRP_ACCUMULATIONS`).

    Raises:
        TypeError: real steering. ValueError: direction count not matching the steering, an unknown
            accumulation, plus the errors of :class:`spatialrep.features.SRPPhat`.
    """

    def __init__(
        self,
        steering: Tensor,
        azimuth: npt.ArrayLike,
        elevation: npt.ArrayLike,
        sample_rate: float,
        n_fft: int,
        hop_length: int | None = None,
        *,
        freq_range: tuple[float, float] | None = None,
        accumulation: str = "frame-mean",
    ) -> None:
        self._init_grid(steering, azimuth, elevation)
        hop = n_fft // 2 if hop_length is None else hop_length
        self.module = SRPPhat(steering, sample_rate, n_fft, hop, freq_range=freq_range, average=True)
        self.accumulation = _check_choice(accumulation, SRP_ACCUMULATIONS, "accumulation")

    @classmethod
    def from_hrtf(
        cls,
        hrtf_set: HRTFLike,
        azimuth: npt.ArrayLike | None = None,
        elevation: npt.ArrayLike = 0.0,
        n_fft: int = 1024,
        hop_length: int | None = None,
        *,
        freq_range: tuple[float, float] | None = None,
        accumulation: str = "frame-mean",
        steering: str = "hrtf",
        itd_method: str = "xcorr",
    ) -> SrpPhatLocalizer:
        """Binaural SRP-PHAT for a head.

        Args:
            hrtf_set: the head (``sample_rate``, ``impulse_responses``, ``itd``).
            azimuth: candidates, radians; default :func:`frontal_azimuths` at 5°.
            elevation: radians (broadcasts).
            n_fft, hop_length, freq_range, accumulation: as the constructor.
            steering: ``"hrtf"`` (default): the HRIRs' transfer functions (they need at most ``n_fft`` taps);
                ``"freefield"``: pure delays from the head's ITD table (:func:`steering_from_itd`).
            itd_method: ``steering="freefield"`` only: ``hrtf_set.itd`` method, ``"xcorr"`` or ``"onset"``.
        """
        az, el = _directions(frontal_azimuths(5.0) if azimuth is None else azimuth, elevation)
        vectors = _binaural_steering(hrtf_set, az, el, n_fft, steering, itd_method)
        return cls(
            vectors,
            az,
            el,
            hrtf_set.sample_rate,
            n_fft,
            hop_length,
            freq_range=freq_range,
            accumulation=accumulation,
        )

    @classmethod
    def from_array(
        cls,
        array: MicArray | npt.ArrayLike,
        azimuth: npt.ArrayLike,
        elevation: npt.ArrayLike,
        sample_rate: float,
        n_fft: int = 512,
        hop_length: int | None = None,
        *,
        freq_range: tuple[float, float] | None = None,
        speed_of_sound: float = SPEED_OF_SOUND,
        accumulation: str = "frame-mean",
    ) -> SrpPhatLocalizer:
        """Free-field plane-wave steering of a microphone array (:func:`steering_from_array`)."""
        az, el = _directions(azimuth, elevation)
        steering = steering_from_array(array, az, el, sample_rate, n_fft, speed_of_sound=speed_of_sound)
        return cls(
            steering, az, el, sample_rate, n_fft, hop_length, freq_range=freq_range, accumulation=accumulation
        )

    def srp_map(self, x: Any) -> Tensor:
        """The clip's map over the candidates, ``(batch, directions)``, in ``[-1, 1]``."""
        t = _as_batch(x, num_channels=self.num_channels)
        module = self.module
        if self.accumulation == "frame-mean":
            return module(t)
        spec = F.stft(t, module.n_fft, module.hop_length, module.win_length, module.window, module.center)
        cross = F.cross_spectrum(spec[..., module.bins[0] : module.bins[1], :], module.pairs).sum(dim=-1)
        cross = cross / (cross.abs() + module.eps)  # (B, P, F')
        flat = torch.view_as_real(cross).flatten(-3)
        return flat @ module.matrix.to(flat.dtype).T

    def localize_index(self, x: Any) -> Tensor:
        """Best candidate index, int64, shape ``(batch,)``."""
        if self.accumulation == "frame-mean":
            return self.module.localize(_as_batch(x, num_channels=self.num_channels))
        return self.srp_map(x).argmax(dim=-1)


class MusicLocalizer(_GridLocalizer):
    """Narrowband MUSIC in every bin of a band, pseudo-spectra averaged over bins (incoherent wideband MUSIC;
    Schmidt 1986).

    Per bin ``f``: the spatial covariance ``R_f = (1 / T) sum_t x_t x_t^H`` over the clip's frames; its
    eigenvectors of the ``num_sources`` largest eigenvalues span the signal subspace ``E_s``, and the noise
    projector is ``P_f = I - E_s E_s^H``. With unit-norm steering vectors ``a = A / ||A||``,
    ``S_f(d) = 1 / (a_d^H P_f a_d)``; the clip map is ``S(d) = mean_f S_f(d)`` and the estimate its argmax
    (as ``pyroomacoustics.doa.MUSIC``). With ``frequency_normalization=True`` each bin's spectrum is first
    divided by its maximum over the candidates, ``S_f / max_d S_f`` (pyroomacoustics'
    ``frequency_normalization=True``): every bin votes with the same weight, instead of the few bins whose
    noise subspace happens to be nearly orthogonal to one candidate (a huge, sharp ``S_f``) deciding alone.

    Arrays need ``channels > num_sources``. Binaural MUSIC (HRIR steering, :meth:`from_hrtf`) works with one
    source, but the noise subspace is then 1-D: each bin's spectrum is the mismatch with a single direction of
    ``C^2``, so it degrades quickly with noise, reverberation or a second source.

    Args:
        steering: ``(directions, channels, n_fft // 2 + 1)`` complex.
        azimuth, elevation: candidate directions, radians.
        sample_rate: Hz.
        n_fft: FFT size.
        hop_length: default ``n_fft // 2``.
        freq_range: ``(low, high)`` Hz, both ends included (:func:`spatialrep.features.srp_bins`); default
            every bin but DC.
        num_sources: signal subspace dimension, ``1 <= num_sources < channels``.
        frequency_normalization: normalise each bin's pseudo-spectrum by its maximum before averaging.

    Raises:
        TypeError: real steering. ValueError: fewer than 2 channels, ``num_sources`` out of range, direction
            count not matching the steering, invalid band or STFT parameters.
    """

    def __init__(
        self,
        steering: Tensor,
        azimuth: npt.ArrayLike,
        elevation: npt.ArrayLike,
        sample_rate: float,
        n_fft: int,
        hop_length: int | None = None,
        *,
        freq_range: tuple[float, float] | None = None,
        num_sources: int = 1,
        frequency_normalization: bool = False,
    ) -> None:
        self._init_grid(steering, azimuth, elevation)
        if self.num_channels < 2:
            raise ValueError(f"MUSIC needs at least 2 channels, steering has {self.num_channels}")
        if not (isinstance(num_sources, int) and 1 <= num_sources < self.num_channels):
            raise ValueError(
                f"num_sources must be an integer in [1, {self.num_channels}) for {self.num_channels} "
                f"channels, got {num_sources!r}"
            )
        self.n_fft = F.check_positive_int(n_fft, "n_fft")
        if steering.shape[2] != self.n_fft // 2 + 1:
            raise ValueError(
                f"steering has {steering.shape[2]} bins, expected n_fft // 2 + 1 = {self.n_fft // 2 + 1}"
            )
        self.hop_length = F.check_positive_int(n_fft // 2 if hop_length is None else hop_length, "hop_length")
        self.win_length = F.check_stft_params(self.n_fft, self.hop_length, None, "constant")
        self.bins = srp_bins(sample_rate, self.n_fft, freq_range)
        self.num_sources = num_sources
        self.frequency_normalization = bool(frequency_normalization)
        self.sample_rate = float(sample_rate)
        a = steering[..., self.bins[0] : self.bins[1]].to(torch.complex128)  # (D, C, F')
        norm = torch.linalg.vector_norm(a, dim=1, keepdim=True)
        self._unit_steering = (a / norm.clamp_min(1e-30)).permute(2, 1, 0).contiguous()  # (F', C, D)

    @classmethod
    def from_hrtf(
        cls,
        hrtf_set: HRTFLike,
        azimuth: npt.ArrayLike | None = None,
        elevation: npt.ArrayLike = 0.0,
        n_fft: int = 1024,
        hop_length: int | None = None,
        *,
        freq_range: tuple[float, float] | None = None,
        frequency_normalization: bool = False,
        steering: str = "hrtf",
        itd_method: str = "xcorr",
    ) -> MusicLocalizer:
        """Binaural MUSIC (one source; see the class docstring); ``steering`` and ``itd_method`` as
        :meth:`SrpPhatLocalizer.from_hrtf`."""
        az, el = _directions(frontal_azimuths(5.0) if azimuth is None else azimuth, elevation)
        vectors = _binaural_steering(hrtf_set, az, el, n_fft, steering, itd_method)
        return cls(
            vectors,
            az,
            el,
            hrtf_set.sample_rate,
            n_fft,
            hop_length,
            freq_range=freq_range,
            frequency_normalization=frequency_normalization,
        )

    @classmethod
    def from_array(
        cls,
        array: MicArray | npt.ArrayLike,
        azimuth: npt.ArrayLike,
        elevation: npt.ArrayLike,
        sample_rate: float,
        n_fft: int = 512,
        hop_length: int | None = None,
        *,
        freq_range: tuple[float, float] | None = None,
        num_sources: int = 1,
        speed_of_sound: float = SPEED_OF_SOUND,
        frequency_normalization: bool = False,
    ) -> MusicLocalizer:
        """Free-field plane-wave steering of a microphone array (:func:`steering_from_array`)."""
        az, el = _directions(azimuth, elevation)
        steering = steering_from_array(array, az, el, sample_rate, n_fft, speed_of_sound=speed_of_sound)
        return cls(
            steering,
            az,
            el,
            sample_rate,
            n_fft,
            hop_length,
            freq_range=freq_range,
            num_sources=num_sources,
            frequency_normalization=frequency_normalization,
        )

    def pseudo_spectrum(self, x: Any) -> Tensor:
        """Bin-averaged MUSIC pseudo-spectrum, float64, shape ``(batch, directions)``."""
        t = _as_batch(x, num_channels=self.num_channels).to(torch.float64)
        spec = F.stft(t, self.n_fft, self.hop_length, self.win_length)  # (B, C, F, T)
        xs = spec[:, :, self.bins[0] : self.bins[1], :].permute(0, 2, 1, 3)  # (B, F', C, T)
        cov = xs @ xs.conj().transpose(-1, -2) / xs.shape[-1]  # (B, F', C, C)
        _, vectors = torch.linalg.eigh(cov)  # ascending eigenvalues
        signal = vectors[..., -self.num_sources :]
        eye = torch.eye(self.num_channels, dtype=cov.dtype)
        projector = eye - signal @ signal.conj().transpose(-1, -2)  # (B, F', C, C)
        a = self._unit_steering  # (F', C, D)
        denom = (a.conj() * (projector @ a)).sum(dim=-2).real  # (B, F', D)
        per_bin = 1.0 / denom.clamp_min(1e-12)
        if self.frequency_normalization:
            per_bin = per_bin / per_bin.amax(dim=-1, keepdim=True)
        return per_bin.mean(dim=1)

    def localize_index(self, x: Any) -> Tensor:
        """Best candidate index, int64, shape ``(batch,)``."""
        return self.pseudo_spectrum(x).argmax(dim=-1)
