"""SFD — spatial feature distillation (Bovbjerg et al., arXiv 2508.20914), first vertical slice.

Pre-training: a causal Conformer reads the noisy reverberant binaural STFT and a linear predictor regresses
spatial features of the clean direct-path signal (:mod:`spatialrep.methods.sfd_targets`), MSE, no direction
labels. Fine-tuning: the pretrained encoder (predictor discarded) plus a frame-wise classifier over an azimuth
grid, cross-entropy of every frame against the clip's azimuth class (single source). See ``docs/sfd.md``.

Models rebuild from ``{"config": SfdConfig.to_dict()}`` (:data:`MODEL_FACTORIES`), so exported checkpoints
(safetensors + JSON) load without unpickling.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from spatialrep.config import ConfigError
from spatialrep.config import from_dict as config_from_dict
from spatialrep.data.datasets import ManifestDataset, collate_examples
from spatialrep.data.manifest import ManifestError
from spatialrep.evaluate.azimuth_grid import REGIONS, AzimuthGrid
from spatialrep.methods.registry import checkpoint_dir
from spatialrep.methods.sfd_targets import INPUTS, TARGETS, distillation_targets, input_frames, target_dim
from spatialrep.methods.sfd_targets import input_dim as _input_dim
from spatialrep.models import FramewiseClassifier, LinearHead, create_encoder
from spatialrep.models.conformer import CausalConformer, ConformerState
from spatialrep.train import FitResult, MethodModule, TrainConfig, fit, load_checkpoint, make_loader

__all__ = [
    "MODEL_FACTORIES",
    "NoiseAugmentation",
    "SfdConfig",
    "SfdLocalizer",
    "SfdPretrainer",
    "distillation_targets",
    "finetune",
    "finetune_step",
    "input_frames",
    "load_sfd",
    "pretrain",
    "pretrain_step",
]

_SIGNALS = ("noisy", "clean_direct")


@dataclasses.dataclass(frozen=True)
class SfdConfig:
    """Features, target, encoder size and azimuth grid of an SFD model.

    Attributes:
        sample_rate: Hz; audio at another rate must be resampled first.
        n_fft, win_length, hop_length, window, center: the STFT of input and targets (defaults: 512-point
            FFT, 25 ms Hann window, 10 ms hop, ``center=False`` so frames are causal).
        input: ``"stft"`` (SFD and STFT-DNN) or ``"gcc_phat"`` (the GCCPHAT-DNN baseline), see
            :func:`~spatialrep.methods.sfd_targets.input_frames`.
        input_max_lag: GCC-PHAT input lags ``-input_max_lag .. input_max_lag`` (16: ±1 ms at 16 kHz, wider
            than any head's ITD).
        target: one of :data:`~spatialrep.methods.sfd_targets.TARGETS`.
        max_lag: GCC lags ``-max_lag .. max_lag`` samples (8: 17 lags, ±0.5 ms at 16 kHz).
        d_model, num_layers, num_heads, conv_kernel, dropout: the causal Conformer.
        grid_step_deg, grid_region: the azimuth classes (:class:`AzimuthGrid`; 5° frontal = 37 classes).
    """

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    window: str = "hann"
    center: bool = False
    input: str = "stft"
    input_max_lag: int = 16
    target: str = "gcc_phat"
    max_lag: int = 8
    d_model: int = 256
    num_layers: int = 2
    num_heads: int = 4
    conv_kernel: int = 15
    dropout: float = 0.1
    grid_step_deg: float = 5.0
    grid_region: str = "frontal"

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "win_length", "hop_length", "d_model", "num_layers",
                     "num_heads", "conv_kernel"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SfdConfig.{name}={value!r} must be a positive integer")
        if self.win_length > self.n_fft:
            raise ConfigError(f"SfdConfig.win_length={self.win_length} must be <= n_fft={self.n_fft}")
        if self.input not in INPUTS:
            raise ConfigError(f"SfdConfig.input={self.input!r} is not one of {', '.join(INPUTS)}")
        if (
            isinstance(self.input_max_lag, bool)
            or not isinstance(self.input_max_lag, int)
            or not (0 <= 2 * self.input_max_lag < self.n_fft)
        ):
            raise ConfigError(
                f"SfdConfig.input_max_lag={self.input_max_lag!r} must be an integer in [0, n_fft / 2)"
            )
        if self.target not in TARGETS:
            raise ConfigError(f"SfdConfig.target={self.target!r} is not one of {', '.join(TARGETS)}")
        if isinstance(self.max_lag, bool) or not isinstance(self.max_lag, int) or self.max_lag < 0:
            raise ConfigError(f"SfdConfig.max_lag={self.max_lag!r} must be a non-negative integer")
        if 2 * self.max_lag >= self.n_fft:
            raise ConfigError(f"SfdConfig.max_lag={self.max_lag} must be < n_fft / 2 = {self.n_fft / 2:g}")
        if self.d_model % self.num_heads:
            raise ConfigError(
                f"SfdConfig.d_model={self.d_model} must be divisible by num_heads={self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"SfdConfig.dropout={self.dropout!r} must be in [0, 1)")
        if self.grid_region not in REGIONS:
            raise ConfigError(
                f"SfdConfig.grid_region={self.grid_region!r} is not one of {', '.join(REGIONS)}"
            )
        try:
            AzimuthGrid(self.grid_step_deg, self.grid_region)
        except ValueError as exc:
            raise ConfigError(f"SfdConfig.grid_step_deg={self.grid_step_deg!r}: {exc}") from exc

    @property
    def input_dim(self) -> int:
        """Encoder input features per frame: 2 ears x (real, imaginary) x ``n_fft // 2 + 1`` bins for
        ``"stft"``, ``2 * input_max_lag + 1`` lags for ``"gcc_phat"``."""
        return _input_dim(self.input, self.n_fft, self.input_max_lag)

    @property
    def target_dim(self) -> int:
        """Features per frame of ``target``."""
        return target_dim(self.target, self.n_fft, self.max_lag)

    def grid(self) -> AzimuthGrid:
        """The azimuth classes of the localizer."""
        return AzimuthGrid(self.grid_step_deg, self.grid_region)

    def encoder_kwargs(self) -> dict[str, Any]:
        """Arguments of ``create_encoder("causal_conformer", ...)``."""
        return {
            "input_dim": self.input_dim,
            "d_model": self.d_model,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "conv_kernel": self.conv_kernel,
            "dropout": self.dropout,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the checkpoint's ``feature_config``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SfdConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: unknown keys (named) or invalid values.
        """
        return config_from_dict(cls, data)


def _as_config(config: SfdConfig | Mapping[str, Any]) -> SfdConfig:
    if isinstance(config, SfdConfig):
        return config
    if isinstance(config, Mapping):
        return SfdConfig.from_dict(config)
    raise TypeError(f"config must be an SfdConfig or a dict, got {type(config).__name__}")


def _make_encoder(config: SfdConfig) -> CausalConformer:
    encoder = create_encoder("causal_conformer", **config.encoder_kwargs())
    assert isinstance(encoder, CausalConformer)
    return encoder


class SfdPretrainer(nn.Module):
    """Causal Conformer + linear predictor of the distillation target.

    Args:
        config: an :class:`SfdConfig` or its dict.

    Shape:
        ``forward``: ``(batch, frames, config.input_dim) -> (batch, frames, config.target_dim)``.
    """

    def __init__(self, config: SfdConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = _as_config(config)
        self.encoder = _make_encoder(self.config)
        self.predictor = LinearHead(self.config.d_model, self.config.target_dim)

    def forward(self, frames: Tensor) -> Tensor:
        return self.predictor(self.encoder.forward_features(frames))


class SfdLocalizer(nn.Module):
    """Causal Conformer + frame-wise azimuth classifier over ``config.grid()``.

    Args:
        config: an :class:`SfdConfig` or its dict.

    Shape:
        ``forward``: ``(batch, frames, input_dim)`` -> frame logits ``(batch, frames, K)`` and clip logits
        ``(batch, K)`` (mean of the frame logits).
    """

    def __init__(self, config: SfdConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = _as_config(config)
        self.grid = self.config.grid()
        self.encoder = _make_encoder(self.config)
        self.classifier = FramewiseClassifier(self.config.d_model, self.grid.num_classes)
        self.encoder_frozen = False

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        out: tuple[Tensor, Tensor] = self.classifier(self.encoder.forward_features(frames))
        return out

    def load_encoder(self, pretrainer: SfdPretrainer) -> None:
        """Copy a pretrained encoder's weights (its predictor is discarded).

        Raises:
            ValueError: the encoders differ in architecture (the first differing setting is named).
        """
        mine, theirs = self.config.encoder_kwargs(), pretrainer.config.encoder_kwargs()
        for key in mine:
            if mine[key] != theirs[key] and key != "dropout":
                raise ValueError(
                    f"pretrained encoder has {key}={theirs[key]!r} but this localizer needs {mine[key]!r}"
                )
        self.encoder.load_state_dict(pretrainer.encoder.state_dict())

    def freeze_encoder(self) -> None:
        """Linear probe: the encoder gets no gradient and stays in eval mode (no dropout) while training."""
        self.encoder_frozen = True
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> SfdLocalizer:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def _check_waveform(self, noisy: Tensor) -> Tensor:
        if noisy.ndim not in (2, 3) or noisy.shape[-2] != 2:
            raise ValueError(f"noisy must have shape (2, time) or (batch, 2, time), got {tuple(noisy.shape)}")
        if noisy.ndim == 2:
            noisy = noisy.unsqueeze(0)
        if noisy.shape[-1] < self.config.n_fft:
            raise ValueError(
                f"audio of {noisy.shape[-1]} samples is shorter than one frame (n_fft={self.config.n_fft})"
            )
        return noisy.to(self.encoder.input_proj.weight.dtype)

    def _result(self, frame_logits: Tensor) -> dict[str, Any]:
        probs = torch.softmax(frame_logits, dim=-1)
        index = frame_logits.argmax(dim=-1).cpu().numpy()
        return {
            "frame_logits": frame_logits,
            "clip_logits": frame_logits.mean(dim=1),
            "frame_azimuth": torch.from_numpy(self.grid.to_azimuth(index)),
            "clip_azimuth": torch.from_numpy(self.grid.clip_estimate(probs)),
        }

    @torch.no_grad()
    def predict(self, noisy: Tensor) -> dict[str, Any]:
        """Azimuth estimates of binaural audio at ``config.sample_rate`` (eval mode, no gradient).

        Returns:
            ``frame_logits`` ``(B, frames, K)``, ``clip_logits`` ``(B, K)``, ``frame_azimuth`` ``(B, frames)``
            (argmax class per frame, radians) and ``clip_azimuth`` ``(B,)`` (mean frame probability, then
            argmax: :meth:`AzimuthGrid.clip_estimate`).

        Raises:
            ValueError: not ``(2, time)``/``(B, 2, time)`` or shorter than one frame.
        """
        noisy = self._check_waveform(noisy)
        was_training = self.training
        self.eval()
        try:
            frame_logits, _ = self(input_frames(noisy, self.config))
        finally:
            self.train(was_training)
        return self._result(frame_logits)

    @torch.no_grad()
    def predict_streaming(self, noisy: Tensor, chunk_samples: int = 1600) -> dict[str, Any]:
        """:meth:`predict`, fed ``chunk_samples`` at a time through the encoder's cached state.

        Samples are buffered until a frame is complete, so frames equal the offline ones and the output
        matches :meth:`predict` to float rounding (``forward_step``, see ``docs/models.md``).

        Raises:
            ValueError: as :meth:`predict`, or ``chunk_samples`` < 1.
        """
        if chunk_samples < 1:
            raise ValueError(f"chunk_samples must be >= 1, got {chunk_samples}")
        noisy = self._check_waveform(noisy)
        cfg = self.config
        was_training = self.training
        self.eval()
        try:
            state: ConformerState = self.encoder.init_state(noisy.shape[0])
            buffer = noisy[..., :0]
            outputs: list[Tensor] = []
            for start in range(0, noisy.shape[-1], chunk_samples):
                buffer = torch.cat((buffer, noisy[..., start : start + chunk_samples]), dim=-1)
                if buffer.shape[-1] < cfg.n_fft:
                    continue
                frames = input_frames(buffer, cfg)
                features, state = self.encoder.forward_step(frames, state)
                outputs.append(self.classifier(features)[0])
                buffer = buffer[..., frames.shape[1] * cfg.hop_length :]
        finally:
            self.train(was_training)
        return self._result(torch.cat(outputs, dim=1))


MODEL_FACTORIES: dict[str, type[nn.Module]] = {"sfd_pretrainer": SfdPretrainer, "sfd_localizer": SfdLocalizer}
"""Checkpoint model names -> constructors (pass to :func:`spatialrep.train.load_checkpoint`)."""


def pretrain_step(model: nn.Module, batch: Mapping[str, Any]) -> dict[str, Tensor]:
    """MSE between predicted and clean direct-path spatial features; uses no direction label.

    Raises:
        TypeError: ``model`` is not an :class:`SfdPretrainer`.
    """
    if not isinstance(model, SfdPretrainer):
        raise TypeError(f"pretrain_step needs an SfdPretrainer, got {type(model).__name__}")
    frames = input_frames(batch["noisy"], model.config)
    targets = distillation_targets(batch["clean_direct"], model.config)
    return {"loss": nn.functional.mse_loss(model(frames), targets)}


@dataclasses.dataclass(frozen=True)
class NoiseAugmentation:
    """Fine-tuning augmentation: add white noise, independent per ear, to some training clips.

    Each clip of a training batch is augmented with probability ``probability``; its noise level is drawn
    uniformly in ``snr_range_db`` relative to the clip's own power (signal = the already noisy input). Draws
    come from torch's global generator, which ``fit`` seeds and checkpoints, so resumed runs repeat them.

    Raises:
        ConfigError: an empty SNR range or a probability outside [0, 1].
    """

    snr_range_db: tuple[float, float] = (0.0, 20.0)
    probability: float = 0.5

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.snr_range_db)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ConfigError(
                f"NoiseAugmentation.snr_range_db={self.snr_range_db!r} must be finite low <= high"
            )
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"NoiseAugmentation.probability={self.probability!r} must be in [0, 1]")

    def __call__(self, noisy: Tensor) -> Tensor:
        """``(batch, channels, time) -> (batch, channels, time)``."""
        batch = noisy.shape[0]
        low, high = self.snr_range_db
        snr_db = low + (high - low) * torch.rand(batch, 1, 1, device=noisy.device, dtype=noisy.dtype)
        apply = (torch.rand(batch, 1, 1, device=noisy.device) < self.probability).to(noisy.dtype)
        power = noisy.square().mean(dim=(1, 2), keepdim=True)
        noise = torch.randn_like(noisy) * torch.sqrt(power * 10.0 ** (-snr_db / 10.0))
        return noisy + apply * noise


def _azimuth_classes(batch: Mapping[str, Any], grid: AzimuthGrid) -> Tensor:
    azimuth = batch["labels"]["azimuth"]
    azimuth = torch.as_tensor(azimuth)
    if azimuth.ndim == 2:
        if azimuth.shape[1] > 1 and not torch.isnan(azimuth[:, 1:]).all():
            raise ValueError(
                f"SFD fine-tuning expects one source per clip, got azimuths of shape {tuple(azimuth.shape)}"
            )
        azimuth = azimuth[:, 0]
    azimuth = azimuth.detach().cpu().double()
    return torch.from_numpy(grid.to_index(azimuth.numpy()))


def finetune_step(
    model: nn.Module, batch: Mapping[str, Any], augment: NoiseAugmentation | None = None
) -> dict[str, Tensor]:
    """Frame-wise cross-entropy against the clip's azimuth class, plus clip accuracy.

    ``augment`` is applied to ``noisy`` while the model is in training mode (never in validation).

    Raises:
        TypeError: ``model`` is not an :class:`SfdLocalizer`.
        ValueError: more than one source in a clip, or an azimuth off the grid.
    """
    if not isinstance(model, SfdLocalizer):
        raise TypeError(f"finetune_step needs an SfdLocalizer, got {type(model).__name__}")
    noisy = batch["noisy"]
    if augment is not None and model.training:
        noisy = augment(noisy)
    frames = input_frames(noisy, model.config)
    frame_logits, clip_logits = model(frames)
    classes = _azimuth_classes(batch, model.grid).to(frame_logits.device)
    per_frame = classes[:, None].expand(frame_logits.shape[:2])
    loss = nn.functional.cross_entropy(frame_logits.flatten(0, 1), per_frame.flatten())
    accuracy = (clip_logits.argmax(dim=-1) == classes).float().mean()
    return {"loss": loss, "accuracy": accuracy}


def _dataset(dataset_dir: str | os.PathLike[str], config: SfdConfig, **kwargs: Any) -> ManifestDataset:
    dataset = ManifestDataset(dataset_dir, signals=_SIGNALS, **kwargs)
    rate = dataset.rows[0].get("sample_rate")
    if isinstance(rate, int) and rate != config.sample_rate:
        raise ValueError(
            f"dataset {dataset_dir} is at {rate} Hz but SfdConfig.sample_rate is {config.sample_rate} Hz"
        )
    return dataset


def _val_loader(dataset_dir: str | os.PathLike[str], config: SfdConfig, batch_size: int) -> Any:
    try:
        val = _dataset(dataset_dir, config, split="val")
    except ManifestError:
        return None
    return make_loader(val, batch_size=batch_size, shuffle=False, collate_fn=collate_examples)


def _seeded(factory: Any, config: SfdConfig, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: nn.Module = factory(config)
    return model


def _train(
    model: nn.Module,
    name: str,
    step: Any,
    train_set: ManifestDataset,
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: SfdConfig,
    train_config: TrainConfig,
    progress: bool,
) -> FitResult:
    loader = make_loader(
        train_set,
        batch_size=train_config.batch_size,
        seed=train_config.seed,
        num_workers=train_config.num_workers,
        collate_fn=collate_examples,
    )
    module = MethodModule(
        model, step, model_name=name, model_kwargs={"config": config.to_dict()}, feature_config=config
    )
    val = _val_loader(dataset_dir, config, train_config.batch_size)
    return fit(module, loader, val, train_config, out_dir, progress=progress)


def pretrain(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sfd_config: SfdConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    progress: bool = False,
) -> FitResult:
    """Pre-train an :class:`SfdPretrainer` on the ``train`` split (``noisy`` and ``clean_direct`` signals).

    The ``val`` split, when present, is validated on. Exports ``out_dir/best`` and ``out_dir/last``
    (``model_name="sfd_pretrainer"``; see :func:`spatialrep.train.fit` for the layout).

    Raises:
        ManifestError: no manifest, no train split, or missing signals.
        ValueError: the dataset's sample rate differs from ``sfd_config.sample_rate``.
    """
    config = sfd_config or SfdConfig()
    train_config = train_config or TrainConfig()
    train_set = _dataset(dataset_dir, config, split="train")
    model = _seeded(SfdPretrainer, config, train_config.seed)
    name = "sfd_pretrainer"
    return _train(model, name, pretrain_step, train_set, dataset_dir, out_dir, config, train_config, progress)


def load_sfd(path: str | os.PathLike[str]) -> nn.Module:
    """Load an SFD checkpoint (a ``fit`` output folder or a ``best``/``last`` folder), eval mode, on CPU.

    Raises:
        FileNotFoundError: no ``model.json`` there.
        KeyError: a checkpoint of another model.
    """
    model, _ = load_checkpoint(checkpoint_dir(path), MODEL_FACTORIES)
    return model


def finetune(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sfd_config: SfdConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    budget: str | None = None,
    init_from: str | os.PathLike[str] | None = None,
    freeze_encoder: bool = False,
    augment: NoiseAugmentation | None = None,
    progress: bool = False,
) -> FitResult:
    """Fine-tune an :class:`SfdLocalizer` for azimuth classification (``model_name="sfd_localizer"``).

    Args:
        dataset_dir: a rendered dataset folder with ``noisy`` and ``azimuth`` labels (one source per clip).
        out_dir: output folder of :func:`spatialrep.train.fit`.
        sfd_config: the model; default: the pretrained checkpoint's config, else ``SfdConfig()``.
        train_config: optimisation settings.
        budget: train on ``budgets/<budget>.csv`` (a label budget such as ``10min``) instead of the whole
            train split.
        init_from: a :func:`pretrain` output (or its ``best``/``last`` folder) whose encoder initialises ours.
        freeze_encoder: train the classifier only (linear probe).
        augment: noise augmentation of the training clips (:class:`NoiseAugmentation`), or none.
        progress: show Lightning's progress bar.

    Raises:
        ValueError: ``init_from`` is not a pretraining checkpoint or its encoder does not fit ``sfd_config``;
            the dataset's sample rate differs.
        ManifestError: missing split, budget or signal.
    """
    pretrained: SfdPretrainer | None = None
    if init_from is not None:
        loaded = load_sfd(init_from)
        if not isinstance(loaded, SfdPretrainer):
            raise ValueError(f"init_from={init_from!s} holds a {type(loaded).__name__}, not an SfdPretrainer")
        pretrained = loaded
    config = sfd_config or (pretrained.config if pretrained is not None else SfdConfig())
    train_config = train_config or TrainConfig()
    train_set = _dataset(dataset_dir, config, split="train", budget=budget)
    model = _seeded(SfdLocalizer, config, train_config.seed)
    assert isinstance(model, SfdLocalizer)
    if pretrained is not None:
        model.load_encoder(pretrained)
    if freeze_encoder:
        model.freeze_encoder()
    name = "sfd_localizer"
    step = finetune_step if augment is None else functools.partial(finetune_step, augment=augment)
    return _train(model, name, step, train_set, dataset_dir, out_dir, config, train_config, progress)
