"""Induction-head pre-training: teach a from-scratch model to copy from its context.

A model trained from random weights on a few hundred demonstrations memorises the strings it saw
instead of copying the ones in its prompt: the SearchQA tiny model learned the shape of an episode
(search → open → answer) but searched for names of *training* questions. Copying a span that
occurred earlier in the context is the job of induction heads (Olsson et al., 2022, "In-context
Learning and Induction Heads"): a previous-token head plus a head that attends to the token after
an earlier occurrence of the current token and copies it. They form abruptly in small
transformers trained on text that repeats itself.

:func:`pretrain_induction` trains on random token sequences, each repeated three times, with the
loss on the repeats only — nothing but copying can lower it. On the 4-layer, 64-wide tiny models
the copy accuracy on unseen sequences stays at 0–3% for several hundred steps, then jumps to
~95% within 100–200 (batch 32; at step 600–1,100 in the runs measured, about a minute on 2
cores). Cloned after it, the SearchQA model starts copying search queries and document ids from
its prompt, and WebShop's warm start rises from 1.6% to ~22% (``benchmarks/RESULTS.md``). Real
pre-trained models have these heads already: the stage is for the tiny model, off unless
``budget.induction_steps > 0``.

The sequences draw from the ids below ``vocab_limit`` when one is given (the tokenizer's BPE ids,
not WebShop's 10,000 whole-word tokens, which are left out of the softmax for speed): the copying
circuit is trained on those embeddings only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from agentgym.trainers.update import leading_vocab_logits

#: Shortest and longest random sequence (tokens) before it repeats.
SPAN_TOKENS = (16, 32)
#: Copies of the sequence in one sample (the first cannot be predicted; the others are copied).
REPEATS = 3


def copyable_token_ids(tokenizer: Any, vocab_limit: int | None = None) -> torch.Tensor:
    """Ids the random sequences draw from: the vocabulary (the ids below ``vocab_limit`` when
    given) except special tokens (shape ``(n,)``, int64)."""
    special = set(int(i) for i in getattr(tokenizer, "all_special_ids", []))
    size = len(tokenizer) if vocab_limit is None else min(vocab_limit, len(tokenizer))
    return torch.tensor([i for i in range(size) if i not in special], dtype=torch.long)


def repeated_sequences(
    token_ids: torch.Tensor, batch_size: int, span: int, generator: torch.Generator,
    repeats: int = REPEATS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random sequences, each repeated ``repeats`` times.

    Returns ``input_ids`` ``(batch_size, repeats·span)`` and ``copy_mask`` of the same shape,
    true where a token is predictable by copying (every position of the repeats except the
    first token of the first repeat, whose predecessor was random). ``copy_mask[:, t]`` marks the
    *target* token ``t``: the logits at ``t − 1`` predict it.
    """
    picks = torch.randint(len(token_ids), (batch_size, span), generator=generator)
    sequence = token_ids[picks]
    input_ids = sequence.repeat(1, repeats)
    copy_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    copy_mask[:, span + 1:] = True
    return input_ids, copy_mask


