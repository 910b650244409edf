"""The environment contract every agentgym environment follows.

An agentgym environment is a :class:`gymnasium.Env` whose observations and actions are text::

    obs, info = env.reset(seed=s, options=None)
    obs, reward, terminated, truncated, info = env.step(action_text)

* Observation: a ``str`` (GUI environments: a dict ``{"text": str, "image": uint8 HxWx3}``).
* Action: the ``str`` the agent chose, already extracted from the model's output (see
  :class:`agentgym.core.wrappers.ActionParser`).
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

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym

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


class TextEnv(gym.Env[str, str]):
    """Base class for text environments: free-text spaces and contract-shaped info dicts.

    Subclasses implement ``reset`` and ``step`` as in Gymnasium and use :meth:`reset_info` and
    :meth:`step_info` to build the info dicts, so every required key is present and typed.

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

    # -- helpers for subclasses -------------------------------------------------------------
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
