"""``agentgym train env=collab algo=sweet`` end to end on a tiny budget, graded in real docker
containers: the run completes, reports a held-out pass rate on the test split, checkpoints the
SWEET critic, and leaves no container with its owner labels behind.

Which containers are the run's is read from docker's own event log: every sandbox carries its
owner's labels (pid, host, start time), so the ``create`` events between the run's start and end
with this process's labels are the run's containers, and ``docker ps`` must list none of them
afterwards (a container another test of the same process left is not this run's).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from agentgym.cli.train import compose
from agentgym.sandboxes.docker import DockerUnavailableError, docker_client
from agentgym.sandboxes.docker.lifecycle import owner_labels
from agentgym.trainers.checkpoint import STATE_FILE, list_checkpoints
from agentgym.trainers.config import TrainConfig, from_dict
from agentgym.trainers.recipe import train

COLLAB = {"id": "agentgym/Collab-v0", "kwargs": {"split": "train", "max_questions": 2},
          "eval_kwargs": {"split": "test"}, "history_window": None, "max_turns": 6,
          "max_new_tokens": 48, "invalid_penalty": 0.1}


@pytest.fixture(scope="module")
def docker():
    try:
        return docker_client()
    except DockerUnavailableError as exc:  # never skipped: the grading needs docker
        pytest.fail(str(exc), pytrace=False)


def collab_config(run_dir: Path) -> TrainConfig:
    algo = OmegaConf.to_container(compose(["algo=sweet"]), resolve=True)["algo"]
    return from_dict(TrainConfig, {
        "env": dict(COLLAB),
        "algo": {"name": "sweet", "params": dict(algo["params"]),
                 "optim": {"lr": 1e-3, "mini_batch_size": 64, "ppo_epochs": 1},
                 "warmup": {"batch_size": 8, "lr": 3e-3}},
        "model": {"tiny": {"corpus_episodes": 2}},
        "hardware": {"device": "cpu", "micro_batch_size": 16, "num_threads": 1},
        "budget": {"iterations": 2, "tasks_per_iteration": 2, "group_size": 2,
                   "warmup_episodes": 2, "warmup_epochs": 1, "eval_every": 0,
                   "eval_episodes": 2, "checkpoint_every": 1, "keep_checkpoints": 1},
        "trainer": {"run_dir": str(run_dir), "progress": False, "tensorboard": False},
    })


def test_collab_sweet_run_grades_in_docker_and_leaves_no_container(docker, cache_root,
                                                                   tmp_path, capsys):
    labels = owner_labels()
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    # containers another test of this process left are not this run's: only the run's own
    # (named by docker's create events below) must be gone
    threads = torch.get_num_threads()
    since = int(time.time()) - 1
    try:
        result = train(collab_config(tmp_path / "run"))
    finally:
        torch.set_num_threads(threads)
    until = int(time.time()) + 1
    created = [e for e in docker.events(since=since, until=until, decode=True,
                                        filters={**filters, "type": "container",
                                                 "event": "create"})]
    assert created, "no submission was graded in a container"
    # the run's sandboxes are removed on close; on a loaded machine the daemon may still be
    # finishing a removal when the run returns
    run_containers = {event["Actor"]["ID"] for event in created}

    def left_behind() -> set[str]:
        alive = {c.id for c in docker.containers.list(all=True, filters=filters)}
        return run_containers & alive

    for _ in range(60):
        if not left_behind():
            break
        time.sleep(0.5)
    assert left_behind() == set()

    assert result.iterations == 2
    assert result.final["episodes"] == 2 and 0.0 <= result.final["success_rate"] <= 1.0
    assert "final held-out success" in capsys.readouterr().out
    state = torch.load(list_checkpoints(tmp_path / "run")[-1] / STATE_FILE, weights_only=False)
    critic = state["credit_inputs"]["algo"]
    assert {"params", "reference", "optimizer", "updates"} <= critic.keys()
