"""Frozen-dataclass configs: load from YAML or dicts, override with ``key=value``, save resolved.

Config classes validate themselves in ``__post_init__``; this module only moves values in and out. Nested
dataclass fields are supported (``--set scene.rt60_range_s=[0.3,0.6]``). Values given as YAML/strings are
parsed with YAML's scalar rules and coerced to the annotated type (lists become tuples for tuple fields).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from spatialrep.io.atomic import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value or key is invalid; the message names it."""


def _number(value: Any) -> Any:
    """A string that is a number as a person writes it (``1e6``, ``-2.5E-3``; YAML 1.1 reads these as text)
    becomes that number; anything else is returned unchanged."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return value
        return (
            number if text.lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity") else value
        )
    return value


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} matches none of {annotation} ({'; '.join(errors)})")
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {annotation.__name__}, got {value!r}")
        return from_dict(annotation, value, where=where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(
            _coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args or [Any] * 99))
        )
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if annotation is float:
        value = _number(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if annotation is int:
        value = _number(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # 1e6 is an integer count when written so
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], where: str | None = None) -> T:
    """Build the dataclass ``cls`` from a mapping, coercing types; unknown keys raise ``ConfigError``."""
    where = where or cls.__name__
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def as_config(cls: type[T], value: Any) -> T:
    """``value`` if it is a ``cls``, else ``cls`` built from a mapping (a checkpoint's ``{"config": {...}}``).

    Raises:
        TypeError: neither a ``cls`` nor a mapping.
        ConfigError: unknown keys or invalid values.
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return from_dict(cls, value)
    article = "an" if cls.__name__[0] in "AEIOUS" else "a"
    raise TypeError(f"config must be {article} {cls.__name__} or a dict, got {type(value).__name__}")


def check_sections(config: Any, sections: Mapping[str, type]) -> None:
    """In a frozen config's ``__post_init__``: each section field holds its dataclass; a mapping is converted
    (``SfdConfig(encoder={"d_model": 64})`` works as YAML does).

    Raises:
        ConfigError: a section of another type, or a mapping with unknown keys or invalid values (the field
            is named, e.g. ``SfdConfig.encoder.d_model``).
    """
    owner = type(config).__name__
    for name, cls in sections.items():
        value = getattr(config, name)
        if isinstance(value, cls):
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"{owner}.{name} must be a {cls.__name__} or a mapping, got {value!r}")
        try:
            converted: Any = from_dict(cls, value)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{owner}.{name}: {exc}") from exc
        object.__setattr__(config, name, converted)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain, YAML-safe dict of a (nested) dataclass config; tuples become lists."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return plain(config)


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Turn ``["a.b=1", "c=[1, 2]"]`` into a nested dict with YAML-parsed values."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value: {exc}") from exc
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[parts[-1]] = value
    return nested


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; ``update`` wins."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(
    cls: type[T],
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
) -> T:
    """Load ``cls`` from YAML or a mapping (missing keys take defaults), then apply ``key=value`` overrides.

    Raises:
        ConfigError: unreadable YAML, unknown keys, wrong types or values failing validation.
    """
    data: Mapping[str, Any] = {}
    if isinstance(source, Mapping):
        data = source
    elif source is not None:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            raise ConfigError(f"config file {path} is empty; give at least one setting")
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping at top level")
        data = loaded
    return from_dict(cls, merge(data, parse_overrides(overrides)))


def save_config(config: Any, path: str | os.PathLike[str]) -> None:
    """Write the resolved config as YAML (atomically)."""
    atomic_write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))
