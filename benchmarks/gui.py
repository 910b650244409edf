"""GUI environment speed: MiniWoB++ step latency by action level and screenshot, episodes/s with
1 vs N concurrent pages, and the desktop (Xvfb + Tk) step latency. Usage::

    python benchmarks/gui.py                       # all parts
    python benchmarks/gui.py --steps 200 --concurrent 8 --episodes 48

Latency is the wall time of ``env.step`` (p50/p99 over ``--steps`` steps); the target for a MiniWoB
element action without screenshot is p50 < 50 ms. Every number comes from this one run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from agentgym.envs.gui.desktop.env import DesktopEnv
from agentgym.envs.gui.miniwob import pages
from agentgym.envs.gui.miniwob.env import MiniWoBEnv, MiniWoBExpertEnv


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def miniwob_latency(level: str, screenshot: bool, steps: int) -> list[float]:
    """Step latencies (ms) of checkbox clicks on click-checkboxes-large (clicks never end it)."""
    env = MiniWoBEnv("click-checkboxes-large", screenshot=screenshot, step_ms=100)
    times: list[float] = []
    seed = 0
    try:
        env.reset(seed=seed)
        while len(times) < steps:
            boxes = [el for el in env.elements if el["role"] == "checkbox"]
            box = boxes[len(times) % len(boxes)]
            if level == "element":
                action = f"click({box['id']})"
            else:
                x, y, w, h = box["box"]
                action = f"click({x + w // 2}, {y + h // 2})"
            start = time.perf_counter()
            _, _, terminated, _, info = env.step(action)
            times.append((time.perf_counter() - start) * 1000)
            assert info["action_valid"], info
            if terminated or len(times) % 50 == 0:  # (the task's own timer: 20 s virtual)
                seed += 1
                env.reset(seed=seed)
    finally:
        env.close()
    return times


def run_expert_episodes(env: MiniWoBExpertEnv, seeds: list[int]) -> int:
    solved = 0
    for seed in seeds:
        env.reset(seed=seed)
        for _ in range(10):
            _, _, terminated, _, info = env.step(env.expert_action())
            if terminated:
                solved += int(info["success"])
                break
    return solved


def episodes_per_second(concurrent: int, episodes: int, task: str) -> tuple[float, int]:
    """Expert episodes/s of ``task`` with ``concurrent`` envs (pages), each in its own thread."""
    envs = [MiniWoBExpertEnv(task, screenshot=True) for _ in range(concurrent)]
    for env in envs:  # warm: the page exists before timing
        env.reset(seed=10_000)
    shares = [list(range(i, episodes, concurrent)) for i in range(concurrent)]
    solved = [0] * concurrent
    barrier = threading.Barrier(concurrent + 1)

    def worker(i: int) -> None:
        barrier.wait()
        solved[i] = run_expert_episodes(envs[i], shares[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrent)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    for env in envs:
        env.close()
    return episodes / wall, sum(solved)


def desktop_latency(app: str, steps: int) -> list[float]:
    """Step latencies (ms) of the expert's actions on a desktop app (screenshot included)."""
    env = DesktopEnv(app)
    times: list[float] = []
    seed = 0
    try:
        env.reset(seed=seed)
        while len(times) < steps:
            action = env.expert_action()
            start = time.perf_counter()
            _, _, terminated, _, _ = env.step(action)
            times.append((time.perf_counter() - start) * 1000)
            if terminated:
                seed += 1
                env.reset(seed=seed)
    finally:
        env.close()
    return times


def expert_success(seeds: int) -> dict[str, int]:
    """Episodes the MiniWoB expert solves per task of its subset, over seeds 0..seeds-1."""
    from agentgym.envs.gui.miniwob.expert import SOLVERS

    env = MiniWoBExpertEnv(sorted(SOLVERS), screenshot=False)
    solved = {}
    try:
        for task in sorted(SOLVERS):
            solved[task] = 0
            for seed in range(seeds):
                env.reset(seed=seed, options={"task": task})
                for _ in range(10):
                    _, _, terminated, _, info = env.step(env.expert_action())
                    if terminated:
                        solved[task] += int(info["success"])
                        break
    finally:
        env.close()
    return solved


def report(name: str, times: list[float]) -> tuple[float, float]:
    p50, p99 = statistics.median(times), percentile(times, 0.99)
    print(f"{name:48s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (n={len(times)})")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps per latency measurement")
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--task", default="enter-text", help="task for the episodes/s part")
    parser.add_argument("--expert-seeds", type=int, default=5, help="seeds per expert task")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["miniwob", "rate", "desktop", "expert"])
    args = parser.parse_args()

    if "miniwob" not in args.skip:
        print("MiniWoB++ step latency (click-checkboxes-large, Chromium):")
        results = {}
        for level in ("element", "coordinate"):
            for shot in (False, True):
                label = f"  {level} action, {'with' if shot else 'no'} screenshot"
                results[(level, shot)] = report(label, miniwob_latency(level, shot, args.steps))
        ratio = results[("element", True)][0] / results[("element", False)][0]
        print(f"  screenshot cost: x{ratio:.2f} on the element p50; target element/no-screenshot "
              f"p50 < 50 ms: {'met' if results[('element', False)][0] < 50 else 'NOT met'}")
    if "rate" not in args.skip:
        print(f"MiniWoB++ expert episodes/s ({args.task}, {args.episodes} episodes):")
        one, solved_one = episodes_per_second(1, args.episodes, args.task)
        many, solved_many = episodes_per_second(args.concurrent, args.episodes, args.task)
        print(f"  1 page : {one:6.2f} episodes/s ({solved_one}/{args.episodes} solved)")
        print(f"  {args.concurrent} pages: {many:6.2f} episodes/s ({solved_many}/{args.episodes} "
              f"solved)   x{many / one:.2f}")
    if "desktop" not in args.skip:
        print("Desktop step latency (Xvfb + Tk, expert actions, screenshot included):")
        for app in ("form", "settings", "list"):
            report(f"  {app}", desktop_latency(app, args.steps))
    if "expert" not in args.skip:
        solved = expert_success(args.expert_seeds)
        full = [t for t, n in solved.items() if n == args.expert_seeds]
        print(f"MiniWoB++ expert: {sum(solved.values())}/{len(solved) * args.expert_seeds} "
              f"episodes solved; {len(full)}/{len(solved)} tasks solved on every seed "
              f"0-{args.expert_seeds - 1}")
        for task, n in solved.items():
            if n < args.expert_seeds:
                print(f"  {task}: {n}/{args.expert_seeds}")
    pages.drain()


if __name__ == "__main__":
    main()
