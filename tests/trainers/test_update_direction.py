"""The PPO update moves the policy in the direction of the advantages (a sign check)."""

from __future__ import annotations

import pytest
import torch
import transformers

from agentgym.trainers.config import LossConfig, OptimConfig
from agentgym.trainers.logprobs import sequence_logprobs
from agentgym.trainers.samples import TurnSample
from agentgym.trainers.update import UpdateContext, update_policy


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
