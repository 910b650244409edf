"""The config layout: every shipped option binds to its dataclass, each group is one axis, the
dataclasses are the one source of defaults, and every value is range-checked."""

from __future__ import annotations

import dataclasses
import inspect
import itertools

import hydra  # noqa: F401  (a missing dependency must fail, not skip)
import pytest
from omegaconf import OmegaConf

from agentgym import credit
from agentgym.cli.train import GROUPS, CliConfigError, compose, group_options, with_budget
from agentgym.trainers.config import (
    ENGINE_NAMES,
    AlgoConfig,
    BudgetConfig,
    ConfigError,
    EnvConfig,
    HardwareConfig,
    ModelConfig,
    RewardConfig,
    TrainConfig,
    from_dict,
    to_dict,
    validate,
)
from agentgym.trainers.credit_inputs import method_params, provided_inputs

TARGETS = {"env": EnvConfig, "algo": AlgoConfig, "reward": RewardConfig, "model": ModelConfig,
           "hardware": HardwareConfig, "budget": BudgetConfig}
SHIPPED = [(group, option) for group in GROUPS for option in group_options()[group]]


def _composed(overrides: list[str]) -> dict:
    return OmegaConf.to_container(compose(overrides), resolve=True)  # type: ignore[return-value]


def _flat(data: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("kwargs", "eval_kwargs", "warmup_kwargs",
                                                   "params"):
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


def _bound(overrides: list[str]) -> TrainConfig:
    whole = from_dict(TrainConfig, _composed(overrides))
    if whole.model.name != "tiny":
        whole.model.path = "/models/x"  # real models need a local path
    return validate(whole)


def test_every_group_has_options():
    options = group_options()
    for group in GROUPS:
        assert options[group], group
    assert {"sokoban", "frozenlake", "taxi", "textworld", "webshop", "swe"} <= set(options["env"])
    assert {"grpo", "drgrpo", "rloo", "gigpo", "salt"} <= set(options["algo"])
    assert {"none", "gated"} <= set(options["reward"])
    assert {"tiny", "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct",
            "qwen2.5-7b-instruct"} <= set(options["model"])
    assert {"cpu", "gpu"} <= set(options["hardware"])
    assert {"cpu", "gpu", "swe_cpu", "webshop_cpu", "textworld_cpu"} <= set(options["budget"])
    assert not any(o.startswith("_") for group in GROUPS for o in options[group])


@pytest.mark.parametrize(("group", "option"), SHIPPED)
def test_shipped_option_binds_and_states_every_key(group, option):
    data = _composed([f"{group}={option}"])
    part = from_dict(TARGETS[group], data[group], path=group)
    # every key of the dataclass is in the composed group: all of them can be overridden
    # without `+`, and `--cfg job` shows the whole group
    assert _flat(data[group]).keys() == _flat(to_dict(TARGETS[group]())).keys()
    # the params minus the options of the method's credit-inputs provider bind to the method,
    # together with what that provider supplies
    if group == "algo":
        inspect.signature(credit.get(part.name)).bind(
            None, **method_params(part.name, part.params),
            **dict.fromkeys(provided_inputs(part.name)))
    if group == "reward" and part.name is not None:
        inspect.signature(credit.get_transform(part.name)).bind(
            None, **method_params(part.name, part.params),
            **dict.fromkeys(provided_inputs(part.name)))
    if group == "env":
        from agentgym.core.registration import spec

        spec(part.id)  # a registered id
    _bound([f"{group}={option}"])


def test_dataclasses_are_the_one_source_of_defaults():
    """Composing the default options gives exactly TrainConfig(): the YAML files and the
    dataclass defaults agree, and the README's main job is TrainConfig()."""
    assert to_dict(_bound([])) == to_dict(TrainConfig())


@pytest.mark.parametrize("group", [g for g in GROUPS if g != "budget"])
def test_each_group_is_one_axis(group):
    """Choosing any option of one group changes no key outside that group."""
    base = _flat(_composed(["budget=cpu"]))
    for option in group_options()[group]:
        other = _flat(_composed([f"{group}={option}", "budget=cpu"]))
        changed = {key for key in base if base[key] != other[key]}
        assert all(key.startswith(group + ".") for key in changed), (option, changed)


@pytest.mark.parametrize(
    ("hardware", "algo"),
    list(itertools.product(group_options()["hardware"], group_options()["algo"])),
)
def test_algorithm_hyperparameters_do_not_depend_on_the_hardware(hardware, algo):
    on_cpu = _bound([f"algo={algo}", "hardware=cpu"])
    other = _bound([f"algo={algo}", f"hardware={hardware}"])
    assert to_dict(other.algo) == to_dict(on_cpu.algo)
    assert to_dict(other.reward) == to_dict(on_cpu.reward)
    assert to_dict(other.model) == to_dict(on_cpu.model)


def test_budget_follows_env_and_hardware_unless_chosen():
    assert with_budget(["env=swe"])[-1] == "budget=swe_cpu"
    assert with_budget(["env=taxi"])[-1] == "budget=cpu"
    assert with_budget(["env=swe", "hardware=gpu"])[-1] == "budget=gpu"
    assert with_budget(["env=swe", "budget=gpu"]) == ["env=swe", "budget=gpu"]
    assert _bound(["env=swe"]).budget.iterations == 2
    assert _bound(["env=swe", "budget.iterations=7"]).budget.iterations == 7


def test_no_key_overrides_another_the_warmup_case():
    """Before 0.2, trainer.warmup_episodes (400 on trainer=cpu) silently replaced
    trainer.warmup.episodes; now there is one key, and the old names map onto it."""
    assert _bound(["budget.warmup_episodes=10"]).budget.warmup_episodes == 10
    assert _bound(["trainer.warmup.episodes=10"]).budget.warmup_episodes == 10
    assert _bound(["trainer=cpu", "trainer.warmup.episodes=10"]).budget.warmup_episodes == 10
    fields = {f.name for f in dataclasses.fields(TrainConfig().budget)}
    assert "warmup_episodes" in fields and "episodes" not in fields
    # an algo prescribes its loss aggregation inside its own group, nowhere else
    drgrpo = _bound(["algo=drgrpo"])
    assert drgrpo.algo.loss.agg_mode == "seq-mean-token-sum-norm"
    assert not hasattr(drgrpo.algo, "loss_agg_mode")


def test_engine_names_match_the_engine_table():
    from agentgym.trainers.engines import ENGINES

    assert set(ENGINE_NAMES) == set(ENGINES)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match=r"unknown config key budget\.itrations"):
        from_dict(TrainConfig, {"budget": {"itrations": 3}})
    with pytest.raises(ConfigError, match="expected an integer"):
        from_dict(TrainConfig, {"budget": {"iterations": "three"}})
    with pytest.raises(ConfigError, match="finite"):
        from_dict(TrainConfig, {"algo": {"optim": {"lr": float("nan")}}})


