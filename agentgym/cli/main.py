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
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.text import Text

from agentgym.cli.errors import DEBUG_ENV_VAR, CliConfigError, fail
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
        line = Text("✗ ", style="red")
        line.append(problem)  # plain text: a problem may contain [brackets]
        console.print(line, highlight=False)
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


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (argparse prints one line and exits 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: …`` on stderr, exit code 2) instead of a usage
    block; ``--help`` still prints the usage."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message} (see `{self.prog} --help`)", 2)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="agentgym",
        description="A gym and trainer for multi-turn LLM agents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    envs = sub.add_parser("envs", help="list registered environments")
    envs.add_argument("--family", help="only this family (text, tool, web, swe, gui, multiagent)")
    envs.set_defaults(func=_cmd_envs)

    check = sub.add_parser("check", help="check that an environment follows the contract")
    check.add_argument("env_id", help="registered id, short name, or module:namespace/Name-v0")
    check.add_argument("--tasks", type=_at_least(1), default=None,
                       help="tasks the expert must solve")
    check.set_defaults(func=_cmd_check)

    play = sub.add_parser("play", help="play an environment in the terminal")
    play.add_argument("env_id")
    play.add_argument("--seed", type=_at_least(0), default=0, help="task seed (default 0)")
    play.add_argument("--max-turns", type=_at_least(1), default=None,
                      help="override the turn limit")
    play.set_defaults(func=_cmd_play)

    rollout = sub.add_parser("rollout", help="play a policy on many tasks and save the episodes")
    rollout.add_argument("env_id")
    rollout.add_argument("--policy", default="random", help="random | expert | openai")
    rollout.add_argument("--episodes", type=_at_least(1), default=16,
                         help="number of tasks (seeds)")
    rollout.add_argument("--group-size", type=_at_least(1), default=1, help="plays per task")
    rollout.add_argument("--seed", type=_at_least(0), default=0, help="first task seed")
    rollout.add_argument("--max-turns", type=_at_least(1), default=None,
                         help="override the turn limit")
    rollout.add_argument("--workers", type=_at_least(0), default=None,
                         help="environment threads")
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
    from agentgym.cli import serve as serve_cli
    from agentgym.cli import train as train_cli

    train_cli.add_parser(sub)
    eval_cli.add_parser(sub)
    plot_cli.add_parser(sub)
    serve_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Entry point of the ``agentgym`` console script; returns the exit code.

    Exit codes: 0 success, 1 a run failed (infrastructure, training, I/O), 2 bad input (an
    unknown env id, option or config value), 130 interrupted. Every error is one line on stderr;
    ``AGENTGYM_DEBUG=1`` shows the traceback instead.
    """
    from agentgym.core.preflight import InfrastructureError

    console = console or Console()
    # Let ``module:namespace/Name-v0`` find modules in the current directory, as ``python -m``.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported in one line
        return int(exc.code or 0)
    func: Callable[[argparse.Namespace, Console], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    debug = os.environ.get(DEBUG_ENV_VAR, "") not in ("", "0")
    try:
        return func(args, console)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UnknownEnvError, CliConfigError) as exc:
        if debug:
            raise
        return fail(str(exc), 2)
    except InfrastructureError as exc:
        if debug:
            raise
        return fail(str(exc), 1)
    except (OSError, ValueError, RuntimeError) as exc:
        if debug:
            raise
        kind = "" if isinstance(exc, RuntimeError | ValueError) else f"{type(exc).__name__}: "
        return fail(f"{kind}{exc} (set {DEBUG_ENV_VAR}=1 for the traceback)", 1)


if __name__ == "__main__":
    raise SystemExit(main())
