"""Data-parallel update: 2 gloo processes (torchrun on loopback) give the 1-process parameters."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

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


def test_two_rank_update_equals_one_rank(tiny_path, tmp_path):
    out = tmp_path / "params.pt"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1",
           "AGENTGYM_CACHE_DIR": os.environ.get("AGENTGYM_CACHE_DIR", "")}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
               "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), str(WORKER), str(tiny_path), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    two = torch.load(out, weights_only=False)
    assert two["world_size"] == 2
    one = _worker_module().one_update(str(tiny_path))
    assert two["params"].keys() == one.keys()
    moved = 0
    for name, value in one.items():
        torch.testing.assert_close(two["params"][name], value, rtol=1e-5, atol=1e-6, msg=name)
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


def test_world_size_two_trains_and_resumes_with_one_rank(tiny_path, tmp_path):
    """hardware.world_size=2 launches torchrun; rank 0 alone logs and checkpoints; the run then
    resumes in one process (the checkpoint does not depend on the world size)."""
    from agentgym.trainers.checkpoint import list_checkpoints
    from agentgym.trainers.logger import read_metrics

    first = _train_cli(tmp_path, "hardware.world_size=2", "budget.iterations=1")
    assert first.returncode == 0, first.stderr[-3000:]
    rows = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert [r["iteration"] for r in rows] == [1]  # logged once: by rank 0
    assert rows[0]["update/ranks"] == 2
    assert 0 < rows[0]["update/rank_samples"] < rows[0]["update/samples"]
    assert len(list_checkpoints(tmp_path)) == 1
    from agentgym.cli.train import compose, to_train_config
    from agentgym.trainers.recipe import train

    cfg = to_train_config(compose([*OVERRIDES, f"trainer.run_dir={tmp_path}",
                                   "budget.iterations=2", "trainer.resume=true"]))
    assert train(cfg).iterations == 2  # in this process: one rank
    rows = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert [r["iteration"] for r in rows] == [1, 2]
    assert "update/ranks" not in rows[1]
