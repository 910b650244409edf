"""Taxi text game: hand-computed transitions and rewards, bad input, the optimal expert."""

from __future__ import annotations

import random
from collections import deque

import pytest
from gymnasium.envs.toy_text.taxi import TaxiEnv as GymTaxi

import agentgym
from agentgym.core.garbage import GARBAGE_ACTIONS
from agentgym.envs.text.taxi import TAXI_WORDS, TaxiEnv

# The checker's garbage (text and non-text) and near-misses of valid moves.
GARBAGE = [*GARBAGE_ACTIONS.values(), "up up", "<action>up</action>", "pick  up x", "dropof"]
_TAXI = GymTaxi()


R, G, Y, B, IN_TAXI = 0, 1, 2, 3, 4


def _taxi_at(row: int, col: int, passenger: int, destination: int) -> tuple[TaxiEnv, str]:
    env = TaxiEnv()
    obs, _ = env.reset(
        seed=0, options={"state": _TAXI.encode(row, col, passenger, destination)}
    )
    return env, obs


def test_taxi_observation_text():
    _, obs = _taxi_at(3, 3, R, G)
    assert obs == (
        "+---------+\n"
        "|R: | : :G|\n"
        "| : | : : |\n"
        "| : : : : |\n"
        "| | : |T: |\n"
        "|Y| : |B: |\n"
        "+---------+\n"
        "The taxi T is at row 4, column 4. The passenger is waiting at R (row 1, column 1). "
        "The destination is G (row 1, column 5)."
    )


def test_taxi_full_episode_with_hand_computed_rewards():
    env, _ = _taxi_at(0, 1, R, G)
    expected = [
        ("west", -1.0, "taxi=(1,1) passenger=R destination=G"),
        ("pickup", -1.0, "taxi=(1,1) passenger=taxi destination=G"),
        ("pickup", -10.0, "taxi=(1,1) passenger=taxi destination=G"),  # already aboard
        ("south", -1.0, "taxi=(2,1) passenger=taxi destination=G"),
        ("south", -1.0, "taxi=(3,1) passenger=taxi destination=G"),
        ("east", -1.0, "taxi=(3,2) passenger=taxi destination=G"),
        ("dropoff", -10.0, "taxi=(3,2) passenger=taxi destination=G"),  # not at a stop
        ("east", -1.0, "taxi=(3,3) passenger=taxi destination=G"),
        ("east", -1.0, "taxi=(3,4) passenger=taxi destination=G"),
        ("east", -1.0, "taxi=(3,5) passenger=taxi destination=G"),
        ("north", -1.0, "taxi=(2,5) passenger=taxi destination=G"),
        ("north", -1.0, "taxi=(1,5) passenger=taxi destination=G"),
    ]
    for action, reward, key in expected:
        _, got, terminated, _, info = env.step(action)
        assert (got, info["state_key"], terminated) == (reward, key, False), action
        assert got == sum(info["reward_parts"].values())
    assert info["reward_parts"] == {"step": -1.0, "delivered": 0.0, "illegal": 0.0}
    obs, reward, terminated, _, info = env.step("dropoff")
    assert (reward, terminated, info["success"]) == (20.0, True, True)
    assert info["reward_parts"] == {"step": 0.0, "delivered": 20.0, "illegal": 0.0}
    assert "delivered" in obs


def test_taxi_illegal_move_parts():
    env, _ = _taxi_at(2, 2, Y, B)
    obs, reward, _, _, info = env.step("dropoff")
    assert reward == -10.0
    assert info["reward_parts"] == {"step": 0.0, "delivered": 0.0, "illegal": -10.0}
    assert "Illegal dropoff" in obs


@pytest.mark.parametrize(
    ("row", "col", "action"),
    [(0, 1, "east"), (0, 2, "west"), (4, 0, "east"), (0, 0, "north"), (4, 4, "south")],
)
def test_taxi_walls_block(row, col, action):
    env, obs = _taxi_at(row, col, Y, B)
    key = env.reset(seed=0, options={"state": _TAXI.encode(row, col, Y, B)})[1]["state_key"]
    obs2, reward, _, _, info = env.step(action)
    assert info["action_valid"] and info["state_key"] == key and obs2 == obs
    assert reward == -1.0


@pytest.mark.parametrize(
    ("synonym", "word"),
    [("UP", "north"), (" down ", "south"), ("Left", "west"), ("right", "east"),
     ("pick up", "pickup"), ("Pick-Up", "pickup"), ("drop off", "dropoff"),
     ("drop_off", "dropoff")],
)
def test_taxi_synonyms(synonym, word):
    env_a, _ = _taxi_at(2, 2, Y, B)
    env_b, _ = _taxi_at(2, 2, Y, B)
    out_a = env_a.step(synonym)
    out_b = env_b.step(word)
    assert out_a[4]["action_valid"] and out_a[:4] == out_b[:4]


@pytest.mark.parametrize("action", GARBAGE, ids=lambda a: repr(a)[:20])
def test_taxi_invalid_actions_change_nothing_and_cost_a_step(action):
    env = TaxiEnv()
    obs, info = env.reset(seed=5)
    obs2, reward, terminated, truncated, info2 = env.step(action)
    assert info2["action_valid"] is False and info2["state_key"] == info["state_key"]
    assert (reward, terminated, truncated) == (-1.0, False, False)
    assert obs2.startswith("Invalid action ") and obs2.endswith(obs)
    assert len(obs2) < 600


def test_taxi_bad_start_state_is_rejected():
    with pytest.raises(ValueError, match="start state"):
        TaxiEnv().reset(options={"state": _TAXI.encode(0, 0, G, G)})


def test_taxi_seed_determinism(same_seed_resets):
    assert len({info["task_id"] for info in same_seed_resets(TaxiEnv, 20)}) >= 15


def _bfs_turns(state: int) -> int:
    """Reference: fewest actions to a delivery, by forward BFS on Gymnasium's table."""
    seen, queue = {state}, deque([(state, 0)])
    while queue:
        s, d = queue.popleft()
        for a in range(6):
            _, nxt, _, terminated = _TAXI.P[s][a][0]
            if terminated:
                return d + 1
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, d + 1))
    raise AssertionError("no delivery reachable")


def test_taxi_expert_is_optimal_and_solves_100_seeds_within_the_turn_limit(play_expert):
    env = agentgym.make("agentgym/Taxi-v0")
    for seed in range(100):
        env.reset(seed=seed)
        optimal = _bfs_turns(int(env.unwrapped._taxi.s))
        success, turns = play_expert(env, 50)
        assert success and turns == optimal, f"seed {seed}"


def test_taxi_expert_replans_after_wandering(play_expert):
    env = TaxiEnv()
    rng = random.Random(0)
    for seed in range(30):
        env.reset(seed=seed)
        for _ in range(15):
            *_, terminated, _, _ = env.step(rng.choice(TAXI_WORDS))
            if terminated:
                break
        if terminated:
            continue
        optimal = _bfs_turns(int(env._taxi.s))
        assert play_expert(env, 100) == (True, optimal)


# Gymnasium's checker, rendering and step-before-reset: tests/envs/test_conformance.py.
