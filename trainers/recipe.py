"""The training recipe: warm start → (rollout → rewards/credit → update → log → eval → checkpoint)*.

Reads top to bottom like CleanRL's ``ppo.py`` / torchtune's single-device recipes::

    from agentgym.trainers.config import TrainConfig
    from agentgym.trainers.recipe import train

    result = train(TrainConfig())            # tiny model, Sokoban, GiGPO, CPU
    print(result.warmstart["success_rate"], result.final["success_rate"])

Seeds: training tasks of iteration ``k`` are ``train_seed + k·tasks_per_iteration + j``; the
held-out tasks start at ``eval_seed`` and the expert demonstrations at ``warmup_seed``; the
three ranges are checked to be disjoint. Every random choice (sampling, shuffling, weights)
derives from ``trainer.seed``, and a checkpoint stores all of it, so ``trainer.resume=true``
continues exactly where a killed run stopped.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentgym import credit
from agentgym.core.policies import ExpertPolicy
from agentgym.core.registration import resolve_id
from agentgym.core.trajectory import StepBatch
from agentgym.trainers.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from agentgym.trainers.config import ConfigError, TrainConfig, to_dict, validate
from agentgym.trainers.engines import make_engine
from agentgym.trainers.evaluation import TeacherPolicy, episode_metrics, run_episodes
from agentgym.trainers.logger import MetricsLogger
from agentgym.trainers.model import (
    frozen_copy,
    load_policy,
    model_path,
    resolve_device,
    save_pretrained,
)
from agentgym.trainers.progress import TrainProgress
from agentgym.trainers.samples import turn_samples
from agentgym.trainers.update import UpdateContext, sft_step, update_policy


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the run directory (metrics, checkpoints, config).
        warmstart: held-out metrics of the policy before RL (after behaviour cloning).
        final: held-out metrics of the final policy.
        iterations: RL iterations completed.
        wall_s: seconds of this call.
        history: the per-iteration training metrics of this call.
    """

    run_dir: Path
    warmstart: dict[str, Any]
    final: dict[str, Any]
    iterations: int
    wall_s: float
    history: list[dict[str, Any]] = field(default_factory=list)


def train(cfg: TrainConfig, *, console: Any = None) -> TrainResult:
    """Run the whole recipe for ``cfg``; see the module doc.

    The generation engine (a vLLM engine runs worker processes) is closed when this returns,
    also on an error or an interrupt.
    """
    with contextlib.ExitStack() as resources:
        return _train(cfg, console, resources)


