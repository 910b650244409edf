"""Data-parallel updates: the turn samples of an iteration sharded over ranks.

``torchrun --nproc-per-node N -m agentgym.cli.main train …`` (or ``hardware.world_size=N``, which
launches it) starts N processes. Rank 0 runs the whole recipe — warm start, rollout, credit,
logging, evaluation, checkpoints — and the other ranks only take part in the update:

1. rank 0 broadcasts the iteration's turn samples and the state of the shuffling generator
   (:meth:`DataParallel.broadcast`), so every rank cuts the same mini-batches;
2. each rank forwards/backwards its share of every mini-batch (``mb[rank::N]``), with the loss
   normalized by the token and sequence counts of the *whole* mini-batch;
3. the gradients are summed over ranks (one all-reduce of a flat buffer, on ``gloo`` on CPUs or
   ``nccl`` on GPUs; the data-parallel algorithm of PyTorch DDP, Li et al. 2020,
   arXiv:2006.15704), then every rank clips and steps the same optimizer on the same gradient —
   the weights stay identical on all ranks without a broadcast.

So the update with N ranks equals the single-process update up to float summation order (a test
runs 2 gloo processes against 1). The optimizer state is whole on every rank, so a checkpoint
does not depend on the world size and a run resumes with any number of ranks. On GPUs each rank
uses ``cuda:LOCAL_RANK``. This is ``hardware.data_parallel=ddp``; with ``fsdp`` the parameters,
gradients and optimizer state are sharded over the ranks instead (:mod:`agentgym.trainers.sharded`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DataParallel:
    """This process's place in the data-parallel group.

    Attributes:
        rank: this process's rank (0 = the one that logs, evaluates and checkpoints).
        world_size: number of processes.
        sharded: the update runs on an FSDP2-sharded copy of the policy
            (:mod:`agentgym.trainers.sharded`): FSDP reduces the gradients in the backward, and
            every rank must run as many forwards as the others.
    """

    rank: int
    world_size: int
    sharded: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that runs the whole recipe."""
        return self.rank == 0

    def shard(self, indices: Sequence[int]) -> list[int]:
        """This rank's share of a mini-batch: every ``world_size``-th index from ``rank``."""
        return list(indices[self.rank :: self.world_size])

    def all_reduce_grads(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Sum ``params``' gradients over ranks, in place (missing gradients count as 0); a no-op
        when ``sharded`` (FSDP has reduced them already)."""
        if self.world_size == 1 or self.sharded or not params:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                          for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def all_reduce_sum(self, value: float) -> float:
        """The sum of a float over ranks (a statistic, e.g. tokens in each shard)."""
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return float(tensor.item())

    def merge(self, values: list[Any]) -> list[Any]:
        """Fill each rank's ``None`` entries with the values other ranks computed (one list per
        rank, each holding its own shard's entries)."""
        if self.world_size == 1:
            return values
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, values)
        out = list(values)
        for other in gathered:
            for i, value in enumerate(other):
                if out[i] is None and value is not None:
                    out[i] = value
        return out

    def broadcast(self, obj: Any = None) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; samples, generator states, messages)."""
        if self.world_size == 1:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_parameters(self, model: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into every rank's ``model``."""
        if self.world_size == 1:
            return
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.world_size > 1:
            dist.barrier()


SINGLE = DataParallel(0, 1)


def from_environment(device_type: str = "cpu", timeout_s: float = 1800.0,
                     sharded: bool = False) -> DataParallel:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``…);
    a single process when ``WORLD_SIZE`` is unset or 1.

    Args:
        device_type: ``cpu`` (backend ``gloo``) or ``cuda`` (``nccl``; each rank takes
            ``cuda:LOCAL_RANK``).
        timeout_s: how long a collective may wait (rank 0's rollout and evaluation run while
            the other ranks wait for the next broadcast).
        sharded: update an FSDP2-sharded copy of the policy (``hardware.data_parallel=fsdp``).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    rank = int(os.environ["RANK"])
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return DataParallel(rank, world, sharded)


def shutdown(parallel: DataParallel) -> None:
    """Leave the process group (no-op for a single process)."""
    if parallel.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["SINGLE", "DataParallel", "from_environment", "shutdown"]
