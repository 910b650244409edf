"""Tests of the TextWorld environment (agentgym/TextWorld-v0).

Generating a game takes a few seconds, so the whole file generates two (tasks 0 and 1 of the
default cooking settings) into one module-scoped cache folder; every environment here uses
``num_tasks=2`` so the seeds that ``check_env`` draws land on those two games.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from textworld.logic import Proposition, Variable

import agentgym
from agentgym.core.garbage import GARBAGE_ACTIONS
from agentgym.envs.text import textworld_games
from agentgym.envs.text.textworld import TextWorldEnv, pooled_task, select_task
from agentgym.envs.text.textworld_games import GameConfig, default_cache_dir
from agentgym.envs.text.textworld_text import clean_feedback, state_key

N_TASKS = 2
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
# The checker's garbage plus TextWorld-specific cases.
GARBAGE = {
    **GARBAGE_ACTIONS,
    "100 kB of words": "take " * 20_000,
    "nul then command": "\x00\x01go north",
    "not admissible": "eat the fridge",
    "surrogate": "go \udcff north",
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("textworld-cache")


@pytest.fixture(scope="module")
def env(cache):
    environment = TextWorldEnv(cache_dir=cache, num_tasks=N_TASKS, render_mode="ansi")
    environment.prepare(range(N_TASKS))  # both games generated once, here, in one batch
    yield environment
    environment.close()


def _play_expert(env, max_steps: int = 50):
    """Play the expert to the end; return (steps, total reward, last info)."""
    total, info = 0.0, {}
    for step in range(1, max_steps + 1):
        _, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        total += reward
        if terminated or truncated:
            return step, total, info
    return max_steps, total, info


# -- pure helpers -------------------------------------------------------------------------------
def _fact(name: str, *args: tuple[str, str]) -> Proposition:
    return Proposition(name, [Variable(n, t) for n, t in args])


def test_state_key_hand_computed():
    player, kitchen, hall = ("P", "P"), ("kitchen", "r"), ("hall", "r")
    fridge, box, table = ("fridge", "c"), ("box", "c"), ("table", "s")
    apple, milk, knife, coin = ("apple", "f"), ("milk", "f"), ("knife", "o"), ("coin", "o")
    door = ("wooden door", "d")
    facts = [
        _fact("at", player, kitchen),
        _fact("at", fridge, kitchen),
        _fact("at", box, kitchen),
        _fact("at", table, kitchen),
        _fact("at", ("sofa", "s"), hall),  # another room: not visible
        _fact("open", fridge),
        _fact("in", milk, fridge),
        _fact("raw", milk),
        _fact("edible", milk),  # static kind: left out
        _fact("ingredient_1", milk),  # static recipe mark: left out
        _fact("locked", box),
        _fact("in", coin, box),  # inside a locked box: not visible
        _fact("on", knife, table),
        _fact("in", apple, ("I", "I")),
        _fact("sliced", apple),
        _fact("link", kitchen, door, hall),
        _fact("link", hall, door, kitchen),
        _fact("closed", door),
        _fact("free", kitchen, hall),
        _fact("in", ("ingredient_0", "ingredient"), ("RECIPE", "RECIPE")),
    ]
    expected = (
        "room=kitchen|inv=apple(sliced)|objs=box(locked),fridge(open)[milk(raw)],"
        "table[knife],wooden door(closed)"
    )
    assert state_key(facts) == expected
    assert state_key(reversed(facts)) == expected  # order of facts does not matter
    moved = [
        _fact("at", player, hall) if f.name == "at" and f.arguments[0].name == "P" else f
        for f in facts
    ]
    assert state_key(moved) == "room=hall|inv=apple(sliced)|objs=sofa,wooden door(closed)"


def test_clean_feedback_strips_banner_prompt_and_restart():
    raw = (
        "\n\n   ________  ________\n  |        \\|        \\\n   \\$$$$$$$$| $$$$$$$$\n\n"
        "Cook a meal!\n\n-= Kitchen =-\nYou are in a kitchen.\n\n\n\n"
        "            *** The End ***\n\nWould you like to RESTART, RESTORE a saved game, "
        "QUIT or UNDO the last command?\n>          -= Kitchen =-0/1"
    )
    assert clean_feedback(raw) == (
        "Cook a meal!\n\n-= Kitchen =-\nYou are in a kitchen.\n\n*** The End ***"
    )
    assert clean_feedback("\nYou take the milk.\n\n\n>   -= Kitchen =-1/4") == "You take the milk."


def test_select_task_seed_next_and_escape_hatch():
    assert select_task(None, None, None, None) == 0  # first unseeded reset: task 0
    assert select_task(None, 7, None, None) == 7
    assert select_task(7, None, None, None) == 8  # unseeded reset after task 7: the next task
    assert select_task(7, 3, {"task": 5}, None) == 5
    assert select_task(1, None, None, 2) == 0  # wraps around a pool of 2
    assert select_task(None, 123, None, 2) == 1
    with pytest.raises(ValueError):
        select_task(None, -1, None, None)


def test_config_validation_and_task_ids():
    default = GameConfig()
    assert re.fullmatch(r"tw-cooking-s3-[0-9a-f]{8}", default.task_name(3))
    assert default.digest() == GameConfig().digest()
    assert GameConfig(recipe=2).digest() != default.digest()
    assert GameConfig(level=9).digest() == default.digest()  # level does not matter to cooking
    for bad in (
        {"challenge": "zork"},
        {"rooms": 5},
        {"recipe": 1, "take": 2},
        {"challenge": "treasure_hunter", "level": 31},
        {"challenge": "custom", "rooms": 0},
    ):
        with pytest.raises(ValueError):
            GameConfig(**bad)


def test_default_cache_dir_follows_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTGYM_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "textworld"
    monkeypatch.delenv("AGENTGYM_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "agentgym" / "textworld"


def test_concurrent_generation_runs_once_and_is_atomic(monkeypatch, tmp_path):
    """Threads asking for the same game wait for one generator; nobody sees a partial folder."""
    calls: list[int] = []

    def fake_generate(config, out_dirs, *, timeout):
        for index, out_dir in out_dirs.items():
            calls.append(index)
            (out_dir / "game.z8").write_text("z")
            time.sleep(0.3)  # readers arriving now must not see this folder
            (out_dir / "game.json").write_text("{}")
            (out_dir / "meta.json").write_text("{}")

    monkeypatch.setattr(textworld_games, "_generate_in_child", fake_generate)
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(textworld_games.ensure_game(GameConfig(), 9, tmp_path))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = tmp_path / GameConfig().task_name(9)
    assert calls == [9]
    assert results == [final / "game.z8"] * 4
    assert textworld_games.is_complete(final)
    assert not list(tmp_path.glob(".tmp-*"))  # the temporary folder was renamed away


# -- generated games ----------------------------------------------------------------------------
def test_reset_gives_objective_room_and_info(env):
    obs, info = env.reset(seed=0)
    assert re.fullmatch(r"tw-cooking-s0-[0-9a-f]{8}", info["task_id"])
    assert "cook" in info["instruction"].lower()
    assert info["instruction"] in obs
    assert "-= " in obs and "$$" not in obs  # room title kept, banner gone
    assert info["state_key"].startswith("room=")
    assert info["admissible_actions"] == env.admissible_actions()
    assert "look" in info["admissible_actions"]
    assert info["max_score"] >= 1
    assert env.render() == obs


def test_same_seed_same_task_and_observations(env, cache):
    other = agentgym.make("agentgym/TextWorld-v0", cache_dir=cache, num_tasks=N_TASKS)
    try:
        for seed in (0, 1):
            obs_a, info_a = env.reset(seed=seed)
            obs_b, info_b = other.reset(seed=seed)
            assert (obs_a, info_a["task_id"], info_a["state_key"]) == (
                obs_b,
                info_b["task_id"],
                info_b["state_key"],
            )
            for _ in range(4):
                action = env.expert_action()
                assert other.unwrapped.expert_action() == action
                step_a, step_b = env.step(action), other.step(action)
                assert step_a[0] == step_b[0]
                assert step_a[4]["state_key"] == step_b[4]["state_key"]
        _, info_0 = env.reset(seed=0)
        _, info_1 = env.reset(seed=1)
        assert info_0["task_id"] != info_1["task_id"]
    finally:
        other.close()


def test_unseeded_reset_goes_to_next_task_and_options_pick_one(env):
    _, first = env.reset(seed=0)
    _, nxt = env.reset()
    assert nxt["task_id"] == env.task_id(1)
    _, wrapped = env.reset()
    assert wrapped["task_id"] == first["task_id"]  # pool of 2 wraps around
    _, picked = env.reset(seed=0, options={"task": 1})
    assert picked["task_id"] == env.task_id(1)


def test_cache_hit_does_not_regenerate(cache, monkeypatch):
    # How fast a cached reset is: benchmarks/env_throughput.py (reset column).
    game = cache / GameConfig().task_name(0) / "game.z8"
    mtime = game.stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("a cached game was generated again")

    monkeypatch.setattr(textworld_games, "_generate_in_child", must_not_run)
    fresh = TextWorldEnv(cache_dir=cache, num_tasks=N_TASKS)
    try:
        _, info = fresh.reset(seed=0)
    finally:
        fresh.close()
    assert info["game_file"] == str(game)
    assert game.stat().st_mtime_ns == mtime
    assert not list(cache.glob(".tmp-*"))


def test_state_key_equal_on_revisiting_a_room(env):
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        start_key = info["state_key"]
        moves = [a for a in env.admissible_actions() if a.split()[-1] in OPPOSITE and "go" in a]
        for move in moves:
            _, _, _, _, away = env.step(move)
            back = f"go {OPPOSITE[move.split()[-1]]}"
            if away["state_key"] == start_key or back not in env.admissible_actions():
                env.reset(seed=seed)
                continue
            assert away["state_key"].split("|")[0] != start_key.split("|")[0]
            _, _, _, _, returned = env.step(back)
            assert returned["action_valid"]
            assert returned["state_key"] == start_key
            return
    pytest.fail("no game had a room with an exit and a way back")


def test_state_key_changes_after_taking_an_object(env):
    _, info = env.reset(seed=0)
    key = info["state_key"]
    for _ in range(20):
        action = env.expert_action()
        _, _, terminated, _, info = env.step(action)
        if action.startswith("take "):
            taken = action[len("take ") :].split(" from ")[0]
            assert info["state_key"] != key
            inventory = info["state_key"].split("|")[1]
            assert taken in inventory
            return
        key = info["state_key"]
        assert not terminated
    pytest.fail("the expert never took an object")


@pytest.mark.parametrize("label", sorted(GARBAGE))
def test_garbage_actions_are_invalid_and_change_nothing(env, label):
    _, info0 = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(GARBAGE[label])
    assert info["action_valid"] is False
    assert info["state_key"] == info0["state_key"]
    assert reward == 0.0 and not terminated and not truncated
    assert info["reward_parts"] == {"score": 0.0, "won": 0.0}
    assert "not a valid command" in obs
    listed = obs.split("Valid commands include: ")[1].split(" (")[0].rstrip(".").split(", ")
    assert len(listed) == min(10, len(info0["admissible_actions"]))
    assert set(listed) <= set(info0["admissible_actions"])
    assert len(obs) < 2000
    assert env.admissible_actions() == info0["admissible_actions"]
    # the game itself was untouched: the expert still needs the same number of steps
    _, total, last = _play_expert(env)
    assert last["success"] and total == last["max_score"] + 1.0


def test_action_matching_normalises_case_and_whitespace(env):
    _, info = env.reset(seed=0)
    command = next(a for a in info["admissible_actions"] if a.startswith("examine "))
    _, _, _, _, step = env.step(f"  {command.upper()}  ")
    assert step["action_valid"] is True
    _, _, _, _, step = env.step(command.replace(" ", "   ") + ".")
    assert step["action_valid"] is True


def test_expert_solves_every_task_through_make(cache):
    env = agentgym.make("agentgym/TextWorld-v0", cache_dir=cache, num_tasks=N_TASKS)
    try:
        for seed in range(N_TASKS):
            env.reset(seed=seed)
            steps, total, info = _play_expert(env, max_steps=50)
            assert info["success"] and info["won"] and not info["lost"]
            assert info["reward_parts"]["won"] == 1.0
            assert total == info["max_score"] + 1.0  # every score point, plus the win
            assert steps < 50
            # after the end: refused, still terminated
            _, reward, terminated, _, after = env.step(env.unwrapped.expert_action())
            assert terminated and not after["action_valid"] and reward == 0.0
            assert env.unwrapped.admissible_actions() == []
    finally:
        env.close()


def test_expert_recovers_after_a_detour(env):
    """The expert re-plans from the state the agent left, not from the start."""
    for seed in range(N_TASKS):
        env.reset(seed=seed)
        for step in range(6):  # wander: moves, doors and looks (nothing that can lose the game)
            harmless = [
                a for a in env.admissible_actions() if a.split()[0] in {"go", "open", "examine"}
            ]
            env.step(harmless[(seed + 3 * step) % len(harmless)])
        _, _, info = _play_expert(env)
        assert info["success"], f"expert failed after a detour on seed {seed}"


def test_gymnasium_check_env(cache):
    env = agentgym.make("agentgym/TextWorld-v0", cache_dir=cache, num_tasks=N_TASKS)
    try:
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_close_releases_the_game_and_reset_reopens(cache):
    env = TextWorldEnv(cache_dir=cache, num_tasks=N_TASKS)
    env.reset(seed=1)
    env.close()
    env.close()  # closing twice is fine
    assert env._tw_env is None
    with pytest.raises(ResetNeeded):
        env.step("look")
    obs, _ = env.reset(seed=1)
    assert obs
    env.close()


def test_expert_falls_back_to_the_walkthrough(env):
    env.reset(seed=0)
    walkthrough = env._walkthrough
    assert walkthrough, "cooking games ship a walkthrough"
    env._game_state["policy_commands"] = []  # as if TextWorld found no winning policy
    expected = walkthrough[0] if walkthrough[0] in env.admissible_actions() else "look"
    assert env.expert_action() == expected


def test_custom_house_challenge(cache):
    """The third and last game of this file: a custom house quest (rooms, containers, keys)."""
    env = agentgym.make(
        "agentgym/TextWorld-v0", challenge="custom", rooms=3, quest_length=3, cache_dir=cache
    )
    try:
        obs, info = env.reset(seed=0)
        assert re.fullmatch(r"tw-custom-s0-[0-9a-f]{8}", info["task_id"])
        assert info["instruction"] in obs
        steps, total, last = _play_expert(env)
        assert last["success"] and steps <= 10
        assert total == last["max_score"] + 1.0
    finally:
        env.close()


def test_distance_to_goal_is_the_plan_left(env):
    """``info["distance_to_goal"]`` (for CAST) is the length of TextWorld's re-planned winning
    policy: the expert shortens it by one per command, a passive command leaves it, 0 on the
    win; after a detour it is again what the expert needs."""
    for seed in range(N_TASKS):
        _, info = env.reset(seed=seed)
        distances = [info["distance_to_goal"]]
        assert distances[0] == len(env._game_state["policy_commands"]) > 0
        assert env.step("look")[4]["distance_to_goal"] == distances[0]
        while True:
            _, _, terminated, _, info = env.step(env.unwrapped.expert_action())
            distances.append(info["distance_to_goal"])
            if terminated:
                break
        assert info["won"] and distances == list(range(distances[0], -1, -1))
        env.reset(seed=seed)
        for step in range(4):  # a detour, then the expert counts down from where it is
            moves = [a for a in env.admissible_actions() if a.startswith("go ")]
            if moves:
                env.step(moves[step % len(moves)])
        left = env.unwrapped.distance_to_goal()
        steps, _, info = _play_expert(env)
        assert info["won"] and steps == left


def test_pooled_task_hand_computed():
    assert [pooled_task(i, 4) for i in (0, 3, 4, 9)] == [0, 3, 0, 1]
    # every block of 1,000,000 seeds has its own pool: held-out and demo seeds never share
    assert pooled_task(1_000_005, 4) == 1_000_001 and pooled_task(2_000_003, 4) == 2_000_003
    assert pooled_task(1_999_999, 32) == 1_000_000 + 999_999 % 32


def test_easy_split_settings_are_checked():
    with pytest.raises(ValueError, match="split"):
        TextWorldEnv(split="hard")
    with pytest.raises(ValueError, match="not both"):
        TextWorldEnv(split="easy", num_tasks=2, pool_size=2)
    with pytest.raises(ValueError, match="pool_size"):
        TextWorldEnv(split="easy", pool_size=0)
    easy = TextWorldEnv(split="easy")
    assert easy.pool_size == 32
    one, two = easy.config_for(0), easy.config_for(1)
    assert (one.challenge, one.rooms, one.recipe, one.take) == ("cooking", 1, 1, 1)
    assert (two.recipe, two.take) == (2, 2) and not (two.need_open or two.need_cook
                                                    or two.need_cut)
    assert easy.task_id(0) != easy.task_id(2)  # same settings, another game


def test_easy_split_games_are_won_by_reading_the_cookbook(tmp_path):
    """Pool of 2: seed 0 is a one-ingredient game, seed 1 a two-ingredient one, seed 2 is
    seed 0's game again; the expert reads the cookbook, takes, prepares and eats."""
    env = agentgym.make("agentgym/TextWorld-v0", split="easy", pool_size=2, cache_dir=tmp_path)
    try:
        plays = {}
        for seed in (0, 1, 2):
            obs, start = env.reset(seed=seed)
            assert "-= Kitchen =-" in obs
            actions = []
            for _ in range(8):
                action = env.unwrapped.expert_action()
                actions.append(action)
                *_, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    break
            assert info["success"] and info["won"]
            plays[seed] = (start["task_id"], actions)
        for seed, ingredients in ((0, 1), (1, 2)):
            actions = plays[seed][1]
            assert actions[0] == "examine cookbook" and actions[-2:] == ["prepare meal",
                                                                         "eat meal"]
            assert len(actions) == 3 + ingredients
            assert all(a.startswith("take ") for a in actions[1:-2])
        assert plays[2] == plays[0]  # the pool wraps: seed 2 plays seed 0's game
        # a tiny model's tokenizer keeps every name and verb of the expert's commands whole
        words = set(env.unwrapped.tokenizer_words())
        for _, actions in plays.values():
            for action in actions:
                take = re.fullmatch(r"take (.+) from (.+)", action)
                assert set(take.groups() if take else action.split()) <= words, action
        assert len(list(tmp_path.glob("*/game.z8"))) == 2  # only the block-0 pool generated
    finally:
        env.close()
