"""HiPER hierarchical advantage estimation (Peng et al., arXiv 2602.16165; code
JonP07/HiPER-agent ``hier_gae/core_hgae.py``, ``compute_hgae_advantage``).

Each turn the agent emits a switch decision (keep the current subgoal or switch), a subgoal and
an action. Turn 0 and every turn with ``switch`` True start a *segment*. A critic reads three
values per turn: ``V_low`` (the action's state), ``V_high`` (read at segment starts: the subgoal's
state) and ``V_term`` (the switch decision's). Three advantages follow:

* **low level** (action tokens): turn GAE inside each segment, bootstrapped at the segment end on
  ``V_high`` of the next segment's start;
* **high level** (subgoal tokens of segment-start turns): SMDP GAE over segments,
  ``δ_k = R_k + γ^{d_k}·V_high(next start) − V_high(start_k)``;
* **termination** (switch tokens): ``A_term,t = G_t − V_term(t)``, ``G_t`` the discounted
  return from ``t`` to the segment's end bootstrapped on ``V_high`` of the next segment's start.

**Truncation** (an episode whose last turn did not terminate it): upstream's
``bootstrap_truncated`` bootstraps the low level from the last turn's own ``V_low`` and the high
level (and the termination return) from ``V_high`` of the last segment's start; a terminated
episode bootstraps on 0.

:func:`hiper` is the registered estimator: the low-level advantage per turn, which is what
upstream gives every response token when it is given no subgoal or switch token masks.
:func:`hiper_parts` returns all three advantages with their value targets, for a trainer that
assigns them to token spans; :func:`hiper_advantages` is the one-episode form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import _segmented_reverse_scan, as_row_array, index_batch
from agentgym.credit.registry import register

NORM_EPS = 1e-8
"""Added to the population σ by ``norm_adv`` (upstream's constant)."""


@dataclass(frozen=True)
class HiPERParts:
    """The HiPER terms of a batch, each ``(N,)`` and aligned with the batch rows.

    Attributes:
        low: ``A_low``, for the turn's action tokens (what :func:`hiper` returns).
        high: ``A_high`` on segment-start rows, NaN elsewhere; for their subgoal tokens.
        term: ``A_term``, for the switch tokens; None when no ``v_term`` was given.
        returns_low: ``A_low + V_low`` before ``norm_adv`` (the low head's target).
        returns_high: ``A_high + V_high`` before ``norm_adv`` on segment starts, NaN elsewhere.
        returns_term: ``G_t`` (the termination head's target); None without ``v_term``.
        segment_start: bool, the row starts a segment (turn 0 or ``switch``).
    """

    low: np.ndarray
    high: np.ndarray
    term: np.ndarray | None
    returns_low: np.ndarray
    returns_high: np.ndarray
    returns_term: np.ndarray | None
    segment_start: np.ndarray


@dataclass(frozen=True)
class _Raw:
    """Unnormalized kernel output over rows sorted by (episode, t)."""

    low: np.ndarray
    high: np.ndarray  # NaN off segment starts
    term_return: np.ndarray
    start: np.ndarray


def _hiper_kernel(
    rewards: np.ndarray,
    v_low: np.ndarray,
    v_high: np.ndarray,
    switch: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    end_low: np.ndarray,
    end_high: np.ndarray,
    gamma: float,
    lam_turn: float,
    lam_seg: float,
) -> _Raw:
    """HiPER over rows sorted by (episode, t), every episode at once.

    Args:
        rewards, v_low, v_high, switch: ``(n,)`` sorted rows.
        first, last: ``(n,)`` bool, the row is its episode's first / last turn.
        end_low, end_high: ``(n_last,)`` the low / high value after each episode's last turn
            (0 when terminated), in the order of the ``last`` rows.
        gamma, lam_turn, lam_seg: γ, λ_turn, λ_seg.
    """
    n = len(rewards)
    start = switch | first
    seg = np.cumsum(start) - 1  # segments never cross episodes: every first row starts one
    seg_start = np.flatnonzero(start)
    n_seg = len(seg_start)
    seg_len = np.diff(np.append(seg_start, n))
    seg_end = seg_start + seg_len - 1
    seg_last = last[seg_end]  # the segment ends its episode
    ep_of_end = np.cumsum(last) - 1  # episode number (in sorted order) of each row
    # V_high after each segment: the next segment's start, or the episode's end value.
    next_start_high = np.append(v_high[seg_start[1:]], 0.0)
    boot_high = np.where(seg_last, end_high[ep_of_end[seg_end]], next_start_high)
    boot_low = np.where(seg_last, end_low[ep_of_end[seg_end]], next_start_high)
    rank = np.arange(n) - seg_start[seg]
    identity = np.arange(n)
    # Low level: turn GAE inside each segment.
    v_next = np.append(v_low[1:], 0.0)
    is_seg_end = np.zeros(n, dtype=bool)
    is_seg_end[seg_end] = True
    v_next[is_seg_end] = boot_low
    delta = rewards + gamma * v_next - v_low
    a_low = _segmented_reverse_scan(delta, np.full(n, gamma * lam_turn), rank, identity)
    # Termination return: discounted rewards to the segment end, bootstrapped on boot_high.
    x = rewards.copy()
    x[seg_end] += gamma * boot_high
    term_return = _segmented_reverse_scan(x, np.full(n, gamma), rank, identity)
    # High level: SMDP GAE over the segments of each episode.
    seg_return = _segmented_reverse_scan(rewards, np.full(n, gamma), rank, identity)[seg_start]
    discount = gamma ** seg_len.astype(np.float64)
    seg_delta = seg_return + discount * boot_high - v_high[seg_start]
    seg_first = first[seg_start]
    seg_rank = np.arange(n_seg) - np.maximum.accumulate(np.where(seg_first, np.arange(n_seg), 0))
    a_seg = _segmented_reverse_scan(
        seg_delta, discount * lam_seg, seg_rank, np.arange(n_seg)
    )
    a_high = np.full(n, np.nan)
    a_high[seg_start] = a_seg
    return _Raw(low=a_low, high=a_high, term_return=term_return, start=start)


def _z(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(x − μ)/(σ + 1e-8)`` over ``values[mask]`` (population σ, upstream ``norm_adv``)."""
    out = values.copy()
    if np.any(mask):
        chosen = values[mask]
        out[mask] = (chosen - chosen.mean()) / (chosen.std() + NORM_EPS)
    return out


def hiper_parts(
    batch: StepBatch,
    *,
    v_low: np.ndarray | None = None,
    v_high: np.ndarray | None = None,
    switch: np.ndarray | None = None,
    v_term: np.ndarray | None = None,
    gamma: float = 1.0,
    lam_turn: float = 1.0,
    lam_seg: float = 0.95,
    bootstrap_truncated: bool = True,
    norm_adv: bool = True,
) -> HiPERParts:
    """HiPER's low, high and termination advantages of a batch (see the module doc).

    An episode counts as truncated when its last row has ``terminated`` False (a batch built
    from arrays must set ``terminated``; :meth:`StepBatch.from_episodes` copies
    ``Turn.terminated``). ``norm_adv`` z-scores each advantage over the whole batch, over the
    rows that carry it (all rows for ``low`` and ``term``, segment starts for ``high``), with
    population σ + 1e-8, as upstream; the returns stay unnormalized.

    Args:
        batch: ``N`` rows; ``reward`` holds the turn rewards.
        v_low: ``(N,)`` ``V_low`` per turn (finite).
        v_high: ``(N,)`` ``V_high``; read at segment starts only (other rows may be NaN).
        switch: ``(N,)`` bool, the turn starts a new subgoal segment (turn 0 always does).
        v_term: ``(N,)`` ``V_term`` per turn, or None (then no termination advantage).
        gamma: γ (1.0).
        lam_turn: λ of the low level (``algorithm.lam``, 1.0).
        lam_seg: λ of the high level (0.95).
        bootstrap_truncated: bootstrap truncated episodes (upstream's run scripts: True);
            False bootstraps them on 0 like terminated ones.
        norm_adv: z-score each advantage batch-wide (upstream default True).

    Returns:
        A :class:`HiPERParts`.

    Raises:
        ValueError: a missing input, a wrong shape, or NaN/inf where a value is read.
    """
    if v_low is None or v_high is None or switch is None:
        raise ValueError(
            "hiper: needs the critic's per-turn values and the switch decisions: pass "
            "v_low=, v_high= and switch= (arrays with one entry per row)"
        )
    index = index_batch(batch, "hiper")
    n = index.n_rows
    order = index.order
    v_low_s = as_row_array(v_low, n, "hiper v_low")[order]
    v_high_rows = np.asarray(v_high, dtype=np.float64)
    switch_rows = np.asarray(switch)
    for name, values in (("v_high", v_high_rows), ("switch", switch_rows)):
        if values.shape != (n,):
            raise ValueError(f"hiper {name} has shape {values.shape}; expected ({n},), one per row")
    v_high_s = v_high_rows[order]
    switch_s = switch_rows.astype(bool)[order]
    rank_s = index.rank[order]
    first = rank_s == 0
    last = index.is_last[order]
    start = switch_s | first
    bad = np.flatnonzero(start & ~np.isfinite(v_high_s))
    if len(bad):
        raise ValueError(f"hiper v_high is not finite at row {int(order[bad[0]])}, a segment start")
    # Values after each episode's last turn (episodes in sorted order).
    last_rows = order[last]
    truncated = ~batch.terminated[last_rows] & bootstrap_truncated
    seg_start_of_last = np.maximum.accumulate(np.where(start, np.arange(n), 0))[last]
    end_low = np.where(truncated, v_low_s[last], 0.0)
    end_high = np.where(truncated, v_high_s[seg_start_of_last], 0.0)
    raw = _hiper_kernel(batch.reward[order], v_low_s, v_high_s, switch_s, first, last,
                        end_low, end_high, gamma, lam_turn, lam_seg)
    term_s = None
    if v_term is not None:
        term_s = raw.term_return - as_row_array(v_term, n, "hiper v_term")[order]
    low_s, high_s = raw.low, raw.high
    if norm_adv:
        low_s = _z(low_s, np.ones(n, dtype=bool))
        high_s = _z(high_s, raw.start)
        term_s = None if term_s is None else _z(term_s, np.ones(n, dtype=bool))

    def rows(sorted_values: np.ndarray) -> np.ndarray:
        out = np.empty(n, dtype=sorted_values.dtype)
        out[order] = sorted_values
        return out

    returns_high = np.where(raw.start, raw.high + v_high_s, np.nan)
    return HiPERParts(
        low=rows(low_s),
        high=rows(high_s),
        term=None if term_s is None else rows(term_s),
        returns_low=rows(raw.low + v_low_s),
        returns_high=rows(returns_high),
        returns_term=None if v_term is None else rows(raw.term_return),
        segment_start=rows(raw.start),
    )


@register("hiper")
def hiper(
    batch: StepBatch,
    *,
    v_low: np.ndarray | None = None,
    v_high: np.ndarray | None = None,
    switch: np.ndarray | None = None,
    gamma: float = 1.0,
    lam_turn: float = 1.0,
    lam_seg: float = 0.95,
    bootstrap_truncated: bool = True,
    norm_adv: bool = True,
) -> np.ndarray:
    """HiPER low-level advantage per turn (Peng et al. 2026, arXiv 2602.16165).

    The ``low`` of :func:`hiper_parts` (same arguments; formulas in the module doc): the
    advantage upstream puts on every response token of a turn when the trainer gives it no
    subgoal or switch token masks. A trainer that splits a turn's tokens takes ``high`` (subgoal
    tokens of segment starts) and ``term`` (switch tokens) from :func:`hiper_parts`.

    The trainer supplies, per row: ``v_low`` and ``v_high`` from the critic heads and ``switch``
    from the parsed turn (``<switch>SWITCH</switch>``); ``batch.terminated`` marks the episodes
    that ended (others are bootstrapped as truncated).

    Returns:
        ``(N,)`` float64 advantages.
    """
    return hiper_parts(
        batch, v_low=v_low, v_high=v_high, switch=switch, gamma=gamma, lam_turn=lam_turn,
        lam_seg=lam_seg, bootstrap_truncated=bootstrap_truncated, norm_adv=norm_adv,
    ).low


def hiper_advantages(
    rewards: np.ndarray,
    v_low: np.ndarray,
    v_high: np.ndarray,
    switch: np.ndarray,
    *,
    terminated: bool = True,
    gamma: float = 1.0,
    lam_turn: float = 1.0,
    lam_seg: float = 0.95,
    bootstrap_low: float | None = None,
    bootstrap_high: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Low- and high-level HiPER advantages of one episode (before ``norm_adv``).

    Segments start at turn 0 and at every turn with ``switch`` True. With ``s(t)`` the segment
    of turn ``t`` and ``b`` the start of the next segment:

    * low level: ``δ_t = r_t + γ v_next − V_low(t)`` with ``v_next = V_low(t+1)`` inside a
      segment, ``V_high(b)`` at a segment end and, after the last turn, 0 when ``terminated``,
      else ``bootstrap_low`` (default: upstream's ``V_low`` of the last turn);
      ``A_t = δ_t + γλ_turn A_{t+1}`` reset at each segment boundary.
    * high level: ``R_k = Σ_{j∈k} γ^{j−s_k} r_j``, ``δ_k = R_k + γ^{d_k} V_high(b) − V_high(s_k)``
      and ``A_k = δ_k + γ^{d_k} λ_seg A_{k+1}`` over segments ``k`` of length ``d_k``; after the
      last segment ``V_high(b)`` is 0 when ``terminated``, else ``bootstrap_high`` (default:
      upstream's ``V_high`` of the last segment's start).

    Args:
        rewards: ``(T,)`` turn rewards.
        v_low: ``(T,)`` low-level values.
        v_high: ``(T,)`` high-level values (read at segment starts only; other turns may
            hold anything, NaN included).
        switch: ``(T,)`` bool, the turn starts a new subgoal segment (turn 0 always does).
        terminated: the episode ended in a terminal state (no bootstrap after the last turn).
        gamma: γ.
        lam_turn: λ of the low level.
        lam_seg: λ of the high level.
        bootstrap_low: low-level value after the last turn when not ``terminated``.
        bootstrap_high: high-level value after the last segment when not ``terminated``.

    Returns:
        ``(a_low, a_high)``, both ``(T,)``; ``a_high`` is NaN on turns that start no segment.

    Raises:
        ValueError: shapes differ or are empty, or a value that is read (``rewards``,
            ``v_low``, ``v_high`` at segment starts, the bootstraps when not ``terminated``)
            is NaN or inf.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    v_low = np.asarray(v_low, dtype=np.float64)
    v_high = np.asarray(v_high, dtype=np.float64)
    switch = np.asarray(switch, dtype=bool).copy()
    n = len(rewards)
    if not (rewards.shape == v_low.shape == v_high.shape == switch.shape == (n,)) or n == 0:
        raise ValueError("hiper_advantages: rewards, v_low, v_high, switch must be equal (T,), T>0")
    switch[0] = True
    starts = np.flatnonzero(switch)
    end_low = end_high = 0.0
    if not terminated:
        end_low = float(v_low[-1]) if bootstrap_low is None else float(bootstrap_low)
        end_high = float(v_high[starts[-1]]) if bootstrap_high is None else float(bootstrap_high)
    checks = [("rewards", rewards), ("v_low", v_low), ("v_high", v_high[starts])]
    if not terminated:
        checks += [("bootstrap_low", np.array([end_low])),
                   ("bootstrap_high", np.array([end_high]))]
    for name, values in checks:
        if not np.all(np.isfinite(values)):
            raise ValueError(f"hiper_advantages: {name} contains NaN or inf")
    first = np.zeros(n, dtype=bool)
    first[0] = True
    last = np.zeros(n, dtype=bool)
    last[-1] = True
    raw = _hiper_kernel(rewards, v_low, v_high, switch, first, last, np.array([end_low]),
                        np.array([end_high]), gamma, lam_turn, lam_seg)
    return raw.low, raw.high
