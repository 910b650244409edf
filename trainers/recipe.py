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
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentgym import credit
from agentgym.core.policies import ExpertPolicy, NoisyExpertPolicy
from agentgym.core.preflight import failed_episodes_error
from agentgym.core.registration import resolve_id, spec
from agentgym.core.trajectory import StepBatch
from agentgym.trainers.async_rollout import (
    AsyncRollout,
    RolloutBatch,
    behaviour_engine_loader,
    snapshot,
)
from agentgym.trainers.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    read_trainer_state,
    save_checkpoint,
)
from agentgym.trainers.config import (
    DEFAULT_OPPONENTS,
    AlgoConfig,
    ConfigError,
    EnvConfig,
    HardwareConfig,
    OptimConfig,
    TrainConfig,
    to_dict,
    validate,
)
from agentgym.trainers.credit_inputs import (
    CreditContext,
    CreditInputs,
    inputs_for,
    method_params,
)
from agentgym.trainers.distributed import DataParallel, from_environment, shutdown
from agentgym.trainers.engines import IN_PLACE_ENGINES, EngineBuild, SamplingSettings, make_engine
from agentgym.trainers.evaluation import TeacherPolicy, episode_metrics, run_episodes
from agentgym.trainers.induction import copyable_token_ids, pretrain_induction
from agentgym.trainers.logger import MetricsLogger
from agentgym.trainers.model import (
    frozen_copy,
    load_policy,
    load_vision,
    model_path,
    resolve_device,
    save_pretrained,
)
from agentgym.trainers.progress import RunProgress
from agentgym.trainers.samples import is_noise_turn, turn_samples
from agentgym.trainers.selfplay import OpponentPool, fixed_opponent, play_against, seats
from agentgym.trainers.sharded import ShardedPolicy
from agentgym.trainers.tiny import word_tokens_start
from agentgym.trainers.update import UpdateContext, sft_step, update_policy


