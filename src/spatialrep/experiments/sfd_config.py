"""Scales of the SFD experiment (``spatialrep experiment sfd --scale tiny|small|paper``).

Each scale fixes the dataset, the model size, the training budgets, the label budgets and the seeds. ``tiny``
checks the plumbing in a few minutes on 2 CPU cores (the demo and the tests use it; its numbers are not
meaningful), ``small`` is the CPU reference (under about an hour on 2 cores), ``paper`` is the paper-scale
recipe for a GPU (4 s clips, 11 h of audio, 10 min / 1 h / 10 h label budgets, 50k pretraining steps).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from spatialrep.config import ConfigError, to_dict
from spatialrep.data.presets import preset_path
from spatialrep.methods.sfd import NoiseAugmentation, SfdConfig
from spatialrep.methods.sfd_targets import TARGETS
from spatialrep.train import TrainConfig

__all__ = [
    "CLASSIC_BASELINES",
    "SCALES",
    "SUPERVISED_BASELINES",
    "SfdExperimentConfig",
    "experiment_config",
]

SCALES = ("tiny", "small", "paper")
SUPERVISED_BASELINES = ("stft-dnn", "gccphat-dnn")
"""Same encoder, random initialisation, trained on labels only: STFT input / GCC-PHAT input."""
CLASSIC_BASELINES = ("gcc-phat-itd", "srp-phat", "music")
"""No training: GCC-PHAT delay through the HRTF's ITD table, SRP-PHAT and MUSIC with HRTF steering."""


