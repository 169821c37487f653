"""SpatialAST (BAT, Zheng et al. 2024): a binaural audio spectrogram transformer for sound events (SED),
distance (DP) and direction (DoA), and what DSpAST (:mod:`spatialrep.methods.dspast`) shares with it.

SpatialAST: the feature stack ``(batch, C, mel, frames)`` (C = 4: log-mel L, R; cos/sin IPD on the mel grid)
→ input batch norm → fusion stem (conv 3×3 C→1, BN, GELU) → 16×16 patches → ViT with 3 CLS tokens; the SED
head reads CLS 0, the distance head CLS 1, the azimuth and elevation heads CLS 2. Loss
``λ_sed · BCE(SED) + λ_dp · CE(distance) + λ_doa · (CE(azimuth) + CE(elevation))``, the last two on
one-source clips only; training masks 25 % of the token columns (time) and rows (frequency).

DSpAST runs the same backbone once per task branch; :class:`SpatialAstModelBase` implements both
(``branches`` 1 or 3). Everything reads the feature stack, so training runs from a feature cache
(:class:`StackDataset`) and ``localize`` / ``predict`` / ``embed`` compute the stack with the model's own
front-end.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from spatialrep.config import ConfigError, check_sections, to_dict
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.datasets import ManifestDataset
from spatialrep.data.feature_cache import FeatureCache
from spatialrep.features.frontend import FeatureConfig, FeatureFrontEnd, feature_preset
from spatialrep.losses.adacos import AdaCos
from spatialrep.methods.base import Directions, check_audio
from spatialrep.methods.spatial_targets import SpatialTargetConfig, SpatialTargets
from spatialrep.models import EncoderConfig, feature_maps_to_sequence
from spatialrep.models.ast import AST_SIZES, ASTBackbone, FeatureAttention, FusionStem, patch_mask
from spatialrep.train import Stage, StageResult, StepContext, register_model, run_curriculum
from spatialrep.train.checkpoint import checkpoint_dir, load_checkpoint

__all__ = [
    "HEADS",
    "TASKS",
    "SpatialAST",
    "SpatialAstConfig",
    "SpatialAstModelBase",
    "StackBaseline",
    "StackDataset",
    "load_spatial_model",
    "spatial_step",
    "stack_channels",
    "train_curriculum",
]

TASKS = ("sed", "distance", "direction")
"""The tasks, in CLS-token and branch order; also the keys of a stage's ``loss_weights``."""
HEADS = ("linear", "adacos")
"""Distance and direction heads: a linear softmax classifier (SpatialAST) or AdaCos (DSpAST)."""


def _default_frontend() -> FeatureConfig:
    return feature_preset("spatialast")


