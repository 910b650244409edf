"""The SWE task set: cold generation vs the shipped manifest vs the cache, and sandbox validity.

Side by side in one run:

* **cold**: every sampled candidate of every bundled repository validated now (one host suite
  run each, ``--workers`` in parallel) into an empty cache folder;
* **manifest**: the same tasks rebuilt from the shipped ``tasks_manifest.json.gz`` (what a fresh
  machine or CI does);
* **cache**: rebuilt from the records the cold run just cached.

It checks that the three give identical tasks, prints each repository's task count, the wall
time and the CPU time of the cold run (suite workers included), and the ratios.

``--sandbox N`` then grades N tasks (spread over the repositories; 0 = all) in real containers
through SWEEnv: with no fix every FAIL_TO_PASS test must fail and every PASS_TO_PASS test pass;
the gold patch must resolve the task.

Usage::

    python benchmarks/swe_tasks.py [--workers 2] [--keep-cache DIR] [--sandbox 18]
    python benchmarks/swe_tasks.py --no-cold --sandbox 0     # every shipped task in containers
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from agentgym.envs.swe import tasks as swe_tasks


def cpu_seconds() -> float:
    """CPU seconds of this process plus its finished children (the suite workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function, *args, **kwargs):
    start_wall, start_cpu = time.perf_counter(), cpu_seconds()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start_wall, cpu_seconds() - start_cpu


def rebuild(records: dict) -> list:
    tasks = [t for record in records.values() for t in swe_tasks.tasks_from_record(record)]
    return sorted(tasks, key=lambda t: t.instance_id)


def grade_in_sandbox(task) -> tuple[str, bool, str]:
    """Empty submission, then the gold patch, through SWEEnv; ``(id, valid, detail)``."""
    from agentgym.envs.swe.env import SWEEnv

    def call(name: str, **arguments) -> str:
        return json.dumps({"name": name, "arguments": arguments})

    env = SWEEnv(tasks=[task])
    try:
        env.reset(options={"task_id": task.instance_id})
        parts = env.step(call("submit"))[4]["reward_parts"]
        if (parts["f2p_rate"], parts["p2p_rate"]) != (0.0, 1.0):
            return task.instance_id, False, f"unfixed: {parts}"
        env.reset(options={"task_id": task.instance_id})
        env.step(call("apply_patch", patch=task.patch))
        parts = env.step(call("submit"))[4]["reward_parts"]
        return task.instance_id, parts["resolved"] == 1.0, f"gold: {parts}"
    finally:
        env.close()


def spread(tasks: list, n: int) -> list:
    """``n`` tasks taken in turn from each repository (all when ``n`` is 0)."""
    if n <= 0 or n >= len(tasks):
        return tasks
    by_repo: dict[str, list] = {}
    for task in tasks:
        by_repo.setdefault(task.repo, []).append(task)
    chosen: list = []
    while len(chosen) < n:
        for own in by_repo.values():
            if own and len(chosen) < n:
                chosen.append(own.pop(len(own) // 2))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--keep-cache", default=None,
                        help="cache folder to keep the cold run's records in (default: temp)")
    parser.add_argument("--sandbox", type=int, default=None,
                        help="grade this many tasks in containers (0: all)")
    parser.add_argument("--threads", type=int, default=2, help="concurrent sandbox episodes")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the generation comparison (only --sandbox, on the shipped set)")
    args = parser.parse_args()
    if args.no_cold:
        if args.sandbox is not None:
            sandbox_check(swe_tasks.load_tasks(), args.sandbox, args.threads)
        return

    with tempfile.TemporaryDirectory(prefix="agentgym-swe-bench-") as scratch:
        cache = args.keep_cache or scratch
        print(f"cold generation with {args.workers} worker(s) on {os.cpu_count()} CPU(s), "
              f"load average {os.getloadavg()[0]:.1f} ...", flush=True)
        records, cold_wall, cold_cpu = timed(swe_tasks.load_records, cache_dir=cache,
                                             workers=args.workers, regenerate=True)
        cold = rebuild(records)
        shipped, manifest_wall, _ = timed(lambda: rebuild(swe_tasks.bundled_manifest()))
        cached, cache_wall, _ = timed(swe_tasks.load_tasks, cache_dir=cache)

    counts = Counter(t.repo for t in cold)
    for repo, count in sorted(counts.items()):
        print(f"  {repo:12s} {count:4d} tasks")
    same_manifest = [t.to_json() for t in shipped] == [t.to_json() for t in cold]
    same_cache = [t.to_json() for t in cached] == [t.to_json() for t in cold]
    print(f"{len(cold)} tasks over {len(counts)} repositories; manifest identical: "
          f"{same_manifest}; cache identical: {same_cache}")
    print(f"cold {cold_wall:.1f} s wall ({cold_cpu:.1f} CPU s) | manifest {manifest_wall:.2f} s "
          f"| cache {cache_wall:.2f} s | cold/manifest = {cold_wall / manifest_wall:.0f}x, "
          f"cold/cache = {cold_wall / cache_wall:.0f}x")

    if args.sandbox is not None:
        sandbox_check(cold, args.sandbox, args.threads)


def sandbox_check(tasks: list, n: int, threads: int) -> None:
    """Grade ``n`` tasks (0: all) in containers and print how many are valid."""
    from agentgym.sandboxes.docker import close_shared_pools

    chosen = spread(tasks, n)
    start = time.perf_counter()
    results = []
    with ThreadPoolExecutor(threads) as pool:
        for result in pool.map(grade_in_sandbox, chosen):
            results.append(result)
            if len(results) % 50 == 0:
                print(f"  graded {len(results)}/{len(chosen)} ...", flush=True)
    seconds = time.perf_counter() - start
    bad = [(task_id, detail) for task_id, ok, detail in results if not ok]
    print(f"sandbox: {len(results) - len(bad)}/{len(results)} tasks valid in containers "
          f"({seconds:.0f} s, {seconds / max(len(results), 1):.1f} s per task, "
          f"{threads} thread(s))")
    for task_id, detail in bad:
        print(f"  INVALID {task_id}: {detail}")
    close_shared_pools()


if __name__ == "__main__":
    main()
