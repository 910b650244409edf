"""The hand-computed oracles T1–T13 of the credit spec (section 12), tolerance 1e-4."""

from __future__ import annotations

import math

import numpy as np
import pytest
from batches import episodes_from_lists, from_rows

from agentgym import credit
from agentgym.core.trajectory import StepBatch
from agentgym.credit.arena import rank_rewards
from agentgym.credit.gigpo import anchor_groups

TOL = 1e-4


def t1_batch(shuffle: bool = False) -> StepBatch:
    # τ1: (s0,a)→(s1,b)→success r=[0,1]; τ2: (s0,c)→(s3,d) r=[0,0]; τ3: (s0,a)→(s1,e) r=[0,0]
    rows = [
        (0, 0, "s0", "a", 0.0), (0, 1, "s1", "b", 1.0),
        (1, 0, "s0", "c", 0.0), (1, 1, "s3", "d", 0.0),
        (2, 0, "s0", "a", 0.0), (2, 1, "s1", "e", 0.0),
    ]
    if shuffle:
        rows = [rows[i] for i in (5, 2, 0, 3, 1, 4)]
    ep, t, s, a, r = zip(*rows, strict=True)
    return from_rows([0] * 6, ep, t, r, s, a, outcome={0: 1.0, 1: 0.0, 2: 0.0})


def by_episode(batch: StepBatch, values: np.ndarray) -> list[list[float]]:
    return batch.per_episode(values)


def flat(nested: list[list[float]]) -> list[float]:
    return [x for inner in nested for x in inner]


@pytest.mark.parametrize("shuffle", [False, True])
def test_t1_gigpo_mean_norm(shuffle):
    batch = t1_batch(shuffle)
    parts = credit.gigpo_parts(batch, gamma=0.5, norm="mean")
    adv, a_e, a_s = parts.advantages, parts.episode, parts.step
    np.testing.assert_array_equal(adv, credit.gigpo(batch, gamma=0.5, norm="mean"))
    assert by_episode(batch, parts.returns) == [[0.5, 1.0], [0.0, 0.0], [0.0, 0.0]]
    np.testing.assert_allclose(by_episode(batch, adv),
                               [[1.0, 1.1667], [-0.5, -0.3333], [-0.5, -0.8333]], atol=TOL)
    np.testing.assert_allclose(by_episode(batch, a_s),
                               [[0.3333, 0.5], [-0.1667, 0.0], [-0.1667, -0.5]], atol=TOL)
    np.testing.assert_allclose([e[0] for e in by_episode(batch, a_e)],
                               [0.6667, -0.3333, -0.3333], atol=TOL)


def test_t1_gigpo_mean_std_norm():
    batch = t1_batch()
    adv = credit.gigpo(batch, gamma=0.5, norm="mean_std_norm")
    np.testing.assert_allclose(by_episode(batch, adv),
                               [[2.3094, 1.8618], [-1.1547, -0.5774], [-1.1547, -1.2845]],
                               atol=TOL)


def test_t1_discounted_returns():
    batch = t1_batch(shuffle=True)
    ret = credit.discounted_returns(batch.reward, batch.episode, batch.t, 0.5)
    assert by_episode(batch, ret) == [[0.5, 1.0], [0.0, 0.0], [0.0, 0.0]]


def test_t2_gigpo_cross_steps_weighting():
    # τA succeeds in one step (score 1); τB fails in three steps (score 0); distinct states.
    batch = from_rows([0] * 4, [0, 1, 1, 1], [0, 0, 1, 2], [1, 0, 0, 0], ["a", "b", "c", "d"])
    a_e = credit.gigpo_parts(batch, gamma=1.0).episode
    np.testing.assert_allclose(flat(by_episode(batch, a_e)), [0.5] + [-0.5] * 3, atol=TOL)
    a_e = credit.gigpo_parts(batch, gamma=1.0, episode_stats="rows").episode
    np.testing.assert_allclose(flat(by_episode(batch, a_e)), [0.75] + [-0.25] * 3, atol=TOL)
    a_e = credit.gigpo_parts(batch, gamma=1.0, preset="verl-agent").episode
    np.testing.assert_allclose(flat(by_episode(batch, a_e)), [0.75] + [-0.25] * 3, atol=TOL)


