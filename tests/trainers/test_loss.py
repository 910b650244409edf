"""Loss functions against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from agentgym.trainers.loss import aggregate, kl_estimate, ppo_loss

MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
LOSS = torch.tensor([[1.0, 2.0, 3.0], [4.0, 100.0, 100.0]])


def test_token_mean():
    # (1 + 2 + 3 + 4) / 4 tokens
    assert aggregate(LOSS, MASK, "token-mean").item() == pytest.approx(2.5)


def test_seq_mean_token_mean():
    # mean(mean(1, 2, 3), mean(4)) = (2 + 4) / 2
    assert aggregate(LOSS, MASK, "seq-mean-token-mean").item() == pytest.approx(3.0)


def test_seq_mean_token_sum_norm():
    # (6 + 4) / (2 sequences * 3 columns); with norm_len=10: 10 / 20
    assert aggregate(LOSS, MASK, "seq-mean-token-sum-norm").item() == pytest.approx(10 / 6)
    assert aggregate(LOSS, MASK, "seq-mean-token-sum-norm", norm_len=10).item() == pytest.approx(
        0.5
    )


def test_global_normalizers_make_micro_batches_add_up():
    # Two micro-batches normalized by the mini-batch counts sum to the full-batch value.
    for mode in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"):
        full = aggregate(LOSS, MASK, mode, norm_len=3)
        parts = sum(
            aggregate(LOSS[i : i + 1], MASK[i : i + 1], mode, num_tokens=4.0, num_seqs=2.0,
                      norm_len=3)
            for i in range(2)
        )
        assert parts.item() == pytest.approx(full.item()), mode


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="token-mean"):
        aggregate(LOSS, MASK, "sum")


def test_kl_estimators():
    logp = torch.tensor([[0.0, -1.0]])
    ref = torch.tensor([[math.log(0.5), -1.0]])
    # k1 = logp - ref
    assert kl_estimate(logp, ref, "k1").tolist()[0] == pytest.approx([math.log(2.0), 0.0])
    # k3 = exp(ref - logp) - (ref - logp) - 1 = 0.5 + ln 2 - 1
    assert kl_estimate(logp, ref, "k3").tolist()[0] == pytest.approx([0.5 + math.log(2) - 1, 0.0])
    with pytest.raises(ValueError):
        kl_estimate(logp, ref, "k2")


def test_ppo_clip_hand_computed():
    # One token per sequence; ratios e^{0.5} and e^{-0.5} with advantages of both signs.
    logp = torch.tensor([[0.5], [0.5], [-0.5], [-0.5]])
    old = torch.zeros(4, 1)
    adv = torch.tensor([1.0, -1.0, -1.0, 1.0])
    out = ppo_loss(logp, old, adv, torch.ones(4, 1), clip_low=0.2, clip_high=0.28)
    r_hi, r_lo = math.exp(0.5), math.exp(-0.5)
    expected = [
        max(-r_hi, -1.28),  # A>0, ratio above 1+eps_high: clipped
        max(r_hi, 1.28),  # A<0, ratio > 1: not clipped (pessimistic bound)
        max(r_lo, 0.8),  # A<0, ratio below 1-eps_low: clipped
        max(-r_lo, -0.8),  # A>0, ratio < 1: not clipped
    ]
    assert out.pg_loss.item() == pytest.approx(sum(expected) / 4)
    assert out.clip_frac.item() == pytest.approx(0.5)
    assert out.ratio_max.item() == pytest.approx(r_hi)


def test_ratio_one_gives_minus_advantage_and_its_gradient():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -0.7]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    adv = torch.tensor([1.0, -2.0])
    out = ppo_loss(logp, logp.detach(), adv, mask)
    # tokens: -1, -1, +2 → token-mean 0
    assert out.loss.item() == pytest.approx(0.0)
    out.loss.backward()
    # d/dlogp of -A * exp(logp - old) at ratio 1 is -A / n_tokens on real tokens
    assert logp.grad.flatten().tolist() == pytest.approx([-1 / 3, -1 / 3, 2 / 3, 0.0])


def test_kl_and_entropy_terms():
    logp = torch.zeros(1, 2)
    ref = torch.full((1, 2), math.log(0.5))
    entropy = torch.tensor([[1.0, 3.0]])
    out = ppo_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), ref_logp=ref, kl_coef=0.1,
                   kl_type="k1", entropy=entropy, entropy_coef=0.01)
    # pg 0 + 0.1 * ln2 - 0.01 * 2
    assert out.loss.item() == pytest.approx(0.1 * math.log(2) - 0.02)
    assert out.kl.item() == pytest.approx(math.log(2))
    assert out.entropy.item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="ref_logp"):
        ppo_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), kl_coef=0.1)
