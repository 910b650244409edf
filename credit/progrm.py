"""ProgRM progress rewards from LCS key steps (Zhang et al., arXiv 2505.18121).

Self-annotation without environment milestones: the "recipe" of a task is the longest common
subsequence (LCS) of the action sequences of its successful episodes; an episode's progress
after turn ``t`` is the fraction of the recipe its first ``t+1`` actions contain in order
(LCS alignment), and the reward is the change of progress. The paper first clusters successful
trajectories (k-means on action embeddings) and trains a progress model on these labels; here
one recipe per task group is mined (the spec marks the details unverified), and the reward uses
the labels directly or, passed as ``progress=``, a progress model's predictions (the trainer
fits one on the labels: ``agentgym.trainers.credit_models.progrm``). Actions are compared by
``batch.action`` (the hash of the normalized action text).
"""

from __future__ import annotations

import numpy as np

from agentgym.core.trajectory import StepBatch
from agentgym.credit.common import EpisodeIndex, as_row_array, dense_ids, index_batch
from agentgym.credit.registry import register_transform


def lcs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One longest common subsequence of integer sequences ``a`` and ``b``.

    The DP row ``L[i, :]`` is computed with one vector operation per element of ``a``:
    ``L[i, j] = max_{k≤j} max(L[i−1, k], [a_i = b_k](L[i−1, k−1] + 1))``. Backtracking prefers a
    match, then moving up, so the result is deterministic.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    la, lb = len(a), len(b)
    if la == 0 or lb == 0:
        return np.zeros(0, dtype=np.int64)
    table = np.zeros((la + 1, lb + 1), dtype=np.int32)
    for i in range(1, la + 1):
        prev = table[i - 1]
        cand = np.maximum(prev[1:], np.where(b == a[i - 1], prev[:-1] + 1, 0))
        table[i, 1:] = np.maximum.accumulate(cand)
    out: list[int] = []
    i, j = la, lb
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            out.append(int(a[i - 1]))
            i -= 1
            j -= 1
        elif table[i - 1, j] >= table[i, j - 1]:
            i -= 1
        else:
            j -= 1
    return np.asarray(out[::-1], dtype=np.int64)


def recipes(
    batch: StepBatch, index: EpisodeIndex, success: np.ndarray
) -> dict[int, np.ndarray]:
    """``{dense group: recipe}``: the LCS of the group's successful action sequences.

    Successful episodes are folded in ascending episode order; groups without a success have
    no recipe.
    """
    actions_sorted = batch.action[index.order]
    starts = np.concatenate(([0], np.cumsum(index.ep_len)[:-1]))
    out: dict[int, np.ndarray] = {}
    for e in np.flatnonzero(success):
        seq = actions_sorted[starts[e] : starts[e] + index.ep_len[e]]
        g = int(index.ep_group[e])
        out[g] = seq.copy() if g not in out else lcs(out[g], seq)
    return out


