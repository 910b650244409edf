"""Typed configuration of the trainer: one dataclass per config group, one doc line per field.

``agentgym train`` composes one option of each Hydra group and binds the result to
:class:`TrainConfig`. Each group is one axis, and choosing an option of one group never changes
another group's values:

==========  ===========================================================================
group       what it holds
==========  ===========================================================================
``env``     the environment, its prompts and the response format (:class:`EnvConfig`)
``algo``    the credit method and the PPO loss / optimizer / sampling it runs with
            (:class:`AlgoConfig`), behaviour-cloning hyperparameters included
``reward``  an optional reward transform (:class:`RewardConfig`)
``model``   the policy model (:class:`ModelConfig`)
``hardware`` device, threads, workers, engine backend, batch sizes (:class:`HardwareConfig`)
``budget``  how much to run: iterations, tasks, group size, demonstrations, eval and
            checkpoint cadence (:class:`BudgetConfig`); per-env CPU budgets
==========  ===========================================================================

plus the ``trainer`` section (:class:`RunConfig`: seeds, run directory, resume, logging), which
is not a group. The dataclass defaults are the one source of defaults: composing the default
options (``env=sokoban algo=gigpo reward=none model=tiny hardware=cpu budget=cpu``) gives exactly
``TrainConfig()`` (a test checks it), and the YAML files only state what differs.

Classes in :mod:`agentgym.trainers` take these dataclasses (or plain arguments); only the CLI
sees Hydra/OmegaConf. :func:`from_dict` turns a plain nested dict into a dataclass and rejects
unknown keys; :func:`validate` range-checks every value before anything is built::

    cfg = validate(from_dict(TrainConfig, {"env": {"id": "agentgym/Sokoban-v0"}, ...}))
"""

from __future__ import annotations

import copy
import dataclasses
import keyword
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin

T = TypeVar("T")

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
KL_TYPES = ("k1", "k3")
OLD_LOGPROBS = ("recompute", "engine")
ACTION_FORMATS = ("plain", "xml", "json")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16")
OPPONENT_KINDS = ("self", "snapshot", "random", "expert")
#: ``trainer.opponents`` of a multi-agent run that sets none. Measured on tic-tac-toe with the
#: tiny model: this pool raised the win rate against the random player on every seed tried;
#: pure self-play did on some runs and not on others (benchmarks/RESULTS.md).
DEFAULT_OPPONENTS = ("self", "random")
ROLLOUT_BACKENDS = ("thread", "ray")


# --- env ----------------------------------------------------------------------------------------
@dataclass
class EnvConfig:
    """Which environment to train on, how its prompts look and how long a response may be."""

    #: registered environment id (or short name), e.g. ``agentgym/Sokoban-v0``.
    id: str = "agentgym/Sokoban-v0"
    #: constructor keyword arguments for ``agentgym.make``.
    kwargs: dict[str, Any] = field(
        default_factory=lambda: {"min_solution_steps": 2, "max_solution_steps": 10}
    )
    #: constructor keyword arguments that override ``kwargs`` for held-out evaluation (the
    #: trainer's and ``agentgym eval``'s), e.g. ``{split: test}`` for an environment with a fixed
    #: task set, whose seeds otherwise index the training tasks whatever their value.
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    #: constructor keyword arguments that override ``kwargs`` for the expert demonstrations that
    #: behaviour cloning learns from, e.g. TextWorld's ``{pool_size: 128}``: more distinct games
    #: to clone than the pool RL trains on (a model that saw 32 games memorises them).
    warmup_kwargs: dict[str, Any] = field(default_factory=dict)
    #: how the model writes its action: ``plain``, ``xml`` (``<action>…</action>``) or ``json``.
    action_format: str = "xml"
    #: past turns kept in the prompt (0 = only the task and the current observation; None = all).
    history_window: int | None = 0
    #: system message of the chat prompt (None = none).
    system_prompt: str | None = None
    #: turn limit per episode (None = the environment's registered limit).
    max_turns: int | None = 20
    #: reward subtracted from every turn whose action was invalid (on top of the environment's
    #: own invalid-action reward, which unparsable output also gets from the action parser).
    invalid_penalty: float = 0.5
    #: longest response per turn, in tokens (raise it for models that reason before acting).
    max_new_tokens: int = 8
    #: generation stops after any of these strings (kept in the output); None = from the action
    #: format (``</action>`` for ``xml``, none otherwise).
    stop: list[str] | None = None

    def held_out(self) -> EnvConfig:
        """This config as held-out evaluation plays it: ``kwargs`` updated by ``eval_kwargs``."""
        return dataclasses.replace(self, kwargs={**self.kwargs, **self.eval_kwargs})

    def demonstrations(self) -> EnvConfig:
        """This config as the expert's demonstrations play it: ``kwargs`` updated by
        ``warmup_kwargs``."""
        return dataclasses.replace(self, kwargs={**self.kwargs, **self.warmup_kwargs})

    def stop_strings(self) -> list[str]:
        """The stop strings in effect (``stop``, else the action format's)."""
        if self.stop is not None:
            return list(self.stop)
        return ["</action>"] if self.action_format == "xml" else []


