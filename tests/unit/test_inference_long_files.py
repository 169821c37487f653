"""``localize_file`` on long files: bounded blocks, and one offline pass's answers where they should be."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

import spatialrep.inference.audio_blocks as audio_blocks_module
import spatialrep.inference.localize as localize_module
from spatialrep.cli.main import main
from spatialrep.dsp import resample
from spatialrep.inference import localize_file
from spatialrep.io.audio import AudioFileError, read_audio
from spatialrep.methods.base import Directions, FrameStreamingLocalizer, FrameTrack, Localizer
from spatialrep.methods.sfd import SfdConfig, SfdLocalizer
from spatialrep.models import EncoderConfig
from spatialrep.train import build_seeded

FS = 16000
ENCODER = {"d_model": 16, "num_heads": 2, "num_layers": 2, "conv_kernel": 3, "dropout": 0.0}
LEFT, RIGHT = math.radians(30.0), math.radians(-30.0)


def sfd(**encoder: Any) -> SfdLocalizer:
    config = SfdConfig(encoder=EncoderConfig("causal_conformer", {**ENCODER, **encoder}))
    model = build_seeded(SfdLocalizer, {"config": config}, 0)
    assert isinstance(model, SfdLocalizer)
    return model


def noise_file(path, seconds: float, rate: int = FS, seed: int = 0, subtype: str = "FLOAT"):
    rng = np.random.default_rng(seed)
    sf.write(path, 0.1 * rng.standard_normal((round(seconds * rate), 2)), rate, subtype=subtype)
    return path


def offline(model: SfdLocalizer, path) -> Directions:
    audio, _ = read_audio(path)
    return model.localize(torch.from_numpy(audio.astype(np.float32))[None], FS)


class LouderSide:
    """A clip-level spy localizer: +30° when the left channel is louder, else -30°; records input lengths."""

    num_channels = 2
    min_samples = 64

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.calls: list[np.ndarray] = []

    def localize(self, audio: torch.Tensor, sample_rate: int) -> Directions:
        assert sample_rate == self.sample_rate and audio.shape[-1] >= self.min_samples
        self.calls.append(audio[0].numpy().copy())
        power = audio.double().square().mean(dim=-1)
        return Directions(azimuth=np.where(power[:, 0] > power[:, 1], LEFT, RIGHT))


class SpyStream:
    """Wraps a frame-wise streaming localizer; records every piece pushed and the context asked for."""

    def __init__(self, model: SfdLocalizer) -> None:
        self.model = model
        self.sample_rate, self.num_channels, self.min_samples = model.sample_rate, 2, model.min_samples
        self.pushed: list[int] = []
        self.contexts: list[float | None] = []

    def localize(self, audio: torch.Tensor, sample_rate: int) -> Directions:
        raise AssertionError("a streaming model must not get the whole file")

    def localize_stream(self, audio: torch.Tensor, sample_rate: int, chunk_samples: int) -> Directions:
        raise AssertionError("a streaming model must not get the whole file")

    def open_stream(self, sample_rate: int, *, batch_size: int = 1, context_s: float | None = None) -> Any:
        self.contexts.append(context_s)
        stream = self.model.open_stream(sample_rate, batch_size=batch_size, context_s=context_s)
        spy = self

        class Pushes:
            def push(self, audio: torch.Tensor) -> Any:
                spy.pushed.append(audio.shape[-1])
                return stream.push(audio)

        return Pushes()


def test_short_file_equals_one_offline_pass(tmp_path):
    """Shorter than a block and than the context: the offline frames, segments and clip (also streamed)."""
    model = sfd()
    path = noise_file(tmp_path / "short.wav", 0.8)
    reference = offline(model, path)
    track = reference.track
    assert track is not None and track.logits is not None
    for stream in (False, True):
        result = localize_file(path, model, stream=stream, chunk_s=0.037)
        assert np.abs(np.array(result["frame_logits"]) - track.logits[0]).max() <= 1e-5
        assert result["clip"] == {"azimuth_deg": pytest.approx(math.degrees(reference.azimuth[0]))}
        expected = [math.degrees(track.pooled_azimuth(s, s + 10)[0]) for s in range(0, track.num_frames, 10)]
        assert [s["azimuth_deg"] for s in result["segments"]] == pytest.approx(expected)
        assert result["segments"][-1]["end_s"] == pytest.approx((track.num_frames - 1) * 0.01 + 0.032)


def test_blocks_do_not_change_the_frames_and_context_bounds_them(tmp_path):
    """Many blocks through the cached state equal one offline pass; a bounded context equals an offline
    pass of the same weights with that ``left_context``."""
    model = sfd()
    path = noise_file(tmp_path / "three.wav", 3.0)
    reference = offline(model, path).track
    assert reference is not None and reference.logits is not None
    unbounded = localize_file(path, model, block_s=0.5, context_s=None)
    assert np.abs(np.array(unbounded["frame_logits"]) - reference.logits[0]).max() <= 1e-5
    assert len(unbounded["segments"]) == 30
    bounded_model = sfd(left_context=20)
    bounded_model.load_state_dict(model.state_dict())
    expected = offline(bounded_model, path).track
    assert expected is not None and expected.logits is not None
    assert np.abs(expected.logits - reference.logits).max() > 1e-2  # the bound matters in this test
    bounded = localize_file(path, model, block_s=0.5, context_s=0.2)  # 20 frames of 10 ms
    assert np.abs(np.array(bounded["frame_logits"]) - expected.logits[0]).max() <= 1e-5
    assert model.config.encoder.kwargs.get("left_context") is None  # the model itself is left as it was


def test_a_long_file_reaches_the_model_in_bounded_pieces(tmp_path, monkeypatch):
    """Two minutes through a streaming model: no piece read or pushed is longer than a block, the state is
    opened with the bounded context, every frame is pooled, and no logits are kept unless asked for."""
    path = noise_file(tmp_path / "long.flac", 120.0, subtype="PCM_16")
    reads: list[int] = []

    class CountingFile(sf.SoundFile):
        def read(self, frames: int = -1, *args: Any, **kwargs: Any) -> Any:
            reads.append(frames)
            return super().read(frames, *args, **kwargs)

    monkeypatch.setattr(audio_blocks_module.sf, "SoundFile", CountingFile)
    spy = SpyStream(sfd(num_layers=1))
    assert isinstance(spy, FrameStreamingLocalizer)
    result = localize_file(path, spy, block_s=5.0, logits=False)
    assert spy.contexts == [localize_module.CONTEXT_S]
    assert max(reads) == 5 * FS and sum(reads) == 120 * FS
    assert max(spy.pushed) == localize_module.PUSH_S * FS and sum(spy.pushed) == 120 * FS
    assert len(result["segments"]) == math.ceil((1 + (120 * FS - 512) // 160) / 10)
    assert result["frame_logits"] is None and math.isfinite(result["clip"]["azimuth_deg"])


def test_clip_level_long_file_pools_active_blocks(tmp_path):
    """Five minutes at 4 kHz: each block and segment localized on its own (never more than a block at
    once), the clip the length-weighted mean direction of the blocks above the activity floor."""
    rate = 4000
    rng = np.random.default_rng(1)
    parts = [
        rng.standard_normal((200 * rate, 2)) * [0.2, 0.1],  # left louder: +30°
        rng.standard_normal((60 * rate, 2)) * [0.1, 0.2],  # right louder: -30°
        np.zeros((40 * rate, 2)),  # silence does not vote
    ]
    path = tmp_path / "five_minutes.wav"
    sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
    spy = LouderSide(rate)
    assert isinstance(spy, Localizer) and not isinstance(spy, FrameStreamingLocalizer)
    result = localize_file(path, spy)
    block = round(localize_module.BLOCK_S * rate)
    assert max(len(call[0]) for call in spy.calls) == block
    assert len(spy.calls) == 300 // 10 + 300 * 2  # one call per block and per 0.5 s segment
    expected = math.atan2(200 * math.sin(LEFT) + 60 * math.sin(RIGHT), 260 * math.cos(LEFT))
    assert result["clip"]["azimuth_deg"] == pytest.approx(math.degrees(expected))
    segments = result["segments"]
    assert len(segments) == 600 and segments[-1]["end_s"] == 300.0
    assert [s["azimuth_deg"] for s in segments[:400]] == pytest.approx([30.0] * 400)
    assert [s["azimuth_deg"] for s in segments[400:520]] == pytest.approx([-30.0] * 120)
    assert all(math.isnan(s["azimuth_deg"]) and "silent" in s["no_source"] for s in segments[520:])


def test_clip_level_file_within_one_block_is_answered_whole(tmp_path):
    """Up to one block the clip is the model's answer for the whole file (as before); beyond, the blocks'."""
    rate = 4000
    rng = np.random.default_rng(2)
    left_louder = rng.standard_normal((4 * rate, 2)) * [0.2, 0.1]
    right_louder = rng.standard_normal((2 * rate, 2)) * [0.05, 0.2]
    path = tmp_path / "six.wav"
    sf.write(path, np.concatenate([left_louder, right_louder]), rate, subtype="FLOAT")
    whole = localize_file(path, LouderSide(rate))
    assert whole["clip"]["azimuth_deg"] == pytest.approx(30.0)  # over the whole file the left is louder
    pooled = localize_file(path, LouderSide(rate), block_s=2.0)  # blocks: +30°, +30°, -30°
    assert pooled["segments"] == whole["segments"]
    expected = math.atan2(2 * math.sin(LEFT) + math.sin(RIGHT), 3 * math.cos(LEFT))
    assert pooled["clip"]["azimuth_deg"] == pytest.approx(math.degrees(expected))


@pytest.mark.parametrize("rate", [44100, 48000, 8000])
def test_block_resampling_equals_resampling_the_whole_file(tmp_path, rate):
    path = noise_file(tmp_path / "other_rate.wav", 3.0, rate=rate)
    spy = LouderSide(FS)
    with pytest.warns(UserWarning, match="resampling to the model's 16000 Hz"):
        localize_file(path, spy, block_s=0.5, segment_s=0.5)
    blocks = np.concatenate(spy.calls[0::2], axis=1)  # block, its one segment, next block, ...
    audio, _ = read_audio(path)
    whole = resample(audio, rate, FS).astype(np.float32)
    assert blocks.shape == whole.shape
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-6)


def test_long_file_errors(tmp_path):
    bad = noise_file(tmp_path / "nan_late.wav", 2.0)
    audio, _ = sf.read(bad)
    audio[-10] = np.nan
    sf.write(bad, audio, FS, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN or inf"):
        localize_file(bad, LouderSide(FS), block_s=0.5)
    with pytest.raises(ValueError, match="shorter than the model's 64"):
        localize_file(noise_file(tmp_path / "tiny.wav", 0.002), LouderSide(FS))
    with pytest.raises(ValueError, match="block_s and context_s must be positive"):
        localize_file(bad, LouderSide(FS), block_s=0)
    with pytest.raises(ValueError, match="block_s and context_s must be positive"):
        localize_file(bad, LouderSide(FS), context_s=float("nan"))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((3 * FS, 2)), FS)
    clip = localize_file(silent, LouderSide(FS), block_s=1.0)["clip"]
    assert math.isnan(clip["azimuth_deg"]) and "activity floor" in clip["no_source"]


def test_cli_quiet(tmp_path, capsys):
    path = noise_file(tmp_path / "one.wav", 1.0)
    assert main(["localize", str(path), "--model", "gcc-phat-itd", "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert '"azimuth_deg"' in captured.out and captured.err == ""


class FrameEnergy:
    """A frame-wise localizer that cannot stream: 64-sample frames every 32 samples, left vs right by the
    frame's channel powers; no context, so localizing block by block must give the offline frames."""

    sample_rate, num_channels, min_samples = 4000, 2, 64

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def localize(self, audio: torch.Tensor, sample_rate: int) -> Directions:
        self.lengths.append(audio.shape[-1])
        frames = audio.double().unfold(-1, 64, 32).square().mean(-1)  # (batch, 2, frames)
        probabilities = (frames / frames.sum(1, keepdim=True)).transpose(1, 2).numpy()
        track = FrameTrack(
            probabilities, np.array([LEFT, RIGHT]), 32 / 4000, 64 / 4000, np.log(probabilities)
        )
        return Directions(track.pooled_azimuth(), track=track)


