"""ArenaRL's pairwise judges (Zhang et al., arXiv 2601.06487), built inside the recipe.

``credit.arena`` ranks each task group's episodes in a seeded single-elimination tournament; it
needs ``judge(a, b)``, the probability that episode ``a`` (an index into ``batch.episodes``) is
better than episode ``b`` (0.5: a tie). Two judges:

* **outcome** (default): the environment's own score — ``1`` when ``a``'s outcome is higher,
  ``0`` when lower, ``0.5`` when equal (so the tournament ranks by the score and splits ties).
* **LLM** (``judge_base_url`` and ``judge_model`` set): an OpenAI-compatible chat endpoint is
  shown the task and both trajectories (each turn's observation and action, each trajectory cut
  to ``judge_max_chars`` characters around the middle) and answers ``A``, ``B`` or ``T`` (a tie);
  a reply without one of them counts as a tie. It is sampled at temperature 0. The endpoint is
  checked when the run starts; a judge call that still fails after the client's retries stops
  the run with one line (:class:`~agentgym.core.preflight.InfrastructureError`).

The judges keep no state across iterations; the provider counts the judge calls and the
unreadable LLM replies (``stats``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agentgym import credit
from agentgym.core.policies import OpenAIChatPolicy
from agentgym.core.preflight import InfrastructureError, probe_endpoint
from agentgym.core.trajectory import Episode
from agentgym.trainers.config import ConfigError, TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs

JUDGE_SYSTEM = (
    "You compare two attempts of an agent at the same task. Judge the final result first "
    "(was the task accomplished, and how well?), then how directly the agent got there "
    "(fewer wasted or invalid actions is better)."
)
JUDGE_QUESTION = (
    "Which trajectory is better? Reply with one letter: A if trajectory A is better, B if "
    "trajectory B is better, T if they are equally good."
)
_VERDICT = re.compile(r"\b([ABT])\b")


def transcript(episode: Episode, max_chars: int) -> str:
    """The turns of ``episode`` as text (observation, action), cut to ``max_chars`` around the
    middle (the start and the end are kept)."""
    lines = [f"Turn {t + 1}\nObservation: {turn.observation}\nAction: {turn.action}"
             for t, turn in enumerate(episode.turns)]
    text = "\n\n".join(lines) or "(no turns)"
    if len(text) <= max_chars:
        return text
    half = max(1, max_chars // 2)
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def judge_messages(a: Episode, b: Episode, max_chars: int) -> list[dict[str, str]]:
    """The chat the LLM judge answers for ``a`` (shown as A) against ``b`` (shown as B)."""
    task = str(a.info.get("instruction", "")) or "(see the first observation)"
    user = (f"Task: {task}\n\n[Trajectory A]\n{transcript(a, max_chars)}\n\n"
            f"[Trajectory B]\n{transcript(b, max_chars)}\n\n{JUDGE_QUESTION}")
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def verdict(text: str) -> float | None:
    """``1.0`` for A, ``0.0`` for B, ``0.5`` for T; None when the reply names none of them."""
    match = _VERDICT.search(text.strip().upper())
    if match is None:
        return None
    return {"A": 1.0, "B": 0.0, "T": 0.5}[match.group(1)]


@dataclass
class JudgeStats:
    """Judge calls made, and LLM replies that named no verdict (counted as ties)."""

    calls: int = 0
    unreadable: int = 0


class OutcomeJudge:
    """``judge(a, b)`` by the episodes' outcomes: 1 if ``a``'s is higher, 0 if lower, else 0.5.

    Args:
        outcomes: ``{episode index: outcome}``.
        stats: counters to add the calls to.
    """

    def __init__(self, outcomes: dict[int, float], stats: JudgeStats | None = None) -> None:
        self.outcomes = outcomes
        self.stats = stats if stats is not None else JudgeStats()

    def __call__(self, a: int, b: int) -> float:
        self.stats.calls += 1
        diff = self.outcomes[a] - self.outcomes[b]
        return 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5


class LLMJudge:
    """``judge(a, b)`` asked of an OpenAI-compatible chat endpoint (see the module doc).

    Args:
        client: the endpoint's client (temperature 0).
        episodes: ``batch.episodes`` (episode index ``i`` is ``episodes[i]``).
        max_chars: characters of each trajectory shown.
        stats: counters to add the calls to.
    """

    def __init__(self, client: OpenAIChatPolicy, episodes: Sequence[Episode], max_chars: int,
                 stats: JudgeStats | None = None) -> None:
        self.client, self.episodes, self.max_chars = client, episodes, max_chars
        self.stats = stats if stats is not None else JudgeStats()

    def __call__(self, a: int, b: int) -> float:
        generation = self.client.generate(
            judge_messages(self.episodes[a], self.episodes[b], self.max_chars))
        self.stats.calls += 1
        error = generation.info.get("error") if isinstance(generation.info, dict) else None
        if error:
            raise InfrastructureError(f"arena: the LLM judge failed: {error}")
        value = verdict(generation.text)
        if value is None:
            self.stats.unreadable += 1
            return 0.5
        return value


@register_inputs("arena")
class ArenaJudge(Provider):
    """Supplies ``judge`` to ``arena``: the outcome judge, or an LLM judge when configured."""

    provides = ("judge",)
    options: ClassVar[dict[str, Any]] = {
        "judge_base_url": None,
        "judge_model": None,
        "judge_max_chars": 6000,
        "judge_timeout": 120.0,
    }

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params, credit.get("arena"))
        base_url = self.option("judge_base_url", str, nullable=True)
        model = self.option("judge_model", str, nullable=True)
        self.max_chars = self.option("judge_max_chars", int, minimum=100)
        timeout = self.option("judge_timeout", float, minimum=0.0)
        self.stats = JudgeStats()
        self.client: OpenAIChatPolicy | None = None
        if base_url is not None or model is not None:
            if base_url is None or model is None:
                raise ConfigError("params.judge_base_url and params.judge_model are set together "
                                  "(an LLM judge) or neither (the outcome judge)")
            try:
                self.client = OpenAIChatPolicy(base_url, model, temperature=0.0, max_tokens=16,
                                               timeout=timeout, logprobs=False, concurrency=1)
            except ValueError as exc:
                raise ConfigError(f"params.judge_base_url: {exc}") from None
            probe_endpoint(base_url)

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        batch = ctx.batch
        if self.client is not None:
            if batch.episodes is None:
                raise ValueError("arena: the LLM judge needs the batch's source episodes")
            return {"judge": LLMJudge(self.client, batch.episodes, self.max_chars, self.stats)}
        episodes, first = np.unique(batch.episode, return_index=True)
        outcomes = {int(e): float(batch.outcome[r]) for e, r in zip(episodes, first, strict=True)}
        return {"judge": OutcomeJudge(outcomes, self.stats)}
