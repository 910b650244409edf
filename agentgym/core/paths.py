"""Where agentgym keeps files it generates once and reuses (games, task sets, tiny models)."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves the whole cache (CI points it at a scratch folder).
CACHE_ENV_VAR = "AGENTGYM_CACHE_DIR"


def cache_dir(*parts: str) -> Path:
    """``$AGENTGYM_CACHE_DIR/<parts…>``, else ``~/.cache/agentgym/<parts…>`` (not created).

    Args:
        parts: sub-folders below the cache root, e.g. ``cache_dir("textworld")``.
    """
    root = os.environ.get(CACHE_ENV_VAR)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "agentgym"
    return base.joinpath(*parts)
