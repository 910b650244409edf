"""The SWE tool-call language: JSON ``{"name": ..., "arguments": {...}}`` and its validation.

Tools: ``bash``, ``view_file``, ``edit_file`` (exact string replacement), ``apply_patch``,
``run_tests`` and ``submit``. :func:`parse_tool_call` turns an action string into a checked
``(name, arguments)`` pair or raises :class:`ToolCallError` with a message the agent can act on.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

#: Longest action accepted (characters); longer ones are invalid, not executed.
MAX_ACTION_CHARS = 64_000


@dataclass(frozen=True)
class Param:
    """One tool argument: its JSON type(s), whether it is required, and a description."""

    types: tuple[type, ...]
    required: bool
    doc: str


TOOLS: dict[str, tuple[str, dict[str, Param]]] = {
    "bash": ("Run a bash command in the repository (no network).", {
        "command": Param((str,), True, "the command line"),
        "timeout": Param((int, float), False, "seconds (default and maximum: the env's limit)"),
    }),
    "view_file": ("Show a file with line numbers.", {
        "path": Param((str,), True, "file path, relative to the repository root"),
        "start_line": Param((int,), False, "first line (1-based)"),
        "end_line": Param((int,), False, "last line (inclusive)"),
    }),
    "edit_file": ("Replace the one exact occurrence of old_str in a file by new_str.", {
        "path": Param((str,), True, "file path, relative to the repository root"),
        "old_str": Param((str,), True, "text to replace; must occur exactly once"),
        "new_str": Param((str,), True, "replacement text"),
    }),
    "apply_patch": ("Apply a unified diff (git apply, else patch -p1).", {
        "patch": Param((str,), True, "the unified diff"),
    }),
    "run_tests": ("Run the test suite, or the given test ids.", {
        "tests": Param((list, str), False, "test ids, e.g. tests/test_x.py::test_y"),
    }),
    "submit": ("Finish: your changes are graded by the hidden test lists.", {}),
}


class ToolCallError(ValueError):
    """The action is not a well-formed call of a known tool."""


def tool_help() -> str:
    """One line per tool: name, arguments and purpose."""
    lines = []
    for name, (doc, params) in TOOLS.items():
        args = ", ".join(f"{p}{'' if spec.required else '?'}" for p, spec in params.items())
        lines.append(f"- {name}({args}): {doc}")
    return "\n".join(lines)


def parse_tool_call(action: str) -> tuple[str, dict[str, Any]]:
    """Parse and validate one tool call.

    Accepts ``{"name": str, "arguments": object}``; ``arguments`` may also be a JSON-encoded
    string (OpenAI style) or omitted for tools without required arguments.

    Raises:
        ToolCallError: malformed JSON, unknown tool, missing/unexpected/mistyped arguments.
    """
    if not isinstance(action, str) or not action.strip():
        raise ToolCallError("empty action: send a JSON tool call")
    if len(action) > MAX_ACTION_CHARS:
        raise ToolCallError(f"action too long ({len(action)} > {MAX_ACTION_CHARS} characters)")
    if "\x00" in action:
        raise ToolCallError("the action contains NUL bytes")
    try:
        call = json.loads(action)
    except json.JSONDecodeError as exc:
        raise ToolCallError(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(call, dict):
        raise ToolCallError("a tool call must be a JSON object with 'name' and 'arguments'")
    name = call.get("name")
    if not isinstance(name, str):
        raise ToolCallError("the tool call needs a string 'name'")
    if name not in TOOLS:
        raise ToolCallError(f"unknown tool {name!r}; tools: {', '.join(TOOLS)}")
    extra_keys = set(call) - {"name", "arguments"}
    if extra_keys:
        raise ToolCallError(f"unexpected key(s) {sorted(extra_keys)} in the tool call")
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            raise ToolCallError("'arguments' is a string that is not a JSON object") from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolCallError("'arguments' must be a JSON object")
    params = TOOLS[name][1]
    unexpected = sorted(set(arguments) - set(params))
    if unexpected:
        raise ToolCallError(f"{name}: unexpected argument(s) {unexpected}; "
                            f"expected {sorted(params) or 'none'}")
    for param, spec in params.items():
        if param not in arguments:
            if spec.required:
                raise ToolCallError(f"{name}: missing required argument {param!r}")
            continue
        value = arguments[param]
        if isinstance(value, bool) or not isinstance(value, spec.types):
            expected = " or ".join(t.__name__ for t in spec.types)
            raise ToolCallError(f"{name}: argument {param!r} must be {expected}")
        if isinstance(value, str) and "\x00" in value:
            raise ToolCallError(f"{name}: argument {param!r} contains NUL bytes")
    if name == "run_tests" and isinstance(arguments.get("tests"), list) and not all(
            isinstance(t, str) for t in arguments["tests"]):
        raise ToolCallError("run_tests: 'tests' must be a list of strings")
    return name, dict(arguments)


def resolve_path(path: str, root: str = "/work") -> str:
    """The absolute path of ``path`` inside ``root``.

    Raises:
        ToolCallError: an empty path or one that leaves ``root``.
    """
    if not path.strip():
        raise ToolCallError("the path is empty")
    full = posixpath.normpath(posixpath.join(root, path))
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        raise ToolCallError(f"path {path!r} is outside the repository ({root})")
    return full


def truncate_middle(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping the head and the tail and saying
    how much was dropped: ``[... 1234 characters truncated ...]``."""
    if len(text) <= limit:
        return text
    half = max(limit // 2, 1)
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n[... {dropped} characters truncated ...]\n{text[-half:]}"


def example_calls(paths: list[str]) -> list[str]:
    """Example tool calls (used as ``admissible_actions``)."""
    calls = [{"name": "bash", "arguments": {"command": "git status --short && ls"}}]
    calls += [{"name": "view_file", "arguments": {"path": p}} for p in paths]
    calls += [{"name": "run_tests", "arguments": {}}, {"name": "submit", "arguments": {}}]
    return [json.dumps(call) for call in calls]
