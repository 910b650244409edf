"""Induction-head pre-training (trainers/induction.py): batches; the tiny model learns to copy."""

from __future__ import annotations

import torch

from agentgym.trainers.induction import (
    copyable_token_ids,
    pretrain_induction,
    repeated_sequences,
)


def test_repeated_sequences_repeat_and_mark_only_copyable_targets():
    token_ids = torch.arange(10, 20)
    ids, mask = repeated_sequences(token_ids, 3, 5, torch.Generator().manual_seed(0))
    assert ids.shape == mask.shape == (3, 15)
    assert torch.equal(ids[:, :5], ids[:, 5:10]) and torch.equal(ids[:, :5], ids[:, 10:])
    assert bool(((ids >= 10) & (ids < 20)).all())
    # target 5 (first token of the first repeat) follows a random token: not copyable
    assert mask[:, :6].sum() == 0 and bool(mask[:, 6:].all())


def test_copyable_token_ids_leave_out_special_tokens(tiny_model):
    _, tokenizer = tiny_model
    ids = set(copyable_token_ids(tokenizer).tolist())
    assert not ids & set(tokenizer.all_special_ids)
    assert len(ids) == len(tokenizer) - len(set(tokenizer.all_special_ids))


def test_pretraining_teaches_the_tiny_model_to_copy(tiny_path):
    """The tiny model from random weights cannot copy an unseen random sequence (~1/V); within
    3,000 steps its induction heads form (measured: around step 600) and training stops once
    the held-out copy accuracy reaches the target."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_path))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_path))
    before = [p.detach().clone() for p in model.parameters()]
    losses: list[float] = []
    result = pretrain_induction(model, copyable_token_ids(tokenizer), 3000, seed=0,
                                target_accuracy=0.9, on_step=lambda _, loss: losses.append(loss))
    assert result["induction_copy_acc_before"] < 0.05
    assert result["induction_copy_acc_after"] >= 0.9
    assert result["induction_steps"] == len(losses) < 3000
    assert result["induction_steps"] % 100 == 0  # stopped at a check
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:20]) / 20
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
