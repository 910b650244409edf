"""agentgym/SWE-v0 end to end in real containers: grading, tools, invalid actions, checker."""

from __future__ import annotations

import io
import json
import tarfile
import time

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
    # an expected failure or a skip is not a pass: only the code under test can cause one
    faked = {"a": "XFAIL", "b": "SKIPPED", "c": "XPASS"}
    assert grade(faked, ["a", "b", "c"], [])["f2p_rate"] == 0.0
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


# -- step() never raises on any string ------------------------------------------------------------
import math  # noqa: E402

from gymnasium.error import ResetNeeded  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from agentgym.envs.swe.tools import (  # noqa: E402
    MAX_NUMBER,
    TOOLS,
    ToolCallError,
    json_depth,
    parse_tool_call,
)
from agentgym.sandboxes.docker import SandboxError, SandboxPool  # noqa: E402

ADVERSARIAL = {
    "JSON nested 10,000 deep": "[" * 10_000 + "]" * 10_000,
    "arguments nested 10,000 deep": '{"name": "bash", "arguments": ' + "[" * 10_000 + "]" * 10_000
                                    + "}",
    "arguments string nested deep": json.dumps({"name": "bash", "arguments": "[" * 5000}),
    "timeout NaN": '{"name": "bash", "arguments": {"command": "ls", "timeout": NaN}}',
    "timeout Infinity": '{"name": "bash", "arguments": {"command": "ls", "timeout": Infinity}}',
    "timeout negative": call("bash", command="ls", timeout=-5),
    "timeout zero": call("bash", command="ls", timeout=0),
    "timeout 400 digits": '{"name": "bash", "arguments": {"command": "ls", "timeout": '
                          + "9" * 400 + "}}",
    "timeout 5000 digits": '{"name": "bash", "arguments": {"command": "ls", "timeout": '
                           + "9" * 5000 + "}}",
    "line number 400 digits": '{"name": "view_file", "arguments": {"path": "x", "end_line": '
                              + "9" * 400 + "}}",
    "1 MB command": call("bash", command="x" * 1_000_000),
    "1 MB raw text": "y" * 1_000_000,
    "lone surrogate escaped": '{"name": "bash", "arguments": {"command": "echo \\ud800"}}',
    "lone surrogate raw": '{"name": "bash", "arguments": {"command": "echo \ud800"}}',
    "lone surrogate in a path": '{"name": "view_file", "arguments": {"path": "\\udfff.py"}}',
    "lone surrogate as a tool name": '{"name": "\\ud800"}',
    "arguments a list": '{"name": "bash", "arguments": [1, 2]}',
    "arguments a number": '{"name": "bash", "arguments": 3}',
    "arguments a JSON string of a list": json.dumps({"name": "bash", "arguments": "[1]"}),
    "tests a list of numbers": call("run_tests", tests=[1, 2]),
    "name a number": '{"name": 7, "arguments": {}}',
}


def test_step_before_reset_raises_reset_needed(image):
    env = SWEEnv(split=None)
    with pytest.raises(ResetNeeded):
        env.step(call("submit"))
    with pytest.raises(ResetNeeded):
        env.expert_action()


def test_adversarial_actions_are_invalid_with_a_message(env):
    _, info = env.reset(seed=0)
    answers = {}
    for label, action in ADVERSARIAL.items():
        obs, reward, terminated, truncated, step_info = env.step(action)
        obs.encode("utf-8")  # the answer is always encodable
        answers[label] = (step_info["action_valid"], bool(obs.strip()), terminated, truncated,
                          step_info["state_key"] == info["state_key"], reward)
    assert answers == dict.fromkeys(ADVERSARIAL, (False, True, False, False, True, 0.0))


_json_leaf = (st.none() | st.booleans() | st.integers(min_value=-10**500, max_value=10**500)
              | st.floats(allow_nan=True, allow_infinity=True)
              | st.text(st.characters(exclude_categories=()), max_size=12))
_json = st.recursive(_json_leaf, lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=12)
_params = sorted({p for _, params in TOOLS.values() for p in params})
_calls = st.fixed_dictionaries({
    "name": st.sampled_from([*TOOLS, "rm_rf"]) | _json,
    "arguments": _json | st.dictionaries(st.sampled_from(_params) | st.text(max_size=4), _json,
                                         max_size=4),
})


def _nested(depth: int) -> str:
    return '{"name": "bash", "arguments": ' + "[" * depth + "]" * depth + "}"


_actions = (st.text(st.characters(exclude_categories=()))
            | _calls.map(lambda c: json.dumps(c))
            | _calls.map(lambda c: json.dumps({**c, "arguments": json.dumps(c["arguments"])}))
            | st.integers(0, 3000).map(_nested))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_actions)