# --- algo ---------------------------------------------------------------------------------------
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
    """AdamW and the shape of one RL update."""

    #: learning rate of the RL updates (real models want ~1e-6; the tiny model 3e-4).
    lr: float = 3e-4
    #: AdamW betas.
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    #: AdamW weight decay.
    weight_decay: float = 0.0
    #: clip the global gradient norm to this value (0 = no clipping).
    max_grad_norm: float = 1.0
    #: passes over each iteration's samples.
    ppo_epochs: int = 2
    #: samples per optimizer step (0 = all samples of the iteration in one step).
    mini_batch_size: int = 256


@dataclass
class WarmupConfig:
    """Behaviour cloning on expert episodes before RL: how each step learns (the amount of
    data and epochs is ``budget.warmup_episodes`` / ``budget.warmup_epochs``)."""

    #: learning rate of the cloning updates.
    lr: float = 3e-3
    #: samples per optimizer step.
    batch_size: int = 64
    #: weight of the next-token loss on the prompts (language-model pretraining on the
    #: environment's text, which a from-scratch tiny model needs to learn to read observations;
    #: 0 for pretrained models).
    prompt_loss: float = 1.0


@dataclass
class AlgoConfig:
    """The credit-assignment method and the PPO hyperparameters it is run with."""

    #: estimator name in the credit registry (``grpo``, ``gigpo``, ``rloo`` …).
    name: str = "gigpo"
    #: keyword arguments of the estimator (bound against its signature).
    params: dict[str, Any] = field(
        default_factory=lambda: {"gamma": 0.95, "omega": 1.0, "norm": "mean"}
    )
    #: sampling temperature of training rollouts (the policy being optimized).
    temperature: float = 1.0
    #: nucleus sampling threshold of training rollouts.
    top_p: float = 1.0
    #: the loss.
    loss: LossConfig = field(default_factory=LossConfig)
    #: the optimizer and update shape.
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: behaviour-cloning hyperparameters of the warm start.
    warmup: WarmupConfig = field(default_factory=WarmupConfig)


# --- reward -------------------------------------------------------------------------------------
@dataclass
class RewardConfig:
    """Optional reward transform applied before the estimator (``reward=gated``)."""

    #: transform name in the credit registry (None = use the environment's rewards unchanged).
    name: str | None = None
    #: keyword arguments of the transform.
    params: dict[str, Any] = field(default_factory=dict)
    #: also recompute each episode's outcome as the sum of the transformed rewards.
    update_outcome: bool = False


