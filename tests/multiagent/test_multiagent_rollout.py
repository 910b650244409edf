"""Multi-agent rollout: seat → policy maps, self-play, per-seat episodes, rewards and errors."""

from __future__ import annotations

import numpy as np
import pytest

import agentgym
from agentgym.core.multiagent import (
    Record,
    collect_multiagent,
    results_table,
    wilson_interval,
)
from agentgym.core.policies import ExpertPolicy, RandomPolicy, ScriptedPolicy
from agentgym.core.policy import Generation
from agentgym.core.rollout import RolloutStats, collect
from agentgym.core.trajectory import StepBatch, load_episodes, save_episodes
from agentgym.credit import atgrpo, rae


def test_self_play_gives_one_episode_per_seat():
    stats = RolloutStats()
    episodes = collect_multiagent("agentgym/TicTacToe-v0", RandomPolicy(seed=0), range(3),
                                  group_size=2, run_id="r", stats=stats)
    assert len(episodes) == 3 * 2 * 2
    assert [e.info["seat"] for e in episodes[:2]] == ["player_1", "player_2"]
    assert [e.role for e in episodes[:2]] == ["x", "o"]
    first, second = episodes[0], episodes[1]
    assert first.group_id == "agentgym/TicTacToe-v0:0@r/player_1"
    assert first.episode_id == "agentgym/TicTacToe-v0:0@r#0/player_1"
    assert episodes[2].episode_id == "agentgym/TicTacToe-v0:0@r#1/player_1"
    assert first.info["game_id"] == second.info["game_id"]
    assert first.info["self_play"] and first.info["policy"] == "RandomPolicy"
    for a, b in zip(episodes[::2], episodes[1::2], strict=True):
        # X moves first: the seats alternate, X has as many turns as O or one more.
        assert len(a.turns) - len(b.turns) in (0, 1)
        assert a.outcome == -b.outcome  # zero-sum
        assert {a.info["result"], b.info["result"]} in ({"win", "loss"}, {"draw"})
        assert a.turns[-1].terminated and b.turns[-1].terminated
        assert all(t.state_key.endswith("|X") for t in a.turns if t.action_valid)
        assert sum(t.reward for t in a.turns) == a.outcome
    assert stats.episodes == 12 and stats.steps == sum(len(e.turns) for e in episodes)


def test_the_loser_gets_its_reward_on_its_last_turn():
    # X: 1, 2, 3 wins; O: 4, 5. O's −1 arrives after X's last move and lands on O's last turn.
    x, o = collect_multiagent("tictactoe", {"x": ScriptedPolicy(["1", "2", "3"]),
                                            "o": ScriptedPolicy(["4", "5"])}, [0])
    assert [t.reward for t in x.turns] == [0.0, 0.0, 1.0]
    assert [t.reward for t in o.turns] == [0.0, -1.0]
    assert o.turns[-1].reward_parts == {"outcome": -1.0}
    assert (x.outcome, o.outcome, x.success, o.success) == (1.0, -1.0, True, False)
    assert o.turns[-1].terminated and x.turns[-1].terminated


def test_seat_maps_by_role_and_by_agent():
    by_role = collect_multiagent("tictactoe", {"x": ExpertPolicy(), "o": RandomPolicy(seed=1)},
                                 range(6), run_id="same")
    by_agent = collect_multiagent(
        "tictactoe", {"player_1": ExpertPolicy(), "player_2": RandomPolicy(seed=1)}, range(6),
        run_id="same")
    for a, b in zip(by_role, by_agent, strict=True):
        assert [t.action for t in a.turns] == [t.action for t in b.turns]
    x = [e for e in by_role if e.role == "x"]
    assert all(e.info["policy"] == "ExpertPolicy" and e.info["opponents"] == {
        "player_2": "RandomPolicy"} and not e.info["self_play"] for e in x)
    table = results_table(by_role, by="role")
    assert table["x"].losses == 0 and table["o"].wins == 0
    with pytest.raises(ValueError, match="no policy for seat 'player_2'"):
        collect_multiagent("tictactoe", {"x": ExpertPolicy()}, [0])
    with pytest.raises(ValueError, match="unknown seats"):
        collect_multiagent("tictactoe", {"white": ExpertPolicy()}, [0])


