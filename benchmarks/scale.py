"""Rollout throughput: environments in threads vs in a Ray pool on 1 and 2 nodes; and the wall
time of a short training run with asynchronous rollout at staleness 0/1/2.

    python benchmarks/scale.py [--episodes 6] [--num-envs 2] [--envs swe,webshop_browser]
    python benchmarks/scale.py --parts async [--async-iterations 6] [--staleness 0,1,2]

Plays the expert on SWE-v0 (docker) and WebShopBrowser-v0 (Chromium) with ``collect`` three
ways, side by side in one run:

* ``threads`` — the environments in this process, stepped by the rollout's thread pool;
* ``ray 1 node`` — each environment in a Ray actor, on a one-node cluster (``ray start --head``);
* ``ray 2 nodes`` — the same after a second node joined (``ray start --address``), actors spread
  over both.

Each is measured twice: the first ``collect`` (environments, sandboxes and actors start cold) and
a second one (threads: the process's warm docker pool; Ray: the pool's actors are reused, with
their warm sandboxes). The cluster runs on this machine, on loopback (127.0.0.2 and 127.0.0.3),
with 2 logical CPUs per node, no dashboard and no usage reporting; both raylets share the
machine's cores, so "2 nodes" measures Ray's overhead of spreading, not more hardware.

The async part trains the tiny model on Sokoban (GiGPO, CPU) for the same number of iterations
with ``trainer.async.max_staleness`` = each of ``--staleness``, one after the other in this
process, and prints the wall time of each run with its ratio to the synchronous one (k = 0), the
mean staleness, the mean time the update waited for its batch and the final held-out success.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentgym.core.policies import ExpertPolicy
from agentgym.core.ray_pool import RayEnvPool
from agentgym.core.rollout import RolloutStats, collect

ENVS = {"swe": "agentgym/SWE-v0", "webshop_browser": "agentgym/WebShopBrowser-v0"}
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


# -- a local cluster of `ray start --block` nodes ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalCluster:
    """Ray nodes started with ``ray start --block`` on loopback; :meth:`stop` ends them all."""

    def __init__(self) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="agr-bench-", dir="/tmp")
        self.port = _free_port()
        self.address = f"{HEAD_IP}:{self.port}"
        self.nodes: list[subprocess.Popen] = []
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}

    def _start(self, args: list[str], name: str) -> None:
        log = Path(self.temp_dir) / f"{name}.log"
        for _ in range(3):  # Ray waits a fixed 30 s for a raylet; a loaded machine may miss it
            proc = subprocess.Popen(
                [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
                 "--disable-usage-stats", "--num-cpus=2", "--object-store-memory=80000000",
                 *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                if "Ray runtime started" in log.read_text(errors="replace"):
                    self.nodes.append(proc)
                    return
                time.sleep(0.5)
            _stop(proc)
        raise RuntimeError(f"ray start failed:\n{log.read_text(errors='replace')[-2000:]}")

    def start_head(self) -> None:
        self._start(["--head", f"--node-ip-address={HEAD_IP}", f"--port={self.port}",
                     "--include-dashboard=false", f"--ray-client-server-port={_free_port()}",
                     f"--temp-dir={self.temp_dir}"], "head")

    def add_worker(self) -> None:
        import ray

        self._start([f"--address={self.address}", f"--node-ip-address={WORKER_IP}"], "worker")
        while sum(node["Alive"] for node in ray.nodes()) < 2:
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in reversed(self.nodes):
            _stop(proc)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# -- measurements ----------------------------------------------------------------------------------
def timed(run: Callable[[RolloutStats], list[Any]]) -> dict[str, float]:
    stats = RolloutStats()
    episodes = run(stats)
    solved = sum(e.success for e in episodes)
    return {"wall_s": stats.wall_s, "episodes": len(episodes), "solved": solved,
            "eps_per_s": len(episodes) / stats.wall_s, "errors": stats.errors}


def measure_threads(env_id: str, seeds: list[int], num_envs: int) -> list[dict[str, float]]:
    return [timed(lambda stats: collect(env_id, ExpertPolicy(), seeds, num_envs=num_envs,
                                        stats=stats)) for _ in range(2)]


def measure_ray(env_id: str, seeds: list[int], num_envs: int) -> list[dict[str, float]]:
    with RayEnvPool(num_cpus=0.5) as pool:
        return [timed(lambda stats: collect(env_id, ExpertPolicy(), seeds, num_envs=num_envs,
                                            stats=stats, backend=pool)) for _ in range(2)]


def measure_async(staleness: list[int], iterations: int, tasks: int, group: int,
                  warmup: int, eval_episodes: int, max_turns: int) -> dict[int, dict[str, float]]:
    """Train the same short Sokoban run at each staleness; wall time and what it learned."""
    import torch

    from agentgym.trainers.config import TrainConfig, from_dict
    from agentgym.trainers.logger import read_metrics
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.recipe import train

    # build (or load) the model once before any run is timed: every run then starts warm
    load_policy(TrainConfig().model, from_dict(TrainConfig, {"env": {"max_turns": max_turns}}).env,
                torch.device("cpu"))
    out: dict[int, dict[str, float]] = {}
    for k in staleness:
        with tempfile.TemporaryDirectory(prefix="agentgym-async-") as run_dir:
            cfg = from_dict(TrainConfig, {
                "env": {"max_turns": max_turns},
                "budget": {"iterations": iterations, "tasks_per_iteration": tasks,
                           "group_size": group, "warmup_episodes": warmup, "warmup_epochs": 5,
                           "eval_every": 0, "eval_episodes": eval_episodes,
                           "checkpoint_every": 0, "keep_checkpoints": 1},
                "trainer": {"run_dir": run_dir, "progress": False, "tensorboard": False,
                            "async": {"max_staleness": k}},
            })
            print(f"train, max_staleness={k} …", flush=True)
            tic = time.perf_counter()
            result = train(cfg)
            rows = [r for r in read_metrics(run_dir) if r["kind"] == "train"]
            loop = sum(r["time/rollout_s"] + r["time/update_s"] for r in rows)
            out[k] = {
                "wall_s": time.perf_counter() - tic,
                "loop_s": loop,
                "staleness": sum(r["staleness"] for r in rows) / len(rows),
                "max_staleness_seen": max(r["staleness"] for r in rows),
                "rollout_wait_s": sum(r["time/rollout_wait_s"] for r in rows) / len(rows),
                "update_s": sum(r["time/update_s"] for r in rows) / len(rows),
                "final_success": result.final["success_rate"],
                "warmstart_success": result.warmstart["success_rate"],
            }
    return out


def print_async(results: dict[int, dict[str, float]], iterations: int) -> None:
    base = results.get(0) or next(iter(results.values()))
    print(f"\nSokoban, tiny model, GiGPO, {iterations} iterations per run "
          f"(ratio: wall time relative to max_staleness=0, measured in this run)")
    header = (f"{'max_staleness':>13s} {'wall s':>8s} {'ratio':>6s} {'loop s':>8s} "
              f"{'staleness':>9s} {'wait s/it':>9s} {'update s/it':>11s} {'final success':>13s}")
    print(header)
    print("-" * len(header))
    for k, r in results.items():
        print(f"{k:13d} {r['wall_s']:8.1f} {r['wall_s'] / base['wall_s']:5.2f}x "
              f"{r['loop_s']:8.1f} {r['staleness']:9.2f} {r['rollout_wait_s']:9.2f} "
              f"{r['update_s']:11.2f} {r['final_success']:13.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=6, help="episodes per collect call")
    parser.add_argument("--num-envs", type=int, default=2, help="environments alive at once")
    parser.add_argument("--envs", default="swe,webshop_browser",
                        help=f"comma-separated, of {', '.join(ENVS)}")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--parts", default="rollout,async",
                        help="rollout (threads vs Ray) and/or async (staleness 0/1/2 training)")
    parser.add_argument("--staleness", default="0,1,2", help="async: max_staleness values")
    parser.add_argument("--async-iterations", type=int, default=6, help="async: RL iterations")
    parser.add_argument("--async-tasks", type=int, default=4, help="async: tasks per iteration")
    parser.add_argument("--async-group", type=int, default=4, help="async: episodes per task")
    parser.add_argument("--async-warmup", type=int, default=100,
                        help="async: expert episodes of the behaviour-cloning warm start")
    parser.add_argument("--async-eval", type=int, default=64, help="async: held-out episodes")
    parser.add_argument("--async-max-turns", type=int, default=20, help="async: turn limit")
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",")}
    if "async" in parts:
        staleness = [int(k) for k in args.staleness.split(",")]
        timings = measure_async(staleness, args.async_iterations, args.async_tasks,
                                args.async_group, args.async_warmup, args.async_eval,
                                args.async_max_turns)
        print_async(timings, args.async_iterations)
        if args.json is not None and "rollout" not in parts:
            args.json.write_text(json.dumps(timings, indent=2))
    if "rollout" not in parts:
        return
    names = [name.strip() for name in args.envs.split(",") if name.strip()]
    seeds = list(range(args.episodes))
    results: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in names}

    for name in names:
        print(f"threads: {name} …", flush=True)
        results[name]["threads"] = measure_threads(ENVS[name], seeds, args.num_envs)

    import ray

    cluster = LocalCluster()
    try:
        cluster.start_head()
        os.environ["RAY_AUTH_MODE"] = "disabled"
        ray.init(address=cluster.address, _node_ip_address=HEAD_IP, logging_level="WARNING",
                 log_to_driver=False)
        for name in names:
            print(f"ray, 1 node: {name} …", flush=True)
            results[name]["ray 1 node"] = measure_ray(ENVS[name], seeds, args.num_envs)
        cluster.add_worker()
        for name in names:
            print(f"ray, 2 nodes: {name} …", flush=True)
            results[name]["ray 2 nodes"] = measure_ray(ENVS[name], seeds, args.num_envs)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()

    print(f"\n{args.episodes} expert episodes per call, {args.num_envs} environments at once "
          f"(episodes/s; ratio to threads in the same call)")
    header = f"{'env':16s} {'backend':12s} {'1st call':>18s} {'2nd call (warm)':>22s}  solved"
    print(header)
    print("-" * len(header))
    for name in names:
        base = results[name]["threads"]
        for backend, runs in results[name].items():
            cells = []
            for i, run in enumerate(runs):
                ratio = run["eps_per_s"] / base[i]["eps_per_s"]
                cells.append(f"{run['eps_per_s']:6.2f} ({ratio:4.2f}x)")
            solved = "/".join(f"{int(r['solved'])}" for r in runs)
            print(f"{name:16s} {backend:12s} {cells[0]:>18s} {cells[1]:>22s}  {solved} of "
                  f"{args.episodes}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
