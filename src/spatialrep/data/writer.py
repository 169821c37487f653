"""Render a dataset to disk: shards, manifests, label budgets, ``dataset.json``; resumable after a kill.

Layout of a dataset folder::

    DIR/
      dataset.json              resolved plan, library versions, seed, counts, durations (written last)
      config.yaml               the resolved DatasetConfig
      manifest.csv              every example, split by split, shard by shard
      budgets/<name>.csv        nested labelled subsets of the training split (manifest rows)
      train/00000/              one folder per shard: <id>.<signal>.flac ..., shard.csv and shard.json (the
                                size and SHA-256 of each of the shard's other files)
      .spatialrep-render.json   what is being rendered here (checked when the command is rerun)

A shard is rendered into a hidden temporary folder and renamed when all its files, its ``shard.csv`` and its
``shard.json`` are written, so a shard folder either is complete or does not exist. Rerunning the same command
checks every finished shard against its ``shard.json`` (it reads every file once: about a second per GB and
thread), removes and re-renders a damaged one with a warning naming the file, skips the others and ends with
exactly the bytes an uninterrupted run writes, whatever the number of workers. Shards written before
``shard.json`` existed are checked for the files their ``shard.csv`` names.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from spatialrep.config import save_config, to_dict
from spatialrep.data.config import DatasetConfig
from spatialrep.data.executors import check_executor, orphaned, run_tasks
from spatialrep.data.manifest import (
    BUDGETS_DIR,
    MANIFEST,
    PATH_SUFFIX,
    decode_cell,
    read_table,
    table_text,
    write_manifest,
)
from spatialrep.data.splits import DatasetPlan, ShardTask, SplitPlan, plan_dataset, select_budgets
from spatialrep.geometry.arrays import make_array
from spatialrep.io.atomic import atomic_write_text
from spatialrep.io.audio import write_audio
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.simulate.scene import RenderedScene, SceneSpec
from spatialrep.simulate.scene_config import SceneConfig

FORMAT = "spatialrep-dataset"
FORMAT_VERSION = 1
DATASET_JSON = "dataset.json"
CONFIG_YAML = "config.yaml"
STATE = ".spatialrep-render.json"
LOCK = ".spatialrep-render.lock"
SHARD_MANIFEST = "shard.csv"
SHARD_RECORD = "shard.json"
SHARD_FORMAT = "spatialrep-shard"
DIGEST = "sha256"
_TMP_PREFIX = ".tmp-"
_OWN_ENTRIES = (DATASET_JSON, CONFIG_YAML, MANIFEST, BUDGETS_DIR, STATE, LOCK, "train", "val", "test")
_VERSIONED = (
    "spatialrep",
    "numpy",
    "scipy",
    "soundfile",
    "pyroomacoustics",
    "sofar",
    "espeakng-loader",
    "tinysoundfont",
    "pretty_midi",
)


class Renderer(Protocol):
    def render(self, spec: SceneSpec) -> RenderedScene: ...


RendererFactory = Callable[[SceneConfig], Renderer]


class ShardError(ValueError):
    """Rendering a shard failed; the message names the shard and the cause. Nothing of the shard remains."""


class DatasetExistsError(ValueError):
    """The output folder holds something else than the dataset being rendered."""


def default_renderer(scene: SceneConfig) -> Renderer:
    """The simulator's :class:`~spatialrep.simulate.render.SceneRenderer` (with ``noise:...`` excitations)."""
    from spatialrep.data.excitation import make_bank
    from spatialrep.simulate.render import SceneRenderer

    return SceneRenderer(scene, source_bank=make_bank(scene.source))


_RENDERERS: dict[tuple[Any, str], Renderer] = {}
_MAX_RENDERERS = 4


def cached_renderer(factory: RendererFactory, scene: SceneConfig) -> Renderer:
    """A renderer per (factory, scene) in this process: building one loads HRTFs and source banks."""
    key = (factory, json.dumps(to_dict(scene), sort_keys=True))
    if key not in _RENDERERS:
        if len(_RENDERERS) >= _MAX_RENDERERS:
            _RENDERERS.pop(next(iter(_RENDERERS)))
        _RENDERERS[key] = factory(scene)
    return _RENDERERS[key]


