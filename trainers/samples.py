"""Turn samples: what the update step trains on.

One sample per turn: the prompt is the windowed history at that turn — the exact ``prompt_ids``
the engine used — and the response is the turn's ``response_ids`` with their sampled log-probs;
the turn's advantage is broadcast to its tokens by the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentgym.core.trajectory import Episode, Turn


@dataclass
class TurnSample:
    """One (prompt, response, advantage) triple.

    Attributes:
        prompt_ids: token ids of the prompt the engine saw.
        response_ids: token ids it sampled.
        logprobs: sampled log-probs of ``response_ids`` (None for expert demonstrations).
        advantage: the turn's advantage (BC targets use 1).
        prompt_loss_from: behaviour cloning's prompt loss counts the prompt tokens from this
            index on (0 = all; later turns start at their new observation, so text repeated from
            the history is not learned again in every turn).
        images: the images the prompt showed (vision-language policies), else None.
    """

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float] | None
    advantage: float
    prompt_loss_from: int = 0
    images: list[Any] | None = None


def is_noise_turn(turn: Turn) -> bool:
    """Whether a noisy demonstrator played ``turn`` at random (the policy's ``info["noise"]``,
    :class:`~agentgym.core.policies.NoisyExpertPolicy`) rather than as its expert."""
    policy = turn.info.get("policy")
    return isinstance(policy, dict) and bool(policy.get("noise"))


def last_occurrence(ids: Sequence[int], marker: Sequence[int]) -> int:
    """Start index of the last occurrence of ``marker`` in ``ids`` (0 when absent or empty)."""
    m = len(marker)
    if m == 0 or m > len(ids):
        return 0
    first = marker[0]
    marker = list(marker)
    for start in range(len(ids) - m, -1, -1):
        if ids[start] == first and list(ids[start : start + m]) == marker:
            return start
    return 0


def turn_samples(
    episodes: Sequence[Episode],
    advantages: np.ndarray | None = None,
    *,
    new_message_marker: Sequence[int] | None = None,
    skip_noise: bool = False,
) -> list[TurnSample]:
    """Samples of every turn that carries token ids, in ``StepBatch`` row order.

    Args:
        episodes: the rollout's episodes.
        advantages: ``(n_turns,)`` one per turn in ``StepBatch.from_episodes`` order (episode,
            then turn); None gives 1.0 everywhere (behaviour cloning).
        new_message_marker: token ids that open a user message in the chat template (e.g. those
            of ``<|im_start|>user``); when given, every turn after the first gets
            ``prompt_loss_from`` at its last user message — its new observation.
        skip_noise: leave out the turns a noisy demonstrator played at random
            (:func:`is_noise_turn`): behaviour cloning learns the expert's actions only. The
            observation such a turn acted on gets no prompt loss either unless a later turn's
            history shows it (the prompt loss of a kept turn starts at its own new message).

    Raises:
        ValueError: ``advantages`` does not have one entry per turn.
    """
    n_turns = sum(len(e.turns) for e in episodes)
    if advantages is not None and len(advantages) != n_turns:
        raise ValueError(f"{len(advantages)} advantages for {n_turns} turns")
    out: list[TurnSample] = []
    row = 0
    for episode in episodes:
        for index, turn in enumerate(episode.turns):
            adv = 1.0 if advantages is None else float(advantages[row])
            row += 1
            if not turn.prompt_ids or not turn.response_ids:
                continue  # the policy failed on this turn: nothing was generated
            if skip_noise and is_noise_turn(turn):
                continue
            prompt = list(turn.prompt_ids)
            loss_from = (last_occurrence(prompt, new_message_marker)
                         if new_message_marker and index > 0 else 0)
            out.append(
                TurnSample(prompt, list(turn.response_ids),
                           None if turn.response_logprobs is None else list(turn.response_logprobs),
                           adv, loss_from,
                           None if not turn.prompt_images else list(turn.prompt_images))
            )
    return out
