"""The tool-call parser: shapes models emit, schema validation, hostile input, round trips."""

from __future__ import annotations

import contextlib
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentgym.core.tool_calls import (
    NoToolCallError,
    ParseLimits,
    ToolCall,
    ToolCallError,
    ToolSet,
    parse_tool_calls,
    render_tool_calls,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "cd",
            "description": "Change directory.",
            "parameters": {
                "type": "object",
                "properties": {"folder": {"type": "string"}},
                "required": ["folder"],
            },
        },
    },
    {
        "name": "book",
        "description": "Book a flight (bare spec, no 'function' wrapper).",
        "parameters": {
            "type": "object",
            "properties": {
                "seats": {"type": "integer"},
                "price": {"type": "number"},
                "travel_class": {"type": "string", "enum": ["economy", "business"]},
                "names": {"type": "array", "items": {"type": "string"}},
                "insured": {"type": "boolean"},
            },
            "required": ["seats", "travel_class"],
        },
    },
]


TOOLSET = ToolSet(TOOLS)


def parse(text, tools=TOOLSET):
    return parse_tool_calls(text, tools)


# --- shapes -----------------------------------------------------------------------------------
def test_hermes_blocks_are_parallel_calls_in_order():
    text = (
        "<think>first cd then book</think>\n"
        '<tool_call>\n{"name": "cd", "arguments": {"folder": "a"}}\n</tool_call>\n'
        '<tool_call>{"name": "book", "arguments": {"seats": 2, "travel_class": "economy"}}'
        "</tool_call>"
    )
    assert parse(text) == [
        ToolCall("cd", {"folder": "a"}),
        ToolCall("book", {"seats": 2, "travel_class": "economy"}),
    ]


def test_unclosed_last_block_runs_to_the_end():
    assert parse('<tool_call>{"name": "cd", "arguments": {"folder": "x"}}') == [
        ToolCall("cd", {"folder": "x"})
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "cd", "arguments": {"folder": "x"}}',
        '  {"name": "cd", "parameters": {"folder": "x"}}  ',
        '{"type": "function", "function": {"name": "cd", "arguments": "{\\"folder\\": \\"x\\"}"}}',
        '[{"function": {"name": "cd", "arguments": {"folder": "x"}}}]',
        '{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", '
        '"function": {"name": "cd", "arguments": "{\\"folder\\": \\"x\\"}"}}]}',
        'I will change directory.\n```json\n{"name": "cd", "arguments": {"folder": "x"}}\n```',
        'Calling: {"name": "cd", "arguments": {"folder": "x"}} and that is all.',
    ],
)
def test_openai_and_bare_json_shapes(text):
    calls = parse(text)
    assert [(c.name, c.arguments) for c in calls] == [("cd", {"folder": "x"})]


def test_openai_call_id_is_kept():
    text = '[{"id": "call_7", "type": "function", "function": {"name": "cd", "arguments": ' \
           '"{\\"folder\\": \\"x\\"}"}}]'
    assert parse(text)[0].id == "call_7"


def test_several_bare_objects_and_lists_are_parallel():
    text = '{"name": "cd", "arguments": {"folder": "a"}}\n{"name": "cd", "arguments": ' \
           '{"folder": "b"}}'
    assert [c.arguments["folder"] for c in parse(text)] == ["a", "b"]
    text = json.dumps([{"name": "cd", "arguments": {"folder": f}} for f in "xyz"])
    assert [c.arguments["folder"] for c in parse(text)] == ["x", "y", "z"]


def test_empty_arguments_forms():
    tools = [{"name": "ls", "parameters": {"type": "object", "properties": {}}}]
    for text in ('{"name": "ls"}', '{"name": "ls", "arguments": null}',
                 '{"name": "ls", "arguments": ""}', '{"name": "ls", "arguments": {}}'):
        assert parse_tool_calls(text, tools) == [ToolCall("ls", {})]


