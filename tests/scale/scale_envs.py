"""A test environment whose steps can be made slow, hanging or crashing on purpose.

``scaletest/Slow-v0``: the observation is ``"seed S turn T"``; the action decides what the step
does:

* ``"ok"`` — a normal turn (reward 0); ``"done"`` — ends the episode (terminated, reward 1);
* ``"wait:PATH"`` — blocks until the file ``PATH`` exists (a cross-process barrier), then ok;
* ``"sleep:S"`` — sleeps ``S`` seconds (a hang when ``S`` is large), then ok;
* ``"crash"`` — raises ``RuntimeError``;
* anything else — an invalid action (``action_valid`` False, state unchanged).

Every ``close`` appends a line to ``$SCALETEST_CLOSE_LOG`` when that variable is set, so a test
can count closed instances across processes. The expert says ``done``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import agentgym
from agentgym.core.env import TextEnv

ENV_ID = "scaletest/Slow-v0"
CLOSE_LOG = "SCALETEST_CLOSE_LOG"


class SlowEnv(TextEnv):
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_value = 0
        self.turn = 0

    def _obs(self) -> str:
        return f"seed {self.seed_value} turn {self.turn}"

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.seed_value = 0 if seed is None else int(seed)
        self.turn = 0
        return self._obs(), self.reset_info(task_id=f"slow-{self.seed_value}",
                                            instruction="say done", state_key=self._obs())

    def step(self, action: Any):
        text = str(action)
        if text.startswith("wait:"):
            while not os.path.exists(text[5:]):
                time.sleep(0.02)
        elif text.startswith("sleep:"):
            time.sleep(float(text[6:]))
        elif text == "crash":
            raise RuntimeError("crashed on purpose")
        elif text not in ("ok", "done"):
            info = self.step_info(state_key=self._obs(), action_valid=False, reward_parts={},
                                  message=f"unknown action {text[:20]!r}")
            return self._obs(), 0.0, False, False, info
        self.turn += 1
        done = text == "done"
        parts = {"done": 1.0 if done else 0.0}
        info = self.step_info(state_key=self._obs(), action_valid=True, reward_parts=parts,
                              success=done)
        return self._obs(), self.reward_from_parts(parts), done, False, info

    def expert_action(self) -> str:
        return "done"

    def admissible_actions(self) -> list[str]:
        return ["ok", "done"]

    def close(self) -> None:
        path = os.environ.get(CLOSE_LOG)
        if path:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()}\n")
        super().close()


class ToolsEnv(SlowEnv):
    """``scaletest/Tools-v0``: SlowEnv that offers one tool per turn taken (``tools`` changes)."""

    @property
    def tools(self) -> list[dict[str, Any]]:
        return [{"type": "function", "function": {"name": f"tool{i}", "parameters": {}}}
                for i in range(self.turn + 1)]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info["tools"] = self.tools
        return obs, info


TOOLS_ID = "scaletest/Tools-v0"
if TOOLS_ID not in agentgym.registry:
    agentgym.register(id=TOOLS_ID, entry_point=ToolsEnv, max_episode_steps=5, family="tool",
                      description="test env: SlowEnv with tools that change every turn")
if ENV_ID not in agentgym.registry:
    agentgym.register(id=ENV_ID, entry_point=SlowEnv, max_episode_steps=5, family="text",
                      description="test env: slow, hanging or crashing steps on demand")
