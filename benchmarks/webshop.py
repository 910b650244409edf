"""WebShop benchmarks: search latency, step latency (text and browser), concurrent episodes.

Measurements:

1. **Catalog and index build** and **BM25 search latency** (p50/p99 over goal queries) on
   generated catalogs of 10k and 100k products (search only, no HTTP).
2. **Text-mode step latency**: ``WebShopEnv.step`` with the expert (an HTTP round trip to the
   loopback shop plus HTML parsing), p50/p99 over all steps.
3. **Browser-mode step latency**: ``WebShopBrowserEnv.step`` (real input in Chromium, DOM read
   back, screenshot, accessibility tree), p50/p99.
4. **Episodes/s**: expert episodes played sequentially by one environment vs by 32 environments
   at once (one thread each, as the rollout's thread pool steps them), text mode, and browser
   mode with 8 concurrent pages.

Usage::

    python benchmarks/webshop.py            # full run (~4 min on 2 busy cores)
    python benchmarks/webshop.py --quick    # smoke run (~70 s)
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from agentgym.envs.web.webshop.browser_env import WebShopBrowserEnv
from agentgym.envs.web.webshop.catalog import generate_catalog
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.envs.web.webshop.search import SearchEngine


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    quick = args.quick
    print(
        f"# WebShop benchmarks ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, python {platform.python_version()})"
    )

    sizes = [10_000] if quick else [10_000, 100_000]
    for n in sizes:
        r = bench_search(n, 200 if quick else 1000)
        print(
            f"search n={n}: generate {r['gen_s']:.2f} s, index {r['index_s']:.2f} s, "
            f"query p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
        )

    text = lambda: WebShopEnv(split="test")  # noqa: E731
    r = bench_steps(text, 20 if quick else 100)
    print(
        f"text step: {r['steps']} steps, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
        f"mean reward {r['mean_reward']:.2f}"
    )

    browser = lambda: WebShopBrowserEnv(split="test")  # noqa: E731
    r = bench_steps(browser, 3 if quick else 15)
    print(
        f"browser step (800x600): {r['steps']} steps, p50 {r['p50_ms']:.1f} ms, "
        f"p99 {r['p99_ms']:.1f} ms, mean reward {r['mean_reward']:.2f}"
    )

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


if __name__ == "__main__":
    main()
