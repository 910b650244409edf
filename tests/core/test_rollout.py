"""Tests of agentgym.core.rollout.collect on a fake environment with injectable behaviour."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

import agentgym
from agentgym.core.policies import ExpertPolicy, RandomPolicy, ScriptedPolicy
from agentgym.core.policy import Generation, Request
from agentgym.core.registration import UnknownEnvError, registry
from agentgym.core.rollout import RolloutStats, collect
from agentgym.core.trajectory import StepBatch

ENV_ID = "test/RolloutCounter-v0"
_serial = itertools.count()


class CounterEnv(agentgym.TextEnv):
    """Walk a counter from 0 to a goal with ``inc``/``dec``/``stay``.

    The goal is ``3 + seed % 3`` unless ``goals[seed]`` says otherwise. A step costs -0.1
    (``step`` part); reaching the goal gives +1 (``outcome`` part) and ``score=1.0``.

    Args:
        log: shared list receiving ``("make"|"close", serial number)`` events.
        barrier: a :class:`threading.Barrier` every step waits at (passes only when as many
            steps as it has parties run at once).
        gates: ``{seed: (event, timeout)}``: the first step of that seed waits until ``event``
            is set (at most ``timeout`` seconds).
        crash_at: ``{seed: k}`` raises ``RuntimeError`` in the k-th step (0-based) of that seed.
        reset_crash: seeds whose ``reset`` raises.
        goals: goal by seed.
        step_log: shared list receiving ``(seed, turn)`` after each step, in completion order;
            ``on_step(seed, turn)`` is called right after.
    """

    def __init__(
        self,
        log: list | None = None,
        barrier: threading.Barrier | None = None,
        gates: dict[int, tuple[threading.Event, float]] | None = None,
        crash_at: dict[int, int] | None = None,
        reset_crash: Sequence[int] = (),
        goals: dict[int, int] | None = None,
        step_log: list | None = None,
        on_step: Any = None,
    ) -> None:
        super().__init__()
        self.log = log if log is not None else []
        self.barrier = barrier
        self.gates = gates or {}
        self.crash_at = crash_at or {}
        self.reset_crash = set(reset_crash)
        self.goals = goals or {}
        self.step_log = step_log
        self.on_step = on_step
        self.serial = next(_serial)
        self.log.append(("make", self.serial))
        self.seed_, self.pos, self.goal, self.t = 0, 0, 3, 0

    def _obs(self) -> str:
        return f"pos {self.pos} goal {self.goal}"

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.seed_ = int(seed or 0)
        if self.seed_ in self.reset_crash:
            raise ValueError(f"cannot build task {self.seed_}")
        self.pos, self.t = 0, 0
        self.goal = self.goals.get(self.seed_, 3 + self.seed_ % 3)
        info = self.reset_info(
            task_id=f"task-{self.seed_}", instruction="reach the goal",
            state_key=f"p{self.pos}", answer=str(self.goal),
        )
        return self._obs(), info

    def admissible_actions(self) -> list[str]:
        return ["inc", "dec", "stay"]

    def expert_action(self) -> str:
        return "inc"

    def step(self, action: str):
        if self.crash_at.get(self.seed_) == self.t:
            raise RuntimeError(f"boom at step {self.t}")
        if self.barrier is not None:
            self.barrier.wait()
        if self.t == 0 and self.seed_ in self.gates:
            event, timeout = self.gates[self.seed_]
            event.wait(timeout)
        valid = action in ("inc", "dec", "stay")
        if valid:
            self.pos += {"inc": 1, "dec": -1, "stay": 0}[action]
        self.t += 1
        success = self.pos == self.goal
        parts = {"step": -0.1, **({"outcome": 1.0} if success else {})}
        info = self.step_info(
            state_key=f"p{self.pos}", action_valid=valid, reward_parts=parts, success=success,
            np_value=np.float32(0.5), unserializable=object(), huge="x" * 10_000,
        )
        if success:
            info["score"] = 1.0
        if self.step_log is not None:
            self.step_log.append((self.seed_, self.t))
        if self.on_step is not None:
            self.on_step(self.seed_, self.t)
        return self._obs(), self.reward_from_parts(parts), success, False, info

    def close(self) -> None:
        self.log.append(("close", self.serial))


@pytest.fixture
def env_log() -> Iterator[list]:
    """Register the counter env; yields the make/close log and checks every env was closed."""
    agentgym.register(id=ENV_ID, entry_point=CounterEnv, max_episode_steps=20)
    log: list = []
    try:
        yield log
    finally:
        registry.pop(ENV_ID, None)
    made = [i for kind, i in log if kind == "make"]
    closed = [i for kind, i in log if kind == "close"]
    assert sorted(made) == sorted(closed), "every environment must be closed exactly once"


class Recorder:
    """Wraps a policy and keeps every batch of requests it was called with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches: list[list[Request]] = []

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        self.batches.append([*requests])
        return self.inner(requests)


