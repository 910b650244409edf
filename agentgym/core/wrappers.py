"""Cross-cutting behaviour as stackable Gymnasium wrappers.

* :class:`RequireReset` — ``step()`` before ``reset()`` raises ``gymnasium.error.ResetNeeded``.
* :class:`TurnLimit` — truncate after ``max_turns`` turns (``truncated``, never ``terminated``).
* :class:`ActionParser` — extract the action from raw model output: ``<action>…</action>`` or a
  JSON tool call (parsers in :mod:`agentgym.core.parsing`, linear time); malformed output, and
  anything that is not text, becomes an invalid action with a message, never an exception.
* :class:`ChatHistory` — keep the episode as chat messages for the policy, with a window of the
  last ``k`` turns or the full history.
* :class:`InvalidActionPenalty` — add a negative ``invalid_penalty`` reward part on invalid actions.
* :class:`EpisodeRecorder` — append every finished episode to a JSONL file.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.error import ResetNeeded
from gymnasium.wrappers import OrderEnforcing

from agentgym.core.env import RESET_NEEDED_MESSAGE, observation_text
from agentgym.core.parsing import (
    ParseError,
    as_tool_call,
    check_text,
    loads_json,
    parse_json_tool_call,
    parse_xml_action,
)

ACTION_FORMATS = ("plain", "xml", "json")
#: The message of the :class:`~gymnasium.error.ResetNeeded` raised by a step before reset.
#: Characters of the raw model output kept in ``info["raw_action"]``.
RAW_ACTION_CHARS = 2000


class RequireReset(OrderEnforcing):
    """Gymnasium's :class:`~gymnasium.wrappers.OrderEnforcing` with agentgym's message:
    ``step()`` before the first ``reset()`` raises :class:`gymnasium.error.ResetNeeded`
    ("call reset() before step()") whatever the environment would do. ``render()`` before
    ``reset()`` is allowed (text environments render ``None`` then).
    """

    def __init__(self, env: gym.Env, disable_render_order_enforcing: bool = True) -> None:
        super().__init__(env, disable_render_order_enforcing=disable_render_order_enforcing)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self.has_reset:
            raise ResetNeeded(RESET_NEEDED_MESSAGE)
        return self.env.step(action)

    @property
    def spec(self) -> gym.envs.registration.EnvSpec | None:
        """The environment's spec as it is (:func:`agentgym.make` sets ``order_enforce``);
        Gymnasium's wrapper would deep-copy it, constructor arguments included."""
        return self.env.spec


