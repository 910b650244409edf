"""Worst-case time of the action parsers on adversarial model output, up to 1 MB.

Every parser in :mod:`agentgym.core.wrappers` — the ``<action>`` parser, the JSON tool-call
parser, ``render_action(..., "json")`` and the whole :class:`~agentgym.core.wrappers.ActionParser`
step on a no-op environment — is timed on inputs built to hit a parser's worst case (unclosed
tags repeated, nested JSON 10,000+ deep, thousands of near-miss objects, unterminated strings and
fences, lone surrogates, NUL bytes …) at 1 kB, 16 kB, 128 kB and 1 MB. The slowest case per
parser and the overall worst are printed against the target of 50 ms for any input of ≤ 1 MB.

The regex parsers agentgym used before (``tests/core/reference_parsers.py``: the non-greedy
``<action>(.*?)</action>`` scan and ``raw_decode`` from every ``{``) are timed on the same inputs,
side by side (``--no-baseline`` skips them); a case that takes longer than ``--cutoff`` seconds is
not run at larger sizes.

Usage::

    python benchmarks/parsers.py            # full run
    python benchmarks/parsers.py --quick    # sizes up to 128 kB, CI smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentgym.core.env import TextEnv
from agentgym.core.wrappers import (
    ActionParser,
    ParseError,
    parse_json_tool_call,
    parse_xml_action,
    render_action,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))
import reference_parsers as old

SIZES = (1_000, 16_000, 128_000, 1_000_000)
TARGET_S = 0.050


def _fill(unit: str, n: int) -> str:
    return unit * max(1, n // len(unit))


#: Adversarial inputs by name: each builds a string of about ``n`` characters.
CASES: dict[str, Callable[[int], str]] = {
    "<action> repeated": lambda n: _fill("<action>", n),
    "<ACTION>x repeated": lambda n: _fill("<ACTION>x", n),
    "</action> repeated": lambda n: _fill("</action>", n),
    "many complete actions": lambda n: _fill("<action>up</action> ", n),
    "<tool_call> repeated": lambda n: _fill("<tool_call>", n),
    "<tool_call>{ repeated": lambda n: _fill('<tool_call>{"', n),
    "``` fence + whitespace": lambda n: "```json" + " " * n,
    "``` repeated": lambda n: _fill("```", n),
    "{ repeated": lambda n: _fill("{", n),
    '{" repeated': lambda n: _fill('{"', n),
    '{"a": nested': lambda n: _fill('{"a":', n),
    "[ nested in an object": lambda n: '{"a":' + _fill("[", n),
    "nested then closed": lambda n: _fill('{"a":', n // 2) + "1" + _fill("}", n // 10),
    '{"a":1, unclosed': lambda n: _fill('{"a":1,', n),
    "near-miss objects": lambda n: _fill('{"a":1} ', n),
    "failing objects": lambda n: _fill('{"a":} ', n),
    "tool-call shaped, broken": lambda n: _fill('{"name":"x","arguments":{"a":1}, ', n),
    "unterminated string": lambda n: '{"a": "' + _fill("x{", n),
    "escaped quotes": lambda n: '{"a": "' + _fill('\\"', n),
    "long valid call": lambda n: json.dumps({"name": "bash", "arguments": {"cmd": "x" * n}}),
    "NaN / Infinity": lambda n: _fill('{"name": "t", "arguments": {"t": NaN}} ', n),
    "400-digit integers": lambda n: _fill('{"name":"t","arguments":{"t":' + "9" * 400 + "}} ", n),
    "5000-digit integer": lambda n: '{"name":"t","arguments":{"t":' + "9" * max(n, 5000) + "}}",
    "lone surrogates": lambda n: _fill("\ud800", n),
    "NUL bytes": lambda n: _fill("\x00", n),
    "random printable": lambda n: _random_text(n),
}


def _random_text(n: int) -> str:
    import random

    rng = random.Random(0)
    alphabet = '<>/{}[]":,\\ `actionoolcal_nme\n' + "abcxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


class _NoOp(TextEnv):
    """An environment whose step does nothing, so the wrapper's own cost is timed."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "ok", self.reset_info(task_id="0", instruction="", state_key="0")

    def step(self, action):
        return "ok", 0.0, False, False, self.step_info(
            state_key="0", action_valid=bool(action), reward_parts={}
        )


def _wrapper(action_format: str) -> Callable[[str], Any]:
    env = ActionParser(_NoOp(), action_format)
    env.reset()
    return env.step


