"""Dataset configs, presets, split sizes, unit partitions, direction grids, label budgets (no rendering)."""

import math

import pytest

from spatialrep.config import ConfigError
from spatialrep.data.config import DatasetConfig, GridConfig, SplitConfig, SplitsConfig
from spatialrep.data.grid import grid_point_index
from spatialrep.data.presets import list_presets, load_dataset_config, preset_path
from spatialrep.data.splits import partition_units, plan_dataset, select_budgets, split_seed, split_sizes
from spatialrep.simulate.scene_config import SceneConfig

FAMILIES = ("binaural-speech", "binaural-events", "array4-events", "binaural-grid")


def test_every_preset_family_has_a_tiny_variant_and_all_presets_load_and_plan():
    presets = list_presets()
    for family in FAMILIES:
        assert family in presets and f"{family}-tiny" in presets
    for name in presets:
        config = load_dataset_config(name)
        plan = plan_dataset(config)
        assert sum(s.num_examples for s in plan.splits) == config.num_examples
        assert config.signals[0] == "noisy"
        if name.endswith("-tiny"):
            assert config.num_examples <= 32 and config.scene.duration_s <= 1.0


def test_preset_properties_asked_for_by_the_methods():
    speech = load_dataset_config("binaural-speech")
    assert speech.scene.region == "frontal" and speech.scene.rt60_range_s == (0.2, 0.9)
    assert speech.scene.snr_range_db == (-5.0, 20.0) and {"clean_direct", "dry"} <= set(speech.signals)
    assert load_dataset_config("binaural-speech", ["scene.region=horizontal"]).scene.direction_ranges_deg[
        0
    ] == (
        -180.0,
        180.0,
    )
    events = load_dataset_config("binaural-events")
    assert events.scene.source == "events" and events.scene.num_sources == (1, 2)
    assert events.scene.direction_ranges_deg[1] == (-40.0, 90.0)
    assert load_dataset_config("array4-events").scene.receiver == "array:circular4"
    grid = load_dataset_config("binaural-grid")
    assert grid.scene.room_size_min_m == grid.scene.room_size_max_m
    assert grid.scene.rt60_range_s[0] == grid.scene.rt60_range_s[1]
    assert grid.scene.source == "noise:white" and grid.splits.test.overrides["source"] == "speech"
    assert grid.grid.active and len(grid.grid.points()) == 37 * 9
    assert not speech.grid.active


def test_unknown_preset_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown preset 'nope'.*binaural-speech-tiny"):
        preset_path("nope")
    with pytest.raises(ValueError, match="not found"):
        preset_path(tmp_path / "missing.yaml")
    own = tmp_path / "mine.yaml"
    own.write_text(
        "name: mine\nnum_examples: 7\nsplits: {train: {size: 7}, val: {size: 0}, test: {size: 0}}\n"
    )
    assert load_dataset_config(own).num_examples == 7


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"signals": ["noisy", "wet"]}, "unknown signal"),
        ({"signals": []}, "at least one signal"),
        ({"signals": ["noisy", "noisy"]}, "twice"),
        ({"num_examples": 0}, "num_examples"),
        ({"shard_size": 0}, "shard_size"),
        ({"seed": -1}, "seed"),
        ({"audio_format": "mp3"}, "audio_format"),
        ({"name": "a/b"}, "name"),
        ({"budgets": {"1h": -5}}, "budget"),
        ({"unit_partition": {"train": 0.5, "dev": 0.5}}, "unknown split"),
        ({"unit_partition": {"train": 0.5, "test": 0.2}}, "add up to 1"),
        ({"splits": {"train": {"size": 0.5}, "val": {"size": 0.1}, "test": {"size": 0.1}}}, "add up to 1"),
        ({"splits": {"train": {"size": -3}}}, "count"),
        ({"splits": {"train": {"size": 1.5}}}, "fraction"),
        ({"grid": {"azimuth_deg": [0, 90, 0]}}, "step"),
        ({"grid": {"azimuth_deg": [0, 200, 5]}}, "within"),
        ({"grid": {"azimuth_deg": [10, 0, 5]}}, "empty"),
        ({"grid": {"azimuth_deg": [0, 90, 5]}, "scene": {"num_sources": [1, 2]}}, "one target"),
        ({"grid": {"azimuth_deg": [0, 90]}}, "start, stop, step"),
        ({"scene": {"rt60_range_s": [0.9, 0.2]}}, "rt60"),
        ({"colour": 1}, "unknown key"),
    ],
)
def test_invalid_configs_name_the_culprit(data, match):
    with pytest.raises(ConfigError, match=match):
        load_dataset_config(data)


