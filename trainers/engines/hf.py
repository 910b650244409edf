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
  ``</action>`` (the text is cut right after it);
* with a :class:`~agentgym.trainers.vision.VisionCodec` (Qwen2-VL-architecture models) a prompt
  may show images: the prefill gets their ``pixel_values`` and multimodal-RoPE positions
  ``(3, B, L)`` from :meth:`VisionCodec.model_inputs`, and each generated token's position is
  the last one + 1 on all three axes (as a teacher-forced pass computes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from agentgym.core.policy import Generation, Request
from agentgym.trainers.engines.base import SamplingPolicy, SamplingSettings
from agentgym.trainers.engines.codec import ChatCodec
from agentgym.trainers.vision import VisionCodec


class HFEngine(ChatCodec):
    """The :class:`~agentgym.trainers.engines.base.Engine` on a transformers model.

    Args:
        model: a causal LM (transformers or peft-wrapped); the engine samples from it directly,
            so :meth:`sync_weights` only swaps the reference.
        tokenizer: its tokenizer (with a chat template).
        sampling: temperature, top-p, response length, stop strings, batch size, seed.
        device: where inputs go (default: the model's device).
        vision: image handling of a vision-language model (None: text prompts only).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        sampling: SamplingSettings,
        *,
        device: torch.device | None = None,
        vision: VisionCodec | None = None,
    ) -> None:
        self.model = model
        self.sampling = sampling
        self._init_codec(tokenizer, sampling.stop, vision)
        self.temperature = float(sampling.temperature)
        self.top_p = float(sampling.top_p)
        self.max_new_tokens = int(sampling.max_new_tokens)
        self.batch_size = int(sampling.batch_size)
        self.device = device or next(model.parameters()).device
        self.generator = self.new_sampler(sampling.seed)
        self.pad_id = int(tokenizer.pad_token_id)
        self.tokens_generated = 0

    # -- the Policy protocol -----------------------------------------------------------------
    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        return self.as_policy()(requests)

    def new_sampler(self, seed: int) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with ``seed``."""
        return torch.Generator(device="cpu").manual_seed(int(seed))

    def as_policy(
        self, temperature: float | None = None, seed: int | None = None
    ) -> SamplingPolicy:
        """A policy sampling at ``temperature`` (None = the engine's); with ``seed``, from its own
        generator (evaluation does not disturb the training sampler)."""
        return SamplingPolicy(self, temperature, None if seed is None else self.new_sampler(seed))

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        temperature: float | None = None,
        sampler: torch.Generator | None = None,
        images: Sequence[Sequence[np.ndarray] | None] | None = None,
    ) -> list[Generation]:
        """Sample one response per prompt (token ids in, :class:`Generation` out).

        Args:
            prompts: token ids of each prompt.
            temperature: override the engine's temperature (0 = greedy).
            sampler: sample with this generator instead of the engine's own.
            images: per prompt, the images its placeholders stand for (from
                :meth:`encode_request`), or None; needs a vision codec.
        """
        if images is not None and len(images) != len(prompts):
            raise ValueError(f"{len(images)} image lists for {len(prompts)} prompts")
        if images is not None and self.vision is None and any(images):
            raise ValueError("this engine has no vision codec: it cannot take images")
        out: list[Generation] = []
        gen = sampler or self.generator
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            pictures = None if images is None else images[start : start + self.batch_size]
            out.extend(self._generate_batch(chunk, temperature, gen, pictures))
        return out

    @torch.no_grad()
    def _generate_batch(
        self,
        prompts: Sequence[Sequence[int]],
        temperature: float | None,
        gen: torch.Generator,
        images: Sequence[Sequence[np.ndarray] | None] | None = None,
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
        extra: dict[str, torch.Tensor] = {}
        if self.vision is not None:
            extra = self.vision.model_inputs(self.model, input_ids, mask,
                                             images if images is not None else [None] * n)
            positions = extra.pop("position_ids")
        else:
            positions = (mask.cumsum(-1) - 1).clamp(min=0)

        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                logits_to_keep=1, **extra,
            )
            past = out.past_key_values
            logits = self._logits(out)
            tokens: list[list[int]] = [[] for _ in range(n)]
            logprobs: list[list[float]] = [[] for _ in range(n)]
            reason = ["length"] * n
            finished = torch.zeros(n, dtype=torch.bool)
            next_pos = positions[..., -1:] + 1
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
                logits = self._logits(out)
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
                images=None if images is None or not images[i] else list(images[i]),
            )
            for i in range(n)
        ]

    def _logits(self, out: Any) -> torch.Tensor:
        """The last position's logits ``(B, V)`` in float32 (vision markup suppressed)."""
        logits = out.logits[:, -1, :].float()
        return logits if self.vision is None else self.vision.suppress(logits)

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
