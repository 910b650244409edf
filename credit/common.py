"""Shared, vectorized building blocks of every credit method.

* :class:`EpisodeIndex` / :func:`index_batch` — validate a :class:`StepBatch` and order its rows
  by ``(episode, t)`` (rows may arrive in any order).
* :func:`group_normalize` — ``x − μ`` or ``(x − μ)/(σ + ε)`` within groups, with the σ kind
  (unbiased / population) and the singleton rule as explicit parameters.
* :func:`discounted_returns` — ``R_t = Σ_{k≥t} γ^{k−t} r_k`` per episode.
* :func:`turn_gae` — turn-level GAE.
* :func:`dense_ids` — dense ids of row keys made of several integer columns.
* :func:`warn_if_single_state` — the :class:`SingleStateWarning` of GiGPO and SALT.

No Python loop runs per row: per-group statistics use ``np.bincount``, keys use ``np.lexsort``,
and backward recursions loop over the turn index (from the longest episode's last turn down to 0)
while processing every episode at once.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agentgym.core.trajectory import StepBatch

NORMS = ("mean", "mean_std", "none")
STD_KINDS = ("unbiased", "population")
SINGLETON_RULES = ("raw", "zero")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class SingleStateWarning(UserWarning):
    """Every turn of a task group carries one state although its episodes take several steps.

    Raised (as a warning) by GiGPO and SALT, which group turns by state: with one state per task
    every turn falls into one group, which is almost always a batch built from turns whose
    ``Turn.state_key`` was left at its default ``""``. Turn it into an error with
    ``warnings.simplefilter("error", SingleStateWarning)``.
    """


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {list(choices)}")


def as_row_array(values: object, n_rows: int, name: str) -> np.ndarray:
    """``values`` as a finite float64 array of shape ``(n_rows,)``, else a ``ValueError``."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n_rows,):
        raise ValueError(f"{name} has shape {array.shape}; expected ({n_rows},), one per row")
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{name} is not finite at row {bad}")
    return array


def dense_ids(*keys: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Dense ids of the rows' composite key ``(keys[0], keys[1], …)``.

    Each column is densified alone (a table lookup for small ranges, else ``np.unique``), then
    the columns are combined as mixed-radix integers and densified again, so ids follow the
    lexicographic key order.

    Args:
        *keys: integer arrays of equal shape ``(n,)``; ``keys[0]`` is the most significant.

    Returns:
        ``(ids, n_ids, first)``: ``ids`` of shape ``(n,)`` in ``[0, n_ids)``, numbered in
        sorted key order, and ``first`` of shape ``(n_ids,)``, the first row holding each key.
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, np.int64), 0, np.zeros(0, np.int64)
    ids, n_ids = _dense_labels(np.asarray(keys[0]))
    for key in keys[1:]:
        key_ids, key_n = _dense_labels(np.asarray(key))
        if n_ids * key_n >= 2**62:  # cannot happen for n < 2**31 rows; kept for safety
            raise ValueError("dense_ids: key space too large")
        ids, n_ids = _dense_labels(ids * key_n + key_ids)
    first = np.empty(n_ids, dtype=np.int64)
    first[ids[::-1]] = np.arange(n - 1, -1, -1)  # the last write wins: the first row
    return ids, n_ids, first


