"""NumPy ``.npz`` archives: written atomically, read without unpickling, errors naming the file."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from spatialrep.io.atomic import atomic_path


class ArrayFileError(ValueError):
    """An ``.npz`` file that is missing, damaged, holds pickled objects or lacks an array."""


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` (uncompressed ``.npz``) under a temporary name, then rename it."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def load_npz(path: str | os.PathLike[str], names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of ``path`` (``names``: these, each required; default all), never unpickling anything.

    Raises:
        ArrayFileError: a missing or damaged file, an object (pickled) array, or a missing name; the file is
            named, with the advice to delete it when it is a cache.
    """
    p = Path(path)
    if not p.is_file():
        raise ArrayFileError(f"array file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as archive:
            wanted = list(archive.files) if names is None else list(names)
            missing = [n for n in wanted if n not in archive.files]
            if missing:
                raise ArrayFileError(
                    f"{p} lacks array(s) {', '.join(missing)} (has {', '.join(archive.files) or 'none'}); "
                    "delete it if it is a cache to build it again"
                )
            return {n: archive[n] for n in wanted}
    except ArrayFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ArrayFileError(
            f"{p} is not a readable array file ({exc}); delete it if it is a cache to build it again"
        ) from exc
