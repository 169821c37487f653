"""SFD — spatial feature distillation (Bovbjerg et al., arXiv 2508.20914).

Pre-training: a causal encoder reads the noisy reverberant binaural STFT and a linear predictor regresses
spatial features of the clean direct-path signal
(:class:`~spatialrep.features.distillation.DistillationTarget`), MSE, no direction labels. Fine-tuning: the
pretrained encoder (predictor discarded) plus a frame-wise classifier over an azimuth grid, cross-entropy of
every frame against the clip's azimuth class (single source). See ``docs/sfd.md``.

The config has four sections: ``frontend`` (:class:`~spatialrep.features.distillation.FrameInput`),
``encoder`` (any registered encoder, :class:`~spatialrep.models.EncoderConfig`; the causal Conformer by
default), ``head`` (:class:`AzimuthHead`) and ``target`` (the distillation target, the pretraining loss).
Models rebuild from ``{"config": SfdConfig.to_dict()}``, so exported checkpoints (safetensors + JSON) load
without unpickling.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spatialrep.config import ConfigError, as_config, check_sections, to_dict
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.augment import NoiseAugmentation
from spatialrep.data.datasets import ManifestDataset, collate_examples
from spatialrep.data.manifest import ManifestError
from spatialrep.evaluate.azimuth_grid import REGIONS, AzimuthGrid
from spatialrep.features.distillation import DistillationTarget, FrameInput
from spatialrep.methods.base import Directions, FrameTrack, check_audio
from spatialrep.models import EncoderConfig, FramewiseClassifier, FreezableEncoder, LinearHead
from spatialrep.train import (
    StepContext,
    TrainConfig,
    TrainedModel,
    load_checkpoint,
    register_model,
    train_model,
    train_val_loaders,
)
from spatialrep.train.checkpoint import checkpoint_dir

__all__ = [
    "AzimuthHead",
    "FinetuneOptions",
    "SfdConfig",
    "SfdLocalizer",
    "SfdPretrainer",
    "SfdStream",
    "finetune",
    "finetune_step",
    "pretrain",
    "pretrain_step",
]

_SIGNALS = ("noisy", "clean_direct")


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(
        "causal_conformer",
        {"d_model": 256, "num_layers": 2, "num_heads": 4, "conv_kernel": 15, "dropout": 0.1},
    )


@dataclasses.dataclass(frozen=True)
class AzimuthHead:
    """The azimuth classes of the localizer (:class:`AzimuthGrid`; 5° frontal = 37 classes).

    Raises:
        ValueError: an unknown region or a step that does not divide it.
    """

    step_deg: float = 5.0
    region: str = "frontal"

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"head.region={self.region!r} is not one of {', '.join(REGIONS)}")
        try:
            self.grid()
        except ValueError as exc:
            raise ValueError(f"head.step_deg={self.step_deg!r}: {exc}") from exc

    def grid(self) -> AzimuthGrid:
        return AzimuthGrid(self.step_deg, self.region)


@dataclasses.dataclass(frozen=True)
class SfdConfig:
    """An SFD model in four sections (see the module docstring); every field is validated on construction.

    Raises:
        ConfigError: an invalid section (the field is named), a target lag range the FFT cannot hold, or
            encoder arguments the encoder refuses.
    """

    frontend: FrameInput = dataclasses.field(default_factory=FrameInput)
    encoder: EncoderConfig = dataclasses.field(default_factory=_default_encoder)
    head: AzimuthHead = dataclasses.field(default_factory=AzimuthHead)
    target: DistillationTarget = dataclasses.field(default_factory=DistillationTarget)

    def __post_init__(self) -> None:
        check_sections(
            self,
            {
                "frontend": FrameInput,
                "encoder": EncoderConfig,
                "head": AzimuthHead,
                "target": DistillationTarget,
            },
        )
        try:
            self.target.check(self.frontend)
            with torch.device("meta"):  # validates the encoder's arguments without allocating weights
                self.encoder.build(self.frontend.dim)
        except ValueError as exc:
            raise ConfigError(f"SfdConfig: {exc}") from exc

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    def grid(self) -> AzimuthGrid:
        """The azimuth classes of the localizer."""
        return self.head.grid()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the checkpoint's ``feature_config`` and constructor argument)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SfdConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: unknown keys (named) or invalid values.
        """
        return config_from_dict(cls, data)

    def replace(self, **sections: Any) -> SfdConfig:
        """A copy with some fields of some sections changed: ``replace(frontend={"kind": "gcc_phat"})``."""
        changes = {
            name: dataclasses.replace(getattr(self, name), **fields)
            if isinstance(fields, Mapping)
            else fields
            for name, fields in sections.items()
        }
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class FinetuneOptions:
    """How fine-tuning treats the labels and the pretrained encoder (defaults: the paper's setting).

    Attributes:
        soft_targets_deg: ``None`` trains on hard classes (the paper); a width in degrees trains on ordinal
            soft targets, a Gaussian over the azimuth classes around the true one
            (:meth:`AzimuthGrid.soft_targets`), so a near miss costs less than a far one.
        encoder_lr_scale: a pretrained encoder's learning rate as a fraction of ``TrainConfig.lr`` (1: the
            same as the classifier; smaller keeps it closer to its pretraining). A randomly initialised
            encoder (the supervised baselines) always trains at the full rate.
        augment: noise augmentation of the training clips, or ``None``.

    Raises:
        ConfigError: a non-positive width or scale.
    """

    soft_targets_deg: float | None = None
    encoder_lr_scale: float = 1.0
    augment: NoiseAugmentation | None = None

    def __post_init__(self) -> None:
        if self.soft_targets_deg is not None and not (
            math.isfinite(self.soft_targets_deg) and self.soft_targets_deg > 0
        ):
            raise ConfigError(f"soft_targets_deg={self.soft_targets_deg!r} must be a positive width or None")
        if not (math.isfinite(self.encoder_lr_scale) and self.encoder_lr_scale > 0):
            raise ConfigError(f"encoder_lr_scale={self.encoder_lr_scale!r} must be > 0")


