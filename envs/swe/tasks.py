"""SWE tasks: bugs injected into the bundled repositories, validated by their tests.

A task is a repository with one injected bug (see :mod:`agentgym.envs.swe.mutations`):

* ``FAIL_TO_PASS``: the tests the bug breaks (they must pass again after the fix);
* ``PASS_TO_PASS``: the rest of the suite (it must keep passing);
* ``patch``: the gold patch, the reverse diff of the bug (``git apply`` / ``patch -p1``);
* ``problem_statement``: an issue written from the failing tests' intent (their docstrings and
  the observed assertion failures), never from the diff.

Generation, per repository: enumerate every candidate mutation, take a seeded sample balanced
over the mutation kinds, run the suite once per candidate on the host (:mod:`.suite`; this is
task *generation*, grading happens in the sandbox), and keep the candidates that break at least
one test and at most ``max_fail_fraction`` of the suite.

Each repository's result is a small *record* (its test ids and docstrings, and per task the
one-hunk edit, the failing tests and their failure messages) from which the tasks are rebuilt.
Records are keyed by a fingerprint of the repository's files, ``mutations.py`` and the settings,
and found, in order:

1. in the cache, ``$AGENTGYM_CACHE_DIR/swe/tasks-<repo>-<fingerprint>.json``;
2. in the manifest shipped with the package (``tasks_manifest.json.gz``, written by
   ``python -m agentgym.envs.swe.tasks --write-manifest``), so a fresh machine or CI never
   regenerates the default task set;
3. else generated (in parallel) and cached.

Tasks in SWE-bench's instance format load with :func:`load_swebench_instances`
(:mod:`agentgym.envs.swe.swebench`).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from agentgym.core.paths import cache_dir
from agentgym.core.trajectory import stable_hash
from agentgym.envs.swe.mutations import Mutation, mutations_of, unified_diff
from agentgym.envs.swe.suite import SuiteJob, run_jobs
from agentgym.envs.swe.swebench import load_swebench_instances, swebench_image
from agentgym.envs.swe.swetask import SWETask
from agentgym.sandboxes.docker import DEFAULT_IMAGE

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_SETTINGS",
    "GENERATOR_VERSION",
    "SWETask",
    "default_cache_dir",
    "generate_tasks",
    "load_swebench_instances",
    "load_tasks",
    "repo_files",
    "repo_names",
    "swebench_image",
    "write_issue",
    "write_manifest",
]

#: Bump when the generator's output changes for the same inputs (invalidates caches).
GENERATOR_VERSION = 3
#: Fraction of tasks (by a hash of the id) in the test split.
TEST_FRACTION = 0.2
#: Generator settings that decide the task set (all part of the fingerprint).
DEFAULT_SETTINGS: dict[str, Any] = {
    "candidates_per_repo": 80,  # candidates validated per repository (None: all)
    "seed": 0,  # seed of the candidate sample
    "max_fail_fraction": 0.5,  # drop bugs breaking more of the suite (e.g. import errors)
    "timeout": 5.0,  # CPU seconds per suite run (slower mutants, e.g. endless loops, are dropped)
}
MANIFEST_NAME = "tasks_manifest.json.gz"


# -- bundled repositories ---------------------------------------------------------------------
def package_dir() -> Path:
    return Path(str(resources.files("agentgym.envs.swe")))


def repos_root() -> Path:
    """The folder holding the bundled repositories (package data)."""
    return package_dir() / "repos"


def repo_names() -> list[str]:
    """Names of the bundled repositories, sorted."""
    return sorted(p.name for p in repos_root().iterdir() if (p / "tests").is_dir())


def repo_files(name: str) -> dict[str, str]:
    """``{relative path: text}`` of one bundled repository (sources, tests, config)."""
    root = repos_root() / name
    if not (root / "tests").is_dir():
        raise ValueError(f"unknown bundled repository {name!r}; known: {repo_names()}")
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return files


def source_paths(files: dict[str, str]) -> list[str]:
    """The library files (not tests) that bugs are injected into."""
    return [p for p in files if p.endswith(".py") and not p.startswith("tests/")
            and not p.split("/")[-1].startswith(("test_", "conftest"))]


def default_cache_dir() -> Path:
    """``$AGENTGYM_CACHE_DIR/swe``, else ``~/.cache/agentgym/swe``."""
    return cache_dir("swe")


# -- issue text -------------------------------------------------------------------------------
def write_issue(repo: str, failing: Sequence[str], docs: dict[str, str],
                messages: dict[str, str], max_items: int = 3) -> str:
    """An issue report written from the failing tests' intent (docstrings, test names and the
    observed failures); it never looks at the bug's diff."""
    items = []
    for test_id in list(failing)[:max_items]:
        name = test_id.split("::")[-1]
        intent = docs.get(test_id) or name.removeprefix("test_").replace("_", " ") + "."
        observed = " ".join(messages.get(test_id, "").split())
        line = f"- Expected: {intent}"
        if observed:
            line += f"\n  Observed: {observed[:200]}"
        items.append(line)
    more = len(failing) - len(items)
    if more > 0:
        items.append(f"- ... and {more} more check(s) in the test suite fail as well.")
    first = failing[0].split("::")[-1] if failing else "tests"
    return (
        f"{repo}: behaviour regression ({first.removeprefix('test_').replace('_', ' ')})\n\n"
        f"After a recent change, `{repo}` no longer behaves as documented:\n\n"
        + "\n".join(items)
        + "\n\nThe test suite covers these cases (run it with `python3 -m pytest`). Please fix "
        "the library code so they hold again, without changing the tests."
    )


