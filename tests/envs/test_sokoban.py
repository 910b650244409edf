"""Sokoban: hand-made levels with hand-computed rewards, generation, expert, bad input, speed."""

from __future__ import annotations

import random

import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import agentgym
from agentgym.core.garbage import GARBAGE_ACTIONS
from agentgym.envs.text.sokoban import SokobanEnv
from agentgym.envs.text.sokoban_levels import (
    ACTIONS,
    Level,
    forward,
    generate_level,
    parse_level,
    push_distances,
    reverse_distances,
    solve,
)

# One box right of the player, its goal right of the box.
ONE_PUSH = """
# # # # # #
# P X O _ #
# _ _ _ _ #
# # # # # #
"""
# Box on goal (row 1) next to the player; a second box left of the second goal (row 2).
TWO_BOXES = """
# # # # # # #
# P √ _ _ _ #
# _ X O _ _ #
# # # # # # #
"""
# A box on a goal next to a free goal; a second box below it, off the goals.
GOAL_TO_GOAL = """
# # # # # #
# P √ O _ #
# _ X _ _ #
# _ _ _ _ #
# # # # # #
"""
# The checker's garbage plus near-misses of valid Sokoban moves.
GARBAGE = [
    *GARBAGE_ACTIONS.values(),
    "up up",
    "upp",
    "move up",
    "north",
    "<action>up</action>",
]
NON_STRINGS = [None, b"up", 0, 3.5, ["up"], {"action": "up"}]


def _env(level: str) -> tuple[SokobanEnv, str]:
    env = SokobanEnv(level=level)
    obs, _ = env.reset(seed=0)
    return env, obs


def _reference_step(level: Level, state, action: int):
    """Pure reference dynamics + gym-sokoban reward from box-on-goal counts."""
    nxt = forward(level.walls, state, level.offsets[action]) or state
    on_before = sum(b in level.goals for b in state[1])
    on_after = sum(b in level.goals for b in nxt[1])
    solved = on_after == len(level.goals)
    return nxt, -0.1 + (on_after - on_before) + (10.0 if solved else 0.0), solved


# --- hand-made situations ---------------------------------------------------------------------
def test_push_onto_goal_solves_with_hand_computed_reward():
    env, obs = _env(ONE_PUSH)
    assert obs == "# # # # # #\n# P X O _ #\n# _ _ _ _ #\n# # # # # #"
    obs, reward, terminated, truncated, info = env.step("right")
    assert obs == "# # # # # #\n# _ P √ _ #\n# _ _ _ _ #\n# # # # # #"
    assert reward == pytest.approx(-0.1 + 1.0 + 10.0)
    assert info["reward_parts"] == {"step": -0.1, "box_on": 1.0, "box_off": 0.0, "solved": 10.0}
    assert terminated and not truncated
    assert info["success"] and info["action_valid"]
    assert info["state_key"] == obs
    # After the end: nothing changes, no reward, still terminated, no exception.
    obs2, reward2, terminated2, _, info2 = env.step("left")
    assert (reward2, terminated2, info2["action_valid"]) == (0.0, True, False)
    assert info2["state_key"] == info["state_key"] and "already solved" in obs2


def test_push_off_goal_then_onto_other_goal():
    env, _ = _env(TWO_BOXES)
    _, reward, terminated, _, info = env.step("right")  # √ at (1,2) pushed off its goal
    assert reward == pytest.approx(-1.1)
    assert info["reward_parts"] == {"step": -0.1, "box_on": 0.0, "box_off": -1.0, "solved": 0.0}
    assert not terminated
    assert info["state_key"] == "# # # # # # #\n# _ S X _ _ #\n# _ X O _ _ #\n# # # # # # #"
    rewards = [env.step(a)[1] for a in ("left", "down")]
    assert rewards == pytest.approx([-0.1, -0.1])
    _, reward, terminated, _, info = env.step("right")  # X at (2,2) onto the goal at (2,3)
    assert reward == pytest.approx(0.9)
    assert info["reward_parts"]["box_on"] == 1.0 and not terminated
    assert info["state_key"] == "# # # # # # #\n# _ O X _ _ #\n# _ P √ _ _ #\n# # # # # # #"


def test_goal_to_goal_push_nets_zero_and_solving_last_box_gives_ten():
    env, _ = _env(GOAL_TO_GOAL)
    _, reward, _, _, info = env.step("right")  # √ from one goal onto the next
    assert info["reward_parts"] == {"step": -0.1, "box_on": 1.0, "box_off": -1.0, "solved": 0.0}
    assert reward == pytest.approx(-0.1)
    # Walk round below the X and push it up onto the goal the first box left.
    rewards = []
    for action in ("left", "down", "down", "right", "up"):
        obs, reward, terminated, _, info = env.step(action)
        rewards.append(reward)
    assert rewards == pytest.approx([-0.1, -0.1, -0.1, -0.1, 10.9])
    assert terminated and info["success"]
    assert info["reward_parts"] == {"step": -0.1, "box_on": 1.0, "box_off": 0.0, "solved": 10.0}
    assert obs == "# # # # # #\n# _ √ √ _ #\n# _ P _ _ #\n# _ _ _ _ #\n# # # # # #"