# -------------------------------------------------------------------------------------------------- shards


def example_id(split: str, index: int) -> str:
    return f"{split}-{index:07d}"


def shard_folder(task: ShardTask) -> str:
    """Folder of a shard relative to the dataset root, e.g. ``train/00003``."""
    return f"{task.split.name}/{task.shard:05d}"


def example_row(
    split: SplitPlan, index: int, labels: Mapping[str, Any], paths: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A manifest row: ``id``, ``split``, ``index``, the signal paths, then the labels."""
    row: dict[str, Any] = {"id": example_id(split.name, index), "split": split.name, "index": index}
    for signal, path in (paths or {}).items():
        row[signal + PATH_SUFFIX] = path
    row.update({k: v for k, v in labels.items() if k not in row})
    return row


def file_record(path: Path) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex digest}`` of the file ``path`` (read once)."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        digest = hashlib.file_digest(handle, DIGEST).hexdigest()
    return {"bytes": size, DIGEST: digest}


def shard_record_text(folder: Path, shard: str, names: Sequence[str]) -> str:
    """Text of a shard's ``shard.json``: the size and checksum of each file ``names`` of ``folder``.

    Deterministic (sorted names, no time, no absolute path): the same files give the same bytes.
    """
    files = {name: file_record(folder / name) for name in sorted(names)}
    return json.dumps({"format": SHARD_FORMAT, "shard": shard, "files": files}, indent=1) + "\n"


def render_example(split: SplitPlan, index: int, renderer: Renderer) -> RenderedScene:
    """Render example ``index`` of ``split`` (pure: depends on the plan and the index only)."""
    return renderer.render(split.spec(index))


def render_shard(
    task: ShardTask,
    *,
    out_dir: str,
    signals: Sequence[str],
    audio_format: str,
    renderer_factory: RendererFactory = default_renderer,
) -> tuple[str, int]:
    """Render one shard into ``out_dir`` under a temporary name, then rename it into place.

    Returns:
        ``(shard key, number of examples)``.

    Raises:
        ShardError: anything failed; the temporary folder is removed.
    """
    root = Path(out_dir)
    relative = shard_folder(task)
    final = root / relative
    tmp = root / task.split.name / f"{_TMP_PREFIX}{task.shard:05d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
        renderer = cached_renderer(renderer_factory, task.split.scene)
        rows, names = [], []
        for index in range(task.start, task.stop):
            rendered = render_example(task.split, index, renderer)
            paths = {}
            for signal in signals:
                name = f"{example_id(task.split.name, index)}.{signal}.{audio_format}"
                write_audio(tmp / name, rendered.signal(signal), rendered.sample_rate, subtype="PCM_24")
                paths[signal] = f"{relative}/{name}"
                names.append(name)
            rows.append(example_row(task.split, index, rendered.labels, paths))
        write_manifest(tmp / SHARD_MANIFEST, rows)
        (tmp / SHARD_RECORD).write_text(
            shard_record_text(tmp, relative, [*names, SHARD_MANIFEST]), encoding="utf-8"
        )
        if orphaned():
            raise ShardError("the job that started this worker has ended: shard not published")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / SHARD_MANIFEST).is_file():
                raise
            shutil.rmtree(tmp)  # an identical shard was finished meanwhile (a retried task): keep that one
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ShardError(
            f"rendering shard {task.key} (examples {task.start}..{task.stop - 1}) into {root} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return task.key, task.num_examples


# ---------------------------------------------------------------------------------------- output folder


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    if old != new:
        shown = [json.dumps(v)[:60] for v in (old, new)]
        return [f"{prefix.rstrip('.')} ({shown[0]} there, {shown[1]} now)"]
    return []


def _stored_state(out: Path) -> dict[str, Any] | None:
    for name in (STATE, DATASET_JSON):
        path = out / name
        if path.is_file():
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DatasetExistsError(
                    f"{path} is unreadable ({exc}); pass --overwrite to start afresh"
                ) from exc
            if isinstance(state, dict):
                return state
    return None


def _remove_own(out: Path) -> None:
    for name in _OWN_ENTRIES:
        if name == LOCK:
            continue
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    with (out / LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DatasetExistsError(
                f"another process is rendering into {out}; wait for it or stop it"
            ) from exc
        yield


def prepare_output(out: Path, plan: DatasetPlan, overwrite: bool) -> None:
    """Claim ``out`` for ``plan``: new or empty, the same dataset (resume), or ours to replace (overwrite).

    Raises:
        DatasetExistsError: a dataset of another config (without ``overwrite``), or a non-empty folder that
            holds no spatialrep dataset.
    """
    if out.exists() and not out.is_dir():
        raise DatasetExistsError(f"output path {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    state = _stored_state(out)
    if state is None:
        foreign = sorted(p.name for p in out.iterdir() if p.name != LOCK)
        if foreign:
            shown = ", ".join(foreign[:3]) + ("..." if len(foreign) > 3 else "")
            raise DatasetExistsError(
                f"output folder {out} is not empty and holds no spatialrep dataset ({shown}); choose a new "
                "or empty folder"
            )
    elif state.get("fingerprint") != plan.fingerprint:
        if not overwrite and state.get("kind") == "imported":
            raise DatasetExistsError(
                f"output folder {out} holds an imported dataset; choose another folder or pass "
                "--overwrite to replace it"
            )
        if not overwrite:
            _check_render_version(out, state, plan)
            differences = _diff(state.get("plan", {}), plan.to_dict()) or ["the stored plan is unreadable"]
            raise DatasetExistsError(
                f"output folder {out} holds a dataset of another config (differs in "
                f"{'; '.join(differences[:3])}{'; ...' if len(differences) > 3 else ''}); rerun the command "
                "that made it to resume it, or "
                "pass --overwrite to replace it"
            )
        _remove_own(out)
        state = None
    versions = library_versions()
    if state is not None:  # the same dataset: resume
        before = state.get("versions") or {}
        changed = sorted(k for k in versions if k in before and before[k] != versions[k])
        if changed:
            warnings.warn(
                f"resuming {out} with other library versions than it was started with ("
                + ", ".join(f"{k} {before[k]} -> {versions[k]}" for k in changed)
                + "); shards rendered now may differ slightly from those rendered before",
                stacklevel=3,
            )
        if (out / STATE).is_file():
            return
    state_json = {
        "format": FORMAT,
        "fingerprint": plan.fingerprint,
        "versions": versions,
        "plan": plan.to_dict(),
    }
    atomic_write_text(out / STATE, json.dumps(state_json, indent=1))


def stored_render_versions(state: Mapping[str, Any]) -> dict[str, str]:
    """Render version of each split of a stored plan (``dataset.json`` or the render state); ``v1`` where the
    plan predates render versions."""
    splits = (state.get("plan") or {}).get("splits") or {}
    return {
        name: str((split.get("scene") or {}).get("render_version", "v1"))
        for name, split in splits.items()
        if isinstance(split, Mapping)
    }


def _check_render_version(out: Path, state: Mapping[str, Any], plan: DatasetPlan) -> None:
    """Refuse, naming both versions, to resume a dataset rendered with another render version."""
    before, now = stored_render_versions(state), plan.render_versions
    changed = {k: (before[k], now[k]) for k in before.keys() & now.keys() if before[k] != now[k]}
    if changed:
        shown = ", ".join(f"{k}: {a} there, {b} now" for k, (a, b) in sorted(changed.items()))
        old = sorted({a for a, _ in changed.values()})
        raise DatasetExistsError(
            f"output folder {out} holds a dataset rendered with another render version ({shown}); its shards "
            f"cannot be mixed with new ones. Resume it with --set scene.render_version={old[0]}, or pass "
            "--overwrite to render it again"
        )


def _remove_temporaries(out: Path) -> None:
    for split in ("train", "val", "test"):
        folder = out / split
        if folder.is_dir():
            for path in folder.glob(f"{_TMP_PREFIX}*"):
                shutil.rmtree(path, ignore_errors=True)


def shard_done(out: Path, task: ShardTask) -> bool:
    """Whether the shard of ``task`` was finished (its ``shard.csv`` exists; see :func:`shard_problem`)."""
    return (out / shard_folder(task) / SHARD_MANIFEST).is_file()


def _legacy_problem(out: Path, folder: Path) -> str | None:
    """A shard rendered before ``shard.json`` existed: the files its ``shard.csv`` names must exist."""
    try:
        header, records = read_table(folder / SHARD_MANIFEST)
    except ValueError as exc:
        return f"{SHARD_MANIFEST} is unreadable ({exc})"
    columns = [k for k, column in enumerate(header) if column.endswith(PATH_SUFFIX)]
    for record in records:
        for k in columns:
            if k < len(record) and record[k] and not (out / record[k]).is_file():
                return f"{Path(record[k]).name} is missing"
    return None


def shard_problem(out: Path, task: ShardTask) -> str | None:
    """What is wrong with the shard folder of ``task`` in ``out``, or ``None`` when it is sound.

    Every file ``shard.json`` lists must exist with its recorded size and SHA-256 (this reads the shard's
    files once); a shard without ``shard.json`` is only checked for the files its ``shard.csv`` names.
    """
    folder = out / shard_folder(task)
    if not (folder / SHARD_MANIFEST).is_file():
        return f"{SHARD_MANIFEST} is missing"
    if not (folder / SHARD_RECORD).exists():
        return _legacy_problem(out, folder)
    try:
        record = json.loads((folder / SHARD_RECORD).read_text(encoding="utf-8"))
        expected = {str(name): (int(e["bytes"]), str(e[DIGEST])) for name, e in record["files"].items()}
    except (OSError, ValueError, LookupError, TypeError, AttributeError) as exc:
        return f"{SHARD_RECORD} is unreadable ({type(exc).__name__}: {exc})"
    for name, (size, digest) in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        try:
            found = file_record(path)
        except OSError as exc:
            return f"{name} is unreadable ({exc})"
        if found["bytes"] != size:
            return f"{name} is {found['bytes']} bytes, {size} expected"
        if found[DIGEST] != digest:
            return f"{name} does not match its {DIGEST} checksum (same size, other bytes)"
    return None


def check_shards(
    out: Path, tasks: Sequence[ShardTask], *, workers: int | None = None, progress: bool = False
) -> list[ShardTask]:
    """The shards of ``tasks`` that are not finished and sound, after removing damaged ones (with a warning).

    Finished shards are checked with :func:`shard_problem` in ``workers`` threads (default every core):
    a rerun reads every file of the dataset once.
    """
    present = [t for t in tasks if (out / shard_folder(t)).exists()]
    if not present:
        return list(tasks)
    threads = max(1, min(len(present), workers or os.cpu_count() or 1))
    with (
        ThreadPoolExecutor(threads) as pool,
        tqdm(
            total=sum(t.num_examples for t in present),
            unit="ex",
            desc=f"checking {len(present)} finished shard(s)",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar,
    ):
        problems = []
        for task, problem in zip(present, pool.map(partial(shard_problem, out), present)):
            problems.append(problem)
            bar.update(task.num_examples)
    damaged = set()
    for task, problem in zip(present, problems):
        if problem is None:
            continue
        folder = out / shard_folder(task)
        warnings.warn(f"{shard_folder(task)}: {problem}; re-rendering the shard", UserWarning, stacklevel=3)
        if folder.is_dir():
            shutil.rmtree(folder)
        else:
            folder.unlink()
        damaged.add(task.key)
    finished = {t.key for t in present} - damaged
    return [t for t in tasks if t.key not in finished]


# ------------------------------------------------------------------------------------------------ assembly


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the rendered bytes."""
    import soundfile

    versions = {"python": platform.python_version(), "libsndfile": soundfile.__libsndfile_version__}
    for name in _VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _duration(row: Mapping[str, Any]) -> float:
    start, end = row.get("start_s"), row.get("end_s")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(end) - float(start)
    return float(row.get("duration_s") or 0.0)


def assemble(out: Path, plan: DatasetPlan) -> dict[str, Any]:
    """Join the shard manifests (in shard order) into ``manifest.csv``, write budgets and ``dataset.json``.

    Returns:
        The content of ``dataset.json``.
    """
    # Raw cells are copied, never decoded and re-encoded, so the manifest holds exactly the shards' bytes.
    header: list[str] = []
    records: list[list[str]] = []
    for task in plan.shards():
        shard_header, shard_records = read_table(out / shard_folder(task) / SHARD_MANIFEST)
        if not header:
            header = shard_header
        elif shard_header != header:  # only if the renderer's labels changed between shards
            header += [c for c in shard_header if c not in header]
        records += [[dict(zip(shard_header, r)).get(c, "") for c in header] for r in shard_records]
    atomic_write_text(out / MANIFEST, table_text(header, records))
    rows = [{c: decode_cell(c, v) for c, v in zip(header, r)} for r in records]
    config = plan.config
    train = [k for k, r in enumerate(rows) if r["split"] == "train"]
    train_seconds = sum(_duration(rows[k]) for k in train)
    budgets, skipped = select_budgets([_duration(rows[k]) for k in train], config.budgets, config.seed)
    if skipped:
        warnings.warn(
            f"label budget(s) {', '.join(f'{n} ({s:g} s)' for n, s in skipped.items())} are longer than the "
            f"train split ({train_seconds:g} s) and were not made; render more examples to get them",
            UserWarning,
            stacklevel=2,
        )
    budget_dir = out / BUDGETS_DIR
    for budget in budgets:
        selected = [records[train[i]] for i in budget.rows]
        atomic_write_text(budget_dir / f"{budget.name}.csv", table_text(header, selected))
    splits = {}
    for split in plan.splits:
        part = [r for r in rows if r["split"] == split.name]
        seconds = sum(_duration(r) for r in part)
        splits[split.name] = {
            "num_examples": len(part),
            "num_shards": -(-split.num_examples // config.shard_size),
            "duration_s": round(seconds, 6),
            "hours": round(seconds / 3600, 6),
            "receiver": split.scene.receiver,
            "source": split.scene.source,
            "render_version": split.scene.render_version,
            "num_source_units": len(split.scene.source_units) or None,
            "shared_classes": list(split.shared_classes),
        }
    total = sum(_duration(r) for r in rows)
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "simulated",
        "name": config.name,
        "seed": config.seed,
        "fingerprint": plan.fingerprint,
        "num_examples": len(rows),
        "duration_s": round(total, 6),
        "hours": round(total / 3600, 6),
        "sample_rate": config.scene.sample_rate,
        "render_version": config.scene.render_version,
        "signals": list(config.signals),
        "audio_format": config.audio_format,
        "manifest": MANIFEST,
        "splits": splits,
        "budgets": {
            **{
                b.name: {
                    "file": f"{BUDGETS_DIR}/{b.name}.csv",
                    "requested_s": b.seconds,
                    "num_examples": len(b.rows),
                    "duration_s": round(b.duration_s, 6),
                }
                for b in budgets
            },
            **{
                name: {"requested_s": seconds, "available": False, "train_split_s": round(train_seconds, 6)}
                for name, seconds in skipped.items()
            },
        },
        "versions": library_versions(),
        "plan": plan.to_dict(),
    }
    save_config(config, out / CONFIG_YAML)
    atomic_write_text(out / DATASET_JSON, json.dumps(info, indent=2) + "\n")
    return info


# ------------------------------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class RenderReport:
    """What :func:`render_dataset` did.

    Attributes:
        info: the content of ``dataset.json``.
        rendered_shards: shards rendered by this call (damaged shards found on resume included).
        skipped_shards: shards found finished and sound (resume).
    """

    info: dict[str, Any]
    rendered_shards: int
    skipped_shards: int


BYTES_PER_SAMPLE = 3
"""Upper bound of the bytes one sample takes on disk (24-bit PCM; FLAC usually takes less)."""


def estimated_bytes(config: DatasetConfig) -> int:
    """An upper bound of the bytes a dataset takes: every signal of every example at 24 bits (split
    overrides that change the receiver are not counted)."""
    scene = config.scene
    receiver = scene.receiver
    mics = len(make_array(receiver.split(":", 1)[1]).positions) if receiver.startswith("array:") else 2
    per_signal = [scene.num_sources[1] if signal == "dry" else mics for signal in config.signals]
    samples = config.num_examples * round(scene.duration_s * scene.sample_rate)
    return int(samples * sum(per_signal) * BYTES_PER_SAMPLE)


def _check_disk_space(root: Path, config: DatasetConfig) -> None:
    """Refuse, before anything is written, a dataset that cannot fit on the disk of ``root``."""
    probe = root
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = estimated_bytes(config)
    if need > free:
        raise ValueError(
            f"dataset {config.name!r} ({config.num_examples:,} examples) may need up to {need / 1e9:,.1f} GB "
            f"but {probe} has {free / 1e9:,.1f} GB free; render fewer examples (--num / --hours)"
        )


def _remove_folders(folders: Sequence[Path]) -> None:
    """Remove the (empty) folders a refused or failed call created, innermost first."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _render_pending(
    root: Path,
    plan: DatasetPlan,
    config: DatasetConfig,
    workers: int | None,
    executor: str,
    progress: bool,
    renderer_factory: RendererFactory,
) -> tuple[dict[str, Any], list[ShardTask], list[ShardTask]]:
    """Render the shards not finished (or damaged) and assemble: ``(dataset.json, rendered, all shards)``."""
    _remove_temporaries(root)
    tasks = plan.shards()
    pending = check_shards(root, tasks, workers=workers, progress=progress)
    total = sum(t.num_examples for t in tasks)
    work = partial(
        render_shard,
        out_dir=str(root),
        signals=tuple(config.signals),
        audio_format=config.audio_format,
        renderer_factory=renderer_factory,
    )
    with tqdm(
        total=total,
        initial=total - sum(t.num_examples for t in pending),
        unit="ex",
        desc=f"rendering {config.name}",
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for _, count in run_tasks(work, pending, executor=executor, workers=workers):
            bar.update(count)
    return assemble(root, plan), pending, tasks


def render_dataset(
    config: DatasetConfig,
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    executor: str = "local",
    overwrite: bool = False,
    progress: bool = False,
    renderer_factory: RendererFactory = default_renderer,
) -> RenderReport:
    """Render ``config`` into the folder ``out`` (see the module docstring for the layout); resumable.

    Args:
        config: the dataset.
        out: output folder (created).
        workers: parallel processes (``local``; default every core) or CPUs of a local Ray instance.
        executor: ``local`` or ``ray`` (see :func:`spatialrep.data.executors.run_tasks`).
        overwrite: replace a dataset of another config found in ``out``.
        progress: show a progress bar (examples per second, time left).
        renderer_factory: builds the renderer of a split's scene in each worker (picklable).

    Returns:
        A :class:`RenderReport`.

    Raises:
        DatasetExistsError: ``out`` holds another dataset or foreign files, or is being rendered into.
        ShardError: a shard failed (finished shards stay; rerun to resume).
        ValueError: an invalid config or executor.
    """
    check_executor(executor, workers)
    plan = plan_dataset(config)
    if renderer_factory is default_renderer:  # a bad receiver (a missing SOFA file...) fails before any write
        for receiver, rate in sorted({(s.scene.receiver, s.scene.sample_rate) for s in plan.splits}):
            make_receiver(receiver, rate)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise DatasetExistsError(f"output path {root} is a file, not a folder")
    _check_disk_space(root, config)
    made = [p for p in (root, *root.parents) if not p.exists()]  # folders this call creates
    root.mkdir(parents=True, exist_ok=True)
    had_lock = (root / LOCK).exists()
    fresh = _stored_state(root) is None if not made else True
    with _locked(root):
        try:
            prepare_output(root, plan, overwrite)
        except DatasetExistsError:
            if not had_lock:  # leave a refused folder as it was
                (root / LOCK).unlink(missing_ok=True)
            _remove_folders(made)
            raise
        try:
            info, pending, tasks = _render_pending(
                root, plan, config, workers, executor, progress, renderer_factory
            )
        except BaseException:
            if fresh and not any(shard_done(root, t) for t in plan.shards()):
                _remove_own(root)  # nothing finished to resume: leave the folder as it was found
                if not had_lock:
                    (root / LOCK).unlink(missing_ok=True)
                _remove_folders(made)
            raise
    return RenderReport(info, len(pending), len(tasks) - len(pending))
