"""NT-Xent with negatives gathered from two CPU processes (gloo): the loss and the DDP-averaged gradients
equal the single-process full batch; a gather whose backward keeps only the local slice fails that."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from spatialrep.losses import NTXentLoss
from spatialrep.losses import nt_xent as nt_xent_module

WORLD = 2
N, DIM_IN, DIM = 6, 5, 4  # clips per process, input and embedding sizes


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(DIM_IN, DIM).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(WORLD * N, DIM_IN, generator=g, dtype=torch.float64)
    return x, x + 0.3 * torch.randn(WORLD * N, DIM_IN, generator=g, dtype=torch.float64)


class _LocalSliceGather(torch.autograd.Function):
    """A hand-written all-gather whose backward returns only this process's own slice of the gradient
    (the other processes' contributions are dropped): the bug the test must catch."""

    @staticmethod
    def forward(ctx, tensor):  # type: ignore[override]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx, *grads):  # type: ignore[override]
        return grads[dist.get_rank()]


def _worker(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    try:
        x, y = _batch()
        local = slice(rank * N, (rank + 1) * N)
        results = {}
        for name in ("torch", "local-slice"):
            if name == "local-slice":
                nt_xent_module._all_gather = lambda t: list(_LocalSliceGather.apply(t))  # type: ignore[assignment]
            model = nn.parallel.DistributedDataParallel(_model())
            loss = NTXentLoss(0.2, gather_distributed=True)(model(x[local]), model(y[local]))
            loss.backward()
            results[name] = (loss.detach(), [p.grad.clone() for p in model.parameters()])
        unequal = x[: N - 1] if rank == 0 else x[:N]
        try:
            NTXentLoss(0.2, gather_distributed=True)(unequal, unequal)
            results["unequal"] = "no error"
        except ValueError as exc:
            results["unequal"] = str(exc)
        torch.save(results, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def distributed(tmp_path_factory) -> list[dict]:
    folder: Path = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(f"file://{folder / 'init'}", str(folder)), nprocs=WORLD, join=True)
    return [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def _full_batch() -> tuple[torch.Tensor, list[torch.Tensor]]:
    x, y = _batch()
    model = _model()
    loss = NTXentLoss(0.2)(model(x), model(y))
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def test_gathered_loss_and_ddp_gradients_equal_the_full_batch(distributed):
    loss, grads = _full_batch()
    mean_loss = sum(r["torch"][0] for r in distributed) / WORLD  # each process: the mean over its anchors
    torch.testing.assert_close(mean_loss, loss, rtol=0, atol=1e-6)
    for result in distributed:
        for got, want in zip(result["torch"][1], grads, strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_a_backward_that_keeps_only_the_local_slice_is_caught(distributed):
    _, grads = _full_batch()
    for result in distributed:
        worst = max(float((got - want).abs().max()) for got, want in zip(result["local-slice"][1], grads))
        assert worst > 1e-3


def test_unequal_batches_across_processes_are_refused(distributed):
    for result in distributed:
        assert "same batch on every process" in result["unequal"] and "[5, 6]" in result["unequal"]
