"""The MC-SimCLR experiment: pretraining variants (every augmentation, none, one left out at a time), linear
probes at every label budget x seed, fine-tuning, the baselines (random-init probe, feature probe, supervised
from scratch, SRP-PHAT and MUSIC) and the trivial floors, on one fixed test split (``spatialrep experiment
mcsimclr``; recipes in ``spatialrep/recipes/mcsimclr/``; see ``docs/mcsimclr.md``).

Output folder layout (every file written atomically; a rerun skips finished units, so a killed run resumes)::

    experiment.json, recipe.yaml             the configuration (a rerun with another one is refused)
    data/                                    the rendered dataset (resumable itself)
    pretrain/<variant>/seed<k>/              pretraining runs (``spatialrep.train.fit`` layout) + done.json
    probe/<method>/<budget>/seed<k>/         linear probes: heads/ (the fit), model/ (the assembled model)
    finetune/<method>/<budget>/seed<k>/      fine-tuning and the supervised baseline
    eval/<method>__<budget>__seed<k>.json    test predictions and metrics of one model (a unit)
    eval/<name>.json                         the same for a classic localizer or a trivial floor
    embedding/test_full.npz                  the full pretrained encoder's test embeddings (for the PCA plot)
    results.csv / results.json / results.md, lp_ft.png, label_curve.png, ablation.png, embedding_pca.png
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialrep.data.datasets import ManifestDataset
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.evaluate.azimuth_grid import AzimuthGrid
from spatialrep.evaluate.floors import azimuth_floors
from spatialrep.experiments.mcsimclr_config import ALL_LABELS, McSimclrExperimentConfig
from spatialrep.experiments.mcsimclr_report import SUMMARY_COLUMNS, comparisons, summarize
from spatialrep.experiments.report import localization_row, write_results
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
from spatialrep.io.arrays import load_npz, save_npz
from spatialrep.methods.base import Localizer, localize_batches
from spatialrep.methods.classic import classic_localizer
from spatialrep.methods.mcsimclr import (
    McSimclrFeatureProbe,
    McSimclrModel,
    McSimclrPretrainer,
    dataset_classes,
    finetune,
    linear_probe,
    load_mcsimclr,
    pretrain,
    split_embeddings,
)

__all__ = ["learned_methods", "run_mcsimclr_experiment"]

Log = Callable[[str], None]
FLOOR_GRID = AzimuthGrid(5.0, "full")
"""The azimuth classes of the class-prior floor (the array hears the full circle)."""


class _TestSet:
    """The test split read once: audio ``(n, C, T)``, azimuth (radians), class names, sample rate."""

    def __init__(self, data: Path) -> None:
        dataset = ManifestDataset(data, split="test", signals=("noisy",))
        items = [dataset[i] for i in range(len(dataset))]
        self.rows = dataset.rows
        self.audio = torch.stack([item["noisy"] for item in items])
        self.azimuth = np.radians([float(row["azimuth_deg"][0]) for row in self.rows])
        self.classes = [str(row["class"][0]) for row in self.rows]
        self.sample_rate = int(self.rows[0]["sample_rate"])


@functools.lru_cache(maxsize=1)
def _test_set(data: Path) -> _TestSet:
    return _TestSet(data)


def learned_methods(config: McSimclrExperimentConfig) -> list[tuple[str, str, str | None]]:
    """``(method, kind, pretraining variant or None)`` of every trained model; ``kind`` is ``probe``,
    ``feature-probe`` or ``finetune``."""
    methods: list[tuple[str, str, str | None]] = [(f"lp-{v}", "probe", v) for v in config.pretrained]
    if "random-init" in config.baselines:
        methods.append(("lp-random-init", "probe", None))
    if "features" in config.baselines:
        methods.append(("lp-features", "feature-probe", None))
    methods += [(f"ft-{v}", "finetune", v) for v in config.finetuned]
    if "scratch" in config.baselines:
        methods.append(("scratch", "finetune", None))
    return methods


def _pretrain_dir(out: Path, config: McSimclrExperimentConfig, variant: str, seed: int) -> Path:
    run_seed = seed if config.pretrain_per_seed else config.seeds[0]
    return out / "pretrain" / variant / f"seed{run_seed}"


def _model_dir(out: Path, method: str, kind: str, budget: str, seed: int) -> Path:
    stage = "finetune" if kind == "finetune" else "probe"
    return out / stage / method / budget / f"seed{seed}"


def _embedding_cache(
    out: Path, config: McSimclrExperimentConfig, method: str, variant: str | None, seed: int
) -> Path:
    """Where a probe's frozen embeddings are kept: one folder per encoder, shared by budgets (and seeds)."""
    if variant is not None:
        return _pretrain_dir(out, config, variant, seed) / "embeddings"
    if method == "lp-features":
        return out / "probe" / method / "embeddings"
    return out / "probe" / method / "embeddings" / f"seed{seed}"  # a random encoder per seed


