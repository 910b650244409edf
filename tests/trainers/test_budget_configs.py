"""Environment-specific budgets (configs/budget/<env>_<trainer>.yaml) bind to TrainerConfig and
are picked up automatically when that env and trainer are composed."""

from __future__ import annotations

from pathlib import Path

import hydra  # noqa: F401  (a missing dependency must fail, not skip)
import pytest
import yaml
from omegaconf import OmegaConf

from agentgym.cli.train import compose
from agentgym.trainers.config import TrainConfig, from_dict

BUDGETS = sorted((Path(__file__).resolve().parents[2] / "configs" / "budget").glob("*.yaml"))


def test_there_are_budgets_for_the_slow_envs():
    names = {path.stem for path in BUDGETS}
    assert {"swe_cpu", "webshop_cpu", "webshop_browser_cpu", "textworld_cpu"} <= names


@pytest.mark.parametrize("path", BUDGETS, ids=lambda p: p.stem)
def test_budget_binds_and_applies(path):
    env, trainer = path.stem.rsplit("_", 1)
    cfg = compose([f"env={env}", f"trainer={trainer}"])
    whole = from_dict(TrainConfig, OmegaConf.to_container(cfg, resolve=True))
    budget = yaml.safe_load(path.read_text())
    assert whole.trainer.iterations == budget["iterations"]
    assert whole.trainer.warmup_episodes == budget["warmup_episodes"]


def test_sokoban_keeps_the_trainer_defaults():
    cfg = compose(["env=sokoban", "trainer=cpu"])
    plain = compose(["trainer=cpu"])
    assert cfg.trainer == plain.trainer
