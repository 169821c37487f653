"""The ``quality`` task of ``spatialrep benchmark``: spatial-quality metrics on degradation sweeps.

Every model a ``quality`` entry trains (SQM-BS) is scored as a distance ``D(reference, test)`` next to the
classic distances (binaural cues, L1, multi-resolution STFT) and a random floor, on each suite: a split of
:class:`~spatialrep.data.sqm_pairs.SqmScenes` (``test``: the training heads and rooms with utterances never
trained on; ``unseen``: held-out heads, rooms and voices). Every distance sees the same pairs (drawn from the
data seed, so a suite is the same on every run and machine; its SHA-256 is over the pairs' float32 samples):
the degradation sweeps (Spearman's ρ of D against severity per kind, ``deg_mean`` their mean), the azimuth
monotonicity sweep (``sc_az``), the 2AFC proxy (``two_afc``) and the common area of same-location vs
both-differ pairs (``ca``, lower is better), as :func:`spatialrep.experiments.sqm.sweep_scores` computes them.
One unit per suite evaluates every distance (the pairs are rendered once per suite).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from spatialrep.data.sqm_pairs import SqmScenes
from spatialrep.experiments.benchmark_config import QualityTask
from spatialrep.experiments.runner import Unit, trained_benchmark_models
from spatialrep.experiments.sqm import (
    PairMetric,
    SqmPairMetric,
    baseline_metrics,
    random_floor,
    sweep_pairs,
    sweep_scores,
)
from spatialrep.methods.registry import load_model
from spatialrep.methods.sqm import SqmModel

__all__ = ["quality_eval_units"]

_KINDS = {"learned": "learned", "baseline": "classic", "floor": "floor"}


def quality_eval_units(
    task_name: str,
    spec: QualityTask,
    trained: Mapping[str, Mapping[str, Any]],
    folder: Callable[[str], Path],
    batch: int,
) -> list[Unit]:
    """One unit per suite, scoring every trained model, the classic distances and the floor.

    Args:
        task_name: the task's name (its rows' ``task``).
        spec: the task.
        trained: finished training units (``name -> marker``) of every task; this task's are used.
        folder: suite name -> the folder of its evaluation marker.
        batch: pairs per batch.

    Each unit returns ``{"rows": [...], "suite": {"pairs", "seconds", "sha256"}}``.
    """

    @functools.cache
    def classic_and_floor() -> list[PairMetric]:
        # built once for every suite: the cue distance is fitted on the training split's clips
        return [*baseline_metrics(SqmScenes(spec.data, "train"), spec.baselines), random_floor()]

    def evaluate(suite: str) -> dict[str, Any]:
        scenes = SqmScenes(spec.data, suite)
        metrics: list[PairMetric] = []
        keys: dict[str, dict[str, Any]] = {}
        for model in trained_benchmark_models(trained, task_name):
            loaded = load_model(model.path)
            if not isinstance(loaded, SqmModel):
                raise ValueError(f"{model.path} holds a {type(loaded).__name__}, not a quality metric")
            name = f"{model.name} seed {model.seed}"
            metrics.append(SqmPairMetric(name, loaded, "deep"))
            keys[name] = {
                "method": model.method,
                "model": model.name,
                "seed": model.seed,
                "params": int(sum(p.numel() for p in loaded.parameters())),
                "train_s": model.train_s,
            }
        for metric in classic_and_floor():
            metrics.append(metric)
            keys[metric.name] = {"method": metric.name, "model": metric.name, "seed": None, "params": 0}
        seconds: dict[str, float] = {}
        digest = hashlib.sha256()
        with torch.no_grad():
            swept = sweep_pairs(scenes, spec.eval, metrics, batch, seconds=seconds, digest=digest)
        pairs = len(swept["az"]["severity"]) + len(swept["same"]["severity"]) + len(swept["diff"]["severity"])
        pairs += sum(len(d["severity"]) for d in swept["degradations"].values())
        audio_s = pairs * spec.data.segment_s
        rows = []
        for metric in metrics:
            scores = sweep_scores(
                metric.name, swept["az"], swept["same"], swept["diff"], swept["degradations"]
            )
            rows.append(
                {
                    "task": task_name,
                    "suite": suite,
                    "kind": _KINDS[metric.kind],
                    "train_s": 0.0,
                    **keys[metric.name],
                    "infer_s_per_s": seconds.get(metric.name, 0.0) / audio_s,
                    **{k: float(v) for k, v in scores.items()},
                }
            )
        info = {"pairs": pairs, "seconds": round(audio_s, 3), "sha256": digest.hexdigest()}
        if swept["skipped"]:
            info["skipped"] = list(swept["skipped"])
        return {"rows": rows, "suite": info}

    return [
        Unit(f"evaluate {task_name} {suite}", folder(suite) / "all.json", functools.partial(evaluate, suite))
        for suite in spec.suite_names
    ]
