"""IGPO against the official implementation's advantage (debajoycs98/IGPO,
``verl/trainer/ppo/core_algos.py`` ``compute_grpo_outcome_advantage``).

Upstream multiplies the *raw* rewards by the curriculum weights (F1 weight on the final turn,
IG weight on the nonzero information-gain turns) and only then takes the group statistics. The
hand-computed case below is the one the audit in issue 12 found; the hypothesis test compares
:func:`agentgym.credit.igpo` with a plain re-statement of upstream's token-level algorithm (one
token per turn) on random batches, weights and both normalization modes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from batches import from_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import credit


def audit_batch():
    # Episode A: beliefs before its 3 turns P = [.1, .3, .6], outcome 1.
    # Episode B: beliefs before its 2 turns P = [.1, .1], outcome 0. One group.
    batch = from_rows(
        groups=[0, 0, 0, 0, 0], episodes=[0, 0, 0, 1, 1], ts=[0, 1, 2, 0, 1],
        rewards=[0.0] * 5, states=["s"] * 5, outcome={0: 1.0, 1: 0.0},
    )
    beliefs = np.log([0.1, 0.3, 0.6, 0.1, 0.1])
    return batch, beliefs


def test_audit_case_outcome_weight_half_by_hand():
    batch, beliefs = audit_batch()
    adv = credit.igpo(batch, beliefs=beliefs, outcome_weight=0.5)
    # Raw rewards: A: IG .2, .3, final 1 -> weighted .5; B: IG 0 (left out), final 0.
    # Pool [.2, .3, .5, 0]: mean .25, population var (.0025+.0025+.0625+.0625)/4 = .0325.
    sigma = math.sqrt(0.0325 + 1e-8) + 1e-6
    z = [(0.2 - 0.25) / sigma, (0.3 - 0.25) / sigma, (0.5 - 0.25) / sigma, (0 - 0.25) / sigma]
    expected = [z[0] + z[1] + z[2], z[1] + z[2], z[2], z[3], z[3]]
    np.testing.assert_allclose(adv, expected, atol=1e-9)
    np.testing.assert_allclose(adv, [1.387, 1.664, 1.387, -1.387, -1.387], atol=1e-3)


def test_audit_case_differs_from_weighting_after_normalization():
    # The old behaviour (z-score first, then weight) gives a different answer: A's final turn
    # would be 0.5 * z(1) in the unweighted pool [.2, .3, 1, 0].
    batch, beliefs = audit_batch()
    adv = credit.igpo(batch, beliefs=beliefs, outcome_weight=0.5)
    pool = np.array([0.2, 0.3, 1.0, 0.0])
    old_final = 0.5 * (1.0 - pool.mean()) / (math.sqrt(pool.var() + 1e-8) + 1e-6)
    assert abs(adv[2] - old_final) > 0.5


def test_unit_weights_unchanged():
    batch, beliefs = audit_batch()
    np.testing.assert_allclose(
        credit.igpo(batch, beliefs=beliefs),
        credit.igpo(batch, beliefs=beliefs, outcome_weight=1.0, ig_weight=1.0),
    )


def test_ig_weight_scales_before_statistics():
    batch, beliefs = audit_batch()
    adv = credit.igpo(batch, beliefs=beliefs, ig_weight=2.0)
    pool = np.array([0.4, 0.6, 1.0, 0.0])  # IG doubled, finals as they are
    z = (pool - pool.mean()) / (math.sqrt(pool.var() + 1e-8) + 1e-6)
    np.testing.assert_allclose(adv, [z[0] + z[1] + z[2], z[1] + z[2], z[2], z[3], z[3]],
                               atol=1e-9)


def upstream_advantage(episodes, f1_weight, ig_weight, joint, gamma, eps=1e-6):
    """Upstream's algorithm restated on per-episode reward rows (one token per turn).

    ``episodes``: list of ``(group, rewards)`` with the final turn's reward last.
    """
    rows = [np.asarray(r, dtype=np.float64) for _, r in episodes]
    groups = [g for g, _ in episodes]
    f1_mask = [np.arange(len(r)) == len(r) - 1 for r in rows]
    ig_mask = [(~f) & (r != 0) for r, f in zip(rows, f1_mask, strict=True)]
    weighted = [np.where(f, r * f1_weight, np.where(m, r * ig_weight, r))
                for r, f, m in zip(rows, f1_mask, ig_mask, strict=True)]

    def stats(masks):
        out = {}
        for g in set(groups):
            vals = [w[m] for w, m, gg in zip(weighted, masks, groups, strict=True) if gg == g]
            vals = np.concatenate(vals) if vals else np.zeros(0)
            if len(vals) == 0:
                out[g] = (0.0, 1.0)
                continue
            mean = vals.mean()
            std = math.sqrt(((vals - mean) ** 2).mean() + 1e-8)
            out[g] = (mean, 1.0 if len(vals) <= 1 else std)
        return out

    normalized = [np.zeros(len(r)) for r in rows]
    if joint:
        masks = [f | m for f, m in zip(f1_mask, ig_mask, strict=True)]
        passes = [(masks, stats(masks))]
    else:
        passes = [(f1_mask, stats(f1_mask)), (ig_mask, stats(ig_mask))]
    for masks, st_ in passes:
        for k, (w, m) in enumerate(zip(weighted, masks, strict=True)):
            mean, std = st_[groups[k]]
            normalized[k] = np.where(m, (w - mean) / (std + eps), normalized[k])
    out = []
    for n in normalized:
        ret, acc = np.zeros(len(n)), 0.0
        for t in range(len(n) - 1, -1, -1):
            acc = n[t] + gamma * acc
            ret[t] = acc
        out.append(ret)
    return out


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    f1_weight=st.sampled_from([0.5, 1.0, 0.25, 2.0]),
    ig_weight=st.sampled_from([1.0, 0.5, 0.1, 3.0]),
    joint=st.booleans(),
    gamma=st.sampled_from([1.0, 0.9]),
)
def test_matches_upstream_on_random_batches(data, f1_weight, ig_weight, joint, gamma):
    n_groups = data.draw(st.integers(1, 3))
    probs = st.sampled_from([0.05, 0.1, 0.2, 0.2, 0.5, 0.9])
    groups, episodes, ts, beliefs, outcomes = [], [], [], [], {}
    for g in range(n_groups):
        for _ in range(data.draw(st.integers(1, 4))):
            e = len(outcomes)
            length = data.draw(st.integers(1, 5))
            outcomes[e] = data.draw(st.sampled_from([0.0, 1.0, 0.5, -2.0]))
            for t in range(length):
                groups.append(g)
                episodes.append(e)
                ts.append(t)
                beliefs.append(math.log(data.draw(probs)))
    batch = from_rows(groups, episodes, ts, [0.0] * len(ts), ["s"] * len(ts), outcome=outcomes)
    adv = credit.igpo(batch, beliefs=np.array(beliefs), ig_weight=ig_weight,
                      outcome_weight=f1_weight, gamma=gamma,
                      normalization="joint" if joint else "separate")

    # Upstream input: per episode, IG rewards then the final reward.
    beliefs_arr, ep_arr = np.exp(beliefs), np.asarray(episodes)
    up_input = []
    for e, outcome in outcomes.items():
        p = beliefs_arr[ep_arr == e]
        rewards = [*(p[1:] - p[:-1]), outcome]
        up_input.append((groups[int(np.flatnonzero(ep_arr == e)[0])], rewards))
    expected = np.concatenate(upstream_advantage(up_input, f1_weight, ig_weight, joint, gamma))
    np.testing.assert_allclose(adv, expected, atol=1e-8)


@pytest.mark.parametrize("normalization", ["joint", "separate"])
def test_zero_ig_weight_keeps_pool_membership(normalization):
    # Upstream decides pool membership on the unweighted reward: a weight of 0 keeps the IG turns
    # in the statistics (as zeros) rather than dropping them.
    batch, beliefs = audit_batch()
    adv = credit.igpo(batch, beliefs=beliefs, ig_weight=0.0, normalization=normalization)
    f1_w = 1.0
    up = upstream_advantage([(0, [0.2, 0.3, 1.0]), (0, [0.0, 0.0])], f1_w, 0.0,
                            normalization == "joint", 1.0)
    np.testing.assert_allclose(adv, np.concatenate(up), atol=1e-9)