def copy_loss_and_accuracy(
    model: torch.nn.Module, input_ids: torch.Tensor, copy_mask: torch.Tensor,
    vocab_limit: int | None = None,
) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy over the copyable targets and the share predicted exactly (argmax).

    With ``vocab_limit`` the softmax runs over the first ``vocab_limit`` ids only (the final
    hidden states times those rows of the output layer), as behaviour cloning's prompt loss does:
    WebShop's tiny model has 10,000 whole-word product-id tokens after its 772 BPE ids, and a
    full-vocabulary softmax made each step 5.6× slower (``benchmarks/induction_speed.py``). The
    sequences must then draw from those ids (:func:`copyable_token_ids` with the same limit).
    """
    targets, mask = input_ids[:, 1:], copy_mask[:, 1:]
    if vocab_limit is None:
        logits = model(input_ids=input_ids, use_cache=False).logits[:, :-1][mask].float()
    else:
        out = model(input_ids=input_ids, output_hidden_states=True, logits_to_keep=1,
                    use_cache=False)
        hidden = out.hidden_states[-1][:, :-1][mask]
        logits = leading_vocab_logits(model, hidden, vocab_limit).float()
    nll = torch.nn.functional.cross_entropy(logits, targets[mask])
    accuracy = (logits.argmax(-1) == targets[mask]).float().mean().item()
    return nll, accuracy


def pretrain_induction(
    model: torch.nn.Module,
    token_ids: torch.Tensor,
    steps: int,
    *,
    target_accuracy: float = 0.9,
    check_every: int = 100,
    batch_size: int = 32,
    lr: float = 2e-3,
    warmup_steps: int = 50,
    max_grad_norm: float = 1.0,
    seed: int = 0,
    vocab_limit: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
    eval_batches: int = 4,
) -> dict[str, float]:
    """Train ``model`` in place on repeated random sequences until it copies.

    The step at which induction heads form moves by hundreds of steps with tiny numerical
    differences (the same model and seed: step 600 in one process, not by 800 in another), so
    training stops on the held-out copy accuracy rather than after a fixed count.

    Args:
        model: a causal LM (``model(input_ids=…).logits`` of shape ``(B, T, V)``).
        token_ids: ``(n,)`` the ids sequences draw from (:func:`copyable_token_ids`).
        steps: at most this many optimizer steps; the learning rate warms up linearly over
            ``warmup_steps``.
        target_accuracy: stop once the held-out copy accuracy, measured before the first step,
            every ``check_every`` steps and after the last, reaches it (a model that copies
            already, e.g. a cloned warm start loaded by a later run, takes no steps).
        batch_size, lr, warmup_steps, max_grad_norm: sequences per step, AdamW's learning rate
            (no weight decay), its linear warm-up, gradient-norm clipping.
        seed: seeds the sequences (a held-out set for the accuracy is drawn from ``seed + 1``).
        vocab_limit: the softmax covers only the ids below it (:func:`copy_loss_and_accuracy`).
        on_step: called as ``on_step(step, loss)`` after every step (progress).
        eval_batches: held-out batches of the copy accuracy (spans evenly over
            :data:`SPAN_TOKENS`).

    Returns:
        ``induction_copy_acc_before`` / ``induction_copy_acc_after`` (held-out copy accuracy),
        ``induction_steps_taken``, ``induction_s`` (seconds of training, without the first
        accuracy measurement).
    """
    if check_every < 1:
        raise ValueError(f"check_every must be >= 1, got {check_every}")
    if vocab_limit is not None and len(token_ids) and int(token_ids.max()) >= vocab_limit:
        raise ValueError(f"token_ids reach {int(token_ids.max())}, outside vocab_limit "
                         f"{vocab_limit}: draw them with copyable_token_ids(tokenizer, limit)")
    device = next(model.parameters()).device
    token_ids = token_ids.cpu()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    held_out = _held_out(token_ids, batch_size, eval_batches, seed + 1)

    def accuracy() -> float:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            values = [copy_loss_and_accuracy(model, ids.to(device), mask.to(device),
                                             vocab_limit)[1] for ids, mask in held_out]
        model.train(was_training)
        return sum(values) / len(values)

    before = accuracy()
    if before >= target_accuracy:  # it copies already (a cloned or pretrained model): no steps
        return {"induction_steps_taken": 0.0, "induction_s": 0.0,
                "induction_copy_acc_before": before, "induction_copy_acc_after": before}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    tic = time.perf_counter()
    model.train()
    taken, after = 0, before
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / max(warmup_steps, 1))
        span = int(torch.randint(SPAN_TOKENS[0], SPAN_TOKENS[1] + 1, (1,), generator=generator))
        ids, mask = repeated_sequences(token_ids, batch_size, span, generator)
        loss, _ = copy_loss_and_accuracy(model, ids.to(device), mask.to(device), vocab_limit)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        taken = step + 1
        if on_step is not None:
            on_step(step, loss.item())
        if taken % check_every == 0 or taken == steps:
            after = accuracy()
            if after >= target_accuracy:
                break
    optimizer.zero_grad(set_to_none=True)
    return {
        "induction_steps_taken": float(taken),
        "induction_s": time.perf_counter() - tic,
        "induction_copy_acc_before": before,
        "induction_copy_acc_after": after,
    }


def _held_out(
    token_ids: torch.Tensor, batch_size: int, batches: int, seed: int
) -> Sequence[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed ``(input_ids, copy_mask)`` batches for the copy accuracy, one per span length."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    spans = torch.linspace(SPAN_TOKENS[0], SPAN_TOKENS[1], batches).round().long().tolist()
    return [repeated_sequences(token_ids, batch_size, span, generator) for span in spans]
