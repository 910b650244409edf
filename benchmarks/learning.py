"""Learning curves of credit methods on one environment: same budget, same seeds, same warm start.

    python benchmarks/learning.py --env sokoban --methods gigpo grpo rloo cast reward=spa \\
        [--seeds 0 1 2] [--iterations N] [--eval-every N] [--eval-episodes N] \\
        [--override KEY=VALUE ...] [--quick] [--out DIR]

A method is an estimator name (``algo=NAME``) or a reward transform (``reward=NAME``, trained with
the default estimator). Every (method, seed) pair runs the env's shipped CPU recipe (``env=ENV
model=tiny hardware=cpu`` and its budget; ``--iterations``/``--eval-every`` default to the
script's or, when None, the budget's) with the same overrides; only the method and
``trainer.seed`` change. The behaviour-cloned warm start is computed once per seed (a run with 0
RL iterations) and every method starts from that same checkpoint, so warm start, task seeds and
held-out seeds are shared across methods for a given seed; runs already finished in ``--out`` are
read back, not repeated. Writes ``curves.png`` (mean held-out success per evaluation with a band
of ± one standard error over seeds, or the run's Wilson 95% interval with one seed) and
``results.json``, and prints a Markdown table for ``benchmarks/RESULTS.md`` with, per method, the
first iteration whose mean success reaches the final mean success of the reference method
(``--reference``, GRPO). ``--quick`` shrinks everything (two seeds, one iteration, 8 held-out
episodes and the wrapper's ``quick`` overrides) to check the script end to end; its numbers mean
nothing.

``learning_sokoban.py``, ``learning_searchqa.py`` and ``learning_webshop.py`` are this script
with their environment's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agentgym.cli.train import compose, to_train_config
from agentgym.trainers.checkpoint import checkpoint_name
from agentgym.trainers.logger import read_metrics
from agentgym.trainers.recipe import train


def method_overrides(method: str) -> list[str]:
    """Config overrides that select ``method``: ``reward=NAME`` as given, else ``algo=NAME``."""
    return [method] if "=" in method else [f"algo={method}"]


def _common(args: argparse.Namespace) -> list[str]:
    return [f"env={args.env}", "trainer.progress=false", "trainer.tensorboard=false",
            f"budget.eval_episodes={args.eval_episodes}", *args.override]


def warm_start(seed: int, args: argparse.Namespace) -> Path:
    """The behaviour-cloned model of ``seed`` (built once; a loadable model directory)."""
    run_dir = Path(args.out) / f"warmstart-seed{seed}"
    checkpoint = run_dir / checkpoint_name(0)
    if not checkpoint.exists():
        # its own evaluation is not used (each method's run evaluates the warm start again)
        overrides = [*_common(args), f"trainer.seed={seed}", f"trainer.run_dir={run_dir}",
                     "budget.iterations=0", "budget.eval_episodes=1"]
        train(to_train_config(compose(overrides)))
    return checkpoint


def run(method: str, seed: int, args: argparse.Namespace) -> dict:
    """One RL run of ``method`` from the warm start of ``seed`` (read back when finished)."""
    run_dir = Path(args.out) / f"{method.replace('=', '-')}-seed{seed}"
    overrides = [
        *_common(args), *method_overrides(method), f"trainer.seed={seed}",
        f"trainer.run_dir={run_dir}", f"model.path={warm_start(seed, args)}",
        "budget.warmup_episodes=0", "budget.checkpoint_every=0",
        *([f"budget.iterations={args.iterations}"] if args.iterations is not None else []),
        *([f"budget.eval_every={args.eval_every}"] if args.eval_every is not None else []),
    ]
    summary = run_dir / "summary.json"
    start = time.perf_counter()
    if not summary.exists():
        train(to_train_config(compose(overrides)))
    done = json.loads(summary.read_text())
    evals = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    return {
        # the run's own wall time (a run read back from --out took none now)
        "method": method, "seed": seed, "wall_s": done.get("wall_s", time.perf_counter() - start),
        "iterations": [r["iteration"] for r in evals],
        "success": [r["success_rate"] for r in evals],
        "ci_low": [r["success_ci_low"] for r in evals],
        "ci_high": [r["success_ci_high"] for r in evals],
        "warmstart": done["warmstart"]["success_rate"], "final": done["final"]["success_rate"],
    }


def mean_curve(runs: Sequence[dict]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """``(iterations, mean, standard error)`` of the runs' held-out success, shape ``(E,)``."""
    ys = np.array([r["success"] for r in runs], dtype=float)
    mean = ys.mean(0)
    sem = ys.std(0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.zeros_like(mean)
    return list(runs[0]["iterations"]), mean, sem


def iterations_to_reach(runs: Sequence[dict], target: float) -> int | None:
    """The first evaluated iteration whose mean success is at least ``target`` (None: never)."""
    iterations, mean, _ = mean_curve(runs)
    hits = [it for it, value in zip(iterations, mean, strict=True) if value >= target - 1e-12]
    return hits[0] if hits else None


def plot(results: list[dict], methods: Sequence[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        x, mean, sem = mean_curve(runs)
        line = ax.plot(x, mean, marker="o", label=f"{method} (n={len(runs)} seeds)")[0]
        low, high = ((mean - sem, mean + sem) if len(runs) > 1 or "ci_low" not in runs[0]
                     else (runs[0]["ci_low"], runs[0]["ci_high"]))  # one seed: Wilson 95%
        ax.fill_between(x, low, high, alpha=0.2, color=line.get_color())
    ax.set_xlabel("RL iteration (0 = behaviour-cloned warm start)")
    ax.set_ylabel("held-out success rate")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(results: list[dict], methods: Sequence[str], reference: str) -> str:
    ref_runs = [r for r in results if r["method"] == reference]
    target = float(np.mean([r["final"] for r in ref_runs])) if ref_runs else None
    reach = f"iterations to {reference}'s final" if target is not None else "—"
    lines = [f"| method | seeds | warm start | final (mean ± s.e.) | Δ | {reach} | "
             "wall time / run |", "|---|---|---|---|---|---|---|"]
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        warm = np.mean([r["warmstart"] for r in runs])
        final = np.array([r["final"] for r in runs])
        sem = final.std(ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else 0.0
        hit = iterations_to_reach(runs, target) if target is not None else None
        lines.append(
            f"| {method} | {len(runs)} | {warm:.1%} | {final.mean():.1%} ± {sem:.1%} | "
            f"{final.mean() - warm:+.1%} | {'never' if hit is None else hit} | "
            f"{np.mean([r['wall_s'] for r in runs]):.0f}s |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, env: str = "sokoban",
         methods: Sequence[str] = ("gigpo", "grpo", "rloo"), iterations: int | None = 32,
         eval_every: int | None = 8, eval_episodes: int = 256,
         quick: Sequence[str] = ()) -> None:
    """Run the comparison; the keyword arguments are a wrapper's defaults (``quick``: the
    overrides ``--quick`` adds, e.g. fewer demonstrations)."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default=env)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--methods", nargs="+", default=list(methods))
    parser.add_argument("--reference", default="grpo")
    parser.add_argument("--iterations", type=int, default=iterations)
    parser.add_argument("--eval-every", type=int, default=eval_every)
    parser.add_argument("--eval-episodes", type=int, default=None)
    parser.add_argument("--override", nargs="*", default=[], help="more key=value overrides")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny end-to-end check of the script (numbers mean nothing)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds or [0, 1]
        args.iterations, args.eval_every = 1, 1
        args.eval_episodes = args.eval_episodes or 8
        args.override = [*quick, *args.override]
    args.seeds = args.seeds or [0, 1, 2]
    args.eval_episodes = args.eval_episodes or eval_episodes
    args.out = args.out or f"benchmarks/out/learning_{args.env}{'_quick' if args.quick else ''}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [run(m, s, args) for s in args.seeds for m in args.methods]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    title = (f"{args.env}, tiny model on CPU: held-out success ({args.eval_episodes} episodes),\n"
             f"mean ± s.e. over {len(args.seeds)} seeds")
    plot(results, args.methods, title, out / "curves.png")
    print(table(results, args.methods, args.reference))
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"curves: {out / 'curves.png'}")


if __name__ == "__main__":
    main()