def test_real_model_without_path_is_rejected():
    cfg = from_dict(TrainConfig, {"model": {"name": "qwen2.5-1.5b-instruct"}})
    with pytest.raises(ConfigError, match=r"model\.path"):
        validate(cfg)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"algo": {"warmup": {"batch_size": 0}}}, "algo.warmup.batch_size"),
        ({"env": {"max_new_tokens": 0}}, "env.max_new_tokens"),
        ({"algo": {"optim": {"lr": -1}}}, "algo.optim.lr"),
        ({"env": {"max_turns": 0}}, "env.max_turns"),
        ({"hardware": {"env_workers": -1}}, "hardware.env_workers"),
        ({"budget": {"checkpoint_every": -1}}, "budget.checkpoint_every"),
        ({"algo": {"temperature": -1}}, "algo.temperature"),
        ({"algo": {"top_p": 0}}, "algo.top_p"),
        ({"algo": {"top_p": 1.5}}, "algo.top_p"),
        ({"algo": {"loss": {"agg_mode": "sum"}}}, "algo.loss.agg_mode"),
        ({"algo": {"optim": {"betas": [0.9]}}}, "algo.optim.betas"),
        ({"hardware": {"micro_batch_size": 0}}, "hardware.micro_batch_size"),
        ({"hardware": {"engine": "tpu"}}, "hardware.engine"),
        ({"hardware": {"device": "tpu"}}, "hardware.device"),
        ({"budget": {"group_size": 0}}, "budget.group_size"),
        ({"budget": {"iterations": -1}}, "budget.iterations"),
        ({"budget": {"warmup_noise": 1.0}}, "budget.warmup_noise"),
        ({"budget": {"warmup_noise": -0.1}}, "budget.warmup_noise"),
        ({"model": {"dtype": "float16"}}, "model.dtype"),
        ({"model": {"tiny": {"num_heads": 3}}}, "model.tiny.hidden_size"),
        ({"env": {"action_format": "yaml"}}, "env.action_format"),
        ({"trainer": {"eval_temperature": -0.5}}, "trainer.eval_temperature"),
    ],
)
def test_out_of_range_values_are_rejected_before_anything_is_built(data, key):
    with pytest.raises(ConfigError, match=rf"^{key.replace('.', r'[.]')}="):
        validate(from_dict(TrainConfig, data))


def test_compose_errors_are_one_line():
    for overrides in (["algo=nope"], ["budget.nokey=1"], ["budget.iterations=[1"]):
        with pytest.raises(CliConfigError) as info:
            compose(overrides)
        assert "\n" not in str(info.value)


def test_demonstrations_and_evaluation_override_the_training_kwargs():
    env = _bound(["env=textworld", "+env.eval_kwargs.pool_size=16"]).env
    assert env.kwargs["split"] == "easy" and "pool_size" not in env.kwargs
    assert env.demonstrations().kwargs == {**env.kwargs, "pool_size": 128}  # textworld.yaml
    assert env.held_out().kwargs == {**env.kwargs, "pool_size": 16}
    assert env.demonstrations().max_turns == env.max_turns  # only the kwargs change
