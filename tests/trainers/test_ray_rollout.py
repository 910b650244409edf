"""`agentgym train rollout.backend=ray`: a tiny run whose episodes are played in Ray actors of a
local Ray started on demand (demonstrations, training rollouts and evaluation)."""

from __future__ import annotations

import pytest

from agentgym.cli.train import compose, to_train_config
from agentgym.trainers.logger import read_metrics
from agentgym.trainers.recipe import train


def test_training_with_environments_in_ray_actors(tiny_path, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    import agentgym.core.ray_pool as ray_pool

    made: list = []
    original = ray_pool.RayEnvPool.make_env

    def counting(self, factory):  # a real actor; only counted here
        env = original(self, factory)
        made.append(env)
        return env

    monkeypatch.setattr(ray_pool.RayEnvPool, "make_env", counting)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    cfg = to_train_config(compose([
        "env=sokoban", "env.max_turns=6", "env.max_new_tokens=4", "model.tiny.corpus_episodes=8",
        "budget.iterations=1", "budget.tasks_per_iteration=2", "budget.group_size=2",
        "budget.warmup_episodes=2", "budget.warmup_epochs=1", "budget.eval_episodes=2",
        "rollout.backend=ray", "rollout.num_cpus=0.25", "rollout.num_envs=2",
        f"trainer.run_dir={tmp_path}", "trainer.progress=false", "trainer.tensorboard=false",
    ]))
    try:
        result = train(cfg)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert result.iterations == 1
    assert made and all(type(env).__name__ == "RemoteEnv" for env in made)
    rows = {r["kind"]: r for r in read_metrics(tmp_path)}
    assert rows["warmup"]["demo_episodes"] == 2
    assert rows["warmup"]["demo_success_rate"] > 0  # the expert acts through the actors
    assert rows["train"]["rollout/episodes"] == 4 and rows["train"]["rollout/errors"] == 0
