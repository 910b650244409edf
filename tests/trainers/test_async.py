"""Asynchronous rollout: the staleness bound, the behaviour correction, and k=0 == synchronous.

Concurrency is proven with events (a batch is generated while an update is in progress), never
with wall-clock times.
"""

from __future__ import annotations

import math
import threading

import pytest
import torch

from agentgym.cli.train import compose, to_train_config
from agentgym.trainers.async_rollout import AsyncRollout, RolloutBatch
from agentgym.trainers.checkpoint import list_checkpoints
from agentgym.trainers.config import ConfigError, TrainConfig, from_dict, to_dict, validate
from agentgym.trainers.logger import read_metrics
from agentgym.trainers.loss import ppo_loss
from agentgym.trainers.recipe import train
from agentgym.trainers.samples import TurnSample
from agentgym.trainers.update import behaviour_weights

WAIT = 30.0  # seconds an event may take before the test fails (a hang, not a timing assert)


# --- config -------------------------------------------------------------------------------------
def test_async_key_is_spelled_async_in_yaml_and_async_in_python():
    cfg = to_train_config(compose(["trainer.async.max_staleness=2",
                                   "trainer.async.behaviour_cap=3"]))
    assert cfg.trainer.async_.max_staleness == 2 and cfg.trainer.async_.behaviour_cap == 3.0
    data = to_dict(cfg)
    assert data["trainer"]["async"] == {"max_staleness": 2, "behaviour_cap": 3.0}
    assert from_dict(TrainConfig, data) == cfg  # round trip through the YAML spelling
    with pytest.raises(ConfigError, match=r"^trainer\.async\.max_staleness="):
        validate(from_dict(TrainConfig, {"trainer": {"async": {"max_staleness": -1}}}))
    with pytest.raises(ConfigError, match=r"trainer\.async\.staleness"):
        from_dict(TrainConfig, {"trainer": {"async": {"staleness": 1}}})


def test_rollout_backend_is_reachable_from_the_train_command():
    cfg = to_train_config(compose(["rollout.backend=ray", "rollout.ray_address=auto",
                                   "rollout.num_cpus=0.5", "rollout.num_envs=4"]))
    assert (cfg.rollout.backend, cfg.rollout.ray_address) == ("ray", "auto")
    assert (cfg.rollout.num_cpus, cfg.rollout.num_envs) == (0.5, 4)
    with pytest.raises(ConfigError, match=r"^rollout\.backend="):
        validate(from_dict(TrainConfig, {"rollout": {"backend": "dask"}}))
    with pytest.raises(ConfigError, match=r"^rollout\.num_envs="):
        validate(from_dict(TrainConfig, {"rollout": {"num_envs": 0}}))


# --- the loss correction ------------------------------------------------------------------------
def test_behaviour_weight_scales_the_policy_loss_by_hand():
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    old = logp.clone()  # ratio 1: the clipped and unclipped terms agree
    adv = torch.tensor([2.0])
    mask = torch.ones(1, 2)
    weight = torch.tensor([[1.5, 0.5]])
    plain = ppo_loss(logp, old, adv, mask)
    weighted = ppo_loss(logp, old, adv, mask, behaviour_weight=weight)
    # token-mean of −A · ratio · w = −2 · (1.5 + 0.5) / 2
    assert plain.pg_loss.item() == pytest.approx(-2.0)
    assert weighted.pg_loss.item() == pytest.approx(-2.0)
    weight = torch.tensor([[2.0, 0.5]])
    assert ppo_loss(logp, old, adv, mask, behaviour_weight=weight).pg_loss.item() == (
        pytest.approx(-2.0 * 2.5 / 2))


def test_behaviour_weights_are_truncated_importance_ratios():
    old = [torch.tensor([math.log(0.5), math.log(0.9), math.log(0.2)])]
    behaviour = [math.log(0.25), math.log(0.9), math.log(0.8)]
    sample = TurnSample([1], [2, 3, 4], behaviour, 1.0)
    (w,) = behaviour_weights(old, [sample], cap=1.5)
    # 0.5/0.25 = 2 → capped at 1.5; 0.9/0.9 = 1; 0.2/0.8 = 0.25
    assert w.tolist() == pytest.approx([1.5, 1.0, 0.25])
    # no behaviour log-probs (or the wrong length): weight 1
    (w,) = behaviour_weights(old, [TurnSample([1], [2, 3, 4], None, 1.0)], cap=1.5)
    assert w.tolist() == [1.0, 1.0, 1.0]


# --- the worker thread --------------------------------------------------------------------------
def _batch(it: int, version: int) -> RolloutBatch:
    return RolloutBatch(it, version, [], 0.0, 0)


def test_the_next_batch_is_generated_while_the_update_runs():
    """k=1: batch 1 is produced before the trainer publishes the update of iteration 0 (the
    update is held open by an event until batch 1 exists)."""
    produced: dict[int, int] = {}
    made = {i: threading.Event() for i in range(3)}

    def produce(it: int, version: int) -> RolloutBatch:
        produced[it] = version
        made[it].set()
        return _batch(it, version)

    worker = AsyncRollout(produce, lambda w: None, first=0, last=3, max_staleness=1, version=0)
    try:
        batch, _ = worker.get(0)
        assert batch.version == 0
        # "updating" iteration 0: nothing published yet, batch 1 appears meanwhile
        assert made[1].wait(WAIT)
        assert produced[1] == 0  # staleness 1 at iteration 1
        # batch 2 needs version >= 1: it does not start before the publish
        assert not made[2].is_set() and worker.queued() == 1
        worker.publish(1, {})
        assert made[2].wait(WAIT)
        assert worker.get(1)[0].version == 0
        worker.publish(2, {})
        assert worker.get(2)[0].version == 1
    finally:
        worker.close()


