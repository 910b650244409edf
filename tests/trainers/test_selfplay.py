"""The opponent pool of multi-agent training (``trainers/selfplay.py``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from agentgym.cli.train import compose, to_train_config
from agentgym.core.policies import RandomPolicy
from agentgym.trainers.config import DEFAULT_OPPONENTS, ConfigError, EnvConfig, TrainConfig
from agentgym.trainers.recipe import train
from agentgym.trainers.selfplay import OpponentPool, play_against, seats


def test_default_pool_depends_on_the_environment(tmp_path, tiny_path):
    """No trainer.opponents: half self-play, half random in a game; the learner alone in a
    single-agent environment, where any other pool is one ConfigError."""
    assert TrainConfig().trainer.opponents is None
    assert compose([]).trainer.opponents is None  # the shipped config.yaml leaves it unset
    resolved = {}
    for name, env in (("tictactoe", "agentgym/TicTacToe-v0"), ("sokoban", "agentgym/Sokoban-v0")):
        cfg = to_train_config(compose([f"env={name}",
                                       f"model.path={tiny_path}", "budget.iterations=0",
                                       "budget.warmup_episodes=0", "budget.eval_episodes=1",
                                       f"trainer.run_dir={tmp_path / name}",
                                       "trainer.progress=false", "trainer.tensorboard=false",
                                       "hardware.num_threads=1"]))
        train(cfg)
        saved = json.loads((tmp_path / name / "config.json").read_text())
        resolved[env] = saved["trainer"]["opponents"]
    assert resolved == {"agentgym/TicTacToe-v0": list(DEFAULT_OPPONENTS),
                        "agentgym/Sokoban-v0": ["self"]}
    assert DEFAULT_OPPONENTS == ("self", "random")
    bad = to_train_config(compose(["env=sokoban", f"model.path={tiny_path}",
                                   "trainer.opponents=[self,random]",
                                   f"trainer.run_dir={tmp_path / 'bad'}"]))
    with pytest.raises(ConfigError, match="needs a multi-agent environment"):
        train(bad)


def test_pool_deals_tasks_round_robin():
    engines = []
    pool = OpponentPool(["self", "random", "snapshot"], snapshot_every=2,
                        make_engine=lambda model: engines.append(model) or SimpleNamespace(
                            model=model), seed=5)
    model = torch.nn.Linear(2, 1)
    pool.update_snapshot(model, 0)  # the first snapshot: the warm start
    split = pool.split(list(range(100, 107)))
    assert [(kind, seeds) for kind, _, seeds in split] == [
        ("self", [100, 103, 106]), ("random", [101, 104]), ("snapshot", [102, 105])]
    assert split[0][1] is None and isinstance(split[1][1], RandomPolicy)
    frozen = split[2][1].model
    assert frozen is not model and not any(p.requires_grad for p in frozen.parameters())
    with torch.no_grad():
        model.weight.add_(1.0)
    pool.update_snapshot(model, 1)  # not due yet: the same snapshot
    assert pool.snapshot_iteration == 0 and len(engines) == 1
    pool.update_snapshot(model, 2)
    assert pool.snapshot_iteration == 2 and len(engines) == 2
    assert torch.equal(pool.split([1, 2, 3])[2][1].model.weight, model.weight)
    # fewer tasks than kinds: the kinds without a task are left out
    assert [kind for kind, _, _ in pool.split([7])] == ["self"]
    with pytest.raises(ValueError, match=r"trainer\.opponents"):
        OpponentPool(["self", "friend"], 1, make_engine=lambda m: m)
    with pytest.raises(ValueError, match=r"trainer\.opponents"):
        OpponentPool([], 1, make_engine=lambda m: m)


def test_against_an_opponent_the_learner_takes_each_seat_in_turn():
    calls = []

    def run_episodes(env, policies, seeds, **kwargs):
        calls.append((dict(policies), list(seeds)))
        return [SimpleNamespace(info={"seat": seat}, seed=s) for s in seeds for seat in policies]

    env = EnvConfig(id="agentgym/TicTacToe-v0", kwargs={})
    names = seats(env)
    assert names == ["player_1", "player_2"]
    learner, opponent = object(), object()
    episodes = play_against(run_episodes, env, learner, opponent, [10, 11, 12], names)
    assert calls == [({"player_1": learner, "player_2": opponent}, [10, 12]),
                     ({"player_1": opponent, "player_2": learner}, [11])]
    # only the learner's own seat comes back
    assert [(e.seed, e.info["seat"]) for e in episodes] == [
        (10, "player_1"), (12, "player_1"), (11, "player_2")]
    calls.clear()
    both = play_against(run_episodes, env, learner, None, [10, 11], names)  # self-play
    assert calls == [({"player_1": learner, "player_2": learner}, [10, 11])]
    assert len(both) == 4
