"""The environment contract every agentgym environment follows.

An agentgym environment is a :class:`gymnasium.Env` whose observations and actions are text::

    obs, info = env.reset(seed=s, options=None)
    obs, reward, terminated, truncated, info = env.step(action_text)

* Observation: a ``str`` (GUI environments: a dict ``{"text": str, "image": uint8 HxWx3}``).
* Action: the ``str`` the agent chose, already extracted from the model's output (see
  :class:`agentgym.core.wrappers.ActionParser`). Any string — empty, 1 MB long, with control
  characters or lone surrogates — and any value that is not a string is answered as an invalid
  action with a message, never with an exception (``check_env`` plays such garbage).
* ``step`` before the first ``reset`` raises :class:`gymnasium.error.ResetNeeded`.
* ``terminated``: the task ended (solved, failed, bought, submitted).
  ``truncated``: the turn or context budget ran out. The two are never merged.

Info keys (checked by :func:`agentgym.core.checker.check_env`):

=================  ==========  =============================================================
key                where       meaning
=================  ==========  =============================================================
``task_id``        reset       str; the same seed gives the same task
``instruction``    reset       str; the goal in words
``answer``         reset       optional str; ground truth, hidden from the policy's prompt
``state_key``      reset, step str naming the current state *without history* (anchor state for
                               GiGPO). Defaults to the observation text.
``action_valid``   step        bool; False when the action could not be executed. The state is
                               then unchanged and the observation says why.
``reward_parts``   step        dict[str, float]; named reward components of this turn
``success``        step        bool; True once the task is solved (final step)
=================  ==========  =============================================================

Optional methods an environment may provide:
``admissible_actions() -> list[str]`` (valid actions in the current state),
``expert_action() -> str`` (an oracle that solves every task; used for behaviour cloning and
tests) and ``render()`` with ``render_mode="ansi"``.

:class:`TextEnv` is a thin base class that fixes the spaces and builds well-formed info dicts.
Environments may also subclass :class:`gymnasium.Env` directly; the contract is the info keys,
not the base class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
from gymnasium.error import ResetNeeded

from agentgym.core.spaces import FreeText

#: Keys every ``reset`` info must carry.
RESET_INFO_KEYS: tuple[str, ...] = ("task_id", "instruction", "state_key")
#: Keys every ``step`` info must carry.
STEP_INFO_KEYS: tuple[str, ...] = ("state_key", "action_valid", "reward_parts", "success")


def combine_reward(parts: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float:
    """Weighted sum of named reward parts; parts missing from ``weights`` weigh 1.0."""
    if not weights:
        return float(sum(parts.values()))
    return float(sum(value * weights.get(name, 1.0) for name, value in parts.items()))


def observation_text(observation: Any) -> str:
    """The text of an observation (GUI observations are ``{"text": …, "image": …}``)."""
    if isinstance(observation, dict):
        return str(observation.get("text", ""))
    return observation if isinstance(observation, str) else str(observation)


def echo_action(action: Any, limit: int = 40) -> str:
    """A short, printable rendering of an arbitrary action for error messages.

    ``echo_action("x" * 100)`` → ``"'xxxx…x'... (100 characters)"``; non-strings are shown with
    ``repr``; unencodable characters (lone surrogates) are escaped, so the result always encodes.
    """
    text = action if isinstance(action, str) else repr(action)
    suffix = f"... ({len(text)} characters)" if len(text) > limit else ""
    return f"{text[:limit]!r}{suffix}".encode("utf-8", "backslashreplace").decode("utf-8")


def optional_method(env: gym.Env, name: str) -> Callable[..., Any] | None:
    """``env``'s optional method ``name`` (``admissible_actions``, ``expert_action`` …) looked
    up through its wrappers, or None when the environment does not provide it."""
    try:
        method = env.get_wrapper_attr(name)
    except AttributeError:
        method = getattr(env.unwrapped, name, None)
    return method if callable(method) else None


def env_tools(env: Any) -> list[dict[str, Any]] | None:
    """The tools ``env`` offers now (its optional ``tools`` attribute, looked up through the
    wrappers): a list of OpenAI-style function schemas, or None for environments without."""
    try:
        tools = env.get_wrapper_attr("tools")
    except AttributeError:
        tools = getattr(getattr(env, "unwrapped", env), "tools", None)
    if callable(tools):
        tools = tools()
    return list(tools) if tools else None


T = TypeVar("T")

#: The message of :class:`gymnasium.error.ResetNeeded` raised by a step before the first reset.
RESET_NEEDED_MESSAGE = "call reset() before step()"


class TextEnv(gym.Env[str, str]):
    """Base class for text environments: free-text spaces and contract-shaped info dicts.

    Subclasses implement ``reset`` and ``step`` as in Gymnasium and use :meth:`reset_info` and
    :meth:`step_info` to build the info dicts, so every required key is present and typed.

    Two parts of the contract come for free, without a wrapper: a subclass's ``step`` called
    before its first ``reset`` raises :class:`gymnasium.error.ResetNeeded` (``reset`` must call
    ``super().reset(seed=seed)``, as Gymnasium envs do), and an action that is not a ``str``
    reaches ``step`` as its ``str()`` — which the environment then answers as an invalid action.

    Args:
        reward_weights: optional weight per reward part; the step reward is
            ``sum(weights[k] * reward_parts[k])`` (missing weights are 1.0).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        *,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r} is not supported; "
                f"choose one of {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.reward_weights = dict(reward_weights or {})
        self.observation_space = FreeText()
        self.action_space = FreeText()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is None or getattr(step, "_agentgym_checked", False):
            return

        @functools.wraps(step)
        def checked_step(self: TextEnv, action: Any) -> Any:
            if not getattr(self, "_agentgym_was_reset", False):
                raise ResetNeeded(RESET_NEEDED_MESSAGE)
            return step(self, action if isinstance(action, str) else str(action))

        checked_step._agentgym_checked = True  # type: ignore[attr-defined]
        cls.step = checked_step  # type: ignore[method-assign]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Seed ``self.np_random`` (Gymnasium) and allow :meth:`step` from now on; subclasses
        call it first with ``super().reset(seed=seed)``."""
        super().reset(seed=seed, options=options)
        self._agentgym_was_reset = True
        return "", {}

    # -- helpers for subclasses -------------------------------------------------------------
    def choose_task(
        self,
        tasks: Sequence[T],
        *,
        seed: int | None,
        options: Mapping[str, Any] | None,
        task_id: Callable[[T], str] = lambda task: task.id,  # type: ignore[attr-defined]
    ) -> T:
        """The task of this reset: ``options["task_id"]`` if given, else ``tasks[seed % n]``
        (same seed ⇒ same task), else one drawn from ``self.np_random``.

        Raises:
            ValueError: ``options["task_id"]`` names no task.
        """
        wanted = (options or {}).get("task_id")
        if wanted is not None:
            matches = [task for task in tasks if task_id(task) == wanted]
            if not matches:
                raise ValueError(f"unknown task_id {wanted!r} in this split")
            return matches[0]
        if seed is not None:
            return tasks[seed % len(tasks)]
        return tasks[int(self.np_random.integers(len(tasks)))]

    def reward_from_parts(self, parts: Mapping[str, float]) -> float:
        """The turn reward: the configured combination of ``parts``."""
        return combine_reward(parts, self.reward_weights)

    @staticmethod
    def reset_info(
        *, task_id: str, instruction: str, state_key: str, answer: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Build a ``reset`` info dict with the required keys."""
        info: dict[str, Any] = {
            "task_id": str(task_id),
            "instruction": str(instruction),
            "state_key": str(state_key),
        }
        if answer is not None:
            info["answer"] = str(answer)
        info.update(extra)
        return info

    @staticmethod
    def step_info(
        *,
        state_key: str,
        action_valid: bool,
        reward_parts: Mapping[str, float],
        success: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Build a ``step`` info dict with the required keys."""
        info: dict[str, Any] = {
            "state_key": str(state_key),
            "action_valid": bool(action_valid),
            "reward_parts": {str(k): float(v) for k, v in reward_parts.items()},
            "success": bool(success),
        }
        info.update(extra)
        return info
