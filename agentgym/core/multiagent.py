"""Collect episodes of multi-agent (PettingZoo) environments: one episode per seat.

::

    from agentgym.core.multiagent import collect_multiagent, results_table
    from agentgym.core.policies import ExpertPolicy, RandomPolicy

    # self-play: one policy in every seat
    episodes = collect_multiagent("agentgym/TicTacToe-v0", model, tasks=range(8), group_size=4)
    # a seat -> policy map (keys are agent names or role names)
    episodes = collect_multiagent("tictactoe", {"x": model, "o": RandomPolicy(seed=0)}, range(50))
    print(results_table(episodes, by="role"))   # wins/draws/losses with 95% Wilson intervals

A *game* is one play of one task (a seed); each task is played ``group_size`` times. Every seat
of a game becomes its own :class:`~agentgym.core.trajectory.Episode` holding only that seat's
turns, with ``Episode.role`` (the seat's role, e.g. ``"x"``) and, in ``Episode.info``, the seat,
the game id, the policy's label, the opponents' labels and the ``result`` (``win``/``draw``/
``loss`` by the seats' returns). Episodes of one seat in one task share a ``group_id``
(``<env>:<seed>@<run>/<seat>``: the comparable group for GRPO-style baselines);
``info["game_group"]`` is the task group of all seats.

Rewards are per agent: whatever PettingZoo reports for an agent after a step is added to that
agent's latest turn (its consequence), or to its first turn when it has not moved yet. A turn's
``state_key``, observation and validity are those of the acting seat.

The loop runs in lock-step *waves*: every game advances to its next decision (dead agents are
stepped with ``None``), each policy is called once on all decisions that are its own (in chunks of
``max_batch_size``), then the games step concurrently in a thread pool. Policies see each seat's
own chat history (system prompt, the instruction and first observation, then its replies and
observations) and, for oracle policies, ``request.env``: a :class:`SeatView` whose
``admissible_actions()`` and ``expert_action()`` answer for that seat. A ``ParallelEnv`` is
played through PettingZoo's ``parallel_to_aec`` (the seats of a round decide on the same
observations, and the round is played when the last one has answered).

An exception in ``reset``/``step`` or a generation with ``info["error"]`` ends that game: every
seat's episode is truncated with ``info["error"]``; the run goes on. Every environment made is
closed when the call returns or raises (Collab's grading containers with it).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentgym.core.env import env_tools, observation_text
from agentgym.core.metrics import wilson_interval
from agentgym.core.policy import Generation, Message, Policy, Request
from agentgym.core.registration import EnvSpec, make, spec
from agentgym.core.rollout import MAX_INFO_CHARS, RolloutStats, check_collect_args
from agentgym.core.trajectory import Episode, Turn
from agentgym.core.wrappers import (
    ParseError,
    parse_json_tool_call,
    parse_xml_action,
)

#: Info keys kept in dedicated Turn fields, not in ``Turn.info``.
_TURN_FIELD_KEYS = frozenset({"state_key", "action_valid", "reward_parts"})


def is_multiagent(env: Any) -> bool:
    """Whether ``env`` is a PettingZoo environment (AEC or parallel)."""
    from pettingzoo import AECEnv, ParallelEnv

    return isinstance(env, AECEnv | ParallelEnv)


class SeatView:
    """One seat of a live game, as oracle policies see it (``request.env``).

    ``admissible_actions()`` and ``expert_action()`` answer for this seat; ``unwrapped`` is the
    view itself (so :func:`~agentgym.core.env.optional_method` finds them); ``env`` is the game.
    """

    def __init__(self, env: Any, agent: str) -> None:
        self.env = env
        self.agent = agent

    @property
    def unwrapped(self) -> SeatView:
        return self

    @property
    def action_space(self) -> Any:
        return self.env.action_space(self.agent)

    @property
    def observation_space(self) -> Any:
        return self.env.observation_space(self.agent)

    def admissible_actions(self) -> list[str]:
        method = getattr(self.env, "admissible_actions", None)
        return list(method(self.agent)) if callable(method) else []

    def expert_action(self) -> str:
        method = getattr(self.env, "expert_action", None)
        if not callable(method):
            raise TypeError(f"{type(self.env).__name__} has no expert_action()")
        return str(method(self.agent))

    def get_wrapper_attr(self, name: str) -> Any:
        return getattr(self, name)


@dataclass
class _Seat:
    """One seat of one game: its policy, chat history and recorded turns."""

    agent: str
    policy: Any
    label: str
    role: str | None = None
    system_prompt: str | None = None
    task: str = ""  # "Task: <instruction>"
    opening: str | None = None  # the first user message, set at the seat's first decision
    exchanges: list[tuple[Message, Message]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    pending_reward: float = 0.0
    pending_parts: dict[str, float] = field(default_factory=dict)
    last_info: dict[str, Any] = field(default_factory=dict)
    reply: str | None = None  # the assistant text awaiting the seat's next observation
    prefix: str = ""  # a note (format error) put before the seat's next observation
    ended: str | None = None  # "terminated" or "truncated" once the seat is done

    def messages(self, observation: str, window: int | None) -> list[Message]:
        """The chat the seat's policy answers: system, the task with the seat's first
        observation, then its (reply, observation) exchanges, ending with ``observation``.

        With ``window=k`` only the last ``k`` exchanges stay and the first message keeps only
        the task (as :class:`~agentgym.core.wrappers.ChatHistory` does)."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        if self.opening is None:
            return [*system, {"role": "user", "content": _join(self.task, observation)}]
        exchanges = list(self.exchanges)
        if self.reply is not None:
            exchanges.append(({"role": "assistant", "content": self.reply},
                              {"role": "user", "content": self.prefix + observation}))
        if window is not None and len(exchanges) > window:
            exchanges = exchanges[len(exchanges) - window:] if window else []
            first = self.task if exchanges else _join(self.task, self.prefix + observation)
        else:
            first = self.opening
        out = [*system, {"role": "user", "content": first}]
        for assistant, user in exchanges:
            out.extend((dict(assistant), dict(user)))
        return out

    def settle(self, observation: str) -> None:
        """Close the pending exchange with the seat's new observation."""
        if self.reply is not None:
            self.exchanges.append(({"role": "assistant", "content": self.reply},
                                   {"role": "user", "content": self.prefix + observation}))
            self.reply, self.prefix = None, ""

    def add_reward(self, value: float, parts: Mapping[str, float]) -> None:
        if self.turns:
            turn = self.turns[-1]
            turn.reward += value
            for name, v in parts.items():
                turn.reward_parts[name] = turn.reward_parts.get(name, 0.0) + float(v)
        else:
            self.pending_reward += value
            for name, v in parts.items():
                self.pending_parts[name] = self.pending_parts.get(name, 0.0) + float(v)


