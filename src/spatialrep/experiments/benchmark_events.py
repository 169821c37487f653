"""The ``events`` task of ``spatialrep benchmark``: sound event detection, distance and direction.

Every model an ``events`` entry trains (SpatialAST, DSpAST, the conformer over the same feature stack) answers
:class:`~spatialrep.methods.base.EventDetector`: class scores, a direction and a distance per clip. They are
scored on every suite of the task with :func:`~spatialrep.evaluate.events.event_metrics` (mAP over every
clip; great-circle DoA MAE, DER and distance R² against the training mean on the one-source clips), next
to SRP-PHAT over the head's HRTF grid (direction only) and the floors: ``class-prior`` (every clip scored
with the training class frequencies), ``always-0°`` (straight ahead) and ``mean-distance`` (the training
mean, whose R² is 0 by definition).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialrep.data.datasets import InMemoryDataset, ManifestDataset, collate_examples
from spatialrep.data.presets import load_dataset_config
from spatialrep.evaluate.events import event_metrics
from spatialrep.experiments.benchmark_config import EventsTask
from spatialrep.experiments.dspast import grid_directions, hrtf_grid_srp_phat
from spatialrep.experiments.runner import Unit, trained_benchmark_models
from spatialrep.methods.base import EventDetector
from spatialrep.methods.registry import load_model
from spatialrep.train import make_loader

__all__ = ["EVENT_FLOORS", "event_eval_units"]

EVENT_FLOORS = ("class-prior", "always-0°", "mean-distance")


@dataclasses.dataclass(frozen=True)
class _EventSuite:
    """A suite's clips and labels: multi-hot classes, the one-source mask and the first source's direction
    (radians) and distance (metres)."""

    items: InMemoryDataset | None
    sed: np.ndarray
    single: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    distance: np.ndarray
    sample_rate: int
    seconds: float

    @property
    def labels(self) -> dict[str, Any]:
        return {
            "sed_labels": self.sed,
            "single": self.single,
            "true_azimuth": self.azimuth,
            "true_elevation": self.elevation,
            "true_distance_m": self.distance,
        }


def _multi_hot(rows: list[dict[str, Any]], classes: tuple[str, ...]) -> np.ndarray:
    index = {c: k for k, c in enumerate(classes)}
    out = np.zeros((len(rows), len(classes)))
    for i, row in enumerate(rows):
        for name in row["class"]:
            if str(name) in index:
                out[i, index[str(name)]] = 1.0
    return out


@functools.lru_cache(maxsize=2)
def _load(data: Path, classes: tuple[str, ...], audio: bool = True) -> _EventSuite:
    signals = ("noisy",) if audio else ()
    dataset = ManifestDataset(data, split="test", signals=signals, check_files=audio)
    items = InMemoryDataset(dataset) if audio else None
    rows = list(dataset.rows)
    return _EventSuite(
        items=items,
        sed=_multi_hot(rows, classes),
        single=np.array([int(r["num_sources"]) == 1 for r in rows]),
        azimuth=np.radians([float(r["azimuth_deg"][0]) for r in rows]),
        elevation=np.radians([float(r["elevation_deg"][0]) for r in rows]),
        distance=np.array([float(r["distance_m"][0]) for r in rows]),
        sample_rate=int(rows[0]["sample_rate"]),
        seconds=float(sum(float(r["duration_s"]) for r in rows)),
    )


def _aligned_scores(scores: np.ndarray, names: Any, classes: tuple[str, ...]) -> np.ndarray:
    """A model's class scores reordered to the task's classes (0 for a class the model does not know)."""
    column = {str(c): k for k, c in enumerate(names)}
    out = np.zeros((scores.shape[0], len(classes)))
    for k, name in enumerate(classes):
        if name in column:
            out[:, k] = scores[:, column[name]]
    return out


def _predict(model: EventDetector, suite: _EventSuite, batch: int) -> tuple[dict[str, np.ndarray], float]:
    assert suite.items is not None
    loader = make_loader(suite.items, batch_size=batch, shuffle=False, collate_fn=collate_examples)
    parts: dict[str, list[np.ndarray]] = {}
    started = time.perf_counter()
    with torch.no_grad():
        for b in loader:
            for key, value in model.predict(b["noisy"], suite.sample_rate).items():
                parts.setdefault(key, []).append(np.asarray(value))
    seconds = time.perf_counter() - started
    return {k: np.concatenate(v) for k, v in parts.items()}, seconds


def _srp_phat(spec: EventsTask, suite: _EventSuite, batch: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Azimuth and elevation (radians) of SRP-PHAT over the head's HRTF grid, and its wall seconds."""
    assert suite.items is not None
    receiver = load_dataset_config(dict(spec.dataset)).scene.receiver
    localizer = hrtf_grid_srp_phat(receiver, suite.sample_rate, n_fft=512)
    loader = make_loader(suite.items, batch_size=batch, shuffle=False, collate_fn=collate_examples)
    started = time.perf_counter()
    azimuth, elevation = grid_directions(localizer, (b["noisy"].double().numpy() for b in loader))
    return azimuth, elevation, time.perf_counter() - started


