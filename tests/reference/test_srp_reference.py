"""SRP-PHAT against pyroomacoustics' SRP (an independent implementation) on the same STFT, bins and grid."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest
import torch

from spatialrep.features import functional as F
from spatialrep.features.srp import srp_bins, srp_phat_from_stft, steering_from_array
from spatialrep.geometry import SPEED_OF_SOUND, circular_array, spherical_to_cartesian, tetrahedral_array

FS = 16000
N_FFT = 512
HOP = 256


def plane_wave(
    positions: np.ndarray, azimuth: float, elevation: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    tau = -(positions @ spherical_to_cartesian(azimuth, elevation)) / SPEED_OF_SOUND
    spectrum = np.fft.rfft(rng.standard_normal(2 * n))
    freqs = np.fft.rfftfreq(2 * n, 1 / FS)
    x = np.stack([np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * t))[:n] for t in tau])
    return x + 0.3 * rng.standard_normal(x.shape)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_argmax_and_affine_map_as_pyroomacoustics_circular(seed):
    rng = np.random.default_rng(seed)
    array = circular_array(4, 0.10)
    grid = np.deg2rad(np.arange(0.0, 360.0, 2.0))
    azimuth = rng.uniform(0, 2 * np.pi)
    x = plane_wave(array.positions, azimuth, 0.0, 12000, rng)
    spec = F.stft(torch.from_numpy(x), N_FFT, HOP)
    k_low, k_high = srp_bins(FS, N_FFT, (300.0, 3500.0))
    ours = srp_phat_from_stft(
        spec, steering_from_array(array, grid, 0.0, FS, N_FFT), (k_low, k_high), average=True
    )

    doa = pra.doa.algorithms["SRP"](array.positions.T, FS, N_FFT, azimuth=grid)
    doa.locate_sources(spec.numpy(), freq_bins=np.arange(k_low, k_high))
    theirs = doa.grid.values
    assert int(ours.argmax()) == int(np.argmax(theirs))
    # pyroomacoustics sums each pair twice and adds the diagonal: its map is 2 P + M / n_pairs.
    np.testing.assert_allclose(theirs, 2 * ours.numpy() + 4 / 6, atol=1e-9)


def test_same_map_as_pyroomacoustics_on_a_3d_grid():
    rng = np.random.default_rng(7)
    array = tetrahedral_array()
    az = np.deg2rad(np.arange(-180.0, 180.0, 10.0))
    colatitude = np.deg2rad(np.arange(10.0, 180.0, 20.0))
    x = plane_wave(array.positions, np.deg2rad(60.0), np.deg2rad(30.0), 12000, rng)
    spec = F.stft(torch.from_numpy(x), N_FFT, HOP)
    doa = pra.doa.algorithms["SRP"](array.positions.T, FS, N_FFT, azimuth=az, colatitude=colatitude, dim=3)
    bins = np.arange(10, 200)
    doa.locate_sources(spec.numpy(), freq_bins=bins)
    # Steer at exactly pyroomacoustics' grid points (its own ordering) and compare the maps point by point.
    grid_az, grid_el = doa.grid.azimuth, np.pi / 2 - doa.grid.colatitude
    ours = srp_phat_from_stft(
        spec, steering_from_array(array, grid_az, grid_el, FS, N_FFT), (10, 200), average=True
    )
    np.testing.assert_allclose(doa.grid.values, 2 * ours.numpy() + 4 / 6, atol=1e-9)
    assert int(ours.argmax()) == int(np.argmax(doa.grid.values))