def test_split_sizes_counts_first_then_fractions_by_largest_remainder():
    assert split_sizes(SplitsConfig(), 10) == {"train": 8, "val": 1, "test": 1}
    assert sum(split_sizes(SplitsConfig(), 11).values()) == 11
    fixed_test = SplitsConfig(SplitConfig(0.9), SplitConfig(0.1), SplitConfig(50))
    assert split_sizes(fixed_test, 150) == {"train": 90, "val": 10, "test": 50}
    assert split_sizes(fixed_test, 1050)["test"] == 50
    with pytest.raises(ValueError, match="more than num_examples"):
        split_sizes(fixed_test, 40)
    counts = SplitsConfig(SplitConfig(5), SplitConfig(1), SplitConfig(2))
    assert split_sizes(counts, 8) == {"train": 5, "val": 1, "test": 2}
    with pytest.raises(ValueError, match="--num"):
        split_sizes(counts, 9)


def test_split_seeds_are_distinct_and_stable():
    seeds = {split_seed(0, s) for s in ("train", "val", "test")} | {split_seed(1, "train")}
    assert len(seeds) == 4
    assert split_seed(0, "test") == split_seed(0, "test")


def test_test_split_examples_do_not_depend_on_the_size_of_the_other_splits():
    small = plan_dataset(load_dataset_config("binaural-speech-tiny", ["num_examples=16"])).split("test")
    large = plan_dataset(load_dataset_config("binaural-speech-tiny", ["num_examples=40"])).split("test")
    assert small.seed == large.seed and small.scene == large.scene
    assert small.spec(1) == large.spec(1)


def test_unit_partition_is_disjoint_covering_deterministic_and_shares_small_classes():
    units = {"a": [f"a{i}" for i in range(20)], "b": ["b0", "b1"], "c": ["c0", "c1", "c2"]}
    fractions = {"train": 0.8, "val": 0.1, "test": 0.1}
    parts, shared = partition_units(units, fractions, seed=3)
    assert shared == ("b",)
    for label in ("a", "c"):
        split_units = [{u for u in parts[s] if u.startswith(label)} for s in fractions]
        assert all(split_units), "every split gets at least one unit of every class"
        assert set.union(*split_units) == set(units[label])
        assert sum(map(len, split_units)) == len(units[label])
    assert len([u for u in parts["train"] if u.startswith("a")]) == 16
    assert all({"b0", "b1"} <= set(parts[s]) for s in fractions)
    assert partition_units(units, fractions, seed=3) == (parts, shared)
    assert partition_units(units, fractions, seed=4)[0] != parts


def test_speech_preset_voices_are_disjoint_between_splits():
    plan = plan_dataset(load_dataset_config("binaural-speech-tiny"))
    voices = {s.name: set(s.scene.source_units) for s in plan.splits}
    assert voices["train"] and voices["val"] and voices["test"]
    assert not voices["train"] & voices["test"] and not voices["train"] & voices["val"]
    assert not voices["val"] & voices["test"]


