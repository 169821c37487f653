"""The model protocols, Directions / FrameTrack, audio checks, and the classic localizers behind them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

from spatialrep.evaluate import GccPhatItdLocalizer, MusicLocalizer, SrpPhatLocalizer
from spatialrep.evaluate.baselines import GccPhatItdTracker
from spatialrep.methods import Directions, Embedder, FrameTrack, Localizer, QualityMetric, StreamingLocalizer
from spatialrep.methods.base import check_audio, localize_batches
from spatialrep.methods.classic import (
    CLASSIC_FAMILIES,
    CLASSIC_LOCALIZERS,
    CLASSIC_VARIANTS,
    DEFAULT_CLASSIC,
    DEFAULT_VARIANT,
    STREAMING_CLASSIC,
    ClassicLocalizer,
    StreamingClassicLocalizer,
    classic_family,
    classic_localizer,
    resolve_classic,
)
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


_BUILDERS = {
    "gcc": GccPhatItdLocalizer,
    "gcc-stream": GccPhatItdTracker,
    "srp": SrpPhatLocalizer,
    "music": MusicLocalizer,
}


@pytest.mark.parametrize("name", CLASSIC_LOCALIZERS)
def test_classic_localizers_by_name_equal_the_algorithms(name, kemar):
    localizer = classic_localizer(name, kemar)
    variant = resolve_classic(name)
    assert localizer.name == name and localizer.variant == variant.name
    assert isinstance(localizer, Localizer)
    assert isinstance(localizer, StreamingLocalizer) == (variant.name in STREAMING_CLASSIC)
    assert (localizer.sample_rate, localizer.num_channels, localizer.min_samples) == (FS, 2, 1024)
    clips = torch.stack([_clip(kemar, a, seed=i) for i, a in enumerate((-45.0, 20.0))])
    direct = _BUILDERS[variant.kind].from_hrtf(kemar, **variant.binaural).localize(clips)
    found = localizer.localize(clips, FS)
    np.testing.assert_array_equal(found.azimuth, direct)
    if variant.kind != "music":  # binaural MUSIC is fragile (see its docs); the others find these clips
        np.testing.assert_allclose(np.degrees(found.azimuth), [-45.0, 20.0], atol=5.0)
    assert "ClassicLocalizer" in repr(localizer) and name in repr(localizer)


def test_classic_names_families_and_defaults():
    assert len(set(CLASSIC_LOCALIZERS)) == len(CLASSIC_LOCALIZERS)
    assert CLASSIC_LOCALIZERS == DEFAULT_CLASSIC + tuple(CLASSIC_VARIANTS)
    assert DEFAULT_CLASSIC == ("gcc-phat-itd", "srp-phat", "music") == tuple(CLASSIC_FAMILIES)
    listed = [name for names in CLASSIC_FAMILIES.values() for name in names]
    assert sorted(listed) == sorted(CLASSIC_VARIANTS)  # every variant in exactly one family
    for family, names in CLASSIC_FAMILIES.items():
        default = DEFAULT_VARIANT[family]
        assert names[0] == default and not CLASSIC_VARIANTS[default].streaming
        assert all(classic_family(n) == family for n in (family, *names))
        assert resolve_classic(family) is CLASSIC_VARIANTS[default]
    assert STREAMING_CLASSIC == ("gcc-phat-itd-stream",)
    # The original baselines stay reachable by name, unchanged.
    assert dict(CLASSIC_VARIANTS["gcc-phat-itd-framemean"].binaural) == {
        "accumulation": "frame-mean",
        "upsample": 1,
    }
    assert dict(CLASSIC_VARIANTS["srp-phat-framemean"].binaural) == {"accumulation": "frame-mean"}
    assert dict(CLASSIC_VARIANTS["music-nofnorm"].binaural) == {"frequency_normalization": False}


def test_original_gcc_phat_itd_is_reachable_by_name(kemar):
    clips = torch.stack([_clip(kemar, a, seed=i) for i, a in enumerate((-30.0, 65.0, 5.0))])
    original = GccPhatItdLocalizer.from_hrtf(kemar)  # the class defaults: the baseline before issue 18
    np.testing.assert_array_equal(
        classic_localizer("gcc-phat-itd-framemean", kemar).estimator.estimate_itd(clips),
        original.estimate_itd(clips),
    )


def test_classic_keyword_overrides(kemar):
    localizer = classic_localizer("gcc-phat-itd-clip", kemar, n_fft=512, freq_range=(200.0, 6000.0))
    assert localizer.min_samples == 512 and localizer.estimator.bins == (6, 193)
    assert localizer.estimator.accumulation == "clip" and localizer.estimator.upsample == 16
    assert classic_localizer("srp-phat", kemar, n_fft=None).min_samples == 1024
    with pytest.raises(TypeError, match="wobble"):
        classic_localizer("srp-phat", kemar, wobble=1)


def test_streaming_classic_localizer_equals_offline(kemar):
    localizer = classic_localizer("gcc-phat-itd-stream", kemar)
    assert isinstance(localizer, StreamingClassicLocalizer) and isinstance(localizer, StreamingLocalizer)
    clips = torch.stack([_clip(kemar, a, seconds=1.0, seed=i) for i, a in enumerate((-60.0, 35.0))])
    offline = localizer.localize(clips, FS)
    for chunk in (160, 1600, 5000):
        np.testing.assert_array_equal(localizer.localize_stream(clips, FS, chunk).azimuth, offline.azimuth)
    np.testing.assert_allclose(np.degrees(offline.azimuth), [-60.0, 35.0], atol=5.0)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="chunk_samples must be a positive integer"):
            localizer.localize_stream(clips, FS, bad)
    with pytest.raises(ValueError, match="8000 Hz"):
        localizer.localize_stream(clips, 8000, 160)


@pytest.mark.parametrize("name", CLASSIC_LOCALIZERS)
def test_classic_localizers_for_arrays(name):
    array = make_receiver("array:circular4", FS)
    if resolve_classic(name).array is None:
        with pytest.raises(ValueError, match=f"{name} needs a binaural head with an ITD table"):
            classic_localizer(name, array)
        return
    localizer = classic_localizer(name, array)
    assert localizer.num_channels == 4 and localizer.min_samples == 512
    clip = _clip(array, 60.0, seed=3)
    assert abs(np.degrees(localizer.localize(clip, FS).azimuth[0]) - 60.0) <= 5.0


def test_classic_localizer_refuses_bad_names_and_receivers(kemar):
    array = make_receiver("array:circular4", FS)
    with pytest.raises(
        ValueError, match="unknown classic localizer 'beamformer'; valid: gcc-phat-itd, srp-phat"
    ):
        classic_localizer("beamformer", array)
    with pytest.raises(ValueError, match="unknown classic localizer 'gcc-phat'"):
        classic_localizer("gcc-phat", kemar)
    with pytest.raises(
        ValueError, match="'srp-phat' needs an HRTF set or a microphone array receiver, got object"
    ):
        classic_localizer("srp-phat", object())
    with pytest.raises(ValueError, match="unknown classic localizer"):
        classic_family("music-root")


def test_protocols_are_structural():
    class Metric:
        sample_rate = FS

        def score(self, reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
            return (reference - test).abs().mean(dim=(1, 2))

    assert isinstance(Metric(), QualityMetric) and not isinstance(Metric(), Embedder)
    assert not isinstance(ClassicLocalizer("x", None, FS, 2, 10), Embedder)


def test_pooling_leaves_out_inactive_frames():
    probs = np.array([[[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]]])
    track = FrameTrack(probs, np.radians([-10.0, 10.0]), hop_s=0.01, frame_s=0.032)
    assert np.degrees(track.pooled_azimuth())[0] == pytest.approx(-10.0)
    active = np.array([False, False, True])  # the first two frames were silence
    assert np.degrees(track.pooled_azimuth(active=active))[0] == pytest.approx(10.0)
    assert np.isnan(track.pooled_azimuth(0, 2, active)[0])  # no active frame: no direction
    with pytest.raises(ValueError, match="active must have shape"):
        track.pooled_azimuth(active=np.ones(2, dtype=bool))


class _MeanLocalizer:
    """Azimuth = mean of each clip; classes from the sign of that mean, if ``classify``."""

    sample_rate, num_channels, min_samples = 16000, 2, 1

    def __init__(self, classify: bool) -> None:
        self.classify = classify
        self.grad_enabled: list[bool] = []

    def localize(self, audio: torch.Tensor, sample_rate: int) -> Directions:
        self.grad_enabled.append(torch.is_grad_enabled())
        mean = audio.mean(dim=(1, 2)).numpy().astype(np.float32)
        if not self.classify:
            return Directions(azimuth=mean)
        scores = np.stack([-mean, mean], axis=1)
        return Directions(azimuth=mean, class_scores=scores, class_names=("neg", "pos"))


def test_localize_batches_keeps_order_classes_and_no_grad():
    clips = torch.tensor([-2.0, 1.0, 3.0, -1.0, 0.5]).reshape(5, 1, 1).expand(5, 2, 8).contiguous()
    batches = [clips[:2], clips[2:4], clips[4:]]
    model = _MeanLocalizer(classify=True)
    azimuth, classes = localize_batches(model, iter(batches), 16000)
    assert azimuth.dtype == np.float64 and azimuth.tolist() == [-2.0, 1.0, 3.0, -1.0, 0.5]
    assert classes == ["neg", "pos", "pos", "neg", "pos"]
    assert model.grad_enabled == [False, False, False]
    assert localize_batches(_MeanLocalizer(classify=False), batches, 16000)[1] is None
    with pytest.raises(ValueError, match="at least one batch"):
        localize_batches(model, [], 16000)
