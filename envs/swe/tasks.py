"""SWE tasks: bugs injected into the bundled repositories, validated by their tests, cached.

A task is a repository with one injected bug (see :mod:`agentgym.envs.swe.mutations`):

* ``FAIL_TO_PASS``: the tests the bug breaks (they must pass again after the fix);
* ``PASS_TO_PASS``: the rest of the suite (it must keep passing);
* ``patch``: the gold patch, the reverse diff of the bug (``git apply`` / ``patch -p1``);
* ``problem_statement``: an issue written from the failing tests' intent (their docstrings and
  the observed assertion failures), never from the diff.

Validation runs each mutated repository's suite on the host, in a temporary folder, with the
host's pytest (this is task *generation*, not grading; grading happens in the sandbox). Each
run is a forked child of a worker that imported pytest once, so hundreds of candidates take
seconds; workers run in parallel. The result is cached as JSON under
``$AGENTGYM_CACHE_DIR/swe`` (default ``~/.cache/agentgym/swe``), keyed by a fingerprint of the
repositories and the generator settings, so it happens once per machine.

Tasks in SWE-bench's instance format (instance_id, repo, base_commit, patch, test_patch,
FAIL_TO_PASS, PASS_TO_PASS, image) load with :func:`load_swebench_instances`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import select
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from agentgym.core.trajectory import stable_hash
from agentgym.envs.swe.mutations import Mutation, mutations_of, unified_diff

#: Bump when the generator's output changes, to invalidate caches.
GENERATOR_VERSION = 1
#: Image of the generated tasks.
DEFAULT_IMAGE = "agentgym/sandbox:py311"
#: Fraction of tasks (by a hash of the id) in the test split.
TEST_FRACTION = 0.2


@dataclass
class SWETask:
    """One task (a generated bug or a SWE-bench instance).

    Attributes:
        instance_id: unique id, e.g. ``textkit__textkit.py:operator:L42:0``.
        repo: repository name (bundled) or ``owner/name`` (SWE-bench).
        problem_statement: the issue text shown to the agent.
        patch: the gold patch (unified diff).
        FAIL_TO_PASS: test ids that must go from failing to passing.
        PASS_TO_PASS: test ids that must keep passing.
        split: ``train`` or ``test``.
        image: docker image the task runs in.
        files: generated tasks: ``{path: buggy source}`` overriding the bundled repository.
        source_dir: SWE-bench tasks: the repository's folder inside the image (copied to the
            sandbox's work dir at reset).
        base_commit: SWE-bench: the commit the repository is at.
        test_patch: SWE-bench: tests applied before grading.
        kind: ``generated`` or ``swebench``.
        mutation: generated tasks: what the bug is (hidden from the agent).
    """

    instance_id: str
    repo: str
    problem_statement: str
    patch: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    split: str = "train"
    image: str = DEFAULT_IMAGE
    files: dict[str, str] = field(default_factory=dict)
    source_dir: str = ""
    base_commit: str = ""
    test_patch: str = ""
    kind: str = "generated"
    mutation: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SWETask:
        return cls(**data)


# -- bundled repositories ---------------------------------------------------------------------
def repos_root() -> Path:
    """The folder holding the bundled repositories (package data)."""
    return Path(str(resources.files("agentgym.envs.swe") / "repos"))


def repo_names() -> list[str]:
    """Names of the bundled repositories, sorted."""
    return sorted(p.name for p in repos_root().iterdir() if (p / "tests").is_dir())


def repo_files(name: str) -> dict[str, str]:
    """``{relative path: text}`` of one bundled repository (sources, tests, config)."""
    root = repos_root() / name
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
    root = os.environ.get("AGENTGYM_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "agentgym"
    return base / "swe"


# -- running a suite on the host (generation only) --------------------------------------------
class _Collector:
    """pytest plugin recording ``nodeid -> (outcome, message, docstring)``."""

    def __init__(self) -> None:
        self.results: dict[str, list[str]] = {}
        self.docs: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
            self.docs[item.nodeid] = " ".join(doc.split())

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":
            if report.nodeid in self.results and self.results[report.nodeid][0] != "passed":
                return
            message = ""
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None:
                message = crash.message
            elif report.longrepr is not None:
                message = str(report.longrepr).strip().splitlines()[-1:][0]
            self.results[report.nodeid] = [report.outcome, message[:300]]

    def pytest_collectreport(self, report: Any) -> None:
        if report.outcome != "passed":
            self.results[report.nodeid or "<collection>"] = ["error", "collection failed"]


def run_suite(repo_dir: str, timeout: float = 20.0) -> dict[str, Any] | None:
    """Run a repository's tests on the host in a forked child; ``None`` on timeout or crash.

    Returns:
        ``{"results": {nodeid: [outcome, message]}, "docs": {nodeid: docstring}}``.
    """
    import pytest

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: run pytest in-process, report JSON on the pipe
        code = 1
        try:
            os.close(read_fd)
            os.chdir(repo_dir)
            sys.path.insert(0, repo_dir)
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            collector = _Collector()
            pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:warnings", "tests"],
                         plugins=[collector])
            data = json.dumps({"results": collector.results, "docs": collector.docs}).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out or status != 0 or not chunks:
        return None
    return json.loads(b"".join(chunks))


def _write_repo(root: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def _validate(job: tuple[dict[str, str], Mutation | None, float]) -> dict[str, Any] | None:
    files, mutation, timeout = job
    with tempfile.TemporaryDirectory(prefix="agentgym-swe-") as tmp:
        _write_repo(tmp, files)
        if mutation is not None:
            _write_repo(tmp, {mutation.path: mutation.mutated})
        report = run_suite(tmp, timeout)
    if report is not None:  # strip the temporary path from messages (determinism)
        for value in report["results"].values():
            value[1] = value[1].replace(tmp + "/", "").replace(tmp, "")
    return report


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


# -- generation -------------------------------------------------------------------------------
def _split(task_id: str) -> str:
    bucket = stable_hash(f"split:{task_id}") % 1000
    return "test" if bucket < TEST_FRACTION * 1000 else "train"


def _fingerprint(repos: Sequence[str], settings: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps({"version": GENERATOR_VERSION, **settings}).encode())
    for name in repos:
        for rel, text in repo_files(name).items():
            digest.update(f"{name}/{rel}\0{text}\0".encode())
    return digest.hexdigest()[:16]


def generate_tasks(
    repos: Sequence[str] | None = None,
    *,
    candidates_per_repo: int | None = 80,
    seed: int = 0,
    max_fail_fraction: float = 0.5,
    workers: int | None = None,
    timeout: float = 5.0,
) -> list[SWETask]:
    """Inject every candidate mutation into each repository and keep the valid bugs.

    Args:
        repos: bundled repository names (default: all).
        candidates_per_repo: validate a seeded sample of this many candidate mutations per
            repository (None: all of them; a suite run costs ~0.3 s of one core).
        seed: seed of that sample.
        max_fail_fraction: drop bugs breaking more than this fraction of the suite (e.g.
            import errors) — they do not describe one behaviour.
        workers: parallel processes (default: CPU count).
        timeout: seconds per suite run; a run that times out is retried once with 4x the time,
            and mutants still slower than that (infinite loops) are dropped.

    Returns:
        Tasks sorted by ``instance_id``.
    """
    repos = list(repos or repo_names())
    jobs: list[tuple[str, Mutation | None]] = []
    repo_contents = {name: repo_files(name) for name in repos}
    for name in repos:
        candidates: list[Mutation] = []
        for path in source_paths(repo_contents[name]):
            candidates.extend(mutations_of(path, repo_contents[name][path]))
        if candidates_per_repo is not None and len(candidates) > candidates_per_repo:
            chosen = sorted(random.Random(f"{seed}:{name}").sample(range(len(candidates)),
                                                                   candidates_per_repo))
            candidates = [candidates[i] for i in chosen]
        jobs.append((name, None))  # the unmutated baseline
        jobs.extend((name, mutation) for mutation in candidates)
    workers = workers or os.cpu_count() or 1
    payload = [(repo_contents[name], mutation, timeout) for name, mutation in jobs]
    if workers > 1:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            reports = list(pool.map(_validate, payload, chunksize=4))
    else:
        reports = [_validate(job) for job in payload]
    # A run that timed out may only have met a busy machine: retry it once with 4x the time, so
    # the task set does not depend on the load (true infinite loops still time out).
    slow = 4 * timeout
    reports = [
        report if report is not None else _validate((files, mutation, slow))
        for (files, mutation, _), report in zip(payload, reports, strict=True)
    ]

    tasks: list[SWETask] = []
    baselines: dict[str, dict[str, Any]] = {}
    for (name, mutation), report in zip(jobs, reports, strict=True):
        if mutation is None:
            if report is None:
                raise RuntimeError(f"the test suite of bundled repository {name!r} did not "
                                   f"finish in {slow:.0f} s")
            if any(v[0] != "passed" for v in report["results"].values()):
                raise RuntimeError(f"the bundled repository {name!r} fails its own tests")
            baselines[name] = report
            continue
        if report is None or name not in baselines:
            continue
        all_tests = sorted(baselines[name]["results"])
        passed = {t for t, (outcome, _) in report["results"].items() if outcome == "passed"}
        failing = [t for t in all_tests if t not in passed]
        if not failing or len(failing) > max_fail_fraction * len(all_tests):
            continue
        messages = {t: report["results"].get(t, ["", ""])[1] for t in failing}
        instance_id = f"{name}__{mutation.mutation_id}"
        n = sum(t.instance_id.startswith(instance_id) for t in tasks)
        instance_id = f"{instance_id}:{n}"
        tasks.append(SWETask(
            instance_id=instance_id,
            repo=name,
            problem_statement=write_issue(name, failing, baselines[name]["docs"], messages),
            patch=unified_diff(mutation.path, mutation.mutated, mutation.original),
            FAIL_TO_PASS=failing,
            PASS_TO_PASS=[t for t in all_tests if t in passed],
            split=_split(instance_id),
            files={mutation.path: mutation.mutated},
            mutation=mutation.description,
        ))
    return sorted(tasks, key=lambda t: t.instance_id)


def load_tasks(
    split: str | None = None,
    *,
    repos: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> list[SWETask]:
    """The generated tasks (from the cache, generating them once if missing).

    Args:
        split: ``train``, ``test`` or None for all.
        repos: bundled repository names (default: all).
        cache_dir: cache folder (default :func:`default_cache_dir`).
        **settings: passed to :func:`generate_tasks` (part of the cache key).
    """
    repos = sorted(repos or repo_names())
    settings = {"candidates_per_repo": 80, "seed": 0, **settings}
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"tasks-{_fingerprint(repos, settings)}.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        tasks = [SWETask.from_json(item) for item in data["tasks"]]
    else:
        tasks = generate_tasks(repos, **settings)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"version": GENERATOR_VERSION, "repos": repos,
                                   "tasks": [t.to_json() for t in tasks]}), encoding="utf-8")
        os.replace(tmp, path)
    return [t for t in tasks if split is None or t.split == split]


# -- SWE-bench format -------------------------------------------------------------------------
def _id_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [str(v) for v in value]


def swebench_image(instance_id: str) -> str:
    """SWE-bench's conventional evaluation image name of an instance."""
    return f"sweb.eval.x86_64.{instance_id.lower().replace('__', '_1776_')}:latest"


