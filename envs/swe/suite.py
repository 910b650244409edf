"""Run a bundled repository's pytest suite on the host, many times, fast (task generation).

Grading happens in the docker sandbox; *generating* tasks means running a suite once per
candidate bug, hundreds of times, so it runs on the host:

* :class:`SuitePool` starts ``workers`` worker processes running this file as a script (it
  imports only the standard library and pytest, so a worker starts in a fraction of a second)
  with ``PYTHONHASHSEED=0`` (as in the sandbox), so set orders in assertion messages, and with
  them the generated issue texts, do not change from run to run.
* A worker imports pytest once, writes each repository once into its own temporary folder and
  then, per job, overwrites the mutated files, forks, and runs pytest in the child. The test
  files never change, so pytest's assertion-rewrite cache is reused; the library's bytecode is
  deleted before every run.
* The child runs under ``RLIMIT_CPU`` (the job's ``timeout`` in CPU seconds; an infinite loop
  dies at the limit whatever the machine's load) and ``RLIMIT_AS`` (a runaway allocation fails
  instead of swapping). A wall-clock backstop of ``WALL_FACTOR`` times the CPU limit catches a
  child that blocks.

Protocol: the worker first writes ``{"ready": its folder}``; then each job is one JSON line on
its stdin, ``{"files": {path: text}, "overrides": {path: text}, "timeout": seconds}``, answered
by one JSON line on its stdout, ``{"results": {nodeid: [outcome, message]}, "docs": {nodeid:
docstring}}`` or ``null`` (a crash, the CPU limit or the wall-clock backstop).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Wall-clock backstop, in multiples of the CPU limit.
WALL_FACTOR = 6
#: Address-space limit of a suite run (bytes).
MEMORY_LIMIT = 2 << 30
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass
class SuiteJob:
    """One suite run: a repository (``files``) with some files replaced (``overrides``)."""

    files: Mapping[str, str]
    overrides: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 5.0


# -- the worker side ---------------------------------------------------------------------------
class _Collector:
    """pytest plugin recording ``nodeid -> [outcome, message]`` and test docstrings."""

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


def _run_child(repo_dir: str, cpu_seconds: float, write_fd: int) -> None:
    """The forked child: limit itself, run pytest in-process, write the JSON report."""
    import pytest

    cpu = max(1, int(cpu_seconds + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.chdir(repo_dir)
    sys.path.insert(0, repo_dir)
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


def run_suite(repo_dir: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """Run the suite of the repository in ``repo_dir`` in a forked child.

    Args:
        repo_dir: the repository root (holds ``tests/``).
        timeout: CPU seconds the run may use (and ``WALL_FACTOR`` times that of wall time).

    Returns:
        ``{"results": {nodeid: [outcome, message]}, "docs": {nodeid: docstring}}``, or None if
        the run crashed or hit a limit.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_fd)
            _run_child(repo_dir, timeout, write_fd)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + WALL_FACTOR * timeout
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


def normalize_message(message: str, folder: str) -> str:
    """A failure message without what changes from run to run: the temporary folder and
    object addresses (``<Cache object at 0x7f...>`` becomes ``<Cache object>``)."""
    return _ADDRESS.sub("", message.replace(folder + "/", "").replace(folder, ""))


def _write(root: str, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def _drop_bytecode(root: str, tests_too: bool = False) -> None:
    """Delete ``__pycache__`` folders (outside ``tests/`` unless ``tests_too``): an edited
    module must be recompiled, and pyc validation by mtime and size cannot tell two same-size
    edits in one second apart."""
    for folder, dirs, _ in os.walk(root):
        if not tests_too and os.path.relpath(folder, root).split(os.sep)[0] == "tests":
            dirs[:] = []
            continue
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(folder, "__pycache__"), ignore_errors=True)
            dirs.remove("__pycache__")


