"""``spatialrep benchmark``: every method side by side on the same fixed test suites, with their floors.

Each task (:class:`~spatialrep.experiments.benchmark_config.BenchmarkTask`) renders one training folder and
one folder per test suite; every method named in the recipe trains through its registered benchmark entry
(:func:`~spatialrep.experiments.runner.register_benchmark_entry`) on the training folder only, for every
seed; then every model, the classic localizers and the trivial floors are evaluated on every suite of the
task. The tables give the mean ± std over seeds of each suite's azimuth MAE, plus the parameter count, the
training wall time and the inference time per second of audio of every row; the text names the winner of
each suite and its margin over the runner-up family (learned, classic, floor), including where a classic
localizer wins. Suite hashes (SHA-256 of every file) make the suites checkable across runs and machines.

Output folder layout (every file written atomically; a rerun skips finished units, so a killed run resumes)::

    experiment.json, recipe.yaml     the configuration (a rerun with another one is refused)
    data/<task>-train/               the only data any method trains on (train and val splits)
    data/<task>-<suite>/             a test suite (the test split, with the suite's scene overrides)
    models/<method>/seed<k>/         the method's training folder; done.json lists its models
    eval/<task>/<suite>/<row>.json   one evaluated row (predictions included)
    embeddings/<task>/<model>.npz    2-D PCA of an Embedder's in-domain embeddings
    suites.json                      per suite: clips, seconds, SHA-256
    results.csv / results.json / results.md / report.md / report.html, and the plots (*.png)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialrep.config import ConfigError
from spatialrep.data.datasets import InMemoryDataset, ManifestDataset, collate_examples
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.evaluate.azimuth_grid import AzimuthGrid
from spatialrep.evaluate.floors import azimuth_floors
from spatialrep.experiments import benchmark_plots as plots
from spatialrep.experiments.benchmark_config import (
    IN_DOMAIN,
    BenchmarkConfig,
    BenchmarkTask,
    EventsTask,
    Metric,
    QualityTask,
)
from spatialrep.experiments.benchmark_events import event_eval_units
from spatialrep.experiments.benchmark_quality import quality_eval_units
from spatialrep.experiments.report import (
    localization_row,
    markdown_table,
    read_json,
    write_json,
    write_results,
)
from spatialrep.experiments.runner import (
    BenchmarkEntrySpec,
    BenchmarkTraining,
    ExperimentResult,
    Unit,
    benchmark_entries,
    benchmark_training_unit,
    read_unit,
    register_experiment,
    run_units,
    trained_benchmark_models,
    unit_timings,
)
from spatialrep.io.atomic import atomic_write_text
from spatialrep.methods.base import Embedder, Localizer, localize_batches
from spatialrep.methods.classic import classic_localizer
from spatialrep.methods.registry import load_model
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.train import make_loader

__all__ = [
    "cell_key",
    "format_cell",
    "metric_digits",
    "run_benchmark",
    "suite_hashes",
    "summary_markdown",
    "winners_markdown",
]

Log = Callable[[str], None]
FLOORS = ("always-0°", "class-prior")
KINDS = ("learned", "classic", "floor")


@dataclasses.dataclass(frozen=True)
class _Suite:
    """A test suite in memory: its clips (or, read without audio, its labels only), labels and length."""

    items: InMemoryDataset
    rows: list[dict[str, Any]]
    azimuth: np.ndarray  # radians
    snr_db: np.ndarray
    classes: list[str]
    sample_rate: int
    seconds: float


@functools.lru_cache(maxsize=2)
def _suite(data: Path, audio: bool = True) -> _Suite:
    """A suite in memory; without ``audio`` its labels only (nothing but the manifest is read)."""
    signals = ("noisy",) if audio else ()
    items = InMemoryDataset(ManifestDataset(data, split="test", signals=signals, check_files=audio))
    rows = list(items.rows)
    rate = int(rows[0]["sample_rate"])
    return _Suite(
        items=items,
        rows=rows,
        azimuth=np.radians([float(r["azimuth_deg"][0]) for r in rows]),
        snr_db=np.array([float(r["snr_db"]) for r in rows]),
        classes=[str(r["class"][0]) for r in rows],
        sample_rate=rate,
        seconds=float(sum(float(r["duration_s"]) for r in rows)),
    )


def suite_hashes(folder: Path) -> str:
    """SHA-256 over every file of a rendered folder (relative names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(".") or "/." in relative:
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _train_folder(out: Path, task: str) -> Path:
    return out / "data" / f"{task}-train"


def _suite_folder(out: Path, task: str, suite: str) -> Path:
    return out / "data" / f"{task}-{suite}"


def _eval_folder(out: Path, task: str, suite: str) -> Path:
    return out / "eval" / task / suite


def _render(config: BenchmarkConfig, out: Path, workers: int | None, progress: bool, log: Log) -> None:
    for name, task in config.tasks.items():
        if not task.renders:
            continue
        folder = _train_folder(out, name)
        log(f"[benchmark] {name}: rendering the training data into {folder}")
        render_dataset(
            load_dataset_config(task.training_dataset()), folder, workers=workers, progress=progress
        )
        for suite in task.suite_names:
            folder = _suite_folder(out, name, suite)
            log(f"[benchmark] {name}: rendering test suite {suite} into {folder}")
            render_dataset(
                load_dataset_config(task.suite_dataset(suite)), folder, workers=workers, progress=progress
            )


def _entries(config: BenchmarkConfig) -> dict[str, BenchmarkEntrySpec]:
    known = benchmark_entries()
    unknown = [m for m in config.methods if m not in known]
    if unknown:
        raise ConfigError(f"methods {unknown}: no benchmark entry; registered: {', '.join(sorted(known))}")
    chosen = {m: known[m] for m in config.methods}
    missing = [f"{m} ({spec.task})" for m, spec in chosen.items() if spec.task not in config.tasks]
    if missing:
        raise ConfigError(f"methods {missing} answer a task this benchmark does not configure")
    for method, spec in chosen.items():
        try:
            spec.validate(config.methods[method], config.tasks[spec.task].training_dataset())
        except (ConfigError, ValueError, TypeError) as exc:
            raise ConfigError(f"methods.{method}: {exc}") from exc
    return chosen


def _training_units(
    config: BenchmarkConfig, out: Path, entries: Mapping[str, BenchmarkEntrySpec], progress: bool
) -> list[Unit]:
    units = []
    for method, spec in entries.items():
        task = config.tasks[spec.task]
        for seed in config.seeds:
            folder = out / "models" / method / f"seed{seed}"
            training = BenchmarkTraining(
                task=spec.task,
                dataset=task.training_dataset(),
                data=_train_folder(out, spec.task),
                out=folder,
                seed=seed,
                settings=config.methods[method],
                progress=progress,
                method=method,
            )

            def train(
                spec: BenchmarkEntrySpec = spec, training: BenchmarkTraining = training
            ) -> dict[str, Any]:
                models = spec.train(training)
                return {"task": spec.task, "models": [{"name": m.name, "path": str(m.path)} for m in models]}

            units.append(Unit(benchmark_training_unit(method, seed), folder / "done.json", train))
    return units


def _parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters())) if isinstance(model, torch.nn.Module) else 0