def load_swebench_instances(
    source: str | os.PathLike[str] | Iterable[dict[str, Any]],
    *,
    source_dir: str = "/testbed",
    split: str = "test",
) -> list[SWETask]:
    """Tasks from SWE-bench-format instances (a JSON list, JSONL, or dicts).

    ``FAIL_TO_PASS`` / ``PASS_TO_PASS`` may be lists or JSON-encoded strings (as in the
    published datasets); ``image`` defaults to SWE-bench's evaluation image name. The image must
    hold the repository at ``source_dir`` checked out at ``base_commit``, with python and pytest.
    """
    if isinstance(source, str | os.PathLike):
        text = Path(source).read_text(encoding="utf-8").strip()
        records = json.loads(text) if text.startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        records = list(source)
    tasks = []
    for record in records:
        missing = {"instance_id", "repo", "base_commit", "patch", "FAIL_TO_PASS"} - set(record)
        if missing:
            raise ValueError(f"SWE-bench instance is missing {sorted(missing)}: "
                             f"{str(record)[:200]}")
        tasks.append(SWETask(
            instance_id=str(record["instance_id"]),
            repo=str(record["repo"]),
            problem_statement=str(record.get("problem_statement", "")),
            patch=str(record["patch"]),
            FAIL_TO_PASS=_id_list(record["FAIL_TO_PASS"]),
            PASS_TO_PASS=_id_list(record.get("PASS_TO_PASS", [])),
            split=split,
            image=str(record.get("image") or swebench_image(str(record["instance_id"]))),
            source_dir=source_dir,
            base_commit=str(record["base_commit"]),
            test_patch=str(record.get("test_patch", "")),
            kind="swebench",
        ))
    return tasks