def test_t3_gigpo_similarity_grouping():
    texts = ["You are in the kitchen.", "You are in the kitchen!"]
    batch = from_rows([0, 0], [0, 1], [0, 0], [1.0, 0.0], texts)
    exact, n_exact = anchor_groups(batch)
    assert n_exact == 2 and exact[0] != exact[1]
    similar, n_similar = anchor_groups(batch, similarity=0.95)
    assert n_similar == 1 and similar[0] == similar[1]
    # Greedy against the first member: "b" is similar to "a" and "c" to "b" but not to "a".
    a = "x" * 40
    b = "x" * 40 + "y" * 3  # ratio to a: 80/83 ≥ 0.95
    c = "x" * 40 + "y" * 6  # ratio to a: 80/86 < 0.95; to b: 86/89 ≥ 0.95
    batch = from_rows([0] * 3, [0, 1, 2], [0] * 3, [0.0] * 3, [a, b, c])
    ids, n_ids = anchor_groups(batch, similarity=0.95)
    assert n_ids == 2 and ids[0] == ids[1] != ids[2]
    # The step advantages: the two kitchen steps now share one anchor group.
    batch = from_rows([0, 0], [0, 1], [0, 0], [1.0, 0.0], texts)
    a_s = credit.gigpo_parts(batch, gamma=1.0, similarity=0.95).step
    np.testing.assert_allclose(a_s, [0.5, -0.5])
    a_s = credit.gigpo_parts(batch, gamma=1.0).step
    np.testing.assert_allclose(a_s, [0.0, 0.0])


def test_t4_salt():
    batch = t1_batch(shuffle=True)
    adv = credit.salt(batch, base="drgrpo")
    np.testing.assert_allclose(by_episode(batch, adv),
                               [[0.1667, 0.6667], [-0.3333, -0.3333], [0.1667, -0.3333]],
                               atol=TOL)
    counts = credit.salt_counts(batch)
    assert counts.dtype == np.int64
    assert by_episode(batch, counts) == [[2, 1], [1, 1], [2, 1]]


def t5_batch() -> tuple[StepBatch, np.ndarray]:
    batch = from_rows([0] * 6, [0, 0, 0, 1, 1, 1], [0, 1, 2] * 2, [0.0] * 6, list("abcdef"),
                      outcome={0: 1.0, 1: 0.0})
    beliefs = np.log([0.1, 0.3, 0.6, 0.1, 0.05, 0.15])
    return batch, beliefs


def test_t5_igpo_joint():
    batch, beliefs = t5_batch()
    rewards = credit.igpo_rewards(batch, beliefs=beliefs)
    np.testing.assert_allclose(rewards, [0.2, 0.3, 1.0, -0.05, 0.1, 0.0], atol=1e-12)
    adv = credit.igpo(batch, beliefs=beliefs)
    np.testing.assert_allclose(by_episode(batch, adv),
                               [[2.06151, 2.22738, 2.10890], [-2.06151, -1.18478, -0.73456]],
                               atol=TOL)


def test_t5_igpo_belief_callable_matches_array():
    batch, beliefs = t5_batch()
    table = {(0, -1): beliefs[0], (0, 0): beliefs[1], (0, 1): beliefs[2],
             (1, -1): beliefs[3], (1, 0): beliefs[4], (1, 1): beliefs[5]}
    calls = []

    def belief(episode, t):
        calls.append((episode, t))
        return table[(episode, t)]

    np.testing.assert_allclose(credit.igpo(batch, beliefs=belief),
                               credit.igpo(batch, beliefs=beliefs), atol=1e-12)
    assert sorted(calls) == sorted(table)


def test_t5_igpo_edges():
    batch, beliefs = t5_batch()
    # An IG of exactly 0.0 is excluded from the statistics: with B's first gain made 0, the
    # pool loses that value and the turn itself gets a normalized reward of 0.
    flat = beliefs.copy()
    flat[4] = flat[3]
    rewards = credit.igpo_rewards(batch, beliefs=flat)
    assert rewards[3] == 0.0
    pool = np.array([0.2, 0.3, 1.0, rewards[4], 0.0])
    mu, sigma = pool.mean(), math.sqrt(pool.var() + 1e-8)
    adv = credit.igpo(batch, beliefs=flat)
    expected_b0 = 0.0 + (rewards[4] - mu) / (sigma + 1e-6) + (0.0 - mu) / (sigma + 1e-6)
    assert adv[3] == pytest.approx(expected_b0, abs=1e-9)
    # Format failure gives r_T = −2.
    assert credit.answer_f1("no tags here", "Paris") == -2.0
    assert credit.answer_f1("<answer>Paris</answer", "Paris") == -2.0
    assert credit.answer_f1("<answer> paris! </answer>", "Paris") == 1.0
    assert credit.answer_f1("<answer>Paris France</answer>", "Paris") == pytest.approx(2 / 3)
    # log_prob_diff of P: 0.1 → 0.3 gives ln 3.
    log_gain = credit.information_gain(batch, beliefs, mode="log_prob_diff")
    assert log_gain[0] == pytest.approx(math.log(3), abs=1e-12)
    assert log_gain[2] == 0.0  # the final turn carries no IG


