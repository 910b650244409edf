"""Token-level PPO-clip loss, KL estimators and loss aggregation.

Shapes: ``B`` samples (turns), ``R`` response tokens; every per-token tensor is ``(B, R)`` with a
``mask`` of 1 on real tokens. A turn's advantage ``A`` is broadcast to its tokens.

* PPO-clip (Schulman et al. 2017, arXiv:1707.06347) with asymmetric clipping (DAPO's
  clip-higher, Yu et al. 2025, arXiv:2503.14476)::

      ratio = exp(logp − logp_old)
      L_pg  = max(−A · ratio, −A · clip(ratio, 1 − ε_low, 1 + ε_high))

* decoupled PPO for stale samples (asynchronous rollout; Hilton et al. 2022, arXiv:2110.00641;
  AReaL, Fu et al. 2025, arXiv:2505.24298): ``logp_old`` is the proximal policy (the weights at
  the start of the update) and each token's loss is scaled by the truncated behaviour weight
  ``w = min(π_old / π_behaviour, cap)`` (no gradient)::

      L_pg  = w · max(−A · ratio, −A · clip(ratio, 1 − ε_low, 1 + ε_high))

* KL to a frozen reference (Schulman 2020, "Approximating KL divergence")::

      k1 = logp − logp_ref
      k3 = exp(logp_ref − logp) − (logp_ref − logp) − 1      (≥ 0, low variance)

* aggregation of a per-token loss ``ℓ``:

  - ``token-mean``: ``Σ mask·ℓ / Σ mask`` (every token weighs the same; DAPO);
  - ``seq-mean-token-mean``: mean over sequences of each sequence's token mean (GRPO);
  - ``seq-mean-token-sum-norm``: ``Σ mask·ℓ / (B · L_norm)`` with a constant ``L_norm`` such as
    the generation budget (Dr. GRPO, Liu et al. 2025, arXiv:2503.20783: no length bias).

  With gradient accumulation the normalizers (``num_tokens``, ``num_seqs``) are those of the
  whole mini-batch, so the summed micro-batch losses equal the mini-batch loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agentgym.trainers.config import AGG_MODES


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(π ‖ π_ref) from samples of π: ``(B, R) -> (B, R)``."""
    if kind == "k1":
        return logp - ref_logp
    if kind == "k3":
        log_ratio = ref_logp - logp
        return torch.exp(log_ratio) - log_ratio - 1.0
    raise ValueError(f"unknown KL estimator {kind!r}; use 'k1' or 'k3'")


def aggregate(
    loss: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "token-mean",
    *,
    num_tokens: float | None = None,
    num_seqs: float | None = None,
    norm_len: float | None = None,
) -> torch.Tensor:
    """Reduce a per-token loss ``(B, R)`` to a scalar.

    Args:
        loss: per-token values.
        mask: 1 on real tokens.
        mode: one of ``token-mean``, ``seq-mean-token-mean``, ``seq-mean-token-sum-norm``.
        num_tokens: token count to divide by (default: ``mask.sum()``; pass the mini-batch count
            under gradient accumulation).
        num_seqs: sequence count to divide by (default: ``B``).
        norm_len: the constant length of ``seq-mean-token-sum-norm`` (default: ``R``).
    """
    mask = mask.to(loss.dtype)
    if mode == "token-mean":
        denom = mask.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=loss.dtype)
        return (loss * mask).sum() / denom.clamp(min=1.0)
    seqs = float(loss.shape[0] if num_seqs is None else num_seqs)
    if mode == "seq-mean-token-mean":
        per_seq = (loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        return per_seq.sum() / max(seqs, 1.0)
    if mode == "seq-mean-token-sum-norm":
        length = float(loss.shape[1] if norm_len is None else norm_len)
        return (loss * mask).sum() / (max(seqs, 1.0) * length)
    raise ValueError(f"unknown loss aggregation {mode!r}; choose one of {AGG_MODES}")


@dataclass
class LossOutput:
    """The loss and its parts (scalars; only ``loss`` carries gradients)."""

    loss: torch.Tensor
    pg_loss: torch.Tensor
    kl: torch.Tensor
    entropy: torch.Tensor
    clip_frac: torch.Tensor
    ratio_mean: torch.Tensor
    ratio_max: torch.Tensor


def ppo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    ref_logp: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    kl_type: str = "k3",
    entropy: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    agg_mode: str = "token-mean",
    num_tokens: float | None = None,
    num_seqs: float | None = None,
    norm_len: float | None = None,
    behaviour_weight: torch.Tensor | None = None,
) -> LossOutput:
    """PPO-clip + KL − entropy bonus, aggregated with ``agg_mode``.

    Args:
        logp: ``(B, R)`` log-probs under the current policy (with gradients).
        old_logp: ``(B, R)`` log-probs under the policy that sampled the data.
        advantages: ``(B,)`` one per turn (broadcast to its tokens) or ``(B, R)``.
        mask: ``(B, R)`` 1 on real response tokens.
        clip_low / clip_high: the clip range ``[1 − clip_low, 1 + clip_high]``.
        ref_logp: ``(B, R)`` reference log-probs (needed when ``kl_coef > 0``).
        kl_coef: KL weight; kl_type: ``k1`` or ``k3``.
        entropy: ``(B, R)`` per-token entropy (needed when ``entropy_coef > 0``).
        entropy_coef: entropy bonus weight (subtracted).
        agg_mode, num_tokens, num_seqs, norm_len: see :func:`aggregate`.
        behaviour_weight: ``(B, R)`` truncated importance weights ``min(π_old / π_behaviour,
            cap)`` of stale samples (decoupled PPO); None = 1 everywhere (the on-policy loss).
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1).expand_as(logp)
    ratio = torch.exp(logp - old_logp)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    per_token = torch.maximum(unclipped, clipped)
    if behaviour_weight is not None:
        per_token = per_token * behaviour_weight.detach()
    agg = {"num_tokens": num_tokens, "num_seqs": num_seqs, "norm_len": norm_len}
    pg_loss = aggregate(per_token, mask, agg_mode, **agg)
    loss = pg_loss
    zero = torch.zeros((), dtype=logp.dtype, device=logp.device)
    kl = zero
    if ref_logp is not None:
        kl = aggregate(kl_estimate(logp, ref_logp, kl_type), mask, agg_mode, **agg)
        if kl_coef:
            loss = loss + kl_coef * kl
    elif kl_coef:
        raise ValueError("kl_coef > 0 needs ref_logp")
    ent = zero
    if entropy is not None:
        ent = aggregate(entropy, mask, agg_mode, **agg)
        if entropy_coef:
            loss = loss - entropy_coef * ent
    elif entropy_coef:
        raise ValueError("entropy_coef > 0 needs entropy")
    with torch.no_grad():
        m = mask.to(logp.dtype)
        n = m.sum().clamp(min=1.0)
        clip_frac = ((clipped > unclipped).to(logp.dtype) * m).sum() / n
        ratio_mean = (ratio * m).sum() / n
        ratio_max = ratio.masked_fill(~mask.bool(), -torch.inf).max() if m.any() else zero
    return LossOutput(loss, pg_loss.detach(), kl.detach(), ent.detach(), clip_frac, ratio_mean,
                      ratio_max)