def test_frame_wise_model_without_stream_localizes_block_by_block(tmp_path):
    path = noise_file(tmp_path / "thirty.wav", 30.0, rate=4000)
    model = FrameEnergy()
    reference = offline_any(model, path)
    model.lengths.clear()
    result = localize_file(path, model, block_s=1.0)
    assert max(model.lengths) <= 4000 + 64 and len(model.lengths) >= 30
    assert np.abs(np.array(result["frame_logits"]) - reference.logits[0]).max() <= 1e-6
    assert len(result["segments"]) == math.ceil(reference.num_frames / round(0.1 / (32 / 4000)))


def offline_any(model: Any, path) -> FrameTrack:
    audio, rate = read_audio(path)
    track = model.localize(torch.from_numpy(audio.astype(np.float32))[None], rate).track
    assert track is not None and track.logits is not None
    return track


def test_open_stream_guards():
    model = sfd()
    with pytest.raises(ValueError, match="8000 Hz but the model expects 16000 Hz"):
        model.open_stream(8000)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.open_stream(FS, batch_size=0)
    with pytest.raises(ValueError, match="context_s must be positive"):
        model.open_stream(FS, context_s=0.0)
    centred = build_seeded(SfdLocalizer, {"config": model.config.replace(frontend={"center": True})}, 0)
    with pytest.raises(ValueError, match="centred"):
        centred.open_stream(FS)
    stream = model.open_stream(FS, batch_size=2)
    assert stream.push(torch.zeros(2, 2, 100)).num_frames == 0  # less than one frame: buffered
    assert stream.push(torch.zeros(2, 2, 500)).num_frames == 1 + (600 - 512) // 160
    with pytest.raises(ValueError, match="batch size 2, got 1"):
        stream.push(torch.zeros(1, 2, 100))