@dataclass
class _Game:
    """One game in a slot."""

    index: int
    seed: int
    game_group: str
    game_id: str
    env: Any = None  # the AEC view (parallel envs wrapped by parallel_to_aec)
    base: Any = None  # the environment itself (for seat views)
    seats: dict[str, _Seat] = field(default_factory=dict)
    reset_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_id: str = ""
    error: dict[str, Any] | None = None
    done: bool = False
    pending: tuple[str, Generation, str, str | None] | None = None  # agent, gen, action, error


def collect_multiagent(
    env_id: str | EnvSpec,
    policies: Policy | Callable[[Sequence[Request]], Sequence[Generation]] | Mapping[str, Any],
    tasks: Iterable[int],
    group_size: int = 1,
    max_turns: int | None = None,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    action_format: str = "plain",
    history_window: int | None = None,
    system_prompt: str | Mapping[str, str] | None = None,
    invalid_penalty: float = 0.0,
    num_envs: int | None = None,
    num_workers: int | None = None,
    max_batch_size: int | None = None,
    run_id: str | None = None,
    on_episode: Callable[[Episode], None] | None = None,
    stats: RolloutStats | None = None,
    max_info_chars: int = MAX_INFO_CHARS,
) -> list[Episode]:
    """Play every task ``group_size`` times; return one episode per seat per game.

    Args:
        env_id: a registered multi-agent id (or short name) or an :class:`EnvSpec`.
        policies: one policy for every seat (self-play), or a map from seat (agent name, e.g.
            ``"player_1"``) or role name (e.g. ``"x"``) to policy. Seats the map leaves out get
            the environment's ``default_policies()`` (Collab's scripted collaborator), else it is
            an error.
        tasks: seeds; each seed is one task.
        group_size: games per task, all reset from the same seed.
        max_turns: the game's turn limit (steps of all seats, invalid ones included); None uses
            the registered ``max_episode_steps``.
        env_kwargs: constructor arguments for :func:`agentgym.make`.
        action_format: ``"plain"`` (the whole generation is the action), ``"xml"`` (the last
            ``<action>…</action>``) or ``"json"``. Unparsable output steps the game with ``""``
            (an invalid action: the state is unchanged and the seat moves again) and puts the
            parse error before the seat's next observation.
        history_window: past exchanges kept in each seat's prompt (None: all).
        system_prompt: one system message for every seat, or a map from role to message.
        invalid_penalty: subtracted from the reward of a seat's invalid turn (reward part
            ``invalid``).
        num_envs: games alive at once (default: all).
        num_workers: threads stepping games (default ``min(8, num_envs)``); 0 steps inline.
        max_batch_size: largest batch passed to one policy call.
        run_id: suffix making group and episode ids unique to this call (default: random).
        on_episode: called with each finished seat episode.
        stats: a :class:`~agentgym.core.rollout.RolloutStats` to fill.
        max_info_chars: info values whose JSON is longer are dropped from turns and episodes.

    Returns:
        Episodes in task order, then repeat order, then seat order (``possible_agents``).

    Raises:
        UnknownEnvError: the id is not registered.
        ValueError: bad arguments, a seat without a policy, or a policy returning a wrong count.
    """
    from pettingzoo import ParallelEnv
    from pettingzoo.utils.conversions import parallel_to_aec

    t_start = time.perf_counter()
    stats = stats if stats is not None else RolloutStats()
    env_spec = env_id if isinstance(env_id, EnvSpec) else spec(env_id)
    seeds = check_collect_args(tasks, group_size, action_format, max_batch_size, num_envs,
                               num_workers)
    limit = max_turns if max_turns is not None else env_spec.max_episode_steps
    if limit is not None and limit < 1:
        raise ValueError(f"max_turns must be >= 1, got {limit}")
    run = run_id or uuid.uuid4().hex[:8]
    games = [
        _Game(index=i, seed=seed, game_group=f"{env_spec.id}:{seed}@{run}",
              game_id=f"{env_spec.id}:{seed}@{run}#{k}")
        for i, (seed, k) in enumerate(_jobs(seeds, group_size))
    ]
    if not games:
        return []
    n_slots = min(num_envs or len(games), len(games))
    workers = min(8, n_slots) if num_workers is None else num_workers
    created: list[Any] = []

    def make_env() -> tuple[Any, Any]:
        base = make(env_spec, max_episode_steps=limit, **dict(env_kwargs or {}))
        created.append(base)
        return (parallel_to_aec(base) if isinstance(base, ParallelEnv) else base), base

    runner = _Runner(
        env_id=env_spec.id, policies=policies, make_env=make_env, action_format=action_format,
        history_window=history_window, system_prompt=system_prompt,
        invalid_penalty=float(invalid_penalty), max_batch_size=max_batch_size,
        on_episode=on_episode, stats=stats, max_info_chars=max_info_chars,
    )
    executor = ThreadPoolExecutor(workers, thread_name_prefix="agentgym-ma") if workers else None
    try:
        first = make_env()  # a bad env_kwargs or a seat without a policy fails here, loudly
        runner.resolve_policies(first[1])
        return runner.run(games, n_slots, first, executor)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        for env in created:
            with contextlib.suppress(Exception):
                env.close()
        stats.envs_made = len(created)
        stats.wall_s = time.perf_counter() - t_start