@dataclasses.dataclass(frozen=True)
class SfdExperimentConfig:
    """Everything the SFD experiment needs; ``to_dict`` is stored in the output folder.

    Attributes:
        scale: the scale it was made from (informative).
        dataset: a dataset config mapping (``spatialrep.data`` preset format) with single-source scenes.
        model: :class:`SfdConfig` fields shared by every learned model (``target`` and ``input`` are set per
            method).
        targets: pretraining targets, each giving a method ``sfd-<target>``.
        seeds: fine-tuning seeds (each learned model is trained once per seed and budget).
        pretrain_per_seed: pretrain once per seed (``True``) or once per target, with seed ``seeds[0]``,
            shared by every fine-tuning seed.
        pretrain: :class:`TrainConfig` fields of pretraining (``seed`` is set per run).
        finetune: :class:`TrainConfig` fields of fine-tuning and of the supervised baselines.
        supervised: supervised baselines (:data:`SUPERVISED_BASELINES`).
        classic: classic baselines (:data:`CLASSIC_BASELINES`).
        linear_probe: also train a frozen-encoder linear probe of every pretrained model.
        augment: fine-tuning noise augmentation ``(snr_low_db, snr_high_db, probability)`` or ``None``.
        snr_bands: ``(low, high)`` dB bands of the per-band metrics.
        eval_batch_size: clips per batch at test time.
    """

    scale: str
    dataset: Mapping[str, Any]
    model: Mapping[str, Any]
    targets: tuple[str, ...] = TARGETS
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrain_per_seed: bool = False
    pretrain: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    finetune: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    supervised: tuple[str, ...] = SUPERVISED_BASELINES
    classic: tuple[str, ...] = CLASSIC_BASELINES
    linear_probe: bool = False
    augment: tuple[float, float, float] | None = (0.0, 20.0, 0.5)
    snr_bands: tuple[tuple[float, float], ...] = ((-10.0, 0.0), (0.0, 10.0), (10.0, 30.0))
    eval_batch_size: int = 16

    def __post_init__(self) -> None:
        unknown = [t for t in self.targets if t not in TARGETS]
        if unknown:
            raise ConfigError(f"experiment targets {unknown} are not SFD targets ({', '.join(TARGETS)})")
        for name, given, valid in (
            ("supervised", self.supervised, SUPERVISED_BASELINES),
            ("classic", self.classic, CLASSIC_BASELINES),
        ):
            bad = [b for b in given if b not in valid]
            if bad:
                raise ConfigError(f"experiment {name} baselines {bad} are not in {', '.join(valid)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"experiment seeds {self.seeds!r} must be a non-empty list without repeats")
        if not (self.targets or self.supervised or self.classic):
            raise ConfigError("the experiment has nothing to run (no target, no baseline)")
        self.sfd_config("stft", "gcc_phat")  # validates the model fields
        self.train_config("pretrain", 0)
        self.train_config("finetune", 0)
        self.noise_augmentation()

    def sfd_config(self, input_kind: str, target: str) -> SfdConfig:
        """The :class:`SfdConfig` of a learned model."""
        try:
            return SfdConfig(**{**dict(self.model), "input": input_kind, "target": target})
        except TypeError as exc:
            raise ConfigError(f"experiment model settings: {exc}") from exc

    def train_config(self, stage: str, seed: int) -> TrainConfig:
        """The :class:`TrainConfig` of ``stage`` (``"pretrain"`` or ``"finetune"``) with ``seed``."""
        fields = self.pretrain if stage == "pretrain" else self.finetune
        try:
            return TrainConfig(**{**dict(fields), "seed": seed})
        except TypeError as exc:
            raise ConfigError(f"experiment {stage} settings: {exc}") from exc

    def noise_augmentation(self) -> NoiseAugmentation | None:
        """The fine-tuning augmentation, or ``None``."""
        if self.augment is None:
            return None
        low, high, probability = self.augment
        return NoiseAugmentation((low, high), probability)

    @property
    def budgets(self) -> dict[str, float]:
        """Label budgets (name -> seconds of labelled audio), smallest first."""
        return dict(sorted(dict(self.dataset.get("budgets", {})).items(), key=lambda kv: float(kv[1])))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists)."""
        return to_dict(self)


def _preset(preset: str, **changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(preset_path(preset).read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key == "scene":
            data["scene"] = {**data["scene"], **value}
        else:
            data[key] = value
    return dict(data)


def _cpu(**fields: Any) -> dict[str, Any]:
    return {"accelerator": "auto", "devices": 1, "log_every_n_steps": 10, "loggers": ("csv",), **fields}


def experiment_config(scale: str) -> SfdExperimentConfig:
    """The configuration of a named scale.

    Raises:
        ValueError: an unknown scale (the valid ones are listed).
    """
    if scale == "tiny":
        # 400 half-second clips: 2.5 min of training audio; budgets of 20 s and 1 min of labels.
        return SfdExperimentConfig(
            scale="tiny",
            dataset=_preset(
                "binaural-speech-tiny",
                name="sfd-experiment-tiny",
                num_examples=400,
                budgets={"20s": 20, "1min": 60},
            ),
            model={"d_model": 64, "num_layers": 2, "num_heads": 4, "conv_kernel": 7, "dropout": 0.1},
            pretrain=_cpu(max_steps=120, batch_size=16, lr=2e-3, val_every_n_steps=60),
            finetune=_cpu(max_steps=60, batch_size=16, lr=2e-3, val_every_n_steps=30),
        )
    if scale == "small":
        # 5000 one-second clips (1.1 h train, 500 val, 500 test) in the default rooms (RT60 0.2-0.9 s, 4 noise
        # types, SNR -5..20 dB); label budgets of 10 min and 1 h as in the paper.
        return SfdExperimentConfig(
            scale="small",
            dataset=_preset(
                "binaural-speech",
                name="sfd-experiment-small",
                num_examples=5000,
                scene={"duration_s": 1.0},
                budgets={"10min": 600, "1h": 3600},
            ),
            model={"d_model": 128, "num_layers": 2, "num_heads": 4, "conv_kernel": 15, "dropout": 0.1},
            pretrain=_cpu(
                max_steps=1000,
                batch_size=16,
                lr=1e-3,
                scheduler="linear_warmup_cosine",
                warmup_steps=50,
                val_every_n_steps=250,
                checkpoint_every_n_steps=250,
            ),
            finetune=_cpu(max_steps=300, batch_size=16, lr=1e-3, val_every_n_steps=100),
        )
    if scale == "paper":
        return SfdExperimentConfig(
            scale="paper",
            dataset=_preset("binaural-speech", name="sfd-experiment-paper"),
            model={"d_model": 256, "num_layers": 2, "num_heads": 4, "conv_kernel": 15, "dropout": 0.1},
            pretrain_per_seed=True,
            linear_probe=True,
            pretrain=_cpu(
                max_steps=50_000,
                batch_size=32,
                lr=5e-4,
                scheduler="linear_warmup_cosine",
                warmup_steps=2000,
                val_every_n_steps=2000,
                checkpoint_every_n_steps=1000,
                precision="bf16-mixed",
                num_workers=4,
                log_every_n_steps=50,
            ),
            finetune=_cpu(
                max_steps=10_000,
                batch_size=32,
                lr=2e-4,
                val_every_n_steps=500,
                early_stopping_patience=6,
                precision="bf16-mixed",
                num_workers=4,
                log_every_n_steps=50,
            ),
            eval_batch_size=32,
        )
    raise ValueError(f"unknown experiment scale {scale!r}; valid: {', '.join(SCALES)}")
