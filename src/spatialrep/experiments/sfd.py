"""The SFD experiment: every pretraining target x label budget x seed, supervised and classic baselines, the
trivial floors, one fixed test set plus optional unseen-head test sets (``spatialrep experiment sfd``; recipes
in ``spatialrep/recipes/sfd/``; see ``docs/sfd.md``).

Output folder layout (every file written atomically; a rerun skips finished units, so a killed run resumes)::

    experiment.json, recipe.yaml    the configuration (a rerun with another one is refused)
    data/                           the rendered dataset (resumable itself)
    data-<name>/                    an extra test set (the test split again with other scene settings)
    pretrain/<target>/seed<k>/      pretraining runs (``spatialrep.train.fit`` layout) + done.json
    pretrain/<target>/mean_predictor.json   the training-mean predictor's validation MSE (for R²)
    finetune/<method>/<budget>/seed<k>/   fine-tuning runs; ``<method>`` is sfd-<target>, sfd-<target>-probe,
                                    stft-dnn or gccphat-dnn
    eval/<test set>/<method>__<budget>__seed<k>.json   test predictions and metrics of one model (a unit)
    eval/<test set>/<name>.json     the same for a classic baseline or a trivial floor
    results.csv / results.json / results.md, mae_vs_snr.png, mae_vs_labels.png
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.config import from_dict
from spatialrep.data.datasets import InMemoryDataset, ManifestDataset, collate_examples
from spatialrep.data.manifest import ManifestError
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.evaluate.floors import azimuth_floors, mean_predictor, r2_against_mean
from spatialrep.experiments.report import (
    aggregate,
    localization_row,
    markdown_table,
    read_json,
    write_json,
    write_results,
)
from spatialrep.experiments.runner import (
    BenchmarkModel,
    BenchmarkTraining,
    ExperimentResult,
    Unit,
    read_unit,
    register_benchmark_entry,
    register_experiment,
    run_units,
    unit_timings,
)
from spatialrep.experiments.sfd_config import SfdExperimentConfig, parse_target
from spatialrep.methods.base import Localizer, localize_batches
from spatialrep.methods.classic import DEFAULT_VARIANT, classic_localizer
from spatialrep.methods.registry import load_model
from spatialrep.methods.sfd import finetune, pretrain
from spatialrep.train import make_loader, read_meta

__all__ = ["IN_DOMAIN", "METRICS", "predict_azimuth", "run_sfd_experiment"]

METRICS = ("mae_deg", "median_deg", "acc5", "acc10")
IN_DOMAIN = "in-domain"
Log = Callable[[str], None]


@functools.lru_cache(maxsize=1)
def _test_set(data: Path) -> tuple[InMemoryDataset, np.ndarray, np.ndarray, int]:
    test = InMemoryDataset(ManifestDataset(data, split="test", signals=("noisy",)))
    azimuth = np.radians([float(row["azimuth_deg"][0]) for row in test.rows])
    snr = np.array([float(row["snr_db"]) for row in test.rows])
    rate = int(test.rows[0]["sample_rate"])
    return test, azimuth, snr, rate


def predict_azimuth(localizer: Localizer, dataset: Any, sample_rate: int, batch_size: int) -> np.ndarray:
    """Clip azimuths (radians, float64) of every example's ``noisy`` signal, in dataset order."""
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_examples)
    return localize_batches(localizer, (batch["noisy"] for batch in loader), sample_rate)[0]


def _method_name(target: str, probe: bool = False) -> str:
    name, normalization = parse_target(target)
    suffix = "" if normalization == "frame" else f"-{normalization}"
    return f"sfd-{name}{suffix}" + ("-probe" if probe else "")


def _target_folder(target: str) -> str:
    return target.replace(":", "-")


