"""The configuration of the SFD experiment; its scales are recipes in ``spatialrep/recipes/sfd/``.

``tiny`` checks the plumbing in a few minutes on 2 CPU cores (the demo and the tests use it; its numbers are
not meaningful), ``small`` is the CPU reference (about an hour on 2 cores), ``paper`` is the paper-scale
recipe for a GPU (4 s clips, 11 h of audio, 10 min / 1 h / 10 h label budgets, 50k pretraining steps).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping
from typing import Any

import yaml

from spatialrep.config import ConfigError, check_sections, to_dict
from spatialrep.data.augment import NoiseAugmentation
from spatialrep.data.presets import load_dataset_config, preset_path
from spatialrep.features.distillation import NORMALIZATIONS, TARGETS
from spatialrep.features.functional import default_max_lag
from spatialrep.methods.classic import CLASSIC_LOCALIZERS, CLASSIC_VARIANTS
from spatialrep.methods.sfd import FinetuneOptions, SfdConfig
from spatialrep.train import TrainConfig

__all__ = ["SUPERVISED_BASELINES", "SfdExperimentConfig", "parse_target", "resolve_dataset"]

SUPERVISED_BASELINES = ("stft-dnn", "gccphat-dnn")
"""Same encoder, random initialisation, trained on labels only: STFT input / GCC-PHAT input."""


def parse_target(spec: str) -> tuple[str, str]:
    """``"gcc_phat"`` -> ``("gcc_phat", "frame")``; ``"gcc:instance"`` -> ``("gcc", "instance")``.

    Raises:
        ConfigError: an unknown target or normalisation (the valid ones are listed).
    """
    name, _, normalization = spec.partition(":")
    normalization = normalization or "frame"
    if name not in TARGETS or normalization not in NORMALIZATIONS:
        raise ConfigError(
            f"experiment target {spec!r} is not <target>[:<normalization>] with target in "
            f"{', '.join(TARGETS)} and normalization in {', '.join(NORMALIZATIONS)}"
        )
    return name, normalization


def _default_options() -> FinetuneOptions:
    return FinetuneOptions(augment=NoiseAugmentation())


def resolve_dataset(dataset: Mapping[str, Any]) -> dict[str, Any]:
    """A dataset mapping with ``preset: NAME`` expanded: the preset's YAML with the other keys replacing its
    own (``scene`` is merged key by key). A mapping without ``preset`` is returned as it is.

    Raises:
        ValueError: an unknown preset.
    """
    data = dict(dataset)
    preset = data.pop("preset", None)
    if preset is None:
        return data
    base = yaml.safe_load(preset_path(str(preset)).read_text(encoding="utf-8"))
    for key, value in data.items():
        if key == "scene" and isinstance(value, Mapping):
            base["scene"] = {**base.get("scene", {}), **value}
        else:
            base[key] = value
    return dict(base)


def split_sizes(dataset: Mapping[str, Any]) -> dict[str, int]:
    """Examples per split of a dataset mapping (the plan's notes, e.g. shared source units, are left to
    rendering, which gives them once)."""
    from spatialrep.data.splits import plan_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = plan_dataset(load_dataset_config(dict(dataset)))
    return {s.name: s.num_examples for s in plan.splits}


def rerendered_test_split(
    dataset: Mapping[str, Any], name: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The dataset mapping of ``dataset``'s ``test`` split alone, again, with more scene ``overrides``.

    Same seed, so the same scenes (directions, voices, rooms, noise) as the test split except for what
    ``overrides`` changes; only a test split is rendered, no budgets; named ``<dataset name>-<name>``.
    """
    main = load_dataset_config(dict(dataset))
    size = split_sizes(dataset)["test"]
    splits = to_dict(main.splits)
    return {
        **dict(dataset),
        "name": f"{main.name}-{name}",
        "num_examples": size,
        "splits": {
            "train": {"size": 0},
            "val": {"size": 0},
            "test": {"size": size, "overrides": {**splits["test"]["overrides"], **dict(overrides)}},
        },
        "budgets": {},
    }


