"""The host suite runner used for task generation: reports, limits, determinism, cleanup."""

from __future__ import annotations

import os
import tempfile

from agentgym.envs.swe.suite import SuiteJob, SuitePool, run_jobs

LIBRARY = "def double(x):\n    return 2 * x\n"
TESTS = '''import os

from lib import double


def test_double():
    """double(2) is 4."""
    assert double(2) == 4


def test_double_negative():
    assert double(-3) == -6


def test_hash_seed_is_fixed():
    assert os.environ.get("PYTHONHASHSEED") == "0"


def test_set_message():
    assert {"alpha", "beta", "gamma", "delta"} == set()


def test_object_message():
    assert object() is None
'''
FILES = {"lib.py": LIBRARY, "tests/test_lib.py": TESTS}


def outcomes(report: dict) -> dict[str, str]:
    return {test: outcome for test, (outcome, _) in report["results"].items()}


def test_report_outcomes_docs_and_messages():
    """Each test's outcome, docstring and failure message; the temporary path is stripped."""
    (report,) = run_jobs([SuiteJob(FILES)], workers=1)
    assert outcomes(report) == {
        "tests/test_lib.py::test_double": "passed",
        "tests/test_lib.py::test_double_negative": "passed",
        "tests/test_lib.py::test_hash_seed_is_fixed": "passed",
        "tests/test_lib.py::test_set_message": "failed",
        "tests/test_lib.py::test_object_message": "failed",
    }
    assert report["docs"]["tests/test_lib.py::test_double"] == "double(2) is 4."
    assert report["docs"]["tests/test_lib.py::test_double_negative"] == ""
    message = report["results"]["tests/test_lib.py::test_set_message"][1]
    assert message.startswith("AssertionError: assert {") and tempfile.gettempdir() not in message


def test_overrides_apply_to_one_job_only():
    """A mutated file replaces the original for its job; the next job sees the original again
    (the library is recompiled, even for a same-size edit)."""
    same_size = LIBRARY.replace("2 * x", "3 * x")
    jobs = [SuiteJob(FILES, {"lib.py": same_size}), SuiteJob(FILES),
            SuiteJob(FILES, {"lib.py": same_size}), SuiteJob(FILES)]
    with SuitePool(workers=1) as pool:
        reports = pool.map(jobs)
    broken = [outcomes(r)["tests/test_lib.py::test_double"] for r in reports]
    assert broken == ["failed", "passed", "failed", "passed"]


def test_test_file_overrides_are_not_cached():
    """Same-size edits of a test file in back-to-back jobs are each seen (pytest's rewritten
    bytecode of the tests is dropped around such a job)."""
    flipped = TESTS.replace("double(2) == 4", "double(2) == 5")
    jobs = [SuiteJob(FILES, {"tests/test_lib.py": flipped}), SuiteJob(FILES),
            SuiteJob(FILES, {"tests/test_lib.py": flipped})]
    with SuitePool(workers=1) as pool:
        reports = pool.map(jobs)
    assert [outcomes(r)["tests/test_lib.py::test_double"] for r in reports] == [
        "failed", "passed", "failed"]


def test_messages_do_not_depend_on_the_process():
    """The workers run with a fixed hash seed (a set's repr in a message is the same in two
    pools) and object addresses are removed from messages."""
    first = run_jobs([SuiteJob(FILES)], workers=1)[0]
    second = run_jobs([SuiteJob(FILES), SuiteJob(FILES)], workers=2)
    for key in ("tests/test_lib.py::test_set_message", "tests/test_lib.py::test_object_message"):
        assert {r["results"][key][1] for r in [first, *second]} == {first["results"][key][1]}
    message = first["results"]["tests/test_lib.py::test_object_message"][1]
    assert message.startswith("assert <object object> is None") and " at 0x" not in message


def test_endless_loop_hits_the_cpu_limit():
    """A mutant that never ends is killed at its CPU limit (None); the pool goes on."""
    endless = "def double(x):\n    while True:\n        x += 1\n"
    with SuitePool(workers=1) as pool:
        reports = pool.map([SuiteJob(FILES, {"lib.py": endless}, timeout=1), SuiteJob(FILES)])
    assert reports[0] is None
    assert outcomes(reports[1])["tests/test_lib.py::test_double"] == "passed"


def test_runaway_allocation_is_stopped():
    """A mutant allocating without bound fails at the memory limit instead of swapping."""
    hog = "def double(x):\n    return [0] * (1 << 29)\n"  # 4 GiB of pointers
    (report,) = run_jobs([SuiteJob(FILES, {"lib.py": hog}, timeout=5)], workers=1)
    assert report is not None
    assert outcomes(report)["tests/test_lib.py::test_double"] == "failed"
    assert "MemoryError" in report["results"]["tests/test_lib.py::test_double"][1]


def test_import_error_fails_every_test_of_the_module():
    """A library that does not import leaves the module's tests without a pass."""
    (report,) = run_jobs([SuiteJob(FILES, {"lib.py": "def double(:\n"})], workers=1)
    assert "tests/test_lib.py::test_double" not in outcomes(report)
    assert "error" in outcomes(report).values()


def test_workers_remove_their_folders():
    """Closing the pool removes the workers' temporary folders."""
    with SuitePool(workers=2) as pool:
        pool.map([SuiteJob(FILES), SuiteJob(FILES)])
        folders = list(pool.folders)
        assert len(folders) == 2 and all(os.path.isdir(f) for f in folders)
    assert not any(os.path.exists(f) for f in folders)
