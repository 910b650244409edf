"""Bug generation (AST mutations, validation by the tests), the records, cache and manifest."""

from __future__ import annotations

import ast
import random
import re
import subprocess
from collections import Counter

import pytest

from agentgym.envs.swe import tasks as tasks_module
from agentgym.envs.swe.mutations import mutations_of, unified_diff
from agentgym.envs.swe.suite import SuiteJob, run_jobs
from agentgym.envs.swe.tasks import (
    DEFAULT_SETTINGS,
    apply_line_edit,
    bundled_manifest,
    fingerprint,
    generate_tasks,
    line_edit,
    load_tasks,
    repo_files,
    repo_names,
    sample_candidates,
    tasks_from_record,
    write_issue,
)

SOURCE = '''def f(a, b, items):
    total = a - b
    if a < b:
        total += 1
    for item in items:
        if item < 0:
            break
    return max(total * 2, -a)
'''


def changed_lines(before: str, after: str) -> list[str]:
    return [x for x, y in zip(before.splitlines(), after.splitlines(), strict=False) if x != y]


def test_mutations_are_minimal_and_cover_every_kind():
    """Every kind of bug appears; each is one changed line, except statement removals."""
    found = mutations_of("m.py", SOURCE)
    assert {m.kind for m in found} == {"operator", "swap", "constant", "invert", "remove",
                                       "unary", "call", "args", "augassign", "control"}
    by_text = {m.mutated for m in found}
    assert SOURCE.replace("a - b", "a + b") in by_text  # operator flip
    assert SOURCE.replace("a - b", "b - a") in by_text  # swapped operands
    assert SOURCE.replace("a < b", "a <= b") in by_text
    assert SOURCE.replace("if a < b", "if not a < b") in by_text  # inverted condition
    assert SOURCE.replace("total * 2", "total * 3") in by_text  # off by one, up
    assert SOURCE.replace("total * 2", "total * 1") in by_text  # off by one, down
    assert SOURCE.replace("total += 1", "total -= 1") in by_text  # augmented assignment
    assert SOURCE.replace("max(", "min(") in by_text  # min/max exchanged
    assert SOURCE.replace("total * 2, -a", "-a, total * 2") in by_text  # arguments swapped
    assert SOURCE.replace(", -a)", ", a)") in by_text  # unary minus dropped
    assert SOURCE.replace("break", "continue") in by_text  # break/continue exchanged
    assert SOURCE.replace("        total += 1\n", "") not in by_text  # only statement: kept
    assert SOURCE.replace("    if a < b:\n        total += 1\n", "") in by_text  # removed if
    assert len(by_text) == len(found)  # no two candidates make the same source
    for m in found:
        ast.parse(m.mutated)
        assert m.kind == "remove" or len(changed_lines(SOURCE, m.mutated)) == 1


def test_mutation_keys_are_unique_and_stable():
    """Keys are unique within a file and the enumeration is deterministic."""
    first, second = mutations_of("m.py", SOURCE), mutations_of("m.py", SOURCE)
    assert [m.key for m in first] == [m.key for m in second]
    assert len({m.key for m in first}) == len(first)
    assert all(m.key.startswith(f"{m.mutation_id}:") for m in first)


def test_no_argument_swap_for_fixed_order_calls():
    """isinstance and getattr arguments are never swapped (that is noise, not a bug)."""
    source = "def g(x):\n    return isinstance(x, int) and getattr(x, 'real')\n"
    assert not [m for m in mutations_of("g.py", source) if m.kind == "args"]


def test_gold_patch_is_the_reverse_diff(tmp_path):
    """The gold patch turns the buggy file back into the original with `patch -p1`."""
    mutation = next(m for m in mutations_of("m.py", SOURCE) if m.kind == "operator")
    (tmp_path / "m.py").write_text(mutation.mutated)
    (tmp_path / "fix.patch").write_text(unified_diff("m.py", mutation.mutated, SOURCE))
    subprocess.run(["patch", "-p1", "-s", "-i", "fix.patch"], cwd=tmp_path, check=True)
    assert (tmp_path / "m.py").read_text() == SOURCE


