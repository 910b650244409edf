"""Induction pre-training step time: the full-vocabulary softmax vs the split one, side by side.

On WebShop's tiny model (772 BPE ids + 10,000 whole-word product-id and option tokens) the
random sequences draw from the BPE ids, and the loss's softmax runs either over every id of the
vocabulary (``full``) or over the BPE ids only (``split``: the final hidden states times those
rows of the output layer, ``trainers/induction.py``). Blocks of steps of the two alternate, so a
change in the machine's load reaches both. Usage::

    python benchmarks/induction_speed.py [--env webshop] [--blocks 4] [--steps 20]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="webshop")
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20, help="steps per block")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from agentgym.cli.train import compose, to_train_config
    from agentgym.trainers.induction import (
        copy_loss_and_accuracy,
        copyable_token_ids,
        repeated_sequences,
    )
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.tiny import word_tokens_start

    torch.set_num_threads(args.threads)
    cfg = to_train_config(compose([f"env={args.env}"]))
    model, tokenizer = load_policy(cfg.model, cfg.env, torch.device("cpu"))
    limit = word_tokens_start(tokenizer)
    token_ids = copyable_token_ids(tokenizer, limit)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    seconds = {"full": 0.0, "split": 0.0}
    for _ in range(args.blocks):
        for mode, vocab_limit in (("full", None), ("split", limit)):
            tic = time.perf_counter()
            for _ in range(args.steps):
                ids, mask = repeated_sequences(token_ids, 32, 24, generator)
                loss, _ = copy_loss_and_accuracy(model, ids, mask, vocab_limit)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            seconds[mode] += time.perf_counter() - tic
    steps = args.blocks * args.steps
    print(f"env={args.env}: vocabulary {len(tokenizer)}, split at {limit}; "
          f"batch 32 x 72 tokens, {steps} steps each, {args.threads} threads")
    for mode in seconds:
        print(f"  {mode:5s} {1000 * seconds[mode] / steps:7.1f} ms/step")
    print(f"  split is {seconds['full'] / seconds['split']:.2f}x faster")


if __name__ == "__main__":
    main()
