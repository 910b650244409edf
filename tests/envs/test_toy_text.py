"""FrozenLake and Taxi text games: hand-computed transitions and rewards, bad input, experts."""

from __future__ import annotations

import random
from collections import deque

import pytest
from gymnasium.envs.toy_text.taxi import TaxiEnv as GymTaxi
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

import agentgym
from agentgym.core.checker import GARBAGE_ACTIONS
from agentgym.envs.text.toy_text import TAXI_WORDS, FrozenLakeEnv, TaxiEnv

# The checker's garbage, near-misses of valid moves, and non-strings.
GARBAGE = [
    *GARBAGE_ACTIONS.values(),
    "up up",
    "<action>up</action>",
    None,
    b"up",
    7,
]
# A 2x2 lake: start top-left, hole bottom-left, goal bottom-right.
TINY_LAKE = ["SF", "HG"]
_TAXI = GymTaxi()


def _play_expert(env, limit: int) -> tuple[bool, int]:
    for turn in range(1, limit + 1):
        _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        if terminated or truncated:
            return bool(info["success"]), turn
    return False, limit


# =============================================================================================
# FrozenLake
# =============================================================================================
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


def test_frozenlake_seed_picks_the_map():
    env_a, env_b = FrozenLakeEnv(), FrozenLakeEnv()
    maps = set()
    for seed in range(20):
        obs_a, info_a = env_a.reset(seed=seed)
        obs_b, info_b = env_b.reset(seed=seed)
        assert (obs_a, info_a["task_id"]) == (obs_b, info_b["task_id"])
        maps.add(info_a["map"])
    assert len(maps) >= 15


def test_frozenlake_expert_solves_100_seeds_within_the_turn_limit():
    env = agentgym.make("agentgym/FrozenLake-v0")
    for seed in range(100):
        env.reset(seed=seed)
        success, _ = _play_expert(env, 30)
        assert success, f"seed {seed}"


def test_frozenlake_expert_takes_the_shortest_safe_path_on_a_big_map():
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
        success, turns = _play_expert(env, 200)
        assert success and turns == dist[(n - 1, n - 1)]


def test_frozenlake_slippery_expert_usually_succeeds():
    env = agentgym.make("agentgym/FrozenLake-v0", is_slippery=True, max_episode_steps=200)
    wins = 0
    for seed in range(40):
        env.reset(seed=seed)
        wins += _play_expert(env, 200)[0]
    assert wins >= 30  # measured 38/40; not guaranteed on slippery ice


def test_frozenlake_gymnasium_checker_and_render():
    env = agentgym.make("agentgym/FrozenLake-v0")
    check_env(env.unwrapped, skip_render_check=True)
    ansi = FrozenLakeEnv(render_mode="ansi")
    obs, _ = ansi.reset(seed=1)
    assert ansi.render() == obs
    quiet = FrozenLakeEnv()
    quiet.reset(seed=1)
    assert quiet.render() is None
    with pytest.raises(ResetNeeded):
        FrozenLakeEnv().step("up")


# =============================================================================================
# Taxi
# =============================================================================================
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


def test_taxi_seed_determinism():
    env_a, env_b = TaxiEnv(), TaxiEnv()
    ids = set()
    for seed in range(20):
        obs_a, info_a = env_a.reset(seed=seed)
        obs_b, info_b = env_b.reset(seed=seed)
        assert (obs_a, info_a["task_id"]) == (obs_b, info_b["task_id"])
        ids.add(info_a["task_id"])
    assert len(ids) >= 15


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


def test_taxi_expert_is_optimal_and_solves_100_seeds_within_the_turn_limit():
    env = agentgym.make("agentgym/Taxi-v0")
    for seed in range(100):
        env.reset(seed=seed)
        optimal = _bfs_turns(int(env.unwrapped._taxi.s))
        success, turns = _play_expert(env, 50)
        assert success and turns == optimal, f"seed {seed}"


def test_taxi_expert_replans_after_wandering():
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
        assert _play_expert(env, 100) == (True, optimal)


def test_taxi_gymnasium_checker_and_render():
    env = agentgym.make("agentgym/Taxi-v0")
    check_env(env.unwrapped, skip_render_check=True)
    ansi = TaxiEnv(render_mode="ansi")
    obs, _ = ansi.reset(seed=1)
    assert ansi.render() == obs
    quiet = TaxiEnv()
    quiet.reset(seed=1)
    assert quiet.render() is None
    with pytest.raises(ResetNeeded):
        TaxiEnv().step("north")
