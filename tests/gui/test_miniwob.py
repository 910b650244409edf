"""MiniWoB++ in Chromium: seeding, both action levels, the virtual clock, invalid actions."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

import agentgym
from agentgym.envs.gui.miniwob import pages
from agentgym.envs.gui.miniwob.env import (
    EPISODE_START,
    MiniWoBEnv,
    MiniWoBExpertEnv,
    make_miniwob_env,
)
from agentgym.envs.gui.miniwob.expert import SOLVERS
from agentgym.envs.gui.miniwob.tasks import TASKS, html_root

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env():
    made: list[MiniWoBEnv] = []

    def make(task: str, **kwargs) -> MiniWoBEnv:
        made.append(MiniWoBEnv(task, **kwargs))
        return made[-1]

    yield make
    for e in made:
        e.close()


def _digest(image: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def _element(env: MiniWoBEnv, **want) -> dict:
    for el in env.elements:
        if all(el.get(k) == v for k, v in want.items()):
            return el
    raise AssertionError(f"no element {want} in\n{env.elements}")


def _page_time_ms(env: MiniWoBEnv) -> float:
    return float(env.page_js("Date.now()"))


def test_task_list_is_the_wheels_130_pages():
    pages_on_disk = sorted(p.stem for p in (html_root() / "miniwob").glob("*.html"))
    assert list(TASKS) == pages_on_disk
    assert len(TASKS) == 130
    for task in TASKS:
        assert f"agentgym/miniwob.{task}-v0" in agentgym.registry
    assert agentgym.spec("agentgym/MiniWoB-v0").max_episode_steps == 10


def test_same_seed_same_instance_and_first_screenshot(env):
    a, b = env("click-checkboxes"), env("click-checkboxes")
    obs_a, info_a = a.reset(seed=11)
    obs_b, info_b = b.reset(seed=11)
    assert info_a["task_id"] == info_b["task_id"]
    assert info_a["instruction"] == info_b["instruction"] != ""
    assert obs_a["image"].shape == (210, 160, 3) and obs_a["image"].dtype == np.uint8
    assert _digest(obs_a["image"]) == _digest(obs_b["image"])
    assert obs_a["text"] == obs_b["text"]
    obs_c, info_c = b.reset(seed=12)
    assert info_c["task_id"] != info_a["task_id"]
    assert _digest(obs_c["image"]) != _digest(obs_a["image"])
    # after an episode was played, the same seed still gives the same first page
    b.step("click(5, 100)")
    obs_d, _ = b.reset(seed=11)
    assert _digest(obs_d["image"]) == _digest(obs_a["image"])
    assert obs_d["text"] == obs_a["text"]


def test_recycled_page_renders_like_a_fresh_one(env):
    """A page handed on by a closed env (its pointer, focus and repaint history from other
    episodes) gives the same pixels as a new page for the same seed and actions."""
    pages.drain()
    used = MiniWoBEnv("click-dialog")
    for seed in range(2):
        used.reset(seed=seed)
        used.step("click(100, 100)")
    used.close()
    recycled, fresh = env("click-dialog"), env("click-dialog")
    obs_a, _ = recycled.reset(seed=0)
    obs_b, _ = fresh.reset(seed=0)
    assert recycled._page is not fresh._page
    assert _digest(obs_a["image"]) == _digest(obs_b["image"])
    for action in ("click(100, 100)", "click(20, 30)"):
        obs_a, obs_b = recycled.step(action)[0], fresh.step(action)[0]
        assert _digest(obs_a["image"]) == _digest(obs_b["image"]), action
        assert obs_a["text"] == obs_b["text"]


def test_element_click_solves_click_button(env):
    e = env("click-button")
    e.reset(seed=3)
    target = re.search(r'"(.*)"', e.utterance).group(1)
    button = _element(e, role="button", text=target)
    obs, reward, terminated, truncated, info = e.step(f"click({button['id']})")
    assert info["action_valid"] and terminated and not truncated
    assert info["success"] is True
    assert reward == pytest.approx(1.0)  # solved by the first action: no time has passed
    assert info["reward_parts"] == {"task": pytest.approx(1.0)}
    assert "The task is over" in obs["text"]


def test_coordinate_click_at_the_box_centre(env):
    e = env("click-button")
    e.reset(seed=4)
    target = re.search(r'"(.*)"', e.utterance).group(1)
    x, y, w, h = _element(e, role="button", text=target)["box"]
    _, reward, terminated, _, info = e.step(f"click({x + w // 2}, {y + h // 2})")
    assert terminated and info["success"] and reward == pytest.approx(1.0)


def test_wrong_click_fails_the_task(env):
    e = env("click-button")
    e.reset(seed=3)
    target = re.search(r'"(.*)"', e.utterance).group(1)
    wrong = next(el for el in e.elements if el["role"] == "button" and el["text"] != target)
    _, reward, terminated, _, info = e.step(f"click({wrong['id']})")
    assert terminated and not info["success"] and reward == pytest.approx(-1.0)


def test_virtual_clock_moves_only_with_steps(env):
    e = env("enter-text", step_ms=1000)
    e.reset(seed=2)
    assert _page_time_ms(e) == EPISODE_START * 1000
    word = re.search(r'"(.*)"', e.utterance).group(1)
    box = _element(e, role="textbox")
    e.step(f'fill({box["id"]}, "{word}")')
    assert _page_time_ms(e) == EPISODE_START * 1000 + 1000
    _, _, _, _, info = e.step("click(9999)")  # invalid: the clock does not move
    assert not info["action_valid"]
    assert _page_time_ms(e) == EPISODE_START * 1000 + 1000
    e.step("noop()")
    max_ms = float(e.page_js("core.EPISODE_MAX_TIME"))
    submit = _element(e, role="button", text="Submit")
    _, reward, terminated, _, info = e.step(f"click({submit['id']})")
    assert terminated and info["success"]
    # core.endEpisode scales by 1 - dt / EPISODE_MAX_TIME with dt = 2 steps of 1000 ms
    assert reward == pytest.approx(1 - 2000 / max_ms)
    assert info["raw_reward"] == pytest.approx(1.0)


def test_success_reward_mode_is_binary(env):
    e = env("enter-text", reward_mode="success", step_ms=3000)
    e.reset(seed=2)
    word = re.search(r'"(.*)"', e.utterance).group(1)
    e.step(f'fill({_element(e, role="textbox")["id"]}, "{word}")')
    _, reward, terminated, _, info = e.step(f'click({_element(e, text="Submit")["id"]})')
    assert terminated and info["success"]
    assert reward == 1.0 and info["reward_parts"] == {"success": 1.0}
    assert info["task_reward"] < 1.0  # the page's own reward is time-scaled


def test_type_and_press_are_real_keys(env):
    e = env("enter-text")
    e.reset(seed=1)
    box = _element(e, role="textbox")
    e.step(f"click({box['id']})")
    e.step('type("abc")')
    e.step('press("Backspace")')
    assert _element(e, id=box["id"])["value"] == "ab"
    e.step('press("ctrl+a")')
    e.step('type("Z")')
    assert _element(e, id=box["id"])["value"] == "Z"


def test_select_option(env):
    e = env("choose-list")
    e.reset(seed=1)
    name = re.search(r"Select (.+) from the list", e.utterance).group(1)
    box = _element(e, role="combobox")
    _, _, _, _, info = e.step(f'select({box["id"]}, "{name}")')
    assert info["action_valid"]
    assert _element(e, id=box["id"])["value"] == name
    _, _, _, _, info = e.step(f'select({box["id"]}, "No Such Country")')
    assert not info["action_valid"] and "has no option" in info["message"]
    _, _, terminated, _, info = e.step(f'click({_element(e, text="Submit")["id"]})')
    assert terminated and info["success"]


def test_hover_moves_the_real_pointer(env):
    e = env("email-inbox-delete")
    e.reset(seed=0)
    thread = next(el for el in e.elements if "email-thread" in el.get("classes", []))
    hovered = f"document.querySelector('[data-agentgym-id=\"{thread['id']}\"]').matches(':hover')"
    assert e.page_js(hovered) is False
    _, _, _, _, info = e.step(f"hover({thread['id']})")
    assert info["action_valid"]
    assert e.page_js(hovered) is True


def test_scroll_and_drag(env):
    e = env("scroll-text-2")
    e.reset(seed=0)
    area = _element(e, tag="textarea")
    top = lambda: float(e.page_js("document.querySelector('textarea').scrollTop"))  # noqa: E731
    start = top()
    e.step(f"hover({area['id']})")
    e.step("scroll(0, 300)")
    assert top() > start
    d = env("drag-box")
    d.reset(seed=0)
    small, large = _element(d, text="s")["box"], _element(d, text="L")["box"]
    start = (small[0] + small[2] // 2, small[1] + small[3] // 2)
    end = (large[0] + large[2] // 2, large[1] + large[3] // 2)
    d.step(f"drag({start[0]}, {start[1]}, {end[0]}, {end[1]})")
    moved = _element(d, text="s")["box"]
    assert (moved[0], moved[1]) != (small[0], small[1])


def test_invalid_actions_change_nothing(env):
    e = env("click-checkboxes")
    obs, info = e.reset(seed=5)
    key, image = info["state_key"], obs["image"]
    for action, why in [
        ("click(999)", "no element [999]"),
        ("click(600, 10)", "outside the 500x320 viewport"),
        ('fill(1, "x")', "not a text field"),
        ("clik(3)", "unknown action"),
        ('press("Hyper+x")', "not a modifier"),
        ("click(1) and more", "exactly one action"),
    ]:
        obs, reward, terminated, truncated, info = e.step(action)
        assert not info["action_valid"], action
        assert why in info["message"], (action, info["message"])
        assert obs["text"].startswith("Invalid action:")
        assert info["state_key"] == key and not terminated and not truncated and reward == 0
        assert np.array_equal(obs["image"], image)
    assert _page_time_ms(e) == EPISODE_START * 1000


def test_element_ids_are_stable_across_steps(env):
    e = env("click-checkboxes")
    e.reset(seed=5)
    before = {el["id"]: (el["role"], el["text"]) for el in e.elements}
    box = next(el for el in e.elements if el["role"] == "checkbox")
    e.step(f"click({box['id']})")
    after = {el["id"]: (el["role"], el["text"]) for el in e.elements}
    assert after == before
    assert _element(e, id=box["id"])["checked"] is True


def test_navigation_is_kept_inside_the_task(env):
    e = env("guess-number")
    e.reset(seed=0)
    url = e.page_js("location.href")
    field = _element(e, role="textbox")
    e.step(f'fill({field["id"]}, "3")')
    _, _, _, _, info = e.step('press("Enter")')  # would submit the <form> and reload the page
    assert info["action_valid"]
    assert e.page_js("location.href") == url
    assert e.page_js("typeof window.__agentgym") == "object"


def test_render_and_screenshot_off(env):
    e = env("click-test", render_mode="rgb_array")
    obs, _ = e.reset(seed=0)
    assert np.array_equal(e.render(), obs["image"]) and obs["image"].any()
    dark = env("click-test", screenshot=False)
    obs, _ = dark.reset(seed=0)
    assert obs["image"].shape == (210, 160, 3) and not obs["image"].any()


def test_expert_class_exactly_for_the_solved_subset():
    assert len(SOLVERS) >= 40
    assert set(SOLVERS) <= set(TASKS)
    for task in ("click-button", "enter-text"):
        made = make_miniwob_env(task)
        assert isinstance(made, MiniWoBExpertEnv)
    unsolved = next(t for t in TASKS if t not in SOLVERS)
    made = make_miniwob_env(unsolved)
    assert not hasattr(made, "expert_action")
    assert not hasattr(make_miniwob_env(None), "expert_action")
    sampler = agentgym.make("agentgym/MiniWoB-v0", tasks=["click-button", "enter-text"])
    assert sampler.unwrapped.tasks == ("click-button", "enter-text")
    assert callable(sampler.unwrapped.expert_action)


def test_docs_list_the_expert_subset():
    text = (ROOT / "docs" / "gui.md").read_text()
    listed = set(re.findall(r"`([a-z0-9-]+)`", text.split("## Expert subset")[1].split("##")[0]))
    assert listed == set(SOLVERS)


def test_closed_envs_recycle_their_page():
    pages.drain()
    first = MiniWoBEnv("click-test")
    first.reset(seed=0)
    page = first._page
    first.close()
    assert pages.idle_pages() == 1
    second = MiniWoBEnv("click-test")
    second.reset(seed=0)
    assert second._page is page and pages.idle_pages() == 0
    second.close()
    pages.drain()
    assert pages.idle_pages() == 0 and page.released
