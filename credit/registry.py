"""Name registries for credit methods.

Two kinds of method, each in its own registry (volcengine/verl ``@register_adv_est`` style):

* **estimators** — ``fn(batch: StepBatch, **cfg) -> np.ndarray`` of shape ``(n_rows,)``: one
  advantage per turn, which the trainer broadcasts to the turn's response tokens, and nothing
  else. No flag changes the return type: extras (GiGPO's terms, MC-GRPO's pivot mask, SALT's
  edge counts, ArenaRL's ranks and judge calls) come from separate helpers, and
  :func:`register` refuses a method with a ``return_*`` parameter.
* **transforms** — ``fn(batch: StepBatch, **cfg) -> np.ndarray`` of shape ``(n_rows,)``: a new
  per-turn *reward*. :func:`apply_transform` returns a new :class:`StepBatch` carrying it, so
  any transform composes with any estimator (``algo=gigpo reward=gated``).

The trainer looks methods up by name and never branches on them.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from agentgym.core.trajectory import StepBatch

Method = Callable[..., np.ndarray]

_REGISTRIES: dict[str, dict[str, Method]] = {"estimator": {}, "transform": {}}


class UnknownMethodError(KeyError):
    """Raised by :func:`get` / :func:`get_transform` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0])


def register(name: str, *, kind: str = "estimator") -> Callable[[Method], Method]:
    """Decorator registering ``fn`` under ``name`` in the ``kind`` registry.

    Args:
        name: the public name (``"gigpo"``, ``"gated"`` …).
        kind: ``"estimator"`` (returns advantages) or ``"transform"`` (returns rewards).

    Raises:
        ValueError: unknown ``kind``, a name already taken in that registry, or a method with a
            ``return_*`` parameter (a flag that changes what it returns).
    """
    if kind not in _REGISTRIES:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {sorted(_REGISTRIES)}")

    def decorator(fn: Method) -> Method:
        flags = [p for p in inspect.signature(fn).parameters if p.startswith("return_")]
        if flags:
            raise ValueError(
                f"credit {kind} {name!r} has parameter(s) {', '.join(flags)}: a registered method "
                "returns one (n_rows,) array only; expose extras through a separate helper"
            )
        registry = _REGISTRIES[kind]
        if name in registry and registry[name] is not fn:
            raise ValueError(f"credit {kind} {name!r} is already registered")
        registry[name] = fn
        return fn

    return decorator


def register_transform(name: str) -> Callable[[Method], Method]:
    """Decorator registering a reward transform (``register(name, kind="transform")``)."""
    return register(name, kind="transform")


def _lookup(name: str, kind: str) -> Method:
    registry = _REGISTRIES[kind]
    if name not in registry:
        raise UnknownMethodError(
            f"unknown credit {kind} {name!r}; available: {', '.join(sorted(registry))}"
        )
    return registry[name]


def get(name: str) -> Method:
    """The advantage estimator registered as ``name`` (``UnknownMethodError`` lists the known)."""
    return _lookup(name, "estimator")


def get_transform(name: str) -> Method:
    """The reward transform registered as ``name``."""
    return _lookup(name, "transform")


def available(kind: str = "estimator") -> list[str]:
    """Sorted names registered in the ``kind`` registry (``"estimator"`` or ``"transform"``)."""
    if kind not in _REGISTRIES:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {sorted(_REGISTRIES)}")
    return sorted(_REGISTRIES[kind])


def available_transforms() -> list[str]:
    """Sorted names of the registered reward transforms."""
    return available("transform")


def apply_transform(
    batch: StepBatch,
    transform: str | Method,
    *,
    update_outcome: bool = False,
    **kwargs: Any,
) -> StepBatch:
    """Return a copy of ``batch`` whose ``reward`` is ``transform(batch, **kwargs)``.

    Args:
        batch: the input batch (not modified).
        transform: a registered transform name or a callable with the transform signature.
        update_outcome: also set each episode's ``outcome`` to the sum of its new rewards (so
            outcome-based estimators such as ``grpo`` see the transformed reward too).
        **kwargs: passed to the transform.

    Returns:
        A new :class:`StepBatch` (``dataclasses.replace``); other columns are shared.
    """
    fn = get_transform(transform) if isinstance(transform, str) else transform
    reward = np.asarray(fn(batch, **kwargs), dtype=np.float64)
    if reward.shape != (len(batch),):
        raise ValueError(
            f"transform returned shape {reward.shape}; expected ({len(batch)},) like reward"
        )
    changes: dict[str, Any] = {"reward": reward}
    if update_outcome:
        _, inverse = np.unique(batch.episode, return_inverse=True)
        sums = np.bincount(inverse, weights=reward)
        changes["outcome"] = sums[inverse]
    return dataclasses.replace(batch, **changes)


def compute_advantages(
    batch: StepBatch,
    algo: str,
    *,
    reward: str | None = None,
    algo_kwargs: dict[str, Any] | None = None,
    reward_kwargs: dict[str, Any] | None = None,
) -> np.ndarray:
    """Advantages of ``algo`` after the optional reward transform ``reward``.

    ``compute_advantages(batch, "gigpo", reward="gated")`` is the ``algo=gigpo reward=gated``
    composition. Returns a float64 array of shape ``(n_rows,)`` aligned with the batch rows.

    Raises:
        ValueError: the estimator returned another shape.
    """
    if reward is not None:
        batch = apply_transform(batch, reward, **(reward_kwargs or {}))
    adv = np.asarray(get(algo)(batch, **(algo_kwargs or {})), dtype=np.float64)
    if adv.shape != (len(batch),):
        raise ValueError(
            f"estimator {algo!r} returned shape {adv.shape}; expected ({len(batch)},), one "
            "advantage per row"
        )
    return adv
