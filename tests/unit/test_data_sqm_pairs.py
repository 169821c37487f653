"""SQM-BS data: triplets obey the angle rule, graded degradations (severity 0 = identical), reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialrep.data.sqm_pairs import (
    DEGRADATIONS,
    ClipDataset,
    PairDataset,
    SqmDataConfig,
    SqmScenes,
    TripletDataset,
    angle_between,
    degrade,
)
from spatialrep.evaluate.cue_distance import gcc_phat_itd

CONFIG = SqmDataConfig(segment_s=0.1, rooms=0, pool_size=6, elevations_deg=(0.0, 20.0), snr_db=30.0)


@pytest.fixture(scope="module")
def scenes() -> SqmScenes:
    return SqmScenes(CONFIG, "train")


def test_triplets_obey_the_angle_rule_and_are_reproducible(scenes):
    data = TripletDataset(scenes, 12)
    for i in range(12):
        item = data[i]
        assert item["audio"].shape == (3, 3, CONFIG.num_samples)
        az, el = np.degrees(item["azimuth"]), np.degrees(item["elevation"])
        assert angle_between(az[0], el[0], az[1], el[1]) < angle_between(az[0], el[0], az[2], el[2])
        # three different utterances: the mono channels differ
        monos = item["audio"][:, 2]
        assert not np.array_equal(monos[0], monos[1]) and not np.array_equal(monos[0], monos[2])
    again = TripletDataset(SqmScenes(CONFIG, "train"), 12)[5]
    assert np.array_equal(again["audio"], data[5]["audio"])


@pytest.mark.parametrize("kind", sorted(set(DEGRADATIONS) - {"rt60"}))
def test_severity_zero_is_identical_and_others_differ(scenes, kind):
    data = PairDataset(scenes, kind, 1, room=0)  # free field: fast
    items = [data[i] for i in range(len(data))]
    assert np.array_equal(items[0]["reference"], items[0]["test"])
    for item in items[1:]:
        assert np.array_equal(item["reference"], items[0]["reference"])  # one reference per scene
        assert not np.array_equal(item["reference"][:2], item["test"][:2]) or kind == "content"
    if kind != "content":
        assert all(np.array_equal(i["test"][2], i["reference"][2]) for i in items)  # same mono


def test_content_change_changes_the_mono_only_in_content(scenes):
    data = PairDataset(scenes, "content", 1, room=0)
    assert not np.array_equal(data[1]["test"][2], data[1]["reference"][2])


def test_itd_step_moves_the_gcc_phat_peak_by_tau(scenes):
    data = PairDataset(scenes, "itd", 2, room=0, head=1)
    rate = CONFIG.sample_rate
    for index in range(len(data)):
        item = data[index]
        ref = gcc_phat_itd(torch.tensor(item["reference"][None, :2], dtype=torch.float64), rate).item()
        test = gcc_phat_itd(torch.tensor(item["test"][None, :2], dtype=torch.float64), rate).item()
        # the right ear is delayed by tau: t_left - t_right falls by tau
        assert ref - test == pytest.approx(item["severity"] * 1e-6, abs=1.5 / (8 * rate))
    again = PairDataset(SqmScenes(CONFIG, "train"), "itd", 2, room=0, head=1)[7]  # reproducible
    assert np.array_equal(again["test"], data[7]["test"]) and np.array_equal(
        again["reference"], data[7]["reference"]
    )


def test_signal_degradations_are_graded():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4000))
    ild = degrade(x, "ild", 6.0, 16000)
    assert 10 * np.log10(np.sum(ild[0] ** 2) / np.sum(ild[1] ** 2)) == pytest.approx(
        10 * np.log10(np.sum(x[0] ** 2) / np.sum(x[1] ** 2)) + 6.0
    )
    mono = degrade(x, "width", 1.0, 16000)
    assert np.allclose(mono[0], mono[1])
    with pytest.raises(ValueError, match="signal-domain"):
        degrade(x, "azimuth", 5.0, 16000)


def test_unseen_split_holds_out_heads_rooms_and_voices(scenes):
    unseen = SqmScenes(CONFIG, "unseen")
    assert not set(unseen.head_names) & set(scenes.head_names)
    assert not set(unseen.room_names) & set(scenes.room_names)
    assert not set(unseen.dry.voices) & set(scenes.dry.voices)
    test = SqmScenes(CONFIG, "test")
    assert test.head_names == scenes.head_names and not np.array_equal(test.dry.clips, scenes.dry.clips)


def test_clip_dataset_labels(scenes):
    clips = ClipDataset(scenes, [30.0, -90.0], [0.0, 20.0], group=[4, 5], room=0)
    item = clips[1]
    assert item["audio"].shape == (3, CONFIG.num_samples)
    assert item["group"] == 5 and item["el_class"] == 1
    assert CONFIG.azimuths_deg[item["az_class"]] == pytest.approx(-90.0)


def test_config_validation():
    with pytest.raises(ValueError, match="azimuth_step_deg"):
        SqmDataConfig(azimuth_step_deg=7.0)
    with pytest.raises(ValueError, match="unknown degradation"):
        PairDataset.__new__(PairDataset).__init__(None, "nope", 1)  # type: ignore[arg-type]
