"""Every one of the 130 MiniWoB++ tasks resets and takes 10 random actions without an exception,
and answers with contract-shaped observations and infos."""

from __future__ import annotations

import random

import pytest

from agentgym.core.env import STEP_INFO_KEYS
from agentgym.envs.gui.miniwob.env import MiniWoBEnv
from agentgym.envs.gui.miniwob.tasks import TASKS

_KEYS = ["Enter", "Tab", "Backspace", "ArrowDown", "ctrl+a", "a", "Escape"]


def random_action(rng: random.Random, env: MiniWoBEnv) -> str:
    """A random action of any kind: element ones aim at the page's ids (or a missing one)."""
    ids = [el["id"] for el in env.elements] or [1]
    element = rng.choice([*ids, 999])
    x, y = rng.randrange(0, 160), rng.randrange(0, 210)
    return rng.choice([
        f"click({element})", f"click({x}, {y})", f"double_click({x}, {y})", f"hover({element})",
        f'fill({element}, "{rng.choice(["abc", "12", ""])}")', f'select({element}, "x")',
        f'press("{rng.choice(_KEYS)}")', f'type("{rng.choice(["hi", "42", "é"])}")',
        f"scroll(0, {rng.choice([-100, 100])})", f"drag({x}, {y}, {rng.randrange(160)}, {y})",
        "noop()", "nonsense",
    ])


@pytest.fixture(scope="module")
def env():
    made = MiniWoBEnv(screenshot=True)
    yield made
    made.close()


@pytest.mark.parametrize("task", TASKS)
def test_task_resets_and_takes_random_actions(env, task):
    rng = random.Random(task)
    obs, info = env.reset(seed=0, options={"task": task})
    assert env.observation_space.contains(obs)
    assert info["task_id"].startswith(f"miniwob.{task}#")
    for _ in range(10):
        obs, reward, terminated, _, info = env.step(random_action(rng, env))
        assert env.observation_space.contains(obs)
        assert set(STEP_INFO_KEYS) <= set(info)
        assert isinstance(reward, float) and -1.0 <= reward <= 1.0
        if terminated:
            obs, info = env.reset(seed=1, options={"task": task})