def _learned_methods(config: SfdExperimentConfig) -> list[tuple[str, str, str | None, bool]]:
    """``(method, input kind, pretraining target or None, linear probe)`` of every learned model."""
    methods: list[tuple[str, str, str | None, bool]] = [
        (_method_name(t), "stft", t, False) for t in config.targets
    ]
    if config.linear_probe:
        methods += [(_method_name(t, probe=True), "stft", t, True) for t in config.targets]
    if "stft-dnn" in config.supervised:
        methods.append(("stft-dnn", "stft", None, False))
    if "gccphat-dnn" in config.supervised:
        methods.append(("gccphat-dnn", "gcc_phat", None, False))
    return methods


def _pretrain_dir(out: Path, config: SfdExperimentConfig, target: str, seed: int) -> Path:
    run_seed = seed if config.pretrain_per_seed else config.seeds[0]
    return out / "pretrain" / _target_folder(target) / f"seed{run_seed}"


def _training_units(out: Path, config: SfdExperimentConfig, progress: bool) -> list[Unit]:
    data = out / "data"
    units: list[Unit] = []
    pretrain_seeds = config.seeds if config.pretrain_per_seed else config.seeds[:1]
    for target in (*config.targets, *config.diagnostic_targets):
        for seed in pretrain_seeds:
            run_dir = _pretrain_dir(out, config, target, seed)

            def do_pretrain(
                run_dir: Path = run_dir, target: str = target, seed: int = seed
            ) -> dict[str, Any]:
                trained = pretrain(
                    data,
                    run_dir,
                    config.sfd_config("stft", target),
                    config.train_config("pretrain", seed),
                    progress=progress,
                )
                return {"global_step": trained.fit.global_step}

            units.append(Unit(f"pretrain {target} seed {seed}", run_dir / "done.json", do_pretrain))

    for method, input_kind, init_target, probe in _learned_methods(config):
        for budget in config.budgets:
            for seed in config.seeds:
                run_dir = out / "finetune" / method / budget / f"seed{seed}"
                init = _pretrain_dir(out, config, init_target, seed) if init_target is not None else None

                def do_finetune(
                    run_dir: Path = run_dir,
                    input_kind: str = input_kind,
                    target: str | None = init_target,
                    init: Path | None = init,
                    probe: bool = probe,
                    budget: str = budget,
                    seed: int = seed,
                ) -> dict[str, Any]:
                    trained = finetune(
                        data,
                        run_dir,
                        config.sfd_config(input_kind, target or "gcc_phat"),
                        config.train_config("finetune", seed),
                        budget=budget,
                        init_from=init,
                        freeze_encoder=probe,
                        options=config.finetune_options,
                        progress=progress,
                    )
                    return {"global_step": trained.fit.global_step}

                units.append(
                    Unit(f"finetune {method} {budget} seed {seed}", run_dir / "done.json", do_finetune)
                )
    return units


def _classic(name: str, sample_rate: int) -> Localizer:
    from spatialrep.simulate.hrtf import load_default_hrtf

    return classic_localizer(name, load_default_hrtf(sample_rate))


def _test_sets(out: Path, config: SfdExperimentConfig) -> dict[str, Path]:
    return {IN_DOMAIN: out / "data", **{name: out / f"data-{name}" for name in config.extra_tests}}


def _train_azimuth(data: Path) -> np.ndarray:
    rows = ManifestDataset(data, split="train", signals=(), check_files=False).rows
    return np.radians([float(row["azimuth_deg"][0]) for row in rows])


