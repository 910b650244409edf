"""CAST-style solver credit: a cost-to-go difference added to a group advantage.

Source: the credit spec's entry "CAST (arXiv 2607.25308)": for environments with a solver, add
``α·(N(s_t) − N(s_{t+1}))`` to the group-relative advantage, ``N`` the solver's cost-to-go (steps
to the goal), ``α = 0.1``. The paper's full text was not available to check (searched); the
formula and default come from the spec and issue 16 only.

Where the distances come from (no new :class:`StepBatch` column): the environment reports the
distance to the goal in its info dicts, under ``"distance_to_goal"``:

* ``env.reset`` info: ``N(s_0)``, the distance of the initial state (kept in ``Episode.info``);
* every ``env.step`` info: ``N(s_{t+1})``, the distance of the state the step led to (kept in
  ``Turn.info`` of that turn).

So a turn's ``N(s_t)`` is the previous turn's reported distance (the reset info's for ``t = 0``)
and its ``N(s_{t+1})`` its own. :func:`goal_distances` reads both from ``batch.episodes``
(the source episodes :meth:`StepBatch.from_episodes` keeps); a batch built from arrays passes
``distance=`` and ``next_distance=`` instead.

A distance is a number ``≥ 0``; ``None``, a missing key, NaN or a non-number means **unknown**,
``+inf`` (or the string ``"inf"`` that JSON lines turn it into) means **unreachable** (a dead
end, e.g. a Sokoban box pushed into a corner). A turn with an unknown distance on either side
gets no shaping (0). A turn touching an unreachable state gets no shaping either, unless
``unreachable=`` names a finite distance to use for it (e.g. the turn budget, which makes a move
into a dead end cost ``α·(budget − N(s_t))``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import index_batch
from agentgym.credit.registry import get, register

DISTANCE_KEY = "distance_to_goal"
"""The info key the environment reports the distance to the goal under."""


def _as_distance(value: Any) -> float:
    """A reported distance as a float: NaN when unknown, ``+inf`` when unreachable."""
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):  # JSON lines store a non-finite float as "inf" / "nan"
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _distances(values: list[Any]) -> np.ndarray:
    """Reported distances as a float64 array (plain ints and floats pass straight through)."""
    return np.array(
        [v if type(v) is float or type(v) is int else _as_distance(v) for v in values],
        dtype=np.float64,
    )


def goal_distances(batch: StepBatch, *, key: str = DISTANCE_KEY) -> tuple[np.ndarray, np.ndarray]:
    """``(N(s_t), N(s_{t+1}))`` of every row, read from the source episodes' info dicts.

    ``N(s_t)`` is ``Episode.info[key]`` for ``t = 0`` and the previous turn's ``Turn.info[key]``
    otherwise; ``N(s_{t+1})`` is the turn's own ``Turn.info[key]`` (see the module doc).

    One Python step per row: the values live in Python dicts, so reading them is an extraction
    pass like :meth:`StepBatch.from_episodes` (``benchmarks/credit_throughput.py`` times it).

    Args:
        batch: ``N`` rows with ``batch.episodes`` (index ``i`` ↔ ``batch.episode == i``).
        key: the info key.

    Returns:
        Two float64 arrays of shape ``(N,)``: NaN where unknown, ``+inf`` where unreachable.

    Raises:
        ValueError: the batch has no source episodes, or a row's turn is not in its episode.
    """
    if batch.episodes is None:
        raise ValueError(
            "cast: the batch has no source episodes to read the distance to the goal from; "
            f"build it with StepBatch.from_episodes (the env reports info[{key!r}] on reset and "
            "after every step) or pass distance= and next_distance="
        )
    before: list[Any] = []
    after: list[Any] = []
    episodes = batch.episodes
    for row, (e, t) in enumerate(zip(batch.episode.tolist(), batch.t.tolist(), strict=True)):
        episode = episodes[e]
        turns = episode.turns
        if not 0 <= t < len(turns):
            raise ValueError(f"cast: row {row} is turn {t} of episode {e}, which has "
                             f"{len(turns)} turns")
        after.append(turns[t].info.get(key))
        before.append((episode.info if t == 0 else turns[t - 1].info).get(key))
    return _distances(before), _distances(after)


def _distance_array(values: Any, n_rows: int, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n_rows,):
        raise ValueError(f"cast: {name} has shape {array.shape}; expected ({n_rows},), one per row")
    bad = np.flatnonzero(array < 0)  # NaN compares False: unknown is allowed
    if len(bad):
        raise ValueError(
            f"cast: {name} is negative at row {int(bad[0])} ({array[bad[0]]}); a distance to the "
            "goal is ≥ 0 (NaN: unknown, inf: unreachable)"
        )
    return array


def cast_shaping(
    batch: StepBatch,
    *,
    alpha: float = 0.1,
    distance: np.ndarray | None = None,
    next_distance: np.ndarray | None = None,
    key: str = DISTANCE_KEY,
    unreachable: float | None = None,
) -> np.ndarray:
    """``(N,)`` per-row solver term ``α·(N(s_t) − N(s_{t+1}))``, 0 where it is undefined.

    Args:
        batch: ``N`` rows.
        alpha: α.
        distance: ``(N,)`` ``N(s_t)``, the distance before each turn; with ``next_distance``.
        next_distance: ``(N,)`` ``N(s_{t+1})``, the distance after each turn. Both None: read
            from ``batch.episodes`` (:func:`goal_distances`). NaN: unknown; inf: unreachable.
        key: the info key :func:`goal_distances` reads.
        unreachable: the finite distance an unreachable state counts as; None (default): a
            turn touching an unreachable state gets 0.

    Returns:
        ``(N,)`` float64; 0 on rows whose ``N(s_t)`` or ``N(s_{t+1})`` is unknown (or
        unreachable with ``unreachable=None``).
    """
    n = len(batch)
    if (distance is None) != (next_distance is None):
        raise ValueError("cast: pass both distance= and next_distance=, or neither (then they "
                         "are read from batch.episodes)")
    if distance is None:
        before, after = goal_distances(batch, key=key)
    else:
        before, after = distance, next_distance
    before = _distance_array(before, n, "distance")
    after = _distance_array(after, n, "next_distance")
    if unreachable is not None:
        if not (math.isfinite(unreachable) and unreachable >= 0):
            raise ValueError(f"cast: unreachable={unreachable} must be a finite distance ≥ 0")
        before = np.where(np.isposinf(before), unreachable, before)
        after = np.where(np.isposinf(after), unreachable, after)
    known = np.isfinite(before) & np.isfinite(after)
    out = np.zeros(n, dtype=np.float64)
    np.subtract(before, after, out=out, where=known)
    return alpha * out


@register("cast")
def cast(
    batch: StepBatch,
    *,
    alpha: float = 0.1,
    base: str = "grpo",
    base_kwargs: Mapping[str, Any] | None = None,
    distance: np.ndarray | None = None,
    next_distance: np.ndarray | None = None,
    key: str = DISTANCE_KEY,
    unreachable: float | None = None,
) -> np.ndarray:
    """CAST solver credit ``A_t = A_base(t) + α·(N(s_t) − N(s_{t+1}))`` (spec: arXiv 2607.25308).

    ``N`` is the solver's cost-to-go (steps to the goal): a move that takes an optimal step
    gains ``α``, a move that keeps the distance (a wasted or invalid move) 0, a move away
    ``−α`` per step lost. ``A_base`` is any registered estimator (``grpo`` by default).

    Args:
        batch: ``N`` rows; the distances come from ``batch.episodes`` (the env's
            ``info["distance_to_goal"]`` on reset and after each step; see the module doc)
            unless given as arrays.
        alpha: α (0.1).
        base: name of the base estimator.
        base_kwargs: its keyword arguments.
        distance: ``(N,)`` ``N(s_t)`` before each turn (NaN unknown, inf unreachable).
        next_distance: ``(N,)`` ``N(s_{t+1})`` after each turn.
        key: the info key the distances are read from.
        unreachable: a finite distance for unreachable states; None: such turns get no shaping.

    Returns:
        ``(N,)`` float64 advantages.
    """
    if base == "cast":
        raise ValueError("cast: base='cast' would call itself; name another estimator")
    index_batch(batch, "cast")
    adv = np.asarray(get(base)(batch, **dict(base_kwargs or {})), dtype=np.float64)
    shaping = cast_shaping(batch, alpha=alpha, distance=distance, next_distance=next_distance,
                           key=key, unreachable=unreachable)
    return adv + shaping