def test_staleness_never_exceeds_k_and_weights_load_between_batches():
    k, n = 2, 8
    loaded: list[int] = []
    inside = threading.Lock()

    def produce(it: int, version: int) -> RolloutBatch:
        assert inside.acquire(blocking=False)  # never two batches, never a load mid-batch
        inside.release()
        return _batch(it, version)

    def load(weights: dict) -> None:
        assert inside.acquire(blocking=False)
        inside.release()
        loaded.append(weights["v"])

    worker = AsyncRollout(produce, load, first=0, last=n, max_staleness=k, version=0)
    try:
        for it in range(n):
            batch, wait = worker.get(it)
            assert 0 <= it - batch.version <= k and wait >= 0
            assert worker.queued() <= k + 1
            worker.publish(it + 1, {"v": it + 1})
    finally:
        worker.close()
    assert loaded == sorted(loaded)


def test_a_worker_error_reaches_the_trainer():
    def produce(it: int, version: int) -> RolloutBatch:
        raise RuntimeError("env exploded")

    worker = AsyncRollout(produce, lambda w: None, first=0, last=2, max_staleness=1, version=0)
    try:
        with pytest.raises(RuntimeError, match="env exploded"):
            worker.get(0)
    finally:
        worker.close()


def test_paused_holds_the_worker_and_serves_the_newest_weights():
    started = threading.Event()
    loaded: list[int] = []

    def produce(it: int, version: int) -> RolloutBatch:
        started.set()
        return _batch(it, version)

    worker = AsyncRollout(produce, lambda w: loaded.append(w["v"]), first=0, last=1,
                          max_staleness=1, version=0)
    try:
        worker.get(0)
        worker.publish(1, {"v": 1})
        with worker.paused():
            assert loaded == [1] and worker.engine_version == 1
    finally:
        worker.close()


# --- end to end ---------------------------------------------------------------------------------
def _cfg(run_dir, tiny_cfgs, *, staleness: int, iterations: int = 3, cap: float = 2.0,
         resume: bool = False) -> TrainConfig:
    env, tiny = tiny_cfgs
    return from_dict(TrainConfig, {
        "env": {"id": env.id, "kwargs": env.kwargs, "max_turns": env.max_turns,
                "max_new_tokens": 4},
        "algo": {"name": "gigpo", "optim": {"lr": 1e-2, "mini_batch_size": 16},
                 "warmup": {"batch_size": 8, "lr": 1e-2}},
        "model": {"tiny": tiny.__dict__},
        "hardware": {"device": "cpu", "micro_batch_size": 8},
        "budget": {"iterations": iterations, "tasks_per_iteration": 2, "group_size": 3,
                   "warmup_episodes": 0, "eval_episodes": 2,
                   "eval_every": 2, "checkpoint_every": 2, "keep_checkpoints": 0},
        "trainer": {"run_dir": str(run_dir), "progress": False, "tensorboard": False,
                    "resume": resume,
                    "async": {"max_staleness": staleness, "behaviour_cap": cap}},
    })


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(list_checkpoints(run_dir)[-1] / "model.safetensors"))


def _train_rows(run_dir):
    return [r for r in read_metrics(run_dir) if r["kind"] == "train"]


@pytest.fixture(scope="module")
def sync_run(tmp_path_factory, tiny_cfgs):
    run_dir = tmp_path_factory.mktemp("sync")
    train(_cfg(run_dir, tiny_cfgs, staleness=0))
    return run_dir


def test_staleness_zero_is_the_synchronous_recipe_exactly(sync_run, tmp_path, tiny_cfgs,
                                                          monkeypatch):
    """k=0 builds no rollout thread and ignores the cap: the same weights and metrics as the
    synchronous run, bit for bit."""
    import agentgym.trainers.recipe as recipe

    def no_thread(*args, **kwargs):
        raise AssertionError("k=0 must not start a rollout thread")

    monkeypatch.setattr(recipe, "AsyncRollout", no_thread)
    train(_cfg(tmp_path, tiny_cfgs, staleness=0, cap=1.0))
    a, b = _weights(sync_run), _weights(tmp_path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows_a, rows_b = _train_rows(sync_run), _train_rows(tmp_path)
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra["staleness"] == rb["staleness"] == 0
        assert ra["time/rollout_wait_s"] > 0
        for key in ra:
            if not key.startswith(("time/", "memory/")):
                assert ra[key] == rb[key], key


def test_async_run_records_staleness_within_the_bound_and_resumes(sync_run, tmp_path,
                                                                   tiny_cfgs):
    result = train(_cfg(tmp_path, tiny_cfgs, staleness=1))
    assert result.iterations == 3
    rows = _train_rows(tmp_path)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert rows[0]["staleness"] == 0  # the first batch: nothing to lag behind
    for row in rows:
        assert 0 <= row["staleness"] <= 1
        assert row["time/rollout_wait_s"] >= 0 and row["time/rollout_gen_s"] > 0
        assert 0 < row["update/behaviour_weight_mean"] <= 2.0
        assert math.isfinite(row["update/loss"])
    # the run trained: the weights differ from the synchronous run's only through the lag,
    # and evaluation ran on the current weights
    assert any(r["kind"] == "eval" and r["iteration"] == 2 for r in read_metrics(tmp_path))
    # resume from the checkpoint at iteration 2 (the queue starts empty) and run one more
    train(_cfg(tmp_path, tiny_cfgs, staleness=1, iterations=4, resume=True))
    rows = _train_rows(tmp_path)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert rows[3]["staleness"] == 0  # first batch after the resume: the checkpoint's weights
