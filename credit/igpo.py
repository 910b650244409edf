"""IGPO: information-gain-based policy optimization (Wang et al., arXiv 2510.14967, ICLR 2026).

Reference code: debajoycs98/IGPO (``scrl/``). Each non-final turn is rewarded by how much it
raised the policy's length-normalized probability of the ground-truth answer; the final turn gets
the answer reward (token-set F1, −2 on a format failure). Rewards are z-normalized per group and
accumulated backward into per-turn advantages.

The belief model is passed in — an array, or a callable ``belief(episode, t)`` returning
``log P̄(answer | q, context ≤ t)`` under the current policy (``t = −1`` is the query alone) —
so credit never imports the trainer.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import EpisodeIndex, _check_choice, index_batch, normalize_dense
from agentgym.credit.registry import register, register_transform

Belief = Callable[[int, int], float]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PUNCT = str.maketrans("", "", string.punctuation)


def answer_f1(response: str, ground_truth: str, *, format_penalty: float = -2.0) -> float:
    """IGPO outcome reward: token-set F1 of the ``<answer>…</answer>`` text vs the ground truth.

    Both sides are lower-cased and stripped of punctuation, then compared as sets of words.
    Unbalanced ``<answer>`` tags or no answer give ``format_penalty`` (−2.0).
    """
    if response.count("<answer>") != response.count("</answer>"):
        return format_penalty
    match = _ANSWER.search(response)
    if match is None:
        return format_penalty
    pred = set(match.group(1).lower().translate(_PUNCT).split())
    gold = set(ground_truth.lower().translate(_PUNCT).split())
    common = len(pred & gold)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _row_beliefs(batch: StepBatch, index: EpisodeIndex, beliefs: np.ndarray | Belief) -> np.ndarray:
    """``(N,)`` log-belief *before* each turn: row ``t`` holds ``log P̄(a | context ≤ t−1)``."""
    if callable(beliefs):
        values = np.empty(index.n_rows)
        episode_ids = batch.episode
        for row in range(index.n_rows):  # one model call per turn; the model dominates the cost
            values[row] = float(beliefs(int(episode_ids[row]), int(index.rank[row]) - 1))
        return values
    values = np.asarray(beliefs, dtype=np.float64)
    if values.shape != (index.n_rows,):
        raise ValueError(f"igpo: beliefs has shape {values.shape}; expected ({index.n_rows},)")
    return values


def information_gain(
    batch: StepBatch,
    beliefs: np.ndarray | Belief,
    *,
    mode: str = "prob_diff",
    index: EpisodeIndex | None = None,
) -> np.ndarray:
    """``(N,)`` information gain of each non-final turn; 0 on final turns.

    ``beliefs`` row ``t`` holds ``log P̄_t = (1/L) Σ_j log π(a_j | q, context before turn t)``
    (or a callable, called with ``(episode, t−1)``). ``mode="prob_diff"``:
    ``IG_t = P̄_{t+1} − P̄_t``; ``"log_prob_diff"``: ``log P̄_{t+1} − log P̄_t``. NaN/inf gains
    (e.g. a −inf log-probability) become 0, which also removes them from the statistics.
    """
    _check_choice("mode", mode, ("prob_diff", "log_prob_diff"))
    index = index_batch(batch, "igpo") if index is None else index
    log_p = _row_beliefs(batch, index, beliefs)
    if np.any(np.isnan(log_p)):
        raise ValueError("igpo: beliefs contain NaN (a log-probability is expected per row)")
    belief = np.exp(log_p) if mode == "prob_diff" else log_p
    nxt = index.next_row()
    has_next = nxt >= 0
    gain = np.zeros(index.n_rows)
    with np.errstate(invalid="ignore"):
        gain[has_next] = belief[nxt[has_next]] - belief[has_next]
    gain[~np.isfinite(gain)] = 0.0
    return gain


@register_transform("igpo")
def igpo_rewards(
    batch: StepBatch,
    *,
    beliefs: np.ndarray | Belief,
    mode: str = "prob_diff",
    final_reward: np.ndarray | None = None,
) -> np.ndarray:
    """IGPO turn rewards ``r_t = IG_t`` for ``t < T−1`` and ``r_{T−1} = F1`` (the outcome).

    Args:
        batch: ``N`` rows.
        beliefs: ``(N,)`` log-beliefs or a belief callable (see :func:`information_gain`).
        mode: ``"prob_diff"`` (default) or ``"log_prob_diff"``.
        final_reward: ``(N,)`` answer reward on each episode's rows (default ``outcome``).

    Returns:
        ``(N,)`` rewards.
    """
    index = index_batch(batch, "igpo")
    final = batch.outcome if final_reward is None else np.asarray(final_reward, np.float64)
    if final.shape != (index.n_rows,) or not np.all(np.isfinite(final)):
        raise ValueError(f"igpo: final_reward must be ({index.n_rows},) finite values")
    reward = information_gain(batch, beliefs, mode=mode, index=index)
    reward[index.ep_last] = final[index.ep_last]
    return reward


@register("igpo")
def igpo(
    batch: StepBatch,
    *,
    beliefs: np.ndarray | Belief,
    mode: str = "prob_diff",
    normalization: str = "joint",
    gamma: float = 1.0,
    final_reward: np.ndarray | None = None,
    ig_weight: float = 1.0,
    outcome_weight: float = 1.0,
    eps: float = 1e-6,
    var_eps: float = 1e-8,
) -> np.ndarray:
    """IGPO advantages (Wang et al. 2025, arXiv 2510.14967; debajoycs98/IGPO).

    1. Rewards ``r`` from :func:`igpo_rewards` (information gain, then the final answer reward).
    2. The raw rewards are weighted: ``ig_weight · IG_t`` and ``outcome_weight · F1`` (the
       curriculum weights of upstream ``compute_grpo_outcome_advantage``, applied *before* the
       group statistics, as upstream does; which turns enter the pool is decided on the
       unweighted rewards).
    3. Per group, z-normalize (population σ = sqrt(var + 1e-8); a pool of ≤ 1 gets σ = 1; +ε)
       the pool of *nonzero* IG rewards together with every final reward (``"joint"``), or
       each kind separately (``"separate"``). Excluded (zero) IG turns get 0.
    4. ``Ã_t = Â_t + γ Ã_{t+1}``.

    Example (one group, ``outcome_weight=0.5``): episode A with beliefs P = [.1, .3, .6] and
    outcome 1, episode B with P = [.1, .1] and outcome 0 give the pool [.2, .3, .5, 0] →
    advantages [1.387, 1.664, 1.387 | −1.387, −1.387].

    Args:
        batch: ``N`` rows.
        beliefs: ``(N,)`` log-beliefs (row ``t``: before turn ``t``) or a callable.
        mode: ``"prob_diff"`` or ``"log_prob_diff"``.
        normalization: ``"joint"`` or ``"separate"``.
        gamma: γ of the backward accumulation (1.0).
        final_reward: ``(N,)`` answer reward per row of each episode (default ``outcome``).
        ig_weight, outcome_weight: weights on the raw IG and final rewards (before the group
            statistics, as upstream).
        eps, var_eps: ε added to σ, and to the variance inside the square root.

    Returns:
        ``(N,)`` advantages.
    """
    _check_choice("normalization", normalization, ("joint", "separate"))
    index = index_batch(batch, "igpo")
    reward = igpo_rewards(batch, beliefs=beliefs, mode=mode, final_reward=final_reward)
    is_final = index.is_last
    in_pool = is_final | (reward != 0)
    group = index.row_group
    keys = group if normalization == "joint" else group * 2 + is_final
    reward = reward * np.where(is_final, outcome_weight, ig_weight)
    pooled = np.flatnonzero(in_pool)
    normalized = np.zeros(index.n_rows)
    _, dense = np.unique(keys[pooled], return_inverse=True)
    normalized[pooled] = normalize_dense(
        reward[pooled], dense, int(dense.max()) + 1, norm="mean_std", std="population",
        eps=eps, singleton="zero", var_eps=var_eps,
    )
    return index.reverse_scan(normalized, gamma)
