"""HiPER: the registered estimator, the termination advantage, split truncation bootstraps,
hand-computed cases, the per-episode loop reference to 1e-9 and hypothesis invariants."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from batches import from_rows, permuted, random_batch
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import credit
from agentgym.core.trajectory import StepBatch

ATOL = 1e-9

# The spec's oracle T9: turns 0..2, switch [T, F, T], r = [0, 0, 1], γ = 1, λ_turn = 1,
# λ_seg = 0.95, V_low = [0.2, 0.5, 0.7], V_high(0) = 0.3, V_high(2) = 0.6.
T9 = {"rewards": [0.0, 0.0, 1.0], "v_low": [0.2, 0.5, 0.7], "v_high": [0.3, 0.0, 0.6],
      "switch": [True, False, True]}


def t9_batch(terminated: bool = True) -> StepBatch:
    batch = from_rows([0] * 3, [0] * 3, [0, 1, 2], T9["rewards"], list("abc"))
    batch.terminated = np.array([False, False, terminated])
    return batch


def test_t9_truncated_bootstraps_each_level_as_upstream():
    # Not terminated: the low level bootstraps from the last turn's own V_low (0.7), the high
    # level from V_high of the last segment's start (0.6).
    # Low: A_2 = 1 + 0.7 − 0.7 = 1.0; A_1 = 0 + 0.6 − 0.5 = 0.1; A_0 = 0.3 + 0.1 = 0.4.
    # High: seg 2: 1 + 0.6 − 0.6 = 1.0; seg 1: (0 + 0.6 − 0.3) + 0.95·1.0 = 1.25.
    a_low, a_high = credit.hiper_advantages(**T9, terminated=False)
    np.testing.assert_allclose(a_low, [0.4, 0.1, 1.0], atol=1e-12)
    np.testing.assert_allclose(a_high[[0, 2]], [1.25, 1.0], atol=1e-12)
    # Explicit bootstraps override each level separately.
    a_low, a_high = credit.hiper_advantages(**T9, terminated=False, bootstrap_low=0.2,
                                            bootstrap_high=0.0)
    np.testing.assert_allclose(a_low, [0.4, 0.1, 0.5], atol=1e-12)  # 1 + 0.2 − 0.7
    np.testing.assert_allclose(a_high[[0, 2]], [0.3 + 0.95 * 0.4, 0.4], atol=1e-12)
    # The batch estimator reads truncation from `terminated` of the episode's last row.
    for terminated, low, high in [(True, [0.4, 0.1, 0.3], [0.68, 0.4]),
                                  (False, [0.4, 0.1, 1.0], [1.25, 1.0])]:
        parts = credit.hiper_parts(t9_batch(terminated), v_low=T9["v_low"], v_high=T9["v_high"],
                                   switch=T9["switch"], norm_adv=False)
        np.testing.assert_allclose(parts.low, low, atol=1e-12)
        np.testing.assert_allclose(parts.high[[0, 2]], high, atol=1e-12)
        assert np.isnan(parts.high[1])
    # bootstrap_truncated=False treats a truncated episode as terminated (bootstrap 0).
    parts = credit.hiper_parts(t9_batch(False), v_low=T9["v_low"], v_high=T9["v_high"],
                               switch=T9["switch"], norm_adv=False, bootstrap_truncated=False)
    np.testing.assert_allclose(parts.low, [0.4, 0.1, 0.3], atol=1e-12)


def test_t9_termination_advantage():
    # G_t: rewards to the segment's end, bootstrapped on V_high of the next segment's start.
    # Segment 1 (turns 0, 1) → V_high(2) = 0.6: G_1 = 0.6, G_0 = 0.6. Segment 2 (turn 2):
    # terminated → G_2 = 1; truncated → G_2 = 1 + V_high(2) = 1.6. V_term = [0.1, 0.2, 0.3].
    for terminated, g_last in [(True, 1.0), (False, 1.6)]:
        parts = credit.hiper_parts(t9_batch(terminated), v_low=T9["v_low"], v_high=T9["v_high"],
                                   switch=T9["switch"], v_term=[0.1, 0.2, 0.3], norm_adv=False)
        np.testing.assert_allclose(parts.returns_term, [0.6, 0.6, g_last], atol=1e-12)
        np.testing.assert_allclose(parts.term, [0.5, 0.4, g_last - 0.3], atol=1e-12)
    parts = credit.hiper_parts(t9_batch(), v_low=T9["v_low"], v_high=T9["v_high"],
                               switch=T9["switch"])
    assert parts.term is None and parts.returns_term is None


def test_discounted_two_segments():
    # γ = 0.9, λ_turn = 0.5, λ_seg = 0.8; switch [T, F, F, T]; r = [0, 1, 0, 2];
    # V_low = [1, 2, 3, 4]; V_high(0) = 0.5, V_high(3) = 1.5; terminated.
    batch = from_rows([0] * 4, [0] * 4, [0, 1, 2, 3], [0.0, 1.0, 0.0, 2.0], list("abcd"))
    batch.terminated = np.array([False, False, False, True])
    v_high = [0.5, np.nan, np.nan, 1.5]
    parts = credit.hiper_parts(batch, v_low=[1.0, 2.0, 3.0, 4.0], v_high=v_high,
                               switch=[True, False, False, True], v_term=[0.0] * 4,
                               gamma=0.9, lam_turn=0.5, lam_seg=0.8, norm_adv=False)
    # Low: δ_3 = 2 − 4 = −2; δ_2 = 0.9·1.5 − 3 = −1.65; δ_1 = 1 + 0.9·3 − 2 = 1.7;
    # δ_0 = 0.9·2 − 1 = 0.8. A_2 = −1.65, A_1 = 1.7 + 0.45·(−1.65) = 0.9575,
    # A_0 = 0.8 + 0.45·0.9575 = 1.230875; A_3 = −2 (its own segment).
    np.testing.assert_allclose(parts.low, [1.230875, 0.9575, -1.65, -2.0], atol=1e-12)
    # High: R_1 = 0.9·1 = 0.9, d = 3: δ = 0.9 + 0.729·1.5 − 0.5 = 1.4935; R_2 = 2: δ = 0.5.
    # A_seg2 = 0.5; A_seg1 = 1.4935 + 0.729·0.8·0.5 = 1.7851.
    np.testing.assert_allclose(parts.high[[0, 3]], [1.7851, 0.5], atol=1e-12)
    np.testing.assert_allclose(parts.returns_high[[0, 3]], [2.2851, 2.0], atol=1e-12)
    # Termination: G_2 = 0.9·1.5 = 1.35, G_1 = 1 + 0.9·1.35 = 2.215, G_0 = 1.9935, G_3 = 2.
    np.testing.assert_allclose(parts.term, [1.9935, 2.215, 1.35, 2.0], atol=1e-12)
    np.testing.assert_allclose(parts.returns_low, parts.low + np.array([1.0, 2.0, 3.0, 4.0]),
                               atol=1e-12)
    np.testing.assert_array_equal(parts.segment_start, [True, False, False, True])


def test_norm_adv_z_scores_each_level_batch_wide():
    args = {"v_low": T9["v_low"], "v_high": T9["v_high"], "switch": T9["switch"]}
    # A_low = [0.4, 0.1, 0.3]: μ = 0.26667, population σ = 0.124722 →
    # [1.069045, −1.336306, 0.267261].
    adv = credit.hiper(t9_batch(), **args)
    np.testing.assert_allclose(adv, [1.069045, -1.336306, 0.267261], atol=1e-6)
    # A_high on the two segment starts [0.68, 0.4]: μ = 0.54, σ = 0.14 → ±1.
    parts = credit.hiper_parts(t9_batch(), **args)
    np.testing.assert_allclose(parts.high[[0, 2]], [1.0, -1.0], atol=1e-6)
    np.testing.assert_array_equal(parts.low, adv)
    np.testing.assert_allclose(parts.returns_low, [0.6, 0.6, 1.0], atol=1e-12)  # unnormalized


def test_hiper_through_the_registry_and_errors():
    batch = t9_batch()
    args = {"v_low": T9["v_low"], "v_high": T9["v_high"], "switch": T9["switch"]}
    np.testing.assert_array_equal(credit.compute_advantages(batch, "hiper", algo_kwargs=args),
                                  credit.hiper(batch, **args))
    with pytest.raises(ValueError, match="pass v_low=, v_high= and switch="):
        credit.hiper(batch)
    with pytest.raises(ValueError, match=r"hiper v_low has shape \(2,\)"):
        credit.hiper(batch, **dict(args, v_low=[0.0, 1.0]))
    with pytest.raises(ValueError, match="hiper v_low is not finite at row 1"):
        credit.hiper(batch, **dict(args, v_low=[0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="v_high is not finite at row 2, a segment start"):
        credit.hiper(batch, **dict(args, v_high=[0.3, np.nan, np.inf]))
    with pytest.raises(ValueError, match=r"hiper switch has shape \(1,\)"):
        credit.hiper(batch, **dict(args, switch=[True]))
    with pytest.raises(ValueError, match="hiper v_term is not finite"):
        credit.hiper_parts(batch, **args, v_term=[0.0, np.inf, 0.0])


# --- reference equivalence -------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch():
    b = random_batch(seed=31, n_rows=10_000)
    rng = np.random.default_rng(32)
    b.terminated = b.done & (rng.random(len(b)) < 0.6)  # 40% of the episodes are truncated
    return b


def critic(batch: StepBatch, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(batch)
    switch = rng.random(n) < 0.3
    v_high = rng.normal(size=n)
    v_high[~switch & (batch.t > 0)] = np.nan  # read at segment starts only
    return {"v_low": rng.normal(size=n), "v_high": v_high, "switch": switch,
            "v_term": rng.normal(size=n)}


@pytest.mark.parametrize(("gamma", "lam_turn", "lam_seg", "bootstrap", "norm"), [
    (1.0, 1.0, 0.95, True, False), (0.9, 0.5, 0.8, True, True), (0.95, 0.9, 0.95, False, False),
    (0.99, 1.0, 0.5, False, True),
])
def test_hiper_matches_reference(batch, gamma, lam_turn, lam_seg, bootstrap, norm):
    values = critic(batch, 33)
    fast = credit.hiper_parts(batch, **values, gamma=gamma, lam_turn=lam_turn, lam_seg=lam_seg,
                              bootstrap_truncated=bootstrap, norm_adv=norm)
    slow = ref.hiper(batch, **values, gamma=gamma, lam_turn=lam_turn, lam_seg=lam_seg,
                     bootstrap_truncated=bootstrap, norm_adv=norm)
    starts = fast.segment_start
    assert starts.sum() > len(np.unique(batch.episode))  # several segments per episode
    assert [v is not None for v in slow["high"]] == starts.tolist()
    for name in ("low", "term", "returns_low", "returns_term"):
        np.testing.assert_allclose(getattr(fast, name), slow[name], rtol=0, atol=ATOL,
                                   err_msg=name)
    for name in ("high", "returns_high"):
        got = getattr(fast, name)
        assert np.all(np.isnan(got[~starts]))
        expected = np.array([v for v in slow[name] if v is not None])
        np.testing.assert_allclose(got[starts], expected, rtol=0, atol=ATOL, err_msg=name)


def test_hiper_advantages_is_the_one_episode_case(batch):
    values = critic(batch, 34)
    parts = credit.hiper_parts(batch, **values, gamma=0.9, lam_seg=0.7, norm_adv=False)
    for e in np.unique(batch.episode)[:20]:
        rows = np.flatnonzero(batch.episode == e)
        rows = rows[np.argsort(batch.t[rows])]
        last = rows[-1]
        a_low, a_high = credit.hiper_advantages(
            batch.reward[rows], values["v_low"][rows], values["v_high"][rows],
            values["switch"][rows], terminated=bool(batch.terminated[last]), gamma=0.9,
            lam_seg=0.7)
        np.testing.assert_allclose(a_low, parts.low[rows], atol=ATOL)
        np.testing.assert_array_equal(np.isnan(a_high), np.isnan(parts.high[rows]))
        np.testing.assert_allclose(a_high, parts.high[rows], atol=ATOL)


# --- hypothesis invariants -------------------------------------------------------------------

@st.composite
def hiper_batches(draw, max_groups=3, max_group_size=3, max_len=6):
    rows = []
    ep = 0
    for g in range(draw(st.integers(1, max_groups))):
        for _ in range(draw(st.integers(1, max_group_size))):
            length = draw(st.integers(1, max_len))
            terminated = draw(st.booleans())
            for k in range(length):
                rows.append((g, ep, k, draw(st.sampled_from([0.0, 1.0, -0.5])),
                             terminated and k == length - 1, draw(st.booleans()),
                             draw(st.floats(-2, 2)), draw(st.floats(-2, 2))))
            ep += 1
    g, e, t, r, term, switch, v_low, v_high = (np.array(c) for c in zip(*rows, strict=True))
    n = len(r)
    batch = StepBatch(group=g, episode=e, t=t, reward=r, done=np.zeros(n, bool),
                      state=np.zeros(n, int), action=np.zeros(n, int), valid=np.ones(n, bool),
                      outcome=np.zeros(n), terminated=term)
    return batch, {"v_low": v_low, "v_high": v_high, "switch": switch, "v_term": v_high - v_low}


def parts_of(batch, values, norm_adv):
    parts = credit.hiper_parts(batch, **values, norm_adv=norm_adv, gamma=0.9, lam_seg=0.8)
    return {"low": parts.low, "high": parts.high, "term": parts.term}


@settings(max_examples=50, deadline=None)
@given(hiper_batches(), st.randoms(use_true_random=False), st.booleans())
def test_permuting_rows_permutes_output(drawn, rnd, norm_adv):
    batch, values = drawn
    perm = np.arange(len(batch))
    rnd.shuffle(perm)
    before = parts_of(batch, values, norm_adv)
    after = parts_of(permuted(batch, perm), {k: v[perm] for k, v in values.items()}, norm_adv)
    for name, got in before.items():
        np.testing.assert_allclose(after[name], got[perm], atol=1e-9, err_msg=name)


@settings(max_examples=50, deadline=None)
@given(hiper_batches())
def test_episodes_are_independent_without_norm_adv(drawn):
    # Before norm_adv (which z-scores over the whole batch) each episode's advantages depend
    # on that episode alone, so each task group's too.
    batch, values = drawn
    full = parts_of(batch, values, False)
    for g in np.unique(batch.group):
        rows = np.flatnonzero(batch.group == g)
        alone = parts_of(permuted(batch, rows), {k: v[rows] for k, v in values.items()}, False)
        for name, got in alone.items():
            np.testing.assert_allclose(full[name][rows], got, atol=1e-9, err_msg=name)
