"""SWEET-RL's credit: hand-computed oracles, a loop reference and properties.

Oracle batch (critic advantages ``A`` per turn):

* group 0: episode 0 (outcome 1) A = [0.5, 0.2]; episode 1 (outcome 0) A = [0.1, −0.3, 0.4];
* group 1: episodes 2 and 3 (outcome 0.5 both) A = [0.7], [−0.7] — equal outcomes, no pair;
* group 2: episodes 4, 5, 6 (outcomes 1, 0.5, 0) A = [0.3], [0.0], [0.6].

Bradley–Terry pairs (better, worse) and margins ``S⁺ − S⁻`` (``S`` = sum of a trajectory's A):
(0, 1) 0.7 − 0.2 = 0.5; (4, 5) 0.3; (4, 6) −0.3; (5, 6) −0.6; P = 4.

* −log σ(m): 0.474077, 0.554355, 0.854355, 1.037488 → **loss = 2.920275 / 4 = 0.730069**;
  accuracy 2/4 = 0.5.
* σ(−m)/P: 0.094385, 0.106389, 0.143611, 0.161414 → ∂L/∂A per episode: e0 −0.094385,
  e1 +0.094385, e2 = e3 = 0, e4 −(0.106389 + 0.143611) = −0.25, e5 +0.106389 − 0.161414 =
  −0.055025, e6 +0.143611 + 0.161414 = 0.305025.

Advantages (``norm="mean_std"``, ``scope="group"``, unbiased σ, ε = 0):

* group 0: μ = 0.18, deviations [0.32, 0.02, −0.08, −0.48, 0.22], σ = √(0.388/4) = 0.311448 →
  **[1.027458, 0.064216, −0.256865, −1.541187, 0.706377]**;
* group 1: μ = 0, σ = √0.98 → **[0.707107, −0.707107]**;
* group 2: μ = 0.3, σ = 0.3 → **[0, −1, 1]**;
* ``norm="mean"``, ``scope="batch"``: μ = 1.8 / 10 = 0.18 → A − 0.18.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import credit
from agentgym.core.trajectory import StepBatch

# (group, episode, A per turn, outcome)
ORACLE = [
    (0, 0, [0.5, 0.2], 1.0),
    (0, 1, [0.1, -0.3, 0.4], 0.0),
    (1, 2, [0.7], 0.5),
    (1, 3, [-0.7], 0.5),
    (2, 4, [0.3], 1.0),
    (2, 5, [0.0], 0.5),
    (2, 6, [0.6], 0.0),
]


def make_batch(spec) -> tuple[StepBatch, np.ndarray]:
    group, episode, t, outcome, adv = [], [], [], [], []
    for g, e, values, out in spec:
        for k, a in enumerate(values):
            group.append(g)
            episode.append(e)
            t.append(k)
            outcome.append(out)
            adv.append(a)
    n = len(adv)
    batch = StepBatch(group=group, episode=episode, t=t, reward=np.zeros(n),
                      done=np.zeros(n, bool), state=np.zeros(n, np.int64),
                      action=np.zeros(n, np.int64), valid=np.ones(n, bool), outcome=outcome)
    return batch, np.asarray(adv)


def test_bradley_terry_oracle():
    batch, adv = make_batch(ORACLE)
    bt = credit.bradley_terry(batch, adv)
    assert list(zip(bt.better.tolist(), bt.worse.tolist(), strict=True)) == [
        (0, 1), (4, 5), (4, 6), (5, 6)]
    np.testing.assert_allclose(bt.margin, [0.5, 0.3, -0.3, -0.6], atol=1e-12)
    assert bt.loss == pytest.approx(0.730069, abs=1e-5)
    assert bt.accuracy == 0.5
    per_episode = [-0.094385, 0.094385, 0.0, 0.0, -0.25, -0.055025, 0.305025]
    expected = np.repeat(per_episode, [len(a) for *_, a, _ in ORACLE])
    np.testing.assert_allclose(bt.grad, expected, atol=1e-5)


def test_sweet_advantages_oracle():
    batch, adv = make_batch(ORACLE)
    out = credit.sweet(batch, turn_advantages=adv, eps=0.0)
    expected = [1.027458, 0.064216, -0.256865, -1.541187, 0.706377,
                0.707107, -0.707107, 0.0, -1.0, 1.0]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    centred = credit.sweet(batch, turn_advantages=adv, norm="mean", scope="batch")
    np.testing.assert_allclose(centred, adv - 0.18, atol=1e-12)
    np.testing.assert_allclose(credit.sweet(batch, turn_advantages=adv, norm="none"), adv)
    # the registry path gives the same
    np.testing.assert_allclose(
        credit.compute_advantages(batch, "sweet", algo_kwargs={"turn_advantages": adv,
                                                               "eps": 0.0}), expected,
        atol=1e-5)


def test_no_pairs_no_loss_and_bad_input_is_named():
    batch, adv = make_batch([(0, 0, [0.2, 0.1], 1.0), (0, 1, [0.3], 1.0), (1, 2, [0.4], 0.0)])
    bt = credit.bradley_terry(batch, adv)
    assert math.isnan(bt.loss) and len(bt.better) == 0 and not bt.grad.any()
    with pytest.raises(ValueError, match="turn_advantages"):
        credit.sweet(batch, turn_advantages=adv[:2])
    with pytest.raises(ValueError, match="turn_advantages"):
        credit.bradley_terry(batch, np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="scope"):
        credit.sweet(batch, turn_advantages=adv, scope="task")


def reference_loss(spec, adv) -> float:
    """Loop reference: every ordered pair of one group with a higher outcome."""
    sums, k = [], 0
    for _, _, values, _ in spec:
        sums.append(float(np.sum(adv[k:k + len(values)])))
        k += len(values)
    terms = [math.log1p(math.exp(-(sums[i] - sums[j])))
             for i, (gi, _, _, oi) in enumerate(spec) for j, (gj, _, _, oj) in enumerate(spec)
             if gi == gj and oi > oj]
    return sum(terms) / len(terms) if terms else float("nan")


episode_specs = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 3), st.sampled_from([0.0, 0.5, 1.0])),
    min_size=2, max_size=8)


@settings(max_examples=60, deadline=None)
@given(episode_specs, st.data())
def test_loss_matches_loop_reference_and_gradient_is_exact(episodes, data):
    spec = [(g, e, [0.0] * n, out) for e, (g, n, out) in enumerate(episodes)]
    n_rows = sum(n for _, n, _ in episodes)
    adv = np.asarray(data.draw(st.lists(st.floats(-3, 3), min_size=n_rows, max_size=n_rows)))
    batch, _ = make_batch(spec)
    bt = credit.bradley_terry(batch, adv)
    expected = reference_loss(spec, adv)
    if math.isnan(expected):
        assert math.isnan(bt.loss)
        return
    assert bt.loss == pytest.approx(expected, rel=1e-9, abs=1e-12)
    h = 1e-6  # central differences
    for row in range(n_rows):
        bump = np.zeros(n_rows)
        bump[row] = h
        numeric = (credit.bradley_terry(batch, adv + bump).loss
                   - credit.bradley_terry(batch, adv - bump).loss) / (2 * h)
        assert bt.grad[row] == pytest.approx(numeric, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(episode_specs, st.floats(0.1, 10), st.floats(-5, 5))
def test_advantages_invariant_to_affine_critic(episodes, scale, shift):
    spec = [(g, e, list(np.linspace(-1, 1, n) * (e + 1)), out)
            for e, (g, n, out) in enumerate(episodes)]
    batch, adv = make_batch(spec)
    base = credit.sweet(batch, turn_advantages=adv, eps=0.0)
    moved = credit.sweet(batch, turn_advantages=scale * adv + shift, eps=0.0)
    np.testing.assert_allclose(moved, base, atol=1e-6)
    # each group's advantages are centred
    for g in np.unique(batch.group):
        assert abs(base[batch.group == g].sum()) < 1e-9