def _eval_units(out: Path, config: SfdExperimentConfig) -> list[Unit]:
    units: list[Unit] = []

    def evaluate(data: Path, predict: Callable[[Any, int], np.ndarray], **keys: Any) -> dict[str, Any]:
        test, azimuth, snr, rate = _test_set(data)
        return localization_row(
            predict(test, rate), azimuth, snr_db=snr, snr_bands=config.snr_bands, predictions=True, **keys
        )

    def localizer(build: Callable[[int], Localizer]) -> Callable[[Any, int], np.ndarray]:
        return lambda test, rate: predict_azimuth(build(rate), test, rate, config.eval_batch_size)

    def learned(model_dir: Path) -> Callable[[int], Localizer]:
        def build(rate: int) -> Localizer:
            model = load_model(model_dir)
            if not isinstance(model, Localizer):
                raise ValueError(f"{model_dir} holds a {type(model).__name__}, which does not localize")
            return model

        return build

    def floor(name: str) -> Callable[[Any, int], np.ndarray]:
        grid = config.model.grid()
        return lambda test, rate: azimuth_floors(_train_azimuth(out / "data"), grid, len(test))[name]

    for test_set, data in _test_sets(out, config).items():
        folder = out / "eval" / test_set
        budgets = config.budgets if test_set == IN_DOMAIN else (config.extra_test_budgets or config.budgets)
        for method, _, _, _ in _learned_methods(config):
            for budget in budgets:
                for seed in config.seeds:
                    model_dir = out / "finetune" / method / budget / f"seed{seed}" / "best"
                    run = functools.partial(
                        evaluate, data, localizer(learned(model_dir)), test_set=test_set, method=method,
                        budget=budget, seed=seed,
                    )  # fmt: skip
                    name = f"evaluate {test_set} {method} {budget} seed {seed}"
                    units.append(Unit(name, folder / f"{method}__{budget}__seed{seed}.json", run))
        for name in config.classic:
            build = functools.partial(_classic, name)
            run = functools.partial(
                evaluate, data, localizer(build), test_set=test_set, method=name, budget="none", seed=None
            )
            units.append(Unit(f"evaluate {test_set} {name}", folder / f"{name}.json", run))
        for name in ("always-0°", "class-prior"):
            run = functools.partial(
                evaluate, data, floor(name), test_set=test_set, method=name, budget="floor", seed=None
            )
            units.append(Unit(f"evaluate {test_set} {name}", folder / f"{name.replace('°', '')}.json", run))
    return units


def _budget_order(budgets: Sequence[str]) -> dict[str, int]:
    return {b: i for i, b in enumerate([*budgets, "none", "floor"])}


def _band_table(rows: Sequence[dict[str, Any]], budgets: Sequence[str]) -> str:
    bands = list(rows[0]["snr_bands"]) if rows else []
    flat = []
    for row in rows:
        entry = {"method": row["method"], "budget": row["budget"], "seed": row["seed"]}
        entry.update({f"MAE {band}": row["snr_bands"][band]["mae_deg"] for band in bands})
        flat.append(entry)
    summary = aggregate(flat, ["method", "budget"], [f"MAE {b}" for b in bands])
    columns = ["method", "budget", *[f"MAE {b}" for b in bands]]
    order = _budget_order(budgets)
    summary.sort(key=lambda r: (order.get(r["budget"], 99), r["method"]))
    return "## MAE (degrees) per SNR band (dB), mean over seeds\n\n" + markdown_table(summary, columns, ".1f")


def _mean_predictor_mse(data: Path, config: SfdExperimentConfig, target: str) -> dict[str, float]:
    """Validation MSE of the per-dimension training-mean predictor of ``target`` (the R² reference)."""
    sfd_config = config.sfd_config("stft", target)

    def targets(split: str) -> np.ndarray:
        dataset = ManifestDataset(data, split=split, signals=("clean_direct",))
        loader = make_loader(
            dataset, batch_size=config.eval_batch_size, shuffle=False, collate_fn=collate_examples
        )
        chunks = [sfd_config.target(b["clean_direct"], sfd_config.frontend).double().numpy() for b in loader]
        return np.concatenate([c.reshape(-1, c.shape[-1]) for c in chunks])

    mean = mean_predictor(targets("train"))
    val = targets("val")
    return {"mse": float(np.mean((val - mean) ** 2)), "zero_mse": float(np.mean(val**2))}


