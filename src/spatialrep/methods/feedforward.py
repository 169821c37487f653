"""Feed-forward regression baseline of SCE (Tang et al. 2022, section 5.1): one siamese branch as a regressor.

The same MLP as :class:`~spatialrep.methods.sce.SceEmbedding` (two hidden layers of ``D`` units, batch norm,
sigmoid, dropout) ends in a linear layer with two outputs and ``tanh``; the targets are azimuth and elevation
scaled linearly from their training ranges to ``[-1, 1]`` (:class:`LabelScaler`), loss MSE.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from spatialrep.methods.sce import (
    SceConfig,
    _as_config,
    check_binaural,
    directions_per_segment,
    labelled_dataset,
    measurement_vectors,
    segment_features,
)
from spatialrep.models.mlp import MLPEncoder
from spatialrep.train import FitResult, MethodModule, TrainConfig, fit, load_checkpoint, make_loader
from spatialrep.train.checkpoint import save_checkpoint

__all__ = ["MODEL_FACTORIES", "FeedForwardRegressor", "LabelScaler", "ff_step", "train_feedforward"]


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


class FeedForwardRegressor(nn.Module):
    """MLP + ``tanh`` regressor of (azimuth, elevation), scaled by a :class:`LabelScaler`.

    Args:
        config: feature and network settings (an :class:`~spatialrep.methods.sce.SceConfig` or its dict;
            ``mode``, ``target``, ``epsilon_deg``, ``margin``, ``embedding_dim`` and ``k`` are unused).
        label_ranges: ``[[az_low, az_high], [el_low, el_high]]`` radians, the training label ranges.

    Shape:
        ``forward``: ``(batch, D) -> (batch, 2)`` in ``(-1, 1)``.
    """

    def __init__(
        self, config: SceConfig | Mapping[str, Any], label_ranges: Sequence[Sequence[float]]
    ) -> None:
        super().__init__()
        self.config = _as_config(config)
        self.scaler = LabelScaler(label_ranges)
        if len(self.scaler.low) != 2:
            raise ValueError(f"label_ranges must hold two ranges (azimuth, elevation), got {label_ranges!r}")
        d = self.config.input_dim
        self.encoder = MLPEncoder(
            d, (d, d), 2, batch_norm=True, dropout=self.config.dropout, activation="sigmoid"
        )

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def forward(self, features: Tensor) -> Tensor:
        return torch.tanh(self.encoder(features.unsqueeze(1)))

    @torch.no_grad()
    def predict_features(self, features: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Directions of measurement vectors ``(n, D)``: ``(azimuth, elevation)``, radians, ``(n,)`` (eval).

        Raises:
            ValueError: wrong shape or NaN.
        """
        if features.ndim != 2 or features.shape[1] != self.config.input_dim:
            raise ValueError(f"features must be (n, {self.config.input_dim}), got {tuple(features.shape)}")
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

    def localize_clip(self, audio: Tensor) -> dict[str, float]:
        """``{"azimuth", "elevation"}`` (radians) of a ``(2, time)`` clip, like ``SceEmbedding``'s."""
        audio = check_binaural(audio, self.config.n_fft)
        azimuth, elevation = self.predict_features(
            measurement_vectors(audio.detach().cpu(), self.config)[None]
        )
        return {"azimuth": float(azimuth[0]), "elevation": float(elevation[0])}

    def localize_segments(self, audio: Tensor, segment_samples: int) -> list[dict[str, Any]]:
        """Per-segment directions; segments as ``SceEmbedding.localize_segments``."""
        bounds, features = segment_features(audio, segment_samples, self.config)
        return directions_per_segment(bounds, *self.predict_features(features))


MODEL_FACTORIES: dict[str, type[nn.Module]] = {"ff_regressor": FeedForwardRegressor}
"""Checkpoint model name -> constructor."""


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
    config: SceConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[FeedForwardRegressor, FitResult]:
    """Train the baseline through :func:`spatialrep.train.fit` (best epoch by ``val/loss``).

    Args: as :func:`spatialrep.methods.sce.train_sce`; the label ranges come from the training labels.

    Returns:
        ``(model, fit_result)``, model in eval mode; also saved to ``out_dir/model``.
    """
    config = config or SceConfig()
    train_config = train_config or TrainConfig(batch_size=128)
    train_set = labelled_dataset(*train, config.input_dim)
    ranges = LabelScaler.from_labels(train_set.tensors[1].numpy(), train_set.tensors[2].numpy()).ranges
    loader = make_loader(
        train_set, batch_size=train_config.batch_size, seed=train_config.seed, drop_last=True
    )
    val_loader = None
    if val is not None:
        val_loader = make_loader(
            labelled_dataset(*val, config.input_dim), batch_size=train_config.batch_size, shuffle=False
        )
    torch.manual_seed(train_config.seed)
    model = FeedForwardRegressor(config, ranges)
    kwargs = {"config": config.to_dict(), "label_ranges": ranges}
    module = MethodModule(
        model, ff_step, model_name="ff_regressor", model_kwargs=kwargs, feature_config=config.to_dict()
    )
    result = fit(module, loader, val_loader, train_config, Path(out_dir), progress=progress)
    best, _ = load_checkpoint(result.best_checkpoint, MODEL_FACTORIES)
    assert isinstance(best, FeedForwardRegressor)
    save_checkpoint(
        Path(out_dir) / "model",
        best,
        model_name="ff_regressor",
        model_kwargs=kwargs,
        feature_config=config.to_dict(),
        extra={"global_step": result.global_step, "metrics": result.metrics},
    )
    return best.eval(), result
