"""Dataset presets: YAML files shipped in ``spatialrep/presets/`` (or any YAML path), loaded as
:class:`~spatialrep.data.config.DatasetConfig`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from spatialrep.config import load_config
from spatialrep.data.config import DatasetConfig


def list_presets() -> tuple[str, ...]:
    """Names of the presets shipped with spatialrep, sorted."""
    folder = resources.files("spatialrep") / "presets"
    return tuple(sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")))


def preset_path(preset: str | Path) -> Path:
    """The YAML file of a preset name, or ``preset`` itself when it is a path to a YAML file.

    Raises:
        ValueError: neither a known preset nor an existing ``.yaml``/``.yml`` file (lists the presets).
    """
    text = str(preset)
    if text in list_presets():
        return Path(str(resources.files("spatialrep") / "presets" / f"{text}.yaml"))
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    hint = f" (file {path} not found)" if path.suffix in (".yaml", ".yml") else ""
    raise ValueError(
        f"unknown preset {text!r}{hint}; valid presets: {', '.join(list_presets())}, or a path to a YAML file"
    )


def load_dataset_config(
    preset: str | Path | Mapping[str, Any], overrides: Iterable[str] = ()
) -> DatasetConfig:
    """Load a preset (name, YAML path or mapping) and apply ``key=value`` overrides.

    Raises:
        ValueError: an unknown preset; ``ConfigError`` (a ``ValueError``) for invalid values.
    """
    source: Path | Mapping[str, Any] = preset if isinstance(preset, Mapping) else preset_path(preset)
    return load_config(DatasetConfig, source, overrides)
