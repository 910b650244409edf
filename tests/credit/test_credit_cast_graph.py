"""CAST (solver cost-to-go credit) and GraphGPO (graph distance credit): hand-computed oracles,
the plain-loop references to 1e-9 on shuffled random batches, hypothesis invariants, and the
inputs each reads (the env's ``info["distance_to_goal"]``, the state graph)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import reference as ref
from batches import from_rows, permuted, random_batch
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import credit
from agentgym.core.trajectory import (
    Episode,
    StepBatch,
    Turn,
    load_episodes,
    save_episodes,
)

TOL = 1e-4
ATOL = 1e-9
INF, NAN = math.inf, math.nan


# --- CAST: oracles ---------------------------------------------------------------------------

def cast_batch() -> tuple[StepBatch, np.ndarray, np.ndarray]:
    """Three episodes of one task, two turns each, start distance 2.

    * e0: two optimal moves, 2 → 1 → 0, solved (outcome 1);
    * e1: a wasted move, then a move away, 2 → 2 → 3 (outcome 0);
    * e2: an optimal move, then a box into a corner, 2 → 1 → inf (outcome 0).
    """
    batch = from_rows([0] * 6, [0, 0, 1, 1, 2, 2], [0, 1] * 3, [0.0] * 6, list("abcdef"),
                      outcome={0: 1.0, 1: 0.0, 2: 0.0})
    before = np.array([2, 1, 2, 2, 2, 1], dtype=float)
    after = np.array([1, 0, 2, 3, 1, INF])
    return batch, before, after


def test_cast_oracle():
    batch, before, after = cast_batch()
    # GRPO on outcomes [1, 0, 0]: μ = 1/3, unbiased σ = sqrt(((2/3)² + 2·(1/3)²)/2) = 0.57735,
    # so A = [+1.1547, −0.57735, −0.57735] per episode.
    # α = 0.1: e0 [+0.1, +0.1]; e1 [0 (2 → 2), −0.1 (2 → 3)]; e2 [+0.1, 0 (inf: no shaping)].
    adv = credit.cast(batch, distance=before, next_distance=after)
    np.testing.assert_allclose(batch.per_episode(adv),
                               [[1.2547, 1.2547], [-0.5774, -0.6774], [-0.4774, -0.5774]],
                               atol=TOL)
    # unreachable=10: the move into the corner costs 0.1·(1 − 10) = −0.9.
    adv = credit.cast(batch, distance=before, next_distance=after, unreachable=10.0)
    assert adv[5] == pytest.approx(-0.57735 - 0.9, abs=TOL)
    # Another base and α: Dr.GRPO [2/3, −1/3, −1/3] + 0.5·ΔN.
    adv = credit.cast(batch, distance=before, next_distance=after, alpha=0.5, base="drgrpo")
    np.testing.assert_allclose(batch.per_episode(adv),
                               [[7 / 6, 7 / 6], [-1 / 3, -5 / 6], [1 / 6, -1 / 3]], atol=1e-12)
    shaping = credit.cast_shaping(batch, distance=before, next_distance=after)
    np.testing.assert_allclose(shaping, [0.1, 0.1, 0.0, -0.1, 0.1, 0.0], atol=1e-12)


def test_cast_unknown_distances_give_no_shaping():
    batch, before, after = cast_batch()
    before[2], after[4] = NAN, NAN  # unknown before e1's first turn, after e2's first turn
    shaping = credit.cast_shaping(batch, distance=before, next_distance=after)
    np.testing.assert_allclose(shaping, [0.1, 0.1, 0.0, -0.1, 0.0, 0.0], atol=1e-12)
    # Both sides unreachable: no shaping, even with a finite stand-in (10 − 10).
    shaping = credit.cast_shaping(batch, distance=[INF] * 6, next_distance=[INF] * 6,
                                  unreachable=10.0)
    np.testing.assert_array_equal(shaping, 0.0)


def episodes_with_distances(initial, reported, outcomes) -> list[Episode]:
    """Episodes whose reset info holds ``initial[e]`` and whose turn ``t`` info holds
    ``reported[e][t]`` (None: the key is left out)."""
    out = []
    for e, (start, dists, outcome) in enumerate(zip(initial, reported, outcomes, strict=True)):
        turns = [Turn(observation=f"o{e}{t}", action="up", state_key=f"s{e}{t}",
                      info={} if d is None else {"distance_to_goal": d})
                 for t, d in enumerate(dists)]
        info = {} if start is None else {"distance_to_goal": start}
        out.append(Episode(env_id="toy", task_id="t", group_id="g", episode_id=f"e{e}", seed=0,
                           turns=turns, outcome=outcome, info=info))
    return out


def test_cast_reads_the_env_info_from_episodes(tmp_path):
    # The env reports N(s_0) on reset and N(s_{t+1}) after each step, as cast_batch's arrays.
    episodes = episodes_with_distances([2, 2, 2], [[1, 0], [2, 3], [1, INF]], [1.0, 0.0, 0.0])
    batch = StepBatch.from_episodes(episodes)
    arrays, before, after = cast_batch()
    got_before, got_after = credit.goal_distances(batch)
    np.testing.assert_array_equal(got_before, before)
    np.testing.assert_array_equal(got_after, after)
    expected = credit.cast(arrays, distance=before, next_distance=after)
    np.testing.assert_allclose(credit.cast(batch), expected, atol=1e-12)
    # Saved as JSON lines, inf becomes the string "inf": read back it still means unreachable.
    loaded = load_episodes(save_episodes(episodes, tmp_path / "e.jsonl"))
    assert loaded[2].turns[1].info["distance_to_goal"] == "inf"
    np.testing.assert_allclose(credit.cast(StepBatch.from_episodes(loaded)), expected,
                               atol=1e-12)
    # Through the registry, as the trainer calls it (no per-row arguments).
    np.testing.assert_allclose(credit.compute_advantages(batch, "cast"), expected, atol=1e-12)


def test_cast_missing_or_odd_info_is_unknown():
    episodes = episodes_with_distances([None, 3, 2], [[1, 0], [None, "n/a"], [2, True]],
                                       [1.0, 0.0, 0.0])
    before, after = credit.goal_distances(StepBatch.from_episodes(episodes))
    np.testing.assert_array_equal(before, [NAN, 1, 3, NAN, 2, 2])
    np.testing.assert_array_equal(after, [1, 0, NAN, NAN, 2, NAN])
    shaping = credit.cast_shaping(StepBatch.from_episodes(episodes))
    np.testing.assert_allclose(shaping, [0.0, 0.1, 0.0, 0.0, 0.0, 0.0], atol=1e-12)


def test_cast_errors_name_the_problem():
    batch, before, after = cast_batch()
    with pytest.raises(ValueError, match=r"no source episodes.*distance= and next_distance="):
        credit.cast(batch)
    with pytest.raises(ValueError, match="both distance= and next_distance="):
        credit.cast(batch, distance=before)
    with pytest.raises(ValueError, match=r"next_distance has shape \(2,\); expected \(6,\)"):
        credit.cast(batch, distance=before, next_distance=[1.0, 2.0])
    bad = before.copy()
    bad[3] = -1.0
    with pytest.raises(ValueError, match="distance is negative at row 3"):
        credit.cast(batch, distance=bad, next_distance=after)
    with pytest.raises(ValueError, match="unreachable=inf"):
        credit.cast(batch, distance=before, next_distance=after, unreachable=INF)
    with pytest.raises(ValueError, match="call itself"):
        credit.cast(batch, distance=before, next_distance=after, base="cast")


# --- GraphGPO: oracles -----------------------------------------------------------------------

def t1_batch(shuffle: bool = False) -> StepBatch:
    # τ1: s0 → s1 → success; τ2: s0 → s3 → fail; τ3: s0 → s1 → fail (the spec's T1 episodes).
    rows = [(0, 0, "s0"), (0, 1, "s1"), (1, 0, "s0"), (1, 1, "s3"), (2, 0, "s0"), (2, 1, "s1")]
    if shuffle:
        rows = [rows[i] for i in (5, 2, 0, 3, 1, 4)]
    ep, t, s = zip(*rows, strict=True)
    return from_rows([0] * 6, ep, t, [0.0] * 6, s, outcome={0: 1.0, 1: 0.0, 2: 0.0})


@pytest.mark.parametrize("shuffle", [False, True])
def test_graphgpo_oracle(shuffle):
    batch = t1_batch(shuffle)
    parts = credit.graphgpo_parts(batch)
    # Edges s0→s1, s1→SUCCESS, s0→s3, s3→FAIL, s1→FAIL. BFS from SUCCESS: d(s1) = 1,
    # d(s0) = 2; s3 and FAIL cannot reach it: d_max + 1 = 3.
    assert batch.per_episode(parts.distance) == [[2, 1], [2, INF], [2, 1]]
    assert batch.per_episode(parts.next_distance) == [[1, 0], [INF, INF], [1, INF]]
    # v = 10·0.1^d(next): e0 [1, 10]; e1 [0.01, 0.01]; e2 [1, 0.01].
    np.testing.assert_allclose(batch.per_episode(parts.value),
                               [[1, 10], [0.01, 0.01], [1, 0.01]], rtol=1e-12)
    # Same-state groups: s0 {1, 0.01, 1}: μ = 0.67, unbiased σ = sqrt(0.6534/2) = 0.57158 →
    # [+0.57735, −1.15470, +0.57735]; s1 {10, 0.01} → ±0.70711; s3 alone → 0.
    np.testing.assert_allclose(batch.per_episode(parts.graph),
                               [[0.57735, 0.70711], [-1.15470, 0.0], [0.57735, -0.70711]],
                               atol=TOL)
    # + GRPO [+1.1547, −0.57735, −0.57735].
    np.testing.assert_allclose(batch.per_episode(parts.advantages),
                               [[1.73205, 1.86181], [-1.73205, -0.57735], [0.0, -1.28446]],
                               atol=TOL)
    np.testing.assert_array_equal(credit.graphgpo(batch), parts.advantages)


def test_graphgpo_credits_progress_inside_a_failed_episode():
    # e0: a → b → c → success. e1 fails but reaches b by a detour through d; e2 fails in e.
    # d(c) = 1, d(b) = 2, d(a) = d(d) = 3; e cannot reach success: d_max + 1 = 4.
    batch = from_rows([0] * 9, [0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 1, 2] * 3, [0.0] * 9,
                      list("abcadbade"), outcome={0: 1.0, 1: 0.0, 2: 0.0})
    parts = credit.graphgpo_parts(batch, value="linear", norm="mean", base="drgrpo")
    assert batch.per_episode(parts.distance) == [[3, 2, 1], [3, 3, 2], [3, 3, INF]]
    # v = −d(next): e0 [−2, −1, 0]; e1 [−3, −2, −4 (FAIL)]; e2 [−3, −4, −4].
    # State a {−2, −3, −3}: μ = −8/3 → [+2/3, −1/3, −1/3]; d {−2 (e1), −4 (e2)} → ±1;
    # b {−1 (e0), −4 (e1)} → ±1.5; c and e alone → 0.
    np.testing.assert_allclose(batch.per_episode(parts.graph),
                               [[2 / 3, 1.5, 0.0], [-1 / 3, 1.0, -1.5], [-1 / 3, -1.0, 0.0]],
                               atol=1e-12)
    # Dr.GRPO base [2/3, −1/3, −1/3]: the failed e1's detour back to b is credited (+2/3).
    np.testing.assert_allclose(batch.per_episode(parts.advantages),
                               [[4 / 3, 13 / 6, 2 / 3], [-2 / 3, 2 / 3, -11 / 6],
                                [-2 / 3, -4 / 3, -1 / 3]], atol=1e-12)


@pytest.mark.parametrize(("k", "power_credit"), [(1, 0.70711), (7, 0.29117)])
def test_graphgpo_power_values_fade_far_from_success(k, power_credit):
    # From x, e0 walks a chain of k states to success; e1 steps to y and fails. At x the two
    # moves' values are 10·0.1^k and 10·0.1^(k+2) (y: d_max + 1 = k + 2). Unbiased σ = |Δ|/√2,
    # so A = (Δ/2)/(σ + 1e-6): 1/√2 while σ ≫ ε (k = 1); at k = 7, Δ = 0.99e-6, σ = 0.70004e-6:
    # A = 0.495/1.70004 = 0.29117.
    # With v = −d the move gets 1/√2 at any distance.
    states = ["x"] + [f"c{i}" for i in range(k)] + ["x", "y"]
    n0 = k + 1
    batch = from_rows([0] * (n0 + 2), [0] * n0 + [1, 1], [*range(n0), 0, 1], [0.0] * (n0 + 2),
                      states, outcome={0: 1.0, 1: 0.0})
    power = credit.graphgpo_parts(batch).graph
    linear = credit.graphgpo_parts(batch, value="linear").graph
    assert power[0] == pytest.approx(power_credit, abs=1e-5)
    assert linear[0] == pytest.approx(0.70711, abs=1e-5)


def test_graphgpo_group_without_success_gets_no_graph_credit():
    batch = from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4, ["s0", "s1", "s0", "s2"],
                      outcome={0: 0.0, 1: 0.0})
    parts = credit.graphgpo_parts(batch)
    assert np.all(np.isinf(parts.distance)) and np.all(np.isinf(parts.next_distance))
    np.testing.assert_array_equal(parts.value, 0.0)
    np.testing.assert_array_equal(parts.graph, 0.0)
    np.testing.assert_array_equal(parts.advantages, credit.grpo(batch))
    # The threshold decides success: outcome 0.5 is a success above 0.25, not above 0.5.
    batch = from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4, ["s0", "s1", "s0", "s2"],
                      outcome={0: 0.5, 1: 0.0})
    assert np.any(credit.graphgpo_parts(batch, success_threshold=0.25).graph != 0)
    np.testing.assert_array_equal(credit.graphgpo_parts(batch, success_threshold=0.5).graph, 0)


def test_graphgpo_keeps_groups_apart():
    # The same state hash in two groups is two nodes: group 1's success says nothing about
    # group 0, which has none.
    batch = from_rows([0, 0, 1, 1], [0, 1, 2, 3], [0, 0, 0, 0], [0.0] * 4, ["s", "s", "s", "s"],
                      outcome={0: 0.0, 1: 0.0, 2: 1.0, 3: 0.0})
    parts = credit.graphgpo_parts(batch)
    assert parts.distance.tolist() == [INF, INF, 1.0, 1.0]
    np.testing.assert_array_equal(parts.graph[:2], 0.0)
    np.testing.assert_allclose(parts.graph[2:], [0.70711, -0.70711], atol=TOL)


def test_graphgpo_warns_on_a_single_state_and_checks_arguments():
    batch = from_rows([0] * 4, [0, 0, 1, 1], [0, 1, 0, 1], [0.0] * 4, [""] * 4,
                      outcome={0: 1.0, 1: 0.0})
    with pytest.warns(credit.SingleStateWarning, match="graphgpo"):
        credit.graphgpo(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        credit.graphgpo(t1_batch())
    with pytest.raises(ValueError, match=r"omega=0.0 must be in \(0, 1\]"):
        credit.graphgpo(t1_batch(), omega=0.0)
    with pytest.raises(ValueError, match="one of"):
        credit.graphgpo(t1_batch(), value="log")
    with pytest.raises(ValueError, match="call itself"):
        credit.graphgpo(t1_batch(), base="graphgpo")


# --- reference equivalence on random batches ---------------------------------------------------

@pytest.fixture(scope="module")
def batch():
    return random_batch(seed=21, n_rows=10_000)


def random_distances(batch: StepBatch, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(batch)
    before = rng.integers(0, 12, size=n).astype(float)
    after = np.clip(before + rng.choice([-1, 0, 1], size=n), 0, None)
    before[rng.random(n) < 0.05] = NAN
    after[rng.random(n) < 0.05] = INF
    return before, after


@pytest.mark.parametrize("unreachable", [None, 15.0])
def test_cast_matches_reference(batch, unreachable):
    before, after = random_distances(batch, 3)
    fast = credit.cast(batch, distance=before, next_distance=after, alpha=0.3,
                       unreachable=unreachable)
    slow = ref.cast(batch, credit.grpo(batch), before, after, alpha=0.3, unreachable=unreachable)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=ATOL)


def test_goal_distances_match_reference():
    rng = np.random.default_rng(4)
    initial = rng.integers(0, 9, size=40).tolist()
    reported = [[None if rng.random() < 0.1 else float(rng.integers(0, 9)) if rng.random() < 0.9
                 else INF for _ in range(rng.integers(1, 7))] for _ in range(40)]
    episodes = episodes_with_distances(initial, reported, rng.choice([0.0, 1.0], 40).tolist())
    batch = StepBatch.from_episodes(episodes)
    order = rng.permutation(len(batch))
    shuffled = permuted(batch, order)
    shuffled.episodes = batch.episodes
    fast = credit.goal_distances(shuffled)
    slow = ref.goal_distances(shuffled)
    for got, expected in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(got, expected)


def graph_batch() -> StepBatch:
    """100 tasks × 4 episodes of ~25 turns over 40 states: paths of many BFS levels."""
    return random_batch(seed=22, n_rows=10_000, n_groups=100, group_size=4, n_states=40)


@pytest.mark.parametrize(("value", "norm", "omega", "threshold"), [
    ("power", "mean_std", 0.1, 0.0), ("power", "mean", 0.9, 1.0), ("linear", "mean_std", 0.1, 0.0),
    ("linear", "mean", 0.1, 1.0), ("power", "mean_std", 0.5, 1.0),
])
def test_graphgpo_matches_reference(value, norm, omega, threshold):
    # Outcomes 0/0.5/1/10: threshold 1 leaves many task groups without a success.
    small = graph_batch()
    fast = credit.graphgpo(small, value=value, norm=norm, omega=omega,
                           success_threshold=threshold, beta=0.7)
    slow = ref.graphgpo(small, credit.grpo(small), value=value, norm=norm, omega=omega,
                        success_threshold=threshold, beta=0.7)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=ATOL)


def test_graphgpo_reference_batch_has_every_case():
    parts = credit.graphgpo_parts(graph_batch(), success_threshold=1.0)
    reachable = np.isfinite(parts.distance)
    assert reachable.any() and (~reachable).any()  # groups with and without a success
    assert np.any(reachable & np.isinf(parts.next_distance))  # edges into FAIL: d_max + 1
    assert len(np.unique(parts.distance[reachable])) >= 8  # many BFS levels


# --- hypothesis invariants -------------------------------------------------------------------

@st.composite
def batches(draw, max_groups=3, max_group_size=4, max_len=5):
    n_groups = draw(st.integers(1, max_groups))
    group, episode, t, state, outcome = [], [], [], [], []
    ep = 0
    for g in range(n_groups):
        for _ in range(draw(st.integers(1, max_group_size))):
            length = draw(st.integers(1, max_len))
            out = draw(st.sampled_from([0.0, 1.0, 0.5]))
            for k in range(length):
                group.append(g)
                episode.append(ep)
                t.append(k)
                state.append(draw(st.integers(0, 4)))
                outcome.append(out)
            ep += 1
    n = len(group)
    return StepBatch(group=group, episode=episode, t=t, reward=np.zeros(n), done=np.zeros(n, bool),
                     state=state, action=np.zeros(n, int), valid=np.ones(n, bool),
                     outcome=outcome)


def methods(batch: StepBatch) -> dict[str, np.ndarray]:
    before = (batch.state % 4).astype(float)
    after = np.where(batch.state == 3, INF, (batch.state + batch.t) % 3).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", credit.SingleStateWarning)
        return {
            "cast": credit.cast(batch, distance=before, next_distance=after),
            "cast_unreachable": credit.cast(batch, distance=before, next_distance=after,
                                            unreachable=7.0, base="rloo"),
            "graphgpo": credit.graphgpo(batch),
            "graphgpo_linear": credit.graphgpo(batch, value="linear", norm="mean", omega=0.5),
        }


@settings(max_examples=50, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_permuting_rows_permutes_output(batch, rnd):
    perm = np.arange(len(batch))
    rnd.shuffle(perm)
    before = methods(batch)
    after = methods(permuted(batch, perm))
    for name, values in before.items():
        np.testing.assert_allclose(after[name], values[perm], atol=1e-9, err_msg=name)


@settings(max_examples=50, deadline=None)
@given(batches(max_groups=4))
def test_groups_are_independent(batch):
    # Each task group's advantages are what the group alone gets: the block-diagonal BFS and
    # the per-group statistics do not mix groups.
    full = methods(batch)
    for g in np.unique(batch.group):
        rows = np.flatnonzero(batch.group == g)
        alone = methods(permuted(batch, rows))
        for name, values in alone.items():
            np.testing.assert_allclose(full[name][rows], values, atol=1e-9, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(batches())
def test_graph_distances_are_consistent(batch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", credit.SingleStateWarning)
        parts = credit.graphgpo_parts(batch, norm="mean")
    finite = np.isfinite(parts.distance)
    # A reachable state is one step further than its best successor: d(s) ≤ d(s') + 1 per edge.
    assert np.all(parts.distance[finite] <= parts.next_distance[finite] + 1)
    # Graph advantages are centred within every (group, state) node.
    np.testing.assert_allclose(np.bincount(parts.node, weights=parts.graph), 0.0, atol=1e-9)
