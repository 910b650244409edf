"""Teacher-forced log-probabilities of responses given their prompts.

Batch layout (as in verl): prompts are **left**-padded to a common length ``P`` and responses
**right**-padded to ``R``, so every response starts at column ``P`` and the logits that predict it
are the columns ``P−1 … P+R−2``; ``logits_to_keep=R+1`` makes the model compute only those (and
one more), which keeps memory at ``B × R × V`` even for a 150k-token vocabulary. Position ids are
``cumsum(mask) − 1``, the same ones the generation engine uses, so a recomputation matches the
sampled log-probs to float rounding. A vision-language batch carries its ``pixel_values`` /
``image_grid_thw`` in ``PackedBatch.model_inputs`` and multimodal-RoPE positions ``(3, B, P+R)``
(:mod:`agentgym.trainers.vision`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

#: The logit of a suppressed token (as :data:`agentgym.trainers.vision.SUPPRESSED_LOGIT`).
SUPPRESSED_LOGIT = -1e9


@dataclass
class PackedBatch:
    """Padded tensors of a batch of (prompt, response) pairs.

    Attributes:
        input_ids: ``(B, P+R)`` token ids, prompts left-padded, responses right-padded.
        attention_mask: ``(B, P+R)`` 1 on real tokens.
        position_ids: ``(B, P+R)`` positions counted over real tokens (``(3, B, P+R)``
            multimodal-RoPE positions for a vision-language batch).
        response_mask: ``(B, R)`` 1 on real response tokens.
        response_ids: ``(B, R)`` the response tokens (pad where masked).
        prompt_len: ``P``.
        model_inputs: further model inputs (``pixel_values``, ``image_grid_thw``).
        suppressed_ids: token ids the sampler never draws (a vision model's image markup): their
            response logits are set to ``SUPPRESSED_LOGIT`` as the engine set them.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    response_mask: torch.Tensor
    response_ids: torch.Tensor
    prompt_len: int
    model_inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    suppressed_ids: torch.Tensor | None = None

    def to(self, device: torch.device) -> PackedBatch:
        return PackedBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.position_ids.to(device),
            self.response_mask.to(device),
            self.response_ids.to(device),
            self.prompt_len,
            {k: v.to(device) for k, v in self.model_inputs.items()},
            None if self.suppressed_ids is None else self.suppressed_ids.to(device),
        )


def pack(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int
) -> PackedBatch:
    """Pad ``prompts`` on the left and ``responses`` on the right (see the module doc)."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if any(len(r) == 0 for r in responses):
        raise ValueError("every response needs at least one token")
    batch = len(prompts)
    p_len = max(len(p) for p in prompts)
    r_len = max(len(r) for r in responses)
    input_ids = torch.full((batch, p_len + r_len), pad_id, dtype=torch.long)
    mask = torch.zeros((batch, p_len + r_len), dtype=torch.long)
    for i, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        input_ids[i, p_len - len(prompt) : p_len] = torch.as_tensor(list(prompt), dtype=torch.long)
        input_ids[i, p_len : p_len + len(response)] = torch.as_tensor(
            list(response), dtype=torch.long
        )
        mask[i, p_len - len(prompt) : p_len + len(response)] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return PackedBatch(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions,
        response_mask=mask[:, p_len:].clone(),
        response_ids=input_ids[:, p_len:].clone(),
        prompt_len=p_len,
    )


def response_logits(model: torch.nn.Module, batch: PackedBatch) -> torch.Tensor:
    """Logits predicting each response token, ``(B, R, V)`` in float32."""
    r_len = batch.response_ids.shape[1]
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
        logits_to_keep=r_len + 1,
        **batch.model_inputs,
    )
    logits = out.logits[:, :-1, :].float()
    if batch.suppressed_ids is not None:
        logits = logits.index_fill(-1, batch.suppressed_ids, SUPPRESSED_LOGIT)
    return logits


def next_token_logprobs(model: torch.nn.Module, batch: PackedBatch) -> torch.Tensor:
    """Teacher-forced log-prob of every token given the ones before it: ``(B, P+R−1)``.

    Column ``j`` is ``log p(input_ids[:, j+1] | input_ids[:, :j+1])`` (float32); columns
    ``P−1 …`` are the response tokens' (as :func:`response_logits` + :func:`token_logprobs`).
    """
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
        **batch.model_inputs,
    )
    logits = out.logits[:, :-1, :].float()
    return token_logprobs(logits, batch.input_ids[:, 1:])


def token_logprobs(
    logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``log softmax(logits / T)[token]``: ``(B, R, V), (B, R) -> (B, R)``.

    ``temperature <= 0`` (greedy sampling) uses ``T = 1``.
    """
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of ``softmax(logits / T)`` per position: ``(B, R, V) -> (B, R)``."""
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def sequence_logprobs(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    *,
    temperature: float = 1.0,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced log-probs of ``responses``: ``(logprobs (B, R), response_mask (B, R))``."""
    batch = pack(prompts, responses, pad_id)
    if device is not None:
        batch = batch.to(device)
    logits = response_logits(model, batch)
    return token_logprobs(logits, batch.response_ids, temperature), batch.response_mask
