"""A tiny training run: finite loss, every parameter moved, exact resume, ratio 1."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from agentgym.trainers.checkpoint import STATE_FILE, list_checkpoints
from agentgym.trainers.config import ConfigError, TrainConfig, from_dict
from agentgym.trainers.logger import read_metrics
from agentgym.trainers.recipe import train


def _cfg(run_dir, tiny_cfgs, *, iterations=2, resume=False) -> TrainConfig:
    env, tiny = tiny_cfgs
    data = {
        "env": {"id": env.id, "kwargs": env.kwargs, "max_turns": env.max_turns,
                "invalid_penalty": 0.5, "max_new_tokens": 4},
        "algo": {"name": "gigpo", "optim": {"lr": 1e-2, "mini_batch_size": 16},
                 "warmup": {"batch_size": 8, "lr": 1e-2}},
        "model": {"tiny": tiny.__dict__},
        "hardware": {"device": "cpu", "micro_batch_size": 8},
        "budget": {"iterations": iterations, "tasks_per_iteration": 2, "group_size": 3,
                   "induction_steps": 20, "warmup_episodes": 6, "warmup_epochs": 4,
                   "eval_episodes": 3,
                   "checkpoint_every": 1, "keep_checkpoints": 0},
        "trainer": {"run_dir": str(run_dir), "progress": False, "tensorboard": False,
                    "resume": resume},
    }
    return from_dict(TrainConfig, data)


def _state(checkpoint):
    from safetensors.torch import load_file

    weights = load_file(str(checkpoint / "model.safetensors"))
    state = torch.load(checkpoint / STATE_FILE, weights_only=False)
    return weights, state


def _assert_same(a, b, path=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    elif hasattr(a, "shape"):  # numpy arrays in the RNG state
        assert (a == b).all(), path
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_cfgs):
    run_dir = tmp_path_factory.mktemp("full")
    result = train(_cfg(run_dir, tiny_cfgs))
    return run_dir, result


def test_two_iterations_train(full_run):
    from transformers import AutoModelForCausalLM

    run_dir, result = full_run
    assert result.iterations == 2
    train_records = [r for r in read_metrics(run_dir) if r["kind"] == "train"]
    assert [r["iteration"] for r in train_records] == [1, 2]
    warmup = next(r for r in read_metrics(run_dir) if r["kind"] == "warmup")
    assert warmup["time/demos_s"] > 0 and warmup["time/bc_s"] > 0
    assert warmup["bc_tokens_per_s"] > 0 and warmup["memory/peak_rss_gb"] > 0
    # induction pre-training ran first, in the same row (20 steps: no induction heads yet)
    assert warmup["induction_steps_taken"] == 20 and warmup["time/induction_s"] > 0
    assert 0 <= warmup["induction_copy_acc_after"] < 0.9
    for record in train_records:
        assert record["time/rollout_s"] > 0 and record["time/update_s"] > 0
        assert torch.isfinite(torch.tensor(record["update/loss"]))
        assert record["adv/nonzero"] > 0 and record["update/grad_norm"] > 0
        # PPO ratio of the first micro-batch is exactly 1 (old log-probs recomputed)
        assert record["update/first_ratio_max_dev"] == 0.0
        # the engine's sampled log-probs agree with the training forward
        assert record["update/engine_logprob_diff"] < 1e-4
    # every trainable parameter moved during the second RL iteration
    first, second = list_checkpoints(run_dir)
    warm = AutoModelForCausalLM.from_pretrained(str(first))
    final = AutoModelForCausalLM.from_pretrained(str(second))
    before, after = dict(warm.named_parameters()), dict(final.named_parameters())
    assert before.keys() == after.keys()
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert unchanged == []
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0.0 <= summary["final"]["success_rate"] <= 1.0


def test_resume_continues_exactly(full_run, tmp_path, tiny_cfgs):
    run_dir, _ = full_run
    # Stop after one iteration (as if killed right after the checkpoint) ...
    train(_cfg(tmp_path, tiny_cfgs, iterations=1))
    # ... and continue to two.
    result = train(_cfg(tmp_path, tiny_cfgs, iterations=2, resume=True))
    assert result.iterations == 2
    weights_a, state_a = _state(list_checkpoints(run_dir)[-1])
    weights_b, state_b = _state(list_checkpoints(tmp_path)[-1])
    _assert_same(weights_a, weights_b, "weights")
    assert state_a["iteration"] == state_b["iteration"] == 2
    for key in ("optimizer", "rng", "engine", "shuffle"):
        _assert_same(state_a[key], state_b[key], key)
    # the metrics file reads as if the run had never stopped
    iterations = [r["iteration"] for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert iterations == [1, 2]


def test_resume_after_a_kill_before_the_first_checkpoint(full_run, tmp_path, tiny_cfgs):
    """A run killed while writing its first checkpoint left metrics rows and a torn last line
    but no checkpoint: resume reads past the torn line, starts over, and the metrics file holds
    each row once. (A torn line after a checkpoint goes through the same reader.)"""
    run_dir, _ = full_run
    train(_cfg(tmp_path, tiny_cfgs, iterations=1))
    for checkpoint in list_checkpoints(tmp_path):
        shutil.rmtree(checkpoint)
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"kind": "train", "iteration": 2, "upd')  # torn by the kill
    result = train(_cfg(tmp_path, tiny_cfgs, iterations=2, resume=True))
    assert result.iterations == 2
    records = read_metrics(tmp_path)
    assert [(r["kind"], r["iteration"]) for r in records if r["kind"] != "eval"] == [
        ("warmup", 0), ("train", 1), ("train", 2), ("final", 2)]
    weights_a, _ = _state(list_checkpoints(run_dir)[-1])
    weights_b, _ = _state(list_checkpoints(tmp_path)[-1])
    _assert_same(weights_a, weights_b, "weights")


def test_a_loaded_model_is_not_pretrained_on_copying(full_run, tmp_path, tiny_cfgs):
    """``budget.induction_steps`` is for a model built from random weights: a run that loads an
    earlier run's cloned checkpoint (``model.path``, as ``benchmarks/learning.py`` does) clones
    and trains from it without a step of induction pre-training. (Its demonstrations are noisy,
    ``budget.warmup_noise``, to run that path too.)"""
    run_dir, _ = full_run
    cfg = _cfg(tmp_path, tiny_cfgs, iterations=0)
    cfg.model.path = str(list_checkpoints(run_dir)[0])
    cfg.budget.warmup_epochs = 1
    cfg.budget.warmup_noise = 0.3  # DART demonstrations: the random turns are not cloned
    train(cfg)
    warmup = next(r for r in read_metrics(tmp_path) if r["kind"] == "warmup")
    assert warmup["time/bc_s"] > 0
    assert "induction_steps_taken" not in warmup and "time/induction_s" not in warmup
    assert warmup["demo_noise_turns"] > 0


def test_existing_run_dir_needs_resume(full_run, tiny_cfgs):
    run_dir, _ = full_run
    with pytest.raises(ConfigError, match="resume"):
        train(_cfg(run_dir, tiny_cfgs))


def test_bad_algo_params_are_config_errors(tmp_path, tiny_cfgs):
    cfg = _cfg(tmp_path, tiny_cfgs)
    cfg.algo.params = {"omegaa": 1.0}
    with pytest.raises(ConfigError, match="omegaa"):
        train(cfg)
