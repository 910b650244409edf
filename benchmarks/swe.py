"""Benchmark the SWE environment's sandboxes.

    python benchmarks/swe.py [--episodes 8]

Measures: episode reset latency with the warm pool vs a cold container per episode, simple
commands per second, and 8 concurrent expert episodes (threads) vs the same run sequentially.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from agentgym.envs.swe.env import SWEEnv
from agentgym.envs.swe.tasks import load_tasks
from agentgym.sandboxes.docker import DockerSandbox, SandboxPool, close_shared_pools


def reset_latency(n: int, cold: bool) -> float:
    """Median seconds of ``env.reset`` (warm: pooled container; cold: a new one each time)."""
    times = []
    for i in range(n):
        pool = SandboxPool(size=0) if cold else None  # size 0: released containers are removed
        env = SWEEnv(split=None, pool=pool)
        start = time.perf_counter()
        env.reset(seed=i)
        times.append(time.perf_counter() - start)
        env.close()
    return statistics.median(times)


def commands_per_second(n: int) -> float:
    with DockerSandbox() as sandbox:
        sandbox.exec("true")
        start = time.perf_counter()
        for _ in range(n):
            sandbox.exec("echo hi")
        return n / (time.perf_counter() - start)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=8)
    args = parser.parse_args()
    load_tasks(None)
    SWEEnv(split=None).close()
    warm = reset_latency(args.episodes, cold=False)
    cold = reset_latency(args.episodes, cold=True)
    print(f"reset latency: warm pool {warm * 1000:.0f} ms, cold container {cold * 1000:.0f} ms, "
          f"cold/warm = {cold / warm:.2f}x")
    print(f"commands/s (echo, one sandbox): {commands_per_second(50):.1f}")
    start = time.perf_counter()
    sequential = [expert_episode(s) for s in range(args.episodes)]
    seq_time = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(args.episodes) as pool:
        concurrent = list(pool.map(expert_episode, range(args.episodes)))
    conc_time = time.perf_counter() - start
    print(f"{args.episodes} expert episodes: sequential {seq_time:.1f} s, concurrent "
          f"{conc_time:.1f} s, speed-up {seq_time / conc_time:.2f}x; solved "
          f"{sum(sequential)}/{len(sequential)} and {sum(concurrent)}/{len(concurrent)}")
    close_shared_pools()


if __name__ == "__main__":
    main()