@pytest.mark.parametrize(
    ("level", "action"),
    [
        ("#####\n#P_O#\n#_X_#\n#####", "up"),  # wall
        ("#####\n#P_O#\n#_X_#\n#####", "left"),  # wall
        ("######\n#_PX##\n#O___#\n######", "right"),  # box with a wall behind it
        ("#######\n#PXX_O#\n#___O_#\n#######", "right"),  # box with a box behind it
    ],
)
def test_blocked_moves_are_valid_noops(level, action):
    env, obs = _env(level)
    key = env.reset(seed=0)[1]["state_key"]
    obs2, reward, terminated, _, info = env.step(action)
    assert info["action_valid"] is True and info["moved"] is False
    assert info["state_key"] == key and obs2 == obs
    assert reward == pytest.approx(-0.1) and not terminated


def test_case_and_whitespace_tolerant_actions():
    env, _ = _env(ONE_PUSH)
    _, _, _, _, info = env.step("  DOWN \n")
    assert info["action_valid"] and info["moved"]
    _, _, _, _, info = env.step("Up")
    assert info["action_valid"] and info["state_key"] == env.reset(seed=0)[1]["state_key"]


@pytest.mark.parametrize("action", GARBAGE + NON_STRINGS, ids=lambda a: repr(a)[:20])
def test_invalid_actions_change_nothing_and_cost_a_step(action):
    env, obs = _env(TWO_BOXES)
    key = env.reset(seed=0)[1]["state_key"]
    obs2, reward, terminated, truncated, info = env.step(action)
    assert info["action_valid"] is False
    assert info["state_key"] == key
    assert reward == pytest.approx(-0.1) and info["reward_parts"]["step"] == -0.1
    assert not terminated and not truncated
    assert obs2.startswith("Invalid action ") and "up, down, left, right" in obs2
    assert obs2.endswith(obs)  # the unchanged board follows the message
    assert len(obs2) < 400  # 100 kB of input is not echoed back


def test_render_and_render_modes():
    env = SokobanEnv(level=ONE_PUSH, render_mode="ansi")
    obs, _ = env.reset()
    assert env.render() == obs
    quiet = SokobanEnv(level=ONE_PUSH)
    quiet.reset()
    assert quiet.render() is None
    with pytest.raises(ValueError, match="render_mode"):
        SokobanEnv(render_mode="rgb_array")


def test_step_before_reset_is_an_error():
    from gymnasium.error import ResetNeeded

    with pytest.raises(ResetNeeded):
        SokobanEnv().step("up")


def test_options_level_overrides_generation_for_one_episode():
    env = SokobanEnv()
    obs, info = env.reset(seed=0, options={"level": ONE_PUSH})
    assert obs.splitlines()[1] == "# P X O _ #"
    assert info["optimal_solution_steps"] == 1
    obs2, _ = env.reset(seed=0)
    assert obs2 != obs


# --- level text -------------------------------------------------------------------------------
def test_xsb_and_native_symbols_parse_to_the_same_level():
    native = parse_level("# # # # # #\n# S X _ _ #\n# _ √ _ _ #\n# # # # # #")
    xsb = parse_level("######\n#+$--#\n#-*--#\n######")
    assert native == xsb
    assert (native.player, native.boxes, native.goals) == (7, (8, 14), (7, 14))
    assert parse_level(native.to_text()) == native


def test_unwalled_border_gets_a_ring_of_walls():
    level = parse_level("PXO")
    assert (level.height, level.width) == (3, 5)
    assert level.to_text(sep="") == "#####\n#PXO#\n#####"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#####\n#PXO#\n#P__#\n#####", "exactly one player"),
        ("#####\n#PXO#\n#X__#\n#####", "as many goals as boxes"),
        ("#####\n#P_O#\n#####", "at least one box"),
        ("#####\n#PXQ#\n#####", "unknown symbol"),
        ("", "empty"),
    ],
)
def test_bad_levels_are_rejected_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse_level(text)


# --- generation and solver --------------------------------------------------------------------
def test_same_seed_same_task_and_observations():
    env_a, env_b = SokobanEnv(), SokobanEnv()
    task_ids = set()
    for seed in range(20):
        obs_a, info_a = env_a.reset(seed=seed)
        obs_b, info_b = env_b.reset(seed=seed)
        assert obs_a == obs_b and info_a["task_id"] == info_b["task_id"]
        task_ids.add(info_a["task_id"])
        for action in ("up", "left", "down", "right", "down"):
            assert env_a.step(action)[0] == env_b.step(action)[0]
    assert len(task_ids) >= 18  # seeds pick different levels


