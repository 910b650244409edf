"""The action parsers: hand-made cases, agreement with the old regex parsers on ordinary output,
and hypothesis properties on random and adversarial strings (never anything but ParseError;
valid actions round-trip). Timing lives in benchmarks/parsers.py, not here."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
import reference_parsers as old
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym.core import parsing
from agentgym.core.parsing import (
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    MAX_JSON_OBJECTS,
    ParseError,
    check_text,
    json_depth,
    loads_json,
    parse_json_tool_call,
    parse_xml_action,
)
from agentgym.core.wrappers import render_action

CALL = {"name": "bash", "arguments": {"cmd": "ls"}}
CALL_JSON = json.dumps(CALL)


# --- check_text -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "must be text \\(a str\\), not NoneType"),
        (b"up", "not bytes"),
        (["up"], "not list"),
        ("ok \ud800 x", "lone surrogate \\(U\\+D800\\) at character 3"),
        ("a\udfffb", "U\\+DFFF\\) at character 1"),
        ("ab\x00", "NUL character at character 2"),
    ],
)
def test_check_text_refuses_what_cannot_be_passed_on(value, message):
    with pytest.raises(ParseError, match=message):
        check_text(value)


def test_check_text_passes_ordinary_and_unusual_text():
    for text in ("", "up", "🙂 中文 \u200b\u202e", "\x01\x1f\x7f\u2028", "x" * 100_000):
        assert check_text(text) is text


# --- <action> ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("think <action>left</action> no, <ACTION> right </ACTION>", "right"),
        ("<Action>up</aCtIoN>", "up"),
        ("<action>a<action>b</action>", "b"),  # the content never holds a tag
        ("<action>a</action></action>", "a"),
        ("<action>a</action> then <action>b", "a"),  # an unclosed last tag is not an action
        ("<action>\n  push box  \n</action>", "push box"),
        ("<action><b>x</b></action>", "<b>x</b>"),
    ],
)
def test_parse_xml_action(text, expected):
    assert parse_xml_action(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I will go right", "no <action>"),
        ("</action> <action>up", "no <action>"),
        ("<action>" * 12_000, "no <action>"),  # was quadratic: 4.9 s
        ("<action>  </action>", "empty"),
        ("<action>up\x00</action>", "NUL"),
        ("<action>search[\ud800]</action>", "lone surrogate"),
        (7, "must be text"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_parse_xml_action_refuses(text, message):
    with pytest.raises(ParseError, match=message):
        parse_xml_action(text)


_TAGLESS = st.text(min_size=1, max_size=60).filter(
    lambda s: s.strip() and "<action>" not in s.lower() and "</action>" not in s.lower()
    and "\x00" not in s
)


@given(_TAGLESS, st.text(max_size=40).filter(lambda s: "<" not in s and "\x00" not in s))
def test_render_then_parse_xml_round_trips(action, prose):
    assert parse_xml_action(prose + render_action(action, "xml") + prose) == action.strip()


@given(st.lists(st.sampled_from(["<action>", "</action>", "<ACTION>", "up", " ", "<", ">", "/"]),
                max_size=30).map("".join))
def test_xml_agrees_with_the_old_parser_on_tag_soup(text):
    # The old non-greedy scan pairs an <action> with the first </action> after it, like the new
    # one, except that its content may hold a later <action>; compare where it cannot.
    try:
        expected = old.parse_xml_action(text)
    except ParseError:
        expected = None
    if expected is not None and "<action>" in expected.lower():
        return
    try:
        assert parse_xml_action(text) == expected
    except ParseError:
        assert expected is None


# --- JSON depth and limits ---------------------------------------------------------------------
def _depth(value: Any) -> int:
    """Reference: nesting depth of a decoded JSON value, by recursion."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab{}[]"\\:, \n\t\u00e9🙂'), max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(alphabet='ab{["\\', max_size=4), inner, max_size=4),
    max_leaves=30,
)


@given(_JSON_VALUES, st.text(alphabet='{}[]"\\ x', max_size=20))
def test_json_depth_matches_the_decoded_depth(value, trailer):
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):  # what follows the first value does not count
        text += trailer
    for few_quotes in (0, 10**9):  # strings masked with numpy / split out with str.split
        with mock.patch.object(parsing, "_FEW_QUOTES", few_quotes):
            assert json_depth(text) == _depth(value)


