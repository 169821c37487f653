"""Render a :class:`~spatialrep.simulate.scene.SceneSpec` into signals and labels.

Rendering is deterministic: all randomness was drawn into the spec (seeds included). A
:class:`SceneRenderer` holds what is expensive to build (receiver, source banks, clip pools) and renders many
specs, the way ``config.render_version`` says (see :data:`~spatialrep.simulate.scene_config.RENDER_VERSIONS`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import fft as sfft

from spatialrep import seeding
from spatialrep.dsp import fft_convolve
from spatialrep.simulate.clip_pool import ClipPool, pooled_babble
from spatialrep.simulate.diffuse import SignalFactory
from spatialrep.simulate.noise import (
    DEFAULT_NUM_TALKERS,
    diffuse_noise,
    make_noise_signal_factory,
    mix_at_snr,
)
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.simulate.receivers import Receiver
from spatialrep.simulate.room_response import RoomResponse, room_response
from spatialrep.simulate.rooms import source_offset
from spatialrep.simulate.scene import RenderedScene, SceneSpec, SourceSpec
from spatialrep.simulate.scene_config import POOLED_SOURCES, SceneConfig
from spatialrep.simulate.sources import SourceBank, SourceClip, make_source_bank
from spatialrep.simulate.spectral_diffuse import fft_size, spectral_diffuse_noise

PEAK_LIMIT = 0.9
"""Rendered examples are scaled down together (one gain for every signal) when a peak would exceed this."""

BABBLE_POOL_SIZE = 64
"""Render version ``v2``: speech clips per split that babble talkers are cut from."""


class SceneRenderer:
    """Renders scenes of one :class:`SceneConfig`.

    Args:
        config: the scene distribution (sample rate, receiver, source bank, BRIR mode...).
        receiver: overrides ``config.receiver`` (e.g. a synthetic subject built in code).
        source_bank: overrides ``config.source``.
    """

    def __init__(
        self, config: SceneConfig, *, receiver: Receiver | None = None, source_bank: SourceBank | None = None
    ) -> None:
        self.config = config
        self.receiver = (
            receiver if receiver is not None else make_receiver(config.receiver, config.sample_rate)
        )
        if self.receiver.sample_rate != config.sample_rate:
            raise ValueError(
                f"receiver {self.receiver.name!r} runs at {self.receiver.sample_rate} Hz but the config asks "
                f"for {config.sample_rate} Hz"
            )
        bank = source_bank if source_bank is not None else make_source_bank(config.source)
        if config.source_units:
            bank = bank.partition(config.source_units)
        self.source_bank = bank
        self._speech_bank: SourceBank | None = None
        for noise_type in config.noise_types:
            make_noise_signal_factory(
                noise_type, config.sample_rate, speech_bank=self._babble_bank(noise_type)
            )
        self.v2 = config.render_version == "v2"
        self.target_pool = (
            ClipPool(bank, config.source_pool_size, config.duration_s, config.sample_rate, "targets")
            if self.v2 and config.source_pool_size > 0 and config.source in POOLED_SOURCES
            else None
        )
        self._babble_pool: ClipPool | None = None

    def _pooled_babble(self, pool_seed: int) -> SignalFactory:
        """Render version ``v2``: babble signals cut from this split's pool of speech clips."""
        if self._babble_pool is None:
            cfg = self.config
            longest = fft_size(cfg.num_samples, self.receiver) + cfg.num_samples  # spectral noise + offsets
            bank = self._babble_bank("babble")
            assert bank is not None
            self._babble_pool = ClipPool(
                bank, BABBLE_POOL_SIZE, longest / cfg.sample_rate, cfg.sample_rate, "babble"
            )
        pool = self._babble_pool

        def make(rng: np.random.Generator, num_samples: int) -> np.ndarray:
            return pooled_babble(pool, pool_seed, rng, num_samples, DEFAULT_NUM_TALKERS)

        return make

    def _noise_factory(self, spec: SceneSpec) -> SignalFactory:
        if self.v2 and spec.noise_type == "babble":
            return self._pooled_babble(spec.pool_seed)
        return make_noise_signal_factory(
            spec.noise_type, self.config.sample_rate, self._babble_bank(spec.noise_type)
        )

    def _target(self, spec: SceneSpec, source: SourceSpec) -> SourceClip:
        cfg = self.config
        if self.target_pool is None:
            return self.source_bank.sample(seeding.rng(source.seed), cfg.duration_s, cfg.sample_rate)
        pooled = self.target_pool.draw(spec.pool_seed, seeding.rng(source.seed, "pool"))
        return SourceClip(
            pooled.signal.astype(np.float64), pooled.sample_rate, pooled.label, pooled.source_id, pooled.unit
        )

    def _babble_bank(self, noise_type: str) -> SourceBank | None:
        if noise_type != "babble":
            return None
        if self._speech_bank is None:
            self._speech_bank = make_source_bank("speech")
        return self._speech_bank

    def _response(self, spec: SceneSpec, source: SourceSpec) -> RoomResponse:
        return room_response(
            receiver=self.receiver,
            room=spec.room,
            receiver_position=spec.receiver_position,
            receiver_yaw=spec.receiver_yaw,
            source_position=self._source_position(spec, source),
            mode=self.config.brir_mode,
            rng=seeding.rng(spec.tail_seed, source.seed),
            tail="knots" if self.v2 else "directions",
        )

    @staticmethod
    def _source_position(spec: SceneSpec, source: SourceSpec) -> np.ndarray:
        offset = source_offset(source.azimuth, source.elevation, source.distance, spec.receiver_yaw)
        if spec.receiver_position is None:
            return offset
        return np.asarray(spec.receiver_position) + offset

    def render(self, spec: SceneSpec) -> RenderedScene:
        """Render one scene.

        Returns:
            The signals (see :class:`RenderedScene` for shapes) and the labels of :func:`labels_of`.
        """
        cfg = self.config
        n = cfg.num_samples
        channels = self.receiver.num_channels
        targets, interferers = spec.targets, spec.interferers
        dry = np.zeros((len(targets), n))
        clean_direct = np.zeros((len(targets), channels, n))
        clean_reverb = np.zeros((len(targets), channels, n))
        classes, source_ids, units, drrs = [], [], [], []
        for k, source in enumerate(targets):
            clip = self._target(spec, source)
            response = self._response(spec, source)
            dry[k] = clip.signal
            if self.v2:
                clean_reverb[k], clean_direct[k] = _convolve_truncated(
                    clip.signal, response.full, response.direct
                )
            else:
                clean_reverb[k] = fft_convolve(clip.signal[None, :], response.full)[:, :n]
                clean_direct[k] = fft_convolve(clip.signal[None, :], response.direct)[:, :n]
            classes.append(clip.label)
            source_ids.append(clip.source_id)
            units.append(clip.unit)
            drrs.append(response.drr_db)
        target_mix = clean_reverb.sum(axis=0)
        target_power = float(np.mean(target_mix**2))

        noise = np.zeros((channels, n))
        for source in interferers:
            signal = self._noise_factory(spec)(seeding.rng(source.seed), n)
            wet = fft_convolve(signal[None, :], self._response(spec, source).full)[:, :n]
            gain = math.sqrt(target_power * 10 ** (source.level_db / 10) / max(float(np.mean(wet**2)), 1e-20))
            noise += gain * wet

        if self.v2:
            diffuse = spectral_diffuse_noise(
                self.receiver,
                spec.noise_type,
                n,
                seeding.rng(spec.noise_seed),
                make_signal=self._noise_factory(spec) if spec.noise_type == "babble" else None,
            )
        else:
            diffuse = diffuse_noise(
                self.receiver,
                spec.noise_type,
                n,
                seeding.rng(spec.noise_seed),
                speech_bank=self._babble_bank(spec.noise_type),
            )
        _, diffuse = mix_at_snr(target_mix, diffuse, spec.snr_db)
        noise += diffuse
        noisy = target_mix + noise

        peak = max(float(np.max(np.abs(a))) for a in (noisy, clean_reverb, clean_direct, dry))
        gain = min(1.0, PEAK_LIMIT / peak) if peak > 0 else 1.0
        rendered = RenderedScene(
            noisy=noisy * gain,
            clean_direct=clean_direct * gain,
            clean_reverb=clean_reverb * gain,
            dry=dry * gain,
            noise=noise * gain,
            sample_rate=cfg.sample_rate,
        )
        rendered.labels = labels_of(spec, self.receiver, classes, source_ids, units, drrs, cfg)
        return rendered


