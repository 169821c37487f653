"""Pools of synthesised source clips, reused across the scenes a worker renders (render version ``v2``).

Synthesising a clip (eSpeak speech: about 9 ms per 4 s target, 12 talker clips per babble example) is the
largest single cost of rendering a scene. A :class:`ClipPool` defines ``size`` clips per *pool seed* (one
per dataset split): clip ``k`` of pool seed ``S`` is ``bank.sample(rng(S, name, k), duration_s, rate)``, a
pure function of ``(S, k)``. A scene picks pool indices from its own seeds, and a worker synthesises a clip
the first time one of its scenes asks for it and keeps it. What a scene renders therefore depends only on
the scene and never on the worker count, the shard order or a resume.

Costs: at most ``size`` syntheses per split and worker (lazily; a small dataset pays only for the clips it
uses) and ``size * duration_s * sample_rate * 4`` bytes per split held (clips kept as float32), e.g. 131 MB
for 512 clips of 4 s at 16 kHz.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from spatialrep import seeding
from spatialrep.dsp import rms
from spatialrep.simulate.sources.base import SILENCE_RMS, SourceBank, SourceClip

MAX_POOL_SEEDS = 3
"""Pools (splits) kept per :class:`ClipPool`; the least recently used one is dropped beyond that."""


class ClipPool:
    """A lazily filled, deterministic pool of ``size`` clips of one source bank per pool seed.

    Args:
        bank: where the clips come from (a partitioned bank keeps a split's units).
        size: clips per pool seed, ≥ 1.
        duration_s: length of every clip, seconds.
        sample_rate: Hz.
        name: seed key of this pool, so that two pools of one seed hold different clips.

    Raises:
        ValueError: ``size < 1`` or a non-positive duration.
    """

    def __init__(self, bank: SourceBank, size: int, duration_s: float, sample_rate: int, name: str) -> None:
        if size < 1:
            raise ValueError(f"a clip pool needs size >= 1, got {size}")
        if not duration_s > 0:
            raise ValueError(f"duration_s must be positive, got {duration_s}")
        self.bank = bank
        self.size = int(size)
        self.duration_s = float(duration_s)
        self.sample_rate = int(sample_rate)
        self.name = name
        self._pools: OrderedDict[int, dict[int, SourceClip]] = OrderedDict()
        self.syntheses = 0
        """Clips synthesised so far (for tests and benchmarks)."""

    def clip(self, pool_seed: int, k: int) -> SourceClip:
        """Clip ``k`` of the pool of ``pool_seed``; its ``signal`` is float32 and read-only, shape ``(T,)``.

        Raises:
            IndexError: ``k`` outside ``[0, size)``.
        """
        if not 0 <= k < self.size:
            raise IndexError(f"pool index {k} outside [0, {self.size})")
        pool = self._pools.get(pool_seed)
        if pool is None:
            pool = self._pools[pool_seed] = {}
            while len(self._pools) > MAX_POOL_SEEDS:
                self._pools.popitem(last=False)
        else:
            self._pools.move_to_end(pool_seed)
        found = pool.get(k)
        if found is None:
            drawn = self.bank.sample(seeding.rng(pool_seed, self.name, k), self.duration_s, self.sample_rate)
            signal = drawn.signal.astype(np.float32)
            signal.setflags(write=False)
            found = pool[k] = SourceClip(
                signal, drawn.sample_rate, drawn.label, drawn.source_id, drawn.unit, drawn.metadata
            )
            self.syntheses += 1
        return found

    def draw(self, pool_seed: int, rng: np.random.Generator) -> SourceClip:
        """A uniformly drawn clip of the pool of ``pool_seed`` (one ``rng.integers`` draw)."""
        return self.clip(pool_seed, int(rng.integers(self.size)))


def pooled_babble(
    pool: ClipPool, pool_seed: int, rng: np.random.Generator, num_samples: int, num_talkers: int
) -> np.ndarray:
    """Babble from a pool: ``num_talkers`` clips, each cut at a random offset and scaled to unit power.

    Args:
        pool: clips at least ``num_samples`` long (speech).
        pool_seed: which pool.
        rng: draws the clips and the offsets.
        num_samples: length, ≤ the pool's clip length.
        num_talkers: talkers summed, ≥ 1.

    Returns:
        ``(num_samples,)`` float64, unit power (mean square 1).

    Raises:
        ValueError: clips shorter than ``num_samples``, or a silent cut.
    """
    total = np.zeros(num_samples)
    for _ in range(num_talkers):
        clip = pool.draw(pool_seed, rng)
        spare = clip.signal.size - num_samples
        if spare < 0:
            raise ValueError(f"pooled clips hold {clip.signal.size} samples, {num_samples} requested")
        start = int(rng.integers(spare + 1))
        cut = clip.signal[start : start + num_samples].astype(np.float64)
        level = rms(cut)
        if level < SILENCE_RMS:
            raise ValueError(f"pooled babble talker {clip.source_id} is silent over the cut")
        total += cut / level
    return total / rms(total)