def progress_labels(
    batch: StepBatch, *, success_threshold: float = 0.0
) -> np.ndarray:
    """``(N,)`` progress ``p_t ∈ [0, 1]`` after each turn (0 where the group has no recipe).

    ``p_t = LCS(actions_{0..t}, recipe) / |recipe|``; an episode is successful when its
    ``outcome > success_threshold``. All episodes advance together, one turn index per loop
    iteration, with a bit-parallel LCS (Hyyrö 2004) over 64-bit words of the recipe.
    """
    index = index_batch(batch, "progrm")
    success = index.ep_outcome > success_threshold
    recipe_of = {g: r for g, r in recipes(batch, index, success).items() if len(r)}
    progress = np.zeros(index.n_rows)
    if not recipe_of:
        return progress
    episodes = np.flatnonzero(np.isin(index.ep_group, np.fromiter(recipe_of, dtype=np.int64)))
    n_words = (max(len(r) for r in recipe_of.values()) + 63) // 64
    masks, row_mask = _match_masks(batch, index, recipe_of, n_words)
    length = np.array([len(recipe_of[int(index.ep_group[e])]) for e in episodes])
    full = _pack(np.arange(n_words * 64)[None, :] < length[:, None])
    row_of = np.full((index.n_episodes, int(index.ep_len.max())), -1, dtype=np.int64)
    row_of[index.ep, index.rank] = np.arange(index.n_rows)
    rows = row_of[episodes]
    # Bit-parallel LCS (Hyyrö 2004): V = 1^m; per action c: U = V & M_c, V = (V + U) | (V & ~M_c);
    # LCS(prefix, recipe) = number of zero bits of V. One step per turn index for all episodes.
    v = full.copy()
    for t in range(rows.shape[1]):
        live = np.flatnonzero(rows[:, t] >= 0)
        if len(live) == 0:
            break
        row = rows[live, t]
        m = masks[row_mask[row]]
        vl = v[live]
        u = vl & m
        total = np.empty_like(vl)
        carry = np.zeros(len(live), dtype=np.uint64)
        for w in range(n_words):
            s1 = vl[:, w] + u[:, w]
            s2 = s1 + carry
            carry = ((s1 < vl[:, w]) | (s2 < s1)).astype(np.uint64)
            total[:, w] = s2
        vl = (total | (vl & ~m)) & full[live]
        v[live] = vl
        matched = length[live] - np.bitwise_count(vl).sum(axis=1, dtype=np.int64)
        progress[row] = matched / length[live]
    return progress


def _pack(bits: np.ndarray) -> np.ndarray:
    """``(k, 64·W)`` bools → ``(k, W)`` uint64 words, bit ``i`` of word ``w`` = column 64w+i."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def _match_masks(
    batch: StepBatch, index: EpisodeIndex, recipe_of: dict[int, np.ndarray], n_words: int
) -> tuple[np.ndarray, np.ndarray]:
    """Match bitmasks ``M[(group, action)]`` over each recipe's positions, and for every row
    the index of its mask (the last, all-zero mask when its action is not in the recipe)."""
    table_group, table_action, table_bits = [], [], []
    for g, recipe in recipe_of.items():  # one iteration per task group
        actions = np.unique(recipe)
        bits = np.zeros((len(actions), n_words * 64), dtype=bool)
        bits[:, : len(recipe)] = recipe[None, :] == actions[:, None]
        table_group.append(np.full(len(actions), g, dtype=np.int64))
        table_action.append(actions)
        table_bits.append(bits)
    masks = np.vstack([_pack(np.vstack(table_bits)), np.zeros((1, n_words), np.uint64)])
    keys_group = np.concatenate([index.row_group, *table_group])
    keys_action = np.concatenate([batch.action, *table_action])
    ids, n_ids, _ = dense_ids(keys_group, keys_action)
    lookup = np.full(n_ids, len(masks) - 1, dtype=np.int64)
    lookup[ids[index.n_rows :]] = np.arange(len(masks) - 1)
    return masks, lookup[ids[: index.n_rows]]


@register_transform("progrm")
def progrm(
    batch: StepBatch, *, success_threshold: float = 0.0, progress: np.ndarray | None = None
) -> np.ndarray:
    """ProgRM progress reward ``r_t = p_t − p_{t−1}`` (``p_{−1} = 0``), shape ``(N,)``.

    Args:
        batch: ``N`` rows.
        success_threshold: an episode is successful when its ``outcome`` exceeds it.
        progress: ``(N,)`` progress ``p_t`` after each turn from a progress model (the paper's
            PRM, trained on the labels); None: the LCS labels themselves
            (:func:`progress_labels`; episodes of a group without successes get 0).
    """
    index = index_batch(batch, "progrm")
    if progress is None:
        progress = progress_labels(batch, success_threshold=success_threshold)
    else:
        progress = as_row_array(progress, index.n_rows, "progrm progress")
    previous = np.zeros(index.n_rows)
    nxt = index.next_row()
    has_next = nxt >= 0
    previous[nxt[has_next]] = progress[has_next]
    return progress - previous