@pytest.mark.parametrize("kind", ["operator", "remove", "control"])
def test_edit_round_trip(kind):
    """A record's one-hunk edit rebuilds the mutated source exactly."""
    mutation = next(m for m in mutations_of("m.py", SOURCE) if m.kind == kind)
    start, end, text = line_edit(SOURCE, mutation.mutated)
    assert apply_line_edit(SOURCE, [start, end, text]) == mutation.mutated
    assert end - start <= 2  # the edit is local


def test_sample_is_balanced_over_kinds_and_seeded():
    """The sample takes kinds in turn, so rare kinds are all kept; a seed fixes it."""
    found = mutations_of("numkit.py", repo_files("numkit")["numkit.py"])
    sample = sample_candidates(found, 40, random.Random("0:numkit"))
    again = sample_candidates(found, 40, random.Random("0:numkit"))
    other = sample_candidates(found, 40, random.Random("1:numkit"))
    assert [m.key for m in sample] == [m.key for m in again] != [m.key for m in other]
    counts, available = Counter(m.kind for m in sample), Counter(m.kind for m in found)
    assert len(sample) == 40 and set(counts) == set(available)
    not_exhausted = [kind for kind in available if counts[kind] < available[kind]]
    assert all(counts[kind] >= max(counts.values()) - 1 for kind in not_exhausted)
    assert counts["call"] == available["call"]  # a rare kind is taken whole
    assert sample_candidates(found, None, random.Random(0)) == found


def test_generation_keeps_only_bugs_some_test_catches():
    """Every generated task breaks between one test and half of the suite, and generation is
    deterministic (whatever the number of workers)."""
    tasks = generate_tasks(["ledger"], candidates_per_repo=6, workers=2)
    assert tasks, "no valid bug among 6 candidates"
    for task in tasks:
        assert task.FAIL_TO_PASS and not set(task.FAIL_TO_PASS) & set(task.PASS_TO_PASS)
        assert len(task.FAIL_TO_PASS) + len(task.PASS_TO_PASS) == 30  # the ledger suite
        assert len(task.FAIL_TO_PASS) <= 15
        assert task.patch.startswith("diff --git a/ledger.py b/ledger.py")
        assert "@@" not in task.problem_statement and "+++" not in task.problem_statement
        assert task.split in ("train", "test")
    again = generate_tasks(["ledger"], candidates_per_repo=6, workers=1)
    assert [t.to_json() for t in again] == [t.to_json() for t in tasks]


def test_unknown_setting_is_rejected():
    """A misspelt generator setting is an error, not a silently different task set."""
    with pytest.raises(TypeError, match="candidates_per_rep"):
        load_tasks(candidates_per_rep=3)


def test_cache_is_used_per_repository(tmp_path, monkeypatch):
    """Generated records are cached per repository; a second load runs no suite."""
    settings = {"candidates_per_repo": 4, "seed": 3}
    first = load_tasks(repos=["ledger"], cache_dir=tmp_path, workers=1, **settings)
    assert len(list(tmp_path.glob("tasks-ledger-*.json"))) == 1

    def no_suites(*args, **kwargs):
        raise AssertionError("a suite ran although the record is cached")

    monkeypatch.setattr(tasks_module, "run_jobs", no_suites)
    again = load_tasks(repos=["ledger"], cache_dir=tmp_path, **settings)
    assert [t.to_json() for t in again] == [t.to_json() for t in first]


def test_manifest_is_current():
    """The shipped manifest holds every bundled repository at its current fingerprint
    (regenerate it with `python -m agentgym.envs.swe.tasks --write-manifest`)."""
    manifest = bundled_manifest()
    stale = [name for name in repo_names()
             if manifest.get(name, {}).get("fingerprint") != fingerprint(name, DEFAULT_SETTINGS)]
    assert not stale, ("tasks_manifest.json.gz is stale for " + ", ".join(stale)
                       + ": run `python -m agentgym.envs.swe.tasks --write-manifest`")


