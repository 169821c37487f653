"""The encoder interface and the registry that names every encoder.

Every encoder maps a sequence of feature frames to a sequence of embeddings and a pooled embedding:

* :meth:`Encoder.forward_features` ``(batch, frames, input_dim) -> (batch, frames', output_dim)``;
* :meth:`Encoder.forward` ``(batch, frames, input_dim) -> (batch, output_dim)``, the mean over frames by
  default.

Encoders take features (STFT frames, GCC vectors, ...) as input; they never compute features themselves (see
:mod:`spatialrep.features`). Encoders register themselves by name with :func:`register_encoder`, and
:func:`create_encoder` builds one from its name and keyword arguments (the form a checkpoint stores).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

__all__ = ["Encoder", "EncoderConfig", "check_frames", "create_encoder", "list_encoders", "register_encoder"]


class Encoder(nn.Module):
    """Base class of the encoders.

    Subclasses set :attr:`input_dim`, :attr:`output_dim` and :attr:`is_causal` and implement
    :meth:`forward_features`.

    Attributes:
        input_dim: size of the last axis of the input.
        output_dim: size of the last axis of the output.
        is_causal: in eval mode, output frame ``t`` depends on input frames ``<= t`` only.
    """

    input_dim: int
    output_dim: int
    is_causal: bool = False

    def forward_features(self, x: Tensor) -> Tensor:
        """Frame embeddings.

        Shape:
            ``(batch, frames, input_dim) -> (batch, frames', output_dim)``.
        """
        raise NotImplementedError

    def pool(self, features: Tensor) -> Tensor:
        """Clip embedding from frame embeddings: the mean over frames.

        Shape:
            ``(batch, frames, output_dim) -> (batch, output_dim)``.
        """
        return features.mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Pooled embedding, :meth:`pool` of :meth:`forward_features`.

        Shape:
            ``(batch, frames, input_dim) -> (batch, output_dim)``.
        """
        return self.pool(self.forward_features(x))


def check_frames(x: Tensor, input_dim: int, name: str = "x") -> None:
    """Validate a ``(batch, frames, input_dim)`` floating-point input.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``x`` is not 3-D, has no frames, or its last axis is not ``input_dim``.
    """
    if not isinstance(x, Tensor) or not torch.is_floating_point(x):
        kind = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point tensor, got {kind}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape (batch, frames, {input_dim}), got {tuple(x.shape)}")
    if x.shape[-1] != input_dim:
        raise ValueError(f"{name} must have {input_dim} features on its last axis, got {x.shape[-1]}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has no frames: shape {tuple(x.shape)}")


E = TypeVar("E", bound=Callable[..., Encoder])

_REGISTRY: dict[str, Callable[..., Encoder]] = {}


def register_encoder(name: str) -> Callable[[E], E]:
    """Class (or factory) decorator registering an encoder under ``name``.

    Raises:
        ValueError: ``name`` is empty or already registered.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}")

    def decorator(factory: E) -> E:
        if name in _REGISTRY:
            raise ValueError(f"encoder {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorator


def list_encoders() -> list[str]:
    """The registered encoder names, sorted."""
    return sorted(_REGISTRY)


def create_encoder(name: str, **kwargs: Any) -> Encoder:
    """Build the encoder registered as ``name`` with keyword arguments ``kwargs``.

    Raises:
        ValueError: ``name`` is not registered (the message lists the valid names).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown encoder {name!r}; valid: {', '.join(list_encoders())}")
    return _REGISTRY[name](**kwargs)


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """The encoder section of a method's config: a registered name and its keyword arguments.

    ``input_dim`` is not part of it: the method derives it from its feature front-end and passes it to
    :meth:`build`.

    Attributes:
        name: a registered encoder (:func:`list_encoders`).
        kwargs: its keyword arguments besides ``input_dim`` (JSON-serialisable).

    Raises:
        ValueError: an unknown name (lists the valid ones), ``input_dim`` inside ``kwargs``.
    """

    name: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in _REGISTRY:
            raise ValueError(f"unknown encoder {self.name!r}; valid: {', '.join(list_encoders())}")
        if not isinstance(self.kwargs, Mapping):
            raise ValueError(f"encoder kwargs must be a mapping, got {self.kwargs!r}")
        if "input_dim" in self.kwargs:
            raise ValueError("encoder kwargs must not set input_dim: the feature front-end fixes it")
        object.__setattr__(self, "kwargs", dict(self.kwargs))

    def build(self, input_dim: int) -> Encoder:
        """``create_encoder(name, input_dim=input_dim, **kwargs)``.

        Raises:
            ValueError: invalid arguments (the encoder's own message, prefixed with its name).
        """
        try:
            return create_encoder(self.name, input_dim=input_dim, **self.kwargs)
        except TypeError as exc:
            raise ValueError(f"encoder {self.name!r}: {exc}") from exc
