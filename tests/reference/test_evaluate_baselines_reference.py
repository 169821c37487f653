"""Wideband MUSIC against pyroomacoustics' MUSIC on the same STFT frames (spectra and argmax)."""

import numpy as np
import pyroomacoustics as pra
import scipy.signal
import torch

from spatialrep.evaluate import MusicLocalizer
from spatialrep.features import functional as F
from spatialrep.geometry import circular_array
from spatialrep.simulate.receivers import FreeFieldArray

FS = 16000
N = 16000
MUSIC_AZ = [0.0, 37.0, 90.0, 133.0, 179.0, -62.0, -150.0]


def plane_waves(array, az_deg, seed=1, noise=0.01):
    receiver = FreeFieldArray(array, FS)
    az = np.radians(np.asarray(az_deg, dtype=np.float64))
    irs = receiver.impulse_responses(az, np.zeros_like(az))
    rng = np.random.default_rng(seed)
    src = rng.standard_normal(N + irs.shape[-1])
    x = np.stack(
        [
            [scipy.signal.fftconvolve(src, irs[d, c], mode="valid")[:N] for c in range(irs.shape[1])]
            for d in range(len(az))
        ]
    )
    return az, x + noise * rng.standard_normal(x.shape)


def test_music_matches_pyroomacoustics():
    array = circular_array(4, 0.10)
    n_fft, hop = 512, 256
    grid = np.radians(np.arange(0.0, 360.0, 2.0))
    az, x = plane_waves(array, MUSIC_AZ, seed=5, noise=0.3)
    loc = MusicLocalizer.from_array(
        array, grid, 0.0, FS, n_fft=n_fft, hop_length=hop, freq_range=(300.0, 3500.0)
    )
    ours = loc.pseudo_spectrum(x).numpy()
    spec = F.stft(torch.from_numpy(x), n_fft, hop).numpy()  # (B, C, F, T): the same frames for both
    k_low, k_high = loc.bins
    for b in range(len(az)):
        ref = pra.doa.MUSIC(array.positions[:, :2].T, FS, n_fft, c=343.0, num_src=1, azimuth=grid)
        ref.locate_sources(spec[b], freq_bins=np.arange(k_low, k_high))
        # pyroomacoustics' steering vectors have norm sqrt(C), ours 1: its spectrum is ours / C.
        np.testing.assert_allclose(ref.grid.values, ours[b] / 4, rtol=1e-6)
        assert int(np.argmax(ref.grid.values)) == int(loc.localize_index(x[b])[0])


def test_music_frequency_normalisation_matches_pyroomacoustics():
    array = circular_array(4, 0.10)
    n_fft, hop = 512, 256
    grid = np.radians(np.arange(0.0, 360.0, 2.0))
    az, x = plane_waves(array, MUSIC_AZ, seed=6, noise=1.0)
    loc = MusicLocalizer.from_array(
        array,
        grid,
        0.0,
        FS,
        n_fft=n_fft,
        hop_length=hop,
        freq_range=(300.0, 3500.0),
        frequency_normalization=True,
    )
    ours = loc.pseudo_spectrum(x).numpy()
    spec = F.stft(torch.from_numpy(x), n_fft, hop).numpy()
    k_low, k_high = loc.bins
    for b in range(len(az)):
        ref = pra.doa.MUSIC(
            array.positions[:, :2].T,
            FS,
            n_fft,
            c=343.0,
            num_src=1,
            azimuth=grid,
            frequency_normalization=True,
        )
        ref.locate_sources(spec[b], freq_bins=np.arange(k_low, k_high))
        # Normalised per bin, the factor C between the two steering norms cancels: the spectra are equal.
        np.testing.assert_allclose(ref.grid.values, ours[b], rtol=1e-6)
        assert int(np.argmax(ref.grid.values)) == int(loc.localize_index(x[b])[0])
