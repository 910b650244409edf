"""Collect episodes by driving many environments with one batched policy.

::

    from agentgym.core.policies import ExpertPolicy
    from agentgym.core.rollout import collect

    episodes = collect("agentgym/Sokoban-v0", ExpertPolicy(), tasks=range(16), group_size=8,
                       max_turns=30)

Each task is a seed; it is played ``group_size`` times from that seed, and those episodes share a
``group_id`` (the group GRPO/GiGPO baselines compare within). The loop runs in *turn waves*:

1. every live episode waiting for an action becomes one :class:`~agentgym.core.policy.Request`
   (chat messages from :class:`~agentgym.core.wrappers.ChatHistory`, the observation and, for
   oracle policies, the live environment);
2. the policy is called once on that batch (in chunks of ``max_batch_size``) — what an LLM
   engine needs for batched generation;
3. every environment steps concurrently in a thread pool; finished episodes leave the batch and
   their slot starts the next queued episode (one environment instance per slot, reused).

A wave starts as soon as one environment is ready and the others have had ``straggler_timeout``
seconds to catch up, so one slow environment does not stall the rest (``None`` = lock-step
waves). Token ids and log-probs are stored on the :class:`~agentgym.core.trajectory.Turn`
exactly as the policy returned them. An exception in ``reset`` or ``step`` ends only that
episode, as truncated, with ``Episode.info["error"]`` recording it; a :class:`Generation` whose
``info`` has an ``"error"`` (e.g. an HTTP endpoint that kept failing) ends its episode the same
way. All environments are closed when ``collect`` returns or raises.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from agentgym.core.env import env_tools, observation_text
from agentgym.core.policy import Generation, Policy, Request
from agentgym.core.registration import EnvSpec, make, spec
from agentgym.core.trajectory import Episode, Turn
from agentgym.core.wrappers import (
    ACTION_FORMATS,
    ActionParser,
    ChatHistory,
    InvalidActionPenalty,
)

#: Step-info keys stored in dedicated :class:`Turn` fields (or as ``response_text``), not in
#: ``Turn.info``.
_TURN_FIELD_KEYS = frozenset(
    {"state_key", "action_valid", "reward_parts", "raw_action", "parsed_action"}
)
#: Default cap on the JSON size of one info value kept on a turn or episode.
MAX_INFO_CHARS = 4096


@dataclass
class RolloutStats:
    """Timing and counts of one :func:`collect` call (pass an instance to fill it in).

    Attributes:
        wall_s: wall-clock seconds of the whole call.
        env_step_s: summed seconds spent inside ``env.step`` (over all threads).
        env_reset_s: summed seconds spent making and resetting environments.
        policy_s: seconds spent inside the policy.
        waves: number of turn waves (policy rounds).
        policy_calls: number of policy calls (waves times chunks).
        steps: number of environment steps.
        episodes: number of episodes collected.
        errors: number of episodes ended by an error.
        envs_made: number of environment instances made.
    """

    wall_s: float = 0.0
    env_step_s: float = 0.0
    env_reset_s: float = 0.0
    policy_s: float = 0.0
    waves: int = 0
    policy_calls: int = 0
    steps: int = 0
    episodes: int = 0
    errors: int = 0
    envs_made: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_time(self, name: str, seconds: float) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + seconds)

    @property
    def overhead_s(self) -> float:
        """Wall time not spent stepping/resetting environments or in the policy.

        Environment time is summed over threads, so with concurrent steps this can be negative.
        """
        return self.wall_s - self.env_step_s - self.env_reset_s - self.policy_s


@dataclass
class _Job:
    """One episode to play."""

    index: int
    seed: int
    group_id: str
    episode_id: str


@dataclass
class _Slot:
    """One concurrent episode slot owning one environment instance."""

    env: gym.Env | None = None
    job: _Job | None = None
    episode: Episode | None = None
    observation: Any = None
    state_key: str = ""
    last_info: dict[str, Any] = field(default_factory=dict)
    future: Future | None = None
    kind: str = ""  # "reset" or "step" while a future is in flight
    generation: Generation | None = None
    awaiting: bool = False  # waiting for the policy's action


def collect(
    env_id: str | EnvSpec,
    policy: Policy | Callable[[Sequence[Request]], Sequence[Generation]],
    tasks: Iterable[int],
    group_size: int = 1,
    max_turns: int | None = None,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    action_format: str = "plain",
    history_window: int | None = None,
    system_prompt: str | None = None,
    format_observation: Callable[[Any, dict[str, Any]], str] | None = None,
    invalid_penalty: float = 0.0,
    num_envs: int | None = None,
    num_workers: int | None = None,
    max_batch_size: int | None = None,
    straggler_timeout: float | None = 0.1,
    run_id: str | None = None,
    on_episode: Callable[[Episode], None] | None = None,
    stats: RolloutStats | None = None,
    max_info_chars: int = MAX_INFO_CHARS,
    backend: Any = "thread",
) -> list[Episode]:
    """Play every task ``group_size`` times with ``policy`` and return the episodes.

    Args:
        env_id: a registered id (or unambiguous short name) or an :class:`EnvSpec`.
        policy: called with a batch of :class:`Request` (one per live episode), returns one
            :class:`Generation` per request (a bare ``str`` is accepted as ``Generation(text)``).
        tasks: seeds; each seed is one task (``env.reset(seed=seed)``).
        group_size: episodes per task, all reset from the same seed; they share a ``group_id``.
        max_turns: turn limit (``truncated=True`` when reached); ``None`` uses the
            environment's registered ``max_episode_steps``. It also counts turns whose model
            output could not be parsed.
        env_kwargs: constructor arguments for :func:`agentgym.make`.
        action_format: ``"plain"``, ``"xml"`` or ``"json"``; anything but plain wraps the
            environment in :class:`ActionParser`, so the policy writes e.g. ``<action>…</action>``.
        history_window: :class:`ChatHistory` window (past turns kept in the prompt); None = all.
        system_prompt: system message of the chat prompt.
        format_observation: builds a user message's text from ``(observation, info)``.
        invalid_penalty: subtracted from the reward of every invalid turn (reward part
            ``invalid``; :class:`~agentgym.core.wrappers.InvalidActionPenalty`); 0 = none.
        num_envs: episodes alive at once, each with its own environment instance
            (default: all episodes).
        num_workers: threads stepping environments (default ``min(32, num_envs)``);
            ``0`` steps them inline in the calling thread (lowest overhead for fast envs).
        max_batch_size: largest batch passed to one policy call; bigger waves are chunked.
        straggler_timeout: once one environment is ready for an action, seconds to wait for the
            others still stepping before calling the policy; ``None`` waits for all (lock-step).
        run_id: suffix making group/episode ids unique to this call (default: random).
        on_episode: called with each finished episode (e.g. to drive a progress bar).
        stats: a :class:`RolloutStats` to fill with timings and counts.
        max_info_chars: info values whose JSON is longer than this are dropped from turns.
        backend: where the environments run: ``"thread"`` (this process), ``"ray"`` (Ray actors
            of a temporary :class:`~agentgym.core.ray_pool.RayEnvPool`, on the Ray this process
            joined or a local one) or a ``RayEnvPool`` (kept open for the next call).

    Returns:
        One :class:`Episode` per (task, repeat), in task order then repeat order. For a
        ``multiagent`` id, ``policy`` may also be a seat → policy map and the result holds one
        episode per seat (see :func:`agentgym.core.multiagent.collect_multiagent`).

    Raises:
        UnknownEnvError: ``env_id`` is not registered.
        ValueError: bad arguments, no turn limit at all, or a policy returning a wrong count.
    """
    t_start = time.perf_counter()
    stats = stats if stats is not None else RolloutStats()
    env_spec = env_id if isinstance(env_id, EnvSpec) else spec(env_id)
    if env_spec.family == "multiagent":  # PettingZoo games: one episode per seat
        if backend != "thread":
            raise ValueError("multi-agent environments run with backend='thread' only")
        if format_observation is not None:
            raise ValueError("format_observation is not supported for multi-agent environments")
        from agentgym.core.multiagent import collect_multiagent

        return collect_multiagent(
            env_spec, policy, tasks, group_size, max_turns, env_kwargs=env_kwargs,
            action_format=action_format, history_window=history_window,
            system_prompt=system_prompt, invalid_penalty=invalid_penalty, num_envs=num_envs,
            num_workers=num_workers, max_batch_size=max_batch_size, run_id=run_id,
            on_episode=on_episode, stats=stats, max_info_chars=max_info_chars,
        )
    seeds = check_collect_args(tasks, group_size, action_format, max_batch_size, num_envs,
                               num_workers)
    limit = max_turns if max_turns is not None else env_spec.max_episode_steps
    if limit is None:
        raise ValueError(
            f"{env_spec.id} has no registered max_episode_steps; pass max_turns=N to collect()"
        )
    if limit < 1:
        raise ValueError(f"max_turns must be >= 1, got {limit}")
    jobs = _make_jobs(env_spec.id, seeds, group_size, run_id or uuid.uuid4().hex[:8])
    if not jobs:
        return []
    n_slots = min(num_envs or len(jobs), len(jobs))
    workers = min(32, n_slots) if num_workers is None else num_workers

    created: list[gym.Env] = []
    pool, own_pool = (None, False)
    if backend != "thread":  # environments in Ray actors (agentgym.core.ray_pool)
        from agentgym.core.ray_pool import pool_for

        pool, own_pool = pool_for(backend)
        pool.prepare(n_slots)

    def build_env() -> gym.Env:
        base = make(env_spec, max_episode_steps=limit, **dict(env_kwargs or {}))
        try:
            env = ActionParser(base, action_format) if action_format != "plain" else base
            if invalid_penalty:
                env = InvalidActionPenalty(env, invalid_penalty)
            return ChatHistory(
                env, window=history_window, system_prompt=system_prompt,
                format_observation=format_observation,
            )
        except BaseException:
            base.close()
            raise

    def make_env() -> gym.Env:
        env = build_env() if pool is None else pool.make_env(build_env)
        created.append(env)  # list.append is atomic: workers make envs concurrently
        return env

    executor = ThreadPoolExecutor(workers, thread_name_prefix="agentgym-env") if workers else None
    runner = _Runner(
        env_id=env_spec.id, policy=policy, make_env=make_env, jobs=jobs,
        action_format=action_format, max_batch_size=max_batch_size,
        straggler_timeout=straggler_timeout, on_episode=on_episode, stats=stats,
        max_info_chars=max_info_chars,
        executor=executor,
    )
    try:
        # The first environment is made here so a bad env_kwargs fails loudly, not per episode.
        first = make_env()
        slots = [_Slot(env=first if i == 0 else None) for i in range(n_slots)]
        return runner.run(slots)
    finally:
        if runner.executor is not None:
            runner.executor.shutdown(wait=True, cancel_futures=True)
        for env in created:
            runner.close_env(env)
        if own_pool:
            pool.close()
        stats.envs_made = len(created)
        stats.wall_s = time.perf_counter() - t_start


def check_collect_args(
    tasks: Iterable[int],
    group_size: int,
    action_format: str,
    max_batch_size: int | None,
    num_envs: int | None,
    num_workers: int | None,
) -> list[int]:
    """The seeds of ``tasks`` as ints, after checking every argument ``collect`` and
    ``collect_multiagent`` share.

    Raises:
        ValueError: a bad argument, named in the message.
    """
    if isinstance(tasks, int | np.integer):
        raise ValueError(f"tasks must be a list of seeds, got the int {tasks}; use range({tasks})")
    seeds = list(tasks)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise ValueError(f"every task must be an int seed, got {seed!r}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if action_format not in ACTION_FORMATS:
        raise ValueError(f"unknown action_format {action_format!r}; choose one of {ACTION_FORMATS}")
    if max_batch_size is not None and max_batch_size < 1:
        raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
    if num_envs is not None and num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if num_workers is not None and num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    return [int(seed) for seed in seeds]


def _make_jobs(env_id: str, seeds: list[int], group_size: int, run_id: str) -> list[_Job]:
    """One job per (task, repeat); a seed listed twice joins the same group."""
    jobs: list[_Job] = []
    members: Counter[int] = Counter()
    for seed in seeds:
        for _ in range(group_size):
            group_id = f"{env_id}:{seed}@{run_id}"
            jobs.append(_Job(len(jobs), seed, group_id, f"{group_id}#{members[seed]}"))
            members[seed] += 1
    return jobs


class _Runner:
    """The wave loop of :func:`collect` (state shared by its helpers)."""

    def __init__(
        self,
        *,
        env_id: str,
        policy: Callable[[Sequence[Request]], Sequence[Generation]],
        make_env: Callable[[], gym.Env],
        jobs: list[_Job],
        action_format: str,
        max_batch_size: int | None,
        straggler_timeout: float | None,
        on_episode: Callable[[Episode], None] | None,
        stats: RolloutStats,
        max_info_chars: int,
        executor: ThreadPoolExecutor | None,
    ) -> None:
        self.env_id = env_id
        self.policy = policy
        self.make_env = make_env
        self.queue = deque(jobs)
        self.results: list[Episode | None] = [None] * len(jobs)
        self.action_format = action_format
        self.max_batch_size = max_batch_size
        self.straggler_timeout = straggler_timeout
        self.on_episode = on_episode
        self.stats = stats
        self.max_info_chars = max_info_chars
        self.executor = executor
        self.closed: list[gym.Env] = []

    def close_env(self, env: gym.Env) -> None:
        """Close ``env`` once; errors while closing are ignored."""
        if any(env is done for done in self.closed):
            return
        self.closed.append(env)
        with contextlib.suppress(Exception):  # closing must not hide the real outcome
            env.close()

    # -- the loop -------------------------------------------------------------------------------
    def run(self, slots: list[_Slot]) -> list[Episode]:
        for slot in slots:
            self._start_next(slot)
        while any(slot.job is not None for slot in slots):
            self._gather(slots)
            awaiting = [slot for slot in slots if slot.awaiting]
            if awaiting:
                self._wave(awaiting)
        assert all(episode is not None for episode in self.results)
        return [episode for episode in self.results if episode is not None]

    def _gather(self, slots: list[_Slot]) -> None:
        """Process finished resets/steps until a wave can start (see ``straggler_timeout``)."""
        deadline: float | None = None
        while True:
            for slot in slots:
                if slot.future is not None and slot.future.done():
                    self._complete(slot)
            in_flight = [slot.future for slot in slots if slot.future is not None]
            if not in_flight:
                return
            if not any(slot.awaiting for slot in slots):
                wait(in_flight, return_when=FIRST_COMPLETED)
                continue
            if self.straggler_timeout is None:
                wait(in_flight)
                continue
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.straggler_timeout
            if now >= deadline:
                return
            wait(in_flight, timeout=deadline - now)
            if not any(f.done() for f in in_flight):
                return

    def _wave(self, awaiting: list[_Slot]) -> None:
        """Ask the policy for one action per waiting episode, then start their steps."""
        requests = [self._request(slot) for slot in awaiting]
        chunk = self.max_batch_size or len(requests)
        generations: list[Generation] = []
        t0 = time.perf_counter()
        for start in range(0, len(requests), chunk):
            batch = requests[start : start + chunk]
            out = list(self.policy(batch))
            if len(out) != len(batch):
                raise ValueError(
                    f"the policy returned {len(out)} generations for {len(batch)} requests"
                )
            generations.extend(
                g if isinstance(g, Generation) else Generation(text=str(g)) for g in out
            )
            self.stats.policy_calls += 1
        self.stats.add_time("policy_s", time.perf_counter() - t0)
        self.stats.waves += 1
        for slot, generation in zip(awaiting, generations, strict=True):
            slot.awaiting = False
            error = generation.info.get("error") if isinstance(generation.info, dict) else None
            if error:
                self._fail(slot, "policy", _error_record("PolicyError", str(error), "policy", slot))
                continue
            slot.generation = generation
            self._submit(slot, "step", self._step_job, slot.env, generation.text)

    def _request(self, slot: _Slot) -> Request:
        assert slot.env is not None and slot.episode is not None
        return Request(
            messages=slot.env.get_wrapper_attr("messages"),
            observation=slot.observation,
            env=slot.env,
            action_format=self.action_format,
            episode_id=slot.episode.episode_id,
            turn=len(slot.episode.turns),
            tools=env_tools(slot.env),
        )

    # -- jobs run in the pool --------------------------------------------------------------------
    def _submit(self, slot: _Slot, kind: str, fn: Callable[..., Any], *args: Any) -> None:
        slot.kind = kind
        if self.executor is not None:
            slot.future = self.executor.submit(fn, *args)
            return
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        slot.future = future

    def _reset_job(self, slot: _Slot, seed: int) -> tuple[Any, dict[str, Any]]:
        t0 = time.perf_counter()
        try:
            if slot.env is None:
                slot.env = self.make_env()
            return slot.env.reset(seed=seed)
        finally:
            self.stats.add_time("env_reset_s", time.perf_counter() - t0)

    def _step_job(self, env: gym.Env, text: str) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        t0 = time.perf_counter()
        try:
            return env.step(text)
        finally:
            self.stats.add_time("env_step_s", time.perf_counter() - t0)

    # -- results ---------------------------------------------------------------------------------
    def _start_next(self, slot: _Slot) -> None:
        slot.job = self.queue.popleft() if self.queue else None
        slot.episode = None
        slot.awaiting = False
        slot.future = None
        if slot.job is not None:
            self._submit(slot, "reset", self._reset_job, slot, slot.job.seed)

    def _complete(self, slot: _Slot) -> None:
        future, kind, job = slot.future, slot.kind, slot.job
        assert future is not None and job is not None
        slot.future = None
        exc = future.exception()
        if kind == "reset":
            if exc is not None:
                slot.episode = Episode(self.env_id, "", job.group_id, job.episode_id, job.seed)
                self._fail(slot, "reset", _error_record(type(exc).__name__, str(exc), "reset",
                                                        slot, exc))
                return
            observation, info = future.result()
            info = dict(info)
            slot.observation = observation
            slot.state_key = str(info.get("state_key", observation_text(observation)))
            slot.last_info = info
            slot.episode = Episode(
                env_id=self.env_id,
                task_id=str(info.get("task_id", "")),
                group_id=job.group_id,
                episode_id=job.episode_id,
                seed=job.seed,
                info=_clean_info(info, frozenset(), self.max_info_chars),
            )
            slot.awaiting = True
            return
        generation = slot.generation
        assert generation is not None and slot.episode is not None
        slot.generation = None
        if exc is not None:
            error = _error_record(type(exc).__name__, str(exc), "step", slot, exc)
            slot.episode.turns.append(self._turn(slot, generation, None))
            self._fail(slot, "step", error)
            return
        self.stats.steps += 1
        turn = self._turn(slot, generation, future.result())
        slot.episode.turns.append(turn)
        if turn.terminated or turn.truncated:
            self._finish(slot)
        else:
            slot.awaiting = True

    def _turn(
        self,
        slot: _Slot,
        generation: Generation,
        result: tuple[Any, Any, bool, bool, dict[str, Any]] | None,
    ) -> Turn:
        """Record one turn and advance the slot; ``result=None`` records a crashed step."""
        turn = Turn(
            observation=observation_text(slot.observation),
            action=generation.text,
            state_key=slot.state_key,
            prompt_ids=generation.prompt_ids,
            response_ids=generation.token_ids,
            response_logprobs=generation.logprobs,
            response_text=generation.text,
            prompt_images=generation.images,
        )
        policy_info = _clean_info(generation.info, frozenset(), self.max_info_chars)
        if result is None:
            turn.truncated = True
            if policy_info:
                turn.info["policy"] = policy_info
            return turn
        observation, reward, terminated, truncated, info = result
        info = dict(info)
        parsed = info.get("parsed_action")
        if isinstance(parsed, str):
            turn.action = parsed
        turn.reward = float(reward)
        parts = dict(info.get("reward_parts", {}))
        turn.reward_parts = {str(k): float(v) for k, v in parts.items()}
        turn.action_valid = bool(info.get("action_valid", True))
        turn.terminated = bool(terminated)
        turn.truncated = bool(truncated)
        turn.info = _clean_info(info, _TURN_FIELD_KEYS, self.max_info_chars)
        if policy_info:
            turn.info["policy"] = policy_info
        slot.observation = observation
        slot.state_key = str(info.get("state_key", observation_text(observation)))
        slot.last_info = info
        return turn

    def _fail(self, slot: _Slot, stage: str, error: dict[str, Any]) -> None:
        """End the slot's episode as truncated with ``error``; replace a crashed env."""
        episode = slot.episode
        assert episode is not None
        episode.info["error"] = error
        if episode.turns:
            episode.turns[-1].truncated = True
            episode.turns[-1].info.setdefault("error", error)
        slot.last_info = {}
        self.stats.errors += 1
        if stage != "policy" and slot.env is not None:
            self.close_env(slot.env)
            slot.env = None  # a fresh instance is made for the slot's next episode
        self._finish(slot)

    def _finish(self, slot: _Slot) -> None:
        episode, job = slot.episode, slot.job
        assert episode is not None and job is not None
        last = slot.last_info if episode.turns else {}
        episode.success = bool(last.get("success", False))
        score = last.get("score")
        if isinstance(score, int | float | np.number) and math.isfinite(float(score)):
            episode.outcome = float(score)
        else:
            episode.outcome = episode.total_reward
        self.results[job.index] = episode
        self.stats.episodes += 1
        if self.on_episode is not None:
            self.on_episode(episode)
        self._start_next(slot)


def _error_record(
    kind: str, message: str, stage: str, slot: _Slot, exc: BaseException | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": kind,
        "message": message,
        "stage": stage,
        "turn": len(slot.episode.turns) if slot.episode is not None else 0,
    }
    if exc is not None:
        record["traceback"] = "".join(traceback.format_exception(exc))[-2000:]
    return record


def _clean_info(info: Mapping[str, Any], drop: frozenset[str], max_chars: int) -> dict[str, Any]:
    """The JSON-serializable entries of ``info`` not in ``drop`` whose JSON fits ``max_chars``."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in drop:
            continue
        if value is None or isinstance(value, bool | int | float):
            out[str(key)] = value
        elif isinstance(value, str):
            if len(value) <= max_chars:
                out[str(key)] = value
        elif isinstance(value, np.generic) and value.ndim == 0:
            out[str(key)] = value.item()
        elif isinstance(value, dict | list | tuple):
            try:
                encoded = json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                continue
            if len(encoded) <= max_chars:
                out[str(key)] = json.loads(encoded)
    return out


__all__ = ["MAX_INFO_CHARS", "RolloutStats", "collect"]
