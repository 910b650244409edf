"""Behaviour-cloning speed and memory, before vs after, side by side in one run.

Each mode runs in its own child process (so its peak resident memory is its own): it builds or
loads the tiny model for its environment settings, plays ``--episodes`` expert demonstrations,
then clones them for ``--epochs`` epochs from the model's initial weights and reports the real
(unpadded) tokens per second, the seconds per epoch, the padding share and the peak memory.

* ``before`` — how ``env=webshop`` cloned before: the original ``text`` pages (the instruction
  and the action list on every page, ~900 tokens), two past turns in every prompt, the goal
  expert, the tokenizer without whole-word product ids (its own tiny model, cached as
  ``tiny-…-before``), random batches (padded to the longest prompt of the batch), the prompt
  loss over whole prompts (every page learned again in each later turn), logits of every
  position.
* ``after`` — the shipped ``env=webshop``: the ``compact`` pages, the ``first_match`` expert and
  its history window, length-bucketed batches, the prompt loss counting each observation once,
  the output layer only where the loss counts, and the prompt's softmax over the tokenizer's own
  vocabulary (without the 10,000 product-id tokens; ``UpdateContext.prompt_vocab``).

``--env`` picks another environment (both modes then use its config and differ only in the
batching and the loss). Usage::

    python benchmarks/bc_speed.py --episodes 400 --epochs 1          # WebShop, the issue's size
    python benchmarks/bc_speed.py --env sokoban --episodes 400

Where the time goes: ``py-spy record -o bc.svg -- python benchmarks/bc_speed.py --modes after``.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import resource
import time
from typing import Any

#: The ``env=webshop`` prompt settings before compact pages (agentgym 0.2's configs/env).
WEBSHOP_BEFORE = ["env.kwargs.observation_mode=text", "env.kwargs.expert=goal",
                  "env.history_window=2", "env.max_new_tokens=24"]


def random_batches(lengths: list[int], batch_size: int, generator: Any) -> list[list[int]]:
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def run_mode(name: str, env: str, episodes: int, epochs: int, threads: int,
             cache: str | None) -> dict[str, Any]:
    """One mode, in this (child) process; returns its numbers."""
    import torch

    from agentgym.cli.train import compose, to_train_config
    from agentgym.core.policies import ExpertPolicy
    from agentgym.trainers.engines import EngineBuild, SamplingSettings, make_engine
    from agentgym.trainers.evaluation import TeacherPolicy, run_episodes
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.recipe import length_bucketed_batches, user_message_marker
    from agentgym.trainers.samples import turn_samples
    from agentgym.trainers.tiny import word_tokens_start
    from agentgym.trainers.update import UpdateContext, sft_step

    if cache:
        os.environ["AGENTGYM_CACHE_DIR"] = cache
    if name == "before":
        from agentgym.trainers import tiny

        # the tokenizer before whole-word product ids, cached under a name of its own so
        # that model is never mistaken for (or replaces) the current one
        tiny.environment_hints = lambda env: tiny.TokenizerHints()
        model_dir = tiny.tiny_model_dir
        tiny.tiny_model_dir = lambda env, t: model_dir(env, t).with_name(
            model_dir(env, t).name + "-before")
    torch.set_num_threads(threads)
    overrides = [f"env={env}"] + (WEBSHOP_BEFORE if name == "before" and env == "webshop" else [])
    cfg = to_train_config(compose(overrides))
    model, tokenizer = load_policy(cfg.model, cfg.env, torch.device("cpu"))
    engine = make_engine("hf", EngineBuild(tokenizer=tokenizer, model=model, sampling=(
        SamplingSettings(max_new_tokens=cfg.env.max_new_tokens, stop=tuple(cfg.env.stop_strings()))
    )))
    teacher = TeacherPolicy(ExpertPolicy(), engine.encode_prompt, engine.encode_response)
    tic = time.perf_counter()
    demos = run_episodes(cfg.env.demonstrations(), teacher,
                         range(2_000_000, 2_000_000 + episodes))
    demo_s = time.perf_counter() - tic
    marker = user_message_marker(engine) if name == "after" else None
    samples = turn_samples(demos, new_message_marker=marker)
    batches_of = length_bucketed_batches if name == "after" else random_batches
    ctx = UpdateContext(device=torch.device("cpu"), pad_id=int(tokenizer.pad_token_id),
                        micro_batch_size=cfg.hardware.micro_batch_size,
                        prompt_vocab=word_tokens_start(tokenizer) if name == "after" else None)
    w = cfg.algo.warmup
    model = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=w.lr)
    lengths = [len(s.prompt_ids) + len(s.response_ids) for s in samples]
    generator = torch.Generator().manual_seed(0)
    real = padded = steps = 0
    losses = []
    tic, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        for batch in batches_of(lengths, w.batch_size, generator):
            chunk = [samples[i] for i in batch]
            losses.append(sft_step(model, optimizer, chunk, ctx, prompt_weight=w.prompt_loss))
            real += sum(lengths[i] for i in batch)
            padded += len(batch) * max(lengths[i] for i in batch)
            steps += 1
    wall, cpu = time.perf_counter() - tic, time.process_time() - cpu
    return {
        "mode": name, "turns": len(samples), "steps": steps, "tokens": real, "wall_s": wall,
        "cpu_s": cpu, "tok_s": real / wall, "tok_cpu_s": real / cpu,
        "epoch_s": wall / epochs, "padding": 1 - real / max(padded, 1),
        "mean_len": real / max(len(samples) * epochs, 1), "demo_s": demo_s,
        "last_loss": sum(losses[-5:]) / max(len(losses[-5:]), 1),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
    }


def _child(args: tuple, queue: Any) -> None:
    queue.put(run_mode(*args))


def _run_child(context: Any, args: tuple) -> dict[str, Any] | None:
    """``run_mode(*args)`` in a child process; None (and a line on stderr) when it dies."""
    import queue as queues
    import sys

    results = context.Queue()
    child = context.Process(target=_child, args=(args, results))
    child.start()
    while True:
        try:
            row = results.get(timeout=5.0)
            break
        except queues.Empty:
            if not child.is_alive():
                print(f"mode {args[0]}: the child process died (exit code {child.exitcode}; "
                      "-9 is usually the out-of-memory killer)", file=sys.stderr)
                return None
    child.join()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="webshop", help="an env config option")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", default="before,after")
    parser.add_argument("--cache", default=None, help="AGENTGYM_CACHE_DIR for the tiny models")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    rows = []
    for name in args.modes.split(","):
        row = _run_child(context, (name, args.env, args.episodes, args.epochs, args.threads,
                                   args.cache))
        if row is not None:
            rows.append(row)
    load = os.getloadavg()
    print(f"{args.env}: {args.episodes} demonstrations, {args.epochs} epoch(s), "
          f"{args.threads} threads; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'mode':7s} {'turns':>6s} {'tokens/turn':>11s} {'padding':>8s} {'s/epoch':>8s} "
          f"{'tokens/s':>9s} {'tok/cpu-s':>9s} {'peak RSS':>9s} {'BC loss':>8s}")
    for r in rows:
        print(f"{r['mode']:7s} {r['turns']:6d} {r['mean_len']:11.0f} {r['padding']:8.1%} "
              f"{r['epoch_s']:8.1f} {r['tok_s']:9,.0f} {r['tok_cpu_s']:9,.0f} "
              f"{r['peak_rss_gb']:7.2f}GB {r['last_loss']:8.3f}")
    if len(rows) == 2:
        a, b = rows
        print(f"{b['mode']} / {a['mode']}: {a['epoch_s'] / b['epoch_s']:.2f}x faster per epoch "
              f"of demonstrations of the same goals, {b['tok_s'] / a['tok_s']:.2f}x tokens/s, "
              f"{b['tok_cpu_s'] / a['tok_cpu_s']:.2f}x tokens per CPU-second, "
              f"{b['peak_rss_gb'] / a['peak_rss_gb']:.2f}x peak memory")


if __name__ == "__main__":
    main()