def test_json_depth_hand_computed():
    assert json_depth('{"a": [1, "]"]}') == 2
    assert json_depth('{"a": "\\\\", "b": [[["\\"]"]]]}') == 4
    assert json_depth('{"a":' * 10_000 + "1" + "}" * 10_000) == 10_000
    assert json_depth("[" * 70 + "]" * 70 + "[" * 500) == 70
    assert json_depth('"[[[["') == 0
    many_quotes = '{"a": [' + '"]", ' * 25_000 + '[[1]]]}'  # numpy masks the strings
    assert json_depth(many_quotes) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "nested 10000 levels deep"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested 65 levels"),
        ('{"t": NaN}', "NaN is not a JSON number"),
        ('{"t": -Infinity}', "-Infinity is not a JSON number"),
        ('{"t": 1e400}', "overflows a float"),
        ('{"t": ' + "9" * (MAX_INT_DIGITS + 1) + "}", "integer of 1001 digits"),
        ('{"t": 1', "not valid JSON"),
        ("", "not valid JSON"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_loads_json_refuses(text, message):
    with pytest.raises(ParseError, match=message):
        loads_json(text)


def test_loads_json_accepts_what_is_within_the_limits():
    big = int("9" * MAX_INT_DIGITS)
    assert loads_json(f'{{"t": {big}, "n": -5, "f": 1e308}}') == {"t": big, "n": -5, "f": 1e308}
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert _depth(loads_json(nested)) == MAX_JSON_DEPTH


# --- JSON tool calls --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        CALL_JSON,
        f"Let me look.\n```json\n{CALL_JSON}\n```",
        f"<tool_call>{CALL_JSON}</tool_call>",
        '{"function": {"name": "bash", "arguments": "{\\"cmd\\": \\"ls\\"}"}}',
        'noise {"not": "a call"} then {"name": "bash", "parameters": {"cmd": "ls"}}',
        f'{{"tool_calls": [[{{"id": 1}}, {CALL_JSON}]]}}',
        # the object around it is broken after the call completed
        f'{{"thought": "x", "call": {CALL_JSON}, oops}}',
        # ... or before the call starts: the search goes on where decoding failed
        f'{{"thought": "x", {CALL_JSON}}}',
        f'{{"a": [1, 2, {CALL_JSON}',  # cut off by the token limit
        '{\n  "name": "bash",\n  "arguments": {"cmd": "ls"}\n}',
    ],
)
def test_parse_json_tool_call_shapes(text):
    assert parse_json_tool_call(text) == CALL


def test_tool_call_preference_tags_then_fences_then_first():
    a, b, c = ({"name": n, "arguments": {}} for n in "abc")
    bare, fenced, tagged = json.dumps(a), f"```\n{json.dumps(b)}\n```", (
        f"<tool_call>{json.dumps(c)}</tool_call>")
    assert parse_json_tool_call(f"{bare} {fenced} {tagged}")["name"] == "c"
    assert parse_json_tool_call(f"{bare} {fenced}")["name"] == "b"
    assert parse_json_tool_call(f"{bare} {json.dumps(c)}")["name"] == "a"
    # an unclosed tag or fence is no block
    assert parse_json_tool_call(f"{bare} <tool_call>{json.dumps(c)}")["name"] == "a"
    assert parse_json_tool_call(f"{bare} ```{json.dumps(c)}")["name"] == "a"
    # a closing tag inside a JSON string does not cut the call short
    inner = {"name": "c", "arguments": {"s": "</tool_call>"}}
    assert parse_json_tool_call(f"<tool_call>{json.dumps(inner)}</tool_call>") == inner


def test_first_call_wins_whatever_the_white_space():
    spaced, compact = '{ "name": "a", "arguments": {}}', '{"name": "b", "arguments": {}}'
    assert parse_json_tool_call(f"{spaced} {compact}")["name"] == "a"
    assert parse_json_tool_call(f"{compact} {spaced}")["name"] == "b"
    assert parse_json_tool_call("{\t\r\n " + spaced[1:])["name"] == "a"


