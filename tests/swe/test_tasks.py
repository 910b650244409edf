"""Bug generation (AST mutations, validation by the tests), the cache, and the SWE-bench loader."""

from __future__ import annotations

import ast
import json
import subprocess

from agentgym.envs.swe.mutations import mutations_of, unified_diff
from agentgym.envs.swe.tasks import (
    generate_tasks,
    load_swebench_instances,
    load_tasks,
    repo_names,
    write_issue,
)

SOURCE = '''def f(a, b):
    total = a - b
    if a < b:
        total += 1
    return total * 2
'''


def test_mutations_are_minimal_and_cover_every_kind():
    found = mutations_of("m.py", SOURCE)
    kinds = {m.kind for m in found}
    assert {"operator", "swap", "constant", "invert", "remove"} <= kinds
    by_text = {m.mutated for m in found}
    assert SOURCE.replace("a - b", "a + b") in by_text  # operator flip
    assert SOURCE.replace("a - b", "b - a") in by_text  # swapped operands
    assert SOURCE.replace("a < b", "a <= b") in by_text
    assert SOURCE.replace("if a < b", "if not a < b") in by_text  # inverted condition
    assert SOURCE.replace("total * 2", "total * 3") in by_text  # changed constant
    assert SOURCE.replace("        total += 1\n", "") not in by_text  # only statement: kept
    assert SOURCE.replace("    if a < b:\n        total += 1\n", "") in by_text  # removed if
    for m in found:
        ast.parse(m.mutated)
        changed = [a for a, b in zip(SOURCE.splitlines(), m.mutated.splitlines(), strict=False)
                   if a != b]
        assert m.kind == "remove" or len(changed) == 1


def test_gold_patch_is_the_reverse_diff(tmp_path):
    mutation = next(m for m in mutations_of("m.py", SOURCE) if m.kind == "operator")
    (tmp_path / "m.py").write_text(mutation.mutated)
    (tmp_path / "fix.patch").write_text(unified_diff("m.py", mutation.mutated, SOURCE))
    subprocess.run(["patch", "-p1", "-s", "-i", "fix.patch"], cwd=tmp_path, check=True)
    assert (tmp_path / "m.py").read_text() == SOURCE


def test_generation_keeps_only_bugs_some_test_catches():
    tasks = generate_tasks(["ledger"], candidates_per_repo=12, workers=2)
    assert tasks, "no valid bug among 12 candidates"
    for task in tasks:
        assert task.FAIL_TO_PASS and not set(task.FAIL_TO_PASS) & set(task.PASS_TO_PASS)
        assert len(task.FAIL_TO_PASS) + len(task.PASS_TO_PASS) == 30  # the ledger suite
        assert task.patch.startswith("diff --git a/ledger.py b/ledger.py")
        assert "@@" not in task.problem_statement and "+++" not in task.problem_statement
        assert task.split in ("train", "test")
    again = generate_tasks(["ledger"], candidates_per_repo=12, workers=1)
    assert [t.to_json() for t in again] == [t.to_json() for t in tasks]  # seeded, deterministic


def test_full_task_set_is_cached_and_split():
    tasks = load_tasks(None)
    assert len(tasks) >= 100
    assert {t.repo for t in tasks} == set(repo_names()) and len(repo_names()) >= 3
    train, test = load_tasks("train"), load_tasks("test")
    assert len(train) + len(test) == len(tasks) and train and test
    assert not {t.instance_id for t in train} & {t.instance_id for t in test}
    assert len({t.instance_id for t in tasks}) == len(tasks)


def test_issue_is_written_from_test_intent():
    text = write_issue("textkit", ["tests/t.py::test_slugify_basic"],
                       {"tests/t.py::test_slugify_basic": "slugify lower-cases words."},
                       {"tests/t.py::test_slugify_basic": "assert 'A-b' == 'a-b'"})
    assert "slugify lower-cases words." in text and "assert 'A-b' == 'a-b'" in text


def test_swebench_loader(tmp_path):
    instance = {
        "instance_id": "owner__proj-1", "repo": "owner/proj", "base_commit": "abc123",
        "patch": "diff --git a/x.py b/x.py\n", "test_patch": "", "problem_statement": "bug",
        "FAIL_TO_PASS": json.dumps(["tests/test_x.py::test_a"]),
        "PASS_TO_PASS": ["tests/test_x.py::test_b"], "image": "local/proj:1",
    }
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps(instance) + "\n")
    (task,) = load_swebench_instances(path)
    assert task.FAIL_TO_PASS == ["tests/test_x.py::test_a"]
    assert task.PASS_TO_PASS == ["tests/test_x.py::test_b"]
    assert (task.image, task.kind, task.source_dir) == ("local/proj:1", "swebench", "/testbed")
    del instance["image"]
    (task,) = load_swebench_instances([instance])
    assert task.image == "sweb.eval.x86_64.owner_1776_proj-1:latest"
