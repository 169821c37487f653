"""MC-SimCLR — contrastive pretraining on multichannel (array) audio (arXiv 2309.15938).

Pretraining: two views of every clip (random time crops; one shared ChannelSwap, then Mixup, the feature
front-end, RandomResizedCrop and ChannelDrop each, :class:`~spatialrep.features.augment.McSimclrAugment`) go
through an encoder (a CRNN over log-mel per microphone ‖ GCC-PHAT per pair) and an MLP projector; NT-Xent
(:class:`~spatialrep.losses.NTXentLoss`) pulls the two views of a clip together and pushes the other clips
away. No label is used. Downstream: two linear heads on the pooled encoder output, a sound class
(cross-entropy) and the azimuth as ``(cos, sin)`` (MSE): a linear probe (:func:`linear_probe`: frozen
encoder, embeddings computed once) or fine-tuning (:func:`finetune`: encoder and heads, ChannelSwap with the
azimuth relabelled). See ``docs/mcsimclr.md``.

The front-end runs inside the training step, on the device, uncached: Mixup mixes waveforms, so the
logarithms and the PHAT weighting must come after it.

Models rebuild from ``{"config": McSimclrConfig.to_dict(), ...}``; every one is a registered model, so
exported checkpoints (safetensors + JSON) load by path (:func:`load_mcsimclr`,
:func:`spatialrep.methods.load_model`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from spatialrep.config import ConfigError, as_config, check_sections, to_dict
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.datasets import ManifestDataset, collate_examples
from spatialrep.data.manifest import ManifestError
from spatialrep.features.augment import McSimclrAugment, channel_swap, random_crops
from spatialrep.features.frontend import FEATURES, FeatureConfig, FeatureFrontEnd, feature_preset
from spatialrep.geometry import ArraySymmetry, array_symmetries, list_arrays, make_array
from spatialrep.io.arrays import load_npz, save_npz
from spatialrep.losses import NTXentLoss
from spatialrep.methods.base import Directions, check_audio
from spatialrep.models import EncoderConfig, FreezableEncoder, LinearHead, feature_maps_to_sequence
from spatialrep.train import (
    StepContext,
    TrainConfig,
    TrainedModel,
    load_checkpoint,
    make_loader,
    register_model,
    save_checkpoint,
    train_model,
    train_val_loaders,
)
from spatialrep.train.checkpoint import checkpoint_dir

__all__ = [
    "ContrastiveLoss",
    "Embeddings",
    "FinetuneOptions",
    "McSimclrConfig",
    "McSimclrFeatureProbe",
    "McSimclrHeads",
    "McSimclrModel",
    "McSimclrPretrainer",
    "dataset_classes",
    "finetune",
    "finetune_step",
    "linear_probe",
    "load_mcsimclr",
    "pretrain",
    "pretrain_step",
    "probe_step",
    "split_embeddings",
]

PROBE_SOURCES = ("encoder", "features")
"""What a linear probe reads: the pooled encoder output, or the time-averaged feature maps themselves."""


def _default_frontend() -> FeatureConfig:
    return feature_preset("array4_mel_gcc")


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(
        "crnn",
        {"conv_channels": 64, "pool_sizes": [4, 4, 2], "gru_hidden": 128, "gru_layers": 2, "dropout": 0.0},
    )


def _default_projector() -> EncoderConfig:
    return EncoderConfig("mlp", {"hidden_sizes": [256], "output_dim": 128, "batch_norm": True})


@dataclasses.dataclass(frozen=True)
class ContrastiveLoss:
    """NT-Xent's settings.

    Attributes:
        temperature: ``τ``.
        gather_distributed: negatives from every process in multi-GPU training (identity on one device).
    """

    temperature: float = 0.1
    gather_distributed: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"loss.temperature={self.temperature!r} must be > 0")

    def build(self) -> NTXentLoss:
        return NTXentLoss(self.temperature, gather_distributed=self.gather_distributed)


@dataclasses.dataclass(frozen=True)
class McSimclrConfig:
    """An MC-SimCLR model: the front-end, the encoder, the projector, the augmentations, the loss, the views.

    Attributes:
        frontend: log-mel per microphone ‖ GCC-PHAT per pair (:class:`FeatureConfig`; default the
            ``array4_mel_gcc`` preset). Only ``logmel`` and ``gcc_phat`` are accepted, in that order.
        encoder: any registered encoder over the map sequence; a ``crnn`` gets ``in_channels`` and
            ``num_bins`` from the front-end.
        projector: the MLP on the pooled encoder output (pretraining only).
        augment: :class:`McSimclrAugment`.
        loss: :class:`ContrastiveLoss`.
        crop_s: seconds per view (two random crops of a clip are a positive pair).
        array: the microphone array preset (:func:`~spatialrep.geometry.list_arrays`) whose symmetries
            ChannelSwap uses.

    Raises:
        ConfigError: an invalid section or value (named), an array of another channel count than the
            front-end, or encoder arguments the encoder refuses.
    """

    frontend: FeatureConfig = dataclasses.field(default_factory=_default_frontend)
    encoder: EncoderConfig = dataclasses.field(default_factory=_default_encoder)
    projector: EncoderConfig = dataclasses.field(default_factory=_default_projector)
    augment: McSimclrAugment = dataclasses.field(default_factory=McSimclrAugment)
    loss: ContrastiveLoss = dataclasses.field(default_factory=ContrastiveLoss)
    crop_s: float = 1.0
    array: str = "circular4"

    def __post_init__(self) -> None:
        check_sections(
            self,
            {
                "frontend": FeatureConfig,
                "encoder": EncoderConfig,
                "projector": EncoderConfig,
                "augment": McSimclrAugment,
                "loss": ContrastiveLoss,
            },
        )
        features = self.frontend.features
        if features != ("logmel", "gcc_phat"):
            raise ConfigError(
                f"McSimclrConfig.frontend.features must be [logmel, gcc_phat], got {list(features)}"
            )
        if not (math.isfinite(self.crop_s) and self.crop_s > 0):
            raise ConfigError(f"McSimclrConfig.crop_s={self.crop_s!r} must be positive seconds")
        if self.array not in list_arrays():
            raise ConfigError(f"McSimclrConfig.array={self.array!r} is not one of {', '.join(list_arrays())}")
        mics = make_array(self.array).num_mics
        if mics != self.frontend.num_channels:
            raise ConfigError(
                f"McSimclrConfig.array={self.array!r} has {mics} microphones but the front-end reads "
                f"{self.frontend.num_channels} channels"
            )
        try:
            with torch.device("meta"):  # validates the encoder's arguments without allocating weights
                encoder = self.encoder_section().build(self.input_dim)
                self.projector.build(encoder.output_dim)
        except ValueError as exc:
            raise ConfigError(f"McSimclrConfig: {exc}") from exc

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def num_maps(self) -> int:
        return self.frontend.num_feature_channels

    @property
    def input_dim(self) -> int:
        """Features per frame of the encoder's input sequence (maps x bins)."""
        return self.frontend.num_feature_channels * self.frontend.num_bins

    @property
    def crop_samples(self) -> int:
        return max(1, round(self.crop_s * self.sample_rate))

    def mel_maps(self) -> list[bool]:
        """Per stacked map: whether its bin axis is mel frequency (RandomResizedCrop may crop it)."""
        flags: list[bool] = []
        for name in self.frontend.features:
            flags += [FEATURES[name].grid == "mel"] * self.frontend.feature_channels(name)
        return flags

    def symmetries(self) -> list[ArraySymmetry]:
        return array_symmetries(make_array(self.array))

    def encoder_section(self) -> EncoderConfig:
        """The encoder section with a CRNN's map layout filled in from the front-end."""
        if self.encoder.name != "crnn":
            return self.encoder
        layout = {"in_channels": self.num_maps, "num_bins": self.frontend.num_bins}
        return dataclasses.replace(self.encoder, kwargs={**layout, **self.encoder.kwargs})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the checkpoints' constructor argument)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> McSimclrConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: unknown keys (named) or invalid values.
        """
        return config_from_dict(cls, data)


@dataclasses.dataclass(frozen=True)
class FinetuneOptions:
    """How fine-tuning (and the supervised baseline) trains.

    Attributes:
        channel_swap: chance that a training clip is reordered by an array symmetry, its azimuth mapped.
        encoder_lr_scale: a pretrained encoder's learning rate as a fraction of ``TrainConfig.lr``.
        azimuth_weight: weight of the azimuth MSE against the class cross-entropy.
        crop: train on one random crop of ``crop_s`` per clip (the pretraining views' length; the clip's
            labels hold for any part of it as the source is stationary); ``False``: whole clips. Validation
            and test always see whole clips.

    Raises:
        ConfigError: a probability outside [0, 1] or a non-positive scale or weight.
    """

    channel_swap: float = 0.5
    encoder_lr_scale: float = 1.0
    azimuth_weight: float = 1.0
    crop: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.channel_swap <= 1.0:
            raise ConfigError(f"channel_swap={self.channel_swap!r} must be a probability in [0, 1]")
        for name in ("encoder_lr_scale", "azimuth_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name}={value!r} must be > 0")


def _as_config(value: McSimclrConfig | Mapping[str, Any]) -> McSimclrConfig:
    # Validating a FeatureConfig computes lag tables: on real tensors even when a checkpoint builds the model
    # on "meta".
    with torch.device("cpu"):
        return as_config(McSimclrConfig, value)


def _frontend(config: McSimclrConfig) -> FeatureFrontEnd:
    # Its windows and filterbanks are real tensors even when a checkpoint builds the model on "meta".
    with torch.device("cpu"):
        return FeatureFrontEnd(config.frontend)


class _ArrayAudioModel(nn.Module):
    """What every MC-SimCLR model shares on the audio side: the input contract of its front-end, the check of
    a batch of clips and the :class:`~spatialrep.methods.base.Embedder` view ``embed_maps(frontend(audio))``.
    A subclass sets ``config`` and ``frontend`` and defines :meth:`embed_maps`."""

    config: McSimclrConfig
    frontend: FeatureFrontEnd

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def num_channels(self) -> int:
        return self.config.frontend.num_channels

    @property
    def min_samples(self) -> int:
        return self.config.frontend.n_fft

    def embed_maps(self, maps: Tensor) -> Tensor:
        raise NotImplementedError

    def _reference(self) -> Tensor:
        """A parameter whose device and dtype the audio is moved to."""
        return next(self.parameters())

    def _check(self, audio: Tensor, sample_rate: int) -> Tensor:
        audio = check_audio(
            audio,
            sample_rate,
            expected_rate=self.sample_rate,
            num_channels=self.num_channels,
            min_samples=self.min_samples,
        )
        reference = self._reference()
        return audio.to(device=reference.device, dtype=reference.dtype)

    @torch.no_grad()
    def embed(self, audio: Tensor, sample_rate: int) -> Tensor:
        """Clip embeddings ``(batch, embedding_dim)`` of ``(batch, channels, time)`` (eval mode)."""
        audio = self._check(audio, sample_rate)
        was_training = self.training
        self.eval()
        try:
            return self.embed_maps(self.frontend(audio))
        finally:
            self.train(was_training)


@register_model("mcsimclr_pretrainer")
class McSimclrPretrainer(_ArrayAudioModel):
    """Front-end + encoder + projector, trained with NT-Xent; an
    :class:`~spatialrep.methods.base.Embedder` (the pooled encoder output) before any probe or fine-tuning.

    Args:
        config: a :class:`McSimclrConfig` or its dict.

    Shape:
        ``forward``: maps ``(batch, maps, bins, frames)`` -> projections ``(batch, projector.output_dim)``.
    """

    def __init__(self, config: McSimclrConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = _as_config(config)
        self.frontend = _frontend(self.config)
        self.encoder = self.config.encoder_section().build(self.config.input_dim)
        self.projector = self.config.projector.build(self.encoder.output_dim)
        self.loss = self.config.loss.build()

    @property
    def embedding_dim(self) -> int:
        return int(self.encoder.output_dim)

    def embed_maps(self, maps: Tensor) -> Tensor:
        """The pooled encoder output ``(batch, encoder.output_dim)``."""
        out: Tensor = self.encoder(feature_maps_to_sequence(maps))
        return out

    def _reference(self) -> Tensor:
        return next(self.encoder.parameters())

    def forward(self, maps: Tensor) -> Tensor:
        out: Tensor = self.projector(self.embed_maps(maps).unsqueeze(1))
        return out


@register_model("mcsimclr_heads")
class McSimclrHeads(nn.Module):
    """Two linear heads on standardised embeddings: sound-class logits and the azimuth's ``(cos, sin)``.

    ``mean`` and ``std`` (buffers, ``(input_dim,)``) standardise the input; a linear probe sets them from its
    training embeddings (:meth:`standardise_with`), fine-tuning leaves them at 0 and 1.

    Shape:
        ``(batch, input_dim) -> ((batch, num_classes), (batch, 2))``.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("std", torch.ones(input_dim))
        self.classes = LinearHead(input_dim, num_classes)
        self.azimuth = LinearHead(input_dim, 2)

    @torch.no_grad()
    def standardise_with(self, embeddings: Tensor) -> None:
        """Set ``mean``/``std`` from ``(n, input_dim)`` embeddings (a constant dimension keeps std 1)."""
        self.mean.copy_(embeddings.mean(dim=0))
        std = embeddings.std(dim=0) if embeddings.shape[0] > 1 else torch.ones_like(self.std)
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        x = (embeddings - self.mean) / self.std
        return self.classes(x), self.azimuth(x)


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(n) for n in class_names]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"class_names must be distinct and non-empty, got {names}")
    return names


