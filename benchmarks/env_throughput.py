"""Throughput of the text environments and the overhead of the rollout loop.

Three measurements:

1. **Environment steps/s and reset time** — for every registered environment of family
   ``text`` that can be made, under a random policy (uniform over ``admissible_actions()``) and
   the expert (``expert_action()``): ``env.step`` and ``env.reset`` are timed separately,
   single-threaded, pinned to one core; action selection is outside the timed regions. Targets
   (were wall-clock assertions in the tests): Sokoban ≥ 5,000 random steps/s; a TextWorld reset
   from the game cache < 2 s.
2. **Rollout overhead** — :func:`agentgym.core.rollout.collect` playing 64 concurrent Sokoban
   episodes with the expert, inline (``num_workers=0``) and with the default thread pool:
   wall time against the summed time inside ``env.step``/``reset`` and the policy.
3. **Concurrent steps** — 8 episodes × 3 turns of an environment whose step sleeps 50 ms, with
   ``num_workers=0`` (one step at a time) and 8: the speed-up (ideally 8×; the test suite proves
   the concurrency itself with a barrier).

Usage::

    python benchmarks/env_throughput.py            # full run (~1 min, TextWorld dominates)
    python benchmarks/env_throughput.py --quick    # CI smoke run (a few seconds)
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass

import numpy as np

import agentgym
from agentgym.core.env import TextEnv, optional_method
from agentgym.core.policies import ExpertPolicy
from agentgym.core.rollout import RolloutStats, collect


@dataclass
class StepResult:
    env_id: str
    policy: str
    steps: int
    episodes: int
    step_s: float
    success: int
    reset_s: float = 0.0

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.step_s if self.step_s > 0 else float("nan")

    @property
    def reset_ms(self) -> float:
        return 1e3 * self.reset_s / self.episodes if self.episodes else float("nan")


def pin_to_one_core() -> str:
    """Pin this process to one CPU (Linux); returns a description."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def time_steps(env_id: str, policy: str, max_steps: int, budget_s: float, seed0: int = 0
               ) -> StepResult:
    """Step ``env_id`` with ``policy`` until ``max_steps`` steps or ``budget_s`` wall seconds."""
    env = agentgym.make(env_id)
    rng = np.random.default_rng(seed0)
    admissible = optional_method(env, "admissible_actions")
    expert = optional_method(env, "expert_action")
    if policy == "expert" and expert is None:
        raise RuntimeError(f"{env_id} has no expert_action")
    steps = episodes = success = 0
    step_ns = reset_ns = 0
    deadline = time.perf_counter() + budget_s
    perf_ns = time.perf_counter_ns
    try:
        while steps < max_steps and time.perf_counter() < deadline:
            t0 = perf_ns()
            env.reset(seed=seed0 + episodes)
            reset_ns += perf_ns() - t0
            episodes += 1
            done = False
            while not done and steps < max_steps:
                if policy == "expert":
                    action = expert()
                else:
                    actions = admissible() if admissible is not None else []
                    action = (actions[int(rng.integers(len(actions)))] if actions
                              else env.action_space.sample())
                t0 = perf_ns()
                _, _, terminated, truncated, info = env.step(action)
                step_ns += perf_ns() - t0
                steps += 1
                done = terminated or truncated
                success += bool(done and info.get("success", False))
    finally:
        env.close()
    return StepResult(env_id, policy, steps, episodes, step_ns / 1e9, success, reset_ns / 1e9)


def rollout_overhead(n_episodes: int, num_workers: int | None) -> tuple[RolloutStats, int]:
    """Collect ``n_episodes`` Sokoban episodes with the expert; returns stats and successes."""
    stats = RolloutStats()
    episodes = collect("agentgym/Sokoban-v0", ExpertPolicy(), tasks=range(n_episodes),
                       num_workers=num_workers, stats=stats)
    return stats, sum(e.success for e in episodes)


def cached_reset_ms(env_id: str, seeds: range) -> float:
    """Mean ms of ``reset(seed)`` once every seed's task is cached (one warm-up reset each)."""
    env = agentgym.make(env_id)
    try:
        for seed in seeds:
            env.reset(seed=seed)
        t0 = time.perf_counter()
        for seed in seeds:
            env.reset(seed=seed)
        return 1e3 * (time.perf_counter() - t0) / len(seeds)
    finally:
        env.close()


