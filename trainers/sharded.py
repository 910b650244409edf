"""Sharded data-parallel updates: the policy's parameters, gradients and optimizer state split
over ranks with FSDP2 (PyTorch's ``fully_shard``; Zhao et al. 2023, "PyTorch FSDP",
arXiv:2304.11277).

``hardware.data_parallel=fsdp`` (the default on GPUs; ``ddp`` keeps a whole copy per rank, see
:mod:`agentgym.trainers.distributed`). Every rank holds a :class:`ShardedPolicy`: an FSDP2 copy
of the policy that only the update uses, with its optimizer over the shards. Rank 0 keeps its
whole model besides it for what only rank 0 does (generation, credit models, evaluation,
checkpoints) and gets the new weights after every update (:meth:`ShardedPolicy.gather_weights`,
a collective of all ranks). So each rank stores 1/N of the optimizer state and gradients, and
rank 0 additionally one whole copy of the weights (on GPUs with ``hardware.engine=vllm`` the
engine holds that copy anyway).

FSDP2 gathers a layer's parameters at every forward, so every rank must run the same number of
forwards and backwards: :func:`~agentgym.trainers.update.update_policy` pads a rank's share of a
mini-batch with zero-weight micro-batches (:class:`~agentgym.trainers.update.PaddingMicroBatch`)
up to the largest share. Gradients are *summed* over ranks (the loss of each shard is already
normalized by the whole mini-batch; FSDP's average is undone by scaling each rank's loss by the
world size), as in the ``ddp`` update, so both equal the one-process
update up to float summation order (a test runs 2 gloo processes against 1 on the CPU).

Checkpoints stay world-size independent: the optimizer state is gathered whole to rank 0 in the
ordinary ``torch.optim`` layout before a save, and a resumed run shards it again, with any number
of ranks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

from agentgym.trainers.distributed import DataParallel

#: what the gathers return: whole tensors, on rank 0 only, on the CPU.
_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True)


def shard_layers(model: torch.nn.Module, device_type: str = "cpu") -> torch.nn.Module:
    """``fully_shard`` each transformer block (the classes a Hugging Face model lists in
    ``_no_split_modules``, inner ones before the blocks holding them), then the whole model (one
    group when it lists none: tied embeddings stay together), in place, over a 1-D mesh of all
    ranks on ``device_type``; returns ``model``. FSDP averages the gradients over ranks: the
    update scales each rank's loss by the world size to sum them
    (:func:`~agentgym.trainers.update.update_policy`; a divide factor of 1 would need
    ``PREMUL_SUM``, which gloo lacks)."""
    mesh = init_device_mesh(device_type, (dist.get_world_size(),))
    blocks = set(getattr(_base_model(model), "_no_split_modules", None) or ())
    # modules() lists a module before its children: reversed, nested blocks come first
    for module in reversed(list(model.modules())):
        if type(module).__name__ in blocks and any(p.numel() for p in module.parameters()):
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def _base_model(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a PEFT wrapper (or ``model`` itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def trainable_names(model: torch.nn.Module) -> list[str]:
    """Names of the parameters the optimizer steps, in ``model.parameters()`` order (the
    indices of an ordinary ``torch.optim`` state dict)."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def to_named_optimizer_state(state: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """An ordinary optimizer state dict (parameters by index) keyed by parameter names instead,
    the layout of ``torch.distributed.checkpoint``'s optimizer state dicts."""
    return {
        "state": {names[int(i)]: value for i, value in state["state"].items()},
        "param_groups": [{**group, "params": [names[int(i)] for i in group["params"]]}
                         for group in state["param_groups"]],
    }


def to_indexed_optimizer_state(state: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The inverse of :func:`to_named_optimizer_state`."""
    index = {name: i for i, name in enumerate(names)}
    return {
        "state": {index[name]: value for name, value in state["state"].items()},
        "param_groups": [{**group, "params": [index[name] for name in group["params"]]}
                         for group in state["param_groups"]],
    }


class ShardedPolicy:
    """The FSDP2 copy of the policy that the update trains, and its optimizer over the shards.

    Args:
        model: the whole policy with its current weights, identical on every rank. Rank 0 keeps
            it (a deep copy is sharded); another rank's ``model`` is sharded in place.
        make_optimizer: builds the optimizer over a module's trainable parameters.
        parallel: this rank's place (``parallel.sharded`` must be true).
        device_type: ``cpu`` or ``cuda`` (the mesh's device; not the machine's accelerator).
        optimizer_state: an ordinary optimizer state dict to continue from (a checkpoint's;
            whole, on every rank), or None for a fresh optimizer.
    """

    def __init__(self, model: torch.nn.Module,
                 make_optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
                 parallel: DataParallel, device_type: str = "cpu",
                 optimizer_state: dict[str, Any] | None = None):
        self.parallel = parallel
        self.names = trainable_names(model)
        self.module = shard_layers(copy.deepcopy(model) if parallel.is_main else model,
                                   device_type)
        self.optimizer = make_optimizer(self.module)
        if optimizer_state is not None:
            set_optimizer_state_dict(
                self.module, self.optimizer,
                to_named_optimizer_state(optimizer_state, self.names),
                options=StateDictOptions(full_state_dict=True),
            )

    def gather_weights(self, into: torch.nn.Module | None) -> None:
        """Copy the trained weights into rank 0's whole ``into`` (a collective: every rank calls
        it, the others with None)."""
        weights = get_model_state_dict(self.module, options=_GATHER)
        if into is not None and self.parallel.is_main:
            with torch.no_grad():
                into.load_state_dict(weights)

    def optimizer_state(self) -> dict[str, Any] | None:
        """The whole optimizer state in the ordinary ``torch.optim`` layout on rank 0, None on
        the others (a collective: every rank calls it)."""
        state = get_optimizer_state_dict(self.module, self.optimizer, options=_GATHER)
        if not self.parallel.is_main:
            return None
        return to_indexed_optimizer_state(state, self.names)


def full_value(tensor: torch.Tensor) -> torch.Tensor:
    """A DTensor's whole value (a collective for sharded or partial placements); a plain tensor
    as it is."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


__all__ = ["ShardedPolicy", "full_value", "shard_layers",
           "to_indexed_optimizer_state", "to_named_optimizer_state", "trainable_names"]
