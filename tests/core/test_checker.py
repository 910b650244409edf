"""The conformance checker finds each kind of contract violation and passes a good env."""

from __future__ import annotations

import pytest

import agentgym
from agentgym.core import registration
from agentgym.core.checker import GARBAGE_ACTIONS, EnvCheckError, check_env
from agentgym.core.env import TextEnv


class Walk(TextEnv):
    """Walk right to position `target` (drawn from the seed). Configurable faults for tests."""

    def __init__(self, fault: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fault = fault
        self.calls = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.target = 0, int(self.np_random.integers(2, 5))
        task_id = str(self.target)
        if self.fault == "random_task":
            self.calls += 1
            task_id = f"{self.target}-{id(self)}-{self.calls}"
        info = self.reset_info(task_id=task_id, instruction="walk", state_key="0")
        if self.fault == "missing_key":
            del info["instruction"]
        return f"at 0 of {self.target}", info

    def step(self, action):
        if action != "right":
            if self.fault == "crash_on_garbage":
                raise ValueError("cannot parse")
            valid = self.fault == "accepts_garbage"
            return f"bad {action[:10]!r}", 0.0, False, False, self.step_info(
                state_key=str(self.pos), action_valid=valid, reward_parts={})
        self.pos += 1
        done = self.pos >= self.target
        info = self.step_info(state_key=str(self.pos), action_valid=True,
                              reward_parts={"goal": float(done)}, success=done)
        if self.fault == "wrong_type":
            info["success"] = "yes"
        return f"at {self.pos}", float(done), done, False, info

    def expert_action(self):
        return "left" if self.fault == "bad_expert" else "right"


@pytest.fixture
def register_walk():
    saved = dict(registration.registry)

    def _register(fault=None):
        env_id = f"test/Walk{fault or ''}-v0".replace("_", "")
        agentgym.register(env_id, entry_point=Walk, max_episode_steps=8, kwargs={"fault": fault})
        return env_id

    yield _register
    registration.registry.clear()
    registration.registry.update(saved)


def test_good_env_passes(register_walk):
    report = check_env(register_walk(), n_tasks=4)
    assert report.ok and report.expert_successes == report.expert_episodes == 4
    assert "garbage actions" in report.passed


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("random_task", "same seed must give the same task"),
        ("missing_key", "missing required key 'instruction'"),
        ("crash_on_garbage", "raised ValueError"),
        ("accepts_garbage", "was accepted"),
        ("wrong_type", "info['success'] must be bool"),
        ("bad_expert", "the expert did not solve task"),
    ],
)
def test_each_fault_is_reported(register_walk, fault, expected):
    with pytest.raises(EnvCheckError, match="does not conform") as err:
        check_env(register_walk(fault), n_tasks=2)
    assert expected in str(err.value)


def test_report_without_raising(register_walk):
    report = check_env(register_walk("accepts_garbage"), raise_on_error=False)
    assert not report.ok
    assert sum("was accepted" in p for p in report.problems) == len(GARBAGE_ACTIONS)