def _train(cfg: TrainConfig, console: Any, resources: contextlib.ExitStack) -> TrainResult:
    t0 = time.perf_counter()
    cfg = validate(copy.deepcopy(cfg))
    t = cfg.trainer
    say = _printer(console)

    # --- 1. settings, run directory, seeds -------------------------------------------------
    if t.num_threads > 0:
        torch.set_num_threads(t.num_threads)
    device = resolve_device(t.device)
    cfg.env.id = resolve_id(cfg.env.id)
    estimator, algo_params = bind_method(credit.get, cfg.algo.name, cfg.algo.params, "algo")
    transform = None
    if cfg.reward.name:
        transform, _ = bind_method(
            credit.get_transform, cfg.reward.name, cfg.reward.params, "reward"
        )
    check_seed_ranges(cfg)
    run_dir = Path(t.run_dir) if t.run_dir else default_run_dir(cfg)
    checkpoint = latest_checkpoint(run_dir) if t.resume else None
    if checkpoint is None and any(run_dir.glob("checkpoint-*")) and not t.resume:
        raise ConfigError(
            f"{run_dir} already holds checkpoints; pass trainer.resume=true to continue it or "
            "choose another trainer.run_dir"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    seed_everything(t.seed)

    # --- 2. model, engine, logger ----------------------------------------------------------
    model, tokenizer = load_policy(cfg.model, cfg.env, device)
    engine = make_engine(t.engine, model, tokenizer, seed=t.seed, device=device,
                         model_path=str(model_path(cfg.model, cfg.env)))
    resources.callback(engine.close)
    autocast = device.type == "cuda" and cfg.model.dtype != "float32"
    ctx = UpdateContext(device=device, pad_id=int(tokenizer.pad_token_id),
                        temperature=t.engine.temperature, norm_len=float(t.engine.max_new_tokens),
                        autocast=autocast)
    logger = MetricsLogger(run_dir, tensorboard=t.tensorboard)
    shuffle = torch.Generator().manual_seed(t.seed + 1)
    say(f"run {run_dir} · env {cfg.env.id} · algo {cfg.algo.name}"
        f"{' + ' + cfg.reward.name if cfg.reward.name else ''} · device {device}")

    def evaluate(label: str, on_episode: Callable | None = None) -> dict[str, Any]:
        seeds = range(t.eval_seed, t.eval_seed + t.eval_episodes)
        policy = engine.as_policy(t.engine.eval_temperature, seed=t.seed + 7919)
        episodes = run_episodes(cfg.env, policy, seeds, num_workers=t.env_workers,
                                max_batch_size=t.engine.batch_size, on_episode=on_episode)
        return episode_metrics(episodes)

    # --- 3. warm start: behaviour cloning on expert episodes (skipped on resume) ---------------
    warm_dir = run_dir / "warmstart"
    if checkpoint is None:
        if t.warmup.episodes > 0:
            bc = behaviour_clone(cfg, model, engine, ctx, shuffle)
            logger.log("warmup", 0, bc)
            say(f"warm start: {bc['demo_turns']} expert turns, BC loss "
                f"{bc['first_loss']:.3f} → {bc['last_loss']:.3f}")
            engine.sync_weights(model)
        if t.loss.kl_coef > 0:
            save_pretrained(model, tokenizer, warm_dir)
        warmstart = evaluate("warm start")
        logger.log("eval", 0, warmstart)
        say(f"warm-start held-out success {_fmt(warmstart)}")
    reference = None
    if t.loss.kl_coef > 0:
        reference = (frozen_copy(model) if checkpoint is None
                     else frozen_copy(load_policy(cfg.model, cfg.env, device, path=warm_dir)[0]))
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=t.optim.lr,
        betas=tuple(t.optim.betas), weight_decay=t.optim.weight_decay,
    )
    start = 0
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model=model, optimizer=optimizer)
        engine.sync_weights(model)
        engine.load_state_dict(state["engine"])
        shuffle.set_state(state["shuffle"])
        warmstart = state["warmstart"]
        start = int(state["iteration"])
        logger.truncate_after(start)
        say(f"resumed from {checkpoint.name} (iteration {start})")

    # --- 4. RL iterations ----------------------------------------------------------------------
    history: list[dict[str, Any]] = []
    last_eval: dict[str, Any] | None = None
    saved_at = start if checkpoint is not None else -1
    with TrainProgress(t.iterations, start, enabled=t.progress, console=console) as progress:
        for it in range(start, t.iterations):
            tic = time.perf_counter()
            # 4a. rollout: each task played group_size times by the engine
            seeds = train_seeds(cfg, it)
            progress.start_rollout(f"rollout {it + 1}", len(seeds) * t.group_size)
            gen_before = engine.tokens_generated
            episodes = run_episodes(cfg.env, engine, seeds, group_size=t.group_size,
                                    num_workers=t.env_workers, max_batch_size=t.engine.batch_size,
                                    on_episode=progress.on_episode)
            rollout_s = time.perf_counter() - tic
            # 4b. rewards and credit: reward transform, then the estimator (by name)
            batch = penalize_invalid(StepBatch.from_episodes(episodes), cfg.env.invalid_penalty)
            if transform is not None:
                batch = credit.apply_transform(batch, transform,
                                               update_outcome=cfg.reward.update_outcome,
                                               **cfg.reward.params)
            advantages = np.asarray(estimator(batch, **algo_params), dtype=np.float64)
            # 4c. update: PPO-clip over turn samples
            tic_update = time.perf_counter()
            samples = turn_samples(episodes, advantages)
            stats = update_policy(model, optimizer, samples, t.loss, t.optim, ctx,
                                  reference=reference, generator=shuffle)
            engine.sync_weights(model)
            update_s = time.perf_counter() - tic_update
            # 4d. log
            rollout = episode_metrics(episodes)
            metrics = {
                **{f"rollout/{k}": v for k, v in rollout.items()},
                **{f"update/{k}": v for k, v in stats.items()},
                "adv/mean": float(advantages.mean()) if len(advantages) else 0.0,
                "adv/std": float(advantages.std()) if len(advantages) else 0.0,
                "adv/nonzero": float(np.mean(advantages != 0)) if len(advantages) else 0.0,
                "time/rollout_s": rollout_s,
                "time/update_s": update_s,
                "time/gen_tokens_per_s": (engine.tokens_generated - gen_before) / max(rollout_s,
                                                                                      1e-9),
            }
            history.append(logger.log("train", it + 1, metrics))
            info = f"train success {rollout['success_rate']:.1%}"
            # 4e. evaluate on held-out seeds
            last_eval = None
            if t.eval_every and (it + 1) % t.eval_every == 0:
                last_eval = evaluate(f"eval {it + 1}")
                logger.log("eval", it + 1, last_eval)
                info += f" · eval {last_eval['success_rate']:.1%}"
            progress.end_iteration(info)
            # 4f. checkpoint
            if t.checkpoint_every and (it + 1) % t.checkpoint_every == 0:
                save_checkpoint(run_dir, it + 1, model=model, tokenizer=tokenizer,
                                optimizer=optimizer, keep=t.keep_checkpoints,
                                extra=_extra_state(engine, shuffle, warmstart))
                saved_at = it + 1

    # --- 5. final evaluation and checkpoint ------------------------------------------------
    done = max(start, t.iterations)
    final = last_eval if last_eval is not None else evaluate("final")
    if last_eval is None and done > 0:
        logger.log("eval", done, final)
    if saved_at != done:
        save_checkpoint(run_dir, done, model=model, tokenizer=tokenizer, optimizer=optimizer,
                        keep=t.keep_checkpoints, extra=_extra_state(engine, shuffle, warmstart))
    wall = time.perf_counter() - t0
    logger.log("final", done, {"warmstart_success": warmstart["success_rate"],
                               "final_success": final["success_rate"], "wall_s": wall})
    logger.close()
    summary = {"warmstart": warmstart, "final": final, "iterations": done, "wall_s": wall}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    say(f"warm-start held-out success {_fmt(warmstart)}")
    say(f"final held-out success      {_fmt(final)}  ({done} iterations, {wall:.0f}s)")
    return TrainResult(run_dir, warmstart, final, done, wall, history)


