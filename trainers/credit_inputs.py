"""What a credit method needs beyond the batch, built and checkpointed by the recipe.

Some credit methods take inputs the batch does not hold: IGPO the policy's beliefs in the ground
truth, SPA a fitted progress estimator, OPRL an implicit process reward model, ArenaRL a judge,
HiPER a critic. The credit library takes them as arguments (a callable, an array, a small model)
and never imports the trainer; this module is where the trainer builds them.

A *provider* is registered by the name of the method (or reward transform) it serves::

    @register_inputs("igpo")
    class Beliefs(Provider):
        provides = ("beliefs",)                # keyword arguments it supplies
        options = {"answer_key": "answer"}     # its own settings, read from the params
        def __call__(self, ctx: CreditContext) -> dict[str, Any]: ...   # once per iteration
        def state_dict(self) -> dict[str, Any]: ...                     # checkpointed
        def load_state_dict(self, state: dict[str, Any]) -> None: ...
        def metrics(self) -> dict[str, float]: ...                      # logged each iteration

The recipe builds the provider with ``inputs_for(name, cfg, params)``, calls it on every
iteration's batch and passes what it returns to the method together with the method's own
params (``method_params``: the params without the provider's ``options``); its state is saved in
every checkpoint and restored on resume; what :meth:`Provider.metrics` returns after a call is
logged as ``credit/<algo|reward>/<key>`` (a fitted model's loss, so a model that does not fit is
seen in the metrics, not only in the learning curve). Methods without a provider get
:class:`NoInputs`.

The providers live in :mod:`agentgym.trainers.credit_models` (one module each: SPA's progress
estimator, ProgRM's progress model, OPRL's implicit PRM, ArenaRL's judges, HiPER's critic,
IGPO's beliefs, RAE's role baselines, SWEET-RL's critic); they are registered the first time a
name is looked up.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from agentgym.core.trajectory import Episode, StepBatch
from agentgym.trainers.config import ConfigError, TrainConfig


@dataclass
class CreditContext:
    """Everything a provider may use on one iteration.

    Attributes:
        batch: the iteration's StepBatch (after the reward transform, for an estimator).
        episodes: the episodes the batch was built from (``batch.episodes``, same order).
        model: the training model (the policy being optimized).
        tokenizer: its tokenizer.
        engine: the generation engine (``encode_prompt`` / ``encode_response``, ``tokenizer``).
        update: the update context (device, padding id, temperature, micro-batch size).
        iteration: the 0-based RL iteration.
    """

    batch: StepBatch
    episodes: Sequence[Episode]
    model: Any
    tokenizer: Any
    engine: Any
    update: Any
    iteration: int


class CreditInputs(Protocol):
    """A provider of a credit method's extra inputs (see the module doc)."""

    provides: tuple[str, ...]

    def __call__(self, ctx: CreditContext) -> dict[str, Any]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def metrics(self) -> dict[str, float]: ...


class NoInputs:
    """The provider of methods that need nothing beyond the batch."""

    provides: tuple[str, ...] = ()
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, cfg: TrainConfig | None = None, params: Mapping[str, Any] | None = None):
        del cfg, params

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

    def metrics(self) -> dict[str, float]:
        return {}


