import numpy as np
import pytest

from spatialrep.geometry.arrays import (
    MicArray,
    circular_array,
    list_arrays,
    make_array,
    mic_pair,
    tetrahedral_array,
)
from spatialrep.geometry.coordinates import SPEED_OF_SOUND, spherical_to_cartesian
from spatialrep.simulate.diffuse import diffuse_field
from spatialrep.simulate.receivers import FreeFieldArray, Receiver


def test_presets():
    assert list_arrays() == ["circular4", "pair", "tetrahedral"]
    circ = make_array("circular4")
    assert circ.num_mics == 4 and circ.aperture == pytest.approx(0.10)
    tet = tetrahedral_array()
    np.testing.assert_allclose(np.linalg.norm(tet.positions, axis=1), 0.042)
    pair = mic_pair(0.2)
    assert pair.positions[0, 1] > 0  # channel 0 on the left
    assert pair.max_delay() == pytest.approx(0.2 / SPEED_OF_SOUND)


def test_bad_arrays_raise():
    with pytest.raises(ValueError, match="unknown array preset 'hexagon'"):
        make_array("hexagon")
    with pytest.raises(ValueError, match="shape"):
        MicArray("bad", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        MicArray("bad", np.full((2, 3), np.nan))
    with pytest.raises(ValueError):
        circular_array(1)
    with pytest.raises(ValueError):
        mic_pair(0.0)


def test_free_field_array_delays_match_geometry():
    fs = 48000
    receiver = FreeFieldArray(circular_array(), fs)
    assert isinstance(receiver, Receiver)
    az = np.deg2rad([0.0, 37.0, 90.0, -120.0])
    irs = receiver.impulse_responses(az, np.zeros(4))
    assert irs.shape[:2] == (4, 4)
    # Each channel is a pure delay of onset - (u . p) / c samples: its phase delay at low frequencies says so.
    n_fft = 4096
    freqs = np.fft.rfftfreq(n_fft, 1 / fs)
    band = (freqs > 100) & (freqs < 4000)
    for k in range(4):
        u = spherical_to_cartesian(az[k], 0.0)
        expected = receiver.onset - receiver.array.positions @ u / SPEED_OF_SOUND * fs
        spectrum = np.fft.rfft(irs[k], n_fft, axis=-1)
        phase = np.unwrap(np.angle(spectrum[:, band]), axis=-1)
        delay = -phase / (2 * np.pi * freqs[band] / fs)
        np.testing.assert_allclose(delay, np.broadcast_to(expected[:, None], delay.shape), atol=0.01)
        np.testing.assert_allclose(np.abs(spectrum[:, band]), 1.0, atol=0.01)


def test_diffuse_field_coherence_on_free_field_pair():
    fs = 16000
    spacing = 0.2
    receiver = FreeFieldArray(mic_pair(spacing), fs)
    x = diffuse_field(receiver, 4 * fs, np.random.default_rng(1), num_directions=256)
    from scipy.signal import coherence

    f, msc = coherence(x[0], x[1], fs=fs, nperseg=512)
    theory = np.sinc(2 * f * spacing / SPEED_OF_SOUND) ** 2  # np.sinc(x) = sin(pi x)/(pi x)
    band = (f > 100) & (f < 6000)
    assert np.mean(np.abs(msc[band] - theory[band])) < 0.08
    assert np.mean(msc[f > 3000]) < 0.15
    # Reproducible from the generator alone.
    y = diffuse_field(receiver, 4 * fs, np.random.default_rng(1), num_directions=256)
    np.testing.assert_array_equal(x, y)
