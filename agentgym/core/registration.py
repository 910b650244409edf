"""Registering environments by id and making them, as in Gymnasium.

::

    agentgym.register(
        id="agentgym/Sokoban-v0",
        entry_point="agentgym.envs.text.sokoban:SokobanEnv",
        max_episode_steps=50,
        kwargs={"dim_room": (6, 6)},
    )
    env = agentgym.make("agentgym/Sokoban-v0", num_boxes=2)

Entry points are ``"module:attr"`` strings imported only when the environment is made, so docker,
Playwright or TextWorld load only when such an environment is used. Third-party packages register
their environments through the ``agentgym.envs`` entry-point group: each entry point names a
module (imported) or a callable (called with no arguments) that calls :func:`register`.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import importlib.metadata
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from agentgym.core.wrappers import RequireReset, TurnLimit

#: Entry-point group through which third-party packages register environments.
ENTRY_POINT_GROUP = "agentgym.envs"

_ID_PATTERN = re.compile(
    r"^(?:(?P<namespace>[\w.-]+)/)?(?P<name>[\w.-]+?)(?:-v(?P<version>\d+))?$"
)


class UnknownEnvError(gym.error.Error, KeyError):
    """Raised by :func:`make` and :func:`spec` for an id that is not registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


@dataclass
class EnvSpec:
    """Everything needed to make one registered environment.

    Attributes:
        id: ``namespace/Name-vN``, e.g. ``agentgym/Sokoban-v0``.
        entry_point: ``"module:Class"`` or a callable returning a ``gymnasium.Env``.
        max_episode_steps: turn limit applied by :func:`make` (``truncated=True`` when reached);
            ``None`` for no limit.
        kwargs: default constructor keyword arguments (overridden by ``make(id, **kwargs)``).
        family: the environment family (``text``, ``tool``, ``web``, ``swe``, ``gui``,
            ``multiagent``), shown by ``agentgym envs``.
        description: one line shown by ``agentgym envs``.
        checker_kwargs: keyword arguments for the conformance check of this id (e.g. a smaller
            number of tasks for slow environments).
    """

    id: str
    entry_point: str | Callable[..., gym.Env]
    max_episode_steps: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    family: str = "custom"
    description: str = ""
    checker_kwargs: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., gym.Env]:
        """Import and return the environment constructor."""
        if callable(self.entry_point):
            return self.entry_point
        module_name, sep, attr = self.entry_point.partition(":")
        if not sep:
            raise ValueError(
                f"entry_point {self.entry_point!r} of {self.id} must look like 'module:Class'"
            )
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError as exc:
            raise AttributeError(
                f"{self.id}: module {module_name!r} has no attribute {attr!r}"
            ) from exc


#: All registered environments, by id.
registry: dict[str, EnvSpec] = {}
_plugins_loaded = False


def register(
    id: str,
    entry_point: str | Callable[..., gym.Env],
    *,
    max_episode_steps: int | None = None,
    kwargs: dict[str, Any] | None = None,
    family: str = "custom",
    description: str = "",
    checker_kwargs: dict[str, Any] | None = None,
) -> EnvSpec:
    """Register an environment under ``id`` (re-registering an id replaces it, with a warning)."""
    if not _ID_PATTERN.match(id):
        raise ValueError(f"invalid environment id {id!r}; use 'namespace/Name-v0'")
    if id in registry:
        warnings.warn(f"overriding environment {id} already in the registry", stacklevel=2)
    new_spec = EnvSpec(
        id=id,
        entry_point=entry_point,
        max_episode_steps=max_episode_steps,
        kwargs=dict(kwargs or {}),
        family=family,
        description=description,
        checker_kwargs=dict(checker_kwargs or {}),
    )
    registry[id] = new_spec
    return new_spec