# --- model --------------------------------------------------------------------------------------
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
    num_layers: int = 4
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
class TinyVisionConfig:
    """Vision side of the locally built Qwen2-VL-architecture model (``model=tiny-vl``): its
    vision transformer and its image processor."""

    #: vision transformer blocks.
    depth: int = 1
    #: width of the vision transformer.
    embed_dim: int = 32
    #: its attention heads.
    num_heads: int = 2
    #: its MLP inner size as a multiple of embed_dim.
    mlp_ratio: int = 2
    #: side of an image patch in pixels.
    patch_size: int = 14
    #: patches merged (per side) into one language-model token.
    merge_size: int = 2
    #: images are resized to at most this many pixels (multiples of patch_size x merge_size).
    max_pixels: int = 50176
    #: and at least this many.
    min_pixels: int = 3136


#: Models built locally for the environment (no ``model.path``).
LOCAL_MODELS = ("tiny", "tiny-vl")


@dataclass
class ModelConfig:
    """The policy model: the embedded tiny model or a local Hugging Face checkpoint."""

    #: ``tiny`` (text) or ``tiny-vl`` (vision-language) builds a small model for the
    #: environment; anything else loads ``path``.
    name: str = "tiny"
    #: local directory with ``config.json`` and tokenizer files (real models, checkpoints).
    path: str | None = None
    #: parameter dtype: ``auto`` (bf16 on GPU, fp32 on CPU), ``float32`` or ``bfloat16``.
    dtype: str = "auto"
    #: attention implementation passed to transformers (``sdpa``, ``eager``, ``flash_attention_2``).
    attn_implementation: str = "sdpa"
    #: recompute activations in the backward pass to save memory.
    gradient_checkpointing: bool = False
    #: the tiny model's shape (used when name is ``tiny`` or ``tiny-vl``; its language model).
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    #: the vision side of ``tiny-vl`` (unused otherwise).
    vision: TinyVisionConfig = field(default_factory=TinyVisionConfig)
    #: LoRA adapters.
    lora: LoraConfig = field(default_factory=LoraConfig)


# --- hardware -----------------------------------------------------------------------------------
@dataclass
class HardwareConfig:
    """Where and how wide the work runs; never changes what is computed."""

    #: ``cpu``, ``cuda`` or ``auto``.
    device: str = "cpu"
    #: torch CPU threads (0 = leave torch's default).
    num_threads: int = 2
    #: environment threads during rollouts (0 = step inline; deterministic).
    env_workers: int = 0
    #: generation engine: ``hf`` (transformers, KV cache, batched) or ``vllm``.
    engine: str = "hf"
    #: prompts generated together (larger batches are split).
    generation_batch_size: int = 256
    #: samples per forward/backward in an update (gradient accumulation over micro-batches).
    micro_batch_size: int = 128
    #: a micro-batch of the PPO update or of behaviour cloning (a step of
    #: ``algo.warmup.batch_size`` samples) also holds at most this many padded tokens (rows ×
    #: longest prompt + response; samples are sorted by length first), so memory follows the
    #: lengths; None: only ``micro_batch_size`` counts (``hardware=gpu``).
    micro_batch_tokens: int | None = 16384
    #: vLLM on a GPU: share of GPU memory it may take (ignored on a CPU).
    gpu_memory_utilization: float = 0.5
    #: data-parallel processes for the update (> 1: ``agentgym train`` launches itself under
    #: ``torchrun``; rank 0 rolls out, logs, evaluates and checkpoints). Under an outer
    #: ``torchrun`` its ``--nproc-per-node`` counts instead.
    world_size: int = 1
    #: how several ranks hold the policy in the update: ``ddp`` (a whole copy per rank,
    #: gradients all-reduced), ``fsdp`` (FSDP2: parameters, gradients and optimizer state
    #: sharded over the ranks) or ``auto`` (``fsdp`` on GPUs, ``ddp`` on CPUs).
    data_parallel: str = "auto"