class _SleepyEnv(TextEnv):
    """Counts to 3; every step sleeps ``sleep_s`` (an environment waiting on I/O)."""

    def __init__(self, sleep_s: float = 0.05) -> None:
        super().__init__()
        self.sleep_s = sleep_s

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.n = 0
        return "0", self.reset_info(task_id=str(seed), instruction="count", state_key="0")

    def expert_action(self) -> str:
        return "inc"

    def step(self, action):
        time.sleep(self.sleep_s)
        self.n += 1
        done = self.n == 3
        return str(self.n), float(done), done, False, self.step_info(
            state_key=str(self.n), action_valid=True, reward_parts={"goal": float(done)},
            success=done)


def concurrency_speedup(episodes: int = 8) -> tuple[float, float]:
    """Wall seconds of ``episodes`` sleepy episodes with 0 and with ``episodes`` workers."""
    env_id = "benchmark/Sleepy-v0"
    agentgym.register(env_id, entry_point=_SleepyEnv, max_episode_steps=5)
    walls = []
    try:
        for workers in (0, episodes):
            t0 = time.perf_counter()
            collect(env_id, ExpertPolicy(), tasks=range(episodes), num_workers=workers)
            walls.append(time.perf_counter() - t0)
    finally:
        agentgym.registry.pop(env_id, None)
    return walls[0], walls[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small budgets, for CI smoke runs")
    parser.add_argument("--steps", type=int, default=None, help="max steps per env and policy")
    parser.add_argument("--budget", type=float, default=None, help="max seconds per env/policy")
    parser.add_argument("--rollout-episodes", type=int, default=64)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    args = parser.parse_args()
    max_steps = args.steps or (2_000 if args.quick else 50_000)
    budget = args.budget or (1.0 if args.quick else 10.0)
    pinned = "not pinned" if args.no_pin else pin_to_one_core()
    print(f"# env throughput — {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {pinned}, max {max_steps} steps / {budget:g} s")

    print("\n| environment | policy | steps | episodes | solved | env.step time (s) | steps/s | "
          "reset (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    targets = []
    skipped = []
    for env_id, env_spec in sorted(agentgym.registry.items()):
        if env_spec.family != "text":
            continue
        for policy in ("random", "expert"):
            try:
                r = time_steps(env_id, policy, max_steps, budget)
            except Exception as exc:  # report what cannot run and go on
                skipped.append(f"{env_id} ({policy}): {type(exc).__name__}: {exc}")
                continue
            print(f"| {env_id} | {policy} | {r.steps} | {r.episodes} | {r.success} | "
                  f"{r.step_s:.3f} | {r.steps_per_s:,.0f} | {r.reset_ms:,.2f} |")
            if env_id == "agentgym/Sokoban-v0" and policy == "random":
                ok = "OK" if r.steps_per_s >= 5_000 else "BELOW TARGET"
                targets.append(f"Sokoban random steps/s {r.steps_per_s:,.0f} (≥ 5,000): {ok}")
    if "agentgym/TextWorld-v0" in agentgym.registry:
        ms = cached_reset_ms("agentgym/TextWorld-v0", seeds=range(3))
        ok = "OK" if ms < 2_000 else "BELOW TARGET"
        targets.append(f"TextWorld reset with the game cached {ms:,.1f} ms (< 2,000): {ok}")
    for line in targets:
        print(f"\ntarget: {line}")
    for line in skipped:
        print(f"\nnot measured: {line}")

    n = 16 if args.quick else args.rollout_episodes
    print(f"\n## rollout overhead: collect(Sokoban, expert, {n} concurrent episodes)\n")
    print("| num_workers | episodes solved | steps | wall (s) | env step sum (s) | "
          "env reset sum (s) | policy (s) | waves | wall / env-step sum | overhead µs/step |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    collect("agentgym/Sokoban-v0", ExpertPolicy(), tasks=[0], num_workers=0)  # warm-up imports
    for workers in (0, None):
        stats, solved = rollout_overhead(n, workers)
        per_step = stats.overhead_s / max(stats.steps, 1) * 1e6
        label = "0 (inline)" if workers == 0 else f"default ({min(32, n)} threads)"
        print(f"| {label} | {solved}/{n} | {stats.steps} | {stats.wall_s:.3f} | "
              f"{stats.env_step_s:.3f} | {stats.env_reset_s:.3f} | {stats.policy_s:.3f} | "
              f"{stats.waves} | {stats.wall_s / max(stats.env_step_s, 1e-9):.1f} | "
              f"{per_step:.0f} |")

    serial, concurrent = concurrency_speedup()
    print("\n## concurrent steps: 8 episodes x 3 turns, step sleeps 50 ms\n")
    print("| num_workers | wall (s) | speed-up |")
    print("|---|---:|---:|")
    print(f"| 0 (one step at a time) | {serial:.2f} | 1.0× |")
    print(f"| 8 | {concurrent:.2f} | {serial / concurrent:.1f}× |")


if __name__ == "__main__":
    main()