# --- groups and turn records -------------------------------------------------------------------
def test_groups_share_seed_task_and_group_id(env_log: list) -> None:
    episodes = collect(ENV_ID, ExpertPolicy(), tasks=[0, 1, 2], group_size=3,
                       env_kwargs={"log": env_log})
    assert len(episodes) == 9
    assert [e.seed for e in episodes] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [e.task_id for e in episodes] == ["task-0"] * 3 + ["task-1"] * 3 + ["task-2"] * 3
    groups = [e.group_id for e in episodes]
    assert len(set(groups)) == 3
    assert groups[0] == groups[1] == groups[2] != groups[3]
    assert len({e.episode_id for e in episodes}) == 9
    assert all(e.env_id == ENV_ID and e.success and e.terminated for e in episodes)
    # goal = 3 + seed % 3 turns of "inc"
    assert [len(e.turns) for e in episodes] == [3] * 3 + [4] * 3 + [5] * 3
    batch = StepBatch.from_episodes(episodes)
    assert batch.group.tolist() == [0] * 9 + [1] * 12 + [2] * 15

    again = collect(ENV_ID, ExpertPolicy(), tasks=[0], env_kwargs={"log": env_log})
    assert again[0].group_id != episodes[0].group_id, "two collect calls must not share groups"


def test_turn_fields_are_recorded_from_reset_and_step(env_log: list) -> None:
    (episode,) = collect(ENV_ID, ExpertPolicy(), tasks=[0], env_kwargs={"log": env_log})
    assert [t.observation for t in episode.turns] == [
        "pos 0 goal 3", "pos 1 goal 3", "pos 2 goal 3"
    ]
    assert [t.state_key for t in episode.turns] == ["p0", "p1", "p2"]
    assert [t.action for t in episode.turns] == ["inc"] * 3
    assert [t.reward for t in episode.turns] == pytest.approx([-0.1, -0.1, 0.9])
    assert episode.turns[-1].reward_parts == {"step": -0.1, "outcome": 1.0}
    assert [t.terminated for t in episode.turns] == [False, False, True]
    assert not any(t.truncated for t in episode.turns)
    info = episode.turns[0].info
    assert info["np_value"] == 0.5 and isinstance(info["np_value"], float)
    assert "unserializable" not in info and "huge" not in info
    assert "state_key" not in info and "reward_parts" not in info
    assert episode.info["instruction"] == "reach the goal" and episode.info["answer"] == "3"
    assert episode.outcome == 1.0  # the last info's score, not the reward sum 0.7
    assert episode.success


def test_outcome_is_reward_sum_without_score(env_log: list) -> None:
    (episode,) = collect(ENV_ID, ScriptedPolicy(lambda r: "stay"), tasks=[0], max_turns=4,
                         env_kwargs={"log": env_log})
    assert episode.outcome == pytest.approx(-0.4)
    assert not episode.success


# --- turn limit -------------------------------------------------------------------------------
def test_turn_limit_truncates_not_terminates(env_log: list) -> None:
    (episode,) = collect(ENV_ID, ScriptedPolicy(lambda r: "stay"), tasks=[0], max_turns=4,
                         env_kwargs={"log": env_log})
    assert len(episode.turns) == 4
    assert [t.truncated for t in episode.turns] == [False, False, False, True]
    assert not any(t.terminated for t in episode.turns)
    assert episode.truncated and not episode.terminated


