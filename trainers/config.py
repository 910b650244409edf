"""Typed configuration of the trainer: one dataclass per part, one doc line per field.

Classes in :mod:`agentgym.trainers` take these dataclasses (or plain arguments); only the CLI
sees Hydra/OmegaConf. :func:`from_dict` turns a plain nested dict (e.g. a resolved Hydra config)
into a dataclass and rejects unknown keys, so a typo in a YAML file or an override fails loudly::

    cfg = from_dict(TrainConfig, {"env": {"id": "agentgym/Sokoban-v0"}, ...})
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin

T = TypeVar("T")

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
KL_TYPES = ("k1", "k3")


@dataclass
class EnvConfig:
    """Which environment to train on and how its prompts look."""

    #: registered environment id (or short name), e.g. ``agentgym/Sokoban-v0``.
    id: str = "agentgym/Sokoban-v0"
    #: constructor keyword arguments for ``agentgym.make``.
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: how the model writes its action: ``plain``, ``xml`` (``<action>…</action>``) or ``json``.
    action_format: str = "xml"
    #: past turns kept in the prompt (0 = only the task and the current observation; None = all).
    history_window: int | None = 0
    #: system message of the chat prompt (None = none).
    system_prompt: str | None = None
    #: turn limit per episode (None = the environment's registered limit).
    max_turns: int | None = None
    #: reward subtracted from every turn whose action was invalid (on top of the environment's
    #: own invalid-action reward, which unparsable output also gets from the action parser).
    invalid_penalty: float = 0.0


@dataclass
class AlgoConfig:
    """The credit-assignment method: a registered ``agentgym.credit`` estimator and its params."""

    #: estimator name in the credit registry (``grpo``, ``gigpo``, ``rloo`` …).
    name: str = "gigpo"
    #: keyword arguments of the estimator (bound against its signature).
    params: dict[str, Any] = field(default_factory=dict)
    #: loss aggregation this method prescribes (None = keep ``trainer.loss.agg_mode``).
    loss_agg_mode: str | None = None


@dataclass
class RewardConfig:
    """Optional reward transform applied before the estimator (``reward=gated``)."""

    #: transform name in the credit registry (None = use the environment's rewards unchanged).
    name: str | None = None
    #: keyword arguments of the transform.
    params: dict[str, Any] = field(default_factory=dict)
    #: also recompute each episode's outcome as the sum of the transformed rewards.
    update_outcome: bool = False


@dataclass
class LoraConfig:
    """Low-rank adapters through peft (rank 0 trains every parameter instead)."""

    #: adapter rank r (0 = no LoRA, full fine-tuning).
    rank: int = 0
    #: scaling alpha (the update is scaled by alpha / r).
    alpha: float = 16.0
    #: dropout on the adapter input.
    dropout: float = 0.0
    #: module names to adapt.
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )


@dataclass
class TinyModelConfig:
    """Shape of the locally built Qwen2-architecture model (``model=tiny``)."""

    #: hidden size d_model.
    hidden_size: int = 64
    #: transformer blocks.
    num_layers: int = 2
    #: attention heads (head size = hidden_size / num_heads, at least 32 for vLLM-CPU).
    num_heads: int = 2
    #: key/value heads (grouped-query attention when smaller than num_heads).
    num_kv_heads: int = 2
    #: MLP inner size.
    intermediate_size: int = 128
    #: BPE vocabulary budget of the tokenizer trained on the environment's text.
    vocab_size: int = 768
    #: longest sequence (positions).
    max_positions: int = 2048
    #: episodes of each of the expert and random policies whose text trains the tokenizer.
    corpus_episodes: int = 64
    #: seed of the random weights.
    seed: int = 0


@dataclass
class ModelConfig:
    """The policy model: the embedded tiny model or a local Hugging Face checkpoint."""

    #: ``tiny`` builds a small model for the environment; anything else loads ``path``.
    name: str = "tiny"
    #: local directory with ``config.json`` and tokenizer files (real models, checkpoints).
    path: str | None = None
    #: parameter dtype: ``auto`` (bf16 on GPU, fp32 on CPU), ``float32`` or ``bfloat16``.
    dtype: str = "auto"
    #: attention implementation passed to transformers (``sdpa``, ``eager``, ``flash_attention_2``).
    attn_implementation: str = "sdpa"
    #: recompute activations in the backward pass to save memory.
    gradient_checkpointing: bool = False
    #: the tiny model's shape (used when name is ``tiny``).
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    #: LoRA adapters.
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class EngineConfig:
    """Generation engine used for rollouts and evaluation."""

    #: ``hf`` (transformers, KV cache, batched) or ``vllm``.
    backend: str = "hf"
    #: sampling temperature during training rollouts.
    temperature: float = 1.0
    #: nucleus sampling threshold.
    top_p: float = 1.0
    #: longest response per turn, in tokens.
    max_new_tokens: int = 16
    #: generation stops after any of these strings (kept in the output).
    stop: list[str] = field(default_factory=lambda: ["</action>"])
    #: prompts generated together (larger batches are split).
    batch_size: int = 256
    #: sampling temperature for held-out evaluation (0 = greedy).
    eval_temperature: float = 0.0
    #: vLLM: fraction of GPU memory (GPU) — ignored on CPU.
    gpu_memory_utilization: float = 0.5


@dataclass
class LossConfig:
    """Token-level PPO-clip loss with KL to a frozen reference and an entropy bonus."""

    #: lower clip range epsilon (ratio ≥ 1 − clip_low).
    clip_low: float = 0.2
    #: upper clip range epsilon (ratio ≤ 1 + clip_high; DAPO's clip-higher when > clip_low).
    clip_high: float = 0.28
    #: weight of the KL penalty to the reference policy (0 = no reference model).
    kl_coef: float = 0.0
    #: KL estimator: ``k1`` (log-ratio) or ``k3`` (low-variance, Schulman 2020).
    kl_type: str = "k3"
    #: weight of the entropy bonus (subtracted from the loss).
    entropy_coef: float = 0.0
    #: ``token-mean``, ``seq-mean-token-mean`` or ``seq-mean-token-sum-norm`` (Dr. GRPO).
    agg_mode: str = "token-mean"
    #: old log-probs for the ratio: ``recompute`` (training forward before the update) or
    #: ``engine`` (as sampled by the generation engine).
    old_logprobs: str = "recompute"


@dataclass
class OptimConfig:
    """AdamW and the shape of one update."""

    #: learning rate of the RL updates.
    lr: float = 1e-4
    #: AdamW betas.
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    #: AdamW weight decay.
    weight_decay: float = 0.0
    #: clip the global gradient norm to this value (0 = no clipping).
    max_grad_norm: float = 1.0
    #: passes over each iteration's samples.
    ppo_epochs: int = 1
    #: samples per optimizer step (0 = all samples of the iteration in one step).
    mini_batch_size: int = 0
    #: samples per forward/backward (gradient accumulation over micro-batches).
    micro_batch_size: int = 64


@dataclass
class WarmupConfig:
    """Behaviour cloning on expert episodes before RL (a random model cannot act)."""

    #: expert episodes to clone (0 = no warm start).
    episodes: int = 0
    #: passes over the expert turns.
    epochs: int = 1
    #: learning rate of the cloning updates.
    lr: float = 1e-3
    #: samples per optimizer step.
    batch_size: int = 32
    #: weight of the next-token loss on the prompts (language-model pretraining on the
    #: environment's text, which a from-scratch tiny model needs to learn to read observations).
    prompt_loss: float = 0.0


@dataclass
class TrainerConfig:
    """The training loop: budget, data, evaluation, checkpoints, devices."""

    #: RL iterations (rollout → credit → update).
    iterations: int = 10
    #: tasks (seeds) per iteration; each is played ``group_size`` times.
    tasks_per_iteration: int = 8
    #: episodes per task (the group credit methods compare within).
    group_size: int = 8
    #: expert episodes for the behaviour-cloning warm start (shortcut for ``warmup.episodes``).
    warmup_episodes: int = 0
    #: behaviour-cloning details.
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    #: the loss.
    loss: LossConfig = field(default_factory=LossConfig)
    #: the optimizer and update shape.
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: the generation engine.
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: evaluate on held-out seeds every this many iterations (0 = only before and after).
    eval_every: int = 0
    #: held-out episodes per evaluation.
    eval_episodes: int = 64
    #: first seed of the held-out evaluation tasks (training seeds never reach it).
    eval_seed: int = 1_000_000
    #: first seed of the training tasks.
    train_seed: int = 0
    #: first seed of the warm-start expert tasks.
    warmup_seed: int = 2_000_000
    #: save a checkpoint every this many iterations (0 = only at the end).
    checkpoint_every: int = 0
    #: keep only the newest this many checkpoints (0 = keep all).
    keep_checkpoints: int = 2
    #: continue from the newest checkpoint in ``run_dir``.
    resume: bool = False
    #: output directory (None = ``runs/<env>-<algo>-<time>``).
    run_dir: str | None = None
    #: global seed (weights of new heads, sampling, shuffling).
    seed: int = 0
    #: ``cpu``, ``cuda`` or ``auto``.
    device: str = "auto"
    #: torch CPU threads (0 = leave torch's default).
    num_threads: int = 0
    #: environment threads during rollouts (0 = step inline; deterministic).
    env_workers: int = 0
    #: write TensorBoard event files next to the JSONL metrics.
    tensorboard: bool = True
    #: show a rich progress bar.
    progress: bool = True


@dataclass
class TrainConfig:
    """Everything ``agentgym train`` needs."""

    #: the environment and its prompts.
    env: EnvConfig = field(default_factory=EnvConfig)
    #: the credit method.
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    #: the reward transform.
    reward: RewardConfig = field(default_factory=RewardConfig)
    #: the policy model.
    model: ModelConfig = field(default_factory=ModelConfig)
    #: the training loop.
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names the key path."""


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (light-weight; converts ints to floats)."""
    origin = get_origin(tp)
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return from_dict(tp, value, path=path)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{path}: may not be null")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{path}: bad value {value!r}")
    if tp is Any:
        return value
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        (item,) = get_args(tp) or (Any,)
        return [_coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, *, path: str = "") -> T:
    """Build the dataclass ``cls`` from a nested dict, rejecting unknown keys.

    Args:
        cls: a dataclass type (e.g. :class:`TrainConfig`).
        data: plain nested dict (``OmegaConf.to_container(cfg, resolve=True)``); None = defaults.
        path: key prefix used in error messages.

    Raises:
        ConfigError: an unknown key (the message lists the known ones) or a value of the wrong
            type.
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"unknown config key {where}{unknown[0]}; {cls.__name__} accepts: "
            f"{', '.join(sorted(known))}"
        )
    kwargs = {
        name: _coerce(value, hints[name], f"{path}.{name}" if path else name)
        for name, value in data.items()
    }
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """The plain nested dict of a config dataclass (for logging and checkpoints)."""
    return dataclasses.asdict(cfg)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check cross-field constraints; returns ``cfg`` with derived values filled in.

    ``trainer.warmup_episodes`` is copied into ``trainer.warmup.episodes`` when set, and
    ``algo.loss_agg_mode`` into ``trainer.loss.agg_mode``.

    Raises:
        ConfigError: a value outside its allowed set or range.
    """
    t = cfg.trainer
    if t.warmup_episodes:
        t.warmup.episodes = t.warmup_episodes
    if cfg.algo.loss_agg_mode is not None:
        t.loss.agg_mode = cfg.algo.loss_agg_mode
    if t.loss.agg_mode not in AGG_MODES:
        raise ConfigError(f"trainer.loss.agg_mode={t.loss.agg_mode!r} is not one of {AGG_MODES}")
    if t.loss.kl_type not in KL_TYPES:
        raise ConfigError(f"trainer.loss.kl_type={t.loss.kl_type!r} is not one of {KL_TYPES}")
    if t.loss.old_logprobs not in ("recompute", "engine"):
        raise ConfigError("trainer.loss.old_logprobs must be 'recompute' or 'engine'")
    if t.engine.backend not in ("hf", "vllm"):
        raise ConfigError(f"trainer.engine.backend={t.engine.backend!r} is not 'hf' or 'vllm'")
    if t.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"trainer.device={t.device!r} is not one of auto, cpu, cuda")
    if cfg.model.dtype not in ("auto", "float32", "bfloat16"):
        raise ConfigError(f"model.dtype={cfg.model.dtype!r} is not auto, float32 or bfloat16")
    for name in ("iterations", "tasks_per_iteration", "group_size", "eval_episodes"):
        if getattr(t, name) < (0 if name in ("iterations", "eval_episodes") else 1):
            raise ConfigError(f"trainer.{name}={getattr(t, name)} is out of range")
    if t.optim.micro_batch_size < 1:
        raise ConfigError("trainer.optim.micro_batch_size must be >= 1")
    if cfg.model.name != "tiny" and not cfg.model.path:
        raise ConfigError(f"model.path is required for model {cfg.model.name!r}")
    return cfg
