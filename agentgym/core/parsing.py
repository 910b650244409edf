"""Extracting an action from raw model output, in linear time, never raising but ParseError.

* :func:`check_text` — the output must be text: a ``str`` without lone surrogates or NUL.
* :func:`parse_xml_action` — the content of the last complete ``<action>…</action>``.
* :func:`parse_json_tool_call` — a JSON tool call ``{"name": …, "arguments": {…}}``, preferably
  inside ``<tool_call>`` tags, then inside a ```` ``` ```` fence, then anywhere.
* :func:`loads_json` — :func:`json.loads` with the limits below.

Model output is adversarial input (an RL policy finds whatever breaks its environment), so every
function here runs in time linear in the input, with a bounded amount of Python work, and raises
nothing but :class:`ParseError`, whose message says what to write instead. The limits:

* JSON nesting deeper than :data:`MAX_JSON_DEPTH` levels is refused before it is decoded
  (Python's decoder recurses once per level and would raise ``RecursionError``);
* ``NaN``/``Infinity`` (not JSON), numbers that overflow a float, and integers of more than
  :data:`MAX_INT_DIGITS` digits are refused (Python's ``int()`` is quadratic in the digits);
* at most :data:`MAX_JSON_OBJECTS` JSON objects are decoded per search for a tool call.

Each JSON object is decoded at most once: a failed decode resumes the search where the decoder
failed, and the objects completed inside it are still seen (an ``object_pairs_hook``), so the
search never re-reads what it has read — the fault of the earlier ``raw_decode``-at-every-``{``
search, which took seconds on 100 kB of ``{"a":1,``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

#: Deepest JSON nesting (objects and arrays) accepted.
MAX_JSON_DEPTH = 64
#: Most digits of a JSON integer.
MAX_INT_DIGITS = 1000
#: Most JSON objects decoded while looking for one tool call.
MAX_JSON_OBJECTS = 64

_LAST_ACTION_CLOSE = re.compile(r"(?is).*</action>")
_LAST_ACTION_OPEN = re.compile(r"(?is).*<action>")
_ACTION_CLOSE = re.compile(r"</action>", re.IGNORECASE)
#: Where a JSON object that can hold a tool call may start: ``{``, white space, a string key.
_SPACED_START = re.compile(r'\{\s++"')
_BRACE_SPACE = re.compile(r"\{\s")
_LAST_TAG = re.compile(r"(?s).*(</?tool_call>)")
_TAG_OPEN, _TAG_CLOSE, _FENCE = "<tool_call>", "</tool_call>", "```"
_FIRST_WINDOW = 4096


class ParseError(ValueError):
    """Model output from which no action could be extracted; the message says what to write."""


def check_text(text: Any) -> str:
    """Return ``text`` if it is a ``str`` that can be encoded and passed on.

    Raises:
        ParseError: ``text`` is not a ``str``, or holds a lone surrogate or a NUL character.
    """
    if not isinstance(text, str):
        raise ParseError(f"the action must be text (a str), not {type(text).__name__}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # only lone surrogates cannot be encoded
            raise ParseError(
                f"the reply holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character "
                f"{exc.start}; it is not valid Unicode text"
            ) from None
    if "\x00" in text:
        raise ParseError(f"the reply holds a NUL character at character {text.index(chr(0))}")
    return text


# =============================================================================================
# <action>…</action>
# =============================================================================================
def parse_xml_action(text: str) -> str:
    """Return the content of the last complete ``<action>…</action>`` in ``text``, stripped.

    The tags match in any case. "Last complete" means the last ``</action>`` and the nearest
    ``<action>`` before it, so the content never holds a tag: ``<action>a<action>b</action>``
    gives ``b``. Linear time: both tags are found by one backward scan each.

    Raises:
        ParseError: when there is no complete action tag, it is empty, or ``text`` is not
            valid text (see :func:`check_text`).
    """
    text = check_text(text)
    last_close = _LAST_ACTION_CLOSE.match(text)
    opening = (
        _LAST_ACTION_OPEN.match(text, 0, last_close.end() - len("</action>"))
        if last_close is not None
        else None
    )
    if opening is None:
        raise ParseError(
            "no <action>...</action> found; end your reply with <action>ACTION</action>"
        )
    closing = _ACTION_CLOSE.search(text, opening.end())
    assert closing is not None  # the last </action> lies after this <action>
    action = text[opening.end() : closing.start()].strip()
    if not action:
        raise ParseError("the <action></action> tag is empty; put one action inside it")
    return action


# =============================================================================================
# JSON with limits
# =============================================================================================
#: Below this many quotes :func:`json_depth` splits the strings out; above, it masks them.
_FEW_QUOTES = 20_000
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[[ord("{"), ord("[")]] = 1
_DEPTH_STEP[[ord("}"), ord("]")]] = -1


def json_depth(text: str) -> int:
    """Deepest nesting of JSON objects and arrays in ``text``, up to where the first of them
    closes; brackets inside JSON strings do not count.

    Exact on valid JSON (``json_depth('{"a": [1, "]"]}') == 2``) and never below the depth the
    decoder reaches on invalid JSON: both lex strings the same way up to the first error.
    Linear time in C (``str.replace`` drops escapes, ``split`` or a numpy mask drops the
    strings, numpy sums the brackets); no Python loop over characters.
    """
    if "\\" in text:  # an escaped backslash, then an escaped quote, is no string delimiter
        text = text.replace("\\\\", "").replace('\\"', "")
    if text.count('"') < _FEW_QUOTES:  # cut the strings out, sum the brackets left
        outside = "".join(text.split('"')[::2])
        raw = np.frombuffer(outside.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        steps = _DEPTH_STEP[raw]
    else:  # mask what lies between a quote and the next one
        raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        steps = _DEPTH_STEP[raw]
        steps[np.bitwise_xor.accumulate(raw == ord('"'))] = 0
    depth = np.cumsum(steps, dtype=np.int32)
    if depth.size == 0:
        return 0
    first = int(np.argmax(depth > 0))
    if depth[first] <= 0:
        return 0
    closed = depth[first:] <= 0
    end = first + int(np.argmax(closed)) + 1 if closed.any() else depth.size
    return int(depth[:end].max())


class _BadNumber:
    """Stands in for a JSON number that was refused, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _number_hooks(refuse: Callable[[str], Any]) -> dict[str, Callable[[str], Any]]:
    """``parse_constant``/``parse_float``/``parse_int`` hooks that hand refusals to ``refuse``."""

    def constant(name: str) -> Any:
        return refuse(f"{name} is not a JSON number; numbers must be finite")

    def floating(literal: str) -> Any:
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            return refuse(f"the number {literal[:20]}... overflows a float")
        return value

    def integer(literal: str) -> Any:
        digits = len(literal.lstrip("-"))
        if digits > MAX_INT_DIGITS:
            return refuse(f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS})")
        return int(literal)

    return {"parse_constant": constant, "parse_float": floating, "parse_int": integer}


