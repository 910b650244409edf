r"""WebShop benchmarks: parsing, reward agreement, search, steps (text and browser), episodes/s.

Measurements:

1. **Action parsing** of adversarial inputs up to 1 MB: agentgym's linear parser
   (:func:`~agentgym.envs.web.webshop.actions.parse_original`, and a whole invalid
   ``WebShopEnv.step``) side by side with the original's regex ``re.match(r"(.+)\[(.+)\]")``,
   which is quadratic on inputs such as ``"a[" * n``.
2. **Reward agreement** on a sample of (goal, product, options, price) cases of the generated
   catalog: the default rules against a literal reading of the original ``get_reward`` with
   ``thefuzz`` (should be 100%), and against ``strict=True`` (agentgym 0.1); how often the right
   product with a wrong size or colour scores 1.0 under each; time per score.
3. **Catalog and index build** and **BM25 search latency** (p50/p99 over goal queries) on
   generated catalogs of 10k and 100k products (search only, no HTTP).
4. **Text-mode step latency**: ``WebShopEnv.step`` with the expert (an HTTP round trip to the
   loopback shop plus HTML parsing), p50/p99 over all steps.
5. **Browser-mode step latency**: ``WebShopBrowserEnv.step`` (real input in Chromium, DOM read
   back, screenshot, accessibility tree), p50/p99, and ``reset`` (a fresh browser context).
6. **Episodes/s**: expert episodes played sequentially by one environment vs by 32 environments
   at once (one thread each, as the rollout's thread pool steps them), text mode, and browser
   mode with 8 concurrent pages; the expert's success rate on all 500 test goals.

Usage::

    python benchmarks/webshop.py                  # full run (~6 min on 2 busy cores)
    python benchmarks/webshop.py --quick          # smoke run
    python benchmarks/webshop.py --only parse,reward
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from agentgym.envs.web.webshop.actions import parse_original
from agentgym.envs.web.webshop.browser_env import WebShopBrowserEnv
from agentgym.envs.web.webshop.catalog import generate_catalog
from agentgym.envs.web.webshop.colors import ORIGINAL_COLORS
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.envs.web.webshop.reward import get_reward, vocab_nouns
from agentgym.envs.web.webshop.search import SearchEngine

SECTIONS = ("parse", "reward", "search", "text", "browser", "episodes")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Fastest of ``repeats`` runs of ``fn``, in milliseconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000.0


# -- 1. parsing ------------------------------------------------------------------------------------
def bench_parse(quick: bool) -> None:
    original = re.compile(r"(.+)\[(.+)\]")
    inputs = {
        '"a[" * n': lambda n: "a[" * (n // 2),
        '"<action>" * n': lambda n: "<action>" * (n // 8),
        "nested brackets": lambda n: "click" + "[" * (n // 2) + "x" + "]" * (n // 2),
        "search[x * n]": lambda n: "search[" + "x" * n + "]",
    }
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 30_000)  # the regex is quadratic
    print("parse: agentgym parse_original vs the original's regex (ms, best of 3)")
    for label, make in inputs.items():
        row = []
        for n in sizes:
            text = make(n)
            ours = best_of(lambda text=text: parse_original(text))
            theirs = best_of(lambda text=text: original.match(text), repeats=1)
            row.append(f"n={n}: {ours:.3f} vs {theirs:.1f} ({theirs / max(ours, 1e-6):.0f}x)")
        print(f"  {label:18s} " + "; ".join(row))
    env = WebShopEnv(split="test")
    try:
        env.reset(seed=0)
        worst = 0.0
        for make in inputs.values():
            text = make(1_000_000)
            worst = max(worst, best_of(lambda text=text: parse_original(text)))
            worst = max(worst, best_of(lambda text=text: env.step(text)))
        print(f"  1 MB inputs: slowest parse or invalid step {worst:.2f} ms (bound: 50 ms)")
    finally:
        env.close()


# -- 2. reward agreement ---------------------------------------------------------------------------
def reference_score(product: dict, goal: dict, price: float, options: dict, nouns) -> float:
    """A literal reading of the original ``get_reward`` (thefuzz; type reward as agentgym's)."""
    from thefuzz import fuzz

    from agentgym.envs.web.webshop.reward import type_reward

    def norm(x: Any) -> Any:
        return next((c for c in ORIGINAL_COLORS if c in x), x)

    attrs = 0
    for g in goal["attributes"]:
        text = [product["Title"].lower(), " ".join(product["BulletPoints"]).lower()]
        text.append(product["Description"].lower())
        if any(fuzz.token_set_ratio(p, g) > 85 for p in product["Attributes"]) or any(
            g in t for t in text
        ):
            attrs += 1
    goal_options = goal["goal_options"]
    items = goal_options.items() if isinstance(goal_options, dict) else goal_options
    chosen = [norm(v) for v in options.values()]
    opts = sum(1 for g in map(norm, items) if any(fuzz.token_set_ratio(p, g) > 85 for p in chosen))
    r_price = price <= goal["price_upper"]
    total = (attrs + opts + r_price) / (len(goal["attributes"]) + len(goal_options) + 1)
    return total * type_reward(product, goal, nouns)["r_type"]


def bench_reward(quick: bool) -> None:
    catalog = generate_catalog(10_000, 0, 6_000)
    nouns = vocab_nouns(catalog.noun_vocab)
    rng = np.random.default_rng(0)
    by_query: dict[str, list[dict]] = {}
    for p in catalog.products:
        by_query.setdefault(p["query"], []).append(p)
    cases = []
    kinds = {"random option values": 0, "right product, wrong size": 0, "wrong colour": 0}
    for goal in catalog.goals[: 600 if quick else 3000]:
        target = catalog.by_asin[goal["asin"]]
        same = by_query[goal["query"]]
        for product in (target, same[int(rng.integers(len(same)))]):
            options = {k: v[int(rng.integers(len(v)))] for k, v in product["options"].items()}
            cases.append(("random option values", goal, product, options))
        for name, kind in (("size", "right product, wrong size"), ("color", "wrong colour")):
            wanted = goal["goal_options"].get(name)
            others = [v for v in target["options"].get(name, []) if v != wanted]
            if wanted is not None and others:
                options = {**goal["goal_options"], name: others[int(rng.integers(len(others)))]}
                cases.append((kind, goal, target, options))
    ones = {kind: [0, 0, 0] for kind in kinds}  # (cases, default 1.0, strict 1.0)
    agree_ref = agree_strict = 0
    t_default = t_strict = 0.0
    for kind, goal, product, options in cases:
        price = float(product["pricing"][0])
        t0 = time.perf_counter()
        ours = get_reward(product, goal, price, options, nouns)[0]
        t1 = time.perf_counter()
        strict = get_reward(product, goal, price, options, nouns, strict=True)[0]
        t2 = time.perf_counter()
        t_default += t1 - t0
        t_strict += t2 - t1
        agree_ref += abs(ours - reference_score(product, goal, price, options, nouns)) < 1e-12
        agree_strict += abs(ours - strict) < 1e-12
        ones[kind][0] += 1
        ones[kind][1] += ours == 1.0
        ones[kind][2] += strict == 1.0
    n = len(cases)
    print(f"reward: {n} (goal, product, options, price) cases of the generated catalog")
    print(f"  default vs literal original (thefuzz): {100 * agree_ref / n:.2f}% identical")
    print(f"  default vs strict=True (agentgym 0.1): {100 * agree_strict / n:.2f}% identical")
    for kind, (count, default_ones, strict_ones) in ones.items():
        if count:
            print(
                f"  {kind}: score 1.0 in {100 * default_ones / count:.1f}% (default) vs "
                f"{100 * strict_ones / count:.1f}% (strict) of {count}"
            )
    print(
        f"  time per score: {1e6 * t_default / n:.1f} us (default) vs "
        f"{1e6 * t_strict / n:.1f} us (strict)"
    )


def bench_search(n_products: int, n_queries: int) -> dict[str, float]:
    start = time.perf_counter()
    catalog = generate_catalog.__wrapped__(n_products, 0, min(n_queries, n_products))
    gen_s = time.perf_counter() - start
    start = time.perf_counter()
    engine = SearchEngine(catalog.products)
    index_s = time.perf_counter() - start
    times = []
    for goal in catalog.goals[:n_queries]:
        query = " ".join([*goal["attributes"], goal["query"], *goal["goal_options"].values()])
        t0 = time.perf_counter()
        engine.search(query)
        times.append(time.perf_counter() - t0)
    return {"gen_s": gen_s, "index_s": index_s, "p50_ms": pct(times, 50), "p99_ms": pct(times, 99)}


def play(env: WebShopEnv, goal_index: int, step_times: list[float] | None = None) -> float:
    env.reset(options={"goal_index": goal_index})
    reward = 0.0
    for _ in range(15):
        action = env.expert_action()
        t0 = time.perf_counter()
        _, reward, terminated, truncated, _ = env.step(action)
        if step_times is not None:
            step_times.append(time.perf_counter() - t0)
        if terminated or truncated:
            break
    return float(reward)


def bench_steps(make_env, n_episodes: int) -> dict[str, float]:
    env = make_env()
    try:
        play(env, 0)  # warm up (server, browser, imports)
        times: list[float] = []
        rewards = [play(env, i, times) for i in range(n_episodes)]
    finally:
        env.close()
    return {
        "steps": len(times),
        "p50_ms": pct(times, 50),
        "p99_ms": pct(times, 99),
        "mean_reward": float(np.mean(rewards)),
    }


def bench_concurrency(make_env, n_envs: int, n_episodes: int) -> dict[str, float]:
    keeper = make_env()
    keeper.reset(seed=0)
    try:
        env = make_env()
        play(env, 0)
        start = time.perf_counter()
        for i in range(n_episodes):
            play(env, i)
        sequential = n_episodes / (time.perf_counter() - start)
        env.close()

        envs = [make_env() for _ in range(n_envs)]
        with ThreadPoolExecutor(n_envs) as pool:
            list(pool.map(lambda e: e.reset(seed=0), envs))  # start drivers/pages
            per_env = max(1, n_episodes // n_envs)
            start = time.perf_counter()

            def run(k: int) -> None:
                for j in range(per_env):
                    play(envs[k], (k * per_env + j) % 500)

            list(pool.map(run, range(n_envs)))
            concurrent = per_env * n_envs / (time.perf_counter() - start)
        for e in envs:
            e.close()
    finally:
        keeper.close()
    return {"sequential_eps": sequential, "concurrent_eps": concurrent, "n_envs": n_envs}


def bench_reset(make_env, n: int) -> dict[str, float]:
    env = make_env()
    try:
        env.reset(seed=0)
        times = []
        for i in range(n):
            t0 = time.perf_counter()
            env.reset(seed=i)
            times.append(time.perf_counter() - t0)
    finally:
        env.close()
    return {"p50_ms": pct(times, 50), "p99_ms": pct(times, 99)}


def bench_isolation_cost(n: int) -> dict[str, float]:
    """Start of an episode in the browser, side by side: the same page reused (agentgym 0.1,
    which leaks state between episodes) vs a page in a fresh context (load the start page and
    take the screenshot in both)."""
    from agentgym.sandboxes.browser import BrowserSandbox

    env = WebShopEnv(split="test")
    env.reset(seed=0)
    server = env._server
    reused, fresh = [], []
    try:
        with BrowserSandbox() as sandbox:
            page = sandbox.new_page()
            page.goto(server.start_url("w" * 32, 0))
            for i in range(n):
                t0 = time.perf_counter()
                page.goto(server.start_url(f"{i:032x}", i))
                page.screenshot()
                reused.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                page.release()
                page = sandbox.new_page()
                page.goto(server.start_url(f"{i + n:032x}", i))
                page.screenshot()
                fresh.append(time.perf_counter() - t0)
            page.release()
    finally:
        env.close()
    return {
        "reused_p50": pct(reused, 50),
        "fresh_p50": pct(fresh, 50),
        "reused_p99": pct(reused, 99),
        "fresh_p99": pct(fresh, 99),
    }


def bench_expert_test_split() -> tuple[float, float]:
    """(success rate, episodes/s) of the expert on all 500 test goals, 8 threads."""

    def run(indices: range) -> list[float]:
        env = WebShopEnv(split="test")
        try:
            return [play(env, i) for i in indices]
        finally:
            env.close()

    keeper = WebShopEnv(split="test")
    keeper.reset(seed=0)
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            rewards = [
                r for chunk in pool.map(run, [range(k, 500, 8) for k in range(8)]) for r in chunk
            ]
        elapsed = time.perf_counter() - start
    finally:
        keeper.close()
    return float(np.mean([r == 1.0 for r in rewards])), len(rewards) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    args = parser.parse_args()
    quick = args.quick
    only = set(args.only.split(","))
    print(
        f"# WebShop benchmarks ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, python {platform.python_version()})"
    )
    if "parse" in only:
        bench_parse(quick)
    if "reward" in only:
        bench_reward(quick)
    if "search" in only:
        for n in [10_000] if quick else [10_000, 100_000]:
            r = bench_search(n, 200 if quick else 1000)
            print(
                f"search n={n}: generate {r['gen_s']:.2f} s, index {r['index_s']:.2f} s, "
                f"query p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
            )
    text = lambda: WebShopEnv(split="test")  # noqa: E731
    browser = lambda: WebShopBrowserEnv(split="test")  # noqa: E731
    if "text" in only:
        r = bench_steps(text, 20 if quick else 100)
        print(
            f"text step: {r['steps']} steps, p50 {r['p50_ms']:.2f} ms, "
            f"p99 {r['p99_ms']:.2f} ms, mean reward {r['mean_reward']:.2f}"
        )
    if "browser" in only:
        r = bench_steps(browser, 3 if quick else 15)
        print(
            f"browser step (800x600): {r['steps']} steps, p50 {r['p50_ms']:.1f} ms, "
            f"p99 {r['p99_ms']:.1f} ms, mean reward {r['mean_reward']:.2f}"
        )
        r = bench_reset(browser, 5 if quick else 30)
        print(f"browser reset (fresh context): p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
        r = bench_isolation_cost(5 if quick else 20)
        print(
            f"episode start, page reused vs fresh context: p50 {r['reused_p50']:.1f} vs "
            f"{r['fresh_p50']:.1f} ms ({r['fresh_p50'] / r['reused_p50']:.2f}x), p99 "
            f"{r['reused_p99']:.1f} vs {r['fresh_p99']:.1f} ms"
        )
    if "episodes" in only:
        r = bench_concurrency(text, 32, 64 if quick else 256)
        print(
            f"text episodes/s: sequential {r['sequential_eps']:.1f}, "
            f"{r['n_envs']} concurrent {r['concurrent_eps']:.1f}"
        )
        r = bench_concurrency(browser, 8, 8 if quick else 32)
        print(
            f"browser episodes/s: sequential {r['sequential_eps']:.2f}, "
            f"{r['n_envs']} concurrent {r['concurrent_eps']:.2f}"
        )
        if not quick:
            rate, eps = bench_expert_test_split()
            print(f"expert on the 500 test goals: success {100 * rate:.1f}%, {eps:.1f} episodes/s")


if __name__ == "__main__":
    main()