# -- records: a repository's tasks in compact form ---------------------------------------------
def _settings(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - set(DEFAULT_SETTINGS)
    if unknown:
        raise TypeError(f"unknown generator setting(s) {sorted(unknown)}; "
                        f"known: {sorted(DEFAULT_SETTINGS)}")
    return {**DEFAULT_SETTINGS, **overrides}


def fingerprint(name: str, settings: dict[str, Any]) -> str:
    """Hash of everything one repository's task record depends on."""
    digest = hashlib.sha256(json.dumps({"version": GENERATOR_VERSION, **settings},
                                       sort_keys=True).encode())
    mutations_source = resources.files("agentgym.envs.swe").joinpath("mutations.py")
    digest.update(mutations_source.read_bytes())
    for rel, text in repo_files(name).items():
        digest.update(f"{name}/{rel}\0{text}\0".encode())
    return digest.hexdigest()[:16]


def line_edit(original: str, mutated: str) -> list[Any]:
    """``[start, end, text]``: ``mutated`` is ``original`` with lines ``start:end`` (0-based)
    replaced by ``text``."""
    before, after = original.splitlines(keepends=True), mutated.splitlines(keepends=True)
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    tail = 0
    while (tail < min(len(before), len(after)) - start
           and before[-1 - tail] == after[-1 - tail]):
        tail += 1
    return [start, len(before) - tail, "".join(after[start:len(after) - tail])]


def apply_line_edit(original: str, edit: Sequence[Any]) -> str:
    start, end, text = edit
    lines = original.splitlines(keepends=True)
    return "".join([*lines[:start], text, *lines[end:]])


def _split(task_id: str) -> str:
    bucket = stable_hash(f"split:{task_id}") % 1000
    return "test" if bucket < TEST_FRACTION * 1000 else "train"


def sample_candidates(candidates: Sequence[Mutation], k: int | None,
                      rng: random.Random) -> list[Mutation]:
    """A sample of ``k`` candidates balanced over the mutation kinds (round robin over the
    kinds, each kind shuffled by ``rng``), in the candidates' order."""
    if k is None or len(candidates) <= k:
        return list(candidates)
    by_kind: dict[str, list[int]] = {}
    for index, mutation in enumerate(candidates):
        by_kind.setdefault(mutation.kind, []).append(index)
    for kind in sorted(by_kind):
        rng.shuffle(by_kind[kind])
    chosen: list[int] = []
    while len(chosen) < k:
        for kind in sorted(by_kind):
            if by_kind[kind] and len(chosen) < k:
                chosen.append(by_kind[kind].pop())
    return [candidates[i] for i in sorted(chosen)]


def _candidates(name: str, files: dict[str, str], settings: dict[str, Any]) -> list[Mutation]:
    found = [m for path in source_paths(files) for m in mutations_of(path, files[path])]
    rng = random.Random(f"{settings['seed']}:{name}")
    return sample_candidates(found, settings["candidates_per_repo"], rng)


def generate_records(repos: Sequence[str], settings: dict[str, Any],
                     workers: int | None = None) -> dict[str, dict[str, Any]]:
    """Validate the sampled candidates of ``repos`` (one suite run each, all repositories in
    one parallel batch) and return each repository's record.

    Raises:
        RuntimeError: if a bundled repository's own suite does not pass or does not finish.
    """
    contents = {name: repo_files(name) for name in repos}
    plan: list[tuple[str, Mutation | None]] = []
    for name in repos:
        plan.append((name, None))  # the unmutated baseline
        plan.extend((name, m) for m in _candidates(name, contents[name], settings))
    jobs = [SuiteJob(contents[name], {m.path: m.mutated} if m else {}, settings["timeout"])
            for name, m in plan]
    reports = run_jobs(jobs, workers)
    records: dict[str, dict[str, Any]] = {}
    for (name, mutation), report in zip(plan, reports, strict=True):
        if mutation is None:
            if report is None:
                raise RuntimeError(f"the test suite of bundled repository {name!r} crashed or "
                                   f"took more than {settings['timeout']} CPU seconds")
            failing = sorted(t for t, (outcome, _) in report["results"].items()
                             if outcome != "passed")
            if failing:
                raise RuntimeError(f"the bundled repository {name!r} fails its own tests: "
                                   f"{failing[:5]}")
            spaced = [t for t in report["results"] if any(c.isspace() for c in t)]
            if spaced:  # grading reads `pytest -rA` lines, where a space ends the test id
                raise RuntimeError(f"bundled repository {name!r} has test ids with spaces "
                                   f"(give its parametrized tests ids=...): {spaced[:3]}")
            records[name] = {"repo": name, "fingerprint": fingerprint(name, settings),
                             "tests": sorted(report["results"]), "docs": report["docs"],
                             "tasks": []}
            continue
        record = records[name]
        if report is None:
            continue
        outcomes = report["results"]
        failing = [t for t in record["tests"] if outcomes.get(t, ["missing"])[0] != "passed"]
        if not failing or len(failing) > settings["max_fail_fraction"] * len(record["tests"]):
            continue
        record["tasks"].append({
            "id": f"{name}__{mutation.key}",
            "path": mutation.path,
            "edit": line_edit(mutation.original, mutation.mutated),
            "mutation": mutation.description,
            "fail": failing,
            "messages": {t: outcomes.get(t, ["", ""])[1] for t in failing[:3]},
        })
    return records


def tasks_from_record(record: dict[str, Any]) -> list[SWETask]:
    """Rebuild a repository's tasks from its record (no suite runs)."""
    name = record["repo"]
    files = repo_files(name)
    tasks = []
    for item in record["tasks"]:
        original = files[item["path"]]
        buggy = apply_line_edit(original, item["edit"])
        failing, failing_set = item["fail"], set(item["fail"])
        tasks.append(SWETask(
            instance_id=item["id"],
            repo=name,
            problem_statement=write_issue(name, failing, record["docs"], item["messages"]),
            patch=unified_diff(item["path"], buggy, original),
            FAIL_TO_PASS=list(failing),
            PASS_TO_PASS=[t for t in record["tests"] if t not in failing_set],
            split=_split(item["id"]),
            files={item["path"]: buggy},
            mutation=item["mutation"],
        ))
    return tasks


# -- cache and manifest -----------------------------------------------------------------------
def manifest_path() -> Path:
    return package_dir() / MANIFEST_NAME


@functools.cache
def _manifest(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)["repos"]


def bundled_manifest() -> dict[str, dict[str, Any]]:
    """The shipped records (``{repo: record}``); empty if the package has none."""
    path = manifest_path()
    if not path.exists():
        return {}
    return _manifest(str(path), path.stat().st_mtime)


def _cached_record(cache: Path, name: str, key: str) -> dict[str, Any] | None:
    path = cache / f"tasks-{name}-{key}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    shipped = bundled_manifest().get(name)
    if shipped is not None and shipped["fingerprint"] == key:
        return shipped
    return None


def _store_record(cache: Path, record: dict[str, Any]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"tasks-{record['repo']}-{record['fingerprint']}.json"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def load_records(repos: Sequence[str] | None = None, *,
                 cache_dir: str | os.PathLike[str] | None = None, workers: int | None = None,
                 regenerate: bool = False, **settings: Any) -> dict[str, dict[str, Any]]:
    """Each repository's record: cached, shipped, or generated now (and cached).

    Args:
        repos: bundled repository names (default: all).
        cache_dir: cache folder (default :func:`default_cache_dir`).
        workers: parallel suite workers if something must be generated.
        regenerate: generate every record now, ignoring the cache and the manifest.
        **settings: overrides of :data:`DEFAULT_SETTINGS`.
    """
    settings = _settings(settings)
    repos = sorted(repos or repo_names())
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    keys = {name: fingerprint(name, settings) for name in repos}
    records = {name: None if regenerate else _cached_record(cache, name, keys[name])
               for name in repos}
    missing = [name for name, record in records.items() if record is None]
    if missing:
        for name, record in generate_records(missing, settings, workers).items():
            _store_record(cache, record)
            records[name] = record
    return records  # type: ignore[return-value]


def generate_tasks(repos: Sequence[str] | None = None, *, workers: int | None = None,
                   **settings: Any) -> list[SWETask]:
    """Generate the tasks of ``repos`` now, ignoring caches and the manifest.

    Args:
        repos: bundled repository names (default: all).
        workers: parallel suite workers (default: CPU count).
        **settings: overrides of :data:`DEFAULT_SETTINGS`.

    Returns:
        Tasks sorted by ``instance_id``.
    """
    records = generate_records(sorted(repos or repo_names()), _settings(settings), workers)
    tasks = [task for record in records.values() for task in tasks_from_record(record)]
    return sorted(tasks, key=lambda t: t.instance_id)


def load_tasks(
    split: str | None = None,
    *,
    repos: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    **settings: Any,
) -> list[SWETask]:
    """The generated tasks, sorted by ``instance_id`` (see the module docstring for where they
    come from).

    Args:
        split: ``train``, ``test`` or None for all.
        repos: bundled repository names (default: all).
        cache_dir: cache folder (default :func:`default_cache_dir`).
        workers: parallel suite workers if something must be generated.
        **settings: overrides of :data:`DEFAULT_SETTINGS`.
    """
    records = load_records(repos, cache_dir=cache_dir, workers=workers, **settings)
    tasks = [task for record in records.values() for task in tasks_from_record(record)]
    return sorted((t for t in tasks if split is None or t.split == split),
                  key=lambda t: t.instance_id)


def write_manifest(path: str | os.PathLike[str] | None = None, *,
                   cache_dir: str | os.PathLike[str] | None = None,
                   workers: int | None = None) -> Path:
    """Write the default settings' records of every bundled repository (generating the
    missing ones) to the shipped manifest; returns its path."""
    records = load_records(None, cache_dir=cache_dir, workers=workers)
    target = Path(path) if path is not None else manifest_path()
    data = json.dumps({"version": GENERATOR_VERSION, "settings": DEFAULT_SETTINGS,
                       "repos": records}, sort_keys=True, separators=(",", ":"))
    with gzip.GzipFile(target, "wb", mtime=0) as handle:  # mtime 0: reproducible bytes
        handle.write(data.encode("utf-8"))
    return target


# -- compatibility ----------------------------------------------------------------------------
def _validate(job: tuple[dict[str, str], Mutation | None, float]) -> dict[str, Any] | None:
    """Run one repository's suite on the host: ``(files, mutation or None, CPU seconds)``."""
    files, mutation, timeout = job
    overrides = {mutation.path: mutation.mutated} if mutation is not None else {}
    return run_jobs([SuiteJob(files, overrides, timeout)], workers=1)[0]


# -- command line -----------------------------------------------------------------------------
def main(argv: Iterable[str] | None = None) -> int:
    """``python -m agentgym.envs.swe.tasks [--regenerate] [--write-manifest] [--workers N]``:
    print the task set's size per repository (and how long it took)."""
    parser = argparse.ArgumentParser(prog="python -m agentgym.envs.swe.tasks")
    parser.add_argument("--regenerate", action="store_true",
                        help="validate every candidate now (ignore the cache and the manifest)")
    parser.add_argument("--write-manifest", action="store_true",
                        help=f"write {MANIFEST_NAME} into the package")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    start = time.perf_counter()
    records = load_records(workers=args.workers, regenerate=args.regenerate)
    tasks = [task for record in records.values() for task in tasks_from_record(record)]
    seconds = time.perf_counter() - start
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.repo] = counts.get(task.repo, 0) + 1
    for repo, count in sorted(counts.items()):
        print(f"{repo:12s} {count:4d} tasks")
    train = sum(t.split == "train" for t in tasks)
    print(f"total        {len(tasks):4d} tasks over {len(counts)} repositories "
          f"({train} train, {len(tasks) - train} test) in {seconds:.1f} s"
          + (" (regenerated)" if args.regenerate else ""))
    if args.write_manifest:
        print(f"wrote {write_manifest(workers=args.workers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
