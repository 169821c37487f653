"""The SQM-BS experiment: train the variants, evaluate every metric on seen and unseen sets, enhancement.

``spatialrep experiment sqm --scale tiny|small|paper`` (recipes in ``spatialrep/recipes/sqm/``; see
``docs/sqm.md``) trains the SQM-BS variants (triplet, +DoA, +decoder, combined; the DoA-only stand-ins for
DPLM / SAQAM; optionally the 2-channel ablation) on on-the-fly triplets (:mod:`spatialrep.data.sqm_pairs`),
then evaluates each as a metric (Eq. 2; ``combined`` also by its embedding) next to the baselines (binaural
cue distance, L1, multi-resolution STFT, an SFD embedding distance when a checkpoint is given) and a random
floor, on the ``test`` split (seen heads, rooms and voices; new utterances) and the ``unseen`` split:

* DoA RMSE (azimuth wrapped, elevation) with floors (always front, a random grid direction) and R² of the
  elevation against the mean predictor;
* monotonicity: Spearman SC of D against Δaz (KEMAR, or the first unseen head) and Δel, content not matched;
* content invariance: common area CA of D over same-location / both-differ pairs;
* retrieval MP@K; degradation sweeps (Spearman of D against severity per kind); a 2AFC proxy;
* enhancement (``enhance``): an enhancer trained with L1, MR-STFT, L1 + λ·SQM and SQM only, scored by SI-SDR,
  L2, MR-STFT, cue errors and SQM's D.

Output folder layout (a rerun skips finished units, so a killed run resumes; training resumes mid-run)::

    experiment.json, recipe.yaml        the configuration
    runs/<variant>/                     training runs (``spatialrep.train.fit`` layout) + done.json
    enhance/<loss>/                     enhancer runs + done.json
    eval/<split>.json, eval/<split>.npz evaluation of every metric on one split (a unit), plot data
    eval/enhance.json                   the enhancement comparison
    results.csv / results.json / results.md, d_vs_delta.png, ca_hist.png, severity.png, precision.png,
    embedding_pca.png, enhancement_cues.png
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from spatialrep import seeding
from spatialrep.data.sqm_pairs import ClipDataset, PairDataset, SqmDataConfig, SqmScenes, TripletDataset
from spatialrep.evaluate.cue_distance import CueDistance, binaural_cues
from spatialrep.evaluate.quality import (
    common_area,
    mean_precision_at_k,
    rmse_deg,
    spearman,
    two_afc,
    two_afc_triplets,
)
from spatialrep.experiments.report import write_results
from spatialrep.experiments.runner import (
    BenchmarkModel,
    BenchmarkTraining,
    ExperimentResult,
    Unit,
    register_benchmark_entry,
    register_experiment,
    run_units,
    unit_timings,
)
from spatialrep.experiments.sqm_config import EvalSizes, SqmExperimentConfig
from spatialrep.experiments.sqm_plots import make_plots
from spatialrep.io.arrays import load_npz, save_npz
from spatialrep.losses.triplet import CosineDistance
from spatialrep.methods.classic import classic_localizer
from spatialrep.methods.enhance import EnhanceDataset, si_sdr, train_enhancer
from spatialrep.methods.registry import load_model
from spatialrep.methods.sqm import SQM_VARIANTS, SpatialQualityMetric, SqmConfig, SqmModel, train_sqm
from spatialrep.methods.sqm_baselines import L1Distance, MultiResolutionStftDistance, SfdEmbeddingDistance
from spatialrep.simulate.hrtf import load_default_hrtf
from spatialrep.train import TrainConfig

__all__ = [
    "AZ_SWEEP_DEG",
    "EL_SWEEP_DEG",
    "PairMetric",
    "SqmPairMetric",
    "baseline_metrics",
    "random_floor",
    "run_sqm_experiment",
    "sweep_pairs",
    "sweep_scores",
]

AZ_SWEEP_DEG = (0.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0)
EL_SWEEP_DEG = (0.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0)
EL_SWEEP_START_DEG = -30.0
# The azimuth sweep starts at the right ear and turns through the front to the left ear, so the lateral angle
# (what interaural cues encode) grows with Δ; a random start would fold back past 90° (front-back mirror).
AZ_SWEEP_START_DEG = -90.0
SPLITS = ("test", "unseen")
SUMMARY_COLUMNS = ("split", "metric", "rmse_az", "rmse_el", "sc_az", "sc_el", "ca", "deg_mean", "two_afc")


# ------------------------------------------------------------------------------------------ metrics


class PairMetric:
    """A distance on ``(B, 3, T)`` clips (left, right, mono): ``pair`` for pairs, ``pairwise`` for a set."""

    def __init__(
        self, name: str, kind: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    ) -> None:
        self.name, self.kind, self.fn = name, kind, fn

    def pair(self, ref: torch.Tensor, test: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.fn(ref, test).double().cpu().numpy()

    def pairwise(self, clips: torch.Tensor, batch: int) -> np.ndarray:
        n = clips.shape[0]
        out = np.zeros((n, n))
        for i in range(n):
            for start in range(0, n, batch):
                block = clips[start : start + batch]
                out[i, start : start + batch] = self.pair(clips[i : i + 1].expand_as(block), block)
        return out


class SqmPairMetric(PairMetric):
    """An SQM-BS model as a :class:`SpatialQualityMetric` (maps computed once per clip in ``pairwise``)."""

    def __init__(self, name: str, model: SqmModel, mode: str) -> None:
        self.metric = SpatialQualityMetric(model, mode)
        super().__init__(name, "learned", lambda r, t: self.metric(r[:, :2], t[:, :2], r[:, 2], t[:, 2]))

    def _inputs(self, clips: torch.Tensor) -> torch.Tensor:
        return self.metric.model.prepare(clips[:, :2], clips[:, 2], "clips", warn=False)

    def pairwise(self, clips: torch.Tensor, batch: int) -> np.ndarray:
        model = self.metric.model
        with torch.no_grad(), torch.backends.cudnn.flags(enabled=False):
            x = self._inputs(clips)
            if self.metric.mode == "embedding":
                emb = torch.cat([model(x[s : s + batch])["embedding"] for s in range(0, len(x), batch)])
                d = CosineDistance().pairwise(emb)
                return d.double().numpy()
            parts = [model.feature_maps(x[s : s + batch]) for s in range(0, len(x), batch)]
            maps = [torch.cat(layer) for layer in zip(*parts, strict=True)]
            n = len(x)
            out = np.zeros((n, n))
            for i in range(n):
                total = torch.zeros(n, dtype=torch.float64)
                for layer in maps:
                    total += (layer[i : i + 1] - layer).abs().flatten(1).mean(dim=1).double()
                out[i] = total.numpy()
            return out

    def embeddings(self, clips: torch.Tensor, batch: int) -> np.ndarray:
        model = self.metric.model
        with torch.no_grad(), torch.backends.cudnn.flags(enabled=False):
            x = self._inputs(clips)
            return torch.cat([model(x[s : s + batch])["embedding"] for s in range(0, len(x), batch)]).numpy()


class CuePairMetric(PairMetric):
    """:class:`CueDistance` with cues computed once per clip for ``pairwise``."""

    def __init__(self, cue: CueDistance) -> None:
        self.cue = cue
        super().__init__("cue", "baseline", lambda r, t: cue(r[:, :2], t[:, :2]))

    def pairwise(self, clips: torch.Tensor, batch: int) -> np.ndarray:
        cues = binaural_cues(clips[:, :2].double(), self.cue.sample_rate).numpy()
        scaled = cues / np.asarray(self.cue.scales)
        return np.abs(scaled[:, None] - scaled[None]).sum(axis=-1)


def _random_floor(ref: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    # A metric that ignores its inputs but is exactly 0 on identical pairs (as every metric here).
    keys = [int(k) for k in (ref[:, 0, :8].abs().sum(dim=1) * 1e6).long()]
    values = torch.tensor(
        [
            seeding.rng(0, "random_floor", k, int(test[i, 0, :8].abs().sum() * 1e6)).uniform()
            for i, k in enumerate(keys)
        ]
    )
    same = (ref == test).flatten(1).all(dim=1)
    return torch.where(same, torch.zeros_like(values), values)


def baseline_metrics(train: SqmScenes, names: Sequence[str]) -> list[PairMetric]:
    """The classic distances among ``names`` (``cue``: z-scored by the cues' spread over 16 training triplets;
    ``l1``, ``mrstft``), in that order; other names are left to the caller."""
    rate = train.config.sample_rate
    out: list[PairMetric] = []
    if "cue" in names:
        triplets = TripletDataset(train, 16, name="cue_fit")
        clips = torch.tensor(np.concatenate([triplets[i]["audio"][:, :2] for i in range(16)]))
        out.append(CuePairMetric(CueDistance(rate).fit(clips)))
    if "l1" in names:
        l1 = L1Distance(rate)
        out.append(PairMetric("l1", "baseline", lambda r, t: l1(r[:, :2], t[:, :2])))
    if "mrstft" in names:
        mr = MultiResolutionStftDistance(rate)
        out.append(PairMetric("mrstft", "baseline", lambda r, t: mr(r[:, :2], t[:, :2])))
    return out


def random_floor() -> PairMetric:
    """A distance that ignores its inputs (0 on identical pairs): the floor of every quality score."""
    return PairMetric("random", "floor", _random_floor)


# ------------------------------------------------------------------------------------------ the experiment


class _Context:
    """Scenes, trained models and metrics, built on first use."""

    def __init__(self, cfg: SqmExperimentConfig, out: Path, log: Callable[[str], None]) -> None:
        self.cfg, self.out, self.log = cfg, out, log
        self._scenes: dict[str, SqmScenes] = {}
        self.notes: list[str] = []

    def scenes(self, split: str) -> SqmScenes:
        if split not in self._scenes:
            self._scenes[split] = SqmScenes(self.cfg.data, split)
        return self._scenes[split]

    def run_dir(self, run: str) -> Path:
        return self.out / "runs" / run

    def model(self, run: str) -> SqmModel:
        model = load_model(self.run_dir(run))
        assert isinstance(model, SqmModel)
        return model

    def metrics(self) -> list[PairMetric]:
        cfg = self.cfg
        out: list[PairMetric] = [SqmPairMetric(run, self.model(run), "deep") for run in cfg.runs]
        out.append(SqmPairMetric("combined (embedding)", self.model("combined"), "embedding"))
        out += baseline_metrics(self.scenes("train"), cfg.baselines)
        if "sfd" in cfg.baselines:
            sfd = self._sfd()
            if sfd is not None:
                out.append(PairMetric("sfd-embedding", "baseline", lambda r, t: sfd(r[:, :2], t[:, :2])))
        out.append(random_floor())
        return out

    def _sfd(self) -> SfdEmbeddingDistance | None:
        path = self.cfg.sfd_checkpoint
        if path is None or not Path(path).exists():
            self.notes.append(f"SFD embedding distance skipped: no SFD checkpoint (sfd_checkpoint={path!r}).")
            return None
        metric = SfdEmbeddingDistance(load_model(path))
        if metric.sample_rate != self.cfg.data.sample_rate:
            self.notes.append(
                f"SFD embedding distance skipped: its model is at {metric.sample_rate} Hz, "
                f"the data at {self.cfg.data.sample_rate} Hz."
            )
            return None
        return metric


def _collate_pairs(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "reference": torch.tensor(np.stack([i["reference"] for i in items])),
        "test": torch.tensor(np.stack([i["test"] for i in items])),
        "severity": np.array([i["severity"] for i in items], np.float64),
        "rank": np.array([i["rank"] for i in items], np.int64),
        "item": np.array([i["item"] for i in items], np.int64),
    }


def _pair_distances(
    data: Dataset[Any],
    metrics: Sequence[PairMetric],
    batch: int,
    *,
    seconds: dict[str, float] | None = None,
    digest: Any = None,
) -> dict[str, np.ndarray]:
    """``{metric: D (N,), "severity", "rank", "item"}`` over a pair set, rendering each batch once.

    ``seconds`` accumulates each metric's wall time; ``digest`` (a ``hashlib`` object) is updated with the
    pairs' float32 bytes (the suite's fingerprint)."""
    loader = DataLoader(data, batch_size=batch, shuffle=False, collate_fn=_collate_pairs)
    out: dict[str, list[np.ndarray]] = {m.name: [] for m in metrics}
    out.update(severity=[], rank=[], item=[])
    for b in loader:
        if digest is not None:
            for key in ("reference", "test"):
                digest.update(b[key].float().numpy().tobytes())
        for m in metrics:
            started = time.perf_counter()
            out[m.name].append(m.pair(b["reference"], b["test"]))
            if seconds is not None:
                seconds[m.name] = seconds.get(m.name, 0.0) + time.perf_counter() - started
        for key in ("severity", "rank", "item"):
            out[key].append(b[key])
    return {k: np.concatenate(v) for k, v in out.items()}


def sweep_scores(
    name: str,
    az: Mapping[str, np.ndarray],
    same: Mapping[str, np.ndarray],
    diff: Mapping[str, np.ndarray],
    degradations: Mapping[str, Mapping[str, np.ndarray]],
) -> dict[str, float]:
    """Metric ``name``'s scores from pair distances (:func:`_pair_distances` outputs): ``sc_az`` (Spearman
    against Δazimuth), ``ca`` (common area of same-location vs both-differ pairs), ``deg_<kind>`` and their
    mean ``deg_mean`` (Spearman against severity), and ``two_afc`` (agreement with the severity order of
    pairs of non-zero severities of one reference, over the graded kinds)."""
    row = {
        "sc_az": spearman(az["severity"], az[name]),
        "ca": common_area(same[name], diff[name]),
    }
    for kind, data in degradations.items():
        row[f"deg_{kind}"] = spearman(data["severity"], data[name])
    values = [row[f"deg_{k}"] for k in degradations if not math.isnan(row[f"deg_{k}"])]
    row["deg_mean"] = float(np.mean(values)) if values else math.nan
    agree, total = 0.0, 0
    for kind, data in degradations.items():
        if len(set(data["rank"].tolist())) < 3 or kind == "content":
            continue
        keep = np.flatnonzero(data["rank"] > 0)  # severity 0 is the identical pair: trivial
        pairs = keep[two_afc_triplets(data["item"][keep], data["rank"][keep])]
        if len(pairs):
            agree += two_afc(data[name], data["severity"], pairs) * len(pairs)
            total += len(pairs)
    row["two_afc"] = agree / total if total else math.nan
    return row


def sweep_pairs(
    scenes: SqmScenes,
    sizes: EvalSizes,
    metrics: Sequence[PairMetric],
    batch: int,
    *,
    seconds: dict[str, float] | None = None,
    digest: Any = None,
) -> dict[str, Any]:
    """Every metric's distances on one split's azimuth sweep (``az``), common-area groups (``same``,
    ``diff``) and degradation sweeps (``degradations``: kind -> distances); the hrtf swap is left out
    (``skipped``) where the split has one head."""
    az = _pair_distances(
        PairDataset(
            scenes, "azimuth", sizes.sweep_items, AZ_SWEEP_DEG, content_change=True, head=0,
            azimuth_deg=AZ_SWEEP_START_DEG, elevation_deg=0.0, name="az_sweep",
        ),
        metrics, batch, seconds=seconds, digest=digest,
    )  # fmt: skip
    same = _pair_distances(
        PairDataset(scenes, "content", sizes.ca_items, (1.0,), name="ca_same"),
        metrics, batch, seconds=seconds, digest=digest,
    )  # fmt: skip
    diff = _pair_distances(
        PairDataset(scenes, "relocate", sizes.ca_items, (1.0,), name="ca_diff"),
        metrics, batch, seconds=seconds, digest=digest,
    )  # fmt: skip
    kinds = [k for k in sizes.degradations if not (k == "hrtf" and scenes.num_heads < 2)]
    degradations = {}
    for kind in kinds:
        pairs = PairDataset(scenes, kind, sizes.degradation_items, name=f"deg_{kind}")
        degradations[kind] = _pair_distances(pairs, metrics, batch, seconds=seconds, digest=digest)
    skipped = [k for k in sizes.degradations if k not in kinds]
    return {"az": az, "same": same, "diff": diff, "degradations": degradations, "skipped": skipped}


def _clips(data: ClipDataset) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    items = [data[i] for i in range(len(data))]
    audio = torch.tensor(np.stack([i["audio"] for i in items]))
    labels = {k: np.array([i[k] for i in items]) for k in ("azimuth", "elevation", "group")}
    return audio, labels


def _localization(ctx: _Context, split: str) -> dict[str, dict[str, float]]:
    cfg = ctx.cfg
    rng = seeding.rng(cfg.data.seed, "localization", split)
    n = cfg.eval.localization_clips
    az = rng.choice(cfg.data.azimuths_deg, n)
    el = rng.choice(np.asarray(cfg.data.elevations_deg), n)
    audio, labels = _clips(ClipDataset(ctx.scenes(split), az, el, name="localization"))
    true_az, true_el = np.degrees(labels["azimuth"]), np.degrees(labels["elevation"])
    rows: dict[str, dict[str, float]] = {}

    def row(pred_az: np.ndarray, pred_el: np.ndarray) -> dict[str, float]:
        var = float(np.var(true_el))
        mse = float(np.mean((pred_el - true_el) ** 2))
        return {
            "rmse_az": rmse_deg(pred_az, true_az),
            "rmse_el": rmse_deg(pred_el, true_el, wrap=False),
            "r2_el": 1.0 - mse / var if var > 0 else math.nan,
        }

    for run in cfg.runs:
        model = ctx.model(run)
        if not model.config.localizes:
            continue
        found = [
            model.localize(audio[s : s + cfg.eval_batch_size], model.sample_rate)
            for s in range(0, n, cfg.eval_batch_size)
        ]
        rows[run] = row(
            np.degrees(np.concatenate([f.azimuth for f in found])),
            np.degrees(np.concatenate([f.elevation for f in found if f.elevation is not None])),
        )
    rows["always-front"] = row(np.zeros(n), np.zeros(n))
    rows["mean-predictor"] = row(np.zeros(n), np.full(n, float(np.mean(cfg.data.elevations_deg))))
    floor_rng = seeding.rng(cfg.data.seed, "random_direction_floor", split)
    rows["random-direction"] = row(
        floor_rng.choice(cfg.data.azimuths_deg, n), floor_rng.choice(np.asarray(cfg.data.elevations_deg), n)
    )
    return rows


def _evaluate(ctx: _Context, split: str) -> dict[str, Any]:
    cfg, sizes = ctx.cfg, ctx.cfg.eval
    scenes = ctx.scenes(split)
    metrics = ctx.metrics()
    batch = cfg.eval_batch_size
    names = [m.name for m in metrics]
    swept = sweep_pairs(scenes, sizes, metrics, batch)
    az, same, diff, degradations = swept["az"], swept["same"], swept["diff"], swept["degradations"]
    if swept["skipped"]:
        ctx.notes.append(
            f"{split}: the hrtf swap is skipped (one head in this split; set data.unseen_heads >= 2)."
        )
    el = _pair_distances(
        PairDataset(
            scenes,
            "elevation",
            sizes.sweep_items,
            EL_SWEEP_DEG,
            content_change=True,
            head=0,
            elevation_deg=EL_SWEEP_START_DEG,
            name="el_sweep",
        ),
        metrics,
        batch,
    )
    # retrieval: groups of utterances at distinct directions, one head and room
    rng = seeding.rng(cfg.data.seed, "retrieval", split)
    grid = [(a, e) for a in cfg.data.azimuths_deg for e in cfg.data.elevations_deg]
    chosen = rng.choice(len(grid), size=min(sizes.retrieval_groups, len(grid)), replace=False)
    groups = np.repeat(np.arange(len(chosen)), sizes.retrieval_members)
    r_az = [grid[chosen[g]][0] for g in groups]
    r_el = [grid[chosen[g]][1] for g in groups]
    clips, _ = _clips(
        ClipDataset(scenes, r_az, r_el, groups, head=0, room=scenes.num_rooms - 1, name="retrieval")
    )
    localization = _localization(ctx, split)
    rows = []
    plot: dict[str, np.ndarray] = {
        "az_delta": az["severity"],
        "el_delta": el["severity"],
        "retrieval_groups": groups,
    }
    for m in metrics:
        row: dict[str, Any] = {"split": split, "metric": m.name, "kind": m.kind}
        row.update(localization.get(m.name, {}))
        scores = sweep_scores(m.name, az, same, diff, degradations)
        row["sc_az"] = scores.pop("sc_az")
        row["sc_el"] = spearman(el["severity"], el[m.name])
        row["ca"] = scores.pop("ca")
        distances = m.pairwise(clips, batch)
        for k in sizes.retrieval_k:
            row[f"mp@{k}"] = mean_precision_at_k(distances, groups, k)
        row.update(scores)
        if "content" in degradations:
            row["median_d_content"] = float(
                np.median(degradations["content"][m.name][degradations["content"]["rank"] == 1])
            )
        if "azimuth" in degradations:
            data = degradations["azimuth"]
            row["median_d_az5"] = float(np.median(data[m.name][data["severity"] == 5.0]))
        rows.append(row)
        plot[f"az__{m.name}"] = az[m.name]
        plot[f"el__{m.name}"] = el[m.name]
        plot[f"ca_same__{m.name}"] = same[m.name]
        plot[f"ca_diff__{m.name}"] = diff[m.name]
        for kind, data in degradations.items():
            plot[f"deg_{kind}__{m.name}"] = data[m.name]
            plot[f"deg_{kind}__rank"] = data["rank"]
        if m.name == "combined" and isinstance(m, SqmPairMetric):
            plot["embedding__combined"] = m.embeddings(clips, batch)
    for name in ("always-front", "mean-predictor", "random-direction"):
        rows.append({"split": split, "metric": name, "kind": "floor", **localization[name]})
    save_npz(ctx.out / "eval" / f"{split}.npz", plot)
    return {"rows": rows, "metrics": names, "notes": ctx.notes}


# ------------------------------------------------------------------------------------------ enhancement


def _enhance_run(ctx: _Context, loss: str) -> dict[str, Any]:
    cfg = ctx.cfg.enhance
    assert cfg is not None
    data = EnhanceDataset(ctx.scenes("train"), cfg.train_clips, cfg.snr_db, "train")
    metric = SpatialQualityMetric(ctx.model("combined")) if "sqm" in loss else None
    trained = train_enhancer(cfg, loss, data, ctx.out / "enhance" / loss, metric=metric)
    return {"steps": trained.fit.global_step}


def wrap_angle(radians: np.ndarray) -> np.ndarray:
    return np.asarray((radians + np.pi) % (2 * np.pi) - np.pi)


def _enhance_eval(ctx: _Context) -> dict[str, Any]:
    cfg = ctx.cfg.enhance
    assert cfg is not None
    rate = ctx.cfg.data.sample_rate
    data = EnhanceDataset(ctx.scenes("test"), cfg.test_clips, cfg.snr_db, "test")
    items = [data[i] for i in range(len(data))]
    noisy = torch.tensor(np.stack([i["noisy"] for i in items]))
    clean = torch.tensor(np.stack([i["clean"] for i in items]))
    dry = torch.tensor(np.stack([i["dry"] for i in items]))
    sqm = SpatialQualityMetric(ctx.model("combined"))
    mrstft = MultiResolutionStftDistance(rate)
    clean_cues = binaural_cues(clean.double(), rate).numpy()
    srp = classic_localizer("srp-phat", load_default_hrtf(rate))
    clean_azimuth = srp.localize(clean.double(), rate).azimuth
    rows = []
    outputs = {"noisy": noisy}
    for loss in cfg.losses:
        model = load_model(ctx.out / "enhance" / loss)
        with torch.no_grad():
            outputs[loss] = model(noisy)
    for name, est in outputs.items():
        with torch.no_grad():
            cues = binaural_cues(est.double(), rate).numpy()
            err = np.abs(cues - clean_cues).mean(axis=0)
            rows.append(
                {
                    "system": name,
                    "si_sdr_db": float(si_sdr(est, clean).mean()),
                    "l2": float((est - clean).pow(2).mean()),
                    "mrstft": float(mrstft(clean, est).mean()),
                    "d_ild_db": float(err[0]),
                    "d_itd_us": float(err[1]),
                    "d_iacc": float(err[2]),
                    "sqm_d": float(sqm(clean, est, dry, dry).mean()),
                    # SRP-PHAT direction of the output vs of the clean target (KEMAR tables), degrees
                    "srp_error_deg": float(
                        np.degrees(
                            np.abs(wrap_angle(srp.localize(est.double(), rate).azimuth - clean_azimuth))
                        ).mean()
                    ),
                }
            )
    return {"rows": rows}


# ------------------------------------------------------------------------------------------ entry point


def _train(ctx: _Context, run: str) -> dict[str, Any]:
    cfg = ctx.cfg
    data = TripletDataset(
        ctx.scenes("train"), max(1, (cfg.train.max_steps or 1) * cfg.train.batch_size), name="triplets"
    )
    trained = train_sqm(cfg.variant_config(run), data, cfg.train, ctx.run_dir(run))
    return {
        "steps": trained.fit.global_step,
        "metrics": {k: float(v) for k, v in trained.fit.metrics.items()},
    }


@register_experiment(
    "sqm", SqmExperimentConfig, "SQM-BS: a learned binaural spatial-quality metric vs classic distances"
)
def run_sqm_experiment(
    config: SqmExperimentConfig,
    out_dir: Path,
    *,
    workers: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run (or resume) the experiment; see the module docstring."""
    out = Path(out_dir)
    ctx = _Context(config, out, log)
    units: list[Unit] = []
    for run in config.runs:
        units.append(
            Unit(f"train/{run}", ctx.run_dir(run) / "done.json", functools.partial(_train, ctx, run))
        )
    if config.enhance is not None:
        for loss in config.enhance.losses:
            marker = out / "enhance" / loss / "done.json"
            units.append(Unit(f"enhance/{loss}", marker, functools.partial(_enhance_run, ctx, loss)))
    for split in SPLITS:
        marker = out / "eval" / f"{split}.json"
        units.append(Unit(f"evaluate/{split}", marker, functools.partial(_evaluate, ctx, split)))
    if config.enhance is not None:
        units.append(Unit("evaluate/enhance", out / "eval" / "enhance.json", lambda: _enhance_eval(ctx)))
    markers = run_units(units, progress=progress, desc="sqm", log=log)
    rows = [r for split in SPLITS for r in markers[f"evaluate/{split}"]["result"]["rows"]]
    notes = sorted({n for split in SPLITS for n in markers[f"evaluate/{split}"]["result"].get("notes", [])})
    enhancement = markers["evaluate/enhance"]["result"]["rows"] if config.enhance is not None else []
    columns = list(SUMMARY_COLUMNS) + [f"mp@{k}" for k in config.eval.retrieval_k]
    extra = _extra_markdown(config, rows, enhancement, notes)
    paths: dict[str, Any] = dict(
        write_results(
            out,
            rows,
            rows,
            title=f"SQM-BS ({config.scale})",
            summary_columns=columns,
            extra_markdown=extra,
            metadata={
                "scale": config.scale,
                "timings": unit_timings(markers),
                "enhancement": enhancement,
                "notes": notes,
            },
        )
    )
    paths["plots"] = make_plots(
        out, {split: load_npz(out / "eval" / f"{split}.npz") for split in SPLITS}, enhancement
    )
    if progress:
        log((out / "results.md").read_text(encoding="utf-8"))
    combined = ctx.run_dir("combined")
    command = f"spatialrep score REF.wav TEST.wav --model {combined}   (binaural files; --mono DRY.wav)"
    return ExperimentResult(rows=rows, summary=rows, paths=paths, try_model=combined, try_command=command)