def time_one(parse: Callable[[str], Any], text: str, repeats: int, cutoff: float
             ) -> tuple[float, str]:
    """Best wall time of up to ``repeats`` calls (one when it exceeds ``cutoff``) and what the
    call did: ``ok``, ``ParseError`` or ``raised X`` for an exception that escaped."""
    best = float("inf")
    outcome = "ok"
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            parse(text)
        except ParseError:
            outcome = "ParseError"
        except Exception as exc:  # an escaping exception is a finding: report it
            outcome = f"raised {type(exc).__name__}"
        best = min(best, time.perf_counter() - t0)
        if best > cutoff:
            break
    return best, outcome


def time_cases(parse: Callable[[str], Any], sizes: tuple[int, ...], repeats: int,
               cutoff: float) -> dict[str, list[tuple[int, float, str]]]:
    """``{case: [(characters, seconds, outcome), ...]}``; a case slower than ``cutoff`` at one
    size is not run at the larger ones."""
    results: dict[str, list[tuple[int, float, str]]] = {}
    for case, build in CASES.items():
        rows = results[case] = []
        for size in sizes:
            text = build(size)
            seconds, outcome = time_one(parse, text, repeats, cutoff)
            rows.append((len(text), seconds, outcome))
            if seconds > cutoff:
                break
    return results


def _cell(rows: list[tuple[int, float, str]], i: int) -> str:
    if i >= len(rows):
        return "skipped"
    _, seconds, outcome = rows[i]
    mark = f" ({outcome})" if outcome.startswith("raised") else ""
    return f"{seconds * 1e3:,.2f}{mark}"


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--quick", action="store_true", help="sizes up to 128 kB")
    cli.add_argument("--no-baseline", action="store_true", help="skip the old regex parsers")
    cli.add_argument("--cutoff", type=float, default=1.0,
                     help="seconds after which larger sizes of a case are skipped")
    cli.add_argument("--repeats", type=int, default=3)
    args = cli.parse_args()
    sizes = SIZES[:-1] if args.quick else SIZES
    parsers: dict[str, Callable[[str], Any]] = {
        "parse_xml_action": parse_xml_action,
        "parse_json_tool_call": parse_json_tool_call,
        'render_action(., "json")': lambda text: render_action(text, "json"),
        "ActionParser(xml).step": _wrapper("xml"),
        "ActionParser(json).step": _wrapper("json"),
    }
    baselines: dict[str, Callable[[str], Any]] = {}
    if not args.no_baseline:
        baselines = {"parse_xml_action": old.parse_xml_action,
                     "parse_json_tool_call": old.parse_json_tool_call}
    print(f"# parser worst cases — {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, best of {args.repeats}, times in ms "
          f"(cases slower than {args.cutoff:g} s are skipped at larger sizes)\n")
    header = " | ".join(f"{s:,} chars" for s in sizes)
    print(f"| parser | case | {header} | outcome |")
    print("|---|---|" + "---:|" * len(sizes) + "---|")
    worst: tuple[float, str, str, int] = (0.0, "", "", 0)
    escaped: list[str] = []
    measured: dict[str, dict[str, list[tuple[int, float, str]]]] = {}
    for name, parse in parsers.items():
        measured[name] = results = time_cases(parse, sizes, args.repeats, args.cutoff)
        for case, rows in results.items():
            cells = " | ".join(_cell(rows, i) for i in range(len(sizes)))
            print(f"| {name} | {case} | {cells} | {rows[-1][2]} |")
            for chars, seconds, outcome in rows:
                worst = max(worst, (seconds, name, case, chars))
                if outcome.startswith("raised"):
                    escaped.append(f"{name} on {case!r} ({chars:,} chars): {outcome}")
    if baselines:
        print("\n## side by side with the old regex parsers (largest size both ran)\n")
        print("| parser | case | characters | old (ms) | new (ms) | old / new |")
        print("|---|---|---:|---:|---:|---:|")
        for name, baseline in baselines.items():
            for case, old_rows in time_cases(baseline, sizes, 1, args.cutoff).items():
                i = min(len(old_rows), len(measured[name][case])) - 1
                chars, old_s, old_outcome = old_rows[i]
                new_s = measured[name][case][i][1]
                note = f" ({old_outcome})" if old_outcome.startswith("raised") else ""
                print(f"| {name} | {case} | {chars:,} | {old_s * 1e3:,.2f}{note} | "
                      f"{new_s * 1e3:,.2f} | {old_s / max(new_s, 1e-9):,.1f}× |")
    seconds, name, case, chars = worst
    verdict = "OK" if seconds <= TARGET_S and not escaped else "FAIL"
    print(f"\nworst case: {name} on {case!r} ({chars:,} characters): {seconds * 1e3:.2f} ms "
          f"(target ≤ {TARGET_S * 1e3:.0f} ms for any input ≤ 1 MB): {verdict}")
    for line in escaped:
        print(f"exception escaped: {line}")


if __name__ == "__main__":
    main()
