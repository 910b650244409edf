"""``agentgym train [GROUP=OPTION ...] [KEY=VALUE ...]``: compose the Hydra config and train.

::

    agentgym train env=sokoban algo=gigpo budget.iterations=3
    agentgym train env=sokoban algo=grpo --cfg job      # print the resolved config, do nothing
    agentgym train --help                               # groups, options and the resolved config

The configuration is composed with Hydra's compose API from the ``agentgym.configs`` package —
one option per group (``env``, ``algo``, ``reward``, ``model``, ``hardware``, ``budget``) plus the
``trainer`` run section — converted to the typed :class:`~agentgym.trainers.config.TrainConfig`
(unknown keys are errors, every range is checked) and handed to
:func:`agentgym.trainers.recipe.train`. ``budget`` defaults to ``budget/<env>_<hardware>`` when
that option exists, else ``budget/<hardware>``. Hydra and OmegaConf stay in the CLI.

The group ``trainer=cpu|gpu`` and the keys under ``trainer.*`` that moved to other groups in 0.2
still work for one release, each with a one-line deprecation notice on stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib import resources
from typing import Any

from rich.console import Console

from agentgym.cli.errors import CliConfigError

GROUPS = ("env", "algo", "reward", "model", "hardware", "budget")
_OVERRIDE = re.compile(r"^Could not override '([^']+)'")
_MISSING = re.compile(r"Could not find '([^'/]+)/([^']+)'")

#: Keys that moved in 0.2 (old prefix -> new prefix), accepted with a deprecation notice.
RENAMED_KEYS: dict[str, str] = {
    "trainer.iterations": "budget.iterations",
    "trainer.tasks_per_iteration": "budget.tasks_per_iteration",
    "trainer.group_size": "budget.group_size",
    "trainer.eval_every": "budget.eval_every",
    "trainer.eval_episodes": "budget.eval_episodes",
    "trainer.checkpoint_every": "budget.checkpoint_every",
    "trainer.keep_checkpoints": "budget.keep_checkpoints",
    "trainer.warmup_episodes": "budget.warmup_episodes",
    "trainer.warmup.episodes": "budget.warmup_episodes",
    "trainer.warmup.epochs": "budget.warmup_epochs",
    "trainer.warmup": "algo.warmup",
    "trainer.loss": "algo.loss",
    "trainer.optim.micro_batch_size": "hardware.micro_batch_size",
    "trainer.optim": "algo.optim",
    "trainer.engine.backend": "hardware.engine",
    "trainer.engine.batch_size": "hardware.generation_batch_size",
    "trainer.engine.gpu_memory_utilization": "hardware.gpu_memory_utilization",
    "trainer.engine.temperature": "algo.temperature",
    "trainer.engine.top_p": "algo.top_p",
    "trainer.engine.max_new_tokens": "env.max_new_tokens",
    "trainer.engine.stop": "env.stop",
    "trainer.engine.eval_temperature": "trainer.eval_temperature",
    "trainer.device": "hardware.device",
    "trainer.num_threads": "hardware.num_threads",
    "trainer.env_workers": "hardware.env_workers",
    "algo.loss_agg_mode": "algo.loss.agg_mode",
}
#: Groups renamed in 0.2.
RENAMED_GROUPS: dict[str, str] = {"trainer": "hardware"}


def group_options() -> dict[str, list[str]]:
    """The options of each config group (the YAML files shipped in ``agentgym.configs``; files
    starting with ``_`` are shared bases, not options)."""
    root = resources.files("agentgym.configs")
    out: dict[str, list[str]] = {}
    for group in GROUPS:
        folder = root / group
        out[group] = sorted(
            p.name[: -len(".yaml")] for p in folder.iterdir()
            if p.name.endswith(".yaml") and not p.name.startswith("_")
        ) if folder.is_dir() else []
    return out


def upgrade_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """Rewrite deprecated group names and keys; returns ``(overrides, notices)``.

    ``trainer=gpu`` becomes ``hardware=gpu``; ``trainer.iterations=3`` becomes
    ``budget.iterations=3`` (the longest matching old prefix wins), each with one notice.
    """
    upgraded, notices = [], []
    for override in overrides:
        prefix = re.match(r"^[+~]*", override).group(0)  # type: ignore[union-attr]
        key, sep, value = override[len(prefix):].partition("=")
        if key in RENAMED_GROUPS and sep and "." not in key:
            new = RENAMED_GROUPS[key]
            notices.append(f"`{key}={value}` is deprecated; use `{new}={value}`")
            upgraded.append(f"{prefix}{new}={value}")
            continue
        for old in sorted(RENAMED_KEYS, key=len, reverse=True):
            if key == old or key.startswith(old + "."):
                new_key = RENAMED_KEYS[old] + key[len(old):]
                notices.append(f"`{key}` is deprecated; use `{new_key}`")
                key = new_key
                break
        upgraded.append(f"{prefix}{key}{sep}{value}")
    return upgraded, notices


def _chosen(overrides: list[str], group: str, default: str) -> str | None:
    """The option chosen for ``group`` on the command line (``default`` if none)."""
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if key == group and sep:
            return value
    return default


def with_budget(overrides: list[str]) -> list[str]:
    """Add ``budget=<env>_<hardware>`` (when that option exists, else ``budget=<hardware>``)
    unless the command line chose a budget."""
    if any(o.lstrip("+~").partition("=")[0] == "budget" for o in overrides):
        return overrides
    env = _chosen(overrides, "env", "sokoban")
    hardware = _chosen(overrides, "hardware", "cpu")
    budgets = group_options()["budget"]
    specific = f"{env}_{hardware}"
    if specific in budgets:
        return [*overrides, f"budget={specific}"]
    if hardware in budgets:
        return [*overrides, f"budget={hardware}"]
    return overrides


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


def compose(
    overrides: list[str], config_name: str = "config", *, notices: list[str] | None = None
) -> Any:
    """Compose ``agentgym.configs/<config_name>.yaml`` with ``overrides`` (an OmegaConf object).

    Deprecated names are upgraded first (their notices are appended to ``notices``), and the
    budget follows the env and hardware unless chosen.

    Raises:
        CliConfigError: unknown group option, unknown key, or an override Hydra cannot parse.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    upgraded, said = upgrade_overrides(list(overrides))
    if notices is not None:
        notices.extend(said)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="agentgym.configs", version_base=None):
            return hydra_compose(config_name=config_name, overrides=with_budget(upgraded))
    except (HydraException, OmegaConfBaseException) as exc:
        raise CliConfigError(_first_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()


def to_train_config(cfg: Any) -> Any:
    """The typed, validated :class:`TrainConfig` of a composed config.

    Raises:
        CliConfigError: an unknown key or a value of the wrong type or range.
    """
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
        "config groups (GROUP=OPTION), one axis each:",
        *(f"  {group:9s} {', '.join(options[group])}" for group in GROUPS),
        "  (budget defaults to <env>_<hardware> when that option exists, else <hardware>)",
        "",
        "examples:",
        "  agentgym train env=sokoban algo=gigpo",
        "  agentgym train env=sokoban algo=grpo reward=gated budget.iterations=20",
        "  agentgym train model=qwen2.5-1.5b-instruct model.path=/models/Qwen2.5-1.5B-Instruct "
        "hardware=gpu algo.optim.lr=1e-5 algo.warmup.prompt_loss=0",
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
    """Entry of ``agentgym train``; returns the exit code.

    Raises:
        CliConfigError: a bad override or value (the caller prints one line, exit code 2).
        agentgym.core.preflight.InfrastructureError: the environment cannot start.
    """
    from omegaconf import OmegaConf

    overrides = list(args.overrides)
    if args.help:
        console.print(help_text(overrides), markup=False, highlight=False, soft_wrap=True)
        return 0
    notices: list[str] = []
    cfg = compose(overrides, notices=notices)
    for notice in notices:
        print(f"deprecated: {notice}", file=sys.stderr)
    if args.cfg:
        console.print(OmegaConf.to_yaml(cfg, resolve=True), markup=False, highlight=False,
                      soft_wrap=True)
        to_train_config(cfg)  # still report bad values
        return 0
    train_cfg = to_train_config(cfg)
    if train_cfg.hardware.world_size > 1 and "WORLD_SIZE" not in os.environ:
        return launch_data_parallel(train_cfg.hardware.world_size, overrides)

    from agentgym.core.preflight import probe_env
    from agentgym.core.registration import resolve_id
    from agentgym.trainers.config import ConfigError
    from agentgym.trainers.model import resolve_device
    from agentgym.trainers.recipe import train

    try:
        resolve_device(train_cfg.hardware.device)
    except ConfigError as exc:
        raise CliConfigError(str(exc)) from None
    env_id = resolve_id(train_cfg.env.id)
    probe_env(env_id, env_kwargs=train_cfg.env.kwargs, seed=train_cfg.trainer.train_seed)
    try:
        train(train_cfg, console=console)
    except ConfigError as exc:
        raise CliConfigError(str(exc)) from None
    return 0


def launch_data_parallel(world_size: int, overrides: list[str]) -> int:
    """Run this ``agentgym train`` command again under ``torchrun`` with ``world_size``
    processes on this machine (rendezvous on 127.0.0.1); returns torchrun's exit code."""
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
               "--nproc-per-node", str(world_size), "--master-addr", "127.0.0.1",
               "--master-port", str(port), "-m", "agentgym.cli.main", "train", *overrides]
    env = dict(os.environ)
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: the ranks talk over loopback
    return subprocess.run(command, check=False, env=env).returncode


def add_parser(sub: Any) -> None:
    """Register the ``train`` subcommand on an argparse subparsers object."""
    parser = sub.add_parser("train", help="train a policy with RL (Hydra overrides)",
                            add_help=False)
    parser.add_argument("overrides", nargs="*", help="GROUP=OPTION or KEY=VALUE")
    parser.add_argument("--cfg", choices=["job", "all"], default=None,
                        help="print the resolved config and exit")
    parser.add_argument("-h", "--help", action="store_true", help="groups, options, config")
    parser.set_defaults(func=run_train)
