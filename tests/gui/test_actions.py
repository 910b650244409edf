"""The GUI action grammar: hand-written cases, round trips and fuzzing of the one-pass parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym.envs.gui.actions import (
    MAX_ACTION_CHARS,
    ActionError,
    GuiAction,
    check_signature,
    format_action,
    normalize_key,
    parse_action,
)
from agentgym.envs.gui.miniwob.env import SIGNATURES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("click(12)", GuiAction("click", (12,))),
        ("  CLICK ( 12 )\n", GuiAction("click", (12,))),
        ("click(40, 85)", GuiAction("click", (40, 85))),
        ("click(40.5, -3)", GuiAction("click", (40.5, -3))),
        ('fill(7, "Alice Smith")', GuiAction("fill", (7, "Alice Smith"))),
        ("fill(7, 'it\\'s')", GuiAction("fill", (7, "it's"))),
        ('type("a, b) c")', GuiAction("type", ("a, b) c",))),
        ('type("line\\nnext\\t\\\\")', GuiAction("type", ("line\nnext\t\\",))),
        ('select(3, "Red", "Blue")', GuiAction("select", (3, "Red", "Blue"))),
        ("noop()", GuiAction("noop", ())),
        ("drag(1, 2, 3.5, .5)", GuiAction("drag", (1, 2, 3.5, 0.5))),
    ],
)
def test_parse_hand_written(text, expected):
    assert parse_action(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("click", "expected '('"),
        ("click(12", "ends before"),
        ("click(12) click(3)", "exactly one action"),
        ('type("open)', "never closed"),
        ("click(abc)", "expected a number"),
        ("click(1,,2)", "expected a number"),
        ("12(3)", "starts with a name"),
        ("click(-)", "expected a number"),
        ("x" * (MAX_ACTION_CHARS + 1), "characters long"),
    ],
)
def test_parse_errors_say_why(text, why):
    with pytest.raises(ActionError, match=re.escape(why)):
        parse_action(text)


def test_signatures_pick_element_or_coordinates():
    assert check_signature(parse_action("click(3)"), SIGNATURES) == ("int",)
    assert check_signature(parse_action("click(3, 4)"), SIGNATURES) == ("num", "num")
    assert check_signature(parse_action('select(3, "a", "b")'), SIGNATURES) == ("int", "str*")
    with pytest.raises(ActionError, match="click takes"):
        check_signature(parse_action("click(1.5)"), SIGNATURES)
    with pytest.raises(ActionError, match="fill takes"):
        check_signature(parse_action("fill(3)"), SIGNATURES)
    with pytest.raises(ActionError, match="unknown action 'tap'"):
        check_signature(parse_action("tap(3)"), SIGNATURES)


@pytest.mark.parametrize(
    ("key", "chord"),
    [
        ("Enter", ("Enter",)),
        ("enter", ("Enter",)),
        ("ctrl+a", ("Control", "a")),
        ("Control+Shift+ArrowUp", ("Control", "Shift", "ArrowUp")),
        ("ctrl++", ("Control", "+")),
        ("+", ("+",)),
        ("A", ("A",)),
        ("f5", ("F5",)),
    ],
)
def test_normalize_key(key, chord):
    assert normalize_key(key) == chord


@pytest.mark.parametrize("key", ["", "F13", "a+b", "ctrl+", "é", "Hyper+x", "x" * 50])
def test_normalize_key_rejects(key):
    with pytest.raises(ActionError):
        normalize_key(key)


_ARG = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda f: round(f, 3)),
    st.text(max_size=30),
)


@given(st.sampled_from(["click", "fill", "type", "select", "drag", "noop"]),
       st.lists(_ARG, max_size=5))
def test_format_then_parse_round_trips(name, args):
    text = format_action(name, *args)
    if len(text) > MAX_ACTION_CHARS:
        return
    parsed = parse_action(text)
    assert parsed.name == name
    assert len(parsed.args) == len(args)
    for got, want in zip(parsed.args, args, strict=True):
        if isinstance(want, float):
            assert got == pytest.approx(want)
        else:
            assert got == want


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_says_why(text):
    try:
        parse_action(text)
    except ActionError as exc:
        assert str(exc)


def test_pathological_inputs_are_answered():
    """Inputs that make backtracking parsers blow up are one pass here."""
    for text in ['type("' + "\\" * 1999, "click(" + "1," * 900, "f" * 1999 + "(", "(" * 2000]:
        with pytest.raises(ActionError):
            parse_action(text)
