"""Conformance check of a registered multi-agent id: PettingZoo's tests plus the agentgym contract.

:func:`check_multiagent_env` runs, for one id made with :func:`agentgym.make`:

1. ``pettingzoo.test.api_test`` (AEC) — for a ``ParallelEnv`` ``parallel_api_test`` and
   ``api_test`` on its ``parallel_to_aec`` view;
2. ``pettingzoo.test.seed_test`` (``parallel_seed_test`` and ``seed_test`` for parallel envs);
3. determinism and info keys: the same seed gives the same ``task_id`` and observations in two
   environments, also along a probe of valid moves; every agent's info carries ``task_id``,
   ``instruction``, ``role``, ``state_key``, ``action_valid``, ``reward_parts`` and ``success``
   with the right types, at reset and after every step;
4. garbage actions: the labelled garbage of :data:`agentgym.core.checker.GARBAGE_ACTIONS` sent by
   the agent to move is invalid (``action_valid=False``), changes no agent's ``state_key``, ends
   nothing and is answered with a message;
5. fuzzing: ``n_fuzz`` random garbage actions (random text, some after a plausible command word),
   mixed with expert moves so they hit many states, raise no exception;
6. the expert plays every seat of ``n_tasks`` games with valid moves only, and the games end by
   their rules (not by the turn limit).

Problems are collected in a :class:`~agentgym.core.checker.CheckReport`; with ``raise_on_error``
they are raised together as :class:`~agentgym.core.checker.EnvCheckError`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from agentgym.core.checker import GARBAGE_ACTIONS, CheckReport, EnvCheckError
from agentgym.core.registration import EnvSpec, make, spec

#: Keys of every agent's info, with their types.
INFO_TYPES: dict[str, type | tuple[type, ...]] = {
    "task_id": str,
    "instruction": str,
    "role": str,
    "state_key": str,
    "action_valid": bool,
    "reward_parts": dict,
    "success": bool,
}
#: Words fuzzed actions may start with (never ``submit``: that would grade junk in docker).
_FUZZ_PREFIXES = ("", "", "say ", "propose ", "ask ", "accept ", "cell ", "col ", "[", "raise ",
                  "question: ", "propose books=")
_FUZZ_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 \n\t.,;:!?[](){}<>=+-*/'\"\\`~@#$%^&_|"
    "éß中🙂\u200b\u202e\x00\x01\x7f"
)


def check_info(info: Any, where: str) -> list[str]:
    """Problems with one agent's info dict (missing keys, wrong types, non-finite parts)."""
    if not isinstance(info, dict):
        return [f"{where}: info must be a dict, got {type(info).__name__}"]
    problems = []
    for key, expected in INFO_TYPES.items():
        if key not in info:
            problems.append(f"{where}: info is missing required key {key!r}")
        elif not isinstance(info[key], expected):
            problems.append(f"{where}: info[{key!r}] must be {expected}, got "
                            f"{type(info[key]).__name__}")
    for name, value in dict(info.get("reward_parts") or {}).items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            problems.append(f"{where}: reward_parts[{name!r}] must be a finite float")
    return problems


def _aec(env: Any) -> Any:
    from pettingzoo import ParallelEnv
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(env) if isinstance(env, ParallelEnv) else env


def _expert_or_legal(env: Any, agent: str) -> str:
    base = env.unwrapped
    expert = getattr(base, "expert_action", None)
    if callable(expert):
        return str(expert(agent))
    legal = base.admissible_actions(agent)
    return legal[0] if legal else ""


def _fuzz_action(rng: np.random.Generator) -> str:
    length = int(rng.choice([0, 1, 3, 8, 40, 400, 5000]))
    chars = rng.choice(len(_FUZZ_CHARS), size=length)
    body = "".join(_FUZZ_CHARS[i] for i in chars)
    prefix = _FUZZ_PREFIXES[int(rng.integers(len(_FUZZ_PREFIXES)))]
    return prefix + body