class _SfdAudioModel(nn.Module):
    """What SFD's pretrainer and localizer share on the audio side: the binaural input contract, the check
    of a batch of clips, and the :class:`~spatialrep.methods.base.Embedder` view (mean of the encoder's frame
    features). A subclass sets ``config`` and ``encoder``."""

    num_channels = 2
    config: SfdConfig
    encoder: Any

    @property
    def sample_rate(self) -> int:
        return self.config.frontend.sample_rate

    @property
    def min_samples(self) -> int:
        return self.config.frontend.n_fft

    @property
    def embedding_dim(self) -> int:
        return int(self.encoder.output_dim)

    def _check(self, audio: Tensor, sample_rate: int, min_samples: int | None = None) -> Tensor:
        audio = check_audio(
            audio,
            sample_rate,
            expected_rate=self.sample_rate,
            num_channels=2,
            min_samples=self.min_samples if min_samples is None else min_samples,
        )
        return audio.to(device=next(self.parameters()).device, dtype=next(self.parameters()).dtype)

    @torch.no_grad()
    def embed(self, audio: Tensor, sample_rate: int) -> Tensor:
        """Mean of the encoder's frame features, ``(batch, embedding_dim)`` (eval mode)."""
        audio = self._check(audio, sample_rate)
        was_training = self.training
        self.eval()
        try:
            out: Tensor = self.encoder.forward_features(self.config.frontend(audio)).mean(dim=1)
            return out
        finally:
            self.train(was_training)


