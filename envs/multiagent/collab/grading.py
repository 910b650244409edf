"""Grade a Collab submission with the task's hidden tests inside a docker sandbox.

Only the test *inputs* enter the container. A runner there imports the submitted ``solution.py``,
calls the function on each input (2 s alarm each) and prints the outputs in a canonical,
type-tagged JSON form; the expected outputs are computed on the host by running the reference
solution through the same encoding, and compared there. Whatever the submitted code does inside
the container (print fake results, patch the runner, read the inputs) it cannot learn the expected
values, so it can only pass a case by computing the right answer.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from dataclasses import dataclass, field
from typing import Any

from agentgym.envs.multiagent.collab.tasks import Task

RESULT_MARK = "AGENTGYM-COLLAB-RESULTS "
#: Seconds one test case may run before it counts as failed.
CASE_TIMEOUT_S = 2
#: Seconds the submission's module may take to import.
IMPORT_TIMEOUT_S = 5


def canonical(value: Any) -> Any:
    """A JSON-able, type-tagged form of a function result (numbers compared as floats)."""
    import json as _json

    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int | float):
        number = float(value)
        if number != number:
            return ["nan"]
        if number in (float("inf"), float("-inf")):
            return ["inf", number > 0]
        return ["num", number]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, tuple):
        return ["tuple", [canonical(v) for v in value]]
    if isinstance(value, list):
        return ["list", [canonical(v) for v in value]]
    if isinstance(value, dict):
        pairs = [[canonical(k), canonical(v)] for k, v in value.items()]
        return ["dict", sorted(pairs, key=_json.dumps)]
    if isinstance(value, set | frozenset):
        return ["set", sorted((canonical(v) for v in value), key=_json.dumps)]
    return ["repr", repr(value)[:200]]


_RUNNER = f'''\
import ast
import copy
import json
import signal
import sys
from typing import Any

RESULT_MARK = {RESULT_MARK!r}

{inspect.getsource(canonical)}

def _alarm(signum, frame):
    raise TimeoutError("the test case ran out of time")


def main():
    name = sys.argv[1]
    with open("cases.txt", encoding="utf-8") as fh:
        cases = [ast.literal_eval(line) for line in fh.read().splitlines() if line.strip()]
    sys.path.insert(0, ".")
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm({IMPORT_TIMEOUT_S})
    try:
        import solution
        function = getattr(solution, name)
    except BaseException as exc:
        message = "cannot load " + name + " from the submission: " + type(exc).__name__
        print(RESULT_MARK + json.dumps({{"error": (message + ": " + str(exc))[:500]}}))
        return
    finally:
        signal.alarm(0)
    outputs = []
    for args in cases:
        signal.alarm({CASE_TIMEOUT_S})
        try:
            outputs.append(canonical(function(*copy.deepcopy(args))))
        except BaseException as exc:
            outputs.append(["raises", type(exc).__name__])
        finally:
            signal.alarm(0)
    print(RESULT_MARK + json.dumps({{"outputs": outputs}}))


main()
'''


@dataclass
class GradeResult:
    """The outcome of grading one submission.

    Attributes:
        passed: test cases whose output matched.
        total: test cases.
        results: per case, whether it passed.
        error: why nothing could be graded (the submission did not load), else None.
    """

    passed: int
    total: int
    results: list[bool] = field(default_factory=list)
    error: str | None = None

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def success(self) -> bool:
        return self.total > 0 and self.passed == self.total


def run_reference(source: str, function: str, cases: tuple[tuple[Any, ...], ...]) -> list[Any]:
    """Canonical outputs of ``source``'s ``function`` on ``cases`` (run in this process: only
    for trusted, generated reference code)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<reference {function}>", "exec"), namespace)
    outputs = []
    for args in cases:
        try:
            outputs.append(canonical(namespace[function](*copy.deepcopy(args))))
        except Exception as exc:
            outputs.append(["raises", type(exc).__name__])
    return json.loads(json.dumps(outputs))


_EXPECTED: dict[str, tuple[Any, ...]] = {}


def expected_outputs(task: Task) -> tuple[Any, ...]:
    """The hidden expected outputs of ``task`` (from its reference solution; cached)."""
    if task.task_id not in _EXPECTED:
        _EXPECTED[task.task_id] = tuple(run_reference(task.reference, task.function, task.cases))
    return _EXPECTED[task.task_id]


def same(a: Any, b: Any) -> bool:
    """Whether two canonical values match (numbers to 1e-9)."""
    if not isinstance(a, list) or not isinstance(b, list) or not a or not b or a[0] != b[0]:
        return False
    tag = a[0]
    if tag == "num":
        return (len(b) == 2 and isinstance(b[1], int | float)
                and math.isclose(a[1], b[1], rel_tol=1e-9, abs_tol=1e-9))
    if tag in ("list", "tuple", "dict", "set"):
        return (len(b) == 2 and isinstance(b[1], list) and len(a[1]) == len(b[1])
                and all(same_item(x, y) for x, y in zip(a[1], b[1], strict=True)))
    return a == b


def same_item(a: Any, b: Any) -> bool:
    """:func:`same` for elements, which are canonical values or ``[key, value]`` pairs."""
    if (isinstance(a, list) and len(a) == 2 and all(isinstance(x, list) for x in a)
            and isinstance(b, list) and len(b) == 2):
        return same(a[0], b[0]) and same(a[1], b[1])
    return same(a, b)


def cases_text(task: Task) -> str:
    """The test inputs, one Python literal per line (what enters the sandbox)."""
    return "".join(repr(tuple(args)) + "\n" for args in task.cases)


def tests_text(task: Task) -> str:
    """The hidden tests in words: each call with its expected canonical output (info only)."""
    lines = []
    for args, expected in zip(task.cases, expected_outputs(task), strict=True):
        call = f"{task.function}({', '.join(repr(a) for a in args)})"
        lines.append(f"{call} -> {json.dumps(expected, ensure_ascii=False)}")
    return "\n".join(lines)


def grade(sandbox: Any, task: Task, code: str, *, timeout: float | None = None) -> GradeResult:
    """Run ``code`` against ``task``'s hidden tests in ``sandbox`` (a started or lazy
    :class:`~agentgym.sandboxes.docker.DockerSandbox` with a clean work dir).

    Args:
        timeout: wall-clock limit of the whole run (default: the import and per-case alarms
            plus 10 s).

    Raises:
        SandboxError: the sandbox itself failed (not the submission).
    """
    expected = expected_outputs(task)
    sandbox.put_files({"solution.py": code, "runner.py": _RUNNER, "cases.txt": cases_text(task)})
    if timeout is None:
        timeout = IMPORT_TIMEOUT_S + CASE_TIMEOUT_S * len(task.cases) + 10.0
    result = sandbox.exec(["python3", "-I", "runner.py", task.function], timeout=timeout)
    total = len(expected)
    payload = None
    for line in reversed(result.output.splitlines()):
        if line.startswith(RESULT_MARK):
            try:
                payload = json.loads(line[len(RESULT_MARK):])
            except ValueError:
                payload = None
            break
    if not isinstance(payload, dict):
        reason = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        return GradeResult(0, total, [False] * total, error=f"the tests did not finish ({reason})")
    if "error" in payload:
        return GradeResult(0, total, [False] * total, error=str(payload["error"])[:500])
    outputs = payload.get("outputs")
    if not isinstance(outputs, list) or len(outputs) != total:
        return GradeResult(0, total, [False] * total, error="malformed test output")
    results = [same(e, o) for e, o in zip(expected, outputs, strict=True)]
    return GradeResult(sum(results), total, results)