def test_t6_oprl():
    batch = from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4, list("abcd"),
                      outcome={0: 1.0, 1: 0.0})
    step = np.array([0.2, 0.4, -0.1, -0.3])
    adv = credit.oprl(batch, step_rewards=step)
    np.testing.assert_allclose(adv, [1.1896, 1.8328, -1.1896, -1.8328], atol=TOL)
    np.testing.assert_allclose(credit.oprl(batch, log_ratio=step / 0.05, beta=0.05), adv)
    ratio = credit.turn_log_ratio([[-1.0, -2.0], [-0.5]], [[-1.5, -2.0], [-0.25]])
    np.testing.assert_allclose(ratio, [0.5, -0.25])


@pytest.mark.parametrize(("level", "expected", "total"), [
    (1.0, [0.1, 0.1, 1.2], 1.4),   # fail ≥ δ: the step rewards count
    (0.0, [0.0, 0.0, 0.0], 0.0),   # empty < δ: nothing counts
    (2.0, [0.1, 0.1, 2.2], 2.4),
    (-1.0, [0.0, 0.0, -1.0], -1.0),
])
def test_t7_gated(level, expected, total):
    batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], [0.1, 0.1, 0.2], list("abc"),
                      outcome={0: level}, parts={"step": [0.1, 0.1, 0.2]})
    out = credit.gated(batch, threshold=1.0)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert out.sum() == pytest.approx(total)


def test_t7_d_ra_is_hackable_and_chains():
    batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], [0.1, 0.1, 0.2], list("abc"),
                      outcome={0: 0.0}, parts={"step": [0.1, 0.1, 0.2]})
    assert credit.gated(batch, threshold=1.0, gate=False).sum() == pytest.approx(0.4)
    # Priority chain: outcome ≥ 1 gates "format", which (≥ 0.5 over the episode) gates "tool".
    parts = {"format": [0.2, 0.2, 0.2], "tool": [1.0, 0.0, 1.0]}
    for outcome, expected in [(1.0, 0.6 + 2.0 + 1.0), (0.0, 0.0)]:
        batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], [0.0] * 3, list("abc"),
                          outcome={0: outcome}, parts=parts)
        out = credit.gated(batch, gates=[(None, 1.0), ("format", 0.5)])
        assert out.sum() == pytest.approx(expected)
    batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], [0.0] * 3, list("abc"), outcome={0: 1.0},
                      parts={"format": [0.1, 0.1, 0.1], "tool": [1.0, 0.0, 1.0]})
    out = credit.gated(batch, gates=[(None, 1.0), ("format", 0.5)])
    np.testing.assert_allclose(out, [0.1, 0.1, 1.1])  # format counts, tool is gated off
    out = credit.gated(batch, gates=[(None, 1.0)], strict=True)
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0])  # 1 > 1 fails


def test_t8_spa():
    batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], [0.0] * 3, list("abc"), outcome={0: 1.0})
    c = np.array([0.1, 0.5, 0.3])
    assert credit.spa_loss(c, batch.episode, batch.outcome) == pytest.approx(0.01)
    nxt = ["You pick up the key.", "Nothing happens.", "You open the door."]
    rewards = credit.spa(batch, contributions=c, next_observation=nxt)
    np.testing.assert_allclose(rewards, [0.6, 0.5, 0.8], atol=1e-12)
    quirk = credit.spa(batch, contributions=c, next_observation=nxt, steptool_weighting=True)
    np.testing.assert_allclose(quirk, [1.2, 0.5, 0.0], atol=1e-12)
    # The same from source episodes: turn t's next observation is turn t+1's observation.
    episodes = episodes_from_lists(
        [[("start", "take key", 0.0), ("You pick up the key.", "push wall", 0.0),
          ("Nothing happens.", "open door", 1.0)]], [1.0])
    batch = StepBatch.from_episodes(episodes)
    np.testing.assert_allclose(credit.spa(batch, contributions=c), [0.6, 0.5, 0.8], atol=1e-12)