class TrainingError(RuntimeError):
    """Training cannot go on (every episode of an iteration failed, a credit method misbehaved)."""


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

    Under ``torchrun`` (``WORLD_SIZE`` > 1) rank 0 runs the recipe and returns its result; the
    other ranks take part in the updates only (:func:`_follow`) and return None.
    """
    checked = validate(copy.deepcopy(cfg))
    device_type = resolve_device(checked.hardware.device).type
    parallel = from_environment(device_type,
                                sharded=data_parallel_kind(checked.hardware, device_type) == "fsdp")
    try:
        with contextlib.ExitStack() as resources:
            if not parallel.is_main:
                result = _follow(checked, parallel)
            else:
                result = _train(cfg, console, resources, parallel)
        # Every rank leaves the group together: a follower that tore its group down while
        # rank 0 still evaluated and checkpointed was seen to abort once (SIGABRT in gloo).
        parallel.barrier()
        return result  # type: ignore[return-value]
    finally:
        shutdown(parallel)


def _train(cfg: TrainConfig, console: Any, resources: contextlib.ExitStack,
           parallel: DataParallel) -> TrainResult:
    t0 = time.perf_counter()
    cfg = validate(copy.deepcopy(cfg))
    run, budget, hardware, algo = cfg.trainer, cfg.budget, cfg.hardware, cfg.algo
    say = _printer(console)

    # --- 1. settings, run directory, seeds (everything checked before anything is built) ----
    device = rank_device(resolve_device(hardware.device), parallel)
    if hardware.num_threads > 0:
        torch.set_num_threads(hardware.num_threads)
    if parallel.world_size > 1 and run.async_.max_staleness > 0:
        raise ConfigError("trainer.async.max_staleness > 0 runs in one process; data-parallel "
                          "updates (torchrun, hardware.world_size) need max_staleness=0")
    cfg.env.id = resolve_id(cfg.env.id)
    multiagent = spec(cfg.env.id).family == "multiagent"
    if run.opponents is None:  # the default pool of the environment's kind
        run.opponents = list(DEFAULT_OPPONENTS if multiagent else ["self"])
    if not multiagent and run.opponents != ["self"]:
        raise ConfigError(f"trainer.opponents={run.opponents} needs a multi-agent environment; "
                          f"{cfg.env.id} has one seat")
    if multiagent and (cfg.rollout.backend != "thread" or run.async_.max_staleness > 0):
        raise ConfigError(f"{cfg.env.id} is a multi-agent environment: it trains with "
                          "rollout.backend=thread and trainer.async.max_staleness=0 only")
    # a provider reads its own options from the params; the method gets the rest
    algo_inputs = inputs_for(algo.name, cfg, algo.params)
    estimator, algo_params = bind_method(credit.get, algo.name,
                                         method_params(algo.name, algo.params), "algo",
                                         provided=algo_inputs.provides)
    transform, reward_params = None, {}
    reward_inputs = inputs_for(cfg.reward.name, cfg, cfg.reward.params)
    if cfg.reward.name:
        transform, reward_params = bind_method(
            credit.get_transform, cfg.reward.name,
            method_params(cfg.reward.name, cfg.reward.params), "reward",
            provided=reward_inputs.provides)
    check_seed_ranges(cfg)
    run_dir = Path(run.run_dir) if run.run_dir else default_run_dir(cfg)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"trainer.run_dir={str(run_dir)!r} is a file, not a directory")
    checkpoint = latest_checkpoint(run_dir) if run.resume else None
    resumed_state = read_trainer_state(checkpoint) if checkpoint is not None else None
    if checkpoint is None and any(run_dir.glob("checkpoint-*")) and not run.resume:
        raise ConfigError(
            f"{run_dir} already holds checkpoints; pass trainer.resume=true to continue it or "
            "choose another trainer.run_dir"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    seed_everything(run.seed)
    placement = {"backend": env_backend(cfg, resources), "num_envs": cfg.rollout.num_envs}

    # --- 2. model, engine, logger ----------------------------------------------------------
    progress = resources.enter_context(RunProgress(enabled=run.progress, console=console,
                                                   say=say))
    _quiet_library_progress_bars()  # the run's own phases show loading and saving
    with progress.phase("load model", key="model"):
        model, tokenizer = load_policy(cfg.model, cfg.env, device, progress=progress)
        vision = load_vision(cfg.model, cfg.env, tokenizer)  # None for a text model
    parallel.barrier()  # the other ranks load the model (a tiny model is built by now)
    image_processor = vision.image_processor if vision is not None else None
    sampling = SamplingSettings(
        temperature=algo.temperature, top_p=algo.top_p, max_new_tokens=cfg.env.max_new_tokens,
        stop=tuple(cfg.env.stop_strings()), batch_size=hardware.generation_batch_size,
        seed=run.seed,
    )
    in_place = hardware.engine in IN_PLACE_ENGINES
    engine = make_engine(hardware.engine, EngineBuild(
        tokenizer=tokenizer, sampling=sampling, model=model, device=device,
        model_path=None if in_place else model_path(cfg.model, cfg.env),
        gpu_memory_utilization=hardware.gpu_memory_utilization, vision=vision,
    ))
    resources.callback(engine.close)
    autocast = device.type == "cuda" and cfg.model.dtype != "float32"
    ctx = UpdateContext(device=device, pad_id=int(tokenizer.pad_token_id),
                        temperature=algo.temperature, norm_len=float(cfg.env.max_new_tokens),
                        autocast=autocast, micro_batch_size=hardware.micro_batch_size,
                        micro_batch_tokens=hardware.micro_batch_tokens, vision=vision,
                        prompt_vocab=word_tokens_start(tokenizer))
    logger = MetricsLogger(run_dir, tensorboard=run.tensorboard, warn=say)
    seat_names = seats(cfg.env) if multiagent else []
    pool = OpponentPool(run.opponents, run.snapshot_every, seed=run.seed, make_engine=lambda m:
                        make_engine("hf", EngineBuild(
                            tokenizer=tokenizer, device=device, model=m, vision=vision,
                            sampling=dataclasses.replace(sampling, seed=run.seed + 17))))

    def play(policy: Any, seeds: Sequence[int], opponent: Any, env: EnvConfig = cfg.env,
             **kwargs: Any) -> list:
        """Episodes of ``policy`` on ``env`` (a multi-agent env: its seats only, against
        ``opponent``)."""
        if not multiagent:
            return run_episodes(env, policy, seeds, **placement, **kwargs)
        return play_against(run_episodes, env, policy, opponent, seeds, seat_names,
                            num_envs=cfg.rollout.num_envs, **kwargs)
    worker: AsyncRollout | None = None  # the rollout thread (trainer.async.max_staleness > 0)

    def engine_idle() -> contextlib.AbstractContextManager:
        """The engine to this thread, serving the newest weights (pauses the rollout thread)."""
        return worker.paused() if worker is not None else contextlib.nullcontext()
    shuffle = torch.Generator().manual_seed(run.seed + 1)
    say(f"run {run_dir} · env {cfg.env.id} · algo {algo.name}"
        f"{' + ' + cfg.reward.name if cfg.reward.name else ''} · device {device} · "
        f"engine {hardware.engine}")

    def evaluate(label: str) -> dict[str, Any]:
        seeds = range(run.eval_seed, run.eval_seed + budget.eval_episodes)
        policy = engine.as_policy(run.eval_temperature, seed=run.seed + 7919)
        total = len(seeds) * (len(seat_names) if multiagent else 1)
        with engine_idle(), progress.phase(label, total=total, key="eval") as phase:
            episodes = play(policy, seeds, fixed_opponent(run.eval_opponent, run.seed + 1),
                            env=cfg.env.held_out(), num_workers=hardware.env_workers,
                            max_batch_size=hardware.generation_batch_size,
                            on_episode=phase.on_episode)
        metrics = episode_metrics(episodes)
        metrics["temperature"] = run.eval_temperature
        return metrics

    # --- 3. warm start: behaviour cloning on expert episodes (skipped on resume) ---------------
    warm_dir = run_dir / "warmstart"
    if checkpoint is None:
        logger.truncate_after(-1)  # a fresh start: no rows of an earlier, unfinished attempt
        warm: dict[str, Any] = {}  # induction pre-training and behaviour cloning
        if budget.induction_steps > 0 and not cfg.model.path:  # only from random weights
            warm.update(induction_pretrain(model, tokenizer, budget.induction_steps, run.seed,
                                           ctx.prompt_vocab, progress))
            say(f"induction pre-training: copy accuracy "
                f"{warm['induction_copy_acc_before']:.1%} → "
                f"{warm['induction_copy_acc_after']:.1%} "
                f"({warm['induction_steps_taken']:.0f} steps, {warm['induction_s']:.0f} s)")
        elif budget.induction_steps > 0:
            say("induction pre-training: skipped, the model is loaded from model.path")
        if budget.warmup_episodes > 0:
            bc = behaviour_clone(cfg, model, engine, ctx, shuffle, progress, placement,
                                 seat_names)
            warm.update(bc)
            noise = f" ({bc['demo_noise_turns']} random turns left out)" if \
                budget.warmup_noise > 0 else ""
            say(f"warm start: {bc['demo_turns']} expert turns{noise}, BC loss "
                f"{bc['first_loss']:.3f} → {bc['last_loss']:.3f} "
                f"({bc['bc_tokens_per_s'] / 1000:.1f}k tokens/s)")
        if warm:
            logger.log("warmup", 0, {**warm, **progress.take_times(), **memory_metrics()})
            engine.sync_weights(model)
        if algo.loss.kl_coef > 0:
            save_pretrained(model, tokenizer, warm_dir, image_processor=image_processor)
        pool.update_snapshot(model, 0)
        warmstart = evaluate("eval (warm start)")
        logger.log("eval", 0, {**warmstart, **progress.take_times()})
        say(f"warm-start held-out success {_fmt(warmstart)}")
    reference = None
    if algo.loss.kl_coef > 0:
        reference = (frozen_copy(model) if checkpoint is None
                     else frozen_copy(load_policy(cfg.model, cfg.env, device, path=warm_dir)[0]))
    optimizer = make_optimizer(model, algo.optim)
    start = 0
    # the other ranks load the same checkpoint, or take these (warm-started) weights
    parallel.broadcast({"checkpoint": None if checkpoint is None else str(checkpoint)})
    if checkpoint is None:
        parallel.broadcast_parameters(model)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model=model, optimizer=optimizer,
                                state=resumed_state)
        engine.sync_weights(model)
        engine.load_state_dict(state["engine"])
        shuffle.set_state(state["shuffle"])
        pool.load_state_dict(state.get("opponents", {}), model)
        algo_inputs.load_state_dict(state.get("credit_inputs", {}).get("algo", {}))
        reward_inputs.load_state_dict(state.get("credit_inputs", {}).get("reward", {}))
        warmstart = state["warmstart"]
        start = int(state["iteration"])
        logger.truncate_after(start)
        say(f"resumed from {checkpoint.name} (iteration {start})")
    target = UpdateTarget.build(model, optimizer, algo.optim, parallel, device,
                                resumed=checkpoint)
    optimizer = target.optimizer  # a sharded target's: the whole one would keep its state alive
    optimizer_state: dict[str, Any] | None = None  # the gathered state of a sharded optimizer

    # --- 4. RL iterations ----------------------------------------------------------------------
    history: list[dict[str, Any]] = []
    last_eval: dict[str, Any] | None = None
    saved_at = start if checkpoint is not None else -1
    progress.start_iterations(budget.iterations, start)
    staleness_cap = run.async_.behaviour_cap if run.async_.max_staleness > 0 else None
    if run.async_.max_staleness > 0 and start < budget.iterations:
        # the engine samples from its own copy of the weights, loaded between batches; a resumed
        # run starts with an empty queue (see agentgym.trainers.async_rollout)
        behaviour = frozen_copy(model)
        engine.sync_weights(behaviour)

        def produce(it: int, version: int) -> RolloutBatch:
            tic, before = time.perf_counter(), engine.tokens_generated
            episodes = play(engine, train_seeds(cfg, it), None, group_size=budget.group_size,
                            num_workers=hardware.env_workers,
                            max_batch_size=hardware.generation_batch_size)
            return RolloutBatch(it, version, episodes, time.perf_counter() - tic,
                                engine.tokens_generated - before)

        worker = AsyncRollout(produce, behaviour_engine_loader(engine, behaviour), first=start,
                              last=budget.iterations, max_staleness=run.async_.max_staleness,
                              version=start)
        resources.callback(worker.close)
    for it in range(start, budget.iterations):
        tic = time.perf_counter()
        # 4a. rollout: each task played group_size times by the engine (or, asynchronously, the
        #     batch the rollout thread made with a policy at most max_staleness updates old)
        if worker is None:
            seeds = train_seeds(cfg, it)
            gen_before = engine.tokens_generated
            episodes = []
            games = len(seeds) * budget.group_size
            with progress.phase(f"rollout {it + 1}", total=games * max(1, len(seat_names)),
                                key="rollout") as phase:
                for _, opponent, task_seeds in pool.split(seeds):
                    episodes += play(engine, task_seeds, opponent, group_size=budget.group_size,
                                     num_workers=hardware.env_workers,
                                     max_batch_size=hardware.generation_batch_size,
                                     on_episode=phase.on_episode)
            rollout_s = time.perf_counter() - tic
            gen_tokens, version, wait_s = engine.tokens_generated - gen_before, it, rollout_s
        else:
            with progress.phase(f"rollout {it + 1} (queue)", key="rollout"):
                got, wait_s = worker.get(it)
            episodes, rollout_s, gen_tokens, version = (got.episodes, got.rollout_s,
                                                        got.gen_tokens, got.version)
        failed = failed_episodes_error(episodes)
        if failed is not None:
            raise TrainingError(f"iteration {it + 1}: {failed}")
        # 4b. rewards and credit: reward transform, then the estimator (by name)
        #     (methods that need more than the batch get it from their credit-inputs provider)
        batch = StepBatch.from_episodes(episodes)
        context = CreditContext(batch=batch, episodes=episodes, model=model, tokenizer=tokenizer,
                                engine=engine, update=ctx, iteration=it)
        if transform is not None:
            batch = credit.apply_transform(batch, transform,
                                           update_outcome=cfg.reward.update_outcome,
                                           **reward_params, **reward_inputs(context))
            context.batch = batch
        advantages = per_turn_advantages(
            estimator(batch, **algo_params, **algo_inputs(context)), batch, algo.name)
        # 4c. update: PPO-clip over turn samples
        samples = turn_samples(episodes, advantages)
        saves = bool(budget.checkpoint_every) and (it + 1) % budget.checkpoint_every == 0
        with progress.phase(f"update {it + 1}", key="update"):
            message = {"samples": samples, "shuffle": shuffle.get_state(),
                       "optimizer_state": saves}
            if parallel.world_size > 1:  # every rank updates on its share of the samples
                parallel.broadcast(message)
            stats, optimizer_state = target.update(message, algo, ctx, reference, shuffle,
                                                   whole=model, behaviour_cap=staleness_cap)
            sync_tic = time.perf_counter()
            if worker is None:
                engine.sync_weights(model)
            else:
                worker.publish(it + 1, snapshot(model))
            sync_s = time.perf_counter() - sync_tic
        # 4d. log
        rollout = episode_metrics(episodes)
        metrics = {
            **{f"rollout/{k}": v for k, v in rollout.items()},
            **{f"update/{k}": v for k, v in stats.items()},
            "adv/mean": float(advantages.mean()) if len(advantages) else 0.0,
            "adv/std": float(advantages.std()) if len(advantages) else 0.0,
            "adv/nonzero": float(np.mean(advantages != 0)) if len(advantages) else 0.0,
            **progress.take_times(),
            **memory_metrics(),
            "time/gen_tokens_per_s": gen_tokens / max(rollout_s, 1e-9),
            "staleness": it - version,
            "time/rollout_wait_s": wait_s,
            "time/weight_sync_s": sync_s,
            **{f"credit/{section}/{key}": value
               for section, provider in (("algo", algo_inputs), ("reward", reward_inputs))
               for key, value in getattr(provider, "metrics", dict)().items()},
            **({"time/rollout_gen_s": rollout_s} if worker is not None else {}),
        }
        history.append(logger.log("train", it + 1, metrics))
        info = f"iteration {it + 1}: train success {rollout['success_rate']:.1%}"
        # 4e. evaluate on held-out seeds
        last_eval = None
        if budget.eval_every and (it + 1) % budget.eval_every == 0:
            last_eval = evaluate(f"eval {it + 1}")
            logger.log("eval", it + 1, {**last_eval, **progress.take_times()})
            info += f" · eval {last_eval['success_rate']:.1%}"
        progress.end_iteration(info)
        pool.update_snapshot(model, it + 1)
        # 4f. checkpoint
        if saves:
            with engine_idle():
                extra = _extra_state(engine, shuffle, warmstart, pool,
                                     (algo_inputs, reward_inputs))
            save_checkpoint(run_dir, it + 1, model=model, tokenizer=tokenizer,
                            optimizer=optimizer_state or optimizer, keep=budget.keep_checkpoints,
                            image_processor=image_processor, extra=extra)
            saved_at = it + 1
    if worker is not None:
        worker.close()  # every batch was consumed; the engine is this thread's again
    done = max(start, budget.iterations)
    if target.sharded is not None and saved_at != done:  # the final save needs the optimizer
        message = {"samples": None, "optimizer_state": True}
        parallel.broadcast(message)
        _, optimizer_state = target.update(message, algo, ctx, reference, shuffle)
    parallel.broadcast(None)  # the other ranks are done

    # --- 5. final evaluation and checkpoint ------------------------------------------------
    final = last_eval if last_eval is not None else evaluate("eval (final)")
    if last_eval is None and done > 0:
        logger.log("eval", done, final)
    if saved_at != done:
        save_checkpoint(run_dir, done, model=model, tokenizer=tokenizer,
                        optimizer=optimizer_state or optimizer,
                        keep=budget.keep_checkpoints, image_processor=image_processor,
                        extra=_extra_state(engine, shuffle, warmstart, pool,
                                           (algo_inputs, reward_inputs)))
    wall = time.perf_counter() - t0
    logger.log("final", done, {"warmstart_success": warmstart["success_rate"],
                               "final_success": final["success_rate"], "wall_s": wall})
    logger.close()
    summary = {"warmstart": warmstart, "final": final, "iterations": done, "wall_s": wall}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    say(f"warm-start held-out success {_fmt(warmstart)}")
    say(f"final held-out success      {_fmt(final)}  ({done} iterations, {wall:.0f}s)")
    return TrainResult(run_dir, warmstart, final, done, wall, history)


def _follow(cfg: TrainConfig, parallel: DataParallel) -> None:
    """A rank other than 0: hold a copy of the policy and the optimizer, and run each update on
    this rank's share of the samples rank 0 broadcasts (see :mod:`agentgym.trainers.distributed`).
    Rank 0 alone rolls out, logs, evaluates and checkpoints."""
    run, algo, hardware = cfg.trainer, cfg.algo, cfg.hardware
    device = rank_device(resolve_device(hardware.device), parallel)
    if hardware.num_threads > 0:
        torch.set_num_threads(hardware.num_threads)
    cfg.env.id = resolve_id(cfg.env.id)
    seed_everything(run.seed)
    parallel.barrier()  # rank 0 has loaded (and, for model=tiny, built) the model
    model, tokenizer = load_policy(cfg.model, cfg.env, device)
    ctx = UpdateContext(device=device, pad_id=int(tokenizer.pad_token_id),
                        temperature=algo.temperature, norm_len=float(cfg.env.max_new_tokens),
                        autocast=device.type == "cuda" and cfg.model.dtype != "float32",
                        micro_batch_size=hardware.micro_batch_size,
                        micro_batch_tokens=hardware.micro_batch_tokens,
                        vision=load_vision(cfg.model, cfg.env, tokenizer))
    optimizer = make_optimizer(model, algo.optim)
    start = parallel.broadcast()
    if start["checkpoint"] is None:
        parallel.broadcast_parameters(model)
    else:
        load_checkpoint(start["checkpoint"], model=model, optimizer=optimizer)
    reference = None
    if algo.loss.kl_coef > 0:
        run_dir = Path(start["checkpoint"]).parent if start["checkpoint"] else None
        reference = frozen_copy(model if run_dir is None else load_policy(
            cfg.model, cfg.env, device, path=run_dir / "warmstart")[0])
    target = UpdateTarget.build(model, optimizer, algo.optim, parallel, device,
                                resumed=start["checkpoint"])
    del model, optimizer  # sharded: the whole tensors are freed once nothing refers to them
    shuffle = torch.Generator()
    while (message := parallel.broadcast()) is not None:
        target.update(message, algo, ctx, reference, shuffle)


def data_parallel_kind(hardware: HardwareConfig, device_type: str) -> str:
    """``ddp`` or ``fsdp``: ``hardware.data_parallel``, with ``auto`` = FSDP2 on GPUs and a
    whole copy per rank on CPUs."""
    if hardware.data_parallel != "auto":
        return hardware.data_parallel
    return "fsdp" if device_type == "cuda" else "ddp"


def make_optimizer(model: torch.nn.Module, optim: OptimConfig) -> torch.optim.Optimizer:
    """AdamW over ``model``'s trainable parameters."""
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=optim.lr,
                             betas=tuple(optim.betas), weight_decay=optim.weight_decay)


