"""The regex parsers agentgym used before :mod:`agentgym.core.parsing`, kept as a reference.

Correct on ordinary model output but quadratic on adversarial output (``"<action>" * 12000``
took 4.9 s) and raising ``RecursionError``/``ValueError`` on deep JSON and huge integers. Tests
check that the linear parsers agree with them on ordinary output; ``benchmarks/parsers.py``
times both side by side.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentgym.core.parsing import ParseError

_XML_ACTION = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
_JSON_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TOOL_CALL_TAG = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def parse_xml_action(text: str) -> str:
    """Content of the last ``<action>…</action>`` found by a non-greedy scan, stripped."""
    matches = _XML_ACTION.findall(text)
    if not matches or not matches[-1].strip():
        raise ParseError("no action")
    return matches[-1].strip()


def parse_json_tool_call(text: str) -> dict[str, Any]:
    """First tool call decoded by ``raw_decode`` at every ``{`` of the tag contents, then the
    fence contents, then the whole text."""
    decoder = json.JSONDecoder()
    for candidate in [*_TOOL_CALL_TAG.findall(text), *_JSON_FENCE.findall(text), text]:
        start = candidate.find("{")
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            call = _as_tool_call(obj)
            if call is not None:
                return call
            start = candidate.find("{", start + 1)
    raise ParseError("no tool call")


def _as_tool_call(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {"name": name, "arguments": arguments}
