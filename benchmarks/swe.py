"""Benchmark the SWE environment's sandboxes.

    python benchmarks/swe.py [--resets 40] [--episodes 4]

1. ``env.reset`` latency, warm pool vs cold container, side by side in one run: each round
   times one warm reset (a pool with standby containers; the previous episode's container is
   wiped in the background) and one cold reset (a pool of size 0: every reset starts a container
   and every close removes it), alternating so both see the same machine load. Between resets
   the "agent" runs one command and the run waits until no background work is pending, so
   neither measurement overlaps the other's background work. Prints p50 and p99 of both and the
   cold/warm ratio.
2. Commands per second: ``docker exec`` (the agent's commands) vs a keeper round trip (the
   environment's own root commands).
3. Expert episodes (reset, apply the gold patch, submit) sequentially vs concurrently (threads).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from agentgym.envs.swe.env import SWEEnv
from agentgym.envs.swe.tasks import load_tasks
from agentgym.sandboxes.docker import DockerSandbox, SandboxPool, close_shared_pools


def percentiles(times: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    values = np.asarray(times) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def reset_latency(rounds: int) -> None:
    warm_pool = SandboxPool(size=4, standby=2)
    cold_pool = SandboxPool(size=0, standby=0)
    warm_env, cold_env = SWEEnv(split=None, pool=warm_pool), SWEEnv(split=None, pool=cold_pool)
    n_tasks = len(warm_env.tasks)
    times: dict[str, list[float]] = {"warm": [], "cold": []}
    bash = json.dumps({"name": "bash", "arguments": {"command": "ls > /dev/null"}})
    try:
        warm_pool.wait_idle()
        for i in range(rounds):
            for kind, env, pool in (("warm", warm_env, warm_pool), ("cold", cold_env, cold_pool)):
                start = time.perf_counter()
                env.reset(seed=(i * 7919) % n_tasks)
                times[kind].append(time.perf_counter() - start)
                env.step(bash)
                env.close()
                pool.wait_idle()
                warm_pool.wait_idle()
    finally:
        warm_env.close()
        cold_env.close()
        warm_pool.close()
        cold_pool.close()
    (w50, w99), (c50, c99) = percentiles(times["warm"]), percentiles(times["cold"])
    print(f"reset latency over {rounds} resets each (ms):")
    print(f"  warm pool      p50 {w50:7.1f}   p99 {w99:7.1f}   "
          f"(warm acquisitions {warm_pool.stats.warm_acquires}, "
          f"cold {warm_pool.stats.cold_acquires}, wipe failures "
          f"{warm_pool.stats.wipe_failures})")
    print(f"  cold container p50 {c50:7.1f}   p99 {c99:7.1f}")
    print(f"  cold/warm      p50 {c50 / w50:7.1f}x  p99 {c99 / w99:7.1f}x")


def commands_per_second(n: int) -> None:
    with DockerSandbox() as sandbox:
        sandbox.exec("true")
        start = time.perf_counter()
        for _ in range(n):
            sandbox.exec("echo hi")
        exec_rate = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(n):
            sandbox.run_root("echo hi")
        keeper_rate = n / (time.perf_counter() - start)
    print(f"commands/s: docker exec {exec_rate:.1f}, keeper round trip {keeper_rate:.1f} "
          f"({keeper_rate / exec_rate:.1f}x)")


def expert_episode(seed: int) -> bool:
    env = SWEEnv(split=None)
    try:
        env.reset(seed=seed)
        info: dict = {}
        for _ in range(4):
            _, _, terminated, _, info = env.step(env.expert_action())
            if terminated:
                break
        return bool(info.get("success"))
    finally:
        env.close()


def expert_episodes(n: int) -> None:
    start = time.perf_counter()
    sequential = [expert_episode(s) for s in range(n)]
    seq_time = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        concurrent = list(pool.map(expert_episode, range(n)))
    conc_time = time.perf_counter() - start
    print(f"{n} expert episodes: sequential {seq_time:.1f} s, concurrent {conc_time:.1f} s, "
          f"speed-up {seq_time / conc_time:.2f}x; solved {sum(sequential)}/{n} and "
          f"{sum(concurrent)}/{n}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resets", type=int, default=40, help="resets of each kind")
    parser.add_argument("--episodes", type=int, default=4, help="expert episodes (0: skip)")
    args = parser.parse_args()
    load_tasks(None)
    reset_latency(args.resets)
    commands_per_second(30)
    if args.episodes:
        expert_episodes(args.episodes)
    close_shared_pools()


if __name__ == "__main__":
    main()
