"""The conformance checker finds each kind of contract violation and passes a good env."""

from __future__ import annotations

import pytest
from gymnasium.error import ResetNeeded

import agentgym
from agentgym.core import registration
from agentgym.core.checker import CHECKS, EnvCheckError, check_env, play_garbage
from agentgym.core.env import TextEnv
from agentgym.core.garbage import GARBAGE_ACTIONS, GarbageStream


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
        if not hasattr(self, "pos"):
            if self.fault == "no_reset_check":
                raise RuntimeError("not reset")
            raise ResetNeeded("call reset() before step()")
        if action != "right":
            if self.fault == "crash_on_garbage":
                raise ValueError("cannot parse")
            if self.fault == "crash_on_surrogates" and "\ud800" in str(action):
                raise UnicodeEncodeError("utf-8", str(action), 0, 1, "surrogates not allowed")
            if self.fault == "moves_on_invalid" and action == "":
                self.pos += 1
            valid = self.fault == "accepts_garbage"
            return f"bad {str(action)[:10]!r}", 0.0, False, False, self.step_info(
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


class RawWalk(Walk):
    """Walk with the step it was written with: like an environment built on ``gymnasium.Env``
    directly, it does not get :class:`TextEnv`'s automatic reset check (used to show that the
    checker catches a missing one)."""

    def step(self, action):
        return Walk.step.__wrapped__(self, action)

    step._agentgym_checked = True  # opt out of TextEnv's wrapping


@pytest.fixture
def register_walk():
    saved = dict(registration.registry)

    def _register(fault=None):
        env_id = f"test/Walk{fault or ''}-v0".replace("_", "")
        entry = RawWalk if fault == "no_reset_check" else Walk
        agentgym.register(env_id, entry_point=entry, max_episode_steps=8, kwargs={"fault": fault})
        return env_id

    yield _register
    registration.registry.clear()
    registration.registry.update(saved)


def test_good_env_passes(register_walk):
    report = check_env(register_walk(), n_tasks=4, garbage_actions=300)
    assert report.ok and report.expert_successes == report.expert_episodes == 4
    assert report.passed == list(CHECKS)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("random_task", "same seed must give the same task"),
        ("missing_key", "missing required key 'instruction'"),
        ("crash_on_garbage", "raised ValueError"),
        ("accepts_garbage", "was accepted"),
        ("wrong_type", "info['success'] must be bool"),
        ("bad_expert", "the expert did not solve task"),
        ("no_reset_check", "step() before reset() (unwrapped) raised RuntimeError"),
        ("crash_on_surrogates", "a lone surrogate action raised UnicodeEncodeError"),
        ("moves_on_invalid", "an invalid action changed state_key"),
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
    assert "random garbage actions" in report.passed  # a mutation may be valid: no exception


def test_random_garbage_reports_each_exception_with_its_action(register_walk):
    report = check_env(register_walk("crash_on_surrogates"), checks=["random garbage actions"],
                       garbage_actions=500, raise_on_error=False)
    assert report.passed == [] and len(report.problems) <= 11
    assert all("raised UnicodeEncodeError" in p or p.startswith("... and") for p in report.problems)
    assert any("fixed: lone surrogate:" in p for p in report.problems)


def test_checks_select_what_runs(register_walk):
    report = check_env(register_walk("bad_expert"), checks=["step before reset"])
    assert report.passed == ["step before reset"]
    with pytest.raises(ValueError, match="unknown checks"):
        check_env(register_walk(), checks=["nope"])


def test_garbage_stream_is_seeded_and_mixes_its_sources():
    def draws(seed):
        stream = GarbageStream(seed, max_chars=5_000)
        return [stream.draw(lambda: ["right", '{"name": "go", "arguments": {"n": 1}}'])
                for _ in range(len(GARBAGE_ACTIONS) + 300)]

    first, again, other = draws(0), draws(0), draws(1)
    assert [label for label, _ in first] == [label for label, _ in again]
    assert [label for label, _ in first] != [label for label, _ in other]
    labels = [label for label, _ in first[len(GARBAGE_ACTIONS):]]
    assert [label for label, _ in first[: len(GARBAGE_ACTIONS)]] == [
        f"fixed: {label}" for label in GARBAGE_ACTIONS]
    for source in ("fixed: ", "random ", "mutation "):
        assert sum(label.startswith(source) for label in labels) > 30, source
    assert any("'{\"name\": \"go\"" in label for label in labels)  # JSON mutations too


def test_play_garbage_on_a_made_env_counts_repeated_problems(register_walk):
    env = agentgym.make(register_walk("accepts_garbage"))
    problems = play_garbage(env, 200)
    # accepted garbage is allowed in the random stream, but not an exception
    assert problems == []
    env = agentgym.make(register_walk("crash_on_garbage"))
    problems = play_garbage(env, 200)
    assert len(problems) == 11 and problems[-1].startswith("... and ")


def test_text_env_subclasses_check_reset_and_take_any_action():
    """TextEnv gives every subclass the reset check and str actions, without a wrapper."""
    env = Walk()
    with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)"):
        env.step("right")
    env.reset(seed=0)
    for action in (None, 42, b"right", ["right"], float("nan")):
        obs, _, terminated, _, info = env.step(action)
        assert info["action_valid"] is False and not terminated and obs.startswith("bad ")
    assert env.step("right")[4]["action_valid"] is True