def test_parse_tool_call_only_ever_raises_tool_call_error(action):
    """Property: any string is a checked call or a ToolCallError — never another exception —
    and an accepted call's arguments are exactly what the tools can use."""
    try:
        name, args = parse_tool_call(action)
    except ToolCallError as exc:
        str(exc).encode("utf-8")  # the message itself is always encodable
        return
    params = TOOLS[name][1]
    assert set(args) <= set(params)
    assert all(p in args for p, spec in params.items() if spec.required)
    for param, value in args.items():
        assert not isinstance(value, bool) and isinstance(value, params[param].types)
        if isinstance(value, int | float):
            assert math.isfinite(value) and abs(value) <= MAX_NUMBER
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                item.encode("utf-8")
                assert "\x00" not in item


@given(st.text(alphabet='[]{}"\\ab', max_size=60))
def test_json_depth_matches_a_reference(text):
    """``json_depth`` (a linear scan) equals a reference computed on what json accepts."""
    try:
        value = json.loads(text)
    except ValueError:
        return

    def depth(v) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    assert json_depth(text) == depth(value)


# -- reset is a queue pop; a failing reset is logged and counted ---------------------------------
def test_reset_takes_a_prepared_container_from_the_queue(image):
    pool = SandboxPool(image, size=2, standby=1)
    env = SWEEnv(split=None, pool=pool)
    try:
        assert pool.wait_idle() and pool.idle == 1
        env.reset(seed=0)
        assert pool.stats.warm_acquires == 1 and pool.stats.cold_acquires == 0
        env.close()
        assert pool.wait_idle()
        env.reset(seed=1)
        assert pool.stats.cold_acquires == 0 and pool.stats.recycled == 1
    finally:
        env.close()
        pool.close()


def test_a_failing_reset_is_logged_and_counted(image, caplog):
    broken = SWETask(instance_id="local__missing-source", repo="local/missing",
                     problem_statement="x", patch="", FAIL_TO_PASS=["t.py::a"], PASS_TO_PASS=[],
                     kind="swebench", source_dir="/no/such/dir")
    pool = SandboxPool(image, size=2, standby=0)
    env = SWEEnv(tasks=[broken], pool=pool)
    try:
        with pytest.raises(SandboxError, match="preparing local__missing-source failed"):
            env.reset(seed=0)
        assert pool.stats.discarded == 2 and pool.idle == 0
        assert caplog.text.count("discarded: preparing local__missing-source failed") == 2
    finally:
        env.close()
        pool.close()


def test_a_container_that_dies_ends_the_episode_without_raising(client, image):
    pool = SandboxPool(image, size=1, standby=0)
    env = SWEEnv(split=None, pool=pool)
    killed = []
    try:
        env.reset(seed=0)
        killed.append(env._sandbox.container_id)
        client.api.kill(env._sandbox.container_id)
        obs, reward, terminated, truncated, info = env.step(call("bash", command="ls"))
        assert truncated and not terminated and reward == 0.0 and "sandbox ended" in obs
        assert env.step(call("bash", command="ls"))[4]["action_valid"] is False  # over
        env.reset(seed=0)
        killed.append(env._sandbox.container_id)
        client.api.kill(env._sandbox.container_id)
        obs, reward, terminated, truncated, info = env.step(call("submit"))
        assert terminated and reward == 0.0 and info["reward_parts"]["submitted"] == 1.0
        assert "NOT RESOLVED" in obs and info["error"]
    finally:
        env.close()
        pool.close()
        deadline = time.monotonic() + 60  # let docker finish removing the killed containers
        while time.monotonic() < deadline and any(
                client.api.containers(all=True, filters={"id": i}) for i in killed):
            time.sleep(0.2)


# -- the .git written on the host is the one git makes -------------------------------------------
def test_git_dir_equals_what_git_itself_commits(image):
    from agentgym.envs.swe.gitrepo import git_dir
    from agentgym.sandboxes.docker import AS_AGENT, DockerSandbox, make_tar

    files = {"a.py": "print(1)\n", "pkg/__init__.py": "", "pkg/b.py": "x = 2\n",
             "pkg-data/c.txt": "c\n", "pkg.txt": "d\n", "z/y/x.bin": bytes(range(256))}
    identity = ("GIT_AUTHOR_NAME=agentgym GIT_AUTHOR_EMAIL=agentgym@sandbox "
                "GIT_COMMITTER_NAME=agentgym GIT_COMMITTER_EMAIL=agentgym@sandbox "
                "GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000'")
    with DockerSandbox(image) as sandbox:
        sandbox.reset(make_tar(files))
        made = sandbox.run_root(
            f"cd /work && {AS_AGENT} {identity} sh -c 'git init -q --template= && git add -A && "
            "git commit -q -m base && git rev-parse HEAD HEAD^{tree}'")
        assert made.ok, made.text()
        ours = git_dir(files)
        sandbox.reset(make_tar({**files, **ours}))
        checked = sandbox.run_root(
            f"cd /work && {AS_AGENT} sh -c 'git fsck --strict --no-dangling && "
            "git status --porcelain && git diff HEAD --stat && git rev-parse HEAD HEAD^{tree}'")
        assert checked.ok, checked.text()
    assert ours[".git/refs/heads/master"].decode().strip() == made.text().split()[0]
    assert checked.text().split() == made.text().split()  # clean status, empty diff, same ids