def _predict(
    localizer: Localizer, suite: _Suite, batch_size: int
) -> tuple[np.ndarray, list[str] | None, float]:
    """Azimuths (radians), best classes (or ``None``) and wall seconds of localizing every clip."""
    loader = make_loader(suite.items, batch_size=batch_size, shuffle=False, collate_fn=collate_examples)
    started = time.perf_counter()
    azimuth, classes = localize_batches(localizer, (b["noisy"] for b in loader), suite.sample_rate)
    return azimuth, classes, time.perf_counter() - started


def _row(
    loaded: _Suite,
    azimuth: np.ndarray,
    classes: Sequence[str] | None,
    bands: Sequence[tuple[float, float]],
    **keys: Any,
) -> dict[str, Any]:
    row = localization_row(
        azimuth, loaded.azimuth, snr_db=loaded.snr_db, snr_bands=bands, predictions=True, **keys
    )
    if classes is not None:
        row["class_acc"] = float(np.mean([p == t for p, t in zip(classes, loaded.classes, strict=True)]))
    return row


def _classic(task: BenchmarkTask, name: str, rate: int) -> Localizer:
    receiver = load_dataset_config(dict(task.dataset)).scene.receiver
    return classic_localizer(name, make_receiver(receiver, rate))


def _training_rows(out: Path, task: str) -> list[dict[str, Any]]:
    return list(ManifestDataset(_train_folder(out, task), split="train", signals=(), check_files=False).rows)


