"""Whatever an agent writes, ``WebShopEnv.step`` answers it: never an exception, and an invalid
action leaves the page exactly as it was (the parser is also checked against the original's
regex)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentgym.envs.web.webshop.actions import (
    MAX_ACTION_CHARS,
    argument_problem,
    parse_original,
    parse_strict,
)
from agentgym.envs.web.webshop.env import WebShopEnv

ORIGINAL = re.compile(r"(.+)\[(.+)\]")

ADVERSARIAL = {
    "lone surrogate query": "search[\ud800]",
    "lone surrogate click": "click[\udfff]",
    "surrogate inside a query": "search[shoes \ud83d]",
    "1 MB": "search[" + "x" * 1_000_000 + "]",
    "1 MB of brackets": "[" * 500_000 + "]" * 500_000,
    "NUL query": "search[\x00]",
    "control characters": "search[a\x07b\x1bc]",
    "C1 control": "click[\x85]",
    "newline in brackets": "search[a\nb]",
    "<action> x 12000": "<action>" * 12000,
    "nested brackets 10000 deep": "click" + "[" * 10_000 + "x" + "]" * 10_000,
    "nested brackets, short": "click" + "[" * 300 + "x" + "]" * 300,
    "quadratic for a regex": "a[" * 400,
    "just over the limit": "search[" + "q" * (MAX_ACTION_CHARS - 7) + "]",
    "empty brackets": "search[]",
    "bytes": b"search[shoes]",
    "int": 7,
    "float nan": float("nan"),
    "none": None,
    "list": ["click[buy now]"],
    "dict": {"action": "search[x]"},
}


@pytest.fixture(scope="module")
def env():
    env = WebShopEnv(split="test")
    env.reset(seed=2)
    yield env
    env.close()


def _snapshot(env: WebShopEnv) -> tuple[str, str, str]:
    return env._url, env._html, env.state_key()


@pytest.mark.parametrize("label", list(ADVERSARIAL))
def test_adversarial_action_is_an_invalid_action(env, label):
    env.reset(seed=2)
    env.step("search[shoes]")
    before = _snapshot(env)
    obs, reward, terminated, truncated, info = env.step(ADVERSARIAL[label])
    assert info["action_valid"] is False, label
    assert _snapshot(env) == before
    assert reward == 0.0 and not (terminated or truncated)
    assert obs.startswith("Invalid action: ") and info["message"]
    obs.encode("utf-8")  # the answer is always valid text
    info["message"].encode("utf-8")
    assert len(info["message"]) < 300


def test_surrogate_message_says_why(env):
    env.reset(seed=2)
    info = env.step("search[\ud800]")[4]
    assert "lone surrogate" in info["message"] and "\\ud800" in info["message"]
    assert "too long" in env.step(ADVERSARIAL["1 MB"])[4]["message"]
    # TextEnv hands a non-str action on as str(action): b"x" arrives as the text "b'x'"
    assert """"b'x'" is not an action""" in env.step(b"x")[4]["message"]


TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.sampled_from("searchclik[] \n\t\x00\ud800>b0Next<"), max_size=60),
    st.builds(lambda a: f"search[{a}]", st.text(max_size=30)),
    st.builds(lambda a: f"click[{a}]", st.text(alphabet="nextprvbuyow >[]<", max_size=20)),
)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(TEXT)
def test_random_text_never_raises_and_invalid_changes_nothing(env, action):
    env.reset(seed=2)
    before = _snapshot(env)
    obs, reward, terminated, _truncated, info = env.step(action)
    obs.encode("utf-8")
    if not info["action_valid"]:
        assert _snapshot(env) == before
        assert reward == 0.0 and not terminated and info["message"]
    else:
        assert parse_original(action) is not None


# -- the parser ----------------------------------------------------------------------------------
@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab[] \n]", max_size=25))
def test_parse_original_equals_the_original_regex(action):
    match = ORIGINAL.match(action)
    assert parse_original(action) == (match.groups() if match else None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parse_original_equals_the_original_regex_on_any_text(action):
    match = ORIGINAL.match(action)
    assert parse_original(action) == (match.groups() if match else None)


def test_parse_original_hand_cases():
    assert parse_original("click[x] now") == ("click", "x")
    assert parse_original("search[red shoes]") == ("search", "red shoes")
    assert parse_original("Search[x]") == ("Search", "x")
    assert parse_original(" click[x]") == (" click", "x")
    assert parse_original("click [x]") == ("click ", "x")
    assert parse_original("click[]]") == ("click", "]")
    assert parse_original("click[]") is None
    assert parse_original("[x]") is None
    assert parse_original("search[a\nb]") is None
    assert parse_original("search[ab]\nclick[c]") == ("search", "ab")
    assert parse_strict("  CLICK [Buy Now]  ") == ("click", "Buy Now")
    assert parse_strict("click[x] now") is None


def test_argument_problems():
    assert argument_problem("red shoes") is None
    assert argument_problem("tab\tok") is None
    assert "surrogate" in argument_problem("\ud800")
    assert "control" in argument_problem("a\x00")
    assert argument_problem("zero\u200bwidth") is None
    assert argument_problem("zero\u200bwidth", strict=True) is not None
    assert argument_problem("", strict=True) is not None