def _extra_markdown(
    config: SqmExperimentConfig,
    rows: list[dict[str, Any]],
    enhancement: list[dict[str, Any]],
    notes: list[str],
) -> str:
    from spatialrep.experiments.report import markdown_table

    kinds = [f"deg_{k}" for k in config.eval.degradations]
    parts = [
        "## Degradation sweeps (Spearman of D against severity)\n",
        markdown_table([r for r in rows if r.get("kind") != "floor"], ["split", "metric", *kinds]),
    ]
    parts.append("\n## Content change vs a 5° azimuth change (median D)\n")
    parts.append(
        markdown_table(
            [r for r in rows if "median_d_content" in r],
            ["split", "metric", "median_d_content", "median_d_az5"],
            ".4f",
        )
    )
    if enhancement:
        parts.append("\n## Enhancement (test split; cue errors against the clean reverberant target)\n")
        parts.append(markdown_table(enhancement, float_format=".3f"))
    parts.append(
        "\nSC: Spearman of D against Δaz / Δel (content not matched). CA: common area of D on same-location "
        "vs both-differ pairs (lower is better). MP@K: retrieval precision. deg_mean: mean Spearman over the "
        "degradation kinds. two_afc: agreement with the severity order over pairs of non-zero severities. "
        "RMSE in degrees (floors: always-front, mean-predictor, random-direction; r2_el in results.csv).\n"
    )
    for note in notes:
        parts.append(f"\n- {note}")
    return "".join(parts) + "\n"


