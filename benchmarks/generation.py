"""Tokens/s of the hf generation engine: one batched call vs one prompt at a time.

    python benchmarks/generation.py [--prompts 64] [--max-new-tokens 16]

Uses the embedded tiny model for Sokoban and real Sokoban prompts (chat template of the first
observation of held-out tasks); both modes get the same prompts and greedy decoding with no stop
string, so they generate the same number of tokens.
"""

from __future__ import annotations

import argparse
import time

import torch

from agentgym.core.policies import ExpertPolicy
from agentgym.core.rollout import collect
from agentgym.trainers.config import EnvConfig, ModelConfig
from agentgym.trainers.engines import HFEngine
from agentgym.trainers.model import load_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env = EnvConfig()
    model, tokenizer = load_policy(ModelConfig(), env, torch.device("cpu"))
    engine = HFEngine(model, tokenizer, temperature=0.0, max_new_tokens=args.max_new_tokens,
                      stop=[], batch_size=args.prompts)
    messages: list = []

    def grab(requests):
        messages.extend(r.messages for r in requests)
        return ExpertPolicy()(requests)

    collect(env.id, grab, range(1_000_000, 1_000_000 + args.prompts), max_turns=1,
            action_format="xml", history_window=0, num_workers=0)
    prompts = [engine.encode_prompt(m) for m in messages[: args.prompts]]
    engine.generate(prompts[:2])  # warm-up

    start = time.perf_counter()
    batched = engine.generate(prompts)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    single = [engine.generate([p])[0] for p in prompts]
    t_single = time.perf_counter() - start

    n_batched = sum(len(g.token_ids) for g in batched)
    n_single = sum(len(g.token_ids) for g in single)
    same = sum(a.token_ids == b.token_ids for a, b in zip(batched, single, strict=True))
    print(f"{len(prompts)} prompts, mean prompt length "
          f"{sum(map(len, prompts)) / len(prompts):.0f} tokens, {args.threads} threads")
    print(f"batched      : {n_batched} tokens in {t_batched:.2f}s = "
          f"{n_batched / t_batched:.0f} tok/s")
    print(f"one at a time: {n_single} tokens in {t_single:.2f}s = {n_single / t_single:.0f} tok/s")
    print(f"speed-up {t_single / t_batched:.1f}x; identical greedy outputs: {same}/{len(prompts)}")


if __name__ == "__main__":
    main()