def _training_units(out: Path, config: McSimclrExperimentConfig, classes: list[str]) -> list[Unit]:
    data = out / "data"
    units: list[Unit] = []
    seeds = config.seeds if config.pretrain_per_seed else config.seeds[:1]
    for variant in config.pretrained:
        for seed in seeds:
            run_dir = _pretrain_dir(out, config, variant, seed)

            def do_pretrain(
                run_dir: Path = run_dir, variant: str = variant, seed: int = seed
            ) -> dict[str, Any]:
                trained = pretrain(
                    data, run_dir, config.variant_config(variant), config.train_config("pretrain", seed)
                )
                return {
                    "global_step": trained.fit.global_step,
                    "val_loss": trained.fit.metrics.get("val/loss"),
                }

            units.append(Unit(f"pretrain {variant} seed {seed}", run_dir / "done.json", do_pretrain))

    for method, kind, source in learned_methods(config):
        for budget in config.budgets:
            for seed in config.seeds:
                run_dir = _model_dir(out, method, kind, budget, seed)
                # the last pretraining step, not the lowest validation NT-Xent: every variant equally trained
                # (un-augmented validation views favour the variants that train on such views)
                init = _pretrain_dir(out, config, source, seed) / "last" if source is not None else None
                model = config.variant_config(source) if source is not None else config.model
                cache = _embedding_cache(out, config, method, source, seed)

                def do_train(
                    run_dir: Path = run_dir,
                    kind: str = kind,
                    init: Path | None = init,
                    model: Any = model,
                    budget: str = budget,
                    seed: int = seed,
                    cache: Path = cache,
                ) -> dict[str, Any]:
                    labelled = config.budget_name(budget)
                    if kind == "finetune":
                        trained = finetune(
                            data, run_dir, config.train_config("finetune", seed), init_from=init,
                            config=model, budget=labelled, class_names=classes,
                            options=config.finetune_options,
                        )  # fmt: skip
                    else:
                        trained = linear_probe(
                            data, run_dir, config.train_config("probe", seed), init_from=init, config=model,
                            source="features" if kind == "feature-probe" else "encoder", budget=labelled,
                            class_names=classes, azimuth_weight=config.finetune_options.azimuth_weight,
                            embedding_cache=cache,
                        )  # fmt: skip
                    return {"global_step": trained.fit.global_step, "checkpoint": str(trained.checkpoint)}

                name = f"train {method} {budget} seed {seed}"
                units.append(Unit(name, run_dir / "done.json", do_train))
    return units


def _predict(model: Localizer, test: _TestSet, batch_size: int) -> tuple[np.ndarray, list[str] | None]:
    """Azimuths (radians) and, for models that classify, the predicted class names of the test set."""
    batches = (test.audio[start : start + batch_size] for start in range(0, len(test.rows), batch_size))
    return localize_batches(model, batches, test.sample_rate)


def _row(test: _TestSet, azimuth: np.ndarray, classes: list[str] | None, **keys: Any) -> dict[str, Any]:
    accuracy = (
        float(np.mean([p == t for p, t in zip(classes, test.classes, strict=True)])) if classes else None
    )
    row = localization_row(azimuth, test.azimuth, predictions=True, accuracy=accuracy, **keys)
    if classes is not None:
        row["pred_class"] = classes
    return row


