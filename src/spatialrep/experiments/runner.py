"""The experiment runner: resumable units of work, one output-folder claim, registered experiments, recipes.

An experiment is a function registered with :func:`register_experiment` together with its config class (a
frozen dataclass). Its scales are **recipes**: YAML files shipped as
``spatialrep/recipes/<name>/<scale>.yaml`` and loaded with the config loader, so ``spatialrep experiment NAME
--scale S`` and ``--config FILE`` plus ``--set key=value`` all resolve to one config, which is saved as
``recipe.yaml`` in the output folder.

Inside an experiment, work is a list of :class:`Unit` objects (one training, one evaluation...): a unit is
done when its marker file exists; :func:`run_units` runs the others in order, each under its own random-state
fork, and writes the marker last (atomically) with the unit's result and wall time. A killed run therefore
resumes at the first unfinished unit; a unit whose work cannot resume mid-way names a ``fresh`` folder that
is cleared before it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import importlib
import os
import pkgutil
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from spatialrep.config import from_dict, load_config, save_config, to_dict
from spatialrep.experiments.html_report import write_html_report
from spatialrep.experiments.report import plain, read_json, write_json
from spatialrep.recipes import list_scales, recipe_folder
from spatialrep.train import quiet_lightning

__all__ = [
    "BenchmarkEntrySpec",
    "BenchmarkModel",
    "BenchmarkTraining",
    "ExperimentResult",
    "ExperimentSpec",
    "TrainedBenchmarkModel",
    "Unit",
    "benchmark_entries",
    "benchmark_training_unit",
    "claim_output_folder",
    "get_experiment",
    "list_experiments",
    "list_scales",
    "load_recipe",
    "read_unit",
    "recipe_path",
    "register_benchmark_entry",
    "register_experiment",
    "run_experiment",
    "run_units",
    "torch_threads",
    "trained_benchmark_models",
]

RECIPE_FILE = "recipe.yaml"
IDENTITY_FILE = "experiment.json"
Log = Callable[[str], None]


# ---------------------------------------------------------------------------------------------- units


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` inside the block and restored after it (``None``: left as
    they are). :func:`run_experiment` applies a recipe's ``threads`` field with it."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclasses.dataclass(frozen=True)
class Unit:
    """One resumable piece of an experiment.

    Attributes:
        name: shown in progress bars and recorded with the timing.
        marker: done when this file exists; :func:`run_units` writes it last, holding ``{"result": what
            run returned, "wall_time_s", "finished"}``.
        run: the work; returns a JSON-serialisable mapping (or ``None``).
        fresh: a folder removed before ``run`` (work that restarts from scratch rather than resuming).
    """

    name: str
    marker: Path
    run: Callable[[], Mapping[str, Any] | None]
    fresh: Path | None = None

    @property
    def done(self) -> bool:
        return self.marker.is_file()


def read_unit(marker: str | os.PathLike[str]) -> dict[str, Any]:
    """The marker of a finished unit: ``{"result", "wall_time_s", "finished"}``.

    Raises:
        FileNotFoundError: the unit has not finished.
        ValueError: the marker is not valid JSON.
    """
    data = read_json(marker)
    if not isinstance(data, dict) or "result" not in data:
        raise ValueError(f"{marker} is not a unit marker; delete it to rerun the unit")
    return data


def run_units(
    units: Sequence[Unit], *, progress: bool = True, desc: str = "units", log: Log | None = None
) -> dict[str, dict[str, Any]]:
    """Run every unit that is not done, in order, and return every unit's marker by name.

    Each unit runs under ``torch.random.fork_rng`` (its randomness cannot leak into the next) and with
    Lightning's per-run banners silenced.

    Raises:
        ValueError: two units with the same name or marker.
    """
    names = [u.name for u in units]
    markers = [u.marker for u in units]
    if len(set(names)) != len(names) or len(set(markers)) != len(markers):
        raise ValueError("experiment units must have distinct names and markers")
    todo = [u for u in units if not u.done]
    if log is not None:
        log(f"[{desc}] {len(units)} units, {len(units) - len(todo)} already done")
    bar = tqdm(todo, desc=desc, unit="unit", disable=not progress)
    with quiet_lightning():
        for unit in bar:
            bar.set_postfix_str(unit.name)
            if unit.fresh is not None and unit.fresh.exists():
                shutil.rmtree(unit.fresh)
            started = time.perf_counter()
            with torch.random.fork_rng(devices=[]):
                result = unit.run()
            write_json(
                unit.marker,
                {
                    "result": dict(result or {}),
                    "wall_time_s": round(time.perf_counter() - started, 3),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
            )
    return {u.name: read_unit(u.marker) for u in units}


def unit_timings(markers: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[{"unit", "wall_time_s"}]`` of finished units (for ``results.json``)."""
    return [{"unit": name, "wall_time_s": m.get("wall_time_s")} for name, m in markers.items()]


