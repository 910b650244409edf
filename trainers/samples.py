"""Turn samples: what the update step trains on.

One sample per turn: the prompt is the windowed history at that turn — the exact ``prompt_ids``
the engine used — and the response is the turn's ``response_ids`` with their sampled log-probs;
the turn's advantage is broadcast to its tokens by the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agentgym.core.trajectory import Episode


@dataclass
class TurnSample:
    """One (prompt, response, advantage) triple.

    Attributes:
        prompt_ids: token ids of the prompt the engine saw.
        response_ids: token ids it sampled.
        logprobs: sampled log-probs of ``response_ids`` (None for expert demonstrations).
        advantage: the turn's advantage (BC targets use 1).
    """

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float] | None
    advantage: float


def turn_samples(
    episodes: Sequence[Episode], advantages: np.ndarray | None = None
) -> list[TurnSample]:
    """Samples of every turn that carries token ids, in ``StepBatch`` row order.

    Args:
        episodes: the rollout's episodes.
        advantages: ``(n_turns,)`` one per turn in ``StepBatch.from_episodes`` order (episode,
            then turn); None gives 1.0 everywhere (behaviour cloning).

    Raises:
        ValueError: ``advantages`` does not have one entry per turn.
    """
    n_turns = sum(len(e.turns) for e in episodes)
    if advantages is not None and len(advantages) != n_turns:
        raise ValueError(f"{len(advantages)} advantages for {n_turns} turns")
    out: list[TurnSample] = []
    row = 0
    for episode in episodes:
        for turn in episode.turns:
            adv = 1.0 if advantages is None else float(advantages[row])
            row += 1
            if not turn.prompt_ids or not turn.response_ids:
                continue  # the policy failed on this turn: nothing was generated
            out.append(
                TurnSample(list(turn.prompt_ids), list(turn.response_ids),
                           None if turn.response_logprobs is None else list(turn.response_logprobs),
                           adv)
            )
    return out
