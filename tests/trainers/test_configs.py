"""Every shipped config binds to the dataclass or signature it targets (unknown keys fail)."""

from __future__ import annotations

import inspect

import hydra  # noqa: F401  (a missing dependency must fail, not skip)
import pytest
from omegaconf import OmegaConf

from agentgym import credit
from agentgym.cli.train import GROUPS, CliConfigError, compose, group_options
from agentgym.trainers.config import (
    AlgoConfig,
    ConfigError,
    EnvConfig,
    ModelConfig,
    RewardConfig,
    TrainConfig,
    TrainerConfig,
    from_dict,
    validate,
)

TARGETS = {"env": EnvConfig, "algo": AlgoConfig, "reward": RewardConfig, "model": ModelConfig,
           "trainer": TrainerConfig}
SHIPPED = [(group, option) for group in GROUPS for option in group_options()[group]]


def test_every_group_has_options():
    options = group_options()
    for group in GROUPS:
        assert options[group], group
    assert {"sokoban", "frozenlake", "taxi", "textworld"} <= set(options["env"])
    assert {"grpo", "drgrpo", "rloo", "gigpo", "salt"} <= set(options["algo"])
    assert {"none", "gated"} <= set(options["reward"])
    assert {"tiny", "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct",
            "qwen2.5-7b-instruct"} <= set(options["model"])
    assert {"cpu", "gpu"} <= set(options["trainer"])


@pytest.mark.parametrize(("group", "option"), SHIPPED)
def test_shipped_config_binds(group, option):
    cfg = compose([f"{group}={option}"])
    data = OmegaConf.to_container(cfg[group], resolve=True)
    part = from_dict(TARGETS[group], data, path=group)
    if group == "algo":
        fn = credit.get(part.name)
        inspect.signature(fn).bind(None, **part.params)
    if group == "reward" and part.name is not None:
        fn = credit.get_transform(part.name)
        inspect.signature(fn).bind(None, **part.params)
    if group == "env":
        from agentgym.core.registration import spec

        spec(part.id)  # a registered id
    whole = from_dict(TrainConfig, OmegaConf.to_container(cfg, resolve=True))
    if group == "model" and option != "tiny":
        whole.model.path = "/models/x"  # real models need a local path
    validate(whole)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match=r"unknown config key trainer\.itrations"):
        from_dict(TrainConfig, {"trainer": {"itrations": 3}})
    with pytest.raises(ConfigError, match="expected an integer"):
        from_dict(TrainConfig, {"trainer": {"iterations": "three"}})


def test_real_model_without_path_is_rejected():
    cfg = from_dict(TrainConfig, {"model": {"name": "qwen2.5-1.5b-instruct"}})
    with pytest.raises(ConfigError, match=r"model\.path"):
        validate(cfg)


def test_compose_errors_are_one_line():
    for overrides in (["algo=nope"], ["trainer.nokey=1"], ["trainer.iterations=[1"]):
        with pytest.raises(CliConfigError) as info:
            compose(overrides)
        assert "\n" not in str(info.value)
