"""The registry contract, checked over every registered method.

An estimator returns advantages of shape ``(n_rows,)`` and nothing else (no ``return_*`` flag);
a transform returns a new per-row reward array of shape ``(n_rows,)``. Extras come from helpers.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from batches import random_batch

from agentgym import credit
from agentgym.core.trajectory import StepBatch
from agentgym.credit import registry


def standard_batch() -> StepBatch:
    """Five task groups of eight episodes (one a singleton group), shuffled rows, reward parts."""
    return random_batch(seed=11, n_rows=400, n_groups=5)


def beliefs(batch: StepBatch) -> np.ndarray:
    return np.log(0.1 + 0.2 * (batch.state % 4))


def judge(a: int, b: int) -> float:
    return 0.5 if a % 3 == b % 3 else float(a % 3 > b % 3)


# The arguments a method cannot run without; every other parameter keeps its default.
ESTIMATOR_ARGS = {
    "igpo": lambda b: {"beliefs": beliefs(b)},
    "oprl": lambda b: {"step_rewards": 0.1 * b.t - 0.05 * (b.state % 3)},
    "arena": lambda b: {"judge": judge},
    "cast": lambda b: {"distance": (b.state % 5).astype(float),
                       "next_distance": (b.state % 3).astype(float)},
    "hiper": lambda b: {"v_low": 0.1 * b.t, "v_high": 0.2 * (b.state % 3), "switch": b.t % 3 == 0},
    "sweet": lambda b: {"turn_advantages": 0.1 * b.t - 0.05 * (b.state % 3)},
}
TRANSFORM_ARGS = {
    "igpo": lambda b: {"beliefs": beliefs(b)},
    "spa": lambda b: {"contributions": 0.1 * (b.state % 5),
                      "next_observation": np.where(b.t % 3 == 0, "Nothing happens.", "ok")},
    "stepsearch": lambda b: {"gain_part": "correct", "redundancy_part": "format",
                             "outcome_part": "correct"},
}


def snapshot(batch: StepBatch) -> dict[str, np.ndarray]:
    columns = {name: np.array(getattr(batch, name), copy=True)
               for name in ("group", "episode", "t", "reward", "done", "state", "action",
                            "valid", "outcome")}
    columns.update({f"part:{k}": v.copy() for k, v in batch.reward_parts.items()})
    return columns


def assert_unchanged(batch: StepBatch, before: dict[str, np.ndarray]) -> None:
    after = snapshot(batch)
    assert after.keys() == before.keys()
    for name, values in before.items():
        np.testing.assert_array_equal(after[name], values, err_msg=f"{name} was modified")


def registered(kind: str) -> list[tuple[str, object]]:
    lookup = credit.get if kind == "estimator" else credit.get_transform
    return [(name, lookup(name)) for name in credit.available(kind)]


@pytest.mark.parametrize("kind", ["estimator", "transform"])
def test_no_registered_method_takes_a_return_flag(kind):
    for name, fn in registered(kind):
        params = list(inspect.signature(fn).parameters.values())
        assert params[0].name == "batch", name
        flags = [p.name for p in params if p.name.startswith("return_")]
        assert flags == [], f"{kind} {name!r} changes its return type with {flags}"
        # Configuration is by keyword only, as the trainer binds it (bind(None, **params)).
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), name


@pytest.mark.parametrize(("name", "flag"), [("gigpo", "return_parts"), ("mc_grpo", "return_mask"),
                                            ("salt", "return_counts"), ("arena", "return_calls")])
def test_old_return_flags_no_longer_bind(name, flag):
    # The trainer checks algo.params with signature(fn).bind(None, **params): these keys fail.
    params = {"judge": judge} if name == "arena" else {}
    inspect.signature(credit.get(name)).bind(None, **params)
    with pytest.raises(TypeError, match=flag):
        inspect.signature(credit.get(name)).bind(None, **params, **{flag: True})


@pytest.mark.parametrize("name", credit.available())
def test_every_estimator_returns_one_float_per_row(name):
    batch = standard_batch()
    kwargs = ESTIMATOR_ARGS.get(name, lambda b: {})(batch)
    before = snapshot(batch)
    adv = credit.get(name)(batch, **kwargs)
    assert isinstance(adv, np.ndarray), type(adv)
    assert adv.dtype == np.float64 and adv.shape == (len(batch),)
    assert np.all(np.isfinite(adv))
    assert_unchanged(batch, before)
    np.testing.assert_array_equal(credit.compute_advantages(batch, name, algo_kwargs=kwargs), adv)


@pytest.mark.parametrize("name", credit.available_transforms())
def test_every_transform_returns_a_new_reward_per_row(name):
    batch = standard_batch()
    kwargs = TRANSFORM_ARGS.get(name, lambda b: {})(batch)
    before = snapshot(batch)
    reward = credit.get_transform(name)(batch, **kwargs)
    assert isinstance(reward, np.ndarray), type(reward)
    assert reward.dtype == np.float64 and reward.shape == (len(batch),)
    assert np.all(np.isfinite(reward))
    for column in (batch.reward, batch.outcome, *batch.reward_parts.values()):
        assert not np.shares_memory(reward, column), "a transform must return a new array"
    assert_unchanged(batch, before)
    moved = credit.apply_transform(batch, name, **kwargs)
    np.testing.assert_array_equal(moved.reward, reward)
    assert moved is not batch


def test_argument_tables_name_registered_methods():
    assert set(ESTIMATOR_ARGS) <= set(credit.available())
    assert set(TRANSFORM_ARGS) <= set(credit.available_transforms())


def test_register_refuses_a_return_flag():
    def with_flag(batch, *, return_extra=False):
        return batch.reward

    for kind in ("estimator", "transform"):
        with pytest.raises(ValueError, match=r"return_extra.*separate helper"):
            credit.register("_test_flagged", kind=kind)(with_flag)
        assert "_test_flagged" not in credit.available(kind)


def test_compute_advantages_checks_the_shape():
    @credit.register("_test_pair")
    def pair(batch):
        return np.stack([batch.reward, batch.reward])

    try:
        with pytest.raises(ValueError, match=r"shape \(2, 400\).*expected \(400,\)"):
            credit.compute_advantages(_rows(400), "_test_pair")
    finally:
        del registry._REGISTRIES["estimator"]["_test_pair"]


def _rows(n: int) -> StepBatch:
    return StepBatch(group=np.zeros(n, int), episode=np.arange(n), t=np.zeros(n, int),
                     reward=np.ones(n), done=np.ones(n, bool), state=np.zeros(n, int),
                     action=np.zeros(n, int), valid=np.ones(n, bool), outcome=np.ones(n))


def test_helpers_return_the_extras():
    batch = standard_batch()
    parts = credit.gigpo_parts(batch, gamma=0.9, omega=0.5)
    np.testing.assert_array_equal(parts.advantages, credit.gigpo(batch, gamma=0.9, omega=0.5))
    np.testing.assert_allclose(parts.advantages, parts.episode + 0.5 * parts.step)
    np.testing.assert_allclose(parts.returns,
                               credit.discounted_returns(batch.reward, batch.episode, batch.t,
                                                         0.9))
    for values in (parts.episode, parts.step, parts.returns, parts.anchor):
        assert values.shape == (len(batch),)
    keep = credit.mc_grpo_pivot_mask(batch)
    assert keep.dtype == bool and keep.shape == (len(batch),)
    adv = credit.mc_grpo(batch)
    assert np.all(adv[~keep] == 0.0)  # the pivot episode has advantage 0
    n_episodes_dropped = len(np.unique(batch.episode[~keep]))
    assert n_episodes_dropped == len(np.unique(batch.group))  # one pivot per group
    counts = credit.salt_counts(batch)
    assert counts.dtype == np.int64 and counts.shape == (len(batch),) and counts.min() >= 1
    result = credit.arena_tournament(batch, judge=judge)
    np.testing.assert_array_equal(result.advantages, credit.arena(batch, judge=judge))
    assert result.ranks.shape == (len(batch),) and np.nanmin(result.ranks) == 1.0
    group_sizes = [len(np.unique(batch.episode[batch.group == g])) for g in np.unique(batch.group)]
    assert result.calls == sum(n - 1 for n in group_sizes)  # no anchors: N − 1 matches a group
