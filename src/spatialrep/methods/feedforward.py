"""Feed-forward regression baseline of SCE (Tang et al. 2022, section 5.1): one regressor network per angle.

Each angle has its own network: the SCE MLP (from the encoder registry: two hidden layers of ``D`` units,
batch norm, sigmoid, dropout) ending in one linear output and ``tanh``; the target is the angle in degrees
divided by 180 (``u / 180``, as the paper), loss MSE summed over the two networks. The networks share nothing
(one model holds both so that one checkpoint localizes).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from spatialrep.config import ConfigError, as_config, check_sections, to_dict
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.measurement_sets import direction_dataset
from spatialrep.features.measurement import MeasurementConfig
from spatialrep.methods.base import Directions, check_audio
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig, TrainedModel, register_model, train_model, train_val_loaders

__all__ = ["LABEL_SCALE_DEG", "FeedForwardConfig", "FeedForwardRegressor", "ff_step", "train_feedforward"]

LABEL_SCALE_DEG = 180.0
"""Targets are ``angle_deg / LABEL_SCALE_DEG`` (the paper's ``u / 180``): azimuth ±90° maps to ±0.5."""

ANGLES = ("azimuth", "elevation")


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(
        "mlp",
        {
            "hidden_sizes": [729, 729],
            "output_dim": 1,
            "batch_norm": True,
            "dropout": 0.2,
            "activation": "sigmoid",
        },
    )


@dataclasses.dataclass(frozen=True)
class FeedForwardConfig:
    """The baseline in two sections: ``frontend`` (measurement vector), ``encoder`` (one per angle, 1 output).

    Raises:
        ConfigError: encoder arguments the encoder refuses, or an encoder without exactly 1 output.
    """

    frontend: MeasurementConfig = dataclasses.field(default_factory=MeasurementConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=_default_encoder)

    def __post_init__(self) -> None:
        check_sections(self, {"frontend": MeasurementConfig, "encoder": EncoderConfig})
        try:
            with torch.device("meta"):
                encoder = self.encoder.build(self.frontend.dim)
        except ValueError as exc:
            raise ConfigError(f"FeedForwardConfig: {exc}") from exc
        if encoder.output_dim != 1:
            raise ConfigError(
                f"FeedForwardConfig: each angle's network must have 1 output, got {encoder.output_dim}"
            )

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedForwardConfig:
        return config_from_dict(cls, data)


@register_model("ff_regressor")
class FeedForwardRegressor(nn.Module):
    """Two MLP + ``tanh`` regressors, one per angle, of ``angle_deg / 180``.

    A :class:`~spatialrep.methods.base.Localizer` (azimuth and elevation).

    Args:
        config: a :class:`FeedForwardConfig` or its dict.

    Shape:
        ``forward``: ``(batch, D) -> (batch, 2)`` in ``(-1, 1)``: (azimuth, elevation) in units of 180°.
    """

    num_channels = 2

    def __init__(self, config: FeedForwardConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = as_config(FeedForwardConfig, config)
        dim = self.config.frontend.dim
        self.networks = nn.ModuleDict({angle: self.config.encoder.build(dim) for angle in ANGLES})

    @property
    def sample_rate(self) -> int:
        return self.config.frontend.sample_rate

    @property
    def min_samples(self) -> int:
        return self.config.frontend.n_fft

    def forward(self, features: Tensor) -> Tensor:
        x = features.unsqueeze(1)
        return torch.tanh(torch.cat([self.networks[angle](x) for angle in ANGLES], dim=-1))

    @torch.no_grad()
    def predict_features(self, features: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Directions of measurement vectors ``(n, D)``: ``(azimuth, elevation)``, radians, ``(n,)`` (eval).

        Raises:
            ValueError: wrong shape or NaN.
        """
        dim = self.config.frontend.dim
        if features.ndim != 2 or features.shape[1] != dim:
            raise ValueError(f"features must be (n, {dim}), got {tuple(features.shape)}")
        if not bool(torch.isfinite(features).all()):
            raise ValueError("features contain NaN or infinite values")
        was_training = self.training
        self.eval()
        try:
            param = next(self.parameters())
            out = self(features.to(device=param.device, dtype=param.dtype)).double().cpu().numpy()
        finally:
            self.train(was_training)
        radians = np.radians(out * LABEL_SCALE_DEG)
        return radians[:, 0], radians[:, 1]

    def localize(self, audio: Tensor, sample_rate: int) -> Directions:
        """Azimuth and elevation of binaural clips ``(batch, 2, time)`` (channel 0 = left)."""
        audio = check_audio(
            audio, sample_rate, expected_rate=self.sample_rate, num_channels=2, min_samples=self.min_samples
        )
        azimuth, elevation = self.predict_features(self.config.frontend(audio.detach().cpu()))
        return Directions(
            azimuth=np.asarray(azimuth, np.float64), elevation=np.asarray(elevation, np.float64)
        )


def ff_step(model: nn.Module, batch: Any) -> dict[str, Tensor]:
    """Sum over the two angles of the MSE between ``tanh`` outputs and ``angle_deg / 180``.

    Raises:
        TypeError: ``model`` is not a :class:`FeedForwardRegressor`.
    """
    if not isinstance(model, FeedForwardRegressor):
        raise TypeError(f"ff_step needs a FeedForwardRegressor, got {type(model).__name__}")
    features, azimuth, elevation = batch
    target = torch.rad2deg(torch.stack((azimuth, elevation), dim=1).to(features.dtype)) / LABEL_SCALE_DEG
    errors = (model(features) - target).square().mean(dim=0)
    return {"loss": errors.sum(), "loss_azimuth": errors[0], "loss_elevation": errors[1]}


def train_feedforward(
    train: tuple[Any, Any, Any],
    val: tuple[Any, Any, Any] | None,
    out_dir: str | os.PathLike[str],
    config: FeedForwardConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    callbacks: Sequence[Any] = (),
    progress: bool = False,
) -> TrainedModel:
    """Train the baseline with :func:`~spatialrep.train.train_model` (best step by ``train_config``'s metric).

    Args: as :func:`spatialrep.methods.sce.train_sce`.

    Returns:
        The trained model (eval mode; also saved to ``out_dir/model``) and its run.
    """
    config = config or FeedForwardConfig()
    train_config = train_config or TrainConfig(batch_size=128)
    dim = config.frontend.dim
    loader, val_loader = train_val_loaders(
        direction_dataset(*train, dim),
        None if val is None else direction_dataset(*val, dim),
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        drop_last=True,
    )
    kwargs = {"config": config.to_dict()}
    return train_model(
        FeedForwardRegressor, kwargs, ff_step, loader, val_loader, train_config, out_dir,
        feature_config=config.to_dict(), finalize=lambda model: kwargs, callbacks=callbacks,
        progress=progress,
    )  # fmt: skip