@dataclass
class UpdateTarget:
    """What the update trains on this rank: the whole model and its optimizer, or with
    ``hardware.data_parallel=fsdp`` and several ranks the FSDP2 shards (``sharded``)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    parallel: DataParallel
    sharded: ShardedPolicy | None = None

    @classmethod
    def build(cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer, optim: OptimConfig,
              parallel: DataParallel, device: torch.device, resumed: Any = None) -> UpdateTarget:
        """The target for ``model``, whose weights are the same on every rank by now;
        ``optimizer`` holds a resumed run's state (``resumed``: its checkpoint, None when fresh),
        which a sharded target takes over (the caller then drops ``optimizer`` and its state:
        it refers to the whole parameters)."""
        if not (parallel.sharded and parallel.world_size > 1):
            return cls(model, optimizer, parallel)
        sharded = ShardedPolicy(model, lambda m: make_optimizer(m, optim), parallel,
                                device.type,
                                optimizer_state=optimizer.state_dict() if resumed else None)
        optimizer.state.clear()
        return cls(sharded.module, sharded.optimizer, parallel, sharded)

    def update(self, message: dict[str, Any], algo: AlgoConfig, ctx: UpdateContext,
               reference: torch.nn.Module | None, shuffle: torch.Generator, *,
               whole: torch.nn.Module | None = None, behaviour_cap: float | None = None,
               ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Run one message of rank 0 on this rank (every rank calls it with the same message):
        the update on this rank's share of ``message["samples"]`` (None: none), then for a
        sharded target the new weights into rank 0's ``whole`` model and, when
        ``message["optimizer_state"]``, the gathered optimizer state for a checkpoint.

        Returns:
            The update's statistics and the gathered optimizer state (rank 0 of a sharded
            target; None otherwise).
        """
        stats: dict[str, Any] = {}
        if message["samples"] is not None:
            shuffle.set_state(message["shuffle"])
            stats = update_policy(self.model, self.optimizer, message["samples"], algo.loss,
                                  algo.optim, ctx, reference=reference, generator=shuffle,
                                  behaviour_cap=behaviour_cap, parallel=self.parallel)
            if self.sharded is not None:
                self.sharded.gather_weights(whole)
        if self.sharded is not None and message.get("optimizer_state"):
            return stats, self.sharded.optimizer_state()
        return stats, None


