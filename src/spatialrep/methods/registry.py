"""Load any method's checkpoint by path: every method module registers its model classes on import.

:func:`discover` imports every module of :mod:`spatialrep.methods` (no hand-kept list: a new method module is
found by being there), so :func:`load_model` knows every model name a checkpoint can carry.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from torch import nn

from spatialrep.train import checkpoint_dir, load_checkpoint, registered_models

__all__ = ["discover", "list_models", "load_model"]


def discover() -> None:
    """Import every module of the :mod:`spatialrep.methods` package (registering their models)."""
    package = importlib.import_module("spatialrep.methods")
    for module in pkgutil.iter_modules(package.__path__, prefix="spatialrep.methods."):
        importlib.import_module(module.name)


def list_models() -> list[str]:
    """Every registered model name, sorted."""
    discover()
    return sorted(registered_models())


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """Load any spatialrep model checkpoint (eval mode, CPU) without unpickling.

    Args:
        path: a checkpoint folder, or a training folder holding ``model/``, ``best/`` or ``last/``.

    Raises:
        FileNotFoundError: no checkpoint there.
        KeyError: a model name no method registers (the known names are listed).
        ValueError: corrupt or mismatching files (see :func:`spatialrep.train.load_checkpoint`).
    """
    discover()
    model, _ = load_checkpoint(checkpoint_dir(path))
    return model
