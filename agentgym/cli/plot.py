"""``agentgym plot RUN_DIR [RUN_DIR ...]``: learning curves from ``metrics.jsonl`` as PNG files.

Writes ``success.png`` (held-out success with its 95% interval and the rollout success rate
per iteration) and ``training.png`` (loss, KL, entropy, gradient norm, advantage spread,
turns) into ``--out`` (default: the first run directory). Several runs go on the same axes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from agentgym.cli.errors import CliConfigError

PANELS = [
    ("update/pg_loss", "policy loss"),
    ("update/kl", "KL to reference"),
    ("update/entropy", "entropy"),
    ("update/grad_norm", "grad norm"),
    ("adv/std", "advantage std"),
    ("rollout/mean_turns", "turns per episode"),
]


def plot_runs(run_dirs: list[Path], out_dir: Path) -> list[Path]:
    """Draw the curves of ``run_dirs`` into ``out_dir``; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agentgym.trainers.logger import read_metrics

    out_dir.mkdir(parents=True, exist_ok=True)
    runs = {str(d): read_metrics(d) for d in run_dirs}

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, records in runs.items():
        label = Path(name).name
        evals = [r for r in records if r["kind"] == "eval"]
        if evals:
            x = [r["iteration"] for r in evals]
            line = ax.plot(x, [r["success_rate"] for r in evals], marker="o",
                           label=f"{label} held-out")[0]
            ax.fill_between(x, [r["success_ci_low"] for r in evals],
                            [r["success_ci_high"] for r in evals], alpha=0.2,
                            color=line.get_color())
        train = [r for r in records if r["kind"] == "train"]
        if train:
            ax.plot([r["iteration"] for r in train],
                    [r.get("rollout/success_rate", 0.0) for r in train], linestyle="--",
                    alpha=0.7, label=f"{label} rollout")
    ax.set_xlabel("iteration")
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("success rate (held-out: 95% Wilson interval)")
    fig.tight_layout()
    success_png = out_dir / "success.png"
    fig.savefig(success_png, dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (key, title) in zip(axes.flat, PANELS, strict=True):
        for name, records in runs.items():
            points = [(r["iteration"], r[key]) for r in records
                      if r["kind"] == "train" and r.get(key) is not None]
            if points:
                ax.plot(*zip(*points, strict=True), label=Path(name).name)
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    training_png = out_dir / "training.png"
    fig.savefig(training_png, dpi=120)
    plt.close(fig)
    return [success_png, training_png]


def run_plot(args: argparse.Namespace, console: Console) -> int:
    """Entry of ``agentgym plot``; returns the exit code."""
    runs = [Path(r) for r in args.runs]
    missing = [str(r) for r in runs if not (r / "metrics.jsonl").exists()]
    if missing:
        raise CliConfigError(f"no metrics.jsonl in {', '.join(missing)}")
    out = Path(args.out) if args.out else runs[0]
    for path in plot_runs(runs, out):
        console.print(f"wrote {path}", markup=False, highlight=False)
    return 0


def add_parser(sub: Any) -> None:
    """Register the ``plot`` subcommand."""
    parser = sub.add_parser("plot", help="learning curves of training runs as PNG")
    parser.add_argument("runs", nargs="+", help="run directories (with metrics.jsonl)")
    parser.add_argument("--out", default=None, help="output folder (default: the first run)")
    parser.set_defaults(func=run_plot)
