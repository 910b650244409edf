"""``agentgym train [GROUP=OPTION ...] [KEY=VALUE ...]``: compose the Hydra config and train.

::

    agentgym train env=sokoban algo=gigpo trainer.iterations=3
    agentgym train env=sokoban algo=grpo --cfg job      # print the resolved config, do nothing
    agentgym train --help                               # groups, options and the resolved config

The configuration is composed with Hydra's compose API from the ``agentgym.configs`` package
(groups ``env/``, ``algo/``, ``reward/``, ``model/``, ``trainer/``), converted to the typed
:class:`~agentgym.trainers.config.TrainConfig` (unknown keys are errors) and handed to
:func:`agentgym.trainers.recipe.train`. Hydra and OmegaConf stay in this module.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources
from typing import Any

from rich.console import Console

GROUPS = ("env", "algo", "reward", "model", "trainer")
_OVERRIDE = re.compile(r"^Could not override '([^']+)'")
_MISSING = re.compile(r"Could not find '([^'/]+)/([^']+)'")


class CliConfigError(ValueError):
    """A bad override or config value: printed as one line, exit code 2."""


def group_options() -> dict[str, list[str]]:
    """The options of each config group (the YAML files shipped in ``agentgym.configs``)."""
    root = resources.files("agentgym.configs")
    out: dict[str, list[str]] = {}
    for group in GROUPS:
        folder = root / group
        out[group] = sorted(
            p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")
        ) if folder.is_dir() else []
    return out


def _first_line(exc: BaseException) -> str:
    """One line saying what is wrong (Hydra's messages span several lines)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    match = _OVERRIDE.match(lines[0])
    if match:
        return (f"unknown config key {match.group(1)!r} (not in the composed config; see "
                "`agentgym train --cfg job` for the valid keys)")
    missing = _MISSING.search(lines[0])
    if missing and missing.group(1) in GROUPS:
        group, option = missing.groups()
        return (f"unknown {group} option {option!r}; available: "
                f"{', '.join(group_options()[group])}")
    return lines[0] if len(lines) == 1 or len(lines[0]) >= 40 else " ".join(lines[:2])


def compose(overrides: list[str], config_name: str = "config") -> Any:
    """Compose ``agentgym.configs/<config_name>.yaml`` with ``overrides`` (an OmegaConf object).

    Raises:
        CliConfigError: unknown group option, unknown key, or an override Hydra cannot parse.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="agentgym.configs", version_base=None):
            return hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise CliConfigError(_first_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()


def to_train_config(cfg: Any) -> Any:
    """The typed :class:`TrainConfig` of a composed config (unknown keys are errors)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from agentgym.trainers.config import ConfigError, TrainConfig, from_dict, validate

    try:
        data = OmegaConf.to_container(cfg, resolve=True)
        return validate(from_dict(TrainConfig, data))  # type: ignore[arg-type]
    except (ConfigError, OmegaConfBaseException) as exc:
        raise CliConfigError(_first_line(exc)) from None


def help_text(overrides: list[str]) -> str:
    from omegaconf import OmegaConf

    options = group_options()
    lines = [
        "usage: agentgym train [GROUP=OPTION ...] [KEY=VALUE ...] [--cfg job] [--help]",
        "",
        "Train an LLM agent with RL: warm start, then rollout → credit → PPO update.",
        "",
        "config groups (GROUP=OPTION):",
        *(f"  {group:8s} {', '.join(options[group])}" for group in GROUPS),
        "",
        "examples:",
        "  agentgym train env=sokoban algo=gigpo",
        "  agentgym train env=sokoban algo=grpo reward=gated trainer.iterations=20",
        "  agentgym train model=qwen2.5-1.5b-instruct model.path=/models/Qwen2.5-1.5B-Instruct "
        "trainer=gpu",
        "  agentgym train trainer.run_dir=runs/x trainer.resume=true   # continue a killed run",
        "",
        "resolved config:",
    ]
    try:
        resolved = OmegaConf.to_yaml(compose(overrides))
    except CliConfigError as exc:
        resolved = f"  (cannot compose: {exc})"
    return "\n".join(lines) + "\n" + resolved


def run_train(args: argparse.Namespace, console: Console) -> int:
    """Entry of ``agentgym train``; returns the exit code."""
    from omegaconf import OmegaConf

    overrides = list(args.overrides)
    if args.help:
        console.print(help_text(overrides), markup=False, highlight=False, soft_wrap=True)
        return 0
    try:
        cfg = compose(overrides)
        if args.cfg:
            console.print(OmegaConf.to_yaml(cfg, resolve=True), markup=False, highlight=False,
                          soft_wrap=True)
            to_train_config(cfg)  # still report bad values
            return 0
        train_cfg = to_train_config(cfg)
    except CliConfigError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    from agentgym.trainers.config import ConfigError
    from agentgym.trainers.recipe import train

    try:
        train(train_cfg, console=console)
    except ConfigError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


def add_parser(sub: Any) -> None:
    """Register the ``train`` subcommand on an argparse subparsers object."""
    parser = sub.add_parser("train", help="train a policy with RL (Hydra overrides)",
                            add_help=False)
    parser.add_argument("overrides", nargs="*", help="GROUP=OPTION or KEY=VALUE")
    parser.add_argument("--cfg", choices=["job", "all"], default=None,
                        help="print the resolved config and exit")
    parser.add_argument("-h", "--help", action="store_true", help="groups, options, config")
    parser.set_defaults(func=run_train)
