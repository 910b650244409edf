"""FrozenLake text game: hand-computed transitions and rewards, bad input, the expert."""

from __future__ import annotations

from collections import deque

import pytest

import agentgym
from agentgym.core.garbage import GARBAGE_ACTIONS
from agentgym.envs.text.frozen_lake import FrozenLakeEnv

# The checker's garbage (text and non-text) and near-misses of valid moves.
GARBAGE = [*GARBAGE_ACTIONS.values(), "up up", "<action>up</action>", "u p", "upp"]
# A 2x2 lake: start top-left, hole bottom-left, goal bottom-right.
TINY_LAKE = ["SF", "HG"]


def test_frozenlake_hand_made_map_observation_and_goal_reward():
    env = FrozenLakeEnv()
    obs, info = env.reset(seed=0, options={"desc": TINY_LAKE})
    assert obs == "P F\nH G\nYou are at row 1, column 1. The goal G is at row 2, column 2."
    assert info["state_key"] == "row=1 col=1"
    obs, reward, terminated, _, info = env.step("right")
    assert (reward, terminated, info["state_key"]) == (0.0, False, "row=1 col=2")
    assert obs.startswith("S P\nH G\n")
    obs, reward, terminated, truncated, info = env.step("down")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] and info["reward_parts"] == {"goal": 1.0}
    assert obs.endswith("You reached the goal!")
    _, reward, terminated, _, info = env.step("up")  # after the end: nothing happens
    assert (reward, terminated, info["action_valid"], info["state_key"]) == (
        0.0,
        True,
        False,
        "row=2 col=2",
    )


def test_frozenlake_hole_terminates_without_success():
    env = FrozenLakeEnv()
    env.reset(seed=0, options={"desc": TINY_LAKE})
    obs, reward, terminated, _, info = env.step(" DOWN ")
    assert (reward, terminated, info["success"], info["state_key"]) == (
        0.0,
        True,
        False,
        "row=2 col=1",
    )
    assert "fell into a hole" in obs


@pytest.mark.parametrize("action", ["up", "left"])
def test_frozenlake_edges_block(action):
    env = FrozenLakeEnv(desc=TINY_LAKE)
    obs, _ = env.reset(seed=0)
    obs2, reward, terminated, _, info = env.step(action)
    assert info["action_valid"] and info["state_key"] == "row=1 col=1"
    assert (obs2, reward, terminated) == (obs, 0.0, False)


@pytest.mark.parametrize("action", GARBAGE, ids=lambda a: repr(a)[:20])
def test_frozenlake_invalid_actions_change_nothing(action):
    env = FrozenLakeEnv()
    obs, info = env.reset(seed=3)
    obs2, reward, terminated, truncated, info2 = env.step(action)
    assert info2["action_valid"] is False and info2["state_key"] == info["state_key"]
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert obs2.startswith("Invalid action ") and obs2.endswith(obs)
    assert len(obs2) < 400


def test_frozenlake_seed_picks_the_map(same_seed_resets):
    maps = {info["map"] for info in same_seed_resets(FrozenLakeEnv, 20)}
    assert len(maps) >= 15


def test_frozenlake_expert_solves_100_seeds_within_the_turn_limit(play_expert):
    env = agentgym.make("agentgym/FrozenLake-v0")
    for seed in range(100):
        env.reset(seed=seed)
        success, _ = play_expert(env, 30)
        assert success, f"seed {seed}"


def test_frozenlake_expert_takes_the_shortest_safe_path_on_a_big_map(play_expert):
    # BFS by hand-independent code: shortest path length on the map vs the expert's turns.
    env = FrozenLakeEnv(map_size=8)
    for seed in range(20):
        _, info = env.reset(seed=seed)
        rows = info["map"].split("\n")
        n = len(rows)
        dist = {(0, 0): 0}
        queue = deque([(0, 0)])
        while queue:
            r, c = queue.popleft()
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in dist and rows[rr][cc] != "H":
                    dist[(rr, cc)] = dist[(r, c)] + 1
                    if rows[rr][cc] != "G":
                        queue.append((rr, cc))
        success, turns = play_expert(env, 200)
        assert success and turns == dist[(n - 1, n - 1)]


def test_frozenlake_slippery_expert_usually_succeeds(play_expert):
    env = agentgym.make("agentgym/FrozenLake-v0", is_slippery=True, max_episode_steps=200)
    wins = 0
    for seed in range(40):
        env.reset(seed=seed)
        wins += play_expert(env, 200)[0]
    assert wins >= 30  # measured 38/40; not guaranteed on slippery ice


# Gymnasium's checker, rendering and step-before-reset: tests/envs/test_conformance.py.
