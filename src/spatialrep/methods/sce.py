"""SCE / WSCE — siamese contrastive embeddings for binaural localization (Tang, Taseska, van Waterschoot).

A measurement vector (:class:`~spatialrep.features.measurement.MeasurementConfig`, ``D = 729``) goes through
an MLP from the encoder registry (two hidden layers of ``D`` units, batch norm, sigmoid, dropout; linear 3-D
output). It is trained with the pairwise contrastive loss over all pairs of a mini-batch
(:class:`~spatialrep.losses.PairContrastiveLoss`) whose neighbourhoods come from azimuth *or* elevation (SCE,
supervised) or from the distance between unit-sphere source positions (WSCE, weakly supervised). A direction
is read off by Gaussian k-NN regression (:class:`~spatialrep.evaluate.KnnRegressor`) against the embedded
training set, which the trained :class:`SceEmbedding` carries as buffers, so a checkpoint alone localizes. See
``docs/sce.md``.

Units of the adaptive margin ``μ_ij = exp(d_ij) / (exp(d_ij) + 1)``: for SCE ``d_ij`` is the wrapped angle
difference in ``loss.margin_unit`` (``"degrees"``, the paper's literal choice: every negative pair then has
``μ ≥ 0.993``; or ``"radians"``); for WSCE ``d_ij`` is the chord between unit-sphere positions
(dimensionless, in unit-sphere radii, ``[0, 2]``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spatialrep.config import ConfigError, as_config, check_sections, to_dict
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.measurement_sets import direction_dataset
from spatialrep.evaluate.knn import KnnRegressor
from spatialrep.features.measurement import MeasurementConfig
from spatialrep.losses import (
    PairContrastiveLoss,
    arc_to_chord,
    supervised_label_distances,
    supervised_neighbours,
    weakly_supervised_label_distances,
    weakly_supervised_neighbours,
)
from spatialrep.methods.base import Directions, check_audio
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig, TrainedModel, register_model, train_model, train_val_loaders

__all__ = ["MODES", "KnnHead", "PairLossConfig", "SceConfig", "SceEmbedding", "make_step", "train_sce"]

MODES = ("sce", "wsce")
TARGETS = ("azimuth", "elevation")
MARGIN_UNITS = ("degrees", "radians")


def mlp_encoder(output_dim: int, hidden: int = 729, dropout: float = 0.2) -> EncoderConfig:
    """The paper's MLP: two hidden layers of ``hidden`` units, batch norm, sigmoid, dropout, linear output."""
    return EncoderConfig(
        "mlp",
        {
            "hidden_sizes": [hidden, hidden],
            "output_dim": output_dim,
            "batch_norm": True,
            "dropout": dropout,
            "activation": "sigmoid",
        },
    )


@dataclasses.dataclass(frozen=True)
class PairLossConfig:
    """The contrastive loss and its neighbourhoods.

    Attributes:
        mode: ``"sce"`` (supervised neighbourhoods of one angle) or ``"wsce"`` (unit-sphere positions).
        target: SCE only: the angle that defines neighbourhoods, ``"azimuth"`` or ``"elevation"``.
        epsilon_deg: neighbourhood threshold ``ε_u`` in degrees (WSCE uses ``ε_s = 2 sin(ε_u / 2)``, the
            chord of that arc on the unit sphere; the paper's arc approximation differs by < 0.2 %).
        margin: ``"adaptive"`` (eq. 14) or a positive constant ``μ``.
        margin_unit: SCE with an adaptive margin: unit of the angle difference ``d_ij`` fed to the margin.
    """

    mode: str = "sce"
    target: str = "azimuth"
    epsilon_deg: float = 5.0
    margin: str | float = "adaptive"
    margin_unit: str = "degrees"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"loss.mode={self.mode!r} is not one of {', '.join(MODES)}")
        if self.target not in TARGETS:
            raise ValueError(f"loss.target={self.target!r} is not one of {', '.join(TARGETS)}")
        eps = self.epsilon_deg
        if isinstance(eps, bool) or not (isinstance(eps, int | float) and 0.0 < eps <= 180.0):
            raise ValueError(f"loss.epsilon_deg={eps!r} must be in (0, 180]")
        if isinstance(self.margin, str):
            if self.margin != "adaptive":
                raise ValueError(f"loss.margin={self.margin!r} must be 'adaptive' or a positive number")
        elif isinstance(self.margin, bool) or not (math.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"loss.margin={self.margin!r} must be 'adaptive' or a positive number")
        if self.margin_unit not in MARGIN_UNITS:
            raise ValueError(f"loss.margin_unit={self.margin_unit!r} is not one of {', '.join(MARGIN_UNITS)}")


