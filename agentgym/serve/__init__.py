"""``agentgym serve``: any registered environment as an OpenEnv server (``[serve]`` extra).

::

    agentgym serve agentgym/Sokoban-v0 --host 127.0.0.1 --port 8000

    # any OpenEnv client, e.g. openenv-core's own:
    from openenv.core import GenericEnvClient
    with GenericEnvClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=3)
        result = env.step({"text": "up"})

    # or agentgym itself, as an ordinary environment:
    env = agentgym.make("openenv+http://127.0.0.1:8000")

The protocol is openenv-core's (HTTP ``/reset``, ``/step``, ``/state`` and the WebSocket session
at ``/ws``); :mod:`agentgym.serve.environment` adapts an agentgym environment to it and
:mod:`agentgym.serve.app` adds the session limit, idle reaping, payload limits and clean-up.
This package imports core only (it makes environments through the registry), and openenv-core
only when a server is built.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ServeSettings": "agentgym.serve.environment",
    "ServerThread": "agentgym.serve.app",
    "build_app": "agentgym.serve.app",
    "serve": "agentgym.serve.app",
    "start_in_thread": "agentgym.serve.app",
}


def __getattr__(name: str) -> Any:
    """Load the server lazily: importing ``agentgym.serve`` needs no openenv-core."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ServeSettings", "ServerThread", "build_app", "serve", "start_in_thread"]
