"""Every trained model of every method, loadable from its checkpoint folder by one call.

Checkpoints (``spatialrep.train.save_checkpoint``: safetensors + ``model.json``) name their model; this module
maps those names to constructors across methods, so ``spatialrep localize`` needs no knowledge of which
method made a model.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from spatialrep.train import load_checkpoint

__all__ = ["checkpoint_dir", "load_model", "model_factories"]

_SUBFOLDERS = ("model", "best", "last")


def model_factories() -> dict[str, type[nn.Module]]:
    """Checkpoint model names -> constructors, over every method."""
    from spatialrep.methods import feedforward, sce, sfd

    return {**sfd.MODEL_FACTORIES, **sce.MODEL_FACTORIES, **feedforward.MODEL_FACTORIES}


def checkpoint_dir(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder of ``path``: ``path`` itself or its ``model/``, ``best/`` or ``last/`` subfolder
    (the first holding a ``model.json``).

    Raises:
        FileNotFoundError: none of them holds a ``model.json``.
    """
    folder = Path(path)
    for candidate in (folder, *(folder / name for name in _SUBFOLDERS)):
        if (candidate / "model.json").is_file():
            return candidate
    subfolders = ", ".join(f"{name}/" for name in _SUBFOLDERS)
    raise FileNotFoundError(f"no model checkpoint (model.json) in {folder} or its {subfolders} folder")


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """Load any spatialrep model checkpoint (eval mode, CPU) without unpickling.

    Raises:
        FileNotFoundError: no checkpoint there.
        KeyError: a model name no method knows (the known names are listed).
    """
    model, _ = load_checkpoint(checkpoint_dir(path), model_factories())
    return model