def _jobs(seeds: list[int], group_size: int) -> list[tuple[int, int]]:
    """``(seed, repeat)`` per game; a seed listed twice continues its repeat count."""
    count: Counter[int] = Counter()
    out = []
    for seed in seeds:
        for _ in range(group_size):
            out.append((seed, count[seed]))
            count[seed] += 1
    return out


def policy_label(policy: Any) -> str:
    """A short name for a policy: its ``name`` attribute, else its class name."""
    name = getattr(policy, "name", None)
    return str(name) if isinstance(name, str) and name else type(policy).__name__


class _Runner:
    """The wave loop of :func:`collect_multiagent`."""

    def __init__(
        self,
        *,
        env_id: str,
        policies: Any,
        make_env: Callable[[], tuple[Any, Any]],
        action_format: str,
        history_window: int | None,
        system_prompt: str | Mapping[str, str] | None,
        invalid_penalty: float,
        max_batch_size: int | None,
        on_episode: Callable[[Episode], None] | None,
        stats: RolloutStats,
        max_info_chars: int,
    ) -> None:
        self.env_id = env_id
        self.policies = policies
        self.make_env = make_env
        self.action_format = action_format
        self.history_window = history_window
        self.system_prompt = system_prompt
        self.invalid_penalty = invalid_penalty
        self.max_batch_size = max_batch_size
        self.on_episode = on_episode
        self.stats = stats
        self.max_info_chars = max_info_chars
        self.seat_policy: dict[str, Any] = {}
        self.roles: dict[str, str] = {}

    # -- set-up ----------------------------------------------------------------------------
    def resolve_policies(self, base: Any) -> None:
        """Map every seat of ``base`` to its policy (see :func:`collect_multiagent`)."""
        agents = list(base.possible_agents)
        role_of = getattr(base, "role_of", None)
        self.roles = {a: str(role_of(a)) if callable(role_of) else a for a in agents}
        if not isinstance(self.policies, Mapping):
            self.seat_policy = dict.fromkeys(agents, self.policies)
            return
        defaults_fn = getattr(base, "default_policies", None)
        defaults = dict(defaults_fn()) if callable(defaults_fn) else {}
        known = set(agents) | set(self.roles.values())
        unknown = [k for k in self.policies if k not in known]
        if unknown:
            raise ValueError(
                f"policies names unknown seats {unknown}; the seats of {self.env_id} are "
                f"{agents} (roles {sorted(set(self.roles.values()))})"
            )
        for agent in agents:
            policy = self.policies.get(agent, self.policies.get(self.roles[agent]))
            if policy is None:
                policy = defaults.get(agent)
            if policy is None:
                raise ValueError(
                    f"no policy for seat {agent!r} (role {self.roles[agent]!r}) of "
                    f"{self.env_id}; give policies a key for it"
                )
            self.seat_policy[agent] = policy

    # -- the loop ----------------------------------------------------------------------------
    def run(
        self, games: list[_Game], n_slots: int, first: tuple[Any, Any],
        executor: ThreadPoolExecutor | None,
    ) -> list[Episode]:
        queue = list(reversed(games))
        slots: list[_Game | None] = [None] * n_slots
        envs: list[tuple[Any, Any] | None] = [first] + [None] * (n_slots - 1)
        results: dict[int, list[Episode]] = {}
        while True:
            for i in range(n_slots):
                while slots[i] is None and queue:
                    game = queue.pop()
                    if envs[i] is None:
                        try:
                            envs[i] = self.make_env()
                        except Exception as exc:
                            game.env = None
                            self._fail(game, "make", exc)
                            results[game.index] = self._finish(game)
                            continue
                    game.env, game.base = envs[i]
                    self._reset(game)
                    if game.done:
                        results[game.index] = self._finish(game)
                        if game.error is not None:
                            envs[i] = None
                        continue
                    slots[i] = game
            live = [g for g in slots if g is not None]
            if not live:
                break
            self._wave(live)
            self._step_all(live, executor)
            for i, game in enumerate(slots):
                if game is not None:
                    self._advance(game)
                    if game.done:
                        results[game.index] = self._finish(game)
                        if game.error is not None:
                            envs[i] = None  # a crashed environment is not reused
                        slots[i] = None
        return [episode for index in sorted(results) for episode in results[index]]

    def _reset(self, game: _Game) -> None:
        t0 = time.perf_counter()
        try:
            game.env.reset(seed=game.seed)
        except Exception as exc:
            self._fail(game, "reset", exc)
            return
        finally:
            self.stats.add_time("env_reset_s", time.perf_counter() - t0)
        game.seats = {}
        for agent in game.env.possible_agents:
            info = dict(game.env.infos.get(agent, {}))
            role = str(info.get("role", self.roles.get(agent, agent)))
            prompt = self.system_prompt
            if isinstance(prompt, Mapping):
                prompt = prompt.get(role, prompt.get(agent))
            instruction = str(info.get("instruction", ""))
            policy = self.seat_policy[agent]
            game.seats[agent] = _Seat(
                agent=agent, policy=policy, label=policy_label(policy), role=role,
                system_prompt=prompt, task=f"Task: {instruction}" if instruction else "",
            )
            game.reset_info[agent] = info
        game.task_id = str(next(iter(game.reset_info.values()), {}).get("task_id", ""))
        self._advance(game)

    def _advance(self, game: _Game) -> None:
        """Step dead agents until a live one must act; mark the game done when none is left."""
        if game.done:
            return
        env = game.env
        try:
            while env.agents:
                agent = env.agent_selection
                if env.terminations.get(agent) or env.truncations.get(agent):
                    seat = game.seats[agent]
                    seat.last_info = dict(env.infos.get(agent, seat.last_info))
                    seat.ended = "terminated" if env.terminations.get(agent) else "truncated"
                    seat.settle(observation_text(env.observe(agent)))
                    env.step(None)
                    continue
                return
        except Exception as exc:
            self._fail(game, "step", exc)
            return
        game.done = True

    def _wave(self, games: list[_Game]) -> None:
        """One policy call per policy on all decisions that are its own."""
        by_policy: dict[int, list[tuple[_Game, str, Request]]] = defaultdict(list)
        policy_of: dict[int, Any] = {}
        for game in games:
            agent = game.env.agent_selection
            seat = game.seats[agent]
            observation = observation_text(game.env.observe(agent))
            request = Request(
                messages=seat.messages(observation, self.history_window),
                observation=observation,
                env=SeatView(game.base, agent),
                action_format=self.action_format,
                episode_id=f"{game.game_id}/{agent}",
                turn=len(seat.turns),
                tools=env_tools(game.base),
            )
            by_policy[id(seat.policy)].append((game, agent, request))
            policy_of[id(seat.policy)] = seat.policy
        t0 = time.perf_counter()
        for key, items in by_policy.items():
            policy = policy_of[key]
            chunk = self.max_batch_size or len(items)
            for start in range(0, len(items), chunk):
                batch = items[start:start + chunk]
                out = list(policy([request for _, _, request in batch]))
                if len(out) != len(batch):
                    raise ValueError(
                        f"the policy {policy_label(policy)} returned {len(out)} generations for "
                        f"{len(batch)} requests"
                    )
                self.stats.policy_calls += 1
                for (game, agent, request), generation in zip(batch, out, strict=True):
                    if not isinstance(generation, Generation):
                        generation = Generation(text=str(generation))
                    action, error = self._parse(generation.text)
                    game.pending = (agent, generation, action, error)
                    game.seats[agent].last_info = dict(game.env.infos.get(agent, {}))
                    self._record_decision(game, agent, request, generation, action)
        self.stats.add_time("policy_s", time.perf_counter() - t0)
        self.stats.waves += 1

    def _record_decision(
        self, game: _Game, agent: str, request: Request, generation: Generation, action: str
    ) -> None:
        seat = game.seats[agent]
        if seat.opening is None:
            seat.opening = _join(seat.task, str(request.observation))
        seat.settle(str(request.observation))
        info = seat.last_info
        turn = Turn(
            observation=str(request.observation),
            action=action,
            state_key=str(info.get("state_key", request.observation)),
            prompt_ids=generation.prompt_ids,
            response_ids=generation.token_ids,
            response_logprobs=generation.logprobs,
            response_text=generation.text,
            prompt_images=generation.images,
        )
        if seat.pending_reward or seat.pending_parts:
            turn.reward += seat.pending_reward
            turn.reward_parts.update(seat.pending_parts)
            seat.pending_reward, seat.pending_parts = 0.0, {}
        seat.turns.append(turn)
        seat.reply = generation.text

    def _parse(self, text: str) -> tuple[str, str | None]:
        if self.action_format == "plain":
            return text, None
        try:
            if self.action_format == "xml":
                return parse_xml_action(text), None
            return json.dumps(parse_json_tool_call(text), separators=(",", ":")), None
        except ParseError as err:
            return "", str(err)

    def _step_all(self, games: list[_Game], executor: ThreadPoolExecutor | None) -> None:
        stepping = [g for g in games if g.pending is not None]
        if executor is None:
            for game in stepping:
                self._step(game)
        else:
            list(executor.map(self._step, stepping))

    def _step(self, game: _Game) -> None:
        assert game.pending is not None
        agent, generation, action, parse_error = game.pending
        game.pending = None
        seat = game.seats[agent]
        turn = seat.turns[-1]
        error = generation.info.get("error") if isinstance(generation.info, dict) else None
        policy_info = _clean_info(generation.info, frozenset(), self.max_info_chars)
        if policy_info:
            turn.info["policy"] = policy_info
        if error:
            self._fail(game, "policy", None, message=str(error))
            return
        env = game.env
        t0 = time.perf_counter()
        try:
            env.step(action)
        except Exception as exc:
            self._fail(game, "step", exc)
            return
        finally:
            self.stats.add_time("env_step_s", time.perf_counter() - t0)
        self.stats.steps += 1
        info = dict(env.infos.get(agent, {}))
        seat.last_info = info
        turn.action_valid = bool(info.get("action_valid", True)) and parse_error is None
        turn.info.update(_clean_info(info, _TURN_FIELD_KEYS, self.max_info_chars))
        if parse_error is not None:
            turn.info["format_error"] = True
            turn.info["error"] = parse_error
            seat.prefix = f"Invalid action: {parse_error}.\n\n"
        if not turn.action_valid and self.invalid_penalty:
            turn.reward -= self.invalid_penalty
            turn.reward_parts["invalid"] = turn.reward_parts.get("invalid", 0.0) \
                - self.invalid_penalty
        for other, value in env.rewards.items():
            if other in game.seats and value:
                # The parts come with a nonzero reward only: a parallel game's infos keep the
                # last round's parts while its agents answer the next round.
                parts = dict(env.infos.get(other, {}).get("reward_parts", {}))
                game.seats[other].add_reward(float(value), parts)
        for other in game.seats:
            if other in env.infos:
                game.seats[other].last_info = dict(env.infos[other])

    # -- endings -----------------------------------------------------------------------------
    def _fail(
        self, game: _Game, stage: str, exc: BaseException | None, *, message: str = ""
    ) -> None:
        record: dict[str, Any] = {
            "type": type(exc).__name__ if exc is not None else "PolicyError",
            "message": str(exc) if exc is not None else message,
            "stage": stage,
        }
        if exc is not None:
            record["traceback"] = "".join(traceback.format_exception(exc))[-2000:]
        game.error = record
        game.done = True
        self.stats.errors += 1

    def _finish(self, game: _Game) -> list[Episode]:
        agents = list(game.seats) or list(self.seat_policy)
        returns = {}
        for agent in agents:
            seat = game.seats.get(agent)
            returns[agent] = (sum(t.reward for t in seat.turns) + seat.pending_reward
                              if seat is not None else 0.0)
        episodes = []
        labels = {a: (game.seats[a].label if a in game.seats
                      else policy_label(self.seat_policy.get(a))) for a in agents}
        self_play = len({id(self.seat_policy.get(a)) for a in agents}) == 1
        for agent in agents:
            seat = game.seats.get(agent)
            turns = seat.turns if seat is not None else []
            last = seat.last_info if seat is not None else {}
            if turns:
                final = turns[-1]
                final.terminated = game.error is None and seat.ended == "terminated"
                final.truncated = not final.terminated
                if game.error is not None:
                    final.info.setdefault("error", game.error)
            others = [a for a in agents if a != agent]
            info = _clean_info(game.reset_info.get(agent, {}), frozenset({"action_valid",
                               "reward_parts", "success", "message"}), self.max_info_chars)
            info.update(
                seat=agent, game_id=game.game_id, game_group=game.game_group,
                policy=labels[agent], opponents={a: labels[a] for a in others},
                self_play=self_play, returns=returns,
                result=_result(returns, agent) if game.error is None else "error",
            )
            if game.error is not None:
                info["error"] = game.error
            score = last.get("score")
            outcome = float(score) if isinstance(score, int | float) and math.isfinite(
                float(score)) else returns[agent]
            episode = Episode(
                env_id=self.env_id,
                task_id=game.task_id,
                group_id=f"{game.game_group}/{agent}",
                episode_id=f"{game.game_id}/{agent}",
                seed=game.seed,
                turns=turns,
                success=bool(last.get("success", False)) and game.error is None,
                outcome=outcome,
                info=info,
                role=seat.role if seat is not None else self.roles.get(agent),
            )
            episodes.append(episode)
            self.stats.episodes += 1
            if self.on_episode is not None:
                self.on_episode(episode)
        return episodes


