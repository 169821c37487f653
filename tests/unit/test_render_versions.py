"""Render versions: v1 keeps the bytes of before, v2 is deterministic whatever the workers, resume and pool
order, and a dataset records its version and refuses to be resumed with another one."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from spatialrep.config import ConfigError
from spatialrep.data import writer
from spatialrep.data.excitation import make_bank
from spatialrep.data.presets import load_dataset_config
from spatialrep.data.splits import plan_dataset
from spatialrep.data.writer import DatasetExistsError, render_dataset
from spatialrep.simulate.render import SceneRenderer
from spatialrep.simulate.sampling import sample_scene
from spatialrep.simulate.scene_config import SceneConfig

SIGNALS = ("noisy", "clean_direct", "clean_reverb", "dry", "noise")


def _digest(rendered) -> str:  # type: ignore[no-untyped-def]
    h = hashlib.sha256()
    for name in SIGNALS:
        h.update(np.ascontiguousarray(getattr(rendered, name)).tobytes())
    return h.hexdigest()[:16]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != writer.LOCK
    }


def test_v1_renders_the_bytes_of_before_render_versions():
    # Digests of the same scenes rendered by the code before render versions existed (commit 8f3fef1),
    # numpy 2.4.6 / scipy 1.17.1: the v1 path is that code, unchanged.
    config = SceneConfig(
        duration_s=0.5, noise_types=("babble", "pink"), rt60_range_s=(0.3, 0.6), render_version="v1"
    )
    renderer = SceneRenderer(config)
    digests = [_digest(renderer.render(sample_scene(config, 7, i))) for i in range(2)]
    assert digests == ["b46a38a2e0416b27", "5437dd6c81a2aceb"]


def test_v1_plans_keep_their_fingerprint_and_v2_plans_differ():
    before = "a7689e8cc320149c594d"  # binaural-speech-tiny before render versions existed
    v1 = plan_dataset(load_dataset_config("binaural-speech-tiny", ["scene.render_version=v1"]))
    assert v1.fingerprint == before
    v1_other_pool = plan_dataset(
        load_dataset_config("binaural-speech-tiny", ["scene.render_version=v1", "scene.source_pool_size=7"])
    )
    assert v1_other_pool.fingerprint == before  # v1 ignores the pool
    v2 = plan_dataset(load_dataset_config("binaural-speech-tiny"))
    assert v2.config.scene.render_version == "v2" and v2.fingerprint != before


def test_config_guards():
    with pytest.raises(ValueError, match=r"unknown render_version 'v3'; valid: v1, v2"):
        SceneConfig(render_version="v3")
    with pytest.raises(ValueError, match="source_pool_size must be >= 0"):
        SceneConfig(source_pool_size=-1)
    with pytest.raises(ConfigError, match="render_version"):
        load_dataset_config("binaural-speech-tiny", ["scene.render_version=fast"])


def test_v2_scene_bytes_do_not_depend_on_what_the_worker_rendered_before():
    config = SceneConfig(duration_s=0.5, noise_types=("babble",), source_pool_size=8)
    warm = SceneRenderer(config)
    for index in range(6):  # fills the pools in this order
        warm.render(sample_scene(config, 3, index))
    fresh = SceneRenderer(config)
    for index in (5, 2):  # another order, other clips synthesised first
        assert _digest(fresh.render(sample_scene(config, 3, index))) == _digest(
            warm.render(sample_scene(config, 3, index))
        )
    assert warm.target_pool is not None and warm.target_pool.syntheses <= 8


def test_v2_draws_targets_from_a_per_split_pool():
    config = SceneConfig(duration_s=0.5, noise_types=("white",), source_pool_size=2)
    renderer = SceneRenderer(config)
    ids = {renderer.render(sample_scene(config, 3, i)).labels["source_id"][0] for i in range(8)}
    other_split = {renderer.render(sample_scene(config, 4, i)).labels["source_id"][0] for i in range(8)}
    assert len(ids) <= 2 and len(other_split) <= 2 and not ids & other_split
    unpooled = SceneRenderer(SceneConfig(duration_s=0.5, noise_types=("white",), source_pool_size=0))
    assert unpooled.target_pool is None
    fresh = {unpooled.render(sample_scene(config, 3, i)).labels["source_id"][0] for i in range(4)}
    assert len(fresh) == 4
    noise = SceneConfig(duration_s=0.5, source="noise:white", source_pool_size=2)
    recordings = SceneRenderer(noise, source_bank=make_bank("noise:white"))
    assert recordings.target_pool is None  # only synthesised sources are pooled


@pytest.mark.filterwarnings("ignore:label budget")
def test_v2_dataset_is_identical_with_two_workers_and_after_resume(tmp_path):
    config = load_dataset_config(
        "binaural-speech-tiny", ["num_examples=6", "shard_size=2", "scene.noise_types=[babble, pink]"]
    )
    one = tmp_path / "one"
    render_dataset(config, one, workers=1)
    info = json.loads((one / "dataset.json").read_text())
    assert info["render_version"] == "v2" and info["splits"]["train"]["render_version"] == "v2"
    assert "babble" in (one / "manifest.csv").read_text()
    writer._RENDERERS.clear()  # the second dataset starts with empty pools
    two = tmp_path / "two"
    render_dataset(config, two, workers=2)
    assert _tree(two) == _tree(one)
    for path in sorted((two / "train" / "00001").iterdir()):  # a killed run: one shard lost
        path.unlink()
    (two / "train" / "00001").rmdir()
    (two / "dataset.json").unlink()
    report = render_dataset(config, two, workers=1)
    assert report.rendered_shards == 1 and _tree(two) == _tree(one)


@pytest.mark.filterwarnings("ignore:label budget")
def test_resuming_with_another_render_version_fails_clearly(tmp_path):
    overrides = ["num_examples=4", "shard_size=2"]
    new, old = tmp_path / "v2", tmp_path / "v1"
    render_dataset(load_dataset_config("binaural-speech-tiny", overrides), new, workers=1)
    # A dataset of before render versions has a v1 fingerprint: it stands for one here.
    render_dataset(
        load_dataset_config("binaural-speech-tiny", [*overrides, "scene.render_version=v1"]), old, workers=1
    )
    trees = _tree(new), _tree(old)
    with pytest.raises(
        DatasetExistsError,
        match=r"another render version \(train: v2 there, v1 now, val: v2 there, v1 now\).*"
        r"--set scene.render_version=v2",
    ):
        render_dataset(
            load_dataset_config("binaural-speech-tiny", [*overrides, "scene.render_version=v1"]), new
        )
    with pytest.raises(DatasetExistsError, match=r"train: v1 there, v2 now.*--set scene.render_version=v1"):
        render_dataset(load_dataset_config("binaural-speech-tiny", overrides), old)
    assert (_tree(new), _tree(old)) == trees
