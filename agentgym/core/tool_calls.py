"""Tool calls in model output: parse, validate against JSON-schema tool specs, render.

A model calls tools in one of the shapes instruction-tuned models are trained on::

    <tool_call>{"name": "cd", "arguments": {"folder": "docs"}}</tool_call>      (Qwen / Hermes)
    {"name": "cd", "arguments": {"folder": "docs"}}                            (bare JSON)
    {"type": "function", "function": {"name": "cd", "arguments": "{\\"folder\\": \\"docs\\"}"}}
    [{"name": "cd", ...}, {"name": "ls", ...}]                                 (parallel calls)

Several ``<tool_call>`` blocks, a JSON list, or several JSON objects one after another are
parallel calls, returned in order. ``parameters`` is accepted for ``arguments``, an
``arguments`` JSON *string* is decoded, and an assistant message ``{"tool_calls": [...]}`` is
unpacked.

:func:`parse_tool_calls` either returns the calls or raises :class:`ToolCallError` with a message
naming the problem (``NoToolCallError`` when the text holds no call at all); it never raises
anything else. Untrusted text is handled in linear time: nesting deeper than
``max_depth`` is refused by a scan *before* decoding (so 10k-deep brackets are an error, not a
``RecursionError``), strings over ``max_string`` characters, lone surrogates, ``NaN`` /
``Infinity`` and non-finite numbers are refused with a message.

With ``tools`` (OpenAI function specs: ``name``, ``description``, ``parameters`` with
``properties`` / ``required`` / ``type`` / ``enum`` / ``items``), every call is validated: an
unknown function, a missing required argument, an argument the schema does not declare, or a value
of the wrong type or outside its ``enum`` is an error naming the function and the argument.
Argument values are checked with ``jsonschema`` (imported only when ``tools`` are given).
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Opening and closing tags of the Qwen / Hermes tool-call format.
TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

#: Styles accepted by :func:`render_tool_calls`.
RENDER_STYLES = ("hermes", "json", "openai")

_STRUCTURAL = re.compile(r'[\[\]{}"\\]')
_FENCE = "```"


class ToolCallError(ValueError):
    """Model output that is not a valid tool call; the message says what is wrong."""


class NoToolCallError(ToolCallError):
    """The text holds no tool call at all (prose, an empty reply)."""


@dataclass(frozen=True)
class ToolCall:
    """One function call.

    Attributes:
        name: the function name.
        arguments: keyword arguments (decoded JSON values).
        id: the call id when the model gave one (OpenAI ``tool_calls[i].id``), else None.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"name": …, "arguments": {…}}`` (the Hermes payload)."""
        return {"name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class ParseLimits:
    """Bounds applied to untrusted text.

    Attributes:
        max_chars: longest accepted text.
        max_depth: deepest JSON nesting (objects and arrays) in one call block.
        max_string: longest JSON string (keys and values), in characters.
        max_calls: most calls in one reply.
    """

    max_chars: int = 1_000_000
    max_depth: int = 32
    max_string: int = 100_000
    max_calls: int = 64


DEFAULT_LIMITS = ParseLimits()


# --- extraction -------------------------------------------------------------------------------
def _short(text: str, limit: int = 60) -> str:
    """A short printable quote of ``text`` for error messages (always UTF-8 encodable)."""
    quoted = repr(text[:limit]) + ("…" if len(text) > limit else "")
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")


def _clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters (for JSON snippets in messages)."""
    text = text if len(text) <= limit else text[:limit] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _tag_blocks(text: str) -> list[str]:
    """Contents of the ``<tool_call>…</tool_call>`` blocks (a last unclosed block runs to the
    end of the text, as when generation stops at the closing tag)."""
    blocks: list[str] = []
    pos = text.find(TOOL_CALL_OPEN)
    while pos != -1:
        start = pos + len(TOOL_CALL_OPEN)
        end = text.find(TOOL_CALL_CLOSE, start)
        if end == -1:
            blocks.append(text[start:])
            break
        blocks.append(text[start:end])
        pos = text.find(TOOL_CALL_OPEN, end + len(TOOL_CALL_CLOSE))
    return blocks


def _fence_blocks(text: str) -> list[str]:
    """Contents of Markdown code fences that hold JSON (```json … ``` or ``` { … ```)."""
    blocks: list[str] = []
    pos = text.find(_FENCE)
    while pos != -1:
        start = pos + len(_FENCE)
        end = text.find(_FENCE, start)
        body = text[start:] if end == -1 else text[start:end]
        newline = body.find("\n")
        first_line = body[: newline if newline != -1 else len(body)].strip().lower()
        if first_line in ("json", "tool_call", "tool_code"):
            body = body[newline + 1:] if newline != -1 else ""
        if body.lstrip()[:1] in ("{", "["):
            blocks.append(body)
        if end == -1:
            break
        pos = text.find(_FENCE, end + len(_FENCE))
    return blocks