def test_default_task_set_loads_without_running_suites(tmp_path, monkeypatch):
    """With an empty cache (a fresh machine or CI) the default set comes from the manifest."""
    monkeypatch.setattr(tasks_module, "run_jobs", lambda *a, **k: pytest.fail("suite ran"))
    assert len(load_tasks(cache_dir=tmp_path)) >= 500
    assert not list(tmp_path.iterdir())


def test_full_task_set_size_and_shape():
    """At least 500 valid tasks over at least 6 repositories; ids unique; splits disjoint."""
    tasks = load_tasks(None)
    per_repo = Counter(t.repo for t in tasks)
    assert len(tasks) >= 500 and len(per_repo) >= 6
    assert set(per_repo) == set(repo_names()) and min(per_repo.values()) >= 40
    assert len({t.instance_id for t in tasks}) == len(tasks)
    train, test = load_tasks("train"), load_tasks("test")
    assert len(train) + len(test) == len(tasks) and len(test) >= 0.1 * len(tasks)
    assert not {t.instance_id for t in train} & {t.instance_id for t in test}
    suites = {name: set(record["tests"]) for name, record in bundled_manifest().items()}
    for task in tasks:
        (path,) = task.files
        original = repo_files(task.repo)[path]
        assert task.files[path] != original
        assert task.patch == unified_diff(path, task.files[path], original)
        assert task.FAIL_TO_PASS and not set(task.FAIL_TO_PASS) & set(task.PASS_TO_PASS)
        assert set(task.FAIL_TO_PASS) | set(task.PASS_TO_PASS) == suites[task.repo]
        assert len(task.FAIL_TO_PASS) <= 0.5 * len(suites[task.repo])


def test_manifest_sample_revalidates_on_the_host():
    """Two shipped tasks per repository, rerun now: the same tests fail with the same
    messages, and every bundled suite passes unmutated."""
    manifest = bundled_manifest()
    jobs, expected = [], []
    for name in repo_names():
        record = manifest[name]
        files = repo_files(name)
        jobs.append(SuiteJob(files))
        expected.append((name, [], {}))
        for item in record["tasks"][:: max(1, len(record["tasks"]) // 2)][:2]:
            buggy = apply_line_edit(files[item["path"]], item["edit"])
            jobs.append(SuiteJob(files, {item["path"]: buggy}))
            expected.append((name, item["fail"], item["messages"]))
    for report, (name, fail, messages) in zip(run_jobs(jobs), expected, strict=True):
        assert report is not None
        failing = [t for t in manifest[name]["tests"]
                   if report["results"].get(t, ["missing"])[0] != "passed"]
        assert failing == fail
        assert ({t: _failure_kind(report["results"][t][1]) for t in messages}
                == {t: _failure_kind(m) for t, m in messages.items()})


def _failure_kind(message: str) -> str:
    """The part of a failure message that is the same on every run: its first word (the
    exception's name, or ``assert`` for pytest's bare assertion report). The rest depends on the
    hash seed (a dict or set display lists its items in hash order) and on the pytest version
    (``DID NOT RAISE <class 'ValueError'>`` in pytest 8, ``DID NOT RAISE ValueError`` in 9)."""
    return re.match(r"[\w.]*", message).group()


def test_records_rebuild_the_same_tasks():
    """Tasks rebuilt from a record are fully determined by it."""
    record = bundled_manifest()["textlayout"]
    assert [t.to_json() for t in tasks_from_record(record)] == [
        t.to_json() for t in tasks_from_record(record)]


def test_issue_is_written_from_test_intent():
    """The issue quotes the failing test's docstring and observed failure."""
    text = write_issue("textkit", ["tests/t.py::test_slugify_basic"],
                       {"tests/t.py::test_slugify_basic": "slugify lower-cases words."},
                       {"tests/t.py::test_slugify_basic": "assert 'A-b' == 'a-b'"})
    assert "slugify lower-cases words." in text and "assert 'A-b' == 'a-b'" in text


def test_unknown_repository_is_named():
    """Asking for a repository that does not exist lists the known ones."""
    with pytest.raises(ValueError, match="textkit"):
        repo_files("nope")
