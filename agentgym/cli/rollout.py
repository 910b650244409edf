"""``agentgym rollout ID``: play a policy on many tasks, print a summary, save the episodes."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from agentgym.cli.errors import CliConfigError, fail
from agentgym.core.metrics import summarize
from agentgym.core.policies import make_policy
from agentgym.core.preflight import failed_episodes_error, probe_endpoint, probe_env
from agentgym.core.registration import resolve_id
from agentgym.core.rollout import collect
from agentgym.core.trajectory import save_episodes
from agentgym.core.wrappers import ACTION_FORMATS


def run_rollout(args: argparse.Namespace, console: Console) -> int:
    """Entry of ``agentgym rollout``; returns the exit code.

    The environment (and the endpoint of ``--policy openai``) is checked before the first
    episode; a run in which every episode ended on an error exits 1.

    Raises:
        CliConfigError: an unknown policy or action format, or missing endpoint settings.
        InfrastructureError: the environment or the endpoint cannot be used.
    """
    env_id = resolve_id(args.env_id)
    policy_kwargs = {}
    if args.policy == "openai":
        if not args.base_url or not args.model:
            raise CliConfigError("--policy openai needs --base-url and --model")
        policy_kwargs = {"base_url": args.base_url, "model": args.model}
    try:
        policy = make_policy(args.policy, **policy_kwargs)
    except ValueError as exc:
        raise CliConfigError(str(exc)) from None
    action_format = args.action_format or ("xml" if args.policy == "openai" else "plain")
    if action_format not in ACTION_FORMATS:
        raise CliConfigError(
            f"--action-format {action_format!r} is not one of {', '.join(ACTION_FORMATS)}"
        )
    probe_env(env_id, seed=args.seed)
    if args.policy == "openai":
        probe_endpoint(args.base_url)
    tasks = list(range(args.seed, args.seed + args.episodes))
    start = time.perf_counter()
    episodes = collect(
        env_id,
        policy,
        tasks,
        group_size=args.group_size,
        max_turns=args.max_turns,
        action_format=action_format,
        num_workers=args.workers,
    )
    elapsed = time.perf_counter() - start
    summary = summarize(episodes)
    low, high = summary.success_ci
    console.print(
        f"{env_id} · policy={args.policy} · {summary.episodes} episodes in {elapsed:.2f}s\n"
        f"success rate {summary.success_rate:.1%} (95% CI {low:.1%}–{high:.1%})  "
        f"mean return {summary.mean_return:.3f}  mean turns {summary.mean_turns:.1f}  "
        f"invalid actions {summary.invalid_action_rate:.1%}  errors {summary.errors}",
        highlight=False,
    )
    if args.out is not None:
        path = save_episodes(episodes, args.out)
        console.print(f"episodes written to {path}")
    failed = failed_episodes_error(episodes)
    if failed is not None:
        return fail(failed, 1)
    return 0