def _check_depth(segment: str, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` with one linear scan (strings are skipped)."""
    depth = 0
    in_string = False
    escaped_at = -2
    for match in _STRUCTURAL.finditer(segment):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise ToolCallError(
                    f"the tool call nests deeper than {max_depth} levels of JSON objects/arrays"
                )
        elif char in "]}":
            depth -= 1


class _Refused(ValueError):
    """Raised inside the JSON decoder hooks; carries a finished message."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON; write numbers as finite decimals")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {_short(text, 30)} is too large (not a finite float)")
    return value


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {_short(key)} in a JSON object")
        out[key] = value
    return out


_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant,
    parse_float=_finite_float,
    object_pairs_hook=_unique_pairs,
)


def _decode_at(segment: str, pos: int) -> tuple[Any, int]:
    """Decode one JSON value at ``pos``; every failure becomes a :class:`ToolCallError`."""
    try:
        return _DECODER.raw_decode(segment, pos)
    except _Refused as err:
        raise ToolCallError(str(err)) from None
    except json.JSONDecodeError as err:
        raise ToolCallError(
            f"invalid JSON in the tool call: {err.msg} at character {err.pos} "
            f"(near {_short(segment[max(0, err.pos - 20): err.pos + 20], 40)})"
        ) from None
    except (ValueError, RecursionError, MemoryError) as err:  # e.g. a 5000-digit integer
        raise ToolCallError(f"invalid JSON in the tool call: {_short(str(err), 120)}") from None


def _decode_values(segment: str, *, strict_tail: bool, limits: ParseLimits) -> list[Any]:
    """All JSON values at the start of ``segment`` (separated by whitespace)."""
    _check_depth(segment, limits.max_depth)
    values: list[Any] = []
    pos = len(segment) - len(segment.lstrip())
    while pos < len(segment):
        if segment[pos] not in "{[":
            if strict_tail or not values:
                raise ToolCallError(
                    f"unexpected text {_short(segment[pos:], 40)} in the tool call; "
                    "put exactly one JSON object inside each <tool_call> block"
                )
            break
        value, pos = _decode_at(segment, pos)
        values.append(value)
        pos += len(segment[pos:]) - len(segment[pos:].lstrip())
    return values


def _check_strings(value: Any, limits: ParseLimits) -> None:
    """Refuse over-long strings and lone surrogates anywhere in ``value`` (iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings: Iterable[str] = (item,)
        elif isinstance(item, dict):
            strings = item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            if len(text) > limits.max_string:
                raise ToolCallError(
                    f"a string of {len(text):,} characters is longer than the "
                    f"{limits.max_string:,}-character limit"
                )
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:
                raise ToolCallError(
                    f"a string holds a lone surrogate (U+{ord(text[err.start]):04X}) at "
                    f"position {err.start}; send valid UTF-8 text"
                ) from None


# --- call objects -----------------------------------------------------------------------------
def _as_calls(value: Any, limits: ParseLimits) -> list[ToolCall]:
    if isinstance(value, list):
        if not value:
            raise ToolCallError("the JSON list of tool calls is empty")
        calls: list[ToolCall] = []
        for item in value:
            if not isinstance(item, dict):
                raise ToolCallError(
                    f"each element of a tool-call list must be a JSON object, got "
                    f"{_json_type(item)}"
                )
            calls.extend(_as_calls(item, limits))
        return calls
    if not isinstance(value, dict):
        raise ToolCallError(f"a tool call must be a JSON object, got {_json_type(value)}")
    if "tool_calls" in value and "name" not in value:
        inner = value["tool_calls"]
        if not isinstance(inner, list):
            raise ToolCallError('"tool_calls" must be a list of calls')
        return _as_calls(inner, limits)
    return [_as_call(value, limits)]


def _as_call(obj: dict[str, Any], limits: ParseLimits) -> ToolCall:
    call_id = obj.get("id")
    body = obj
    if "function" in obj and "name" not in obj:
        body = obj["function"]
        if not isinstance(body, dict):
            raise ToolCallError('"function" must be an object {"name": ..., "arguments": ...}')
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ToolCallError(
            'a tool call needs a non-empty string "name", e.g. '
            '{"name": "<function>", "arguments": {...}}'
        )
    arguments = body["arguments"] if "arguments" in body else body.get("parameters", {})
    if isinstance(arguments, str):
        if len(arguments) > limits.max_chars:
            raise ToolCallError(f"the arguments of {_short(name)} are too long")
        if arguments.strip():
            decoded = _decode_values(arguments, strict_tail=True, limits=limits)
            if len(decoded) != 1:
                raise ToolCallError(f"the arguments string of {_short(name)} holds several values")
            arguments = decoded[0]
            _check_strings(arguments, limits)
        else:
            arguments = {}
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolCallError(
            f"the arguments of {_short(name)} must be a JSON object, got {_json_type(arguments)}"
        )
    return ToolCall(
        name=name, arguments=arguments, id=call_id if isinstance(call_id, str) else None
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# --- schema validation ------------------------------------------------------------------------
@dataclass
class _Function:
    name: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    extra_allowed: bool
    validators: dict[str, Any] = field(default_factory=dict)


def _without_descriptions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [_without_descriptions(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=4096)
def _compiled(canonical: str) -> Any:
    """A checked jsonschema validator for one canonical (description-free) schema; meta-checking
    a schema is slow, and most arguments share a handful of schemas."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema = json.loads(canonical)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        raise ValueError(
            f"not a valid JSON schema ({err.message}); use JSON types (object, number, ...), "
            "not 'dict' or 'float'"
        ) from None
    return Draft202012Validator(schema)


def _validator(function: str, arg: str, schema: Any) -> Any:
    """A jsonschema validator for one argument; an invalid schema is the env author's error."""
    try:
        canonical = json.dumps(_without_descriptions(schema), sort_keys=True)
        return _compiled(canonical)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"tool {function!r}: the schema of argument {arg!r} is {err}"
        ) from None


class ToolSet:
    """Compiled tool specs: validates calls against their JSON schemas.

    Args:
        tools: OpenAI function specs, either ``{"type": "function", "function": {...}}`` or the
            bare ``{"name", "description", "parameters"}``. ``parameters`` is a JSON schema of
            type object; ``additionalProperties`` is false unless a spec says otherwise.

    Raises:
        ValueError: a spec without a name, or two specs with the same name.
    """

    def __init__(self, tools: Iterable[Mapping[str, Any]]) -> None:
        self.specs: list[dict[str, Any]] = []
        self._functions: dict[str, _Function] = {}
        for tool in tools:
            spec = dict(tool.get("function", tool)) if "function" in tool else dict(tool)
            name = spec.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"tool spec without a name: {_short(json.dumps(tool), 80)}")
            if name in self._functions:
                raise ValueError(f"two tool specs are named {name!r}")
            params = spec.get("parameters") or {}
            extra = params.get("additionalProperties", False)
            function = _Function(
                name=name,
                properties=dict(params.get("properties") or {}),
                required=tuple(params.get("required") or ()),
                extra_allowed=extra is not False,
            )
            for arg, schema in function.properties.items():
                function.validators[arg] = _validator(name, arg, schema)
            self._functions[name] = function
            self.specs.append({"type": "function", "function": spec})

    @property
    def names(self) -> list[str]:
        """Function names, in spec order."""
        return list(self._functions)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def validate(self, call: ToolCall) -> None:
        """Raise :class:`ToolCallError` naming the problem when ``call`` breaks its schema."""
        function = self._functions.get(call.name)
        if function is None:
            close = difflib.get_close_matches(call.name, self.names, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            listed = ", ".join(self.names[:40]) + (" …" if len(self.names) > 40 else "")
            raise ToolCallError(
                f"unknown function {_short(call.name)}{hint} (available: {listed})"
            )
        missing = [arg for arg in function.required if arg not in call.arguments]
        if missing:
            raise ToolCallError(
                f"{call.name}: missing required argument{'s' if len(missing) > 1 else ''} "
                + ", ".join(map(repr, missing))
            )
        if not function.extra_allowed:
            extra = [arg for arg in call.arguments if arg not in function.properties]
            if extra:
                accepted = ", ".join(function.properties) or "none"
                raise ToolCallError(
                    f"{call.name}: unexpected argument{'s' if len(extra) > 1 else ''} "
                    f"{', '.join(_short(a, 40) for a in extra)} (accepted: {accepted})"
                )
        for arg, value in call.arguments.items():
            if arg in function.properties:
                self._check_value(function, arg, value)

    def _check_value(self, function: _Function, arg: str, value: Any) -> None:
        error = next(iter(function.validators[arg].iter_errors(value)), None)
        if error is None:
            return
        where = "".join(f"[{p!r}]" for p in error.absolute_path)
        subject = f"{function.name}: argument {arg!r}{where}"
        if error.validator == "type":
            expected = error.validator_value
            expected = " or ".join(expected) if isinstance(expected, list) else expected
            raise ToolCallError(f"{subject} must be {expected}, got {_json_type(error.instance)}")
        if error.validator == "enum":
            options = ", ".join(_clip(json.dumps(o)) for o in error.validator_value[:20])
            got = _clip(json.dumps(error.instance, ensure_ascii=False))
            raise ToolCallError(f"{subject} must be one of {options}; got {got}")
        raise ToolCallError(f"{subject}: {_short(error.message, 160)}")


def as_toolset(tools: ToolSet | Iterable[Mapping[str, Any]] | None) -> ToolSet | None:
    """``tools`` compiled into a :class:`ToolSet` (None stays None)."""
    if tools is None or isinstance(tools, ToolSet):
        return tools
    return ToolSet(tools)


# --- public API -------------------------------------------------------------------------------
def parse_tool_calls(
    text: str,
    tools: ToolSet | Sequence[Mapping[str, Any]] | None = None,
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> list[ToolCall]:
    """Parse the tool calls in ``text`` (and validate them against ``tools`` when given).

    Args:
        text: raw model output.
        tools: tool specs (or a :class:`ToolSet`) to validate the calls against; None skips
            validation.
        limits: bounds on size, depth and count (:class:`ParseLimits`).

    Returns:
        The calls, in order (at least one).

    Raises:
        NoToolCallError: the text holds no tool call.
        ToolCallError: a call is malformed or breaks its schema; the message names the problem.
    """
    if not isinstance(text, str):
        raise ToolCallError(f"the reply must be text, got {type(text).__name__}")
    if len(text) > limits.max_chars:
        raise ToolCallError(
            f"the reply has {len(text):,} characters; the limit is {limits.max_chars:,}"
        )
    # The format is the one whose marker comes first: a "<tool_call>" inside a JSON string
    # does not switch a bare-JSON reply to tag mode, nor a "{" in prose before the tag.
    json_at = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=len(text))
    tag_at = text.find(TOOL_CALL_OPEN, 0, json_at)
    fence_at = text.find(_FENCE, 0, json_at)
    fenced = _fence_blocks(text) if fence_at != -1 and tag_at == -1 else []
    if tag_at != -1:
        segments, strict = _tag_blocks(text[tag_at:]), True
    elif fenced:
        segments, strict = fenced, True
    elif json_at < len(text):
        segments, strict = [text[json_at:]], False
    else:
        raise NoToolCallError(
            'no tool call found; call a tool with <tool_call>{"name": "<function>", '
            '"arguments": {...}}</tool_call>'
        )
    calls: list[ToolCall] = []
    for segment in segments:
        if not segment.strip():
            raise ToolCallError("a <tool_call> block is empty; put one JSON call inside it")
        for value in _decode_values(segment, strict_tail=strict, limits=limits):
            _check_strings(value, limits)
            calls.extend(_as_calls(value, limits))
            if len(calls) > limits.max_calls:
                raise ToolCallError(
                    f"more than {limits.max_calls} tool calls in one reply; make fewer calls"
                )
    toolset = as_toolset(tools)
    if toolset is not None:
        for call in calls:
            toolset.validate(call)
    return calls


def render_tool_calls(calls: Sequence[ToolCall | Mapping[str, Any]], style: str = "hermes") -> str:
    """Write ``calls`` as a model would (the inverse of :func:`parse_tool_calls`).

    Args:
        calls: :class:`ToolCall` objects or ``{"name", "arguments"}`` dicts.
        style: ``"hermes"`` (one ``<tool_call>`` block per call, Qwen / Hermes templates),
            ``"json"`` (one object, or a list for several calls) or ``"openai"`` (a list of
            ``{"type": "function", "function": {"name", "arguments": "<json string>"}}``).

    Returns:
        The text; ``parse_tool_calls(render_tool_calls(calls, s))`` gives ``calls`` back.
    """
    if style not in RENDER_STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {RENDER_STYLES}")
    payloads = [
        c.to_dict() if isinstance(c, ToolCall)
        else {"name": c["name"], "arguments": dict(c.get("arguments", {}))}
        for c in calls
    ]
    if style == "hermes":
        # A string holding "</tool_call>" would end the block early: write its "/" as "\/"
        # (a valid JSON escape that decodes back to "/").
        return "\n".join(
            TOOL_CALL_OPEN
            + "\n"
            + json.dumps(p, ensure_ascii=False).replace(TOOL_CALL_CLOSE, "<\\/tool_call>")
            + "\n"
            + TOOL_CALL_CLOSE
            for p in payloads
        )
    if style == "json":
        body: Any = payloads[0] if len(payloads) == 1 else payloads
        return json.dumps(body, ensure_ascii=False)
    return json.dumps(
        [
            {
                "type": "function",
                "function": {
                    "name": p["name"],
                    "arguments": json.dumps(p["arguments"], ensure_ascii=False),
                },
            }
            for p in payloads
        ],
        ensure_ascii=False,
    )


__all__ = [
    "DEFAULT_LIMITS",
    "RENDER_STYLES",
    "NoToolCallError",
    "ParseLimits",
    "ToolCall",
    "ToolCallError",
    "ToolSet",
    "as_toolset",
    "parse_tool_calls",
    "render_tool_calls",
]
