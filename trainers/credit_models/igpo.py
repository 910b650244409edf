"""IGPO's beliefs, computed inside the recipe (Wang et al., arXiv 2510.14967).

After every turn, IGPO needs the policy's belief in the ground-truth answer given the history so
far. A turn's prompt is exactly that history (as the policy saw it), so the belief *before* turn
``t`` is one teacher-forced forward of the training model over ``prompt_t`` followed by the
answer written as the policy would write it; no extra generation:

    log P̄_t = (1/L) Σ_j log π(a_j | prompt_t, a_<j)        (row t of ``beliefs``)

averaged over the answer's ``L`` tokens only (the length-normalized geometric mean of the paper
and its code, which scores the answer inside a template and averages the answer span). The
template here is the environment's own answer action in the run's action format: the
``answer`` tool call (``<tool_call>{"name": "answer", "arguments": {"text": …}}</tool_call>``)
when the environment's reset info lists an ``answer`` tool, else the bare answer (``<action>…
</action>`` for ``action_format=xml``); ``answer_template`` (a string with ``{answer}``)
overrides it. The prefix and the answer are tokenized separately, so the answer span is exact.
All turns of the batch are scored in micro-batches, at the sampling temperature.

The answer is ``Episode.info["answer"]`` (the reset info, ``answer_key``); an environment whose
reset info has none stops the run before training with one :class:`ConfigError`. Turns the
policy failed on (no token ids) repeat the previous belief of their episode (no information
gain). The provider keeps no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from agentgym.core.preflight import first_line
from agentgym.core.registration import make, resolve_id
from agentgym.core.tool_calls import ToolCall, render_tool_calls
from agentgym.core.wrappers import render_action
from agentgym.trainers.config import ConfigError, TrainConfig
from agentgym.trainers.credit_inputs import CreditContext, Provider, register_inputs
from agentgym.trainers.credit_models.features import response_logprobs, turn_rows

_PLACEHOLDER = "ANSWERPLACEHOLDERQ7X"


def has_answer_tool(info: Mapping[str, Any]) -> bool:
    """Whether a reset info lists a tool (OpenAI format) named ``answer``."""
    for tool in info.get("tools") or []:
        if isinstance(tool, Mapping):
            spec = tool.get("function", tool)
            if isinstance(spec, Mapping) and spec.get("name") == "answer":
                return True
    return False


def answer_prefix(answer: str, *, template: str | None, tool: bool,
                  action_format: str) -> tuple[str, str]:
    """``(prefix, answer text)``: the response up to the answer, and the answer as written in it
    (JSON-escaped inside a tool call). Text after the answer does not change its log-probs."""
    def write(value: str) -> str:
        if template is not None:
            return template.replace("{answer}", value)
        action = render_tool_calls([ToolCall("answer", {"text": value})]) if tool else value
        return render_action(action, action_format)

    marked, full = write(_PLACEHOLDER), write(answer)
    cut = marked.index(_PLACEHOLDER)
    prefix, suffix = marked[:cut], marked[cut + len(_PLACEHOLDER):]
    if not (full.startswith(prefix) and full.endswith(suffix)):
        raise ValueError(f"igpo: cannot locate the answer {answer!r} in its response {full!r}")
    return prefix, full[len(prefix): len(full) - len(suffix)]


@register_inputs("igpo")
class Beliefs(Provider):
    """Supplies ``beliefs`` (``log P̄`` of the answer before each turn) to ``igpo``."""

    provides = ("beliefs",)
    options: ClassVar[dict[str, Any]] = {"answer_key": "answer", "answer_template": None}

    def __init__(self, cfg: TrainConfig, params: dict[str, Any]) -> None:
        super().__init__(cfg, params)
        self.key = self.option("answer_key", str)
        self.template = self.option("answer_template", str, nullable=True)
        if self.template is not None and "{answer}" not in self.template:
            raise ConfigError(f"params.answer_template={self.template!r} must contain {{answer}}")
        info = self._reset_info(cfg)
        if not str(info.get(self.key) or ""):
            raise ConfigError(
                f"env.id={cfg.env.id}: igpo needs the ground-truth answer in the environment's "
                f"reset info (info[{self.key!r}]) to compute its beliefs, and this environment "
                "reports none; use an environment with answers (e.g. agentgym/SearchQA-v0) or "
                "another method")
        self.tool = has_answer_tool(info)
        self.action_format = cfg.env.action_format

    def _reset_info(self, cfg: TrainConfig) -> dict[str, Any]:
        """The reset info of the first training task (the environment made and reset once)."""
        try:
            env = make(resolve_id(cfg.env.id), **dict(cfg.env.kwargs))
        except Exception as exc:
            raise ConfigError(f"env.id={cfg.env.id}: cannot create it: {first_line(exc)}") from exc
        try:
            return dict(env.reset(seed=cfg.trainer.train_seed)[1])
        finally:
            env.close()

    def _encode(self, tokenizer: Any, answer: str) -> tuple[list[int], tuple[int, int]]:
        prefix, text = answer_prefix(answer, template=self.template, tool=self.tool,
                                     action_format=self.action_format)
        head = tokenizer.encode(prefix, add_special_tokens=False) if prefix else []
        body = tokenizer.encode(text, add_special_tokens=False)
        return [*head, *body], (len(head), len(head) + len(body))

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        rows = turn_rows(ctx.episodes)
        encoded: dict[str, tuple[list[int], tuple[int, int]]] = {}
        per_row_episode: list[int] = []
        for e, episode in enumerate(ctx.episodes):
            answer = episode.info.get(self.key)
            if answer is None or str(answer) == "":
                raise ConfigError(f"igpo: episode {episode.episode_id} of {episode.env_id} has no "
                                  f"info[{self.key!r}] (the ground-truth answer)")
            if str(answer) not in encoded:
                encoded[str(answer)] = self._encode(ctx.tokenizer, str(answer))
            per_row_episode += [e] * len(episode.turns)
        owner = np.asarray(per_row_episode, dtype=np.int64)
        answers = [str(ctx.episodes[owner[r]].info[self.key]) for r in rows.rows]
        responses = [encoded[a][0] for a in answers]
        spans = [encoded[a][1] for a in answers]
        scored = response_logprobs(ctx.model, rows, ctx.update, responses=responses, span=spans,
                                   mean=True)
        known = np.zeros(rows.n_rows, dtype=bool)
        known[rows.rows] = True
        return {"beliefs": _fill_within_episodes(scored, known, owner)}


def _fill_within_episodes(values: np.ndarray, known: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Rows that are not ``known`` take the last known value of their episode (the first known
    one at the episode's start; 0 when the episode has none)."""
    out = values.copy()
    for e in np.unique(owner):
        rows = np.flatnonzero(owner == e)
        good = rows[known[rows]]
        if len(good) == len(rows):
            continue
        last = values[good[0]] if len(good) else 0.0
        for r in rows:
            if known[r]:
                last = values[r]
            else:
                out[r] = last
    return out
