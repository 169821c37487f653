"""Shipped experiment recipes: ``recipes/<experiment>/<scale>.yaml`` (package data; no heavy imports here, so
the command line can list them cheaply). Loaded by :func:`spatialrep.experiments.runner.load_recipe`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["list_recipe_experiments", "list_scales", "recipe_folder"]


def recipe_folder(experiment: str) -> Path:
    """The folder of ``experiment``'s recipes (it may not exist)."""
    return Path(str(resources.files("spatialrep") / "recipes" / experiment))


def list_recipe_experiments() -> tuple[str, ...]:
    """Experiments that ship at least one recipe, sorted."""
    root = Path(str(resources.files("spatialrep") / "recipes"))
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.yaml"))))


def list_scales(experiment: str) -> tuple[str, ...]:
    """The recipe names (scales) shipped for ``experiment``, sorted."""
    folder = recipe_folder(experiment)
    return tuple(sorted(p.stem for p in folder.glob("*.yaml"))) if folder.is_dir() else ()
