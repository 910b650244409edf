"""GiGPO: group-in-group policy optimization (Feng et al., arXiv 2505.10978, NeurIPS 2025).

Reference code: langfengQ/verl-agent ``gigpo/core_gigpo.py`` (``compute_gigpo_outcome_advantage``).
``preset="verl-agent"`` reproduces that function's conventions exactly (row-weighted episode
statistics, unbiased σ, ε = 1e-6, its singleton rules and its greedy similarity order).

:func:`gigpo` is the registered estimator (advantages only); :func:`gigpo_parts` also returns
``A^E``, ``A^S``, the step returns and the anchor groups.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.baselines import episode_scores
from agentgym.credit.common import (
    _check_choice,
    dense_ids,
    index_batch,
    normalize_dense,
    warn_if_single_state,
)
from agentgym.credit.registry import register

_NORM_ALIASES = {"mean": "mean", "mean_norm": "mean", "mean_std": "mean_std",
                 "mean_std_norm": "mean_std"}


def similar(a: str, b: str, threshold: float) -> bool:
    """``SequenceMatcher(None, a, b).ratio() >= threshold`` with cheap upper-bound pre-checks."""
    matcher = SequenceMatcher(None, a, b)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


def cluster_texts(texts: list[str], threshold: float) -> list[int]:
    """Greedy first-fit clustering in the given order (verl-agent ``build_step_group``).

    Each text joins the first existing cluster whose representative (first member) it matches
    with ``SequenceMatcher(None, text, rep).ratio() >= threshold``, else starts a new cluster.

    Returns:
        The cluster number of each text.
    """
    reps: list[str] = []
    labels: list[int] = []
    for text in texts:
        for k, rep in enumerate(reps):
            if similar(text, rep, threshold):
                labels.append(k)
                break
        else:
            labels.append(len(reps))
            reps.append(text)
    return labels


def anchor_groups(
    batch: StepBatch,
    group: np.ndarray | None = None,
    *,
    similarity: float | None = None,
    order: str = "canonical",
) -> tuple[np.ndarray, int]:
    """Anchor-state groups (GiGPO Eq. 6): steps of one task group with the same state.

    Exact grouping uses the ``state`` hash; with ``similarity`` (a threshold in (0, 1)) the
    ``state_key`` texts of each task group are clustered greedily (:func:`cluster_texts`).
    ``order="canonical"`` feeds each group's distinct texts in sorted order, so the result does
    not depend on row order; ``order="batch"`` feeds them in order of first appearance in the
    rows, which is what verl-agent's row loop amounts to.

    Args:
        batch: ``N`` rows.
        group: ``(N,)`` task-group labels (default ``batch.group``).
        similarity: threshold, or None for exact grouping.
        order: ``"canonical"`` or ``"batch"``.

    Returns:
        ``(ids, n_ids)``: ``(N,)`` dense anchor-group ids.
    """
    group = batch.group if group is None else group
    if similarity is None:
        ids, n_ids, _ = dense_ids(group, batch.state)
        return ids, n_ids
    _check_choice("similarity_order", order, ("canonical", "batch"))
    if not 0.0 < similarity < 1.0:
        raise ValueError(f"similarity threshold must be in (0, 1), got {similarity}")
    if batch.state_key is None:
        raise ValueError("similarity grouping needs batch.state_key (the anchor texts)")
    if not all(isinstance(text, str) for text in batch.state_key):
        raise ValueError("similarity grouping supports text state_key values only")
    _, text_ids = np.unique(batch.state_key.astype(str), return_inverse=True)
    pair_ids, n_pairs, first = dense_ids(group, text_ids)
    pair_group = group[first]
    pair_rank = first if order == "batch" else text_ids[first]
    pair_order = np.lexsort((pair_rank, pair_group))
    cluster_of_pair = np.empty(n_pairs, dtype=np.int64)
    bounds = np.flatnonzero(np.r_[True, np.diff(pair_group[pair_order]) != 0, True])
    offset = 0
    for lo, hi in itertools.pairwise(bounds):
        members = pair_order[lo:hi]
        labels = cluster_texts([str(batch.state_key[first[p]]) for p in members], similarity)
        cluster_of_pair[members] = offset + np.asarray(labels, dtype=np.int64)
        offset += max(labels) + 1
    return cluster_of_pair[pair_ids], offset


@dataclass(frozen=True)
class GiGPOParts:
    """The terms of one GiGPO computation, each ``(N,)`` and aligned with the batch rows.

    Attributes:
        advantages: ``A = A^E + ω·A^S`` (what the ``gigpo`` estimator returns).
        episode: the episode advantage ``A^E`` (Eq. 3), broadcast to the episode's rows.
        step: the step advantage ``A^S`` (Eq. 7).
        returns: the discounted step returns ``R_t`` (Eq. 5).
        anchor: the dense anchor-group id of each row (Eq. 6).
    """

    advantages: np.ndarray
    episode: np.ndarray
    step: np.ndarray
    returns: np.ndarray
    anchor: np.ndarray


def gigpo_parts(
    batch: StepBatch,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    norm: str = "mean",
    std: str = "unbiased",
    eps: float = 1e-6,
    episode_stats: str = "trajectory",
    score: str = "sum",
    similarity: float | None = None,
    similarity_order: str = "canonical",
    preset: str | None = None,
) -> GiGPOParts:
    """GiGPO advantage ``A = A^E + ω·A^S`` and its terms (Feng et al. 2025, Eqs. 3–8).

    * Episode advantage (Eq. 3): ``A^E_i = (S_i − μ_g)/F`` with ``S_i = Σ_t r_t`` (``score``),
      μ, σ over the group's trajectories (``episode_stats="trajectory"``, the paper) or over its
      rows, so longer episodes weigh more (``"rows"``, verl-agent's
      ``compute_mean_std_cross_steps=True``). A group of one (trajectory or row) keeps its raw
      score.
    * Step advantage (Eqs. 5–7): ``R_t = Σ_{k≥t} γ^{k−t} r_k``, grouped by the anchor state
      the action was taken in (all turns of all episodes of the task group, any ``t``);
      ``A^S = (R_t − μ_G(s))/F``; a singleton anchor group gets 0.
    * ``F = 1`` for ``norm="mean"`` (``mean_norm``), ``σ + ε`` for ``"mean_std"``.

    Warns with :class:`~agentgym.credit.common.SingleStateWarning` when one anchor group holds
    every turn of a task group whose episodes take more than one step (turns left at the default
    ``state_key=""``).

    Args:
        batch: ``N`` rows; ``state`` (or ``state_key`` for similarity) names the anchor state.
        gamma: discount γ of the step returns (verl-agent scripts: 0.95; config default 1.0).
        omega: step-advantage weight ω (``step_advantage_w``).
        norm: ``"mean"``/``"mean_norm"`` or ``"mean_std"``/``"mean_std_norm"``.
        std: σ kind (``"unbiased"`` = torch.std).
        eps: ε.
        episode_stats: ``"trajectory"`` or ``"rows"``.
        score: ``"sum"`` (Σ rewards, paper and code) or ``"outcome"``.
        similarity: None (exact ``state`` hash) or a ``SequenceMatcher`` threshold (0.95).
        similarity_order: ``"canonical"`` (order-independent) or ``"batch"`` (verl-agent).
        preset: ``"verl-agent"``: ``episode_stats="rows"``, ``score="sum"``, unbiased σ,
            ε = 1e-6 and ``similarity_order="batch"``.

    Returns:
        A :class:`GiGPOParts` of ``(N,)`` arrays.
    """
    if preset is not None:
        _check_choice("preset", preset, ("verl-agent",))
        episode_stats, score, std, eps, similarity_order = "rows", "sum", "unbiased", 1e-6, "batch"
    if norm not in _NORM_ALIASES:
        raise ValueError(f"norm={norm!r} is not one of {sorted(_NORM_ALIASES)}")
    norm = _NORM_ALIASES[norm]
    _check_choice("episode_stats", episode_stats, ("trajectory", "rows"))
    index = index_batch(batch, "gigpo")
    scores = episode_scores(batch, index, score)
    if episode_stats == "trajectory":
        a_episode = normalize_dense(
            scores, index.ep_group, index.n_groups, norm=norm, std=std, eps=eps, singleton="raw"
        )[index.ep]
    else:
        a_episode = normalize_dense(
            scores[index.ep], index.row_group, index.n_groups,
            norm=norm, std=std, eps=eps, singleton="raw",
        )
    returns = index.reverse_scan(batch.reward, gamma)
    anchor, n_anchor = anchor_groups(
        batch, index.row_group, similarity=similarity, order=similarity_order
    )
    warn_if_single_state(anchor, index, "gigpo")
    a_step = normalize_dense(
        returns, anchor, n_anchor, norm=norm, std=std, eps=eps, singleton="zero"
    )
    return GiGPOParts(
        advantages=a_episode + omega * a_step,
        episode=a_episode,
        step=a_step,
        returns=returns,
        anchor=anchor,
    )


@register("gigpo")
def gigpo(
    batch: StepBatch,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    norm: str = "mean",
    std: str = "unbiased",
    eps: float = 1e-6,
    episode_stats: str = "trajectory",
    score: str = "sum",
    similarity: float | None = None,
    similarity_order: str = "canonical",
    preset: str | None = None,
) -> np.ndarray:
    """GiGPO advantage ``A = A^E + ω·A^S`` (Feng et al. 2025, arXiv 2505.10978, Eqs. 3–8).

    The registered estimator: the ``advantages`` of :func:`gigpo_parts` (same arguments, see
    there for the formulas); use :func:`gigpo_parts` for ``A^E``, ``A^S``, ``R_t`` and the
    anchor groups.

    Returns:
        ``(N,)`` float64 advantages.
    """
    return gigpo_parts(
        batch, gamma=gamma, omega=omega, norm=norm, std=std, eps=eps,
        episode_stats=episode_stats, score=score, similarity=similarity,
        similarity_order=similarity_order, preset=preset,
    ).advantages
