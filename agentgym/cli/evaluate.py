"""``agentgym eval KEY=VALUE ...``: success rate of a policy on fixed held-out seeds.

::

    agentgym eval env=sokoban policy=expert episodes=500
    agentgym eval env=sokoban policy=runs/sokoban-gigpo-…/checkpoint-000012 episodes=200
    agentgym eval env=sokoban policy=runs/x compare=random episodes=200        # same seeds
    agentgym eval env=taxi policy=openai base_url=http://127.0.0.1:8000/v1 model=qwen k=4

``env`` is a config-group option (``sokoban``, ``taxi`` … with its prompt settings) or an
environment id. ``policy`` is ``expert``, ``random``, ``openai`` (with ``base_url`` and
``model``), a model directory, a checkpoint, or a run directory (its newest checkpoint). Seeds
start at ``seed`` (default 1,000,000: the trainer's held-out range). Prints the success rate
with a Wilson 95% interval, mean score, mean turns, invalid-action rate and, with ``k > 1``
(each task played k times), the unbiased pass@k; every episode goes to a JSONL file.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from agentgym.cli.train import CliConfigError, compose, group_options


@dataclass
class EvalArgs:
    """Options of ``agentgym eval`` (``key=value`` on the command line)."""

    #: config-group option (``sokoban``) or environment id.
    env: str = "sokoban"
    #: ``expert``, ``random``, ``openai``, a model/checkpoint directory or a run directory.
    policy: str = "expert"
    #: a second policy played on the same seeds (optional).
    compare: str | None = None
    #: tasks (seeds) to play.
    episodes: int = 100
    #: plays per task; pass@k is reported when k > 1.
    k: int = 1
    #: first seed.
    seed: int = 1_000_000
    #: environment threads.
    workers: int = 8
    #: sampling temperature of model policies (default: 0 when k = 1, else 1).
    temperature: float | None = None
    #: longest response of model policies.
    max_new_tokens: int = 128
    #: prompts per generation batch (model policies).
    batch_size: int = 64
    #: turn limit override.
    max_turns: int | None = None
    #: ``cpu``, ``cuda`` or ``auto`` (model policies).
    device: str = "auto"
    #: OpenAI-compatible endpoint (policy=openai).
    base_url: str | None = None
    #: model name sent to the endpoint (policy=openai).
    model: str | None = None
    #: JSONL file for the episodes (default ``evals/<env>-<policy>-<time>.jsonl``).
    out: str | None = None


def parse_args(pairs: list[str]) -> EvalArgs:
    """``["env=sokoban", "episodes=20"]`` → :class:`EvalArgs` (one clear error per problem)."""
    fields = {f.name: f for f in dataclasses.fields(EvalArgs)}
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if key == "group_size":
            key = "k"
        if not sep or not key:
            raise CliConfigError(f"expected key=value, got {pair!r}")
        if key not in fields:
            raise CliConfigError(
                f"unknown eval option {key!r}; known: {', '.join(sorted(fields))}"
            )
        kind = str(fields[key].type)
        try:
            if raw.lower() in ("null", "none", "") and "None" in kind:
                values[key] = None
            elif kind.startswith("int"):
                values[key] = int(raw)
            elif kind.startswith("float"):
                values[key] = float(raw)
            else:
                values[key] = raw
        except ValueError:
            raise CliConfigError(f"{key}={raw!r} is not a valid {kind.split(' ')[0]}") from None
    args = EvalArgs(**values)
    if args.episodes < 1 or args.k < 1:
        raise CliConfigError("episodes and k must be >= 1")
    return args


def env_config(name: str) -> Any:
    """The trainer's :class:`EnvConfig` for a group option, or defaults for an env id."""
    from omegaconf import OmegaConf

    from agentgym.core.registration import resolve_id
    from agentgym.trainers.config import EnvConfig, from_dict

    if name in group_options()["env"]:
        cfg = compose([f"env={name}"])
        return from_dict(EnvConfig, OmegaConf.to_container(cfg.env, resolve=True))
    return EnvConfig(id=resolve_id(name))


def build_policy(spec: str, args: EvalArgs, env: Any) -> tuple[Any, str, str]:
    """``(policy, display name, action format)`` for a policy spec."""
    from agentgym.core.policies import make_policy

    if spec in ("expert", "random"):
        policy = make_policy(spec, seed=args.seed) if spec == "random" else make_policy(spec)
        return policy, spec, env.action_format
    if spec == "openai":
        if not args.base_url or not args.model:
            raise CliConfigError("policy=openai needs base_url=... and model=...")
        temperature = args.temperature if args.temperature is not None else (
            0.0 if args.k == 1 else 1.0)
        policy = make_policy("openai", base_url=args.base_url, model=args.model,
                             temperature=temperature, max_tokens=args.max_new_tokens)
        return policy, f"openai:{args.model}", env.action_format
    path = Path(spec).expanduser()
    if not path.exists():
        raise CliConfigError(
            f"policy {spec!r} is not expert, random, openai or an existing directory"
        )
    return _model_policy(path, args, env), path.name, env.action_format


