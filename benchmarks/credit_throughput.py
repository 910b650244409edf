"""Throughput of the vectorized credit methods against the plain per-row loop reference.

Batch: 100 tasks × 8 episodes × ~1,250 turns (uniform 1,000–1,500) ≈ 1,000,000 rows, 50 anchor
states and 6 actions per task (so states repeat across and within episodes), sparse rewards,
rows shuffled; CAST gets random solver distances (some unknown or unreachable), HiPER random
critic values with a subgoal switch on ~30% of the turns. Each vectorized method is timed on the
full batch (best of ``--repeats``). The loop reference (``tests/credit/reference.py``) is timed
on a subsample of whole task groups and extrapolated linearly to the full row count (every
reference is linear in rows per group at a fixed episode length); the output says so. A last
line times CAST's ``goal_distances``, the Python pass that reads the distances from Episode
objects' info dicts, against its loop reference.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/credit_throughput.py
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agentgym import credit
from agentgym.core.trajectory import Episode, StepBatch, Turn, stable_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "credit"))
import reference as ref


def make_batch(n_tasks: int, group_size: int, seed: int = 0) -> tuple[StepBatch, dict]:
    rng = np.random.default_rng(seed)
    n_episodes = n_tasks * group_size
    lengths = rng.integers(1_000, 1_501, size=n_episodes)
    ep = np.repeat(np.arange(n_episodes), lengths)
    n = len(ep)
    t = np.arange(n) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    group = ep // group_size
    state_table = np.array([stable_hash(f"room {i}") for i in range(50 * n_tasks)])
    state = state_table[group * 50 + rng.integers(0, 50, size=n)]
    action = rng.integers(0, 6, size=n)
    reward = np.where(rng.random(n) < 0.01, 1.0, 0.0)
    outcome = rng.choice([0.0, 1.0], size=n_episodes)[ep]
    order = rng.permutation(n)
    done = np.r_[ep[1:] != ep[:-1], True]
    batch = StepBatch(
        group=group[order], episode=ep[order], t=t[order], reward=reward[order],
        done=done[order], state=state[order], action=action[order],
        valid=np.ones(n, bool), outcome=outcome[order],
        reward_parts={"correct": outcome[order], "tool": reward[order] * 0.5},
    )
    # CAST: a solver distance before and after each turn (5% unknown, 2% unreachable after).
    before = rng.integers(0, 30, size=n).astype(float)
    after = np.clip(before + rng.choice([-1.0, 0.0, 1.0], size=n), 0, None)
    before[rng.random(n) < 0.05] = np.nan
    after[rng.random(n) < 0.02] = np.inf
    # HiPER: critic values per turn, a subgoal switch on ~30% of the turns.
    switch = rng.random(n) < 0.3
    extras = {
        "beliefs": np.log(rng.uniform(0.05, 0.95, size=n)),
        "step": rng.normal(size=n),
        "next_obs": np.where(rng.random(n) < 0.2, "Nothing happens.", "ok").astype(object),
        "before": before[order],
        "after": after[order],
        "v_low": rng.normal(size=n)[order],
        "v_high": rng.normal(size=n)[order],
        "switch": switch[order],
    }
    return batch, extras


def methods(batch: StepBatch, x: dict) -> dict[str, tuple[Callable, Callable]]:
    """name → (fast call, reference call)."""
    gates = [(None, 1.0)]
    return {
        "discounted_returns": (
            lambda: credit.discounted_returns(batch.reward, batch.episode, batch.t, 0.95),
            lambda: ref.returns(batch, 0.95)),
        "grpo": (lambda: credit.grpo(batch), lambda: ref.grpo(batch)),
        "drgrpo": (lambda: credit.drgrpo(batch), lambda: ref.grpo(batch, norm="mean")),
        "rloo": (lambda: credit.rloo(batch), lambda: ref.rloo(batch)),
        "mc_grpo": (lambda: credit.mc_grpo(batch), lambda: ref.mc_grpo(batch)),
        "gdpo": (lambda: credit.gdpo(batch), lambda: ref.gdpo(batch, ["correct", "tool"])),
        "gigpo": (lambda: credit.gigpo(batch, gamma=0.95, norm="mean_std"),
                  lambda: ref.gigpo(batch, 0.95, norm="mean_std")),
        "gigpo[verl-agent]": (
            lambda: credit.gigpo(batch, gamma=0.95, preset="verl-agent"),
            lambda: ref.gigpo(batch, 0.95, episode_stats="rows")),
        "salt": (lambda: credit.salt(batch),
                 lambda: ref.salt(batch, credit.grpo(batch))),
        "igpo": (lambda: credit.igpo(batch, beliefs=x["beliefs"]),
                 lambda: ref.igpo(batch, x["beliefs"])),
        "oprl": (lambda: credit.oprl(batch, step_rewards=x["step"]),
                 lambda: ref.oprl(batch, x["step"])),
        "gated": (lambda: credit.gated(batch, gates=gates, step_parts=["tool"]),
                  lambda: ref.gated(batch, gates, ["tool"])),
        "spa": (lambda: credit.spa(batch, contributions=x["step"], next_observation=x["next_obs"]),
                lambda: ref.spa(batch, x["step"], x["next_obs"])),
        "progrm": (lambda: credit.progrm(batch), lambda: ref.progrm(batch)),
        "cast": (lambda: credit.cast(batch, distance=x["before"], next_distance=x["after"]),
                 lambda: ref.cast(batch, credit.grpo(batch), x["before"], x["after"])),
        "graphgpo": (lambda: credit.graphgpo(batch),
                     lambda: ref.graphgpo(batch, credit.grpo(batch))),
        "hiper": (lambda: credit.hiper(batch, v_low=x["v_low"], v_high=x["v_high"],
                                       switch=x["switch"]),
                  lambda: ref.hiper(batch, x["v_low"], x["v_high"], x["switch"])["low"]),
    }


def time_goal_distances(n_rows: int, repeats: int) -> None:
    """CAST's extraction pass: the distances read from ``n_rows`` turns' info dicts."""
    rng = np.random.default_rng(1)
    episodes, rows = [], 0
    while rows < n_rows:
        length = int(rng.integers(10, 60))
        turns = [Turn(observation="", action="up", info={"distance_to_goal": float(d)})
                 for d in rng.integers(0, 30, size=length)]
        episodes.append(Episode(env_id="toy", task_id="t", group_id=f"g{len(episodes) // 8}",
                                episode_id=str(len(episodes)), seed=0, turns=turns,
                                info={"distance_to_goal": 20}))
        rows += length
    batch = StepBatch.from_episodes(episodes)
    fast = best_of(lambda: credit.goal_distances(batch), repeats)
    start = time.perf_counter()
    ref.goal_distances(batch)
    slow = time.perf_counter() - start
    print(f"{'goal_distances':<20}{fast:>12.3f}{len(batch) / fast:>14,.0f}{slow:>13.2f}"
          f"{'':>16}{slow / fast:>9.1f}x   (on {len(batch):,} rows of Episode objects: a "
          "Python pass over the info dicts, like StepBatch.from_episodes)")


def best_of(fn: Callable, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--ref-tasks", type=int, default=2,
                        help="task groups in the reference subsample")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="method names to run")
    parser.add_argument("--extraction-rows", type=int, default=200_000,
                        help="turns of Episode objects for the goal_distances extraction timing")
    args = parser.parse_args()

    batch, extras = make_batch(args.tasks, args.group_size)
    keep = batch.group < args.ref_tasks
    sub = StepBatch(
        group=batch.group[keep], episode=batch.episode[keep], t=batch.t[keep],
        reward=batch.reward[keep], done=batch.done[keep], state=batch.state[keep],
        action=batch.action[keep], valid=batch.valid[keep], outcome=batch.outcome[keep],
        reward_parts={k: v[keep] for k, v in batch.reward_parts.items()},
    )
    sub_extras = {k: v[keep] for k, v in extras.items()}
    scale = len(batch) / len(sub)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"batch: {len(batch):,} rows = {args.tasks} tasks x {args.group_size} episodes x "
          f"~{len(batch) // (args.tasks * args.group_size):,} turns; "
          f"{len(np.unique(batch.state)):,} distinct states")
    print(f"reference: plain Python loops timed on {len(sub):,} rows ({args.ref_tasks} whole "
          f"tasks) and extrapolated linearly x{scale:.1f} to {len(batch):,} rows")
    print()
    print(f"{'method':<20}{'fast 1M (s)':>12}{'rows/s':>14}{'ref sub (s)':>13}"
          f"{'ref 1M est (s)':>16}{'speedup':>10}")
    fast_calls = methods(batch, extras)
    ref_calls = methods(sub, sub_extras)
    for name in fast_calls:
        if args.only and name not in args.only:
            continue
        fast = best_of(fast_calls[name][0], args.repeats)
        # Check agreement on the subsample while timing its reference.
        start = time.perf_counter()
        expected = ref_calls[name][1]()
        ref_time = time.perf_counter() - start
        got = ref_calls[name][0]()
        if isinstance(expected, tuple):  # the mc_grpo reference also returns its pivot mask
            expected = expected[0]
        err = float(np.max(np.abs(np.asarray(got) - np.asarray(expected, dtype=np.float64))))
        if err > 1e-9:
            raise SystemExit(f"{name}: fast and reference differ by {err:g}")
        ref_full = ref_time * scale
        print(f"{name:<20}{fast:>12.3f}{len(batch) / fast:>14,.0f}{ref_time:>13.2f}"
              f"{ref_full:>16.1f}{ref_full / fast:>9.0f}x")
    if not args.only or "goal_distances" in args.only:
        time_goal_distances(args.extraction_rows, args.repeats)


if __name__ == "__main__":
    main()
