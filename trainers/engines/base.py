"""The contract every generation engine implements, and the policy view shared by all engines.

An engine turns chat prompts into sampled responses, keeping the token ids and log-probs exactly
as sampled (the PPO ratio needs them). The trainer and ``agentgym eval`` talk to engines only
through :class:`Engine`; :func:`agentgym.trainers.engines.make_engine` builds one by name.

::

    engine = make_engine("hf", model=model, tokenizer=tokenizer, sampling=SamplingSettings())
    generations = engine.generate([engine.encode_prompt(messages)])    # token ids in
    policy = engine.as_policy(temperature=0.0, seed=7)                 # a rollout Policy
    engine.sync_weights(model)                                         # after every update
    engine.close()

Sampling state: an engine owns a *sampler* (the random stream its samples draw from; a
``torch.Generator`` for ``hf``, a NumPy generator of per-request seeds for ``vllm``) whose state is
checkpointed with :meth:`Engine.state_dict`. :meth:`Engine.new_sampler` makes an independent one,
so evaluation can sample without disturbing the training stream and sees the same random numbers
every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agentgym.core.policy import Generation, Message, Request


@dataclass(frozen=True)
class SamplingSettings:
    """How an engine samples; plain values, no config classes.

    Attributes:
        temperature: sampling temperature; 0 = greedy.
        top_p: nucleus threshold in (0, 1].
        max_new_tokens: longest response, in tokens.
        stop: strings that end a response (kept in the text).
        batch_size: most prompts generated at once (bigger batches are split).
        seed: seed of the engine's own sampler.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 32
    stop: tuple[str, ...] = field(default_factory=tuple)
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@runtime_checkable
class Engine(Protocol):
    """A generation engine: the rollout :class:`~agentgym.core.policy.Policy` protocol plus what
    the trainer needs (weight sync, checkpointable sampler state, exact token ids)."""

    #: the sampling settings the engine was built with.
    sampling: SamplingSettings
    #: response tokens generated so far (for throughput metrics).
    tokens_generated: int

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        """Sample one response per request at the engine's temperature, from its own sampler."""
        ...

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        temperature: float | None = None,
        sampler: Any = None,
    ) -> list[Generation]:
        """Sample one response per prompt (token ids in, :class:`Generation` out).

        Args:
            prompts: token ids of each prompt (from :meth:`encode_prompt`).
            temperature: override the engine's temperature (0 = greedy).
            sampler: draw from this sampler (:meth:`new_sampler`) instead of the engine's own.
        """
        ...

    def new_sampler(self, seed: int) -> Any:
        """An independent sampler seeded with ``seed``, for :meth:`generate`."""
        ...

    def as_policy(self, temperature: float | None = None, seed: int | None = None) -> Any:
        """A :class:`SamplingPolicy` at ``temperature`` (None = the engine's); with ``seed`` it
        draws from its own sampler."""
        ...

    def encode_prompt(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None = None
    ) -> list[int]:
        """Token ids of the chat template applied to ``messages`` (and ``tools``) plus the
        assistant header."""
        ...

    def encode_request(self, request: Request) -> tuple[list[int], list[Any] | None]:
        """Prompt ids of ``request`` and the images they show (None for a text prompt;
        vision-language engines put the observation's image in the prompt)."""
        ...

    def encode_response(self, text: str) -> list[int]:
        """Token ids the engine would have produced for ``text`` (demonstrations)."""
        ...

    def sync_weights(self, model: Any) -> None:
        """Serve ``model``'s current weights from now on."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The sampler state, for exact resumption."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...

    def close(self) -> None:
        """Release what the engine holds (worker processes, GPU memory); idempotent."""
        ...


class SamplingPolicy:
    """Any engine viewed as a rollout policy with a fixed temperature and, optionally, its own
    sampler (evaluation samples without touching the training stream).

    Args:
        engine: the engine.
        temperature: sampling temperature (None = the engine's).
        sampler: a sampler from ``engine.new_sampler`` (None = the engine's own).
    """

    def __init__(self, engine: Engine, temperature: float | None = None, sampler: Any = None):
        self.engine = engine
        self.temperature = temperature
        self.sampler = sampler

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        encoded = [self.engine.encode_request(r) for r in requests]
        prompts = [ids for ids, _ in encoded]
        if all(images is None for _, images in encoded):
            return self.engine.generate(prompts, temperature=self.temperature,
                                        sampler=self.sampler)
        return self.engine.generate(prompts, temperature=self.temperature, sampler=self.sampler,
                                    images=[images for _, images in encoded])
