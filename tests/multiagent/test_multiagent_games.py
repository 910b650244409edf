"""The multi-agent games: rules in text, invalid moves, and the experts.

The tic-tac-toe expert is checked against *every* opponent: the game tree is walked over all of
the opponent's moves, with the expert in each seat, through the environment itself.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import agentgym
from agentgym.core.multiagent import collect_multiagent, results_table
from agentgym.core.policies import ExpertPolicy, RandomPolicy, ScriptedPolicy
from agentgym.envs.multiagent.negotiation import generate_task, nash_split, share_value
from agentgym.envs.multiagent.solvers import (
    connect_four_move,
    connect_four_winner,
    tictactoe_best_moves,
    tictactoe_move,
    tictactoe_winner,
)

GAME_IDS = [i for i in sorted(agentgym.registry) if agentgym.spec(i).family == "multiagent"]


def play(env, actions: list[str]) -> None:
    for action in actions:
        env.step(action)


# -- tic-tac-toe ----------------------------------------------------------------------------------
def test_tictactoe_text_moves_and_refusals():
    env = agentgym.make("agentgym/TicTacToe-v0")
    env.reset(seed=0)
    assert env.agent_selection == "player_1" and env.role_of("player_1") == "x"
    for text in ("five", "10", "0", "5 6", "", "cell", "c5"):
        env.step(text)
        assert env.infos["player_1"]["action_valid"] is False
        assert env.agent_selection == "player_1"
        assert env.board() == "." * 9
    # only the latest refusal is shown: repeating invalid moves does not grow the prompt
    assert env.observe("player_1").count("Invalid action") == 1
    assert "Invalid action 'c5'" in env.observe("player_1")
    env.step(" [Cell 5]. ")
    assert env.board() == "....X...."
    assert env.infos["player_1"]["action_valid"] is True
    assert "X played cell 5." in env.observe("player_2")
    env.step("5")  # taken
    assert env.infos["player_2"]["action_valid"] is False
    assert "cell 5 is taken" in env.observe("player_2")
    before = env.observe("player_2")
    for _ in range(10):
        env.step("5")
    # the opponent's move stays in view with the refusal; the observation does not grow
    assert env.observe("player_2") == before and "X played cell 5." in before
    play(env, ["1", "2", "4", "8"])  # X: 5, 2, 8 — the middle column
    assert env.terminations == {"player_1": True, "player_2": True}
    assert env.rewards == {"player_1": 1.0, "player_2": -1.0}
    assert env.infos["player_1"]["success"] and not env.infos["player_2"]["success"]
    assert env.infos["player_1"]["reward_parts"] == {"outcome": 1.0}


@pytest.mark.parametrize("env_id", ["agentgym/TicTacToe-v0", "agentgym/ConnectFour-v0"])
def test_more_invalid_moves_than_allowed_forfeit_the_game(env_id):
    env = agentgym.make(env_id, invalid_moves_allowed=2)
    env.reset(seed=0)
    first, second = env.possible_agents
    env.step("1")  # valid
    for _ in range(2):  # the allowance: refused, the same seat moves again
        env.step("nonsense")
        assert env.agent_selection == second and not any(env.terminations.values())
    env.step("1" if "Tic" in env_id else "9")  # taken / out of range: the third invalid move
    assert env.terminations == {first: True, second: True}
    assert env.rewards == {first: 1.0, second: -1.0}
    assert env.infos[first]["success"] and not env.infos[second]["success"]
    assert env.infos[second]["reward_parts"] == {"outcome": -1.0}
    assert "forfeits the game" in env.observe(first)
    # a new game starts with a clean count; without an allowance refusals never end a game
    env.reset(seed=0)
    play(env, ["1", "x", "x"])
    assert not any(env.terminations.values())
    unlimited = agentgym.make(env_id)
    unlimited.reset(seed=0)
    play(unlimited, ["nonsense"] * 10)
    assert not any(unlimited.terminations.values())
    with pytest.raises(ValueError, match="invalid_moves_allowed"):
        agentgym.make(env_id, invalid_moves_allowed=-1)
    # PettingZoo's own checks on games that end by forfeit (random text: mostly invalid moves)
    from pettingzoo.test import api_test, seed_test

    api_test(agentgym.make(env_id, invalid_moves_allowed=0), num_cycles=50)
    seed_test(lambda: agentgym.make(env_id, invalid_moves_allowed=1), num_cycles=20)


def _expert_never_loses(expert_seat: str, seed: int = 0,
                        **kwargs) -> tuple[int, Counter]:
    """Walk every line of play against the expert; return (games, results)."""
    results: Counter = Counter()
    games = 0
    stack: list[list[str]] = [[]]
    env = agentgym.make("agentgym/TicTacToe-v0", **kwargs)
    while stack:
        prefix = stack.pop()
        env.reset(seed=seed)
        play(env, prefix)
        # let the expert answer until the opponent must move or the game is over
        while env.agents and not env.terminations[env.agent_selection] \
                and env.agent_selection == expert_seat:
            move = env.expert_action()
            env.step(move)
            prefix = [*prefix, move]
        if env.terminations[env.agent_selection]:
            games += 1
            results[env.rewards[expert_seat]] += 1
            continue
        for move in env.admissible_actions():
            stack.append([*prefix, move])
    return games, results


def _count_lines(board: str, to_move: str, expert: str) -> int:
    """Games in the tree of every opponent reply to the expert (string solver, no env)."""
    if tictactoe_winner(board) is not None:
        return 1
    other = "O" if to_move == "X" else "X"
    if to_move == expert:
        i = tictactoe_move(board, to_move)
        return _count_lines(board[:i] + to_move + board[i + 1:], other, expert)
    return sum(_count_lines(board[:i] + to_move + board[i + 1:], other, expert)
               for i, cell in enumerate(board) if cell == ".")


@pytest.mark.parametrize(("seat", "mark"), [("player_1", "X"), ("player_2", "O")])
def test_tictactoe_minimax_expert_never_loses(seat, mark):
    games, results = _expert_never_loses(seat)
    assert results[-1.0] == 0
    assert games == _count_lines("." * 9, "X", mark)  # every opponent line was played
    if seat == "player_1":  # as X the expert also wins against most lines
        assert results[1.0] > results[0.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tictactoe_expert_with_seeded_ties_never_loses_and_varies(seed):
    for seat in ("player_1", "player_2"):
        games, results = _expert_never_loses(seat, seed=seed, expert_ties="seeded")
        assert results[-1.0] == 0 and games > 0
    env = agentgym.make("agentgym/TicTacToe-v0", expert_ties="seeded")

    def self_play(game_seed: int) -> str:
        env.reset(seed=game_seed)
        while not any(env.terminations.values()):
            move = env.expert_action()
            assert move in tictactoe_best_moves_text(env)
            env.step(move)
        assert env.rewards == {"player_1": 0.0, "player_2": 0.0}  # optimal play draws
        return env.board()

    assert self_play(seed) == self_play(seed)  # the same seed replays the same game
    assert len({self_play(seed * 100 + k) for k in range(20)}) > 5  # seeds give other games
    with pytest.raises(ValueError, match="expert_ties"):
        agentgym.make("agentgym/TicTacToe-v0", expert_ties="random")


def tictactoe_best_moves_text(env) -> set[str]:
    mark = "X" if env.agent_selection == "player_1" else "O"
    return {str(i + 1) for i in tictactoe_best_moves(env.board(), mark)}


def test_tictactoe_solver_values():
    assert tictactoe_winner("XXX......") == "X"
    assert tictactoe_winner("XOXXOOOXX") == "draw"
    assert tictactoe_move("XX.OO....", "X") == 2  # win now
    assert tictactoe_move("XX.OO....", "O") == 5  # win now beats blocking
    assert tictactoe_move("OO..X....", "X") == 2  # block


# -- connect four ---------------------------------------------------------------------------------
def test_connect_four_solver_wins_and_blocks():
    empty = "." * 42
    three = empty[:35] + "XXX...."  # bottom row: X in columns 1-3
    assert connect_four_move(three, "X") == 3  # completes four
    assert connect_four_move(three, "O") == 3  # blocks it
    assert connect_four_winner(three[:35] + "XXXX...") == "X"


def test_connect_four_moves_in_text():
    env = agentgym.make("connectfour")
    env.reset(seed=0)
    for text in ("0", "8", "col", "drop 4 5"):
        env.step(text)
        assert env.infos["player_0"]["action_valid"] is False
    for text in ("4", "[col 4]", "column 4", "Col 4"):
        mover = env.agent_selection
        env.step(text)
        assert env.infos[mover]["action_valid"]
    assert [env.board()[r * 7 + 3] for r in range(6)] == [".", ".", "O", "X", "O", "X"]
    play(env, ["4", "4"])  # the column is full now
    mover = env.agent_selection
    env.step("4")
    assert env.infos[mover]["action_valid"] is False
    assert "column 4 is full" in env.observe(mover)


@pytest.mark.parametrize("seat", ["first", "second"])
def test_connect_four_expert_never_loses_to_random(seat):
    other = "second" if seat == "first" else "first"
    episodes = collect_multiagent("connectfour",
                                  {seat: ExpertPolicy(), other: RandomPolicy(seed=7)}, range(15))
    record = results_table(episodes, by="role")[seat]
    assert record.losses == 0 and record.wins >= 14


# -- Leduc hold'em ----------------------------------------------------------------------------
def test_leduc_words_and_roles():
    env = agentgym.make("leducholdem")
    env.reset(seed=3)
    first = env.agent_selection
    assert env.role_of(first) == "small_blind"
    info = env.infos[first]
    assert info["role"] == "small_blind" and info["task_id"].startswith("leduc/")
    env.step("check")  # the small blind must call, raise or fold
    assert env.infos[first]["action_valid"] is False
    assert "you cannot check now" in env.observe(first)
    env.step("Bet")  # alias of raise
    assert env.infos[first]["action_valid"] is True
    other = env.agent_selection
    assert other != first and "chose to raise" in env.observe(other)
    env.step("fold")
    assert all(env.terminations.values())
    assert env.rewards[first] == -env.rewards[other] > 0


def test_leduc_same_seed_same_deal():
    a, b = agentgym.make("leducholdem"), agentgym.make("leducholdem")
    for seed in range(5):
        a.reset(seed=seed)
        b.reset(seed=seed)
        assert a.infos["player_0"]["task_id"] == b.infos["player_0"]["task_id"]
        assert a.observe("player_0") == b.observe("player_0")


def test_leduc_cfr_expert_beats_random():
    episodes = collect_multiagent(
        "leducholdem", {"player_0": ExpertPolicy(), "player_1": RandomPolicy(seed=5)}, range(400))
    chips = np.array([e.outcome for e in episodes if e.info["seat"] == "player_0"])
    mean, se = chips.mean(), chips.std(ddof=1) / np.sqrt(len(chips))
    assert mean - 3 * se > 0, (mean, se)


# -- rock-paper-scissors ----------------------------------------------------------------------
def test_rps_invalid_round_is_not_played():
    env = agentgym.make("rockpaperscissors")
    obs, infos = env.reset(seed=0)
    keys = {a: infos[a]["state_key"] for a in env.agents}
    obs, rewards, _, _, infos = env.step({"player_0": "lizard", "player_1": "rock"})
    assert infos["player_0"]["action_valid"] is False and infos["player_1"]["action_valid"]
    assert {a: infos[a]["state_key"] for a in env.agents} == keys
    assert "other player's move was invalid" in obs["player_1"]
    assert rewards == {"player_0": 0.0, "player_1": 0.0}
    obs, rewards, *_ = env.step({"player_0": "P", "player_1": "rock"})
    assert rewards == {"player_0": 1.0, "player_1": -1.0}


def test_rps_expert_exploits_a_constant_opponent():
    rock = ScriptedPolicy(lambda request: "rock")
    episodes = collect_multiagent("rockpaperscissors", {"player_0": ExpertPolicy(),
                                                        "player_1": rock}, range(10))
    for episode in episodes:
        if episode.info["seat"] == "player_0":
            assert [t.action for t in episode.turns][1:] == ["paper"] * 4
            assert episode.outcome >= 3.0 and episode.info["result"] == "win"


# -- negotiation ------------------------------------------------------------------------------
def test_negotiation_tasks_and_parsing():
    for seed in range(30):
        counts, v0, v1 = generate_task(seed)
        assert 5 <= sum(counts) <= 7 and v0 != v1
        assert share_value(counts, v0) == share_value(counts, v1) == 10
    env = agentgym.make("negotiation")
    env.reset(seed=0)
    for bad in ("hello", "say", "propose 9 9 9", "propose one two", "accept"):
        env.step(bad)
        assert env.infos["player_0"]["action_valid"] is False
    env.step("propose books=1 hats=0 balls=1")
    assert env.standing_offer == ("player_0", (1, 0, 1))
    assert "partner_values" in env.infos["player_1"]
    assert str(env.infos["player_1"]["partner_values"]) not in env.observe("player_1")


def _silent(request):
    """Never talks: keeps what it values, accepts anything worth at least half."""
    env, agent = request.env.env, request.env.agent
    mine = env.values[agent]
    offer = env.standing_offer
    if offer and offer[0] != agent:
        rest = tuple(c - s for c, s in zip(env.counts, offer[1], strict=True))
        if share_value(rest, mine) >= 5:
            return "accept"
    return "propose " + " ".join(str(c if v > 0 else 0)
                                 for c, v in zip(env.counts, mine, strict=True))


def test_negotiation_expert_reaches_the_nash_bargaining_split():
    episodes = collect_multiagent("negotiation", ExpertPolicy(), range(40))
    for seed in range(40):
        counts, v0, v1 = generate_task(seed)
        share = nash_split(counts, v0, v1)
        rest = tuple(c - s for c, s in zip(counts, share, strict=True))
        got = {e.info["seat"]: e.outcome for e in episodes if e.seed == seed}
        assert got == {"player_0": share_value(share, v0) / 10,
                       "player_1": share_value(rest, v1) / 10}
        assert all(e.success for e in episodes if e.seed == seed)


def test_talking_matters_in_negotiation():
    n = 60
    talk = collect_multiagent("negotiation", ExpertPolicy(), range(n))
    silent = collect_multiagent("negotiation", ScriptedPolicy(_silent), range(n))

    def joint(episodes):
        out = np.zeros(n)
        for e in episodes:
            out[e.seed] += e.outcome
        return out

    talk_value, silent_value = joint(talk), joint(silent)
    assert np.all(talk_value >= silent_value - 1e-12)
    assert (talk_value > silent_value).mean() > 0.4
    assert talk_value.mean() > silent_value.mean() + 0.5


# -- all games ------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["agentgym/TicTacToe-v0", "agentgym/ConnectFour-v0"])
def test_state_key_has_no_history(env_id):
    """The same position reached by two move orders has one state_key."""
    a, b = agentgym.make(env_id), agentgym.make(env_id)
    a.reset(seed=0)
    b.reset(seed=0)
    play(a, ["1", "2", "3"])
    play(b, ["3", "2", "1"])
    assert a.infos[a.agent_selection]["state_key"] == b.infos[b.agent_selection]["state_key"]
    assert a.observe(a.agent_selection) != b.observe(b.agent_selection)  # the notes differ


@pytest.mark.parametrize("env_id", ["agentgym/TicTacToe-v0", "agentgym/ConnectFour-v0",
                                    "agentgym/LeducHoldem-v0", "agentgym/Negotiation-v0"])
def test_admissible_actions_are_valid(env_id):
    env = agentgym.make(env_id)
    rng = np.random.default_rng(0)
    for seed in range(5):
        env.reset(seed=seed)
        for agent in env.agent_iter():
            if env.terminations[agent] or env.truncations[agent]:
                env.step(None)
                continue
            legal = env.admissible_actions()
            assert legal and env.admissible_actions(agent) == legal
            assert all(env.admissible_actions(a) == [] for a in env.agents if a != agent)
            env.step(legal[int(rng.integers(len(legal)))])
            assert env.infos[agent]["action_valid"], (env_id, legal)