# --- errors that name the problem -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no tool call"),
        ("I cannot help with that.", "no tool call"),
        ('{"name": "rm", "arguments": {}}', "unknown function 'rm'"),
        ('{"name": "cdd", "arguments": {"folder": "a"}}', "did you mean 'cd'"),
        ('{"name": "cd", "arguments": {}}', "cd: missing required argument 'folder'"),
        ('{"name": "cd", "arguments": {"folder": "a", "force": true}}',
         "cd: unexpected argument 'force'"),
        ('{"name": "cd", "arguments": {"folder": 3}}',
         "cd: argument 'folder' must be string, got integer"),
        ('{"name": "book", "arguments": {"seats": "2", "travel_class": "economy"}}',
         "argument 'seats' must be integer, got string"),
        ('{"name": "book", "arguments": {"seats": true, "travel_class": "economy"}}',
         "argument 'seats' must be integer, got boolean"),
        ('{"name": "book", "arguments": {"seats": 1, "travel_class": "first"}}',
         "argument 'travel_class' must be one of \"economy\", \"business\"; got \"first\""),
        ('{"name": "book", "arguments": {"seats": 1, "travel_class": "economy", '
         '"names": ["a", 2]}}', "argument 'names'[1] must be string, got integer"),
        ('{"name": "cd", "arguments": {"folder": NaN}}', "NaN is not valid JSON"),
        ('{"name": "cd", "arguments": {"folder": Infinity}}', "Infinity is not valid JSON"),
        ('{"name": "cd", "arguments": {"folder": -Infinity}}', "-Infinity is not valid JSON"),
        ('{"name": "cd", "arguments": {"folder": 1e400}}', "not a finite float"),
        ('{"name": "cd", "arguments": {"folder": ' + "9" * 5000 + "}}", "invalid JSON"),
        ('{"name": "cd", "arguments": {"folder": "a", "folder": "b"}}', "duplicate key"),
        ('{"name": "cd", "arguments": {"folder": "a"}', "invalid JSON"),
        ('{"name": "", "arguments": {}}', 'non-empty string "name"'),
        ('{"name": 5, "arguments": {}}', 'non-empty string "name"'),
        ('{"name": "cd", "arguments": ["a"]}', "must be a JSON object, got array"),
        ('{"name": "cd", "arguments": "not json"}', "unexpected text"),
        ("<tool_call>  </tool_call>", "block is empty"),
        ('<tool_call>{"name": "cd", "arguments": {"folder": "a"}} oops</tool_call>',
         "unexpected text"),
        ("<tool_call>[1, 2]</tool_call>", "must be a JSON object, got integer"),
        ("<tool_call>[]</tool_call>", "list of tool calls is empty"),
        ('<tool_call>"cd"</tool_call>', "unexpected text"),
    ],
)
def test_malformed_calls_name_the_problem(text, message):
    with pytest.raises(ToolCallError) as info:
        parse(text)
    assert message in str(info.value)


def test_no_tool_call_is_its_own_subclass():
    with pytest.raises(NoToolCallError):
        parse("just prose")
    with pytest.raises(ToolCallError) as info:
        parse('{"name": "nope"}')
    assert not isinstance(info.value, NoToolCallError)


# --- hostile input ----------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["bare", "tag", "arguments", "arguments_string"])
def test_ten_thousand_deep_nesting_is_an_error_not_a_recursion_error(where):
    deep = "[" * 10_000 + "]" * 10_000
    text = {
        "bare": deep,
        "tag": f"<tool_call>{deep}</tool_call>",
        "arguments": '{"name": "cd", "arguments": {"folder": ' + deep + "}}",
        "arguments_string": json.dumps({"name": "cd", "arguments": '{"folder": ' + deep + "}"}),
    }[where]
    with pytest.raises(ToolCallError, match="nests deeper than 32 levels"):
        parse(text)


def test_deep_nesting_of_objects_and_brackets_inside_strings():
    deep = '{"a":' * 10_000 + "1" + "}" * 10_000
    with pytest.raises(ToolCallError, match="nests deeper"):
        parse(deep)
    # Brackets inside strings (also after escaped quotes) do not count as nesting.
    folder = '\\"' + "[" * 5000 + "\\\\"
    call = parse('{"name": "cd", "arguments": {"folder": "' + folder + '"}}')[0]
    assert call.arguments["folder"] == '"' + "[" * 5000 + "\\"


def test_depth_limit_is_configurable():
    nested = {"name": "f", "arguments": {"x": [[[[1]]]]}}
    assert parse_tool_calls(json.dumps(nested), limits=ParseLimits(max_depth=6))
    with pytest.raises(ToolCallError, match="deeper than 5"):
        parse_tool_calls(json.dumps(nested), limits=ParseLimits(max_depth=5))


def test_megabyte_strings():
    big = "a" * 1_000_000
    with pytest.raises(ToolCallError, match="the limit is 1,000,000"):
        parse('{"name": "cd", "arguments": {"folder": "' + big + '"}}')
    with pytest.raises(ToolCallError, match="longer than the 100,000-character limit"):
        parse('{"name": "cd", "arguments": {"folder": "' + big[:900_000] + '"}}')
    with pytest.raises(ToolCallError, match="longer than"):
        parse('{"name": "cd", "arguments": {"' + big[:200_000] + '": 1}}')


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "cd", "arguments": {"folder": "\\ud800"}}',
        '{"name": "cd", "arguments": {"folder": "ok\\udfff"}}',
        '{"name": "cd", "arguments": {"folder": "' + "\ud800" + '"}}',
        '{"name": "c' + "\udc80" + '", "arguments": {}}',
        '{"name": "cd", "arguments": "{\\"folder\\": \\"\\\\ud834\\"}"}',
    ],
)
def test_lone_surrogates_are_refused(text):
    with pytest.raises(ToolCallError, match="lone surrogate"):
        parse(text)


def test_valid_surrogate_pairs_are_fine():
    assert parse('{"name": "cd", "arguments": {"folder": "\\ud83d\\ude00"}}')[0].arguments == {
        "folder": "😀"
    }


def test_too_many_calls():
    text = "".join(
        f'<tool_call>{{"name": "cd", "arguments": {{"folder": "{i}"}}}}</tool_call>'
        for i in range(65)
    )
    with pytest.raises(ToolCallError, match="more than 64 tool calls"):
        parse(text)


