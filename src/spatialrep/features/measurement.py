"""The time-averaged binaural measurement vector of SCE (Tang, Taseska and van Waterschoot, 2022).

For a binaural clip (channel 0 = left, 1 = right) with STFT ``S_1``, ``S_2``:

* per bin ``k``, the ILD averaged over the ``T`` frames, ``a_k = T^-1 sum_t 20 log10(|S_1| / |S_2|)`` (dB),
* per bin ``k``, the frame average of the IPD phasor, ``p_k = T^-1 sum_t exp(j angle(S_1 / S_2))``,

concatenated as ``x = [a_k1, ..., a_(k2-1), Re p_k3, Im p_k3, ..., Re p_(k4-1), Im p_(k4-1)]`` with the ILD
over 200-7000 Hz and the IPD over 200-2500 Hz, ``k_i = round(f_i K / fs)``. The paper gives the dimension as
``D = k2 - k1 + 2 (k4 - k3)`` (729 at 16 kHz with a 1024-point DFT), which fixes the ranges as half-open,
``k1 <= k < k2`` and ``k3 <= k < k4``; eq. (3) interleaves the real and imaginary parts bin by bin.

References:
    Y. Tang, M. Taseska and T. van Waterschoot, "Supervised contrastive embeddings for binaural source
    localization" (SCE), 2022, section 2.1; A. Deleforge, F. Forbes and R. Horaud, "Acoustic space learning
    for sound-source separation and localization on binaural manifolds", IJNS 2015.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from spatialrep.features import functional as F

__all__ = [
    "MEASUREMENT_WINDOWS",
    "MeasurementConfig",
    "MeasurementVector",
    "cosine_window",
    "measurement_bin_ranges",
    "measurement_vector_dim",
    "sce_measurement_vector",
    "sce_measurement_vector_from_stft",
]

MEASUREMENT_WINDOWS = ("cosine", *F.WINDOWS)
"""Windows of :func:`sce_measurement_vector`: ``"cosine"`` (the paper's) or any of ``functional.WINDOWS``."""

ILD_RANGE = (200.0, 7000.0)
IPD_RANGE = (200.0, 2500.0)


def cosine_window(
    length: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> Tensor:
    """The (symmetric) cosine window ``w[n] = sin(pi (n + 0.5) / N)``, as ``scipy.signal.windows.cosine(N)``.

    Also known as the sine window; it is the "cosine window" of the SCE paper.

    Returns:
        Shape ``(length,)``.
    """
    length = F.check_positive_int(length, "length")
    n = torch.arange(length, dtype=torch.float64)
    return torch.sin(math.pi * (n + 0.5) / length).to(dtype=dtype, device=device)


def _window(window: str | Tensor, n_fft: int, dtype: torch.dtype, device: torch.device | None) -> Tensor:
    if isinstance(window, str) and window == "cosine":
        return cosine_window(n_fft, dtype=dtype, device=device)
    if isinstance(window, str) and window not in F.WINDOWS:
        raise ValueError(
            f"unknown window {window!r}; valid: {', '.join(MEASUREMENT_WINDOWS)} or a 1-D tensor"
        )
    return F.make_window(window, n_fft, dtype=dtype, device=device)


def _bin_range(freq_range: tuple[float, float], sample_rate: float, n_fft: int, name: str) -> tuple[int, int]:
    if len(freq_range) != 2:
        raise ValueError(f"{name} must be (low, high) in Hz, got {freq_range!r}")
    low, high = float(freq_range[0]), float(freq_range[1])
    if not 0.0 <= low < high <= sample_rate / 2.0:
        raise ValueError(
            f"{name} must satisfy 0 <= low < high <= sample_rate / 2 = {sample_rate / 2:g} Hz, "
            f"got {freq_range!r}"
        )
    # Python's round() is round-half-even; the paper says "closest integer", so ties go up explicitly.
    k_low = math.floor(low * n_fft / sample_rate + 0.5)
    k_high = math.floor(high * n_fft / sample_rate + 0.5)
    if k_high <= k_low:
        raise ValueError(
            f"{name}={freq_range!r} Hz covers no FFT bin at sample_rate={sample_rate:g}, n_fft={n_fft} "
            f"(bin spacing {sample_rate / n_fft:g} Hz)"
        )
    return k_low, k_high


def measurement_bin_ranges(
    sample_rate: float = 16000,
    n_fft: int = 1024,
    ild_range: tuple[float, float] = ILD_RANGE,
    ipd_range: tuple[float, float] = IPD_RANGE,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """FFT bin ranges of the ILD and IPD parts of the measurement vector.

    Args:
        sample_rate: Hz.
        n_fft: DFT size ``K``.
        ild_range: ``(low, high)`` Hz of the ILD part.
        ipd_range: ``(low, high)`` Hz of the IPD part.

    Returns:
        ``((k1, k2), (k3, k4))``, half-open bin ranges ``k1 <= k < k2`` (ILD) and ``k3 <= k < k4`` (IPD), with
        ``k = round(f * n_fft / sample_rate)`` (ties rounded up). At 16 kHz and ``n_fft=1024``:
        ``((13, 448), (13, 160))``.

    Raises:
        ValueError: non-positive sample rate or ``n_fft``; a range outside ``[0, sample_rate / 2]``, reversed,
            or narrower than one bin.
    """
    n_fft = F.check_positive_int(n_fft, "n_fft")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    return (
        _bin_range(ild_range, sample_rate, n_fft, "ild_range"),
        _bin_range(ipd_range, sample_rate, n_fft, "ipd_range"),
    )


def measurement_vector_dim(
    sample_rate: float = 16000,
    n_fft: int = 1024,
    ild_range: tuple[float, float] = ILD_RANGE,
    ipd_range: tuple[float, float] = IPD_RANGE,
) -> int:
    """Dimension ``D = (k2 - k1) + 2 (k4 - k3)`` of :func:`sce_measurement_vector` (729 at 16 kHz / 1024).

    Args and Raises: see :func:`measurement_bin_ranges`.
    """
    (k1, k2), (k3, k4) = measurement_bin_ranges(sample_rate, n_fft, ild_range, ipd_range)
    return (k2 - k1) + 2 * (k4 - k3)


def sce_measurement_vector_from_stft(
    spec: Tensor,
    ild_bins: tuple[int, int],
    ipd_bins: tuple[int, int],
    *,
    floor: float = F.DEFAULT_FLOOR,
    eps: float = F.DEFAULT_EPS,
) -> Tensor:
    """Measurement vector from a binaural STFT; see :func:`sce_measurement_vector`.

    Args:
        spec: complex STFT, shape ``(..., 2, freq, frames)``, channel 0 = left.
        ild_bins: half-open ILD bin range ``(k1, k2)`` (:func:`measurement_bin_ranges`).
        ipd_bins: half-open IPD bin range ``(k3, k4)``.
        floor: power floor of the ILD logarithms.
        eps: magnitude floor of the IPD phasor (silent bins contribute 0).

    Shape:
        ``(..., 2, freq, frames)`` -> ``(..., (k2 - k1) + 2 (k4 - k3))``.

    Raises:
        ValueError: not 2 channels, or a bin range outside the spectrum.
    """
    F.check_spec(spec)
    if spec.shape[-3] != 2:
        raise ValueError(
            "the measurement vector needs binaural input (2 channels on axis -3), "
            f"got shape {tuple(spec.shape)}"
        )
    n_freq = spec.shape[-2]
    for name, (low, high) in (("ild_bins", ild_bins), ("ipd_bins", ipd_bins)):
        if not 0 <= low < high <= n_freq:
            raise ValueError(
                f"{name}=({low}, {high}) must satisfy 0 <= low < high <= {n_freq} (bins in spec)"
            )
    k1, k2 = ild_bins
    k3, k4 = ipd_bins
    ild = F.ild_from_stft(spec[..., k1:k2, :], [(0, 1)], floor=floor)[..., 0, :, :].mean(dim=-1)
    phasor = F.ipd_cos_sin_from_stft(spec[..., k3:k4, :], [(0, 1)], eps=eps)[..., 0, :, :, :].mean(dim=-1)
    # (..., 2, bins) -> (..., bins, 2) -> interleaved Re, Im per bin as in eq. (3) of the paper.
    ipd = phasor.transpose(-1, -2).reshape(*phasor.shape[:-2], -1)
    return torch.cat((ild, ipd), dim=-1)


def sce_measurement_vector(
    x: Tensor,
    sample_rate: float = 16000,
    n_fft: int = 1024,
    hop_length: int | None = None,
    *,
    window: str | Tensor = "cosine",
    ild_range: tuple[float, float] = ILD_RANGE,
    ipd_range: tuple[float, float] = IPD_RANGE,
    center: bool = False,
    floor: float = F.DEFAULT_FLOOR,
    eps: float = F.DEFAULT_EPS,
) -> Tensor:
    """SCE's time-averaged ILD/IPD measurement vector of a binaural clip.

    ``[a_k1 .. a_(k2-1), Re p_k3, Im p_k3, .., Re p_(k4-1), Im p_(k4-1)]`` where ``a_k`` is the frame average
    of the ILD ``10 log10((|S_1|^2 + floor) / (|S_2|^2 + floor))`` (= ``20 log10 |S_1| / |S_2|`` away from the
    floor; dB, positive when the left ear is louder) and ``p_k`` the frame average of the unit IPD phasor
    ``Z / (|Z| + eps)``, ``Z = S_1 conj(S_2)`` (so ``|p_k| <= 1``; silent frames count as 0). The defaults are
    the paper's: 16 kHz, 1024-point cosine window (:func:`cosine_window`), 75 % overlap (hop 256), ILD over
    200-7000 Hz, IPD over 200-2500 Hz, giving ``D = 729``.

    Args:
        x: binaural waveform, shape ``(..., 2, time)`` (channel 0 = left), at ``sample_rate``.
        sample_rate: Hz; only sets the bin ranges (the signal is not resampled).
        n_fft: DFT size ``K`` = window length.
        hop_length: frame shift; default ``n_fft // 4`` (75 % overlap).
        window: ``"cosine"`` or another of :data:`MEASUREMENT_WINDOWS`, or a tensor of shape ``(n_fft,)``.
        ild_range, ipd_range: ``(low, high)`` Hz; bins from :func:`measurement_bin_ranges`.
        center: ``False`` (default) uses only full frames (``time >= n_fft`` required), so no zero padding
            dilutes the averages; ``True`` pads as :func:`functional.stft`.
        floor: power floor of the ILD.
        eps: magnitude floor of the IPD phasor.

    Returns:
        The measurement vector, float dtype of ``x``.

    Shape:
        ``(..., 2, time)`` -> ``(..., D)``, ``D =`` :func:`measurement_vector_dim`.

    Raises:
        TypeError: non-float input.
        ValueError: not 2 channels, a clip shorter than ``n_fft`` (with ``center=False``), an unknown window,
            invalid frequency ranges.
    """
    F.check_signal(x)
    if x.shape[-2] != 2:
        raise ValueError(
            f"the measurement vector needs binaural input (2 channels on axis -2), got shape {tuple(x.shape)}"
        )
    n_fft = F.check_positive_int(n_fft, "n_fft")
    hop = n_fft // 4 if hop_length is None else F.check_positive_int(hop_length, "hop_length")
    if hop < 1:
        raise ValueError(f"n_fft={n_fft} is too small for the default hop n_fft // 4; give hop_length")
    ild_bins, ipd_bins = measurement_bin_ranges(sample_rate, n_fft, ild_range, ipd_range)
    F.check_floor(floor)
    F.check_floor(eps, "eps")
    w = _window(window, n_fft, x.dtype, x.device)
    spec = F.stft(x, n_fft, hop, n_fft, w, center=center)
    return sce_measurement_vector_from_stft(spec, ild_bins, ipd_bins, floor=floor, eps=eps)


class MeasurementVector(nn.Module):
    """``nn.Module`` form of :func:`sce_measurement_vector` (window held as a non-persistent buffer).

    Args: see :func:`sce_measurement_vector`.

    Attributes:
        dim: the output dimension ``D``.
    """

    window: Tensor

    def __init__(
        self,
        sample_rate: float = 16000,
        n_fft: int = 1024,
        hop_length: int | None = None,
        *,
        window: str = "cosine",
        ild_range: tuple[float, float] = ILD_RANGE,
        ipd_range: tuple[float, float] = IPD_RANGE,
        center: bool = False,
        floor: float = F.DEFAULT_FLOOR,
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__()
        self.n_fft = F.check_positive_int(n_fft, "n_fft")
        self.hop_length = n_fft // 4 if hop_length is None else F.check_positive_int(hop_length, "hop_length")
        if self.hop_length < 1:
            raise ValueError(f"n_fft={n_fft} is too small for the default hop n_fft // 4; give hop_length")
        self.ild_bins, self.ipd_bins = measurement_bin_ranges(sample_rate, n_fft, ild_range, ipd_range)
        F.check_floor(floor)
        F.check_floor(eps, "eps")
        self.register_buffer("window", _window(window, n_fft, torch.float64, None), persistent=False)
        self.sample_rate = sample_rate
        self.center = center
        self.floor = floor
        self.eps = eps
        self.dim = (self.ild_bins[1] - self.ild_bins[0]) + 2 * (self.ipd_bins[1] - self.ipd_bins[0])

    def forward(self, x: Tensor) -> Tensor:
        F.check_signal(x)
        if x.shape[-2] != 2:
            raise ValueError(
                "the measurement vector needs binaural input (2 channels on axis -2), "
                f"got shape {tuple(x.shape)}"
            )
        spec = F.stft(x, self.n_fft, self.hop_length, self.n_fft, self.window, center=self.center)
        return sce_measurement_vector_from_stft(
            spec, self.ild_bins, self.ipd_bins, floor=self.floor, eps=self.eps
        )

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, dim={self.dim}"


@dataclasses.dataclass(frozen=True)
class MeasurementConfig:
    """The measurement-vector front-end of a method (SCE, WSCE and their feed-forward baseline).

    Attributes:
        sample_rate: Hz of the audio (not resampled here).
        n_fft: DFT size = window length.
        hop_length: frame shift (``None``: ``n_fft // 4``).
        window: one of :data:`MEASUREMENT_WINDOWS`.

    Raises:
        ValueError: a non-positive size, an unknown window, or frequency ranges the rate cannot hold.
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int | None = None
    window: str = "cosine"

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft"):
            F.check_positive_int(getattr(self, name), f"MeasurementConfig.{name}")
        if self.hop_length is not None:
            F.check_positive_int(self.hop_length, "MeasurementConfig.hop_length")
        if self.window not in MEASUREMENT_WINDOWS:
            raise ValueError(
                f"MeasurementConfig.window={self.window!r} is not one of {', '.join(MEASUREMENT_WINDOWS)}"
            )
        measurement_vector_dim(self.sample_rate, self.n_fft)

    @property
    def dim(self) -> int:
        """``D`` of the vectors (729 at 16 kHz with a 1024-point DFT)."""
        return measurement_vector_dim(self.sample_rate, self.n_fft)

    def __call__(self, audio: Tensor) -> Tensor:
        """Measurement vectors of binaural clips, float32.

        Shape:
            ``(..., 2, time) -> (..., D)``.
        """
        return sce_measurement_vector(
            audio.float(), self.sample_rate, self.n_fft, self.hop_length, window=self.window
        )
