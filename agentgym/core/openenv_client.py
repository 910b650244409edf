"""Play an OpenEnv server as an agentgym environment: ``agentgym.make("openenv+http://HOST:PORT")``.

OpenEnv (PyPI ``openenv-core``) serves an environment over HTTP and a WebSocket: a client opens
``/ws`` and sends ``{"type": "reset", "data": {...}}``, ``{"type": "step", "data": ACTION}``,
``{"type": "state"}``; each connection is one session with its own environment instance.
:class:`OpenEnvEnv` is a ``gymnasium.Env`` on top of openenv-core's own client
(``GenericEnvClient``), so a remote environment goes through ``collect``, the wrappers and the
trainer like a local one. It speaks to two kinds of servers:

* **agentgym servers** (``agentgym serve ENV_ID``, :mod:`agentgym.serve`): the action is
  ``{"text": action}`` and the observation carries what a local environment returns — the
  observation text (and image), the info dict, and ``terminated``/``truncated`` kept apart
  (OpenEnv itself has one ``done``). Same seed, same actions ⇒ the same observations, rewards
  and infos as the environment in process. A tool environment's ``tools`` are those its reset
  info lists. A server started with ``--oracle`` also answers ``admissible_actions()`` and
  ``expert_action()`` through the session's state.
* **any other OpenEnv server**: the action text goes into the action schema's only string field
  (or is parsed as a JSON object when the schema has several fields; a text that is not one is
  an invalid action answered locally); the observation is shown as compact JSON, ``done`` is
  ``terminated``, and the reward is the one the server sends (missing = 0).

The wire format of agentgym observations (:func:`encode_observation` /
:func:`decode_observation`) lives here so that the server and the client share it. Images travel
as zlib-compressed raw bytes in base64 with their shape.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agentgym.core.spaces import FreeText

#: The env-id prefix :func:`agentgym.make` hands to this module.
PREFIX = "openenv+"
#: Key of the agentgym block in an agentgym server's ``/state`` answer.
SERVER_KEY = "agentgym"
#: Oracle methods an agentgym server may expose (``agentgym serve --oracle``).
ORACLE_METHODS: tuple[str, ...] = ("admissible_actions", "expert_action")
_ID_UNSAFE = re.compile(r"[^\w:.-]+")


class OpenEnvError(ConnectionError):
    """The OpenEnv server cannot be reached, or answered with an error."""


# -- the wire format of observations -----------------------------------------------------------
def to_json(value: Any, *, max_depth: int = 32) -> Any:
    """``value`` with numpy scalars/arrays turned into Python and anything else not JSON
    (objects, non-finite floats) dropped, so an info dict survives the trip unchanged where it
    can. Returns ``None`` for a value that cannot travel."""
    if max_depth < 0:
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return to_json(value.item(), max_depth=max_depth)
    if isinstance(value, np.ndarray):
        return to_json(value.tolist(), max_depth=max_depth)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            converted = to_json(item, max_depth=max_depth - 1)
            if converted is not None or item is None:
                out[str(key)] = converted
        return out
    if isinstance(value, list | tuple):
        return [to_json(item, max_depth=max_depth - 1) for item in value]
    return None


def encode_image(image: np.ndarray) -> dict[str, Any]:
    """A uint8 image as ``{"shape", "dtype", "zlib_b64"}``."""
    array = np.ascontiguousarray(image)
    return {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "zlib_b64": base64.b64encode(zlib.compress(array.tobytes(), 1)).decode("ascii"),
    }


def decode_image(data: Mapping[str, Any]) -> np.ndarray:
    """The inverse of :func:`encode_image`."""
    raw = zlib.decompress(base64.b64decode(data["zlib_b64"]))
    return np.frombuffer(raw, dtype=np.dtype(data["dtype"])).reshape(data["shape"]).copy()


def encode_observation(observation: Any) -> dict[str, Any]:
    """``{"text": str, "image": encoded image | None}`` for a text or GUI observation."""
    if isinstance(observation, Mapping):
        image = observation.get("image")
        return {
            "text": str(observation.get("text", "")),
            "image": encode_image(image) if isinstance(image, np.ndarray) else None,
        }
    return {"text": observation if isinstance(observation, str) else str(observation),
            "image": None}


def decode_observation(data: Mapping[str, Any]) -> Any:
    """The inverse of :func:`encode_observation`: a ``str``, or ``{"text", "image"}``."""
    image = data.get("image")
    text = str(data.get("text", ""))
    if isinstance(image, Mapping):
        return {"text": text, "image": decode_image(image)}
    return text


# -- server description --------------------------------------------------------------------------
def http_url(env_id: str) -> str:
    """``openenv+http://host:port/path`` → ``http://host:port/path`` (no trailing slash).

    Raises:
        ValueError: not an ``openenv+http(s)://`` / ``openenv+ws(s)://`` address.
    """
    if not env_id.startswith(PREFIX):
        raise ValueError(f"{env_id!r} does not start with {PREFIX!r}")
    url = env_id[len(PREFIX):].rstrip("/")
    parts = urllib.parse.urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{env_id!r} is not an OpenEnv address; write openenv+http://HOST:PORT"
        )
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path, "", ""))


def spec_id(base_url: str) -> str:
    """An id for the server that Gymnasium accepts: ``openenv/HOST:PORT[.path]``."""
    parts = urllib.parse.urlsplit(base_url)
    name = _ID_UNSAFE.sub("_", parts.netloc + parts.path.replace("/", "."))
    return f"openenv/{name}"


def _get_json(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def describe(base_url: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """What the server at ``base_url`` says about itself: ``{"schema": …, "state": …}`` from
    its ``/schema`` and ``/state`` endpoints (asked afresh each time: a port may serve another
    environment tomorrow).

    Raises:
        OpenEnvError: the server cannot be reached or does not speak OpenEnv.
    """
    try:
        schema = _get_json(f"{base_url}/schema", timeout)
        state = _get_json(f"{base_url}/state", timeout)
    except (OSError, ValueError) as exc:
        raise OpenEnvError(
            f"no OpenEnv server answers at {base_url} ({type(exc).__name__}: {exc}); start one "
            f"with `agentgym serve ENV_ID --port PORT`"
        ) from None
    if not isinstance(schema, dict) or not isinstance(state, dict):
        raise OpenEnvError(f"{base_url} answered /schema or /state with something not an object")
    return {"schema": schema, "state": state}


def openenv_spec(env_id: str) -> Any:
    """The :class:`~agentgym.core.registration.EnvSpec` of an ``openenv+http://…`` id.

    Its turn limit is the one an agentgym server reports (``None`` for other servers: pass
    ``max_turns`` to ``collect``).
    """
    from agentgym.core.registration import EnvSpec

    base_url = http_url(env_id)
    info = describe(base_url).get("state", {}).get(SERVER_KEY) or {}
    served = info.get("env_id")
    return EnvSpec(
        id=spec_id(base_url),
        entry_point=OpenEnvEnv,
        max_episode_steps=info.get("max_episode_steps"),
        kwargs={"base_url": base_url},
        family="openenv",
        description=f"OpenEnv server at {base_url}" + (f" serving {served}" if served else ""),
    )


def _single_string_field(schema: Mapping[str, Any]) -> str | None:
    """The action schema's only string property besides ``metadata``, if there is exactly one."""
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if k != "metadata"}
    strings = [k for k, v in properties.items() if isinstance(v, Mapping) and v.get("type") ==
               "string"]
    return strings[0] if len(strings) == 1 and len(properties) == 1 else None


