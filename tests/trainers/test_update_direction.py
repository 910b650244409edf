"""The PPO update moves the policy in the direction of the advantages (a sign check), and how
a mini-batch is cut into micro-batches does not change it."""

from __future__ import annotations

import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym.trainers.config import LossConfig, OptimConfig
from agentgym.trainers.logprobs import sequence_logprobs
from agentgym.trainers.samples import TurnSample
from agentgym.trainers.update import UpdateContext, micro_batches_of, update_policy


def _model() -> torch.nn.Module:
    config = transformers.Qwen2Config(
        vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=1, num_key_value_heads=1, head_dim=32, max_position_embeddings=64,
        tie_word_embeddings=True, pad_token_id=0,
    )
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize("agg_mode", ["token-mean", "seq-mean-token-mean"])
def test_positive_advantage_raises_and_negative_lowers_logprob(agg_mode):
    model = _model()
    prompts = [[5, 6, 7], [5, 6, 8]]
    responses = [[10, 11], [12, 13]]
    samples = [TurnSample(prompts[0], responses[0], None, 1.0),
               TurnSample(prompts[1], responses[1], None, -1.0)]
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=0, micro_batch_size=1)

    def seq_logp() -> torch.Tensor:
        with torch.no_grad():
            logp, mask = sequence_logprobs(model, prompts, responses, 0)
        return (logp * mask).sum(-1)

    before = seq_logp()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    stats = update_policy(
        model, optimizer, samples, LossConfig(agg_mode=agg_mode),
        OptimConfig(ppo_epochs=2, mini_batch_size=2),
        ctx, generator=torch.Generator().manual_seed(0),
    )
    after = seq_logp()
    assert stats["first_ratio_max_dev"] == pytest.approx(0.0, abs=1e-5)
    assert after[0] > before[0] + 1e-3  # positive advantage: more likely
    assert after[1] < before[1] - 1e-3  # negative advantage: less likely


# -- micro-batches of similar lengths ------------------------------------------------------------
def _samples(prompt_lengths, response_lengths, seed=0):
    rng = torch.Generator().manual_seed(seed)
    return [
        TurnSample(torch.randint(1, 32, (p,), generator=rng).tolist(),
                   torch.randint(1, 32, (r,), generator=rng).tolist(), None,
                   float(torch.randn((), generator=rng)))
        for p, r in zip(prompt_lengths, response_lengths, strict=True)
    ]


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 6)), min_size=1,
                        max_size=30),
       size=st.integers(1, 8), max_tokens=st.one_of(st.none(), st.integers(1, 200)))
def test_micro_batches_partition_and_respect_both_limits(lengths, size, max_tokens):
    samples = _samples(*zip(*lengths, strict=True))
    indices = list(range(len(samples)))[::-1]
    micro = micro_batches_of(indices, samples, size, max_tokens)
    assert sorted(i for m in micro for i in m) == sorted(indices)  # each sample once
    total = [len(s.prompt_ids) + len(s.response_ids) for s in samples]
    flat = [total[i] for m in micro for i in m]
    assert flat == sorted(flat)  # cut in length order
    for m in micro:
        assert 1 <= len(m) <= size
        padded = len(m) * (max(len(samples[i].prompt_ids) for i in m)
                           + max(len(samples[i].response_ids) for i in m))
        assert max_tokens is None or len(m) == 1 or padded <= max_tokens


def test_micro_batches_hand_computed():
    # lengths (prompt + response): 10+2, 3+1, 7+1, 4+2 -> sorted 1 (4), 3 (6), 2 (8), 0 (12)
    samples = _samples([10, 3, 7, 4], [2, 1, 1, 2])
    assert micro_batches_of([0, 1, 2, 3], samples, 8) == [[1, 3, 2, 0]]
    assert micro_batches_of([0, 1, 2, 3], samples, 3) == [[1, 3, 2], [0]]
    # budget 16: [1] pads to 4; +3 -> 2 x (4 + 2) = 12; +2 -> 3 x (7 + 2) = 27 > 16
    assert micro_batches_of([0, 1, 2, 3], samples, 8, max_tokens=16) == [[1, 3], [2], [0]]


def test_how_a_mini_batch_is_cut_does_not_change_the_update():
    """One micro-batch per mini-batch vs length-sorted micro-batches under a token budget:
    the same parameters after two PPO epochs (the loss is normalized per mini-batch). Plain SGD,
    so the comparison is of the gradients: Adam's step divides by sqrt(v), which turns float
    rounding on near-zero gradients into visible differences."""
    samples = _samples([3, 17, 5, 30, 9, 12, 4, 21], [2, 3, 1, 4, 2, 3, 2, 1], seed=1)

    def updated(micro_batch_size, micro_batch_tokens):
        model = _model()
        ctx = UpdateContext(device=torch.device("cpu"), pad_id=0,
                            micro_batch_size=micro_batch_size,
                            micro_batch_tokens=micro_batch_tokens)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        stats = update_policy(model, optimizer, samples, LossConfig(),
                              OptimConfig(ppo_epochs=2, mini_batch_size=4), ctx,
                              generator=torch.Generator().manual_seed(0))
        return stats, dict(model.named_parameters())

    one_stats, one = updated(8, None)
    cut_stats, cut = updated(3, 40)
    assert one_stats["steps"] == cut_stats["steps"] == 4
    for name, value in one.items():
        torch.testing.assert_close(cut[name], value, rtol=1e-5, atol=1e-7)
    start = _model().state_dict()
    assert any((value - start[name]).abs().max() > 1e-4 for name, value in one.items())
