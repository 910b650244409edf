"""Induction-head pre-training (trainers/induction.py): batches; the tiny model learns to copy."""

from __future__ import annotations

import pytest
import torch

from agentgym.trainers.induction import (
    copy_loss_and_accuracy,
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
    3,000 steps its induction heads form (measured: at step 600–1,100) and training stops once
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
    assert result["induction_steps_taken"] == len(losses) < 3000
    assert result["induction_steps_taken"] % 100 == 0  # stopped at a check
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:20]) / 20
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # a model that copies already (e.g. the cloned warm start a later run loads) is left alone
    trained = [p.detach().clone() for p in model.parameters()]
    again = pretrain_induction(model, copyable_token_ids(tokenizer), 3000, seed=0,
                               target_accuracy=0.9, on_step=lambda _, loss: losses.append(loss))
    assert again["induction_steps_taken"] == 0 and again["induction_copy_acc_before"] >= 0.9
    assert len(losses) == result["induction_steps_taken"]
    assert all(torch.equal(a, b) for a, b in zip(trained, model.parameters(), strict=True))


def test_split_vocabulary_loss_equals_the_full_softmax_restricted(tiny_model):
    """The ``vocab_limit`` path (hidden states × the first rows of the output layer) gives the
    cross-entropy of the full model's logits cut to those ids, and the full loss at the full
    vocabulary."""
    model, tokenizer = tiny_model
    limit = 200
    ids, mask = repeated_sequences(copyable_token_ids(tokenizer, limit), 4, 9,
                                   torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, :-1][mask[:, 1:]]
        targets = ids[:, 1:][mask[:, 1:]]
        expected = torch.nn.functional.cross_entropy(logits[:, :limit], targets)
        split, _ = copy_loss_and_accuracy(model, ids, mask, vocab_limit=limit)
        full, _ = copy_loss_and_accuracy(model, ids, mask)
        whole, _ = copy_loss_and_accuracy(model, ids, mask, vocab_limit=len(tokenizer))
    assert bool((ids < limit).all())
    assert torch.allclose(split, expected, atol=1e-5)
    assert torch.allclose(whole, full, atol=1e-5)
    assert not torch.allclose(split, full, atol=1e-3)


def test_ids_outside_the_vocabulary_limit_are_refused(tiny_model):
    model, _ = tiny_model
    with pytest.raises(ValueError, match="vocab_limit"):
        pretrain_induction(model, torch.tensor([5, 300]), 1, vocab_limit=100)
