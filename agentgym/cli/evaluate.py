"""``agentgym eval KEY=VALUE ...``: success rate of a policy on fixed held-out seeds.

::

    agentgym eval env=sokoban policy=expert episodes=500
    agentgym eval env=sokoban policy=runs/sokoban-gigpo-…/checkpoint-000012 episodes=200
    agentgym eval env=sokoban policy=runs/x compare=random episodes=200        # same seeds
    agentgym eval env=sokoban policy=runs/x engine=vllm temperature=0            # vLLM, greedy
    agentgym eval env=taxi policy=openai base_url=http://127.0.0.1:8000/v1 model=qwen k=4

``env`` is a config-group option (``sokoban``, ``taxi`` … with its prompt settings, and its
``eval_kwargs`` applied as in the trainer's held-out evaluation: WebShop's, BFCL's and the other
fixed task sets' test split) or an environment id (its registered defaults). ``policy`` is
``expert``, ``random``, ``openai`` (with ``base_url`` and ``model``), a model directory, a
checkpoint, or a run directory (its newest checkpoint). Seeds start at ``seed`` (default 1,000,000:
the trainer's held-out range). Prints the success rate with a Wilson 95% interval, mean score, mean
turns, invalid-action rate and, with ``k > 1`` (each task played k times), the unbiased pass@k;
every episode goes to a JSONL file. Model policies sample at ``temperature=1`` by default — the
trainer's held-out evaluation default, so the two report the same number for the same checkpoint —
and the summary line says so. Options are the fields of
:class:`~agentgym.trainers.config.EvalConfig`; the generation engine is built by the trainer's
``make_engine`` (``engine=hf`` or ``engine=vllm``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from agentgym.cli.errors import CliConfigError, fail
from agentgym.cli.train import compose, group_options


def parse_args(pairs: list[str]) -> Any:
    """``["env=sokoban", "episodes=20"]`` → a validated
    :class:`~agentgym.trainers.config.EvalConfig`, through the trainer's typed config code
    (unknown keys and wrong types or ranges are one clear error each).

    Raises:
        CliConfigError: a malformed pair, an unknown option or a bad value.
    """
    from agentgym.trainers.config import ConfigError, EvalConfig, from_dict, validate_eval

    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if key == "group_size":
            key = "k"
        if not sep or not key:
            raise CliConfigError(f"expected key=value, got {pair!r}")
        values[key] = _scalar(raw)
    try:
        return validate_eval(from_dict(EvalConfig, values))
    except ConfigError as exc:
        raise CliConfigError(str(exc).replace("EvalConfig accepts", "eval accepts")) from None


def _scalar(raw: str) -> Any:
    """A command-line value as the YAML scalar it spells (int, float, bool, null or text)."""
    text = raw.strip()
    if text.lower() in ("null", "none", "~"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return raw


def env_config(name: str) -> Any:
    """The trainer's :class:`EnvConfig` for a group option; for a bare env id, its registered
    defaults (no kwargs, the registered turn limit, no penalty)."""
    from omegaconf import OmegaConf

    from agentgym.core.registration import resolve_id
    from agentgym.trainers.config import EnvConfig, from_dict

    if name in group_options()["env"]:
        cfg = compose([f"env={name}"])
        return from_dict(EnvConfig, OmegaConf.to_container(cfg.env, resolve=True))
    return EnvConfig(id=resolve_id(name), kwargs={}, max_turns=None, invalid_penalty=0.0)


def build_policy(spec: str, args: Any, env: Any, stack: contextlib.ExitStack) -> tuple[Any, str]:
    """``(policy, display name)`` for a policy spec; engines are closed by ``stack``."""
    from agentgym.core.policies import make_policy
    from agentgym.core.preflight import probe_endpoint

    if spec in ("expert", "random"):
        policy = make_policy(spec, seed=args.seed) if spec == "random" else make_policy(spec)
        return policy, spec
    if spec == "openai":
        if not args.base_url or not args.model:
            raise CliConfigError("policy=openai needs base_url=... and model=...")
        probe_endpoint(args.base_url)
        policy = make_policy("openai", base_url=args.base_url, model=args.model,
                             temperature=args.temperature,
                             max_tokens=args.max_new_tokens or env.max_new_tokens)
        return policy, f"openai:{args.model}"
    path = Path(spec).expanduser()
    if not path.exists():
        raise CliConfigError(
            f"policy {spec!r} is not expert, random, openai or an existing directory"
        )
    engine = _model_engine(path, args, env)
    stack.callback(engine.close)
    return engine.as_policy(args.temperature, seed=args.seed), path.name


def _model_engine(path: Path, args: Any, env: Any) -> Any:
    """The engine ``args.engine`` serving the model at ``path`` (a model, checkpoint or run
    directory), built by the same ``make_engine`` the trainer uses."""
    from agentgym.trainers.checkpoint import latest_checkpoint
    from agentgym.trainers.config import ModelConfig
    from agentgym.trainers.engines import (
        IN_PLACE_ENGINES,
        EngineBuild,
        SamplingSettings,
        make_engine,
    )
    from agentgym.trainers.model import load_policy, load_tokenizer, load_vision, resolve_device

    if not _is_model_dir(path):
        newest = latest_checkpoint(path)
        if newest is None:
            raise CliConfigError(f"{path} holds neither a model (config.json) nor checkpoints")
        path = newest
    device = resolve_device(args.device)
    sampling = SamplingSettings(
        temperature=args.temperature, max_new_tokens=args.max_new_tokens or env.max_new_tokens,
        stop=tuple(env.stop_strings()), batch_size=args.batch_size, seed=args.seed,
    )
    model_cfg = ModelConfig(name=str(path), path=str(path))
    if args.engine in IN_PLACE_ENGINES:
        model, tokenizer = load_policy(model_cfg, env, device)
    else:
        model, tokenizer = None, load_tokenizer(path)
    return make_engine(args.engine, EngineBuild(
        tokenizer=tokenizer, sampling=sampling, model=model, model_path=path, device=device,
        vision=load_vision(model_cfg, env, tokenizer),
    ))


def _is_model_dir(path: Path) -> bool:
    """A Hugging Face model directory (a run directory's config.json is the train config)."""
    import json

    config = path / "config.json"
    try:
        return config.exists() and "model_type" in json.loads(config.read_text())
    except ValueError:
        return False


def run_eval(args_ns: argparse.Namespace, console: Console) -> int:
    """Entry of ``agentgym eval``; returns the exit code.

    Raises:
        CliConfigError: a bad option (one line, exit code 2).
        InfrastructureError: the environment or an endpoint cannot be used (exit code 1).
    """
    from agentgym.core.preflight import failed_episodes_error, probe_env
    from agentgym.core.registration import spec
    from agentgym.core.trajectory import save_episodes
    from agentgym.trainers.config import ConfigError
    from agentgym.trainers.evaluation import episode_metrics, run_episodes
    from agentgym.trainers.selfplay import play_against, seats

    args = parse_args(list(args_ns.options))
    env = env_config(args.env).held_out()  # the env group's eval_kwargs, e.g. its test split
    if args.max_turns is not None:
        env.max_turns = args.max_turns
    probe_env(env.id, env_kwargs=env.kwargs, seed=args.seed)
    seeds = list(range(args.seed, args.seed + args.episodes))
    results = []
    multiagent = spec(env.id).family == "multiagent"
    if args.opponent is not None and not multiagent:
        raise CliConfigError(f"opponent= needs a multi-agent environment; {env.id} has one seat")
    with contextlib.ExitStack() as stack:
        try:
            specs = [args.policy] + ([args.compare] if args.compare else [])
            policies = [build_policy(spec, args, env, stack) for spec in specs]
            opponent = (build_policy(args.opponent, args, env, stack)[0]
                        if args.opponent is not None else None)
        except ConfigError as exc:
            raise CliConfigError(str(exc)) from None
        seat_names = seats(env) if multiagent else []
        for policy, name in policies:
            start = time.perf_counter()
            kwargs = {"group_size": args.k, "num_workers": args.workers,
                      "max_batch_size": args.batch_size}
            if multiagent:
                episodes = play_against(run_episodes, env, policy, opponent, seeds, seat_names,
                                        **kwargs)
            else:
                episodes = run_episodes(env, policy, seeds, **kwargs)
            elapsed = time.perf_counter() - start
            metrics = episode_metrics(episodes, k=args.k)
            out = Path(args.out) if args.out else _default_out(env.id, name)
            if len(policies) > 1 and args.out:
                out = out.with_name(f"{out.stem}-{name}{out.suffix}")
            save_episodes(episodes, out)
            results.append((name, metrics, elapsed, out, failed_episodes_error(episodes),
                            episodes))
    _print(console, env.id, args, results)
    if multiagent:
        _print_games(console, args, results)
    failures = [f"{name}: {failed}" for name, _, _, _, failed, _ in results if failed]
    if failures:
        return fail("; ".join(failures), 1)
    return 0


def _print_games(console: Console, args: Any, results: list) -> None:
    """Win/draw/loss of each policy per seat role, with Wilson 95% intervals."""
    from agentgym.core.multiagent import results_table

    against = f"against {args.opponent}" if args.opponent else "in self-play"
    for name, *_, episodes in results:
        for role, record in sorted(results_table(episodes, by="role").items()):
            parts = []
            for kind in ("win", "draw", "loss"):
                rate, low, high = record.rate(kind)
                parts.append(f"{kind} {rate:.1%} ({low:.1%}–{high:.1%})")
            console.print(f"{name} as {role} {against}: " + ", ".join(parts)
                          + f", n={record.games}", markup=False, highlight=False, soft_wrap=True)


def _default_out(env_id: str, policy: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in policy)
    return Path("evals") / f"{env_id.split('/')[-1]}-{safe}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


def _print(console: Console, env_id: str, args: Any, results: list) -> None:
    from rich.table import Table

    table = Table(title=f"{env_id} · {args.episodes} tasks × {args.k} · seeds {args.seed}…"
                        f"{args.seed + args.episodes - 1}")
    columns = ["policy", "success (95% CI)", "mean score", "mean turns", "invalid actions"]
    if args.k > 1:
        columns.append(f"pass@{args.k}")
    columns.append("time")
    for column in columns:
        table.add_column(column)
    for name, m, elapsed, *_ in results:
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
    sampled = "greedy" if args.temperature == 0 else f"sampled at T={args.temperature:g}"
    for name, m, _, out, *_ in results:
        kind = sampled if name not in ("expert", "random") else "oracle" if name == "expert" \
            else "uniform"
        console.print(
            f"{name}: success rate {m['success_rate']:.1%} (95% CI {m['success_ci_low']:.1%}–"
            f"{m['success_ci_high']:.1%}), n={m['episodes']}, {kind}; episodes written to {out}",
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
