"""Wrappers: action parsing, chat history windows, penalty, recorder, turn limit."""

from __future__ import annotations

import json
import re

import pytest
from gymnasium.error import ResetNeeded
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym.core.env import TextEnv
from agentgym.core.wrappers import (
    RESET_NEEDED_MESSAGE,
    ActionParser,
    ChatHistory,
    EpisodeRecorder,
    InvalidActionPenalty,
    RequireReset,
    TurnLimit,
    render_action,
)


class Corridor(TextEnv):
    """Positions 0..3; 'right' moves on, reaching 3 terminates; anything else is invalid."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return "at 0", self.reset_info(task_id="c", instruction="go right", state_key="0")

    def step(self, action):
        if action != "right":
            info = self.step_info(state_key=str(self.pos), action_valid=False,
                                  reward_parts={"step": -0.1})
            return f"bad action, at {self.pos}", -0.1, False, False, info
        self.pos += 1
        done = self.pos == 3
        info = self.step_info(state_key=str(self.pos), action_valid=True,
                              reward_parts={"goal": float(done)}, success=done)
        return f"at {self.pos}", float(done), done, False, info

    def render(self):
        return f"at {self.pos}" if hasattr(self, "pos") else None


# The parsers themselves are tested in test_parsing.py.
_GARBAGE = st.text(max_size=200) | st.lists(
    st.sampled_from(["<action>", "</action>", "right", "{", "}", '"name"', ":", '"right"', "NaN",
                     "\x00", "\ud800", "[" * 70, "<tool_call>", "</tool_call>", "```", " "]),
    max_size=30,
).map("".join) | st.sampled_from([None, 3, b"right", ["right"], {"name": "right"}, 1.5])


@settings(max_examples=300)
@given(st.sampled_from(["plain", "xml", "json"]), _GARBAGE)
def test_action_parser_step_never_raises(action_format, action):
    env = ActionParser(Corridor(), action_format)
    env.reset()
    obs, reward, *_, info = env.step(action)
    assert isinstance(obs, str) and isinstance(reward, float)
    if not info["action_valid"]:
        assert info["state_key"] == "0" and obs.endswith("at 0")
    if info.get("format_error"):
        assert obs.startswith("Invalid action: ") and info["error"]
        assert info["parsed_action"] is None and isinstance(info["raw_action"], str)


@pytest.mark.parametrize(
    ("action_format", "action", "message"),
    [
        ("plain", 42, "must be text \\(a str\\), not int"),
        ("xml", None, "not NoneType"),
        ("json", ["right"], "not list"),
        ("xml", "<action>ri\ud800ght</action>", "lone surrogate"),
        ("plain", "right\x00", "NUL character"),
        ("json", '{"name": "go", "arguments": {"n": NaN}}', "NaN is not a JSON number"),
        ("json", '{"a":' * 10_000 + "1" + "}" * 10_000, "levels deep"),
        ("xml", "<action>" * 12_000, "no <action>"),
        ("xml", "x" * 1_000_000, "no <action>"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 30 else None,
)
def test_action_parser_answers_bad_input_with_a_message(action_format, action, message):
    env = ActionParser(Corridor(), action_format)
    env.reset()
    obs, _, terminated, truncated, info = env.step(action)
    assert not info["action_valid"] and info["format_error"]
    assert re.search(message, info["error"]) and re.search(message, obs)
    assert len(info["raw_action"]) <= 2000 and (terminated, truncated) == (False, False)


def test_render_action_json_never_raises_on_bad_json():
    for action in ('{"a":' * 10_000, '{"name": "x", "arguments": {"t": NaN}}', "\ud800", "up"):
        call = json.loads(render_action(action, "json"))
        assert call == {"name": action, "arguments": {}}
    assert json.loads(render_action('{"name": "x"}', "json")) == {"name": "x", "arguments": {}}


def test_require_reset_raises_reset_needed_and_allows_render():
    env = RequireReset(Corridor(render_mode="ansi"))
    with pytest.raises(ResetNeeded, match=re.escape(RESET_NEEDED_MESSAGE)):
        env.step("right")
    assert env.render() is None  # rendering before reset is allowed
    env.reset()
    assert env.step("right")[0] == "at 1"


def test_action_parser_invalid_output_keeps_state():
    env = ActionParser(Corridor(), "xml")
    env.reset()
    obs, reward, terminated, truncated, info = env.step("<action>right</action>")
    assert obs == "at 1" and info["parsed_action"] == "right" and info["action_valid"]
    obs, reward, terminated, truncated, info = env.step("I go right")
    assert not info["action_valid"] and info["format_error"] and info["state_key"] == "1"
    # The environment's own invalid-action cost: never better than a legal move.
    assert info["reward_parts"] == {"step": -0.1} and reward == -0.1
    assert obs.startswith("Invalid action: no <action>") and obs.endswith("at 1")
    assert (terminated, truncated) == (False, False)


def test_unparsable_output_counts_against_the_turn_limit():
    env = ActionParser(TurnLimit(Corridor(), max_turns=2), "xml")
    env.reset()
    assert env.step("no tags")[3] is False
    assert env.step("still no tags")[3] is True


def test_action_parser_json_passes_compact_call():
    seen = []

    class Recorder(Corridor):
        def step(self, action):
            seen.append(action)
            return super().step(action)

    env = ActionParser(Recorder(), "json")
    env.reset()
    env.step('```json\n{"name": "go", "arguments": {"dir": "right"}}\n```')
    assert json.loads(seen[0]) == {"name": "go", "arguments": {"dir": "right"}}


def test_chat_history_full_and_windowed():
    full = ChatHistory(Corridor(), system_prompt="sys")
    windowed = ChatHistory(Corridor(), window=1)
    zero = ChatHistory(Corridor(), window=0)
    for env in (full, windowed, zero):
        env.reset()
    assert full.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Task: go right\n\nat 0"},
    ]
    for env in (full, windowed, zero):
        env.step("right")
        env.step("right")
    assert [m["content"] for m in full.messages] == [
        "sys", "Task: go right\n\nat 0", "right", "at 1", "right", "at 2"]
    assert [m["role"] for m in windowed.messages] == ["user", "assistant", "user"]
    assert [m["content"] for m in windowed.messages] == ["Task: go right", "right", "at 2"]
    assert zero.messages == [{"role": "user", "content": "Task: go right\n\nat 2"}]


def test_invalid_action_penalty():
    env = InvalidActionPenalty(Corridor(), penalty=0.25)
    env.reset()
    _, reward, *_, info = env.step("left")
    assert reward == -0.35 and info["reward_parts"]["invalid"] == -0.25
    _, reward, *_, info = env.step("right")
    assert reward == 0.0 and "invalid" not in info["reward_parts"]


def test_turn_limit_does_not_mark_solved_episode_truncated():
    env = TurnLimit(Corridor(), max_turns=3)
    env.reset()
    results = [env.step("right")[2:4] for _ in range(3)]
    assert results[-1] == (True, False)
    env = TurnLimit(Corridor(), max_turns=2)
    env.reset()
    assert [env.step("right")[2:4] for _ in range(2)][-1] == (False, True)


def test_episode_recorder_writes_one_line_per_episode(tmp_path):
    path = tmp_path / "eps.jsonl"
    env = EpisodeRecorder(TurnLimit(Corridor(), 5), path)
    for seed in (0, 1):
        env.reset(seed=seed)
        for action in ("left", "right", "right", "right"):
            if env.step(action)[2]:
                break
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2 and lines[1]["seed"] == 1 and lines[0]["success"]
    assert [t["action_valid"] for t in lines[0]["turns"]] == [False, True, True, True]
