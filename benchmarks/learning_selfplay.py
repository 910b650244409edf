"""Self-play on tic-tac-toe: SPIRAL's role-conditioned advantages (RAE) vs plain GRPO.

    python benchmarks/learning_selfplay.py [--seeds 0 1 2] [--iterations 32] [--eval-every 8]
        [--eval-episodes 128] [--out benchmarks/out/learning_selfplay] [--quick]

Every (method, seed) pair runs the shipped CPU recipe (``env=tictactoe model=tiny hardware=cpu``,
self-play: ``trainer.opponents=[self]``) with the same overrides; only ``algo`` and
``trainer.seed`` change. The behaviour-cloned warm start is computed once per seed and both
methods start from it, so warm start, task seeds and held-out seeds are shared within a seed.
The recipe's held-out evaluation plays the learner against the random player in both seats
(its success rate is the win rate vs random, the learning curve); at the end the final model
also plays ``--eval-episodes`` games in each seat against the random player and against the
minimax expert, counting wins, draws and losses (the expert never loses, so against it the
number to watch is the draw rate). Writes ``curves.png`` (mean win rate vs random per
iteration, band of ± one standard error over seeds) and ``results.json``; prints a Markdown
table.

``--quick`` is a smoke run of the whole pipeline (one seed, 2 iterations, a small warm start and
few evaluation games): minutes on a CPU, numbers too noisy to compare methods.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

METHODS = ("rae", "grpo")


def common_overrides(args: argparse.Namespace) -> list[str]:
    return ["env=tictactoe", "hardware.num_threads=1", "trainer.progress=false",
            "trainer.tensorboard=false", f"budget.tasks_per_iteration={args.tasks}",
            f"budget.group_size={args.group_size}"]


def warm_start(seed: int, args: argparse.Namespace) -> Path:
    """The behaviour-cloned model of ``seed`` (built once; a loadable model directory)."""
    from agentgym.cli.train import compose, to_train_config
    from agentgym.trainers.checkpoint import checkpoint_name
    from agentgym.trainers.recipe import train

    run_dir = Path(args.out) / f"warmstart-seed{seed}"
    checkpoint = run_dir / checkpoint_name(0)
    if not checkpoint.exists():
        overrides = [*common_overrides(args), f"trainer.seed={seed}",
                     f"trainer.run_dir={run_dir}", "budget.iterations=0",
                     "budget.eval_episodes=1", f"budget.warmup_episodes={args.warmup_episodes}",
                     f"budget.warmup_epochs={args.warmup_epochs}"]
        train(to_train_config(compose(overrides)))
    return checkpoint


def games(checkpoint: Path, opponent: str, seed: int, args: argparse.Namespace) -> dict:
    """Wins, draws and losses of the model at ``checkpoint`` against ``opponent`` (``random`` or
    ``expert``), ``--eval-episodes`` games in each seat, sampled at temperature 1."""
    import torch

    from agentgym.cli.train import compose, to_train_config
    from agentgym.core.multiagent import results_table
    from agentgym.trainers.config import EnvConfig, ModelConfig
    from agentgym.trainers.engines import EngineBuild, SamplingSettings, make_engine
    from agentgym.trainers.evaluation import run_episodes
    from agentgym.trainers.model import load_policy
    from agentgym.trainers.selfplay import fixed_opponent, play_against, seats

    env: EnvConfig = to_train_config(compose(common_overrides(args))).env
    device = torch.device("cpu")
    model, tokenizer = load_policy(ModelConfig(path=str(checkpoint)), env, device,
                                   path=checkpoint)
    sampling = SamplingSettings(temperature=1.0, top_p=1.0, max_new_tokens=env.max_new_tokens,
                                stop=tuple(env.stop_strings()), batch_size=256, seed=seed)
    engine = make_engine("hf", EngineBuild(tokenizer=tokenizer, sampling=sampling, model=model,
                                           device=device))
    try:
        names = seats(env)
        first = 1_000_000 + 7919 * (seed + 1)  # held out: beyond the recipe's eval seeds
        episodes = play_against(run_episodes, env, engine.as_policy(1.0, seed=seed),
                                fixed_opponent(opponent, seed + 1),
                                range(first, first + args.eval_episodes * len(names)), names)
    finally:
        engine.close()
    table = results_table(episodes, by="seat")
    total = {k: sum(getattr(r, k) for r in table.values())
             for k in ("wins", "draws", "losses", "errors")}
    n = max(1, sum(total.values()))
    return {**total, "games": n, "win_rate": total["wins"] / n,
            "draw_rate": total["draws"] / n, "loss_rate": total["losses"] / n}


def run(method: str, seed: int, args: argparse.Namespace) -> dict:
    from agentgym.cli.train import compose, to_train_config
    from agentgym.trainers.checkpoint import list_checkpoints
    from agentgym.trainers.logger import read_metrics
    from agentgym.trainers.recipe import train

    run_dir = Path(args.out) / f"{method}-seed{seed}"
    overrides = [
        *common_overrides(args), f"algo={method}", f"trainer.seed={seed}",
        f"trainer.run_dir={run_dir}", f"model.path={warm_start(seed, args)}",
        "budget.warmup_episodes=0", f"budget.iterations={args.iterations}",
        f"budget.eval_every={args.eval_every}", f"budget.eval_episodes={args.eval_episodes}",
        "budget.checkpoint_every=0", "trainer.opponents=[self]", "trainer.eval_opponent=random",
        f"trainer.resume={str(run_dir.exists()).lower()}",
    ]
    start = time.perf_counter()
    result = train(to_train_config(compose(overrides)))
    wall = time.perf_counter() - start
    evals = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    final = list_checkpoints(run_dir)[-1]
    return {
        "method": method, "seed": seed, "wall_s": wall,
        "iterations": [r["iteration"] for r in evals],
        "win_vs_random": [r["success_rate"] for r in evals],
        "warmstart": result.warmstart["success_rate"], "final": result.final["success_rate"],
        "final_vs_random": games(final, "random", seed, args),
        "final_vs_expert": games(final, "expert", seed, args),
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
        ys = np.array([r["win_vs_random"] for r in runs])
        mean = ys.mean(0)
        sem = ys.std(0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.zeros_like(mean)
        line = ax.plot(x, mean, marker="o", label=f"{method} (n={len(runs)} seeds)")[0]
        ax.fill_between(x, mean - sem, mean + sem, alpha=0.2, color=line.get_color())
    ax.set_xlabel("RL iteration (0 = behaviour-cloned warm start)")
    ax.set_ylabel("held-out win rate vs random")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Tic-tac-toe self-play, tiny model on CPU: mean ± s.e. over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mean_sem(values: list[float]) -> str:
    array = np.asarray(values, dtype=float)
    sem = array.std(ddof=1) / np.sqrt(len(array)) if len(array) > 1 else 0.0
    return f"{array.mean():.1%} ± {sem:.1%}"


def table(results: list[dict]) -> str:
    lines = ["| method | seeds | warm start vs random (win) | final vs random (win / draw / "
             "loss) | final vs expert (draw / loss) | RL wall time / run |",
             "|---|---|---|---|---|---|"]
    for method in METHODS:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        rnd = [r["final_vs_random"] for r in runs]
        exp = [r["final_vs_expert"] for r in runs]
        lines.append(
            f"| {method} | {len(runs)} | {_mean_sem([r['warmstart'] for r in runs])} | "
            f"{_mean_sem([g['win_rate'] for g in rnd])} / "
            f"{_mean_sem([g['draw_rate'] for g in rnd])} / "
            f"{_mean_sem([g['loss_rate'] for g in rnd])} | "
            f"{_mean_sem([g['draw_rate'] for g in exp])} / "
            f"{_mean_sem([g['loss_rate'] for g in exp])} | "
            f"{np.mean([r['wall_s'] for r in runs]):.0f}s |")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--iterations", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=8)
    parser.add_argument("--eval-episodes", type=int, default=128)
    parser.add_argument("--tasks", type=int, default=8, help="tasks per iteration")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--warmup-episodes", type=int, default=400)
    parser.add_argument("--warmup-epochs", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/out/learning_selfplay")
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 2 iterations, small warm start and evaluations")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.iterations, args.eval_every = args.seeds[:1], 2, 2
        args.eval_episodes, args.tasks, args.group_size = 8, 2, 4
        args.warmup_episodes, args.warmup_epochs = 40, 2
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [run(m, s, args) for s in args.seeds for m in args.methods]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    plot(results, out / "curves.png")
    print(table(results))
    print(f"curves: {out / 'curves.png'}")


if __name__ == "__main__":
    main()
