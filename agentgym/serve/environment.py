"""An agentgym environment behind openenv-core's ``Environment`` interface.

openenv-core's server (``HTTPEnvServer``) calls a factory once per session and then
``reset``/``step``/``state``/``close`` on the instance it got. :class:`AgentGymEnvironment` is
that instance for any registered agentgym id: it makes the environment with
:func:`agentgym.make` at the first ``reset`` (so a session that never plays costs nothing) and
answers with :class:`AgentGymObservation`, which keeps what OpenEnv's single ``done`` would lose
(``terminated`` vs ``truncated``, the info dict, an image) in the observation's fields, in the
wire format of :mod:`agentgym.core.openenv_client`.

Every made environment holds one slot of the server's :class:`EnvSlots`, so the number of live
environments (one per WebSocket session, plus the throw-away ones of stateless HTTP ``/reset``)
never exceeds the session limit, and the server can close whatever is still open when it stops.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
from pydantic import Field

from agentgym.core.env import optional_method
from agentgym.core.openenv_client import (
    ORACLE_METHODS,
    SERVER_KEY,
    encode_observation,
    to_json,
)
from agentgym.core.registration import make

#: Largest seed accepted over the wire (numpy seeds are unsigned 64-bit at most).
MAX_SEED = 2**63 - 1


class ServeError(Exception):
    """Base class of the errors the server answers with a protocol error (never a crash)."""

    status = 400


class BadRequest(ServeError, ValueError):
    """The request is well-formed JSON but its values are not acceptable (a bad seed …)."""

    status = 400


class SessionStateError(ServeError, RuntimeError):
    """The session cannot do this now (step before reset, after the episode ended, closed)."""

    status = 409


class CapacityError(ServeError, RuntimeError):
    """The server already runs its maximum number of environments."""

    status = 503


class AgentGymAction(Action):
    """An agentgym action: the text the agent chose."""

    text: str = Field(..., description="The action, as the agent wrote it")


class AgentGymObservation(Observation):
    """An agentgym observation with everything ``reset``/``step`` return.

    ``done`` is ``terminated or truncated``; the two stay apart in their own fields.
    """

    text: str = Field(default="", description="The observation text")
    image: dict[str, Any] | None = Field(
        default=None, description="GUI screenshot: {shape, dtype, zlib_b64} (raw bytes)"
    )
    info: dict[str, Any] = Field(default_factory=dict, description="The step's info dict")
    terminated: bool = Field(default=False, description="The task ended")
    truncated: bool = Field(default=False, description="The turn budget ran out")


@dataclass
class ServeSettings:
    """What ``agentgym serve`` serves and its limits.

    Attributes:
        env_id: the registered environment id.
        env_kwargs: constructor arguments for :func:`agentgym.make`.
        max_turns: turn limit of each episode (``None``: the registered one).
        max_sessions: environments alive at once (WebSocket sessions + HTTP resets).
        idle_timeout: seconds without a message after which a session is closed (``None``: never).
        max_payload_bytes: largest request body or WebSocket message accepted.
        oracle: expose ``admissible_actions``/``expert_action`` in the session state.
    """

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_turns: int | None = None
    max_sessions: int = 8
    idle_timeout: float | None = 300.0
    max_payload_bytes: int = 1 << 20
    oracle: bool = False


class EnvSlots:
    """The server's live environments: at most ``limit`` at once, closable all together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: set[AgentGymEnvironment] = set()
        self.made = 0
        self.closed = 0

    def take(self, owner: AgentGymEnvironment) -> None:
        with self._lock:
            if len(self._open) >= self.limit:
                raise CapacityError(
                    f"the server runs {self.limit} environments at most; try again later"
                )
            self._open.add(owner)
            self.made += 1

    def give_back(self, owner: AgentGymEnvironment) -> None:
        with self._lock:
            if owner in self._open:
                self._open.discard(owner)
                self.closed += 1

    @property
    def open(self) -> int:
        """Environments made and not yet closed."""
        with self._lock:
            return len(self._open)

    def close_all(self) -> None:
        """Close every environment still open (server shutdown)."""
        with self._lock:
            owners = list(self._open)
        for owner in owners:
            owner.close()


@dataclass
class ServerInfo:
    """What the server tells clients about the environment (``/state``'s agentgym block)."""

    env_id: str
    max_episode_steps: int | None
    image_shape: list[int] | None
    oracle: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "max_episode_steps": self.max_episode_steps,
            "observation": {"image_shape": self.image_shape},
            "oracle": list(self.oracle),
        }


