"""The DSpAST experiment: DSpAST after each curriculum stage, SpatialAST on the same data and curriculum (at
equal steps and at 3× steps, about DSpAST's compute), DSpAST with SpatialAST's four features and without
feature attention, SRP-PHAT over the HRTF grid, and the trivial floors, on one fixed test split of
``binaural-events`` (``spatialrep experiment dspast``; recipes in ``spatialrep/recipes/dspast/``; see
``docs/dspast.md``).

Metrics (percent; MAE in degrees): mAP over every test clip (SED, the union of a clip's classes); ER20, MAE
(great-circle) and DER on the one-source clips (as SpatialAST). ``dist_r2`` is the R² of the predicted
distance (bin centre) against the training-mean predictor.

Output folder layout (every file written atomically; a rerun skips finished units, so a killed run resumes)::

    experiment.json, recipe.yaml        the configuration (a rerun with another one is refused)
    data/                               the rendered dataset (resumable itself)
    features/<stack>/                   the feature cache of every split (one stack for every model)
    train/<model>/stage<k>-<name>/      the curriculum of each model (``spatialrep.train.run_curriculum``)
    eval/<model>__<stage>.json          test predictions and metrics of one model (a unit)
    eval/<name>.json                    the same for SRP-PHAT and the floors
    results.csv / results.json / results.md, attention_weights.png, per_class_ap.png, error_vs_distance.png
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spatialrep.config import ConfigError, check_sections, to_dict
from spatialrep.data.datasets import ManifestDataset
from spatialrep.data.feature_cache import cache_features
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.writer import render_dataset
from spatialrep.evaluate.baselines import SrpPhatLocalizer
from spatialrep.evaluate.events import event_metrics
from spatialrep.experiments.report import localization_row, markdown_table, write_results
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
from spatialrep.experiments.sfd_config import resolve_dataset
from spatialrep.features.frontend import FeatureConfig, feature_preset
from spatialrep.methods.dspast import DSpAST
from spatialrep.methods.spatial_targets import SpatialTargetConfig, SpatialTargets
from spatialrep.methods.spatialast import (
    SpatialAST,
    SpatialAstConfig,
    SpatialAstModelBase,
    StackBaseline,
    StackDataset,
    load_spatial_model,
    train_curriculum,
)
from spatialrep.models import EncoderConfig
from spatialrep.simulate.receiver_factory import make_receiver
from spatialrep.train import Stage

__all__ = [
    "MODELS",
    "DspastExperimentConfig",
    "grid_directions",
    "hrtf_grid_srp_phat",
    "run_dspast_experiment",
]

Log = Callable[[str], None]

MODELS = ("dspast", "spatialast", "spatialast-3x", "dspast-4feat", "dspast-noattn", "crnn")
"""``dspast`` (evaluated after every stage); ``spatialast``: the same curriculum and steps; ``spatialast-3x``:
three times the steps of every stage (about DSpAST's compute); ``dspast-4feat``: DSpAST on SpatialAST's
four maps; ``dspast-noattn``: DSpAST without feature attention; ``crnn``: ``baseline_encoder`` over the
flattened six-map stack with SpatialAST's linear heads and loss, the same curriculum (no masking)."""

FLOORS = ("class-prior", "always-0°", "direction-prior", "median-distance", "mean-distance")
"""``class-prior``: every clip scored with the training class frequencies (SED); ``always-0°``: straight
ahead at 0° elevation; ``direction-prior``: the most frequent training azimuth and elevation bins;
``median-distance``: the bin of the training median distance; ``mean-distance``: the training-mean distance
(the reference of R², which is 0 for it by definition). Training labels of one-source clips only."""

SUMMARY_COLUMNS = (
    "method",
    "stage",
    "mAP",
    "ER20",
    "MAE",
    "DER",
    "az_MAE",
    "dist_r2",
    "params_M",
    "mflops_clip",
    "train_s",
    "clips_sed",
    "clips_doa",
)


def _default_baseline() -> EncoderConfig:
    return EncoderConfig(
        "crnn",
        {"conv_channels": 32, "pool_sizes": [4, 4, 2], "gru_hidden": 64, "gru_layers": 1, "dropout": 0.0},
    )


@dataclasses.dataclass(frozen=True)
class DspastExperimentConfig:
    """Everything the DSpAST experiment needs; the resolved form is saved as ``recipe.yaml``.

    Attributes:
        scale: the recipe's name (informative).
        dataset: a ``binaural-events`` style dataset mapping (``{"preset": NAME, ...}`` allowed) with
            ``class``, ``azimuth_deg``, ``elevation_deg``, ``distance_m`` and ``num_sources`` labels, and a
            ``test`` split.
        stack: the feature preset of the cache (``dspast`` or ``dspast_32k``); every model reads its maps.
        n_mels: mel bands and GCC-PHAT lags of the stack.
        backbone, backbone_overrides, targets, mask_time, mask_freq, max_frames: the
            :class:`~spatialrep.methods.spatialast.SpatialAstConfig` fields shared by every model.
        stages: the curriculum (``loss_weights`` keys ``sed``, ``distance``, ``direction``).
        baseline_encoder: the registry encoder of the ``crnn`` model.
        models: :data:`MODELS` to train (``dspast`` is required).
        classic: ``srp-phat`` (over the HRTF grid), or nothing.
        seed: initial weights and data order.
        eval_batch_size: clips per batch at test time.
        threads: torch's intra-op threads while the experiment runs (``None``: torch's default).
    """

    scale: str
    dataset: Mapping[str, Any]
    stack: str = "dspast"
    n_mels: int = 128
    backbone: str = "ast_tiny"
    backbone_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    targets: SpatialTargetConfig = dataclasses.field(default_factory=SpatialTargetConfig)
    mask_time: float = 0.25
    mask_freq: float = 0.25
    max_frames: int | None = None
    stages: tuple[Stage, ...] = ()
    baseline_encoder: EncoderConfig = dataclasses.field(default_factory=_default_baseline)
    models: tuple[str, ...] = MODELS
    classic: tuple[str, ...] = ("srp-phat",)
    seed: int = 0
    eval_batch_size: int = 32
    threads: int | None = None

    def __post_init__(self) -> None:
        check_sections(self, {"targets": SpatialTargetConfig, "baseline_encoder": EncoderConfig})
        object.__setattr__(
            self, "stages", tuple(s if isinstance(s, Stage) else Stage(**s) for s in self.stages)
        )
        object.__setattr__(self, "dataset", resolve_dataset(self.dataset))
        scene = load_dataset_config(dict(self.dataset)).scene
        if scene.receiver == "" or scene.receiver.startswith("array:"):
            raise ConfigError(
                f"dataset.scene.receiver={scene.receiver!r}: the experiment needs a binaural head"
            )
        if self.stack not in ("dspast", "dspast_32k"):
            raise ConfigError(f"stack={self.stack!r} must be dspast or dspast_32k")
        if self.frontend.sample_rate != scene.sample_rate:
            raise ConfigError(
                f"dataset.scene.sample_rate={scene.sample_rate} differs from the {self.stack} stack's "
                f"{self.frontend.sample_rate} Hz"
            )
        if not self.stages:
            raise ConfigError("stages: give at least one curriculum stage")
        bad = [m for m in self.models if m not in MODELS]
        if bad or len(set(self.models)) != len(self.models) or "dspast" not in self.models:
            raise ConfigError(
                f"models {list(self.models)} must be distinct names from {', '.join(MODELS)} including dspast"
            )
        if any(c != "srp-phat" for c in self.classic):
            raise ConfigError(f"classic {list(self.classic)}: only srp-phat is supported")
        if isinstance(self.eval_batch_size, bool) or self.eval_batch_size < 1:
            raise ConfigError(f"eval_batch_size={self.eval_batch_size!r} must be a positive integer")
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ConfigError(f"threads={self.threads!r} must be a positive integer or null")
        for model in self.models:
            self.model_config(model)  # validates every model's configuration

    @property
    def frontend(self) -> FeatureConfig:
        """The cached stack: ``stack`` with ``n_mels`` bands and as many GCC-PHAT lags."""
        with torch.device("cpu"):
            return feature_preset(self.stack, n_mels=self.n_mels, num_lags=self.n_mels)

    def model_config(self, model: str) -> SpatialAstConfig:
        """The configuration of one of :data:`MODELS`."""
        frontend = self.frontend
        four = dataclasses.replace(frontend, features=("logmel", "ipd_cos_sin_mel"), num_lags=None)
        shared: dict[str, Any] = {
            "backbone": self.backbone,
            "backbone_overrides": dict(self.backbone_overrides),
            "targets": self.targets,
            "mask_time": self.mask_time,
            "mask_freq": self.mask_freq,
            "max_frames": self.max_frames,
        }
        if model == "crnn":
            shared.update(mask_time=0.0, mask_freq=0.0)
            return SpatialAstConfig(frontend=frontend, head="linear", encoder=self.baseline_encoder, **shared)
        if model.startswith("spatialast"):
            return SpatialAstConfig(frontend=four, head="linear", branches=1, attention=False, **shared)
        dspast: dict[str, Any] = {"branches": 3, "head": "adacos"}
        if model == "dspast-4feat":
            return SpatialAstConfig(frontend=four, attention=True, **dspast, **shared)
        return SpatialAstConfig(frontend=frontend, attention=model != "dspast-noattn", **dspast, **shared)

    def model_class(self, model: str) -> type[SpatialAstModelBase]:
        if model == "crnn":
            return StackBaseline
        return SpatialAST if model.startswith("spatialast") else DSpAST

    def model_stages(self, model: str) -> list[Stage]:
        """The curriculum of ``model`` (``spatialast-3x``: every stage three times as long)."""
        if model != "spatialast-3x":
            return list(self.stages)
        longer = []
        for stage in self.stages:
            t = stage.train
            train = dataclasses.replace(
                t,
                max_steps=None if t.max_steps is None else 3 * t.max_steps,
                max_epochs=None if t.max_epochs is None else 3 * t.max_epochs,
                warmup_steps=3 * t.warmup_steps,
            )
            longer.append(dataclasses.replace(stage, train=train))
        return longer

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


# ------------------------------------------------------------------------------------------------ test set


class _TestSet:
    """The test split: stacks, labels, audio (for SRP-PHAT) and targets."""

    def __init__(self, data: Path, cache: Path, targets: SpatialTargets) -> None:
        self.rows = ManifestDataset(data, split="test", signals=(), check_files=False).rows
        self.targets = targets
        encoded = [targets.encode(r) for r in self.rows]
        self.sed = torch.stack([t["sed"] for t in encoded]).numpy()
        self.single = np.array([bool(t["single"]) for t in encoded])
        self.azimuth = np.radians([float(r["azimuth_deg"][0]) for r in self.rows])
        self.elevation = np.radians([float(r["elevation_deg"][0]) for r in self.rows])
        self.distance = np.array([float(r["distance_m"][0]) for r in self.rows])
        self.cache = cache
        self.data = data

    def audio(self) -> tuple[torch.Tensor, int]:
        dataset = ManifestDataset(self.data, split="test", signals=("noisy",))
        return torch.stack([dataset[i]["noisy"] for i in range(len(dataset))]), int(
            self.rows[0]["sample_rate"]
        )


def _metrics(
    test: _TestSet,
    sed_scores: np.ndarray | None,
    azimuth: np.ndarray | None,
    elevation: np.ndarray | None,
    distance_bin: np.ndarray | None,
    train_mean_distance: float,
) -> dict[str, Any]:
    """The summary metrics of one model (``None`` for what it does not predict; :func:`event_metrics`)."""
    bin_m = test.targets.config.distance_bin_m
    return event_metrics(
        sed_labels=test.sed,
        single=test.single,
        true_azimuth=test.azimuth,
        true_elevation=test.elevation,
        true_distance_m=test.distance,
        train_mean_distance_m=train_mean_distance,
        distance_bin_m=bin_m,
        sed_scores=sed_scores,
        azimuth=azimuth,
        elevation=elevation,
        distance_m=None if distance_bin is None else np.asarray(distance_bin, np.float64) * bin_m,
    )


def _row(
    test: _TestSet,
    metrics: Mapping[str, Any],
    azimuth: np.ndarray | None,
    elevation: np.ndarray | None,
    **keys: Any,
) -> dict[str, Any]:
    """``localization_row`` (azimuth and elevation metrics of the one-source clips) plus the summary."""
    one = test.single
    if azimuth is None:
        row: dict[str, Any] = dict(keys)
    else:
        row = localization_row(
            azimuth[one],
            test.azimuth[one],
            pred_elevation=None if elevation is None else elevation[one],
            true_elevation=None if elevation is None else test.elevation[one],
            **keys,
        )
    row.update(metrics)
    return row


def _gflops(model: SpatialAstModelBase, stack: torch.Tensor) -> float:
    """Forward GFLOPs of one clip (eval mode; torch's FLOP counter, a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.logits(model(stack[:1]))
    return counter.get_total_flops() / 1e9


def hrtf_grid_srp_phat(receiver: str, sample_rate: int, n_fft: int) -> SrpPhatLocalizer:
    """SRP-PHAT steered over every direction (azimuth and elevation) of ``receiver``'s HRTF set."""
    head = make_receiver(receiver, sample_rate)
    grid_az, grid_el = head.directions  # type: ignore[attr-defined]
    return SrpPhatLocalizer.from_hrtf(head, grid_az, grid_el, n_fft=n_fft)  # type: ignore[arg-type]


def grid_directions(
    localizer: SrpPhatLocalizer, batches: Iterable[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation (radians) of every clip of ``(batch, 2, time)`` float64 batches."""
    az, el = [], []
    for audio in batches:
        a, e = localizer.localize_direction(audio)
        az.append(a)
        el.append(e)
    return np.concatenate(az), np.concatenate(el)


# ------------------------------------------------------------------------------------------------- units


def _model_dir(out: Path, model: str) -> Path:
    return out / "train" / model


def _units(out: Path, config: DspastExperimentConfig, classes: list[str]) -> list[Unit]:
    data, cache = out / "data", out / "features" / config.stack
    targets = SpatialTargets(classes, config.targets)
    units: list[Unit] = []

    def do_cache() -> dict[str, Any]:
        report = cache_features(data, config.frontend, cache, stack=config.stack, batch_size=16)
        return {"computed": report.computed, "skipped": report.skipped}

    units.append(Unit("feature cache", cache / "done.json", do_cache))

    for model in config.models:

        def do_train(model: str = model) -> dict[str, Any]:
            mconfig = config.model_config(model)
            train_set = StackDataset(cache, data, "train", targets, mconfig.frontend)
            started = time.perf_counter()
            results = train_curriculum(
                config.model_class(model),
                mconfig,
                classes,
                train_set,
                config.model_stages(model),
                _model_dir(out, model),
                seed=config.seed,
            )
            return {
                "stages": [
                    {"stage": r.stage.name, "global_step": r.global_step, "wall_time_s": r.wall_time_s}
                    for r in results
                ],
                "wall_time_s_this_run": time.perf_counter() - started,
            }

        units.append(Unit(f"train {model}", _model_dir(out, model) / "done.json", do_train))

    train_rows = ManifestDataset(data, split="train", signals=(), check_files=False).rows
    train_distance = np.array([float(r["distance_m"][0]) for r in train_rows if int(r["num_sources"]) == 1])
    mean_distance = float(train_distance.mean()) if train_distance.size else 0.0

    @functools.lru_cache(maxsize=1)
    def test_set() -> _TestSet:
        return _TestSet(data, cache, targets)

    def learned(model: str, stage_index: int) -> dict[str, Any]:
        test = test_set()
        stages = config.model_stages(model)
        from spatialrep.train.curriculum import stage_dir

        folder = stage_dir(_model_dir(out, model), stage_index, stages[stage_index])
        net = load_spatial_model(folder / "last")
        dataset = StackDataset(cache, data, "test", targets, net.config.frontend)
        if dataset.cache.ids != [str(r["id"]) for r in test.rows]:
            raise ValueError(f"the feature cache {cache} does not hold the test split in order; delete it")
        parts: dict[str, list[np.ndarray]] = {}
        attention: list[torch.Tensor] = []
        for start in range(0, len(dataset), config.eval_batch_size):
            stack = torch.stack(
                [
                    dataset[i]["features"]
                    for i in range(start, min(len(dataset), start + config.eval_batch_size))
                ]
            )
            for key, value in net.predict_stack(stack).items():
                parts.setdefault(key, []).append(value)
            if net.attention:
                attention.append(net.attention_weights(stack))
        found = {k: np.concatenate(v) for k, v in parts.items()}
        az, el = np.radians(found["azimuth_deg"]), np.radians(found["elevation_deg"])
        metrics = _metrics(test, found["sed"], az, el, found["distance_bin"], mean_distance)
        train_s = sum(
            float(r["wall_time_s"])
            for r in read_unit(_model_dir(out, model) / "done.json")["result"]["stages"][: stage_index + 1]
        )
        metrics.update(
            params_M=sum(p.numel() for p in net.parameters()) / 1e6,
            mflops_clip=1e3 * _gflops(net, dataset[0]["features"][None]),
            train_s=train_s,
        )
        if attention:
            metrics["attention"] = torch.cat(attention).mean(dim=0).tolist()  # (branches, C)
            metrics["attention_channels"] = net.frontend.channel_names
        return _row(
            test, metrics, az, el, method=model, stage=f"{stage_index + 1}-{stages[stage_index].name}"
        )

    def classic(name: str) -> dict[str, Any]:
        test = test_set()
        audio, rate = test.audio()
        scene = load_dataset_config(dict(config.dataset)).scene
        localizer = hrtf_grid_srp_phat(scene.receiver, rate, config.frontend.n_fft)
        batch = config.eval_batch_size
        azimuth, elevation = grid_directions(
            localizer, (audio[s : s + batch].double().numpy() for s in range(0, len(audio), batch))
        )
        metrics = _metrics(test, None, azimuth, elevation, None, mean_distance)
        metrics.update(params_M=0.0, train_s=0.0)
        return _row(test, metrics, azimuth, elevation, method=f"{name} (HRTF grid)", stage="classic")

    def floor(name: str) -> dict[str, Any]:
        test = test_set()
        n = len(test.rows)
        train_targets = [targets.encode(r) for r in train_rows]
        one = [t for t in train_targets if bool(t["single"])]
        frequency = torch.stack([t["sed"] for t in train_targets]).mean(dim=0).numpy()

        def mode(key: str) -> int:
            return int(np.bincount([int(t[key]) for t in one]).argmax())

        sed = np.tile(frequency, (n, 1)) if name == "class-prior" else None
        azimuth = elevation = distance = None
        if name == "direction-prior":
            azimuth = np.full(n, np.radians(float(targets.bin_azimuth_deg(mode("azimuth")))))
            elevation = np.full(n, np.radians(float(targets.bin_elevation_deg(mode("elevation")))))
        elif name == "always-0°":
            azimuth, elevation = np.zeros(n), np.zeros(n)
        elif name == "median-distance":
            distance = np.full(n, float(targets.distance_bin(np.median(train_distance))))
        elif name == "mean-distance":
            distance = np.full(n, float(targets.distance_bin(mean_distance)))
        metrics = _metrics(test, sed, azimuth, elevation, distance, mean_distance)
        if name == "mean-distance":  # its R² is 0 by definition; report it from the mean itself, not the bin
            metrics["dist_r2"] = 0.0
        metrics.update(params_M=0.0, train_s=0.0)
        return _row(test, metrics, azimuth, elevation, method=name, stage="floor")

    for model in config.models:
        stages = config.model_stages(model)
        indices = range(len(stages)) if model == "dspast" else [len(stages) - 1]
        for k in indices:
            marker = out / "eval" / f"{model}__stage{k + 1}.json"
            units.append(
                Unit(f"evaluate {model} stage {k + 1}", marker, functools.partial(learned, model, k))
            )
    for name in config.classic:
        units.append(
            Unit(f"evaluate {name}", out / "eval" / f"{name}.json", functools.partial(classic, name))
        )
    for name in FLOORS:
        marker = out / "eval" / f"{name.replace('°', '')}.json"
        units.append(Unit(f"evaluate {name}", marker, functools.partial(floor, name)))
    return units


PAPER_ANCHORS = (
    ("SpatialAST", 49.90, 24.43, 17.87, 32.50),
    ("DSpAST stage 1", 51.74, 97.59, 85.59, 73.65),
    ("DSpAST stage 2", 51.43, 20.92, 15.31, 29.35),
    ("DSpAST stage 3", 52.66, 20.98, 15.11, 27.18),
    ("DSpAST 4 features", 52.65, 22.40, 16.63, 29.89),
    ("DSpAST no attention", 48.44, 23.01, 17.03, 29.76),
)
"""The paper's Table 2 (AudioSet x SoundSpaces, 355 classes): mAP, ER20, MAE, DER."""


def _claims(rows: list[dict[str, Any]]) -> str:
    """The paper's claims, checked on this run's numbers, and its anchors."""
    finals = {r["method"]: r for r in rows if r["stage"] not in ("floor", "classic")}  # the last stage wins
    lines = ["## Claims checked on this run", ""]
    d, s = finals.get("dspast"), finals.get("spatialast")
    if d is not None and s is not None:
        checks = [
            ("mAP", d["mAP"] >= s["mAP"]),
            ("ER20", d["ER20"] <= s["ER20"]),
            ("MAE", d["MAE"] <= s["MAE"]),
            ("DER", d["DER"] <= s["DER"]),
        ]
        text = ", ".join(f"{m} {'yes' if ok else 'NO'} ({d[m]:.2f} vs {s[m]:.2f})" for m, ok in checks)
        lines.append(f"- DSpAST (last stage) at least as good as SpatialAST at equal steps: {text}.")
    if d is not None and d.get("attention"):
        names = d["attention_channels"]
        sed_weights = d["attention"][0]
        least = names[int(np.argmin(sed_weights))]
        lines.append(
            f"- The SED branch weights GCC-PHAT least: {'yes' if 'gcc' in least else 'NO'} (least: {least}; "
            "weights " + ", ".join(f"{n} {w:.3f}" for n, w in zip(names, sed_weights, strict=True)) + ")."
        )
    lines += ["", "The paper's anchors (Table 2, other data: not comparable in value, only in ordering):", ""]
    anchors = [dict(zip(("model", "mAP", "ER20", "MAE", "DER"), a, strict=True)) for a in PAPER_ANCHORS]
    return "\n".join(lines) + "\n" + markdown_table(anchors)


@register_experiment(
    "dspast",
    DspastExperimentConfig,
    "DSpAST per stage vs SpatialAST (equal steps, 3x steps), ablations, SRP-PHAT, floors: mAP/ER20/MAE/DER",
)
def run_dspast_experiment(
    config: DspastExperimentConfig,
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = True,
    log: Log = print,
) -> ExperimentResult:
    """Run (or resume) the DSpAST experiment and write its tables and plots (see the module docstring).

    Call it through :func:`spatialrep.experiments.runner.run_experiment`.
    """
    out = Path(out_dir)
    dataset_config = load_dataset_config(dict(config.dataset))
    log(f"[dspast] rendering {dataset_config.num_examples} examples into {out / 'data'}")
    render_dataset(dataset_config, out / "data", workers=workers, progress=progress)
    rows_all = ManifestDataset(out / "data", signals=(), check_files=False).rows
    if not any(r["split"] == "test" for r in rows_all):
        raise ValueError(f"dataset {out / 'data'} has no test split")
    classes = sorted({str(c) for r in rows_all for c in r["class"]})
    units = _units(out, config, classes)
    markers = run_units(units, progress=progress, desc="dspast", log=log)

    rows = [read_unit(u.marker)["result"] for u in units if u.marker.parent.name == "eval"]
    summary = [{c: r.get(c) for c in SUMMARY_COLUMNS} for r in rows]
    metadata = {"config": config.to_dict(), "classes": classes, "units": unit_timings(markers)}
    title = (
        f"DSpAST experiment ({config.scale}): mAP, ER20, DER (%) and great-circle MAE (°) on the fixed test "
        "split (ER20 / MAE / DER on its one-source clips)"
    )
    extra = _claims(rows)
    paths: dict[str, Any] = dict(
        write_results(
            out,
            rows,
            summary,
            title=title,
            summary_columns=SUMMARY_COLUMNS,
            extra_markdown=extra,
            metadata=metadata,
        )
    )
    from spatialrep.experiments.dspast_plots import plot_attention, plot_error_vs_distance, plot_per_class_ap

    paths["attention_weights"] = plot_attention(rows, out / "attention_weights.png")
    paths["per_class_ap"] = plot_per_class_ap(rows, classes, out / "per_class_ap.png")
    paths["error_vs_distance"] = plot_error_vs_distance(
        rows, config.targets.distance_bin_m, out / "error_vs_distance.png"
    )
    log(paths["markdown"].read_text(encoding="utf-8"))
    test_rows = [r for r in rows_all if r["split"] == "test"]
    last = len(config.stages)
    from spatialrep.train.curriculum import stage_dir

    model_dir = stage_dir(_model_dir(out, "dspast"), last - 1, config.stages[-1]) / "last"
    return ExperimentResult(
        rows=rows,
        summary=summary,
        paths=paths,
        try_model=model_dir,
        try_file=out / "data" / test_rows[0]["noisy_path"],
    )


# ------------------------------------------------------------------------------------ benchmark entries


def _dspast_section(
    settings: Mapping[str, Any], dataset: Mapping[str, Any], seed: int = 0, model: str = "dspast"
) -> DspastExperimentConfig:
    """A benchmark recipe section as a :class:`DspastExperimentConfig` of ``model`` (no classic rows)."""
    from spatialrep.config import from_dict

    mapping = {
        "scale": "benchmark",
        "dataset": dict(dataset),
        "seed": seed,
        "models": sorted({"dspast", model}),
        "classic": [],
    }
    config: DspastExperimentConfig = from_dict(
        DspastExperimentConfig, {**mapping, **settings}, "methods.dspast"
    )
    return config


def _train_benchmark_model(training: BenchmarkTraining, model: str) -> list[BenchmarkModel]:
    """Train ``model`` (one of :data:`MODELS`) on the benchmark's training folder: its last stage."""
    from spatialrep.train.curriculum import stage_dir

    config = _dspast_section(training.settings, training.dataset, training.seed, model)
    rows = ManifestDataset(training.data, split="train", signals=(), check_files=False).rows
    classes = sorted({str(c) for r in rows for c in r["class"]})
    cache = training.out / "features"
    cache_features(training.data, config.frontend, cache, stack=config.stack, batch_size=16)
    model_config = config.model_config(model)
    train_set = StackDataset(
        cache, training.data, "train", SpatialTargets(classes, config.targets), model_config.frontend
    )
    stages = config.model_stages(model)
    folder = training.out / "model"
    train_curriculum(
        config.model_class(model), model_config, classes, train_set, stages, folder, seed=training.seed
    )
    return [BenchmarkModel(training.method, stage_dir(folder, len(stages) - 1, stages[-1]) / "last")]


def _check(model: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], None]:
    def check(settings: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
        _dspast_section(settings, dataset, model=model)

    return check


# The binaural localization task: DSpAST as a localizer (the direction head of the dominant source).
register_benchmark_entry("dspast", task="binaural", check=_check("dspast"))(
    functools.partial(_train_benchmark_model, model="dspast")
)
# The events task: event classes, distance and direction. ``conformer-events`` is the ``crnn`` slot of
# :data:`MODELS` (``baseline_encoder`` over the flattened stack) with the recipe's encoder, a conformer.
EVENT_ENTRIES = {"dspast-events": "dspast", "spatialast-events": "spatialast", "conformer-events": "crnn"}
for _method, _model in EVENT_ENTRIES.items():
    register_benchmark_entry(_method, task="events", check=_check(_model))(
        functools.partial(_train_benchmark_model, model=_model)
    )