def test_turn_limit_counts_unparsable_outputs(env_log: list) -> None:
    # ActionParser steps unparsable text as the no-op "" action, so TurnLimit counts it.
    (episode,) = collect(ENV_ID, ScriptedPolicy(lambda r: "no tags here", render=False),
                         tasks=[0], max_turns=3, action_format="xml",
                         env_kwargs={"log": env_log})
    assert len(episode.turns) == 3
    assert not any(t.action_valid for t in episode.turns)
    assert [t.truncated for t in episode.turns] == [False, False, True]
    assert episode.turns[-1].info["truncated_reason"] == "turn_limit"


def test_no_turn_limit_anywhere_is_an_error(env_log: list) -> None:
    agentgym.register(id="test/NoLimit-v0", entry_point=CounterEnv)
    try:
        with pytest.raises(ValueError, match="max_turns"):
            collect("test/NoLimit-v0", ExpertPolicy(), tasks=[0])
    finally:
        registry.pop("test/NoLimit-v0", None)


# --- concurrency --------------------------------------------------------------------------------
def test_env_steps_run_concurrently(env_log: list) -> None:
    # Every step waits at a barrier that only 8 steps running at once can pass: run one at a
    # time, the barrier times out and every episode ends with an error.
    barrier = threading.Barrier(8, timeout=30)
    goals = dict.fromkeys(range(8), 3)
    episodes = collect(ENV_ID, ExpertPolicy(), tasks=range(8), num_workers=8,
                       env_kwargs={"log": env_log, "barrier": barrier, "goals": goals})
    assert all(e.success and len(e.turns) == 3 for e in episodes)
    assert not barrier.broken


_FAST = range(1, 6)


def test_slow_env_does_not_stall_the_others(env_log: list) -> None:
    # Seed 0's first step is held until the five fast episodes (8 turns each) have finished:
    # a rollout that waited for it would hold them too, and the gate would time out instead.
    finished: set[int] = set()
    all_fast_done = threading.Event()

    def on_episode(episode: Any) -> None:
        finished.add(episode.seed)
        if finished >= set(_FAST):
            all_fast_done.set()

    step_log: list = []
    collect(ENV_ID, ExpertPolicy(), tasks=range(6), num_workers=6, straggler_timeout=0.02,
            on_episode=on_episode,
            env_kwargs={"log": env_log, "goals": {0: 2, **dict.fromkeys(_FAST, 8)},
                        "gates": {0: (all_fast_done, 30.0)}, "step_log": step_log})
    slow_first = step_log.index((0, 1))
    assert all(step_log.index((seed, 8)) < slow_first for seed in _FAST)


def test_lock_step_waves_wait_for_the_slow_env(env_log: list) -> None:
    # The contrast to the test above: with straggler_timeout=None every wave waits for all.
    # Seed 0's first step is held until a fast env takes its second step, which lock-step waves
    # never allow: the gate times out (0.5 s) and the log shows every fast env waited.
    second_step = threading.Event()

    def on_step(seed: int, turn: int) -> None:
        if seed != 0 and turn == 2:
            second_step.set()

    step_log: list = []
    collect(ENV_ID, ExpertPolicy(), tasks=range(6), num_workers=6, straggler_timeout=None,
            env_kwargs={"log": env_log, "goals": {0: 2, **dict.fromkeys(_FAST, 8)},
                        "gates": {0: (second_step, 0.5)}, "step_log": step_log,
                        "on_step": on_step})
    slow_first = step_log.index((0, 1))
    assert all(step_log.index((seed, 2)) > slow_first for seed in _FAST)


def test_inline_and_threaded_give_the_same_episodes(env_log: list) -> None:
    kwargs = {"tasks": range(4), "group_size": 2, "run_id": "r", "env_kwargs": {"log": env_log}}
    inline = collect(ENV_ID, RandomPolicy(3), max_turns=6, num_workers=0, **kwargs)
    threaded = collect(ENV_ID, RandomPolicy(3), max_turns=6, num_workers=4, **kwargs)
    assert [e.to_dict() for e in inline] == [e.to_dict() for e in threaded]


