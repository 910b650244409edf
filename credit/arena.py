"""ArenaRL: tournament-based group ranking (Zhang et al., arXiv 2601.06487).

A pairwise judge (an LLM with rubrics in the paper) compares episodes; a seeded bracket ranks
the ``N`` episodes of a group in ``N − 1`` matches (plus ``N − 1`` seeding calls against an
anchor rollout when one is given), instead of ``N(N−1)/2`` for a round robin. Ranks become
quantile rewards, z-normalized in the group (GRPO). The procedure follows a third-party port
(marked unverified in the spec).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import index_batch, normalize_dense
from agentgym.credit.registry import register

Judge = Callable[[int, int], float]
"""``judge(a, b)`` → probability/score in [0, 1] that episode ``a`` is better than ``b``."""


@dataclass
class TournamentResult:
    """Outcome of one group's tournament.

    Attributes:
        ranks: rank of each player (1 = best), aligned with the ``players`` passed in.
        calls: number of judge calls made (seeding + bracket).
    """

    ranks: list[int]
    calls: int


def single_elimination(
    players: Sequence[int],
    judge: Judge,
    *,
    anchor: int | None = None,
    seed: int = 0,
) -> TournamentResult:
    """Rank ``players`` with a seeded single-elimination bracket.

    Seeding: with an ``anchor``, each player ``p`` scores ``1 − judge(anchor, p)`` and seeds are
    ordered by that score (best first); without one, a permutation drawn from ``seed``. Each
    round pairs seed 1 with the last, 2 with the second last …; with an odd count the middle
    player advances on a bye. ``judge(a, b) > 0.5`` means ``a`` wins, ``< 0.5`` that ``b`` wins,
    and a tie goes to the better average judge score so far, then the better seed. Players
    knocked out in later rounds rank better; within a round, by average score, then seed.

    Returns:
        A :class:`TournamentResult`; ``calls ≤ 2(N − 1)``.
    """
    n = len(players)
    if n == 0:
        raise ValueError("single_elimination: empty group")
    calls = 0
    score_sum = dict.fromkeys(range(n), 0.0)
    played = dict.fromkeys(range(n), 0)

    def call(a: int, b: int) -> float:
        nonlocal calls
        calls += 1
        return _checked(judge(int(players[a]), int(players[b])))

    if anchor is not None:
        seeding: dict[int, float] = {}
        for p in range(n):
            seeding[p] = 1.0 - _checked(judge(int(anchor), int(players[p])))
            calls += 1
        for p, value in seeding.items():
            score_sum[p] += value
            played[p] += 1
        order = sorted(range(n), key=lambda p: (-seeding[p], p))
    else:
        order = list(np.random.default_rng(seed).permutation(n))
    seed_of = {p: i for i, p in enumerate(order)}

    def average(p: int) -> float:
        return score_sum[p] / played[p] if played[p] else 0.0

    eliminated_round: dict[int, int] = {}
    alive = order
    round_no = 0
    while len(alive) > 1:
        advancing: list[int] = []
        half = len(alive) // 2
        for i in range(half):
            a, b = alive[i], alive[len(alive) - 1 - i]
            value = call(a, b)
            score_sum[a] += value
            score_sum[b] += 1.0 - value
            played[a] += 1
            played[b] += 1
            if value == 0.5:
                a_wins = (average(a), -seed_of[a]) >= (average(b), -seed_of[b])
            else:
                a_wins = value > 0.5
            winner, loser = (a, b) if a_wins else (b, a)
            eliminated_round[loser] = round_no
            advancing.append(winner)
        if len(alive) % 2:
            advancing.append(alive[half])
        alive = sorted(advancing, key=lambda p: seed_of[p])
        round_no += 1
    eliminated_round[alive[0]] = round_no
    final = sorted(range(n), key=lambda p: (-eliminated_round[p], -average(p), seed_of[p]))
    ranks = [0] * n
    for position, p in enumerate(final):
        ranks[p] = position + 1
    return TournamentResult(ranks=ranks, calls=calls)


def _checked(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"judge returned {value}; expected a value in [0, 1]")
    return value


def rank_rewards(ranks: Sequence[int]) -> np.ndarray:
    """Quantile rewards ``r = 1 − (rank − 1)/(N − 1)`` (a single player gets 1)."""
    ranks_arr = np.asarray(ranks, dtype=np.float64)
    n = len(ranks_arr)
    return np.ones(n) if n <= 1 else 1.0 - (ranks_arr - 1.0) / (n - 1.0)


def rank_advantages(
    ranks: Sequence[int], *, std: str = "unbiased", eps: float = 1e-6
) -> np.ndarray:
    """Group-normalized advantages of one group's ranks (``(N,)``; a group of one gets 0)."""
    rewards = rank_rewards(ranks)
    return normalize_dense(
        rewards, np.zeros(len(rewards), np.int64), 1, std=std, eps=eps, singleton="zero"
    )


@register("arena")
def arena(
    batch: StepBatch,
    *,
    judge: Judge,
    anchors: Mapping[int, int] | None = None,
    seed: int = 0,
    std: str = "unbiased",
    eps: float = 1e-6,
    return_calls: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """ArenaRL tournament advantage (Zhang et al. 2026, arXiv 2601.06487).

    Per group: rank the episodes with :func:`single_elimination`, map ranks to
    ``r = 1 − (rank−1)/(N−1)`` and z-normalize; broadcast to the episode's rows.

    Args:
        batch: ``N`` rows.
        judge: ``judge(a, b) -> [0, 1]`` over ``batch.episode`` ids (use ``batch.episodes``
            to reach the texts).
        anchors: optional ``{group value: episode id}`` of each group's greedy anchor rollout;
            the anchor seeds the bracket, is not ranked, and gets advantage 0.
        seed: seeds the bracket when a group has no anchor (the same seed for every group,
            offset by the group value).
        std, eps: normalization of the rank rewards.
        return_calls: also return the total number of judge calls.

    Returns:
        ``(N,)`` advantages (and the call count with ``return_calls=True``).
    """
    index = index_batch(batch, "arena")
    episode_ids = batch.episode[index.ep_first]
    group_values = batch.group[index.ep_first]
    adv = np.zeros(index.n_episodes)
    calls = 0
    order = np.lexsort((episode_ids, index.ep_group))
    bounds = np.flatnonzero(np.r_[True, np.diff(index.ep_group[order]) != 0, True])
    for lo, hi in itertools.pairwise(bounds):
        members = order[lo:hi]
        g = int(group_values[members[0]])
        anchor = None if anchors is None else anchors.get(g)
        if anchor is not None:
            if anchor not in set(episode_ids[members].tolist()):
                raise ValueError(f"arena: anchor episode {anchor} is not in group {g}")
            members = members[episode_ids[members] != anchor]
        if len(members) == 0:
            continue
        result = single_elimination(
            episode_ids[members].tolist(), judge, anchor=anchor, seed=seed + g
        )
        calls += result.calls
        adv[members] = rank_advantages(result.ranks, std=std, eps=eps)
    if return_calls:
        return adv[index.ep], calls
    return adv[index.ep]