# ------------------------------------------------------------------------------------ benchmark entry


def _sqm_section(
    settings: Mapping[str, Any], dataset: Mapping[str, Any], seed: int = 0
) -> tuple[SqmConfig, TrainConfig]:
    """A benchmark recipe section (``model``, ``variant``: default ``combined``, ``train``) as the model and
    training configuration of one SQM-BS variant on the task's data."""
    from spatialrep.config import ConfigError, from_dict

    section = dict(settings)
    variant = section.pop("variant", "combined")
    if variant not in SQM_VARIANTS:
        raise ConfigError(f"methods.sqm-bs.variant={variant!r}: one of {', '.join(SQM_VARIANTS)}")
    config: SqmExperimentConfig = from_dict(
        SqmExperimentConfig,
        {"scale": "benchmark", "data": dict(dataset), "baselines": [], **section},
        "methods.sqm-bs",
    )
    return config.variant_config(variant), dataclasses.replace(config.train, seed=seed)


def _check_sqm(settings: Mapping[str, Any], dataset: Mapping[str, Any]) -> None:
    _sqm_section(settings, dataset)


@register_benchmark_entry("sqm-bs", task="quality", check=_check_sqm)
def benchmark_sqm(training: BenchmarkTraining) -> list[BenchmarkModel]:
    """SQM-BS (the recipe's ``variant``, default ``combined``) trained on triplets of the task's ``train``
    split; the benchmark scores it with its deep-feature distance."""
    model, train = _sqm_section(training.settings, training.dataset, training.seed)
    scenes = SqmScenes(SqmDataConfig(**training.dataset), "train")
    data = TripletDataset(scenes, max(1, (train.max_steps or 1) * train.batch_size), name="triplets")
    train_sqm(model, data, train, training.out / "model")
    return [BenchmarkModel("sqm-bs", training.out / "model")]