def test_groups_over_the_same_seed_share_a_task():
    episodes = collect_multiagent("leducholdem", RandomPolicy(seed=3), [5, 9], group_size=3,
                                  run_id="g")
    for seed in (5, 9):
        group = [e for e in episodes if e.seed == seed]
        assert len(group) == 6 and len({e.task_id for e in group}) == 1
        assert len({e.info["game_group"] for e in group}) == 1
        assert len({e.group_id for e in group}) == 2  # one per seat
    batch = StepBatch.from_episodes([e for e in episodes if e.turns])
    assert len(set(batch.roles().tolist())) == 2
    assert rae(batch).shape == (len(batch),) and atgrpo(batch).shape == (len(batch),)


def test_parallel_env_plays_rounds():
    rock = ScriptedPolicy(lambda request: "rock")
    paper = ScriptedPolicy(lambda request: "paper")
    episodes = collect_multiagent("rockpaperscissors", {"player_0": rock, "player_1": paper},
                                  [0])
    zero, one = episodes
    assert [t.action for t in zero.turns] == ["rock"] * 5
    assert [t.reward for t in zero.turns] == [-1.0] * 5
    assert [t.reward for t in one.turns] == [1.0] * 5
    assert one.turns[0].reward_parts == {"outcome": 1.0}
    assert zero.info["result"] == "loss" and one.success and not zero.success
    assert zero.turns[-1].terminated


def test_invalid_moves_penalty_and_xml_format():
    prompts = []

    def writer(request):
        prompts.append(request.messages[-1]["content"])
        if request.turn == 0:
            return "I think the centre"  # no tag
        if request.turn == 1:
            return "<action>cell 99</action>"  # parsed, invalid for the game
        return f"<action>{request.env.admissible_actions()[0]}</action>"

    episodes = collect_multiagent("tictactoe", {"x": ScriptedPolicy(writer, render=False),
                                                "o": RandomPolicy(seed=0)}, [0],
                                  action_format="xml", invalid_penalty=0.5)
    x = episodes[0]
    assert x.turns[0].action == "" and x.turns[0].info["format_error"]
    assert not x.turns[0].action_valid and x.turns[0].reward_parts["invalid"] == -0.5
    assert x.turns[0].response_text == "I think the centre"
    assert not x.turns[1].action_valid and x.turns[1].action == "cell 99"
    assert x.turns[2].action_valid
    # the seat sees why: the parse error heads its next message, then the game's refusal
    assert prompts[1].startswith("Invalid action: no <action>...</action> found")
    assert "Invalid action '': the action is empty" in prompts[1]
    assert "Invalid action 'cell 99'" in prompts[2]


def test_chat_history_is_per_seat():
    seen: dict[str, list] = {"x": [], "o": []}

    def recorder(role):
        def policy(request):
            seen[role].append(request.messages)
            return request.env.admissible_actions()[0]
        return ScriptedPolicy(policy)

    collect_multiagent("tictactoe", {"x": recorder("x"), "o": recorder("o")}, [0],
                       system_prompt={"x": "You are X.", "o": "You are O."}, history_window=2)
    last_x = seen["x"][-1]
    assert last_x[0] == {"role": "system", "content": "You are X."}
    assert last_x[1]["role"] == "user" and last_x[1]["content"].startswith("Task: You play")
    assert [m["role"] for m in last_x[2:]] == ["assistant", "user"] * 2  # window of 2
    assert all("You are O" not in m["content"] for m in last_x)
    first_o = seen["o"][0]
    assert first_o[0]["content"] == "You are O." and "X played cell 1" in first_o[1]["content"]
    seen = {"x": [], "o": []}
    collect_multiagent("tictactoe", {"x": recorder("x"), "o": recorder("o")}, [0])
    full = seen["x"][-1]  # no window: the task and the first board, then every exchange
    assert full[0]["content"].startswith("Task: You play") and "Board:" in full[0]["content"]
    assert len(full) == 1 + 2 * (len(seen["x"]) - 1)
    assert [m["content"] for m in full[1::2]] == ["1", "3", "5"]  # X: 1, 3, 5; O: 2, 4


