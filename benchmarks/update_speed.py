"""PPO update speed and memory: random micro-batches vs length-sorted ones, side by side.

The update cuts each mini-batch into micro-batches (one forward/backward each) and a micro-batch
pads every prompt to its longest one. Multi-turn samples differ a lot in length (a prompt grows
with the episode's history; a results page is longer than a search box), so random micro-batches
are mostly padding. Modes, each in its own child process (its peak resident memory is its own):

* ``random`` -- the update before length sorting: the mini-batch's random order cut into
  chunks of ``--micro-batch-size``;
* ``sorted`` -- the same counts, cut in length order
  (:func:`agentgym.trainers.update.micro_batches_of`; ``hardware=gpu``'s default);
* ``budget`` -- sorted, and at most ``--max-tokens`` padded tokens per micro-batch
  (``hardware.micro_batch_tokens``; ``hardware=cpu``'s default is 16,384).

Samples are synthetic but shaped like multi-turn ones: ``--samples`` turns with prompt lengths
log-uniform in ``[--min-prompt, --max-prompt]`` tokens and responses of 2-24 tokens, on a
Qwen2-architecture model of the tiny model's size (4 layers x 64, 2 heads) built from a config.
Every mode runs the same samples, seed and PPO settings (one epoch, mini-batches of 128), so the
resulting parameters agree to float rounding (checked and printed). Usage::

    python benchmarks/update_speed.py [--samples 512] [--threads 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from typing import Any

MODES = ("random", "sorted", "budget")


def _samples(args: argparse.Namespace) -> list[Any]:
    import numpy as np

    from agentgym.trainers.samples import TurnSample

    rng = np.random.default_rng(0)
    lengths = np.exp(rng.uniform(np.log(args.min_prompt), np.log(args.max_prompt), args.samples))
    return [
        TurnSample(rng.integers(1, 400, int(p)).tolist(), rng.integers(1, 400, int(r)).tolist(),
                   None, float(rng.normal()))
        for p, r in zip(lengths, rng.integers(2, 25, args.samples), strict=True)
    ]


def _model() -> Any:
    import torch
    import transformers

    config = transformers.Qwen2Config(
        vocab_size=400, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True, pad_token_id=0,
    )
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config)


def run_mode(mode: str, args: argparse.Namespace, queue: Any) -> None:
    """One mode's update, in a child process; puts its measurements on ``queue``."""
    import torch

    from agentgym.trainers import update
    from agentgym.trainers.config import LossConfig, OptimConfig

    torch.set_num_threads(args.threads)
    samples = _samples(args)
    model = _model()
    if mode == "random":  # the cut before length sorting: the mini-batch's order, in chunks
        def random_chunks(indices, samples_, size, max_tokens=None):
            return list(update._chunks(list(indices), size))
        update.micro_batches_of = random_chunks
    ctx = update.UpdateContext(device=torch.device("cpu"), pad_id=0,
                               micro_batch_size=args.micro_batch_size,
                               micro_batch_tokens=args.max_tokens if mode == "budget" else None)
    padded = [0]
    pack = update.pack_samples

    def counting_pack(model_, batch, ctx_):
        packed = pack(model_, batch, ctx_)
        padded[0] += packed.input_ids.numel()
        return packed

    update.pack_samples = counting_pack
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tic = time.perf_counter()
    update.update_policy(model, optimizer, samples, LossConfig(),
                         OptimConfig(ppo_epochs=1, mini_batch_size=128), ctx,
                         generator=torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - tic
    real = sum(len(s.prompt_ids) + len(s.response_ids) for s in samples)
    queue.put({
        "mode": mode, "seconds": seconds, "real_tokens": real,
        # old log-probs and the training pass each pack every sample once
        "padded_tokens": padded[0] / 2,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        # numpy copies: torch tensors on a queue are shared through the child's memory
        "params": {k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--min-prompt", type=int, default=40)
    parser.add_argument("--max-prompt", type=int, default=1200)
    parser.add_argument("--micro-batch-size", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=16384)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    results = []
    for mode in args.modes:
        queue = context.Queue()
        child = context.Process(target=run_mode, args=(mode, args, queue))
        child.start()
        results.append(queue.get())
        child.join()
    base = results[0]
    print(f"{args.samples} samples, prompts {args.min_prompt}-{args.max_prompt} tokens "
          f"(log-uniform), micro-batches of {args.micro_batch_size}, "
          f"budget {args.max_tokens} tokens, {args.threads} threads\n")
    print("| mode | update s | speed-up | padded / real tokens | peak RSS GB | max param diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        diff = max(float(abs(r["params"][k] - v).max()) for k, v in base["params"].items())
        print(f"| {r['mode']} | {r['seconds']:.1f} | {base['seconds'] / r['seconds']:.2f}x | "
              f"{r['padded_tokens'] / r['real_tokens']:.2f} | {r['peak_rss_gb']:.2f} | "
              f"{diff:.1e} |")


if __name__ == "__main__":
    main()
