"""agentgym: a gym and trainer for multi-turn LLM agents.

::

    import agentgym
    env = agentgym.make("agentgym/Sokoban-v0")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("up")
"""

from agentgym.core.env import TextEnv, combine_reward
from agentgym.core.registration import (
    EnvSpec,
    UnknownEnvError,
    load_plugins,
    make,
    register,
    registry,
    resolve_id,
    spec,
)
from agentgym.core.trajectory import Episode, StepBatch, Turn, load_episodes, save_episodes

import agentgym.envs  # noqa: E402, F401  (registers the built-in environments)

__version__ = "0.1.0"

__all__ = [
    "EnvSpec",
    "Episode",
    "StepBatch",
    "TextEnv",
    "Turn",
    "UnknownEnvError",
    "__version__",
    "combine_reward",
    "load_episodes",
    "load_plugins",
    "make",
    "register",
    "registry",
    "resolve_id",
    "save_episodes",
    "spec",
]