def _floor_grid(task: BenchmarkTask) -> AzimuthGrid:
    region = load_dataset_config(dict(task.dataset)).scene.region
    return AzimuthGrid(5.0, "frontal" if region == "frontal" else "full")


def _eval_units(
    config: BenchmarkConfig, out: Path, trained: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any]
) -> list[Unit]:
    units: list[Unit] = []
    bands = config.snr_bands

    def learned(path: str, data: Path, **keys: Any) -> dict[str, Any]:
        suite = _suite(data)
        model = load_model(path)
        if not isinstance(model, Localizer):
            raise ValueError(f"{path} holds a {type(model).__name__}, which does not localize")
        azimuth, classes, seconds = _predict(model, suite, config.eval_batch_size)
        return _row(
            suite,
            azimuth,
            classes,
            bands,
            params=_parameters(model),
            infer_s_per_s=seconds / suite.seconds,
            **keys,
        )

    def classic(spec: BenchmarkTask, name: str, data: Path, **keys: Any) -> dict[str, Any]:
        suite = _suite(data)
        azimuth, classes, seconds = _predict(
            _classic(spec, name, suite.sample_rate), suite, config.eval_batch_size
        )
        return _row(
            suite,
            azimuth,
            classes,
            bands,
            params=0,
            train_s=0.0,
            infer_s_per_s=seconds / suite.seconds,
            **keys,
        )

    def floor(task_name: str, spec: BenchmarkTask, name: str, data: Path, **keys: Any) -> dict[str, Any]:
        suite = _suite(data)
        train = _training_rows(out, task_name)
        train_azimuth = np.radians([float(r["azimuth_deg"][0]) for r in train])
        azimuth = azimuth_floors(train_azimuth, _floor_grid(spec), len(suite.rows))[name]
        classes = None
        if task_name == "array":
            labels = [str(r["class"][0]) for r in train]
            classes = [max(sorted(set(labels)), key=labels.count)] * len(suite.rows)
        return _row(suite, azimuth, classes, bands, params=0, train_s=0.0, infer_s_per_s=0.0, **keys)

    for task_name, task in config.tasks.items():
        if isinstance(task, EventsTask):
            units += event_eval_units(
                task_name,
                task,
                functools.partial(_suite_folder, out, task_name),
                _train_folder(out, task_name),
                trained,
                functools.partial(_eval_folder, out, task_name),
                config.eval_batch_size,
            )
            continue
        if isinstance(task, QualityTask):
            units += quality_eval_units(
                task_name,
                task,
                trained,
                functools.partial(_eval_folder, out, task_name),
                config.eval_batch_size,
            )
            continue
        for suite_name in task.suite_names:
            data = _suite_folder(out, task_name, suite_name)
            folder = out / "eval" / task_name / suite_name
            keys = {"task": task_name, "suite": suite_name}
            for model in trained_benchmark_models(trained, task_name):
                run = functools.partial(
                    learned, model.path, data, **keys, kind="learned", method=model.method,
                    model=model.name, seed=model.seed, train_s=model.train_s,
                )  # fmt: skip
                name = f"evaluate {task_name} {suite_name} {model.name} seed {model.seed}"
                units.append(Unit(name, folder / f"{model.name}__seed{model.seed}.json", run))
            for name in task.classic:
                run = functools.partial(
                    classic, task, name, data, **keys, kind="classic", method=name, model=name, seed=None
                )
                units.append(Unit(f"evaluate {task_name} {suite_name} {name}", folder / f"{name}.json", run))
            for name in FLOORS:
                run = functools.partial(
                    floor,
                    task_name,
                    task,
                    name,
                    data,
                    **keys,
                    kind="floor",
                    method=name,
                    model=name,
                    seed=None,
                )
                marker_name = f"{name.replace('°', '')}.json"
                units.append(Unit(f"evaluate {task_name} {suite_name} {name}", folder / marker_name, run))
    return units


