"""One policy update: PPO-clip over turn samples with micro-batches and gradient accumulation.

Everything the update needs is passed in (model, reference, optimizer, samples, settings, a
random generator); nothing is global, so the same function runs under torchrun/FSDP with each
rank holding its shard of the samples.

Order of work for ``update_policy``:

1. fix the epoch-0 order of the samples and cut it into mini-batches (one optimizer step each)
   and those into micro-batches of similar lengths (one forward/backward each;
   :func:`micro_batches_of`);
2. with ``old_logprobs="recompute"`` compute ``log π_old`` with the current weights over exactly
   those micro-batches, so the ratio of the first micro-batch is exactly 1; with ``"engine"`` use
   the sampled log-probs;
3. reference log-probs (when a reference model is given);
4. with ``behaviour_cap`` (asynchronous rollout), the truncated behaviour weights
   ``min(exp(log π_old − log π_engine), cap)`` per token (decoupled PPO, see
   :mod:`agentgym.trainers.loss`);
5. ``ppo_epochs`` passes: per mini-batch, accumulate the micro-batch losses (normalized by the
   mini-batch's token and sequence counts), clip the gradient norm, step AdamW.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from agentgym.trainers.config import LossConfig, OptimConfig
from agentgym.trainers.distributed import SINGLE, DataParallel
from agentgym.trainers.logprobs import (
    PackedBatch,
    entropy_from_logits,
    pack,
    response_logits,
    token_logprobs,
)
from agentgym.trainers.loss import ppo_loss
from agentgym.trainers.samples import TurnSample
from agentgym.trainers.sharded import full_value
from agentgym.trainers.vision import VisionCodec


@dataclass
class UpdateContext:
    """What an update runs on.

    Attributes:
        device: where tensors go.
        pad_id: the tokenizer's padding id.
        temperature: the sampling temperature (log-probs are of ``softmax(logits / T)``).
        norm_len: the constant length of ``seq-mean-token-sum-norm`` (the generation budget).
        autocast: run forwards under bf16 autocast (GPU).
        micro_batch_size: samples per forward/backward (gradient accumulation over them).
        micro_batch_tokens: with a value, a micro-batch of the PPO update (and of its old and
            reference log-probs) and of a behaviour-cloning step also holds at most this many
            padded tokens (rows × (longest prompt + longest response)), so memory follows the
            sequence lengths (verl's ``ppo_max_token_len_per_gpu``); None: only the count.
        vision: image inputs of a vision-language policy (None: text only); samples that
            carry images get the same pixels and multimodal positions the engine used.
        prompt_vocab: behaviour cloning's prompt loss predicts only the token ids below this
            (a softmax over them), and skips prompt tokens at or above it; ``None``: every id.
            The tiny model's tokenizer puts the environment's whole words (WebShop's 10,000
            product ids) that BPE did not know last
            (:func:`~agentgym.trainers.tiny.word_tokens_start`): a page's
            product ids cannot be predicted from the text before them, and the softmax over
            them would be most of a step's work.
    """

    device: torch.device
    pad_id: int
    temperature: float = 1.0
    norm_len: float | None = None
    autocast: bool = False
    micro_batch_size: int = 64
    micro_batch_tokens: int | None = None
    vision: VisionCodec | None = None
    prompt_vocab: int | None = None


def _autocast(ctx: UpdateContext) -> contextlib.AbstractContextManager:
    if ctx.autocast:
        return torch.autocast(device_type=ctx.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _chunks(indices: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield list(indices[start : start + size])


def micro_batches_of(
    indices: Sequence[int], samples: Sequence[TurnSample], size: int,
    max_tokens: int | None = None,
) -> list[list[int]]:
    """Cut one rank's share of a mini-batch into micro-batches of similar lengths.

    The samples are sorted by prompt + response length (stable: ties keep their order) and cut
    in that order so that a micro-batch holds at most ``size`` samples and, with
    ``max_tokens``, at most that many padded tokens, ``rows × (longest prompt + longest
    response)`` (a sample longer than that goes alone). A micro-batch pads to its longest
    prompt, so sorting removes most padding when turns differ in length (a multi-turn
    episode's prompts grow with its history). The loss of every micro-batch is normalized by
    its mini-batch's token and sequence totals, so how a mini-batch is cut changes the
    gradient only by float rounding.

    Returns:
        Lists of indices into ``samples``; together they hold ``indices`` once each.
    """
    ordered = sorted(indices, key=lambda i: len(samples[i].prompt_ids)
                     + len(samples[i].response_ids))
    out: list[list[int]] = []
    current: list[int] = []
    longest_prompt = longest_response = 0
    for i in ordered:
        prompt = max(longest_prompt, len(samples[i].prompt_ids))
        response = max(longest_response, len(samples[i].response_ids))
        too_many = len(current) >= size or (
            max_tokens is not None and (len(current) + 1) * (prompt + response) > max_tokens)
        if current and too_many:
            out.append(current)
            current = []
            prompt, response = len(samples[i].prompt_ids), len(samples[i].response_ids)
        current.append(i)
        longest_prompt, longest_response = prompt, response
    if current:
        out.append(current)
    return out


class PaddingMicroBatch(list):
    """A micro-batch run only so that every rank of a sharded update (FSDP2) runs as many
    forwards and backwards as the others: its loss is multiplied by 0 and its log-probs and
    statistics are dropped."""


def rank_micro_batches(
    mini_batch: Sequence[int], samples: Sequence[TurnSample], ctx: UpdateContext,
    parallel: DataParallel,
) -> list[list[int]]:
    """This rank's micro-batches of ``mini_batch`` (:func:`micro_batches_of` of its share); for a
    sharded update, padded with :class:`PaddingMicroBatch` up to the count of the rank with the
    most (every rank computes every rank's count: they all hold the same samples)."""
    def cut(rank: int) -> list[list[int]]:
        share = dataclasses.replace(parallel, rank=rank).shard(mini_batch)
        return micro_batches_of(share, samples, ctx.micro_batch_size, ctx.micro_batch_tokens)

    if not parallel.sharded:
        return cut(parallel.rank)
    every = [cut(rank) for rank in range(parallel.world_size)]
    mine = every[parallel.rank]
    most = max(len(micros) for micros in every)
    return mine + [PaddingMicroBatch([mini_batch[0]]) for _ in range(most - len(mine))]


def pack_samples(
    model: torch.nn.Module, samples: Sequence[TurnSample], ctx: UpdateContext
) -> PackedBatch:
    """:func:`pack` of ``samples`` on ``ctx.device``; with a vision codec, plus the images'
    ``pixel_values``/``image_grid_thw`` and multimodal-RoPE positions."""
    packed = pack([s.prompt_ids for s in samples], [s.response_ids for s in samples],
                  ctx.pad_id).to(ctx.device)
    if ctx.vision is None:
        return packed
    extra = ctx.vision.model_inputs(model, packed.input_ids, packed.attention_mask,
                                    [s.images for s in samples])
    packed.position_ids = extra.pop("position_ids")
    packed.model_inputs = extra
    packed.suppressed_ids = ctx.vision.suppressed_ids.to(ctx.device)
    return packed


def _pad_rows(rows: Sequence[torch.Tensor], width: int) -> torch.Tensor:
    out = torch.zeros((len(rows), width), dtype=torch.float32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


@torch.no_grad()
def compute_logprobs(
    model: torch.nn.Module,
    samples: Sequence[TurnSample],
    micro_batches: Sequence[Sequence[int]],
    ctx: UpdateContext,
) -> list[torch.Tensor | None]:
    """Per-sample response log-probs (1-D float32 CPU tensors), computed per micro-batch; None
    for samples no micro-batch holds (another rank's shard)."""
    out: list[torch.Tensor | None] = [None] * len(samples)
    was_training = model.training
    model.eval()
    try:
        for micro in micro_batches:
            packed = pack_samples(model, [samples[i] for i in micro], ctx)
            with _autocast(ctx):
                logits = response_logits(model, packed)
            logp = token_logprobs(logits, packed.response_ids, ctx.temperature).float().cpu()
            if isinstance(micro, PaddingMicroBatch):
                continue
            for row, i in enumerate(micro):
                out[i] = logp[row, : len(samples[i].response_ids)].clone()
    finally:
        model.train(was_training)
    return out


def update_policy(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    samples: Sequence[TurnSample],
    loss_cfg: LossConfig,
    optim_cfg: OptimConfig,
    ctx: UpdateContext,
    *,
    reference: torch.nn.Module | None = None,
    generator: torch.Generator | None = None,
    behaviour_cap: float | None = None,
    parallel: DataParallel = SINGLE,
) -> dict[str, Any]:
    """Run the PPO update on ``samples``; returns averaged statistics.

    Args:
        behaviour_cap: samples may come from an older policy than the current weights
            (asynchronous rollout): scale each token's policy loss by
            ``min(π_old / π_behaviour, behaviour_cap)`` with ``π_behaviour`` the sampled
            log-probs (``TurnSample.logprobs``; weight 1 where a sample has none). None = the
            on-policy loss. With ``old_logprobs="engine"`` the ratio is already taken to the
            behaviour policy and no weight is applied.
        parallel: data-parallel ranks (:mod:`agentgym.trainers.distributed`): every rank gets
            the same ``samples`` and ``generator`` state, takes its share of each mini-batch and
            the gradients are summed over ranks before the step; the statistics are this
            rank's share (``samples`` and ``tokens`` are the totals).

    Returns:
        ``loss``, ``pg_loss``, ``kl``, ``entropy``, ``clip_frac``, ``ratio_mean``, ``ratio_max``
        (means over micro-batches), ``grad_norm`` (mean over optimizer steps),
        ``first_ratio_max_dev`` (max ``|ratio − 1|`` on the first micro-batch), ``steps``,
        ``samples``, ``tokens`` and ``engine_logprob_diff`` (mean ``|log π_old − log π_engine|``);
        with ``behaviour_cap`` also ``behaviour_weight_mean`` and ``behaviour_weight_clip_frac``
        (share of tokens whose weight was truncated).
    """
    if not samples:
        return {"samples": 0, "steps": 0}
    n = len(samples)
    order = torch.randperm(n, generator=generator).tolist()
    mini = optim_cfg.mini_batch_size or n
    mini_batches = list(_chunks(order, mini))
    def cut(mb: Sequence[int]) -> list[list[int]]:
        return rank_micro_batches(mb, samples, ctx, parallel)

    micro_of = {tuple(mb): cut(mb) for mb in mini_batches}
    first_micros = [m for mb in mini_batches for m in micro_of[tuple(mb)]]

    if loss_cfg.old_logprobs == "recompute":
        # each rank computes its first-epoch shard; later epochs shard differently
        old = parallel.merge(compute_logprobs(model, samples, first_micros, ctx))
    else:
        if any(s.logprobs is None for s in samples):
            raise ValueError("old_logprobs='engine' needs sampled log-probs on every sample")
        old = [torch.tensor(s.logprobs, dtype=torch.float32) for s in samples]
    diffs = [
        (o - torch.tensor(s.logprobs, dtype=torch.float32)).abs().mean().item()
        for o, s in zip(old, samples, strict=True)
        if o is not None and s.logprobs is not None and len(s.logprobs) == len(o)
    ]
    ref = (parallel.merge(compute_logprobs(reference, samples, first_micros, ctx))
           if reference is not None else None)
    weights = None
    if behaviour_cap is not None and loss_cfg.old_logprobs == "recompute":
        weights = behaviour_weights(old, samples, behaviour_cap)
    # the optimizer's parameters: an FSDP2 root keeps its whole parameters registered after a
    # forward, so model.parameters() would name tensors the gradients never reach
    params = [p for group in optimizer.param_groups for p in group["params"]]
    loss_scale = parallel.world_size if parallel.sharded else 1

    sums: dict[str, float] = {}
    count = 0
    grad_norms: list[float] = []
    first_dev: float | None = None
    model.train()
    for epoch in range(optim_cfg.ppo_epochs):
        if epoch > 0:
            order = torch.randperm(n, generator=generator).tolist()
            mini_batches = list(_chunks(order, mini))
        for mb in mini_batches:
            micro_batches = micro_of.get(tuple(mb)) or cut(mb)
            n_tokens = float(sum(len(samples[i].response_ids) for i in mb))
            optimizer.zero_grad(set_to_none=True)
            for micro in micro_batches:
                packed = pack_samples(model, [samples[i] for i in micro], ctx)
                width = packed.response_ids.shape[1]
                old_lp = _pad_rows([old[i] for i in micro], width).to(ctx.device)
                ref_lp = (_pad_rows([ref[i] for i in micro], width).to(ctx.device)
                          if ref is not None else None)
                adv = torch.tensor([samples[i].advantage for i in micro], dtype=torch.float32,
                                   device=ctx.device)
                weight = (_pad_rows([weights[i] for i in micro], width).to(ctx.device)
                          if weights is not None else None)
                with _autocast(ctx):
                    logits = response_logits(model, packed)
                logp = token_logprobs(logits, packed.response_ids, ctx.temperature)
                if loss_cfg.entropy_coef:
                    entropy = entropy_from_logits(logits, ctx.temperature)
                else:
                    with torch.no_grad():
                        entropy = entropy_from_logits(logits.detach(), ctx.temperature)
                out = ppo_loss(
                    logp, old_lp, adv, packed.response_mask,
                    clip_low=loss_cfg.clip_low, clip_high=loss_cfg.clip_high,
                    ref_logp=ref_lp, kl_coef=loss_cfg.kl_coef, kl_type=loss_cfg.kl_type,
                    entropy=entropy, entropy_coef=loss_cfg.entropy_coef,
                    agg_mode=loss_cfg.agg_mode, num_tokens=n_tokens, num_seqs=float(len(mb)),
                    norm_len=ctx.norm_len, behaviour_weight=weight,
                )
                if isinstance(micro, PaddingMicroBatch):
                    (out.loss * 0.0).backward()  # the same collectives as the other ranks
                    continue
                # FSDP averages the gradients over ranks: scaled, the average is the sum
                (out.loss * loss_scale).backward()
                if first_dev is None:
                    with torch.no_grad():
                        m = packed.response_mask.bool()
                        first_dev = float((torch.exp(logp - old_lp)[m] - 1.0).abs().max())
                # clip_frac and ratio_mean are token means of the micro-batch: weighted by its
                # share of the mini-batch's response tokens they add up to the token mean
                share = sum(len(samples[i].response_ids) for i in micro) / n_tokens
                for name in ("loss", "pg_loss", "kl", "entropy", "clip_frac", "ratio_mean"):
                    sums[name] = sums.get(name, 0.0) + float(getattr(out, name).detach()) * (
                        1.0 if name in ("loss", "pg_loss", "kl", "entropy") else share
                    )
                sums["ratio_max"] = max(sums.get("ratio_max", 0.0), float(out.ratio_max))
            parallel.all_reduce_grads(params)
            if optim_cfg.max_grad_norm > 0 or parallel.sharded:
                # on FSDP2 shards clip_grad_norm_ reduces the norm over ranks (inf: no clip)
                norm = full_value(torch.nn.utils.clip_grad_norm_(
                    params, optim_cfg.max_grad_norm or float("inf")))
            else:
                norm = torch.linalg.vector_norm(
                    torch.stack([p.grad.norm() for p in params if p.grad is not None])
                )
            grad_norms.append(float(norm))
            optimizer.step()
            count += 1
    optimizer.zero_grad(set_to_none=True)
    stats: dict[str, Any] = {k: v / count for k, v in sums.items() if k != "ratio_max"}
    stats.update(
        ratio_max=sums.get("ratio_max", 1.0),
        grad_norm=sum(grad_norms) / len(grad_norms),
        first_ratio_max_dev=first_dev,
        steps=count,
        samples=n,
        tokens=int(sum(len(s.response_ids) for s in samples)),
        engine_logprob_diff=sum(diffs) / len(diffs) if diffs else 0.0,
    )
    if parallel.world_size > 1:
        stats.update(ranks=parallel.world_size, sharded=int(parallel.sharded),
                     rank_samples=sum(len(m) for m in first_micros
                                      if not isinstance(m, PaddingMicroBatch)))
    if weights is not None:
        flat = torch.cat(weights) if weights else torch.ones(0)
        raw = torch.cat([_raw_weight(o, s) for o, s in zip(old, samples, strict=True)]
                        ) if weights else torch.ones(0)
        stats["behaviour_weight_mean"] = float(flat.mean()) if len(flat) else 1.0
        stats["behaviour_weight_clip_frac"] = (float((raw > behaviour_cap).float().mean())
                                               if len(raw) else 0.0)
    return stats


def _raw_weight(old: torch.Tensor, sample: TurnSample) -> torch.Tensor:
    """``exp(log π_old − log π_behaviour)`` per token (1 where the sample has no usable
    behaviour log-probs)."""
    if sample.logprobs is None or len(sample.logprobs) != len(old):
        return torch.ones_like(old)
    return torch.exp(old - torch.tensor(sample.logprobs, dtype=torch.float32))


def behaviour_weights(
    old: Sequence[torch.Tensor], samples: Sequence[TurnSample], cap: float
) -> list[torch.Tensor]:
    """Truncated importance weights of each sample's tokens: ``min(π_old / π_behaviour, cap)``.

    Args:
        old: per-sample ``log π_old`` (1-D, the response length).
        samples: the samples; ``logprobs`` are the behaviour policy's sampled log-probs.
        cap: the truncation (AReaL uses 2–5; the weight is never raised above it).

    Returns:
        One 1-D float32 tensor per sample, shape of ``old[i]``; 1 where a sample has no
        behaviour log-probs of the right length.
    """
    return [torch.clamp(_raw_weight(o, s), max=cap) for o, s in zip(old, samples, strict=True)]


def prompt_loss_mask(
    samples: Sequence[TurnSample], prompt_len: int, device: torch.device
) -> torch.Tensor:
    """Which next-token predictions of the (left-padded) prompts the prompt loss counts.

    Column ``j`` predicts the token at position ``j + 1``; row ``i``'s prompt starts at
    ``prompt_len − len_i``, and its tokens count from index ``max(prompt_loss_from, 1)`` on.
    Shape: ``(B, prompt_len − 1)`` float, 1 where counted.
    """
    offsets = torch.tensor([prompt_len - len(s.prompt_ids) + max(s.prompt_loss_from, 1)
                            for s in samples], device=device)
    targets = torch.arange(1, prompt_len, device=device)
    return (targets.unsqueeze(0) >= offsets.unsqueeze(1)).float()


def counted_logprobs(model: torch.nn.Module, packed: Any, first: int) -> torch.Tensor:
    """Teacher-forced log-probs of the tokens from column ``first`` (>= 1) on:
    ``(B, P+R−first)``, column ``k`` is ``log p(input_ids[:, first+k] | earlier tokens)``.

    Equal to ``next_token_logprobs(model, packed)[:, first − 1:]``, but the output layer runs
    only on the positions that predict those tokens (``logits_to_keep``): with a windowed
    history most of a prompt was counted in an earlier turn, and the output layer and its
    ``(B, L, V)`` log-softmax are the largest tensors of a small model's step.
    """
    width = packed.input_ids.shape[1]
    out = model(
        input_ids=packed.input_ids,
        attention_mask=packed.attention_mask,
        position_ids=packed.position_ids,
        use_cache=False,
        logits_to_keep=width - first + 1,
        **packed.model_inputs,
    )
    return token_logprobs(out.logits[:, :-1, :].float(), packed.input_ids[:, first:])


def leading_vocab_logits(
    model: torch.nn.Module, hidden: torch.Tensor, vocab_limit: int
) -> torch.Tensor:
    """Logits over the first ``vocab_limit`` ids only: ``hidden`` ``(..., d)`` (final hidden
    states) times those rows of the model's output layer → ``(..., vocab_limit)``."""
    head = model.get_output_embeddings()
    bias = None if head.bias is None else head.bias[:vocab_limit]
    return torch.nn.functional.linear(hidden, head.weight[:vocab_limit], bias)


def split_vocab_logprobs(
    model: torch.nn.Module, packed: Any, first: int, prompt_vocab: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt log-probs over the first ``prompt_vocab`` ids, response log-probs over all.

    Returns ``(prompt, response)``: ``prompt`` ``(B, P−first)``, column ``k`` is
    ``log softmax(logits[:prompt_vocab])[input_ids[:, first+k]]`` (0 where that token is
    ``>= prompt_vocab``); ``response`` ``(B, R)`` as :func:`response_logits` +
    :func:`token_logprobs`. One forward; the prompt positions use the final hidden states times
    the first ``prompt_vocab`` rows of the output layer.
    """
    p_len, r_len = packed.prompt_len, packed.response_ids.shape[1]
    out = model(
        input_ids=packed.input_ids,
        attention_mask=packed.attention_mask,
        position_ids=packed.position_ids,
        use_cache=False,
        output_hidden_states=True,
        logits_to_keep=r_len + 1,
        **packed.model_inputs,
    )
    response = token_logprobs(out.logits[:, :-1, :].float(), packed.response_ids)
    hidden = out.hidden_states[-1][:, first - 1 : p_len - 1]  # predicts tokens first..p_len-1
    logits = leading_vocab_logits(model, hidden, prompt_vocab)
    targets = packed.input_ids[:, first:p_len]
    inside = targets < prompt_vocab
    prompt = token_logprobs(logits.float(), torch.where(inside, targets, 0)) * inside
    return prompt, response


def sft_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    samples: Sequence[TurnSample],
    ctx: UpdateContext,
    *,
    max_grad_norm: float = 1.0,
    prompt_weight: float = 0.0,
) -> float:
    """One behaviour-cloning step; returns the response loss (nats per response token).

    The loss is the token-mean cross-entropy of the responses plus ``prompt_weight`` times the
    token-mean next-token loss over the prompts. The prompt term is language-model pretraining
    on the environment's own text: a model trained from scratch (``model=tiny``) must first
    learn to read observations — e.g. where the player stands in a Sokoban grid — and the
    responses alone (a few tokens per turn) give too little signal for that. With
    ``prompt_weight=1`` the tiny model's held-out expert-action accuracy on Sokoban reached 94%
    after 1,000 steps; without it, 37–41% (see benchmarks/RESULTS.md).
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    n_tokens = float(sum(len(s.response_ids) for s in samples))
    # predicted prompt tokens: positions 1.. of each prompt, from its prompt_loss_from on (and
    # below ctx.prompt_vocab when that is set)
    limit = ctx.prompt_vocab
    n_prompt = float(sum(
        sum(1 for t in s.prompt_ids[max(s.prompt_loss_from, 1):] if limit is None or t < limit)
        for s in samples))
    total = 0.0
    for micro in micro_batches_of(range(len(samples)), samples, ctx.micro_batch_size,
                                  ctx.micro_batch_tokens):
        chunk = [samples[i] for i in micro]
        packed = pack_samples(model, chunk, ctx)
        p_len = packed.prompt_len
        # first predicted token any row counts (>= 1): the logits of earlier positions (text
        # repeated from the history, left padding) are never computed
        first = min(p_len, *(p_len - len(s.prompt_ids) + max(s.prompt_loss_from, 1)
                             for s in chunk))
        with _autocast(ctx):
            if prompt_weight > 0 and limit is not None and first < p_len:
                prompt_lp, logp = split_vocab_logprobs(model, packed, first, limit)
            elif prompt_weight > 0:
                every = counted_logprobs(model, packed, first)  # predicts tokens first..
                prompt_lp, logp = every[:, : p_len - first], every[:, p_len - first :]
            else:
                logp = token_logprobs(response_logits(model, packed), packed.response_ids)
        response_loss = -(logp * packed.response_mask).sum() / n_tokens
        loss = response_loss
        if prompt_weight > 0 and n_prompt > 0:
            prompt_mask = prompt_loss_mask(chunk, p_len, ctx.device)[:, first - 1 :]
            prompt_loss = -(prompt_lp * prompt_mask).sum() / n_prompt
            loss = loss + prompt_weight * prompt_loss
        loss.backward()
        total += float(response_loss.detach())
    params = [p for p in model.parameters() if p.requires_grad]
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total
