"""``agentgym/SWE-v0``: fix a bug in a Python repository inside a docker sandbox.

The agent sees an issue written from the failing tests' intent and acts with JSON tool calls
(:mod:`agentgym.envs.swe.tools`): ``bash``, ``view_file``, ``edit_file``, ``apply_patch``,
``run_tests`` and ``submit``. On ``submit`` the agent's work tree is graded the SWE-bench way
(Jimenez et al., SWE-bench, ICLR 2024) — the pristine repository, the agent's changes to
non-test files, the FAIL_TO_PASS and PASS_TO_PASS tests — by :mod:`agentgym.envs.swe.grading`,
which keeps everything else the agent wrote (test files, test configuration, plugins,
``sitecustomize``, environment variables, processes, caches) out of the grade.

Each episode gets a clean, verified container from a warm pool (:class:`SandboxPool`): standby
containers are started and used ones are wiped in the background, so ``reset`` is a queue pop
plus laying the task's repository down through the container's keeper (no ``docker exec``).

Reward parts (all present every turn, zero unless earned):

=================  ====================================================================
``submitted``      1 on the submit turn
``patch_nonempty`` 1 on the submit turn if the graded diff is not empty
``tests_run``      1 on the first ``run_tests`` call (a process reward, for gated G-RA)
``f2p_rate``       fraction of FAIL_TO_PASS tests passing after the patch
``p2p_rate``       fraction of PASS_TO_PASS tests still passing
``resolved``       1 if every F2P and every P2P test passes (SWE-bench FULL)
=================  ====================================================================

The default reward is ``resolved`` alone; pass ``reward_weights`` to mix parts, or feed the
parts to the ``gated`` transform (G-RA, arXiv 2508.10548) with ``resolved`` as the gate.
``state_key`` is a hash of the repository's diff against the base commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv
from agentgym.envs.swe.gitrepo import git_dir
from agentgym.envs.swe.grading import (
    GIT_IDENTITY,
    GradeResult,
    Submission,
    collect_submission,
    grade_submission,
)
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
    AS_AGENT,
    DockerSandbox,
    DockerUnavailableError,
    SandboxError,
    SandboxLimits,
    SandboxPool,
    SandboxWipeError,
    make_tar,
    shared_pool,
)
from agentgym.sandboxes.docker.keeper import SCRATCH

REWARD_PARTS = ("submitted", "patch_nonempty", "tests_run", "f2p_rate", "p2p_rate", "resolved")
DEFAULT_WEIGHTS = {"resolved": 1.0, "submitted": 0.0, "patch_nonempty": 0.0, "tests_run": 0.0,
                   "f2p_rate": 0.0, "p2p_rate": 0.0}
WORKDIR = "/work"
GITIGNORE = "__pycache__/\n*.pyc\n.pytest_cache/\n"
#: Largest file ``view_file``/``edit_file`` read.
MAX_READ_BYTES = 4_000_000
_STATUS = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S+)", re.MULTILINE)
_TIMING = re.compile(r" in \d+(\.\d+)?s( \(\d+:\d+:\d+\))?")
_PYTEST = "python3 -m pytest -p no:cacheprovider -q"
#: The keeper's copy of a request's stdin (root-only; re-read by commands as the agent).
SCRATCH_IN = f"{SCRATCH}/in"
#: The state key of a repository equal to its base commit (the hash of an empty diff).
PRISTINE_KEY = "diff:" + hashlib.sha256(b"").hexdigest()[:16]
_STATE_SCRIPT = f"""set -o pipefail
cd {WORKDIR}
{AS_AGENT} sh -c 'git --no-optional-locks -c core.fsmonitor=false diff HEAD --binary \\
  --no-ext-diff --no-textconv --no-color && git --no-optional-locks ls-files -z --others \\
  --exclude-standard | xargs -0 -r sha256sum --' | sha256sum
