"""The policy protocol the rollout drives.

A policy maps a batch of requests — one per live episode, each carrying the chat messages the
model would see — to one :class:`Generation` each. LLM engines read ``request.messages`` only;
oracle-style policies (random over admissible actions, the expert) may also look at
``request.env``, the live environment, which an LLM never sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

#: A chat message: ``{"role": "system"|"user"|"assistant", "content": str}``.
Message = dict[str, str]


@dataclass
class Request:
    """What a policy gets for one live episode at one turn.

    Attributes:
        messages: the chat history formatted for the model (system, user, assistant …).
        observation: the current observation (text).
        env: the live (wrapped) environment — for oracle policies only.
        action_format: how the action must be written in the generated text: ``"plain"`` (the
            whole text is the action), ``"xml"`` (``<action>…</action>``) or ``"json"`` (a
            JSON tool call). See :func:`agentgym.core.wrappers.render_action`.
        episode_id: the episode this request belongs to.
        turn: the turn index.
        tools: the tools the environment offers now, as OpenAI-style JSON schemas
            (``env.tools``), or None; LLM policies pass them to the chat template
            (``apply_chat_template(..., tools=...)``) or the endpoint.
    """

    messages: list[Message]
    observation: Any
    env: gym.Env | None = None
    action_format: str = "plain"
    episode_id: str = ""
    turn: int = 0
    tools: list[dict[str, Any]] | None = None


@dataclass
class Generation:
    """One policy output.

    Attributes:
        text: the generated text (the env's action is extracted from it).
        token_ids: generated token ids exactly as sampled (LLM policies), else None.
        logprobs: log-probability of each generated token under the sampler, else None.
        prompt_ids: the prompt's token ids (LLM policies), else None.
        images: the images the prompt shows, in the order of its image placeholders (uint8
            ``(H, W, 3)`` arrays; vision-language policies), else None — the trainer feeds the
            same pixels back when it recomputes log-probs.
        info: anything else worth recording (latency, finish reason …).
    """

    text: str
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    prompt_ids: list[int] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    images: list[Any] | None = None


@runtime_checkable
class Policy(Protocol):
    """Anything callable on a batch of requests returning one generation per request."""

    def __call__(self, requests: Sequence[Request]) -> list[Generation]: ...
