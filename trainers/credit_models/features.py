"""Per-turn quantities of a model over a batch's turns, computed by teacher forcing.

Every turn the policy played carries the exact ``prompt_ids`` it saw and the ``response_ids`` it
sampled. The credit providers read, per turn (rows in :meth:`StepBatch.from_episodes` order):

* :func:`hidden_states` — the model's last hidden state (after the final norm) at the turn's last
  prompt token (the *state*: what a critic reads) or at its last response token (the state and
  the action: what a progress estimator reads), ``(N, d)``;
* :func:`response_logprobs` — ``Σ_tokens log π(response | prompt)`` per turn, ``(N,)``;
* :func:`backward_logprobs` — the gradient of ``Σ_rows c_row · Σ_tokens log π`` for given
  coefficients, accumulated micro-batch by micro-batch (a loss that is nonlinear in whole
  trajectories, like OPRL's DPO loss, is differentiated through its per-turn log-probs).

Turns without token ids (the policy failed on them) get zeros. Forwards run in micro-batches of
``UpdateContext.micro_batch_size`` turns, prompts left-padded and responses right-padded as in
the update (:mod:`agentgym.trainers.logprobs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agentgym.core.trajectory import Episode
from agentgym.trainers.logprobs import pack, response_logits, token_logprobs


@dataclass(frozen=True)
class TurnRows:
    """The turns of a batch that carry token ids.

    Attributes:
        prompts: prompt token ids of each such turn.
        responses: response token ids of each such turn.
        rows: ``(n,)`` the batch row of each such turn.
        n_rows: rows of the whole batch (turns with and without ids).
    """

    prompts: list[list[int]]
    responses: list[list[int]]
    rows: np.ndarray
    n_rows: int

    def __len__(self) -> int:
        return len(self.rows)


def turn_rows(episodes: Sequence[Episode]) -> TurnRows:
    """The turns of ``episodes`` with token ids, rows counted as in ``StepBatch.from_episodes``."""
    prompts: list[list[int]] = []
    responses: list[list[int]] = []
    rows: list[int] = []
    row = 0
    for episode in episodes:
        for turn in episode.turns:
            if turn.prompt_ids and turn.response_ids:
                prompts.append(list(turn.prompt_ids))
                responses.append(list(turn.response_ids))
                rows.append(row)
            row += 1
    return TurnRows(prompts, responses, np.asarray(rows, dtype=np.int64), row)


def _chunks(n: int, size: int) -> Iterator[list[int]]:
    for start in range(0, n, max(1, size)):
        yield list(range(start, min(n, start + max(1, size))))


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    if enabled:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def backbone(model: torch.nn.Module) -> torch.nn.Module:
    """The transformer under a causal-LM head (``Qwen2ForCausalLM.model``), LoRA included."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.base_model


@torch.no_grad()
def hidden_states(model: torch.nn.Module, rows: TurnRows, ctx: object, *, at: str) -> np.ndarray:
    """``(n_rows, d)`` float32 last-layer hidden states at each turn's last prompt token
    (``at="prompt"``) or last response token (``at="response"``); zeros for turns without ids.

    Args:
        model: a causal LM (the policy).
        rows: :func:`turn_rows` of the batch.
        ctx: the update context (``device``, ``pad_id``, ``autocast``, ``micro_batch_size``).
        at: ``"prompt"`` or ``"response"``.
    """
    if at not in ("prompt", "response"):
        raise ValueError(f"at must be 'prompt' or 'response', got {at!r}")
    device, trunk = ctx.device, backbone(model)
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    try:
        for chunk in _chunks(len(rows), ctx.micro_batch_size):
            packed = pack([rows.prompts[i] for i in chunk], [rows.responses[i] for i in chunk],
                          ctx.pad_id).to(device)
            with _autocast(device, ctx.autocast):
                hidden = trunk(input_ids=packed.input_ids, attention_mask=packed.attention_mask,
                               position_ids=packed.position_ids, use_cache=False).last_hidden_state
            if at == "prompt":
                position = torch.full((len(chunk),), packed.prompt_len - 1, device=device)
            else:
                position = packed.prompt_len + packed.response_mask.sum(-1) - 1
            picked = hidden[torch.arange(len(chunk), device=device), position].float().cpu()
            if out is None:
                out = np.zeros((rows.n_rows, picked.shape[-1]), dtype=np.float32)
            out[rows.rows[chunk]] = picked.numpy()
    finally:
        model.train(was_training)
    if out is None:  # no turn has token ids
        width = int(getattr(getattr(model, "config", None), "hidden_size", 1))
        out = np.zeros((rows.n_rows, width), dtype=np.float32)
    return out


@torch.no_grad()
def response_logprobs(
    model: torch.nn.Module,
    rows: TurnRows,
    ctx: object,
    *,
    responses: Sequence[Sequence[int]] | None = None,
    span: Sequence[tuple[int, int]] | None = None,
    mean: bool = False,
) -> np.ndarray:
    """``(n_rows,)`` float64 teacher-forced ``Σ_tokens log π(token | prompt, tokens before)`` of
    each turn's response at the sampling temperature (0 for turns without ids).

    Args:
        model: a causal LM.
        rows: :func:`turn_rows` of the batch.
        ctx: the update context (``temperature`` included).
        responses: score these token ids after each prompt instead of the turn's own response
            (same order as ``rows``).
        span: ``(start, end)`` token positions of each response to sum over (default: all).
        mean: average over the span instead of summing.
    """
    device = ctx.device
    targets = rows.responses if responses is None else [list(r) for r in responses]
    out = np.zeros(rows.n_rows, dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        for chunk in _chunks(len(rows), ctx.micro_batch_size):
            packed = pack([rows.prompts[i] for i in chunk], [targets[i] for i in chunk],
                          ctx.pad_id).to(device)
            with _autocast(device, ctx.autocast):
                logits = response_logits(model, packed)
            logp = token_logprobs(logits, packed.response_ids, ctx.temperature).float()
            mask = packed.response_mask.float()
            if span is not None:
                columns = torch.arange(mask.shape[1], device=device)
                bounds = torch.tensor([span[i] for i in chunk], device=device)
                mask = mask * ((columns >= bounds[:, :1]) & (columns < bounds[:, 1:])).float()
            total = (logp * mask).sum(-1)
            if mean:
                total = total / mask.sum(-1).clamp(min=1.0)
            out[rows.rows[chunk]] = total.double().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def backward_logprobs(
    model: torch.nn.Module, rows: TurnRows, coefficients: np.ndarray, ctx: object
) -> None:
    """Accumulate into ``model``'s ``.grad`` the gradient of ``Σ_rows c_row · log π(response)``.

    ``coefficients`` is ``(n_rows,)``; rows with a coefficient of 0 are skipped. The model is
    put in train mode (no dropout in the models used here; the caller steps the optimizer).
    """
    device = ctx.device
    chosen = [i for i in range(len(rows)) if coefficients[rows.rows[i]] != 0.0]
    model.train()
    for part in _chunks(len(chosen), ctx.micro_batch_size):
        chunk = [chosen[j] for j in part]
        packed = pack([rows.prompts[i] for i in chunk], [rows.responses[i] for i in chunk],
                      ctx.pad_id).to(device)
        with _autocast(device, ctx.autocast):
            logits = response_logits(model, packed)
        logp = token_logprobs(logits, packed.response_ids, ctx.temperature)
        per_turn = (logp * packed.response_mask).sum(-1)
        weight = torch.tensor(coefficients[rows.rows[chunk]], dtype=per_turn.dtype, device=device)
        (weight * per_turn).sum().backward()