def _raise(reason: str) -> Any:
    raise ParseError(reason)


def _check_depth(text: str) -> None:
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return  # fewer brackets than the limit: nothing to measure
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ParseError(
            f"the JSON is nested {depth} levels deep (at most {MAX_JSON_DEPTH}); "
            "a tool call is a flat object"
        )


def loads_json(text: str) -> Any:
    """:func:`json.loads` that refuses what :mod:`agentgym.core.parsing` refuses.

    Raises:
        ParseError: invalid JSON, nesting deeper than :data:`MAX_JSON_DEPTH`, ``NaN`` or
            ``Infinity``, a float overflow or an integer of more than :data:`MAX_INT_DIGITS`
            digits.
    """
    text = check_text(text)
    _check_depth(text)
    try:
        return json.loads(text, **_number_hooks(_raise))
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    except RecursionError:  # json_depth makes this unreachable; keep the promise regardless
        raise ParseError("the JSON is nested too deeply") from None


# =============================================================================================
# JSON tool calls
# =============================================================================================
def as_tool_call(obj: Any) -> dict[str, Any] | None:
    """``{"name": str, "arguments": dict}`` if ``obj`` is a tool call, else None.

    Accepts ``{"name", "arguments"}``, ``"parameters"`` for ``"arguments"``, the OpenAI shape
    ``{"function": {"name", "arguments": "<json string>"}}`` and a missing ``arguments``.

    Raises:
        ParseError: ``obj`` has a tool call's shape but its ``arguments`` string is not a JSON
            object within the limits.
    """
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = loads_json(arguments) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        return None
    return {"name": name, "arguments": arguments}


