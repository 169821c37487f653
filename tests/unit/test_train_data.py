"""ResumableSampler and make_loader: seeded per-epoch order that can restart mid-epoch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from spatialrep.train import ResumableSampler, make_loader, train_val_loaders
from spatialrep.train.data import find_resumable_sampler


def test_order_depends_only_on_seed_and_epoch():
    a, b = ResumableSampler(20, seed=3), ResumableSampler(20, seed=3)
    torch.manual_seed(0)
    first = list(a)
    torch.manual_seed(99)  # the global generator plays no part
    assert list(b) == first
    assert sorted(first) == list(range(20))
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == list(range(20))
    assert ResumableSampler(20, seed=4).order(0) != first


def test_resume_skips_then_runs_whole_epochs():
    sampler = ResumableSampler(10, seed=1)
    full = sampler.order(2)
    sampler.resume(2, 4)
    assert list(sampler) == full[4:]
    assert len(sampler) == 10
    assert list(sampler) == full  # the skip applies to one iteration only
    sampler.resume(2, 10)
    assert list(sampler) == []


def test_no_shuffle_is_ascending():
    sampler = ResumableSampler(5, shuffle=False)
    sampler.set_epoch(7)
    assert list(sampler) == [0, 1, 2, 3, 4]


def test_sampler_guards():
    with pytest.raises(ValueError, match=r"num_examples=0 must be >= 1"):
        ResumableSampler(0)
    sampler = ResumableSampler(5)
    with pytest.raises(ValueError, match=r"skip=6 outside \[0, 5\]"):
        sampler.resume(0, 6)
    with pytest.raises(ValueError, match=r"skip=-1 outside"):
        sampler.resume(0, -1)


def test_make_loader_yields_the_sampler_order():
    data = TensorDataset(torch.arange(12))
    loader = make_loader(data, batch_size=4, seed=5)
    assert find_resumable_sampler(loader) is loader.sampler
    order = ResumableSampler(12, seed=5).order(0)
    assert torch.cat([b[0] for b in loader]).tolist() == order


def test_make_loader_rejects_iterable_datasets():
    class Stream(IterableDataset):
        def __iter__(self):
            yield from range(3)

    with pytest.raises(TypeError, match="make_loader: dataset Stream has no __len__"):
        make_loader(Stream(), batch_size=2)


def test_find_resumable_sampler_none_for_plain_loaders():
    assert find_resumable_sampler(DataLoader(TensorDataset(torch.arange(4)), batch_size=2)) is None
    assert find_resumable_sampler(object()) is None


def test_train_val_loaders():
    train_set, val_set = TensorDataset(torch.arange(10)), TensorDataset(torch.arange(5))
    train, val = train_val_loaders(train_set, val_set, batch_size=4, seed=3, drop_last=True)
    reference = make_loader(train_set, batch_size=4, seed=3, drop_last=True)
    assert [b[0].tolist() for b in train] == [b[0].tolist() for b in reference]  # shuffled, 2 full batches
    assert val is not None and [b[0].tolist() for b in val] == [[0, 1, 2, 3], [4]]  # in order, every example
    assert train_val_loaders(train_set, None, batch_size=4)[1] is None
