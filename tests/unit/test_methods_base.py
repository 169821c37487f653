"""The model protocols, Directions / FrameTrack, audio checks, and the classic localizers behind them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

from spatialrep.evaluate import GccPhatItdLocalizer, MusicLocalizer, SrpPhatLocalizer
from spatialrep.methods import Directions, Embedder, FrameTrack, Localizer, QualityMetric, StreamingLocalizer
from spatialrep.methods.base import check_audio
from spatialrep.methods.classic import CLASSIC_LOCALIZERS, ClassicLocalizer, classic_localizer
from spatialrep.simulate.receiver_factory import make_receiver

FS = 16000


@pytest.fixture(scope="module")
def kemar():
    return make_receiver("kemar", FS)


def _clip(receiver, az_deg: float, seconds: float = 0.5, seed: int = 0) -> torch.Tensor:
    hrir = receiver.impulse_responses(np.radians([az_deg]), np.radians([0.0]))[0]
    noise = np.random.default_rng(seed).standard_normal(round(seconds * FS) + hrir.shape[-1] - 1)
    return torch.from_numpy(np.stack([fftconvolve(noise, h, mode="valid") for h in hrir])).float()


def test_frame_track_pools_posteriors_not_votes():
    probs = np.array([[[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9]]])  # argmax votes: class 0 twice
    track = FrameTrack(probs, np.radians([-10.0, 0.0, 10.0]), hop_s=0.01, frame_s=0.032)
    np.testing.assert_allclose(np.degrees(track.frame_azimuth()), [[-10.0, -10.0, 10.0]])
    assert np.degrees(track.pooled_azimuth())[0] == pytest.approx(-10.0)  # mean = (0.4, 0.3, 0.3)
    assert np.degrees(track.pooled_azimuth(2, 3))[0] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no frames"):
        track.pooled_azimuth(3, 3)


def test_directions_shapes_are_checked():
    assert len(Directions(np.zeros(3))) == 3
    with pytest.raises(ValueError, match="batch"):
        Directions(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="elevation"):
        Directions(np.zeros(3), elevation=np.zeros(2))


@pytest.mark.parametrize(
    ("audio", "rate", "error", "fragment"),
    [
        (np.zeros((2, 100)), FS, TypeError, "torch.Tensor"),
        (torch.zeros(2, 600, dtype=torch.int32), FS, TypeError, "floating"),
        (torch.zeros(2, 600), 8000, ValueError, "8000 Hz but the model expects 16000 Hz"),
        (torch.zeros(3, 600), FS, ValueError, "binaural, channel 0 = left"),
        (torch.zeros(1, 2, 100), FS, ValueError, "100 samples, shorter than the model's 512"),
        (torch.full((2, 600), math.inf), FS, ValueError, "NaN or infinite"),
    ],
)
def test_check_audio_names_the_problem(audio, rate, error, fragment):
    with pytest.raises(error, match=fragment):
        check_audio(audio, rate, expected_rate=FS, num_channels=2, min_samples=512)


def test_check_audio_batches_a_single_clip():
    assert check_audio(torch.zeros(2, 600), FS, expected_rate=FS, num_channels=2, min_samples=512).shape == (
        1,
        2,
        600,
    )


@pytest.mark.parametrize("name", CLASSIC_LOCALIZERS)
def test_classic_localizers_by_name_equal_the_algorithms(name, kemar):
    localizer = classic_localizer(name, kemar)
    assert isinstance(localizer, Localizer) and not isinstance(localizer, StreamingLocalizer)
    assert (localizer.sample_rate, localizer.num_channels, localizer.min_samples) == (FS, 2, 1024)
    clips = torch.stack([_clip(kemar, a, seed=i) for i, a in enumerate((-45.0, 20.0))])
    reference = {"gcc-phat-itd": GccPhatItdLocalizer, "srp-phat": SrpPhatLocalizer, "music": MusicLocalizer}
    direct = reference[name].from_hrtf(kemar).localize(clips)
    found = localizer.localize(clips, FS)
    np.testing.assert_array_equal(found.azimuth, direct)
    if name != "music":  # binaural MUSIC is fragile (see its docs); the others find these clips
        np.testing.assert_allclose(np.degrees(found.azimuth), [-45.0, 20.0], atol=5.0)
    assert "ClassicLocalizer" in repr(localizer)


def test_classic_localizers_for_arrays():
    array = make_receiver("array:circular4", FS)
    srp = classic_localizer("srp-phat", array)
    assert srp.num_channels == 4 and srp.min_samples == 512
    clip = _clip(array, 60.0, seed=3)
    assert abs(np.degrees(srp.localize(clip, FS).azimuth[0]) - 60.0) <= 5.0
    with pytest.raises(ValueError, match="microphone array"):
        classic_localizer("gcc-phat-itd", array)
    with pytest.raises(ValueError, match="unknown classic localizer 'beamformer'"):
        classic_localizer("beamformer", array)
    with pytest.raises(ValueError, match="HRTF set or a microphone array"):
        classic_localizer("srp-phat", object())


def test_protocols_are_structural():
    class Metric:
        sample_rate = FS

        def score(self, reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
            return (reference - test).abs().mean(dim=(1, 2))

    assert isinstance(Metric(), QualityMetric) and not isinstance(Metric(), Embedder)
    assert not isinstance(ClassicLocalizer("x", None, FS, 2, 10), Embedder)
