"""Tk desktop apps on Xvfb: seeding, real input, validation, reward parts, the file folder."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from agentgym.envs.gui.desktop.apps import APPS, generate
from agentgym.envs.gui.desktop.env import DEFAULT_WEIGHTS, DesktopEnv


@pytest.fixture
def env():
    made: list[DesktopEnv] = []

    def make(app: str, **kwargs) -> DesktopEnv:
        made.append(DesktopEnv(app, **kwargs))
        return made[-1]

    yield make
    for e in made:
        e.close()


def _widget(env: DesktopEnv, key: str) -> dict:
    return next(w for w in env._state["widgets"] if w["key"] == key)


def _centre(widget: dict) -> tuple[int, int]:
    x, y, w, h = widget["box"]
    return x + w // 2, y + h // 2


def _at(action: str, widget: dict) -> str:
    x, y = _centre(widget)
    return f"{action}({x}, {y})"


def test_tasks_are_pure_functions_of_the_seed():
    for app in APPS:
        assert generate(app, 7) == generate(app, 7)
        assert generate(app, 7).instruction != generate(app, 8).instruction


def test_same_seed_same_first_screenshot(env):
    a, b = env("settings"), env("settings")
    obs_a, info_a = a.reset(seed=3)
    obs_b, info_b = b.reset(seed=3)
    assert info_a["task_id"] == info_b["task_id"]
    assert obs_a["image"].shape == (360, 480, 3) and obs_a["image"].dtype == np.uint8
    digest = hashlib.sha256(obs_a["image"].tobytes()).hexdigest()
    assert digest == hashlib.sha256(obs_b["image"].tobytes()).hexdigest()
    assert obs_a["text"] == obs_b["text"]
    a.step(a.expert_action())
    obs_c, _ = a.reset(seed=3)  # the same window again after an episode
    assert hashlib.sha256(obs_c["image"].tobytes()).hexdigest() == digest


def test_form_typing_validation_and_reward_parts(env):
    e = env("form")
    e.reset(seed=0)
    goal = e._task.goal
    name = _widget(e, "name")
    x, y = _centre(name)
    # the expert's first step is a click in the name field: right kind, in the target
    _, reward, _, _, info = e.step(f"click({x}, {y})")
    assert info["reward_parts"] == {"format": 1.0, "action_type": 1.0, "click_in_target": 1.0,
                                    "outcome": 0.0}
    assert reward == pytest.approx(0.05 + 0.1 + 0.1)
    assert _widget(e, "name")["focused"]
    # now the expert would type: another click is the wrong kind and pays only the format
    _, reward, _, _, info = e.step(f"click({x}, {y})")
    assert info["reward_parts"]["action_type"] == 0.0 and reward == pytest.approx(0.05)
    _, _, _, _, info = e.step(f'type("{goal["name"]}")')
    assert info["reward_parts"]["action_type"] == 1.0
    assert _widget(e, "name")["value"] == goal["name"]
    # a bad email is refused by the form's validation
    e.step(_at("click", _widget(e, "email")))
    e.step('type("not-an-email")')
    e.step(_at("click", _widget(e, "submit")))
    assert e._state["message"] == "Email is not a valid address."
    assert not e._state["done"]
    # fix it (focus, select all, retype) and finish with the expert
    e.step(_at("click", _widget(e, "email")))
    e.step('key("ctrl+/")')
    e.step(f'type("{goal["email"]}")')
    assert _widget(e, "email")["value"] == goal["email"]
    for _ in range(10):
        obs, reward, terminated, _, info = e.step(e.expert_action())
        if terminated:
            break
    assert terminated and info["success"]
    assert info["reward_parts"]["outcome"] == 1.0 and reward >= DEFAULT_WEIGHTS["outcome"]
    assert "Thank you!" in obs["text"]


def test_invalid_actions_change_nothing(env):
    e = env("list")
    obs, info = e.reset(seed=1)
    for action, why in [
        ("click(480, 10)", "outside the 480x360 screen"),
        ('type("héllo")', "printable ASCII"),
        ('key("Hyper+x")', "not a modifier"),
        ("click(3)", "click takes"),
        ("", "empty"),
    ]:
        new_obs, reward, terminated, _, new_info = e.step(action)
        assert not new_info["action_valid"] and why in new_info["message"], action
        assert new_info["state_key"] == info["state_key"] and not terminated
        assert new_info["reward_parts"]["format"] == 0.0 and reward == 0.0
        assert np.array_equal(new_obs["image"], obs["image"])


def test_scroll_and_drag_are_real_input(env):
    e = env("list")
    e.reset(seed=2)
    first = next(w for w in e._state["widgets"] if w["kind"] == "row")
    e.step(_at("hover", first))
    e.step("scroll(0, 200)")
    now_first = next(w for w in e._state["widgets"] if w["kind"] == "row")
    assert now_first["label"] != first["label"]
    s = env("settings")
    s.reset(seed=0)
    slider = next(w for w in s._state["widgets"] if w["kind"] == "slider")
    target = "100" if slider["value"] != 100 else "0"
    start, end = slider["stops"][str(slider["value"])], slider["stops"][target]
    s.step(f"drag({round(start[0])}, {round(start[1])}, {round(end[0])}, {round(end[1])})")
    assert _widget(s, slider["key"])["value"] == int(target)


def test_file_dialog_works_on_a_real_folder_removed_after(env):
    e = env("files")
    e.reset(seed=4)
    folder = e._folder
    target = e._task.goal["opened"]
    assert os.path.isfile(os.path.join(folder, *target.split("/")))
    for _ in range(12):
        _, _, terminated, _, info = e.step(e.expert_action())
        if terminated:
            break
    assert info["success"] and e._state["result"] == {"opened": target}
    e.reset(seed=5)
    assert not os.path.exists(folder)  # each episode gets a fresh folder
    second = e._folder
    e.close()
    assert not os.path.exists(second)


def test_list_wrong_sort_is_not_success(env):
    e = env("list")
    e.reset(seed=3)
    goal = e._task.goal
    e.step(_at("click", _widget(e, "filter")))
    e.step(f'type("{goal["filter"]}")')
    e.step(_at("click", _widget(e, "done")))  # not sorted yet
    assert e._state["done"]
    assert e._state["result"]["sort"] is None
    _, _, _, _, info = e.step("click(1, 1)")
    assert not info["action_valid"]  # the task is over


def test_render_modes(env):
    e = env("form", render_mode="rgb_array")
    obs, _ = e.reset(seed=0)
    assert np.array_equal(e.render(), obs["image"]) and obs["image"].any()
    t = env("form", render_mode="ansi")
    t.reset(seed=0)
    assert t.render().startswith("Task: Sign up as")