def test_non_string_input():
    with pytest.raises(ToolCallError, match="must be text"):
        parse_tool_calls(b'{"name": "cd"}')  # type: ignore[arg-type]


def test_invalid_tool_schema_is_the_authors_error():
    with pytest.raises(ValueError, match="not a valid JSON schema"):
        ToolSet([{"name": "f", "parameters": {"properties": {"x": {"type": "dict"}}}}])
    with pytest.raises(ValueError, match="two tool specs"):
        ToolSet([{"name": "f"}, {"name": "f"}])


def test_additional_properties_true_allows_extra_arguments():
    tools = [{"name": "f", "parameters": {"type": "object", "properties": {},
                                          "additionalProperties": True}}]
    assert parse_tool_calls('{"name": "f", "arguments": {"anything": 1}}', tools)


# --- properties -------------------------------------------------------------------------------
names = st.text(string.ascii_letters + "_", min_size=1, max_size=12)
json_text = st.text(
    st.characters(exclude_categories=("Cs",)), max_size=30
)  # any unicode except surrogates
scalars = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | json_text | st.floats(
    allow_nan=False, allow_infinity=False
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=8,
)
calls_strategy = st.lists(
    st.builds(ToolCall, name=names, arguments=st.dictionaries(json_text, json_values, max_size=5)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(calls=calls_strategy, style=st.sampled_from(["hermes", "json", "openai"]))
def test_render_then_parse_round_trips(calls, style):
    parsed = parse_tool_calls(render_tool_calls(calls, style))
    assert [(c.name, c.arguments) for c in parsed] == [(c.name, c.arguments) for c in calls]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400))
def test_arbitrary_text_raises_only_tool_call_errors(text):
    with contextlib.suppress(ToolCallError):
        parse(text)


@settings(max_examples=200, deadline=None)
@given(
    calls=calls_strategy,
    style=st.sampled_from(["hermes", "json", "openai"]),
    data=st.data(),
)
def test_mutated_calls_raise_only_tool_call_errors(calls, style, data):
    text = render_tool_calls(calls, style)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "duplicate"]))
        piece = data.draw(st.sampled_from(['"', "{", "}", "[", "]", "\\", ",", ":", "\ud800",
                                           "NaN", "<tool_call>", "</tool_call>", "1e999", " "]))
        if op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + text[at:at + 20] * 2 + text[at + 20:]
    try:
        result = parse_tool_calls(text, TOOLSET if data.draw(st.booleans()) else None)
    except ToolCallError:
        return
    assert result and all(isinstance(c, ToolCall) for c in result)


# A random schema and arguments that satisfy it.
TYPES = {
    "string": json_text,
    "integer": st.integers(-1000, 1000),
    "number": st.floats(-1e6, 1e6, allow_nan=False),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(), max_size=3),
    "object": st.dictionaries(json_text, st.integers(), max_size=3),
}
WRONG = {  # a value of a different JSON type for each declared type
    "string": 5, "integer": "5", "number": "5.0", "boolean": "yes", "array": {"a": 1},
    "object": [1],
}


@st.composite
def schema_and_arguments(draw):
    props = draw(st.dictionaries(
        st.text(string.ascii_lowercase, min_size=1, max_size=8),
        st.sampled_from(sorted(TYPES)), min_size=1, max_size=6,
    ))
    required = [p for p in props if draw(st.booleans())]
    args = {p: draw(TYPES[t]) for p, t in props.items() if p in required or draw(st.booleans())}
    tool = {"name": "fn", "parameters": {
        "type": "object", "properties": {p: {"type": t} for p, t in props.items()},
        "required": required,
    }}
    return tool, props, required, args


@settings(max_examples=150, deadline=None)
@given(case=schema_and_arguments(), data=st.data())
def test_schema_validation_properties(case, data):
    tool, props, required, args = case
    text = render_tool_calls([ToolCall("fn", args)], "json")
    assert parse_tool_calls(text, [tool])[0].arguments == args

    if required:  # dropping a required argument names it
        drop = data.draw(st.sampled_from(required))
        bad = {k: v for k, v in args.items() if k != drop}
        with pytest.raises(ToolCallError, match=f"missing required argument.*'{drop}'"):
            parse_tool_calls(render_tool_calls([ToolCall("fn", bad)], "json"), [tool])
    # an undeclared argument names it
    with pytest.raises(ToolCallError, match="unexpected argument 'zz_extra'"):
        parse_tool_calls(render_tool_calls([ToolCall("fn", {**args, "zz_extra": 1})], "json"),
                         [tool])
    # a value of the wrong type names the argument and the expected type
    name = data.draw(st.sampled_from(sorted(props)))
    wrong = {**args, name: WRONG[props[name]]}
    expected = props[name]
    with pytest.raises(ToolCallError, match=f"argument '{name}' must be {expected}"):
        parse_tool_calls(render_tool_calls([ToolCall("fn", wrong)], "json"), [tool])