# --- budget -------------------------------------------------------------------------------------
@dataclass
class BudgetConfig:
    """How much to run."""

    #: RL iterations (rollout → credit → update).
    iterations: int = 32
    #: tasks (seeds) per iteration; each is played ``group_size`` times.
    tasks_per_iteration: int = 8
    #: episodes per task (the group credit methods compare within).
    group_size: int = 8
    #: induction-head pre-training steps before behaviour cloning (0 = none): random token
    #: sequences repeated, so a model from scratch learns to copy from its prompt
    #: (:mod:`agentgym.trainers.induction`; only on a model built from random weights: a model
    #: loaded from ``model.path``, pre-trained or an earlier run's checkpoint, is left as it is).
    induction_steps: int = 0
    #: expert episodes cloned before RL (0 = no warm start).
    warmup_episodes: int = 400
    #: passes over the expert turns.
    warmup_epochs: int = 20
    #: the probability that a demonstration turn plays a random admissible action instead of
    #: the expert's (DART noise, :class:`~agentgym.core.policies.NoisyExpertPolicy`); those turns
    #: are not cloned, the expert's way back from them is (0 = the expert's own path only;
    #: needs ``admissible_actions``; WebShop's ``first_match`` expert finds its way back from
    #: the page, its ``goal`` expert searches the hidden product title).
    warmup_noise: float = 0.0
    #: evaluate on held-out seeds every this many iterations (0 = only before and after).
    eval_every: int = 8
    #: held-out episodes per evaluation.
    eval_episodes: int = 256
    #: save a checkpoint every this many iterations (0 = only at the end).
    checkpoint_every: int = 8
    #: keep only the newest this many checkpoints (0 = keep all).
    keep_checkpoints: int = 2


# --- rollout (where environments run; not a group) ---------------------------------------------
@dataclass
class RolloutConfig:
    """Where the environments of training, evaluation and demonstration episodes run."""

    #: ``thread`` (this process, ``hardware.env_workers`` threads) or ``ray`` (one Ray actor per
    #: environment, :class:`agentgym.core.ray_pool.RayEnvPool`; ``pip install 'agentgym[ray]'``).
    backend: str = "thread"
    #: episodes alive at once, each with its own environment (None = every episode of a call).
    num_envs: int | None = None
    #: ray: the cluster — None (the Ray this process joined, ``RAY_ADDRESS``, else a local Ray
    #: started on demand), ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``.
    ray_address: str | None = None
    #: ray: CPUs each environment actor reserves (fractions allowed).
    num_cpus: float = 1.0


# --- trainer (run settings; not a group) --------------------------------------------------------
@dataclass
class AsyncConfig:
    """Asynchronous rollout: a worker thread generates the batches of the next iterations while
    the current one updates (``trainer.async``; see :mod:`agentgym.trainers.async_rollout`)."""

    #: the update of iteration i may use a batch generated by a policy at most this many updates
    #: older (0 = the synchronous recipe: rollout and update take turns).
    max_staleness: int = 0
    #: cap of the truncated importance weight ``π_prox / π_behaviour`` that corrects stale
    #: samples (decoupled PPO, AReaL: Fu et al. 2025, arXiv:2505.24298); used when
    #: ``max_staleness > 0``.
    behaviour_cap: float = 2.0


@dataclass
class RunConfig:
    """Seeds, the run directory, resumption and logging."""

    #: global seed (weights of new heads, sampling, shuffling).
    seed: int = 0
    #: first seed of the training tasks.
    train_seed: int = 0
    #: first seed of the held-out evaluation tasks (training seeds never reach it).
    eval_seed: int = 1_000_000
    #: first seed of the warm-start expert tasks.
    warmup_seed: int = 2_000_000
    #: sampling temperature of held-out evaluation (0 = greedy); ``agentgym eval`` uses the same
    #: default, and both print it with the success rate.
    eval_temperature: float = 1.0
    #: continue from the newest checkpoint in ``run_dir``.
    resume: bool = False
    #: output directory (None = ``runs/<env>-<algo>-<time>``).
    run_dir: str | None = None
    #: write TensorBoard event files next to the JSONL metrics.
    tensorboard: bool = True
    #: show rich progress bars (off: one line per phase, for logs and CI).
    progress: bool = True
    #: multi-agent environments: who sits in the other seats during training rollouts — any of
    #: ``self`` (self-play), ``snapshot`` (a frozen earlier learner), ``random``, ``expert``;
    #: tasks are dealt round-robin over the list. None: :data:`DEFAULT_OPPONENTS` (half
    #: self-play, half against the random player) for a multi-agent environment, ``["self"]``
    #: (the learner alone) for a single-agent one. ``["self"]`` is pure self-play, as SPIRAL.
    opponents: list[str] | None = None
    #: iterations between snapshots of the learner (the ``snapshot`` opponent).
    snapshot_every: int = 4
    #: multi-agent environments: the opponent of held-out evaluation (``random`` or
    #: ``expert``); the success rate is then the learner's win rate.
    eval_opponent: str = "random"
    #: asynchronous rollout (YAML key ``async``: ``trainer.async.max_staleness=1``).
    async_: AsyncConfig = field(default_factory=AsyncConfig)


