"""Learning curves on Sokoban: GiGPO vs GRPO vs RLOO, same budget, same seeds.

    python benchmarks/learning_sokoban.py [--seeds 0 1 2] [--iterations 32] [--eval-every 8]
        [--out benchmarks/out/learning_sokoban]

Every (method, seed) pair runs the shipped CPU recipe (``env=sokoban model=tiny trainer=cpu``)
with the same overrides; only ``algo`` and ``trainer.seed`` change. The behaviour-cloned warm
start is computed once per seed (a run with 0 RL iterations) and every method starts from that
same checkpoint, so warm start, task seeds and held-out seeds are shared across methods for a
given seed. Writes
``curves.png`` (mean held-out success per iteration with a band of ± one standard error over
seeds) and ``results.json``; prints a Markdown table for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from agentgym.cli.train import compose, to_train_config
from agentgym.trainers.checkpoint import checkpoint_name
from agentgym.trainers.logger import read_metrics
from agentgym.trainers.recipe import train

METHODS = ("gigpo", "grpo", "rloo")


def warm_start(seed: int, args: argparse.Namespace) -> Path:
    """The behaviour-cloned model of ``seed`` (built once; a loadable model directory)."""
    run_dir = Path(args.out) / f"warmstart-seed{seed}"
    checkpoint = run_dir / checkpoint_name(0)
    if not checkpoint.exists():
        overrides = [f"trainer.seed={seed}", f"trainer.run_dir={run_dir}", "trainer.iterations=0",
                     "trainer.eval_episodes=1", "trainer.progress=false",
                     "trainer.tensorboard=false"]
        train(to_train_config(compose(overrides)))
    return checkpoint


def run(method: str, seed: int, args: argparse.Namespace) -> dict:
    run_dir = Path(args.out) / f"{method}-seed{seed}"
    overrides = [
        f"algo={method}", f"trainer.seed={seed}", f"trainer.run_dir={run_dir}",
        f"model.path={warm_start(seed, args)}", "trainer.warmup_episodes=0",
        f"trainer.iterations={args.iterations}", f"trainer.eval_every={args.eval_every}",
        f"trainer.eval_episodes={args.eval_episodes}", "trainer.progress=false",
        "trainer.tensorboard=false", "trainer.checkpoint_every=0",
        f"trainer.resume={str(run_dir.exists()).lower()}",
    ]
    cfg = to_train_config(compose(overrides))
    start = time.perf_counter()
    result = train(cfg)
    evals = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    return {
        "method": method, "seed": seed, "wall_s": time.perf_counter() - start,
        "iterations": [r["iteration"] for r in evals],
        "success": [r["success_rate"] for r in evals],
        "warmstart": result.warmstart["success_rate"], "final": result.final["success_rate"],
    }


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in METHODS:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        x = runs[0]["iterations"]
        ys = np.array([r["success"] for r in runs])
        mean = ys.mean(0)
        sem = ys.std(0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.zeros_like(mean)
        line = ax.plot(x, mean, marker="o", label=f"{method} (n={len(runs)} seeds)")[0]
        ax.fill_between(x, mean - sem, mean + sem, alpha=0.2, color=line.get_color())
    ax.set_xlabel("RL iteration (0 = behaviour-cloned warm start)")
    ax.set_ylabel("held-out success rate")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Sokoban, tiny model on CPU: mean ± s.e. over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(results: list[dict]) -> str:
    lines = ["| method | seeds | warm start | final (mean ± s.e.) | Δ | RL wall time / run |",
             "|---|---|---|---|---|---|"]
    for method in METHODS:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        warm = np.mean([r["warmstart"] for r in runs])
        final = np.array([r["final"] for r in runs])
        sem = final.std(ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else 0.0
        lines.append(
            f"| {method} | {len(runs)} | {warm:.1%} | {final.mean():.1%} ± {sem:.1%} | "
            f"{final.mean() - warm:+.1%} | {np.mean([r['wall_s'] for r in runs]):.0f}s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--iterations", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=8)
    parser.add_argument("--eval-episodes", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/out/learning_sokoban")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [run(m, s, args) for s in args.seeds for m in args.methods]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    plot(results, out / "curves.png")
    print(table(results))
    print(f"curves: {out / 'curves.png'}")


if __name__ == "__main__":
    main()