def _eval_units(out: Path, config: McSimclrExperimentConfig) -> list[Unit]:
    data = out / "data"
    folder = out / "eval"
    units: list[Unit] = []

    def learned(model_dir: Path, cache: Path | None, **keys: Any) -> dict[str, Any]:
        test = _test_set(data)
        model = load_mcsimclr(model_dir)
        if not isinstance(model, McSimclrModel | McSimclrFeatureProbe):
            raise ValueError(f"{model_dir} holds a {type(model).__name__}, which does not localize")
        if cache is None:
            return _row(test, *_predict(model, test, config.eval_batch_size), **keys)
        # A probe's frozen encoder embeds the test split once for all its heads (the same eval-mode forward
        # pass as localize, which goes through directions_of_embeddings too).
        embedded = split_embeddings(model, data, "test", cache=cache, batch_size=config.eval_batch_size)
        if embedded.ids != [str(row["id"]) for row in test.rows]:
            raise ValueError(f"cached test embeddings in {cache} are not of this test split; delete them")
        found = model.directions_of_embeddings(embedded.embedding)
        return _row(test, found.azimuth, [str(found.best_class(i)) for i in range(len(found))], **keys)

    def classic(name: str) -> dict[str, Any]:
        from spatialrep.simulate.receiver_factory import make_receiver

        test = _test_set(data)
        scene = load_dataset_config(dict(config.dataset)).scene
        localizer = classic_localizer(name, make_receiver(scene.receiver, test.sample_rate))
        azimuth, _ = _predict(localizer, test, config.eval_batch_size)
        return _row(test, azimuth, None, method=name, budget="none", seed=None)

    def floor(name: str) -> dict[str, Any]:
        test = _test_set(data)
        train = ManifestDataset(data, split="train", signals=(), check_files=False).rows
        train_azimuth = np.radians([float(row["azimuth_deg"][0]) for row in train])
        azimuth = azimuth_floors(train_azimuth, FLOOR_GRID, len(test.rows))[name]
        labels = [str(row["class"][0]) for row in train]
        majority = max(sorted(set(labels)), key=labels.count)
        classes = [majority] * len(test.rows) if name == "class-prior" else None
        return _row(test, azimuth, classes, method=name, budget="floor", seed=None)

    for method, kind, variant in learned_methods(config):
        for budget in config.budgets:
            for seed in config.seeds:
                model_dir = _model_dir(out, method, kind, budget, seed)
                cache = None if kind == "finetune" else _embedding_cache(out, config, method, variant, seed)
                run = functools.partial(learned, model_dir, cache, method=method, budget=budget, seed=seed)
                name = f"evaluate {method} {budget} seed {seed}"
                units.append(Unit(name, folder / f"{method}__{budget}__seed{seed}.json", run))
    for name in config.classic:
        units.append(Unit(f"evaluate {name}", folder / f"{name}.json", functools.partial(classic, name)))
    for name in ("class-prior", "always-0°"):
        marker = folder / f"{name.replace('°', '')}.json"
        units.append(Unit(f"evaluate {name}", marker, functools.partial(floor, name)))
    return units


def _embedding_unit(out: Path, config: McSimclrExperimentConfig, classes: list[str]) -> Unit:
    target = out / "embedding" / "test_full.npz"

    @torch.no_grad()
    def run() -> dict[str, Any]:
        test = _test_set(out / "data")
        pretrainer = load_mcsimclr(_pretrain_dir(out, config, "full", config.seeds[0]) / "last")
        assert isinstance(pretrainer, McSimclrPretrainer)
        chunks = [
            pretrainer.embed_maps(pretrainer.frontend(test.audio[s : s + config.eval_batch_size]))
            for s in range(0, len(test.rows), config.eval_batch_size)
        ]
        index = np.array([classes.index(c) for c in test.classes])
        save_npz(
            target, {"embedding": torch.cat(chunks).double().numpy(), "azimuth": test.azimuth, "class": index}
        )
        return {"path": str(target)}

    return Unit("embed the test split (full)", out / "embedding" / "done.json", run)


def _hours(out: Path, config: McSimclrExperimentConfig) -> dict[str, float]:
    """Labelled hours of every budget (``all``: the training split)."""
    budgets = {
        name: float(seconds) / 3600.0 for name, seconds in dict(config.dataset.get("budgets", {})).items()
    }
    if config.all_labels:
        train = ManifestDataset(out / "data", split="train", signals=(), check_files=False).rows
        budgets[ALL_LABELS] = sum(float(row["duration_s"]) for row in train) / 3600.0
    return {name: budgets[name] for name in config.budgets}


@register_experiment(
    "mcsimclr",
    McSimclrExperimentConfig,
    "MC-SimCLR pretraining variants x label budgets x seeds: linear probes, fine-tuning, baselines, floors",
)
def run_mcsimclr_experiment(
    config: McSimclrExperimentConfig,
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = True,
    log: Log = print,
) -> ExperimentResult:
    """Run (or resume) the MC-SimCLR experiment and write its tables and plots.

    Call it through :func:`spatialrep.experiments.runner.run_experiment` (which claims the folder and saves
    the recipe).

    Args:
        config: the resolved recipe.
        out_dir: the experiment folder (see the module docstring).
        workers: rendering processes (default: every core).
        progress: progress bars (rendering, units).
        log: where the status lines and the final table go.
    """
    return _run(config, Path(out_dir), workers, progress, log)