@dataclass
class TrainConfig:
    """Everything ``agentgym train`` needs."""

    #: the environment and its prompts.
    env: EnvConfig = field(default_factory=EnvConfig)
    #: the credit method and its PPO hyperparameters.
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    #: the reward transform.
    reward: RewardConfig = field(default_factory=RewardConfig)
    #: the policy model.
    model: ModelConfig = field(default_factory=ModelConfig)
    #: device, threads, engine backend, batch sizes.
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    #: iterations, tasks, demonstrations, eval and checkpoint cadence.
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    #: where the environments run (threads or Ray actors).
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    #: seeds, run directory, resume, logging, asynchronous rollout.
    trainer: RunConfig = field(default_factory=RunConfig)


@dataclass
class EvalConfig:
    """Options of ``agentgym eval`` (``key=value`` on the command line)."""

    #: config-group option (``sokoban``) or environment id.
    env: str = "sokoban"
    #: ``expert``, ``random``, ``openai``, a model/checkpoint directory or a run directory.
    policy: str = "expert"
    #: a second policy played on the same seeds (optional).
    compare: str | None = None
    #: tasks (seeds) to play.
    episodes: int = 100
    #: plays per task; pass@k is reported when k > 1.
    k: int = 1
    #: first seed (default: the trainer's held-out range).
    seed: int = 1_000_000
    #: environment threads.
    workers: int = 8
    #: sampling temperature of model policies (the trainer's evaluation default; 0 = greedy).
    temperature: float = 1.0
    #: longest response of model policies (None = the env config's).
    max_new_tokens: int | None = None
    #: generation engine of model policies: ``hf`` or ``vllm``.
    engine: str = "hf"
    #: prompts per generation batch (model policies).
    batch_size: int = 64
    #: turn limit override (None = the env config's).
    max_turns: int | None = None
    #: ``cpu``, ``cuda`` or ``auto`` (model policies).
    device: str = "auto"
    #: OpenAI-compatible endpoint (policy=openai).
    base_url: str | None = None
    #: model name sent to the endpoint (policy=openai).
    model: str | None = None
    #: multi-agent environments: the opponent (``random``, ``expert``, a model directory …) the
    #: policy plays in every seat in turn; None = the policy in every seat (self-play).
    opponent: str | None = None
    #: JSONL file for the episodes (default ``evals/<env>-<policy>-<time>.jsonl``).
    out: str | None = None


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names the key path."""


# --- binding: plain dicts -> dataclasses --------------------------------------------------------
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
        if not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
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
    data = {field_name(k): v for k, v in (data or {}).items()}
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"unknown config key {where}{config_key(unknown[0])}; {cls.__name__} accepts: "
            f"{', '.join(sorted(config_key(k) for k in known))}"
        )
    kwargs = {
        name: _coerce(value, hints[name], f"{path}.{config_key(name)}" if path
                      else config_key(name))
        for name, value in data.items()
    }
    return cls(**kwargs)


def config_key(name: str) -> str:
    """The YAML key of dataclass field ``name``: a Python keyword's field carries a trailing
    underscore (``async_``), its key does not (``async``)."""
    return name[:-1] if name.endswith("_") and keyword.iskeyword(name[:-1]) else name


def field_name(key: str) -> str:
    """The dataclass field of YAML key ``key`` (the inverse of :func:`config_key`)."""
    return f"{key}_" if keyword.iskeyword(key) else key


def to_dict(cfg: Any) -> dict[str, Any]:
    """The plain nested dict of a config dataclass (for logging and checkpoints), with YAML keys
    (``trainer.async``, not ``async_``)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {config_key(f.name): to_dict(getattr(cfg, f.name))
                for f in dataclasses.fields(cfg)}
    if isinstance(cfg, list | tuple):
        return type(cfg)(to_dict(v) for v in cfg)  # type: ignore[call-arg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return copy.deepcopy(cfg)


