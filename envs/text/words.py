"""Word actions shared by the grid games (Sokoban, FrozenLake, Taxi).

An action is one of a few words; matching tolerates case, surrounding whitespace and ``_``/``-``
for spaces, and refuses everything else — other text, text longer than
:data:`MAX_WORD_ACTION_CHARS`, values that are not ``str`` — without looking at it further.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Longest text matched against the action words; longer text is never an action, and is not
#: lower-cased or searched (100 kB of garbage costs nothing).
MAX_WORD_ACTION_CHARS = 64
_SEPARATORS = re.compile(r"[\s_-]+")


def lookup_action(action: Any, table: Mapping[str, int]) -> int | None:
    """Action index of ``action`` in ``table``: case-insensitive, whitespace, ``_`` and ``-``
    runs collapsed to one space; None for anything else (including non-strings).

    >>> lookup_action(" Pick_Up ", {"pick up": 4}), lookup_action(["up"], {"up": 0})
    (4, None)
    """
    if not isinstance(action, str) or len(action) > MAX_WORD_ACTION_CHARS:
        return None
    return table.get(_SEPARATORS.sub(" ", action.strip().lower()))


def child_seed(rng: np.random.Generator) -> int:
    """A seed for a wrapped Gymnasium environment, drawn from the episode's generator."""
    return int(rng.integers(2**31 - 1))


__all__ = ["MAX_WORD_ACTION_CHARS", "child_seed", "lookup_action"]
