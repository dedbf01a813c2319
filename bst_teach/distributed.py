"""Data-parallel training with ``torchrun`` and PyTorch's DistributedDataParallel (DDP)::

    torchrun --nproc-per-node 2 -m bst_teach train --data ml-100k --model bst --json

Every process (a *rank*) holds the whole model and the whole data set; DDP averages the
gradients over the ranks in every backward pass, so all ranks take the same optimiser step.
What the trainer (:mod:`bst_teach.train`) adds around it, with the helpers here:

* **batches**: every rank draws the same shuffled order (same seed, same generator) and takes
  the batches ``rank, rank + W, rank + 2W, ...`` (W = world size), like
  ``torch.utils.data.DistributedSampler`` but on whole batches, without padding; ranks with one
  batch fewer are handled by DDP's ``join()``;
* **evaluation**: each rank scores a contiguous slice of the split and the predictions are
  gathered (:func:`gather_rows`), so AUC and log-loss are computed once over exactly the split's
  rows, no padded duplicates, with the same numbers on every rank;
* **early stopping**: rank 0 decides and broadcasts the decision (:func:`agree`);
* **files**: checkpoints and JSON are written by rank 0 only (``Context.is_main``);
* **BatchNorm** is converted to ``SyncBatchNorm`` on GPUs (statistics over the global batch);
  LayerNorm normalises each token alone and needs no synchronisation.

The backend is NCCL on CUDA, gloo on the CPU.  Without ``torchrun`` (no ``WORLD_SIZE``) nothing
here starts a process group and training is exactly the single-process code path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


SINGLE = Context()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> Context:
    """The process group for this run: started from torchrun's environment (NCCL for CUDA, gloo
    otherwise) unless it is already running; :data:`SINGLE` without torchrun."""
    if not launched_by_torchrun():
        return SINGLE
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size())


def current() -> Context:
    """This process's rank and the world size (:data:`SINGLE` when no process group runs)."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size())
    return SINGLE


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device, ctx: Context) -> torch.nn.Module:
    """``model`` in DDP (BatchNorm made SyncBatchNorm on CUDA); ``model`` itself when alone.

    The wrapper is for the training forward pass only; ``model`` keeps its name, schema and
    config, and is what evaluation and checkpoints use."""
    if not ctx.active:
        return model
    if device.type == "cuda":  # SyncBatchNorm needs a GPU; on the CPU each rank keeps its own
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


def my_batches(batches: list, ctx: Context) -> list:
    """This rank's share of an epoch's batches: ``rank, rank + W, ...`` (disjoint, covering)."""
    return batches[ctx.rank::ctx.world_size]


def my_rows(n: int, ctx: Context) -> slice:
    """This rank's contiguous slice of ``n`` rows (sizes differ by at most one)."""
    return slice(n * ctx.rank // ctx.world_size, n * (ctx.rank + 1) // ctx.world_size)


def gather_rows(local: torch.Tensor, n: int, ctx: Context) -> torch.Tensor:
    """The (n,) values of every rank's :func:`my_rows` slice, in row order, on every rank.

    local: (len(my_rows(n, ctx)),) -> (n,).  Slices are padded to one size for ``all_gather``
    and the padding dropped, so each row is counted exactly once."""
    if not ctx.active:
        return local
    sizes = [len(range(n)[my_rows(n, Context(r, ctx.world_size))]) for r in range(ctx.world_size)]
    padded = torch.zeros(max(sizes), dtype=local.dtype, device=local.device)
    padded[:len(local)] = local
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


def agree(flag: bool, ctx: Context, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank (one decision, e.g. whether to stop early)."""
    if not ctx.active:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def mean_over_ranks(total: float, count: int, ctx: Context, device: torch.device) -> float:
    """The mean of values summing to ``total`` over ``count`` items on each rank, over all ranks."""
    if not ctx.active:
        return total / max(count, 1)
    t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t[0] / max(t[1].item(), 1.0))
