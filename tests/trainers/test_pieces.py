"""Small pieces of the recipe: pass@k, invalid penalty, turn samples, seeds, tiny tokenizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agentgym.core.trajectory import Episode, StepBatch, Turn
from agentgym.trainers.config import ConfigError, TrainConfig
from agentgym.trainers.evaluation import episode_metrics, pass_at_k
from agentgym.trainers.recipe import check_seed_ranges, penalize_invalid, train_seeds
from agentgym.trainers.samples import turn_samples


def _episode(group: str, valid: list[bool], success: bool, ids: bool = True) -> Episode:
    turns = [
        Turn(observation="o", action="a", reward=-0.1, action_valid=v,
             prompt_ids=[1, 2] if ids else None, response_ids=[3] if ids else None,
             response_logprobs=[-0.5] if ids else None)
        for v in valid
    ]
    return Episode("e", "t", group, f"{group}-{len(valid)}", 0, turns, success,
                   outcome=-0.1 * len(valid))


def test_pass_at_k_hand_computed():
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))  # 0.5
    assert pass_at_k(4, 3, 2) == 1.0
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_episode_metrics_pass_at_k():
    episodes = [_episode("g1", [True], s) for s in (True, False)] + [
        _episode("g2", [True], False) for _ in range(2)
    ]
    metrics = episode_metrics(episodes, k=2)
    assert metrics["success_rate"] == 0.25
    assert metrics["pass@2"] == pytest.approx(0.5)  # g1: 1.0, g2: 0.0
    assert metrics["success_ci_low"] < 0.25 < metrics["success_ci_high"]


def test_penalize_invalid_changes_rewards_and_outcomes():
    batch = StepBatch.from_episodes(
        [_episode("g", [True, False, False], False), _episode("g", [True], True)]
    )
    out = penalize_invalid(batch, 0.5)
    assert out.reward.tolist() == pytest.approx([-0.1, -0.6, -0.6, -0.1])
    assert out.outcome.tolist() == pytest.approx([-1.3, -1.3, -1.3, -0.1])
    assert penalize_invalid(batch, 0.0) is batch


def test_turn_samples_align_with_batch_rows():
    episodes = [_episode("g", [True, True], False), _episode("h", [True], False, ids=False),
                _episode("g", [True], True)]
    samples = turn_samples(episodes, np.array([1.0, 2.0, 3.0, 4.0]))
    # the turn without token ids (row 2) is skipped; the others keep their own advantage
    assert [s.advantage for s in samples] == [1.0, 2.0, 4.0]
    with pytest.raises(ValueError):
        turn_samples(episodes, np.zeros(3))


def test_seed_ranges_are_disjoint():
    cfg = TrainConfig()
    assert train_seeds(cfg, 1) == list(range(8, 16))
    check_seed_ranges(cfg)
    cfg.trainer.eval_seed = 5
    with pytest.raises(ConfigError, match="overlap"):
        check_seed_ranges(cfg)


def test_tiny_tokenizer_round_trip_and_chat_template(tiny_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_path))
    text = "# # #\n# P X O #\n<action>left</action> ünïcode ☃"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    messages = [{"role": "user", "content": "hi"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=False)
    assert tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>"
    assert len(tokenizer.encode("<action>")) == 1
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(tiny_path))
    assert config.model_type == "qwen2"
    assert config.hidden_size // config.num_attention_heads >= 32


def test_next_token_logprobs_agree_with_response_logprobs(tiny_model):
    from agentgym.trainers.logprobs import next_token_logprobs, pack, sequence_logprobs

    model, tokenizer = tiny_model
    prompts = [[5, 6, 7, 8, 9], [10, 11, 12]]
    responses = [[13, 14], [15, 16, 17]]
    with torch.no_grad():
        response_lp, mask = sequence_logprobs(model, prompts, responses, tokenizer.pad_token_id)
        every = next_token_logprobs(model, pack(prompts, responses, tokenizer.pad_token_id))
    p_len = max(map(len, prompts))
    assert every.shape == (2, p_len + 3 - 1)
    assert torch.allclose(every[:, p_len - 1 :] * mask, response_lp * mask, atol=1e-5)


def _prompt_nll(model, packed, prompt_len: int) -> float:
    """Mean next-token loss of a packed sample's prompt tokens."""
    from agentgym.trainers.logprobs import next_token_logprobs

    with torch.no_grad():
        return -float(next_token_logprobs(model, packed)[0, : prompt_len - 1].mean())


def _clone_for(weight: float, tiny_path, steps: int = 15) -> tuple[float, float, list[float]]:
    """(prompt loss before, prompt loss after, response losses) of BC with ``prompt_weight``."""
    from agentgym.trainers.config import EnvConfig, ModelConfig
    from agentgym.trainers.logprobs import pack
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.samples import TurnSample
    from agentgym.trainers.update import UpdateContext, sft_step

    torch.manual_seed(0)
    model, tokenizer = load_policy(ModelConfig(), EnvConfig(), torch.device("cpu"), path=tiny_path)
    prompt = tokenizer.encode("# # # #\n# P X #\n# _ O #", add_special_tokens=False)
    response = tokenizer.encode("<action>up</action>", add_special_tokens=False)
    samples = [TurnSample(prompt, response, None, 1.0)] * 4
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    packed = pack([prompt], [response], ctx.pad_id)
    before = _prompt_nll(model, packed, len(prompt))
    losses = [sft_step(model, optimizer, samples, ctx, prompt_weight=weight) for _ in range(steps)]
    return before, _prompt_nll(model, packed, len(prompt)), losses


def test_sft_prompt_loss_teaches_the_prompt_text(tiny_path):
    """With prompt_weight > 0 behaviour cloning also fits the prompts; without, it does not."""
    plain_before, plain_after, plain_losses = _clone_for(0.0, tiny_path)
    full_before, full_after, full_losses = _clone_for(1.0, tiny_path)
    # the response is learned either way (sft_step reports the response loss)
    assert plain_losses[-1] < 0.5 * plain_losses[0]
    assert full_losses[-1] < 0.5 * full_losses[0]
    # the prompt is learned with the weight, and far better than without it
    assert full_after < 0.5 * full_before
    assert full_after < 0.5 * plain_after
    assert plain_before == pytest.approx(full_before)
