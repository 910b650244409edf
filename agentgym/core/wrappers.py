"""Cross-cutting behaviour as stackable Gymnasium wrappers.

* :class:`TurnLimit` — truncate after ``max_turns`` turns (``truncated``, never ``terminated``).
* :class:`ActionParser` — extract the action from raw model output: ``<action>…</action>`` or a
  JSON tool call; malformed output becomes an invalid action with a message, never an exception.
* :class:`ChatHistory` — keep the episode as chat messages for the policy, with a window of the
  last ``k`` turns or the full history.
* :class:`InvalidActionPenalty` — add a negative ``invalid_penalty`` reward part on invalid actions.
* :class:`EpisodeRecorder` — append every finished episode to a JSONL file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym

from agentgym.core.env import observation_text

ACTION_FORMATS = ("plain", "xml", "json")

_XML_ACTION = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
_JSON_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TOOL_CALL_TAG = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


class ParseError(ValueError):
    """Model output from which no action could be extracted; the message says what to write."""


class TurnLimit(gym.Wrapper):
    """End the episode as ``truncated`` after ``max_turns`` steps.

    The last step's info gets ``truncated_reason="turn_limit"``. ``terminated`` is left as the
    environment reported it: a task solved on the last allowed turn is terminated *and*
    truncated is False.
    """

    def __init__(self, env: gym.Env, max_turns: int) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        super().__init__(env)
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


def parse_xml_action(text: str) -> str:
    """Return the content of the *last* ``<action>…</action>`` in ``text``, stripped.

    Raises:
        ParseError: when there is no complete action tag or it is empty.
    """
    matches = _XML_ACTION.findall(text)
    if not matches:
        raise ParseError(
            "no <action>...</action> found; end your reply with <action>ACTION</action>"
        )
    action = matches[-1].strip()
    if not action:
        raise ParseError("the <action></action> tag is empty; put one action inside it")
    return action


def parse_json_tool_call(text: str) -> dict[str, Any]:
    """Extract a JSON tool call ``{"name": str, "arguments": dict}`` from model output.

    Accepts a bare JSON object, one inside ```json fences or inside ``<tool_call>`` tags, and
    the OpenAI shape ``{"function": {"name": …, "arguments": "<json string>"}}``.

    Raises:
        ParseError: when no JSON object with a string ``name`` can be found.
    """
    candidates = [*_TOOL_CALL_TAG.findall(text), *_JSON_FENCE.findall(text), text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            call = _as_tool_call(obj)
            if call is not None:
                return call
            start = candidate.find("{", start + 1)
    raise ParseError(
        'no JSON tool call found; reply with {"name": "<tool>", "arguments": {...}}'
    )


def _as_tool_call(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {"name": name, "arguments": arguments}


def render_action(action: str, action_format: str) -> str:
    """Write ``action`` as a model would in ``action_format`` (inverse of the parsers).

    For ``json`` the action must itself be a JSON tool call string or a bare tool name.
    """
    if action_format == "plain":
        return action
    if action_format == "xml":
        return f"<action>{action}</action>"
    if action_format == "json":
        try:
            call = _as_tool_call(json.loads(action))
        except json.JSONDecodeError:
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

    def parse(self, text: str) -> str:
        if self.action_format == "xml":
            return parse_xml_action(text)
        if self.action_format == "json":
            return json.dumps(parse_json_tool_call(text), separators=(",", ":"))
        return text

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._state_key = info.get("state_key", obs if isinstance(obs, str) else "")
        self._last_obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        text = action if isinstance(action, str) else str(action)
        try:
            parsed = self.parse(text)
        except ParseError as err:
            _, reward, terminated, truncated, info = self.env.step("")
            obs = _with_message(self._last_obs, f"Invalid action: {err}.")
            info = {
                **info,
                "state_key": self._state_key,
                "action_valid": False,
                "format_error": True,
                "raw_action": text[:2000],
                "parsed_action": None,
                "error": str(err),
            }
            return obs, reward, terminated, truncated, info
        obs, reward, terminated, truncated, info = self.env.step(parsed)
        self._state_key = info.get("state_key", self._state_key)
        self._last_obs = obs
        info = {**info, "raw_action": text[:2000], "parsed_action": parsed}
        return obs, reward, terminated, truncated, info


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
                    "action": _plain(action),
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
        with self.path.open("a", encoding="utf-8") as f:
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
    "ActionParser",
    "ChatHistory",
    "EpisodeRecorder",
    "InvalidActionPenalty",
    "ParseError",
    "TurnLimit",
    "parse_json_tool_call",
    "parse_xml_action",
    "render_action",
]
