"""``info["distance_to_goal"]`` of the text games (read by CAST, ``algo=cast``).

Hand-made positions with hand-counted distances, and the property every solver distance has:
along the expert's play it falls by exactly 1 per step, to 0 on the winning step.
"""

from __future__ import annotations

import math

import pytest

import agentgym
from agentgym.envs.text.frozen_lake import FrozenLakeEnv, lake_distances
from agentgym.envs.text.sokoban import SokobanEnv, goal_distance_table
from agentgym.envs.text.sokoban_levels import parse_level, solve
from agentgym.envs.text.taxi import TaxiEnv

# Three moves to solve (up, left, push down); pushing the box left first makes it unsolvable:
# against the left wall it can only slide up and down, and the goal is not on that wall.
THREE_MOVES = """
# # # # # #
# _ _ _ _ #
# _ X P _ #
# _ O _ _ #
# # # # # #
"""


def _expert_distances(env, reset_kwargs: dict, limit: int = 60) -> tuple[list, bool]:
    """Distances at reset and after each expert step, and whether the episode was won."""
    _, info = env.reset(**reset_kwargs)
    distances = [info["distance_to_goal"]]
    for _ in range(limit):
        _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        distances.append(info["distance_to_goal"])
        if terminated or truncated:
            break
    return distances, bool(info["success"])


@pytest.mark.parametrize(("env_id", "kwargs"), [
    ("agentgym/Sokoban-v0", {}),
    ("agentgym/Sokoban-v0", {"num_boxes": 2}),
    ("agentgym/FrozenLake-v0", {}),
    ("agentgym/FrozenLake-v0", {"map_size": 8}),
    ("agentgym/Taxi-v0", {}),
])
def test_the_expert_gets_one_step_closer_every_step(env_id, kwargs):
    env = agentgym.make(env_id, **kwargs)
    for seed in range(25):
        distances, won = _expert_distances(env, {"seed": seed})
        assert won, seed
        assert distances == list(range(distances[0], -1, -1)), (seed, distances)
    env.close()


def test_sokoban_distance_is_the_optimal_solution_length():
    env = SokobanEnv(level=THREE_MOVES)
    _, info = env.reset(seed=0)
    assert info["distance_to_goal"] == info["optimal_solution_steps"] == 3
    level = parse_level(THREE_MOVES)
    assert len(solve(level.walls, level.width, level.goals, level.state)) == 3
    steps = [("right", 4), ("left", 3), ("up", 2), ("up", 2), ("left", 1)]  # up again: a wall
    for action, expected in steps:
        assert env.step(action)[4]["distance_to_goal"] == expected, action
    _, reward, terminated, _, info = env.step("down")
    assert terminated and info["distance_to_goal"] == 0 and reward == pytest.approx(10.9)
    assert env.step("up")[4]["distance_to_goal"] == 0  # after the end


def test_sokoban_dead_end_is_unreachable_and_invalid_actions_keep_the_distance():
    env = SokobanEnv(level=THREE_MOVES)
    env.reset(seed=0)
    assert env.step("go away")[4]["distance_to_goal"] == 3
    info = env.step("left")[4]  # pushes the box against the left wall
    assert info["moved"] and math.isinf(info["distance_to_goal"])
    table, complete = goal_distance_table(env._level.walls, env._level.width, env._level.goals)
    assert complete and env.state not in table


def test_sokoban_capped_table_falls_back_to_the_solver(monkeypatch):
    import agentgym.envs.text.sokoban as sokoban

    level = parse_level(THREE_MOVES)
    table, complete = goal_distance_table(level.walls, level.width, level.goals, 5)
    assert not complete and len(table) >= 5  # the search stopped early
    monkeypatch.setattr(sokoban, "GOAL_TABLE_MAX_STATES", 5)
    env = SokobanEnv(level=THREE_MOVES)
    env.reset(seed=0)
    env.step("right")  # a state beyond the 5 the capped table holds: solved by A*
    assert env.distance_to_goal() == 4
    env.step("left")
    env.step("left")  # pushes the box against the wall: a dead square, without a search
    assert math.isinf(env.distance_to_goal())


def test_frozenlake_distances_go_around_holes():
    assert lake_distances(("SFFF", "FHFH", "FFFH", "HFFG")) == (
        (6, 5, 4, 5), (5, math.inf, 3, math.inf), (4, 3, 2, math.inf), (math.inf, 2, 1, 0))
    env = FrozenLakeEnv()
    _, info = env.reset(seed=0, options={"desc": ["SF", "HG"]})
    assert info["distance_to_goal"] == 2
    assert env.step("right")[4]["distance_to_goal"] == 1
    assert env.step("nowhere")[4]["distance_to_goal"] == 1
    assert env.step("down")[4]["distance_to_goal"] == 0
    env.reset(seed=0, options={"desc": ["SF", "HG"]})
    info = env.step("down")[4]  # into the hole
    assert not info["success"] and math.isinf(info["distance_to_goal"])


def test_taxi_distance_counts_moves_pickup_and_dropoff():
    from gymnasium.envs.toy_text.taxi import TaxiEnv as GymTaxi

    env = TaxiEnv()
    # taxi at row 1 col 2, passenger at R (row 1 col 1), destination G (row 1 col 5): west,
    # pickup, then around the walls of rows 1-2 (south, south, east x4, north, north), dropoff
    _, info = env.reset(seed=0, options={"state": GymTaxi().encode(0, 1, 0, 1)})
    assert info["distance_to_goal"] == 11
    script = [("west", 10), ("pickup", 9), ("pickup", 9), ("south", 8), ("south", 7),
              ("east", 6), ("dropoff", 6), ("east", 5), ("east", 4), ("east", 3),
              ("north", 2), ("north", 1), ("dropoff", 0)]
    for action, expected in script:
        assert env.step(action)[4]["distance_to_goal"] == expected, action
