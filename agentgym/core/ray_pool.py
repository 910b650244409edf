"""Environment pools on Ray: every environment lives in a Ray actor of its own (``[ray]`` extra).

::

    from agentgym.core.ray_pool import RayEnvPool
    from agentgym.core.rollout import collect

    with RayEnvPool(address="auto", num_cpus=0.5) as pool:      # or address=None: a local Ray
        episodes = collect("agentgym/SWE-v0", policy, tasks=range(8), group_size=4,
                           num_envs=16, backend=pool)

``collect(..., backend="ray")`` makes a temporary pool on the Ray this process already joined, or
on a local Ray started on demand, and closes it when the call returns.

The contract of :func:`~agentgym.core.rollout.collect` is unchanged: the rollout loop, its
waves and its policy stay in the calling process (generation stays with the caller's engine);
only the environments move. Each slot of the rollout holds a :class:`RemoteEnv`, a
``gymnasium.Env`` whose ``reset``/``step`` run in its actor, so an environment's sandbox (a
docker container, a Chromium) lives in the actor's process, on whichever node Ray placed it, and
is released with it. The actor builds the whole wrapped environment (action parser, penalty, chat
history) from the same factory the thread backend calls, so a remote episode is the local one.

Failures end one episode, never the run: a ``reset``/``step`` that raises, an actor that dies
(a crash, an OOM kill, a lost node) or one that does not answer within ``step_timeout`` seconds
makes the call raise, the rollout records the episode as truncated with the error, and the slot's
next episode gets a fresh actor. A broken actor is killed (``ray.kill``); a healthy one is closed
gracefully (``env.close()`` and the process's exit handlers, which remove its containers and
browsers). A process killed outright leaves its sandboxes to their own ownership rules: Chromium
exits with Playwright's driver, docker containers carry their owner's pid and are removed as
orphans (see :mod:`agentgym.sandboxes`).

Actors are placed with ``scheduling="SPREAD"`` by default (environments are I/O- and
sandbox-bound, so spreading them over nodes balances docker daemons and browsers), and each asks
for ``num_cpus`` (default 1) plus any custom ``resources``. A pool kept across ``collect`` calls
reuses its idle actors when the next call builds the same environment (same id, kwargs and
wrappers), which keeps warm sandboxes warm between training iterations.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym

from agentgym.core.env import optional_method

logger = logging.getLogger(__name__)

#: Optional environment methods a :class:`RemoteEnv` forwards to its actor when the environment
#: has them (oracle policies call these through ``request.env``).
FORWARDED_METHODS: tuple[str, ...] = ("admissible_actions", "expert_action", "render")
#: Attributes read every turn (chat history, tools offered now): they travel with each reset and
#: step result instead of costing a round trip each.
MIRRORED_ATTRS: tuple[str, ...] = ("messages", "tools")
#: Object store size of a local Ray started on demand (bytes): observations are small.
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20


class RayUnavailableError(RuntimeError):
    """Ray is not installed (``pip install 'agentgym[ray]'``) or the cluster cannot be joined."""


class EnvActorError(RuntimeError):
    """An environment actor died, hung or could not be started."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            "the Ray backend needs Ray: pip install 'agentgym[ray]'"
        ) from exc
    return ray


def _loopback_host(address: str) -> str | None:
    """The host of ``host:port`` when it is a loopback IP (``127.x.y.z``), else None."""
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


def connect(address: str | None = None, **init_kwargs: Any) -> None:
    """Join a Ray cluster, or start a local one, unless this process already joined one.

    Args:
        address: ``None`` (``RAY_ADDRESS`` if set, else a new local Ray), ``"local"`` (a new
            local Ray), ``"auto"`` (the cluster ``ray start`` runs on this machine),
            ``"HOST:PORT"`` (a cluster's GCS) or ``"ray://HOST:PORT"`` (Ray client).
        **init_kwargs: passed to ``ray.init``. A local Ray started here gets no dashboard, a
            256 MiB object store and no usage reporting unless these say otherwise.

    Raises:
        RayUnavailableError: Ray is missing or ``ray.init`` failed (one line saying why).
    """
    ray = _ray()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, **init_kwargs}
    starts_local = address == "local" or (address is None and not os.environ.get("RAY_ADDRESS"))
    if starts_local:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        kwargs.setdefault("include_dashboard", False)
        kwargs.setdefault("object_store_memory", LOCAL_OBJECT_STORE_BYTES)
    elif address and not address.startswith("ray://") and address != "auto":
        host = _loopback_host(address)
        if host is not None:  # a cluster on loopback: this driver's node is that address too
            kwargs.setdefault("_node_ip_address", host)
    try:
        ray.init(address=address, **kwargs)
    except Exception as exc:
        where = "a local Ray" if starts_local else f"the Ray cluster at {address!r}"
        raise RayUnavailableError(f"cannot start or join {where}: {exc}") from exc


