"""G-RA: gated reward accumulation (Sun et al., arXiv 2508.10548).

Rewards are ordered by priority. A lower-priority reward counts only when every higher-priority
reward of the episode reaches its threshold, so step rewards (format, tool calls …) cannot be
farmed while the outcome fails (the D-RA reward-hacking failure).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import index_batch
from agentgym.credit.registry import register_transform

OUTCOME = None
"""Gate name meaning the episode ``outcome`` column (credited on the episode's last turn)."""


@register_transform("gated")
def gated(
    batch: StepBatch,
    *,
    threshold: float = 1.0,
    gates: Sequence[tuple[str | None, float]] | None = None,
    step_parts: Sequence[str] | None = None,
    strict: bool = False,
    gate: bool = True,
) -> np.ndarray:
    """Gated per-turn rewards (G-RA, Sun et al. 2025).

    With gates ``(h_1, δ_1), …, (h_K, δ_K)`` in priority order and the episode value
    ``H_k = Σ_t h_k(t)`` of each, level ``k`` counts iff ``H_j ≥ δ_j`` for all ``j < k``, and
    the step parts count iff all ``K`` gates pass:

    ``r̃_t = Σ_k 1[pass_{<k}] h_k(t) + 1[pass_{≤K}] Σ_p r_p(t)``.

    The default single gate is the episode ``outcome`` with ``threshold``, so
    ``R = r_high + 1[r_high ≥ δ]·Σ_t r_low_t``. ``gate=False`` gives the ungated D-RA sum.

    **Without reward parts** (``batch.reward_parts`` empty, ``step_parts`` None) the ``reward``
    column is taken to already hold the outcome, as in agentgym episodes (``Episode.outcome`` is
    the final score the environment pays out, or the sum of the turn rewards). The low-level
    reward of a turn is then what the outcome does not explain: ``r_low_t = r_t − 1[t = T−1]·o``
    for outcome ``o`` on the last turn ``T−1``, so the outcome counts once:
    ``R = o + 1[o ≥ δ]·(Σ_t r_t − o)``. Rewards ``[0, 1]`` with outcome 1 stay ``[0, 1]``
    (R = 1); rewards ``[0.3, 0.2, 0]`` with a failed outcome 0 become ``[0, 0, 0]``.

    Args:
        batch: ``N`` rows with ``reward_parts``.
        threshold: δ of the default outcome gate (ignored when ``gates`` is given).
        gates: ``(name, δ)`` pairs, highest priority first; ``name`` is a reward part, or None
            for the ``outcome`` column (added on the episode's last turn).
        step_parts: low-level parts (default: every reward part not used as a gate; when the
            batch has no parts, the ``reward`` column minus the outcome on the last turn).
        strict: compare with ``>`` instead of ``≥``.
        gate: False disables gating (D-RA baseline).

    Returns:
        ``(N,)`` per-turn rewards.
    """
    index = index_batch(batch, "gated")
    chain = list(gates) if gates is not None else [(OUTCOME, threshold)]
    gate_names = [name for name, _ in chain]
    for name in gate_names:
        if name is not None and name not in batch.reward_parts:
            raise ValueError(
                f"gated: gate part {name!r} not in batch.reward_parts "
                f"{sorted(batch.reward_parts)}"
            )
    if step_parts is None and not batch.reward_parts:
        low = batch.reward.copy()
        if OUTCOME in gate_names:  # the reward column already holds the outcome: count it once
            low[index.ep_last] -= index.ep_outcome
    elif step_parts is None:
        names = [p for p in sorted(batch.reward_parts) if p not in gate_names]
        low = sum((batch.reward_parts[p] for p in names), np.zeros(index.n_rows))
    else:
        missing = [p for p in step_parts if p not in batch.reward_parts]
        if missing:
            raise ValueError(f"gated: step parts {missing} not in batch.reward_parts")
        low = sum((batch.reward_parts[p] for p in step_parts), np.zeros(index.n_rows))
    passed = np.ones(index.n_episodes, dtype=bool)
    out = np.zeros(index.n_rows)
    for name, delta in chain:
        if name is None:
            per_row = np.zeros(index.n_rows)
            per_row[index.ep_last] = index.ep_outcome
        else:
            per_row = batch.reward_parts[name]
        out += np.where(passed[index.ep] | (not gate), per_row, 0.0)
        value = index.episode_sum(per_row)
        passed &= value > delta if strict else value >= delta
    out += np.where(passed[index.ep] | (not gate), low, 0.0)
    return out