def test_errors_end_the_game_and_the_run_goes_on():
    def flaky(requests):
        return [Generation(text="", info={"error": "endpoint down"}) if r.turn == 1 and
                ":0@" in r.episode_id else Generation(text=r.env.admissible_actions()[0])
                for r in requests]

    episodes = collect_multiagent("tictactoe", flaky, range(2))
    broken = [e for e in episodes if e.seed == 0]
    assert all(e.info["error"]["message"] == "endpoint down" for e in broken)
    assert all(e.info["result"] == "error" and not e.success for e in broken)
    assert broken[0].turns[-1].truncated
    assert all("error" not in e.info for e in episodes if e.seed == 1)


def test_an_env_crash_is_recorded(monkeypatch):
    from agentgym.envs.multiagent.boards import TicTacToeEnv

    real_play = TicTacToeEnv._play

    def crash(self, agent, action):
        if self.turn == 3 and self._seed == 1:
            raise RuntimeError("engine failure")
        return real_play(self, agent, action)

    monkeypatch.setattr(TicTacToeEnv, "_play", crash)
    episodes = collect_multiagent("tictactoe", RandomPolicy(seed=0), range(3), num_envs=1)
    crashed = [e for e in episodes if e.seed == 1]
    assert all(e.info["error"]["type"] == "RuntimeError" for e in crashed)
    assert all("error" not in e.info for e in episodes if e.seed != 1)
    assert len(episodes) == 6


def test_collect_dispatches_multiagent_ids_and_roles_round_trip(tmp_path):
    episodes = collect("agentgym/Negotiation-v0", ExpertPolicy(), [3], run_id="n")
    assert [e.role for e in episodes] == ["first", "second"]
    path = save_episodes(episodes, tmp_path / "episodes.jsonl")
    loaded = load_episodes(path)
    assert [e.role for e in loaded] == ["first", "second"]
    assert loaded[0].info["opponents"] == {"player_1": "ExpertPolicy"}
    with pytest.raises(ValueError, match="format_observation"):
        collect("agentgym/Negotiation-v0", ExpertPolicy(), [3], format_observation=str)


def test_environments_are_closed(monkeypatch):
    from agentgym.envs.multiagent.negotiation import NegotiationEnv

    closed = []
    monkeypatch.setattr(NegotiationEnv, "close", lambda self: closed.append(self))
    stats = RolloutStats()
    collect_multiagent("negotiation", ExpertPolicy(), range(5), num_envs=2, stats=stats)
    assert len(closed) == stats.envs_made == 2


def test_wilson_interval_and_records():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    record = Record(wins=8, draws=1, losses=1)
    assert record.games == 10 and record.rate("win")[0] == 0.8


def test_make_returns_the_pettingzoo_env():
    from pettingzoo import AECEnv, ParallelEnv

    assert isinstance(agentgym.make("tictactoe"), AECEnv)
    assert isinstance(agentgym.make("rockpaperscissors"), ParallelEnv)
    assert agentgym.make("connectfour", max_episode_steps=7).max_turns == 7
    assert agentgym.spec("collab").family == "multiagent"
    episodes = collect_multiagent("tictactoe", RandomPolicy(seed=2), [0], max_turns=3)
    assert all(e.turns[-1].truncated and not e.turns[-1].terminated for e in episodes)
    assert np.isclose(sum(e.outcome for e in episodes), 0.0)