@pytest.mark.parametrize("num_boxes", [1, 2])
def test_generated_levels_are_unsolved_and_solvable_within_bounds(num_boxes):
    for seed in range(60):
        gen = generate_level(random.Random(seed), (6, 6), num_boxes)
        level = gen.level
        assert len(level.boxes) == len(level.goals) == num_boxes
        assert not set(level.boxes) & set(level.goals)  # no box starts on a goal
        assert 4 <= gen.solution_length <= 20
        # The reverse-play table agrees with an independent forward A* search.
        path = solve(level.walls, level.width, level.goals, level.state)
        assert path is not None and len(path) == gen.solution_length
        assert parse_level(level.to_text()) == level


def test_reverse_table_matches_astar_on_every_state_of_a_small_level():
    level = parse_level("#######\n#P_X_O#\n#_X__O#\n#_____#\n#######")
    table = reverse_distances(level.walls, level.width, level.goals, max_depth=10**6)
    pushes = push_distances(level.walls, level.width, level.goals)
    rng = random.Random(0)
    for state in rng.sample(list(table), 150):
        path = solve(level.walls, level.width, level.goals, state, pushes=pushes)
        assert path is not None and len(path) == table[state]


def test_push_distances_mark_corners_dead():
    level = parse_level("######\n#P__O#\n#_X__#\n######")
    pushes = push_distances(level.walls, level.width, level.goals)
    w = level.width
    assert pushes[1 * w + 4] == 0  # the goal
    assert pushes[1 * w + 3] == 1
    assert pushes[1 * w + 1] == float("inf")  # corner: a box there can never move
    assert pushes[2 * w + 1] == float("inf")


def test_impossible_settings_fail_at_construction():
    with pytest.raises(ValueError, match="cannot hold"):
        SokobanEnv(dim_room=(3, 3), num_boxes=1)
    with pytest.raises(ValueError, match="min_solution_steps"):
        SokobanEnv(min_solution_steps=10, max_solution_steps=5)


# --- expert -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"num_boxes": 2}])
def test_expert_solves_100_seeds_within_the_registered_turn_limit(kwargs):
    env = agentgym.make("agentgym/Sokoban-v0", **kwargs)
    for seed in range(100):
        _, info = env.reset(seed=seed)
        turns = 0
        terminated = truncated = False
        while not (terminated or truncated):
            _, _, terminated, truncated, step_info = env.step(env.unwrapped.expert_action())
            turns += 1
        assert step_info["success"] and terminated and not truncated, f"seed {seed}"
        assert turns == info["optimal_solution_steps"] <= 30  # the expert is optimal


def test_expert_replans_after_the_agent_wandered_off():
    # A small table (max 6 moves) so most wandered states need the A* fallback.
    env = SokobanEnv(min_solution_steps=4, max_solution_steps=5)
    rng = random.Random(1)
    solved = used_astar = 0
    for seed in range(80):
        env.reset(seed=seed)
        for _ in range(10):
            env.step(rng.choice(ACTIONS))
        if env._done:
            continue
        level = env._level
        path = solve(level.walls, level.width, level.goals, env.state)
        if path is None:  # a box was pushed into a dead end; no move can help
            assert env.expert_action() in ACTIONS
            continue
        used_astar += env.state not in env._distances
        for _ in range(len(path)):
            _, _, terminated, _, info = env.step(env.expert_action())
        assert terminated and info["success"]
        solved += 1
    assert solved >= 30 and used_astar >= 5


def test_expert_on_deadlocked_level_returns_a_move():
    env, _ = _env("######\n#X__O#\n#__P_#\n######")
    assert env.expert_action() in ACTIONS


# --- contract ---------------------------------------------------------------------------------
def test_gymnasium_env_checker_passes():
    env = agentgym.make("agentgym/Sokoban-v0")
    check_env(env.unwrapped, skip_render_check=True)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    actions=st.lists(st.sampled_from([*ACTIONS, "  Left", "jump", ""]), max_size=40),
)
def test_fast_step_matches_reference_dynamics(seed, actions):
    env = SokobanEnv(num_boxes=2)
    env.reset(seed=seed)
    level = env._level
    state = level.state
    for action in actions:
        obs, reward, terminated, _, info = env.step(action)
        word = action.strip().lower()
        if word in ACTIONS:
            state, expected, solved = _reference_step(level, state, ACTIONS.index(word))
            assert info["action_valid"] and terminated == solved
        else:
            expected = -0.1
            assert not info["action_valid"]
        assert reward == pytest.approx(expected)
        assert reward == pytest.approx(sum(info["reward_parts"].values()))
        assert env.state == state
        assert info["state_key"] == level.to_text(state)
        assert obs.endswith(info["state_key"])
        if terminated:
            break