# --- validation: every range checked before anything is built -----------------------------------
class _Checker:
    """Collects range checks with the key path of each value."""

    def __init__(self, section: str, obj: Any) -> None:
        self.section, self.obj = section, obj

    def _fail(self, name: str, rule: str) -> None:
        value = getattr(self.obj, name)
        raise ConfigError(f"{self.section}.{name}={value!r} {rule}")

    def at_least(self, minimum: float, *names: str) -> None:
        for name in names:
            if getattr(self.obj, name) < minimum:
                self._fail(name, f"must be >= {minimum}")

    def within(self, low: float, high: float, *names: str, low_open: bool = False,
               high_open: bool = False) -> None:
        for name in names:
            value = getattr(self.obj, name)
            if (value > high or value < low or (low_open and value == low)
                    or (high_open and value == high)):
                left, right = "(" if low_open else "[", ")" if high_open else "]"
                self._fail(name, f"must be in {left}{low}, {high}{right}")

    def one_of(self, allowed: tuple[str, ...], *names: str) -> None:
        for name in names:
            if getattr(self.obj, name) not in allowed:
                self._fail(name, f"is not one of {', '.join(allowed)}")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every value's range and the cross-field constraints; returns ``cfg`` unchanged.

    Nothing is derived or copied between keys: what the user set is what runs.

    Raises:
        ConfigError: the first value outside its allowed set or range, named by its key path.
    """
    env = _Checker("env", cfg.env)
    env.one_of(ACTION_FORMATS, "action_format")
    env.at_least(1, "max_new_tokens")
    env.at_least(0, "invalid_penalty")
    if cfg.env.max_turns is not None:
        env.at_least(1, "max_turns")
    if cfg.env.history_window is not None:
        env.at_least(0, "history_window")

    algo = _Checker("algo", cfg.algo)
    algo.at_least(0, "temperature")
    algo.within(0, 1, "top_p", low_open=True)
    loss = _Checker("algo.loss", cfg.algo.loss)
    loss.one_of(AGG_MODES, "agg_mode")
    loss.one_of(KL_TYPES, "kl_type")
    loss.one_of(OLD_LOGPROBS, "old_logprobs")
    loss.at_least(0, "clip_low", "clip_high", "kl_coef", "entropy_coef")
    optim = _Checker("algo.optim", cfg.algo.optim)
    optim.within(0, 1, "lr", low_open=True)
    optim.at_least(0, "weight_decay", "max_grad_norm", "mini_batch_size")
    optim.at_least(1, "ppo_epochs")
    if len(cfg.algo.optim.betas) != 2 or not all(0 <= b < 1 for b in cfg.algo.optim.betas):
        optim._fail("betas", "must be two numbers in [0, 1)")
    warmup = _Checker("algo.warmup", cfg.algo.warmup)
    warmup.within(0, 1, "lr", low_open=True)
    warmup.at_least(1, "batch_size")
    warmup.at_least(0, "prompt_loss")

    model = _Checker("model", cfg.model)
    model.one_of(DTYPES, "dtype")
    if cfg.model.name not in LOCAL_MODELS and not cfg.model.path:
        raise ConfigError(f"model.path is required for model {cfg.model.name!r}")
    tiny = _Checker("model.tiny", cfg.model.tiny)
    tiny.at_least(1, "hidden_size", "num_layers", "num_heads", "num_kv_heads",
                  "intermediate_size", "max_positions", "corpus_episodes")
    tiny.at_least(64, "vocab_size")
    if cfg.model.tiny.hidden_size % cfg.model.tiny.num_heads:
        tiny._fail("hidden_size", "must be a multiple of model.tiny.num_heads")
    vision = _Checker("model.vision", cfg.model.vision)
    vision.at_least(1, "depth", "embed_dim", "num_heads", "mlp_ratio", "patch_size",
                    "merge_size", "min_pixels")
    if cfg.model.vision.embed_dim % cfg.model.vision.num_heads:
        vision._fail("embed_dim", "must be a multiple of model.vision.num_heads")
    if cfg.model.vision.max_pixels < cfg.model.vision.min_pixels:
        vision._fail("max_pixels", "must be at least model.vision.min_pixels")
    lora = _Checker("model.lora", cfg.model.lora)
    lora.at_least(0, "rank", "alpha")
    lora.within(0, 1, "dropout")

    hardware = _Checker("hardware", cfg.hardware)
    hardware.one_of(DEVICES, "device")
    hardware.one_of(tuple(ENGINE_NAMES), "engine")
    hardware.one_of(("auto", "ddp", "fsdp"), "data_parallel")
    hardware.at_least(0, "num_threads", "env_workers")
    hardware.at_least(1, "generation_batch_size", "micro_batch_size", "world_size")
    hardware.within(0, 1, "gpu_memory_utilization", low_open=True)
    if cfg.hardware.micro_batch_tokens is not None:
        hardware.at_least(1, "micro_batch_tokens")

    budget = _Checker("budget", cfg.budget)
    budget.at_least(0, "iterations", "induction_steps", "warmup_episodes", "eval_every",
                    "eval_episodes", "checkpoint_every", "keep_checkpoints")
    budget.at_least(1, "tasks_per_iteration", "group_size", "warmup_epochs")
    budget.within(0, 1, "warmup_noise", high_open=True)

    rollout = _Checker("rollout", cfg.rollout)
    rollout.one_of(ROLLOUT_BACKENDS, "backend")
    rollout.at_least(0, "num_cpus")
    if cfg.rollout.num_envs is not None:
        rollout.at_least(1, "num_envs")

    run = _Checker("trainer", cfg.trainer)
    run.at_least(0, "seed", "train_seed", "eval_seed", "warmup_seed", "eval_temperature")
    asynchronous = _Checker("trainer.async", cfg.trainer.async_)
    asynchronous.at_least(0, "max_staleness")
    asynchronous.at_least(1, "behaviour_cap")
    run.at_least(1, "snapshot_every")
    run.one_of(("random", "expert"), "eval_opponent")
    opponents = cfg.trainer.opponents
    if opponents is not None and (not opponents or any(k not in OPPONENT_KINDS
                                                        for k in opponents)):
        run._fail("opponents", f"must list some of {', '.join(OPPONENT_KINDS)}")
    return cfg


def validate_eval(cfg: EvalConfig) -> EvalConfig:
    """Range-check the options of ``agentgym eval``.

    Raises:
        ConfigError: the first bad value, named by its key.
    """
    check = _Checker("eval", cfg)
    check.at_least(1, "episodes", "k", "batch_size")
    check.at_least(0, "seed", "workers", "temperature")
    check.one_of(tuple(ENGINE_NAMES), "engine")
    check.one_of(DEVICES, "device")
    if cfg.max_new_tokens is not None:
        check.at_least(1, "max_new_tokens")
    if cfg.max_turns is not None:
        check.at_least(1, "max_turns")
    return cfg


#: Names of the generation engines (the table itself lives in :mod:`agentgym.trainers.engines`,
#: which imports torch; configs are validated before anything heavy is imported).
ENGINE_NAMES = ("hf", "vllm")