def _model_policy(path: Path, args: EvalArgs, env: Any) -> Any:
    from agentgym.trainers.checkpoint import latest_checkpoint
    from agentgym.trainers.config import ModelConfig
    from agentgym.trainers.engines import HFEngine
    from agentgym.trainers.model import load_policy, resolve_device

    if not _is_model_dir(path):
        newest = latest_checkpoint(path)
        if newest is None:
            raise CliConfigError(f"{path} holds neither a model (config.json) nor checkpoints")
        path = newest
    device = resolve_device(args.device)
    model, tokenizer = load_policy(ModelConfig(name=str(path), path=str(path)), env, device)
    temperature = args.temperature if args.temperature is not None else (
        0.0 if args.k == 1 else 1.0)
    return HFEngine(model, tokenizer, temperature=temperature, max_new_tokens=args.max_new_tokens,
                    stop=["</action>"] if env.action_format == "xml" else [],
                    batch_size=args.batch_size, seed=args.seed, device=device)


def _is_model_dir(path: Path) -> bool:
    """A Hugging Face model directory (a run directory's config.json is the train config)."""
    import json

    config = path / "config.json"
    try:
        return config.exists() and "model_type" in json.loads(config.read_text())
    except ValueError:
        return False


def run_eval(args_ns: argparse.Namespace, console: Console) -> int:
    """Entry of ``agentgym eval``; returns the exit code."""
    from agentgym.core.trajectory import save_episodes
    from agentgym.trainers.evaluation import episode_metrics, run_episodes

    try:
        args = parse_args(list(args_ns.options))
        env = env_config(args.env)
        if args.max_turns is not None:
            env.max_turns = args.max_turns
        specs = [args.policy] + ([args.compare] if args.compare else [])
        policies = [build_policy(spec, args, env) for spec in specs]
    except CliConfigError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    seeds = list(range(args.seed, args.seed + args.episodes))
    results = []
    for policy, name, _ in policies:
        start = time.perf_counter()
        episodes = run_episodes(env, policy, seeds, group_size=args.k,
                                num_workers=args.workers, max_batch_size=args.batch_size)
        elapsed = time.perf_counter() - start
        metrics = episode_metrics(episodes, k=args.k)
        out = Path(args.out) if args.out else _default_out(env.id, name)
        if len(policies) > 1 and args.out:
            out = out.with_name(f"{out.stem}-{name}{out.suffix}")
        save_episodes(episodes, out)
        results.append((name, metrics, elapsed, out))
    _print(console, env.id, args, results)
    return 0


def _default_out(env_id: str, policy: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in policy)
    return Path("evals") / f"{env_id.split('/')[-1]}-{safe}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


def _print(console: Console, env_id: str, args: EvalArgs, results: list) -> None:
    from rich.table import Table

    table = Table(title=f"{env_id} · {args.episodes} tasks × {args.k} · seeds {args.seed}…"
                        f"{args.seed + args.episodes - 1}")
    columns = ["policy", "success (95% CI)", "mean score", "mean turns", "invalid actions"]
    if args.k > 1:
        columns.append(f"pass@{args.k}")
    columns.append("time")
    for column in columns:
        table.add_column(column)
    for name, m, elapsed, _ in results:
        row = [
            name,
            f"{m['success_rate']:.1%} ({m['success_ci_low']:.1%}–{m['success_ci_high']:.1%})",
            f"{m['mean_score']:.3f}",
            f"{m['mean_turns']:.1f}",
            f"{m['invalid_action_rate']:.1%}",
        ]
        if args.k > 1:
            row.append(f"{m[f'pass@{args.k}']:.1%}")
        row.append(f"{elapsed:.1f}s")
        table.add_row(*row)
    console.print(table)
    for name, m, _, out in results:
        console.print(
            f"{name}: success rate {m['success_rate']:.1%} (95% CI {m['success_ci_low']:.1%}–"
            f"{m['success_ci_high']:.1%}), n={m['episodes']}; episodes written to {out}",
            markup=False, highlight=False, soft_wrap=True,
        )
    if len(results) == 2:
        diff = results[0][1]["success_rate"] - results[1][1]["success_rate"]
        console.print(
            f"difference {results[0][0]} − {results[1][0]}: {diff:+.1%} on the same seeds",
            markup=False, highlight=False, soft_wrap=True,
        )


def add_parser(sub: Any) -> None:
    """Register the ``eval`` subcommand."""
    parser = sub.add_parser(
        "eval", help="evaluate a policy on held-out seeds (key=value options)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("options", nargs="*", help="env=… policy=… episodes=… k=… compare=…")
    parser.set_defaults(func=run_eval)
