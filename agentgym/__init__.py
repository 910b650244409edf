"""agentgym: a gym and trainer for multi-turn LLM agents.

::

    import agentgym
    env = agentgym.make("agentgym/Sokoban-v0")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("up")
"""

import agentgym.envs  # noqa: F401  (registers the built-in environments)
from agentgym.core.checker import CheckReport, EnvCheckError, check_env
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

__version__ = "0.1.0"

__all__ = [
    "CheckReport",
    "EnvCheckError",
    "EnvSpec",
    "Episode",
    "StepBatch",
    "TextEnv",
    "Turn",
    "UnknownEnvError",
    "__version__",
    "check_env",
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