class EnvWorker:
    """The body of one environment actor (``ray.remote(EnvWorker)``): one wrapped environment.

    The environment is built by :meth:`start` from a factory (a picklable no-argument callable,
    the same one the thread backend calls), so construction errors come back to the caller as
    ordinary exceptions instead of a dead actor.
    """

    def __init__(self) -> None:
        self.env: gym.Env | None = None

    def start(self, factory: Callable[[], gym.Env]) -> dict[str, Any]:
        """Build the environment; returns what a :class:`RemoteEnv` mirrors locally."""
        import ray

        self.env = env = factory()
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "action_space": env.action_space,
            "observation_space": env.observation_space,
            "metadata": dict(getattr(env, "metadata", {}) or {}),
            "render_mode": getattr(env, "render_mode", None),
            "spec": env.spec,
            "methods": [name for name in FORWARDED_METHODS if optional_method(env, name)],
            "mirror": self._mirror(),
        }

    def _mirror(self) -> dict[str, Any]:
        """The attributes a rollout reads every turn, sent along with each reset and step:
        the chat history (``messages``) and the tools offered now (``tools``), where the
        environment has them."""
        assert self.env is not None
        mirror: dict[str, Any] = {}
        for name in MIRRORED_ATTRS:
            try:
                value = self.env.get_wrapper_attr(name)
            except AttributeError:
                value = getattr(self.env.unwrapped, name, None)
                if value is None:
                    continue
            mirror[name] = value() if callable(value) else value
        return mirror

    def reset(self, seed: int | None, options: dict[str, Any] | None) -> tuple[Any, ...]:
        assert self.env is not None
        observation, info = self.env.reset(seed=seed, options=options)
        return observation, info, self._mirror()

    def step(self, action: Any) -> tuple[Any, ...]:
        assert self.env is not None
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, info, self._mirror()

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        assert self.env is not None
        method = optional_method(self.env, name)
        if method is None:
            raise AttributeError(f"the environment has no method {name!r}")
        return method(*args, **kwargs)

    def get_attr(self, name: str) -> Any:
        assert self.env is not None
        return self.env.get_wrapper_attr(name)

    def ping(self) -> int:
        """Answer at once (a liveness check before an idle actor is reused)."""
        return os.getpid()

    def close(self) -> int:
        """Close the environment and run the process's clean-ups (shared browsers, servers…)."""
        from agentgym.core.resources import run_cleanups

        env, self.env = self.env, None
        try:
            if env is not None:
                env.close()
        finally:
            run_cleanups()
        return os.getpid()

    def exit(self) -> None:
        """End the actor's process gracefully (its ``atexit`` handlers run)."""
        import ray

        ray.actor.exit_actor()


