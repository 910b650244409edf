"""Summary statistics of a batch of episodes (used by ``agentgym rollout`` and ``eval``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from agentgym.core.trajectory import Episode


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default).

    Returns ``(low, high)``; ``(0.0, 1.0)`` when ``n == 0``.
    """
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class EpisodeSummary:
    """Aggregate numbers over episodes.

    Attributes:
        episodes: number of episodes.
        success_rate: share solved, with its Wilson 95% interval ``success_ci``.
        mean_outcome: mean final score; ``mean_return`` mean summed reward.
        mean_turns: mean number of turns.
        invalid_action_rate: share of turns whose action was invalid.
        errors: episodes that ended on an environment error.
    """

    episodes: int
    success_rate: float
    success_ci: tuple[float, float]
    mean_outcome: float
    mean_return: float
    mean_turns: float
    invalid_action_rate: float
    errors: int


def summarize(episodes: Sequence[Episode]) -> EpisodeSummary:
    n = len(episodes)
    successes = sum(e.success for e in episodes)
    turns = sum(len(e.turns) for e in episodes)
    invalid = sum(not t.action_valid for e in episodes for t in e.turns)
    return EpisodeSummary(
        episodes=n,
        success_rate=successes / n if n else 0.0,
        success_ci=wilson_interval(successes, n),
        mean_outcome=sum(e.outcome for e in episodes) / n if n else 0.0,
        mean_return=sum(e.total_reward for e in episodes) / n if n else 0.0,
        mean_turns=turns / n if n else 0.0,
        invalid_action_rate=invalid / turns if turns else 0.0,
        errors=sum("error" in e.info for e in episodes),
    )
