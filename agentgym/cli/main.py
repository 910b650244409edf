"""The ``agentgym`` command line.

::

    agentgym envs                                   # registered environments
    agentgym check agentgym/Sokoban-v0              # conformance check
    agentgym play sokoban                           # play in the terminal
    agentgym rollout agentgym/Sokoban-v0 --policy expert --episodes 64 --out runs/x.jsonl
    agentgym train env=sokoban algo=gigpo            # RL training (Hydra overrides)
    agentgym eval env=sokoban policy=expert episodes=500
    agentgym plot runs/sokoban-gigpo-…               # learning curves as PNG

An environment defined in your own module can be named ``module:namespace/Name-v0``; the module
is imported (from the current directory too) so that its ``agentgym.register`` call runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from agentgym.core.registration import UnknownEnvError


def _cmd_envs(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from agentgym.core.registration import load_plugins, registry

    load_plugins()
    table = Table(title="agentgym environments")
    for column in ("id", "family", "max turns", "description"):
        table.add_column(column)
    for env_id, env_spec in sorted(registry.items(), key=lambda kv: (kv[1].family, kv[0])):
        if args.family and env_spec.family != args.family:
            continue
        limit = "" if env_spec.max_episode_steps is None else str(env_spec.max_episode_steps)
        table.add_row(env_id, env_spec.family, limit, env_spec.description)
    console.print(table)
    return 0


def _cmd_check(args: argparse.Namespace, console: Console) -> int:
    from agentgym.core.checker import check_env

    report = check_env(args.env_id, n_tasks=args.tasks, raise_on_error=False)
    for name in report.passed:
        console.print(f"[green]✓[/green] {name}")
    for problem in report.problems:
        console.print(f"[red]✗[/red] {problem}", markup=False, highlight=False)
    if report.expert_episodes:
        console.print(
            f"expert solved {report.expert_successes}/{report.expert_episodes} tasks"
        )
    if report.ok:
        console.print(f"[bold green]{report.env_id} conforms to the agentgym contract[/bold green]")
        return 0
    console.print(f"[bold red]{report.env_id}: {len(report.problems)} problems[/bold red]")
    return 1


def _cmd_play(args: argparse.Namespace, console: Console) -> int:
    from agentgym.cli.play import play

    return play(args.env_id, seed=args.seed, max_turns=args.max_turns, console=console)


def _cmd_rollout(args: argparse.Namespace, console: Console) -> int:
    from agentgym.cli.rollout import run_rollout

    return run_rollout(args, console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentgym",
        description="A gym and trainer for multi-turn LLM agents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    envs = sub.add_parser("envs", help="list registered environments")
    envs.add_argument("--family", help="only this family (text, tool, web, swe, gui, multiagent)")
    envs.set_defaults(func=_cmd_envs)

    check = sub.add_parser("check", help="check that an environment follows the contract")
    check.add_argument("env_id", help="registered id, short name, or module:namespace/Name-v0")
    check.add_argument("--tasks", type=int, default=None, help="tasks the expert must solve")
    check.set_defaults(func=_cmd_check)

    play = sub.add_parser("play", help="play an environment in the terminal")
    play.add_argument("env_id")
    play.add_argument("--seed", type=int, default=0, help="task seed (default 0)")
    play.add_argument("--max-turns", type=int, default=None, help="override the turn limit")
    play.set_defaults(func=_cmd_play)

    rollout = sub.add_parser("rollout", help="play a policy on many tasks and save the episodes")
    rollout.add_argument("env_id")
    rollout.add_argument("--policy", default="random", help="random | expert | openai")
    rollout.add_argument("--episodes", type=int, default=16, help="number of tasks (seeds)")
    rollout.add_argument("--group-size", type=int, default=1, help="plays per task")
    rollout.add_argument("--seed", type=int, default=0, help="first task seed")
    rollout.add_argument("--max-turns", type=int, default=None, help="override the turn limit")
    rollout.add_argument("--workers", type=int, default=None, help="environment threads")
    rollout.add_argument("--out", type=Path, default=None, help="write episodes as JSONL here")
    rollout.add_argument("--base-url", default=None, help="openai policy: server URL")
    rollout.add_argument("--model", default=None, help="openai policy: model name")
    rollout.add_argument(
        "--action-format", default=None, help="plain | xml | json (default: plain, xml for openai)"
    )
    rollout.set_defaults(func=_cmd_rollout)

    from agentgym.cli.sandbox import add_parser as add_sandbox_parser

    add_sandbox_parser(sub)

    from agentgym.cli import evaluate as eval_cli
    from agentgym.cli import plot as plot_cli
    from agentgym.cli import train as train_cli

    train_cli.add_parser(sub)
    eval_cli.add_parser(sub)
    plot_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Entry point of the ``agentgym`` console script; returns the exit code."""
    console = console or Console()
    # Let ``module:namespace/Name-v0`` find modules in the current directory, as ``python -m``.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Console], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return func(args, console)
    except UnknownEnvError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