class _ClassAzimuthModel(_ArrayAudioModel):
    """What the class + azimuth models share: the front-end, the heads, the Localizer and Embedder protocols.

    A subclass defines :meth:`embed_maps` (maps -> ``(batch, embedding_dim)``).
    """

    heads: McSimclrHeads

    def __init__(self, config: McSimclrConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__()
        self.config = _as_config(config)
        self.class_names = _check_class_names(class_names)
        self.frontend = _frontend(self.config)

    @property
    def embedding_dim(self) -> int:
        return int(self.heads.mean.shape[0])

    def forward(self, maps: Tensor) -> tuple[Tensor, Tensor]:
        """Class logits ``(batch, classes)`` and azimuth ``(cos, sin)`` ``(batch, 2)`` of maps."""
        out: tuple[Tensor, Tensor] = self.heads(self.embed_maps(maps))
        return out

    def _reference(self) -> Tensor:
        return next(self.heads.parameters())

    @torch.no_grad()
    def directions_of_embeddings(self, embeddings: Tensor) -> Directions:
        """The heads' answer for embeddings ``(batch, embedding_dim)``: azimuth and class scores."""
        was_training = self.training
        self.eval()
        try:
            logits, cos_sin = self.heads(embeddings.to(next(self.heads.parameters())))
        finally:
            self.train(was_training)
        azimuth = torch.atan2(cos_sin[:, 1], cos_sin[:, 0]).double().cpu().numpy()
        scores = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        return Directions(azimuth=azimuth, class_scores=scores, class_names=tuple(self.class_names))

    @torch.no_grad()
    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Azimuth and sound class of each clip ``(batch, channels, time)`` (eval mode, no gradient).

        Raises:
            ValueError: another sample rate or channel count, shorter than one FFT, NaN.
        """
        return self.directions_of_embeddings(self.embed(audio, sample_rate))


@register_model("mcsimclr_model")
class McSimclrModel(FreezableEncoder, _ClassAzimuthModel):
    """Encoder + two linear heads (:class:`McSimclrHeads`): the linear probe and the fine-tuned model.

    A :class:`~spatialrep.methods.base.Localizer` whose ``Directions`` carry ``class_scores`` and
    ``class_names``, and an :class:`~spatialrep.methods.base.Embedder` (the pooled encoder output).

    Args:
        config: a :class:`McSimclrConfig` or its dict.
        class_names: the sound classes, in the order of the class logits.
    """

    def __init__(self, config: McSimclrConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__(config, class_names)
        self.encoder = self.config.encoder_section().build(self.config.input_dim)
        self.heads = McSimclrHeads(self.encoder.output_dim, len(self.class_names))

    def embed_maps(self, maps: Tensor) -> Tensor:
        out: Tensor = self.encoder(feature_maps_to_sequence(maps))
        return out

    def load_encoder(self, pretrainer: McSimclrPretrainer) -> None:
        """Copy a pretrained encoder's weights and running statistics (its projector is discarded).

        Raises:
            ValueError: the encoders or front-ends differ.
        """
        mine, theirs = self.config, pretrainer.config
        if mine.encoder_section() != theirs.encoder_section() or mine.frontend != theirs.frontend:
            raise ValueError(
                f"pretrained encoder {theirs.encoder_section()} on {theirs.frontend.to_dict()} does not fit "
                f"this model's {mine.encoder_section()} on {mine.frontend.to_dict()}"
            )
        self.encoder.load_state_dict(pretrainer.encoder.state_dict())


@register_model("mcsimclr_feature_probe")
class McSimclrFeatureProbe(_ClassAzimuthModel):
    """The feature baseline: the two linear heads on the time-averaged feature maps (no encoder).

    Args:
        config: a :class:`McSimclrConfig` or its dict (only its front-end is used).
        class_names: the sound classes.
    """

    def __init__(self, config: McSimclrConfig | Mapping[str, Any], class_names: Sequence[str]) -> None:
        super().__init__(config, class_names)
        self.heads = McSimclrHeads(self.config.input_dim, len(self.class_names))

    def embed_maps(self, maps: Tensor) -> Tensor:
        """The maps averaged over frames, flattened map-major: ``(batch, maps * bins)``."""
        return maps.mean(dim=-1).flatten(1)


# ------------------------------------------------------------------------------------------------ steps


def _pretrain_views(
    model: McSimclrPretrainer, audio: Tensor, context: StepContext | None
) -> tuple[Tensor, Tensor]:
    config = model.config
    crop = config.crop_samples
    if audio.shape[-1] < crop:
        raise ValueError(
            f"clips of {audio.shape[-1]} samples are shorter than the {crop}-sample views "
            f"(crop_s={config.crop_s})"
        )
    if context is not None and context.generator is not None:
        return config.augment.views(
            audio,
            context.generator,
            crop=crop,
            symmetries=config.symmetries(),
            frontend=model.frontend,
            mel_maps=config.mel_maps(),
        )
    # Validation is not random: the first and the last crop of each clip, not augmented.
    return model.frontend(audio[..., :crop]), model.frontend(audio[..., -crop:])


def pretrain_step(
    model: nn.Module, batch: Mapping[str, Any], context: StepContext | None = None
) -> dict[str, Tensor]:
    """NT-Xent between two augmented views of every clip of ``batch["noisy"]``; uses no label.

    Training steps draw every augmentation from ``context.generator``; validation uses the first and last
    crop of each clip without augmentation. Both views go through the encoder in one batch (shared batch-norm
    statistics, as SimCLR).

    Raises:
        TypeError: ``model`` is not a :class:`McSimclrPretrainer`.
        ValueError: clips shorter than a view.
    """
    if not isinstance(model, McSimclrPretrainer):
        raise TypeError(f"pretrain_step needs a McSimclrPretrainer, got {type(model).__name__}")
    first, second = _pretrain_views(model, batch["noisy"], context)
    projections = model(torch.cat((first, second)))
    view_a, view_b = projections.chunk(2)
    loss = model.loss(view_a, view_b)
    with torch.no_grad():
        similarity = nn.functional.cosine_similarity(view_a, view_b, dim=-1).mean()
    return {"loss": loss, "positive_cosine": similarity}


def _labels(batch: Mapping[str, Any], class_names: Sequence[str]) -> tuple[Tensor, Tensor]:
    """``(class index (B,) long, azimuth (B,) radians)`` of single-source clips."""
    labels = batch["labels"]
    azimuth = torch.as_tensor(labels["azimuth"])
    if azimuth.ndim == 2:
        if azimuth.shape[1] > 1 and not torch.isnan(azimuth[:, 1:]).all():
            raise ValueError(
                f"MC-SimCLR's heads expect one source per clip, got azimuths {tuple(azimuth.shape)}"
            )
        azimuth = azimuth[:, 0]
    index = {name: k for k, name in enumerate(class_names)}
    classes = []
    for value in labels["class"]:
        name = value[0] if isinstance(value, list | tuple) else value
        if name not in index:
            raise ValueError(f"class {name!r} is not one of the model's classes ({', '.join(class_names)})")
        classes.append(index[name])
    return torch.tensor(classes, device=azimuth.device), azimuth


def _head_losses(
    logits: Tensor, cos_sin: Tensor, classes: Tensor, azimuth: Tensor, azimuth_weight: float
) -> dict[str, Tensor]:
    target = torch.stack((torch.cos(azimuth), torch.sin(azimuth)), dim=1).to(cos_sin)
    class_loss = nn.functional.cross_entropy(logits, classes.to(logits.device))
    azimuth_loss = nn.functional.mse_loss(cos_sin, target)
    with torch.no_grad():
        predicted = torch.atan2(cos_sin[:, 1], cos_sin[:, 0])
        error = torch.remainder(predicted - azimuth.to(predicted) + math.pi, 2 * math.pi) - math.pi
        accuracy = (logits.argmax(dim=-1) == classes.to(logits.device)).float().mean()
    return {
        "loss": class_loss + azimuth_weight * azimuth_loss,
        "class_loss": class_loss,
        "azimuth_loss": azimuth_loss,
        "accuracy": accuracy,
        "azimuth_error_deg": torch.rad2deg(error.abs()).mean(),
    }


def finetune_step(
    model: nn.Module,
    batch: Mapping[str, Any],
    context: StepContext | None = None,
    *,
    channel_swap_p: float = 0.5,
    azimuth_weight: float = 1.0,
    crop: int | None = None,
) -> dict[str, Tensor]:
    """Cross-entropy of the class plus ``azimuth_weight`` times the MSE of ``(cos, sin)`` of the azimuth.

    Training steps (a context with a generator) reorder clips by an array symmetry with ``channel_swap_p``,
    map their azimuths with it and, with ``crop``, keep one random window of ``crop`` samples per clip;
    validation is not augmented.

    Raises:
        TypeError: ``model`` is not a :class:`McSimclrModel`.
        ValueError: more than one source per clip, or a class the model does not know.
    """
    if not isinstance(model, McSimclrModel):
        raise TypeError(f"finetune_step needs a McSimclrModel, got {type(model).__name__}")
    classes, azimuth = _labels(batch, model.class_names)
    audio = batch["noisy"]
    if context is not None and context.generator is not None:
        audio, mapped, _ = channel_swap(
            audio, model.config.symmetries(), context.generator, probability=channel_swap_p, azimuth=azimuth
        )
        assert mapped is not None
        azimuth = mapped
        if crop is not None and crop < audio.shape[-1]:
            audio = random_crops(audio, crop, context.generator)
    logits, cos_sin = model(model.frontend(audio))
    return _head_losses(logits, cos_sin, classes, azimuth, azimuth_weight)


def probe_step(
    model: nn.Module, batch: Sequence[Tensor], *, azimuth_weight: float = 1.0
) -> dict[str, Tensor]:
    """The heads' losses on cached embeddings: ``batch = (embeddings, class index, azimuth)``.

    Raises:
        TypeError: ``model`` is not a :class:`McSimclrHeads`.
    """
    if not isinstance(model, McSimclrHeads):
        raise TypeError(f"probe_step needs McSimclrHeads, got {type(model).__name__}")
    embeddings, classes, azimuth = batch
    logits, cos_sin = model(embeddings)
    return _head_losses(logits, cos_sin, classes, azimuth, azimuth_weight)


# -------------------------------------------------------------------------------------------- training


def dataset_classes(dataset_dir: str | os.PathLike[str]) -> list[str]:
    """The sorted sound classes of every example of a dataset (all splits: the vocabulary, not the labels
    of the test set).

    Raises:
        ManifestError: no manifest.
        ValueError: an example without exactly one class.
    """
    rows = ManifestDataset(dataset_dir, signals=(), check_files=False).rows
    names = set()
    for row in rows:
        value = row.get("class")
        if not isinstance(value, list) or len(value) != 1:
            raise ValueError(
                f"example {row.get('id')} of {dataset_dir} has classes {value!r}, not exactly one"
            )
        names.add(str(value[0]))
    return sorted(names)


def _dataset(dataset_dir: str | os.PathLike[str], config: McSimclrConfig, **kwargs: Any) -> ManifestDataset:
    dataset = ManifestDataset(dataset_dir, signals=("noisy",), **kwargs)
    row = dataset.rows[0]
    rate, channels = row.get("sample_rate"), row.get("num_channels")
    if isinstance(rate, int) and rate != config.sample_rate:
        raise ValueError(
            f"dataset {dataset_dir} is at {rate} Hz but the front-end expects {config.sample_rate} Hz"
        )
    if isinstance(channels, int) and channels != config.frontend.num_channels:
        raise ValueError(
            f"dataset {dataset_dir} has {channels} channels but the front-end reads "
            f"{config.frontend.num_channels}"
        )
    return dataset


def _val_set(dataset_dir: str | os.PathLike[str], config: McSimclrConfig) -> ManifestDataset | None:
    try:
        return _dataset(dataset_dir, config, split="val")
    except ManifestError:
        return None


def pretrain(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: McSimclrConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    progress: bool = False,
) -> TrainedModel:
    """Pretrain a :class:`McSimclrPretrainer` on the ``train`` split's ``noisy`` audio (no label is read).

    The ``val`` split, when present, is validated on (NT-Xent of un-augmented first and last crops). Batches
    are full (the last incomplete one is dropped: gathered negatives need equal batches on every process).
    Exports ``out_dir/best`` and ``out_dir/last`` (:func:`spatialrep.train.fit`).

    Raises:
        ManifestError: no manifest, no train split.
        ValueError: the dataset's sample rate or channel count differs from the front-end's; clips shorter
            than a view; fewer training clips than a batch.
    """
    config = config or McSimclrConfig()
    train_config = train_config or TrainConfig()
    train_set = _dataset(dataset_dir, config, split="train")
    if len(train_set) < train_config.batch_size:
        raise ValueError(
            f"{len(train_set)} training clips in {dataset_dir} do not fill one batch of "
            f"{train_config.batch_size}"
        )
    train, val = train_val_loaders(
        train_set,
        _val_set(dataset_dir, config),
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        num_workers=train_config.num_workers,
        collate_fn=collate_examples,
        drop_last=True,
    )
    return train_model(
        McSimclrPretrainer, {"config": config.to_dict()}, pretrain_step, train, val, train_config, out_dir,
        feature_config=config.frontend, progress=progress,
    )  # fmt: skip


def _load_pretrainer(init_from: str | os.PathLike[str]) -> McSimclrPretrainer:
    loaded, _ = load_checkpoint(checkpoint_dir(init_from))
    if not isinstance(loaded, McSimclrPretrainer):
        raise ValueError(f"init_from={init_from!s} holds a {type(loaded).__name__}, not a McSimclrPretrainer")
    return loaded


class Embeddings:
    """Clip embeddings with their labels, in dataset order.

    Attributes:
        ids: example ids.
        embedding: ``(n, D)`` float32.
        classes: ``(n,)`` class indices (into the model's ``class_names``).
        azimuth: ``(n,)`` radians, float32.
    """

    def __init__(self, ids: Sequence[str], embedding: Tensor, classes: Tensor, azimuth: Tensor) -> None:
        self.ids = list(ids)
        self.embedding, self.classes, self.azimuth = embedding, classes, azimuth

    def select(self, ids: Sequence[str]) -> Embeddings:
        """The rows of ``ids``, in that order.

        Raises:
            ValueError: an id that is not here.
        """
        where = {name: k for k, name in enumerate(self.ids)}
        missing = [i for i in ids if i not in where]
        if missing:
            raise ValueError(f"{len(missing)} example(s) have no embedding (first: {missing[0]})")
        index = torch.tensor([where[i] for i in ids], dtype=torch.long)
        return Embeddings(ids, self.embedding[index], self.classes[index], self.azimuth[index])

    def tensors(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.embedding, self.classes, self.azimuth


def _embedder_key(model: _ClassAzimuthModel) -> str:
    """Identifies what the embeddings depend on: the config, the classes and every weight but the heads'."""
    identity = {"config": model.config.to_dict(), "classes": model.class_names, "kind": type(model).__name__}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        if not name.startswith("heads."):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.no_grad()
def _compute_embeddings(model: _ClassAzimuthModel, dataset: ManifestDataset, batch_size: int) -> Embeddings:
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_examples)
    out: list[Tensor] = []
    classes: list[Tensor] = []
    azimuths: list[Tensor] = []
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            index, azimuth = _labels(batch, model.class_names)
            out.append(model.embed_maps(model.frontend(batch["noisy"])).float().cpu())
            classes.append(index.cpu())
            azimuths.append(azimuth.float().cpu())
    finally:
        model.train(was_training)
    ids = [str(row["id"]) for row in dataset.rows]
    return Embeddings(ids, torch.cat(out), torch.cat(classes), torch.cat(azimuths))


def split_embeddings(
    model: _ClassAzimuthModel,
    dataset_dir: str | os.PathLike[str],
    split: str,
    *,
    cache: str | os.PathLike[str] | None = None,
    batch_size: int = 32,
) -> Embeddings:
    """The embeddings of every clip of a split (eval mode, no augmentation), optionally cached.

    With ``cache``, ``<cache>/<split>.npz`` is read when it was made by a model with the same configuration,
    classes and weights (heads aside), else computed and written: a frozen encoder's embeddings are computed
    once for every probe, budget and seed that reads them.

    Raises:
        ManifestError: no such split.
        ValueError: a dataset of another rate or channel count.
    """
    path = Path(cache) / f"{split}.npz" if cache is not None else None
    key = _embedder_key(model)
    if path is not None and path.is_file():
        stored = load_npz(path, ["ids", "embedding", "classes", "azimuth", "key"])
        if str(stored["key"]) == key:
            return Embeddings(
                [str(i) for i in stored["ids"]],
                torch.from_numpy(stored["embedding"]),
                torch.from_numpy(stored["classes"]),
                torch.from_numpy(stored["azimuth"]),
            )
    found = _compute_embeddings(model, _dataset(dataset_dir, model.config, split=split), batch_size)
    if path is not None:
        arrays = {
            "ids": np.array(found.ids),
            "embedding": found.embedding.numpy(),
            "classes": found.classes.numpy(),
            "azimuth": found.azimuth.numpy(),
            "key": np.array(key),
        }
        save_npz(path, arrays)
    return found


def linear_probe(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    train_config: TrainConfig | None = None,
    *,
    init_from: str | os.PathLike[str] | None = None,
    config: McSimclrConfig | None = None,
    source: str = "encoder",
    budget: str | None = None,
    class_names: Sequence[str] | None = None,
    azimuth_weight: float = 1.0,
    embedding_cache: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> TrainedModel:
    """Train the two linear heads on frozen embeddings computed once (no augmentation, eval mode).

    The embeddings of the labelled clips (``budget``, else the whole train split) and of the ``val`` split
    are computed once; the heads (:class:`McSimclrHeads`, inputs standardised with the training embeddings'
    statistics) train on them with :func:`spatialrep.train.train_model` in ``out_dir/heads``. The encoder is
    never put in training mode, so its weights and batch-norm statistics stay as they were. The assembled
    model is saved to ``out_dir/model``.

    Args:
        dataset_dir: a rendered dataset with single-source ``noisy`` clips and ``class`` / ``azimuth`` labels.
        out_dir: the output folder.
        train_config: the heads' optimisation (its ``seed`` also seeds a random encoder).
        init_from: a :func:`pretrain` output whose encoder is probed; ``None`` with ``source="encoder"``
            probes a randomly initialised encoder (the random-init baseline).
        config: the model (default: the pretrained one's, else ``McSimclrConfig()``).
        source: ``"encoder"`` (:class:`McSimclrModel`) or ``"features"`` (:class:`McSimclrFeatureProbe`,
            the time-averaged feature maps).
        budget: a label budget of the dataset (``budgets/<budget>.csv``).
        class_names: the classes (default: :func:`dataset_classes`).
        azimuth_weight: the azimuth MSE's weight.
        embedding_cache: a folder for the embeddings of the whole train and val splits
            (:func:`split_embeddings`), shared by the probes of one encoder (every budget and seed).
        progress: Lightning's progress bar.

    Returns:
        The assembled model (eval mode) with the heads' fit and ``out_dir/model``.

    Raises:
        ValueError: an unknown source, ``init_from`` with ``source="features"``, an ``init_from`` that is not
            a pretraining checkpoint or does not fit ``config``.
        ManifestError: missing split, budget or signal.
    """
    if source not in PROBE_SOURCES:
        raise ValueError(f"linear_probe source={source!r} is not one of {', '.join(PROBE_SOURCES)}")
    if source == "features" and init_from is not None:
        raise ValueError("a feature probe has no encoder: init_from must be None with source='features'")
    train_config = train_config or TrainConfig()
    pretrained = _load_pretrainer(init_from) if init_from is not None else None
    config = config or (pretrained.config if pretrained is not None else McSimclrConfig())
    names = list(class_names) if class_names is not None else dataset_classes(dataset_dir)
    factory = McSimclrModel if source == "encoder" else McSimclrFeatureProbe
    kwargs: dict[str, Any] = {"config": config.to_dict(), "class_names": names}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        model: _ClassAzimuthModel = factory(**kwargs)
    if pretrained is not None:
        assert isinstance(model, McSimclrModel)
        model.load_encoder(pretrained)
    model.eval()
    batch = max(train_config.batch_size, 32)
    labelled = _dataset(dataset_dir, config, split="train", budget=budget)
    if embedding_cache is None:
        train_emb = _compute_embeddings(model, labelled, batch)
    else:
        everything = split_embeddings(model, dataset_dir, "train", cache=embedding_cache, batch_size=batch)
        train_emb = everything.select([str(row["id"]) for row in labelled.rows])
    val_emb = None
    if _val_set(dataset_dir, config) is not None:
        val_emb = split_embeddings(model, dataset_dir, "val", cache=embedding_cache, batch_size=batch)
    train, val = train_val_loaders(
        TensorDataset(*train_emb.tensors()),
        None if val_emb is None else TensorDataset(*val_emb.tensors()),
        batch_size=train_config.batch_size,
        seed=train_config.seed,
    )

    def prepare(heads: nn.Module) -> None:
        assert isinstance(heads, McSimclrHeads)
        heads.standardise_with(train_emb.embedding)

    trained = train_model(
        McSimclrHeads, {"input_dim": int(train_emb.embedding.shape[1]), "num_classes": len(names)},
        functools.partial(probe_step, azimuth_weight=azimuth_weight), train, val, train_config,
        Path(out_dir) / "heads", prepare=prepare, progress=progress,
    )  # fmt: skip
    model.heads.load_state_dict(trained.model.state_dict())
    name = "mcsimclr_model" if source == "encoder" else "mcsimclr_feature_probe"
    extra = {"heads": str(trained.checkpoint), "global_step": trained.fit.global_step, "source": source}
    folder = save_checkpoint(
        Path(out_dir) / "model", model, model_name=name, model_kwargs=kwargs, feature_config=config.frontend,
        extra=extra,
    )  # fmt: skip
    return TrainedModel(model.eval(), trained.fit, folder)


def finetune(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    train_config: TrainConfig | None = None,
    *,
    init_from: str | os.PathLike[str] | None = None,
    config: McSimclrConfig | None = None,
    budget: str | None = None,
    class_names: Sequence[str] | None = None,
    options: FinetuneOptions | None = None,
    progress: bool = False,
) -> TrainedModel:
    """Train a :class:`McSimclrModel` end to end on labelled clips (ChannelSwap with relabelling).

    Args:
        dataset_dir: a rendered dataset with single-source ``noisy`` clips.
        out_dir: :func:`spatialrep.train.fit`'s folder.
        train_config: optimisation settings.
        init_from: a :func:`pretrain` output whose encoder initialises ours; ``None``: a random encoder (the
            supervised-from-scratch baseline).
        config: the model (default: the pretrained one's, else ``McSimclrConfig()``).
        budget: a label budget (``budgets/<budget>.csv``), else the whole train split.
        class_names: the classes (default: :func:`dataset_classes`).
        options: :class:`FinetuneOptions`.
        progress: Lightning's progress bar.

    Raises:
        ValueError: ``init_from`` that is not a pretraining checkpoint or does not fit ``config``; a dataset
            of another rate or channel count.
        ManifestError: missing split, budget or signal.
    """
    train_config = train_config or TrainConfig()
    options = options or FinetuneOptions()
    pretrained = _load_pretrainer(init_from) if init_from is not None else None
    config = config or (pretrained.config if pretrained is not None else McSimclrConfig())
    names = list(class_names) if class_names is not None else dataset_classes(dataset_dir)
    train, val = train_val_loaders(
        _dataset(dataset_dir, config, split="train", budget=budget),
        _val_set(dataset_dir, config),
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        num_workers=train_config.num_workers,
        collate_fn=collate_examples,
    )

    def prepare(model: nn.Module) -> None:
        assert isinstance(model, McSimclrModel)
        if pretrained is not None:
            model.load_encoder(pretrained)
            model.encoder_lr_scale = options.encoder_lr_scale

    step = functools.partial(
        finetune_step,
        channel_swap_p=options.channel_swap,
        azimuth_weight=options.azimuth_weight,
        crop=config.crop_samples if options.crop else None,
    )
    return train_model(
        McSimclrModel, {"config": config.to_dict(), "class_names": names}, step, train, val, train_config,
        out_dir, feature_config=config.frontend, prepare=prepare, progress=progress,
    )  # fmt: skip


def load_mcsimclr(path: str | os.PathLike[str]) -> nn.Module:
    """Load any MC-SimCLR checkpoint (a pretrainer, a probe, a fine-tuned model, the heads) by path.

    Args:
        path: a checkpoint folder or a training folder (``model/``, ``best/`` or ``last/`` inside).

    Raises:
        FileNotFoundError: no checkpoint there.
        ValueError: a checkpoint of another method, or corrupt files.
    """
    folder = Path(path)
    if (folder / "model" / "model.json").is_file():
        folder = folder / "model"
    model, meta = load_checkpoint(checkpoint_dir(folder))
    if not isinstance(model, McSimclrPretrainer | McSimclrHeads | _ClassAzimuthModel):
        raise ValueError(f"{path} holds a {meta.model_name!r} checkpoint, not an MC-SimCLR model")
    return model
