"""Steered response power with phase transform (SRP-PHAT) over a grid of candidate directions.

The map is the PHAT-weighted cross-power spectrum of every channel pair matched against the expected
inter-channel phase of each candidate direction, summed over pairs and frequencies:

    ``P[d, t] = 1 / (P F') sum_(i, j) sum_f Re{ Zhat_ij[f, t] conj(G_ij[d, f]) }``

with ``Zhat_ij = Z_ij / (|Z_ij| + eps)``, ``Z_ij = X_i conj(X_j)`` (the pair convention of
:mod:`spatialrep.features.functional`) and ``G_ij[d] = unit(A_i[d] conj(A_j[d]))`` built from per-channel
**steering vectors** ``A_c[d, f]``, the transfer function from a source in direction ``d`` to channel ``c``:

* free field (:func:`steering_from_array`): a plane wave arriving from direction ``u`` reaches a microphone
  at ``p_c`` at ``tau_c = -(p_c . u) / c`` relative to the array centre, so ``A_c = exp(-2j pi f tau_c)``;
* a head (:func:`steering_from_hrirs`): ``A_c`` is the DFT of the head-related impulse response, so ``G`` is
  the phase of the interaural cross spectrum of that direction (its level information is discarded, as PHAT
  discards the signal's).

``P`` lies in ``[-1, 1]`` (1 when every pair and bin matches exactly). The sum over pairs and bins is one
matrix product (a real GEMM of the stacked real and imaginary parts), with no loop over directions.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from spatialrep.features import functional as F
from spatialrep.geometry import SPEED_OF_SOUND, MicArray, spherical_to_cartesian

__all__ = [
    "SRPPhat",
    "srp_bins",
    "srp_localize",
    "srp_phat",
    "srp_phat_from_stft",
    "steering_from_array",
    "steering_from_hrirs",
]


def steering_from_array(
    positions: MicArray | npt.ArrayLike,
    azimuth: npt.ArrayLike,
    elevation: npt.ArrayLike,
    sample_rate: float,
    n_fft: int,
    *,
    speed_of_sound: float = SPEED_OF_SOUND,
    device: torch.device | str | None = None,
) -> Tensor:
    """Free-field plane-wave steering vectors of a microphone array.

    ``A[d, c, f] = exp(-2j pi f_k tau_c(d))`` with ``f_k = k sample_rate / n_fft`` and
    ``tau_c(d) = -(p_c . u_d) / speed_of_sound`` the arrival time at microphone ``c`` relative to the array
    centre of a plane wave from direction ``u_d`` (azimuth 0 = front, +pi/2 = left; see
    :mod:`spatialrep.geometry.coordinates`).

    Args:
        positions: microphone positions, shape ``(channels, 3)`` metres, or a :class:`MicArray`.
        azimuth: candidate azimuths, radians, shape ``(directions,)`` (or a scalar).
        elevation: candidate elevations, radians, broadcast against ``azimuth`` (0 for a horizontal grid).
        sample_rate: Hz.
        n_fft: FFT size of the STFT the steering will be matched against.
        speed_of_sound: m/s.
        device: device of the result.

    Returns:
        complex128 tensor, shape ``(directions, channels, n_fft // 2 + 1)``.

    Raises:
        ValueError: positions not ``(channels, 3)``, azimuth/elevation not 1-D after broadcasting, non-finite
            values, non-positive sample rate, ``n_fft`` or speed of sound.
    """
    pos = positions.positions if isinstance(positions, MicArray) else np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 1:
        raise ValueError(f"positions must have shape (channels, 3) in metres, got {pos.shape}")
    az, el = np.broadcast_arrays(np.asarray(azimuth, np.float64), np.asarray(elevation, np.float64))
    az, el = np.atleast_1d(az), np.atleast_1d(el)
    if az.ndim != 1:
        raise ValueError(f"azimuth and elevation must be 1-D (directions,), got shape {az.shape}")
    if not (np.all(np.isfinite(az)) and np.all(np.isfinite(el)) and np.all(np.isfinite(pos))):
        raise ValueError("positions, azimuth and elevation must be finite")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    if not speed_of_sound > 0:
        raise ValueError(f"speed_of_sound must be > 0, got {speed_of_sound!r}")
    n_fft = F.check_positive_int(n_fft, "n_fft")
    directions = spherical_to_cartesian(az, el)  # (D, 3) unit vectors
    tau = -(directions @ pos.T) / speed_of_sound  # (D, C) seconds
    freqs = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    phase = -2.0 * math.pi * tau[:, :, None] * freqs[None, None, :]
    return torch.polar(torch.ones(phase.shape, dtype=torch.float64), torch.from_numpy(phase)).to(device)


def steering_from_hrirs(hrirs: Tensor | npt.ArrayLike, n_fft: int) -> Tensor:
    """Steering vectors of a head from its head-related impulse responses, one per candidate direction.

    ``A[d, c] = DFT_{n_fft}(hrirs[d, c])``: the transfer function to ear ``c`` (0 = left, 1 = right). Only
    the phase of ``A_i conj(A_j)`` enters :func:`srp_phat`. Take the responses at the signal's sample rate
    (e.g. ``HRTFSet.impulse_responses(azimuth, elevation)`` of ``spatialrep.simulate``); a common delay of
    all channels cancels.

    Args:
        hrirs: shape ``(directions, channels, taps)``, real.
        n_fft: FFT size of the STFT the steering will be matched against; ``>= taps``.

    Returns:
        complex128 tensor on the input's device, shape ``(directions, channels, n_fft // 2 + 1)``.

    Raises:
        TypeError: complex input.
        ValueError: not 3-D, no taps, non-finite values, or more taps than ``n_fft`` (the response would be
            truncated).
    """
    h = hrirs if isinstance(hrirs, Tensor) else torch.as_tensor(np.asarray(hrirs))
    if h.is_complex():
        raise TypeError(f"hrirs must be real impulse responses, got dtype {h.dtype}")
    if h.ndim != 3 or h.shape[-1] < 1 or h.shape[0] < 1:
        raise ValueError(f"hrirs must have shape (directions, channels, taps), got {tuple(h.shape)}")
    n_fft = F.check_positive_int(n_fft, "n_fft")
    if h.shape[-1] > n_fft:
        raise ValueError(
            f"hrirs have {h.shape[-1]} taps but n_fft={n_fft}: the responses would be truncated; "
            "use a larger n_fft or shorter responses"
        )
    h = h.to(torch.float64)
    if not bool(torch.isfinite(h).all()):
        raise ValueError("hrirs contain NaN or inf")
    return torch.fft.rfft(h, n=n_fft, dim=-1)


def srp_bins(
    sample_rate: float, n_fft: int, freq_range: tuple[float, float] | None = None
) -> tuple[int, int]:
    """FFT bins used by :func:`srp_phat`: ``k_low <= k < k_high``.

    Args:
        sample_rate: Hz.
        n_fft: FFT size.
        freq_range: ``(low, high)`` Hz; bins ``round(low n_fft / fs) <= k <= round(high n_fft / fs)`` (both
            ends included). ``None``: every bin but DC (which carries no phase).

    Returns:
        ``(k_low, k_high)``, half-open.

    Raises:
        ValueError: a range outside ``[0, sample_rate / 2]``, reversed, or selecting no bin.
    """
    n_fft = F.check_positive_int(n_fft, "n_fft")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
    n_freq = n_fft // 2 + 1
    if freq_range is None:
        if n_freq < 2:
            raise ValueError(f"n_fft={n_fft} has no bin above DC")
        return 1, n_freq
    if len(freq_range) != 2:
        raise ValueError(f"freq_range must be (low, high) in Hz, got {freq_range!r}")
    low, high = float(freq_range[0]), float(freq_range[1])
    if not 0.0 <= low <= high <= sample_rate / 2.0:
        raise ValueError(
            f"freq_range must satisfy 0 <= low <= high <= sample_rate / 2 = {sample_rate / 2:g} Hz, "
            f"got {freq_range!r}"
        )
    k_low = math.floor(low * n_fft / sample_rate + 0.5)
    k_high = min(math.floor(high * n_fft / sample_rate + 0.5), n_freq - 1) + 1
    return k_low, k_high


def _check_steering(steering: Tensor, num_channels: int, n_freq: int) -> None:
    if not isinstance(steering, Tensor) or not steering.is_complex():
        raise TypeError(
            "steering must be a complex tensor (directions, channels, freq); see steering_from_array()"
        )
    if steering.ndim != 3 or steering.shape[1] != num_channels or steering.shape[2] != n_freq:
        raise ValueError(
            f"steering must have shape (directions, {num_channels}, {n_freq}) to match the input's channels "
            f"and n_fft // 2 + 1 bins, got {tuple(steering.shape)}"
        )


def _steering_matrix(
    steering: Tensor, pairs: list[tuple[int, int]], bins: tuple[int, int], dtype: torch.dtype, eps: float
) -> Tensor:
    """Real matrix ``(directions, pairs * bins * 2)``, ``(Re G, Im G)`` interleaved as ``view_as_real``."""
    k_low, k_high = bins
    a = steering[..., k_low:k_high]
    i, j = F.pair_index(pairs, steering.device)
    g = a.index_select(1, i) * a.index_select(1, j).conj()  # (D, P, F')
    g = g / (g.abs() + eps)
    scale = 1.0 / (len(pairs) * (k_high - k_low))
    return (torch.view_as_real(g).reshape(g.shape[0], -1) * scale).to(dtype)


def _srp_core(
    spec: Tensor, matrix: Tensor, pairs: list[tuple[int, int]], average: bool, eps: float
) -> Tensor:
    """``spec`` (..., C, F', T) already cropped to the bins of ``matrix``."""
    i, j = F.pair_index(pairs, spec.device)
    # Frames first, so the cross spectra lay out as (..., T, P, F', re/im) and flatten into GEMM rows.
    frames_first = spec.movedim(-1, -3)  # (..., T, C, F')
    z = frames_first.index_select(-2, i) * frames_first.index_select(-2, j).conj()
    z = z / (z.abs() + eps)
    w = matrix.to(device=spec.device, dtype=spec.real.dtype)
    if average:
        flat = torch.view_as_real(z.mean(dim=-3)).flatten(-3)  # (..., P F' 2)
        return flat @ w.T  # (..., D)
    flat = torch.view_as_real(z).flatten(-3)  # (..., T, P F' 2)
    return (flat @ w.T).transpose(-1, -2)  # (..., D, T)


def srp_phat_from_stft(
    spec: Tensor,
    steering: Tensor,
    bins: tuple[int, int] | None = None,
    pairs: F.Pairs | None = None,
    *,
    average: bool = False,
    eps: float = F.DEFAULT_EPS,
) -> Tensor:
    """SRP-PHAT map from an STFT; see :func:`srp_phat`.

    Args:
        spec: complex STFT, shape ``(..., channel, freq, frames)``.
        steering: shape ``(directions, channel, freq)``; see :func:`steering_from_array`,
            :func:`steering_from_hrirs`.
        bins: half-open bin range ``(k_low, k_high)`` (:func:`srp_bins`); default every bin but DC.
        pairs: channel pairs; default all ``i < j``.
        average: average over frames (one map per clip).
        eps: PHAT magnitude floor.

    Shape:
        ``(..., channel, freq, frames)`` -> ``(..., directions, frames)``, or ``(..., directions)`` if
        ``average``.
    """
    F.check_spec(spec)
    F.check_floor(eps, "eps")
    n_freq = spec.shape[-2]
    _check_steering(steering, spec.shape[-3], n_freq)
    k_low, k_high = (1, n_freq) if bins is None else (int(bins[0]), int(bins[1]))
    if not 0 <= k_low < k_high <= n_freq:
        raise ValueError(f"bins=({k_low}, {k_high}) must satisfy 0 <= low < high <= {n_freq}")
    resolved = F.resolve_pairs(spec.shape[-3], pairs, None)
    matrix = _steering_matrix(steering.to(spec.device), resolved, (k_low, k_high), spec.real.dtype, eps)
    return _srp_core(spec[..., k_low:k_high, :], matrix, resolved, average, eps)


def srp_phat(
    x: Tensor,
    steering: Tensor,
    sample_rate: float,
    n_fft: int,
    hop_length: int,
    *,
    freq_range: tuple[float, float] | None = None,
    pairs: F.Pairs | None = None,
    average: bool = False,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    eps: float = F.DEFAULT_EPS,
) -> Tensor:
    """SRP-PHAT map of every frame (or of the whole clip) over the steering directions.

    ``P[d, t] = 1 / (P F') sum_pairs sum_f Re{ Zhat_ij[f, t] conj(G_ij[d, f]) }`` (see the module docstring):
    the mean, over pairs and the selected bins, of the cosine between the measured and the expected
    inter-channel phase. In ``[-1, 1]``; 1 for a perfect match. ``average=True`` averages the PHAT-weighted
    cross spectra over frames before matching (equal to the mean of the per-frame maps), as
    ``pyroomacoustics.doa.SRP`` does; its map is ``2 P + C / n_pairs`` with ours, so both have one argmax.

    Args:
        x: waveform, shape ``(..., channel, time)``, ``channel >= 2``.
        steering: ``(directions, channel, n_fft // 2 + 1)`` complex steering vectors.
        sample_rate: Hz (selects the bins of ``freq_range``).
        n_fft, hop_length, win_length, window, center, pad_mode: see :func:`functional.stft`.
        freq_range: ``(low, high)`` Hz, both ends included (:func:`srp_bins`); default every bin but DC.
        pairs: channel pairs; default all ``i < j``.
        average: one time-averaged map per clip instead of one per frame.
        eps: PHAT magnitude floor (silent bins contribute 0).

    Returns:
        Map in the float dtype of ``x``.

    Shape:
        ``(..., channel, time)`` -> ``(..., directions, frames)``, or ``(..., directions)`` if ``average``.

    Raises:
        TypeError: non-float input or a real steering tensor.
        ValueError: fewer than 2 channels, steering shape not matching channels and ``n_fft``, invalid
            ``freq_range`` or pairs (plus the errors of :func:`functional.stft`).
    """
    F.check_signal(x, min_channels=2)
    bins = srp_bins(sample_rate, n_fft, freq_range)
    _check_steering(steering, x.shape[-2], n_fft // 2 + 1)
    spec = F.stft(x, n_fft, hop_length, win_length, window, center, pad_mode)
    return srp_phat_from_stft(spec, steering, bins, pairs, average=average, eps=eps)


def srp_localize(
    x: Tensor,
    steering: Tensor,
    sample_rate: float,
    n_fft: int,
    hop_length: int,
    *,
    freq_range: tuple[float, float] | None = None,
    pairs: F.Pairs | None = None,
    win_length: int | None = None,
    window: str | Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    eps: float = F.DEFAULT_EPS,
) -> Tensor:
    """Index of the steering direction with the largest time-averaged SRP-PHAT, per clip.

    Index your direction grid with it: ``azimuth[srp_localize(x, steering, ...)]``.

    Args: see :func:`srp_phat`.

    Returns:
        int64 tensor, shape ``x.shape[:-2]`` (a 0-d tensor for one ``(channel, time)`` clip).
    """
    srp_map = srp_phat(
        x,
        steering,
        sample_rate,
        n_fft,
        hop_length,
        freq_range=freq_range,
        pairs=pairs,
        average=True,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        eps=eps,
    )
    return srp_map.argmax(dim=-1)


class SRPPhat(nn.Module):
    """SRP-PHAT with the steering matrix precomputed once (``functional`` form: :func:`srp_phat`).

    Args:
        steering: ``(directions, channel, n_fft // 2 + 1)`` complex steering vectors.
        Others: see :func:`srp_phat`.

    The pair-steering matrix (``directions x 2 pairs bins``) and the window are non-persistent float64
    buffers, cast to the input's dtype at each call.
    """

    matrix: Tensor
    window: Tensor

    def __init__(
        self,
        steering: Tensor,
        sample_rate: float,
        n_fft: int,
        hop_length: int,
        *,
        freq_range: tuple[float, float] | None = None,
        pairs: F.Pairs | None = None,
        average: bool = False,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__()
        self.win_length = F.check_stft_params(n_fft, hop_length, win_length, pad_mode)
        self.bins = srp_bins(sample_rate, n_fft, freq_range)
        if not isinstance(steering, Tensor) or not steering.is_complex() or steering.ndim != 3:
            raise TypeError(
                "steering must be a complex tensor (directions, channels, freq); see steering_from_array()"
            )
        _check_steering(steering, steering.shape[1], n_fft // 2 + 1)
        F.check_floor(eps, "eps")
        self.pairs = F.resolve_pairs(steering.shape[1], pairs, None)
        self.num_channels = steering.shape[1]
        self.num_directions = steering.shape[0]
        matrix = _steering_matrix(steering.to(torch.complex128), self.pairs, self.bins, torch.float64, eps)
        self.register_buffer("matrix", matrix, persistent=False)
        self.register_buffer(
            "window", F.make_window(window, self.win_length, dtype=torch.float64), persistent=False
        )
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.center = center
        self.pad_mode = pad_mode
        self.average = average
        self.eps = eps

    def _map(self, x: Tensor, average: bool) -> Tensor:
        F.check_signal(x, min_channels=2)
        if x.shape[-2] != self.num_channels:
            raise ValueError(f"expected {self.num_channels} channels on axis -2, got shape {tuple(x.shape)}")
        spec = F.stft(
            x, self.n_fft, self.hop_length, self.win_length, self.window, self.center, self.pad_mode
        )
        return _srp_core(
            spec[..., self.bins[0] : self.bins[1], :], self.matrix, self.pairs, average, self.eps
        )

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(..., directions, frames)`` (or ``(..., directions)`` with ``average=True``)."""
        return self._map(x, self.average)

    def localize(self, x: Tensor) -> Tensor:
        """Argmax direction index of the time-averaged map, shape ``x.shape[:-2]``."""
        return self._map(x, True).argmax(dim=-1)

    def extra_repr(self) -> str:
        return (
            f"directions={self.num_directions}, channels={self.num_channels}, n_fft={self.n_fft}, "
            f"hop_length={self.hop_length}, bins={self.bins}"
        )
