"""BFCL multi-turn environments: graded by BFCL's own checker, expert, perturbations, bad input."""

from __future__ import annotations

import ast
import json
import random
import threading
import uuid

import pytest
from malformed import malformed_calls

import agentgym
from agentgym.core.tool_calls import ToolCall, render_tool_calls
from agentgym.envs.tool.bfcl import data, runtime
from agentgym.envs.tool.bfcl.env import RESPOND, BFCLEnv
from agentgym.envs.tool.bfcl.reward import argument_score, name_score

# Ground truth that breaks BFCL's own schemas (see docs/tool.md): entry 173 closes the ticket
# "ticket_001" where close_ticket declares an integer id; miss_func_49 calls tail() two turns
# before tail is offered. Only validation="bfcl" (what BFCL's executor accepts) can replay them.
SCHEMA_QUIRKS = {
    "multi_turn_base_173", "multi_turn_miss_func_173", "multi_turn_miss_param_173",
    "multi_turn_long_context_173", "multi_turn_miss_func_49",
}


def respond(message: str = "ok") -> str:
    return render_tool_calls([ToolCall(RESPOND, {"message": message})])


def play(env: BFCLEnv, entry_id: str, turns: list[list[ToolCall]]):
    """Play one reply of calls per turn (if any), then respond; return the last step."""
    env.reset(options={"task_id": entry_id})
    last = None
    for calls in turns:
        if calls:
            last = env.step(render_tool_calls(calls))
            assert last[4]["action_valid"], last[0]
        last = env.step(respond())
        assert last[4]["action_valid"], last[0]
    return last


def expert_episode(env: BFCLEnv, entry_id: str) -> dict:
    env.reset(options={"task_id": entry_id})
    for _ in range(60):
        _, _, terminated, truncated, info = env.step(env.expert_action())
        if terminated or truncated:
            return info
    return {"success": False, "unfinished": True}


# --- data, split, tools -----------------------------------------------------------------------
def test_split_is_fixed_by_entry_number_and_shared_across_categories():
    for category in data.CATEGORIES:
        test = data.load_entries(category, "test")
        train = data.load_entries(category, "train")
        assert (len(train), len(test)) == (150, 50)
        assert all(e.number % 4 == 0 for e in test)
        assert {e.number for e in test} == set(range(0, 200, 4))
    assert len(data.load_entries("all", "all")) == 800


def test_tools_are_bfcl_docs_in_openai_format():
    entry = data.load_entries("base")[0]  # file system + twitter
    tools = {t["function"]["name"]: t["function"] for t in data.entry_tools(entry, 0)}
    assert tools["cd"]["parameters"] == {
        "type": "object",
        "properties": {"folder": {
            "type": "string",
            "description": "The folder of the directory to change to. You can only change one "
                           "folder level at a time. ",
        }},
        "required": ["folder"],
    }
    math_entry = next(e for e in data.load_entries("base") if "MathAPI" in
                      e.raw["involved_classes"])
    mean = next(t["function"] for t in data.entry_tools(math_entry, 0)
                if t["function"]["name"] == "mean")
    assert mean["parameters"]["properties"]["numbers"]["items"] == {"type": "number"}
    env = BFCLEnv(split="test")
    _, info = env.reset(seed=0)
    assert info["tools"] == env.tools and info["tools"][-1]["function"]["name"] == RESPOND


def test_ground_truth_strings_become_named_calls():
    entry = data.load_entries("base")[0]
    assert data.ground_truth_call(entry, "sort('final_report.pdf')") == ToolCall(
        "sort", {"file_name": "final_report.pdf"}
    )
    call = ToolCall("mv", {"source": "a'b\"c.txt", "destination": "d"})
    assert data.to_bfcl_call(call) == "mv(source='a\\'b\"c.txt',destination='d')"
    assert ast.literal_eval(ast.parse(data.to_bfcl_call(call), mode="eval").body.keywords[0]
                            .value) == "a'b\"c.txt"