class _Objects:
    """``object_pairs_hook`` that remembers, for every JSON object the decoder completes, the
    first tool call in it (pre-order, as a reader meets them), the first refused number in it
    and why the first object shaped like a tool call in it was refused.

    Objects complete children first; each one looks at its values (through nested arrays) once,
    so the bookkeeping is linear in the decoded text. ``roots`` are the completed objects that
    no completed object contains, in text order — all of them when a decode fails midway.
    """

    def __init__(self) -> None:
        self.completed: list[dict[str, Any]] = []
        self.call: dict[int, dict[str, Any] | None] = {}
        self.bad_number: dict[int, str | None] = {}
        self.refused: dict[int, str | None] = {}
        self.contained: set[int] = set()
        self.hooks = _number_hooks(_BadNumber)

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        first_call: dict[str, Any] | None = None
        bad_number: str | None = None
        refused: str | None = None
        for value in _walk(obj.values()):
            if isinstance(value, _BadNumber):
                bad_number = bad_number or value.reason
            elif isinstance(value, dict):
                key = id(value)
                self.contained.add(key)
                first_call = first_call or self.call[key]
                bad_number = bad_number or self.bad_number[key]
                refused = refused or self.refused[key]
        try:
            own = as_tool_call(obj)
        except ParseError as err:
            own, refused = None, refused or str(err)
        if own is not None and bad_number is not None:
            own, refused = None, refused or bad_number  # a call with a refused number is none
        key = id(obj)
        self.call[key] = own or first_call
        self.bad_number[key] = bad_number
        self.refused[key] = refused
        self.completed.append(obj)
        return obj

    def roots(self) -> Iterator[dict[str, Any]]:
        return (obj for obj in self.completed if id(obj) not in self.contained)


