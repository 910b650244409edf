"""Trajectory model: StepBatch columns, validation, JSONL round trip, stable hashes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from agentgym.core.trajectory import (
    Episode,
    StepBatch,
    Turn,
    load_episodes,
    normalize_action,
    save_episodes,
    stable_hash,
)


def episode(eid: str, group: str, rewards: list[float], states: list[str], outcome=None) -> Episode:
    turns = [
        Turn(observation=s, action=f"a{i}", reward=r, state_key=s, reward_parts={"x": r},
             terminated=i == len(rewards) - 1)
        for i, (r, s) in enumerate(zip(rewards, states, strict=True))
    ]
    return Episode(env_id="e", task_id=group, group_id=group, episode_id=eid, seed=0, turns=turns,
                   success=bool(outcome), outcome=sum(rewards) if outcome is None else outcome)


def test_from_episodes_columns():
    eps = [
        episode("e0", "g0", [0.0, 1.0], ["s0", "s1"], outcome=1.0),
        episode("e1", "g1", [0.5], ["s0"], outcome=0.0),
        episode("e2", "g0", [0.0, 0.0, 0.0], ["s0", "s2", "s0"], outcome=0.0),
    ]
    batch = StepBatch.from_episodes(eps)
    assert len(batch) == 6
    np.testing.assert_array_equal(batch.group, [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(batch.episode, [0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(batch.t, [0, 1, 0, 0, 1, 2])
    np.testing.assert_array_equal(batch.done, [False, True, True, False, False, True])
    np.testing.assert_array_equal(batch.outcome, [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(batch.reward, [0, 1, 0.5, 0, 0, 0])
    assert batch.state[0] == batch.state[2] == batch.state[3] == batch.state[5]
    assert batch.state[1] != batch.state[0]
    np.testing.assert_array_equal(batch.reward_parts["x"], batch.reward)
    assert list(batch.state_key) == ["s0", "s1", "s0", "s0", "s2", "s0"]
    assert batch.per_episode(batch.t) == [[0, 1], [0], [0, 1, 2]]


def test_empty_episode_list():
    batch = StepBatch.from_episodes([])
    assert len(batch) == 0


def test_validation_names_the_column():
    with pytest.raises(ValueError, match="column group"):
        StepBatch(group=[0], episode=[0, 0], t=[0, 1], reward=[0, 0], done=[0, 1], state=[0, 0],
                  action=[0, 0], valid=[1, 1], outcome=[0, 0])
    with pytest.raises(ValueError, match="reward is not finite at row 1"):
        StepBatch(group=[0, 0], episode=[0, 0], t=[0, 1], reward=[0, np.nan], done=[0, 1],
                  state=[0, 0], action=[0, 0], valid=[1, 1], outcome=[0, 0])


def test_jsonl_round_trip(tmp_path):
    eps = [episode("e0", "g0", [0.0, 1.0], ["s0", "s1"], outcome=1.0)]
    eps[0].turns[0].response_ids = [1, 2, 3]
    eps[0].turns[0].response_logprobs = [-0.5, -0.25, -1.0]
    eps[0].turns[0].info = {"arr": np.arange(3), "scalar": np.float32(0.5)}
    path = save_episodes(eps, tmp_path / "sub" / "eps.jsonl")
    loaded = load_episodes(path)
    assert loaded[0].turns[0].response_logprobs == [-0.5, -0.25, -1.0]
    assert loaded[0].turns[0].info == {"arr": [0, 1, 2], "scalar": 0.5}
    assert loaded[0].outcome == 1.0 and loaded[0].turns[1].terminated


def test_stable_hash_is_process_independent():
    code = "from agentgym.core.trajectory import stable_hash; print(stable_hash('room=kitchen'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123"})
    assert int(out.stdout) == stable_hash("room=kitchen")
    assert stable_hash("a") != stable_hash("b")


def test_normalize_action():
    assert normalize_action("  Go   North\n") == "go north"
