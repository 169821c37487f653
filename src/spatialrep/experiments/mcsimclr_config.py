"""The configuration of the MC-SimCLR experiment; its scales are recipes in ``spatialrep/recipes/mcsimclr/``.

``tiny`` checks the plumbing in minutes on 2 CPU cores (its numbers are not meaningful), ``small`` is the CPU
reference (under 40 min on 2 cores), ``paper`` is the paper-scale recipe for a GPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from spatialrep.config import ConfigError, check_sections, to_dict
from spatialrep.data.presets import load_dataset_config
from spatialrep.experiments.sfd_config import resolve_dataset
from spatialrep.methods.classic import CLASSIC_LOCALIZERS, classic_family
from spatialrep.methods.mcsimclr import FinetuneOptions, McSimclrConfig
from spatialrep.train import TrainConfig

__all__ = ["ALL_LABELS", "BASELINES", "VARIANTS", "McSimclrExperimentConfig"]

VARIANTS: Mapping[str, Mapping[str, Any]] = {
    "full": {},
    "none": {"channel_swap": 0.0, "mixup": 0.0, "resized_crop": 0.0, "channel_drop": 0.0},
    "no-cs": {"channel_swap": 0.0},
    "no-mu": {"mixup": 0.0},
    "no-rrc": {"resized_crop": 0.0},
    "no-cd": {"channel_drop": 0.0},
}
"""Pretraining variants: the augmentation probabilities each one sets to 0 (``full``: every augmentation)."""

BASELINES = ("random-init", "features", "scratch")
"""``random-init``: LP of a randomly initialised encoder; ``features``: LP on the time-averaged feature maps;
``scratch``: the same model trained from random weights on the labels (the budgets of fine-tuning)."""

ALL_LABELS = "all"
"""The budget name of the whole training split."""


@dataclasses.dataclass(frozen=True)
class McSimclrExperimentConfig:
    """Everything the MC-SimCLR experiment needs; the resolved form is saved as ``recipe.yaml``.

    Attributes:
        scale: the recipe's name (informative).
        dataset: a dataset config mapping of single-source array scenes with ``class`` labels, or
            ``{"preset": NAME, ...}`` (see :func:`~spatialrep.experiments.sfd_config.resolve_dataset`).
        model: the :class:`McSimclrConfig` of every learned model (each pretraining variant changes its
            ``augment``).
        pretrained: pretraining variants (:data:`VARIANTS`; ``full`` is required), each linearly probed at
            every budget and seed.
        finetuned: the variants also fine-tuned at every budget and seed.
        baselines: :data:`BASELINES`.
        classic: classic array localizers (SRP-PHAT, MUSIC; azimuth only).
        all_labels: also use the whole training split as a budget (``all``), besides the dataset's budgets.
        seeds: seeds of the probes, fine-tunings and baselines.
        pretrain_per_seed: pretrain once per seed (``True``) or once, with ``seeds[0]``, shared by every seed.
        pretrain: :class:`TrainConfig` of pretraining (every variant takes the same steps).
        probe: :class:`TrainConfig` of the linear heads on cached embeddings.
        finetune: :class:`TrainConfig` of fine-tuning and of the supervised baseline.
        finetune_options: ChannelSwap probability, encoder learning-rate scale, azimuth weight.
        eval_batch_size: clips per batch at test time.
        threads: torch's intra-op threads while the experiment runs (``None``: torch's default). *Ours*: the
            recipes use 1: the GRU opens an OpenMP parallel region per frame, and on a CPU shared with other
            jobs two threads made a training step 10-40 times slower than one (measured on 2 cores); on an
            idle machine 2 may be faster.
    """

    scale: str
    dataset: Mapping[str, Any]
    model: McSimclrConfig = dataclasses.field(default_factory=McSimclrConfig)
    pretrained: tuple[str, ...] = tuple(VARIANTS)
    finetuned: tuple[str, ...] = ("full", "none")
    baselines: tuple[str, ...] = BASELINES
    classic: tuple[str, ...] = ("srp-phat", "music")
    all_labels: bool = True
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrain_per_seed: bool = False
    pretrain: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    probe: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    finetune: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    finetune_options: FinetuneOptions = dataclasses.field(default_factory=FinetuneOptions)
    eval_batch_size: int = 16
    threads: int | None = None

    def __post_init__(self) -> None:
        check_sections(
            self,
            {
                "model": McSimclrConfig,
                "pretrain": TrainConfig,
                "probe": TrainConfig,
                "finetune": TrainConfig,
                "finetune_options": FinetuneOptions,
            },
        )
        object.__setattr__(self, "dataset", resolve_dataset(self.dataset))
        dataset = load_dataset_config(dict(self.dataset))  # validates it
        scene = dataset.scene
        if tuple(scene.num_sources) != (1, 1):
            raise ConfigError(
                f"dataset.scene.num_sources={list(scene.num_sources)}: the class and azimuth heads need one "
                "source per clip ([1, 1])"
            )
        if (
            not scene.receiver.startswith("array:")
            or scene.receiver.removeprefix("array:") != self.model.array
        ):
            raise ConfigError(
                f"dataset.scene.receiver={scene.receiver!r} must be the model's array "
                f"'array:{self.model.array}'"
            )
        if scene.sample_rate != self.model.sample_rate:
            raise ConfigError(
                f"dataset.scene.sample_rate={scene.sample_rate} differs from the front-end's "
                f"{self.model.sample_rate} Hz"
            )
        if self.model.crop_s > scene.duration_s:
            raise ConfigError(
                f"model.crop_s={self.model.crop_s} is longer than the clips "
                f"(scene.duration_s={scene.duration_s})"
            )
        for name, given, valid in (
            ("pretrained", self.pretrained, tuple(VARIANTS)),
            ("baselines", self.baselines, BASELINES),
            ("classic", self.classic, CLASSIC_LOCALIZERS),
        ):
            bad = [b for b in given if b not in valid]
            if bad or len(set(given)) != len(given):
                raise ConfigError(f"{name} {list(given)} must be distinct names from {', '.join(valid)}")
        if "full" not in self.pretrained:
            raise ConfigError(
                f"pretrained {list(self.pretrained)} must include 'full' (the ablations' reference)"
            )
        extra = [v for v in self.finetuned if v not in self.pretrained]
        if extra or len(set(self.finetuned)) != len(self.finetuned):
            raise ConfigError(f"finetuned {list(self.finetuned)} must be distinct pretrained variants")
        gcc = [c for c in self.classic if classic_family(c) == "gcc-phat-itd"]
        if gcc:
            raise ConfigError(f"classic {gcc}: GCC-PHAT-ITD needs a binaural head; use srp-phat or music")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"experiment seeds {self.seeds!r} must be a non-empty list without repeats")
        if ALL_LABELS in dataset.budgets:
            raise ConfigError(f"dataset budget name {ALL_LABELS!r} is reserved for the whole training split")
        if not self.budgets:
            raise ConfigError("no label budget: give dataset.budgets or set all_labels: true")
        if isinstance(self.eval_batch_size, bool) or self.eval_batch_size < 1:
            raise ConfigError(f"eval_batch_size={self.eval_batch_size!r} must be a positive integer")
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ConfigError(f"threads={self.threads!r} must be a positive integer or null")

    @property
    def budgets(self) -> list[str]:
        """Label budgets, smallest first, ``all`` last."""
        sized = sorted(dict(self.dataset.get("budgets", {})).items(), key=lambda kv: float(kv[1]))
        return [name for name, _ in sized] + ([ALL_LABELS] if self.all_labels else [])

    def budget_name(self, budget: str) -> str | None:
        """The dataset's budget file of ``budget`` (``None``: the whole training split)."""
        return None if budget == ALL_LABELS else budget

    def variant_config(self, variant: str) -> McSimclrConfig:
        """The model of a pretraining variant: ``model`` with its augmentations switched off."""
        augment = dataclasses.replace(self.model.augment, **VARIANTS[variant])
        return dataclasses.replace(self.model, augment=augment)

    def train_config(self, stage: str, seed: int) -> TrainConfig:
        """The :class:`TrainConfig` of ``stage`` (``pretrain``, ``probe``, ``finetune``) with ``seed``."""
        section: TrainConfig = getattr(self, stage)
        return dataclasses.replace(section, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists)."""
        return to_dict(self)
