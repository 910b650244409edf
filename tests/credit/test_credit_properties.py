"""Property tests (hypothesis): invariants every method must keep on any small batch."""

from __future__ import annotations

import numpy as np
import pytest
from batches import permuted
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import credit
from agentgym.core.trajectory import StepBatch

# Drawn batches may give a multi-step task group one state for all its turns; GiGPO and SALT
# then warn (tested in test_credit_audit.py), which is noise here.
pytestmark = pytest.mark.filterwarnings("ignore::agentgym.credit.SingleStateWarning")


@st.composite
def batches(draw, max_groups=3, max_group_size=4, max_len=5, distinct_states=False):
    n_groups = draw(st.integers(1, max_groups))
    group, episode, t, reward, state, action, outcome = [], [], [], [], [], [], []
    ep = 0
    for g in range(n_groups):
        for _ in range(draw(st.integers(1, max_group_size))):
            length = draw(st.integers(1, max_len))
            out = draw(st.sampled_from([0.0, 1.0, 0.5, -1.0]))
            for k in range(length):
                group.append(g)
                episode.append(ep)
                t.append(k)
                reward.append(draw(st.sampled_from([0.0, 1.0, -0.5, 0.25])))
                state.append(100 * k if distinct_states else draw(st.integers(0, 3)))
                action.append(draw(st.integers(0, 2)))
                outcome.append(out)
            ep += 1
    n = len(reward)
    return StepBatch(group=group, episode=episode, t=t, reward=reward,
                     done=np.zeros(n, bool), state=state, action=action,
                     valid=np.ones(n, bool), outcome=outcome,
                     reward_parts={"a": np.asarray(reward) * 2, "b": np.asarray(outcome)})


def per_row_methods(batch):
    """Every estimator and transform, with array arguments derived from row content."""
    beliefs = np.log(0.1 + 0.2 * (batch.state % 4))
    step = 0.1 * batch.state - 0.05 * batch.t
    return {
        "grpo": credit.grpo(batch),
        "drgrpo": credit.drgrpo(batch),
        "rloo": credit.rloo(batch),
        "mc_grpo": credit.mc_grpo(batch),
        "gdpo": credit.gdpo(batch),
        "gigpo": credit.gigpo(batch, norm="mean_std"),
        "gigpo_rows": credit.gigpo(batch, preset="verl-agent"),
        "salt": credit.salt(batch),
        "salt_history": credit.salt(batch, node="history"),
        "igpo": credit.igpo(batch, beliefs=beliefs),
        "oprl": credit.oprl(batch, step_rewards=step),
        "gated": credit.gated(batch, gates=[(None, 0.5), ("b", 0.0)]),
        "progrm": credit.progrm(batch),
        "spa": credit.spa(batch, contributions=step, grounding_weight=0.0),
    }


@settings(max_examples=40, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_permuting_rows_permutes_output(batch, rnd):
    perm = np.arange(len(batch))
    rnd.shuffle(perm)
    before = per_row_methods(batch)
    after = per_row_methods(permuted(batch, perm))
    for name, values in before.items():
        np.testing.assert_allclose(after[name], values[perm], atol=1e-9, err_msg=name)


@settings(max_examples=60, deadline=None)
@given(batches())
def test_mean_normalized_advantages_sum_to_zero_per_group(batch):
    _, per_episode = np.unique(batch.episode, return_index=True)
    for adv in (credit.drgrpo(batch, singleton="zero"), credit.grpo(batch, singleton="zero")):
        sums = np.bincount(batch.group[per_episode], weights=adv[per_episode])
        np.testing.assert_allclose(sums, 0.0, atol=1e-9)
    # GiGPO's step advantages sum to zero in every anchor group.
    a_step = credit.gigpo_parts(batch).step
    anchors, n = credit.anchor_groups(batch)
    np.testing.assert_allclose(np.bincount(anchors, weights=a_step, minlength=n), 0.0, atol=1e-9)
    # Row-weighted episode statistics sum to zero over a group's rows.
    a_ep = credit.gigpo_parts(batch, episode_stats="rows").episode
    counts = np.bincount(batch.group)
    sums = np.bincount(batch.group, weights=a_ep)
    np.testing.assert_allclose(sums[counts > 1], 0.0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.lists(st.sampled_from([0.0, 1.0, -0.5]), min_size=1, max_size=5),
       st.sampled_from([0.0, 1.0, 3.0]))
def test_identical_episodes_get_zero_advantage(n, rewards, outcome):
    length = len(rewards)
    batch = StepBatch(
        group=np.zeros(n * length, int), episode=np.repeat(np.arange(n), length),
        t=np.tile(np.arange(length), n), reward=np.tile(rewards, n),
        done=np.tile(np.arange(length) == length - 1, n), state=np.tile(np.arange(length), n),
        action=np.zeros(n * length, int), valid=np.ones(n * length, bool),
        outcome=np.full(n * length, outcome),
    )
    for name in ("grpo", "drgrpo", "rloo", "mc_grpo", "gigpo", "salt"):
        np.testing.assert_allclose(credit.get(name)(batch), 0.0, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(credit.gigpo(batch, norm="mean_std", preset="verl-agent"), 0.0,
                               atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=1, max_size=4),
       st.sampled_from([0.0, 1.0, 4.0]))
def test_singleton_rules(rewards, outcome):
    length = len(rewards)
    batch = StepBatch(group=np.zeros(length, int), episode=np.zeros(length, int),
                      t=np.arange(length), reward=rewards, done=np.arange(length) == length - 1,
                      state=np.arange(length), action=np.zeros(length, int),
                      valid=np.ones(length, bool), outcome=np.full(length, outcome))
    # A group of one episode keeps its raw score (verl "raw"), or 0 with singleton="zero".
    np.testing.assert_allclose(credit.grpo(batch), outcome / (1 + 1e-6))  # (x − 0)/(1 + ε)
    np.testing.assert_allclose(credit.grpo(batch, singleton="zero"), 0.0)
    np.testing.assert_allclose(credit.rloo(batch), outcome)
    # GiGPO: distinct states are singleton step groups (0); the episode keeps Σ r.
    parts = credit.gigpo_parts(batch)
    a_ep, a_step = parts.episode, parts.step
    np.testing.assert_allclose(a_step, 0.0)
    np.testing.assert_allclose(a_ep, sum(rewards))
    # verl-agent preset: row statistics — one row keeps Σ r, several rows centre to 0.
    a_rows = credit.gigpo(batch, preset="verl-agent", norm="mean_std")
    expected = sum(rewards) / (1 + 1e-6) if length == 1 else 0.0
    np.testing.assert_allclose(a_rows, expected, atol=1e-9)