@dataclasses.dataclass(frozen=True)
class KnnHead:
    """The k-NN localizer: ``k`` neighbours, Gaussian weights (:class:`KnnRegressor`)."""

    k: int = 5

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"head.k={self.k!r} must be a positive integer")


@dataclasses.dataclass(frozen=True)
class SceConfig:
    """An SCE / WSCE model in four sections: ``frontend``, ``encoder``, ``loss``, ``head``.

    Raises:
        ConfigError: an invalid value (the field is named) or encoder arguments the encoder refuses.
    """

    frontend: MeasurementConfig = dataclasses.field(default_factory=MeasurementConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=lambda: mlp_encoder(3))
    loss: PairLossConfig = dataclasses.field(default_factory=PairLossConfig)
    head: KnnHead = dataclasses.field(default_factory=KnnHead)

    def __post_init__(self) -> None:
        check_sections(
            self,
            {
                "frontend": MeasurementConfig,
                "encoder": EncoderConfig,
                "loss": PairLossConfig,
                "head": KnnHead,
            },
        )
        try:
            with torch.device("meta"):
                self.encoder.build(self.frontend.dim)
        except ValueError as exc:
            raise ConfigError(f"SceConfig: {exc}") from exc

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def name(self) -> str:
        """Short label such as ``sce_azimuth_eps5`` or ``wsce_eps15``."""
        head = "wsce" if self.loss.mode == "wsce" else f"sce_{self.loss.target}"
        return f"{head}_eps{self.loss.epsilon_deg:g}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the checkpoint's ``feature_config``)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: unknown keys (named) or invalid values.
        """
        return config_from_dict(cls, data)


def _check_features(features: Tensor, dim: int) -> Tensor:
    if not isinstance(features, Tensor) or features.ndim != 2 or features.shape[1] != dim:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be (n, {dim}) measurement vectors, got {shape}")
    if not bool(torch.isfinite(features).all()):
        raise ValueError("features contain NaN or infinite values")
    return features


@register_model("sce_embedding")
class SceEmbedding(nn.Module):
    """The SCE / WSCE embedding network plus the k-NN reference set it localizes against.

    A :class:`~spatialrep.methods.base.Localizer` (azimuth and elevation) and an
    :class:`~spatialrep.methods.base.Embedder`.

    Args:
        config: an :class:`SceConfig` or its dict.
        num_references: size ``N`` of the reference set (buffers ``ref_embeddings`` ``(N, embedding_dim)``,
            ``ref_azimuth`` and ``ref_elevation`` ``(N,)``, radians); 0 before :meth:`set_references`.

    Shape:
        ``forward``: ``(batch, D) -> (batch, embedding_dim)``.
    """

    num_channels = 2
    ref_embeddings: Tensor
    ref_azimuth: Tensor
    ref_elevation: Tensor

    def __init__(self, config: SceConfig | Mapping[str, Any], num_references: int = 0) -> None:
        super().__init__()
        self.config = as_config(SceConfig, config)
        if isinstance(num_references, bool) or not isinstance(num_references, int) or num_references < 0:
            raise ValueError(f"num_references must be a non-negative integer, got {num_references!r}")
        self.encoder = self.config.encoder.build(self.config.frontend.dim)
        dim = int(self.encoder.output_dim)
        self.register_buffer("ref_embeddings", torch.zeros(num_references, dim))
        self.register_buffer("ref_azimuth", torch.zeros(num_references))
        self.register_buffer("ref_elevation", torch.zeros(num_references))
        self._knn: KnnRegressor | None = None

    @property
    def sample_rate(self) -> int:
        return self.config.frontend.sample_rate

    @property
    def min_samples(self) -> int:
        return self.config.frontend.n_fft

    @property
    def embedding_dim(self) -> int:
        return int(self.encoder.output_dim)

    @property
    def num_references(self) -> int:
        return int(self.ref_embeddings.shape[0])

    def forward(self, features: Tensor) -> Tensor:
        out: Tensor = self.encoder(features.unsqueeze(1))
        return out

    @torch.no_grad()
    def embed_features(self, features: Tensor, batch_size: int = 1024) -> Tensor:
        """Embeddings of measurement vectors in eval mode (no dropout, running batch-norm statistics).

        Shape:
            ``(n, D) -> (n, embedding_dim)``, on the model's device.
        """
        _check_features(features, self.config.frontend.dim)
        was_training = self.training
        self.eval()
        try:
            param = next(self.parameters())
            chunks = [
                self(features[i : i + batch_size].to(device=param.device, dtype=param.dtype))
                for i in range(0, features.shape[0], batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(chunks) if chunks else features.new_zeros(0, self.embedding_dim)

    def _features(self, audio: Tensor, sample_rate: int) -> Tensor:
        audio = check_audio(
            audio, sample_rate, expected_rate=self.sample_rate, num_channels=2, min_samples=self.min_samples
        )
        return self.config.frontend(audio.detach().cpu())

    def embed(self, audio: Tensor, sample_rate: int) -> Tensor:
        """Embeddings ``(batch, embedding_dim)`` of binaural clips ``(batch, 2, time)``."""
        return self.embed_features(self._features(audio, sample_rate))

    def set_references(self, features: Tensor, azimuth: Any, elevation: Any) -> None:
        """Embed the training measurement vectors and store them with their directions (radians).

        Raises:
            ValueError: mismatched lengths or fewer references than ``head.k``.
        """
        az = torch.as_tensor(np.asarray(azimuth, dtype=np.float64), dtype=torch.float32).reshape(-1)
        el = torch.as_tensor(np.asarray(elevation, dtype=np.float64), dtype=torch.float32).reshape(-1)
        if not features.shape[0] == az.shape[0] == el.shape[0]:
            raise ValueError(
                f"features ({features.shape[0]}), azimuth ({az.shape[0]}) and elevation ({el.shape[0]}) "
                "must have the same length"
            )
        if features.shape[0] < self.config.head.k:
            raise ValueError(f"need at least k={self.config.head.k} references, got {features.shape[0]}")
        z = self.embed_features(features)
        device = self.ref_embeddings.device
        self.ref_embeddings = z.to(device=device, dtype=torch.float32)
        self.ref_azimuth = az.to(device)
        self.ref_elevation = el.to(device)
        self._knn = None

    def _regressor(self) -> KnnRegressor:
        if self.num_references < self.config.head.k:
            raise RuntimeError(
                f"the model holds {self.num_references} k-NN references (< k={self.config.head.k}); "
                "call set_references first (or load a trained checkpoint)"
            )
        if self._knn is None:
            self._knn = KnnRegressor(self.config.head.k).fit(
                self.ref_embeddings.double().cpu().numpy(),
                self.ref_azimuth.double().cpu().numpy(),
                self.ref_elevation.double().cpu().numpy(),
            )
        return self._knn

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any) -> None:
        self._knn = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def localize_features(self, features: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """k-NN directions of measurement vectors ``(n, D)``: ``(azimuth, elevation)``, radians, ``(n,)``."""
        z = self.embed_features(features).double().cpu().numpy()
        azimuth, elevation = self._regressor().predict(z)
        return azimuth, elevation

    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Azimuth and elevation of binaural clips ``(batch, 2, time)`` (channel 0 = left).

        Raises:
            TypeError, ValueError: see :func:`~spatialrep.methods.base.check_audio`.
        """
        azimuth, elevation = self.localize_features(self._features(audio, sample_rate))
        return Directions(
            azimuth=np.asarray(azimuth, np.float64), elevation=np.asarray(elevation, np.float64)
        )


