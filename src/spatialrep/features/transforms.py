"""``nn.Module`` wrappers around :mod:`spatialrep.features.functional`.

Each module takes its parameters as explicit constructor keywords, holds its window, filterbank or lag table
as non-persistent buffers (so ``.to(device)`` moves them, and checkpoints do not store them) and computes
exactly what the functional form computes. Buffers are built in float64 and cast to the input's dtype at each
call, so one module serves float32 and float64 input alike (``.float()`` would round them for good). Shapes
and sign conventions are those of the functional module; see ``docs/features.md``.
"""

from __future__ import annotations

import numpy.typing as npt
import torch
from torch import Tensor, nn

from spatialrep.features import functional as F
from spatialrep.geometry import SPEED_OF_SOUND, MicArray

__all__ = [
    "GCC",
    "ILD",
    "IPD",
    "STFT",
    "CPSPhat",
    "GCCPhat",
    "LogMel",
    "MelIPD",
    "SalsaLite",
]


def _freeze_pairs(pairs: F.Pairs | None) -> tuple[tuple[int, int], ...] | None:
    return None if pairs is None else tuple((int(i), int(j)) for i, j in pairs)


class _Spectral(nn.Module):
    """Shared STFT parameters and window buffer."""

    window: Tensor

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
    ) -> None:
        super().__init__()
        self.win_length = F.check_stft_params(n_fft, hop_length, win_length, pad_mode)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.center = center
        self.pad_mode = pad_mode
        window_buffer = F.make_window(window, self.win_length, dtype=torch.float64)
        self.register_buffer("window", window_buffer, persistent=False)

    def _stft(self, x: Tensor) -> Tensor:
        return F.stft(
            x, self.n_fft, self.hop_length, self.win_length, self.window, self.center, self.pad_mode
        )

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}"


class STFT(_Spectral):
    """STFT of every channel (``functional.stft``).

    Args:
        n_fft, hop_length, win_length, window, center, pad_mode: see ``functional.stft``.
        output: ``"complex"`` (``(..., C, F, T)`` complex), ``"real_imag"`` or ``"log_power_phase"``
            (``(..., C, 2, F, T)`` real).
        floor: power floor for ``"log_power_phase"``.

    Raises:
        ValueError: unknown ``output`` (or STFT parameters).
    """

    OUTPUTS = ("complex", "real_imag", "log_power_phase")

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        output: str = "complex",
        floor: float = F.DEFAULT_FLOOR,
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, window, center, pad_mode)
        if output not in self.OUTPUTS:
            raise ValueError(f"unknown output {output!r}; valid: {', '.join(self.OUTPUTS)}")
        F.check_floor(floor)
        self.output = output
        self.floor = floor

    def forward(self, x: Tensor) -> Tensor:
        spec = self._stft(x)
        if self.output == "real_imag":
            return F.real_imag_from_stft(spec)
        if self.output == "log_power_phase":
            return F.log_power_phase_from_stft(spec, self.floor)
        return spec


class LogMel(_Spectral):
    """Log-mel spectrogram in dB (``functional.log_mel``), shape ``(..., C, n_mels, T)``."""

    filterbank: Tensor

    def __init__(
        self,
        sample_rate: float,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        f_min: float = 0.0,
        f_max: float | None = None,
        *,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        norm: str | None = "slaney",
        htk: bool = False,
        amin: float | None = None,
        top_db: float | None = None,
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, window, center, pad_mode)
        fb = F.mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, norm, htk, dtype=torch.float64)
        self.register_buffer("filterbank", fb, persistent=False)
        self.sample_rate = sample_rate
        self.power = power
        self.amin = amin
        self.top_db = top_db

    def forward(self, x: Tensor) -> Tensor:
        return F.log_mel_from_stft(self._stft(x), self.filterbank, self.power, self.amin, self.top_db)


class _Pairwise(_Spectral):
    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        pairs: F.Pairs | None,
        ref: int | None,
        win_length: int | None,
        window: str,
        center: bool,
        pad_mode: str,
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, window, center, pad_mode)
        if pairs is not None and ref is not None:
            raise ValueError(f"give either pairs or ref, not both (pairs={pairs!r}, ref={ref!r})")
        self.pairs = _freeze_pairs(pairs)
        self.ref = ref


class IPD(_Pairwise):
    """Inter-channel phase difference ``angle(X_i conj(X_j))`` per pair.

    Args:
        output: ``"angle"`` (``(..., P, F, T)``, radians) or ``"cos_sin"`` (``(..., P, 2, F, T)``).
        Others: see ``functional.ipd_cos_sin``.

    Raises:
        ValueError: unknown ``output``.
    """

    OUTPUTS = ("angle", "cos_sin")

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        pairs: F.Pairs | None = None,
        *,
        ref: int | None = None,
        output: str = "angle",
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__(n_fft, hop_length, pairs, ref, win_length, window, center, pad_mode)
        if output not in self.OUTPUTS:
            raise ValueError(f"unknown output {output!r}; valid: {', '.join(self.OUTPUTS)}")
        F.check_floor(eps, "eps")
        self.output = output
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        spec = self._stft(x)
        if self.output == "angle":
            return F.ipd_from_stft(spec, self.pairs, ref=self.ref)
        return F.ipd_cos_sin_from_stft(spec, self.pairs, ref=self.ref, eps=self.eps)


class CPSPhat(IPD):
    """Phase of the PHAT-weighted cross-power spectrum (``functional.cps_phat_phase``).

    Identical to :class:`IPD`, with ``output="cos_sin"`` as the default.
    """

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        pairs: F.Pairs | None = None,
        *,
        ref: int | None = None,
        output: str = "cos_sin",
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__(
            n_fft,
            hop_length,
            pairs,
            ref=ref,
            output=output,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,
            eps=eps,
        )


