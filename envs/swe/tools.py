"""The SWE tool-call language: JSON ``{"name": ..., "arguments": {...}}`` and its validation.

Tools: ``bash``, ``view_file``, ``edit_file`` (exact string replacement), ``apply_patch``,
``run_tests`` and ``submit``. :func:`parse_tool_call` turns an action string into a checked
``(name, arguments)`` pair or raises :class:`ToolCallError` with a message the agent can act on.
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import dataclass
from typing import Any

#: Longest action accepted (characters); longer ones are invalid, not executed.
MAX_ACTION_CHARS = 64_000
#: Deepest JSON nesting accepted (a tool call needs 2 levels; deeper input is rejected before
#: parsing, so no input can exhaust the recursion limit).
MAX_JSON_DEPTH = 32
#: Largest number accepted for a numeric argument (seconds or line numbers).
MAX_NUMBER = 1_000_000_000


@dataclass(frozen=True)
class Param:
    """One tool argument: its JSON type(s), whether it is required, and a description."""

    types: tuple[type, ...]
    required: bool
    doc: str


TOOLS: dict[str, tuple[str, dict[str, Param]]] = {
    "bash": ("Run a bash command in the repository (no network).", {
        "command": Param((str,), True, "the command line"),
        "timeout": Param((int, float), False,
                         "seconds > 0 (default and maximum: the env's limit)"),
    }),
    "view_file": ("Show a file with line numbers.", {
        "path": Param((str,), True, "file path, relative to the repository root"),
        "start_line": Param((int,), False, "first line (1-based)"),
        "end_line": Param((int,), False, "last line (inclusive, >= 1)"),
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


def json_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting of ``text`` outside JSON strings (linear time)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _loads(text: str, what: str) -> Any:
    """``json.loads`` that only ever raises :class:`ToolCallError`."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ToolCallError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolCallError(f"{what} is not valid JSON ({exc.msg} at position {exc.pos})"
                            ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise ToolCallError(f"{what} is not valid JSON ({type(exc).__name__})") from None


def _check_value(name: str, param: str, spec: Param, value: Any) -> None:
    """Raise :class:`ToolCallError` unless ``value`` is a usable ``param`` of tool ``name``."""
    if isinstance(value, bool) or not isinstance(value, spec.types):
        expected = " or ".join(t.__name__ for t in spec.types)
        raise ToolCallError(f"{name}: argument {param!r} must be {expected}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolCallError(f"{name}: argument {param!r} must be a finite number")
        if not -MAX_NUMBER <= value <= MAX_NUMBER:
            raise ToolCallError(f"{name}: argument {param!r} is out of range "
                                f"(at most {MAX_NUMBER:,})")
        if param == "timeout" and value <= 0:
            raise ToolCallError(f"{name}: argument 'timeout' must be > 0 seconds")
        if param in ("start_line", "end_line") and value < 1:
            raise ToolCallError(f"{name}: argument {param!r} must be >= 1")
        return
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str):
            raise ToolCallError(f"{name}: {param!r} must be a list of strings")
        if "\x00" in item:
            raise ToolCallError(f"{name}: argument {param!r} contains NUL bytes")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise ToolCallError(f"{name}: argument {param!r} is not valid Unicode "
                                "(lone surrogate)") from None


def parse_tool_call(action: str) -> tuple[str, dict[str, Any]]:
    """Parse and validate one tool call.

    Accepts ``{"name": str, "arguments": object}``; ``arguments`` may also be a JSON-encoded
    string (OpenAI style) or omitted for tools without required arguments. Every argument is
    checked: types, finite numbers in range, strings that encode as UTF-8 without NUL bytes.

    Raises:
        ToolCallError: for every malformed input (and only this exception): not JSON, nested
            too deep, unknown tool, missing/unexpected/mistyped/out-of-range arguments.
    """
    if not isinstance(action, str) or not action.strip():
        raise ToolCallError("empty action: send a JSON tool call")
    if len(action) > MAX_ACTION_CHARS:
        raise ToolCallError(f"action too long ({len(action)} > {MAX_ACTION_CHARS} characters)")
    if "\x00" in action:
        raise ToolCallError("the action contains NUL bytes")
    call = _loads(action, "the action")
    if not isinstance(call, dict):
        raise ToolCallError("a tool call must be a JSON object with 'name' and 'arguments'")
    name = call.get("name")
    if not isinstance(name, str):
        raise ToolCallError("the tool call needs a string 'name'")
    if name not in TOOLS:
        raise ToolCallError(f"unknown tool {name[:60]!r}; tools: {', '.join(TOOLS)}")
    extra_keys = set(call) - {"name", "arguments"}
    if extra_keys:
        shown = sorted(k[:40] for k in extra_keys)[:5]
        raise ToolCallError(f"unexpected key(s) {shown} in the tool call")
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        arguments = _loads(arguments, "'arguments'") if arguments.strip() else {}
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolCallError("'arguments' must be a JSON object")
    params = TOOLS[name][1]
    unexpected = sorted(k[:40] for k in set(arguments) - set(params))[:5]
    if unexpected:
        raise ToolCallError(f"{name}: unexpected argument(s) {unexpected}; "
                            f"expected {sorted(params) or 'none'}")
    for param, spec in params.items():
        if param not in arguments:
            if spec.required:
                raise ToolCallError(f"{name}: missing required argument {param!r}")
            continue
        _check_value(name, param, spec, arguments[param])
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