@register_model("sfd_pretrainer")
class SfdPretrainer(_SfdAudioModel):
    """Encoder + linear predictor of the distillation target; an
    :class:`~spatialrep.methods.base.Embedder` before any fine-tuning.

    Args:
        config: an :class:`SfdConfig` or its dict.

    Shape:
        ``forward``: ``(batch, frames, frontend.dim) -> (batch, frames, target.dim(frontend))``.
    """

    def __init__(self, config: SfdConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = as_config(SfdConfig, config)
        self.encoder = self.config.encoder.build(self.config.frontend.dim)
        self.predictor = LinearHead(self.encoder.output_dim, self.config.target.dim(self.config.frontend))

    def forward(self, frames: Tensor) -> Tensor:
        return self.predictor(self.encoder.forward_features(frames))


@register_model("sfd_localizer")
class SfdLocalizer(FreezableEncoder, _SfdAudioModel):
    """Encoder + frame-wise azimuth classifier over ``config.grid()``.

    A :class:`~spatialrep.methods.base.StreamingLocalizer` (when its encoder streams, as the causal Conformer
    does) and an :class:`~spatialrep.methods.base.Embedder` (mean of the encoder's frame features).

    Args:
        config: an :class:`SfdConfig` or its dict.

    Shape:
        ``forward``: ``(batch, frames, frontend.dim)`` -> frame logits ``(batch, frames, K)`` and clip logits
        ``(batch, K)`` (mean of the frame logits).
    """

    def __init__(self, config: SfdConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = as_config(SfdConfig, config)
        self.grid = self.config.grid()
        self.encoder = self.config.encoder.build(self.config.frontend.dim)
        self.classifier = FramewiseClassifier(self.encoder.output_dim, self.grid.num_classes)

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        out: tuple[Tensor, Tensor] = self.classifier(self.encoder.forward_features(frames))
        return out

    def load_encoder(self, pretrainer: SfdPretrainer) -> None:
        """Copy a pretrained encoder's weights (its predictor is discarded).

        Raises:
            ValueError: the encoders or front-ends differ (the first differing setting is named; dropout may
                differ).
        """
        mine, theirs = self.config, pretrainer.config
        if mine.encoder.name != theirs.encoder.name:
            raise ValueError(
                f"pretrained encoder is {theirs.encoder.name!r} but this localizer needs "
                f"{mine.encoder.name!r}"
            )
        if mine.frontend.dim != theirs.frontend.dim:
            raise ValueError(
                f"pretrained encoder reads {theirs.frontend.dim} features per frame but this localizer "
                f"gives {mine.frontend.dim}"
            )
        for key in sorted(set(mine.encoder.kwargs) | set(theirs.encoder.kwargs)):
            ours, pretrained = mine.encoder.kwargs.get(key), theirs.encoder.kwargs.get(key)
            if ours != pretrained and key != "dropout":
                raise ValueError(
                    f"pretrained encoder has {key}={pretrained!r} but this localizer needs {ours!r}"
                )
        self.encoder.load_state_dict(pretrainer.encoder.state_dict())

    def _track(self, frame_logits: Tensor) -> FrameTrack:
        logits = frame_logits.detach().cpu()
        probabilities = torch.softmax(logits, dim=-1).numpy().astype(np.float64)
        return FrameTrack(
            probabilities=probabilities,
            class_azimuth=self.grid.azimuths,
            hop_s=self.config.frontend.hop_s,
            frame_s=self.config.frontend.frame_s,
            logits=logits.numpy().astype(np.float64),
        )

    def _directions(self, frame_logits: Tensor) -> Directions:
        track = self._track(frame_logits)
        return Directions(azimuth=track.pooled_azimuth(), track=track)

    @torch.no_grad()
    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Azimuth of binaural audio ``(batch, 2, time)`` (eval mode, no gradient).

        The clip azimuth is the most probable class of the mean frame posterior; ``track`` holds the frame
        posteriors and logits.

        Raises:
            ValueError: another sample rate, not binaural, shorter than one frame, NaN.
        """
        audio = self._check(audio, sample_rate)
        was_training = self.training
        self.eval()
        try:
            frame_logits, _ = self(self.config.frontend(audio))
        finally:
            self.train(was_training)
        return self._directions(frame_logits)

    @torch.no_grad()
    def localize_stream(self, audio: Tensor, sample_rate: int, chunk_samples: int = 1600) -> Directions:
        """:meth:`localize`, fed ``chunk_samples`` at a time through the encoder's cached state.

        Samples are buffered until a frame is complete, so frames equal the offline ones and the output
        matches :meth:`localize` to float rounding (``forward_step``, see ``docs/models.md``).

        Raises:
            ValueError: as :meth:`localize`, ``chunk_samples`` < 1, or an encoder that cannot stream.
        """
        if isinstance(chunk_samples, bool) or not isinstance(chunk_samples, int) or chunk_samples < 1:
            raise ValueError(f"chunk_samples must be a positive integer, got {chunk_samples!r}")
        encoder = self._streaming_encoder(None)
        audio = self._check(audio, sample_rate)
        stream = SfdStream(self, encoder, audio.shape[0])
        steps = range(0, audio.shape[-1], chunk_samples)
        return self._directions(torch.cat([stream.step(audio[..., s : s + chunk_samples]) for s in steps], 1))

    def open_stream(
        self, sample_rate: int, *, batch_size: int = 1, context_s: float | None = None
    ) -> SfdStream:
        """A :class:`~spatialrep.methods.base.FrameStream`: push audio in any pieces, get the new frames.

        Args:
            sample_rate: Hz of the audio to be pushed (the front-end's rate).
            batch_size: clips streamed side by side.
            context_s: attend at most this far back (rounded to frames), so the cache stays bounded however
                long the stream: the frames are those of :meth:`localize` with the encoder's
                ``left_context`` set to that many frames (equal to :meth:`localize`'s, to float rounding, for
                streams up to that long). ``None``: the encoder's own context (the whole past by default:
                the cache grows with the stream).

        Raises:
            ValueError: another sample rate, a non-positive ``batch_size`` or ``context_s``, an encoder that
                cannot stream or take a ``left_context``, or centred frames (``frontend.center``).
        """
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"audio is at {sample_rate} Hz but the model expects {self.sample_rate} Hz (resample it)"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return SfdStream(self, self._streaming_encoder(context_s), batch_size)

    def _streaming_encoder(self, context_s: float | None) -> nn.Module:
        """The encoder to stream with: ours, or a copy whose attention looks back ``context_s`` at most."""
        name = self.config.encoder.name
        if not (hasattr(self.encoder, "init_state") and hasattr(self.encoder, "forward_step")):
            raise ValueError(f"encoder {name!r} cannot stream (no cached state)")
        if self.config.frontend.center:
            raise ValueError("frontend.center=True frames are centred (they look ahead): they cannot stream")
        if context_s is None:
            return self.encoder
        if not (math.isfinite(context_s) and context_s > 0):
            raise ValueError(f"context_s must be positive seconds or None, got {context_s!r}")
        frames = max(1, round(context_s / self.config.frontend.hop_s))
        kwargs = self.config.encoder.kwargs
        own = kwargs.get("left_context")
        if own is not None and own <= frames:
            return self.encoder
        bounded = dataclasses.replace(self.config.encoder, kwargs={**kwargs, "left_context": frames})
        try:
            with torch.random.fork_rng(devices=[]):  # the copy's random initial weights are overwritten
                encoder = bounded.build(self.config.frontend.dim)
        except ValueError as exc:
            raise ValueError(f"encoder {name!r} cannot bound its context (left_context): {exc}") from exc
        encoder.load_state_dict(self.encoder.state_dict())
        reference = next(self.encoder.parameters())
        return encoder.to(device=reference.device, dtype=reference.dtype).eval()


class SfdStream:
    """An open stream of an :class:`SfdLocalizer` (:meth:`SfdLocalizer.open_stream`), a
    :class:`~spatialrep.methods.base.FrameStream`.

    Samples are buffered until a frame is complete, so the frames do not depend on how the audio is cut; the
    encoder's cached state carries the past from one push to the next.
    """

    def __init__(self, model: SfdLocalizer, encoder: nn.Module, batch_size: int) -> None:
        self._model = model
        self._forward_step: Any = getattr(encoder, "forward_step")  # noqa: B009 (encoders without it refused)
        self._state: Any = getattr(encoder, "init_state")(batch_size)  # noqa: B009
        reference = next(model.parameters())
        self._buffer = torch.zeros(batch_size, 2, 0, device=reference.device, dtype=reference.dtype)
        self._empty = reference.new_zeros(batch_size, 0, model.grid.num_classes)

    @torch.no_grad()
    def step(self, audio: Tensor) -> Tensor:
        """The frame logits ``(batch, new frames, K)`` completed by ``audio`` ``(batch, 2, time)``."""
        model = self._model
        frontend = model.config.frontend
        audio = model._check(audio, model.sample_rate, min_samples=0)
        if audio.shape[0] != self._buffer.shape[0]:
            raise ValueError(f"the stream is for batch size {self._buffer.shape[0]}, got {audio.shape[0]}")
        self._buffer = torch.cat((self._buffer, audio), dim=-1)
        if self._buffer.shape[-1] < frontend.n_fft:
            return self._empty
        was_training = model.training
        model.eval()
        try:
            frames = frontend(self._buffer)
            features, self._state = self._forward_step(frames, self._state)
            logits: Tensor = model.classifier(features)[0]
        finally:
            model.train(was_training)
        self._buffer = self._buffer[..., frames.shape[1] * frontend.hop_length :]
        return logits

    def push(self, audio: Tensor) -> FrameTrack:
        """The track (posteriors and logits) of the frames completed by ``audio`` ``(batch, 2, time)``.

        Raises:
            ValueError: not binaural, NaN, or another batch size than the stream's.
        """
        return self._model._track(self.step(audio))


def pretrain_step(model: nn.Module, batch: Mapping[str, Any]) -> dict[str, Tensor]:
    """MSE between predicted and clean direct-path spatial features; uses no direction label.

    Raises:
        TypeError: ``model`` is not an :class:`SfdPretrainer`.
    """
    if not isinstance(model, SfdPretrainer):
        raise TypeError(f"pretrain_step needs an SfdPretrainer, got {type(model).__name__}")
    config = model.config
    frames = config.frontend(batch["noisy"])
    targets = config.target(batch["clean_direct"], config.frontend)
    return {"loss": nn.functional.mse_loss(model(frames), targets)}


def _azimuth_classes(batch: Mapping[str, Any], grid: AzimuthGrid) -> Tensor:
    azimuth = torch.as_tensor(batch["labels"]["azimuth"])
    if azimuth.ndim == 2:
        if azimuth.shape[1] > 1 and not torch.isnan(azimuth[:, 1:]).all():
            raise ValueError(
                f"SFD fine-tuning expects one source per clip, got azimuths of shape {tuple(azimuth.shape)}"
            )
        azimuth = azimuth[:, 0]
    azimuth = azimuth.detach().cpu().double()
    return torch.from_numpy(grid.to_index(azimuth.numpy()))


def finetune_step(
    model: nn.Module,
    batch: Mapping[str, Any],
    context: StepContext | None = None,
    *,
    augment: NoiseAugmentation | None = None,
    soft_targets_deg: float | None = None,
) -> dict[str, Tensor]:
    """Frame-wise cross-entropy against the clip's azimuth class (or soft targets around it), plus accuracy.

    ``augment`` is applied to ``noisy`` in training steps only (never in validation), drawing from the
    step's generator. With ``soft_targets_deg`` the target of every frame is a Gaussian over the classes
    around the true azimuth (:meth:`AzimuthGrid.soft_targets`) instead of a one-hot vector.

    Raises:
        TypeError: ``model`` is not an :class:`SfdLocalizer`.
        ValueError: more than one source in a clip, an azimuth off the grid, or ``augment`` without a
            training context.
    """
    if not isinstance(model, SfdLocalizer):
        raise TypeError(f"finetune_step needs an SfdLocalizer, got {type(model).__name__}")
    noisy = batch["noisy"]
    if augment is not None and model.training:
        if context is None or context.generator is None:
            raise ValueError(
                "finetune_step: augmentation needs the training step's generator (a StepContext)"
            )
        noisy = augment(noisy, context.generator)
    frame_logits, clip_logits = model(model.config.frontend(noisy))
    classes = _azimuth_classes(batch, model.grid).to(frame_logits.device)
    if soft_targets_deg is None:
        per_frame = classes[:, None].expand(frame_logits.shape[:2])
        loss = nn.functional.cross_entropy(frame_logits.flatten(0, 1), per_frame.flatten())
    else:
        soft = model.grid.soft_targets(model.grid.to_azimuth(classes.cpu().numpy()), soft_targets_deg)
        target = torch.from_numpy(soft).to(frame_logits)[:, None, :].expand_as(frame_logits)
        loss = -(target * torch.log_softmax(frame_logits, dim=-1)).sum(dim=-1).mean()
    accuracy = (clip_logits.argmax(dim=-1) == classes).float().mean()
    return {"loss": loss, "accuracy": accuracy}


def _dataset(dataset_dir: str | os.PathLike[str], config: SfdConfig, **kwargs: Any) -> ManifestDataset:
    dataset = ManifestDataset(dataset_dir, signals=_SIGNALS, **kwargs)
    rate = dataset.rows[0].get("sample_rate")
    if isinstance(rate, int) and rate != config.sample_rate:
        raise ValueError(
            f"dataset {dataset_dir} is at {rate} Hz but the SFD front-end expects {config.sample_rate} Hz"
        )
    return dataset


def _loaders(
    dataset_dir: str | os.PathLike[str], config: SfdConfig, train_config: TrainConfig, budget: str | None
) -> tuple[Any, Any]:
    train_set = _dataset(dataset_dir, config, split="train", budget=budget)
    try:
        val_set: ManifestDataset | None = _dataset(dataset_dir, config, split="val")
    except ManifestError:
        val_set = None
    return train_val_loaders(
        train_set,
        val_set,
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        num_workers=train_config.num_workers,
        collate_fn=collate_examples,
    )


def pretrain(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sfd_config: SfdConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    progress: bool = False,
) -> TrainedModel:
    """Pre-train an :class:`SfdPretrainer` on the ``train`` split (``noisy`` and ``clean_direct`` signals).

    The ``val`` split, when present, is validated on. Exports ``out_dir/best`` and ``out_dir/last`` (see
    :func:`spatialrep.train.fit` for the layout).

    Raises:
        ManifestError: no manifest, no train split, or missing signals.
        ValueError: the dataset's sample rate differs from the front-end's.
    """
    config = sfd_config or SfdConfig()
    train_config = train_config or TrainConfig()
    train, val = _loaders(dataset_dir, config, train_config, None)
    kwargs = {"config": config.to_dict()}
    return train_model(
        SfdPretrainer, kwargs, pretrain_step, train, val, train_config, out_dir, feature_config=config,
        progress=progress,
    )  # fmt: skip


def finetune(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sfd_config: SfdConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    budget: str | None = None,
    init_from: str | os.PathLike[str] | None = None,
    freeze_encoder: bool = False,
    options: FinetuneOptions | None = None,
    progress: bool = False,
) -> TrainedModel:
    """Fine-tune an :class:`SfdLocalizer` for azimuth classification.

    Args:
        dataset_dir: a rendered dataset folder with ``noisy`` and ``azimuth`` labels (one source per clip).
        out_dir: output folder of :func:`spatialrep.train.fit`.
        sfd_config: the model; default: the pretrained checkpoint's config, else ``SfdConfig()``.
        train_config: optimisation settings.
        budget: train on ``budgets/<budget>.csv`` (a label budget such as ``10min``) instead of the whole
            train split.
        init_from: a :func:`pretrain` output (or its ``best``/``last`` folder) whose encoder initialises ours.
        freeze_encoder: train the classifier only (linear probe).
        options: targets, encoder learning rate and augmentation (:class:`FinetuneOptions`; default: the
            paper's hard targets, one learning rate, no augmentation).
        progress: show Lightning's progress bar.

    Raises:
        ValueError: ``init_from`` is not a pretraining checkpoint or its encoder does not fit ``sfd_config``;
            the dataset's sample rate differs.
        ManifestError: missing split, budget or signal.
    """
    pretrained: SfdPretrainer | None = None
    if init_from is not None:
        loaded, _ = load_checkpoint(checkpoint_dir(init_from))
        if not isinstance(loaded, SfdPretrainer):
            raise ValueError(f"init_from={init_from!s} holds a {type(loaded).__name__}, not an SfdPretrainer")
        pretrained = loaded
    config = sfd_config or (pretrained.config if pretrained is not None else SfdConfig())
    train_config = train_config or TrainConfig()
    options = options or FinetuneOptions()
    train, val = _loaders(dataset_dir, config, train_config, budget)

    def prepare(model: nn.Module) -> None:
        assert isinstance(model, SfdLocalizer)
        if pretrained is not None:
            model.load_encoder(pretrained)
            model.encoder_lr_scale = options.encoder_lr_scale
        if freeze_encoder:
            model.freeze_encoder()

    step = functools.partial(
        finetune_step, augment=options.augment, soft_targets_deg=options.soft_targets_deg
    )
    return train_model(
        SfdLocalizer, {"config": config.to_dict()}, step, train, val, train_config, out_dir,
        feature_config=config, prepare=prepare, progress=progress,
    )  # fmt: skip
