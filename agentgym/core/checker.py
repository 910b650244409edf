"""Conformance checker for agentgym environments: ``agentgym.check_env(id)``.

It runs, for one registered id (each check by its name in :data:`CHECKS`):

1. ``gymnasium API``: Gymnasium's own :func:`gymnasium.utils.env_checker.check_env` on the
   unwrapped environment.
2. ``determinism and info keys``: the same seed gives the same ``task_id`` and the same
   observations, also after the same sequence of actions; every required ``reset`` and ``step``
   info key is present with the right type (see :mod:`agentgym.core.env`).
3. ``step before reset``: ``step()`` before the first ``reset()`` raises
   :class:`gymnasium.error.ResetNeeded`, through :func:`agentgym.make` and unwrapped.
4. ``garbage actions``: every action of :data:`~agentgym.core.garbage.GARBAGE_ACTIONS` (empty,
   1 MB, binary, lone surrogates, prompt injection, JSON nested 10,000 deep, ``NaN`` and
   400-digit numbers, values that are not text …) is answered with ``action_valid=False``, an
   unchanged ``state_key``, no termination and no exception.
5. ``random garbage actions``: ``garbage_actions`` more, drawn from a seeded
   :class:`~agentgym.core.garbage.GarbageStream` (the fixed set, random strings and mutations
   of the environment's own actions), are answered without an exception and within the
   contract; an invalid one leaves ``state_key`` unchanged.
6. ``expert solves every task``: the expert, where one exists, solves every task it is given
   within the turn limit.

Every failure message says what the environment author must fix. All failures are collected
and raised together in one :class:`EnvCheckError`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from agentgym.core.env import (
    RESET_INFO_KEYS,
    STEP_INFO_KEYS,
    echo_action,
    observation_text,
    optional_method,
)
from agentgym.core.garbage import GARBAGE_ACTIONS, GarbageStream
from agentgym.core.registration import EnvSpec, make, spec

#: The checks :func:`check_env` runs, by name, in order.
CHECKS: tuple[str, ...] = (
    "gymnasium API",
    "determinism and info keys",
    "step before reset",
    "garbage actions",
    "random garbage actions",
    "expert solves every task",
)
#: Distinct problems reported by the random garbage check before it only counts the rest.
_MAX_GARBAGE_PROBLEMS = 10

_INFO_TYPES: dict[str, type | tuple[type, ...]] = {
    "task_id": str,
    "instruction": str,
    "answer": str,
    "state_key": str,
    "action_valid": bool,
    "reward_parts": dict,
    "success": bool,
}


class EnvCheckError(AssertionError):
    """Raised by :func:`check_env` with every problem found, one per line."""


@dataclass
class CheckReport:
    """What :func:`check_env` checked and found.

    Attributes:
        env_id: the checked id.
        passed: names of checks that passed.
        problems: one message per problem (empty when the environment conforms).
        expert_episodes: number of expert episodes played, and ``expert_successes`` solved.
    """

    env_id: str
    passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    expert_episodes: int = 0
    expert_successes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_info(info: Any, keys: tuple[str, ...], where: str) -> list[str]:
    if not isinstance(info, dict):
        return [f"{where}: info must be a dict, got {type(info).__name__}"]
    problems = []
    for key in keys:
        if key not in info:
            problems.append(f"{where}: info is missing required key {key!r}")
    for key, expected in _INFO_TYPES.items():
        if key in info and not isinstance(info[key], expected):
            problems.append(
                f"{where}: info[{key!r}] must be {getattr(expected, '__name__', expected)}, "
                f"got {type(info[key]).__name__}"
            )
    parts = info.get("reward_parts")
    if isinstance(parts, dict):
        for name, value in parts.items():
            if not isinstance(name, str) or not isinstance(value, int | float):
                problems.append(
                    f"{where}: reward_parts must map str -> float, got {name!r}: {value!r}"
                )
            elif not math.isfinite(value):
                problems.append(f"{where}: reward_parts[{name!r}] is not finite ({value})")
    return problems


def _same_observation(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        import numpy as np

        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _probe(env: gym.Env, n: int) -> list[tuple[str, Any]]:
    """Play up to ``n`` deterministic actions (expert, else the first admissible action, else a
    fixed word) and return ``(action, observation)`` pairs."""
    played: list[tuple[str, Any]] = []
    expert = optional_method(env, "expert_action")
    admissible = optional_method(env, "admissible_actions")
    for _ in range(n):
        if expert is not None:
            action = expert()
        elif admissible is not None and admissible():
            action = admissible()[0]
        else:
            action = "look"
        obs, _, terminated, truncated, _ = env.step(action)
        played.append((action, obs))
        if terminated or truncated:
            break
    return played


def _step_problems(
    env: gym.Env, result: Any, where: str, before_key: Any
) -> list[str]:
    """What is wrong with one ``step`` result of a made environment (``before_key``: the
    ``state_key`` before the step)."""
    obs, reward, terminated, truncated, info = result
    problems = _check_info(info, STEP_INFO_KEYS, f"step({where})")
    if not isinstance(reward, int | float) or not math.isfinite(float(reward)):
        problems.append(f"step({where}): reward must be a finite float, got {reward!r}")
    if not isinstance(terminated, bool) or not isinstance(truncated, bool):
        problems.append(f"step({where}): terminated/truncated must be bools")
    if not env.observation_space.contains(obs):
        problems.append(f"step({where}): the observation is outside observation_space")
    if isinstance(info, dict) and info.get("action_valid") is False:
        if info.get("state_key") != before_key:
            problems.append(f"step({where}): an invalid action changed state_key; it must not")
        if not observation_text(obs).strip():
            problems.append(f"step({where}): the answer to an invalid action has no message")
    return problems


def play_garbage(
    env: gym.Env, n: int, *, seeds: tuple[int, ...] = (0,), seed: int = 0,
    steps_per_reset: int = 50,
) -> list[str]:
    """Step a made environment with ``n`` garbage actions and return the problems found.

    The actions come from :class:`~agentgym.core.garbage.GarbageStream` (``seed``), mutating
    the environment's own admissible and expert actions of the moment. The environment is reset
    (cycling through ``seeds``) when an episode ends, after ``steps_per_reset`` steps, and after
    an exception. Each distinct problem is reported once (with how often it happened) and the
    action that caused it; after :data:`_MAX_GARBAGE_PROBLEMS` of them the rest are counted.
    """
    stream = GarbageStream(seed)
    admissible = optional_method(env, "admissible_actions")
    expert = optional_method(env, "expert_action")
    problems: dict[str, int] = {}
    more = 0
    episodes = 0

    def reset() -> Any:
        nonlocal episodes
        _, info = env.reset(seed=seeds[episodes % len(seeds)])
        episodes += 1
        return info.get("state_key")

    def report(message: str) -> None:
        nonlocal more
        if message in problems or len(problems) < _MAX_GARBAGE_PROBLEMS:
            problems[message] = problems.get(message, 0) + 1
        else:
            more += 1

    def own_actions() -> list[str]:
        try:
            return [*(admissible() if admissible else []), *([expert()] if expert else [])]
        except Exception as exc:  # the optional methods are part of the contract too
            report(f"admissible_actions()/expert_action() raised {type(exc).__name__}: {exc}")
            return []

    key, steps = reset(), 0
    for _ in range(n):
        label, action = stream.draw(own_actions)
        where = f"{label}: {echo_action(action)}"
        try:
            result = env.step(action)
        except Exception as exc:
            report(f"the garbage action {where} raised {type(exc).__name__}: "
                   f"{echo_action(str(exc), 200)}; answer it as an invalid action instead")
            key, steps = reset(), 0
            continue
        for problem in _step_problems(env, result, where, key):
            report(problem)
        info, steps = result[4], steps + 1
        key = info.get("state_key") if isinstance(info, dict) else None
        if result[2] or result[3] or steps >= steps_per_reset:
            key, steps = reset(), 0
    found = [m if count == 1 else f"{m} ({count} times)" for m, count in problems.items()]
    if more:
        found.append(f"... and {more} more problems with garbage actions")
    return found


def check_env(
    env_id: str | EnvSpec,
    *,
    seeds: tuple[int, ...] = (0, 1, 2),
    n_tasks: int | None = None,
    probe_turns: int = 5,
    garbage_actions: int = 100,
    checks: Collection[str] | None = None,
    make_kwargs: dict[str, Any] | None = None,
    raise_on_error: bool = True,
) -> CheckReport:
    """Check that a registered environment follows the agentgym contract.

    Args:
        env_id: a registered id (or short name / :class:`EnvSpec`).
        seeds: seeds used for the determinism and garbage checks.
        n_tasks: number of tasks (seeds ``0..n_tasks-1``) the expert must solve; defaults to the
            spec's ``checker_kwargs["n_tasks"]`` or 5.
        probe_turns: turns replayed for the determinism check.
        garbage_actions: random garbage actions played by the ``random garbage actions`` check
            (0 skips it). The spec's ``checker_kwargs["garbage_steps_per_reset"]`` (default 50)
            sets the garbage steps per episode (more for environments whose reset is slow).
        checks: names from :data:`CHECKS` to run (default: all).
        make_kwargs: extra keyword arguments for :func:`agentgym.make` (added to the spec's
            ``checker_kwargs["make_kwargs"]``, e.g. a small task pool for slow generators).
        raise_on_error: raise :class:`EnvCheckError` listing every problem (default) instead of
            only returning the report.

    Returns:
        The :class:`CheckReport`. A ``multiagent`` id runs PettingZoo's ``api_test`` and
        ``seed_test`` and the agentgym contract per seat instead
        (:func:`agentgym.core.multiagent_checker.check_multiagent_env`).

    Raises:
        ValueError: ``checks`` names a check that does not exist.
    """
    unknown = set(checks or ()) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; choose from {list(CHECKS)}")
    selected = set(CHECKS if checks is None else checks)
    if garbage_actions <= 0:
        selected.discard("random garbage actions")
    env_spec = env_id if isinstance(env_id, EnvSpec) else spec(env_id)
    if env_spec.family == "multiagent":  # PettingZoo environments: their own checks
        from agentgym.core.multiagent_checker import check_multiagent_env

        return check_multiagent_env(env_spec, seeds=seeds, n_tasks=n_tasks,
                                    n_fuzz=max(garbage_actions, 0), make_kwargs=make_kwargs,
                                    raise_on_error=raise_on_error)
    options = {**env_spec.checker_kwargs}
    if n_tasks is None:
        n_tasks = int(options.get("n_tasks", 5))
    kwargs = {**options.get("make_kwargs", {}), **(make_kwargs or {})}
    report = CheckReport(env_id=env_spec.id)

    def new_env() -> gym.Env:
        return make(env_spec, **kwargs)

    def gymnasium_api() -> list[str]:
        env = new_env()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gymnasium_check_env(env.unwrapped, skip_render_check=True)
        except Exception as exc:
            return [f"gymnasium check_env failed: {type(exc).__name__}: {exc}"]
        finally:
            env.close()
        return []

    def determinism_and_info() -> list[str]:
        problems: list[str] = []
        env_a, env_b = new_env(), new_env()
        try:
            for seed in seeds:
                obs_a, info_a = env_a.reset(seed=seed)
                obs_b, info_b = env_b.reset(seed=seed)
                problems += _check_info(info_a, RESET_INFO_KEYS, f"reset(seed={seed})")
                if not env_a.observation_space.contains(obs_a):
                    problems.append(f"reset(seed={seed}): observation not in observation_space")
                if info_a.get("task_id") != info_b.get("task_id"):
                    problems.append(
                        f"reset(seed={seed}) gave task_id {info_a.get('task_id')!r} then "
                        f"{info_b.get('task_id')!r}: the same seed must give the same task"
                    )
                if not _same_observation(obs_a, obs_b):
                    problems.append(f"reset(seed={seed}) gave different observations in two envs")
                key = info_b.get("state_key")
                for turn, (action, expected_obs) in enumerate(_probe(env_a, probe_turns)):
                    result = env_b.step(action)
                    where = f"seed={seed} turn={turn} action={action!r}"
                    problems += _step_problems(env_b, result, where, key)
                    key = result[4].get("state_key")
                    if not _same_observation(expected_obs, result[0]):
                        problems.append(
                            f"step({where}): the same seed and actions gave different "
                            "observations; make reset(seed) and step deterministic"
                        )
                        break
                    if result[2] or result[3]:
                        break
        finally:
            env_a.close()
            env_b.close()
        return problems

    def step_before_reset() -> list[str]:
        problems: list[str] = []
        env = new_env()
        try:
            for target, where in ((env.unwrapped, "unwrapped"), (env, "through agentgym.make")):
                try:
                    target.step("")
                except ResetNeeded:
                    continue
                except Exception as exc:
                    problems.append(
                        f"step() before reset() ({where}) raised {type(exc).__name__}: {exc}; "
                        "raise gymnasium.error.ResetNeeded('call reset() before step()')"
                    )
                else:
                    problems.append(
                        f"step() before reset() ({where}) returned; raise "
                        "gymnasium.error.ResetNeeded('call reset() before step()')"
                    )
        finally:
            env.close()
        return problems

    def fixed_garbage() -> list[str]:
        problems: list[str] = []
        env = new_env()
        try:
            _, info = env.reset(seed=seeds[0])
            key = info.get("state_key")
            for label, action in GARBAGE_ACTIONS.items():
                try:
                    result = env.step(action)
                except Exception as exc:
                    problems.append(
                        f"a {label} action raised {type(exc).__name__}: "
                        f"{echo_action(str(exc), 200)}; answer it as an invalid action instead"
                    )
                    _, info = env.reset(seed=seeds[0])
                    key = info.get("state_key")
                    continue
                _, _, terminated, truncated, step_info = result
                problems += _step_problems(env, result, f"a {label} action", key)
                if step_info.get("action_valid", True):
                    problems.append(f"a {label} action was accepted (action_valid not False)")
                    if step_info.get("state_key") != key:
                        problems.append(f"a {label} action changed state_key; it must not")
                if terminated:
                    problems.append(f"a {label} action terminated the episode")
                if terminated or truncated or step_info.get("state_key") != key:
                    _, info = env.reset(seed=seeds[0])
                    key = info.get("state_key")
        finally:
            env.close()
        return problems

    def random_garbage() -> list[str]:
        # A turn limit below steps_per_reset would only add resets (seconds each in SWE).
        per_reset = int(options.get("garbage_steps_per_reset", 50))
        limit = max(env_spec.max_episode_steps or 0, per_reset)
        env = make(env_spec, max_episode_steps=limit, **kwargs)
        try:
            return play_garbage(env, garbage_actions, seeds=seeds, steps_per_reset=per_reset)
        finally:
            env.close()

    def expert_solves() -> list[str]:
        problems: list[str] = []
        env = new_env()
        try:
            expert = optional_method(env, "expert_action")
            if expert is None:
                return []
            for seed in range(n_tasks):
                env.reset(seed=seed)
                report.expert_episodes += 1
                terminated = truncated = False
                info: dict[str, Any] = {}
                while not (terminated or truncated):
                    action = expert()
                    _, _, terminated, truncated, info = env.step(action)
                if info.get("success"):
                    report.expert_successes += 1
                else:
                    problems.append(
                        f"the expert did not solve task seed={seed} "
                        f"(terminated={terminated}, truncated={truncated})"
                    )
        finally:
            env.close()
        return problems

    runs: dict[str, Callable[[], list[str]]] = {
        "gymnasium API": gymnasium_api,
        "determinism and info keys": determinism_and_info,
        "step before reset": step_before_reset,
        "garbage actions": fixed_garbage,
        "random garbage actions": random_garbage,
        "expert solves every task": expert_solves,
    }
    for name, fn in runs.items():
        if name not in selected:
            continue
        try:
            problems = fn()
        except Exception as exc:  # a crash is a finding, not the end of the check
            problems = [f"{name}: raised {type(exc).__name__}: {echo_action(str(exc), 300)}"]
        if problems:
            report.problems.extend(problems)
        else:
            report.passed.append(name)

    if raise_on_error and report.problems:
        raise EnvCheckError(
            f"{env_spec.id} does not conform ({len(report.problems)} problems):\n- "
            + "\n- ".join(report.problems)
        )
    return report