class ILD(_Pairwise):
    """Level difference in dB per pair (``functional.ild``), ``(..., P, F, T)``."""

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        pairs: F.Pairs | None = None,
        *,
        ref: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        floor: float = F.DEFAULT_FLOOR,
    ) -> None:
        super().__init__(n_fft, hop_length, pairs, ref, win_length, window, center, pad_mode)
        F.check_floor(floor)
        self.floor = floor

    def forward(self, x: Tensor) -> Tensor:
        return F.ild_from_stft(self._stft(x), self.pairs, ref=self.ref, floor=self.floor)


class MelIPD(_Pairwise):
    """cos/sin IPD projected on mel bands (``functional.mel_projected_ipd``).

    Output shape ``(..., P, 2, n_mels, T)``.
    """

    filterbank: Tensor

    def __init__(
        self,
        sample_rate: float,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        f_min: float = 0.0,
        f_max: float | None = None,
        pairs: F.Pairs | None = None,
        *,
        ref: int | None = None,
        normalize: bool = True,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        norm: str | None = "slaney",
        htk: bool = False,
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__(n_fft, hop_length, pairs, ref, win_length, window, center, pad_mode)
        fb = F.mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, norm, htk, dtype=torch.float64)
        self.register_buffer("filterbank", fb, persistent=False)
        F.check_floor(eps, "eps")
        self.sample_rate = sample_rate
        self.normalize = normalize
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.mel_projected_ipd_from_stft(
            self._stft(x), self.filterbank, self.pairs, ref=self.ref, normalize=self.normalize, eps=self.eps
        )


class GCC(_Pairwise):
    """Frame-wise generalised cross-correlation (``functional.gcc``).

    Output ``(..., P, lags, T)``; the buffer ``lags`` holds the lag of each row in samples (a positive lag
    means channel ``i`` of the pair is delayed relative to ``j``).
    """

    lags: Tensor

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        max_lag: int | None = None,
        pairs: F.Pairs | None = None,
        phat: bool = False,
        *,
        num_lags: int | None = None,
        upsample: int = 1,
        ref: int | None = None,
        normalize: bool = False,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__(n_fft, hop_length, pairs, ref, win_length, window, center, pad_mode)
        if phat and normalize:
            raise ValueError("normalize=True applies to the unweighted GCC only (PHAT is already scale-free)")
        F.check_floor(eps, "eps")
        lags = F.gcc_lags(n_fft, max_lag, num_lags=num_lags, upsample=upsample)  # float64
        self.register_buffer("lags", lags, persistent=False)
        self.max_lag = max_lag
        self.num_lags = num_lags
        self.upsample = upsample
        self.phat = phat
        self.normalize = normalize
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.gcc_from_stft(
            self._stft(x),
            self.n_fft,
            self.max_lag,
            self.pairs,
            self.phat,
            num_lags=self.num_lags,
            upsample=self.upsample,
            ref=self.ref,
            normalize=self.normalize,
            eps=self.eps,
        )


class GCCPhat(GCC):
    """GCC-PHAT (``functional.gcc_phat``): :class:`GCC` with ``phat=True``."""

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        max_lag: int | None = None,
        pairs: F.Pairs | None = None,
        *,
        num_lags: int | None = None,
        upsample: int = 1,
        ref: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        eps: float = F.DEFAULT_EPS,
    ) -> None:
        super().__init__(
            n_fft,
            hop_length,
            max_lag,
            pairs,
            True,
            num_lags=num_lags,
            upsample=upsample,
            ref=ref,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,
            eps=eps,
        )


class SalsaLite(_Spectral):
    """SALSA-Lite (``functional.salsa_lite``), ``(..., 2C - 1, n_bins, T)``.

    Args:
        num_channels: channel count ``C``; inferred from ``mic_positions`` when those are given.
        Others: see ``functional.salsa_lite``.

    Raises:
        ValueError: missing ``num_channels``, or a mismatch with ``mic_positions``; at call time, an input
            with another channel count.
    """

    nipd_scale: Tensor

    def __init__(
        self,
        sample_rate: float,
        n_fft: int,
        hop_length: int,
        *,
        num_channels: int | None = None,
        mic_positions: MicArray | npt.ArrayLike | None = None,
        mic_spacing: float | None = None,
        aliasing_freq: float | None = None,
        ref: int = 0,
        f_max: float | None = None,
        speed_of_sound: float = SPEED_OF_SOUND,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        floor: float = F.DEFAULT_FLOOR,
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, window, center, pad_mode)
        if num_channels is None:
            if mic_positions is None:
                raise ValueError("SalsaLite needs num_channels unless mic_positions are given")
            positions = mic_positions.positions if isinstance(mic_positions, MicArray) else mic_positions
            num_channels = len(positions)  # type: ignore[arg-type]
        scale = F.salsa_nipd_scale(
            sample_rate,
            n_fft,
            num_channels,
            mic_positions=mic_positions,
            mic_spacing=mic_spacing,
            aliasing_freq=aliasing_freq,
            ref=ref,
            f_max=f_max,
            speed_of_sound=speed_of_sound,
            dtype=torch.float64,
        )
        F.check_floor(floor)
        self.register_buffer("nipd_scale", scale, persistent=False)
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.ref = ref
        self.floor = floor

    def forward(self, x: Tensor) -> Tensor:
        F.check_signal(x, min_channels=2)
        if x.shape[-2] != self.num_channels:
            raise ValueError(
                f"SalsaLite was built for {self.num_channels} channels, got shape {tuple(x.shape)}"
            )
        return F.salsa_lite_from_stft(self._stft(x), self.nipd_scale, ref=self.ref, floor=self.floor)
