"""BFCL env step latency, and the tool-call parser's cost against input size.

Plays the expert (ground-truth replay) on every test entry of each BFCL category and times each
``step`` by kind: a step with calls (parse, validate, BFCL executes), a turn-ending ``respond``
(ground truth executed, BFCL's state and response checkers), and the final ``respond`` (BFCL's
``multi_turn_checker`` over the whole episode); plus ``reset``. Then times
``parse_tool_calls`` on one call whose string argument is 1 kB, 10 kB, 100 kB and 1 MB long
(linear time shows as a constant time per character) and on 10k-deep nesting.

Usage::

    python benchmarks/bfcl.py
"""

from __future__ import annotations

import contextlib
import os
import platform
import time

import numpy as np


def ms(values: list[float]) -> str:
    arr = np.asarray(values) * 1e3
    return f"p50 {np.percentile(arr, 50):7.2f} ms  p99 {np.percentile(arr, 99):7.2f} ms  " \
           f"(n={len(arr)})"


def bench_env() -> None:
    from agentgym.envs.tool.bfcl.data import CATEGORIES
    from agentgym.envs.tool.bfcl.env import BFCLEnv

    for category in CATEGORIES:
        env = BFCLEnv(category=category, split="test")
        resets, calls, turn_ends, finals = [], [], [], []
        solved = 0
        for entry in env.entries:
            t0 = time.perf_counter()
            env.reset(options={"task_id": entry.id})
            resets.append(time.perf_counter() - t0)
            while True:
                action = env.expert_action()
                t0 = time.perf_counter()
                _, _, terminated, _, info = env.step(action)
                elapsed = time.perf_counter() - t0
                if terminated:
                    finals.append(elapsed)
                    solved += info["success"]
                    break
                (turn_ends if "turn_check" in info else calls).append(elapsed)
        env.close()
        print(f"\n{category}: expert {solved}/{len(env.entries)} under BFCL's checker")
        print(f"  reset              {ms(resets)}")
        print(f"  step with calls    {ms(calls)}")
        print(f"  respond (turn end) {ms(turn_ends)}")
        print(f"  respond (final)    {ms(finals)}")


def bench_parser() -> None:
    from agentgym.core.tool_calls import ToolCallError, parse_tool_calls

    tools = [{"name": "echo", "parameters": {"type": "object", "properties": {
        "content": {"type": "string"}}, "required": ["content"]}}]
    print("\nparse_tool_calls (one call, validated):")
    per_char = []
    for size in (1_000, 10_000, 100_000, 999_000):
        text = '<tool_call>{"name": "echo", "arguments": {"content": "' + "a" * size \
               + '"}}</tool_call>'
        limits_ok = size <= 100_000
        reps = max(3, 2_000_000 // size)
        t0 = time.perf_counter()
        for _ in range(reps):
            try:
                parse_tool_calls(text, tools)
            except ToolCallError:
                assert not limits_ok
        elapsed = (time.perf_counter() - t0) / reps
        per_char.append(elapsed / len(text))
        print(f"  {len(text):>9,} chars  {elapsed * 1e3:8.3f} ms  "
              f"{elapsed / len(text) * 1e9:6.2f} ns/char"
              + ("" if limits_ok else "  (refused: string over the 100k limit)"))
    print(f"  ns/char at 1 MB vs 10 kB: {per_char[-1] / per_char[1]:.2f}x")
    deep = "[" * 10_000 + "]" * 10_000
    t0 = time.perf_counter()
    for _ in range(100):
        with contextlib.suppress(ToolCallError):
            parse_tool_calls(deep)
    print(f"  10k-deep nesting refused in {(time.perf_counter() - t0) / 100 * 1e3:.3f} ms")


def main() -> None:
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    bench_env()
    bench_parser()


if __name__ == "__main__":
    main()
