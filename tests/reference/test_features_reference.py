"""Features against independent numpy/scipy/librosa references written here (per-frame loops)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from scipy.signal import get_window

from spatialrep.features import functional as F

RNG_SEED = 1234


def _noise(*shape: int, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def np_frames(x: np.ndarray, n_fft: int, hop: int, win: np.ndarray, center: bool) -> np.ndarray:
    """Windowed frames (frames, n_fft) of a 1-D signal, window centred in the FFT buffer."""
    if center:
        x = np.pad(x, (n_fft // 2, n_fft // 2))
    full = np.zeros(n_fft)
    left = (n_fft - len(win)) // 2
    full[left : left + len(win)] = win
    count = 1 + (len(x) - n_fft) // hop
    return np.stack([x[t * hop : t * hop + n_fft] * full for t in range(count)])


def np_stft(x: np.ndarray, n_fft: int, hop: int, win: np.ndarray, center: bool = True) -> np.ndarray:
    """(freq, frames) one-sided DFT of each frame."""
    return np.fft.rfft(np_frames(x, n_fft, hop, win, center), axis=-1).T


# --- STFT


@pytest.mark.parametrize(
    ("n_fft", "hop", "win_length", "window", "center"),
    [
        (512, 128, None, "hann", True),
        (400, 160, None, "hamming", True),
        (512, 160, 400, "hann", True),
        (256, 100, None, "blackman", False),
        (255, 64, 200, "hann", False),
    ],
)
def test_stft_matches_numpy_framing(n_fft, hop, win_length, window, center):
    x = _noise(2, 3000)
    wl = win_length or n_fft
    win = get_window(window, wl, fftbins=True)
    ours = F.stft(torch.from_numpy(x), n_fft, hop, win_length, window, center).numpy()
    for c in range(2):
        np.testing.assert_allclose(ours[c], np_stft(x[c], n_fft, hop, win, center), rtol=1e-10, atol=1e-10)


def test_stft_rectangular_and_sqrt_hann_windows():
    x = _noise(1, 1000)
    for name, win in [("rectangular", np.ones(256)), ("sqrt_hann", np.sqrt(get_window("hann", 256)))]:
        ours = F.stft(torch.from_numpy(x), 256, 64, window=name).numpy()[0]
        np.testing.assert_allclose(ours, np_stft(x[0], 256, 64, win), atol=1e-10)


def test_stft_matches_librosa():
    x = _noise(2000)
    ref = librosa.stft(
        x, n_fft=512, hop_length=128, win_length=400, window="hann", center=True, pad_mode="constant"
    )
    ours = F.stft(torch.from_numpy(x)[None], 512, 128, 400).numpy()[0]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_stft_reflect_padding_matches_librosa():
    x = _noise(1500)
    ref = librosa.stft(x, n_fft=256, hop_length=64, pad_mode="reflect")
    ours = F.stft(torch.from_numpy(x)[None], 256, 64, pad_mode="reflect").numpy()[0]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


# --- mel


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "f_min", "f_max", "norm", "htk"),
    [
        (16000, 512, 64, 0.0, None, "slaney", False),
        (32000, 1024, 128, 50.0, 14000.0, "slaney", False),  # SpatialAST front-end
        (24000, 1024, 64, 0.0, 12000.0, None, False),
        (22050, 2048, 128, 20.0, 8000.0, "slaney", True),
        (44100, 1023, 40, 100.0, None, None, True),  # odd n_fft
    ],
)
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, f_min, f_max, norm, htk):
    ref = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=htk, norm=norm, dtype=np.float64
    )
    ours = F.mel_filterbank(sr, n_fft, n_mels, f_min, f_max, norm, htk, dtype=torch.float64).numpy()
    assert ours.shape == ref.shape == (n_mels, n_fft // 2 + 1)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12 * scale)
    ours32 = F.mel_filterbank(sr, n_fft, n_mels, f_min, f_max, norm, htk).numpy()
    np.testing.assert_allclose(ours32, ref, atol=1e-6 * scale)


def test_mel_scale_round_trip_and_librosa():
    f = torch.tensor([0.0, 100.0, 999.0, 1000.0, 1001.0, 4000.0, 16000.0], dtype=torch.float64)
    for htk in (False, True):
        mel = F.hz_to_mel(f, htk)
        np.testing.assert_allclose(mel.numpy(), librosa.hz_to_mel(f.numpy(), htk=htk), rtol=1e-12)
        np.testing.assert_allclose(F.mel_to_hz(mel, htk).numpy(), f.numpy(), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("top_db", [None, 80.0])
def test_log_mel_matches_librosa(top_db):
    sr, n_fft, hop, n_mels = 16000, 512, 160, 64
    t = np.arange(8000) / sr
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * _noise(8000)
    x[5000:] = 0.0  # a silent tail exercises the floor / top_db clamp
    mel = librosa.feature.melspectrogram(
        y=x, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=2.0, pad_mode="constant", fmin=30.0
    )
    ref = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=top_db)
    ours = F.log_mel(torch.from_numpy(x)[None], sr, n_fft, hop, n_mels, f_min=30.0, top_db=top_db).numpy()[0]
    assert ours.shape == ref.shape
    comparable = mel > 1e-6  # where adding vs clamping the floor differs by < 5e-4 dB
    if top_db is not None:
        comparable |= ref <= ref.max() - top_db + 1e-9
    assert comparable.mean() > 0.5
    np.testing.assert_allclose(ours[comparable], ref[comparable], atol=0.01)


def test_log_mel_magnitude_matches_librosa_amplitude_to_db():
    x = _noise(4000)
    mag = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=100, n_mels=40, power=1.0)
    ref = librosa.amplitude_to_db(mag, ref=1.0, amin=1e-5, top_db=None)
    ours = F.log_mel(torch.from_numpy(x)[None], 16000, 400, 100, 40, power=1.0).numpy()[0]
    np.testing.assert_allclose(ours, ref, atol=0.01)


# --- IPD / ILD


def _np_specs(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    win = get_window("hann", n_fft, fftbins=True)
    return np.stack([np_stft(ch, n_fft, hop, win) for ch in x])


def test_ipd_ild_cos_sin_match_numpy():
    x = _noise(3, 2000)
    pairs = [(0, 1), (2, 0), (1, 2)]
    specs = _np_specs(x, 256, 64)
    xt = torch.from_numpy(x)
    ipd = F.ipd(xt, 256, 64, pairs).numpy()
    ild = F.ild(xt, 256, 64, pairs).numpy()
    cos_sin = F.ipd_cos_sin(xt, 256, 64, pairs).numpy()
    for p, (i, j) in enumerate(pairs):
        z = specs[i] * np.conj(specs[j])
        np.testing.assert_allclose(ipd[p], np.angle(z), atol=1e-9)
        level = 10 * np.log10(np.abs(specs[i]) ** 2 + 1e-10) - 10 * np.log10(np.abs(specs[j]) ** 2 + 1e-10)
        np.testing.assert_allclose(ild[p], level, atol=1e-9)
        np.testing.assert_allclose(cos_sin[p, 0], np.cos(np.angle(z)), atol=1e-9)
        np.testing.assert_allclose(cos_sin[p, 1], np.sin(np.angle(z)), atol=1e-9)


@pytest.mark.parametrize("normalize", [True, False])
def test_mel_projected_ipd_matches_numpy(normalize):
    sr, n_fft, hop, n_mels = 32000, 1024, 320, 32
    x = _noise(2, 6400)
    specs = _np_specs(x, n_fft, hop)
    phase = np.angle(specs[0] * np.conj(specs[1]))
    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=50.0, fmax=14000.0, dtype=np.float64)
    if normalize:
        fb = fb / fb.sum(axis=1, keepdims=True)
    ref = np.stack([fb @ np.cos(phase), fb @ np.sin(phase)])
    ours = F.mel_projected_ipd(
        torch.from_numpy(x), sr, n_fft, hop, n_mels, 50.0, 14000.0, normalize=normalize
    )
    np.testing.assert_allclose(ours.numpy()[0], ref, atol=1e-8 * max(1.0, np.abs(ref).max()))


# --- GCC


def np_gcc_circular(x: np.ndarray, n_fft: int, hop: int, lags: np.ndarray, pairs, phat: bool) -> np.ndarray:
    """Per-frame circular cross-correlation by explicit modular sums (no FFT), (pairs, lags, frames)."""
    win = get_window("hann", n_fft, fftbins=True)
    frames = np.stack([np_frames(ch, n_fft, hop, win, True) for ch in x])  # (C, T, n)
    if phat:  # PHAT is defined in the frequency domain: whiten each frame's cross spectrum first
        spec = np.fft.rfft(frames, axis=-1)
        out = []
        for i, j in pairs:
            z = spec[i] * np.conj(spec[j])
            z = z / (np.abs(z) + 1e-12)
            r = np.fft.irfft(z, n=n_fft, axis=-1)
            out.append(r[:, lags % n_fft].T)
        return np.stack(out)
    n = np.arange(n_fft)
    out = []
    for i, j in pairs:
        per_lag = [np.sum(frames[i] * frames[j][:, (n - k) % n_fft], axis=-1) for k in lags]
        out.append(np.stack(per_lag))
    return np.stack(out)


@pytest.mark.parametrize("phat", [False, True])
def test_gcc_matches_numpy_per_frame(phat):
    x = _noise(3, 2500)
    n_fft, hop, max_lag = 256, 100, 20
    pairs = [(0, 1), (0, 2), (2, 1)]
    ours = F.gcc(torch.from_numpy(x), n_fft, hop, max_lag, pairs, phat).numpy()
    lags = np.arange(-max_lag, max_lag + 1)
    ref = np_gcc_circular(x, n_fft, hop, lags, pairs, phat)
    assert ours.shape == ref.shape == (3, 2 * max_lag + 1, 1 + 2500 // hop)
    np.testing.assert_allclose(ours, ref, atol=1e-9 * max(1.0, np.abs(ref).max()))


def test_gcc_equals_linear_correlation_when_fft_is_long_enough():
    """With n_fft >= 2 win - 1 the circular GCC is np.correlate of the windowed frames."""
    x = _noise(2, 1200)
    win_length, n_fft, hop, max_lag = 128, 256, 64, 40
    ours = F.gcc(torch.from_numpy(x), n_fft, hop, max_lag, win_length=win_length).numpy()[0]
    win = get_window("hann", win_length, fftbins=True)
    fi = np_frames(x[0], n_fft, hop, win, True)
    fj = np_frames(x[1], n_fft, hop, win, True)
    for t in range(fi.shape[0]):
        full = np.correlate(fi[t], fj[t], mode="full")  # full[k + n - 1] = sum_n y_i[n + k] y_j[n]
        ref = full[n_fft - 1 - max_lag : n_fft + max_lag]
        np.testing.assert_allclose(ours[:, t], ref, atol=1e-9)


def test_gcc_num_lags_matches_dcase_style_layout():
    """64 lags = the last 32 then the first 32 samples of the inverse FFT: lags -32..31."""
    x = _noise(2, 3000)
    n_fft = 512
    ours = F.gcc_phat(torch.from_numpy(x), n_fft, 256, num_lags=64).numpy()[0]
    specs = _np_specs(x, n_fft, 256)
    z = specs[0] * np.conj(specs[1])
    cc = np.fft.irfft(z / (np.abs(z) + 1e-12), n=n_fft, axis=0)
    ref = np.concatenate([cc[-32:], cc[:32]], axis=0)
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    np.testing.assert_array_equal(F.gcc_lags(n_fft, num_lags=64).numpy(), np.arange(-32, 32))


# --- SALSA-Lite


def test_salsa_lite_matches_numpy():
    sr, n_fft, hop, c = 24000, 512, 300, 343.0
    x = _noise(4, 4800)
    positions = np.array([[0.03, 0.0, 0.0], [0.0, 0.03, 0.0], [-0.03, 0.0, 0.0], [0.0, -0.05, 0.0]])
    f_max = 9000.0
    ours = F.salsa_lite(
        torch.from_numpy(x), sr, n_fft, hop, mic_positions=positions, f_max=f_max, ref=1
    ).numpy()
    specs = _np_specs(x, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    keep = freqs <= f_max
    assert ours.shape == (7, keep.sum(), specs.shape[-1])
    np.testing.assert_allclose(ours[:4], 10 * np.log10(np.abs(specs[:, keep]) ** 2 + 1e-10), atol=1e-9)
    for row, m in enumerate([0, 2, 3]):
        d = np.linalg.norm(positions[m] - positions[1])
        f_alias = c / (2 * d)
        phase = np.angle(specs[m, keep] * np.conj(specs[1, keep]))
        with np.errstate(divide="ignore", invalid="ignore"):
            nipd = -c * phase / (2 * np.pi * freqs[keep, None])
        nipd[(freqs[keep] == 0) | (freqs[keep] > f_alias)] = 0.0
        np.testing.assert_allclose(ours[4 + row], nipd, atol=1e-9)
