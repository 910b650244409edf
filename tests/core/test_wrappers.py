"""Wrappers: action parsing, chat history windows, penalty, recorder, turn limit."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentgym.core.env import TextEnv
from agentgym.core.wrappers import (
    ActionParser,
    ChatHistory,
    EpisodeRecorder,
    InvalidActionPenalty,
    ParseError,
    TurnLimit,
    parse_json_tool_call,
    parse_xml_action,
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


def test_parse_xml_takes_last_complete_tag():
    assert parse_xml_action("think <action>left</action> no, <ACTION> right </ACTION>") == "right"
    with pytest.raises(ParseError, match="no <action>"):
        parse_xml_action("I will go right")
    with pytest.raises(ParseError, match="empty"):
        parse_xml_action("<action>  </action>")


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "bash", "arguments": {"cmd": "ls"}}',
        'Let me look.\n```json\n{"name": "bash", "arguments": {"cmd": "ls"}}\n```',
        '<tool_call>{"name": "bash", "arguments": {"cmd": "ls"}}</tool_call>',
        '{"function": {"name": "bash", "arguments": "{\\"cmd\\": \\"ls\\"}"}}',
        'noise {"not": "a call"} then {"name": "bash", "parameters": {"cmd": "ls"}}',
    ],
)
def test_parse_json_tool_call_shapes(text):
    assert parse_json_tool_call(text) == {"name": "bash", "arguments": {"cmd": "ls"}}


@pytest.mark.parametrize("text", ["", "{", '{"name": 3}', '{"name": "x", "arguments": "{bad"}'])
def test_parse_json_tool_call_rejects(text):
    with pytest.raises(ParseError):
        parse_json_tool_call(text)


@given(st.text(max_size=300))
def test_parsers_never_raise_anything_but_parse_error(text):
    for parse in (parse_xml_action, parse_json_tool_call):
        with contextlib.suppress(ParseError):
            parse(text)


@given(st.text(min_size=1, max_size=50).filter(lambda s: s.strip() and "<" not in s))
def test_render_then_parse_xml_round_trips(action):
    assert parse_xml_action(render_action(action, "xml")) == action.strip()


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
