"""Embeddings of audio files from any :class:`~spatialrep.methods.base.Embedder`, for downstream use.

* :func:`load_embedder` — a checkpoint folder whose model answers ``embed`` (SFD's pretrainer and localizer,
  SCE / WSCE, MC-SimCLR's pretrainer and models, ...).
* :func:`embed_file` — one file, cut into segments, one embedding per segment and layer.
* :func:`embed_paths` — files and folders into an output folder: one array file per input (``.npy`` per layer,
  or one ``.safetensors`` with a tensor per layer), a ``manifest.csv`` with a row per (file, segment, layer),
  and ``errors.csv`` for the files that failed. Resumable: a file whose outputs are complete is skipped, so a
  killed run started again ends with the same folder.

A model that has several layers worth keeping (e.g. a transformer's CLS and patch tokens) answers
:class:`~spatialrep.methods.base.LayeredEmbedder`'s ``embed_layers``; any other Embedder gives one layer,
``embedding``. Only the protocols are used: no method's class is named here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from spatialrep.inference.audio_blocks import AudioBlocks
from spatialrep.inference.localize import audio_files
from spatialrep.io.atomic import atomic_path, atomic_write_text
from spatialrep.methods.base import Embedder, LayeredEmbedder
from spatialrep.methods.registry import load_model

__all__ = [
    "DEFAULT_SEGMENT_S",
    "EMBED_FORMATS",
    "MANIFEST_COLUMNS",
    "EmbedSummary",
    "embed_file",
    "embed_paths",
    "load_embedder",
]

DEFAULT_SEGMENT_S = 10.0
"""Segment length (s) when none is given: files up to this long give one embedding."""

EMBED_FORMATS = ("npy", "safetensors")
"""Output formats of :func:`embed_paths`."""

MANIFEST_COLUMNS = ("file", "segment", "start_s", "end_s", "model", "layer", "output", "key", "row", "shape")
"""Columns of ``manifest.csv``: ``output`` is the array file (relative to the folder), ``key`` the tensor's
name in a ``.safetensors`` file (empty for ``.npy``), ``row`` the index along the array's first axis,
``shape`` the shape of one row (``64`` or ``65x128``). A layer whose shape changes with the segment's length
(patch tokens of a shorter last segment) is stored one array per segment (``<layer>.<segment>``, row 0)."""

_SETTINGS_FILE = "embed.json"


def load_embedder(model: str | os.PathLike[str]) -> Embedder:
    """The model in a checkpoint folder (or a training folder with ``model/``, ``best/``, ``last/``).

    Raises:
        FileNotFoundError: no checkpoint at that path.
        ValueError: a model that does not embed.
    """
    if not Path(model).exists():
        raise FileNotFoundError(f"model {str(model)!r}: no such folder")
    loaded = load_model(model)
    if not isinstance(loaded, Embedder):
        kind = type(loaded).__name__
        raise ValueError(f"{model} holds a {kind}, which has no embed(); nothing to embed with")
    return loaded


def _layers(embedder: Embedder, audio: torch.Tensor, sample_rate: int) -> dict[str, np.ndarray]:
    if isinstance(embedder, LayeredEmbedder):
        found = embedder.embed_layers(audio, sample_rate)
    else:
        found = {"embedding": embedder.embed(audio, sample_rate)}
    return {name: value.detach().float().cpu().numpy()[0] for name, value in found.items()}


def _segment_bounds(total: int, segment: int, minimum: int) -> list[tuple[int, int]]:
    """``[start, end)`` of consecutive segments; a last piece under ``minimum`` joins the one before."""
    bounds = [(start, min(start + segment, total)) for start in range(0, total, segment)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < minimum:
        bounds[-2:] = [(bounds[-2][0], total)]
    return bounds


def embed_file(
    path: str | os.PathLike[str], embedder: Embedder, *, segment_s: float | None = None
) -> tuple[list[tuple[float, float]], dict[str, list[np.ndarray]]]:
    """Embed one file of any length, one segment at a time.

    Args:
        path: an audio file with the model's channel count (when the model states one); another sample rate
            is resampled, with a warning.
        embedder: the model.
        segment_s: segment length (default :data:`DEFAULT_SEGMENT_S`); a last piece shorter than the model's
            shortest input joins the segment before it.

    Returns:
        The segments' ``(start_s, end_s)`` and, per layer, one float32 array per segment.

    Raises:
        ValueError: a non-positive segment, audio shorter than the model's shortest input, or audio the model
            refuses; spatialrep.io.audio.AudioFileError: an unreadable file.
    """
    length_s = DEFAULT_SEGMENT_S if segment_s is None else segment_s
    if not (np.isfinite(length_s) and length_s > 0):
        raise ValueError(f"--segment must be positive seconds, got {segment_s}")
    rate = int(embedder.sample_rate)
    segment = max(1, round(length_s * rate))
    minimum = int(getattr(embedder, "min_samples", 1))
    channels = getattr(embedder, "num_channels", None)
    with AudioBlocks(path, rate, None if channels is None else int(channels), segment) as audio:
        if audio.total < minimum:
            total = audio.total
            raise ValueError(f"{path} has {total} samples at {rate} Hz, shorter than the model's {minimum}")
        bounds = _segment_bounds(audio.total, segment, minimum)
        rows: dict[str, list[np.ndarray]] = {}
        for start, end in bounds:
            piece = torch.from_numpy(np.ascontiguousarray(audio.get(start, end)))[None]
            for name, value in _layers(embedder, piece, rate).items():
                rows.setdefault(name, []).append(value)
            audio.release(end)
    per_segment = {name: [value.astype(np.float32) for value in values] for name, values in rows.items()}
    return [(start / rate, end / rate) for start, end in bounds], per_segment


def _tensors(
    layers: dict[str, list[np.ndarray]],
) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[str, int, list[int]]]]]:
    """Arrays to write and where each (layer, segment) lies: ``(tensor name, row, shape of one row)``.

    A layer whose segments share a shape is one tensor ``(segments, ...)`` named after the layer; one whose
    shape changes with the segment's length (a transformer's patch tokens and a shorter last segment) is one
    tensor ``(1, ...)`` per segment, named ``<layer>.<segment>``.
    """
    tensors: dict[str, np.ndarray] = {}
    places: dict[str, list[tuple[str, int, list[int]]]] = {}
    for layer, values in layers.items():
        if len({value.shape for value in values}) == 1:
            tensors[layer] = np.stack(values)
            places[layer] = [(layer, row, list(value.shape)) for row, value in enumerate(values)]
        else:
            for index, value in enumerate(values):
                tensors[f"{layer}.{index}"] = value[None]
            places[layer] = [(f"{layer}.{i}", 0, list(value.shape)) for i, value in enumerate(values)]
    return tensors, places


def _output_key(path: Path, root: Path) -> str:
    """A file name for ``path``'s outputs: its path under ``root`` made flat and safe, plus a short hash of
    the full path so that two inputs never share one."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        relative = Path(path.name)
    flat = re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(relative.with_suffix("").parts)) or "audio"
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{flat[:120]}-{digest}"


