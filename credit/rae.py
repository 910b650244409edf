"""Role-conditioned advantage estimation (RAE) for self-play (SPIRAL).

SPIRAL (Liu et al. 2025, "SPIRAL: Self-Play on Zero-Sum Games Incentivizes Reasoning via
Multi-Agent Multi-Turn Reinforcement Learning", arXiv 2506.24119, Eq. 2 and Algorithm 1) trains
one shared policy in every seat of a two-player game. In a zero-sum game the group mean of the
two seats' returns is 0 whatever the policy does, and one seat may win more often by position
(first move, information), so RAE keeps one baseline per game ``G`` and role ``p``, an exponential
moving average of that role's returns, and subtracts it:

    b_{G,p} ← α · b_{G,p} + (1 − α) · R_p(τ),      A_{G,p}(τ) = R_p(τ) − b_{G,p}

with ``b`` starting at 0 and α = 0.95 (the paper's Table 6). Trajectories update the baselines
one at a time in batch order (Algorithm 1, lines 19–24); the advantage is broadcast to every turn
of the role's trajectory. No normalization by the standard deviation.

Paper and reference code differ in one detail, offered as ``order``:

* ``"paper"`` (default): update first, then subtract (Algorithm 1, line 21 before line 22), so a
  trajectory's own return is partly in its baseline;
* ``"code"``: subtract the baseline *before* the update ("Get the baseline before updating to be
  unbiased", ``train_spiral.py`` of spiral-rl/spiral), which reproduces the released code.

The baselines live across batches in a :class:`RoleBaselines` object the caller keeps (and
checkpoints with ``state_dict``); without one, every call starts from 0. Rows: the batch's
``role`` column (``StepBatch.role``, from ``Episode.role``) and the game — ``game`` per row, or
the episodes' ``env_id`` when the batch was built from episodes, else one game.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentgym.core.trajectory import StepBatch, stable_hash
from agentgym.credit.baselines import episode_scores
from agentgym.credit.common import _check_choice, index_batch
from agentgym.credit.registry import register

ORDERS = ("paper", "code")


@dataclass
class RoleBaselines:
    """The running baselines ``b_{G,p}`` of RAE, keyed by ``(game id, role id)``.

    Attributes:
        values: ``{(game, role): baseline}``; a key not yet seen starts at 0.
        updates: ``{(game, role): number of returns folded in}``.
    """

    values: dict[tuple[int, int], float] = field(default_factory=dict)
    updates: dict[tuple[int, int], int] = field(default_factory=dict)

    def state_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot (for checkpoints)."""
        return {
            "values": [[g, r, v] for (g, r), v in sorted(self.values.items())],
            "updates": [[g, r, n] for (g, r), n in sorted(self.updates.items())],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` snapshot."""
        self.values = {(int(g), int(r)): float(v) for g, r, v in state.get("values", [])}
        self.updates = {(int(g), int(r)): int(n) for g, r, n in state.get("updates", [])}


def ema_sequence(returns: np.ndarray, alpha: float, start: float) -> np.ndarray:
    """``b_k = α b_{k−1} + (1 − α) R_k`` for ``k = 1..n`` from ``b_0 = start``, vectorized.

    Uses the closed form ``b_k = α^k (b_0 + (1 − α) Σ_{j≤k} α^{−j} R_j)`` in blocks short enough
    that ``α^{−j}`` stays finite; no Python loop per element.

    Args:
        returns: ``(n,)`` returns in update order.
        alpha: decay α in [0, 1].
        start: ``b_0``.

    Returns:
        ``(n,)`` baselines after each update.
    """
    returns = np.asarray(returns, dtype=np.float64)
    n = len(returns)
    if n == 0:
        return returns.copy()
    if alpha == 0.0:
        return returns.copy()
    if alpha == 1.0:
        return np.full(n, float(start))
    block = max(1, min(n, int(250.0 / -math.log10(alpha))))
    out = np.empty(n, dtype=np.float64)
    carry = float(start)
    powers = alpha ** np.arange(1, block + 1, dtype=np.float64)  # α^1 … α^block
    for begin in range(0, n, block):
        chunk = returns[begin:begin + block]
        k = len(chunk)
        weighted = np.cumsum(chunk / powers[:k])  # Σ_{j≤i} α^{−j} R_j
        out[begin:begin + k] = powers[:k] * (carry + (1.0 - alpha) * weighted)
        carry = float(out[begin + k - 1])
    return out


def _game_ids(batch: StepBatch, game: Any, index: Any) -> np.ndarray:
    """``(E,)`` int64 game id of each dense episode."""
    if game is not None:
        rows = np.asarray(game)
        if rows.shape != (len(batch),):
            raise ValueError(f"rae: game has shape {rows.shape}; expected ({len(batch)},)")
        if rows.dtype.kind in "iu":
            per_row = rows.astype(np.int64)
        else:
            per_row = np.array([stable_hash(str(g)) for g in rows], dtype=np.int64)
        return per_row[index.ep_first]
    if batch.episodes is not None:
        labels = batch.episode[index.ep_first]
        return np.array([stable_hash(str(batch.episodes[int(e)].env_id)) for e in labels],
                        dtype=np.int64)
    return np.zeros(index.n_episodes, dtype=np.int64)


@register("rae")
def rae(
    batch: StepBatch,
    *,
    alpha: float = 0.95,
    order: str = "paper",
    baselines: RoleBaselines | None = None,
    game: np.ndarray | None = None,
    score: str = "outcome",
) -> np.ndarray:
    """SPIRAL's role-conditioned advantage ``A = R_p(τ) − b_{G,p}`` (see the module doc).

    Args:
        batch: ``N`` rows; episodes update the baselines in the order of their ``episode``
            labels (the order of ``StepBatch.from_episodes``).
        alpha: EMA decay α in [0, 1] (0.95 in the paper).
        order: ``"paper"`` (update, then subtract) or ``"code"`` (subtract, then update).
        baselines: running baselines, read and updated in place; None starts from 0 and keeps
            nothing.
        game: ``(N,)`` game of each row (ints or strings); default: the episodes' ``env_id``.
        score: the return ``R``: ``"outcome"`` (the episode's outcome) or ``"sum"`` (the sum of
            its turn rewards).

    Returns:
        ``(N,)`` advantages, one per row (each episode's value broadcast to its turns).
    """
    _check_choice("order", order, ORDERS)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"rae: alpha must be in [0, 1], got {alpha}")
    index = index_batch(batch, "rae")
    returns = episode_scores(batch, index, score)
    roles = batch.roles()[index.ep_first]
    games = _game_ids(batch, game, index)
    state = baselines if baselines is not None else RoleBaselines()
    advantages = np.empty(index.n_episodes, dtype=np.float64)
    keys = np.stack([games, roles], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    episode_order = np.argsort(batch.episode[index.ep_first], kind="stable")
    for k, (g, r) in enumerate(unique):  # one pass per (game, role), vectorized within it
        members = episode_order[inverse[episode_order] == k]
        key = (int(g), int(r))
        start = state.values.get(key, 0.0)
        after = ema_sequence(returns[members], alpha, start)
        if order == "paper":
            advantages[members] = returns[members] - after
        else:
            before = np.concatenate([[start], after[:-1]])
            advantages[members] = returns[members] - before
        state.values[key] = float(after[-1])
        state.updates[key] = state.updates.get(key, 0) + len(members)
    return advantages[index.ep]
