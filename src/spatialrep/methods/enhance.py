"""A small binaural speech enhancer trained with L1, multi-resolution STFT, L1 + λ·SQM or SQM only.

SQM-BS's use as a loss (Manocha et al., Table 4): an enhancer whose output should keep the reference's
spatialization. The enhancer masks each ear's STFT with its own mask (so, unlike a shared mask, it *can*
damage the interaural cues): log-magnitudes of both ears → a GRU → two sigmoid masks → inverse STFT.

Data (:class:`EnhanceDataset`): the reverberant binaural speech of :mod:`spatialrep.data.sqm_pairs` as the
clean target (``clean_reverb``), plus independent white noise per ear at a random SNR as the input, with the
dry utterance as the mono. *SUB*: the issue names the ``binaural-speech`` dataset preset; rendering it is a
separate, slower pipeline, so the SQM clips (same speech bank, heads and rooms) are used instead.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from spatialrep import seeding
from spatialrep.config import ConfigError, as_config, check_sections, to_dict
from spatialrep.data.sqm_pairs import SqmScenes
from spatialrep.features.functional import make_window
from spatialrep.methods.sqm import SpatialQualityMetric
from spatialrep.methods.sqm_baselines import MultiResolutionStftDistance
from spatialrep.train import TrainConfig, TrainedModel, make_loader, register_model, train_model

__all__ = [
    "ENHANCE_LOSSES",
    "BinauralEnhancer",
    "EnhanceConfig",
    "EnhanceDataset",
    "enhance_step",
    "si_sdr",
    "train_enhancer",
]

ENHANCE_LOSSES = ("l1", "mrstft", "l1+sqm", "sqm")


def _default_train() -> TrainConfig:
    return TrainConfig(max_steps=60, batch_size=8, lr=1e-3, optimizer="adam", accelerator="cpu", devices=1)


@dataclasses.dataclass(frozen=True)
class EnhanceConfig:
    """The enhancer and its comparison.

    Attributes:
        sample_rate: Hz (the SQM model's).
        n_fft, hop_length: STFT of the masks.
        hidden: GRU units.
        losses: the trained variants (:data:`ENHANCE_LOSSES`).
        sqm_weight: ``λ`` of ``l1+sqm``.
        snr_db: ``(low, high)`` input SNR range, dB.
        train_clips, test_clips: clips of the training and test sets.
        train: :class:`TrainConfig` of every variant.
    """

    sample_rate: int = 16000
    n_fft: int = 256
    hop_length: int = 64
    hidden: int = 64
    losses: tuple[str, ...] = ENHANCE_LOSSES
    sqm_weight: float = 1.0
    snr_db: tuple[float, float] = (0.0, 10.0)
    train_clips: int = 256
    test_clips: int = 16
    train: TrainConfig = dataclasses.field(default_factory=_default_train)

    def __post_init__(self) -> None:
        check_sections(self, {"train": TrainConfig})
        object.__setattr__(self, "losses", tuple(self.losses))
        object.__setattr__(self, "snr_db", tuple(float(s) for s in self.snr_db))
        unknown = sorted(set(self.losses) - set(ENHANCE_LOSSES))
        if unknown or not self.losses:
            raise ConfigError(f"enhance.losses={list(self.losses)}: each must be one of {ENHANCE_LOSSES}")
        if not (isinstance(self.n_fft, int) and self.n_fft >= 16 and 1 <= self.hop_length <= self.n_fft):
            raise ConfigError(f"enhance n_fft={self.n_fft!r} / hop_length={self.hop_length!r} are invalid")
        if not (isinstance(self.hidden, int) and self.hidden >= 1):
            raise ConfigError(f"enhance.hidden={self.hidden!r} must be a positive integer")
        if len(self.snr_db) != 2 or self.snr_db[0] > self.snr_db[1]:
            raise ConfigError(f"enhance.snr_db={self.snr_db!r} must be (low, high)")
        if not (math.isfinite(self.sqm_weight) and self.sqm_weight >= 0):
            raise ConfigError(f"enhance.sqm_weight={self.sqm_weight!r} must be >= 0")
        for name in ("train_clips", "test_clips"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"enhance.{name}={getattr(self, name)!r} must be a positive integer")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


@register_model("sqm_enhancer")
class BinauralEnhancer(nn.Module):
    """Per-ear STFT masks from a GRU over both ears' log-magnitudes.

    Shape:
        ``forward``: noisy ``(batch, 2, time)`` -> enhanced ``(batch, 2, time)``.
    """

    def __init__(self, config: EnhanceConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = as_config(EnhanceConfig, config)
        bins = self.config.n_fft // 2 + 1
        self.gru = nn.GRU(2 * bins, self.config.hidden, batch_first=True)
        self.mask = nn.Linear(self.config.hidden, 2 * bins)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def forward(self, noisy: Tensor) -> Tensor:
        cfg = self.config
        batch, channels, time = noisy.shape
        window = make_window("sqrt_hann", cfg.n_fft, dtype=noisy.dtype, device=noisy.device)
        flat = noisy.reshape(batch * channels, time)
        spec = torch.stft(flat, cfg.n_fft, cfg.hop_length, window=window, return_complex=True)
        bins, frames = spec.shape[-2:]
        logmag = torch.log1p(spec.abs()).reshape(batch, channels * bins, frames).transpose(1, 2)
        with torch.backends.cudnn.flags(enabled=False):
            hidden, _ = self.gru(logmag)
        masks = torch.sigmoid(self.mask(hidden)).transpose(1, 2).reshape(batch * channels, bins, frames)
        out = torch.istft(spec * masks, cfg.n_fft, cfg.hop_length, window=window, length=time)
        return out.reshape(batch, channels, time)


class EnhanceDataset(Dataset[dict[str, np.ndarray]]):
    """Noisy and clean reverberant binaural pairs, dry mono: ``{"noisy", "clean": (2, T), "dry": (T,)}``."""

    def __init__(self, scenes: SqmScenes, length: int, snr_db: tuple[float, float], name: str) -> None:
        if length < 1:
            raise ValueError(f"EnhanceDataset length must be >= 1, got {length!r}")
        self.scenes, self.length, self.snr_db, self.name = scenes, length, snr_db, name

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        scenes = self.scenes
        rng = seeding.rng(scenes.config.seed, "enhance", self.name, spawn_key=(int(index),))
        head, room = int(rng.integers(scenes.num_heads)), int(rng.integers(scenes.num_rooms))
        az, el = scenes.random_direction(rng)
        (utterance,) = scenes.dry.draw(rng, 1)
        clean = scenes.render(head, room, az, el, utterance, None)
        snr = float(rng.uniform(*self.snr_db))
        noise = rng.standard_normal(clean[:2].shape)
        power = float(np.mean(clean[:2] ** 2))
        noisy = clean[:2] + noise * math.sqrt(power / 10.0 ** (snr / 10.0))
        return {
            "noisy": noisy.astype(np.float32),
            "clean": clean[:2].astype(np.float32),
            "dry": clean[2].astype(np.float32),
        }


def si_sdr(estimate: Tensor, target: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale-invariant SDR in dB over the last axis (``(..., time) -> (...)``)."""
    target = target - target.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    scale = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * target
    noise = estimate - projection
    return 10 * torch.log10((projection.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


def enhance_step(
    loss: str, metric: SpatialQualityMetric | None, sqm_weight: float = 1.0
) -> Callable[[nn.Module, Mapping[str, Tensor]], dict[str, Tensor]]:
    """The training step of loss ``loss`` (:data:`ENHANCE_LOSSES`); the SQM losses need ``metric``.

    Raises:
        ValueError: an unknown loss, or an SQM loss without a metric.
    """
    if loss not in ENHANCE_LOSSES:
        raise ValueError(f"unknown enhancement loss {loss!r}; valid: {', '.join(ENHANCE_LOSSES)}")
    if "sqm" in loss and metric is None:
        raise ValueError(f"loss {loss!r} needs a SpatialQualityMetric")

    def step(model: nn.Module, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        estimate = model(batch["noisy"])
        clean, dry = batch["clean"], batch["dry"]
        logs: dict[str, Tensor] = {"l1": (estimate - clean).abs().mean()}
        if loss == "mrstft":
            rate = int(getattr(model, "sample_rate", 16000))
            logs["mrstft"] = MultiResolutionStftDistance(rate)(clean, estimate).mean()
        if metric is not None and "sqm" in loss:
            metric.to(estimate.device)
            logs["sqm"] = metric(clean, estimate, dry, dry).mean()
        if loss == "l1":
            total = logs["l1"]
        elif loss == "mrstft":
            total = logs["mrstft"]
        elif loss == "l1+sqm":
            total = logs["l1"] + sqm_weight * logs["sqm"]
        else:
            total = logs["sqm"]
        return {"loss": total, **logs}

    return step


def train_enhancer(
    config: EnhanceConfig,
    loss: str,
    train_data: Any,
    out_dir: str | os.PathLike[str],
    *,
    metric: SpatialQualityMetric | None = None,
    progress: bool = False,
) -> TrainedModel:
    """Train the enhancer with ``loss`` through :func:`~spatialrep.train.train_model` (resumable)."""
    step = enhance_step(loss, metric, config.sqm_weight)
    loader = make_loader(train_data, batch_size=config.train.batch_size, seed=config.train.seed)
    return train_model(
        BinauralEnhancer,
        {"config": config.to_dict()},
        step,
        loader,
        None,
        config.train,
        out_dir,
        progress=progress,
    )
