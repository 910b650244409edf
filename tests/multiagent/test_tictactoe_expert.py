"""The tic-tac-toe minimax expert through the rollout: it never loses to the random player (in
either seat, several seeds of the random player) and two experts always draw (the game's value).
The exhaustive walk over every opponent line is in ``test_multiagent_games.py``; this checks the
same through ``collect_multiagent`` and the seat/role bookkeeping the trainer uses."""

from __future__ import annotations

import pytest

from agentgym.core.multiagent import collect_multiagent, results_table
from agentgym.core.policies import ExpertPolicy, RandomPolicy


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("expert", "other"), [("player_1", "player_2"),
                                               ("player_2", "player_1")])
def test_minimax_never_loses_to_random(expert, other, seed):
    episodes = collect_multiagent("agentgym/TicTacToe-v0",
                                  {expert: ExpertPolicy(), other: RandomPolicy(seed=seed)},
                                  range(seed * 100, seed * 100 + 12), group_size=2)
    record = results_table(episodes, by="seat")[expert]
    assert record.losses == 0 and record.wins + record.draws == 24
    assert record.wins > 0  # it does punish random play


@pytest.mark.parametrize("seed", [0, 7])
def test_minimax_against_itself_always_draws(seed):
    episodes = collect_multiagent("agentgym/TicTacToe-v0", ExpertPolicy(),
                                  range(seed, seed + 5), group_size=2)
    table = results_table(episodes, by="seat")
    assert set(table) == {"player_1", "player_2"}
    for record in table.values():
        assert record.draws == 10 and record.wins == record.losses == 0
