"""``agentgym/SWE-v0``: fix a bug in a Python repository inside a docker sandbox.

The agent sees an issue written from the failing tests' intent and acts with JSON tool calls
(:mod:`agentgym.envs.swe.tools`): ``bash``, ``view_file``, ``edit_file``, ``apply_patch``,
``run_tests`` and ``submit``. On ``submit`` the repository's diff (test files excluded) is graded
*inside the sandbox* the SWE-bench way: the pristine repository is restored, the diff applied,
and the ``FAIL_TO_PASS`` and ``PASS_TO_PASS`` tests run (Jimenez et al., SWE-bench, ICLR 2024).

Reward parts (all present every turn, zero unless earned):

=================  ====================================================================
``submitted``      1 on the submit turn
``patch_nonempty`` 1 on the submit turn if the diff is not empty
``tests_run``      1 on the first ``run_tests`` call (a process reward, for gated G-RA)
``f2p_rate``       fraction of FAIL_TO_PASS tests passing after the patch
``p2p_rate``       fraction of PASS_TO_PASS tests still passing
``resolved``       1 if every F2P and every P2P test passes (SWE-bench FULL)
=================  ====================================================================

The default reward is ``resolved`` alone; pass ``reward_weights`` to mix parts, or feed the
parts to the ``gated`` transform (G-RA, arXiv 2508.10548) with ``resolved`` as the gate.
``state_key`` is a hash of the repository's diff (``git diff`` in the container).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.core.env import TextEnv
from agentgym.envs.swe.tasks import SWETask, load_swebench_instances, load_tasks, repo_files
from agentgym.envs.swe.tools import (
    ToolCallError,
    example_calls,
    parse_tool_call,
    resolve_path,
    tool_help,
    truncate_middle,
)
from agentgym.sandboxes.docker import (
    DockerSandbox,
    SandboxLimits,
    SandboxPool,
    make_tar,
    shared_pool,
)

REWARD_PARTS = ("submitted", "patch_nonempty", "tests_run", "f2p_rate", "p2p_rate", "resolved")
DEFAULT_WEIGHTS = {"resolved": 1.0, "submitted": 0.0, "patch_nonempty": 0.0, "tests_run": 0.0,
                   "f2p_rate": 0.0, "p2p_rate": 0.0}
WORKDIR = "/work"
GITIGNORE = "__pycache__/\n*.pyc\n.pytest_cache/\n"
#: Paths left out of the graded patch (the agent must not change the tests).
PROTECTED = ("':(exclude)tests'", "':(exclude,glob)**/conftest.py'", "':(exclude)conftest.py'")
_STATUS = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S+)", re.MULTILINE)
_TIMING = re.compile(r" in \d+(\.\d+)?s( \(\d+:\d+:\d+\))?")
_DIFF = (
    "cp .git/index /tmp/.agentgym-index 2>/dev/null; export GIT_INDEX_FILE=/tmp/.agentgym-index;"
    " git add -A . >/dev/null 2>&1 && git diff --cached --binary HEAD -- . {exclude}"
)
_PYTEST = "python3 -m pytest -p no:cacheprovider -q"


def parse_test_statuses(output: str) -> dict[str, str]:
    """``{test id: PASSED|FAILED|ERROR|...}`` from pytest ``-rA`` output."""
    return {test: status for status, test in _STATUS.findall(output)}


def grade(statuses: Mapping[str, str], fail_to_pass: Sequence[str],
          pass_to_pass: Sequence[str]) -> dict[str, float]:
    """SWE-bench grading of test statuses: F2P/P2P pass rates and FULL resolution.

    A test missing from ``statuses`` counts as failed. An empty list has rate 1.
    """
    def rate(tests: Sequence[str]) -> float:
        if not tests:
            return 1.0
        return sum(statuses.get(t) in ("PASSED", "XFAIL") for t in tests) / len(tests)

    f2p, p2p = rate(fail_to_pass), rate(pass_to_pass)
    return {"f2p_rate": f2p, "p2p_rate": p2p, "resolved": float(f2p == 1.0 and p2p == 1.0)}


class SWEEnv(TextEnv):
    """Fix a bug in a repository in a docker sandbox; graded by the repository's tests.

    Args:
        split: ``train`` or ``test`` (generated tasks), or None for all.
        tasks: explicit tasks (:class:`SWETask` list) or a path to SWE-bench-format instances.
        limits: sandbox resource limits.
        pool: a :class:`SandboxPool` (default: the process-wide warm pool of the task's image).
        max_output: characters of tool output shown (head and tail are kept).
        command_timeout: seconds a ``bash`` command may run.
        test_timeout: seconds a test run may take.
        reward_weights: weights of the reward parts (default: ``resolved`` only).
        render_mode: None or ``"ansi"``.
    """

    def __init__(
        self,
        *,
        split: str | None = "train",
        tasks: Sequence[SWETask] | str | None = None,
        limits: SandboxLimits | None = None,
        pool: SandboxPool | None = None,
        max_output: int = 8000,
        command_timeout: float = 30.0,
        test_timeout: float = 120.0,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights or DEFAULT_WEIGHTS,
                         render_mode=render_mode)
        self.split = split
        self._task_source = tasks
        self._tasks: list[SWETask] | None = None
        self.limits = limits or SandboxLimits()
        self._pool = pool
        self.max_output = max_output
        self.command_timeout = command_timeout
        self.test_timeout = test_timeout
        self._sandbox: DockerSandbox | None = None
        self._sandbox_pool: SandboxPool | None = None
        self._archives: dict[str, bytes] = {}
        self.task: SWETask | None = None
        self._state_key = ""
        self._done = True
        self._tests_run = False
        self._pristine_key = ""
        self._gold_key: str | None = None
        self._last_text = ""

    # -- tasks -------------------------------------------------------------------------------
    @property
    def tasks(self) -> list[SWETask]:
        if self._tasks is None:
            source = self._task_source
            if source is None:
                self._tasks = load_tasks(self.split)
            elif isinstance(source, str):
                self._tasks = load_swebench_instances(source)
            else:
                self._tasks = list(source)
            if not self._tasks:
                raise ValueError(f"no SWE tasks for split {self.split!r}")
        return self._tasks

    def _archive(self, task: SWETask) -> bytes:
        if task.instance_id not in self._archives:
            files = {**repo_files(task.repo), **task.files, ".gitignore": GITIGNORE}
            self._archives = {task.instance_id: make_tar(files)}  # keep one (memory)
        return self._archives[task.instance_id]

    # -- sandbox -----------------------------------------------------------------------------
    def _acquire(self, image: str) -> DockerSandbox:
        if self._sandbox is not None and self._sandbox.image == image and self._sandbox.started:
            return self._sandbox
        self._release()
        pool = self._pool if self._pool is not None and self._pool.image == image else None
        self._sandbox_pool = pool or shared_pool(image, self.limits)
        self._sandbox = self._sandbox_pool.acquire()
        return self._sandbox

    def _release(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None and self._sandbox_pool is not None:
            self._sandbox_pool.release(sandbox)

    def close(self) -> None:
        """Give the sandbox back to its pool (it is reset there)."""
        self._release()

    def _prepare(self, sandbox: DockerSandbox, task: SWETask) -> None:
        """Put the task's repository, at its base commit, into the (empty) work dir."""
        if task.kind == "swebench":
            sandbox.reset()
            script = (f"cp -r --preserve=mode {task.source_dir}/. {WORKDIR}/ && "
                      "(git rev-parse -q --verify HEAD >/dev/null || "
                      "(git init -q && git add -A && git commit -qm base))")
        else:
            sandbox.reset(self._archive(task))
            script = "git init -q && git add -A && git commit -qm base"
        result = sandbox.exec(script, timeout=60)
        if not result.ok:
            raise RuntimeError(f"preparing {task.instance_id} failed: {result.output[-500:]}")

    def _diff(self, exclude: str = "") -> str:
        assert self._sandbox is not None
        return self._sandbox.exec(_DIFF.format(exclude=exclude), timeout=30,
                                  max_output=10_000_000).output

    def _compute_state_key(self) -> str:
        return "diff:" + hashlib.sha256(self._diff().encode()).hexdigest()[:16]

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        tasks = self.tasks
        wanted = (options or {}).get("task_id")
        if wanted is not None:
            matches = [t for t in tasks if t.instance_id == wanted]
            if not matches:
                raise ValueError(f"unknown task_id {wanted!r}")
            task = matches[0]
        else:
            task = tasks[int(self.np_random.integers(len(tasks)))]
        self.task = task
        sandbox = self._acquire(task.image)
        try:
            self._prepare(sandbox, task)
        except Exception:
            sandbox.close()
            self._release()
            raise
        self._done, self._tests_run, self._gold_key = False, False, None
        self._state_key = self._pristine_key = self._compute_state_key()
        listing = sandbox.exec("git ls-files", timeout=30).output.strip()
        self._last_text = (
            f"You are working in a git repository at {WORKDIR} ({task.repo}). "
            "Resolve this issue:\n\n"
            f"{task.problem_statement}\n\n"
            f"Repository files:\n{listing}\n\n"
            "Act with one JSON tool call per turn, "
            '{"name": TOOL, "arguments": {...}}. Tools:\n'
            f"{tool_help()}"
        )
        info = self.reset_info(task_id=task.instance_id, instruction=task.problem_statement,
                               state_key=self._state_key, answer=task.patch)
        return self._last_text, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.task is None or self._sandbox is None:
            raise RuntimeError("call reset() before step()")
        parts = dict.fromkeys(REWARD_PARTS, 0.0)
        if self._done:
            return self._invalid("the episode is over (already submitted); call reset()", parts)
        try:
            name, args = parse_tool_call(action)
            if name in ("view_file", "edit_file"):
                args["path"] = resolve_path(args["path"], WORKDIR)
        except ToolCallError as exc:
            return self._invalid(f"invalid action: {exc}", parts)
        handler = getattr(self, f"_tool_{name}")
        try:
            text = handler(args, parts)
        except ToolCallError as exc:
            return self._invalid(f"{name} failed: {exc}", parts)
        terminated = name == "submit"
        if name not in ("view_file", "submit"):
            self._state_key = self._compute_state_key()
        if terminated:
            self._done = True
        self._last_text = text
        success = bool(parts["resolved"] >= 1.0)
        info = self.step_info(state_key=self._state_key, action_valid=True, reward_parts=parts,
                              success=success, tool=name)
        return text, self.reward_from_parts(parts), terminated, False, info

    def _invalid(self, message: str, parts: dict[str, float]
                 ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        text = truncate_middle(message, self.max_output)
        if not self._done:
            text += "\nSend one JSON tool call, e.g. " + example_calls([])[0]
        info = self.step_info(state_key=self._state_key, action_valid=False, reward_parts=parts)
        return text, self.reward_from_parts(parts), False, False, info

    # -- tools -------------------------------------------------------------------------------
    def _tool_bash(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        assert self._sandbox is not None
        timeout = min(float(args.get("timeout", self.command_timeout)), self.command_timeout)
        result = self._sandbox.exec(args["command"], timeout=max(timeout, 0.1))
        text = truncate_middle(result.output, self.max_output)
        if result.timed_out:
            return f"{text}\n[command timed out after {timeout:g} s and was killed]"
        return f"{text}\n[exit code {result.exit_code}]"

    def _read(self, path: str) -> str:
        assert self._sandbox is not None
        result = self._sandbox.exec(["cat", "--", path], timeout=30, max_output=4_000_000)
        if not result.ok:
            raise ToolCallError(result.output.strip() or f"cannot read {path}")
        if result.truncated:
            raise ToolCallError(f"{path} is too large")
        return result.output

    def _tool_view_file(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        lines = self._read(args["path"]).splitlines()
        start = max(int(args.get("start_line", 1)), 1)
        end = min(int(args.get("end_line", len(lines))), len(lines))
        shown = "\n".join(f"{n:6d}\t{lines[n - 1]}" for n in range(start, end + 1))
        header = f"{args['path']} (lines {start}-{end} of {len(lines)})"
        return truncate_middle(f"{header}\n{shown}", self.max_output)

    def _tool_edit_file(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        assert self._sandbox is not None
        path, old, new = args["path"], args["old_str"], args["new_str"]
        if not old:
            raise ToolCallError("old_str is empty")
        content = self._read(path)
        count = content.count(old)
        if count != 1:
            raise ToolCallError(f"old_str occurs {count} times in {path}; it must occur exactly "
                                "once (add surrounding lines to make it unique)")
        self._sandbox.put_files({path.removeprefix(WORKDIR + "/"): content.replace(old, new)})
        return f"edited {path}: replaced 1 occurrence ({len(old)} -> {len(new)} characters)"

    def _tool_apply_patch(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        assert self._sandbox is not None and self.task is not None
        patch = args["patch"]
        if not patch.strip():
            raise ToolCallError("the patch is empty")
        if not patch.endswith("\n"):
            patch += "\n"
        result = self._apply(patch)
        if not result[0]:
            raise ToolCallError(truncate_middle(result[1], self.max_output))
        if patch == self.task.patch and self._state_key == self._pristine_key:
            self._gold_key = self._compute_state_key()
        return "patch applied\n" + truncate_middle(result[1], self.max_output)

    def _apply(self, patch: str) -> tuple[bool, str]:
        assert self._sandbox is not None
        self._sandbox.put_files({".agentgym.patch": patch}, dest="/tmp")
        result = self._sandbox.exec(
            "git apply --whitespace=nowarn --stat --apply /tmp/.agentgym.patch 2>&1 || "
            "(patch -p1 --dry-run -s < /tmp/.agentgym.patch && patch -p1 -s "
            "< /tmp/.agentgym.patch)", timeout=60)
        return result.ok, result.output.strip()

    def _tool_run_tests(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        assert self._sandbox is not None
        tests = args.get("tests", [])
        tests = [tests] if isinstance(tests, str) else list(tests)
        command = [*_PYTEST.split(), "--tb=short", "--", *tests]
        result = self._sandbox.exec(command, timeout=self.test_timeout)
        if not self._tests_run:
            self._tests_run = True
            parts["tests_run"] = 1.0
        text = truncate_middle(_TIMING.sub("", result.output), self.max_output)
        if result.timed_out:
            text += f"\n[tests timed out after {self.test_timeout:g} s]"
        return text

    def _tool_submit(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        assert self._sandbox is not None and self.task is not None
        task = self.task
        exclude = " ".join(PROTECTED) if task.kind == "generated" else ""
        patch = self._diff(exclude)
        parts["submitted"] = 1.0
        parts["patch_nonempty"] = float(bool(patch.strip()))
        statuses, note = self.evaluate(patch)
        parts.update(grade(statuses, task.FAIL_TO_PASS, task.PASS_TO_PASS))
        verdict = "RESOLVED" if parts["resolved"] else "NOT RESOLVED"
        return (f"submitted. {note}\n{verdict}: FAIL_TO_PASS {parts['f2p_rate']:.0%}, "
                f"PASS_TO_PASS {parts['p2p_rate']:.0%}")

    def evaluate(self, patch: str) -> tuple[dict[str, str], str]:
        """Grade ``patch`` in the sandbox: restore the pristine repository, apply the patch (and
        the task's test patch), run the F2P and P2P tests; returns their statuses and a note."""
        assert self._sandbox is not None and self.task is not None
        task = self.task
        self._prepare(self._sandbox, task)
        if patch.strip():
            ok, output = self._apply(patch)
            if not ok:
                return {}, f"the patch does not apply: {output[:300]}"
        if task.test_patch.strip():
            ok, output = self._apply(task.test_patch)
            if not ok:
                return {}, f"the test patch does not apply: {output[:300]}"
        tests = [*task.FAIL_TO_PASS, *task.PASS_TO_PASS]
        result = self._sandbox.exec([*_PYTEST.split(), "-rA", "--tb=no", "--", *tests],
                                    timeout=self.test_timeout, max_output=10_000_000)
        statuses = parse_test_statuses(result.output)
        note = "tests timed out." if result.timed_out else f"{len(statuses)} tests ran."
        return statuses, note

    # -- oracle and helpers ------------------------------------------------------------------
    def expert_action(self) -> str:
        """Apply the gold patch to the pristine repository, then submit."""
        assert self.task is not None
        if self._state_key == self._pristine_key:
            return json.dumps({"name": "apply_patch", "arguments": {"patch": self.task.patch}})
        if self._gold_key is not None and self._state_key == self._gold_key:
            return json.dumps({"name": "submit", "arguments": {}})
        return json.dumps({"name": "bash",
                           "arguments": {"command": "git checkout -q -- . && git clean -fdq"}})

    def admissible_actions(self) -> list[str]:
        """Example calls of every tool (any well-formed call is admissible)."""
        paths = sorted(self.task.files) if self.task is not None else []
        return example_calls(paths)

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_text
        return None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._release()