# -- the environment -------------------------------------------------------------------------------
class OpenEnvEnv(gym.Env):
    """A remote OpenEnv environment as a ``gymnasium.Env`` (one WebSocket session per instance).

    The session opens at the first ``reset`` and closes with :meth:`close` (the server then
    releases the environment and its sandbox). A failed call (an error answer, a timeout, a
    dropped connection) raises :class:`OpenEnvError` and drops the session, so the next
    ``reset`` starts a fresh one; inside ``collect`` that ends only the episode, as truncated
    with the error.

    Args:
        base_url: ``http://HOST:PORT`` of the server.
        connect_timeout: seconds to open the WebSocket.
        message_timeout: seconds to wait for one answer (a slow ``step`` counts).
        action_field: for non-agentgym servers, the action field that receives the text
            (default: the schema's only string field, else the text is parsed as JSON).
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        message_timeout: float = 600.0,
        action_field: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.message_timeout = message_timeout
        description = describe(self.base_url)
        self.server_info: dict[str, Any] = dict(description["state"].get(SERVER_KEY) or {})
        self.agentgym_server = bool(self.server_info)
        self._action_field = action_field
        if not self.agentgym_server and action_field is None:
            self._action_field = _single_string_field(description["schema"].get("action") or {})
        self._oracle = frozenset(self.server_info.get("oracle") or ())
        self.action_space = FreeText()
        shape = (self.server_info.get("observation") or {}).get("image_shape")
        if shape:
            self.observation_space = spaces.Dict(
                {"text": FreeText(), "image": spaces.Box(0, 255, shape=tuple(shape),
                                                        dtype=np.uint8)}
            )
        else:
            self.observation_space = FreeText()
        self._client: Any = None
        self._observation: Any = ""
        self._text = ""
        self._tools: list[Any] | None = None

    # -- session --------------------------------------------------------------------------------
    def _session(self) -> Any:
        if self._client is None:
            try:
                from openenv.core import GenericEnvClient
            except ImportError as exc:
                raise OpenEnvError(
                    "playing an OpenEnv server needs openenv-core: pip install 'agentgym[serve]'"
                ) from exc
            client = GenericEnvClient(
                base_url=self.base_url,
                connect_timeout_s=self.connect_timeout,
                message_timeout_s=self.message_timeout,
            ).sync()
            try:
                client.connect()
            except Exception as exc:
                client.close()
                raise OpenEnvError(f"cannot open a session at {self.base_url}: {exc}") from None
            self._client = client
        return self._client

    def _drop_session(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # the connection may already be gone
                client.close()

    def _call(self, what: str, *args: Any, **kwargs: Any) -> Any:
        client = self._session()
        try:
            return getattr(client, what)(*args, **kwargs)
        except BaseException as exc:
            self._drop_session()  # an answer may still be on its way: never reuse the socket
            if isinstance(exc, TimeoutError):
                raise OpenEnvError(
                    f"{what} got no answer from {self.base_url} within "
                    f"{self.message_timeout:g} s"
                ) from None
            if type(exc).__name__.startswith("ConnectionClosed"):  # websockets' exceptions
                raise OpenEnvError(
                    f"{self.base_url} closed the session during {what} (server stopped, idle "
                    f"session reaped, message too large, or the server is at its session "
                    f"limit): {exc}"
                ) from None
            if isinstance(exc, RuntimeError) and str(exc).startswith("Server error"):
                limit = " (the server is at its session limit)" if "CAPACITY_REACHED" in str(
                    exc) else ""
                raise OpenEnvError(f"{self.base_url} answered {what} with an error{limit}: "
                                   f"{str(exc)[len('Server error: '):]}") from None
            raise

    # -- the gymnasium API ----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        data: dict[str, Any] = {}
        if seed is not None:
            data["seed"] = int(seed)
        if options:
            data["options"] = dict(options)
        result = self._call("reset", **data)
        observation, info, _, _ = self._decode(result)
        tools = info.get("tools")
        self._tools = list(tools) if isinstance(tools, list) else None
        if not self.agentgym_server:
            info = {"task_id": "" if seed is None else str(seed), "instruction": "",
                    "state_key": self._text}
        return observation, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        payload = self._payload(action)
        if isinstance(payload, str):  # could not be written as this server's action
            return self._invalid(payload)
        result = self._call("step", payload)
        observation, info, terminated, truncated = self._decode(result)
        reward = float(result.reward) if result.reward is not None else 0.0
        if not self.agentgym_server:
            info = {"state_key": self._text, "action_valid": True,
                    "reward_parts": {"reward": reward},
                    "success": bool(terminated and reward > 0)}
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        self._drop_session()

    def __getattr__(self, name: str) -> Any:
        # admissible_actions / expert_action exist only when the server exposes its oracle;
        # tools only when the environment listed them (reset info["tools"])
        if name in ORACLE_METHODS and name in self.__dict__.get("_oracle", ()):
            return functools.partial(self._oracle_call, name)
        if name == "tools" and self.__dict__.get("_tools"):
            return list(self.__dict__["_tools"])
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- plumbing -----------------------------------------------------------------------------
    def _oracle_call(self, name: str) -> Any:
        state = self._call("state")
        oracle = state.get(SERVER_KEY, {}).get("oracle_values", {}) if isinstance(state, dict) \
            else {}
        if name not in oracle:
            raise OpenEnvError(f"{self.base_url} did not answer {name}()")
        return oracle[name]

    def _payload(self, action: Any) -> dict[str, Any] | str:
        text = action if isinstance(action, str) else str(action)
        if self.agentgym_server:
            return {"text": text}
        if self._action_field:
            return {self._action_field: text}
        try:
            payload = json.loads(text)
        except ValueError as exc:
            return f"the action must be a JSON object for this server ({exc})"
        if not isinstance(payload, dict):
            return "the action must be a JSON object for this server"
        return payload

    def _invalid(self, message: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        info = {"state_key": self._text, "action_valid": False, "reward_parts": {},
                "success": False, "message": message}
        return self._observation, 0.0, False, False, info

    def _decode(self, result: Any) -> tuple[Any, dict[str, Any], bool, bool]:
        data = result.observation if isinstance(result.observation, dict) else {}
        if self.agentgym_server:
            observation = decode_observation(data)
            info = data.get("info") if isinstance(data.get("info"), dict) else {}
            terminated = bool(data.get("terminated", result.done))
            truncated = bool(data.get("truncated", False))
        else:
            fields = {k: v for k, v in data.items() if k != "metadata"}
            strings = [v for v in fields.values() if isinstance(v, str)]
            observation = strings[0] if len(fields) == 1 and strings else json.dumps(
                fields, sort_keys=True, separators=(",", ":"), default=str
            )
            info, terminated, truncated = {}, bool(result.done), False
        self._observation = observation
        self._text = observation["text"] if isinstance(observation, dict) else observation
        return observation, info, terminated, truncated


__all__ = [
    "ORACLE_METHODS",
    "PREFIX",
    "SERVER_KEY",
    "OpenEnvEnv",
    "OpenEnvError",
    "decode_observation",
    "describe",
    "encode_observation",
    "http_url",
    "openenv_spec",
    "spec_id",
    "to_json",
]
