"""Episode-level group baselines: GRPO, Dr.GRPO, RLOO, MC-GRPO and GDPO.

Each takes a :class:`StepBatch`, scores every episode once (its ``outcome`` by default, or the
sum of its turn rewards with ``score="sum"``), computes one advantage per episode within its
task group and broadcasts it to all of the episode's rows. Output shape: ``(n_rows,)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import EpisodeIndex, _check_choice, index_batch, normalize_dense
from agentgym.credit.registry import register

SCORES = ("outcome", "sum")


def episode_scores(batch: StepBatch, index: EpisodeIndex, score: str = "outcome") -> np.ndarray:
    """``(E,)`` episode scores: the ``outcome`` column or the sum of the turn rewards."""
    _check_choice("score", score, SCORES)
    if score == "outcome":
        return index.ep_outcome.astype(np.float64)
    return index.episode_sum(batch.reward)


@register("grpo")
def grpo(
    batch: StepBatch,
    *,
    norm: str = "mean_std",
    std: str = "unbiased",
    eps: float = 1e-6,
    singleton: str = "raw",
    score: str = "outcome",
) -> np.ndarray:
    """GRPO group-relative advantage (Shao et al. 2024, DeepSeekMath, arXiv 2402.03300).

    ``A_i = (R_i − mean_g R) / (std_g R + ε)`` over the episodes ``i`` of group ``g``,
    broadcast to every turn of episode ``i``. verl convention: unbiased σ, ε = 1e-6, a group
    of one episode keeps its raw score (``singleton="raw"``).

    Args:
        batch: ``N`` rows.
        norm: ``"mean_std"`` (GRPO) or ``"mean"`` (Dr.GRPO).
        std: ``"unbiased"`` or ``"population"``.
        eps: ε.
        singleton: ``"raw"`` or ``"zero"``.
        score: ``"outcome"`` (the ``outcome`` column) or ``"sum"`` (sum of turn rewards).

    Returns:
        ``(N,)`` advantages.
    """
    index = index_batch(batch, "grpo")
    scores = episode_scores(batch, index, score)
    adv = normalize_dense(
        scores, index.ep_group, index.n_groups, norm=norm, std=std, eps=eps, singleton=singleton
    )
    return adv[index.ep]


@register("drgrpo")
def drgrpo(batch: StepBatch, *, singleton: str = "raw", score: str = "outcome") -> np.ndarray:
    """Dr.GRPO advantage (Liu et al. 2025, "Understanding R1-Zero-like training", 2503.20783).

    ``A_i = R_i − mean_g R`` (no std division). The paper's other change, dropping the
    per-sequence length normalization, belongs to loss aggregation (``seq-mean-token-sum-norm``)
    in the trainer. Returns ``(N,)`` advantages.
    """
    index = index_batch(batch, "drgrpo")
    scores = episode_scores(batch, index, score)
    adv = normalize_dense(scores, index.ep_group, index.n_groups, norm="mean", singleton=singleton)
    return adv[index.ep]


@register("rloo")
def rloo(batch: StepBatch, *, singleton: str = "raw", score: str = "outcome") -> np.ndarray:
    """RLOO leave-one-out baseline (Ahmadian et al. 2024, arXiv 2402.14740).

    ``A_i = R_i − (1/(n−1)) Σ_{j≠i} R_j = n/(n−1) · (R_i − mean_g R)`` over the ``n`` episodes
    of the group. A group of one gets its raw score (``singleton="raw"``, verl) or 0.
    Returns ``(N,)`` advantages.
    """
    _check_choice("singleton", singleton, ("raw", "zero"))
    index = index_batch(batch, "rloo")
    scores = episode_scores(batch, index, score)
    n = np.bincount(index.ep_group, minlength=index.n_groups).astype(np.float64)
    totals = np.bincount(index.ep_group, weights=scores, minlength=index.n_groups)
    n_ep = n[index.ep_group]
    others = np.divide(
        totals[index.ep_group] - scores, n_ep - 1, out=np.zeros_like(scores), where=n_ep > 1
    )
    adv = scores - others
    if singleton == "zero":
        adv[n_ep <= 1] = 0.0
    return adv[index.ep]


def _lower_median_and_pivot(
    scores: np.ndarray, groups: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per group the lower median (``torch.median``) and the first episode holding it."""
    order = np.lexsort((np.arange(len(scores)), scores, groups))
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pivot = order[starts + (counts - 1) // 2]
    return scores[pivot], pivot


def mc_grpo_pivot_mask(batch: StepBatch, *, score: str = "outcome") -> np.ndarray:
    """``(N,)`` bool: False on the rows of each group's pivot (median) episode.

    The pivot is the episode at the lower-median position of its group's scores sorted
    ascending (ties broken by episode order), the index ``torch.median`` returns for odd sizes.
    MC-GRPO excludes it from the loss: multiply the per-row loss weights by this mask. It does not
    depend on :func:`mc_grpo`'s scaling options.

    Args:
        batch: ``N`` rows.
        score: ``"outcome"`` or ``"sum"``, as passed to :func:`mc_grpo`.

    Returns:
        ``(N,)`` bool, True on the rows to keep.
    """
    index = index_batch(batch, "mc_grpo")
    scores = episode_scores(batch, index, score)
    _, pivot = _lower_median_and_pivot(scores, index.ep_group, index.n_groups)
    keep = np.ones(index.n_episodes, dtype=bool)
    keep[pivot] = False
    return keep[index.ep]


@register("mc_grpo")
def mc_grpo(
    batch: StepBatch,
    *,
    mad_scale: bool = False,
    rescale_nonzero: bool = False,
    mad_eps: float = 1e-3,
    preset: str | None = None,
    score: str = "outcome",
) -> np.ndarray:
    """MC-GRPO median-centred advantage (arXiv 2601.22582; code lotusroot-kim/MC-GRPO).

    Sample ``G+1`` episodes per group; ``A_i = R_i − median_g R`` (lower median, as
    ``torch.median``). The median ("pivot") episode has advantage 0 and is excluded from the
    loss: :func:`mc_grpo_pivot_mask` gives the rows to keep.

    **Default: median centring only** (``mad_scale=False``, ``rescale_nonzero=False``), the
    estimator the paper's abstract describes. The official trainer (``preset="code"``, which
    turns both extras on) also divides by ``MAD + mad_eps`` with
    ``MAD = median_g |R − median_g R|``, then multiplies nonzero advantages by
    ``group size / #nonzero``. With binary rewards MAD is usually 0, so that division multiplies
    advantages by ``1/mad_eps = 1000`` (spec oracle T11: 3000 instead of 1) and makes their scale
    depend on the reward distribution, unlike every other estimator here; it is therefore
    opt-in.

    Args:
        batch: ``N`` rows.
        mad_scale: divide by ``MAD + mad_eps``.
        rescale_nonzero: multiply nonzero advantages by ``group size / #nonzero``.
        mad_eps: the ε added to the MAD.
        preset: ``"code"``: the official trainer's conventions (both extras on).
        score: ``"outcome"`` or ``"sum"`` of the turn rewards.

    Returns:
        ``(N,)`` float64 advantages.
    """
    if preset is not None:
        _check_choice("preset", preset, ("code",))
        mad_scale = rescale_nonzero = True
    index = index_batch(batch, "mc_grpo")
    scores = episode_scores(batch, index, score)
    groups, n_groups = index.ep_group, index.n_groups
    median, pivot = _lower_median_and_pivot(scores, groups, n_groups)
    adv = scores - median[groups]
    adv[pivot] = 0.0
    if mad_scale:
        mad, _ = _lower_median_and_pivot(np.abs(adv), groups, n_groups)
        adv = adv / (mad[groups] + mad_eps)
    if rescale_nonzero:
        nonzero = adv != 0
        n = np.bincount(groups, minlength=n_groups).astype(np.float64)
        n_nonzero = np.bincount(groups, weights=nonzero.astype(np.float64), minlength=n_groups)
        factor = np.divide(n, n_nonzero, out=np.ones_like(n), where=n_nonzero > 0)
        adv = np.where(nonzero, adv * factor[groups], 0.0)
    return adv[index.ep]


@register("gdpo")
def gdpo(
    batch: StepBatch,
    *,
    parts: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    std: str = "unbiased",
    eps: float = 1e-6,
    singleton: str = "raw",
) -> np.ndarray:
    """GDPO decoupled multi-reward normalization (arXiv 2601.05242).

    For reward components ``k`` (episode value = sum of the part over the episode's turns):
    ``A_i = BN( Σ_k w_k · (r_ik − mean_g r_k)/(std_g r_k + ε) )`` where ``BN`` z-normalizes over
    all episodes of the batch. This keeps distinct reward combinations apart where GRPO on the
    summed reward collapses them.

    Args:
        batch: ``N`` rows with ``reward_parts``.
        parts: component names (default: all of ``batch.reward_parts``, sorted).
        weights: optional per-component weights (default 1).
        std, eps, singleton: as :func:`~agentgym.credit.common.group_normalize`.

    Returns:
        ``(N,)`` advantages.
    """
    index = index_batch(batch, "gdpo")
    names = sorted(batch.reward_parts) if parts is None else list(parts)
    if not names:
        raise ValueError("gdpo: the batch has no reward_parts to normalize (pass parts=...)")
    missing = [name for name in names if name not in batch.reward_parts]
    if missing:
        raise ValueError(
            f"gdpo: reward parts {missing} not in the batch (have {sorted(batch.reward_parts)})"
        )
    total = np.zeros(index.n_episodes)
    for name in names:
        values = index.episode_sum(batch.reward_parts[name])
        w = 1.0 if weights is None else float(weights.get(name, 1.0))
        total += w * normalize_dense(
            values, index.ep_group, index.n_groups, std=std, eps=eps, singleton=singleton
        )
    adv = normalize_dense(
        total, np.zeros(index.n_episodes, np.int64), 1, std=std, eps=eps, singleton=singleton
    )
    return adv[index.ep]
