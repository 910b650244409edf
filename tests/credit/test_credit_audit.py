"""Hand-computed cases from the independent audit of the credit methods against their papers.

Each failed before its fix: ArenaRL ties, HiPER's NaN check, G-RA without reward parts and the
single-state warning of GiGPO and SALT.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from batches import from_rows

from agentgym import credit
from agentgym.core.trajectory import Episode, StepBatch, Turn

TOL = 1e-4


# --- ArenaRL: a tie is split evenly ----------------------------------------------------------


def identical_group(n: int = 4) -> StepBatch:
    """``n`` identical two-turn episodes of one task."""
    return from_rows([0] * 2 * n, np.repeat(np.arange(n), 2), [0, 1] * n, [0.0, 1.0] * n,
                     ["s0", "s1"] * n, actions=["go", "stop"] * n)


@pytest.mark.parametrize("seed", range(6))
def test_arena_judge_that_always_ties_gives_identical_episodes_equal_advantages(seed):
    # Before: the bracket seed decided who "won" each tie, giving ±0.39 / ±1.16 in a group of 4.
    batch = identical_group(4)
    adv = credit.arena(batch, judge=lambda a, b: 0.5, seed=seed)
    np.testing.assert_array_equal(adv, np.zeros(len(batch)))
    result = credit.single_elimination([0, 1, 2, 3], lambda a, b: 0.5, seed=seed)
    assert result.ranks == [2.5] * 4 and result.calls == 3  # positions 1–4 shared evenly
    # With an anchor the seeding ties too; the anchor is still not ranked.
    anchored = from_rows([0] * 5, [0, 1, 2, 3, 4], [0] * 5, [0.0] * 5, ["s"] * 5)
    adv = credit.arena(anchored, judge=lambda a, b: 0.5, anchors={0: 4}, seed=seed)
    np.testing.assert_array_equal(adv, np.zeros(5))


def test_arena_tie_shares_rank_positions():
    # A1 ≡ A2 (quality 0.8) > B (0.5) > anchor (0.4) > C (0.2); the judge ties equal quality.
    quality = {0: 0.8, 1: 0.8, 2: 0.5, 3: 0.2, 9: 0.4}

    def judge(a, b):
        return 0.5 if quality[a] == quality[b] else float(quality[a] > quality[b])

    # Seeding 1 − judge(anchor, p): A1 1, A2 1, B 1, C 0 → seeds A1, A2, B, C.
    # Round 1: A1 beats C, A2 beats B. Final: A1 ties A2 → both champions, positions 1 and 2.
    # B and C go out in round 1; B's average score (1 + 0)/2 beats C's (0 + 0)/2.
    result = credit.single_elimination([0, 1, 2, 3], judge, anchor=9)
    assert result.ranks == [1.5, 1.5, 3.0, 4.0] and result.calls == 4 + 3
    # Rewards 1 − (rank − 1)/3 = [5/6, 5/6, 1/3, 0]; μ = 1/2, unbiased σ = sqrt(1/6).
    batch = from_rows([0] * 5, [0, 1, 2, 3, 9], [0] * 5, [0.0] * 5, list("abcde"))
    out = credit.arena_tournament(batch, judge=judge, anchors={0: 9})
    np.testing.assert_allclose(out.advantages, [0.8165, 0.8165, -0.4082, -1.2247, 0.0], atol=TOL)
    np.testing.assert_array_equal(out.ranks[:4], [1.5, 1.5, 3.0, 4.0])
    assert np.isnan(out.ranks[4]) and out.calls == 7


# --- HiPER: NaN input raises like turn_gae ----------------------------------------------------

T9 = {"rewards": [0.0, 0.0, 1.0], "v_low": [0.2, 0.5, 0.7], "v_high": [0.3, 0.0, 0.6],
      "switch": [True, False, True]}


@pytest.mark.parametrize(("name", "turn"), [("rewards", 1), ("v_low", 2), ("v_high", 0),
                                            ("v_high", 2)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_hiper_advantages_rejects_non_finite_input(name, turn, bad):
    with pytest.raises(ValueError, match="turn_gae: rewards or values contain NaN or inf"):
        credit.turn_gae([0.0, bad], [0.5, 0.7], [False, True])
    args = {k: list(v) for k, v in T9.items()}
    args[name][turn] = bad
    with pytest.raises(ValueError, match=f"hiper_advantages: {name} contains NaN or inf"):
        credit.hiper_advantages(**args)


def test_hiper_advantages_checks_only_what_it_reads():
    for name in ("bootstrap_low", "bootstrap_high"):
        with pytest.raises(ValueError, match=f"{name} contains NaN or inf"):
            credit.hiper_advantages(**T9, terminated=False, **{name: float("nan")})
    # v_high off the segment starts and the bootstraps of a terminated episode are never read.
    args = dict(T9, v_high=[0.3, np.nan, 0.6])
    a_low, a_high = credit.hiper_advantages(**args, bootstrap_low=float("nan"),
                                            bootstrap_high=float("nan"))
    np.testing.assert_allclose(a_low, [0.4, 0.1, 0.3], atol=1e-12)
    np.testing.assert_allclose(a_high[[0, 2]], [0.68, 0.4], atol=1e-12)


# --- G-RA without reward parts: the outcome counts once ---------------------------------------


@pytest.mark.parametrize(("rewards", "outcome", "threshold", "expected"), [
    ([0.0, 1.0], 1.0, 1.0, [0.0, 1.0]),             # the audit case: before [0, 2]; G-RA R = 1
    ([0.2, 0.3, 1.0], 1.0, 1.0, [0.2, 0.3, 1.0]),   # passes: R = 1 + (1.5 − 1) = 1.5
    ([0.3, 0.2, 0.0], 0.0, 1.0, [0.0, 0.0, 0.0]),   # fails: the shaping is gated off, R = 0
    ([0.1, 0.5], 0.5, 1.0, [0.0, 0.5]),             # score 0.5 < δ: R = o = 0.5
    ([0.1, 0.5], 0.5, 0.5, [0.1, 0.5]),             # score 0.5 ≥ δ: R = 0.5 + 0.1
])
def test_gated_without_reward_parts_counts_the_outcome_once(rewards, outcome, threshold,
                                                            expected):
    n = len(rewards)
    batch = from_rows([0] * n, [0] * n, list(range(n)), rewards, list("abc")[:n],
                      outcome={0: outcome})
    assert not batch.reward_parts
    out = credit.gated(batch, threshold=threshold)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    gate_passed = outcome >= threshold
    assert out.sum() == pytest.approx(outcome + gate_passed * (sum(rewards) - outcome))
    # D-RA (no gate) is the reward column itself.
    np.testing.assert_allclose(credit.gated(batch, threshold=threshold, gate=False), rewards,
                               atol=1e-12)


# --- GiGPO and SALT: one state for every turn of a multi-step task ----------------------------


def default_state_batch(steps: int = 2) -> StepBatch:
    """Two episodes of one task whose turns keep the default ``state_key=""``."""
    episodes = [
        Episode(env_id="toy", task_id="t", group_id="g", episode_id=f"e{k}", seed=0,
                turns=[Turn(observation=f"obs {k} {t}", action=f"act {k + t}",
                            reward=float(k == 0 and t == steps - 1)) for t in range(steps)],
                outcome=float(k == 0))
        for k in range(2)
    ]
    return StepBatch.from_episodes(episodes)


@pytest.mark.parametrize("method", ["gigpo", "salt"])
def test_single_state_for_every_turn_warns(method):
    batch = default_state_batch()
    assert set(batch.state_key) == {""}
    with pytest.warns(credit.SingleStateWarning, match=f"^{method}: every turn of a task group"
                      ) as record:
        credit.get(method)(batch)
    assert len(record) == 1 and record[0].filename == __file__  # points at the caller
    with pytest.warns(credit.SingleStateWarning) as record:
        credit.compute_advantages(batch, method)
    assert record[0].filename == __file__
    # Once per call site under Python's default filter: a training loop is told once.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            credit.get(method)(batch)
    assert len([w for w in caught if issubclass(w.category, credit.SingleStateWarning)]) == 1


def test_single_state_warning_only_for_multi_step_single_state_groups():
    with warnings.catch_warnings():
        warnings.simplefilter("error", credit.SingleStateWarning)
        # Single-step tasks: every turn starts from the initial state, nothing to flag.
        single = default_state_batch(steps=1)
        credit.gigpo(single)
        credit.salt(single)
        # Distinct states, and SALT's history nodes (which tell turns apart by past actions).
        credit.gigpo(from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4,
                               ["s0", "s1", "s0", "s1"]))
        credit.salt(default_state_batch(), node="history")
        credit.salt_counts(default_state_batch(), node="history")
    with pytest.warns(credit.SingleStateWarning):  # similarity merging every state warns too
        credit.gigpo(from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4,
                               ["You are in the kitchen."] * 3 + ["You are in the kitchen!"]),
                     similarity=0.9)


def test_single_state_warning_can_become_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", credit.SingleStateWarning)
        with pytest.raises(credit.SingleStateWarning):
            credit.gigpo(default_state_batch())


# --- MC-GRPO: the default is median centring, the official trainer's scaling is a preset ------


def test_mc_grpo_default_is_median_only_and_says_so():
    batch = from_rows([0] * 3, [0, 1, 2], [0] * 3, [0.0] * 3, list("abc"),
                      outcome={0: 1.0, 1: 0.0, 2: 0.0})
    np.testing.assert_allclose(credit.mc_grpo(batch), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(credit.mc_grpo(batch, preset="code"), [3000.0, 0.0, 0.0])
    doc = " ".join(credit.mc_grpo.__doc__.split())
    assert "Default: median centring only" in doc and 'preset="code"' in doc
