"""Exported checkpoints: ``model.safetensors`` (weights) + ``model.json`` (how to rebuild the model).

Loading never unpickles: weights come from safetensors, metadata from JSON, and the model is rebuilt by a
factory: by default the model registry (classes decorated with :func:`register_model`), or a
``create_encoder``-like callable or a name → constructor mapping.

The registry holds every checkpointable model class under the name its checkpoints carry. A method module
registers its classes when it is imported; :func:`spatialrep.methods.load_model` imports every method module
first, so a checkpoint of any method loads by path alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import safetensors
import safetensors.torch
import torch
from torch import nn

from spatialrep.io.atomic import atomic_path, atomic_write_text

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
FORMAT = "spatialrep-checkpoint"
FORMAT_VERSION = 1
_MAX_LISTED = 8

_SUBFOLDERS = ("model", "best", "last")

Factory = Callable[..., nn.Module] | Mapping[str, Callable[..., nn.Module]]
ModelClass = TypeVar("ModelClass", bound=type[nn.Module])

_REGISTRY: dict[str, type[nn.Module]] = {}


def register_model(name: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: checkpoints of the class carry ``name`` and :func:`load_checkpoint` rebuilds them.

    The class must be constructible from JSON-serialisable keyword arguments (what ``model.json`` stores).

    Raises:
        ValueError: an empty name, or a name already registered (by any class).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"model name must be a non-empty string, got {name!r}")

    def decorator(cls: ModelClass) -> ModelClass:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered by {_REGISTRY[name].__qualname__}")
        _REGISTRY[name] = cls
        cls.checkpoint_name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def registered_models() -> dict[str, type[nn.Module]]:
    """Registered model names -> classes (a copy)."""
    return dict(_REGISTRY)


def checkpoint_name(model: nn.Module | type[nn.Module]) -> str:
    """The registered name of a model class (or of an instance's class).

    Raises:
        TypeError: the class is not registered with :func:`register_model`.
    """
    cls = model if isinstance(model, type) else type(model)
    name = cls.__dict__.get("checkpoint_name")
    if not isinstance(name, str) or _REGISTRY.get(name) is not cls:
        raise TypeError(f"{cls.__qualname__} is not a registered model (decorate it with @register_model)")
    return name


def checkpoint_dir(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder of ``path``: ``path`` itself or its ``model/``, ``best/`` or ``last/`` subfolder
    (the first holding a ``model.json``).

    Raises:
        FileNotFoundError: none of them holds a ``model.json``.
    """
    folder = Path(path)
    for candidate in (folder, *(folder / name for name in _SUBFOLDERS)):
        if (candidate / META_FILE).is_file():
            return candidate
    subfolders = ", ".join(f"{name}/" for name in _SUBFOLDERS)
    raise FileNotFoundError(f"no model checkpoint ({META_FILE}) in {folder} or its {subfolders} folder")


@dataclasses.dataclass(frozen=True)
class CheckpointMeta:
    """What ``model.json`` holds.

    Attributes:
        model_name: registry name the factory rebuilds the model from.
        model_kwargs: constructor keyword arguments (as JSON gives them back: tuples are lists).
        feature_config: the method's feature front-end configuration as a dict (informative: the model is
            rebuilt from ``model_kwargs``).
        versions: versions of spatialrep, torch, safetensors and Python that wrote the checkpoint.
        extra: free-form JSON metadata (method, step, metrics, ...).
    """

    model_name: str
    model_kwargs: dict[str, Any]
    feature_config: dict[str, Any] | None
    versions: dict[str, str]
    extra: dict[str, Any]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from spatialrep import __version__

    return {
        "spatialrep": __version__,
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def _json_field(name: str, value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"save_checkpoint: {name} is not JSON-serialisable: {exc}") from exc
    return value


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    *,
    model_name: str,
    model_kwargs: Mapping[str, Any] | None = None,
    feature_config: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and the recipe to rebuild it into ``directory``.

    Each file is written atomically; the JSON, written last, records the SHA-256 of the weights, so a save
    interrupted between the two files is detected at load time.

    Args:
        directory: output folder (created).
        model: the module whose ``state_dict()`` is saved (buffers included).
        model_name: the factory's name for the model.
        model_kwargs: the constructor arguments (JSON-serialisable).
        feature_config: a dict or an object with ``to_dict()`` (a front-end config), or ``None``.
        extra: more JSON-serialisable metadata.

    Returns:
        ``directory`` as a ``Path``.

    Raises:
        ValueError: an empty ``model_name`` or metadata that JSON cannot hold.
    """
    if not model_name:
        raise ValueError("save_checkpoint: model_name must be a non-empty string")
    if feature_config is not None and not isinstance(feature_config, Mapping):
        if not hasattr(feature_config, "to_dict"):
            raise TypeError(
                f"save_checkpoint: feature_config must be a dict or have to_dict(), got "
                f"{type(feature_config).__name__}"
            )
        feature_config = feature_config.to_dict()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "model_kwargs": _json_field("model_kwargs", dict(model_kwargs or {})),
        "feature_config": _json_field(
            "feature_config", None if feature_config is None else dict(feature_config)
        ),
        "versions": _versions(),
        "extra": _json_field("extra", dict(extra or {})),
    }
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        # safetensors refuses tensors sharing memory (tied weights): store a copy of the second one.
        if tensor.numel() and tensor.untyped_storage().data_ptr() in seen:
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[name] = tensor
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / WEIGHTS_FILE
    with atomic_path(weights) as tmp:
        safetensors.torch.save_file(tensors, str(tmp), metadata={"format": FORMAT})
    meta["weights_sha256"] = _sha256(weights)
    atomic_write_text(out / META_FILE, json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return out


def read_meta(directory: str | os.PathLike[str]) -> CheckpointMeta:
    """Read and check ``model.json`` (no weights are loaded).

    Raises:
        FileNotFoundError: the folder or ``model.json`` is missing.
        ValueError: ``model.json`` is not valid JSON or lacks a field.
    """
    meta_path = Path(directory) / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"checkpoint metadata not found: {meta_path}")
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"checkpoint metadata {meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(
            f"{meta_path} is not a {FORMAT} file "
            f"(format={raw.get('format') if isinstance(raw, dict) else None!r})"
        )
    missing = [
        k for k in ("model_name", "model_kwargs", "feature_config", "versions", "extra") if k not in raw
    ]
    if missing:
        raise ValueError(f"checkpoint metadata {meta_path} lacks field(s) {', '.join(missing)}")
    if not isinstance(raw["model_kwargs"], dict):
        raise ValueError(f"checkpoint metadata {meta_path}: model_kwargs must be an object")
    return CheckpointMeta(
        model_name=str(raw["model_name"]),
        model_kwargs=raw["model_kwargs"],
        feature_config=raw["feature_config"],
        versions=dict(raw["versions"]),
        extra=dict(raw["extra"]),
    )


def _build(factory: Factory | None, meta: CheckpointMeta) -> nn.Module:
    if factory is None:
        factory = _REGISTRY
    if isinstance(factory, Mapping):
        if meta.model_name not in factory:
            raise KeyError(
                f"checkpoint model {meta.model_name!r} is not in the registry; "
                f"known: {', '.join(sorted(factory)) or 'none (import the method module that defines it)'}"
            )
        model = factory[meta.model_name](**meta.model_kwargs)
    else:
        model = factory(meta.model_name, **meta.model_kwargs)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"factory returned {type(model).__name__} for {meta.model_name!r}, not a torch.nn.Module"
        )
    return model


def _check_fits(
    folder: Path, name: str, expected: Mapping[str, tuple[int, ...]], stored: Mapping[str, tuple[int, ...]]
) -> None:
    """Raise ``ValueError`` unless the stored tensors have exactly the names and shapes the model expects."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {folder} does not fit model {name!r}: "
            f"missing tensor(s) [{_listed(missing)}], unexpected tensor(s) [{_listed(unexpected)}]"
        )
    wrong = [
        f"{key}: checkpoint {stored[key]} vs model {shape}"
        for key, shape in expected.items()
        if stored[key] != shape
    ]
    if wrong:
        raise ValueError(f"checkpoint {folder} has tensors of the wrong shape: {_listed(wrong)}")


def _listed(names: list[str]) -> str:
    more = f" (+{len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else ""
    return ", ".join(names[:_MAX_LISTED]) + more


def load_checkpoint(
    directory: str | os.PathLike[str],
    factory: Factory | None = None,
    *,
    map_location: str | torch.device = "cpu",
) -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model of a checkpoint written by :func:`save_checkpoint` and load its weights.

    Args:
        directory: the checkpoint folder.
        factory: ``factory(name, **kwargs)`` (like ``create_encoder``), a mapping ``name -> constructor``, or
            ``None`` for the model registry (:func:`register_model`).
        map_location: device of the loaded tensors.

    Returns:
        ``(model, meta)``; the model is in eval mode.

    Raises:
        FileNotFoundError: the folder, ``model.json`` or ``model.safetensors`` is missing.
        ValueError: corrupt JSON or weights, weights not matching the JSON's checksum, missing or unexpected
            tensor names, or tensors whose shapes differ from the rebuilt model's (all named; checked on the
            meta device before any weight is allocated).
        KeyError: the model name is unknown to a registry mapping.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint folder not found: {folder}")
    meta = read_meta(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint weights not found: {weights}")
    expected_hash = json.loads((folder / META_FILE).read_text(encoding="utf-8")).get("weights_sha256")
    if expected_hash is not None and _sha256(weights) != expected_hash:
        raise ValueError(
            f"{weights} does not match the checksum in {META_FILE} (an interrupted or mixed save?)"
        )
    try:
        with safetensors.safe_open(str(weights), framework="pt") as handle:
            stored = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers/data
        raise ValueError(f"checkpoint weights {weights} cannot be read: {exc}") from exc
    # Build on the meta device first: model.json's arguments are checked against the stored tensors before
    # any memory is allocated, so an edited model.json cannot request an absurd model.
    with torch.device("meta"):
        skeleton = _build(factory, meta)
    shapes = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    _check_fits(folder, meta.model_name, shapes, stored)
    try:
        tensors = safetensors.torch.load_file(str(weights), device=str(map_location))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers/data
        raise ValueError(f"checkpoint weights {weights} cannot be read: {exc}") from exc
    model = _build(factory, meta)
    model.load_state_dict(tensors, strict=True)
    model.to(map_location)
    model.eval()
    return model, meta
