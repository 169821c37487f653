"""The configuration of the SQM-BS experiment; its scales are recipes in ``spatialrep/recipes/sqm/``.

``tiny`` checks the plumbing in minutes on 2 CPU cores (its numbers are not meaningful), ``small`` is the CPU
reference (with the 2-channel ablation), ``paper`` is the paper-scale recipe for a GPU (48 kHz).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spatialrep.config import ConfigError, check_sections, to_dict
from spatialrep.data.sqm_pairs import DEGRADATIONS, SqmDataConfig
from spatialrep.methods.enhance import EnhanceConfig
from spatialrep.methods.sqm import SQM_VARIANTS, SqmConfig
from spatialrep.train import TrainConfig

__all__ = ["BASELINES", "EvalSizes", "SqmExperimentConfig"]

BASELINES = ("cue", "l1", "mrstft", "sfd")
"""``cue``: the binaural-cue distance (BAMQ stand-in); ``l1``: sample L1; ``mrstft``: multi-resolution STFT;
``sfd``: ``1 - cos`` of an SFD encoder's mean frames (needs ``sfd_checkpoint``)."""


@dataclasses.dataclass(frozen=True)
class EvalSizes:
    """How many scenes each evaluation uses (per split).

    Attributes:
        sweep_items: references of the azimuth and elevation monotonicity sweeps (non-matched content).
        ca_items: pairs of each common-area group (same location / both differ).
        retrieval_groups, retrieval_members: directions and utterances per direction of the retrieval set.
        retrieval_k: the ``K`` of ``MP@K`` (each must be below ``retrieval_members``).
        degradation_items: references per degradation kind.
        degradations: the kinds swept (default all of :data:`~spatialrep.data.sqm_pairs.DEGRADATIONS`).
        localization_clips: clips of the DoA RMSE.
    """

    sweep_items: int = 4
    ca_items: int = 24
    retrieval_groups: int = 6
    retrieval_members: int = 8
    retrieval_k: tuple[int, ...] = (5,)
    degradation_items: int = 4
    degradations: tuple[str, ...] = tuple(DEGRADATIONS)
    localization_clips: int = 48

    def __post_init__(self) -> None:
        for name in ("sweep_items", "ca_items", "retrieval_groups", "retrieval_members", "degradation_items"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 2):
                raise ConfigError(f"eval.{name}={getattr(self, name)!r} must be an integer >= 2")
        if not (isinstance(self.localization_clips, int) and self.localization_clips >= 2):
            raise ConfigError(f"eval.localization_clips={self.localization_clips!r} must be an integer >= 2")
        object.__setattr__(self, "retrieval_k", tuple(int(k) for k in self.retrieval_k))
        if not self.retrieval_k or any(not 1 <= k < self.retrieval_members for k in self.retrieval_k):
            raise ConfigError(
                f"eval.retrieval_k={self.retrieval_k!r}: each K must be in [1, retrieval_members)"
            )
        unknown = sorted(set(self.degradations) - set(DEGRADATIONS))
        if unknown:
            raise ConfigError(f"eval.degradations: unknown {unknown}; valid: {', '.join(DEGRADATIONS)}")


@dataclasses.dataclass(frozen=True)
class SqmExperimentConfig:
    """Everything the SQM-BS experiment needs; the resolved form is saved as ``recipe.yaml``.

    Attributes:
        scale: the recipe's name (informative).
        data: the clips (:class:`~spatialrep.data.sqm_pairs.SqmDataConfig`); the model's rate, segment and
            DoA classes follow it.
        model: the :class:`~spatialrep.methods.sqm.SqmConfig` of every variant (``variant`` is set per run).
        variants: trained variants (:data:`~spatialrep.methods.sqm.SQM_VARIANTS`; ``combined`` required).
        two_channel: also train ``combined`` without the mono input (the 2-channel ablation).
        baselines: :data:`BASELINES` to evaluate.
        sfd_checkpoint: a trained SFD run for the ``sfd`` baseline (skipped, and said so, when absent).
        train: :class:`TrainConfig` of every variant (``batch_size`` triplets per step).
        eval: :class:`EvalSizes`.
        enhance: the enhancement comparison (:class:`~spatialrep.methods.enhance.EnhanceConfig`), or ``None``.
        eval_batch_size: pairs per batch at evaluation.
        threads: torch's intra-op threads while the experiment runs (``None``: torch's default).
    """

    scale: str
    data: SqmDataConfig = dataclasses.field(default_factory=SqmDataConfig)
    model: SqmConfig = dataclasses.field(default_factory=SqmConfig)
    variants: tuple[str, ...] = SQM_VARIANTS
    two_channel: bool = False
    baselines: tuple[str, ...] = BASELINES
    sfd_checkpoint: str | None = None
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalSizes = dataclasses.field(default_factory=EvalSizes)
    enhance: EnhanceConfig | None = None
    eval_batch_size: int = 16
    threads: int | None = 1

    def __post_init__(self) -> None:
        check_sections(
            self, {"data": SqmDataConfig, "model": SqmConfig, "train": TrainConfig, "eval": EvalSizes}
        )
        if isinstance(self.enhance, dict):
            object.__setattr__(self, "enhance", EnhanceConfig(**self.enhance))
        object.__setattr__(self, "variants", tuple(self.variants))
        object.__setattr__(self, "baselines", tuple(self.baselines))
        unknown = sorted(set(self.variants) - set(SQM_VARIANTS))
        if unknown or "combined" not in self.variants:
            raise ConfigError(
                f"variants={list(self.variants)}: must include combined, each of {SQM_VARIANTS}"
            )
        unknown = sorted(set(self.baselines) - set(BASELINES))
        if unknown:
            raise ConfigError(f"baselines: unknown {unknown}; valid: {', '.join(BASELINES)}")
        if not (isinstance(self.eval_batch_size, int) and self.eval_batch_size >= 1):
            raise ConfigError(f"eval_batch_size={self.eval_batch_size!r} must be a positive integer")
        if self.threads is not None and not (isinstance(self.threads, int) and self.threads >= 1):
            raise ConfigError(f"threads={self.threads!r} must be a positive integer or null")
        data = self.data
        model = self.model.replace(
            sample_rate=data.sample_rate,
            segment_s=data.segment_s,
            azimuth_step_deg=data.azimuth_step_deg,
            elevations_deg=data.elevations_deg,
        )
        object.__setattr__(self, "model", model)
        if self.enhance is not None and self.enhance.sample_rate != data.sample_rate:
            enhance = dataclasses.replace(self.enhance, sample_rate=data.sample_rate)
            object.__setattr__(self, "enhance", enhance)

    def variant_config(self, name: str) -> SqmConfig:
        """The model of run ``name`` (a variant, or ``combined-2ch``)."""
        if name == "combined-2ch":
            return self.model.replace(variant="combined", use_mono=False)
        return self.model.replace(variant=name)

    @property
    def runs(self) -> tuple[str, ...]:
        return self.variants + (("combined-2ch",) if self.two_channel else ())

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)