def test_t9_hiper_and_turn_gae():
    a_low, a_high = credit.hiper_advantages(
        rewards=[0.0, 0.0, 1.0], v_low=[0.2, 0.5, 0.7], v_high=[0.3, 0.0, 0.6],
        switch=[True, False, True], gamma=1.0, lam_turn=1.0, lam_seg=0.95,
    )
    np.testing.assert_allclose(a_low, [0.4, 0.1, 0.3], atol=1e-12)
    np.testing.assert_allclose(a_high[[0, 2]], [0.68, 0.4], atol=1e-12)
    assert np.isnan(a_high[1])
    # Turn-level GAE inside the last segment, and across two back-to-back episodes.
    adv, ret = credit.turn_gae([0.0, 1.0], [0.5, 0.7], [False, True], gamma=1.0, lam=1.0)
    np.testing.assert_allclose(adv, [0.5, 0.3])
    np.testing.assert_allclose(ret, [1.0, 1.0])
    adv, _ = credit.turn_gae([1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [True, False, False],
                             gamma=0.9, lam=0.5, last_value=3.0)
    d2 = 2.0 + 0.9 * 3.0 - 1.0
    d1 = 0.0 + 0.9 * 1.0 - 1.0
    np.testing.assert_allclose(adv, [1.0, d1 + 0.45 * d2, d2])


def test_t10_baselines():
    batch = from_rows([0] * 4, [0, 1, 2, 3], [0] * 4, [0.0] * 4, list("abcd"),
                      outcome={0: 1.0, 1: 0.0, 2: 0.0, 3: 1.0})
    np.testing.assert_allclose(credit.grpo(batch), [0.8660, -0.8660, -0.8660, 0.8660], atol=TOL)
    np.testing.assert_allclose(credit.drgrpo(batch), [0.5, -0.5, -0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(credit.grpo(batch, norm="mean"), credit.drgrpo(batch))
    np.testing.assert_allclose(credit.rloo(batch), [2 / 3, -2 / 3, -2 / 3, 2 / 3], atol=1e-12)


def test_t11_mc_grpo():
    batch = from_rows([0] * 3, [0, 1, 2], [0] * 3, [0.0] * 3, list("abc"),
                      outcome={0: 1.0, 1: 0.0, 2: 0.0})
    np.testing.assert_allclose(credit.mc_grpo(batch), [1.0, 0.0, 0.0])
    keep = credit.mc_grpo_pivot_mask(batch)
    assert keep.dtype == bool and keep.sum() == 2 and keep[0] and not keep[1:].all()
    code = credit.mc_grpo(batch, preset="code")
    np.testing.assert_allclose(code, [3000.0, 0.0, 0.0])


def test_t12_gdpo():
    c = [1.0, 1.0, 0.0, 0.0]
    f = [0.0, 1.0, 1.0, 1.0]
    batch = from_rows([0] * 4, [0, 1, 2, 3], [0] * 4, [0.0] * 4, list("abcd"),
                      outcome={e: c[e] + f[e] for e in range(4)},
                      parts={"correct": c, "format": f})
    np.testing.assert_allclose(credit.grpo(batch), [-0.5, 1.5, -0.5, -0.5], atol=TOL)
    np.testing.assert_allclose(credit.gdpo(batch), [-0.6896, 1.4858, -0.3981, -0.3981],
                               atol=TOL)


def test_t13_arena_rank_to_advantage_and_calls():
    np.testing.assert_allclose(rank_rewards([1, 2, 3, 4]), [1, 2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(credit.rank_advantages([1, 2, 3, 4]),
                               [1.1619, 0.3873, -0.3873, -1.1619], atol=TOL)
    quality = {10: 0.9, 11: 0.1, 12: 0.5, 13: 0.7, 14: 0.3, 15: 0.2}  # 15 is the anchor

    def judge(a, b):
        return 1.0 if quality[a] > quality[b] else 0.0 if quality[a] < quality[b] else 0.5

    batch = from_rows([0] * 6, [10, 11, 12, 13, 14, 15], [0] * 6, [0.0] * 6, list("abcdef"))
    result = credit.arena_tournament(batch, judge=judge, anchors={0: 15})
    adv = result.advantages
    np.testing.assert_array_equal(adv, credit.get("arena")(batch, judge=judge, anchors={0: 15}))
    n = 6  # the group holds the anchor and five ranked episodes
    assert result.calls <= 2 * (n - 1)
    assert adv[5] == 0.0 and np.isnan(result.ranks[5])  # the anchor is not ranked
    assert adv[0] == adv.max() > 0  # the best episode wins the tournament
    np.testing.assert_array_equal(result.ranks[:5], [1, 5, 2, 3, 4])
    result = credit.single_elimination([10, 11, 12, 13, 14], judge, anchor=15)
    # Seeds 10, 12, 13, 14, 11 (11 lost to the anchor); 13 gets a bye, then loses to 10 while
    # 12 gets the second-round bye and reaches the final: single elimination is not a sort.
    assert result.ranks == [1, 5, 2, 3, 4] and result.calls == 9
    # Without an anchor the bracket is seeded from `seed`: N − 1 matches, the best wins.
    result = credit.single_elimination([10, 11, 12, 13, 14], judge, seed=3)
    assert result.calls == 4 and result.ranks[0] == 1
