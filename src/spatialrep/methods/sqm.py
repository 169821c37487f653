"""SQM-BS (Manocha et al., Interspeech 2023): a learned binaural spatialization-quality metric.

A stride-free 1-D ResNet + 2 BiLSTM encoder (``resnet1d_bilstm``) reads raw waveform frames of (left, right,
dry mono) — or (left, right) in the 2-channel ablation — and is trained with a triplet loss on the cosine
distance of a 16-d embedding (anchor and positive closer in direction than anchor and negative, three
different utterances), optionally with DoA classification (label-smoothed cross-entropy over azimuth and
elevation classes) and a "binaural-decoder" regression onto an embedding of the source view
(:mod:`spatialrep.methods.view_synth`, a SUB). The metric (Eq. 2) is the deep-feature distance
``D(x1, x2) = sum_l ||f_l(x1) - f_l(x2)||_1 / (T_l C_l)`` over the residual blocks and both LSTM layers.

* :class:`SqmConfig` / :class:`SqmModel` (registered ``sqm``): variants ``triplet``, ``doa`` (+DoA), ``dec``
  (+decoder), ``combined`` (SQM-BS); stand-ins for the DoA-model metrics DPLM / SAQAM: ``doa-classif`` and
  ``doa-regress`` (the same encoder trained on DoA only, used through Eq. 2).
* :func:`sqm_step`, :func:`train_sqm` (through :func:`spatialrep.train.train_model`).
* :class:`SpatialQualityMetric`: the frozen metric as a differentiable torch loss,
  ``SpatialQualityMetric.from_checkpoint(run)(ref, test, ref_mono=None, test_mono=None) -> (B,)``.

The model is a :class:`~spatialrep.methods.base.QualityMetric` (``score``), an
:class:`~spatialrep.methods.base.Embedder` (``embed``) and a :class:`~spatialrep.methods.base.Localizer`
(``localize``, DoA-trained variants only). See ``docs/sqm.md``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spatialrep.config import ConfigError, as_config, check_sections, to_dict
from spatialrep.features.functional import frame_waveform
from spatialrep.losses.triplet import CosineDistance, TripletMarginLoss
from spatialrep.methods.base import Directions, check_audio
from spatialrep.methods.registry import load_model
from spatialrep.methods.view_synth import ViewEmbedding
from spatialrep.models import EncoderConfig
from spatialrep.models.resnet1d import ResNet1dBiLSTM
from spatialrep.train import TrainConfig, TrainedModel, make_loader, register_model, train_model

__all__ = [
    "METRIC_MODES",
    "SQM_VARIANTS",
    "SpatialQualityMetric",
    "SqmConfig",
    "SqmModel",
    "deep_feature_distance",
    "sqm_step",
    "train_sqm",
]

SQM_VARIANTS = ("triplet", "doa", "dec", "combined", "doa-classif", "doa-regress")
"""``triplet``: Eq. 1 only; ``doa`` / ``dec``: plus DoA classification / the decoder task; ``combined``:
SQM-BS (all three); ``doa-classif`` / ``doa-regress``: DoA models only (stand-ins for DPLM / SAQAM)."""

METRIC_MODES = ("deep", "embedding")
"""``deep``: Eq. 2 over the feature maps; ``embedding``: ``1 - cos`` of the 16-d embeddings."""


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(
        "resnet1d_bilstm", {"blocks": 2, "channels": 16, "lstm_hidden": 32, "lstm_layers": 2}
    )


@dataclasses.dataclass(frozen=True)
class SqmConfig:
    """An SQM-BS model.

    Attributes:
        variant: one of :data:`SQM_VARIANTS`.
        sample_rate: Hz.
        segment_s: training clip length (the metric accepts any length of at least one frame).
        frame_ms: space-to-depth frame length (*ours*: the paper states no frame rate).
        use_mono: 3-channel input (left, right, dry mono); ``False`` is the 2-channel ablation.
        encoder: any registered encoder whose ``layer_features`` gives the Eq. 2 maps (``resnet1d_bilstm``).
        embedding_dim: triplet embedding size (the paper's 16).
        azimuth_step_deg: DoA azimuth class width over the full circle.
        elevations_deg: DoA elevation classes (rings).
        margin: triplet margin ``δ`` (the paper's 1).
        doa_weight, dec_weight: ``λ`` of the DoA and decoder losses.
        label_smoothing: of the DoA cross-entropy (0.25 as in DPLM).
        view_dim, view_seed: the decoder target (:class:`~spatialrep.methods.view_synth.ViewEmbedding`).
    """

    variant: str = "combined"
    sample_rate: int = 16000
    segment_s: float = 0.5
    frame_ms: float = 2.0
    use_mono: bool = True
    encoder: EncoderConfig = dataclasses.field(default_factory=_default_encoder)
    embedding_dim: int = 16
    azimuth_step_deg: float = 10.0
    elevations_deg: tuple[float, ...] = (-20.0, 0.0, 20.0, 40.0)
    margin: float = 1.0
    doa_weight: float = 1.0
    dec_weight: float = 1.0
    label_smoothing: float = 0.25
    view_dim: int = 64
    view_seed: int = 0

    def __post_init__(self) -> None:
        check_sections(self, {"encoder": EncoderConfig})
        if self.variant not in SQM_VARIANTS:
            raise ConfigError(f"variant={self.variant!r} is not one of {', '.join(SQM_VARIANTS)}")
        if not (isinstance(self.sample_rate, int) and self.sample_rate >= 8000):
            raise ConfigError(f"sample_rate={self.sample_rate!r} must be an integer >= 8000")
        if not (math.isfinite(self.segment_s) and self.segment_s > 0):
            raise ConfigError(f"segment_s={self.segment_s!r} must be > 0")
        if not (math.isfinite(self.frame_ms) and self.frame_ms > 0) or self.frame_samples < 1:
            raise ConfigError(f"frame_ms={self.frame_ms!r} must give at least one sample per frame")
        if not (0 < self.azimuth_step_deg <= 90 and (360.0 / self.azimuth_step_deg).is_integer()):
            raise ConfigError(f"azimuth_step_deg={self.azimuth_step_deg!r} must divide 360 and be in (0, 90]")
        object.__setattr__(self, "elevations_deg", tuple(float(e) for e in self.elevations_deg))
        if not self.elevations_deg:
            raise ConfigError("elevations_deg must list at least one ring")
        for name in ("embedding_dim", "view_dim"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 2):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be an integer >= 2")
        if self.view_dim % 2:
            raise ConfigError(f"view_dim={self.view_dim!r} must be even")
        for name in ("margin", "doa_weight", "dec_weight"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing={self.label_smoothing!r} must be in [0, 1)")

    @property
    def frame_samples(self) -> int:
        return round(self.frame_ms * self.sample_rate / 1000.0)

    @property
    def input_channels(self) -> int:
        return 3 if self.use_mono else 2

    @property
    def num_azimuths(self) -> int:
        return round(360.0 / self.azimuth_step_deg)

    @property
    def uses_triplet(self) -> bool:
        return self.variant in ("triplet", "doa", "dec", "combined")

    @property
    def uses_doa(self) -> bool:
        return self.variant in ("doa", "combined", "doa-classif")

    @property
    def uses_dec(self) -> bool:
        return self.variant in ("dec", "combined")

    @property
    def localizes(self) -> bool:
        """Whether the variant is trained to localize (its ``localize`` means something)."""
        return self.uses_doa or self.variant == "doa-regress"

    def replace(self, **changes: Any) -> SqmConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def deep_feature_distance(maps_a: Sequence[Tensor], maps_b: Sequence[Tensor]) -> Tensor:
    """Eq. 2: ``sum_l mean_{t,c} |a_l - b_l|`` of ``(B, T_l, C_l)`` feature maps -> ``(B,)``."""
    if len(maps_a) != len(maps_b) or not maps_a:
        raise ValueError("deep_feature_distance needs the same, non-empty list of maps on both sides")
    total = maps_a[0].new_zeros(maps_a[0].shape[0])
    for a, b in zip(maps_a, maps_b, strict=True):
        total = total + (a - b).abs().flatten(1).mean(dim=1)
    return total


@register_model("sqm")
class SqmModel(nn.Module):
    """The SQM-BS network: encoder, embedding, DoA, regression and decoder heads.

    Args:
        config: an :class:`SqmConfig` or its dict.

    Shape:
        ``forward``: audio ``(batch, input_channels, time)`` (left, right[, mono]) -> a dict of ``maps`` (list
        of ``(batch, frames, C_l)``), ``pooled`` ``(batch, 64)``, ``embedding`` ``(batch, embedding_dim)``,
        ``az_logits``, ``el_logits``, ``regression`` ``(batch, 3)`` (cos az, sin az, el) and ``decoded``
        ``(batch, view_dim)``.
    """

    num_channels = 2

    def __init__(self, config: SqmConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = as_config(SqmConfig, config)
        cfg = self.config
        self.encoder = cfg.encoder.build(cfg.input_channels * cfg.frame_samples)
        if not hasattr(self.encoder, "layer_features"):
            raise ConfigError(f"encoder {cfg.encoder.name!r} has no layer_features (Eq. 2 needs its maps)")
        width = self.encoder.output_dim
        self.embedding_head = nn.Linear(width, cfg.embedding_dim)
        self.azimuth_head = nn.Linear(width, cfg.num_azimuths)
        self.elevation_head = nn.Linear(width, len(cfg.elevations_deg))
        self.regression_head = nn.Linear(width, 3)
        self.decoder_head = nn.Linear(width, cfg.view_dim)
        self.view = ViewEmbedding(cfg.view_dim, seed=cfg.view_seed)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def min_samples(self) -> int:
        return self.config.frame_samples

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    def feature_maps(self, audio: Tensor) -> list[Tensor]:
        """Eq. 2's maps of ``(batch, input_channels, time)`` audio.

        *Ours*: each clip is first scaled to unit RMS over its two ears (the mono to its own unit RMS), which
        keeps every interaural difference but removes the overall level; without it the small raw samples
        (RMS ~0.03) left the first layer's gradients near zero and nothing was learned in short runs.
        """
        binaural = audio[:, :2]
        level = binaural.pow(2).mean(dim=(1, 2), keepdim=True).add(1e-10).sqrt()
        parts = [binaural / level]
        if audio.shape[1] > 2:
            mono = audio[:, 2:]
            parts.append(mono / mono.pow(2).mean(dim=(1, 2), keepdim=True).add(1e-10).sqrt())
        frames = frame_waveform(torch.cat(parts, dim=1), self.config.frame_samples).transpose(1, 2)
        encoder: ResNet1dBiLSTM = self.encoder  # type: ignore[assignment]
        return encoder.layer_features(frames)

    def forward(self, audio: Tensor) -> dict[str, Any]:
        maps = self.feature_maps(audio)
        pooled = maps[-1].mean(dim=1)
        return {
            "maps": maps,
            "pooled": pooled,
            "embedding": self.embedding_head(pooled),
            "az_logits": self.azimuth_head(pooled),
            "el_logits": self.elevation_head(pooled),
            "regression": self.regression_head(pooled),
            "decoded": self.decoder_head(pooled),
        }

    # ------------------------------------------------------------------------------------- inputs

    def prepare(self, binaural: Tensor, mono: Tensor | None, name: str, *, warn: bool = True) -> Tensor:
        """``(batch, 2, time)`` binaural audio (+ mono) -> the model's input channels.

        Without a mono signal a 3-channel model gets ``(L + R) / 2`` and a warning (``warn``).

        Raises:
            ValueError: a mono signal of another length or batch.
        """
        if not self.config.use_mono:
            return binaural
        if mono is None:
            if warn:
                warnings.warn(
                    f"no mono signal for {name}: using (left + right) / 2 (SQM-BS trains with a dry mono)",
                    UserWarning,
                    stacklevel=3,
                )
            mono = 0.5 * (binaural[:, 0] + binaural[:, 1])
        if mono.ndim == 1:
            mono = mono.unsqueeze(0)
        if mono.ndim == 3:
            if mono.shape[1] != 1:
                raise ValueError(f"{name} mono must have one channel, got shape {tuple(mono.shape)}")
            mono = mono[:, 0]
        if mono.shape[0] != binaural.shape[0] or mono.shape[-1] != binaural.shape[-1]:
            raise ValueError(
                f"{name} mono has shape {tuple(mono.shape)}, "
                f"expected ({binaural.shape[0]}, {binaural.shape[-1]})"
            )
        if not bool(torch.isfinite(mono).all()):
            raise ValueError(f"{name} mono contains NaN or infinite samples")
        return torch.cat([binaural, mono.to(binaural.dtype).unsqueeze(1)], dim=1)

    def _audio(self, audio: Tensor, sample_rate: int, name: str = "audio") -> Tensor:
        """Accept ``(batch, 2 or 3, time)``; a 3rd channel is the mono (dropped by a 2-channel model)."""
        if isinstance(audio, Tensor) and audio.ndim in (2, 3) and audio.shape[-2] == 3:
            checked = check_audio(audio, sample_rate, expected_rate=self.sample_rate, num_channels=3,
                                  min_samples=self.min_samples, name=name)  # fmt: skip
            return checked if self.config.use_mono else checked[:, :2]
        checked = check_audio(audio, sample_rate, expected_rate=self.sample_rate, num_channels=2,
                              min_samples=self.min_samples, name=name)  # fmt: skip
        return self.prepare(checked, None, name)

    # ------------------------------------------------------------------------------------- protocols

    def score(self, reference: Tensor, test: Tensor, mode: str = "deep") -> Tensor:
        """``QualityMetric``: Eq. 2 (or ``1 - cos`` of the embeddings) of ``(batch, 2 or 3, time)`` pairs."""
        ref = self._audio(reference, self.sample_rate, "reference")
        tst = self._audio(test, self.sample_rate, "test")
        if ref.shape != tst.shape:
            raise ValueError(f"reference {tuple(ref.shape)} and test {tuple(tst.shape)} differ in shape")
        return distance(self, ref, tst, mode)

    @torch.no_grad()
    def embed(self, audio: Tensor, sample_rate: int) -> Tensor:
        """``Embedder``: the ``(batch, embedding_dim)`` triplet embedding (eval mode)."""
        x = self._audio(audio, sample_rate)
        was = self.training
        try:
            return self.eval()(x)["embedding"]
        finally:
            self.train(was)

    @torch.no_grad()
    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """``Localizer``: the DoA head (classes, or the regression of ``doa-regress``); radians."""
        x = self._audio(audio, sample_rate)
        was = self.training
        try:
            out = self.eval()(x)
        finally:
            self.train(was)
        cfg = self.config
        if cfg.variant == "doa-regress":
            reg = out["regression"].double()
            azimuth = torch.atan2(reg[:, 1], reg[:, 0]).cpu().numpy()
            elevation = reg[:, 2].clamp(-math.pi / 2, math.pi / 2).cpu().numpy()
        else:
            centres = np.radians(-180.0 + cfg.azimuth_step_deg * np.arange(cfg.num_azimuths))
            rings = np.radians(np.asarray(cfg.elevations_deg))
            azimuth = centres[out["az_logits"].argmax(dim=1).cpu().numpy()]
            elevation = rings[out["el_logits"].argmax(dim=1).cpu().numpy()]
        return Directions(
            azimuth=np.asarray(azimuth, np.float64), elevation=np.asarray(elevation, np.float64)
        )


def distance(model: SqmModel, reference: Tensor, test: Tensor, mode: str = "deep") -> Tensor:
    """``(batch,)`` distances between prepared inputs ``(batch, input_channels, time)``; each side is run on
    its own (so ``D(x, x) = 0`` exactly) with cuDNN off (its LSTM has no backward in eval mode)."""
    if mode not in METRIC_MODES:
        raise ValueError(f"unknown metric mode {mode!r}; valid: {', '.join(METRIC_MODES)}")
    with torch.backends.cudnn.flags(enabled=False):
        if mode == "deep":
            return deep_feature_distance(model.feature_maps(reference), model.feature_maps(test))
        a, b = model(reference)["embedding"], model(test)["embedding"]
        return CosineDistance().paired(a, b)


# ------------------------------------------------------------------------------------------ training


def sqm_step(model: SqmModel, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """One batch of triplets (:class:`~spatialrep.data.sqm_pairs.TripletDataset`): the variant's loss.

    ``L = max(0, d(a, p) - d(a, n) + δ) + λ_doa (CE_az + CE_el) + λ_dec (1 - cos(dec, target))`` with the
    terms of the variant (``doa-classif``: the CE only; ``doa-regress``: the MSE of (cos az, sin az, el)).
    """
    cfg = model.config
    audio = batch["audio"]  # (B, 3, channels, time): anchor, positive, negative
    b = audio.shape[0]
    out = model(audio[:, :, : cfg.input_channels].flatten(0, 1))
    logs: dict[str, Tensor] = {}
    loss = audio.new_zeros(())
    if cfg.uses_triplet:
        emb = out["embedding"].view(b, 3, -1)
        triplet = TripletMarginLoss(cfg.margin).compute_loss(emb[:, 0], emb[:, 1], emb[:, 2])
        logs["triplet"] = triplet
        loss = loss + triplet
    if cfg.uses_doa:
        smoothing = cfg.label_smoothing
        ce_az = nn.functional.cross_entropy(
            out["az_logits"], batch["az_class"].flatten(), label_smoothing=smoothing
        )
        ce_el = nn.functional.cross_entropy(
            out["el_logits"], batch["el_class"].flatten(), label_smoothing=smoothing
        )
        logs["doa"] = ce_az + ce_el
        loss = loss + (cfg.doa_weight if cfg.uses_triplet else 1.0) * logs["doa"]
    if cfg.variant == "doa-regress":
        az, el = batch["azimuth"].flatten(), batch["elevation"].flatten()
        target = torch.stack([torch.cos(az), torch.sin(az), el], dim=1)
        logs["regression"] = nn.functional.mse_loss(out["regression"], target)
        loss = loss + logs["regression"]
    if cfg.uses_dec:
        target = model.view(batch["view"].flatten(0, 1))
        logs["dec"] = CosineDistance().paired(out["decoded"], target).mean()
        loss = loss + cfg.dec_weight * logs["dec"]
    return {"loss": loss, **logs}


def train_sqm(
    config: SqmConfig,
    train_data: Any,
    train_config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    val_data: Any = None,
    progress: bool = False,
) -> TrainedModel:
    """Train one variant on triplet datasets with :func:`~spatialrep.train.train_model` (resumable).

    Args:
        config: the model.
        train_data, val_data: :class:`~spatialrep.data.sqm_pairs.TripletDataset` (``val_data`` may be
            ``None``: the last weights are kept).
        train_config: optimisation (``batch_size`` triplets per step).
        out_dir: the run folder (``model``-loadable by :func:`spatialrep.methods.load_model`).
    """
    train_loader = make_loader(train_data, batch_size=train_config.batch_size, seed=train_config.seed)
    val_loader = (
        None
        if val_data is None
        else make_loader(val_data, batch_size=train_config.batch_size, shuffle=False, seed=train_config.seed)
    )
    return train_model(
        SqmModel, {"config": config.to_dict()}, sqm_step, train_loader, val_loader, train_config, out_dir,
        progress=progress,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ the metric


class SpatialQualityMetric(nn.Module):
    """A trained SQM-BS model as a frozen, differentiable distance (a torch loss).

    ``metric(ref, test, ref_mono=None, test_mono=None) -> (B,)``: ``ref`` and ``test`` are ``(B, 2, time)``
    (or ``(2, time)``) binaural signals at the model's rate; the monos ``(B, time)``. Without a mono a
    3-channel model gets ``(L + R) / 2`` and a warning. The weights never receive gradients; the inputs do.
    ``D(x, x) = 0`` exactly, ``D`` is symmetric and non-negative.

    Args:
        model: a trained :class:`SqmModel`.
        mode: ``deep`` (Eq. 2) or ``embedding`` (``1 - cos``).
    """

    def __init__(self, model: SqmModel, mode: str = "deep") -> None:
        super().__init__()
        if not isinstance(model, SqmModel):
            raise TypeError(f"SpatialQualityMetric needs an SqmModel, got {type(model).__name__}")
        if mode not in METRIC_MODES:
            raise ValueError(f"unknown metric mode {mode!r}; valid: {', '.join(METRIC_MODES)}")
        self.model = model.eval().requires_grad_(False)
        self.mode = mode

    @classmethod
    def from_checkpoint(
        cls, run: str | os.PathLike[str], mode: str = "deep", device: str | torch.device = "cpu"
    ) -> SpatialQualityMetric:
        """Load a trained run (its folder, or ``model/``, ``best/``, ``last/``).

        Raises:
            FileNotFoundError: no checkpoint there.
            TypeError: the checkpoint is not an SQM-BS model.
        """
        model = load_model(run)
        if not isinstance(model, SqmModel):
            raise TypeError(f"{run} holds a {type(model).__name__}, not an SQM-BS model (sqm)")
        return cls(model, mode).to(device)

    def train(self, mode: bool = True) -> SpatialQualityMetric:
        super().train(mode)
        self.model.eval()  # frozen, whatever its parent does
        return self

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    def _side(self, audio: Tensor, mono: Tensor | None, name: str) -> Tensor:
        if not isinstance(audio, Tensor) or not audio.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor (batch, 2, time)")
        if audio.ndim == 2:
            audio = audio.unsqueeze(0)
        if audio.ndim != 3 or audio.shape[1] != 2:
            raise ValueError(f"{name} must have shape (batch, 2, time) (binaural), got {tuple(audio.shape)}")
        if audio.shape[-1] < self.model.min_samples:
            raise ValueError(
                f"{name} has {audio.shape[-1]} samples, fewer than one frame ({self.model.min_samples})"
            )
        if not bool(torch.isfinite(audio).all()):
            raise ValueError(f"{name} contains NaN or infinite samples")
        param = next(self.model.parameters())
        mono = None if mono is None else mono.to(param.dtype)
        return self.model.prepare(audio.to(param.dtype), mono, name, warn=False)

    def forward(
        self, ref: Tensor, test: Tensor, ref_mono: Tensor | None = None, test_mono: Tensor | None = None
    ) -> Tensor:
        if isinstance(ref, Tensor) and isinstance(test, Tensor) and ref.shape != test.shape:
            raise ValueError(f"ref {tuple(ref.shape)} and test {tuple(test.shape)} must have the same shape")
        if ref_mono is None and test_mono is not None:
            ref_mono = test_mono  # one mono given for both: the same source content
        if test_mono is None and ref_mono is not None:
            test_mono = ref_mono
        if ref_mono is None and self.model.config.use_mono:
            warnings.warn(
                "no mono signal given: using (left + right) / 2 of each side (SQM-BS trains with a dry mono)",
                UserWarning,
                stacklevel=2,
            )
        return distance(
            self.model, self._side(ref, ref_mono, "ref"), self._side(test, test_mono, "test"), self.mode
        )

    def score(self, reference: Tensor, test: Tensor) -> Tensor:
        """``QualityMetric``: :meth:`forward` without monos."""
        result: Tensor = self(reference, test)
        return result