def test_explicit_source_units_and_receiver_overrides_win():
    config = load_dataset_config(
        "binaural-speech-tiny",
        ["splits.test.overrides.source_units=[en+Andrea]", "splits.test.overrides.receiver=sphere"],
    )
    test = plan_dataset(config).split("test")
    assert test.scene.source_units == ("en+Andrea",) and test.scene.receiver == "sphere"
    assert plan_dataset(config).split("train").scene.receiver == "kemar"
    with pytest.raises(ConfigError, match=r"splits\.test\.overrides.*unknown key"):
        plan_dataset(load_dataset_config("binaural-speech-tiny", ["splits.test.overrides.rooms=3"]))


def test_grid_points_and_blocks_visit_every_direction_once():
    grid = GridConfig((-90.0, 90.0, 5.0), (-40.0, 40.0, 10.0))
    points = grid.points()
    assert len(points) == 333 and points[0] == (-90.0, -40.0) and points[-1] == (90.0, 40.0)
    for block in range(2):
        visited = sorted(
            grid_point_index(len(points), 11, block * len(points) + k) for k in range(len(points))
        )
        assert visited == list(range(len(points)))
    with pytest.raises(ValueError, match="seed and index"):
        grid_point_index(5, 0, -1)


def test_grid_plan_places_the_target_on_its_grid_direction():
    config = load_dataset_config("binaural-grid-tiny")
    plan = plan_dataset(config)
    train = plan.split("train")
    seen = []
    for index in range(5):
        source = train.spec(index).sources[0]
        azimuth, elevation = math.degrees(source.azimuth), math.degrees(source.elevation)
        seen.append(round(azimuth, 6))
        assert round(elevation, 6) == 0.0
    assert sorted(seen) == [-90.0, -45.0, 0.0, 45.0, 90.0]
    assert plan.split("test").scene.source == "speech"


def test_grid_with_several_sources_in_a_split_override_is_refused():
    config = load_dataset_config("binaural-grid-tiny", ["splits.test.overrides.num_sources=[1, 2]"])
    with pytest.raises(ValueError, match=r"one target.*split 'test'"):
        plan_dataset(config)


def test_budgets_are_nested_deterministic_and_reach_their_duration():
    durations = [0.5] * 40
    budgets, skipped = select_budgets(durations, {"big": 10.0, "small": 2.0, "mid": 5.0}, seed=1)
    assert [b.name for b in budgets] == ["small", "mid", "big"] and skipped == {}
    assert [len(b.rows) for b in budgets] == [4, 10, 20]
    assert set(budgets[0].rows) <= set(budgets[1].rows) <= set(budgets[2].rows)
    assert all(b.duration_s >= b.seconds for b in budgets)
    assert select_budgets(durations, {"big": 10.0, "small": 2.0, "mid": 5.0}, seed=1)[0] == budgets
    assert select_budgets(durations, {"small": 2.0}, seed=2)[0][0].rows != budgets[0].rows
    # A budget longer than the split is not truncated silently: it is not made, and reported.
    fitting, over = select_budgets(durations, {"huge": 100.0, "all": 20.0}, seed=1)
    assert [b.name for b in fitting] == ["all"] and over == {"huge": 100.0}


def test_plan_fingerprint_changes_with_anything_that_changes_the_bytes():
    base = plan_dataset(load_dataset_config("binaural-speech-tiny")).fingerprint
    assert plan_dataset(load_dataset_config("binaural-speech-tiny")).fingerprint == base
    for override in ("seed=1", "scene.duration_s=0.25", "shard_size=2", "signals=[noisy]"):
        assert plan_dataset(load_dataset_config("binaural-speech-tiny", [override])).fingerprint != base


def test_scene_defaults_are_shared_with_the_simulator():
    assert DatasetConfig().scene == SceneConfig()


def test_asking_for_a_split_without_examples_says_so():
    plan = plan_dataset(load_dataset_config("binaural-grid-tiny"))
    with pytest.raises(ValueError, match=r"split 'val' has no examples.*train, test"):
        plan.split("val")
    with pytest.raises(ValueError, match=r"unknown split 'dev'.*train, val, test"):
        plan.split("dev")
