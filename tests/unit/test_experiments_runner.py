"""The experiment runner: units run once and in order, markers written last, folder claims, the registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from spatialrep.experiments.report import read_json, write_json
from spatialrep.experiments.runner import (
    Unit,
    claim_output_folder,
    get_experiment,
    list_experiments,
    list_scales,
    load_recipe,
    read_unit,
    register_experiment,
    run_units,
)


def test_units_run_once_in_order_and_record_their_result(tmp_path: Path) -> None:
    calls: list[str] = []

    def work(name: str):
        def run():
            calls.append(name)
            return {"name": name, "value": float(torch.rand(1))}

        return run

    units = [Unit(n, tmp_path / f"{n}.json", work(n)) for n in ("a", "b", "c")]
    lines: list[str] = []
    markers = run_units(units, progress=False, log=lines.append, desc="test")
    assert calls == ["a", "b", "c"] and lines == ["[test] 3 units, 0 already done"]
    assert markers["b"]["result"]["name"] == "b" and markers["b"]["wall_time_s"] >= 0
    # Each unit runs under its own random-state fork: the global generator does not leak between units.
    torch.manual_seed(0)
    reference = float(torch.rand(1))
    torch.manual_seed(0)
    (tmp_path / "b.json").unlink()
    again = run_units(units, progress=False, log=lines.append, desc="test")
    assert calls == ["a", "b", "c", "b"] and lines[-1] == "[test] 3 units, 2 already done"
    assert again["a"] == markers["a"] and float(torch.rand(1)) == reference
    assert read_unit(tmp_path / "c.json")["result"]["name"] == "c"


def test_a_fresh_folder_is_cleared_before_its_unit_runs(tmp_path: Path) -> None:
    folder = tmp_path / "unit"
    folder.mkdir()
    (folder / "half-written.bin").write_bytes(b"x")  # left by a killed run

    def run():
        assert not (folder / "half-written.bin").exists()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "out.txt").write_text("done")
        return None

    run_units([Unit("u", folder / "done.json", run, fresh=folder)], progress=False)
    assert (folder / "out.txt").read_text() == "done" and read_unit(folder / "done.json")["result"] == {}


def test_unit_guards(tmp_path: Path) -> None:
    same = [Unit("x", tmp_path / "1.json", dict), Unit("x", tmp_path / "2.json", dict)]
    with pytest.raises(ValueError, match="distinct"):
        run_units(same, progress=False)
    write_json(tmp_path / "not-a-marker.json", [1, 2])
    with pytest.raises(ValueError, match="not a unit marker"):
        read_unit(tmp_path / "not-a-marker.json")


def test_claim_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    record = {"experiment": "demo", "config": {"seeds": [0]}}
    claim_output_folder(out, record, what="demo experiment")
    claim_output_folder(out, record, what="demo experiment")  # the same one resumes
    with pytest.raises(ValueError, match=r"another configuration \(differs in: config\)"):
        claim_output_folder(out, {**record, "config": {"seeds": [1]}}, what="demo experiment")
    with pytest.raises(ValueError, match="holds a demo experiment, not other experiment"):
        claim_output_folder(out, {"experiment": "other", "config": {}}, what="other experiment")
    foreign = tmp_path / "foreign"
    (foreign / "data").mkdir(parents=True)
    claim_output_folder(
        foreign, record, what="demo experiment", allowed=("data",)
    )  # a rendered dataset is fine
    (foreign / "experiment.json").unlink()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no demo experiment"):
        claim_output_folder(foreign, record, what="demo experiment", allowed=("data",))


def test_experiments_register_themselves_with_their_recipes() -> None:
    names = list_experiments()
    assert {"sfd", "sce"} <= set(names)
    for name in names:
        spec = get_experiment(name)
        assert dataclasses.is_dataclass(spec.config_class) and spec.description
        for scale in list_scales(name):  # every shipped recipe loads into its config class
            assert isinstance(load_recipe(name, scale=scale), spec.config_class)
    with pytest.raises(ValueError, match=r"unknown experiment 'nope'; valid: .*sce.*sfd"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_experiment("sfd", dict)
    with pytest.raises(ValueError, match="dataclass"):
        register_experiment("brand-new", dict)
    with pytest.raises(ValueError, match="either a scale or a config file"):
        load_recipe("sfd")


def test_malformed_recipes_name_the_culprit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scale: tiny\nmax_steps: [oops\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_recipe("sce", config_file=bad)
    bad.write_text("scale: tiny\nmax_stepz: 3\n")
    with pytest.raises(ValueError, match=r"unknown key.*max_stepz"):
        load_recipe("sce", config_file=bad)
    with pytest.raises(ValueError, match="not found"):
        load_recipe("sce", config_file=tmp_path / "absent.yaml")


@dataclasses.dataclass(frozen=True)
class _ToyConfig:
    size: int = 1
    added_later: int = 2


def test_a_folder_from_before_a_config_field_was_added_resumes(tmp_path: Path) -> None:
    from spatialrep.experiments.runner import ExperimentResult, run_experiment

    if "toy-upgrade" not in list_experiments():

        @register_experiment("toy-upgrade", _ToyConfig, "a runner test")
        def _run(config, out, **_):  # type: ignore[no-untyped-def]
            return ExperimentResult(rows=[], summary=[], paths={})

    out = tmp_path / "run"
    out.mkdir()
    write_json(out / "experiment.json", {"experiment": "toy-upgrade", "config": {"size": 1}})
    with pytest.warns(UserWarning, match="predates config fields added since"):
        run_experiment("toy-upgrade", out, config=_ToyConfig(), progress=False, log=lambda _: None)
    assert read_json(out / "experiment.json")["config"] == {"size": 1, "added_later": 2}
    # A field that differs from its default is another configuration.
    write_json(out / "experiment.json", {"experiment": "toy-upgrade", "config": {"size": 1}})
    with pytest.raises(ValueError, match=r"another configuration \(differs in: config\)"):
        run_experiment("toy-upgrade", out, config=_ToyConfig(added_later=3), progress=False, log=print)


@dataclasses.dataclass(frozen=True)
class _ThreadedConfig:
    threads: int | None = None


def test_a_recipes_threads_hold_while_the_experiment_runs_and_are_restored(tmp_path: Path) -> None:
    from spatialrep.experiments.runner import ExperimentResult, run_experiment

    seen: list[int] = []
    if "toy-threads" not in list_experiments():

        @register_experiment("toy-threads", _ThreadedConfig, "a runner test")
        def _run(config, out, **_):  # type: ignore[no-untyped-def]
            seen.append(torch.get_num_threads())
            return ExperimentResult(rows=[], summary=[], paths={})

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        run_experiment("toy-threads", tmp_path / "a", config=_ThreadedConfig(1), progress=False, log=print)
        assert torch.get_num_threads() == 2
        run_experiment("toy-threads", tmp_path / "b", config=_ThreadedConfig(None), progress=False, log=print)
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]