def _wait_for_exit(pids: list[int], timeout: float) -> list[int]:
    """Run on a node: wait until the processes ``pids`` have exited; returns those still alive."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}")]
        if alive:
            time.sleep(0.1)
    return alive


class RemoteEnv(gym.Env):
    """A ``gymnasium.Env`` whose environment runs in a Ray actor of a :class:`RayEnvPool`.

    ``reset``/``step`` block until the actor answers (at most the pool's ``step_timeout``).
    After a failed ``reset``/``step``, a dead actor or a timeout the env is *broken*:
    :meth:`close` kills its actor instead of returning it to the pool. ``messages`` (the chat
    history) and ``tools`` are answered locally: they come back with every reset and step
    (:data:`MIRRORED_ATTRS`). ``admissible_actions``/``expert_action``/``render`` are forwarded
    when the environment has them; any other attribute is fetched from the actor.
    """

    def __init__(self, pool: RayEnvPool, actor: Any, key: str, description: dict[str, Any]):
        self._pool = pool
        self._actor = actor
        self._key = key
        self.description = description
        self.action_space = description["action_space"]
        self.observation_space = description["observation_space"]
        self.metadata = description["metadata"]
        self.render_mode = description["render_mode"]
        self.spec = description["spec"]
        self._methods = frozenset(description["methods"])
        self._mirror: dict[str, Any] = dict(description["mirror"])
        self.broken: str | None = None
        self.closed = False

    # -- where it runs ------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        """The actor's process id (on its node)."""
        return int(self.description["pid"])

    @property
    def node_id(self) -> str:
        """The Ray node the actor runs on."""
        return str(self.description["node_id"])

    # -- the gymnasium API ----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        observation, info, mirror = self._get(self._actor.reset.remote(seed, options), "reset",
                                              fatal=True)
        self._mirror = mirror
        return observation, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        *result, mirror = self._get(self._actor.step.remote(action), "step", fatal=True)
        self._mirror = mirror
        observation, reward, terminated, truncated, info = result
        return observation, reward, terminated, truncated, info

    def get_wrapper_attr(self, name: str) -> Any:
        if name in MIRRORED_ATTRS:
            if name not in self._mirror:
                raise AttributeError(f"the remote environment has no attribute {name!r}")
            value = self._mirror[name]
            return list(value) if isinstance(value, list) else value
        if name in self._methods:
            return functools.partial(self._call, name)
        if name in FORWARDED_METHODS:
            raise AttributeError(f"the remote environment has no method {name!r}")
        return self._get(self._actor.get_attr.remote(name), f"get_wrapper_attr({name!r})")

    def __getattr__(self, name: str) -> Any:
        # what a rollout reads through ``getattr(env.unwrapped, …)`` (e.g. ``tools``)
        mirror = self.__dict__.get("_mirror", {})
        if name in MIRRORED_ATTRS and name in mirror:
            return mirror[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def render(self) -> Any:
        if "render" not in self._methods:
            return None
        return self._call("render")

    def close(self) -> None:
        """Give the actor back to the pool, or kill it when broken (idempotent)."""
        if not self.closed:
            self.closed = True
            self._pool._release(self)

    # -- plumbing -----------------------------------------------------------------------------
    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._get(self._actor.call.remote(name, args, kwargs), name)

    def _get(self, ref: Any, what: str, *, fatal: bool = False) -> Any:
        """``ray.get`` with the pool's timeout. A dead or silent actor breaks the env; an
        exception raised by the environment breaks it only in ``reset``/``step`` (``fatal``)."""
        ray = _ray()
        if self.closed or self.broken:
            raise EnvActorError(f"{what} on a {self.broken or 'closed'} remote environment")
        try:
            return ray.get(ref, timeout=self._pool.step_timeout)
        except ray.exceptions.GetTimeoutError:
            self.broken = "hung"
            raise EnvActorError(
                f"{what} did not answer within {self._pool.step_timeout:g} s "
                f"(actor pid {self.pid} on node {self.node_id[:12]}); the actor is replaced"
            ) from None
        except ray.exceptions.RayActorError as exc:
            self.broken = "dead"
            raise EnvActorError(
                f"the environment actor (pid {self.pid} on node {self.node_id[:12]}) died "
                f"during {what}: {_first_line(exc)}"
            ) from None
        except BaseException:
            if fatal:  # the environment raised: replace it, as the thread backend does
                self.broken = "failed"
            raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def factory_key(factory: Callable[[], gym.Env]) -> str:
    """A digest identifying an environment factory (same id, kwargs and wrappers ⇒ same key)."""
    from ray import cloudpickle

    return hashlib.blake2b(cloudpickle.dumps(factory), digest_size=16).hexdigest()


class RayEnvPool:
    """Environment actors on a Ray cluster, handed out as :class:`RemoteEnv` instances.

    Args:
        address: where Ray runs; see :func:`connect` (``None``: the Ray this process joined, or a
            local one started on demand).
        num_cpus: CPUs each environment actor reserves (fractions allowed).
        num_gpus: GPUs each environment actor reserves.
        memory: memory each actor reserves, in bytes (Ray's logical ``memory`` resource).
        resources: custom Ray resources per actor, e.g. ``{"docker": 1}``.
        scheduling: Ray scheduling strategy for the actors (``"SPREAD"`` or ``"DEFAULT"``).
        step_timeout: seconds a ``reset``/``step``/oracle call may take before the actor counts
            as hung (its episode ends, it is killed and replaced); ``None`` waits forever.
        start_timeout: seconds an actor may take to be placed and build its environment.
        close_timeout: seconds a graceful close may take before the actor is killed.
        actor_options: other ``.options(...)`` for the actors (``runtime_env`` …).
        init_kwargs: passed to ``ray.init`` when the pool connects.
        check_capacity: refuse a rollout whose actors can never all be placed on the cluster
            (turn off on an autoscaling cluster).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        memory: int | None = None,
        resources: Mapping[str, float] | None = None,
        scheduling: str = "SPREAD",
        step_timeout: float | None = 600.0,
        start_timeout: float = 300.0,
        close_timeout: float = 30.0,
        actor_options: Mapping[str, Any] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        check_capacity: bool = True,
    ) -> None:
        if num_cpus < 0 or num_gpus < 0:
            raise ValueError("num_cpus and num_gpus must be >= 0")
        if step_timeout is not None and step_timeout <= 0:
            raise ValueError(f"step_timeout must be > 0 or None, got {step_timeout}")
        self.address = address
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.memory = memory
        self.resources = dict(resources or {})
        self.scheduling = scheduling
        self.step_timeout = step_timeout
        self.start_timeout = float(start_timeout)
        self.close_timeout = float(close_timeout)
        self.actor_options = dict(actor_options or {})
        self.init_kwargs = dict(init_kwargs or {})
        self.check_capacity = check_capacity
        self._lock = threading.Lock()
        self._idle: dict[str, list[RemoteEnv]] = {}
        self._busy: dict[int, RemoteEnv] = {}
        self._actor_class: Any = None
        self._closed = False
        self.started = 0
        self.killed = 0
        self._dead_pids: dict[str, list[int]] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    def _connect(self) -> Any:
        ray = _ray()
        with self._lock:
            if self._closed:
                raise RuntimeError("this RayEnvPool is closed")
            if self._actor_class is None:
                connect(self.address, **self.init_kwargs)
                self._actor_class = ray.remote(EnvWorker)
        return ray

    def prepare(self, n_envs: int) -> None:
        """Join the cluster and check that ``n_envs`` actors fit on it (see ``check_capacity``).

        Raises:
            ValueError: the cluster's total CPUs/GPUs/resources can never hold ``n_envs`` actors.
        """
        ray = self._connect()
        if not self.check_capacity:
            return
        total = ray.cluster_resources()
        with self._lock:
            held = sum(len(envs) for envs in self._idle.values()) + len(self._busy)
        wanted = {"CPU": self.num_cpus, "GPU": self.num_gpus, **self.resources}
        for name, per_env in wanted.items():
            if per_env <= 0:
                continue
            fits = int(total.get(name, 0.0) / per_env + 1e-9)
            if fits < n_envs:
                raise ValueError(
                    f"the Ray cluster has {total.get(name, 0.0):g} {name} in all, room for "
                    f"{fits} environment actors at {per_env:g} {name} each, but the rollout "
                    f"runs {n_envs} at once ({held} already held by this pool): lower num_envs, "
                    f"ask for less {name} per environment, or add nodes"
                )

    def make_env(self, factory: Callable[[], gym.Env]) -> RemoteEnv:
        """An environment built by ``factory`` in an actor: an idle one with the same factory,
        or a new actor. Safe to call from many threads.

        Raises:
            EnvActorError: the actor could not be placed or started within ``start_timeout``.
            Exception: whatever ``factory()`` raised in the actor (e.g. bad constructor kwargs).
        """
        ray = self._connect()
        key = factory_key(factory)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                env = idle.pop() if idle else None
                # idle actors of other environments would hold resources the new one needs
                others = [] if env is not None else [
                    other for k, envs in self._idle.items() if k != key for other in envs]
                if env is None:
                    self._idle = {key: self._idle.get(key, [])}
            if others:
                self._shutdown(others)
            if env is None:
                break
            if self._alive(env):
                with self._lock:
                    self._busy[id(env)] = env
                return env
            env.broken = "dead"
            self._shutdown([env])
        options: dict[str, Any] = {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "max_restarts": 0,
            "max_task_retries": 0,
            "scheduling_strategy": self.scheduling,
            **self.actor_options,
        }
        if self.memory:
            options["memory"] = self.memory
        if self.resources:
            options["resources"] = dict(self.resources)
        actor = self._actor_class.options(**options).remote()
        try:
            description = ray.get(actor.start.remote(factory), timeout=self.start_timeout)
        except ray.exceptions.GetTimeoutError:
            ray.kill(actor, no_restart=True)
            raise EnvActorError(
                f"no environment actor started within {self.start_timeout:g} s (it needs "
                f"num_cpus={self.num_cpus:g}, resources={self.resources}; the cluster has "
                f"{ray.available_resources()} available)"
            ) from None
        except BaseException:
            ray.kill(actor, no_restart=True)
            raise
        env = RemoteEnv(self, actor, key, description)
        with self._lock:
            self.started += 1
            self._busy[id(env)] = env
            closed = self._closed
        if closed:
            env.broken = "pool closed"
            self._release(env)
            raise RuntimeError("this RayEnvPool was closed while an environment started")
        return env

    def _alive(self, env: RemoteEnv) -> bool:
        ray = _ray()
        timeout = min(self.step_timeout or 30.0, 30.0)
        try:
            ray.get(env._actor.ping.remote(), timeout=timeout)
            return True
        except Exception:
            return False

    def _release(self, env: RemoteEnv) -> None:
        with self._lock:
            self._busy.pop(id(env), None)
            keep = env.broken is None and not self._closed
            if keep:
                env.closed = False
                self._idle.setdefault(env._key, []).append(env)
        if not keep:
            self._shutdown([env])

    def _shutdown(self, envs: list[RemoteEnv]) -> None:
        """Stop actors: healthy ones gracefully (env.close, exit handlers), broken ones killed.
        Returns once their processes are gone (or ``close_timeout`` passed)."""
        if not envs:
            return
        ray = _ray()
        healthy = [env for env in envs if env.broken is None]
        closing = {env._actor.close.remote(): env for env in healthy}
        done, _ = ray.wait(list(closing), num_returns=len(closing), timeout=self.close_timeout)
        graceful = []
        for ref in done:
            try:
                ray.get(ref)
                graceful.append(closing[ref])
            except Exception as exc:  # close raised: still stop the actor
                logger.warning("closing a remote environment failed: %s", _first_line(exc))
        exits = [env._actor.exit.remote() for env in graceful]
        ray.wait(exits, num_returns=len(exits), timeout=self.close_timeout)
        by_node: dict[str, list[int]] = {}
        for env in envs:
            if env not in graceful:
                ray.kill(env._actor, no_restart=True)
                with self._lock:
                    self.killed += 1
            by_node.setdefault(env.node_id, []).append(env.pid)
        self._await_exits(by_node)

    def _await_exits(self, by_node: dict[str, list[int]]) -> None:
        """Wait, on each node, until the actors' processes have exited (so their exit handlers
        have removed their containers and browsers)."""
        ray = _ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        waiter = ray.remote(num_cpus=0)(_wait_for_exit)
        refs = {}
        alive_nodes = {node["NodeID"] for node in ray.nodes() if node.get("Alive")}
        for node_id, pids in by_node.items():
            if node_id not in alive_nodes:
                continue
            strategy = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
            refs[waiter.options(scheduling_strategy=strategy).remote(pids, self.close_timeout)] = (
                node_id
            )
        for ref, node_id in refs.items():
            try:
                alive = ray.get(ref, timeout=self.close_timeout + 30)
            except Exception as exc:
                logger.warning("could not wait for actors on node %s: %s", node_id[:12],
                               _first_line(exc))
                continue
            if alive:
                logger.warning("environment actors %s on node %s did not exit in time", alive,
                               node_id[:12])

    def close(self) -> None:
        """Stop every actor of the pool (idle and in use); the pool cannot be used again."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            envs = [env for idle in self._idle.values() for env in idle]
            envs += list(self._busy.values())
            self._idle.clear()
            self._busy.clear()
            started = self._actor_class is not None
        for env in envs:
            env.closed = True
        if started:
            self._shutdown(envs)

    def __enter__(self) -> RayEnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Actors alive in the pool (idle and in use)."""
        with self._lock:
            return sum(len(envs) for envs in self._idle.values()) + len(self._busy)


def pool_for(backend: Any) -> tuple[RayEnvPool, bool]:
    """The pool a ``collect(backend=...)`` value names, and whether the call owns (closes) it.

    ``"ray"`` → a temporary :class:`RayEnvPool` on the Ray this process joined or a local one;
    a :class:`RayEnvPool` → that pool, left open for the next call.

    Raises:
        ValueError: an unknown backend.
    """
    if isinstance(backend, RayEnvPool):
        return backend, False
    if backend == "ray":
        return RayEnvPool(), True
    raise ValueError(
        f"unknown rollout backend {backend!r}; use 'thread', 'ray' or a RayEnvPool"
    )


__all__ = [
    "FORWARDED_METHODS",
    "EnvActorError",
    "EnvWorker",
    "RayEnvPool",
    "RayUnavailableError",
    "RemoteEnv",
    "connect",
    "factory_key",
    "pool_for",
]
