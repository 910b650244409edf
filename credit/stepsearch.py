"""StepSearch rewards (Wang et al. 2025, "StepSearch: Igniting LLMs Search Ability via Step-Wise
Proximal Policy Optimization", arXiv 2505.15107) from a search environment's reward parts.

StepSearch scores every search step by the information it gained minus the redundancy of what it
retrieved, and the episode's end by the answer:

    r_t = w_gain · gain_t − w_redundancy · penalty_t + w_outcome · answer_t

``gain_t`` is the step's improvement in matching the gold documents (StepSearch: per gold
document, the rise of the best TF-IDF cosine to it over all earlier steps, clipped at 0; the
SearchQA parts: the share of gold articles this step surfaced for the first time, i.e. match
degree 1 for a retrieved gold article), ``penalty_t`` the share of the step's results already
retrieved earlier in the episode (SearchQA's ``redundancy`` part is ``−penalty_t``), and
``answer_t`` the answer's score on the answer step (SearchQA's ``outcome``: exact match, or token
F1 with ``outcome_metric="f1"`` as in the paper). StepSearch's search-key reward (F1 of the
queries against gold sub-question keys) needs keys the environments do not have and is left out.
Its format check (a malformed trajectory scores −1) is the trainer's invalid-action penalty, the
``invalid`` part (``−env.invalid_penalty`` on each invalid turn), kept at weight 1 when present.
The environment's own reward weighs these parts 0.1 / 0.1 / 1; this transform gives the paper's
unit weights by default.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.registry import register_transform


@register_transform("stepsearch")
def stepsearch(
    batch: StepBatch,
    *,
    gain_part: str = "retrieval_gain",
    redundancy_part: str = "redundancy",
    outcome_part: str = "outcome",
    gain_weight: float = 1.0,
    redundancy_weight: float = 1.0,
    outcome_weight: float = 1.0,
    invalid_part: str = "invalid",
    invalid_weight: float = 1.0,
) -> np.ndarray:
    """Per-turn StepSearch rewards from ``batch.reward_parts`` (see the module doc).

    Args:
        batch: ``N`` rows whose ``reward_parts`` hold the three parts named below.
        gain_part: the information-gain part (≥ 0).
        redundancy_part: the redundancy part, ≤ 0 (minus the share of repeated results).
        outcome_part: the answer's score, on the answer step.
        gain_weight, redundancy_weight, outcome_weight: the weights of the three parts.
        invalid_part, invalid_weight: the invalid-action penalty part (≤ 0) and its weight;
            a batch without it has no penalty.

    Returns:
        ``(N,)`` per-turn rewards ``Σ weight · part``.

    Raises:
        ValueError: a part is missing (the environment does not report it).
    """
    names = {"gain_part": gain_part, "redundancy_part": redundancy_part,
             "outcome_part": outcome_part}
    missing = [f"{key}={name!r}" for key, name in names.items() if name not in batch.reward_parts]
    if missing:
        raise ValueError(
            f"stepsearch: {', '.join(missing)} not in the batch's reward parts "
            f"{sorted(batch.reward_parts)}; it needs a search environment's parts "
            "(agentgym/SearchQA-v0), or name the parts in reward.params")
    parts = batch.reward_parts
    reward = (gain_weight * parts[gain_part] + redundancy_weight * parts[redundancy_part]
              + outcome_weight * parts[outcome_part])  # a new float64 array (StepBatch's parts)
    if invalid_part in parts:
        reward = reward + invalid_weight * parts[invalid_part]
    return reward
