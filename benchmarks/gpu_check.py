"""GPU readiness: bf16 training of a ~100M-parameter Qwen2 model on Sokoban, hf then vLLM engine.

    python benchmarks/gpu_check.py [--iterations 4] [--engines hf,vllm] [--json out.json]

Needs one CUDA GPU (and ``pip install -e ".[train,vllm]"`` for the vLLM half); without CUDA it
stops at once with one line on stderr and exit code 2. Nothing is downloaded: the model is the
trainer's locally built Qwen2-architecture model (``model=tiny``) scaled up to ~97M parameters
(hidden 768, 14 layers, 12 query / 4 key-value heads, MLP 2304; the tokenizer trained on
Sokoban's text), with random weights at seed 0.

For each engine the script runs the recipe (``agentgym.trainers.recipe.train``) with
``hardware=gpu`` settings and ``model.dtype=auto`` (bf16 on the GPU): a short behaviour-cloning
warm start, ``--iterations`` GiGPO iterations of 8 tasks × 8 episodes, one held-out evaluation.
It prints, per engine, side by side:

* generation tokens/s during the training rollouts (``time/gen_tokens_per_s``, mean);
* update seconds per iteration (``time/update_s``) and response tokens of the iteration per
  update second;
* weight-sync seconds per iteration (``time/weight_sync_s``: hf samples from the training
  model in place, so ~0; vLLM copies the weights into its worker);
* peak GPU memory: what this process's PyTorch allocated at most, and the device-wide peak used
  memory sampled every 0.2 s (vLLM's engine process included).

Budget: under 8 minutes on one H100/H200-class GPU with the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MODEL = {"hidden_size": 768, "num_layers": 14, "num_heads": 12, "num_kv_heads": 4,
         "intermediate_size": 2304, "vocab_size": 1024, "max_positions": 2048,
         "corpus_episodes": 64, "seed": 0}


class DevicePeak:
    """Device-wide used GPU memory, sampled in a thread (sees other processes, e.g. vLLM's)."""

    def __init__(self, period_s: float = 0.2) -> None:
        import torch

        self.torch, self.period = torch, period_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            free, total = self.torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            self._stop.wait(self.period)

    def __enter__(self) -> DevicePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def parameter_count() -> int:
    """Parameters of the model this script trains (built on the meta device: no memory)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=MODEL["vocab_size"], hidden_size=MODEL["hidden_size"],
                         num_hidden_layers=MODEL["num_layers"],
                         num_attention_heads=MODEL["num_heads"],
                         num_key_value_heads=MODEL["num_kv_heads"],
                         intermediate_size=MODEL["intermediate_size"], tie_word_embeddings=True)
    with torch.device("meta"):
        model = Qwen2ForCausalLM(config)
    return sum(p.numel() for p in model.parameters())


def run_engine(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """One training run with ``engine``; its measurements."""
    import torch

    from agentgym.trainers.config import TrainConfig, from_dict
    from agentgym.trainers.logger import read_metrics
    from agentgym.trainers.recipe import train

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory(prefix=f"gpu-check-{engine}-") as run_dir:
        cfg = from_dict(TrainConfig, {
            "model": {"tiny": MODEL, "dtype": "auto"},
            "hardware": {"device": "cuda", "num_threads": 0, "env_workers": 8, "engine": engine,
                         "generation_batch_size": 128, "micro_batch_size": 16,
                         "gpu_memory_utilization": args.gpu_memory_utilization},
            "algo": {"optim": {"lr": 1e-4, "mini_batch_size": 256}},
            "budget": {"iterations": args.iterations, "tasks_per_iteration": 8, "group_size": 8,
                       "warmup_episodes": args.warmup, "warmup_epochs": 3, "eval_every": 0,
                       "eval_episodes": 64, "checkpoint_every": 0, "keep_checkpoints": 1},
            "trainer": {"run_dir": run_dir, "progress": False, "tensorboard": False},
        })
        tic = time.perf_counter()
        with DevicePeak() as device_peak:
            result = train(cfg)
        wall = time.perf_counter() - tic
        rows = [r for r in read_metrics(run_dir) if r["kind"] == "train"]

    def mean(key: str) -> float:
        values = [r[key] for r in rows if key in r]
        return sum(values) / len(values) if values else float("nan")

    update_s = mean("time/update_s")
    return {
        "engine": engine,
        "wall_s": wall,
        "gen_tokens_per_s": mean("time/gen_tokens_per_s"),
        "update_s": update_s,
        "train_tokens_per_s": mean("update/tokens") / max(update_s, 1e-9),
        "weight_sync_s": mean("time/weight_sync_s"),
        "torch_peak_gb": torch.cuda.max_memory_allocated() / 1e9,
        "device_peak_gb": device_peak.peak / 1e9,
        "final_success": result.final["success_rate"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=4, help="RL iterations per engine")
    parser.add_argument("--warmup", type=int, default=200, help="expert episodes cloned first")
    parser.add_argument("--engines", default="hf,vllm", help="comma-separated: hf, vllm")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.3,
                        help="vLLM's share of GPU memory")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device is available (torch.cuda.is_available() is False); "
              "run it on a GPU machine", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(0)
    print(f"device: {name} · torch {torch.__version__} · model: Qwen2, "
          f"{parameter_count() / 1e6:.1f}M parameters, bf16", flush=True)
    results = []
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        print(f"training with the {engine} engine …", flush=True)
        results.append(run_engine(engine, args))
    header = (f"{'engine':7s} {'wall s':>7s} {'gen tok/s':>10s} {'update s/it':>11s} "
              f"{'train tok/s':>11s} {'sync s/it':>9s} {'torch peak GB':>13s} "
              f"{'device peak GB':>14s} {'final success':>13s}")
    print(f"\n{name}, {args.iterations} iterations of 8 tasks x 8 episodes (Sokoban, GiGPO)")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['engine']:7s} {r['wall_s']:7.1f} {r['gen_tokens_per_s']:10.0f} "
              f"{r['update_s']:11.2f} {r['train_tokens_per_s']:11.0f} "
              f"{r['weight_sync_s']:9.3f} {r['torch_peak_gb']:13.2f} "
              f"{r['device_peak_gb']:14.2f} {r['final_success']:13.1%}")
    if args.json is not None:
        args.json.write_text(json.dumps({"device": name, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
