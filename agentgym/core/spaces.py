"""Gymnasium spaces for text observations and actions.

Gymnasium's :class:`~gymnasium.spaces.Text` only admits characters from a fixed charset
(alphanumerics by default). An agent's observation is arbitrary prose, grids and markup, and its
action is whatever a language model wrote, so :class:`FreeText` admits *any* ``str`` up to a
length bound while still sampling short printable strings (what ``check_env`` and random tests
feed an environment).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium.spaces import Text

#: Characters drawn by :meth:`FreeText.sample`: printable ASCII plus a few multi-byte symbols,
#: so sampled actions exercise unicode handling.
SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n" + "éß中🙂"

#: Default upper bound on observation/action length (characters).
DEFAULT_MAX_LENGTH = 1_000_000


class FreeText(Text):
    """A ``Text`` space that contains every ``str`` of at most ``max_length`` characters.

    Args:
        max_length: longest admitted string, in characters.
        min_length: shortest admitted string (0 admits the empty string).
        sample_max_length: longest string :meth:`sample` draws (kept short on purpose).
    """

    def __init__(
        self,
        max_length: int = DEFAULT_MAX_LENGTH,
        *,
        min_length: int = 0,
        sample_max_length: int = 32,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)
        self.sample_max_length = min(sample_max_length, max_length)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        length = int(self.np_random.integers(self.min_length, self.sample_max_length + 1))
        chars = self.np_random.choice(len(SAMPLE_CHARSET), size=length)
        return "".join(SAMPLE_CHARSET[i] for i in chars)

    def __repr__(self) -> str:
        return f"FreeText(min_length={self.min_length}, max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, FreeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )
