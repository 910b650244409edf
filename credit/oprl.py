"""OPRL / iStar: implicit step rewards from an online PRM (Liu et al., arXiv 2509.19199).

The PRM ``π_φ`` (initialized from the policy, trained with a trajectory-level DPO loss) scores a
turn by its log-ratio to the pre-update policy; those inputs arrive as arrays (the trainer owns
both models).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.baselines import episode_scores
from agentgym.credit.common import as_row_array, index_batch, normalize_dense
from agentgym.credit.registry import register


def turn_log_ratio(
    prm_logprobs: Sequence[Sequence[float]], old_logprobs: Sequence[Sequence[float]]
) -> np.ndarray:
    """``(N,)`` per-turn ``Σ_tokens [log π_φ(a) − log π_old(a)]`` over each turn's action tokens."""
    if len(prm_logprobs) != len(old_logprobs):
        raise ValueError("turn_log_ratio: prm and old log-prob lists differ in length")
    out = np.empty(len(prm_logprobs))
    for i, (a, b) in enumerate(zip(prm_logprobs, old_logprobs, strict=True)):
        a_arr, b_arr = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a_arr.shape != b_arr.shape:
            raise ValueError(f"turn_log_ratio: turn {i} has {a_arr.shape} vs {b_arr.shape} tokens")
        out[i] = float(np.sum(a_arr - b_arr))
    return out


@register("oprl")
def oprl(
    batch: StepBatch,
    *,
    log_ratio: np.ndarray | None = None,
    step_rewards: np.ndarray | None = None,
    beta: float = 0.05,
    alpha: float = 1.0,
    std: str = "unbiased",
    eps: float = 1e-6,
    score: str = "outcome",
) -> np.ndarray:
    """OPRL advantage ``A = A^E + α·A^S`` (Liu et al. 2025, Eqs. 1 and 3–5).

    * Implicit step reward (Eq. 1): ``r_φ(t) = β · log[π_φ(a_t|o_{≤t}) / π_old(a_t|o_{≤t})]``.
    * ``A^E_i = (r_o(τ_i) − mean)/std`` over the group's episodes (Eq. 3).
    * ``A^S(t) = (r_φ(t) − mean(R_s))/std(R_s)`` with ``R_s`` all step rewards of the group's
      episodes pooled (Eq. 4).

    Args:
        batch: ``N`` rows.
        log_ratio: ``(N,)`` turn log-ratios (see :func:`turn_log_ratio`); or
        step_rewards: ``(N,)`` ready implicit rewards ``r_φ`` (then ``beta`` is unused).
        beta: β (0.05).
        alpha: α (1.0).
        std, eps: σ kind and ε of both normalizations.
        score: episode score, ``"outcome"`` or ``"sum"``.

    Returns:
        ``(N,)`` advantages.
    """
    if (log_ratio is None) == (step_rewards is None):
        raise ValueError("oprl: pass exactly one of log_ratio or step_rewards")
    index = index_batch(batch, "oprl")
    if step_rewards is None:
        r_phi = beta * as_row_array(log_ratio, index.n_rows, "oprl log_ratio")
    else:
        r_phi = as_row_array(step_rewards, index.n_rows, "oprl step_rewards")
    outcome = episode_scores(batch, index, score)
    a_episode = normalize_dense(outcome, index.ep_group, index.n_groups, std=std, eps=eps)
    a_step = normalize_dense(
        r_phi, index.row_group, index.n_groups, std=std, eps=eps, singleton="zero"
    )
    return a_episode[index.ep] + alpha * a_step