"""


def parse_test_statuses(output: str) -> dict[str, str]:
    """``{test id: PASSED|FAILED|ERROR|...}`` from pytest ``-rA`` output."""
    return {test: status for status, test in _STATUS.findall(output)}


def grade(statuses: Mapping[str, str], fail_to_pass: Sequence[str],
          pass_to_pass: Sequence[str]) -> dict[str, float]:
    """SWE-bench grading of test statuses: F2P/P2P pass rates and FULL resolution.

    Only ``PASSED`` counts. SWE-bench's harness also counts ``XFAIL``, but the graded tests here
    are the pristine ones, which mark nothing as an expected failure: an ``XFAIL`` (or a skip)
    can only come from the code under test calling ``pytest.xfail()``/``pytest.skip()``, a way to
    fake a pass. A test missing from ``statuses`` counts as failed. An empty list has rate 1.
    """
    def rate(tests: Sequence[str]) -> float:
        if not tests:
            return 1.0
        return sum(statuses.get(t) == "PASSED" for t in tests) / len(tests)

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
        self._archives: dict[tuple[str, int], bytes] = {}
        self.task: SWETask | None = None
        self._state_key = ""
        self._done = True
        self._tests_run = False
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

    def _files(self, task: SWETask) -> dict[str, str]:
        return {**repo_files(task.repo), **task.files, ".gitignore": GITIGNORE}

    def _archive(self, task: SWETask, uid: int) -> bytes:
        """The task's repository as a tar owned by ``uid``: the agent's (1000) comes with its
        ``.git`` already committed; grading's (0) is the bare tree."""
        key = (task.instance_id, uid)
        if key not in self._archives:
            if len(self._archives) >= 8:  # keep a few (memory)
                self._archives.clear()
            files = self._files(task)
            if uid != 0:
                files = {**files, **git_dir(files)}
            self._archives[key] = make_tar(files, uid=uid, gid=uid)
        return self._archives[key]

    # -- sandbox -----------------------------------------------------------------------------
    def _pool_for(self, image: str) -> SandboxPool:
        if self._pool is not None and self._pool.image == image:
            return self._pool
        return shared_pool(image, self.limits)

    def _release(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None and self._sandbox_pool is not None:
            self._sandbox_pool.release(sandbox)

    def close(self) -> None:
        """Give the sandbox back to its pool (it is wiped there, in the background)."""
        self._release()

    def _start_episode(self, task: SWETask) -> DockerSandbox:
        """A clean sandbox from the pool with the task's repository in place.

        A sandbox in which preparing fails is discarded (logged and counted by the pool) and
        one more is tried; a second failure raises.
        """
        pool = self._pool_for(task.image)
        self._sandbox_pool = pool
        for attempt in (1, 2):
            sandbox = pool.acquire()
            try:
                self._lay_down(sandbox, task)
                return sandbox
            except DockerUnavailableError:
                pool.discard(sandbox, "the docker daemon went away")
                raise
            except SandboxError as exc:
                pool.discard(sandbox, f"preparing {task.instance_id} failed: {exc}")
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _lay_down(self, sandbox: DockerSandbox, task: SWETask) -> None:
        """Put the task's repository, committed as the base, into the (clean) work dir, as the
        agent: one keeper round trip, one ``tar`` (the ``.git`` comes made, see
        :mod:`agentgym.envs.swe.gitrepo`); SWE-bench repositories are copied from the image."""
        if task.kind == "swebench":
            script = (f"{AS_AGENT} cp -r --preserve=mode {shlex.quote(task.source_dir)}/. .\n"
                      f"{AS_AGENT} {GIT_IDENTITY} sh -c 'git rev-parse -q --verify HEAD "
                      ">/dev/null 2>&1 || { git init -q --template= && git add -A && "
                      "git commit -q --no-verify -m base; }'")
            stdin = b""
        else:
            script = f"{AS_AGENT} tar -x -m --no-same-owner -f -"
            stdin = self._archive(task, 1000)
        result = sandbox.run_root(f"set -e\ncd {WORKDIR}\n{script}\n", stdin, timeout=120.0)
        if not result.ok:
            raise SandboxError(f"preparing {task.instance_id} failed: {result.text(500)}")

    def _listing(self, sandbox: DockerSandbox, task: SWETask) -> str:
        if task.kind != "swebench":
            return "\n".join(sorted(self._files(task), key=lambda p: p.encode()))
        result = sandbox.run_root(f"cd {WORKDIR} && {AS_AGENT} git ls-files", timeout=60.0)
        if not result.ok:
            raise SandboxError(f"listing {task.instance_id} failed: {result.text(500)}")
        return result.text(1_000_000)

    def _compute_state_key(self) -> str:
        """A hash of the diff against the base commit and of the untracked files (computed as
        the agent: a broken repository gives ``diff:unavailable``)."""
        assert self._sandbox is not None
        try:
            result = self._sandbox.run_root(_STATE_SCRIPT, timeout=30.0)
        except DockerUnavailableError:
            raise
        except SandboxError:
            return "diff:unavailable"
        digest = result.output.split()[:1]
        if not result.ok or not digest or len(digest[0]) != 64:
            return "diff:unavailable"
        return "diff:" + digest[0].decode()[:16]

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
        self._release()
        self.task = None
        self._sandbox = sandbox = self._start_episode(task)
        self.task = task
        self._done, self._tests_run, self._gold_key = False, False, None
        self._state_key = PRISTINE_KEY
        self._last_text = (
            f"You are working in a git repository at {WORKDIR} ({task.repo}). "
            "Resolve this issue:\n\n"
            f"{task.problem_statement}\n\n"
            f"Repository files:\n{self._listing(sandbox, task)}\n\n"
            "Act with one JSON tool call per turn, "
            '{"name": TOOL, "arguments": {...}}. Tools:\n'
            f"{tool_help()}"
        )
        info = self.reset_info(task_id=task.instance_id, instruction=task.problem_statement,
                               state_key=self._state_key, answer=task.patch)
        return self._last_text, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.task is None or self._sandbox is None:
            raise ResetNeeded("call reset() before step()")
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
        except SandboxError as exc:
            if isinstance(exc, DockerUnavailableError):
                raise
            return self._sandbox_failed(name, exc, parts)
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

    def _sandbox_failed(self, name: str, exc: SandboxError, parts: dict[str, float]
                        ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """A tool could not run. While the container lives, that is the agent's doing (e.g. it
        exhausted the process limit) and the answer says so — except for ``submit``, whose
        failure is the environment's and raises. A container that is gone ends the episode: a
        submission scores 0, any other tool truncates."""
        assert self._sandbox is not None
        if self._sandbox.alive():
            if name == "submit":
                raise exc  # grading itself failed: loud, never a silent score
            text = truncate_middle(f"[{name} could not run: {exc}]", self.max_output)
            info = self.step_info(state_key=self._state_key, action_valid=True,
                                  reward_parts=parts, tool=name, error=str(exc))
            return text, self.reward_from_parts(parts), False, False, info
        self._done = True
        submitted = name == "submit"
        if submitted:
            parts["submitted"] = 1.0
        text = truncate_middle(f"[{name} could not run: {exc}]\n[the sandbox ended; the episode "
                               f"is over{': NOT RESOLVED' if submitted else ''}]", self.max_output)
        info = self.step_info(state_key=self._state_key, action_valid=True, reward_parts=parts,
                              tool=name, error=str(exc))
        return text, self.reward_from_parts(parts), submitted, not submitted, info

    def _invalid(self, message: str, parts: dict[str, float]
                 ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        text = truncate_middle(message, self.max_output)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
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
        result = self._sandbox.run_root(
            f"cd {WORKDIR} && {AS_AGENT} head -c {MAX_READ_BYTES + 1} -- {shlex.quote(path)}",
            timeout=30.0)
        if not result.ok:
            raise ToolCallError(result.text(500) or f"cannot read {path}")
        if len(result.output) > MAX_READ_BYTES:
            raise ToolCallError(f"{path} is too large")
        return result.output.decode("utf-8", "replace")

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
        try:
            self._sandbox.put_files({path.removeprefix(WORKDIR + "/"): content.replace(old, new)})
        except SandboxError as exc:
            raise ToolCallError(str(exc)) from None
        return f"edited {path}: replaced 1 occurrence ({len(old)} -> {len(new)} characters)"

    def _tool_apply_patch(self, args: dict[str, Any], parts: dict[str, float]) -> str:
        assert self._sandbox is not None and self.task is not None
        patch = args["patch"]
        if not patch.strip():
            raise ToolCallError("the patch is empty")
        if not patch.endswith("\n"):
            patch += "\n"
        result = self._sandbox.run_root(
            f"cd {WORKDIR}\n{AS_AGENT} git apply --whitespace=nowarn --stat --apply - "
            f"< {SCRATCH_IN} 2>&1 || {{ {AS_AGENT} patch -p1 --dry-run -s < {SCRATCH_IN} && "
            f"{AS_AGENT} patch -p1 -s < {SCRATCH_IN}; }}", patch.encode(), timeout=60.0)
        output = result.text(self.max_output)
        if not result.ok:
            raise ToolCallError(truncate_middle(output, self.max_output))
        if patch == self.task.patch and self._state_key == PRISTINE_KEY:
            self._gold_key = self._compute_state_key()
        return "patch applied\n" + output

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
        submission = collect_submission(self._sandbox)
        result = self._grade(submission)
        parts["submitted"] = 1.0
        parts["patch_nonempty"] = float(bool(result.patch.strip()))
        parts.update(grade(result.statuses, self.task.FAIL_TO_PASS, self.task.PASS_TO_PASS))
        verdict = "RESOLVED" if parts["resolved"] else "NOT RESOLVED"
        note = result.excluded_note
        return (f"submitted. {result.note}{' ' + note if note else ''}\n{verdict}: FAIL_TO_PASS "
                f"{parts['f2p_rate']:.0%}, PASS_TO_PASS {parts['p2p_rate']:.0%}")

    def _grade(self, submission: Submission) -> GradeResult:
        """Grade in the episode's sandbox after a verified wipe, or — when that wipe fails — in
        a fresh sandbox from the pool (the submission is already on the host)."""
        assert self._sandbox is not None and self.task is not None
        task = self.task
        kwargs = {
            "pristine": None if task.kind == "swebench" else self._archive(task, 0),
            "source_dir": task.source_dir,
            "test_patch": task.test_patch,
            "timeout": self.test_timeout,
        }
        tests = [*task.FAIL_TO_PASS, *task.PASS_TO_PASS]
        try:
            return grade_submission(self._sandbox, submission, tests, **kwargs)
        except SandboxWipeError as exc:
            pool = self._sandbox_pool
            assert pool is not None
            pool.discard(self._sandbox, f"wipe before grading failed: {exc}")
            self._sandbox = pool.acquire()
            return grade_submission(self._sandbox, submission, tests, **kwargs)

    # -- oracle and helpers ------------------------------------------------------------------
    def expert_action(self) -> str:
        """Apply the gold patch to the pristine repository, then submit."""
        if self.task is None:
            raise ResetNeeded("call reset() before expert_action()")
        if self._state_key == PRISTINE_KEY:
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
