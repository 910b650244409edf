"""The ``hf`` generation engine: batched sampling from a transformers model with a KV cache.

A hand-written loop (rather than ``model.generate``) keeps every detail under control:

* prompts are the chat template applied to ``request.messages``, tokenized once — the ids that
  are returned as ``prompt_ids`` are exactly the ones the model saw;
* the batch is left-padded with ``position_ids = cumsum(mask) − 1`` (the layout of
  :mod:`agentgym.trainers.logprobs`, so a teacher-forced recomputation matches);
* each step samples from ``softmax(logits / T)`` restricted to the top-p nucleus, with a
  ``torch.Generator`` owned by the engine (its state is checkpointed);
* the log-prob returned per token is ``log softmax(logits / T)[token]`` (``T = 1`` when greedy),
  for the token actually sampled;
* a sequence ends at EOS (kept in ``token_ids``) or once its text contains a stop string such as
  ``</action>`` (the text is cut right after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from agentgym.core.policy import Generation, Request
from agentgym.trainers.engines.codec import ChatCodec


class HFEngine(ChatCodec):
    """Implements the rollout :class:`~agentgym.core.policy.Policy` protocol.

    Args:
        model: a causal LM (transformers or peft-wrapped).
        tokenizer: its tokenizer (with a chat template).
        temperature: sampling temperature; 0 = greedy.
        top_p: nucleus threshold in (0, 1].
        max_new_tokens: longest response.
        stop: strings that end a response (kept in the text).
        batch_size: most prompts generated at once (bigger batches are split).
        seed: seed of the sampling generator.
        device: where inputs go (default: the model's device).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 32,
        stop: Sequence[str] = (),
        batch_size: int = 64,
        seed: int = 0,
        device: torch.device | None = None,
    ) -> None:
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.model = model
        self._init_codec(tokenizer, stop)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        self.device = device or next(model.parameters()).device
        self.generator = torch.Generator(device="cpu").manual_seed(int(seed))
        self.pad_id = int(tokenizer.pad_token_id)
        self.tokens_generated = 0

    # -- the Policy protocol -----------------------------------------------------------------
    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        prompts = [self.encode_prompt(r.messages) for r in requests]
        return self.generate(prompts)

    def as_policy(
        self, temperature: float | None = None, seed: int | None = None
    ) -> _SamplingPolicy:
        """A policy sampling from this engine at ``temperature`` (None = the engine's).

        With ``seed`` it samples with its own generator (evaluation does not disturb the
        training sampler, and every evaluation sees the same random numbers).
        """
        gen = None if seed is None else torch.Generator(device="cpu").manual_seed(int(seed))
        return _SamplingPolicy(self, temperature, gen)

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
    ) -> list[Generation]:
        """Sample one response per prompt (token ids in, :class:`Generation` out).

        Args:
            prompts: token ids of each prompt.
            temperature: override the engine's temperature (0 = greedy).
            generator: sample with this generator instead of the engine's own.
        """
        out: list[Generation] = []
        gen = generator or self.generator
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            out.extend(self._generate_batch(chunk, temperature, gen))
        return out

    @torch.no_grad()
    def _generate_batch(
        self, prompts: Sequence[Sequence[int]], temperature: float | None, gen: torch.Generator
    ) -> list[Generation]:
        temp = self.temperature if temperature is None else float(temperature)
        n = len(prompts)
        if n == 0:
            return []
        width = max(len(p) for p in prompts)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            input_ids[i, width - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.long)
            mask[i, width - len(prompt) :] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)

        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                logits_to_keep=1,
            )
            past = out.past_key_values
            logits = out.logits[:, -1, :].float()
            tokens: list[list[int]] = [[] for _ in range(n)]
            logprobs: list[list[float]] = [[] for _ in range(n)]
            reason = ["length"] * n
            finished = torch.zeros(n, dtype=torch.bool)
            next_pos = positions[:, -1:] + 1
            for _ in range(self.max_new_tokens):
                token, logprob = self._sample(logits, temp, gen)
                token_list, logprob_list = token.tolist(), logprob.tolist()
                for i in range(n):
                    if finished[i]:
                        continue
                    tokens[i].append(token_list[i])
                    logprobs[i].append(logprob_list[i])
                    if token_list[i] in self.eos_ids or (self.stop and self._hit_stop(tokens[i])):
                        finished[i], reason[i] = True, "stop"
                if bool(finished.all()):
                    break
                token = token.masked_fill(finished.to(token.device), self.pad_id)
                mask = torch.cat([mask, (~finished).long().unsqueeze(1).to(mask.device)], dim=1)
                out = self.model(
                    input_ids=token.unsqueeze(1), attention_mask=mask, position_ids=next_pos,
                    past_key_values=past, use_cache=True,
                )
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                next_pos = next_pos + 1
        finally:
            self.model.train(was_training)
        self.tokens_generated += sum(len(t) for t in tokens)
        return [
            Generation(
                text=self.decode_response(tokens[i]),
                token_ids=tokens[i],
                logprobs=logprobs[i],
                prompt_ids=list(prompts[i]),
                info={"finish_reason": reason[i]},
            )
            for i in range(n)
        ]

    def _sample(
        self, logits: torch.Tensor, temperature: float, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Next token per row and its log-prob: ``(B, V) -> (B,), (B,)``."""
        if temperature <= 0:
            token = logits.argmax(-1)
            logp = torch.log_softmax(logits, -1)
        else:
            logp = torch.log_softmax(logits / temperature, -1)
            probs = logp.exp()
            if self.top_p < 1.0:
                sorted_probs, order = probs.sort(-1, descending=True)
                drop = sorted_probs.cumsum(-1) - sorted_probs >= self.top_p
                sorted_probs = sorted_probs.masked_fill(drop, 0.0)
                probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
            token = torch.multinomial(probs.cpu(), 1, generator=gen).squeeze(1)
            token = token.to(logits.device)
        return token.cpu(), logp.gather(-1, token.unsqueeze(-1)).squeeze(-1).cpu()

    def _hit_stop(self, tokens: list[int]) -> bool:
        text = self.tokenizer.decode(tokens[-16:], skip_special_tokens=False)
        return any(s in text for s in self.stop)

    # -- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The sampler state (the generator), for exact resumption."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def sync_weights(self, model: torch.nn.Module) -> None:
        """No-op: the engine samples from the training model itself."""
        self.model = model

    def close(self) -> None:
        """Nothing to release (the model belongs to the trainer)."""


class _SamplingPolicy:
    """An engine viewed as a policy with a fixed temperature (e.g. greedy evaluation)."""

    def __init__(
        self, engine: HFEngine, temperature: float | None, generator: torch.Generator | None
    ) -> None:
        self.engine = engine
        self.temperature = temperature
        self.generator = generator

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        prompts = [self.engine.encode_prompt(r.messages) for r in requests]
        return self.engine.generate(
            prompts, temperature=self.temperature, generator=self.generator
        )