def _convolve_truncated(x: np.ndarray, *responses: np.ndarray) -> tuple[np.ndarray, ...]:
    """The first ``T`` samples of ``x * h`` for each response ``h`` ``(C, L)``, ``x`` ``(T,)`` (render version
    ``v2``): one FFT of ``x``, one FFT size for all, in single precision (relative error about 2e-7 of the
    peak, below the 24-bit samples datasets are written with; half the time). Returns float64 ``(C, T)``
    arrays in the order given."""
    n = x.shape[-1]
    size = sfft.next_fast_len(n + max(h.shape[-1] for h in responses) - 1, real=True)
    spectrum = sfft.rfft(x.astype(np.float32), size)
    stacked = sfft.rfft(np.stack(responses).astype(np.float32), size, axis=-1)  # (R, C, F)
    stacked *= spectrum
    out = sfft.irfft(stacked, size, axis=-1)[..., :n]
    return tuple(out.astype(np.float64))


def labels_of(
    spec: SceneSpec,
    receiver: Receiver,
    classes: list[str],
    source_ids: list[str],
    units: list[str],
    drrs: list[float],
    config: SceneConfig,
) -> dict[str, Any]:
    """Plain labels of a rendered scene: angles in **degrees** (a file edge), metres, seconds, dB.

    Per-source values are lists in target order.
    """
    targets = spec.targets
    room = spec.room
    return {
        "index": spec.index,
        "num_sources": len(targets),
        "azimuth_deg": [round(math.degrees(s.azimuth), 6) for s in targets],
        "elevation_deg": [round(math.degrees(s.elevation), 6) for s in targets],
        "distance_m": [round(s.distance, 6) for s in targets],
        "class": classes,
        "source_id": source_ids,
        "unit": units,
        "drr_db": [round(float(d), 4) for d in drrs],
        "num_interferers": len(spec.interferers),
        "room_id": room.id if room is not None else "anechoic",
        "room_size_m": list(room.size) if room is not None else None,
        "rt60_s": room.rt60 if room is not None else 0.0,
        "receiver_position_m": list(spec.receiver_position) if spec.receiver_position is not None else None,
        "receiver_yaw_deg": round(math.degrees(spec.receiver_yaw), 6),
        "noise_type": spec.noise_type,
        "snr_db": round(spec.snr_db, 6),
        "receiver": receiver.name,
        "receiver_kind": receiver.kind,
        "num_channels": receiver.num_channels,
        "sample_rate": config.sample_rate,
        "duration_s": config.duration_s,
    }
