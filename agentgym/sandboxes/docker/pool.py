"""A warm pool of sandboxes whose ``acquire`` is a queue pop.

Standby containers are started and released ones are wiped *in the background*, while agents
work, so an episode's reset takes a clean, verified container from a queue instead of starting
one (~1 s) or wiping one on the critical path. Every failure is logged and counted in
:class:`PoolStats`; a container whose wipe or verification fails is destroyed, never queued.

``benchmarks/swe.py`` measures a pooled reset against a cold one side by side.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from agentgym.core.resources import on_exit
from agentgym.sandboxes.docker.client import DEFAULT_IMAGE, DockerUnavailableError, SandboxError
from agentgym.sandboxes.docker.lifecycle import REGISTRY
from agentgym.sandboxes.docker.sandbox import DockerSandbox, SandboxLimits

log = logging.getLogger("agentgym.sandboxes.docker")


@dataclass
class PoolStats:
    """Counters of one pool (read them, e.g. ``pool.stats.wipe_failures``).

    Attributes:
        created: containers started.
        warm_acquires: acquisitions served from the ready queue.
        cold_acquires: acquisitions that had to start a container on the caller's thread.
        recycled: released containers wiped, verified and queued again.
        wipe_failures: wipes or verifications that failed (those containers were destroyed).
        discarded: containers the user gave back as broken with :meth:`SandboxPool.discard`
            (e.g. preparing an episode in it failed).
        start_failures: background container starts that failed.
        destroyed: containers removed, for any reason.
    """

    created: int = 0
    warm_acquires: int = 0
    cold_acquires: int = 0
    recycled: int = 0
    wipe_failures: int = 0
    discarded: int = 0
    start_failures: int = 0
    destroyed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class SandboxPool:
    """Started, verified-clean sandboxes ready to hand out; background workers keep it full.

    Args:
        image: image of every sandbox.
        limits: limits of every sandbox.
        size: most ready sandboxes kept; extra released ones are removed.
        standby: ready (or starting) sandboxes the workers keep in advance; 0 disables
            background starts (every acquisition beyond the recycled ones is cold).
        workers: background threads (wipes and starts).
        quiet: seconds the workers hold back after an acquisition (unless someone is waiting
            for a sandbox), so background starts and wipes do not compete for the CPU with the
            caller preparing the sandbox it just got.
        client: a docker client (default: the shared one).
    """

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        limits: SandboxLimits | None = None,
        size: int = 8,
        standby: int = 2,
        workers: int = 2,
        quiet: float = 0.5,
        client: Any = None,
    ) -> None:
        if size < 0 or standby < 0 or workers < 1:
            raise ValueError("size and standby must be >= 0 and workers >= 1")
        self.image = image
        self.limits = limits or SandboxLimits()
        self.size = size
        self.standby = min(standby, size)
        self.stats = PoolStats()
        self._client = client
        self._ready: collections.deque[DockerSandbox] = collections.deque()
        self._dirty: collections.deque[DockerSandbox] = collections.deque()
        self._starting = 0
        self._busy = 0
        self._fill_paused = False
        self._closed = False
        self._quiet = quiet
        self._quiet_until = 0.0
        self._waiting = 0
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._workers = workers

    # -- public API --------------------------------------------------------------------------
    def acquire(self) -> DockerSandbox:
        """A started, verified-clean sandbox: from the ready queue (waiting for a wipe or start
        already under way), else started now on this thread (cold).

        Raises:
            SandboxError: starting a container failed (e.g.
                :class:`~.client.DockerUnavailableError`).
        """
        with self._cond:
            self._ensure_workers()
            self._fill_paused = False
            self._waiting += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(
                    lambda: self._ready or self._closed or not (self._dirty or self._busy), 60.0)
            finally:
                self._waiting -= 1
            sandbox = self._ready.popleft() if self._ready else None
            self._quiet_until = time.monotonic() + self._quiet
            self._cond.notify_all()
        if sandbox is not None:
            with self._cond:
                self.stats.warm_acquires += 1
            return sandbox
        sandbox = self._start_new()
        with self._cond:
            self.stats.cold_acquires += 1
        return sandbox

    def release(self, sandbox: DockerSandbox) -> None:
        """Give ``sandbox`` back; it is wiped and verified in the background, then queued (or
        destroyed when that fails or the pool is full). Returns at once."""
        if (self.size == 0 or not sandbox.started
                or (sandbox._keeper is not None and sandbox._keeper.broken)):
            self._destroy(sandbox)
            return
        with self._cond:
            if not self._closed:
                self._ensure_workers()
                self._dirty.append(sandbox)
                self._cond.notify_all()
                return
        self._destroy(sandbox)

    def discard(self, sandbox: DockerSandbox, reason: str) -> None:
        """Destroy a sandbox its user found broken; logged and counted (``discarded``)."""
        log.warning("sandbox %s discarded: %s", (sandbox.container_id or "?")[:12], reason)
        with self._cond:
            self.stats.discarded += 1
        self._destroy(sandbox)

    def prewarm(self, n: int) -> None:
        """Start sandboxes on this thread until ``n`` (at most ``size``) are ready."""
        while True:
            with self._cond:
                if len(self._ready) >= min(n, self.size) or self._closed:
                    return
            sandbox = self._start_new()
            with self._cond:
                self._ready.append(sandbox)
                self._cond.notify_all()

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Start the workers if needed and wait until no wipe or start is pending (the standby
        target reached); returns whether that happened within ``timeout`` seconds."""
        with self._cond:
            self._ensure_workers()
            self._cond.notify_all()
            return self._cond.wait_for(
                lambda: self._closed or (not self._dirty and not self._busy and (
                    self._fill_paused or len(self._ready) + self._starting >= self.standby)),
                timeout)

    @property
    def idle(self) -> int:
        """Sandboxes ready to hand out now."""
        return len(self._ready)

    @property
    def created(self) -> int:
        return self.stats.created

    def close(self) -> None:
        """Stop the workers and remove every sandbox the pool holds (in-use ones stay with
        their users; releasing them later removes them)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30.0)
        with self._cond:
            held = list(self._ready) + list(self._dirty)
            self._ready.clear()
            self._dirty.clear()
        for sandbox in held:
            self._destroy(sandbox)

    # -- background work ---------------------------------------------------------------------
    def _ensure_workers(self) -> None:
        if self._threads or self._closed:
            return
        for i in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"sandbox-pool-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _needs_fill(self) -> bool:
        return (not self._fill_paused
                and len(self._ready) + self._starting + len(self._dirty) < self.standby)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._dirty or self._needs_fill())
                if self._closed:
                    return
                hold = self._quiet_until - time.monotonic()
                if hold > 0 and not self._waiting:
                    self._cond.wait(hold)  # the caller is preparing the sandbox it just got
                    continue
                sandbox = self._dirty.popleft() if self._dirty else None
                if sandbox is None:
                    self._starting += 1
                self._busy += 1
            try:
                if sandbox is not None:
                    self._recycle(sandbox)
                else:
                    self._fill()
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _recycle(self, sandbox: DockerSandbox) -> None:
        try:
            sandbox.wipe()
        except SandboxError as exc:
            if self._closed or sandbox.container_id not in REGISTRY:
                self._destroy(sandbox)  # shutting down: exit clean-up removed it meanwhile
                return
            log.warning("sandbox %s destroyed: its wipe failed: %s",
                        (sandbox.container_id or "?")[:12], exc)
            with self._cond:
                self.stats.wipe_failures += 1
            self._destroy(sandbox)
            return
        with self._cond:
            if not self._closed and len(self._ready) < self.size:
                self._ready.append(sandbox)
                self.stats.recycled += 1
                return
        self._destroy(sandbox)

    def _fill(self) -> None:
        try:
            sandbox = self._start_new()
        except Exception as exc:  # the daemon may be down: log, count, stop filling for now
            # a daemon that is down is reported to the caller by its own acquire(); here it
            # would only repeat the same line on stderr
            level = logging.DEBUG if isinstance(exc, DockerUnavailableError) else logging.WARNING
            log.log(level, "starting a standby sandbox failed: %s", exc)
            with self._cond:
                self._starting -= 1
                self.stats.start_failures += 1
                self._fill_paused = True
            return
        with self._cond:
            self._starting -= 1
            if not self._closed and len(self._ready) < self.size:
                self._ready.append(sandbox)
                return
        self._destroy(sandbox)

    def _start_new(self) -> DockerSandbox:
        sandbox = DockerSandbox(self.image, limits=self.limits, client=self._client).start()
        with self._cond:
            self.stats.created += 1
        return sandbox

    def _destroy(self, sandbox: DockerSandbox) -> None:
        was_started = sandbox.started
        with contextlib.suppress(Exception):
            sandbox.close()
        if was_started:
            with self._cond:
                self.stats.destroyed += 1


_POOLS: dict[tuple[str, SandboxLimits], SandboxPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(image: str = DEFAULT_IMAGE, limits: SandboxLimits | None = None) -> SandboxPool:
    """The process-wide warm pool for ``(image, limits)``; environments share it."""
    key = (image, limits or SandboxLimits())
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = SandboxPool(image, limits=key[1])
            on_exit(close_shared_pools)
        return _POOLS[key]


def _forget_shared_pools() -> None:
    """In a forked child: the parent's pools (threads, leases) are not the child's."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_shared_pools)


def close_shared_pools() -> None:
    """Close every shared pool (their held sandboxes are removed; in-use ones stay with their
    owners). Pools are created again on the next :func:`shared_pool` call."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
