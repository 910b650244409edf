"""SWEET-RL: turn-level advantages from a critic that sees training-time information.

Zhou et al. 2025, "SWEET-RL: Training Multi-Turn LLM Agents on Collaborative Reasoning Tasks",
arXiv 2503.15478, §4. The critic scores each turn ``t`` of a trajectory with an advantage
``A_φ(o_t, a_t, c)`` where ``c`` is training-time information the agent never sees (ColBench's
reference solution, hidden spec or tests). It is trained with a Bradley–Terry objective on pairs
of trajectories of the same task, the better ``τ⁺`` (higher outcome) and the worse ``τ⁻``:

    L(φ) = −mean_pairs log σ( Σ_t A_φ(o⁺_t, a⁺_t, c) − Σ_t A_φ(o⁻_t, a⁻_t, c) )        (Eq. 3)

so the turns of successful trajectories collect positive advantage and those of failing ones
negative. The paper parameterizes ``A_φ = β · mean_tokens log[π_φ(a_t | o_t, c) / π_ref(…)]``
(an LM critic; the trainer builds it, :mod:`agentgym.trainers.credit_models.sweet`); this module
only sees the resulting per-turn numbers, so any critic fits.

This module is torch-free:

* :func:`sweet_pairs` — the ``(better, worse)`` episode pairs of each task group;
* :func:`bradley_terry` — the loss above, its gradient with respect to every turn's advantage
  (what the critic back-propagates), and the pairwise ranking accuracy;
* :func:`sweet` (registered estimator) — the per-turn advantages the policy update uses.

The paper's actor step is a per-turn DPO on best-of-6 candidate actions ranked by the critic;
agentgym's update is PPO-clip on one advantage per turn, so :func:`sweet` hands the critic's
advantages to the update centred and scaled among the turns of the task group (the ordering of
turns by the critic, which is all the paper's ranking uses, is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import (
    NORMS,
    STD_KINDS,
    _check_choice,
    as_row_array,
    index_batch,
    normalize_dense,
)
from agentgym.credit.registry import register

SCOPES = ("group", "batch")


@dataclass(frozen=True)
class BradleyTerry:
    """The Bradley–Terry objective of a batch (see :func:`bradley_terry`).

    Attributes:
        loss: mean over pairs of ``−log σ(S⁺ − S⁻)`` (NaN when the batch has no pair).
        grad: ``(N,)`` ``∂loss/∂A`` of every row's advantage (zeros without pairs).
        better: ``(P,)`` dense episode index of each pair's better trajectory.
        worse: ``(P,)`` dense episode index of each pair's worse trajectory.
        margin: ``(P,)`` ``S⁺ − S⁻``, ``S`` the sum of a trajectory's turn advantages.
        accuracy: fraction of pairs with a positive margin (NaN without pairs).
    """

    loss: float
    grad: np.ndarray
    better: np.ndarray
    worse: np.ndarray
    margin: np.ndarray
    accuracy: float


def sweet_pairs(batch: StepBatch) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of episodes of one task group whose outcomes differ.

    Returns:
        ``(better, worse)``: two ``(P,)`` int64 arrays of dense episode indices (as
        :func:`~agentgym.credit.common.index_batch` numbers them) with
        ``outcome[better] > outcome[worse]``, ordered by ``(better, worse)``.
    """
    index = index_batch(batch, "sweet")
    group, outcome = index.ep_group, index.ep_outcome
    same = group[:, None] == group[None, :]
    better, worse = np.nonzero(same & (outcome[:, None] > outcome[None, :]))
    return better.astype(np.int64), worse.astype(np.int64)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log σ(x)`` without overflow."""
    return -np.logaddexp(0.0, -x)


def bradley_terry(batch: StepBatch, turn_advantages: np.ndarray) -> BradleyTerry:
    """The critic's Bradley–Terry loss on the batch's trajectory pairs and its gradient.

    Args:
        batch: ``N`` rows; pairs are formed within task groups by outcome (:func:`sweet_pairs`).
        turn_advantages: ``(N,)`` the critic's ``A_φ`` of every row's turn.

    Returns:
        A :class:`BradleyTerry`. ``grad[row] = Σ_pairs ∓(1 − σ(margin))/P`` (− where the row's
        episode is the better one, + where it is the worse one), the gradient a critic applies
        to its per-turn outputs.
    """
    index = index_batch(batch, "sweet")
    advantages = as_row_array(turn_advantages, index.n_rows, "sweet turn_advantages")
    better, worse = sweet_pairs(batch)
    if len(better) == 0:
        empty = np.zeros(0)
        return BradleyTerry(float("nan"), np.zeros(index.n_rows), better, worse, empty,
                            float("nan"))
    score = index.episode_sum(advantages)
    margin = score[better] - score[worse]
    loss = float(-_log_sigmoid(margin).mean())
    pull = np.exp(_log_sigmoid(-margin)) / len(margin)  # (1 − σ(m)) / P = σ(−m) / P
    per_episode = (np.bincount(worse, weights=pull, minlength=index.n_episodes)
                   - np.bincount(better, weights=pull, minlength=index.n_episodes))
    return BradleyTerry(loss, per_episode[index.ep], better, worse, margin,
                        float(np.mean(margin > 0)))


@register("sweet")
def sweet(
    batch: StepBatch,
    *,
    turn_advantages: np.ndarray,
    norm: str = "mean_std",
    scope: str = "group",
    std: str = "unbiased",
    eps: float = 1e-6,
) -> np.ndarray:
    """SWEET-RL's per-turn advantages for the policy update.

    ``A_t = (A_φ(t) − μ) / (σ + ε)`` with ``μ, σ`` over the rows of the turn's task group
    (``scope="group"``) or of the whole batch (``"batch"``); a group of one row gets 0.

    Args:
        batch: ``N`` rows.
        turn_advantages: ``(N,)`` the critic's ``A_φ(o_t, a_t, c)`` per row (β included).
        norm: ``"mean_std"`` (default), ``"mean"`` (centre only) or ``"none"`` (the critic's
            values as they are).
        scope: ``"group"`` or ``"batch"``.
        std: σ over ``N−1`` (``"unbiased"``) or ``N`` (``"population"``).
        eps: ε.

    Returns:
        ``(N,)`` float64 advantages aligned with the batch rows.
    """
    _check_choice("norm", norm, NORMS)
    _check_choice("scope", scope, SCOPES)
    _check_choice("std", std, STD_KINDS)
    index = index_batch(batch, "sweet")
    values = as_row_array(turn_advantages, index.n_rows, "sweet turn_advantages")
    if scope == "group":
        ids, n_ids = index.row_group, index.n_groups
    else:
        ids, n_ids = np.zeros(index.n_rows, dtype=np.int64), 1
    return normalize_dense(values, ids, n_ids, norm=norm, std=std, eps=eps, singleton="zero")