def make_step(config: SceConfig) -> Any:
    """The training step of ``config``: all-pairs contrastive loss of ``(features, azimuth, elevation)``.

    Returns:
        ``step(model, batch) -> {"loss", "positive_share"}`` for :class:`~spatialrep.train.MethodModule`.
    """
    spec = config.loss
    loss_fn = PairContrastiveLoss(margin="adaptive" if isinstance(spec.margin, str) else float(spec.margin))
    eps_rad = math.radians(spec.epsilon_deg)

    def step(model: nn.Module, batch: Any) -> dict[str, Tensor]:
        features, azimuth, elevation = batch
        embeddings = model(features)
        if spec.mode == "wsce":
            neighbours = weakly_supervised_neighbours(azimuth, elevation, arc_to_chord(eps_rad))
            distances = weakly_supervised_label_distances(azimuth, elevation)
        else:
            angles = azimuth if spec.target == "azimuth" else elevation
            neighbours = supervised_neighbours(angles, eps_rad)
            distances = supervised_label_distances(angles)
            if spec.margin_unit == "degrees":
                distances = torch.rad2deg(distances)
        neighbours = neighbours.to(embeddings.device)
        label_distances = distances.to(embeddings.device) if loss_fn.adaptive else None
        loss = loss_fn(embeddings, neighbours, label_distances)
        b = neighbours.shape[0]
        share = (neighbours.sum() - neighbours.diagonal().sum()).float() / max(1, b * (b - 1))
        return {"loss": loss, "positive_share": share}

    return step