def _walk(values: Any) -> Iterator[Any]:
    """The values in order, with the items of (nested) lists in place of the lists."""
    stack = [iter(values)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            yield value
        else:
            stack.pop()


def _decode_object(text: str, start: int) -> tuple[_Objects, int]:
    """Decode the JSON object at ``text[start]`` and return what it held and where to go on.

    The object is decoded from a window of the text that grows 4× while the decoder runs off
    its end, so a small object costs a small window wherever it stands (the decoder's error
    message counts the lines before the error: a window keeps that count small as well).

    Returns:
        ``(objects, resume)``: the completed objects, and the index after the object or, when it
        is not valid JSON, the index where decoding failed.
    """
    window = _FIRST_WINDOW
    while True:
        end = min(len(text), start + window)
        chunk = text[start:end]
        _check_depth(chunk)
        objects = _Objects()
        decoder = json.JSONDecoder(object_pairs_hook=objects, **objects.hooks)
        try:
            _, consumed = decoder.raw_decode(chunk)
            return objects, start + consumed
        except json.JSONDecodeError as exc:
            ran_off = exc.pos >= len(chunk) - 16 or exc.msg.startswith("Unterminated string")
            if end < len(text) and ran_off:
                window *= 4
                continue
            return objects, start + max(exc.pos, 1)
        except RecursionError:  # _check_depth makes this unreachable; keep the promise
            raise ParseError("the JSON is nested too deeply") from None


class _Blocks:
    """Whether increasing positions of a text lie in a ``<tool_call>`` block or a fence, in
    linear total time (each call scans only the text since the previous position)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.last_tag_close = text.rfind(_TAG_CLOSE)
        self.last_fence = text.rfind(_FENCE)
        self.pos = 0
        self.in_tag = False
        self.fences = 0

    @property
    def best_rank(self) -> int:
        """The best :meth:`rank` any position of the text can have."""
        return 0 if self.last_tag_close >= 0 else 1 if self.last_fence >= 0 else 2

    def rank(self, position: int) -> int:
        """0: inside ``<tool_call>…</tool_call>``; 1: inside a ```` ``` ```` fence; 2: neither."""
        if self.last_tag_close > self.pos:
            tag = _LAST_TAG.match(self.text, self.pos, position)
            if tag is not None:
                self.in_tag = tag.group(1) == _TAG_OPEN
        if self.last_fence >= self.pos:
            self.fences += self.text.count(_FENCE, self.pos, position)
        self.pos = position
        if self.in_tag and position < self.last_tag_close:
            return 0
        return 1 if self.fences % 2 and position < self.last_fence else 2


def _object_start(text: str, position: int, spaced: bool) -> int:
    """Index of the first ``{"`` (or ``{`` white space ``"`` when ``spaced``) from
    ``position``, else -1: where an object that can be a tool call may start."""
    compact = text.find('{"', position)
    if spaced:
        found = _SPACED_START.search(text, position, compact if compact >= 0 else len(text))
        if found is not None:
            return found.start()
    return compact


def parse_json_tool_call(text: str) -> dict[str, Any]:
    """Extract a JSON tool call ``{"name": str, "arguments": dict}`` from model output.

    Accepts a bare JSON object, one inside ```` ```json ```` fences or inside ``<tool_call>``
    tags, objects nested in other JSON (``{"tool_calls": [{…}]}``), and the shapes of
    :func:`as_tool_call`. A call inside ``<tool_call>`` tags wins over one inside a fence,
    which wins over one elsewhere; among equals the first wins. Linear time: the text is read
    once, each object decoded once, at most :data:`MAX_JSON_OBJECTS` of them.

    Raises:
        ParseError: when no tool call is found; the message says why (no JSON object, a
            refused number, nesting too deep, invalid text …).
    """
    text = check_text(text)
    blocks = _Blocks(text)
    spaced = _BRACE_SPACE.search(text) is not None
    best: tuple[int, dict[str, Any]] | None = None
    problem: str | None = None
    position = 0
    for _ in range(MAX_JSON_OBJECTS):
        start = _object_start(text, position, spaced)
        if start < 0:
            break
        objects, position = _decode_object(text, start)
        for root in objects.roots():
            call = objects.call[id(root)]
            problem = problem or objects.refused[id(root)]
            if call is not None:
                rank = blocks.rank(start)
                if best is None or rank < best[0]:
                    best = (rank, call)
                break
        if best is not None and best[0] <= blocks.best_rank:
            break
    else:
        if best is None:
            raise ParseError(
                f"no JSON tool call among the first {MAX_JSON_OBJECTS} JSON objects; reply "
                'with one {"name": "<tool>", "arguments": {...}}'
            )
    if best is not None:
        return best[1]
    if problem is not None:
        raise ParseError(f"the tool call was refused: {problem}")
    raise ParseError('no JSON tool call found; reply with {"name": "<tool>", "arguments": {...}}')


__all__ = [
    "MAX_INT_DIGITS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_OBJECTS",
    "ParseError",
    "as_tool_call",
    "check_text",
    "json_depth",
    "loads_json",
    "parse_json_tool_call",
    "parse_xml_action",
]