class Provider:
    """Base of the registered providers: splits the section's params into the provider's own
    ``options`` (defaults declared by the class) and the method's params, and reads the method's
    settings (a param, else the default of the method's signature).

    Args:
        cfg: the whole training config.
        params: ``algo.params`` or ``reward.params`` of the section that named the method.
        method: the credit function the provider serves (for :meth:`setting`).
    """

    provides: tuple[str, ...] = ()
    #: the provider's own settings and their defaults (keys of the section's params).
    options: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, cfg: TrainConfig, params: Mapping[str, Any], method: Callable[..., Any] | None = None
    ) -> None:
        self.cfg = cfg
        self.opts: dict[str, Any] = {**self.options,
                                     **{k: v for k, v in params.items() if k in self.options}}
        self.params: dict[str, Any] = {k: v for k, v in params.items() if k not in self.options}
        self.method = method

    def setting(self, name: str) -> Any:
        """The method's setting ``name``: its configured param, else its signature default."""
        if name in self.params:
            return self.params[name]
        if self.method is None:
            raise KeyError(name)
        parameter = inspect.signature(self.method).parameters[name]
        if parameter.default is inspect.Parameter.empty:
            raise KeyError(name)
        return parameter.default

    def option(self, name: str, kind: type | tuple[type, ...], *, minimum: float | None = None,
               choices: Sequence[Any] | None = None, nullable: bool = False) -> Any:
        """The option ``name`` checked against ``kind`` (and a minimum or a set of choices).

        Raises:
            ConfigError: naming ``<section>.params.<name>`` and what is allowed.
        """
        value = self.opts[name]
        if value is None and nullable:
            return None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        accepted = (*kinds, int) if float in kinds else kinds  # 1 is a fine learning rate
        ok = isinstance(value, accepted) and not (isinstance(value, bool) and bool not in kinds)
        if ok and choices is not None:
            ok = value in choices
        if ok and minimum is not None:
            ok = value >= minimum
        if not ok:
            rule = (f"one of {', '.join(map(str, choices))}" if choices is not None
                    else " or ".join(k.__name__ for k in kinds)
                    + (f" >= {minimum}" if minimum is not None else ""))
            raise ConfigError(f"params.{name}={value!r} must be {rule}"
                              + (" (or null)" if nullable else ""))
        return float(value) if float in kinds and not isinstance(value, bool) else value

    def __call__(self, ctx: CreditContext) -> dict[str, Any]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

    def metrics(self) -> dict[str, float]:
        """Numbers about the last call, logged as ``credit/<section>/<key>``: by default the
        ``last_loss`` of a provider that fits a model (when it has one and it is finite)."""
        loss = getattr(self, "last_loss", None)
        return {"loss": float(loss)} if loss is not None and math.isfinite(loss) else {}


Factory = Callable[[TrainConfig, Mapping[str, Any]], CreditInputs]

_PROVIDERS: dict[str, Factory] = {}
_LOADED = False


def register_inputs(*names: str) -> Callable[[Factory], Factory]:
    """Register a provider class (or factory ``(cfg, params) -> provider``) for ``names``."""

    def decorate(factory: Factory) -> Factory:
        for name in names:
            if name in _PROVIDERS:
                raise ValueError(f"credit inputs for {name!r} are already registered")
            _PROVIDERS[name] = factory
        return factory

    return decorate


def _load_providers() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import agentgym.trainers.credit_models  # noqa: F401  (registers the providers)


def inputs_for(
    name: str | None, cfg: TrainConfig, params: Mapping[str, Any] | None = None
) -> CreditInputs:
    """The provider for credit method ``name`` (:class:`NoInputs` when it needs none).

    Args:
        name: the method or transform name (``algo.name`` / ``reward.name``).
        cfg: the training config.
        params: that section's params (the provider reads its options from them).

    Raises:
        ConfigError: an option has a bad value, or the environment cannot give the method what
            it needs (e.g. IGPO on an environment without a ground-truth answer).
    """
    if name is None or not has_inputs(name):
        return NoInputs()
    try:
        return _PROVIDERS[name](cfg, dict(params or {}))
    except ConfigError as exc:
        section = "reward" if cfg.reward.name == name and cfg.algo.name != name else "algo"
        message = str(exc)
        raise ConfigError(message if message.startswith(("algo", "reward", "env"))
                          else f"{section}.{message}") from None


def provider_options(name: str | None) -> dict[str, Any]:
    """The options (with defaults) of the provider of ``name``; empty when it has none."""
    if name is None or not has_inputs(name):
        return {}
    return dict(getattr(_PROVIDERS[name], "options", {}))


def provided_inputs(name: str | None) -> tuple[str, ...]:
    """The keyword arguments the provider of ``name`` supplies (without building it)."""
    if name is None or not has_inputs(name):
        return ()
    return tuple(getattr(_PROVIDERS[name], "provides", ()))


def method_params(name: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the options of ``name``'s provider: what the credit method takes."""
    own = provider_options(name)
    return {k: v for k, v in params.items() if k not in own}


def has_inputs(name: str) -> bool:
    """Whether the recipe builds extra inputs for ``name``."""
    _load_providers()
    return name in _PROVIDERS