def train_sce(
    train: tuple[Any, Any, Any],
    val: tuple[Any, Any, Any] | None,
    out_dir: str | os.PathLike[str],
    sce_config: SceConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    callbacks: Sequence[Any] = (),
    progress: bool = False,
) -> TrainedModel:
    """Train an :class:`SceEmbedding` with :func:`~spatialrep.train.train_model` and store its reference set.

    Args:
        train: ``(features (n, D), azimuth (n,), elevation (n,))``, radians; also the k-NN reference set.
        val: the same for validation (selects the best checkpoint by ``val/loss``), or ``None``.
        out_dir: the training folder; the localizer (best weights + references) goes to ``out_dir/model``.
        sce_config: the method; default ``SceConfig()``.
        train_config: optimisation; its ``batch_size`` is the number of clips per batch (all pairs used).
        callbacks: more Lightning callbacks, e.g. a
            :class:`~spatialrep.train.callbacks.ValidationMetric` with the validation localization error to
            select the best checkpoint by (``TrainConfig.early_stopping_metric``).
        progress: Lightning's progress bar.

    Returns:
        The trained model (eval mode, references set) and its run.
    """
    config = sce_config or SceConfig()
    train_config = train_config or TrainConfig(batch_size=128)
    dim = config.frontend.dim
    train_set = direction_dataset(*train, dim)
    loader, val_loader = train_val_loaders(
        train_set,
        None if val is None else direction_dataset(*val, dim),
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        drop_last=True,
    )

    def finalize(model: nn.Module) -> dict[str, Any]:
        assert isinstance(model, SceEmbedding)
        model.set_references(*train_set.tensors)
        return {"config": config.to_dict(), "num_references": model.num_references}

    kwargs = {"config": config.to_dict(), "num_references": 0}
    return train_model(
        SceEmbedding, kwargs, make_step(config), loader, val_loader, train_config, out_dir,
        feature_config=config.to_dict(), finalize=finalize, callbacks=callbacks, progress=progress,
    )  # fmt: skip
