"""``agentgym rollout ID``: play a policy on many tasks, print a summary, save the episodes."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from agentgym.core.metrics import summarize
from agentgym.core.policies import make_policy
from agentgym.core.registration import resolve_id
from agentgym.core.rollout import collect
from agentgym.core.trajectory import save_episodes


def run_rollout(args: argparse.Namespace, console: Console) -> int:
    env_id = resolve_id(args.env_id)
    policy_kwargs = {}
    if args.policy == "openai":
        policy_kwargs = {"base_url": args.base_url, "model": args.model}
    policy = make_policy(args.policy, **{k: v for k, v in policy_kwargs.items() if v is not None})
    action_format = args.action_format or ("xml" if args.policy == "openai" else "plain")
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
    return 0