def _common_root(files: Sequence[Path]) -> Path:
    parents = [str(file.resolve().parent) for file in files]
    return Path(os.path.commonpath(parents))


def _write_arrays(folder: Path, key: str, tensors: dict[str, np.ndarray], fmt: str) -> dict[str, str]:
    """Write one file's tensors atomically; returns ``{tensor name: output file name}``."""
    if fmt == "safetensors":
        from safetensors.numpy import save_file

        name = f"{key}.safetensors"
        with atomic_path(folder / name) as tmp:
            save_file({tensor: np.ascontiguousarray(value) for tensor, value in tensors.items()}, str(tmp))
        return dict.fromkeys(tensors, name)
    outputs: dict[str, str] = {}
    for tensor, value in tensors.items():
        name = f"{key}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', tensor)}.npy"
        with atomic_path(folder / name) as tmp, open(tmp, "wb") as handle:
            np.save(handle, value)
        outputs[tensor] = name
    return outputs


@dataclass(frozen=True)
class EmbedSummary:
    """What :func:`embed_paths` did: files embedded now, skipped (done before), failed (``(file, error)``)."""

    out: Path
    embedded: int
    skipped: int
    failed: list[tuple[str, str]]


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    path = out / _SETTINGS_FILE
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is unreadable ({exc}); delete it or use another --out") from exc
        if previous != settings:
            keys = settings.keys() | previous.keys()
            changed = sorted(k for k in keys if settings.get(k) != previous.get(k))
            raise ValueError(
                f"{out} holds embeddings made with other settings ({', '.join(changed)}: "
                f"{[previous.get(k) for k in changed]} there, {[settings.get(k) for k in changed]} now); "
                "use another --out"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(settings, indent=2) + "\n")


