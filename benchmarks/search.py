"""SearchQA: corpus build time and BM25 search latency on 20k and 200k generated articles.

For each corpus size the script builds the encyclopedia from scratch (world, questions, BM25
index; no cache), saves it and loads it back from disk (what a later run does), then times
``Corpus.search(query, k=5)`` on 2,000 queries — half entity names (what the expert searches),
half whole question texts (long queries) — and the env's whole ``step`` for a search call
(parse + search + formatting). Prints p50/p99 per size and the 200k/20k ratios, measured in one
run.

Usage::

    python benchmarks/search.py            # 20k and 200k
    python benchmarks/search.py --sizes 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np


def percentiles(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def measure(n_articles: int, n_queries: int, cache_root: Path) -> dict:
    os.environ["AGENTGYM_CACHE_DIR"] = str(cache_root / f"n{n_articles}")
    from agentgym.envs.tool.search import datasets
    from agentgym.envs.tool.search.corpus import Corpus

    t0 = time.perf_counter()
    data = datasets.generated(n_articles, seed=0, n_questions=10_000, use_cache=True)
    build = time.perf_counter() - t0
    folder = next((cache_root / f"n{n_articles}" / "searchqa").iterdir())
    t0 = time.perf_counter()
    Corpus.load(folder)
    load = time.perf_counter() - t0

    rng = random.Random(0)
    questions = rng.sample(data.questions, min(n_queries // 2, len(data.questions)))
    queries = [q.chain[rng.randrange(len(q.chain))][1] for q in questions]
    queries += [q.question for q in questions]
    corpus = data.corpus
    for q in queries[:50]:  # warm up
        corpus.search(q, 5)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        corpus.search(q, 5)
        times.append(time.perf_counter() - t0)
    name_p = percentiles(times[: len(questions)])
    text_p = percentiles(times[len(questions):])
    all_p = percentiles(times)

    from agentgym.core.tool_calls import ToolCall, render_tool_calls
    from agentgym.envs.tool.search.env import SearchQAEnv

    env = SearchQAEnv(split="all", n_articles=n_articles, n_questions=10_000)
    step_times = []
    for i, q in enumerate(queries[:500]):
        env.reset(seed=i)
        action = render_tool_calls([ToolCall("search", {"query": q, "k": 5})])
        t0 = time.perf_counter()
        env.step(action)
        step_times.append(time.perf_counter() - t0)
    return {
        "articles": len(corpus),
        "build_s": build,
        "stages_s": data.meta["seconds"],
        "load_s": load,
        "search_ms_p50_p99": all_p,
        "name_query_ms": name_p,
        "question_query_ms": text_p,
        "env_step_ms": percentiles(step_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="searchqa-bench-") as tmp:
        for n in args.sizes:
            results[n] = measure(n, args.queries, Path(tmp))
            r = results[n]
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in r["stages_s"].items())
            print(f"\n{r['articles']:,} articles: build {r['build_s']:.1f}s ({stages}); "
                  f"load from cache {r['load_s']:.2f}s")
            print(f"  search k=5   p50 {r['search_ms_p50_p99'][0]:.2f} ms  "
                  f"p99 {r['search_ms_p50_p99'][1]:.2f} ms")
            print(f"    names      p50 {r['name_query_ms'][0]:.2f} ms  "
                  f"p99 {r['name_query_ms'][1]:.2f} ms")
            print(f"    questions  p50 {r['question_query_ms'][0]:.2f} ms  "
                  f"p99 {r['question_query_ms'][1]:.2f} ms")
            print(f"  env.step(search)  p50 {r['env_step_ms'][0]:.2f} ms  "
                  f"p99 {r['env_step_ms'][1]:.2f} ms")
    if len(args.sizes) >= 2:
        a, b = results[args.sizes[0]], results[args.sizes[-1]]
        print(f"\nratio {args.sizes[-1]:,}/{args.sizes[0]:,}: build "
              f"{b['build_s'] / a['build_s']:.1f}x, search p50 "
              f"{b['search_ms_p50_p99'][0] / a['search_ms_p50_p99'][0]:.1f}x, p99 "
              f"{b['search_ms_p50_p99'][1] / a['search_ms_p50_p99'][1]:.1f}x")
    print("\n" + json.dumps({str(k): v for k, v in results.items()}, default=float))


if __name__ == "__main__":
    main()