def _embedding_units(
    config: BenchmarkConfig, out: Path, trained: Mapping[str, Mapping[str, Any]]
) -> list[Unit]:
    """A 2-D PCA of the in-domain embeddings of every Embedder trained with the first seed."""
    units = []
    for task_name, task in config.tasks.items():
        if not task.renders:
            continue
        for model in trained_benchmark_models(trained, task_name):
            if model.seed != config.seeds[0]:
                continue

            def embed(path: str = model.path, task_name: str = task_name) -> dict[str, Any]:
                suite = _suite(_suite_folder(out, task_name, IN_DOMAIN))
                found = load_model(path)
                if not isinstance(found, Embedder):
                    return {"embedder": False}
                loader = make_loader(
                    suite.items, batch_size=config.eval_batch_size, collate_fn=collate_examples
                )
                with torch.no_grad():
                    z = (
                        torch.cat([found.embed(b["noisy"], suite.sample_rate) for b in loader])
                        .double()
                        .numpy()
                    )
                centred = z - z.mean(axis=0)
                _, _, vt = np.linalg.svd(centred, full_matrices=False)
                points = centred @ vt[:2].T
                return {
                    "embedder": True,
                    "dim": int(z.shape[1]),
                    "points": points.round(6).tolist(),
                    "azimuth_deg": np.degrees(suite.azimuth).round(4).tolist(),
                    "class": suite.classes,
                }

            marker_path = out / "embeddings" / task_name / f"{model.name}.json"
            units.append(Unit(f"embed {task_name} {model.name}", marker_path, embed))
    return units


# ------------------------------------------------------------------------------------------- tables


def cell_key(task: Any, suite: str, metric: Metric) -> str:
    """The summary key of one (suite, metric) cell: the suite's name where the task has one metric."""
    return suite if len(task.metrics) == 1 else f"{suite} {metric.key}"


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and np.isfinite(v)]