def _join(task: str, observation: str) -> str:
    return f"{task}\n\n{observation}" if task else observation


def _result(returns: Mapping[str, float], agent: str) -> str:
    """``win`` when the agent's return beats every other seat's, ``loss`` when another seat's
    beats it, else ``draw``."""
    mine = returns[agent]
    others = [v for a, v in returns.items() if a != agent]
    if not others:
        return "win" if mine > 0 else "loss" if mine < 0 else "draw"
    if all(mine > v for v in others):
        return "win"
    if any(v > mine for v in others):
        return "loss"
    return "draw"


def _clean_info(info: Mapping[str, Any], drop: frozenset[str], max_chars: int) -> dict[str, Any]:
    """The JSON-serializable entries of ``info`` not in ``drop`` whose JSON fits ``max_chars``."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in drop:
            continue
        if isinstance(value, np.generic) and value.ndim == 0:
            value = value.item()
        if value is None or isinstance(value, bool | int | float):
            out[str(key)] = value
            continue
        try:
            encoded = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        if len(encoded) <= max_chars:
            out[str(key)] = json.loads(encoded)
    return out


# -- results ------------------------------------------------------------------------------------
@dataclass
class Record:
    """Wins, draws and losses of one group of seat episodes, with 95% Wilson intervals."""

    wins: int = 0
    draws: int = 0
    losses: int = 0
    errors: int = 0

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    def rate(self, kind: str) -> tuple[float, float, float]:
        """``(rate, low, high)`` of ``kind`` (``"win"``, ``"draw"``, ``"loss"``)."""
        count = {"win": self.wins, "draw": self.draws, "loss": self.losses}[kind]
        return (count / self.games if self.games else 0.0, *wilson_interval(count, self.games))


def results_table(episodes: Iterable[Episode], by: str = "seat") -> dict[str, Record]:
    """Win/draw/loss counts of seat episodes grouped by ``"seat"``, ``"role"`` or ``"policy"``
    (the ``result`` :func:`collect_multiagent` records)."""
    if by not in ("seat", "role", "policy"):
        raise ValueError(f"by must be 'seat', 'role' or 'policy', got {by!r}")
    table: dict[str, Record] = defaultdict(Record)
    for episode in episodes:
        key = str(episode.role if by == "role" else episode.info.get(by, ""))
        record = table[key]
        result = episode.info.get("result")
        if result == "win":
            record.wins += 1
        elif result == "draw":
            record.draws += 1
        elif result == "loss":
            record.losses += 1
        else:
            record.errors += 1
    return dict(table)


__all__ = [
    "Record",
    "SeatView",
    "collect_multiagent",
    "is_multiagent",
    "policy_label",
    "results_table",
    "wilson_interval",
]