class _Worker:
    """The state of one worker process: one folder per distinct repository."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="agentgym-swe-suite-")
        self.repos: dict[str, tuple[str, dict[str, str]]] = {}

    def run(self, job: dict[str, Any]) -> dict[str, Any] | None:
        files: dict[str, str] = job["files"]
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        if digest not in self.repos:
            folder = os.path.join(self.root, digest)
            _write(folder, files)
            self.repos[digest] = (folder, files)
        folder, originals = self.repos[digest]
        overrides: dict[str, str] = job.get("overrides") or {}
        tests_too = any(rel.startswith("tests/") or rel.endswith("conftest.py")
                        for rel in overrides)
        _write(folder, overrides)
        _drop_bytecode(folder, tests_too)
        try:
            report = run_suite(folder, float(job.get("timeout", 5.0)))
        finally:
            for rel in overrides:
                if rel in originals:
                    _write(folder, {rel: originals[rel]})
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(folder, rel))
            if tests_too:  # the next job must not meet this job's rewritten tests
                _drop_bytecode(folder, tests_too=True)
        if report is not None:
            for value in report["results"].values():
                value[1] = normalize_message(value[1], folder)
        return report

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def serve() -> None:
    """Worker main loop: a JSON job per stdin line, a JSON report per stdout line."""
    import pytest  # noqa: F401  (imported once, before the forks)

    worker = _Worker()
    out = sys.stdout
    out.write(json.dumps({"ready": worker.root}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            if line.strip():
                out.write(json.dumps(worker.run(json.loads(line))) + "\n")
                out.flush()
    finally:
        worker.close()


# -- the parent side ---------------------------------------------------------------------------
class SuitePool:
    """``workers`` worker processes running :class:`SuiteJob` s in parallel.

    Args:
        workers: number of worker processes (default: the CPU count).

    Use as a context manager (the workers and their folders are removed on exit).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # keep pytest's assertion-rewrite cache
        for name in ("CI", "BUILD_NUMBER"):  # pytest stops truncating diffs under CI, and the
            env.pop(name, None)              # shipped failure messages are the truncated ones
        self._procs = [
            subprocess.Popen([sys.executable, "-P", os.path.abspath(__file__)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                             text=True, encoding="utf-8", bufsize=1)
            for _ in range(self.workers)
        ]
        #: The workers' temporary folders (removed when they exit).
        self.folders: list[str] = []
        for proc in self._procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith('{"ready"'):
                self.close()
                raise RuntimeError(f"a suite worker did not start (exit code {proc.poll()})")
            self.folders.append(json.loads(line)["ready"])

    def map(self, jobs: Sequence[SuiteJob]) -> list[dict[str, Any] | None]:
        """Run every job; reports in the jobs' order (None for a crash or a limit hit)."""
        results: list[dict[str, Any] | None] = [None] * len(jobs)
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(jobs)):
            todo.put(index)
        errors: list[BaseException] = []

        def drive(proc: subprocess.Popen) -> None:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                while True:
                    try:
                        index = todo.get_nowait()
                    except queue.Empty:
                        return
                    job = jobs[index]
                    proc.stdin.write(json.dumps({"files": dict(job.files),
                                                 "overrides": dict(job.overrides),
                                                 "timeout": job.timeout}) + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                    if not line:
                        raise RuntimeError(f"suite worker {proc.pid} exited "
                                           f"(code {proc.poll()})")
                    results[index] = json.loads(line)
            except BaseException as exc:  # reported in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=drive, args=(proc,), daemon=True)
                   for proc in self._procs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def close(self) -> None:
        for proc in self._procs:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs = []

    def __enter__(self) -> SuitePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_jobs(jobs: Sequence[SuiteJob], workers: int | None = None) -> list[dict[str, Any] | None]:
    """Run ``jobs`` in a fresh :class:`SuitePool` of ``min(workers, len(jobs))`` workers."""
    if not jobs:
        return []
    with SuitePool(min(workers or os.cpu_count() or 1, len(jobs))) as pool:
        return pool.map(jobs)


if __name__ == "__main__":
    serve()