def test_num_envs_and_max_batch_size_bound_the_batches(env_log: list) -> None:
    policy = Recorder(ExpertPolicy())
    stats = RolloutStats()
    episodes = collect(ENV_ID, policy, tasks=range(10), num_envs=4, max_batch_size=3,
                       env_kwargs={"log": env_log}, stats=stats, straggler_timeout=None)
    assert all(e.success for e in episodes)
    assert max(len(b) for b in policy.batches) == 3
    assert stats.envs_made == 4  # one environment per slot, reused across episodes
    assert stats.episodes == 10 and stats.steps == sum(len(e.turns) for e in episodes)
    assert stats.policy_calls == len(policy.batches)
    # Each wave of at most 4 live episodes is split into calls of at most 3.
    assert stats.waves <= stats.policy_calls <= 2 * stats.waves


# --- failures ----------------------------------------------------------------------------------
def test_crashing_step_ends_only_its_episode(env_log: list) -> None:
    episodes = collect(ENV_ID, ExpertPolicy(), tasks=[0, 1, 2], group_size=2,
                       env_kwargs={"log": env_log, "crash_at": {1: 2}})
    crashed = [e for e in episodes if e.seed == 1]
    assert all(e.success for e in episodes if e.seed != 1)
    for episode in crashed:
        error = episode.info["error"]
        assert error["type"] == "RuntimeError" and "boom at step 2" in error["message"]
        assert error["stage"] == "step" and error["turn"] == 2
        assert len(episode.turns) == 3
        assert [t.truncated for t in episode.turns] == [False, False, True]
        assert not episode.turns[-1].terminated
        assert episode.truncated and not episode.success


def test_crashing_reset_gives_an_episode_without_turns(env_log: list) -> None:
    stats = RolloutStats()
    episodes = collect(ENV_ID, ExpertPolicy(), tasks=[5, 0], num_envs=1, stats=stats,
                       env_kwargs={"log": env_log, "reset_crash": [5]})
    bad, good = episodes
    assert bad.turns == [] and bad.info["error"]["type"] == "ValueError"
    assert "cannot build task 5" in bad.info["error"]["message"]
    assert bad.info["error"]["stage"] == "reset"
    assert good.success and good.seed == 0
    assert stats.errors == 1 and stats.envs_made == 2  # the crashed instance was replaced


def test_policy_error_generation_ends_the_episode(env_log: list) -> None:
    (episode,) = collect(ENV_ID, ScriptedPolicy(["inc"]), tasks=[0],
                         env_kwargs={"log": env_log})
    assert len(episode.turns) == 1 and episode.turns[0].truncated
    assert episode.info["error"]["stage"] == "policy"
    assert "script exhausted" in episode.info["error"]["message"]


def test_envs_closed_when_the_policy_raises(env_log: list) -> None:
    calls = []

    def policy(requests: Sequence[Request]) -> list[Generation]:
        calls.append(len(requests))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return [Generation("inc") for _ in requests]

    with pytest.raises(KeyboardInterrupt):
        collect(ENV_ID, policy, tasks=range(5), env_kwargs={"log": env_log})
    assert sum(kind == "make" for kind, _ in env_log) == 5  # env_log fixture checks the closes


def test_wrong_number_of_generations_is_an_error(env_log: list) -> None:
    with pytest.raises(ValueError, match="returned 0 generations for 2 requests"):
        collect(ENV_ID, lambda requests: [], tasks=[0, 1], env_kwargs={"log": env_log})


def test_bad_arguments_are_clear_errors(env_log: list) -> None:
    with pytest.raises(UnknownEnvError, match="no environment registered"):
        collect("test/DoesNotExist-v0", ExpertPolicy(), tasks=[0])
    with pytest.raises(ValueError, match="range"):
        collect(ENV_ID, ExpertPolicy(), tasks=3)
    with pytest.raises(ValueError, match="group_size"):
        collect(ENV_ID, ExpertPolicy(), tasks=[0], group_size=0)
    with pytest.raises(ValueError, match="action_format"):
        collect(ENV_ID, ExpertPolicy(), tasks=[0], action_format="yaml")
    assert collect(ENV_ID, ExpertPolicy(), tasks=[]) == []


