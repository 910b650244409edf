"""Held-out evaluation and demonstrations, both through :func:`agentgym.core.rollout.collect`.

* :func:`run_episodes` plays a policy on an environment config (prompt settings included).
* :func:`episode_metrics` summarizes episodes (success rate with a Wilson 95% interval, mean
  score, turns, invalid actions) and, for groups of ``k`` plays per task, the unbiased pass@k.
* :class:`TeacherPolicy` wraps an oracle (the expert) so its turns carry the token ids an engine
  would produce — the data of the behaviour-cloning warm start.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from agentgym.core.metrics import summarize
from agentgym.core.policy import Generation, Request
from agentgym.core.rollout import collect
from agentgym.core.trajectory import Episode
from agentgym.trainers.config import EnvConfig


def run_episodes(
    env: EnvConfig,
    policy: Callable[[Sequence[Request]], Sequence[Generation]],
    seeds: Sequence[int],
    *,
    group_size: int = 1,
    num_workers: int | None = 0,
    max_batch_size: int | None = None,
    on_episode: Callable[[Episode], None] | None = None,
    backend: Any = "thread",
    num_envs: int | None = None,
    run_id: str = "run",
) -> list[Episode]:
    """Play ``policy`` on every seed ``group_size`` times with ``env``'s prompt settings and its
    invalid-action penalty (reward part ``invalid``); ``backend`` and ``num_envs`` are
    :func:`~agentgym.core.rollout.collect`'s (threads, or a Ray pool).

    ``run_id`` goes into every group and episode id. It is fixed, not random, so the same seeds
    give the same ids in every call: policies that draw from the episode id (the random
    opponent of a game) then replay the same way in a resumed run or a second evaluation."""
    return collect(
        env.id,
        policy,
        list(seeds),
        group_size=group_size,
        max_turns=env.max_turns,
        env_kwargs=env.kwargs,
        action_format=env.action_format,
        history_window=env.history_window,
        system_prompt=env.system_prompt,
        invalid_penalty=env.invalid_penalty,
        num_workers=num_workers,
        max_batch_size=max_batch_size,
        straggler_timeout=None,
        on_episode=on_episode,
        backend=backend,
        num_envs=num_envs,
        run_id=run_id,
    )


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` successes (Chen et al. 2021, Eq. 1).

    ``1 − C(n−c, k) / C(n, k)``.
    """
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def episode_metrics(episodes: Sequence[Episode], k: int | None = None) -> dict[str, Any]:
    """Summary numbers of ``episodes``.

    Keys: ``episodes``, ``success_rate``, ``success_ci_low``/``high`` (Wilson 95%),
    ``mean_score`` (outcome), ``mean_return``, ``mean_turns``, ``invalid_action_rate``,
    ``errors`` and, when ``k > 1``, ``pass@k`` (mean over task groups of the unbiased estimator).
    """
    summary = summarize(episodes)
    out: dict[str, Any] = {
        "episodes": summary.episodes,
        "success_rate": summary.success_rate,
        "success_ci_low": summary.success_ci[0],
        "success_ci_high": summary.success_ci[1],
        "mean_score": summary.mean_outcome,
        "mean_return": summary.mean_return,
        "mean_turns": summary.mean_turns,
        "invalid_action_rate": summary.invalid_action_rate,
        "errors": summary.errors,
    }
    if k and k > 1:
        groups: dict[str, list[bool]] = defaultdict(list)
        for episode in episodes:
            groups[episode.group_id].append(bool(episode.success))
        values = [pass_at_k(len(g), sum(g), k) for g in groups.values()]
        out[f"pass@{k}"] = sum(values) / len(values) if values else 0.0
    return out


class TeacherPolicy:
    """Act like ``oracle`` but fill in the token ids an engine would have produced.

    Args:
        oracle: a policy that needs the live environment (e.g. ``ExpertPolicy``).
        encode_prompt: ``(messages, tools) -> prompt ids`` (the engine's chat template).
        encode_response: ``text -> response ids`` (the engine's tokenization, EOS rule included).
        encode_request: ``request -> (prompt ids, images or None)`` (an engine's
            ``encode_request``); when given it replaces ``encode_prompt``, so a vision-language
            engine's demonstrations show the screenshots its own prompts show.
    """

    def __init__(
        self,
        oracle: Callable[[Sequence[Request]], Sequence[Generation]],
        encode_prompt: Callable[..., list[int]],
        encode_response: Callable[[str], list[int]],
        encode_request: Callable[[Request], tuple[list[int], list[Any] | None]] | None = None,
    ) -> None:
        self.oracle = oracle
        self.encode_prompt = encode_prompt
        self.encode_response = encode_response
        self.encode_request = encode_request

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        out = []
        for request, generation in zip(requests, self.oracle(requests), strict=True):
            if self.encode_request is not None:
                prompt_ids, images = self.encode_request(request)
            else:
                prompt_ids, images = self.encode_prompt(request.messages, request.tools), None
            out.append(
                Generation(
                    text=generation.text,
                    token_ids=self.encode_response(generation.text),
                    logprobs=None,
                    prompt_ids=prompt_ids,
                    info=dict(generation.info),
                    images=images,
                )
            )
        return out
