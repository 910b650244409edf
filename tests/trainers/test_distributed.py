"""Data-parallel update: 2 gloo processes (torchrun on loopback) give the 1-process parameters."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("dp_worker.py")


def _worker_module():
    spec = importlib.util.spec_from_file_location("dp_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["ddp", "fsdp"])
def test_two_rank_update_equals_one_rank(tiny_path, tmp_path, kind):
    """The same update with 2 gloo ranks, each holding a whole copy (ddp) or FSDP2 shards of the
    parameters and optimizer state (fsdp), gives the 1-process parameters and optimizer state."""
    out = tmp_path / "params.pt"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1",
           "AGENTGYM_CACHE_DIR": os.environ.get("AGENTGYM_CACHE_DIR", "")}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
               "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), str(WORKER), str(tiny_path), str(out), kind]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    two = torch.load(out, weights_only=False)
    assert two["world_size"] == 2
    reference = _worker_module().one_update(str(tiny_path))
    one = reference["params"]
    assert two["params"].keys() == one.keys()
    moved = 0
    for name, value in one.items():
        torch.testing.assert_close(two["params"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    # the optimizer state in the ordinary torch.optim layout, gathered whole (momentum buffers)
    state_one, state_two = reference["optimizer"], two["optimizer"]
    assert state_two["param_groups"][0]["params"] == state_one["param_groups"][0]["params"]
    assert state_two["state"].keys() == state_one["state"].keys() and state_one["state"]
    for i, buffers in state_one["state"].items():
        torch.testing.assert_close(state_two["state"][i]["momentum_buffer"],
                                   buffers["momentum_buffer"], rtol=1e-5, atol=1e-6)
    from agentgym.trainers.config import EnvConfig, ModelConfig
    from agentgym.trainers.model import load_policy

    initial, _ = load_policy(ModelConfig(), EnvConfig(), torch.device("cpu"), path=tiny_path)
    for name, p in initial.named_parameters():
        moved += not torch.equal(p.detach(), one[name])
    assert moved > len(one) // 2  # most tensors changed: the comparison is not vacuous


OVERRIDES = [
    "env=sokoban", "algo=gigpo", "env.max_turns=6", "env.max_new_tokens=4",
    "model.tiny.corpus_episodes=8", "budget.tasks_per_iteration=2", "budget.group_size=3",
    "budget.warmup_episodes=0", "budget.eval_episodes=2", "hardware.micro_batch_size=8",
    "algo.optim.mini_batch_size=16", "trainer.progress=false", "trainer.tensorboard=false",
]


def _train_cli(run_dir, *extra: str) -> subprocess.CompletedProcess:
    overrides = [*OVERRIDES, f"trainer.run_dir={run_dir}", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "agentgym.cli.main", "train", *overrides],
                          env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("kind", ["ddp", "fsdp"])
def test_world_size_two_trains_and_resumes_with_one_rank(tiny_path, tmp_path, kind):
    """hardware.world_size=2 launches torchrun; rank 0 alone logs and checkpoints; the run then
    resumes in one process (the checkpoint does not depend on the world size). With fsdp the
    update trains FSDP2 shards: a checkpoint inside the loop (iteration 2) and the final one
    (iteration 3) each gather the sharded optimizer state."""
    from agentgym.trainers.checkpoint import (
        checkpoint_name,
        list_checkpoints,
        read_trainer_state,
    )
    from agentgym.trainers.logger import read_metrics

    iterations = 1 if kind == "ddp" else 3
    first = _train_cli(tmp_path, "hardware.world_size=2", f"budget.iterations={iterations}",
                       f"hardware.data_parallel={kind}", "budget.checkpoint_every=2",
                       "budget.keep_checkpoints=0")
    assert first.returncode == 0, first.stderr[-3000:]
    rows = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert [r["iteration"] for r in rows] == list(range(1, iterations + 1))  # logged by rank 0
    assert all(r["update/ranks"] == 2 and r["update/sharded"] == (kind == "fsdp") for r in rows)
    assert all(0 < r["update/rank_samples"] < r["update/samples"] for r in rows)
    saved = list_checkpoints(tmp_path)
    assert [checkpoint_name(i) for i in ([1] if kind == "ddp" else [2, 3])] == [
        p.name for p in saved]
    for path in saved:  # the whole optimizer state, in torch.optim's layout (indices)
        optimizer = read_trainer_state(path)["optimizer"]
        assert sorted(optimizer["state"]) == list(range(len(optimizer["state"])))
        assert optimizer["state"] and all(s["exp_avg"].ndim >= 1
                                          for s in optimizer["state"].values())
    from agentgym.cli.train import compose, to_train_config
    from agentgym.trainers.recipe import train

    cfg = to_train_config(compose([*OVERRIDES, f"trainer.run_dir={tmp_path}",
                                   f"budget.iterations={iterations + 1}", "trainer.resume=true"]))
    assert train(cfg).iterations == iterations + 1  # in this process: one rank
    rows = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert [r["iteration"] for r in rows] == list(range(1, iterations + 2))
    assert "update/ranks" not in rows[-1]


def _nested_blocks_forward_backward(port: int) -> None:
    """In a child process: a one-rank gloo group, a model whose ``_no_split_modules`` lists a
    block class and a class nested inside it; sharding then forward/backward must work."""
    import torch.distributed as dist

    from agentgym.trainers.sharded import shard_layers

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        class Inner(torch.nn.Linear):
            pass

        class Outer(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.a, self.mlp = torch.nn.Linear(4, 4), Inner(4, 4)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.mlp(self.a(x))

        class Root(torch.nn.Sequential):
            _no_split_modules = ("Outer", "Inner")

        root = shard_layers(Root(Outer(), torch.nn.Linear(4, 4)))
        root(torch.randn(2, 4)).sum().backward()
        assert all(p.grad is not None for p in root.parameters())
    finally:
        dist.destroy_process_group()


def test_shard_layers_shards_nested_blocks_inner_first():
    """``model.modules()`` lists an outer block before the one inside it; FSDP2 needs the inner
    one sharded first (Idefics2 lists ``Idefics2PerceiverLayer`` and ``Idefics2MLP``)."""
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(
        target=_nested_blocks_forward_backward, args=(_free_port(),))
    process.start()
    process.join(120)
    assert process.exitcode == 0