@dataclasses.dataclass(frozen=True)
class SpatialAstConfig:
    """A SpatialAST / DSpAST model.

    Attributes:
        frontend: the feature stack (:func:`~spatialrep.features.feature_preset` ``spatialast`` / ``dspast``).
        backbone: an :data:`~spatialrep.models.ast.AST_SIZES` name (``ast_tiny``, ``ast_small``,
            ``ast_base``).
        backbone_overrides: changes to that size (``dropout``, ``mlp_ratio``, ``depth``...).
        targets: the distance / direction bins.
        head: distance and direction heads, one of :data:`HEADS`.
        branches: 1 (SpatialAST) or 3 (DSpAST: one stem and backbone pass per task).
        attention: DSpAST's feature attention in each branch.
        attention_hidden: its hidden width (``None``: the number of feature maps; the paper leaves it
            unstated).
        mask_time, mask_freq: shares of token columns / rows masked in training.
        max_frames: crop the stack to at most this many frames (then to a patch multiple); ``None``: all.
        encoder: a registry encoder (``crnn``, ``causal_conformer``...) over the flattened stack instead of
            the AST: the baseline :class:`StackBaseline` (one embedding for every task, no masking);
            ``None``: the AST.
    """

    frontend: FeatureConfig = dataclasses.field(default_factory=_default_frontend)
    backbone: str = "ast_tiny"
    backbone_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    targets: SpatialTargetConfig = dataclasses.field(default_factory=SpatialTargetConfig)
    head: str = "linear"
    branches: int = 1
    attention: bool = False
    attention_hidden: int | None = None
    mask_time: float = 0.25
    mask_freq: float = 0.25
    max_frames: int | None = None
    encoder: EncoderConfig | None = None

    def __post_init__(self) -> None:
        check_sections(self, {"frontend": FeatureConfig, "targets": SpatialTargetConfig})
        if isinstance(self.encoder, Mapping):
            object.__setattr__(self, "encoder", EncoderConfig(**self.encoder))
        if self.encoder is not None and (self.branches != 1 or self.attention):
            raise ConfigError("encoder (a stack baseline) needs branches=1 and attention=false")
        if self.backbone not in AST_SIZES:
            raise ConfigError(f"backbone={self.backbone!r} is not one of {', '.join(AST_SIZES)}")
        valid = {"embed_dim", "depth", "num_heads", "patch_size", "mlp_ratio", "dropout"}
        unknown = set(self.backbone_overrides) - valid
        if unknown:
            raise ConfigError(f"backbone_overrides: unknown key(s) {', '.join(sorted(unknown))}")
        object.__setattr__(self, "backbone_overrides", dict(self.backbone_overrides))
        if self.head not in HEADS:
            raise ConfigError(f"head={self.head!r} is not one of {', '.join(HEADS)}")
        if self.branches not in (1, 3):
            raise ConfigError(f"branches={self.branches!r} must be 1 (SpatialAST) or 3 (DSpAST)")
        if self.attention and self.branches != 3:
            raise ConfigError("attention=true needs branches=3 (DSpAST's per-task feature attention)")
        if self.frontend.num_channels != 2:
            raise ConfigError(
                f"frontend.num_channels={self.frontend.num_channels}: the model is binaural (2)"
            )
        for name in ("mask_time", "mask_freq"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < 1):
                raise ConfigError(f"{name}={value!r} must be in [0, 1)")
        if self.frontend.num_bins % self.patch_size:
            raise ConfigError(
                f"frontend has {self.frontend.num_bins} bins, not a multiple of the patch {self.patch_size}"
            )
        if self.max_frames is not None and (
            isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int)
            or self.max_frames < self.patch_size
        ):  # fmt: skip
            raise ConfigError(
                f"max_frames={self.max_frames!r} must be an integer >= the patch {self.patch_size}"
            )

    @property
    def size(self) -> dict[str, Any]:
        """The backbone's keyword arguments."""
        return {**AST_SIZES[self.backbone], **self.backbone_overrides}

    @property
    def patch_size(self) -> int:
        return int(self.size["patch_size"])

    @property
    def num_maps(self) -> int:
        return self.frontend.num_feature_channels

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpatialAstConfig:
        return config_from_dict(cls, data)


def _as_config(value: SpatialAstConfig | Mapping[str, Any]) -> SpatialAstConfig:
    # Validating a FeatureConfig computes lag tables: on real tensors even when a checkpoint builds the model
    # on "meta".
    with torch.device("cpu"):
        return value if isinstance(value, SpatialAstConfig) else SpatialAstConfig.from_dict(value)


def _classifier(head: str, width: int, classes: int) -> nn.Module:
    return AdaCos(width, classes) if head == "adacos" else nn.Linear(width, classes)


