"""Data order that survives a restart: a seeded sampler that can resume in the middle of an epoch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

# Separates the seeds of successive epochs; any large odd constant does.
_EPOCH_STRIDE = 1_000_003


class ResumableSampler(Sampler[int]):
    """Indices ``0..n-1``, shuffled per epoch from ``(seed, epoch)``, able to start mid-epoch.

    The order of epoch ``e`` depends only on ``seed`` and ``e`` (never on the global generator), so an
    interrupted run that is resumed sees the same examples in the same order as an uninterrupted one.
    :func:`spatialrep.train.fit` records the epoch and the batches consumed in Lightning's checkpoint and
    calls :meth:`resume` when it restarts.

    Args:
        num_examples: dataset length ``n``.
        seed: base seed of the per-epoch permutations.
        shuffle: shuffle (``False``: ascending order every epoch).

    Raises:
        ValueError: ``num_examples`` < 1.
    """

    def __init__(self, num_examples: int, *, seed: int = 0, shuffle: bool = True) -> None:
        if num_examples < 1:
            raise ValueError(f"ResumableSampler: num_examples={num_examples} must be >= 1")
        self.num_examples = num_examples
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (Lightning calls this before every epoch)."""
        self.epoch = epoch

    def resume(self, epoch: int, skip: int) -> None:
        """Make the next iteration start at position ``skip`` of epoch ``epoch``'s order."""
        if not 0 <= skip <= self.num_examples:
            raise ValueError(f"ResumableSampler.resume: skip={skip} outside [0, {self.num_examples}]")
        self.epoch = epoch
        self._skip = skip

    def order(self, epoch: int) -> list[int]:
        """The full index order of ``epoch``."""
        if not self.shuffle:
            return list(range(self.num_examples))
        generator = torch.Generator().manual_seed(self.seed * _EPOCH_STRIDE + epoch)
        return torch.randperm(self.num_examples, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        return iter(self.order(self.epoch)[skip:])

    def __len__(self) -> int:
        # The full length, also while resuming: Lightning counts the batches of an epoch from it.
        return self.num_examples


def make_loader(
    dataset: Dataset[Any],
    *,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    drop_last: bool = False,
) -> DataLoader[Any]:
    """A ``DataLoader`` whose order is reproducible and resumable (a :class:`ResumableSampler`).

    Args:
        dataset: a map-style dataset (has ``__len__``).
        batch_size: examples per batch.
        shuffle: reshuffle every epoch from ``(seed, epoch)``.
        seed: data-order seed (also seeds the workers' base seed through an explicit generator).
        num_workers: worker processes.
        collate_fn: batch builder (e.g. :func:`spatialrep.data.datasets.collate_examples`).
        drop_last: drop the last incomplete batch.

    Raises:
        TypeError: the dataset has no length (iterable datasets cannot resume mid-epoch).
    """
    if not isinstance(dataset, Sized):
        raise TypeError(f"make_loader: dataset {type(dataset).__name__} has no __len__")
    sampler = ResumableSampler(len(dataset), seed=seed, shuffle=shuffle)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_fn,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=False,
    )


def train_val_loaders(
    train_set: Dataset[Any],
    val_set: Dataset[Any] | None,
    *,
    batch_size: int,
    seed: int = 0,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    drop_last: bool = False,
) -> tuple[DataLoader[Any], DataLoader[Any] | None]:
    """The training loader (shuffled, resumable; see :func:`make_loader`) and, when ``val_set`` is given, the
    validation loader (in order, every example, in this process).

    Args:
        train_set, val_set: map-style datasets (``val_set`` may be ``None``).
        batch_size, seed, num_workers, collate_fn, drop_last: as :func:`make_loader`; ``seed``,
            ``num_workers`` and ``drop_last`` apply to the training loader only.
    """
    train = make_loader(
        train_set,
        batch_size=batch_size,
        seed=seed,
        num_workers=num_workers,
        collate_fn=collate_fn,
        drop_last=drop_last,
    )
    if val_set is None:
        return train, None
    return train, make_loader(val_set, batch_size=batch_size, shuffle=False, collate_fn=collate_fn)


def find_resumable_sampler(loader: Any) -> ResumableSampler | None:
    """The :class:`ResumableSampler` driving ``loader`` (directly or inside its batch sampler), if any."""
    for candidate in (
        getattr(loader, "sampler", None),
        getattr(getattr(loader, "batch_sampler", None), "sampler", None),
    ):
        if isinstance(candidate, ResumableSampler):
            return candidate
    return None