def _pretraining_table(out: Path, config: SfdExperimentConfig) -> str:
    """Best validation MSE of every pretraining as R² against the training-mean predictor, and its step."""
    lines = []
    for target in (*config.targets, *config.diagnostic_targets):
        folder = out / "pretrain" / _target_folder(target)
        reference_path = folder / "mean_predictor.json"
        if not reference_path.is_file():
            try:
                write_json(reference_path, _mean_predictor_mse(out / "data", config, target))
            except ManifestError:
                return ""  # no validation split
        reference = read_json(reference_path)
        for run in sorted(folder.glob("seed*")):
            meta = read_meta(run / "best")
            best = meta.extra.get("best_score")
            if best is None:
                continue
            r2 = r2_against_mean(float(best), float(reference["mse"]))
            best_step, steps = meta.extra.get("best_step"), meta.extra.get("global_step")
            lines.append(
                f"| {target} | {run.name} | {best_step} of {steps} | {best:.4g} | {reference['mse']:.4g} | "
                f"{r2:+.3f} |"
            )
    if not lines:
        return ""
    head = (
        "## Pretraining: validation MSE of the best checkpoint, R² against the training-mean predictor\n\n"
        "R² = 1 − MSE / MSE(mean): 0 is no better than predicting every target dimension's training mean.\n\n"
        "| target | run | best step | val MSE | mean-predictor MSE | R² |\n|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(lines) + "\n"


def _summary(rows: Sequence[dict[str, Any]], budgets: Sequence[str]) -> list[dict[str, Any]]:
    summary = aggregate(rows, ["method", "budget"], METRICS)
    order = _budget_order(budgets)
    summary.sort(key=lambda r: (order.get(r["budget"], 99), r["mae_deg"]))
    for row in summary:
        row["MAE ± std"] = f"{row['mae_deg']:.1f} ± {row['mae_deg_std']:.1f}"
    return summary


def _reductions(summary: Sequence[dict[str, Any]], budgets: Sequence[str]) -> str:
    """MAE reduction of each pretrained model against STFT-DNN at every budget (the paper's headline), with
    a warning where STFT-DNN does not clear the trivial floor (a reduction against it is then no evidence)."""
    floor = min((r["mae_deg"] for r in summary if r["budget"] == "floor"), default=float("nan"))
    lines = []
    for budget in budgets:
        at = {r["method"]: r["mae_deg"] for r in summary if r["budget"] == budget}
        if "stft-dnn" not in at:
            continue
        base = at["stft-dnn"]
        note = "" if base < floor else " (STFT-DNN is not below the trivial floor: no evidence)"
        for method, mae in sorted(at.items()):
            if method.startswith("sfd-") and base > 0:
                lines.append(f"| {budget} | {method} | {100.0 * (base - mae) / base:+.1f} %{note} |")
    if not lines:
        return ""
    head = (
        "## MAE reduction against STFT-DNN (positive = pretrained is better)\n\n"
        f"Best trivial floor on this test set: {floor:.1f}° MAE.\n\n"
    )
    return head + "| budget | method | reduction |\n|---|---|---|\n" + "\n".join(lines) + "\n"


def _band_mae(rows: Sequence[dict[str, Any]], band: str | None) -> float:
    values = [r["mae_deg"] if band is None else r["snr_bands"][band]["mae_deg"] for r in rows]
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _learned_vs_classic(rows: Sequence[dict[str, Any]], test_set: str) -> str:
    """Best learned model (mean over seeds) against the best validated classic default, overall and per band.

    The classic side uses only the family defaults chosen on validation data (``DEFAULT_VARIANT``), never the
    variant that happens to be best on this test set.
    """
    defaults = {*DEFAULT_VARIANT.values(), *DEFAULT_VARIANT}  # a family name means its default variant
    learned: dict[tuple[str, str], list[dict[str, Any]]] = {}
    classic: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["budget"] not in ("none", "floor"):
            learned.setdefault((row["method"], row["budget"]), []).append(row)
        elif row["method"] in defaults:
            classic.setdefault(row["method"], []).append(row)
    if not learned or not classic:
        return ""
    bands: list[str | None] = [None, *rows[0]["snr_bands"]]
    lines = []
    for band in bands:
        (l_method, l_budget), l_rows = min(learned.items(), key=lambda kv: _band_mae(kv[1], band))
        c_method, c_rows = min(classic.items(), key=lambda kv: _band_mae(kv[1], band))
        l_mae, c_mae = _band_mae(l_rows, band), _band_mae(c_rows, band)
        verdict = "learned" if l_mae < c_mae else "classic"
        lines.append(
            f"| {band or 'all clips'} | {l_method} ({l_budget}) | {l_mae:.1f} | {c_method} | {c_mae:.1f} | "
            f"{verdict} |"
        )
    head = (
        f"## Learned against classic ({test_set}): the best of each, MAE in degrees\n\n"
        "Learned: the best model and budget (mean over seeds) of each row, picked on this test set, which "
        "favours the learned side; classic: the best of the family defaults chosen on validation data "
        "(gcc-phat-itd-snr, srp-phat-framemean, music-freefield).\n\n"
        "| SNR band (dB) | best learned | MAE | best classic | MAE | lower |\n|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(lines) + "\n"


def _test_set_section(rows: Sequence[dict[str, Any]], budgets: Sequence[str], name: str) -> str:
    columns = ["method", "budget", "n", "MAE ± std", "median_deg", "acc5", "acc10"]
    table = f"## Test set {name}\n\n" + markdown_table(_summary(rows, budgets), columns)
    return table + "\n" + _learned_vs_classic(rows, name)


@register_experiment(
    "sfd",
    SfdExperimentConfig,
    "SFD pretraining targets x label budgets x seeds, supervised and classic baselines, floors, test sets",
)
def run_sfd_experiment(
    config: SfdExperimentConfig,
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = True,
    log: Log = print,
) -> ExperimentResult:
    """Run (or resume) the SFD experiment and write its tables and plots.

    Call it through :func:`spatialrep.experiments.runner.run_experiment` (which claims the folder and saves
    the recipe).

    Args:
        config: the resolved recipe.
        out_dir: the experiment folder (see the module docstring).
        workers: rendering processes (default: every core).
        progress: progress bars (rendering, units, Lightning).
        log: where the status lines and the final table go.
    """
    out = Path(out_dir)
    dataset_config = load_dataset_config(dict(config.dataset))
    log(f"[sfd] rendering {dataset_config.num_examples} examples into {out / 'data'}")
    render_dataset(dataset_config, out / "data", workers=workers, progress=progress)
    for name in config.extra_tests:
        extra_test = load_dataset_config(config.extra_test_dataset(name))
        folder = out / f"data-{name}"
        log(f"[sfd] rendering test set {name} ({extra_test.num_examples} examples) into {folder}")
        render_dataset(extra_test, folder, workers=workers, progress=progress)

    units = _training_units(out, config, progress=False) + _eval_units(out, config)
    markers = run_units(units, progress=progress, desc="sfd", log=log)
    _test_set.cache_clear()

    all_rows = [read_unit(u.marker)["result"] for u in units if u.marker.parent.parent.name == "eval"]
    rows = [r for r in all_rows if r["test_set"] == IN_DOMAIN]
    budgets = list(config.budgets)
    summary = _summary(rows, budgets)
    columns = ["method", "budget", "n", "MAE ± std", "median_deg", "acc5", "acc10"]
    parts = [
        _learned_vs_classic(rows, IN_DOMAIN),
        _reductions(summary, budgets),
        _band_table(rows, budgets),
        _pretraining_table(out, config),
    ]
    for name in config.extra_tests:
        parts.append(_test_set_section([r for r in all_rows if r["test_set"] == name], budgets, name))
    extra = "\n".join(part for part in parts if part)
    metadata = {"config": config.to_dict(), "units": unit_timings(markers)}
    title = f"SFD experiment ({config.scale}): DoA on the fixed test set, azimuth errors in degrees"
    paths: dict[str, Any] = dict(
        write_results(
            out,
            all_rows,
            summary,
            title=title,
            summary_columns=columns,
            extra_markdown=extra,
            metadata=metadata,
        )
    )
    from spatialrep.experiments.sfd_plots import plot_mae_vs_labels, plot_mae_vs_snr

    paths["mae_vs_snr"] = plot_mae_vs_snr(rows, budgets, out / "mae_vs_snr.png")
    paths["mae_vs_labels"] = plot_mae_vs_labels(summary, config.budgets, out / "mae_vs_labels.png")
    log(paths["markdown"].read_text(encoding="utf-8"))

    test_rows = ManifestDataset(out / "data", split="test", signals=("noisy",)).rows
    return ExperimentResult(
        rows=all_rows,
        summary=summary,
        paths=paths,
        try_model=_headline_model(out, config),
        try_file=out / "data" / test_rows[0]["noisy_path"],
    )


def _headline_model(out: Path, config: SfdExperimentConfig) -> Path | None:
    """The model to try ``localize`` with: SFD with GCC-PHAT target (else the first learned one), largest
    budget, first seed."""
    methods = [m for m, _, _, _ in _learned_methods(config)]
    if not methods or not config.budgets:
        return None
    method = "sfd-gcc_phat" if "sfd-gcc_phat" in methods else methods[0]
    return out / "finetune" / method / list(config.budgets)[-1] / f"seed{config.seeds[0]}"


# ------------------------------------------------------------------------------------ benchmark entries


def _sfd_section(
    settings: Mapping[str, Any], dataset: Mapping[str, Any], seed: int = 0
) -> SfdExperimentConfig:
    """A method's recipe section as an :class:`SfdExperimentConfig` over the benchmark's dataset."""
    section = {key: value for key, value in settings.items() if key != "target"}
    mapping = {"scale": "benchmark", "dataset": dict(dataset), "seeds": [seed], **section}
    config: SfdExperimentConfig = from_dict(SfdExperimentConfig, mapping, "benchmark methods section")
    if "target" in settings:
        config.sfd_config("stft", str(settings["target"]))
    return config


def _check_sfd(settings: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
    _sfd_section(settings, dataset)


def _benchmark_config(training: BenchmarkTraining) -> SfdExperimentConfig:
    return _sfd_section(training.settings, training.dataset, training.seed)


@register_benchmark_entry("sfd", task="binaural", check=_check_sfd)
def benchmark_sfd(training: BenchmarkTraining) -> list[BenchmarkModel]:
    """SFD for the benchmark: pretrain on ``target`` (recipe key; default ``gcc_phat:instance``, our best in
    docs/sfd.md), then fine-tune on every training label."""
    config = _benchmark_config(training)
    target = str(training.settings.get("target", "gcc_phat:instance"))
    pretrained = pretrain(
        training.data,
        training.out / "pretrain",
        config.sfd_config("stft", target),
        config.train_config("pretrain", training.seed),
        progress=training.progress,
    )
    trained = finetune(
        training.data,
        training.out / "finetune",
        config.sfd_config("stft", target),
        config.train_config("finetune", training.seed),
        init_from=pretrained.fit.last_checkpoint,
        options=config.finetune_options,
        progress=training.progress,
    )
    return [BenchmarkModel(_method_name(target), trained.fit.best_checkpoint)]


@register_benchmark_entry("gccphat-dnn", task="binaural", check=_check_sfd)
def benchmark_gccphat_dnn(training: BenchmarkTraining) -> list[BenchmarkModel]:
    """The supervised GCCPHAT-DNN of the SFD paper (our strongest learned localizer in docs/sfd.md)."""
    config = _benchmark_config(training)
    trained = finetune(
        training.data,
        training.out / "finetune",
        config.sfd_config("gcc_phat", "gcc_phat"),
        config.train_config("finetune", training.seed),
        progress=training.progress,
    )
    return [BenchmarkModel("gccphat-dnn", trained.fit.best_checkpoint)]
