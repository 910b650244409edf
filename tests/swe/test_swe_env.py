"""agentgym/SWE-v0 end to end in real containers: grading, tools, invalid actions, checker."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

import agentgym
from agentgym.core.checker import GARBAGE_ACTIONS, check_env
from agentgym.envs.swe.env import SWEEnv, grade, parse_test_statuses
from agentgym.envs.swe.mutations import unified_diff
from agentgym.envs.swe.tasks import SWETask, _validate, load_tasks, repo_files, write_issue


def call(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


@pytest.fixture
def env(image):
    environment = SWEEnv(split=None)
    yield environment
    environment.close()


def test_grade_by_hand():
    statuses = {"a": "PASSED", "b": "FAILED", "c": "PASSED"}
    assert grade(statuses, ["a", "b"], ["c"]) == {"f2p_rate": 0.5, "p2p_rate": 1.0,
                                                  "resolved": 0.0}
    assert grade(statuses, ["a"], ["c", "missing"])["p2p_rate"] == 0.5
    assert grade(statuses, ["a"], ["c"])["resolved"] == 1.0
    assert parse_test_statuses("PASSED t.py::a\nFAILED t.py::b - boom\n") == {
        "t.py::a": "PASSED", "t.py::b": "FAILED"}


@pytest.mark.parametrize("index", [0, 57, 131])
def test_gold_patch_resolves_and_empty_patch_does_not(env, index):
    task = load_tasks(None)[index]
    _, info = env.reset(options={"task_id": task.instance_id})
    assert info["task_id"] == task.instance_id and info["answer"] == task.patch
    _, reward, terminated, _, info = env.step(call("submit"))
    assert terminated and reward == 0.0 and not info["success"]
    assert info["reward_parts"]["patch_nonempty"] == 0.0 and info["reward_parts"]["f2p_rate"] == 0
    env.reset(options={"task_id": task.instance_id})
    _, _, _, _, info = env.step(call("apply_patch", patch=task.patch))
    assert info["action_valid"]
    _, reward, terminated, _, info = env.step(call("submit"))
    assert terminated and reward == 1.0 and info["success"]
    assert info["reward_parts"] == {"submitted": 1.0, "patch_nonempty": 1.0, "tests_run": 0.0,
                                    "f2p_rate": 1.0, "p2p_rate": 1.0, "resolved": 1.0}


def _two_bug_task() -> tuple[SWETask, str, float]:
    original = repo_files("textkit")["textkit.py"]
    bug_a = ("        while number >= value:", "        while number > value:")
    bug_b = ('ord("a") + shift) % 26', 'ord("a") + shift) % 25')
    one = original.replace(*bug_a)
    both = one.replace(*bug_b)
    assert original.count(bug_a[0]) == 1 and one != original and both != one
    files = repo_files("textkit")
    report_both = _validate(({**files, "textkit.py": both}, None, 30))
    report_b = _validate(({**files, "textkit.py": original.replace(*bug_b)}, None, 30))
    failing = sorted(t for t, (o, _) in report_both["results"].items() if o != "passed")
    failing_b = {t for t, (o, _) in report_b["results"].items() if o != "passed"}
    passing = sorted(t for t in report_both["results"] if t not in failing)
    task = SWETask(instance_id="textkit__two_bugs", repo="textkit",
                   problem_statement=write_issue("textkit", failing, report_both["docs"], {}),
                   patch=unified_diff("textkit.py", both, original), FAIL_TO_PASS=failing,
                   PASS_TO_PASS=passing, files={"textkit.py": both})
    partial = unified_diff("textkit.py", both, original.replace(*bug_b))  # fixes bug A only
    expected = (len(failing) - len(failing_b)) / len(failing)
    return task, partial, expected


def test_partial_fix_gets_the_f2p_rate(image):
    task, partial, expected = _two_bug_task()
    assert len(task.FAIL_TO_PASS) >= 3 and 0 < expected < 1
    env = SWEEnv(tasks=[task])
    try:
        env.reset(seed=0)
        assert env.step(call("apply_patch", patch=partial))[4]["action_valid"]
        _, reward, _, _, info = env.step(call("submit"))
        assert info["reward_parts"]["f2p_rate"] == pytest.approx(expected)
        assert info["reward_parts"]["p2p_rate"] == 1.0 and reward == 0.0
    finally:
        env.close()


def test_tools_and_state_key(env):
    task = load_tasks(None)[3]
    obs, info = env.reset(options={"task_id": task.instance_id})
    pristine = info["state_key"]
    assert task.problem_statement in obs and "run_tests" in obs
    (path,) = task.files
    view = env.step(call("view_file", path=path, start_line=1, end_line=3))
    assert view[4]["action_valid"] and "     1\t" in view[0] and view[4]["state_key"] == pristine
    tests = env.step(call("run_tests"))
    assert tests[4]["reward_parts"]["tests_run"] == 1.0 and "failed" in tests[0]
    assert " in 0." not in tests[0]  # timings are stripped (deterministic observations)
    assert env.step(call("run_tests"))[4]["reward_parts"]["tests_run"] == 0.0  # first call only
    first_line = task.files[path].splitlines()[0]
    edit = env.step(call("edit_file", path=path, old_str=first_line,
                         new_str=first_line + "  # edited"))
    assert edit[4]["action_valid"] and edit[4]["state_key"] != pristine
    undo = env.step(call("bash", command="git checkout -- . && git status --short"))
    assert "[exit code 0]" in undo[0] and undo[4]["state_key"] == pristine
    long = env.step(call("bash", command="seq 1 100000"))
    assert "characters truncated ...]" in long[0]


@pytest.mark.parametrize("action", [
    *GARBAGE_ACTIONS.values(),
    '{"name": "rm_rf", "arguments": {}}',
    '{"name": "bash", "arguments": {}}',
    '{"name": "bash", "arguments": {"command": 3}}',
    '{"name": "bash", "arguments": {"command": "ls", "sudo": true}}',
    '{"name": "view_file", "arguments": {"path": "../../etc/passwd"}}',
    '{"name": "edit_file", "arguments": {"path": "missing.py", "old_str": "a", "new_str": "b"}}',
    '{"name": "apply_patch", "arguments": {"patch": "not a diff"}}',
    '[1, 2]',
    '{"name": "submit", "arguments": "{"}',
])
def test_bad_actions_are_invalid_with_a_message(env, action):
    _, info = env.reset(seed=0)
    obs, reward, terminated, truncated, step_info = env.step(action)
    assert step_info["action_valid"] is False and obs.strip()
    assert step_info["state_key"] == info["state_key"]
    assert not terminated and not truncated and reward == 0.0


def test_conformance_checker(image):
    report = check_env("agentgym/SWE-v0")
    assert report.ok and report.expert_successes == 2


def test_make_applies_turn_limit(image):
    env = agentgym.make("agentgym/SWE-v0")
    try:
        env.reset(seed=1)
        for _ in range(29):
            *_, truncated, _ = env.step(call("view_file", path="tests"))
            assert not truncated
        *_, truncated, _ = env.step(call("bash", command="true"))
        assert truncated
    finally:
        env.close()


def test_swebench_format_task_in_a_local_image(client, image, tmp_path):
    """A SWE-bench instance whose image (built here) holds the repository at /testbed."""
    files = {**repo_files("intervals")}
    original = files["intervals.py"]
    files["intervals.py"] = original.replace("return self.start <= point < self.end",
                                             "return self.start <= point <= self.end")
    builder = client.containers.run(image, ["sleep", "300"], detach=True)
    try:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, text in files.items():
                data = text.encode()
                member = tarfile.TarInfo(f"testbed/{name}")
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
        builder.put_archive("/", buf.getvalue())
        builder.exec_run(["bash", "-c", "cd /testbed && git init -q && git add -A && "
                          "git -c user.name=x -c user.email=x@y commit -qm base"])
        builder.commit(repository="agentgym/swebench-local", tag="test")
    finally:
        builder.remove(force=True)
    instance = {
        "instance_id": "local__intervals-1", "repo": "local/intervals", "base_commit": "HEAD",
        "patch": unified_diff("intervals.py", files["intervals.py"], original),
        "test_patch": "", "problem_statement": "contains() includes the end point",
        "FAIL_TO_PASS": json.dumps(["tests/test_intervals.py::test_contains_excludes_end"]),
        "PASS_TO_PASS": json.dumps(["tests/test_intervals.py::test_overlaps"]),
        "image": "agentgym/swebench-local:test",
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps([instance]))
    env = SWEEnv(tasks=str(path))
    try:
        env.reset(seed=0)
        assert env.step(env.expert_action())[4]["action_valid"]
        _, reward, terminated, _, info = env.step(env.expert_action())
        assert terminated and reward == 1.0 and info["success"]
        env.reset(seed=0)
        assert env.step(call("submit"))[1] == 0.0
    finally:
        env.close()
        from agentgym.sandboxes.docker import close_shared_pools

        close_shared_pools()
        client.images.remove("agentgym/swebench-local:test", force=True)