def rank_device(device: torch.device, parallel: DataParallel) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` for data-parallel GPU ranks, else ``device``."""
    if device.type == "cuda" and parallel.world_size > 1:
        return torch.device("cuda", torch.cuda.current_device())
    return device


# --- helpers ---------------------------------------------------------------------------------
def behaviour_clone(
    cfg: TrainConfig, model: torch.nn.Module, engine: Any, ctx: UpdateContext,
    generator: torch.Generator, progress: RunProgress, placement: dict[str, Any] | None = None,
    seat_names: Sequence[str] = (),
) -> dict[str, Any]:
    """Supervised fine-tuning on the expert's turns (its actions in the action format).

    In a multi-agent environment only the turns of the learner's seats (``seat_names``) are
    cloned (Collab's coder, not its scripted collaborator). With ``budget.warmup_noise`` the
    demonstrator plays a random admissible action on that fraction of turns (DART); those turns
    are not cloned, the expert's way back from them is.

    Batches are drawn length-bucketed (:func:`length_bucketed_batches`), so a batch pads to
    similar lengths instead of the longest page of the whole set; the prompt loss counts each
    observation once (a later turn's prompt from its new user message on).
    """
    budget, w = cfg.budget, cfg.algo.warmup
    expert = (NoisyExpertPolicy(budget.warmup_noise, seed=cfg.trainer.warmup_seed)
              if budget.warmup_noise > 0 else ExpertPolicy())
    teacher = TeacherPolicy(expert, engine.encode_prompt, engine.encode_response,
                            encode_request=engine.encode_request)
    first = cfg.trainer.warmup_seed
    seeds = range(first, first + budget.warmup_episodes)
    with progress.phase("demonstrations", total=len(seeds), key="demos") as phase:
        episodes = run_episodes(cfg.env.demonstrations(), teacher, seeds,
                                num_workers=cfg.hardware.env_workers,
                                on_episode=phase.on_episode, **(placement or {}))
    if seat_names:
        episodes = [e for e in episodes if e.info.get("seat") in seat_names]
    samples = turn_samples(episodes, new_message_marker=user_message_marker(engine),
                           skip_noise=True)
    noise_turns = sum(is_noise_turn(t) for e in episodes for t in e.turns)
    if budget.warmup_noise > 0 and noise_turns == 0:
        warnings.warn(f"budget.warmup_noise={budget.warmup_noise} played no random turn: "
                      f"{cfg.env.id} lists no admissible actions other than the expert's, so "
                      "the demonstrations are the expert's own path", stacklevel=2)
    lengths = [len(s.prompt_ids) + len(s.response_ids) for s in samples]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=w.lr)
    batches_per_epoch = -(-len(samples) // w.batch_size)
    losses: list[float] = []
    tokens = 0
    tic = time.perf_counter()
    with progress.phase("behaviour cloning", total=budget.warmup_epochs * batches_per_epoch,
                        key="bc") as phase:
        for _ in range(budget.warmup_epochs):
            for batch in length_bucketed_batches(lengths, w.batch_size, generator):
                chunk = [samples[i] for i in batch]
                losses.append(sft_step(model, optimizer, chunk, ctx,
                                       max_grad_norm=cfg.algo.optim.max_grad_norm,
                                       prompt_weight=w.prompt_loss))
                tokens += sum(lengths[i] for i in batch)
                rate = tokens / max(time.perf_counter() - tic, 1e-9)
                phase.advance(1, f"loss {losses[-1]:.3f} · {rate / 1000:.1f}k tok/s")
    bc_s = time.perf_counter() - tic
    return {
        "demo_episodes": len(episodes),
        "demo_turns": len(samples),
        "demo_noise_turns": noise_turns,
        "demo_success_rate": float(np.mean([e.success for e in episodes])) if episodes else 0.0,
        "bc_steps": len(losses),
        "bc_tokens_per_s": tokens / max(bc_s, 1e-9),
        "first_loss": losses[0] if losses else float("nan"),
        "last_loss": float(np.mean(losses[-5:])) if losses else float("nan"),
    }


def induction_pretrain(
    model: torch.nn.Module, tokenizer: Any, steps: int, seed: int, limit: int | None,
    progress: RunProgress,
) -> dict[str, float]:
    """:func:`~agentgym.trainers.induction.pretrain_induction` of ``model`` for ``steps`` steps
    before behaviour cloning (a tiny model from scratch learns to copy from its prompt). ``limit``:
    the ids below it only (``UpdateContext.prompt_vocab``: whole-word tokens left out)."""
    with progress.phase("induction pre-training", total=steps, key="induction") as phase:
        return pretrain_induction(model, copyable_token_ids(tokenizer, limit), steps, seed=seed,
                                  vocab_limit=limit,
                                  on_step=lambda _, loss: phase.advance(1, f"loss {loss:.3f}"))


def length_bucketed_batches(
    lengths: list[int], batch_size: int, generator: torch.Generator, pool_batches: int = 32
) -> list[list[int]]:
    """One epoch of batches of similar lengths, in random order.

    A random permutation is cut into pools of ``pool_batches × batch_size`` samples; each pool
    is sorted by length and cut into batches; the batches of all pools are shuffled. Every
    sample appears once per epoch. Shape: ``lengths`` ``(n,)`` → ``ceil(n / batch_size)``
    lists of indices (most of size ``batch_size``).
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    pool = pool_batches * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lengths.__getitem__)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def user_message_marker(engine: Any) -> list[int]:
    """Token ids that open a user message in the engine's chat template (ChatML:
    ``<|im_start|>user``); empty when the template does not have that shape."""
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return []
    try:
        ids = tokenizer.encode("<|im_start|>user", add_special_tokens=False)
    except Exception:  # a tokenizer without ChatML: count the whole prompt
        return []
    start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    return [int(i) for i in ids] if ids and ids[0] == start else []


def memory_metrics() -> dict[str, float]:
    """Peak resident memory of this process so far, in GB (``memory/peak_rss_gb``)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {"memory/peak_rss_gb": peak * scale / 1e9}


def per_turn_advantages(values: Any, batch: StepBatch, name: str) -> np.ndarray:
    """Check an estimator's output: one finite float per turn, shape ``(n_rows,)``.

    Raises:
        TrainingError: any other shape, or NaN/inf values.
    """
    advantages = np.asarray(values, dtype=np.float64)
    if advantages.shape != (len(batch),):
        raise TrainingError(
            f"credit method {name!r} returned shape {advantages.shape}; estimators must return "
            f"one advantage per turn, shape ({len(batch)},)"
        )
    if not np.isfinite(advantages).all():
        raise TrainingError(f"credit method {name!r} returned non-finite advantages")
    return advantages


def bind_method(
    lookup: Callable[[str], Callable[..., Any]],
    name: str,
    params: dict[str, Any],
    key: str,
    *,
    provided: Sequence[str] = (),
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """Look a credit method up and check ``params`` against its signature.

    Args:
        provided: keyword arguments the recipe supplies every iteration (its credit-inputs
            provider); the configured ``params`` may not set them.

    Raises:
        ConfigError: unknown method, a parameter it does not take, a required one nobody
            supplies, or a parameter the recipe supplies itself.
    """
    try:
        fn = lookup(name)
    except KeyError as exc:
        raise ConfigError(f"{key}.name: {exc}") from None
    clash = sorted(set(params) & set(provided))
    if clash:
        raise ConfigError(f"{key}.params.{clash[0]} is computed by the trainer for {name!r}; "
                          "remove it from the config")
    try:
        inspect.signature(fn).bind(None, **params, **dict.fromkeys(provided))
    except TypeError as exc:
        accepted = [p for p in inspect.signature(fn).parameters if p != "batch"]
        raise ConfigError(
            f"{key}.params for {name!r}: {exc}; accepted: {', '.join(accepted)}"
        ) from None
    return fn, dict(params)


def env_backend(cfg: TrainConfig, resources: contextlib.ExitStack) -> Any:
    """Where the run's environments live (``rollout.backend``): ``"thread"``, or one
    :class:`~agentgym.core.ray_pool.RayEnvPool` kept for the whole run (its actors, with their
    warm sandboxes, are reused by every rollout and closed when the run ends)."""
    if cfg.rollout.backend == "thread":
        return "thread"
    from agentgym.core.ray_pool import RayEnvPool

    pool = RayEnvPool(address=cfg.rollout.ray_address, num_cpus=cfg.rollout.num_cpus)
    resources.callback(pool.close)
    return pool


def train_seeds(cfg: TrainConfig, iteration: int) -> list[int]:
    """Task seeds of RL iteration ``iteration`` (0-based)."""
    n = cfg.budget.tasks_per_iteration
    first = cfg.trainer.train_seed + iteration * n
    return list(range(first, first + n))


def check_seed_ranges(cfg: TrainConfig) -> None:
    """Training, evaluation and demonstration seeds must not overlap."""
    run, budget = cfg.trainer, cfg.budget
    ranges = {
        "train": (run.train_seed,
                  run.train_seed + budget.iterations * budget.tasks_per_iteration),
        "eval": (run.eval_seed, run.eval_seed + budget.eval_episodes),
        "warmup": (run.warmup_seed, run.warmup_seed + budget.warmup_episodes),
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


def _extra_state(
    engine: Any, shuffle: torch.Generator, warmstart: dict[str, Any], pool: OpponentPool,
    inputs: tuple[CreditInputs, CreditInputs],
) -> dict:
    return {"engine": engine.state_dict(), "shuffle": shuffle.get_state(),
            "warmstart": warmstart, "opponents": pool.state_dict(),
            "credit_inputs": {"algo": inputs[0].state_dict(), "reward": inputs[1].state_dict()}}


def _fmt(metrics: dict[str, Any]) -> str:
    return (f"{metrics['success_rate']:.1%} (95% CI {metrics['success_ci_low']:.1%}–"
            f"{metrics['success_ci_high']:.1%}, n={metrics['episodes']}, "
            f"T={metrics.get('temperature', 1.0):g})")


def _quiet_library_progress_bars() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _printer(console: Any) -> Callable[[str], None]:
    if console is None:
        return lambda message: print(message, flush=True)
    return lambda message: console.print(message, markup=False, highlight=False)