def test_outer_call_wins_over_a_call_shaped_argument():
    call = {"name": "outer", "arguments": {"x": {"name": "inner"}}}
    assert parse_json_tool_call(json.dumps(call)) == call


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no JSON tool call found"),
        ("{", "no JSON tool call found"),
        ('{"name": 3}', "no JSON tool call found"),
        ('{"name": "x", "arguments": "{bad"}', "refused: not valid JSON"),
        ('{"name": "bash", "arguments": {"timeout": NaN}}', "refused: NaN is not a JSON number"),
        ('{"name": "bash", "arguments": {"timeout": Infinity}}', "Infinity is not a JSON"),
        ('{"name": "bash", "arguments": {"t": 1e999}}', "overflows a float"),
        ('{"name": "t", "arguments": {"t": ' + "9" * 5000 + "}}", "integer of 5000 digits"),
        ('{"name": "t", "arguments": "{\\"t\\": NaN}"}', "refused: NaN"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, r"nested \d+ levels deep \(at most 64\)"),
        ('{"name": "bash", "arguments": {"cmd": ' + "[" * 10_000 + "]" * 10_000 + "}}",
         r"nested \d+ levels deep"),
        ('{"x": NaN} and no call', "no JSON tool call found"),
        ("search[\ud800]", "lone surrogate"),
        ('{"name": "bash\x00"}', "NUL"),
        (b'{"name": "bash"}', "must be text"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_parse_json_tool_call_refuses(text, message):
    with pytest.raises(ParseError, match=message):
        parse_json_tool_call(text)


def test_large_integers_within_the_limit_reach_the_environment():
    big = int("1" + "0" * 399)
    call = {"name": "bash", "arguments": {"timeout": big, "n": -5}}
    assert parse_json_tool_call(json.dumps(call)) == call


def test_at_most_max_json_objects_are_decoded():
    junk = '{"a": 1} ' * (MAX_JSON_OBJECTS - 1)
    assert parse_json_tool_call(junk + CALL_JSON) == CALL
    with pytest.raises(ParseError, match=f"first {MAX_JSON_OBJECTS} JSON objects"):
        parse_json_tool_call(junk + '{"a": 1} ' + CALL_JSON)


@pytest.mark.parametrize("pad", [4060, 4070, 4075, 4078, 4080, 4085, 4090, 4100, 20_000])
def test_calls_longer_than_the_first_window(pad):
    # the first decode window is 4096 characters: cut a string, a number, a literal, an escape
    call = {"name": "edit", "arguments": {"s": "x" * pad, "n": 12345678, "ok": True,
                                          "e": "\u00e9\\\"", "z": None}}
    assert parse_json_tool_call("prose " + json.dumps(call)) == call


_CALLS = st.fixed_dictionaries({
    "name": st.text(min_size=1, max_size=10),
    "arguments": st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=4),
})
_PROSE = st.text(max_size=30).filter(lambda s: not set(s) & set('{}"`<\x00'))


@settings(max_examples=200)
@given(_CALLS, _PROSE, _PROSE, st.sampled_from(["bare", "fence", "tag"]))
def test_tool_calls_round_trip_and_agree_with_the_old_parser(call, before, after, wrap):
    body = json.dumps(call, ensure_ascii=wrap == "bare")
    text = {"bare": body, "fence": f"```json\n{body}\n```",
            "tag": f"<tool_call>\n{body}\n</tool_call>"}[wrap]
    text = before + text + after
    assert parse_json_tool_call(text) == call
    assert old.parse_json_tool_call(text) == call
    assert json.loads(render_action(json.dumps(call), "json")) == call


# --- never anything but ParseError ------------------------------------------------------------
_FRAGMENTS = [
    "{", "}", "[", "]", '"', "\\", ":", ",", " ", "\n", "NaN", "-Infinity", "1e400", "-0",
    "9" * (MAX_INT_DIGITS + 5), "true", "nul", '"name"', '"arguments"', '"bash"', '"function"',
    "<tool_call>", "</tool_call>", "```", "```json", "<action>", "</action>", "<ACTION>",
    "\x00", "\ud800", "\udfff", "🙂", "\u202e", "{" * 80, "[" * 80, "]" * 80, '{"a":' * 40,
    CALL_JSON, '{"name": "bash", "arguments": {"timeout": NaN}}',
]
_ADVERSARIAL = st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join)
_ANY_TEXT = st.text(max_size=300) | _ADVERSARIAL | st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=100
)


@settings(max_examples=500)
@given(_ANY_TEXT)
def test_parsers_raise_nothing_but_parse_error(text):
    for parse in (parse_xml_action, parse_json_tool_call, loads_json, check_text):
        try:
            result = parse(text)
        except ParseError as err:
            assert str(err)
            continue
        if parse is parse_json_tool_call:  # a call the environment can decode again
            assert isinstance(result["name"], str) and isinstance(result["arguments"], dict)
            assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert isinstance(render_action(text, "json"), str)
