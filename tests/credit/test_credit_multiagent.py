"""RAE (SPIRAL) and AT-GRPO: hand-computed oracles, loop references and properties.

RAE oracle (α = 0.5, one game, roles x and o, three games in batch order; x's returns
[1, −1, 1], o's the negatives):

* paper order (update, then subtract): x's baselines 0.5, −0.25, 0.375 → A = [0.5, −0.75, 0.625];
* code order (subtract, then update): A = [1 − 0, −1 − 0.5, 1 + 0.25] = [1, −1.5, 1.25];
* o mirrors x.

AT-GRPO oracle (one task, groups by (role, turn), mean normalization, ε = 0):
x episodes A (r = [0, 1]), B (r = [1, 0]), C (r = [0]); o episode D (r = [5]).

* (x, t=0) = {0, 1, 0}: μ = 1/3 → [−1/3, 2/3, −1/3]; unbiased σ = √(1/3) → [−0.57735, 1.1547,
  −0.57735];
* (x, t=1) = {1, 0}: μ = 0.5 → [0.5, −0.5]; σ = √0.5 → [0.70711, −0.70711];
* (o, t=0) = {5}: a singleton keeps its raw score 5 ("raw") or gets 0 ("zero");
* score="return", γ = 1: x returns A [1, 1], B [1, 0], C [0] → (x, 0) = {1, 1, 0} → [1/3, 1/3,
  −2/3]; (x, 1) = {1, 0} → [0.5, −0.5].
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import credit
from agentgym.core.trajectory import Episode, StepBatch, Turn, role_id
from agentgym.credit import RoleBaselines, atgrpo, ema_sequence, rae


def batch_of(rows: list[tuple[int, int, int, float, str | None]], outcome: dict[int, float],
             parts: dict[str, list[float]] | None = None) -> StepBatch:
    """Rows ``(group, episode, t, reward, role)``."""
    group, episode, t, reward, role = (list(c) for c in zip(*rows, strict=True))
    n = len(rows)
    return StepBatch(group=group, episode=episode, t=t, reward=reward, done=np.zeros(n, bool),
                     state=np.zeros(n, np.int64), action=np.zeros(n, np.int64),
                     valid=np.ones(n, bool), outcome=[outcome[e] for e in episode],
                     role=[role_id(r) for r in role],
                     reward_parts={k: np.asarray(v) for k, v in (parts or {}).items()})


def zero_sum_games(returns_x: list[float]) -> StepBatch:
    """One two-turn episode per seat per game, games in order; o's return is −x's."""
    rows, outcome = [], {}
    for k, value in enumerate(returns_x):
        for seat, role, sign in ((0, "x", 1.0), (1, "o", -1.0)):
            episode = 2 * k + seat
            outcome[episode] = sign * value
            rows += [(k, episode, 0, 0.0, role), (k, episode, 1, sign * value, role)]
    return batch_of(rows, outcome)


def per_episode(batch: StepBatch, adv: np.ndarray) -> dict[int, float]:
    out: dict[int, float] = {}
    for e, a in zip(batch.episode, adv, strict=True):
        assert out.setdefault(int(e), float(a)) == pytest.approx(float(a), abs=1e-12)
    return out


# -- RAE oracles --------------------------------------------------------------------------------
def test_rae_paper_order_oracle():
    batch = zero_sum_games([1.0, -1.0, 1.0])
    adv = per_episode(batch, rae(batch, alpha=0.5))
    assert [adv[0], adv[2], adv[4]] == pytest.approx([0.5, -0.75, 0.625], abs=1e-12)
    assert [adv[1], adv[3], adv[5]] == pytest.approx([-0.5, 0.75, -0.625], abs=1e-12)


def test_rae_code_order_oracle():
    batch = zero_sum_games([1.0, -1.0, 1.0])
    adv = per_episode(batch, rae(batch, alpha=0.5, order="code"))
    assert [adv[0], adv[2], adv[4]] == pytest.approx([1.0, -1.5, 1.25], abs=1e-12)
    assert [adv[1], adv[3], adv[5]] == pytest.approx([-1.0, 1.5, -1.25], abs=1e-12)


def test_rae_baselines_persist_across_batches():
    whole = zero_sum_games([1.0, -1.0, 1.0])
    expected = per_episode(whole, rae(whole, alpha=0.5))
    state = RoleBaselines()
    first = zero_sum_games([1.0])
    second = zero_sum_games([-1.0, 1.0])
    got = per_episode(first, rae(first, alpha=0.5, baselines=state))
    got_later = per_episode(second, rae(second, alpha=0.5, baselines=state))
    assert [got[0], got_later[0], got_later[2]] == pytest.approx(
        [expected[0], expected[2], expected[4]], abs=1e-12)
    assert state.values[(0, role_id("x"))] == pytest.approx(0.375)
    assert state.updates[(0, role_id("o"))] == 3
    restored = RoleBaselines()
    restored.load_state_dict(state.state_dict())
    assert restored == state


def test_rae_separates_roles_and_games():
    # The same role in two games gets two baselines: game labels from Episode.env_id.
    episodes = [
        Episode("agentgym/TicTacToe-v0", "t", "g0", "a", 0, [Turn("o", "5")], outcome=1.0,
                role="x"),
        Episode("agentgym/ConnectFour-v0", "c", "g1", "b", 0, [Turn("o", "4")], outcome=1.0,
                role="x"),
        Episode("agentgym/TicTacToe-v0", "t", "g0", "c", 0, [Turn("o", "1")], outcome=1.0,
                role="x"),
    ]
    batch = StepBatch.from_episodes(episodes)
    adv = rae(batch, alpha=0.5)
    # game 1, x: baselines 0.5 then 0.75; game 2, x: 0.5.
    np.testing.assert_allclose(adv, [0.5, 0.5, 0.25], atol=1e-12)
    # Without game labels every episode is one game and one role: baselines 0.5, 0.75, 0.875.
    flat = StepBatch(**{**{k: getattr(batch, k) for k in ("group", "episode", "t", "reward",
                                                             "done", "state", "action", "valid",
                                                             "outcome", "role")}})
    np.testing.assert_allclose(rae(flat, alpha=0.5), [0.5, 0.25, 0.125], atol=1e-12)


def test_rae_alpha_edges():
    batch = zero_sum_games([1.0, -1.0])
    np.testing.assert_allclose(rae(batch, alpha=0.0), 0.0, atol=0)  # b = R: nothing left
    np.testing.assert_allclose(rae(batch, alpha=1.0), batch.outcome)  # b stays 0
    with pytest.raises(ValueError, match="alpha"):
        rae(batch, alpha=1.5)
    with pytest.raises(ValueError, match="order"):
        rae(batch, order="other")


def test_ema_sequence_matches_the_recursion_over_many_blocks():
    rng = np.random.default_rng(0)
    for alpha in (0.95, 0.5, 0.01, 1e-9):
        returns = rng.choice([-1.0, 0.0, 1.0, 0.3], size=2_000)
        expected, b = [], 0.7
        for r in returns:
            b = alpha * b + (1 - alpha) * r
            expected.append(b)
        np.testing.assert_allclose(ema_sequence(returns, alpha, 0.7), expected, atol=1e-9)


# -- AT-GRPO oracles ----------------------------------------------------------------------------
def at_batch() -> StepBatch:
    rows = [(0, 0, 0, 0.0, "x"), (0, 0, 1, 1.0, "x"),
            (0, 1, 0, 1.0, "x"), (0, 1, 1, 0.0, "x"),
            (0, 2, 0, 0.0, "x"),
            (0, 3, 0, 5.0, "o")]
    return batch_of(rows, {0: 1.0, 1: 1.0, 2: 0.0, 3: 5.0})


def test_atgrpo_mean_oracle():
    adv = atgrpo(at_batch(), norm="mean", eps=0.0)
    np.testing.assert_allclose(adv, [-1 / 3, 0.5, 2 / 3, -0.5, -1 / 3, 5.0], atol=1e-12)


def test_atgrpo_mean_std_oracle():
    adv = atgrpo(at_batch(), eps=0.0)
    np.testing.assert_allclose(adv, [-0.5773503, 0.7071068, 1.1547005, -0.7071068, -0.5773503,
                                     5.0], atol=1e-6)
    zero = atgrpo(at_batch(), eps=0.0, singleton="zero")
    assert zero[-1] == 0.0


def test_atgrpo_return_score_oracle():
    adv = atgrpo(at_batch(), score="return", gamma=1.0, norm="mean", eps=0.0)
    np.testing.assert_allclose(adv, [1 / 3, 0.5, 1 / 3, -0.5, -2 / 3, 5.0], atol=1e-12)
    outcome = atgrpo(at_batch(), score="outcome", norm="mean")
    # outcomes A = B = 1, C = 0: (x, 0) = {1, 1, 0} → [1/3, 1/3, −2/3]; (x, 1) = {1, 1} → 0.
    np.testing.assert_allclose(outcome, [1 / 3, 0.0, 1 / 3, 0.0, -2 / 3, 5.0], atol=1e-12)


def test_atgrpo_team_mix():
    # rewards = team + local; α = 0.5 halves the team part: x,t0 rewards {2, 0} → {1.5, 0}.
    rows = [(0, 0, 0, 2.0, "x"), (0, 1, 0, 0.0, "x")]
    batch = batch_of(rows, {0: 2.0, 1: 0.0}, parts={"team": [1.0, 0.0], "local": [1.0, 0.0]})
    np.testing.assert_allclose(atgrpo(batch, team_part="team", alpha=0.5, norm="mean"),
                               [0.75, -0.75])
    with pytest.raises(ValueError, match="team_part"):
        atgrpo(batch, team_part="missing")


def test_atgrpo_differs_from_grpo_when_roles_mix():
    # One GRPO group of x and o episodes compares answers to different prompts; AT-GRPO does not.
    batch = at_batch()
    assert not np.allclose(atgrpo(batch, score="outcome", norm="mean"),
                           credit.grpo(batch, norm="mean"))


# -- loop references vs vectorized --------------------------------------------------------------
def rae_loop(batch: StepBatch, alpha: float, order: str, games: np.ndarray) -> np.ndarray:
    baselines: dict[tuple[int, int], float] = {}
    adv_episode: dict[int, float] = {}
    for e in sorted(set(batch.episode.tolist())):
        rows = np.flatnonzero(batch.episode == e)
        key = (int(games[rows[0]]), int(batch.roles()[rows[0]]))
        value = float(batch.outcome[rows[0]])
        b = baselines.get(key, 0.0)
        updated = alpha * b + (1 - alpha) * value
        adv_episode[e] = value - (updated if order == "paper" else b)
        baselines[key] = updated
    return np.array([adv_episode[int(e)] for e in batch.episode])


def atgrpo_loop(batch: StepBatch, eps: float) -> np.ndarray:
    out = np.zeros(len(batch))
    keys = list(zip(batch.group.tolist(), batch.roles().tolist(), batch.t.tolist(), strict=True))
    for key in set(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        values = batch.reward[rows]
        if len(rows) == 1:
            out[rows] = values / (1.0 + eps)
            continue
        out[rows] = (values - values.mean()) / (values.std(ddof=1) + eps)
    return out


def random_ma_batch(seed: int, n_games: int = 60) -> tuple[StepBatch, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, outcome, games = [], {}, []
    for e in range(n_games * 2):
        role = ["x", "o", None][int(rng.integers(3))]
        game = int(rng.integers(3))
        group = int(rng.integers(4))
        outcome[e] = float(rng.choice([-1.0, 0.0, 1.0, 0.5]))
        for t in range(int(rng.integers(1, 5))):
            rows.append((group, e, t, float(rng.choice([0.0, 1.0, -0.5])), role))
            games.append(game)
    batch = batch_of(rows, outcome)
    perm = rng.permutation(len(batch))
    shuffled = StepBatch(**{k: getattr(batch, k)[perm] for k in (
        "group", "episode", "t", "reward", "done", "state", "action", "valid", "outcome",
        "role")})
    return shuffled, np.asarray(games)[perm]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("alpha", "order"), [(0.95, "paper"), (0.3, "code"), (0.0, "paper")])
def test_rae_loop_reference(seed, alpha, order):
    batch, games = random_ma_batch(seed)
    np.testing.assert_allclose(rae(batch, alpha=alpha, order=order, game=games),
                               rae_loop(batch, alpha, order, games), atol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_atgrpo_loop_reference(seed):
    batch, _ = random_ma_batch(seed)
    np.testing.assert_allclose(atgrpo(batch), atgrpo_loop(batch, 1e-6), atol=1e-9)


# -- properties ---------------------------------------------------------------------------------
@st.composite
def ma_batches(draw):
    rows, outcome = [], {}
    n_episodes = draw(st.integers(1, 12))
    for e in range(n_episodes):
        role = draw(st.sampled_from(["x", "o"]))
        group = draw(st.integers(0, 2))
        outcome[e] = draw(st.sampled_from([-1.0, 0.0, 1.0, 0.25]))
        for t in range(draw(st.integers(1, 4))):
            rows.append((group, e, t, draw(st.sampled_from([0.0, 1.0, -0.5])), role))
    return batch_of(rows, outcome)


@settings(max_examples=60, deadline=None)
@given(ma_batches(), st.integers(1, 11), st.sampled_from([0.0, 0.5, 0.95]))
def test_rae_splitting_the_batch_changes_nothing(batch, cut, alpha):
    # Feeding episodes in two batches through one RoleBaselines = one batch.
    n_ep = int(batch.episode.max()) + 1
    cut = min(cut, n_ep)
    whole = rae(batch, alpha=alpha)
    state = RoleBaselines()
    parts = []
    for mask in (batch.episode < cut, batch.episode >= cut):
        if mask.any():
            part = StepBatch(**{k: getattr(batch, k)[mask] for k in (
                "group", "episode", "t", "reward", "done", "state", "action", "valid",
                "outcome", "role")})
            parts.append((mask, rae(part, alpha=alpha, baselines=state)))
    got = np.empty(len(batch))
    for mask, adv in parts:
        got[mask] = adv
    np.testing.assert_allclose(got, whole, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(ma_batches(), st.floats(-3, 3))
def test_atgrpo_mean_groups_sum_to_zero_and_ignore_shifts(batch, shift):
    adv = atgrpo(batch, norm="mean", singleton="zero")
    ids, n_ids = credit.atgrpo_groups(batch)
    np.testing.assert_allclose(np.bincount(ids, weights=adv, minlength=n_ids), 0.0, atol=1e-9)
    shifted = StepBatch(**{**{k: getattr(batch, k) for k in (
        "group", "episode", "t", "done", "state", "action", "valid", "outcome", "role")},
        "reward": batch.reward + shift})
    np.testing.assert_allclose(atgrpo(shifted, norm="mean", singleton="zero"), adv, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(ma_batches(), st.randoms(use_true_random=False))
def test_both_ignore_row_order(batch, rnd):
    perm = np.array(rnd.sample(range(len(batch)), len(batch)))
    shuffled = StepBatch(**{k: getattr(batch, k)[perm] for k in (
        "group", "episode", "t", "reward", "done", "state", "action", "valid", "outcome",
        "role")})
    np.testing.assert_allclose(rae(shuffled), rae(batch)[perm], atol=1e-12)
    np.testing.assert_allclose(atgrpo(shuffled), atgrpo(batch)[perm], atol=1e-12)


def test_registered_and_role_column_from_episodes():
    assert {"rae", "atgrpo"} <= set(credit.available())
    episodes = [Episode("e", "t", "g", "a", 0, [Turn("o", "1"), Turn("o", "2")], role="x"),
                Episode("e", "t", "g", "b", 0, [Turn("o", "1")])]
    batch = StepBatch.from_episodes(episodes)
    assert batch.role.tolist() == [role_id("x"), role_id("x"), 0]
    no_roles = StepBatch.from_episodes([episodes[1]])
    assert no_roles.role is None and no_roles.roles().tolist() == [0]