# --- the expert under BFCL's checker ----------------------------------------------------------
@pytest.mark.parametrize("category", data.CATEGORIES)
def test_expert_scores_100_percent_on_every_test_entry(category):
    env = BFCLEnv(category=category, split="test")
    for entry in env.entries:
        info = expert_episode(env, entry.id)
        assert info["success"], (entry.id, info.get("bfcl_verdict"))
        assert info["bfcl_verdict"] == {"valid": True}
        assert info["reward_parts"]["outcome"] == 1.0


def test_expert_on_all_800_entries_in_both_validation_modes():
    lenient = BFCLEnv(category="all", split="all", validation="bfcl")
    strict = BFCLEnv(category="all", split="all", validation="schema")
    failed_lenient = [e.id for e in lenient.entries if not expert_episode(lenient, e.id)["success"]]
    failed_strict = [e.id for e in strict.entries if not expert_episode(strict, e.id)["success"]]
    assert failed_lenient == []
    assert set(failed_strict) == SCHEMA_QUIRKS
    assert not SCHEMA_QUIRKS & {e.id for e in data.load_entries("all", "test")}


# --- outcome == BFCL's checker on perturbed expert trajectories -------------------------------
def _perturb_value(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return [*value, value[0]] if value else ["x"]
    return {**value, "extra": 1}


def perturbations(entry, rng):
    """(kind, per-turn BFCL strings) for: drop a call, change an argument, add a call."""
    truth = [list(t) for t in entry.ground_truth]
    spots = [(t, i) for t, turn in enumerate(truth) for i in range(len(turn))]
    out = []
    t, i = rng.choice(spots)
    dropped = [list(turn) for turn in truth]
    del dropped[t][i]
    out.append(("drop", dropped))
    with_args = [(t, i) for t, i in spots if data.ground_truth_call(entry, truth[t][i]).arguments]
    if with_args:
        t, i = rng.choice(with_args)
        call = data.ground_truth_call(entry, truth[t][i])
        key = rng.choice(sorted(call.arguments))
        changed = ToolCall(call.name, {**call.arguments, key: _perturb_value(call.arguments[key])})
        wrong = [list(turn) for turn in truth]
        wrong[t][i] = data.to_bfcl_call(changed)
        out.append(("wrong_argument", wrong))
    t, i = rng.choice(spots)
    extra = [list(turn) for turn in truth]
    extra[t].insert(i + 1, truth[t][i])
    out.append(("extra_call", extra))
    return out


def direct_bfcl_verdict(entry, turns):
    """BFCL's multi_turn_checker called directly on one step per turn (no env code)."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    name = f"test_{uuid.uuid4().hex}"
    decoded = [[list(turn)] if turn else [] for turn in turns]
    try:
        return multi_turn_checker(decoded, [list(t) for t in entry.ground_truth],
                                  json.loads(json.dumps(entry.raw)), entry.category, name)["valid"]
    finally:
        runtime.release(name)


@pytest.mark.parametrize("category", data.CATEGORIES)
def test_outcome_equals_bfcl_checker_on_perturbed_expert_trajectories(category):
    rng = random.Random(f"perturb-{category}")
    env = BFCLEnv(category=category, split="test")
    verdicts = {"drop": [], "wrong_argument": [], "extra_call": []}
    for entry in env.entries:
        for kind, turns in perturbations(entry, rng):
            calls = [[data.ground_truth_call(entry, s) for s in turn] for turn in turns]
            _, _, terminated, _, info = play(env, entry.id, calls)
            assert terminated
            expected = direct_bfcl_verdict(entry, turns)
            assert info["reward_parts"]["outcome"] == float(expected), (entry.id, kind, turns)
            assert info["success"] == expected
            verdicts[kind].append(expected)
    # The perturbations are not vacuous: dropped calls fail; most wrong arguments fail (a few
    # change nothing BFCL checks, e.g. a display flag); extra calls pass or fail depending on
    # what they do.
    assert not any(verdicts["drop"])
    assert len(verdicts["wrong_argument"]) == len(env.entries)
    assert verdicts["wrong_argument"].count(False) >= 0.8 * len(env.entries)
    if category == "base":
        assert any(verdicts["extra_call"]) and not all(verdicts["extra_call"])


# --- reward parts -----------------------------------------------------------------------------
def test_reward_parts_of_one_turn_by_hand():
    env = BFCLEnv(category="base", split="all")
    entry = next(e for e in env.entries if e.id == "multi_turn_base_0")
    env.reset(options={"task_id": entry.id})
    # Turn 0's truth: cd(folder='document'), mkdir(dir_name='temp'), mv(final_report.pdf -> temp).
    # Play cd + mkdir right, mv to a wrong destination, and one extra pwd().
    calls = [ToolCall("cd", {"folder": "document"}), ToolCall("mkdir", {"dir_name": "temp"}),
             ToolCall("mv", {"source": "final_report.pdf", "destination": "archive"}),
             ToolCall("pwd", {})]
    _, reward, _, _, info = env.step(render_tool_calls(calls))
    assert reward == 0.0 and set(info["reward_parts"].values()) == {0.0}
    env.step("not a call")  # an invalid reply in this turn: format part 0
    _, reward, terminated, _, info = env.step(respond())
    parts = info["reward_parts"]
    # names: pred {cd, mkdir, mv, pwd}, gold {cd, mkdir, mv}: 3 / 4.
    assert parts["tool_name"] == pytest.approx(3 / 4)
    # arguments: cd 1, mkdir 1, mv 1/2 (source right, destination wrong) over max(4, 3) calls.
    assert parts["arguments"] == pytest.approx((1 + 1 + 0.5) / 4)
    assert parts["format"] == 0.0 and parts["state"] == 0.0 and parts["outcome"] == 0.0
    assert info["turn_check"] == {"turn": 0, "state": False, "response": False}
    assert reward == pytest.approx(0.1 * 3 / 4 + 0.1 * 2.5 / 4)
    assert not terminated


def test_reward_module_by_hand():
    a, b = ToolCall("f", {"x": 1, "y": 2}), ToolCall("g", {})
    assert name_score([], []) == 1.0 and argument_score([], []) == 1.0
    assert name_score([a, a], [a]) == pytest.approx(1 / 2)
    assert argument_score([ToolCall("f", {"x": 1, "y": 3})], [a]) == pytest.approx(1 / 2)
    assert argument_score([ToolCall("f", {"x": True})], [ToolCall("f", {"x": 1})]) == 0.0
    assert argument_score([b, ToolCall("f", {"x": 1})], [a, b]) == pytest.approx((1 + 1 / 2) / 2)
    assert argument_score([], [a]) == 0.0 and name_score([b], [a]) == 0.0


# --- protocol ---------------------------------------------------------------------------------
def test_held_out_function_arrives_in_its_turn():
    entry = data.load_entries("miss_func", "all")[0]
    assert entry.id == "multi_turn_miss_func_0"
    assert entry.missed == {3: ("sort",)}
    env = BFCLEnv(category="miss_func", split="all")
    env.reset(options={"task_id": entry.id})
    sort = render_tool_calls([ToolCall("sort", {"file_name": "final_report.pdf"})])
    for _ in range(3):
        assert "sort" not in [t["function"]["name"] for t in env.tools]
        obs, _, _, _, info = env.step(sort)
        assert not info["action_valid"] and "unknown function 'sort'" in obs
        start = env.turn
        while env.turn == start:
            _, _, _, _, info = env.step(env.expert_action())
    assert env.turn == 3
    assert "tools" in info and "sort" in [t["function"]["name"] for t in info["tools"]]
    assert "I have updated some more functions" in env._last_obs


def test_lenient_validation_runs_what_bfcl_would():
    env = BFCLEnv(category="base", split="all", validation="bfcl")
    env.reset(options={"task_id": "multi_turn_base_173"})
    # close_ticket with a string id breaks the schema but BFCL executes it.
    obs, _, _, _, info = env.step(render_tool_calls([ToolCall("close_ticket",
                                                              {"ticket_id": "ticket_001"})]))
    assert info["action_valid"] and "<tool_response>" in obs
    strict = BFCLEnv(category="base", split="all")
    strict.reset(options={"task_id": "multi_turn_base_173"})
    obs, _, _, _, info = strict.step(render_tool_calls([ToolCall("close_ticket",
                                                                 {"ticket_id": "ticket_001"})]))
    assert not info["action_valid"] and "must be integer, got string" in obs
    for bad in ('{"name": "__import__", "arguments": {}}',
                '{"name": "cd", "arguments": {"folder=1) or (": "x"}}'):
        obs, _, _, _, info = env.step(bad)
        assert not info["action_valid"], obs


def test_respond_must_come_last_and_once():
    env = BFCLEnv(split="test")
    env.reset(seed=0)
    both = render_tool_calls([ToolCall(RESPOND, {"message": "a"}), ToolCall("pwd", {})])
    _, _, _, _, info = env.step(both)
    assert not info["action_valid"] and "last call" in info["error"]
    twice = render_tool_calls([ToolCall(RESPOND, {"message": "a"})] * 2)
    assert not env.step(twice)[4]["action_valid"]


def test_force_quit_after_twenty_steps_in_a_turn():
    env = BFCLEnv(split="test")
    env.reset(seed=0)
    pwd = render_tool_calls([ToolCall("pwd", {})])
    for _ in range(20):
        _, _, terminated, _, _ = env.step(pwd)
        assert not terminated
    _, _, terminated, _, info = env.step(pwd)
    assert terminated and info["force_quit"] and not info["success"]


def test_invalid_actions_change_nothing_and_episodes_are_isolated():
    a, b = BFCLEnv(split="test"), BFCLEnv(split="test")
    _, info_a = a.reset(seed=1)
    _, info_b = b.reset(seed=1)
    key = info_a["state_key"]
    assert key == info_b["state_key"]
    _, _, _, _, info = a.step('{"name": "cd", "arguments": {"folder": 5}}')
    assert info["state_key"] == key and not info["action_valid"]
    a.step(a.expert_action())  # changes a's simulators only
    _, _, _, _, info = b.step(render_tool_calls([ToolCall("pwd", {})]))
    assert info["state_key"] == key


def test_simulator_instances_are_released():
    utils = vars(__import__("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils",
                            fromlist=["x"]))

    def ours():
        return sum(1 for k in utils if k.startswith("agentgym_"))

    before = ours()
    env = BFCLEnv(split="test")
    for seed in range(3):
        env.reset(seed=seed)
        while True:
            _, _, terminated, _, _ = env.step(env.expert_action())
            if terminated:
                break
    env.close()
    assert ours() == before


def test_threads_play_the_same_entry_independently():
    barrier = threading.Barrier(4)
    results = []

    def worker():
        env = BFCLEnv(split="test")
        env.reset(seed=3)
        barrier.wait()
        while True:
            _, _, terminated, _, info = env.step(env.expert_action())
            if terminated:
                break
        results.append(info["success"])
        env.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_registered_ids_make_the_right_categories():
    for category in data.CATEGORIES:
        env = agentgym.make(f"agentgym/BFCL-{category}-v0")
        _, info = env.reset(seed=0)
        assert info["category"] == category and info["split"] == "train"
        env.close()
    env = agentgym.make("agentgym/BFCL-v0", split="test")
    assert len(env.unwrapped.entries) == 200


def test_malformed_calls_are_invalid_actions():
    env = BFCLEnv(split="test")
    _, info = env.reset(seed=2)
    key = info["state_key"]
    pwd = ToolCall("pwd", {})
    extra = [render_tool_calls([ToolCall(RESPOND, {"message": "a"}), pwd]),
             render_tool_calls([ToolCall(RESPOND, {"message": "a"})] * 2),
             render_tool_calls([ToolCall(RESPOND, {})]),
             '{"name": "__import__", "arguments": {"name": "os"}}']
    labels = set()
    for label, text in malformed_calls(env.tools, n=1000, seed=2, extra=extra):
        obs, _, terminated, truncated, step_info = env.step(text)
        assert not step_info["action_valid"], (label, text[:200])
        assert step_info["state_key"] == key and not terminated and not truncated
        assert obs.startswith("Invalid action:")
        labels.add(label)
    assert len(labels) >= 12
    assert env.turn == 0 and env._decoded == [[]]