class TurnLimit(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """End the episode as ``truncated`` after ``max_turns`` steps.

    The last step's info gets ``truncated_reason="turn_limit"``. ``terminated`` is left as the
    environment reported it: a task solved on the last allowed turn is terminated *and*
    truncated is False. (Its arguments are recorded, so ``env.spec.make()`` rebuilds the stack.)
    """

    def __init__(self, env: gym.Env, max_turns: int) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        gym.utils.RecordConstructorArgs.__init__(self, max_turns=max_turns)
        gym.Wrapper.__init__(self, env)
        self.max_turns = int(max_turns)
        self.turn = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.turn = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.turn += 1
        if self.turn >= self.max_turns and not terminated and not truncated:
            truncated = True
            info = {**info, "truncated_reason": "turn_limit"}
        return obs, reward, terminated, truncated, info


def render_action(action: str, action_format: str) -> str:
    """Write ``action`` as a model would in ``action_format`` (inverse of the parsers).

    For ``json`` the action must itself be a JSON tool call string or a bare tool name.
    """
    if action_format == "plain":
        return action
    if action_format == "xml":
        return f"<action>{action}</action>"
    if action_format == "json":
        try:  # only an object can be a call: skip decoding anything else
            call = as_tool_call(loads_json(action)) if action.lstrip()[:1] == "{" else None
        except ParseError:
            call = None
        return json.dumps(call if call is not None else {"name": action, "arguments": {}})
    raise ValueError(f"unknown action_format {action_format!r}; choose one of {ACTION_FORMATS}")


class ActionParser(gym.Wrapper):
    """Extract the action from raw model output before the environment sees it.

    ``action_format="xml"`` passes the content of the last ``<action>…</action>``;
    ``"json"`` passes the tool call re-serialized as compact JSON
    (``{"name": …, "arguments": {…}}``).

    When extraction fails, the environment is stepped with the empty action ``""``, which the
    contract (checked by :func:`agentgym.check_env`) makes an invalid action that changes
    nothing. The turn therefore gets the environment's *own* invalid-action reward and counts
    against its turn limit — unparsable output is never better than a legal move. The
    observation is the unchanged one with the parse error in front; info has
    ``action_valid=False`` and ``format_error=True``.

    Info gains ``raw_action`` (the model output) and ``parsed_action``.
    """

    def __init__(self, env: gym.Env, action_format: str = "xml") -> None:
        if action_format not in ACTION_FORMATS:
            raise ValueError(
                f"unknown action_format {action_format!r}; choose one of {ACTION_FORMATS}"
            )
        super().__init__(env)
        self.action_format = action_format
        self._state_key = ""
        self._last_obs: Any = ""

    def parse(self, text: Any) -> str:
        """The action in model output ``text``.

        Raises:
            ParseError: no action could be extracted, or ``text`` is not valid text (not a
                ``str``, a lone surrogate, a NUL character; also in ``plain`` format).
        """
        if self.action_format == "xml":
            return parse_xml_action(text)
        if self.action_format == "json":
            return json.dumps(parse_json_tool_call(text), separators=(",", ":"))
        return check_text(text)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._state_key = info.get("state_key", obs if isinstance(obs, str) else "")
        self._last_obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        text = _preview(action, RAW_ACTION_CHARS)
        try:
            parsed = self.parse(action)
        except ParseError as err:
            _, reward, terminated, truncated, info = self.env.step("")
            obs = _with_message(self._last_obs, f"Invalid action: {err}.")
            info = {
                **info,
                "state_key": self._state_key,
                "action_valid": False,
                "format_error": True,
                "raw_action": text,
                "parsed_action": None,
                "error": str(err),
            }
            return obs, reward, terminated, truncated, info
        obs, reward, terminated, truncated, info = self.env.step(parsed)
        self._state_key = info.get("state_key", self._state_key)
        self._last_obs = obs
        info = {**info, "raw_action": text, "parsed_action": parsed}
        return obs, reward, terminated, truncated, info


def _preview(action: Any, limit: int) -> str:
    """The first ``limit`` characters of a ``str`` action; a short ``repr`` of anything else."""
    return action[:limit] if isinstance(action, str) else reprlib.repr(action)


def _with_message(observation: Any, message: str) -> Any:
    """The unchanged observation with ``message`` put in front of its text."""
    if isinstance(observation, dict):
        return {**observation, "text": f"{message}\n\n{observation.get('text', '')}"}
    return f"{message}\n\n{observation}"


class InvalidActionPenalty(gym.Wrapper):
    """Add ``-penalty`` to the reward (as reward part ``invalid``) when an action is invalid."""

    def __init__(self, env: gym.Env, penalty: float = 0.1) -> None:
        super().__init__(env)
        self.penalty = float(penalty)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not info.get("action_valid", True):
            parts = {**info.get("reward_parts", {}), "invalid": -self.penalty}
            info = {**info, "reward_parts": parts}
            reward = float(reward) - self.penalty
        return obs, reward, terminated, truncated, info


class ChatHistory(gym.Wrapper):
    """Keep the episode as chat messages: ``env.messages`` is the policy's next prompt.

    The first user message holds the instruction and the first observation; each later turn adds
    the assistant's reply (the raw action text) and a user message with the new observation.
    With ``window=k`` only the last ``k`` past turns are kept after the first message (the
    windowed history of verl-agent style prompts); ``window=None`` keeps everything.

    Args:
        system_prompt: optional system message.
        window: number of past turns to keep, or None for the full history.
        format_observation: builds a user message's text from ``(observation, info)``.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        system_prompt: str | None = None,
        window: int | None = None,
        format_observation: Callable[[Any, dict[str, Any]], str] | None = None,
    ) -> None:
        if window is not None and window < 0:
            raise ValueError(f"window must be >= 0 or None, got {window}")
        super().__init__(env)
        self.system_prompt = system_prompt
        self.window = window
        self.format_observation = format_observation or _default_format
        self._instruction = ""
        self._first_user = ""
        self._turns: list[tuple[dict[str, str], dict[str, str]]] = []

    @property
    def messages(self) -> list[dict[str, str]]:
        """The chat messages the policy should answer next (a fresh list).

        The last message is always a user message holding the current observation.
        """
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        if self.window is None or len(self._turns) <= self.window:
            kept, task_message = self._turns, self._first_user
        else:
            kept = self._turns[len(self._turns) - self.window:] if self.window else []
            task_message = f"Task: {self._instruction}" if self._instruction else "Task:"
            if not kept:
                task_message += "\n\n" + self._turns[-1][1]["content"]
        out = [*system, {"role": "user", "content": task_message}]
        for assistant, user in kept:
            out.extend((dict(assistant), dict(user)))
        return out

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._instruction = str(info.get("instruction", ""))
        observation = self.format_observation(obs, info)
        self._first_user = (
            f"Task: {self._instruction}\n\n{observation}" if self._instruction else observation
        )
        self._turns = []
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._turns.append(
            (
                {"role": "assistant", "content": str(action)},
                {"role": "user", "content": self.format_observation(obs, info)},
            )
        )
        return obs, reward, terminated, truncated, info


def _default_format(observation: Any, info: dict[str, Any]) -> str:
    return observation_text(observation)


class EpisodeRecorder(gym.Wrapper):
    """Append each finished episode to ``path`` as one JSON line.

    A line holds ``env_id``, the reset info, and per turn the action, observation, reward,
    reward parts, validity and the terminated/truncated flags.
    """

    def __init__(self, env: gym.Env, path: str | Path) -> None:
        super().__init__(env)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._record: dict[str, Any] | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        spec = self.env.spec
        env_id = spec.id if spec is not None else type(self.env.unwrapped).__name__
        self._record = {
            "env_id": env_id,
            "seed": kwargs.get("seed"),
            "reset_info": _plain(info),
            "observation": _plain(obs),
            "turns": [],
        }
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._record is not None:
            self._record["turns"].append(
                {
                    "action": action if isinstance(action, str) else reprlib.repr(action),
                    "observation": _plain(obs),
                    "reward": float(reward),
                    "reward_parts": _plain(info.get("reward_parts", {})),
                    "action_valid": bool(info.get("action_valid", True)),
                    "terminated": bool(terminated),
                    "truncated": bool(truncated),
                }
            )
            if terminated or truncated:
                self._flush(success=bool(info.get("success", False)))
        return obs, reward, terminated, truncated, info

    def _flush(self, success: bool) -> None:
        assert self._record is not None
        self._record["success"] = success
        # A lone surrogate in the model's output is written as its JSON escape (\\udXXX).
        with self.path.open("a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(json.dumps(self._record, ensure_ascii=False) + "\n")
        self._record = None


def _plain(value: Any) -> Any:
    """A JSON-safe copy: images and other arrays are summarized by their shape."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    shape = getattr(value, "shape", None)
    if shape is not None:
        return {"array_shape": list(shape)}
    return repr(value)


__all__ = [
    "ACTION_FORMATS",
    "RESET_NEEDED_MESSAGE",
    "ActionParser",
    "ChatHistory",
    "EpisodeRecorder",
    "InvalidActionPenalty",
    "ParseError",
    "RequireReset",
    "TurnLimit",
    "parse_json_tool_call",
    "parse_xml_action",
    "render_action",
]
