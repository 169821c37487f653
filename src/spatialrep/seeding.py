"""One way to derive random streams: every seed in spatialrep is a path of keys below a base seed.

``seed_sequence(seed, "budgets")``, ``seed_sequence(seed, index)``, ``rng(seed, split, index)``: integers are
used as they are, strings through CRC-32, so a stream depends only on its keys — never on a global
generator, the number of workers or the order in which streams are drawn. Derived streams are statistically
independent (``numpy.random.SeedSequence``). numpy only, so the render path can use it without torch.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Key", "derive_seed", "rng", "seed_sequence"]

Key = int | str


def _word(key: Key) -> int:
    if isinstance(key, bool) or not isinstance(key, int | np.integer | str):
        raise TypeError(f"seed keys must be non-negative integers or strings, got {key!r}")
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8"))
    if key < 0:
        raise ValueError(f"seed keys must be non-negative, got {key}")
    return int(key)


def seed_sequence(*keys: Key, spawn_key: tuple[int, ...] = ()) -> np.random.SeedSequence:
    """The seed sequence of the key path ``keys`` (and ``spawn_key``, a child of that path).

    ``seed_sequence(s, i)`` equals ``SeedSequence([s, i])``; a string key ``k`` stands for
    ``zlib.crc32(k)``; ``spawn_key=(j,)`` gives the ``j``-th child, as ``SeedSequence.spawn`` would.

    Raises:
        TypeError: a key that is neither an integer nor a string.
        ValueError: no key, or a negative integer.
    """
    if not keys:
        raise ValueError("seed_sequence needs at least one key (a base seed)")
    return np.random.SeedSequence([_word(k) for k in keys], spawn_key=tuple(int(k) for k in spawn_key))


def rng(*keys: Key, spawn_key: tuple[int, ...] = ()) -> np.random.Generator:
    """``numpy.random.default_rng`` of :func:`seed_sequence` ``(*keys)``."""
    return np.random.default_rng(seed_sequence(*keys, spawn_key=spawn_key))


def derive_seed(*keys: Key) -> int:
    """A 63-bit integer seed of the key path, for APIs that take an ``int`` (``Generator.manual_seed``).

    ``derive_seed(s, *words)`` is the seed the dataset splits and budgets have always used."""
    state = seed_sequence(*keys).generate_state(2, np.uint32)
    return int.from_bytes(state.tobytes(), "little") >> 1