def _summary(config: BenchmarkConfig, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, model): mean ± std over seeds of every (suite, metric) cell, and the costs; rows
    ordered by kind, then by the first suite's first metric (best first; a metric a row lacks is NaN)."""
    out: list[dict[str, Any]] = []
    order = {kind: i for i, kind in enumerate(KINDS)}
    for task_name, task in config.tasks.items():
        models: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            if row["task"] == task_name:
                models.setdefault(str(row["model"]), []).append(row)
        for model, members in models.items():
            entry: dict[str, Any] = {"task": task_name, "model": model, "kind": members[0]["kind"]}
            entry["seeds"] = len({m["seed"] for m in members})
            for suite in task.suite_names:
                for metric in task.metrics:
                    key = cell_key(task, suite, metric)
                    values = _finite([m.get(metric.key) for m in members if m["suite"] == suite])
                    entry[key] = float(np.mean(values)) if values else float("nan")
                    entry[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            accuracy = [
                float(m["class_acc"]) for m in members if m["suite"] == IN_DOMAIN and "class_acc" in m
            ]
            if accuracy:
                entry["class_acc"] = float(np.mean(accuracy))
            first = task.metrics[0]
            entry["metric"] = first.label
            entry["score"] = entry[cell_key(task, task.suite_names[0], first)]
            entry["params"] = int(members[0].get("params", 0))
            entry["train_s"] = float(np.mean([float(m.get("train_s", 0.0)) for m in members]))
            entry["infer_s_per_s"] = float(np.median([float(m.get("infer_s_per_s", 0.0)) for m in members]))
            out.append(entry)
        if models:
            sign = -1.0 if task.metrics[0].higher_is_better else 1.0

            def rank(e: Mapping[str, Any], sign: float = sign) -> tuple[int, bool, float]:
                value = e["score"]
                finite = bool(np.isfinite(value))
                return (order[e["kind"]], not finite, sign * value if finite else 0.0)

            out[-len(models) :] = sorted(out[-len(models) :], key=rank)
    return out


def format_cell(entry: Mapping[str, Any], key: str, digits: int = 1) -> str:
    mean, std = entry[key], entry[f"{key}_std"]
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if entry["seeds"] > 1 else f"{mean:.{digits}f}"


def metric_digits(metric: Metric) -> int:
    return 2 if metric.key in ("dist_r2", "sc_az", "deg_mean", "two_afc", "ca") else 1


def summary_markdown(config: BenchmarkConfig, summary: Sequence[Mapping[str, Any]], task_name: str) -> str:
    task = config.tasks[task_name]
    classes = getattr(task, "scores_classes", False)
    table = []
    for entry in summary:
        if entry["task"] != task_name:
            continue
        row: dict[str, Any] = {"model": entry["model"], "kind": entry["kind"], "seeds": entry["seeds"]}
        for suite in task.suite_names:
            for metric in task.metrics:
                key = cell_key(task, suite, metric)
                column = suite if len(task.metrics) == 1 else f"{suite}: {metric.label}"
                row[column] = format_cell(entry, key, metric_digits(metric))
        if "class_acc" in entry and classes:
            row["class acc %"] = f"{100 * entry['class_acc']:.1f}"
        row["params"] = f"{entry['params']:,}" if entry["params"] else "0"
        row["train s"] = f"{entry['train_s']:.0f}"
        row["infer s/s"] = f"{entry['infer_s_per_s']:.4f}"
        table.append(row)
    return markdown_table(table)


def winners_markdown(config: BenchmarkConfig, summary: Sequence[Mapping[str, Any]], task_name: str) -> str:
    """Per suite and metric: the best row of each kind, who wins, by how much, against the seed spread."""
    task = config.tasks[task_name]
    lines = []
    for suite in task.suite_names:
        for metric in task.metrics:
            key, digits = cell_key(task, suite, metric), metric_digits(metric)
            best: dict[str, Mapping[str, Any]] = {}
            for entry in summary:
                if entry["task"] != task_name or not np.isfinite(entry[key]):
                    continue
                if entry["kind"] not in best or metric.better(entry[key], best[entry["kind"]][key]):
                    best[entry["kind"]] = entry
            ranked = sorted(best.values(), key=lambda e: -e[key] if metric.higher_is_better else e[key])
            if not ranked:
                continue
            winner = ranked[0]
            label = suite if len(task.metrics) == 1 else f"{suite}, {metric.label}"
            unit = "°" if len(task.metrics) == 1 else ""
            text = (
                f"- **{label}**: {winner['kind']} `{winner['model']}` wins with "
                f"{format_cell(winner, key, digits)}{unit}"
            )
            if len(ranked) > 1:
                runner = ranked[1]
                margin = abs(runner[key] - winner[key])
                spread = max(winner[f"{key}_std"], runner[f"{key}_std"])
                verdict = "" if margin > 2 * spread else " (within twice the seed spread: not a clear win)"
                text += (
                    f", {margin:.{digits}f}{unit} ahead of the best {runner['kind']} `{runner['model']}`"
                    f"{verdict}"
                )
            text += _evidence_caveat(task, suite, metric, winner)
            lines.append(text + ".")
    return "\n".join(lines)


def _evidence_caveat(task: Any, suite: str, metric: Metric, winner: Mapping[str, Any]) -> str:
    """The caveat of a non-floor win that :attr:`Metric.evidence` does not back (or ``""``)."""
    if metric.evidence is None or winner["kind"] == "floor":
        return ""
    key, floor = metric.evidence
    other = next(m for m in task.metrics if m.key == key)
    value = winner.get(cell_key(task, suite, other), float("nan"))
    if np.isfinite(value) and value > floor:
        return ""
    shown = f"{value:.{metric_digits(other)}f}" if np.isfinite(value) else "missing"
    return f"; but its {other.label} is {shown}, not above {floor:g}: not evidence of learning"


def _suites_table(suites: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [{"suite": name, **info, "sha256": f"`{info['sha256'][:16]}`"} for name, info in suites.items()]
    return markdown_table(rows)


def _suite_info(
    config: BenchmarkConfig, out: Path, drawn: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per suite: clips (or pairs), seconds of audio and SHA-256; ``drawn`` holds the suites drawn on the
    fly (``task/suite -> info``, from their evaluation units)."""
    path = out / "suites.json"
    if path.is_file():
        stored: dict[str, dict[str, Any]] = read_json(path)
        if set(stored) == {f"{t}/{s}" for t, task in config.tasks.items() for s in task.suite_names}:
            return stored
    info: dict[str, dict[str, Any]] = {}
    for task_name, task in config.tasks.items():
        for suite in task.suite_names:
            if not task.renders:
                info[f"{task_name}/{suite}"] = dict(drawn[f"{task_name}/{suite}"])
                continue
            folder = _suite_folder(out, task_name, suite)
            loaded = _suite(folder, audio=False)
            info[f"{task_name}/{suite}"] = {
                "clips": len(loaded.rows),
                "seconds": round(loaded.seconds, 3),
                "sha256": suite_hashes(folder),
            }
    write_json(path, info)
    return info


@register_experiment("benchmark", BenchmarkConfig, "every method side by side on fixed test suites")
def run_benchmark(
    config: BenchmarkConfig,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    progress: bool = True,
    log: Log = print,
) -> ExperimentResult:
    """Render, train, evaluate and report (see the module's description); resumable. Call it through
    :func:`spatialrep.experiments.runner.run_experiment` (which also applies ``config.threads``)."""
    out = Path(out_dir)
    entries = _entries(config)
    _render(config, out, workers, progress, log)
    training = _training_units(config, out, entries, progress=False)
    trained = run_units(training, progress=progress, desc="benchmark training", log=log)
    evaluation = _eval_units(config, out, trained, entries) + _embedding_units(config, out, trained)
    evaluated = run_units(evaluation, progress=progress, desc="benchmark evaluation", log=log)
    _suite.cache_clear()

    rows: list[dict[str, Any]] = []
    drawn: dict[str, Any] = {}
    for unit in evaluation:
        if not unit.name.startswith("evaluate "):
            continue
        result = read_unit(unit.marker)["result"]
        if "rows" in result:  # one unit scores every row of a suite drawn on the fly
            rows += result["rows"]
            drawn[f"{result['rows'][0]['task']}/{result['rows'][0]['suite']}"] = result["suite"]
        else:
            rows.append(result)
    summary = _summary(config, rows)
    suites = _suite_info(config, out, drawn)
    parts = []
    for task_name, task in config.tasks.items():
        what = ", ".join(m.label for m in task.metrics)
        parts += [
            f"## {task_name}: {what} per test suite",
            "",
            summary_markdown(config, summary, task_name),
            "",
            "Who wins each suite (best row of each kind: learned, classic, floor):",
            "",
            winners_markdown(config, summary, task_name),
            "",
        ]
    parts += [
        "## Test suites",
        "",
        "Rendered once from the recipe's seeds (byte-identical across runs and machines; SHA-256 of every "
        "file; the quality task's pairs are drawn from the data seed and hashed over their samples):",
        "",
        _suites_table(suites),
        "",
        "Costs: `params` counts a model's weights (0: classic, floors); `train s` is the wall time of the "
        "method's training unit on this machine (every model of a unit shares it); `infer s/s` is the "
        "seconds taken to process one second of audio in batches (median over seeds).",
    ]
    embeddings = {
        u.name.removeprefix("embed "): read_unit(u.marker)["result"]
        for u in evaluation
        if u.name.startswith("embed ")
    }
    paths: dict[str, Any] = dict(
        write_results(
            out,
            rows,
            summary,
            title=f"Benchmark ({config.scale}): every method on the same test suites",
            summary_columns=["task", "model", "kind", "seeds", "metric", "score", "params"],
            extra_markdown="\n".join(parts),
            metadata={
                "config": config.to_dict(),
                "suites": suites,
                "units": unit_timings({**trained, **evaluated}),
            },
        )
    )
    markdown = (out / "results.md").read_text()
    atomic_write_text(out / "report.md", markdown)
    paths["report_md"] = out / "report.md"
    for task_name, task in config.tasks.items():
        task_rows = [r for r in rows if r["task"] == task_name]
        task_summary = [e for e in summary if e["task"] == task_name]
        if not isinstance(task, BenchmarkTask) or isinstance(task, EventsTask):
            keys = {m.label: [cell_key(task, s, m) for s in task.suite_names] for m in task.metrics}
            paths[f"suites_{task_name}"] = plots.plot_metric_suites(
                task_summary, task.suite_names, keys, out / f"suites_{task_name}.png"
            )
        else:
            labels = _suite(_suite_folder(out, task_name, IN_DOMAIN), audio=False)
            truth, snr = np.degrees(labels.azimuth), labels.snr_db
            paths[f"suites_{task_name}"] = plots.plot_suites(
                task_summary, task.suite_names, out / f"suites_{task_name}.png"
            )
            paths[f"snr_{task_name}"] = plots.plot_error_vs_snr(
                task_rows, truth, snr, config.snr_bands, out / f"error_vs_snr_{task_name}.png"
            )
            paths[f"azimuth_{task_name}"] = plots.plot_error_vs_azimuth(
                task_rows, truth, out / f"error_vs_azimuth_{task_name}.png"
            )
            paths[f"confusion_{task_name}"] = plots.plot_azimuth_confusion(
                task_rows, task_summary, truth, out / f"azimuth_confusion_{task_name}.png"
            )
        task_embeddings = {
            k.split(" ", 1)[1]: v for k, v in embeddings.items() if k.startswith(f"{task_name} ")
        }
        if any(v.get("embedder") for v in task_embeddings.values()):
            paths[f"embeddings_{task_name}"] = plots.plot_embeddings(
                task_embeddings, out / f"embeddings_{task_name}.png"
            )
        _suite.cache_clear()
    localization = [t for t in ("binaural", "array") if t in config.tasks]
    try_model = try_file = None
    if localization:  # the best learned localizer of the first localization task, and one of its clips
        first_task = localization[0]
        best = next((e for e in summary if e["kind"] == "learned" and e["task"] == first_task), None)
        paths_by_model = {x["name"]: x["path"] for m in trained.values() for x in m["result"]["models"]}
        try_model = Path(paths_by_model[best["model"]]) if best is not None else None
        try_file = next(iter(sorted(_suite_folder(out, first_task, IN_DOMAIN).rglob("*.noisy.flac"))), None)
    log((out / "results.md").read_text())
    return ExperimentResult(rows, summary, paths, try_model=try_model, try_file=try_file)