@dataclasses.dataclass(frozen=True)
class SfdExperimentConfig:
    """Everything the SFD experiment needs; the resolved form is saved as ``recipe.yaml``.

    Attributes:
        scale: the recipe's name (informative).
        dataset: a dataset config mapping (``spatialrep.data`` preset format, single-source scenes), or
            ``{"preset": NAME, ...}`` with changes to a shipped preset (:func:`resolve_dataset`).
        model: the :class:`SfdConfig` shared by every learned model (``frontend.kind`` and the target are
            set per method).
        targets: pretraining targets, each giving a method ``sfd-<target>``; ``<target>:instance`` pretrains
            on per-clip normalised GCC-type targets instead of the causal per-frame ones (method
            ``sfd-<target>-instance``).
        diagnostic_targets: targets that are only pretrained (for the R² table), not fine-tuned.
        seeds: fine-tuning seeds (each learned model is trained once per seed and budget).
        pretrain_per_seed: pretrain once per seed (``True``) or once per target, with seed ``seeds[0]``,
            shared by every fine-tuning seed.
        pretrain: :class:`TrainConfig` of pretraining (``seed`` is set per run).
        finetune: :class:`TrainConfig` of fine-tuning and of the supervised baselines.
        supervised: supervised baselines (:data:`SUPERVISED_BASELINES`).
        classic: classic baselines (names of :data:`~spatialrep.methods.classic.CLASSIC_LOCALIZERS`); by
            default every explicit variant, so the validated default of each family and the others are rows
            of the same table.
        linear_probe: also train a frozen-encoder linear probe of every pretrained model.
        finetune_options: targets, encoder learning rate and noise augmentation of fine-tuning
            (:class:`FinetuneOptions`; the supervised baselines train with the same options).
        lags_from_receiver: set the GCC lag range of targets and inputs from the dataset's receiver (its
            largest interaural delay plus 2 samples) instead of the model section's ``max_lag``.
        extra_tests: more test sets, ``{name: scene overrides}``, e.g. ``{"sphere": {"receiver": "sphere"}}``
            for a head the models never heard: the main test split's scenes (same seed, directions, voices,
            rooms) rendered again with the overrides.
        snr_bands: ``(low, high)`` dB bands of the per-band metrics.
        eval_batch_size: clips per batch at test time.
    """

    scale: str
    dataset: Mapping[str, Any]
    model: SfdConfig = dataclasses.field(default_factory=SfdConfig)
    targets: tuple[str, ...] = TARGETS
    diagnostic_targets: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrain_per_seed: bool = False
    pretrain: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    finetune: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    supervised: tuple[str, ...] = SUPERVISED_BASELINES
    classic: tuple[str, ...] = tuple(CLASSIC_VARIANTS)
    linear_probe: bool = False
    finetune_options: FinetuneOptions = dataclasses.field(default_factory=_default_options)
    lags_from_receiver: bool = True
    extra_tests: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    extra_test_budgets: tuple[str, ...] | None = None
    snr_bands: tuple[tuple[float, float], ...] = ((-20.0, -5.0), (-5.0, 0.0), (0.0, 10.0), (10.0, 30.0))
    eval_batch_size: int = 16

    def __post_init__(self) -> None:
        check_sections(
            self,
            {
                "model": SfdConfig,
                "pretrain": TrainConfig,
                "finetune": TrainConfig,
                "finetune_options": FinetuneOptions,
            },
        )
        object.__setattr__(self, "dataset", resolve_dataset(self.dataset))
        load_dataset_config(dict(self.dataset))  # validates it
        for target in (*self.targets, *self.diagnostic_targets):
            parse_target(target)
        overlap = set(self.targets) & set(self.diagnostic_targets)
        if overlap:
            raise ConfigError(
                f"targets {sorted(overlap)} are listed both as targets and as diagnostic_targets"
            )
        for name, given, valid in (
            ("supervised", self.supervised, SUPERVISED_BASELINES),
            ("classic", self.classic, CLASSIC_LOCALIZERS),
        ):
            bad = [b for b in given if b not in valid]
            if bad:
                raise ConfigError(f"experiment {name} baselines {bad} are not in {', '.join(valid)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"experiment seeds {self.seeds!r} must be a non-empty list without repeats")
        if not (self.targets or self.supervised or self.classic):
            raise ConfigError("the experiment has nothing to run (no target, no baseline)")
        if isinstance(self.eval_batch_size, bool) or self.eval_batch_size < 1:
            raise ConfigError(f"eval_batch_size={self.eval_batch_size!r} must be a positive integer")
        unknown_budgets = set(self.extra_test_budgets or ()) - set(self.budgets)
        if unknown_budgets:
            raise ConfigError(
                f"extra_test_budgets {sorted(unknown_budgets)} are not budgets of the dataset "
                f"({', '.join(self.budgets)})"
            )
        for name, overrides in self.extra_tests.items():
            if not name or not isinstance(overrides, Mapping):
                raise ConfigError(
                    f"extra_tests.{name}: expected a mapping of scene overrides, got {overrides!r}"
                )
            load_dataset_config(self.extra_test_dataset(name))  # validates the overrides

    @functools.cached_property
    def max_lag(self) -> int | None:
        """The lag range from the receiver (``None`` when ``lags_from_receiver`` is off)."""
        if not self.lags_from_receiver:
            return None
        from spatialrep.simulate.receiver_factory import make_receiver

        scene = load_dataset_config(dict(self.dataset)).scene
        return default_max_lag(make_receiver(scene.receiver, scene.sample_rate).max_delay, scene.sample_rate)

    def sfd_config(self, input_kind: str, target: str) -> SfdConfig:
        """The :class:`SfdConfig` of a learned model: ``target`` is ``<name>[:<normalization>]``."""
        name, normalization = parse_target(target)
        lags = {} if self.max_lag is None else {"max_lag": self.max_lag}
        return self.model.replace(
            frontend={"kind": input_kind, **lags},
            target={"name": name, "normalization": normalization, **lags},
        )

    def extra_test_dataset(self, name: str) -> dict[str, Any]:
        """The dataset mapping of extra test set ``name``: the main test split again, with its overrides
        (:func:`rerendered_test_split`)."""
        return rerendered_test_split(self.dataset, name, self.extra_tests[name])

    def train_config(self, stage: str, seed: int) -> TrainConfig:
        """The :class:`TrainConfig` of ``stage`` (``"pretrain"`` or ``"finetune"``) with ``seed``."""
        return dataclasses.replace(self.pretrain if stage == "pretrain" else self.finetune, seed=seed)

    @property
    def budgets(self) -> dict[str, float]:
        """Label budgets (name -> seconds of labelled audio), smallest first."""
        return dict(sorted(dict(self.dataset.get("budgets", {})).items(), key=lambda kv: float(kv[1])))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists)."""
        return to_dict(self)
