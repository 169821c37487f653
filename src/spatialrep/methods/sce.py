"""SCE / WSCE — siamese contrastive embeddings for binaural localization (Tang, Taseska, van Waterschoot).

A feature vector (:func:`~spatialrep.features.measurement.sce_measurement_vector`, ``D = 729``) goes through
an MLP (two hidden layers of ``D`` units, batch norm, sigmoid, dropout; linear 3-D output). It is trained with
the pairwise contrastive loss over all pairs of a mini-batch (:class:`~spatialrep.losses.PairContrastiveLoss`)
whose neighbourhoods come from azimuth *or* elevation (SCE, supervised) or from the distance between
unit-sphere source positions (WSCE, weakly supervised). A direction is read off by Gaussian k-NN regression
(:class:`~spatialrep.evaluate.KnnRegressor`) against the embedded training set, which the trained
:class:`SceEmbedding` carries as buffers, so a checkpoint alone localizes. See ``docs/sce.md``.

Units of the adaptive margin ``μ_ij = exp(d_ij) / (exp(d_ij) + 1)``: for SCE ``d_ij`` is the wrapped angle
difference in ``SceConfig.margin_unit`` (``"degrees"``, the paper's literal choice: every negative pair then
has ``μ ≥ 0.993``; or ``"radians"``); for WSCE ``d_ij`` is the chord between unit-sphere positions
(dimensionless, in unit-sphere radii, ``[0, 2]``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from spatialrep.config import ConfigError
from spatialrep.config import from_dict as config_from_dict
from spatialrep.evaluate.knn import KnnRegressor
from spatialrep.features.measurement import (
    MEASUREMENT_WINDOWS,
    measurement_vector_dim,
    sce_measurement_vector,
)
from spatialrep.losses import (
    PairContrastiveLoss,
    arc_to_chord,
    supervised_label_distances,
    supervised_neighbours,
    weakly_supervised_label_distances,
    weakly_supervised_neighbours,
)
from spatialrep.methods.registry import checkpoint_dir
from spatialrep.models.mlp import MLPEncoder
from spatialrep.train import FitResult, MethodModule, TrainConfig, fit, load_checkpoint, make_loader
from spatialrep.train.checkpoint import save_checkpoint

__all__ = [
    "MODEL_FACTORIES",
    "MODES",
    "SceConfig",
    "SceEmbedding",
    "check_binaural",
    "embed_features",
    "load_sce",
    "make_step",
    "measurement_vectors",
    "train_sce",
]

MODES = ("sce", "wsce")
TARGETS = ("azimuth", "elevation")
MARGIN_UNITS = ("degrees", "radians")


@dataclasses.dataclass(frozen=True)
class SceConfig:
    """Features, network, neighbourhoods and localizer of an SCE / WSCE model.

    Attributes:
        mode: ``"sce"`` (supervised neighbourhoods of one angle) or ``"wsce"`` (unit-sphere positions).
        target: SCE only: the angle that defines neighbourhoods, ``"azimuth"`` or ``"elevation"``.
        epsilon_deg: neighbourhood threshold ``ε_u`` in degrees (WSCE uses ``ε_s = 2 sin(ε_u / 2)``, the
            chord of that arc on the unit sphere; the paper's arc approximation differs by < 0.2 %).
        margin: ``"adaptive"`` (eq. 14) or a positive constant ``μ``.
        margin_unit: SCE with an adaptive margin: unit of the angle difference ``d_ij`` fed to the margin.
        embedding_dim: output units (3 in the paper).
        dropout: dropout after each hidden activation (0.2 in the paper).
        sample_rate, n_fft, hop_length, window: the measurement vector (hop ``None`` = ``n_fft // 4``).
        k: neighbours of the k-NN localizer.
    """

    mode: str = "sce"
    target: str = "azimuth"
    epsilon_deg: float = 5.0
    margin: str | float = "adaptive"
    margin_unit: str = "degrees"
    embedding_dim: int = 3
    dropout: float = 0.2
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int | None = None
    window: str = "cosine"
    k: int = 5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"SceConfig.mode={self.mode!r} is not one of {', '.join(MODES)}")
        if self.target not in TARGETS:
            raise ConfigError(f"SceConfig.target={self.target!r} is not one of {', '.join(TARGETS)}")
        if not (isinstance(self.epsilon_deg, int | float) and 0.0 < self.epsilon_deg <= 180.0):
            raise ConfigError(f"SceConfig.epsilon_deg={self.epsilon_deg!r} must be in (0, 180]")
        if isinstance(self.margin, str):
            if self.margin != "adaptive":
                raise ConfigError(f"SceConfig.margin={self.margin!r} must be 'adaptive' or a positive number")
        elif isinstance(self.margin, bool) or not (math.isfinite(self.margin) and self.margin > 0):
            raise ConfigError(f"SceConfig.margin={self.margin!r} must be 'adaptive' or a positive number")
        if self.margin_unit not in MARGIN_UNITS:
            raise ConfigError(
                f"SceConfig.margin_unit={self.margin_unit!r} is not one of {', '.join(MARGIN_UNITS)}"
            )
        for name in ("embedding_dim", "sample_rate", "n_fft", "k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SceConfig.{name}={value!r} must be a positive integer")
        if self.hop_length is not None and (isinstance(self.hop_length, bool) or self.hop_length < 1):
            raise ConfigError(f"SceConfig.hop_length={self.hop_length!r} must be a positive integer or None")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"SceConfig.dropout={self.dropout!r} must be in [0, 1)")
        if self.window not in MEASUREMENT_WINDOWS:
            raise ConfigError(
                f"SceConfig.window={self.window!r} is not one of {', '.join(MEASUREMENT_WINDOWS)}"
            )
        try:
            measurement_vector_dim(self.sample_rate, self.n_fft)
        except ValueError as exc:
            raise ConfigError(f"SceConfig: {exc}") from exc

    @property
    def input_dim(self) -> int:
        """Dimension ``D`` of the measurement vector (729 at 16 kHz, 1024-point DFT)."""
        return measurement_vector_dim(self.sample_rate, self.n_fft)

    @property
    def name(self) -> str:
        """Short label such as ``sce_azimuth_eps5`` or ``wsce_eps15``."""
        head = "wsce" if self.mode == "wsce" else f"sce_{self.target}"
        return f"{head}_eps{self.epsilon_deg:g}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the checkpoint's ``feature_config``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: unknown keys (named) or invalid values.
        """
        return config_from_dict(cls, data)


def _as_config(config: SceConfig | Mapping[str, Any]) -> SceConfig:
    if isinstance(config, SceConfig):
        return config
    if isinstance(config, Mapping):
        return SceConfig.from_dict(config)
    raise TypeError(f"config must be an SceConfig or a dict, got {type(config).__name__}")


def check_binaural(audio: Any, n_fft: int, name: str = "audio") -> Tensor:
    """Validate a ``(2, time)`` binaural clip (channel 0 = left) and return it as a float tensor.

    Raises:
        TypeError: not a tensor or not floating point.
        ValueError: not ``(2, time)``, shorter than ``n_fft`` samples, or NaN/inf inside.
    """
    if not isinstance(audio, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (2, time), got {type(audio).__name__}")
    if not audio.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {audio.dtype}")
    if audio.ndim != 2 or audio.shape[0] != 2:
        raise ValueError(
            f"{name} must be binaural with shape (2, time) (channel 0 = left), got {tuple(audio.shape)}"
        )
    if audio.shape[1] < n_fft:
        raise ValueError(
            f"{name} has {audio.shape[1]} samples, shorter than one analysis frame (n_fft={n_fft})"
        )
    if not bool(torch.isfinite(audio).all()):
        raise ValueError(f"{name} contains NaN or infinite samples")
    return audio


def measurement_vectors(audio: Tensor, config: SceConfig) -> Tensor:
    """Measurement vectors of binaural clips as ``config`` defines them.

    Shape:
        ``(..., 2, time)`` -> ``(..., config.input_dim)``, float32.
    """
    return sce_measurement_vector(
        audio.float(), config.sample_rate, config.n_fft, config.hop_length, window=config.window
    )


class SceEmbedding(nn.Module):
    """The SCE / WSCE embedding network plus the k-NN reference set it localizes against.

    Args:
        config: an :class:`SceConfig` or its dict.
        num_references: size ``N`` of the reference set (buffers ``ref_embeddings`` ``(N, embedding_dim)``,
            ``ref_azimuth`` and ``ref_elevation`` ``(N,)``, radians); 0 before :meth:`set_references`.

    Shape:
        ``forward``: ``(batch, D) -> (batch, embedding_dim)``.
    """

    ref_embeddings: Tensor
    ref_azimuth: Tensor
    ref_elevation: Tensor

    def __init__(self, config: SceConfig | Mapping[str, Any], num_references: int = 0) -> None:
        super().__init__()
        self.config = _as_config(config)
        if isinstance(num_references, bool) or not isinstance(num_references, int) or num_references < 0:
            raise ValueError(f"num_references must be a non-negative integer, got {num_references!r}")
        d = self.config.input_dim
        self.encoder = MLPEncoder(
            d,
            (d, d),
            self.config.embedding_dim,
            batch_norm=True,
            dropout=self.config.dropout,
            activation="sigmoid",
        )
        self.register_buffer("ref_embeddings", torch.zeros(num_references, self.config.embedding_dim))
        self.register_buffer("ref_azimuth", torch.zeros(num_references))
        self.register_buffer("ref_elevation", torch.zeros(num_references))
        self._knn: KnnRegressor | None = None

    @property
    def sample_rate(self) -> int:
        """Hz of the audio :meth:`localize_clip` expects."""
        return self.config.sample_rate

    @property
    def num_references(self) -> int:
        return int(self.ref_embeddings.shape[0])

    def forward(self, features: Tensor) -> Tensor:
        out: Tensor = self.encoder(features.unsqueeze(1))
        return out

    def _check_features(self, features: Tensor) -> Tensor:
        if features.ndim != 2 or features.shape[1] != self.config.input_dim:
            raise ValueError(
                f"features must be (batch, {self.config.input_dim}), got shape {tuple(features.shape)}"
            )
        if not bool(torch.isfinite(features).all()):
            raise ValueError("features contain NaN or infinite values")
        return features

    @torch.no_grad()
    def embed(self, features: Tensor, batch_size: int = 1024) -> Tensor:
        """Embeddings of measurement vectors in eval mode (no dropout, running batch-norm statistics).

        Shape:
            ``(n, D) -> (n, embedding_dim)``, on the model's device.
        """
        self._check_features(features)
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
        return torch.cat(chunks) if chunks else features.new_zeros(0, self.config.embedding_dim)

    def set_references(self, features: Tensor, azimuth: Any, elevation: Any) -> None:
        """Embed the training measurement vectors and store them with their directions (radians).

        Raises:
            ValueError: mismatched lengths or fewer references than ``config.k``.
        """
        az = torch.as_tensor(np.asarray(azimuth, dtype=np.float64), dtype=torch.float32).reshape(-1)
        el = torch.as_tensor(np.asarray(elevation, dtype=np.float64), dtype=torch.float32).reshape(-1)
        if not features.shape[0] == az.shape[0] == el.shape[0]:
            raise ValueError(
                f"features ({features.shape[0]}), azimuth ({az.shape[0]}) and elevation ({el.shape[0]}) "
                "must have the same length"
            )
        if features.shape[0] < self.config.k:
            raise ValueError(f"need at least k={self.config.k} references, got {features.shape[0]}")
        z = self.embed(features)
        device = self.ref_embeddings.device
        self.ref_embeddings = z.to(device=device, dtype=torch.float32)
        self.ref_azimuth = az.to(device)
        self.ref_elevation = el.to(device)
        self._knn = None

    def _regressor(self) -> KnnRegressor:
        if self.num_references < self.config.k:
            raise RuntimeError(
                f"the model holds {self.num_references} k-NN references (< k={self.config.k}); "
                "call set_references first (or load a trained checkpoint)"
            )
        if self._knn is None:
            self._knn = KnnRegressor(self.config.k).fit(
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
        z = self.embed(self._check_features(features)).double().cpu().numpy()
        azimuth, elevation = self._regressor().predict(z)
        return azimuth, elevation

    def localize_clip(self, audio: Tensor) -> dict[str, float]:
        """Direction of one binaural clip at :attr:`sample_rate`.

        Args:
            audio: ``(2, time)``, channel 0 = left, at least ``n_fft`` samples.

        Returns:
            ``{"azimuth": rad, "elevation": rad}``.

        Raises:
            TypeError, ValueError: see :func:`check_binaural`.
        """
        audio = check_binaural(audio, self.config.n_fft)
        features = measurement_vectors(audio.detach().cpu(), self.config)[None]
        azimuth, elevation = self.localize_features(features)
        return {"azimuth": float(azimuth[0]), "elevation": float(elevation[0])}

    def localize_segments(self, audio: Tensor, segment_samples: int) -> list[dict[str, Any]]:
        """One direction per consecutive segment of ``segment_samples`` samples (:func:`segment_features`).

        Returns:
            ``[{"start", "end", "azimuth", "elevation"}, ...]``: sample indices (end exclusive), radians.

        Raises:
            ValueError: ``segment_samples < n_fft``, or bad audio (see :func:`check_binaural`).
        """
        bounds, features = segment_features(audio, segment_samples, self.config)
        return directions_per_segment(bounds, *self.localize_features(features))


def segment_features(
    audio: Tensor, segment_samples: int, config: SceConfig
) -> tuple[list[tuple[int, int]], Tensor]:
    """Split a clip into consecutive segments and compute each one's measurement vector.

    A last segment shorter than one analysis frame (``n_fft``) is merged into the one before it (a clip
    shorter than two segments is one segment).

    Returns:
        ``(bounds, features)``: ``[(start, end), ...]`` sample indices (end exclusive) and ``(segments, D)``.

    Raises:
        ValueError: ``segment_samples < n_fft``, or bad audio (see :func:`check_binaural`).
    """
    n_fft = config.n_fft
    if isinstance(segment_samples, bool) or not isinstance(segment_samples, int) or segment_samples < n_fft:
        raise ValueError(
            f"segment_samples must be an integer >= n_fft={n_fft} (one analysis frame), "
            f"got {segment_samples!r}"
        )
    audio = check_binaural(audio, n_fft)
    total = audio.shape[1]
    bounds = [[s, min(s + segment_samples, total)] for s in range(0, total, segment_samples)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < n_fft:
        last = bounds.pop()
        bounds[-1][1] = last[1]
    cpu = audio.detach().cpu()
    features = torch.stack([measurement_vectors(cpu[:, s:e], config) for s, e in bounds])
    return [(s, e) for s, e in bounds], features


def directions_per_segment(
    bounds: list[tuple[int, int]], azimuth: np.ndarray, elevation: np.ndarray
) -> list[dict[str, Any]]:
    """``[{"start", "end", "azimuth", "elevation"}, ...]`` from segment bounds and per-segment radians."""
    return [
        {"start": s, "end": e, "azimuth": float(a), "elevation": float(el)}
        for (s, e), a, el in zip(bounds, azimuth, elevation, strict=True)
    ]


def make_step(config: SceConfig) -> Any:
    """The training step of ``config``: all-pairs contrastive loss of ``(features, azimuth, elevation)``.

    Returns:
        ``step(model, batch) -> {"loss", "positive_share"}`` for :class:`~spatialrep.train.MethodModule`.
    """
    loss_fn = PairContrastiveLoss(
        margin="adaptive" if isinstance(config.margin, str) else float(config.margin)
    )
    eps_rad = math.radians(config.epsilon_deg)

    def step(model: nn.Module, batch: Any) -> dict[str, Tensor]:
        features, azimuth, elevation = batch
        embeddings = model(features)
        if config.mode == "wsce":
            neighbours = weakly_supervised_neighbours(azimuth, elevation, arc_to_chord(eps_rad))
            distances = weakly_supervised_label_distances(azimuth, elevation)
        else:
            angles = azimuth if config.target == "azimuth" else elevation
            neighbours = supervised_neighbours(angles, eps_rad)
            distances = supervised_label_distances(angles)
            if config.margin_unit == "degrees":
                distances = torch.rad2deg(distances)
        neighbours = neighbours.to(embeddings.device)
        label_distances = distances.to(embeddings.device) if loss_fn.adaptive else None
        loss = loss_fn(embeddings, neighbours, label_distances)
        b = neighbours.shape[0]
        share = (neighbours.sum() - neighbours.diagonal().sum()).float() / max(1, b * (b - 1))
        return {"loss": loss, "positive_share": share}

    return step


def _as_float_tensor(value: Any, name: str, ndim: int) -> Tensor:
    tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tensor.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor


def labelled_dataset(features: Any, azimuth: Any, elevation: Any, input_dim: int) -> TensorDataset:
    """``(features, azimuth, elevation)`` float32 tensors as a dataset (radians).

    Raises:
        ValueError: wrong shapes, lengths or NaN.
    """
    x = _as_float_tensor(features, "features", 2)
    az = _as_float_tensor(azimuth, "azimuth", 1)
    el = _as_float_tensor(elevation, "elevation", 1)
    if x.shape[1] != input_dim:
        raise ValueError(f"features must have {input_dim} columns, got {x.shape[1]}")
    if not x.shape[0] == az.shape[0] == el.shape[0]:
        raise ValueError(
            f"features ({x.shape[0]}), azimuth ({az.shape[0]}), elevation ({el.shape[0]}) differ"
        )
    return TensorDataset(x, az, el)


def embed_features(model: SceEmbedding, features: Any) -> np.ndarray:
    """Embeddings of ``(n, D)`` measurement vectors as float64 numpy ``(n, embedding_dim)``."""
    return model.embed(_as_float_tensor(features, "features", 2)).double().cpu().numpy()


def train_sce(
    train: tuple[Any, Any, Any],
    val: tuple[Any, Any, Any] | None,
    out_dir: str | os.PathLike[str],
    sce_config: SceConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[SceEmbedding, FitResult]:
    """Train an :class:`SceEmbedding` through :func:`spatialrep.train.fit` and store its reference set.

    Args:
        train: ``(features (n, D), azimuth (n,), elevation (n,))``, radians; also the k-NN reference set.
        val: the same for validation (selects the best checkpoint by ``val/loss``), or ``None``.
        out_dir: ``fit``'s output folder; the localizer (best weights + references) goes to ``out_dir/model``.
        sce_config: the method; default ``SceConfig()``.
        train_config: optimisation; its ``batch_size`` is the number of clips per batch (all pairs used).
        progress: Lightning's progress bar.

    Returns:
        ``(model, fit_result)``, the model in eval mode with its references set.
    """
    config = sce_config or SceConfig()
    train_config = train_config or TrainConfig(batch_size=128)
    train_set = labelled_dataset(*train, config.input_dim)
    loader = make_loader(
        train_set, batch_size=train_config.batch_size, seed=train_config.seed, drop_last=True
    )
    val_loader = None
    if val is not None:
        val_set = labelled_dataset(*val, config.input_dim)
        val_loader = make_loader(val_set, batch_size=train_config.batch_size, shuffle=False)
    torch.manual_seed(train_config.seed)
    model = SceEmbedding(config, num_references=0)
    module = MethodModule(
        model,
        make_step(config),
        model_name="sce_embedding",
        model_kwargs={"config": config.to_dict(), "num_references": 0},
        feature_config=config.to_dict(),
    )
    result = fit(module, loader, val_loader, train_config, Path(out_dir), progress=progress)
    best, _ = load_checkpoint(result.best_checkpoint, MODEL_FACTORIES)
    assert isinstance(best, SceEmbedding)
    best.set_references(train_set.tensors[0], train_set.tensors[1].numpy(), train_set.tensors[2].numpy())
    save_sce(
        best, Path(out_dir) / "model", extra={"global_step": result.global_step, "metrics": result.metrics}
    )
    return best.eval(), result


def save_sce(
    model: nn.Module, directory: str | os.PathLike[str], extra: Mapping[str, Any] | None = None
) -> Path:
    """Save a trained :class:`SceEmbedding` (with references) as a loadable checkpoint folder."""
    if not isinstance(model, SceEmbedding):
        raise TypeError(f"save_sce needs an SceEmbedding, got {type(model).__name__}")
    return save_checkpoint(
        directory,
        model,
        model_name="sce_embedding",
        model_kwargs={"config": model.config.to_dict(), "num_references": model.num_references},
        feature_config=model.config.to_dict(),
        extra=dict(extra or {}),
    )


def load_sce(path: str | os.PathLike[str]) -> nn.Module:
    """Load an SCE / WSCE (or feed-forward baseline) checkpoint, eval mode, on CPU.

    Args:
        path: a checkpoint folder, or a :func:`train_sce` output folder (its ``model/``, ``best/`` or
            ``last/`` subfolder is used, in that order).

    Raises:
        FileNotFoundError: no ``model.json`` there.
        KeyError: a checkpoint of another model (the known names are listed).
    """
    from spatialrep.methods.feedforward import MODEL_FACTORIES as FF_FACTORIES  # it imports this module

    model, _ = load_checkpoint(checkpoint_dir(path), {**MODEL_FACTORIES, **FF_FACTORIES})
    return model


MODEL_FACTORIES: dict[str, type[nn.Module]] = {"sce_embedding": SceEmbedding}
"""Checkpoint model names -> constructors (SCE and WSCE share ``sce_embedding``)."""
