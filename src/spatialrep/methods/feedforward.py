"""Feed-forward regression baseline of SCE (Tang et al. 2022, section 5.1): one siamese branch as a regressor.

The SCE network (an MLP from the encoder registry: two hidden layers of ``D`` units, batch norm, sigmoid,
dropout) ends in a linear layer with two outputs and ``tanh``; the targets are azimuth and elevation scaled
linearly from their training ranges to ``[-1, 1]`` (:class:`LabelScaler`), loss MSE.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from spatialrep.config import ConfigError, to_dict
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.measurement_sets import direction_dataset
from spatialrep.features.measurement import MeasurementConfig
from spatialrep.methods.base import Directions, check_audio
from spatialrep.models import EncoderConfig
from spatialrep.train import TrainConfig, TrainedModel, make_loader, register_model, train_model

__all__ = ["FeedForwardConfig", "FeedForwardRegressor", "LabelScaler", "ff_step", "train_feedforward"]


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(
        "mlp",
        {
            "hidden_sizes": [729, 729],
            "output_dim": 2,
            "batch_norm": True,
            "dropout": 0.2,
            "activation": "sigmoid",
        },
    )


@dataclasses.dataclass(frozen=True)
class FeedForwardConfig:
    """The baseline in two sections: ``frontend`` (measurement vector) and ``encoder`` (2 outputs).

    Raises:
        ConfigError: encoder arguments the encoder refuses, or an encoder without 2 outputs.
    """

    frontend: MeasurementConfig = dataclasses.field(default_factory=MeasurementConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=_default_encoder)

    def __post_init__(self) -> None:
        try:
            with torch.device("meta"):
                encoder = self.encoder.build(self.frontend.dim)
        except ValueError as exc:
            raise ConfigError(f"FeedForwardConfig: {exc}") from exc
        if encoder.output_dim != 2:
            raise ConfigError(
                f"FeedForwardConfig: the encoder must have 2 outputs (azimuth, elevation), got "
                f"{encoder.output_dim}"
            )

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedForwardConfig:
        return config_from_dict(cls, data)


class LabelScaler:
    """Affine map of angles (radians) from ``[low, high]`` to ``[-1, 1]``, per output column.

    Args:
        ranges: ``[(low, high), ...]`` radians per output, ``low < high``.

    Raises:
        ValueError: a range that is not finite with ``low < high``.
    """

    def __init__(self, ranges: Sequence[Sequence[float]]) -> None:
        arr = np.asarray(ranges, dtype=np.float64)
        if (
            arr.ndim != 2
            or arr.shape[1] != 2
            or not np.all(np.isfinite(arr))
            or np.any(arr[:, 0] >= arr[:, 1])
        ):
            raise ValueError(f"label ranges must be finite (low, high) pairs with low < high, got {ranges!r}")
        self.low, self.high = arr[:, 0], arr[:, 1]

    @classmethod
    def from_labels(cls, *labels: npt.ArrayLike) -> LabelScaler:
        """Ranges from the minimum and maximum of each label array (a constant label gets ``±1e-3`` rad)."""
        ranges = []
        for values in labels:
            v = np.asarray(values, dtype=np.float64)
            low, high = float(v.min()), float(v.max())
            if high - low < 2e-3:
                low, high = low - 1e-3, high + 1e-3
            ranges.append((low, high))
        return cls(ranges)

    @property
    def ranges(self) -> list[list[float]]:
        return [[float(a), float(b)] for a, b in zip(self.low, self.high, strict=True)]

    def scale(self, labels: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``(n, outputs)`` radians -> ``[-1, 1]`` (outside for labels outside the range)."""
        return 2.0 * (np.asarray(labels, dtype=np.float64) - self.low) / (self.high - self.low) - 1.0

    def unscale(self, scaled: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Inverse of :meth:`scale`."""
        return (np.asarray(scaled, dtype=np.float64) + 1.0) * 0.5 * (self.high - self.low) + self.low


def _as_config(config: FeedForwardConfig | Mapping[str, Any]) -> FeedForwardConfig:
    if isinstance(config, FeedForwardConfig):
        return config
    if isinstance(config, Mapping):
        return FeedForwardConfig.from_dict(config)
    raise TypeError(f"config must be a FeedForwardConfig or a dict, got {type(config).__name__}")


@register_model("ff_regressor")
class FeedForwardRegressor(nn.Module):
    """MLP + ``tanh`` regressor of (azimuth, elevation), scaled by a :class:`LabelScaler`.

    A :class:`~spatialrep.methods.base.Localizer` (azimuth and elevation).

    Args:
        config: a :class:`FeedForwardConfig` or its dict.
        label_ranges: ``[[az_low, az_high], [el_low, el_high]]`` radians, the training label ranges.

    Shape:
        ``forward``: ``(batch, D) -> (batch, 2)`` in ``(-1, 1)``.
    """

    num_channels = 2

    def __init__(
        self, config: FeedForwardConfig | Mapping[str, Any], label_ranges: Sequence[Sequence[float]]
    ) -> None:
        super().__init__()
        self.config = _as_config(config)
        self.scaler = LabelScaler(label_ranges)
        if len(self.scaler.low) != 2:
            raise ValueError(f"label_ranges must hold two ranges (azimuth, elevation), got {label_ranges!r}")
        self.encoder = self.config.encoder.build(self.config.frontend.dim)

    @property
    def sample_rate(self) -> int:
        return self.config.frontend.sample_rate

    @property
    def min_samples(self) -> int:
        return self.config.frontend.n_fft

    def forward(self, features: Tensor) -> Tensor:
        return torch.tanh(self.encoder(features.unsqueeze(1)))

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
        labels = self.scaler.unscale(out)
        return labels[:, 0], labels[:, 1]

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
    """MSE between ``tanh`` outputs and the scaled (azimuth, elevation) labels of a batch.

    Raises:
        TypeError: ``model`` is not a :class:`FeedForwardRegressor`.
    """
    if not isinstance(model, FeedForwardRegressor):
        raise TypeError(f"ff_step needs a FeedForwardRegressor, got {type(model).__name__}")
    features, azimuth, elevation = batch
    low = torch.as_tensor(model.scaler.low, dtype=features.dtype, device=features.device)
    high = torch.as_tensor(model.scaler.high, dtype=features.dtype, device=features.device)
    labels = torch.stack((azimuth, elevation), dim=1).to(features.dtype)
    target = 2.0 * (labels - low) / (high - low) - 1.0
    return {"loss": nn.functional.mse_loss(model(features), target)}


def train_feedforward(
    train: tuple[Any, Any, Any],
    val: tuple[Any, Any, Any] | None,
    out_dir: str | os.PathLike[str],
    config: FeedForwardConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    progress: bool = False,
) -> TrainedModel:
    """Train the baseline with :func:`~spatialrep.train.train_model` (best step by ``val/loss``).

    Args: as :func:`spatialrep.methods.sce.train_sce`; the label ranges come from the training labels.

    Returns:
        The trained model (eval mode; also saved to ``out_dir/model``) and its run.
    """
    config = config or FeedForwardConfig()
    train_config = train_config or TrainConfig(batch_size=128)
    dim = config.frontend.dim
    train_set = direction_dataset(*train, dim)
    ranges = LabelScaler.from_labels(train_set.tensors[1].numpy(), train_set.tensors[2].numpy()).ranges
    loader = make_loader(
        train_set, batch_size=train_config.batch_size, seed=train_config.seed, drop_last=True
    )
    val_loader = None
    if val is not None:
        val_loader = make_loader(
            direction_dataset(*val, dim), batch_size=train_config.batch_size, shuffle=False
        )
    kwargs = {"config": config.to_dict(), "label_ranges": ranges}
    return train_model(
        FeedForwardRegressor, kwargs, ff_step, loader, val_loader, train_config, out_dir,
        feature_config=config.to_dict(), finalize=lambda model: kwargs, progress=progress,
    )  # fmt: skip