def _dense_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids of integer labels in sorted order (a table lookup when the range is small)."""
    low, high = int(labels.min()), int(labels.max())
    if high - low <= 4 * len(labels) + 1024:
        present = np.zeros(high - low + 1, dtype=np.int64)
        present[labels - low] = 1
        table = np.cumsum(present) - 1
        return table[labels - low], int(table[-1]) + 1
    uniq, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), len(uniq)


@dataclass(frozen=True)
class EpisodeIndex:
    """Row ↔ episode ↔ group bookkeeping of a validated batch.

    Attributes:
        n_rows: number of rows ``N``.
        order: ``(N,)`` row indices sorted by ``(episode, t)``.
        ep: ``(N,)`` dense episode index of each row, in ``[0, E)``.
        n_episodes: ``E``.
        ep_group: ``(E,)`` dense group index of each episode, in ``[0, G)``.
        n_groups: ``G``.
        rank: ``(N,)`` position of each row within its episode (0 for the first turn).
        ep_first: ``(E,)`` row index of each episode's first turn.
        ep_last: ``(E,)`` row index of each episode's last turn.
        ep_len: ``(E,)`` number of turns of each episode.
        ep_outcome: ``(E,)`` outcome of each episode.
    """

    n_rows: int
    order: np.ndarray
    ep: np.ndarray
    n_episodes: int
    ep_group: np.ndarray
    n_groups: int
    rank: np.ndarray
    ep_first: np.ndarray
    ep_last: np.ndarray
    ep_len: np.ndarray
    ep_outcome: np.ndarray

    @property
    def is_last(self) -> np.ndarray:
        """``(N,)`` bool: the row is its episode's last turn."""
        last = np.zeros(self.n_rows, dtype=bool)
        last[self.ep_last] = True
        return last

    @property
    def row_group(self) -> np.ndarray:
        """``(N,)`` dense group index of each row."""
        return self.ep_group[self.ep]

    def next_row(self) -> np.ndarray:
        """``(N,)`` index of the row holding the same episode's next turn, −1 on last turns."""
        nxt = np.full(self.n_rows, -1, dtype=np.int64)
        sorted_last = self.is_last[self.order]
        nxt[self.order[:-1][~sorted_last[:-1]]] = self.order[1:][~sorted_last[:-1]]
        return nxt

    def episode_sum(self, values: np.ndarray) -> np.ndarray:
        """``(E,)`` per-episode sum of a per-row array."""
        return np.bincount(self.ep, weights=values, minlength=self.n_episodes)

    def reverse_scan(self, values: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
        """Per-episode backward recursion ``y_t = x_t + f_t · y_{t+1}`` (``y`` after the last = 0).

        Args:
            values: ``(N,)`` per-row ``x``.
            factor: a scalar or ``(N,)`` per-row ``f``.

        Returns:
            ``(N,)`` per-row ``y`` (aligned with the batch rows).
        """
        factor_rows = np.broadcast_to(np.asarray(factor, dtype=np.float64), (self.n_rows,))
        return _segmented_reverse_scan(
            values[self.order], factor_rows[self.order], self.rank[self.order], self.order
        )


def _segmented_reverse_scan(
    x_sorted: np.ndarray, f_sorted: np.ndarray, rank_sorted: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """Backward scan over rows sorted by (segment, position); loops over positions, not rows.

    ``rank_sorted`` runs 0..L−1 within each segment. With segments ordered by decreasing length,
    the rows at position ``k`` are ``start + k`` for a prefix of them, so no sort is needed.
    """
    n = len(x_sorted)
    y_sorted = np.zeros(n, dtype=np.float64)
    if n == 0:
        return y_sorted
    starts = np.flatnonzero(rank_sorted == 0)
    lengths = np.diff(np.append(starts, n))
    by_length = np.argsort(-lengths, kind="stable")
    starts_desc = starts[by_length]
    max_len = int(lengths.max())
    # live[k] = number of segments longer than k (those having a row at position k).
    live = len(lengths) - np.searchsorted(np.sort(lengths), np.arange(max_len + 1), side="right")
    for k in range(max_len - 1, -1, -1):
        pos = starts_desc[: live[k]] + k
        y_sorted[pos] = x_sorted[pos]
        cont = starts_desc[: live[k + 1]] + k
        y_sorted[cont] += f_sorted[cont] * y_sorted[cont + 1]
    y = np.empty(n, dtype=np.float64)
    y[order] = y_sorted
    return y


def index_batch(batch: StepBatch, method: str = "credit") -> EpisodeIndex:
    """Validate ``batch`` and build its :class:`EpisodeIndex`.

    Raises:
        ValueError: naming ``method`` and the problem: an empty batch, columns of different
            lengths, non-finite rewards/outcomes, an episode spread over several groups,
            repeated ``t`` within an episode, or an episode with several outcomes.
    """
    if not isinstance(batch, StepBatch):
        raise TypeError(f"{method}: expected a StepBatch, got {type(batch).__name__}")
    batch.validate()
    n = len(batch)
    if n == 0:
        raise ValueError(f"{method}: the batch is empty (no rows, so no groups to compare)")
    ep, n_episodes = _dense_labels(batch.episode)
    lengths = np.bincount(ep, minlength=n_episodes)
    starts = np.cumsum(lengths) - lengths
    order = _order_by_turn(batch.t, ep, lengths, starts)
    if order is None:  # t is not 0..L-1 within every episode: sort, then check for repeats
        order = np.lexsort((batch.t, ep))
        t_sorted = batch.t[order]
        same_ep = ep[order][1:] == ep[order][:-1]
        repeated = same_ep & (t_sorted[1:] == t_sorted[:-1])
        if np.any(repeated):
            row = int(order[1:][repeated][0])
            raise ValueError(
                f"{method}: episode {batch.episode[row]} has turn t={batch.t[row]} more than once"
            )
    first_rows = order[starts]
    group_first = batch.group[first_rows]
    mixed = batch.group != group_first[ep]
    if np.any(mixed):
        row = int(np.flatnonzero(mixed)[0])
        raise ValueError(
            f"{method}: episode {batch.episode[row]} appears in more than one group"
        )
    ep_outcome = batch.outcome[first_rows]
    varied = batch.outcome != ep_outcome[ep]
    if np.any(varied):
        row = int(np.flatnonzero(varied)[0])
        raise ValueError(
            f"{method}: episode {batch.episode[row]} has different outcome values on its rows"
        )
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, lengths)
    _, ep_group = np.unique(group_first, return_inverse=True)
    return EpisodeIndex(
        n_rows=n,
        order=order,
        ep=ep,
        n_episodes=n_episodes,
        ep_group=ep_group.astype(np.int64),
        n_groups=int(ep_group.max()) + 1,
        rank=rank,
        ep_first=first_rows,
        ep_last=order[starts + lengths - 1],
        ep_len=lengths,
        ep_outcome=ep_outcome,
    )


def _stacklevel_outside_package() -> int:
    """The ``stacklevel`` (seen from this function's caller) of the first frame outside
    ``agentgym.credit``: the user's call site, however deep inside the package the warning is
    raised (``gigpo`` → ``gigpo_parts`` → …, ``compute_advantages`` → ``salt`` …)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def warn_if_single_state(keys: np.ndarray, index: EpisodeIndex, method: str) -> bool:
    """Warn (:class:`SingleStateWarning`) when a task group has one state key for all its turns
    while one of its episodes takes more than one step.

    Single-step tasks are not flagged: all their turns start from the same initial state. The
    message text does not vary with the batch, so Python's default warning filter shows it once
    per call site (a training loop calling the estimator every iteration is told once).

    Args:
        keys: ``(N,)`` integer state (or anchor-group) key of each row.
        index: the batch's :class:`EpisodeIndex`.
        method: the method name that starts the message.

    Returns:
        True when the warning was issued.
    """
    row_group = index.row_group
    probe = np.empty(index.n_groups, dtype=np.int64)
    probe[row_group] = np.arange(index.n_rows)  # any row of each group
    differs = keys != keys[probe[row_group]]
    n_differ = np.bincount(row_group, weights=differs, minlength=index.n_groups)
    multi_step = np.bincount(index.ep_group, weights=index.ep_len > 1, minlength=index.n_groups)
    if not np.any((n_differ == 0) & (multi_step > 0)):
        return False
    warnings.warn(
        f"{method}: every turn of a task group has the same state although its episodes take "
        "more than one step, so all of the task's turns fall into one group and the step-level "
        "credit compares turns taken in different states; if the environment sets no "
        "state_key, every turn has the default \"\": set it to the state each action was taken "
        "in (harmless when no action of the group changed the state)",
        SingleStateWarning,
        stacklevel=_stacklevel_outside_package(),
    )
    return True


def _order_by_turn(
    t: np.ndarray, ep: np.ndarray, lengths: np.ndarray, starts: np.ndarray
) -> np.ndarray | None:
    """Rows ordered by (episode, t) without sorting when each episode's t is a permutation of
    0..L−1 (the usual case); None otherwise."""
    n = len(t)
    if t.min() < 0 or np.any(t >= lengths[ep]):
        return None
    pos = starts[ep] + t
    if np.bincount(pos, minlength=n).max() != 1:
        return None
    order = np.empty(n, dtype=np.int64)
    order[pos] = np.arange(n)
    return order


def group_stats(
    values: np.ndarray,
    ids: np.ndarray,
    n_ids: int,
    *,
    std: str = "unbiased",
    singleton: str = "raw",
    var_eps: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group ``(μ, σ)`` with the singleton rule applied; shapes ``(n_ids,)``.

    ``singleton="raw"`` gives a size-1 group μ = 0, σ = 1 (its advantage is the raw value, as
    verl-agent's episode groups); ``"zero"`` gives μ = x, σ = 1 (advantage 0, as its step
    groups). σ = sqrt(var + var_eps) with var over N−1 (``"unbiased"``) or N (``"population"``).
    """
    _check_choice("std", std, STD_KINDS)
    _check_choice("singleton", singleton, SINGLETON_RULES)
    counts = np.bincount(ids, minlength=n_ids).astype(np.float64)
    if np.any(counts == 0):
        raise ValueError("group_normalize: a group has no members (empty group)")
    mean = np.bincount(ids, weights=values, minlength=n_ids) / counts
    dev = values - mean[ids]
    ss = np.bincount(ids, weights=dev * dev, minlength=n_ids)
    denom = counts - 1.0 if std == "unbiased" else counts
    single = counts <= 1
    var = np.divide(ss, denom, out=np.zeros_like(ss), where=~single)
    sigma = np.sqrt(var + var_eps)
    sigma[single] = 1.0
    if singleton == "raw":
        mean[single] = 0.0
    return mean, sigma


def group_normalize(
    values: np.ndarray,
    groups: np.ndarray,
    *,
    norm: str = "mean_std",
    std: str = "unbiased",
    eps: float = 1e-6,
    singleton: str = "raw",
    var_eps: float = 0.0,
) -> np.ndarray:
    """Group-relative normalization (GRPO, Shao et al. 2024, arXiv 2402.03300).

    ``norm="mean"``: ``x − μ_g``; ``"mean_std"``: ``(x − μ_g)/(σ_g + ε)``; ``"none"``: ``x``.

    Args:
        values: ``(n,)`` finite floats.
        groups: ``(n,)`` integer group labels (any values).
        norm: ``"mean"``, ``"mean_std"`` or ``"none"``.
        std: ``"unbiased"`` (N−1, torch.std, verl) or ``"population"`` (N, IGPO/HiPER).
        eps: ε added to σ.
        singleton: ``"raw"`` (μ=0, σ=1) or ``"zero"`` (μ=x, σ=1) for groups of one.
        var_eps: added to the variance under the square root (IGPO uses 1e-8).

    Returns:
        ``(n,)`` normalized values.
    """
    _check_choice("norm", norm, NORMS)
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    if values.shape != groups.shape or values.ndim != 1:
        raise ValueError(
            f"group_normalize: values {values.shape} and groups {groups.shape} must be equal 1-D"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("group_normalize: values contain NaN or inf")
    if len(values) == 0:
        return values.copy()
    ids, n_ids, _ = dense_ids(groups)
    return normalize_dense(
        values, ids, n_ids, norm=norm, std=std, eps=eps, singleton=singleton, var_eps=var_eps
    )


def normalize_dense(
    values: np.ndarray,
    ids: np.ndarray,
    n_ids: int,
    *,
    norm: str = "mean_std",
    std: str = "unbiased",
    eps: float = 1e-6,
    singleton: str = "raw",
    var_eps: float = 0.0,
) -> np.ndarray:
    """:func:`group_normalize` for dense ids in ``[0, n_ids)`` (no relabelling)."""
    _check_choice("norm", norm, NORMS)
    if norm == "none":
        return values.astype(np.float64, copy=True)
    mean, sigma = group_stats(values, ids, n_ids, std=std, singleton=singleton, var_eps=var_eps)
    centered = values - mean[ids]
    if norm == "mean":
        return centered
    return centered / (sigma[ids] + eps)


def discounted_returns(
    rewards: np.ndarray, episode: np.ndarray, t: np.ndarray, gamma: float
) -> np.ndarray:
    """Per-episode discounted return ``R_t = Σ_{k≥t} γ^{k−t} r_k`` (GiGPO Eq. 5).

    Args:
        rewards: ``(n,)`` per-turn rewards.
        episode: ``(n,)`` episode labels; rows may be in any order.
        t: ``(n,)`` turn indices (ordering within an episode; gaps are allowed).
        gamma: discount factor γ.

    Returns:
        ``(n,)`` returns aligned with the input rows.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    episode = np.asarray(episode, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    if not (rewards.shape == episode.shape == t.shape) or rewards.ndim != 1:
        raise ValueError(
            f"discounted_returns: rewards {rewards.shape}, episode {episode.shape} and t "
            f"{t.shape} must be equal 1-D shapes"
        )
    if not np.all(np.isfinite(rewards)):
        raise ValueError("discounted_returns: rewards contain NaN or inf")
    n = len(rewards)
    if n == 0:
        return rewards.copy()
    ep, n_episodes = _dense_labels(episode)
    lengths = np.bincount(ep, minlength=n_episodes)
    starts = np.cumsum(lengths) - lengths
    order = _order_by_turn(t, ep, lengths, starts)
    if order is None:
        order = np.lexsort((t, ep))
    rank_sorted = np.arange(n) - np.repeat(starts, lengths)
    return _segmented_reverse_scan(
        rewards[order], np.full(n, float(gamma)), rank_sorted, order
    )


def _segments_from_dones(dones: np.ndarray) -> np.ndarray:
    """Segment label per position: a new segment starts after each ``done``."""
    seg = np.zeros(len(dones), dtype=np.int64)
    seg[1:] = np.cumsum(dones[:-1])
    return seg


def turn_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    gamma: float = 1.0,
    lam: float = 1.0,
    *,
    last_value: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn-level GAE (Schulman et al. 2016, arXiv 1506.02438) with one value per turn.

    ``δ_t = r_t + γ(1−d_t)V_{t+1} − V_t`` and ``A_t = δ_t + γλ(1−d_t)A_{t+1}``; the
    sequence may hold several episodes back to back, separated by ``dones``. After the final
    position ``V = last_value`` (bootstrap for a truncated, unfinished episode).

    Args:
        rewards: ``(T,)`` turn rewards.
        values: ``(T,)`` value estimates ``V(s_t)``.
        dones: ``(T,)`` bool, True on an episode's terminal turn.
        gamma: γ.
        lam: λ.
        last_value: ``V`` after position ``T−1`` (used only when ``dones[-1]`` is False).

    Returns:
        ``(advantages, returns)``, both ``(T,)``; ``returns = advantages + values``.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    dones = np.asarray(dones, dtype=bool)
    if not (rewards.shape == values.shape == dones.shape) or rewards.ndim != 1:
        raise ValueError(
            f"turn_gae: rewards {rewards.shape}, values {values.shape} and dones {dones.shape} "
            "must be equal 1-D shapes"
        )
    if not (np.all(np.isfinite(rewards)) and np.all(np.isfinite(values))):
        raise ValueError("turn_gae: rewards or values contain NaN or inf")
    n = len(rewards)
    if n == 0:
        return rewards.copy(), rewards.copy()
    not_done = (~dones).astype(np.float64)
    next_values = np.append(values[1:], last_value)
    delta = rewards + gamma * not_done * next_values - values
    seg = _segments_from_dones(dones)
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    adv = _segmented_reverse_scan(delta, gamma * lam * not_done, rank, np.arange(n))
    return adv, adv + values