def claim_output_folder(
    out: Path, record: Mapping[str, Any], *, what: str, allowed: Sequence[str] = ()
) -> None:
    """Make ``out`` an experiment folder for ``record`` (its JSON-ready configuration), or refuse.

    A new or empty folder (entries matching a glob pattern of ``allowed`` aside, e.g. a rendered dataset) gets
    ``experiment.json``; a folder whose ``experiment.json`` equals ``record`` is resumed.

    Raises:
        ValueError: ``out`` holds an experiment of another kind or configuration (the differing keys are
            named), or other files and no ``experiment.json``.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; use a new or empty folder")
    stored_path = out / IDENTITY_FILE
    wanted = plain(record)
    if stored_path.is_file():
        stored = read_json(stored_path)
        if not isinstance(stored, dict):
            raise ValueError(f"{stored_path} is not an experiment record; use another --out folder")
        if stored.get("experiment") != wanted.get("experiment"):
            raise ValueError(
                f"{out} holds a {stored.get('experiment') or 'different'} experiment, not {what}; "
                "use another --out folder"
            )
        if stored != wanted:
            keys = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise ValueError(
                f"{out} holds a {what} with another configuration (differs in: {', '.join(keys)}); "
                "use another --out folder or delete it"
            )
        return
    if out.exists() and any(not any(fnmatch.fnmatch(p.name, a) for a in allowed) for p in out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no {what}; use a new or empty --out folder")
    write_json(stored_path, wanted)


# ---------------------------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class ExperimentResult:
    """What an experiment returns.

    Attributes:
        rows: one dict per evaluated model and test set (``results.csv``).
        summary: the aggregated table (``results.md``).
        paths: written files by kind (``csv``, ``json``, ``markdown``, plots...).
        try_model: a trained model to try ``spatialrep localize`` with, if any.
        try_file: an audio file to try it on, if any.
        seconds: wall time of this run.
        try_command: a command to try the trained model with, when ``spatialrep localize`` is not it (a
            quality metric is tried with ``spatialrep score``).
    """

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    paths: dict[str, Any]
    try_model: Path | None = None
    try_file: Path | None = None
    seconds: float = 0.0
    try_command: str | None = None


ExperimentFn = Callable[..., ExperimentResult]


@dataclasses.dataclass(frozen=True)
class ExperimentSpec:
    """A registered experiment: ``run(config, out_dir, *, workers, progress, log) -> ExperimentResult``."""

    name: str
    config_class: type
    run: ExperimentFn
    description: str


_EXPERIMENTS: dict[str, ExperimentSpec] = {}


def register_experiment(
    name: str, config_class: type, description: str = ""
) -> Callable[[ExperimentFn], ExperimentFn]:
    """Decorator registering an experiment function under ``name`` with its config class.

    Raises:
        ValueError: an empty or already registered name, or a config class that is not a dataclass.
    """
    if not name or name in _EXPERIMENTS:
        raise ValueError(f"experiment name {name!r} is empty or already registered")
    if not dataclasses.is_dataclass(config_class):
        raise ValueError(f"experiment {name!r}: config_class must be a dataclass, got {config_class!r}")

    def decorator(run: ExperimentFn) -> ExperimentFn:
        _EXPERIMENTS[name] = ExperimentSpec(name, config_class, run, description)
        return run

    return decorator


def _discover() -> None:
    package = importlib.import_module("spatialrep.experiments")
    for module in pkgutil.iter_modules(package.__path__, prefix="spatialrep.experiments."):
        importlib.import_module(module.name)


def list_experiments() -> list[str]:
    """Every registered experiment, sorted (importing every module of :mod:`spatialrep.experiments`)."""
    _discover()
    return sorted(_EXPERIMENTS)


def get_experiment(name: str) -> ExperimentSpec:
    """The experiment registered as ``name``.

    Raises:
        ValueError: an unknown name (lists the valid ones).
    """
    valid = list_experiments()
    if name not in _EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(valid)}")
    return _EXPERIMENTS[name]


# ------------------------------------------------------------------------------- benchmark entries


@dataclasses.dataclass(frozen=True)
class BenchmarkModel:
    """A model a method trained for the benchmark: its row name and checkpoint folder."""

    name: str
    path: Path


@dataclasses.dataclass(frozen=True)
class BenchmarkTraining:
    """What a method's benchmark entry gets.

    Attributes:
        task: the benchmark task (``binaural``, ``array``, ``events``, ``quality``).
        dataset: the task's dataset mapping (for :func:`~spatialrep.data.presets.load_dataset_config`; the
            ``quality`` task: its :class:`~spatialrep.data.sqm_pairs.SqmDataConfig` mapping).
        data: the rendered dataset folder (``train`` and ``val`` splits; the test suites are elsewhere and
            never given to an entry; the ``quality`` task renders nothing: its pairs are drawn on the fly).
        out: the entry's own folder for this seed (resumable training goes here).
        seed: the training seed.
        settings: the method's section of the benchmark recipe (the method validates it).
        progress: show progress bars.
        method: the entry's method name (its row name when it trains one model).
    """

    task: str
    dataset: Mapping[str, Any]
    data: Path
    out: Path
    seed: int
    settings: Mapping[str, Any]
    progress: bool = False
    method: str = ""


BenchmarkEntry = Callable[[BenchmarkTraining], list[BenchmarkModel]]
BenchmarkCheck = Callable[[Mapping[str, Any], Mapping[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class BenchmarkEntrySpec:
    """A method's way into ``spatialrep benchmark``: the task it answers and how it trains."""

    method: str
    task: str
    train: BenchmarkEntry
    check: BenchmarkCheck | None = None

    def validate(self, settings: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
        """Refuse a recipe section the method would refuse at training time (before anything is rendered).

        Raises:
            ConfigError: an invalid section (the field is named).
        """
        if self.check is not None:
            self.check(settings, dataset)


_BENCHMARK_ENTRIES: dict[str, BenchmarkEntrySpec] = {}


def register_benchmark_entry(
    method: str, task: str, check: BenchmarkCheck | None = None
) -> Callable[[BenchmarkEntry], BenchmarkEntry]:
    """Decorator registering how ``method`` trains its models for benchmark ``task`` (``binaural``,
    ``array``); the function returns the models to evaluate (anything :func:`load_model` reads that answers
    the task's protocol). ``check(settings, dataset)`` validates the method's recipe section up front.

    Raises:
        ValueError: an empty or already registered method name.
    """
    if not method or method in _BENCHMARK_ENTRIES:
        raise ValueError(f"benchmark method {method!r} is empty or already registered")

    def decorator(train: BenchmarkEntry) -> BenchmarkEntry:
        _BENCHMARK_ENTRIES[method] = BenchmarkEntrySpec(method, task, train, check)
        return train

    return decorator


def benchmark_entries() -> dict[str, BenchmarkEntrySpec]:
    """Every registered benchmark entry by method (importing every experiment module)."""
    _discover()
    return dict(_BENCHMARK_ENTRIES)


def benchmark_training_unit(method: str, seed: int) -> str:
    """The unit that trains ``method`` with ``seed`` (:func:`trained_benchmark_models` parses it)."""
    return f"train {method} seed {seed}"


@dataclasses.dataclass(frozen=True)
class TrainedBenchmarkModel:
    """A model of a finished benchmark training unit, with what its evaluated rows carry."""

    method: str
    seed: int
    name: str
    path: str
    train_s: float


def trained_benchmark_models(
    trained: Mapping[str, Mapping[str, Any]], task: str | None = None
) -> list[TrainedBenchmarkModel]:
    """Every model of the finished training units ``trained`` (unit name -> marker), in unit order; with
    ``task``, only those of that task. ``train_s`` is the unit's wall time (shared by its models)."""
    found = []
    for unit_name, marker in trained.items():
        result = marker["result"]
        if task is not None and result["task"] != task:
            continue
        method, seed = unit_name.removeprefix("train ").rsplit(" seed ", 1)
        for model in result["models"]:
            found.append(
                TrainedBenchmarkModel(
                    method=method,
                    seed=int(seed),
                    name=str(model["name"]),
                    path=str(model["path"]),
                    train_s=float(marker.get("wall_time_s") or 0.0),
                )
            )
    return found


# ---------------------------------------------------------------------------------------------- recipes


def recipe_path(name: str, scale: str) -> Path:
    """The YAML file of a shipped recipe.

    Raises:
        ValueError: no such scale (lists the valid ones).
    """
    scales = list_scales(name)
    if scale not in scales:
        raise ValueError(
            f"experiment {name} has no scale {scale!r}; valid: {', '.join(scales) or 'none'} "
            "(or --config FILE)"
        )
    return recipe_folder(name) / f"{scale}.yaml"


def load_recipe(
    name: str,
    *,
    scale: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
) -> Any:
    """The resolved config of experiment ``name``: a shipped scale or a YAML file, then ``key=value``.

    Raises:
        ValueError: an unknown experiment or scale, both or neither of ``scale`` and ``config_file``.
        ConfigError: malformed YAML, unknown keys or invalid values (named).
    """
    spec = get_experiment(name)
    if (scale is None) == (config_file is None):
        raise ValueError("give either a scale or a config file")
    source = Path(config_file) if config_file is not None else recipe_path(name, str(scale))
    return load_config(spec.config_class, source, overrides)


def _upgrade_record(path: Path, name: str, config_class: type, record: Mapping[str, Any]) -> None:
    """An ``experiment.json`` written by an older version lacks the config fields added since: when filling
    them with their defaults gives exactly ``record``, rewrite it so that the run resumes."""
    if not path.is_file():
        return
    try:
        stored = read_json(path)
        if not isinstance(stored, dict) or stored.get("experiment") != name or stored == plain(record):
            return
        upgraded = {"experiment": name, "config": to_dict(from_dict(config_class, stored["config"]))}
    except (ValueError, TypeError, KeyError):
        return  # claim_output_folder names what differs
    if plain(upgraded) == plain(record):
        warnings.warn(
            f"{path} predates config fields added since; they keep their defaults, so the run resumes",
            UserWarning,
            stacklevel=3,
        )
        write_json(path, plain(record))


def run_experiment(
    name: str,
    out_dir: str | os.PathLike[str],
    *,
    scale: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
    config: Any = None,
    workers: int | None = None,
    progress: bool = True,
    log: Log = print,
) -> ExperimentResult:
    """Resolve the recipe, claim ``out_dir``, save ``recipe.yaml`` and run (or resume) the experiment.

    Args:
        name: a registered experiment.
        out_dir: its output folder (created; rerun to resume).
        scale, config_file, overrides: the recipe (see :func:`load_recipe`); or pass ``config`` directly.
        workers: processes for dataset rendering (default: every core).
        progress: progress bars.
        log: status lines and the final table.

    Raises:
        ValueError: an unknown experiment, scale or option; a folder holding another experiment.
        ConfigError: an invalid recipe.
    """
    spec = get_experiment(name)
    if config is None:
        config = load_recipe(name, scale=scale, config_file=config_file, overrides=overrides)
    elif not isinstance(config, spec.config_class):
        raise TypeError(
            f"experiment {name} takes a {spec.config_class.__name__}, got {type(config).__name__}"
        )
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out_dir)
    record = {"experiment": name, "config": to_dict(config)}
    _upgrade_record(out / IDENTITY_FILE, name, spec.config_class, record)
    claim_output_folder(out, record, what=f"{name} experiment", allowed=("data", "data-*"))
    save_config(config, out / RECIPE_FILE)
    started = time.perf_counter()
    with torch_threads(getattr(config, "threads", None)):
        result = spec.run(config, out, workers=workers, progress=progress, log=log)
    if (out / "results.md").is_file():
        write_html_report(out)
    return dataclasses.replace(result, seconds=time.perf_counter() - started)