def check_multiagent_env(
    env_id: str | EnvSpec,
    *,
    seeds: tuple[int, ...] = (0, 1, 2),
    n_tasks: int | None = None,
    api_cycles: int = 200,
    n_fuzz: int = 1000,
    make_kwargs: dict[str, Any] | None = None,
    raise_on_error: bool = True,
) -> CheckReport:
    """Check a multi-agent id (see the module doc).

    Args:
        env_id: a registered multi-agent id or :class:`EnvSpec`.
        seeds: seeds of the determinism and garbage checks.
        n_tasks: games the expert plays (default: the spec's ``checker_kwargs["n_tasks"]`` or 3).
        api_cycles: ``num_cycles`` of PettingZoo's tests.
        n_fuzz: random garbage actions that must raise nothing.
        make_kwargs: extra arguments for :func:`agentgym.make`.
        raise_on_error: raise :class:`EnvCheckError` with every problem.

    Returns:
        The :class:`CheckReport` (``passed`` names the checks that passed).
    """
    from pettingzoo import ParallelEnv
    from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

    env_spec = env_id if isinstance(env_id, EnvSpec) else spec(env_id)
    options = dict(env_spec.checker_kwargs)
    n_tasks = int(options.get("n_tasks", 3)) if n_tasks is None else n_tasks
    kwargs = {**options.get("make_kwargs", {}), **(make_kwargs or {})}
    report = CheckReport(env_id=env_spec.id)
    opened: list[Any] = []

    def new_env() -> Any:
        env = make(env_spec, **kwargs)
        opened.append(env)
        return env

    def run(name: str, fn: Callable[[], list[str]]) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PettingZoo warns about text spaces
                problems = fn()
        except Exception as exc:  # a crash is a finding, not the end of the check
            problems = [f"{name}: raised {type(exc).__name__}: {exc}"]
        if problems:
            report.problems.extend(problems)
        else:
            report.passed.append(name)

    def pettingzoo_api() -> list[str]:
        env = new_env()
        if isinstance(env, ParallelEnv):
            parallel_api_test(env, num_cycles=api_cycles)
            api_test(_aec(new_env()), num_cycles=api_cycles)
        else:
            api_test(env, num_cycles=api_cycles)
        return []

    def pettingzoo_seed() -> list[str]:
        if isinstance(new_env(), ParallelEnv):
            parallel_seed_test(new_env, num_cycles=api_cycles)
            seed_test(lambda: _aec(new_env()), num_cycles=api_cycles)
        else:
            seed_test(new_env, num_cycles=api_cycles)
        return []

    def determinism_and_info() -> list[str]:
        problems: list[str] = []
        env_a, env_b = _aec(new_env()), _aec(new_env())
        for seed in seeds:
            env_a.reset(seed=seed)
            env_b.reset(seed=seed)
            for agent in env_a.agents:
                problems += check_info(env_a.infos.get(agent), f"reset(seed={seed}) {agent}")
                if env_a.infos[agent].get("task_id") != env_b.infos[agent].get("task_id"):
                    problems.append(f"reset(seed={seed}) gave two task_ids: the same seed must "
                                    "give the same task")
                if env_a.observe(agent) != env_b.observe(agent):
                    problems.append(f"reset(seed={seed}): {agent}'s observation differs")
                if not isinstance(env_a.observe(agent), str):
                    problems.append(f"reset(seed={seed}): {agent}'s observation is not text")
            for step in range(30):
                if not env_a.agents:
                    break
                agent = env_a.agent_selection
                dead = env_a.terminations[agent] or env_a.truncations[agent]
                action = None if dead else _expert_or_legal(env_a, agent)
                if action is not None and action.startswith("submit"):
                    break  # do not grade in docker here
                env_a.step(action)
                env_b.step(action)
                for other in env_a.agents:
                    where = f"seed={seed} step={step} {other}"
                    problems += check_info(env_a.infos.get(other), where)
                    if env_a.observe(other) != env_b.observe(other):
                        problems.append(f"{where}: the same seed and actions gave different "
                                        "observations; make reset(seed) and step deterministic")
                        return problems
                if not dead and not env_a.infos.get(agent, {}).get("action_valid", True):
                    problems.append(f"seed={seed} step={step}: the expert's {action!r} was "
                                    "invalid")
        return problems

    def garbage_actions() -> list[str]:
        problems: list[str] = []
        env = _aec(new_env())
        for label, action in GARBAGE_ACTIONS.items():
            env.reset(seed=seeds[0])
            agent = env.agent_selection
            keys = {a: env.infos[a].get("state_key") for a in env.agents}
            try:
                env.step(action)
                if env.agent_selection != agent and agent in env.agents:
                    # a parallel game's round: the others answer validly, then it is played
                    for _ in range(len(env.agents)):
                        if env.agent_selection == agent:
                            break
                        env.step(_expert_or_legal(env, env.agent_selection))
            except Exception as exc:
                problems.append(f"a {label} action raised {type(exc).__name__}: {exc}; answer "
                                "it as an invalid action instead")
                continue
            info = env.infos.get(agent, {})
            if info.get("action_valid", True):
                problems.append(f"a {label} action was accepted (action_valid not False)")
            if {a: env.infos[a].get("state_key") for a in env.agents} != keys:
                problems.append(f"a {label} action changed a state_key; it must not")
            if any(env.terminations.get(a) for a in env.agents):
                problems.append(f"a {label} action ended the game")
            if "nvalid" not in str(env.observe(agent)):
                problems.append(f"the answer to a {label} action does not say it was invalid")
        return problems

    def fuzz() -> list[str]:
        env = _aec(new_env())
        rng = np.random.default_rng(12345)
        crashes: list[str] = []
        env.reset(seed=0)
        for i in range(n_fuzz):
            if not env.agents:
                env.reset(seed=int(rng.integers(1000)))
            agent = env.agent_selection
            if env.terminations[agent] or env.truncations[agent]:
                action: Any = None
            elif rng.random() < 0.25:
                action = _expert_or_legal(env, agent)
                if action.startswith("submit"):
                    action = _fuzz_action(rng)
            else:
                action = _fuzz_action(rng)
            try:
                env.step(action)
            except Exception as exc:
                crashes.append(f"fuzz action {i} ({str(action)[:40]!r}) raised "
                               f"{type(exc).__name__}: {exc}")
                env.reset(seed=0)
        return crashes[:10]

    def expert_plays() -> list[str]:
        problems: list[str] = []
        env = _aec(new_env())
        for seed in range(n_tasks):
            env.reset(seed=seed)
            report.expert_episodes += 1
            truncated = False
            for agent in env.agent_iter():
                dead = env.terminations[agent] or env.truncations[agent]
                truncated = truncated or bool(env.truncations[agent])
                action = None if dead else _expert_or_legal(env, agent)
                env.step(action)
                if not dead and not env.infos.get(agent, {}).get("action_valid", True):
                    problems.append(f"seed={seed}: the expert's {action!r} was invalid")
            if truncated:
                problems.append(f"seed={seed}: the expert's game hit the turn limit")
            else:
                report.expert_successes += 1
        return problems

    try:
        run("pettingzoo api_test", pettingzoo_api)
        run("pettingzoo seed_test", pettingzoo_seed)
        run("determinism and info keys", determinism_and_info)
        run("garbage actions", garbage_actions)
        run("garbage fuzz", fuzz)
        run("expert plays", expert_plays)
    finally:
        for env in opened:
            try:
                env.close()
            except Exception as exc:  # pragma: no cover - closing must not hide findings
                report.problems.append(f"close() raised {type(exc).__name__}: {exc}")
    if raise_on_error and report.problems:
        raise EnvCheckError(
            f"{env_spec.id} does not conform ({len(report.problems)} problems):\n- "
            + "\n- ".join(report.problems)
        )
    return report