# --- helpers ---------------------------------------------------------------------------------
def behaviour_clone(
    cfg: TrainConfig, model: torch.nn.Module, engine: Any, ctx: UpdateContext,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Supervised fine-tuning on the expert's turns (its actions in the action format)."""
    t, w = cfg.trainer, cfg.trainer.warmup
    teacher = TeacherPolicy(ExpertPolicy(), engine.encode_prompt, engine.encode_response)
    seeds = range(t.warmup_seed, t.warmup_seed + w.episodes)
    episodes = run_episodes(cfg.env, teacher, seeds, num_workers=t.env_workers)
    samples = turn_samples(episodes)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=w.lr)
    losses = []
    for _ in range(w.epochs):
        order = torch.randperm(len(samples), generator=generator).tolist()
        for start in range(0, len(order), w.batch_size):
            chunk = [samples[i] for i in order[start : start + w.batch_size]]
            losses.append(sft_step(model, optimizer, chunk, ctx,
                                   micro_batch_size=t.optim.micro_batch_size,
                                   max_grad_norm=t.optim.max_grad_norm,
                                   prompt_weight=w.prompt_loss))
    return {
        "demo_episodes": len(episodes),
        "demo_turns": len(samples),
        "demo_success_rate": float(np.mean([e.success for e in episodes])) if episodes else 0.0,
        "bc_steps": len(losses),
        "first_loss": losses[0] if losses else float("nan"),
        "last_loss": float(np.mean(losses[-5:])) if losses else float("nan"),
    }


def penalize_invalid(batch: StepBatch, penalty: float) -> StepBatch:
    """Subtract ``penalty`` from the reward (and episode outcome) of every invalid turn."""
    if not penalty:
        return batch
    invalid = (~batch.valid).astype(np.float64)
    _, inverse = np.unique(batch.episode, return_inverse=True)
    per_episode = np.bincount(inverse, weights=invalid)[inverse]
    return dataclasses.replace(batch, reward=batch.reward - penalty * invalid,
                               outcome=batch.outcome - penalty * per_episode)


def bind_method(
    lookup: Callable[[str], Callable[..., Any]], name: str, params: dict[str, Any], key: str
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """Look a credit method up and check ``params`` against its signature.

    Raises:
        ConfigError: unknown method or a parameter it does not take.
    """
    try:
        fn = lookup(name)
    except KeyError as exc:
        raise ConfigError(f"{key}.name: {exc}") from None
    try:
        inspect.signature(fn).bind(None, **params)
    except TypeError as exc:
        accepted = [p for p in inspect.signature(fn).parameters if p != "batch"]
        raise ConfigError(
            f"{key}.params for {name!r}: {exc}; accepted: {', '.join(accepted)}"
        ) from None
    return fn, dict(params)


def train_seeds(cfg: TrainConfig, iteration: int) -> list[int]:
    """Task seeds of RL iteration ``iteration`` (0-based)."""
    n = cfg.trainer.tasks_per_iteration
    first = cfg.trainer.train_seed + iteration * n
    return list(range(first, first + n))


def check_seed_ranges(cfg: TrainConfig) -> None:
    """Training, evaluation and demonstration seeds must not overlap."""
    t = cfg.trainer
    ranges = {
        "train": (t.train_seed, t.train_seed + t.iterations * t.tasks_per_iteration),
        "eval": (t.eval_seed, t.eval_seed + t.eval_episodes),
        "warmup": (t.warmup_seed, t.warmup_seed + t.warmup.episodes),
    }
    names = list(ranges)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            (a0, a1), (b0, b1) = ranges[a], ranges[b]
            if a0 < b1 and b0 < a1 and a1 > a0 and b1 > b0:
                raise ConfigError(f"{a} seeds [{a0}, {a1}) overlap {b} seeds [{b0}, {b1})")


def default_run_dir(cfg: TrainConfig) -> Path:
    name = cfg.env.id.split("/")[-1].lower()
    return Path("runs") / f"{name}-{cfg.algo.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _extra_state(engine: Any, shuffle: torch.Generator, warmstart: dict[str, Any]) -> dict:
    return {"engine": engine.state_dict(), "shuffle": shuffle.get_state(),
            "warmstart": warmstart}


def _fmt(metrics: dict[str, Any]) -> str:
    return (f"{metrics['success_rate']:.1%} (95% CI {metrics['success_ci_low']:.1%}–"
            f"{metrics['success_ci_high']:.1%}, n={metrics['episodes']})")


def _printer(console: Any) -> Callable[[str], None]:
    if console is None:
        return lambda message: print(message, flush=True)
    return lambda message: console.print(message, markup=False, highlight=False)
