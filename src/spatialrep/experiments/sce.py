"""The SCE / WSCE experiment (Tang et al. 2022): fixed condition, varying rooms, less data, unseen heads.

``run_sce_experiment(scale, out_dir)`` builds the measurement-vector datasets (:mod:`.sce_data`), trains SCE
(azimuth and elevation embeddings), WSCE and the feed-forward baseline through ``spatialrep.train.fit`` for
each seed, fits Laplacian eigenmaps, localizes every test set by k-NN regression and writes ``results.csv``,
``results.json``, ``results.md``, box plots and 3-D embedding plots. Each finished unit (one trained model and
its test predictions) lives in ``out_dir/runs/<experiment>/<model>/seed<k>/`` with a ``done.json`` written
last; a rerun reuses finished units and retrains unfinished ones from scratch, so a killed run ends with the
same numbers. See ``docs/sce.md``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from spatialrep.config import to_dict
from spatialrep.evaluate.knn import KnnRegressor
from spatialrep.evaluate.lem import LaplacianEigenmaps
from spatialrep.experiments import sce_data as sd
from spatialrep.experiments.report import (
    aggregate,
    claim_output_folder,
    markdown_table,
    write_json,
    write_results,
)
from spatialrep.io.atomic import atomic_path
from spatialrep.methods.feedforward import train_feedforward
from spatialrep.methods.sce import SceConfig, SceEmbedding, load_sce, save_sce, train_sce
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.simulate.sources import make_source_bank
from spatialrep.simulate.spherical_head import make_synthetic_subjects
from spatialrep.train import TrainConfig, quiet_lightning

__all__ = ["SCALES", "SceScale", "run_sce_experiment", "scale_config"]

SCALES = ("tiny", "small")


@dataclasses.dataclass(frozen=True)
class SceScale:
    """Sizes of one experiment scale (see ``docs/sce.md`` for how they differ from the paper).

    Attributes:
        direction_stride: keep every n-th measured KEMAR azimuth per elevation ring (frontal, ±40°).
        clips_per_direction: white-noise training clips per direction in the fixed condition (split 70/30).
        test_clips_per_direction: speech test clips per direction (fixed condition and unseen heads).
        train_duration_s, test_duration_s: clip lengths.
        num_train_rooms: rooms of (b); every direction once per room (split 70/30).
        test1_per_room: test directions per training room at new positions; ``num_test_rooms`` unseen rooms
            with ``test2_per_room`` directions each.
        fractions: training-set shares of (c) (of the whole pool; 0.7 = the full training split).
        num_train_heads, num_test_heads: synthetic spherical heads for (d) (plus KEMAR in training).
        max_steps, val_every_n_steps, batch_size, lr: optimisation (best step by validation loss).
        seeds: default seeds of the learned methods.
    """

    direction_stride: int
    clips_per_direction: int
    test_clips_per_direction: int
    train_duration_s: float
    test_duration_s: float
    num_train_rooms: int
    test1_per_room: int
    num_test_rooms: int
    test2_per_room: int
    fractions: tuple[float, ...]
    num_train_heads: int
    num_test_heads: int
    max_steps: int
    val_every_n_steps: int
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    data_seed: int = 0
    max_elevation_deg: float = 40.0
    snr_db: float = 15.0


_SCALES = {
    "tiny": SceScale(
        direction_stride=6, clips_per_direction=2, test_clips_per_direction=1, train_duration_s=0.25,
        test_duration_s=0.5, num_train_rooms=3, test1_per_room=8, num_test_rooms=2, test2_per_room=8,
        fractions=(0.25, 0.7), num_train_heads=2, num_test_heads=1, max_steps=30, val_every_n_steps=15,
        batch_size=64, seeds=(0,),
    ),
    "small": SceScale(
        direction_stride=2, clips_per_direction=4, test_clips_per_direction=2, train_duration_s=1.0,
        test_duration_s=1.5, num_train_rooms=16, test1_per_room=20, num_test_rooms=8, test2_per_room=40,
        fractions=(0.1, 0.25, 0.5, 0.7), num_train_heads=8, num_test_heads=4, max_steps=600,
        val_every_n_steps=100,
    ),
}  # fmt: skip


def scale_config(scale: str) -> SceScale:
    """The sizes of ``scale``.

    Raises:
        ValueError: an unknown scale (the valid ones are named).
    """
    if scale not in _SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    return _SCALES[scale]


# Method -> (SceConfig kwargs or None for the feed-forward baseline). SCE uses ε_u = 5° (the paper's
# SCE_sim5), WSCE ε_u = 15° (the paper's recommended WSCE_sim15).
_MODELS: dict[str, dict[str, Any] | None] = {
    "sce_azimuth": {"mode": "sce", "target": "azimuth", "epsilon_deg": 5.0},
    "sce_elevation": {"mode": "sce", "target": "elevation", "epsilon_deg": 5.0},
    "wsce": {"mode": "wsce", "epsilon_deg": 15.0},
    "ff": None,
}


@contextmanager
def _single_thread() -> Iterator[None]:
    # Small MLPs on 2 shared cores: one intra-op thread is several times faster than two competing ones.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Context:
    def __init__(
        self, cfg: SceScale, out: Path, seeds: Sequence[int], progress: bool, log: Callable[[str], None]
    ):
        self.cfg, self.out, self.seeds, self.progress, self.log = cfg, out, tuple(seeds), progress, log
        self.cache = out / "cache"
        self.kemar = make_receiver("kemar", sd.SAMPLE_RATE)
        self.az, self.el = sd.frontal_directions(self.kemar, cfg.direction_stride, cfg.max_elevation_deg)
        self._speech: Any = None
        self.head_names: dict[str, list[str]] = {}

    def bar(self, total: int, desc: str) -> Any:
        return tqdm(total=total, desc=desc, disable=not self.progress, leave=False)

    def speech(self, rng: np.random.Generator, length: int) -> np.ndarray:
        if self._speech is None:
            self._speech = make_source_bank("speech")
        signal: np.ndarray = self._speech.sample(rng, length / sd.SAMPLE_RATE, sd.SAMPLE_RATE).signal
        return signal

    def build(
        self,
        name: str,
        jobs: list[Any],
        excitation: sd.Excitation,
        duration: float,
        snr: float | None,
        seed_name: str | None = None,
    ) -> sd.Dataset:
        """Dataset ``name`` (cached); ``seed_name`` (default ``name``) fixes its randomness."""

        def make() -> sd.Dataset:
            with self.bar(len(jobs), f"render {name}") as bar:
                return sd.render_features(
                    jobs,
                    excitation,
                    duration,
                    self.cfg.data_seed,
                    seed_name or name,
                    snr_db=snr,
                    progress=bar,
                )

        return sd.load_or_build(self.cache, name, make)


def _fixed_jobs(receiver: Any, az: np.ndarray, el: np.ndarray, repeats: int, group: int = 0) -> list[Any]:
    jobs = []
    for _ in range(repeats):
        for a, e in zip(az, el, strict=True):
            jobs.append((lambda rng, a=a, e=e: sd.fixed_brir(receiver, a, e, rng), a, e, group))
    return jobs


def _datasets(ctx: _Context) -> dict[str, sd.Dataset]:
    cfg, az, el = ctx.cfg, ctx.az, ctx.el
    data: dict[str, sd.Dataset] = {}
    white = sd.white_excitation
    # (a) fixed condition: one room, KEMAR; white noise to train, speech + 15 dB uncorrelated noise to test.
    pool = ctx.build(
        "fixed_pool",
        _fixed_jobs(ctx.kemar, az, el, cfg.clips_per_direction),
        white,
        cfg.train_duration_s,
        None,
    )
    tr, va = sd.split_indices(len(pool), 0.7, cfg.data_seed, "fixed_split")
    data["fixed_train"], data["fixed_val"] = pool.subset(tr), pool.subset(va)
    data["fixed_test"] = ctx.build(
        "fixed_test",
        _fixed_jobs(ctx.kemar, az, el, cfg.test_clips_per_direction),
        ctx.speech,
        cfg.test_duration_s,
        cfg.snr_db,
    )
    # The same speech clips through the same BRIRs without the added noise (a diagnostic test set).
    data["fixed_test_clean"] = ctx.build(
        "fixed_test_clean",
        _fixed_jobs(ctx.kemar, az, el, cfg.test_clips_per_direction),
        ctx.speech,
        cfg.test_duration_s,
        None,
        seed_name="fixed_test",
    )
    # (b) varying rooms: every direction once per training room at a random placement.
    rooms = sd.train_rooms(cfg.data_seed, cfg.num_train_rooms, "train_room")
    unseen = sd.train_rooms(cfg.data_seed, cfg.num_test_rooms, "unseen_room")

    def room_jobs(room_list: list[Any], per_room: int | None, name: str) -> list[Any]:
        rng = np.random.default_rng(sd.stable_seed(cfg.data_seed, name))
        jobs = []
        for g, room in enumerate(room_list):
            chosen = (
                np.arange(len(az))
                if per_room is None
                else rng.choice(len(az), min(per_room, len(az)), replace=False)
            )
            for i in chosen:
                a, e = az[i], el[i]
                jobs.append(
                    (lambda r, room=room, a=a, e=e: sd.placed_brir(room, ctx.kemar, a, e, r), a, e, g)
                )
        return jobs

    rpool = ctx.build("rooms_pool", room_jobs(rooms, None, "rooms_pool"), white, cfg.train_duration_s, None)
    tr, va = sd.split_indices(len(rpool), 0.7, cfg.data_seed, "rooms_split")
    data["rooms_train"], data["rooms_val"] = rpool.subset(tr), rpool.subset(va)
    data["rooms_test_seen"] = ctx.build(
        "rooms_test_seen",
        room_jobs(rooms, cfg.test1_per_room, "rooms_test_seen"),
        white,
        cfg.train_duration_s,
        None,
    )
    data["rooms_test_unseen"] = ctx.build(
        "rooms_test_unseen",
        room_jobs(unseen, cfg.test2_per_room, "rooms_test_unseen"),
        white,
        cfg.train_duration_s,
        None,
    )
    # (d) heads: synthetic spherical subjects in the fixed room.
    heads = make_synthetic_subjects(
        cfg.num_train_heads + cfg.num_test_heads,
        np.random.default_rng(sd.stable_seed(cfg.data_seed, "heads")),
        sample_rate=sd.SAMPLE_RATE,
    )
    train_heads, test_heads = heads[: cfg.num_train_heads], heads[cfg.num_train_heads :]
    hjobs = [j for g, h in enumerate(train_heads, start=1) for j in _fixed_jobs(h, az, el, 1, g)]
    hpool = ctx.build("heads_pool", hjobs, white, cfg.train_duration_s, None)
    tr, va = sd.split_indices(len(hpool), 0.7, cfg.data_seed, "heads_split")
    data["heads_train"] = sd.Dataset.concat([data["fixed_train"], hpool.subset(tr)])
    data["heads_val"] = sd.Dataset.concat([data["fixed_val"], hpool.subset(va)])
    tjobs = [
        j
        for g, h in enumerate(test_heads, start=100)
        for j in _fixed_jobs(h, az, el, cfg.test_clips_per_direction, g)
    ]
    # White-noise test clips as in the paper's CIPIC experiment.
    data["heads_test"] = ctx.build("heads_test", tjobs, white, cfg.test_duration_s, None)
    ctx.head_names = {"train": [h.name for h in train_heads], "test": [h.name for h in test_heads]}
    return data


def _fraction_subset(train: sd.Dataset, fraction: float, seed: int) -> sd.Dataset:
    """``fraction`` of the whole pool (train + val = train / 0.7) drawn from the training split."""
    if fraction >= 0.7 - 1e-9:
        return train
    n = max(8, round(len(train) * fraction / 0.7))
    idx, _ = sd.split_indices(len(train), n / len(train), seed, f"fraction_{fraction:g}")
    return train.subset(idx)


def _train_config(cfg: SceScale, seed: int, n_train: int) -> TrainConfig:
    return TrainConfig(
        max_steps=cfg.max_steps, batch_size=min(cfg.batch_size, n_train), lr=cfg.lr, optimizer="adam",
        seed=seed,
        val_every_n_steps=cfg.val_every_n_steps, checkpoint_every_n_steps=cfg.max_steps, accelerator="cpu",
        devices=1, log_every_n_steps=max(1, cfg.val_every_n_steps), loggers=("csv",),
    )  # fmt: skip


def _save_npz(path: Path, **arrays: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def _unit(directory: Path, work: Callable[[Path], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Run ``work(directory)`` once: arrays go to ``predictions.npz``, then ``done.json`` marks it done."""
    done = directory / "done.json"
    preds = directory / "predictions.npz"
    if done.is_file() and preds.is_file():
        with np.load(preds) as archive:
            return {k: archive[k] for k in archive.files}
    if directory.exists():
        shutil.rmtree(
            directory
        )  # an interrupted unit restarts from scratch (dropout draws are not resumable)
    directory.mkdir(parents=True)
    arrays = work(directory)
    _save_npz(preds, **arrays)
    write_json(done, {"finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return arrays


def _knn_predict(train_z: np.ndarray, train: sd.Dataset, test_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    azimuth, elevation = KnnRegressor(5).fit(train_z, train.azimuth, train.elevation).predict(test_z)
    return azimuth, elevation


def _learned_unit(
    ctx: _Context, directory: Path, model: str, seed: int, train: sd.Dataset, val: sd.Dataset,
    tests: dict[str, sd.Dataset], export: Path | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    def work(folder: Path) -> dict[str, np.ndarray]:
        tc = _train_config(ctx.cfg, seed, len(train))
        out: dict[str, np.ndarray] = {}
        spec = _MODELS[model]
        with _single_thread(), quiet_lightning():
            if spec is None:
                ff, _ = train_feedforward(train.triple(), val.triple(), folder / "fit", SceConfig(), tc)
                for name, test in tests.items():
                    a, e = ff.predict_features(torch.from_numpy(test.features))
                    out[f"{name}_azimuth"], out[f"{name}_elevation"] = a, e
            else:
                sce, _ = train_sce(train.triple(), val.triple(), folder / "fit", SceConfig(**spec), tc)
                out["train_embedding"] = sce.ref_embeddings.double().numpy()
                for name, test in tests.items():
                    a, e = sce.localize_features(torch.from_numpy(test.features))
                    out[f"{name}_azimuth"], out[f"{name}_elevation"] = a, e
                if export is not None:
                    save_sce(sce, export)
        shutil.rmtree(folder / "fit" / "lightning", ignore_errors=True)  # resumable state no longer needed
        return out

    arrays = _unit(directory, work)
    if export is not None and not (export / "model.json").is_file() and _MODELS[model] is not None:
        save_sce(load_sce(directory / "fit"), export)
    return arrays


def _reuse_unit(directory: Path, model_dir: Path, tests: dict[str, sd.Dataset]) -> dict[str, np.ndarray]:
    """Predictions of an already trained SCE / WSCE model (``model_dir``) on new test sets."""

    def work(folder: Path) -> dict[str, np.ndarray]:
        model = load_sce(model_dir)
        assert isinstance(model, SceEmbedding)
        out: dict[str, np.ndarray] = {}
        for name, test in tests.items():
            out[f"{name}_azimuth"], out[f"{name}_elevation"] = model.localize_features(
                torch.from_numpy(test.features)
            )
        return out

    return _unit(directory, work)


def _lem_unit(directory: Path, train: sd.Dataset, tests: dict[str, sd.Dataset]) -> dict[str, np.ndarray]:
    def work(folder: Path) -> dict[str, np.ndarray]:
        lem = LaplacianEigenmaps(n_components=3, n_neighbors=10)
        train_z = lem.fit_transform(train.features)
        out = {"train_embedding": train_z}
        for name, test in tests.items():
            out[f"{name}_azimuth"], out[f"{name}_elevation"] = _knn_predict(
                train_z, train, lem.transform(test.features)
            )
        return out

    return _unit(directory, work)


def _errors_deg(pred_az: np.ndarray, pred_el: np.ndarray, test: sd.Dataset) -> tuple[np.ndarray, np.ndarray]:
    az = np.degrees(np.abs(np.arctan2(np.sin(pred_az - test.azimuth), np.cos(pred_az - test.azimuth))))
    return az, np.degrees(np.abs(pred_el - test.elevation))


def _row(
    experiment: str,
    test_set: str,
    method: str,
    seed: int | None,
    az: np.ndarray,
    el: np.ndarray,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "experiment": experiment, "test_set": test_set, "method": method, **extra,
        "seed": -1 if seed is None else seed,
        "az_median_deg": float(np.median(az)), "az_mean_deg": float(np.mean(az)),
        "el_median_deg": float(np.median(el)), "el_mean_deg": float(np.mean(el)), "clips": int(az.size),
    }  # fmt: skip


def run_sce_experiment(
    scale: str,
    out_dir: str | os.PathLike[str],
    *,
    seeds: Sequence[int] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    config: SceScale | None = None,
) -> dict[str, Any]:
    """Run experiments (a)-(d) at ``scale`` and write the results (resumable; see the module docstring).

    Args:
        scale: one of :data:`SCALES`.
        out_dir: the experiment folder.
        seeds: seeds of the learned methods (default: the scale's, 0, 1, 2 at ``small``).
        progress: tqdm progress bars.
        log: receives the Markdown table and progress lines.
        config: override the scale's sizes (tests use a smaller one).

    Returns:
        ``{"summary": rows aggregated over seeds, "paths": {csv, json, markdown, models, plots...}}``.

    Raises:
        ValueError: an unknown scale (the valid ones are named) or an empty ``seeds``.
    """
    cfg = config or scale_config(scale)
    if config is not None and scale not in SCALES:
        scale_config(scale)
    seeds = tuple(cfg.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    identity = {"scale": scale, "seeds": list(seeds), "config": to_dict(cfg)}
    claim_output_folder(out, identity, what="SCE experiment")
    start = time.perf_counter()
    ctx = _Context(cfg, out, seeds, progress, log)
    log(f"SCE experiment ({scale}): {len(ctx.az)} directions, seeds {list(seeds)}, output {out}")
    data = _datasets(ctx)
    rows: list[dict[str, Any]] = []
    errors: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    runs = out / "runs"
    models_dir = out / "models"
    embeddings: dict[str, tuple[np.ndarray, sd.Dataset]] = {}

    def record(
        exp: str,
        test_name: str,
        test: sd.Dataset,
        method: str,
        seed: int | None,
        az: np.ndarray,
        el: np.ndarray,
        **extra: Any,
    ) -> None:
        e_az, e_el = _errors_deg(az, el, test)
        rows.append(_row(exp, test_name, method, seed, e_az, e_el, **extra))
        key = f"{exp}/{test_name}" + (f"/{extra['fraction']:g}" if "fraction" in extra else "")
        if seed in (None, seeds[0]):
            errors.setdefault(key, {})[method] = (e_az, e_el)

    def evaluate(
        exp: str,
        train: sd.Dataset,
        val: sd.Dataset,
        tests: dict[str, sd.Dataset],
        models: Sequence[str],
        run_root: Path,
        export: bool = False,
        **extra: Any,
    ) -> None:
        total = len(models) * len(seeds)
        with tqdm(total=total + 1, desc=f"train {exp}", disable=not progress, leave=False) as bar:
            preds: dict[str, list[dict[str, np.ndarray]]] = {}
            for model in models:
                for seed in seeds:
                    target = (
                        models_dir / model
                        if export and seed == seeds[0] and _MODELS[model] is not None
                        else None
                    )
                    arrays = _learned_unit(
                        ctx, run_root / model / f"seed{seed}", model, seed, train, val, tests, target
                    )
                    preds.setdefault(model, []).append(arrays)
                    if "train_embedding" in arrays and seed == seeds[0] and exp == "fixed":
                        embeddings[model] = (arrays["train_embedding"], train)
                    bar.update(1)
            lem = _lem_unit(run_root / "lem", train, tests)
            if exp == "fixed":
                embeddings["lem"] = (lem["train_embedding"], train)
            bar.update(1)
        for name, test in tests.items():
            for i, seed in enumerate(seeds):
                if "sce_azimuth" in preds:
                    az = preds["sce_azimuth"][i][f"{name}_azimuth"]
                    el = preds["sce_elevation"][i][f"{name}_elevation"]
                    record(exp, name, test, "SCE", seed, az, el, **extra)
                for model, label in (("wsce", "WSCE"), ("ff", "FF")):
                    if model in preds:
                        p = preds[model][i]
                        record(
                            exp,
                            name,
                            test,
                            label,
                            seed,
                            p[f"{name}_azimuth"],
                            p[f"{name}_elevation"],
                            **extra,
                        )
            record(exp, name, test, "LEM", None, lem[f"{name}_azimuth"], lem[f"{name}_elevation"], **extra)

    all_models = ("sce_azimuth", "sce_elevation", "wsce", "ff")
    fixed_tests = {"speech_15db": data["fixed_test"], "speech_clean": data["fixed_test_clean"]}
    log("(a) fixed acoustic condition")
    evaluate(
        "fixed",
        data["fixed_train"],
        data["fixed_val"],
        fixed_tests,
        all_models,
        runs / "fixed",
        export=True,
    )
    log("(b) varying rooms")
    evaluate(
        "rooms", data["rooms_train"], data["rooms_val"],
        {"seen_rooms": data["rooms_test_seen"], "unseen_rooms": data["rooms_test_unseen"]},
        all_models, runs / "rooms",
    )  # fmt: skip
    log("(c) reduced training sets")
    for fraction in cfg.fractions:
        train = _fraction_subset(data["fixed_train"], fraction, cfg.data_seed)
        root = runs / "fixed" if fraction >= 0.7 - 1e-9 else runs / f"fraction_{fraction:g}"
        evaluate(
            "fraction",
            train,
            data["fixed_val"],
            fixed_tests,
            ("sce_azimuth", "sce_elevation", "ff"),
            root,
            fraction=fraction,
        )
    log("(d) unseen heads")
    heads_test = {"heads_test": data["heads_test"]}
    for seed in seeds:
        one = _reuse_unit(
            runs / "heads_one" / f"seed{seed}", runs / "fixed" / "wsce" / f"seed{seed}" / "fit", heads_test
        )
        many = _learned_unit(
            ctx,
            runs / "heads_many" / f"seed{seed}",
            "wsce",
            seed,
            data["heads_train"],
            data["heads_val"],
            heads_test,
        )
        record(
            "heads",
            "held_out_spheres",
            data["heads_test"],
            "WSCE (KEMAR only)",
            seed,
            one["heads_test_azimuth"],
            one["heads_test_elevation"],
        )
        record(
            "heads",
            "held_out_spheres",
            data["heads_test"],
            "WSCE (KEMAR + spheres)",
            seed,
            many["heads_test_azimuth"],
            many["heads_test_elevation"],
        )

    from spatialrep.experiments.sce_plots import boxplots, embedding_plots

    values = ["az_median_deg", "az_mean_deg", "el_median_deg", "el_mean_deg"]
    for row in rows:
        row.setdefault("fraction", None)
    summary = aggregate(rows, ["experiment", "test_set", "fraction", "method"], values)
    columns = ["experiment", "test_set", "fraction", "method", "n", *values]
    elapsed = time.perf_counter() - start
    paths: dict[str, Any] = dict(
        write_results(
            out, rows, summary, title=f"SCE / WSCE experiment ({scale})", summary_columns=columns,
            extra_markdown=_notes(cfg, len(ctx.az), seeds),
            metadata={"scale": scale, "config": dataclasses.asdict(cfg), "seeds": list(seeds),
                      "directions": len(ctx.az),
                      "heads": ctx.head_names, "wall_time_s": elapsed},
        )
    )  # fmt: skip
    paths["boxplots"] = boxplots(out, errors)
    paths["embeddings"] = embedding_plots(out, embeddings)
    paths["models"] = {m: str(models_dir / m) for m in ("sce_azimuth", "sce_elevation", "wsce")}
    log(markdown_table(summary, columns))
    return {"summary": summary, "paths": paths}


def _notes(cfg: SceScale, directions: int, seeds: Sequence[int]) -> str:
    return (
        f"\nErrors in degrees (azimuth: wrapped absolute difference; elevation: absolute difference), "
        f"medians and means per clip, then mean over seeds {list(seeds)} (`_std`: across seeds; LEM is "
        "deterministic, seed -1). "
        f"{directions} frontal KEMAR directions (azimuth ±90°, elevation ±{cfg.max_elevation_deg:g}°). SCE = "
        "azimuth from the azimuth embedding and elevation from the elevation embedding (ε_u = 5°); "
        "WSCE ε_u = 15°; FF = feed-forward regressor; LEM = Laplacian eigenmaps (M = 10); all localize by "
        "5-NN regression except FF.\n"
    )