def inspect_env(settings: ServeSettings) -> ServerInfo:
    """Make the environment once (then close it) to learn its spaces and oracle methods.

    Raises whatever :func:`agentgym.make` raises for a bad id or bad kwargs.
    """
    env = make(settings.env_id, max_episode_steps=settings.max_turns, **settings.env_kwargs)
    try:
        space = env.observation_space
        image = getattr(space, "spaces", {}).get("image") if hasattr(space, "spaces") else None
        shape = list(image.shape) if image is not None else None
        oracle = [name for name in ORACLE_METHODS if optional_method(env, name)]
        limit = env.spec.max_episode_steps if env.spec is not None else settings.max_turns
        env_id = env.spec.id if env.spec is not None else settings.env_id
    finally:
        env.close()
    return ServerInfo(env_id, limit, shape, oracle if settings.oracle else [])


class AgentGymEnvironment(Environment):
    """One session's environment (an openenv-core ``Environment``; see the module doc).

    Only the synchronous ``reset``/``step`` are implemented, so openenv-core runs them in the
    session's worker thread, never on the server's event loop.

    Args:
        settings: what to serve.
        slots: the server's environment slots.
        info: the server description sent with every state.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session gets its own instance
    REQUIRES_SINGLE_THREAD_EXECUTOR = False

    def __init__(self, settings: ServeSettings, slots: EnvSlots, info: ServerInfo) -> None:
        super().__init__()
        self.settings = settings
        self.slots = slots
        self.info = info
        self._env: Any = None
        self._lock = threading.Lock()
        self._episode_id: str | None = None
        self._steps = 0
        self._done = True
        self._reset_once = False
        self._closed = False

    # -- openenv-core's Environment interface --------------------------------------------------
    def reset(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> AgentGymObservation:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                 or not 0 <= seed <= MAX_SEED):
            raise BadRequest(f"seed must be an integer in [0, 2**63), got {seed!r}"[:200])
        if options is not None and not isinstance(options, dict):
            raise BadRequest("options must be a JSON object")
        if episode_id is not None and not isinstance(episode_id, str):
            raise BadRequest("episode_id must be a string")
        with self._lock:
            env = self._ensure_env()
            observation, info = env.reset(seed=seed, options=options)
            self._episode_id = episode_id
            self._steps = 0
            self._done = False
            self._reset_once = True
        return self._answer(observation, None, False, False, info)

    def step(
        self, action: AgentGymAction, timeout_s: float | None = None, **kwargs: Any
    ) -> AgentGymObservation:
        if not isinstance(action, AgentGymAction):
            raise BadRequest("the action must be {\"text\": str}")
        with self._lock:
            if self._closed:
                raise SessionStateError("this session is closed (idle too long or shut down)")
            if not self._reset_once:
                raise SessionStateError(
                    "reset before step (a stateless HTTP /step has no episode: play over the "
                    "WebSocket session at /ws)"
                )
            if self._done:
                raise SessionStateError("the episode is over; reset to start another")
            observation, reward, terminated, truncated, info = self._env.step(action.text)
            self._steps += 1
            self._done = bool(terminated or truncated)
        return self._answer(observation, float(reward), bool(terminated), bool(truncated), info)

    @property
    def state(self) -> State:
        block: dict[str, Any] = self.info.as_dict()
        if self.settings.oracle:
            with self._lock:
                if self._env is not None and not self._done:
                    block["oracle_values"] = self._oracle_values()
        return State(episode_id=self._episode_id, step_count=self._steps, **{SERVER_KEY: block})

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name=self.info.env_id,
            description=f"agentgym environment {self.info.env_id}, served by `agentgym serve`",
        )

    def close(self) -> None:
        """Close the environment (its sandbox with it) and free its slot; idempotent."""
        with contextlib.ExitStack() as stack:
            stack.callback(self.slots.give_back, self)
            env, self._env = self._env, None
            self._closed = True
            if env is not None:
                with contextlib.suppress(Exception):
                    env.close()

    # -- helpers ------------------------------------------------------------------------------
    def _ensure_env(self) -> Any:
        if self._closed:
            raise SessionStateError("this session is closed (idle too long or shut down)")
        if self._env is None:
            self.slots.take(self)
            try:
                self._env = make(self.settings.env_id, max_episode_steps=self.settings.max_turns,
                                 **self.settings.env_kwargs)
            except BaseException:
                self.slots.give_back(self)
                raise
        return self._env

    def _answer(
        self, observation: Any, reward: float | None, terminated: bool, truncated: bool,
        info: dict[str, Any],
    ) -> AgentGymObservation:
        wire = encode_observation(observation)
        return AgentGymObservation(
            text=wire["text"],
            image=wire["image"],
            info=to_json(dict(info)) or {},
            terminated=terminated,
            truncated=truncated,
            done=terminated or truncated,
            reward=reward,
        )

    def _oracle_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.info.oracle:
            method = optional_method(self._env, name)
            if method is None:
                continue
            with contextlib.suppress(Exception):
                values[name] = to_json(method())
        return values


__all__ = [
    "AgentGymAction",
    "AgentGymEnvironment",
    "AgentGymObservation",
    "BadRequest",
    "CapacityError",
    "EnvSlots",
    "ServeError",
    "ServeSettings",
    "ServerInfo",
    "SessionStateError",
    "inspect_env",
]
