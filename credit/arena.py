"""ArenaRL: tournament-based group ranking (Zhang et al., arXiv 2601.06487).

A pairwise judge (an LLM with rubrics in the paper) compares episodes; a seeded bracket ranks
the ``N`` episodes of a group in ``N − 1`` matches (plus ``N`` seeding calls against an
anchor rollout when one is given), instead of ``N(N−1)/2`` for a round robin. Ranks become
quantile rewards, z-normalized in the group (GRPO). The procedure follows a third-party port
(marked unverified in the spec) checked against the official code (Alibaba-NLP/qqr
``reward_models/arena/``); a tie is split evenly (half a win each, shared rank), as in that
code's round robin, so identical episodes get equal advantages.

:func:`arena` is the registered estimator; :func:`arena_tournament` also returns the ranks and
the number of judge calls.
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
        ranks: rank of each player (1 = best), aligned with the ``players`` passed in; players
            the judge could not tell apart share their positions evenly (e.g. two tied for
            first both get 1.5).
        calls: number of judge calls made (seeding + bracket).
    """

    ranks: list[float]
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
    entry advances on a bye. ``judge(a, b) > 0.5`` means ``a`` wins, ``< 0.5`` that ``b`` wins.

    A tie (``judge(a, b) == 0.5``) is split evenly: the judge cannot tell the two apart, so
    both advance together as one entry (each gets half a win, 0.5, in its score), the better
    seed plays the later matches for both, and they end in the same round and share their rank
    positions. So identical episodes, which a consistent judge ties, get equal ranks; a judge
    that ties everything ranks the whole group equal. ArenaRL's code (Alibaba-NLP/qqr
    ``reward_models/arena/round_robin.py``) scores a tie as half a win for each side and gives
    equal win counts equal ranks; its single-elimination bracket instead advances the first of
    the pair on a tie, which ranks identical episodes apart, and is not followed here. (The
    spec's third-party reading, unverified against the paper, breaks a tie by the average judge
    score, which cannot separate players the judge cannot separate either.)

    Final order: entries knocked out in later rounds rank better; within a round, by their
    average judge score (over all members' matches, seeding included), then seed. An entry of
    ``k`` players at positions ``q+1 … q+k`` gives each of them rank ``q + (k + 1)/2``.

    Returns:
        A :class:`TournamentResult`; ``calls ≤ 2(N − 1)`` (``N − 1`` bracket matches plus
        ``N`` seeding calls with an anchor, else none).
    """
    n = len(players)
    if n == 0:
        raise ValueError("single_elimination: empty group")
    calls = 0
    score_sum = np.zeros(n)
    played = np.zeros(n)
    if anchor is not None:
        seeding = np.array([1.0 - _checked(judge(int(anchor), int(p))) for p in players])
        calls += n
        score_sum += seeding
        played += 1
        order = sorted(range(n), key=lambda p: (-seeding[p], p))
    else:
        order = [int(p) for p in np.random.default_rng(seed).permutation(n)]
    seed_of = {p: i for i, p in enumerate(order)}
    members = {p: [p] for p in order}  # entry (its best-seeded player) → the players it holds

    def average(entry: int) -> float:
        held = members[entry]
        count = played[held].sum()
        return float(score_sum[held].sum() / count) if count else 0.0

    knocked_out: dict[int, int] = {}  # entry → round it lost in
    alive = order
    round_no = 0
    while len(alive) > 1:
        advancing: list[int] = []
        half = len(alive) // 2
        for i in range(half):
            a, b = alive[i], alive[len(alive) - 1 - i]  # a is the better seed
            value = _checked(judge(int(players[a]), int(players[b])))
            calls += 1
            score_sum[members[a]] += value
            score_sum[members[b]] += 1.0 - value
            played[members[a]] += 1
            played[members[b]] += 1
            if value == 0.5:
                members[a].extend(members.pop(b))
                advancing.append(a)
            elif value > 0.5:
                knocked_out[b] = round_no
                advancing.append(a)
            else:
                knocked_out[a] = round_no
                advancing.append(b)
        if len(alive) % 2:
            advancing.append(alive[half])
        alive = sorted(advancing, key=lambda p: seed_of[p])
        round_no += 1
    knocked_out[alive[0]] = round_no
    final = sorted(knocked_out, key=lambda e: (-knocked_out[e], -average(e), seed_of[e]))
    ranks = [0.0] * n
    position = 0
    for entry in final:
        size = len(members[entry])
        for p in members[entry]:
            ranks[p] = position + (size + 1) / 2
        position += size
    return TournamentResult(ranks=ranks, calls=calls)


def _checked(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"judge returned {value}; expected a value in [0, 1]")
    return value


def rank_rewards(ranks: Sequence[float]) -> np.ndarray:
    """Quantile rewards ``r = 1 − (rank − 1)/(N − 1)`` (a single player gets 1)."""
    ranks_arr = np.asarray(ranks, dtype=np.float64)
    n = len(ranks_arr)
    return np.ones(n) if n <= 1 else 1.0 - (ranks_arr - 1.0) / (n - 1.0)


def rank_advantages(
    ranks: Sequence[float], *, std: str = "unbiased", eps: float = 1e-6
) -> np.ndarray:
    """Group-normalized advantages of one group's ranks (``(N,)``; a group of one gets 0)."""
    rewards = rank_rewards(ranks)
    return normalize_dense(
        rewards, np.zeros(len(rewards), np.int64), 1, std=std, eps=eps, singleton="zero"
    )


@dataclass(frozen=True)
class ArenaResult:
    """One :func:`arena_tournament` run over a batch.

    Attributes:
        advantages: ``(N,)`` float64 advantages (what the ``arena`` estimator returns).
        ranks: ``(N,)`` float64 tournament rank of each row's episode within its group (1 =
            best, shared ranks are averaged), NaN on the rows of an anchor episode.
        calls: total number of judge calls.
    """

    advantages: np.ndarray
    ranks: np.ndarray
    calls: int


def arena_tournament(
    batch: StepBatch,
    *,
    judge: Judge,
    anchors: Mapping[int, int] | None = None,
    seed: int = 0,
    std: str = "unbiased",
    eps: float = 1e-6,
) -> ArenaResult:
    """ArenaRL tournament advantage with its ranks and judge-call count (arXiv 2601.06487).

    Per group: rank the episodes with :func:`single_elimination` (ties split evenly), map ranks
    to ``r = 1 − (rank−1)/(N−1)`` and z-normalize; broadcast to the episode's rows. Episodes
    the judge ties throughout (identical ones) get equal advantages.

    Args:
        batch: ``N`` rows.
        judge: ``judge(a, b) -> [0, 1]`` over ``batch.episode`` ids (use ``batch.episodes``
            to reach the texts); 0.5 is a tie.
        anchors: optional ``{group value: episode id}`` of each group's greedy anchor rollout;
            the anchor seeds the bracket, is not ranked, and gets advantage 0.
        seed: seeds the bracket when a group has no anchor (the same seed for every group,
            offset by the group value).
        std, eps: normalization of the rank rewards.

    Returns:
        An :class:`ArenaResult`.
    """
    index = index_batch(batch, "arena")
    episode_ids = batch.episode[index.ep_first]
    group_values = batch.group[index.ep_first]
    adv = np.zeros(index.n_episodes)
    ranks = np.full(index.n_episodes, np.nan)
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
        ranks[members] = result.ranks
        adv[members] = rank_advantages(result.ranks, std=std, eps=eps)
    return ArenaResult(advantages=adv[index.ep], ranks=ranks[index.ep], calls=calls)


@register("arena")
def arena(
    batch: StepBatch,
    *,
    judge: Judge,
    anchors: Mapping[int, int] | None = None,
    seed: int = 0,
    std: str = "unbiased",
    eps: float = 1e-6,
) -> np.ndarray:
    """ArenaRL tournament advantage (Zhang et al. 2026, arXiv 2601.06487).

    The registered estimator: the ``advantages`` of :func:`arena_tournament` (same arguments,
    see there); use :func:`arena_tournament` for the ranks and the number of judge calls.

    Returns:
        ``(N,)`` float64 advantages.
    """
    return arena_tournament(
        batch, judge=judge, anchors=anchors, seed=seed, std=std, eps=eps
    ).advantages
