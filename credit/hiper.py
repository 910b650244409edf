"""HiPER hierarchical advantage estimation (Peng et al., arXiv 2602.16165; JonP07/HiPER-agent).

A helper, not a registered estimator: it needs per-turn critic values from three heads, which the
trainer owns. It computes the low-level (turn GAE inside each subgoal segment) and the high-level
(SMDP GAE over segments) advantages of one episode; the trainer assigns the low level to action
tokens and the high level to the subgoal tokens of segment-start turns.
"""

from __future__ import annotations

import numpy as np

from agentgym.credit.common import _segmented_reverse_scan


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
    bootstrap_value: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Low- and high-level HiPER advantages of one episode (before ``norm_adv``).

    Segments start at turn 0 and at every turn with ``switch`` True. With ``s(t)`` the segment
    of turn ``t`` and ``b`` the start of the next segment:

    * low level: ``δ_t = r_t + γ v_next − V_low(t)`` with ``v_next = V_low(t+1)`` inside a
      segment, ``V_high(b)`` at a segment end and 0 (or ``bootstrap_value`` when the episode
      was not ``terminated``) after the last turn; ``A_t = δ_t + γλ_turn A_{t+1}`` reset at each
      segment boundary.
    * high level: ``R_k = Σ_{j∈k} γ^{j−s_k} r_j``, ``δ_k = R_k + γ^{d_k} V_high(b) − V_high(s_k)``
      and ``A_k = δ_k + γ^{d_k} λ_seg A_{k+1}`` over segments ``k`` of length ``d_k``.

    Args:
        rewards: ``(T,)`` turn rewards.
        v_low: ``(T,)`` low-level values.
        v_high: ``(T,)`` high-level values (read at segment-start turns only).
        switch: ``(T,)`` bool, the turn starts a new subgoal segment (turn 0 always does).
        terminated: the episode ended in a terminal state (no bootstrap after the last turn).
        gamma: γ.
        lam_turn: λ of the low level.
        lam_seg: λ of the high level.
        bootstrap_value: value after the last turn when not ``terminated``.

    Returns:
        ``(a_low, a_high)``, both ``(T,)``; ``a_high`` is NaN on turns that start no segment.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    v_low = np.asarray(v_low, dtype=np.float64)
    v_high = np.asarray(v_high, dtype=np.float64)
    switch = np.asarray(switch, dtype=bool).copy()
    n = len(rewards)
    if not (rewards.shape == v_low.shape == v_high.shape == switch.shape == (n,)) or n == 0:
        raise ValueError("hiper_advantages: rewards, v_low, v_high, switch must be equal (T,), T>0")
    switch[0] = True
    seg = np.cumsum(switch) - 1
    starts = np.flatnonzero(switch)
    end_value = 0.0 if terminated else float(bootstrap_value)
    # Low level.
    seg_end = np.r_[switch[1:], True]
    v_next = np.append(v_low[1:], end_value)
    v_next[:-1][seg_end[:-1]] = v_high[1:][seg_end[:-1]]
    delta = rewards + gamma * v_next - v_low
    rank = np.arange(n) - starts[seg]
    a_low = _segmented_reverse_scan(delta, np.full(n, gamma * lam_turn), rank, np.arange(n))
    # High level (SMDP over segments).
    seg_return = _segmented_reverse_scan(rewards, np.full(n, gamma), rank, np.arange(n))[starts]
    lengths = np.diff(np.append(starts, n)).astype(np.float64)
    next_high = np.append(v_high[starts[1:]], end_value)
    discount = gamma**lengths
    seg_delta = seg_return + discount * next_high - v_high[starts]
    n_seg = len(starts)
    a_seg = _segmented_reverse_scan(
        seg_delta, discount * lam_seg, np.arange(n_seg), np.arange(n_seg)
    )
    a_high = np.full(n, np.nan)
    a_high[starts] = a_seg
    return a_low, a_high