def _csv_text(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def embed_paths(
    paths: Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    segment_s: float | None = None,
    fmt: str = "npy",
    progress: bool = False,
    on_error: Callable[[str, str], None] | None = None,
) -> EmbedSummary:
    """Embed every audio file under ``paths`` into the folder ``out`` (see the module's description).

    Each file is embedded in bounded memory (:func:`embed_file`); its arrays are written under a temporary
    name and renamed, then its record (``<key>.json``: segments, layers, outputs) last, so a file counts as
    done only when all of it is there. A file that fails is reported through ``on_error`` and in
    ``errors.csv`` and the others are still embedded; a rerun tries it again. ``manifest.csv`` lists every
    done file, in input order.

    Args:
        paths: files and folders (folders: their audio files, recursively).
        model: a checkpoint folder (:func:`load_embedder`).
        out: the output folder; a folder used before must have been made with the same model, segment and
            format.
        segment_s: segment length (s), default :data:`DEFAULT_SEGMENT_S`.
        fmt: ``npy`` (one ``.npy`` per layer) or ``safetensors`` (one file, a tensor per layer).
        progress: a progress bar over files.
        on_error: called with ``(file, message)`` for each file that fails.

    Raises:
        FileNotFoundError, ValueError: a missing path or model, no audio file, a model that does not embed,
            an unknown format, a bad segment length, an output folder made with other settings.
    """
    if fmt not in EMBED_FORMATS:
        raise ValueError(f"--format must be one of {', '.join(EMBED_FORMATS)}, got {fmt!r}")
    if segment_s is not None and not (np.isfinite(segment_s) and segment_s > 0):
        raise ValueError(f"--segment must be positive seconds, got {segment_s}")
    files = audio_files(paths)
    embedder = load_embedder(model)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file; give a folder")
    model_name = str(Path(model).resolve())
    settings = {"model": model_name, "segment_s": segment_s or DEFAULT_SEGMENT_S, "format": fmt}
    _check_settings(folder, settings)
    root = _common_root(files)
    manifest: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    embedded = skipped = 0
    for path in tqdm(files, desc="embedding", unit="file", disable=not progress, dynamic_ncols=True):
        key = _output_key(path, root)
        record_path = folder / f"{key}.json"
        if record_path.exists():
            record = json.loads(record_path.read_text())
            skipped += 1
        else:
            try:
                segments, arrays = embed_file(path, embedder, segment_s=segment_s)
            except (ValueError, OSError, RuntimeError) as exc:
                message = " ".join(str(exc).split())
                failed.append((str(path), message))
                if on_error is not None:
                    on_error(str(path), message)
                continue
            tensors, places = _tensors(arrays)
            outputs = _write_arrays(folder, key, tensors, fmt)
            record = {
                "file": str(path),
                "segments": segments,
                "layers": {
                    layer: [{"output": outputs[tensor], "tensor": tensor, "row": row, "shape": shape}
                            for tensor, row, shape in where]
                    for layer, where in places.items()
                },
            }  # fmt: skip
            atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
            embedded += 1
        for layer, where in record["layers"].items():
            for segment, ((start_s, end_s), place) in enumerate(zip(record["segments"], where, strict=True)):
                manifest.append({
                    "file": record["file"], "segment": segment, "start_s": f"{start_s:.3f}",
                    "end_s": f"{end_s:.3f}", "model": model_name, "layer": layer, "output": place["output"],
                    "key": place["tensor"] if fmt == "safetensors" else "", "row": place["row"],
                    "shape": "x".join(str(n) for n in place["shape"]),
                })  # fmt: skip
    atomic_write_text(folder / "manifest.csv", _csv_text(MANIFEST_COLUMNS, manifest))
    errors = folder / "errors.csv"
    if failed:
        atomic_write_text(errors, _csv_text(("file", "error"), [{"file": f, "error": e} for f, e in failed]))
    elif errors.exists():
        errors.unlink()
    return EmbedSummary(out=folder, embedded=embedded, skipped=skipped, failed=failed)
