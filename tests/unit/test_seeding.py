"""One seed derivation: the key paths reproduce the streams the datasets have always used."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from spatialrep import seeding


def test_key_paths_equal_the_former_spellings():
    assert seeding.seed_sequence(3, 7).entropy == np.random.SeedSequence([3, 7]).entropy
    words = [5, zlib.crc32(b"train_room")]
    np.testing.assert_array_equal(
        seeding.rng(5, "train_room").random(4), np.random.default_rng(np.random.SeedSequence(words)).random(4)
    )
    child = np.random.default_rng(np.random.SeedSequence(words, spawn_key=(9,))).random(3)
    np.testing.assert_array_equal(seeding.rng(5, "train_room", spawn_key=(9,)).random(3), child)
    state = np.random.SeedSequence([2, 1]).generate_state(2, np.uint32)
    assert seeding.derive_seed(2, 1) == int.from_bytes(state.tobytes(), "little") >> 1
    assert np.random.default_rng(11).random() == seeding.rng(11).random()  # an int seed is a one-key path


def test_streams_depend_only_on_their_keys():
    assert seeding.rng(0, "a").random() != seeding.rng(0, "b").random()
    assert seeding.rng(0, 1).random() != seeding.rng(1, 0).random()
    assert seeding.derive_seed(0, "step", 3) == seeding.derive_seed(0, "step", 3) < 2**63


@pytest.mark.parametrize(
    ("keys", "error"), [((), ValueError), ((-1,), ValueError), ((1.5,), TypeError), ((True,), TypeError)]
)
def test_bad_keys_are_refused(keys, error):
    with pytest.raises(error):
        seeding.seed_sequence(*keys)