def _run(
    config: McSimclrExperimentConfig, out: Path, workers: int | None, progress: bool, log: Log
) -> ExperimentResult:
    dataset_config = load_dataset_config(dict(config.dataset))
    log(f"[mcsimclr] rendering {dataset_config.num_examples} examples into {out / 'data'}")
    render_dataset(dataset_config, out / "data", workers=workers, progress=progress)
    classes = dataset_classes(out / "data")
    units = [*_training_units(out, config, classes), _embedding_unit(out, config, classes)]
    units += _eval_units(out, config)
    markers = run_units(units, progress=progress, desc="mcsimclr", log=log)
    _test_set.cache_clear()

    rows = [read_unit(u.marker)["result"] for u in units if u.marker.parent.name == "eval"]
    hours = _hours(out, config)
    summary = summarize(rows, config.budgets)
    extra = comparisons(summary, config.budgets, hours)
    metadata = {
        "config": config.to_dict(),
        "classes": classes,
        "hours": hours,
        "units": unit_timings(markers),
    }
    title = (
        f"MC-SimCLR experiment ({config.scale}): sound class accuracy and azimuth error (degrees) on the "
        "fixed test split, mean ± std over seeds"
    )
    paths: dict[str, Any] = dict(
        write_results(
            out, rows, summary, title=title, summary_columns=SUMMARY_COLUMNS, extra_markdown=extra,
            metadata=metadata,
        )
    )  # fmt: skip
    from spatialrep.experiments.mcsimclr_plots import (
        plot_ablation,
        plot_embedding_pca,
        plot_label_curve,
        plot_lp_ft,
    )

    embedding = load_npz(out / "embedding" / "test_full.npz")
    paths["lp_ft"] = plot_lp_ft(summary, config.budgets, out / "lp_ft.png")
    paths["label_curve"] = plot_label_curve(summary, hours, out / "label_curve.png")
    paths["ablation"] = plot_ablation(summary, config.budgets, out / "ablation.png")
    paths["embedding_pca"] = plot_embedding_pca(embedding, classes, out / "embedding_pca.png")
    log(paths["markdown"].read_text(encoding="utf-8"))
    test_rows = ManifestDataset(out / "data", split="test", signals=("noisy",)).rows
    return ExperimentResult(
        rows=rows,
        summary=summary,
        paths=paths,
        try_model=_headline_model(out, config),
        try_file=out / "data" / test_rows[0]["noisy_path"],
    )


def _headline_model(out: Path, config: McSimclrExperimentConfig) -> Path | None:
    """The model to try ``localize`` with: the fine-tuned full model (else the full probe), largest budget."""
    budget, seed = config.budgets[-1], config.seeds[0]
    if "full" in config.finetuned:
        return _model_dir(out, "ft-full", "finetune", budget, seed)
    return _model_dir(out, "lp-full", "probe", budget, seed) / "model"


# ------------------------------------------------------------------------------------ benchmark entries


def _mcsimclr_section(
    settings: Mapping[str, Any], dataset: Mapping[str, Any], seed: int = 0
) -> McSimclrExperimentConfig:
    from spatialrep.config import from_dict

    mapping = {"scale": "benchmark", "dataset": dict(dataset), "seeds": [seed], **settings}
    config: McSimclrExperimentConfig = from_dict(McSimclrExperimentConfig, mapping, "methods.mcsimclr")
    return config


def _check_mcsimclr(settings: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
    _mcsimclr_section(settings, dataset)


@register_benchmark_entry("mcsimclr", task="array", check=_check_mcsimclr)
def benchmark_mcsimclr(training: BenchmarkTraining) -> list[BenchmarkModel]:
    """MC-SimCLR for the benchmark: NT-Xent pretraining with every augmentation, then fine-tuning on every
    training label. Recipe keys: those of :class:`McSimclrExperimentConfig` (``model``, ``pretrain``,
    ``finetune``, ``finetune_options``, ...)."""
    config = _mcsimclr_section(training.settings, training.dataset, training.seed)
    model = config.variant_config("full")
    pretrained = pretrain(
        training.data,
        training.out / "pretrain",
        model,
        config.train_config("pretrain", training.seed),
        progress=training.progress,
    )
    trained = finetune(
        training.data,
        training.out / "finetune",
        config.train_config("finetune", training.seed),
        init_from=pretrained.fit.last_checkpoint,
        config=model,
        options=config.finetune_options,
        progress=training.progress,
    )
    return [BenchmarkModel("mcsimclr", trained.fit.best_checkpoint)]