def load_plugins() -> None:
    """Import the registrations of installed third-party packages (once).

    A plugin that fails to load is reported with a warning naming it; the rest still load.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            if callable(loaded):
                loaded()
        except Exception as exc:
            warnings.warn(
                f"could not load agentgym environments from plugin {entry.name!r} "
                f"({entry.value}): {exc}",
                stacklevel=2,
            )


def _short_name(env_id: str) -> str:
    match = _ID_PATTERN.match(env_id)
    return match.group("name").lower() if match else env_id.lower()


def resolve_id(name: str) -> str:
    """Return the registered id that ``name`` refers to.

    Accepts the full id (``agentgym/Sokoban-v0``) or, when it is unambiguous, the bare name in
    any case (``sokoban``, ``Sokoban-v0``). As in Gymnasium, ``"module:my/Env-v0"`` first imports
    ``module`` (which registers the environment). Raises :class:`UnknownEnvError` listing close
    matches. ``openenv+http://…`` (a remote OpenEnv server) is returned unchanged.
    """
    if name.startswith("openenv+"):  # a remote OpenEnv server: see spec()
        return name
    load_plugins()
    if ":" in name:
        module_name, _, name = name.partition(":")
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise UnknownEnvError(
                f"cannot import module {module_name!r} to find environment {name!r}: {exc}"
            ) from exc
    if name in registry:
        return name
    if f"agentgym/{name}" in registry:
        return f"agentgym/{name}"
    wanted = name.lower()
    candidates = [
        env_id
        for env_id in registry
        if env_id.lower() == wanted
        or env_id.lower().split("/")[-1] == wanted
        or _short_name(env_id) == _short_name(name)
    ]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise UnknownEnvError(
            f"environment name {name!r} is ambiguous; use one of: {', '.join(sorted(candidates))}"
        )
    by_short_name = {_short_name(env_id): env_id for env_id in registry}
    close = difflib.get_close_matches(name, list(registry), n=5, cutoff=0.4)
    for short in difflib.get_close_matches(_short_name(name), list(by_short_name), n=5, cutoff=0.6):
        if by_short_name[short] not in close:
            close.append(by_short_name[short])
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownEnvError(
        f"no environment registered as {name!r}.{hint} Run `agentgym envs` to list them all."
    )


def spec(env_id: str) -> EnvSpec:
    """The :class:`EnvSpec` registered for ``env_id`` (see :func:`resolve_id`).

    ``openenv+http://HOST:PORT`` names a remote OpenEnv server instead (see
    :mod:`agentgym.core.openenv_client`).
    """
    if env_id.startswith("openenv+"):
        from agentgym.core.openenv_client import openenv_spec

        return openenv_spec(env_id)
    return registry[resolve_id(env_id)]


def make(env_id: str | EnvSpec, *, max_episode_steps: int | None = None, **kwargs: Any) -> gym.Env:
    """Make a registered environment with the standard wrappers.

    Args:
        env_id: a registered id, an unambiguous short name, an :class:`EnvSpec`, or
            ``openenv+http://HOST:PORT`` (a remote OpenEnv server, played over its WebSocket).
        max_episode_steps: turn limit, overriding the spec's; the episode is ``truncated``
            (never ``terminated``) when it is reached.
        **kwargs: constructor arguments, overriding the spec's defaults.

    Returns:
        The environment wrapped in :class:`~agentgym.core.wrappers.RequireReset` (a step
        before the first reset raises :class:`gymnasium.error.ResetNeeded`, in every
        environment) and, when a limit is set, :class:`~agentgym.core.wrappers.TurnLimit`.
        ``env.spec`` is a :class:`gymnasium.envs.registration.EnvSpec` mirror, so Gymnasium
        utilities work on it. A ``multiagent`` id gives the PettingZoo environment itself (see
        :func:`_make_multiagent`).
    """
    env_spec = env_id if isinstance(env_id, EnvSpec) else spec(env_id)
    constructor = env_spec.load()
    env_kwargs = {**copy.deepcopy(env_spec.kwargs), **kwargs}
    limit = max_episode_steps if max_episode_steps is not None else env_spec.max_episode_steps
    if env_spec.family == "multiagent":
        return _make_multiagent(constructor, env_kwargs, limit)
    env = constructor(**env_kwargs)
    env.unwrapped.spec = gym.envs.registration.EnvSpec(
        id=env_spec.id,
        entry_point=env_spec.entry_point,
        max_episode_steps=limit,
        kwargs=env_kwargs,
        disable_env_checker=True,
        order_enforce=True,
    )
    env = RequireReset(env)
    if limit is not None:
        env = TurnLimit(env, max_turns=limit)
    return env


def _make_multiagent(
    constructor: Callable[..., Any], env_kwargs: dict[str, Any], limit: int | None
) -> Any:
    """A PettingZoo ``AECEnv``/``ParallelEnv``: not a ``gymnasium.Env``, so no Gymnasium wrapper;
    the turn limit is its ``max_turns`` constructor argument (steps of all agents together)."""
    if limit is not None:
        env_kwargs = {**env_kwargs, "max_turns": limit}
    return constructor(**env_kwargs)
