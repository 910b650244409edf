"""Throughput of the text environments and the overhead of the rollout loop.

Two measurements:

1. **Environment steps/s** — for every registered environment of family ``text`` that can be
   made, under a random policy (uniform over ``admissible_actions()``) and the expert
   (``expert_action()``): only ``env.step`` is timed, single-threaded, pinned to one core.
   Action selection and ``reset`` are outside the timed region.
2. **Rollout overhead** — :func:`agentgym.core.rollout.collect` playing 64 concurrent Sokoban
   episodes with the expert, inline (``num_workers=0``) and with the default thread pool:
   wall time against the summed time inside ``env.step``/``reset`` and the policy.

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

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.step_s if self.step_s > 0 else float("nan")


def pin_to_one_core() -> str:
    """Pin this process to one CPU (Linux); returns a description."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def _method(env, name: str):
    try:
        return env.get_wrapper_attr(name)
    except AttributeError:
        return getattr(env.unwrapped, name, None)


def time_steps(env_id: str, policy: str, max_steps: int, budget_s: float, seed0: int = 0
               ) -> StepResult:
    """Step ``env_id`` with ``policy`` until ``max_steps`` steps or ``budget_s`` wall seconds."""
    env = agentgym.make(env_id)
    rng = np.random.default_rng(seed0)
    admissible = _method(env, "admissible_actions")
    expert = _method(env, "expert_action")
    if policy == "expert" and expert is None:
        raise RuntimeError(f"{env_id} has no expert_action")
    steps = episodes = success = 0
    step_ns = 0
    deadline = time.perf_counter() + budget_s
    perf_ns = time.perf_counter_ns
    try:
        while steps < max_steps and time.perf_counter() < deadline:
            env.reset(seed=seed0 + episodes)
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
    return StepResult(env_id, policy, steps, episodes, step_ns / 1e9, success)


def rollout_overhead(n_episodes: int, num_workers: int | None) -> tuple[RolloutStats, int]:
    """Collect ``n_episodes`` Sokoban episodes with the expert; returns stats and successes."""
    stats = RolloutStats()
    episodes = collect("agentgym/Sokoban-v0", ExpertPolicy(), tasks=range(n_episodes),
                       num_workers=num_workers, stats=stats)
    return stats, sum(e.success for e in episodes)


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

    print("\n| environment | policy | steps | episodes | solved | env.step time (s) | steps/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
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
                  f"{r.step_s:.3f} | {r.steps_per_s:,.0f} |")
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


if __name__ == "__main__":
    main()