# --- what the policy sees and returns ------------------------------------------------------------
def test_token_ids_and_logprobs_are_kept_exactly(env_log: list) -> None:
    def policy(requests: Sequence[Request]) -> list[Generation]:
        out = []
        for r in requests:
            base = 1000 * int(r.episode_id.rsplit("#", 1)[1]) + 10 * r.turn
            out.append(Generation(
                text="inc",
                token_ids=[base, base + 1, 2**31 - 1],
                logprobs=[-1e-9, -0.1234567890123, -17.5 - r.turn],
                prompt_ids=[7, r.turn],
                info={"finish_reason": "stop"},
            ))
        return out

    episodes = collect(ENV_ID, policy, tasks=[0], group_size=2, env_kwargs={"log": env_log})
    for member, episode in enumerate(episodes):
        for t, turn in enumerate(episode.turns):
            base = 1000 * member + 10 * t
            assert turn.response_ids == [base, base + 1, 2**31 - 1]
            assert turn.response_logprobs == [-1e-9, -0.1234567890123, -17.5 - t]
            assert turn.prompt_ids == [7, t]
            assert turn.response_text == "inc"
            assert turn.info["policy"] == {"finish_reason": "stop"}


def test_chat_history_messages_reach_the_policy(env_log: list) -> None:
    policy = Recorder(ExpertPolicy())
    collect(ENV_ID, policy, tasks=[0], system_prompt="SYS", env_kwargs={"log": env_log})
    requests = [batch[0] for batch in policy.batches]
    assert [r.turn for r in requests] == [0, 1, 2]
    assert requests[0].messages == [
        {"role": "system", "content": "SYS"},
        {"role": "user", "content": "Task: reach the goal\n\npos 0 goal 3"},
    ]
    assert requests[2].messages[1:] == [
        {"role": "user", "content": "Task: reach the goal\n\npos 0 goal 3"},
        {"role": "assistant", "content": "inc"},
        {"role": "user", "content": "pos 1 goal 3"},
        {"role": "assistant", "content": "inc"},
        {"role": "user", "content": "pos 2 goal 3"},
    ]
    assert requests[2].observation == "pos 2 goal 3"


def test_history_window_limits_the_messages(env_log: list) -> None:
    policy = Recorder(ExpertPolicy())
    collect(ENV_ID, policy, tasks=[0], history_window=1, env_kwargs={"log": env_log})
    assert policy.batches[2][0].messages == [
        {"role": "user", "content": "Task: reach the goal"},
        {"role": "assistant", "content": "inc"},
        {"role": "user", "content": "pos 2 goal 3"},
    ]


@pytest.mark.parametrize("policy_name", ["random", "expert"])
def test_xml_action_format_with_simple_policies(env_log: list, policy_name: str) -> None:
    policy = RandomPolicy(0) if policy_name == "random" else ExpertPolicy()
    episodes = collect(ENV_ID, policy, tasks=[0, 1], group_size=2, max_turns=8,
                       action_format="xml", env_kwargs={"log": env_log})
    turns = [t for e in episodes for t in e.turns]
    assert all(t.action_valid for t in turns)
    assert all(t.response_text == f"<action>{t.action}</action>" for t in turns)
    assert {t.action for t in turns} <= {"inc", "dec", "stay"}
    if policy_name == "expert":
        assert all(e.success for e in episodes)
    else:
        assert len({t.action for t in turns}) > 1


def test_policy_is_called_from_one_thread_with_live_envs(env_log: list) -> None:
    threads = set()

    def policy(requests: Sequence[Request]) -> list[Generation]:
        threads.add(threading.get_ident())
        assert all(r.env is not None and r.env.unwrapped.t == r.turn for r in requests)
        return [Generation("inc") for _ in requests]

    collect(ENV_ID, policy, tasks=range(6), env_kwargs={"log": env_log})
    assert threads == {threading.get_ident()}


# --- integration with a built-in environment ---------------------------------------------------
@pytest.mark.parametrize("action_format", ["plain", "xml"])
def test_expert_solves_sokoban(action_format: str) -> None:
    stats = RolloutStats()
    episodes = collect("agentgym/Sokoban-v0", ExpertPolicy(), tasks=range(16), group_size=1,
                       action_format=action_format, stats=stats)
    assert len(episodes) == 16
    assert all(e.success and e.terminated and not e.truncated for e in episodes)
    assert all(e.info.get("error") is None for e in episodes)
    assert len({e.task_id for e in episodes}) == 16
    assert all(t.action in ("up", "down", "left", "right") for e in episodes for t in e.turns)
    assert stats.envs_made == 16 and stats.errors == 0