class SpatialAstModelBase(nn.Module):
    """SpatialAST (``branches=1``) and DSpAST (``branches=3``) on feature stacks.

    Per branch ``b``: [feature attention] → fusion stem → the shared backbone → (DSpAST) a linear map
    ``D → D // 3``. SpatialAST's task ``t`` reads CLS token ``t``; DSpAST's task ``t`` reads the mean of
    branch ``t``'s CLS tokens, and the branches' tokens are concatenated per token for :meth:`embed`.

    A :class:`~spatialrep.methods.base.Localizer` (azimuth and elevation, with class scores) and an
    :class:`~spatialrep.methods.base.Embedder`.

    Args:
        config: a :class:`SpatialAstConfig` (or its dict).
        class_names: the SED classes.
    """

    num_channels = 2

    def __init__(self, config: SpatialAstConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__()
        self.config = _as_config(config)
        with torch.device("cpu"):
            self.targets = SpatialTargets(class_names, self.config.targets)
        self.class_names = list(self.targets.class_names)
        c = self.config
        with torch.device("cpu"):  # windows and filterbanks stay real when a checkpoint builds on "meta"
            self.frontend = FeatureFrontEnd(c.frontend)
        self.input_norm = nn.BatchNorm2d(c.num_maps)
        self.branch_dim = self._build_body()
        t = c.targets
        self.heads = nn.ModuleDict(
            {
                "sed": nn.Linear(self.branch_dim, len(self.class_names)),
                "distance": _classifier(c.head, self.branch_dim, t.num_distance_bins),
                "azimuth": _classifier(c.head, self.branch_dim, t.num_azimuth_bins),
                "elevation": _classifier(c.head, self.branch_dim, t.num_elevation_bins),
            }
        )

    def _build_body(self) -> int:
        """The AST body (backbone, attention, stems, projections); returns the width of a task embedding."""
        c = self.config
        maps = c.num_maps
        self.backbone = ASTBackbone(num_cls=len(TASKS), **c.size)
        width = self.backbone.embed_dim
        self.attention = nn.ModuleList(
            FeatureAttention(maps, c.attention_hidden) for _ in range(c.branches if c.attention else 0)
        )
        self.stems = nn.ModuleList(FusionStem(maps) for _ in range(c.branches))
        if c.branches > 1:
            self.proj = nn.ModuleList(nn.Linear(width, width // c.branches) for _ in range(c.branches))
            return width // c.branches
        self.proj = nn.ModuleList()
        return width

    # --------------------------------------------------------------------------------------- protocols

    @property
    def sample_rate(self) -> int:
        return self.config.frontend.sample_rate

    @property
    def min_samples(self) -> int:
        f = self.config.frontend
        return max(f.n_fft, f.hop_length * (self.config.patch_size - 1))

    @property
    def embedding_dim(self) -> int:
        return self.branch_dim * self.config.branches

    @property
    def num_layers(self) -> int:
        """Depths for layer decay: 0 input norm, stems, attention and patches; ``k + 1`` block ``k``;
        ``depth + 1`` the final norm, projections and heads."""
        return self.backbone.depth + 1

    def layer_id(self, name: str) -> int:
        if name.startswith("backbone."):
            return self.backbone.layer_id(name.removeprefix("backbone."))
        if name.startswith(("proj.", "heads.")):
            return self.num_layers
        return 0

    # -------------------------------------------------------------------------------------- computation

    def crop(self, stack: Tensor) -> Tensor:
        """The stack cut to ``max_frames`` and then to a multiple of the patch (frames at the end dropped).

        Raises:
            ValueError: fewer frames than one patch, or another number of maps or bins.
        """
        c = self.config
        if stack.ndim != 4 or stack.shape[1] != c.num_maps or stack.shape[2] != c.frontend.num_bins:
            raise ValueError(
                f"feature stack must be (batch, {c.num_maps}, {c.frontend.num_bins}, frames), got "
                f"{tuple(stack.shape)}"
            )
        frames = stack.shape[-1] if c.max_frames is None else min(stack.shape[-1], c.max_frames)
        frames -= frames % c.patch_size
        if frames < c.patch_size:
            raise ValueError(f"{stack.shape[-1]} frames are fewer than one patch of {c.patch_size}")
        return stack[..., :frames]

    def grid(self, stack: Tensor) -> tuple[int, int]:
        """Token grid ``(F', T')`` of a (cropped) stack."""
        return self.backbone.grid(stack.shape[-2], stack.shape[-1])

    def branch_tokens(
        self, stack: Tensor, branch: int, keep: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Tokens ``(batch, 3 + kept, branch_dim)`` of one branch and its attention weights
        ``(batch, C)`` (``None`` without attention). ``stack`` is normalised and cropped."""
        weights = None
        x = stack
        if self.attention:
            x, w = self.attention[branch](x)
            weights = w.flatten(1)
        tokens = self.backbone(self.stems[branch](x), keep)
        if self.proj:
            tokens = self.proj[branch](tokens)
        return tokens, weights

    def forward(
        self, stack: Tensor, keep: Tensor | None = None, tasks: Sequence[str] = TASKS
    ) -> dict[str, Tensor]:
        """Task embeddings ``(batch, branch_dim)`` by task name (``tasks`` only: DSpAST skips the other
        branches) and, with attention, ``attention`` ``(batch, branches, C)`` of the branches run.

        Raises:
            ValueError: an unknown task; a stack of the wrong layout.
        """
        bad = [t for t in tasks if t not in TASKS]
        if bad:
            raise ValueError(f"unknown task(s) {bad}; valid: {', '.join(TASKS)}")
        x = self.input_norm(self.crop(stack))
        out: dict[str, Tensor] = {}
        if self.config.branches == 1:
            tokens, _ = self.branch_tokens(x, 0, keep)
            for k, task in enumerate(TASKS):
                if task in tasks:
                    out[task] = tokens[:, k]
            return out
        weights = []
        for k, task in enumerate(TASKS):
            if task in tasks:
                tokens, w = self.branch_tokens(x, k, keep)
                out[task] = tokens[:, : len(TASKS)].mean(dim=1)
                if w is not None:
                    weights.append(w)
        if weights:
            out["attention"] = torch.stack(weights, dim=1)
        return out

    def logits(self, embeddings: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Logits of every head whose task is in ``embeddings``: ``sed``, ``distance``, ``azimuth``,
        ``elevation``."""
        out = {}
        if "sed" in embeddings:
            out["sed"] = self.heads["sed"](embeddings["sed"])
        if "distance" in embeddings:
            out["distance"] = self.heads["distance"](embeddings["distance"])
        if "direction" in embeddings:
            out["azimuth"] = self.heads["azimuth"](embeddings["direction"])
            out["elevation"] = self.heads["elevation"](embeddings["direction"])
        return out

    def head_loss(self, head: str, embedding: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy of one distance / direction head (AdaCos updates its scale in training)."""
        module = self.heads[head]
        if isinstance(module, AdaCos):
            return module.loss(embedding, target)
        return nn.functional.cross_entropy(module(embedding), target)

    # ------------------------------------------------------------------------------------------- use

    def _audio(self, audio: Tensor, sample_rate: int) -> Tensor:
        audio = check_audio(
            audio, sample_rate, expected_rate=self.sample_rate, num_channels=2, min_samples=self.min_samples
        )
        return audio.to(next(self.parameters()))

    @torch.no_grad()
    def predict_stack(self, stack: Tensor) -> dict[str, np.ndarray]:
        """Eval-mode predictions of feature stacks: ``sed`` scores ``(B, classes)`` (sigmoid), ``distance_m``,
        ``azimuth_deg``, ``elevation_deg`` ``(B,)`` (bin centres of the arg-max) and ``distance_bin``."""
        was = self.training
        self.eval()
        try:
            logits = self.logits(self(stack))
        finally:
            self.train(was)
        k_dist = logits["distance"].argmax(-1).cpu().numpy()
        return {
            "sed": torch.sigmoid(logits["sed"].double()).cpu().numpy(),
            "distance_bin": k_dist,
            "distance_m": self.targets.bin_distance_m(k_dist),
            "azimuth_deg": self.targets.bin_azimuth_deg(logits["azimuth"].argmax(-1).cpu().numpy()),
            "elevation_deg": self.targets.bin_elevation_deg(logits["elevation"].argmax(-1).cpu().numpy()),
        }

    @torch.no_grad()
    def predict(self, audio: Tensor, sample_rate: int) -> dict[str, np.ndarray]:
        """:meth:`predict_stack` of audio ``(batch, 2, time)`` at the model's rate."""
        return self.predict_stack(self.frontend(self._audio(audio, sample_rate)))

    @torch.no_grad()
    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Direction (radians) and class scores of each clip (the dominant source)."""
        found = self.predict(audio, sample_rate)
        return Directions(
            azimuth=np.radians(found["azimuth_deg"]),
            elevation=np.radians(found["elevation_deg"]),
            class_scores=found["sed"],
            class_names=tuple(self.class_names),
        )

    @torch.no_grad()
    def embed_stack(self, stack: Tensor, *, tokens: bool = False) -> Tensor:
        """Eval-mode embeddings: ``(B, embedding_dim)`` (the CLS tokens' mean, branches concatenated), or
        with ``tokens`` every token ``(B, 3 + F'T', embedding_dim)`` (CLS first, then the patches)."""
        was = self.training
        self.eval()
        try:
            x = self.input_norm(self.crop(stack))
            parts = [self.branch_tokens(x, b)[0] for b in range(self.config.branches)]
        finally:
            self.train(was)
        sequence = torch.cat(parts, dim=-1)
        return sequence if tokens else sequence[:, : len(TASKS)].mean(dim=1)

    @torch.no_grad()
    def embed(self, audio: Tensor, sample_rate: int, *, tokens: bool = False) -> Tensor:
        """:meth:`embed_stack` of audio ``(batch, 2, time)``."""
        return self.embed_stack(self.frontend(self._audio(audio, sample_rate)), tokens=tokens)

    @torch.no_grad()
    def embed_layers(self, audio: Tensor, sample_rate: int) -> dict[str, Tensor]:
        """The :class:`~spatialrep.methods.base.LayeredEmbedder` view (``spatialrep embed``): ``cls``, the CLS
        tokens' mean ``(B, embedding_dim)``, and ``tokens``, every token ``(B, 3 + F'T', embedding_dim)``."""
        sequence = self.embed_stack(self.frontend(self._audio(audio, sample_rate)), tokens=True)
        return {"cls": sequence[:, : len(TASKS)].mean(dim=1), "tokens": sequence}

    @torch.no_grad()
    def attention_weights(self, stack: Tensor) -> Tensor:
        """Feature-attention weights ``(B, branches, C)`` in ``(0, 1)`` (eval mode).

        Raises:
            ValueError: a model without feature attention.
        """
        if not self.attention:
            raise ValueError("this model has no feature attention")
        was = self.training
        self.eval()
        try:
            x = self.input_norm(self.crop(stack))
            return torch.stack([self.attention[b](x)[1].flatten(1) for b in range(len(self.attention))], 1)
        finally:
            self.train(was)


@register_model("spatialast_model")
class SpatialAST(SpatialAstModelBase):
    """SpatialAST: one stem and one backbone pass, three CLS tokens (see :class:`SpatialAstModelBase`)."""

    def __init__(self, config: SpatialAstConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__(config, class_names)
        if self.config.branches != 1:
            raise ValueError("SpatialAST has one branch; use DSpAST (spatialrep.methods.dspast) for three")


@register_model("spatial_stack_baseline")
class StackBaseline(SpatialAstModelBase):
    """A registry encoder (``config.encoder``: ``crnn``, ``causal_conformer``...) over the flattened feature
    stack (:func:`~spatialrep.models.inputs.feature_maps_to_sequence`) with SpatialAST's heads and loss: the
    baseline of the experiment. Its pooled embedding serves every task; ``keep`` (masking) is ignored."""

    def __init__(self, config: SpatialAstConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__(config, class_names)

    def _build_body(self) -> int:
        c = self.config
        if c.encoder is None:
            raise ValueError("StackBaseline needs config.encoder (a registered encoder)")
        maps, bins = c.num_maps, c.frontend.num_bins
        layout = {"in_channels": maps, "num_bins": bins} if c.encoder.name == "crnn" else {}
        self.encoder = EncoderConfig(c.encoder.name, {**layout, **c.encoder.kwargs}).build(maps * bins)
        self.attention = nn.ModuleList()
        return int(self.encoder.output_dim)

    @property
    def num_layers(self) -> int:
        return 1

    def layer_id(self, name: str) -> int:
        return 1 if name.startswith("heads.") else 0

    def grid(self, stack: Tensor) -> tuple[int, int]:
        return (1, 1)

    def forward(
        self, stack: Tensor, keep: Tensor | None = None, tasks: Sequence[str] = TASKS
    ) -> dict[str, Tensor]:
        x = self.input_norm(self.crop(stack))
        embedding = self.encoder(feature_maps_to_sequence(x))
        return {task: embedding for task in tasks}

    @torch.no_grad()
    def embed_stack(self, stack: Tensor, *, tokens: bool = False) -> Tensor:
        """``(B, D)`` pooled, or with ``tokens`` the encoder's frames ``(B, frames', D)``."""
        was = self.training
        self.eval()
        try:
            sequence = feature_maps_to_sequence(self.input_norm(self.crop(stack)))
            return self.encoder.forward_features(sequence) if tokens else self.encoder(sequence)
        finally:
            self.train(was)


# ---------------------------------------------------------------------------------------------- training


def spatial_step(
    model: nn.Module,
    batch: Mapping[str, Tensor],
    context: StepContext | None = None,
    *,
    loss_weights: Mapping[str, float],
) -> dict[str, Tensor]:
    """``λ_sed · BCE + λ_distance · CE + λ_direction · (CE_az + CE_el)`` of a batch of stacks.

    A task whose weight is 0 is not computed at all (its head and, in DSpAST, its branch get no gradient).
    Distance and direction use the batch's one-source clips only. Training (a context with a generator)
    masks token rows and columns.

    Raises:
        TypeError: not a SpatialAST / DSpAST model.
    """
    if not isinstance(model, SpatialAstModelBase):
        raise TypeError(f"spatial_step needs a SpatialAST or DSpAST model, got {type(model).__name__}")
    weights = {task: float(loss_weights.get(task, 0.0)) for task in TASKS}
    tasks = [t for t in TASKS if weights[t] > 0]
    stack = model.crop(batch["features"])
    keep = None
    c = model.config
    if context is not None and context.generator is not None and (c.mask_time or c.mask_freq):
        keep = patch_mask(model.grid(stack), c.mask_time, c.mask_freq, context.generator)
    embeddings = model(stack, keep, tasks)
    single = batch["single"].bool().to(stack.device)
    terms: dict[str, Tensor] = {}
    total = stack.new_zeros(())
    if "sed" in tasks:
        logits = model.heads["sed"](embeddings["sed"])
        terms["sed_loss"] = nn.functional.binary_cross_entropy_with_logits(logits, batch["sed"].to(logits))
        total = total + weights["sed"] * terms["sed_loss"]
    if bool(single.any()):
        if "distance" in tasks:
            terms["distance_loss"] = model.head_loss(
                "distance", embeddings["distance"][single], batch["distance"].to(stack.device)[single]
            )
            total = total + weights["distance"] * terms["distance_loss"]
        if "direction" in tasks:
            direction = embeddings["direction"][single]
            terms["azimuth_loss"] = model.head_loss(
                "azimuth", direction, batch["azimuth"].to(stack.device)[single]
            )
            terms["elevation_loss"] = model.head_loss(
                "elevation", direction, batch["elevation"].to(stack.device)[single]
            )
            total = total + weights["direction"] * (terms["azimuth_loss"] + terms["elevation_loss"])
    if not total.requires_grad:  # no term this batch (no one-source clip for a distance-only stage)
        total = total + sum(e.sum() for e in embeddings.values() if e.requires_grad) * 0.0
    return {"loss": total, **terms}


def stack_channels(cache: FeatureConfig, wanted: FeatureConfig) -> list[int]:
    """Indices of ``wanted``'s channels inside a cached stack of ``cache`` (the same STFT and bins, a subset
    of its features).

    Raises:
        ValueError: another STFT or filterbank, or a feature the cache lacks (named).
    """
    a, b = cache.to_dict(), wanted.to_dict()
    gcc = {"max_lag", "num_lags", "gcc_upsample"}
    ignored = {"features", "pairs"} | (gcc if "gcc_phat" not in wanted.features else set())
    differ = sorted(k for k in a if k not in ignored and a[k] != b[k])
    if differ:
        raise ValueError(f"the feature cache differs from the model's front-end in {', '.join(differ)}")
    have = FeatureFrontEnd(cache).channel_names
    need = FeatureFrontEnd(wanted).channel_names
    missing = [n for n in need if n not in have]
    if missing:
        raise ValueError(f"the feature cache lacks the channels {missing}")
    return [have.index(n) for n in need]


class StackDataset(Dataset[dict[str, Tensor]]):
    """Cached feature stacks of one split with their targets: ``features`` ``(C, bins, frames)``, ``sed``,
    ``single``, ``distance``, ``azimuth``, ``elevation`` (see :class:`SpatialTargets`).

    Args:
        cache_dir: a complete feature cache (:func:`spatialrep.data.feature_cache.cache_features`).
        dataset_dir: the dataset it was computed from (the labels).
        split: ``train``, ``val`` or ``test``.
        targets: the encoder of the labels.
        frontend: the model's front-end (its channels are picked out of the cache, :func:`stack_channels`).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        dataset_dir: str | os.PathLike[str],
        split: str,
        targets: SpatialTargets,
        frontend: FeatureConfig,
    ) -> None:
        self.cache = FeatureCache(cache_dir, split=split)
        self.channels = stack_channels(self.cache.config, frontend)
        rows = ManifestDataset(dataset_dir, split=split, signals=(), check_files=False).rows
        by_id = {str(r["id"]): r for r in rows}
        missing = [i for i in self.cache.ids if i not in by_id]
        if missing:
            raise ValueError(f"feature cache {cache_dir} holds examples {missing[:3]} not in {dataset_dir}")
        self.rows = [by_id[i] for i in self.cache.ids]
        self._targets = [targets.encode(r) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def class_lists(self) -> list[list[str]]:
        return [[str(c) for c in r["class"]] for r in self.rows]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"features": self.cache[index][self.channels], **self._targets[index]}


def train_curriculum(
    model_class: type[SpatialAstModelBase],
    config: SpatialAstConfig,
    class_names: Sequence[str],
    train_set: StackDataset,
    stages: Sequence[Stage],
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    until: int | None = None,
    progress: bool = False,
) -> list[StageResult]:
    """Train a SpatialAST / DSpAST model through ``stages`` (:func:`spatialrep.train.run_curriculum`).

    Each stage's ``loss_weights`` are ``{"sed", "distance", "direction"}`` (missing: 0).
    """

    def step_for(stage: Stage) -> Any:
        unknown = set(stage.loss_weights) - set(TASKS)
        if unknown:
            raise ValueError(f"stage {stage.name}: unknown loss weight(s) {sorted(unknown)}; valid: {TASKS}")
        return functools.partial(spatial_step, loss_weights=dict(stage.loss_weights))

    return run_curriculum(
        model_class, {"config": config.to_dict(), "class_names": list(class_names)}, step_for, train_set,
        stages, out_dir, seed=seed, class_lists=train_set.class_lists, feature_config=config.frontend,
        until=until, progress=progress,
    )  # fmt: skip


def load_spatial_model(path: str | os.PathLike[str]) -> SpatialAstModelBase:
    """Load a SpatialAST or DSpAST checkpoint (a checkpoint folder or a stage folder with ``last/``).

    Raises:
        ValueError: a checkpoint of another method.
    """
    folder = Path(path)
    if (folder / "last" / "model.json").is_file():
        folder = folder / "last"
    from spatialrep.methods.registry import discover

    discover()
    model, meta = load_checkpoint(checkpoint_dir(folder))
    if not isinstance(model, SpatialAstModelBase):
        raise ValueError(f"{path} holds a {meta.model_name!r} checkpoint, not a SpatialAST / DSpAST model")
    return model
