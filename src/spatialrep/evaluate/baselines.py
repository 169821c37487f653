"""Classic, training-free localization baselines: GCC-PHAT + ITD table, SRP-PHAT, MUSIC.

All share one interface: ``localize(x)`` with ``x`` a waveform ``(channel, time)`` or
``(batch, channel, time)`` (numpy or torch, float) returns the azimuth estimate in radians, a float64 numpy
array of shape ``(batch,)`` (``batch = 1`` for a single clip). The grid-search baselines
(:class:`SrpPhatLocalizer`, :class:`MusicLocalizer`) also have
``localize_direction(x) -> (azimuth, elevation)``. Binaural input is ``(left, right)`` (channel 0 = left, as
everywhere in spatialrep).

* :class:`GccPhatItdLocalizer` (binaural): clip-level GCC-PHAT of the (left, right) pair (mean over frames),
  parabolic interpolation of the peak, then the azimuth whose interaural time difference in a table (built
  from an HRTF set with :meth:`GccPhatItdLocalizer.from_hrtf`) is nearest. The ITD cannot tell front from
  back, so the table covers the frontal half-plane only.
* :class:`SrpPhatLocalizer`: argmax of the time-averaged SRP-PHAT map (:mod:`spatialrep.features.srp`) with
  HRIR steering (binaural) or free-field plane-wave steering (arrays).
* :class:`MusicLocalizer`: narrowband MUSIC in every STFT bin of a band, pseudo-spectra averaged over bins.

This module takes HRTF sets duck-typed (``sample_rate``, ``itd(az, el, method=)``,
``impulse_responses(az, el)``); it does not import :mod:`spatialrep.simulate`.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from spatialrep.features import functional as F
from spatialrep.features.srp import SRPPhat, srp_bins, steering_from_array, steering_from_hrirs
from spatialrep.geometry import SPEED_OF_SOUND, MicArray

__all__ = ["GccPhatItdLocalizer", "HRTFLike", "MusicLocalizer", "SrpPhatLocalizer", "frontal_azimuths"]

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


class GccPhatItdLocalizer:
    """Binaural azimuth from the GCC-PHAT interaural delay matched against an ITD table.

    The clip's GCC-PHAT of the pair (left, right) is averaged over frames; its peak lag ``k`` (samples,
    refined by a parabola through the peak and its two neighbours) is the left arrival time minus the right
    one, so the ITD (positive when the left ear leads, as ``HRTFSet.itd``) is ``-k / sample_rate``. The
    estimate is the table azimuth whose ITD is nearest.

    Args:
        itd_table_az: table azimuths, radians, shape ``(K,)``, frontal half-plane ``[-π/2, π/2]`` (the ITD is
            front-back ambiguous).
        itd_table: ITD of each table azimuth, seconds, shape ``(K,)``, positive when the left ear leads.
        sample_rate: Hz.
        n_fft: FFT size of the frames.
        hop_length: default ``n_fft // 2``.
        max_lag: lag search range, samples; default the table's largest ``|ITD|`` plus 2 samples
            (:func:`spatialrep.features.functional.default_max_lag`).
        upsample: GCC lag resolution ``1 / upsample`` samples before the parabolic refinement.

    Raises:
        ValueError: tables of different or empty shape, non-finite values, rear azimuths, invalid STFT or lag
            parameters.
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
        self.upsample = F.check_positive_int(upsample, "upsample")
        if max_lag is None:
            max_lag = F.default_max_lag(float(np.abs(itd).max()), self.sample_rate)
        self.lags = F.gcc_lags(self.n_fft, max_lag, upsample=self.upsample)  # validates max_lag
        self.max_lag = int(max_lag)

    @classmethod
    def from_hrtf(
        cls,
        hrtf_set: HRTFLike,
        azimuths: npt.ArrayLike | None = None,
        elevation: float = 0.0,
        *,
        method: str = "xcorr",
        **kwargs: Any,
    ) -> GccPhatItdLocalizer:
        """Build the ITD table with ``hrtf_set.itd(azimuths, elevation, method=method)``.

        Args:
            hrtf_set: e.g. ``spatialrep.simulate.load_default_hrtf(16000)``; its ``sample_rate`` is used.
            azimuths: table azimuths, radians; default :func:`frontal_azimuths` at 5° (KEMAR's grid).
            elevation: radians.
            method: ITD definition of the set. ``"xcorr"`` (default) measures what GCC-PHAT measures, the
                cross-correlation peak; ``"onset"`` (difference of first arrivals) is biased against it by
                head diffraction (on KEMAR, anechoic noise at the measured 5° frontal directions: mean error
                2.97° with ``"onset"``, 0.27° with ``"xcorr"``).
            **kwargs: the constructor's ``n_fft``, ``hop_length``, ``max_lag``, ``upsample``.
        """
        az = frontal_azimuths(5.0) if azimuths is None else np.asarray(azimuths, dtype=np.float64)
        el = np.full(az.shape, float(elevation))
        itd = np.asarray(hrtf_set.itd(az, el, method=method), dtype=np.float64)
        return cls(az, itd, hrtf_set.sample_rate, **kwargs)

    def estimate_itd(self, x: Any) -> FloatArray:
        """Clip ITD, seconds (positive: left ear leads), shape ``(batch,)``; ``x`` as :meth:`localize`."""
        t = _as_batch(x, num_channels=2)
        corr = F.gcc_phat(t, self.n_fft, self.hop_length, self.max_lag, [(0, 1)], upsample=self.upsample)
        mean = corr[:, 0].mean(dim=-1).to(torch.float64)  # (B, lags)
        peak = mean.argmax(dim=-1)
        n = mean.shape[-1]
        inner = peak.clamp(1, n - 2)
        rows = torch.arange(mean.shape[0])
        offset = _parabolic_offset(mean[rows, inner - 1], mean[rows, inner], mean[rows, inner + 1])
        offset = torch.where((peak > 0) & (peak < n - 1), offset, torch.zeros_like(offset))
        lag = self.lags[peak] + offset / self.upsample
        return (-lag / self.sample_rate).numpy()

    def localize(self, x: Any) -> FloatArray:
        """Azimuth, radians, shape ``(batch,)``, from binaural ``x`` ``(2, time)`` or ``(batch, 2, time)``.

        Raises:
            TypeError: non-float input.
            ValueError: not 2 channels, wrong rank, too short for one frame's lags.
        """
        itd = self.estimate_itd(x)
        nearest = np.abs(itd[:, None] - self.table_itd[None, :]).argmin(axis=1)
        return self.table_az[nearest]


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
    """Argmax of the clip's time-averaged SRP-PHAT map over candidate directions.

    Args:
        steering: ``(directions, channels, n_fft // 2 + 1)`` complex (:func:`steering_from_hrirs`,
            :func:`steering_from_array`); prefer the classmethods :meth:`from_hrtf` and :meth:`from_array`.
        azimuth, elevation: the candidate directions, radians, ``(directions,)`` (elevation broadcasts).
        sample_rate: Hz.
        n_fft: FFT size.
        hop_length: default ``n_fft // 2``.
        freq_range: ``(low, high)`` Hz; default every bin but DC.

    Raises:
        TypeError: real steering. ValueError: direction count not matching the steering, plus the errors of
            :class:`spatialrep.features.SRPPhat`.
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
    ) -> None:
        self._init_grid(steering, azimuth, elevation)
        hop = n_fft // 2 if hop_length is None else hop_length
        self.module = SRPPhat(steering, sample_rate, n_fft, hop, freq_range=freq_range, average=True)

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
    ) -> SrpPhatLocalizer:
        """Binaural SRP-PHAT steered by the set's HRIRs (``hrtf_set.impulse_responses``).

        ``azimuth`` defaults to :func:`frontal_azimuths` at 5°; the HRIRs need at most ``n_fft`` taps.
        """
        az, el = _directions(frontal_azimuths(5.0) if azimuth is None else azimuth, elevation)
        steering = steering_from_hrirs(np.asarray(hrtf_set.impulse_responses(az, el)), n_fft)
        return cls(steering, az, el, hrtf_set.sample_rate, n_fft, hop_length, freq_range=freq_range)

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
    ) -> SrpPhatLocalizer:
        """Free-field plane-wave steering of a microphone array (:func:`steering_from_array`)."""
        az, el = _directions(azimuth, elevation)
        steering = steering_from_array(array, az, el, sample_rate, n_fft, speed_of_sound=speed_of_sound)
        return cls(steering, az, el, sample_rate, n_fft, hop_length, freq_range=freq_range)

    def localize_index(self, x: Any) -> Tensor:
        """Best candidate index, int64, shape ``(batch,)``."""
        return self.module.localize(_as_batch(x, num_channels=self.num_channels))


class MusicLocalizer(_GridLocalizer):
    """Narrowband MUSIC in every bin of a band, pseudo-spectra averaged over bins (incoherent wideband MUSIC).

    Per bin ``f``: the spatial covariance ``R_f = (1 / T) sum_t x_t x_t^H`` over the clip's frames; its
    eigenvectors of the ``num_sources`` largest eigenvalues span the signal subspace ``E_s``, and the noise
    projector is ``P_f = I - E_s E_s^H``. With unit-norm steering vectors ``a = A / ||A||``,
    ``S_f(d) = 1 / (a_d^H P_f a_d)``; the clip map is ``S(d) = mean_f S_f(d)`` and the estimate its argmax
    (as ``pyroomacoustics.doa.MUSIC`` without frequency normalisation).

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
    ) -> MusicLocalizer:
        """Binaural MUSIC with HRTF steering vectors (one source; see the class docstring)."""
        az, el = _directions(frontal_azimuths(5.0) if azimuth is None else azimuth, elevation)
        steering = steering_from_hrirs(np.asarray(hrtf_set.impulse_responses(az, el)), n_fft)
        return cls(steering, az, el, hrtf_set.sample_rate, n_fft, hop_length, freq_range=freq_range)

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
    ) -> MusicLocalizer:
        """Free-field plane-wave steering of a microphone array (:func:`steering_from_array`)."""
        az, el = _directions(azimuth, elevation)
        steering = steering_from_array(array, az, el, sample_rate, n_fft, speed_of_sound=speed_of_sound)
        return cls(
            steering, az, el, sample_rate, n_fft, hop_length, freq_range=freq_range, num_sources=num_sources
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
        return (1.0 / denom.clamp_min(1e-12)).mean(dim=1)

    def localize_index(self, x: Any) -> Tensor:
        """Best candidate index, int64, shape ``(batch,)``."""
        return self.pseudo_spectrum(x).argmax(dim=-1)