def _row(metrics: Mapping[str, Any], **keys: Any) -> dict[str, Any]:
    row = {**keys, **metrics}
    row.pop("true_distance_m", None)
    return row


def event_eval_units(
    task_name: str,
    spec: EventsTask,
    suite_folder: Callable[[str], Path],
    train_folder: Path,
    trained: Mapping[str, Mapping[str, Any]],
    folder: Callable[[str], Path],
    batch: int,
) -> list[Unit]:
    """The evaluation units of the events task: every trained model, SRP-PHAT and the floors on every suite.

    Args:
        task_name: the task's name (its rows' ``task``).
        spec: the task.
        suite_folder: suite name -> its rendered folder.
        train_folder: the task's training folder (the floors' and the class list's only source).
        trained: finished training units (``name -> marker``) of every task; this task's are used.
        folder: suite name -> the folder of its evaluation markers.
        batch: clips per batch.
    """
    train_rows = ManifestDataset(train_folder, split="train", signals=(), check_files=False).rows
    classes = tuple(sorted({str(c) for r in train_rows for c in r["class"]}))
    one = [r for r in train_rows if int(r["num_sources"]) == 1]
    mean_distance = float(np.mean([float(r["distance_m"][0]) for r in one])) if one else 0.0
    shared: dict[str, Any] = {
        "train_mean_distance_m": mean_distance,
        "distance_bin_m": float(spec.distance_bin_m),
    }

    def learned(path: str, data: Path, **keys: Any) -> dict[str, Any]:
        suite = _load(data, classes)
        model = load_model(path)
        if not isinstance(model, EventDetector):
            raise ValueError(f"{path} holds a {type(model).__name__}, which does not detect events")
        found, seconds = _predict(model, suite, batch)
        metrics = event_metrics(
            **suite.labels,
            **shared,
            sed_scores=_aligned_scores(found["sed"], model.class_names, classes),
            azimuth=np.radians(found["azimuth_deg"]),
            elevation=np.radians(found["elevation_deg"]),
            distance_m=found["distance_m"],
        )
        params = int(sum(p.numel() for p in model.parameters())) if isinstance(model, torch.nn.Module) else 0
        return _row(metrics, params=params, infer_s_per_s=seconds / suite.seconds, **keys)

    def classic(data: Path, **keys: Any) -> dict[str, Any]:
        suite = _load(data, classes)
        azimuth, elevation, seconds = _srp_phat(spec, suite, batch)
        metrics = event_metrics(**suite.labels, **shared, azimuth=azimuth, elevation=elevation)
        return _row(metrics, params=0, train_s=0.0, infer_s_per_s=seconds / suite.seconds, **keys)

    def floor(name: str, data: Path, **keys: Any) -> dict[str, Any]:
        suite = _load(data, classes, audio=False)
        n = len(suite.single)
        predicted: dict[str, Any] = {}
        if name == "class-prior":
            frequency = _multi_hot(list(train_rows), classes).mean(axis=0)
            predicted["sed_scores"] = np.tile(frequency, (n, 1))
        elif name == "always-0°":
            predicted.update(azimuth=np.zeros(n), elevation=np.zeros(n))
        else:  # mean-distance
            predicted["distance_m"] = np.full(n, mean_distance)
        metrics = event_metrics(**suite.labels, **shared, **predicted)
        return _row(metrics, params=0, train_s=0.0, infer_s_per_s=0.0, **keys)

    units: list[Unit] = []
    for suite_name in spec.suite_names:
        data, marker_dir = suite_folder(suite_name), folder(suite_name)
        keys = {"task": task_name, "suite": suite_name}
        for model in trained_benchmark_models(trained, task_name):
            run = functools.partial(
                learned, model.path, data, **keys, kind="learned", method=model.method, model=model.name,
                seed=model.seed, train_s=model.train_s,
            )  # fmt: skip
            name = f"evaluate {task_name} {suite_name} {model.name} seed {model.seed}"
            units.append(Unit(name, marker_dir / f"{model.name}__seed{model.seed}.json", run))
        for name in spec.classic:
            run = functools.partial(classic, data, **keys, kind="classic", method=name, model=name, seed=None)
            units.append(Unit(f"evaluate {task_name} {suite_name} {name}", marker_dir / f"{name}.json", run))
        for name in EVENT_FLOORS:
            run = functools.partial(
                floor, name, data, **keys, kind="floor", method=name, model=name, seed=None
            )
            marker_path = marker_dir / f"{name.replace('°', '')}.json"
            units.append(Unit(f"evaluate {task_name} {suite_name} {name}", marker_path, run))
    return units
