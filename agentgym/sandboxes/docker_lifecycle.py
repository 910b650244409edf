"""Container ownership labels, orphan pruning and guaranteed clean-up for docker sandboxes.

Every container an agentgym process starts carries labels naming its owner (host name, pid and
the pid's start time, so a recycled pid is not mistaken for the owner). A container whose owner
process is gone is an *orphan*: :func:`prune_orphans` removes them, and it runs once at the start
of every process that uses a sandbox, so a ``kill -9`` of a run leaks nothing past the next run.

Within a process, :data:`REGISTRY` tracks the live containers; they are removed at normal exit
(``atexit``) and on SIGINT/SIGTERM (handlers that chain to the previously installed ones).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

#: Label present on every agentgym sandbox container.
LABEL = "agentgym.sandbox"
LABEL_PID = "agentgym.owner_pid"
LABEL_HOST = "agentgym.owner_host"
LABEL_START = "agentgym.owner_start"


def process_start_time(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22).

    Returns an empty string where ``/proc`` is unavailable or the process does not exist.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except OSError:
        return ""
    # The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    return stat.rsplit(")", 1)[-1].split()[19]


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the owner of a container."""
    pid = os.getpid()
    return {
        LABEL: "1",
        LABEL_PID: str(pid),
        LABEL_HOST: socket.gethostname(),
        LABEL_START: process_start_time(pid),
    }


def owner_alive(labels: dict[str, str]) -> bool:
    """Whether the process named by a container's owner labels still runs on this host.

    Containers owned by another host are reported alive (we cannot tell, so we leave them).
    """
    if labels.get(LABEL_HOST) != socket.gethostname():
        return True
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    start = labels.get(LABEL_START, "")
    return not start or process_start_time(pid) == start


def prune_orphans(client: Any, *, all_containers: bool = False) -> list[str]:
    """Remove agentgym containers whose owner process is dead (or every one with ``all``).

    Args:
        client: a ``docker.DockerClient``.
        all_containers: remove every agentgym container, also those of live processes.

    Returns:
        The short ids of the removed containers.
    """
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        if all_containers or not owner_alive(container.labels):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(container.short_id)
    return removed


class ContainerRegistry:
    """The containers this process owns, removed at exit and on SIGINT/SIGTERM."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, Any] = {}
        self._installed = False
        self._previous: dict[int, Any] = {}

    def add(self, container: Any) -> None:
        with self._lock:
            self._containers[container.id] = container
        self.install()

    def discard(self, container: Any) -> None:
        with self._lock:
            self._containers.pop(container.id, None)

    def __len__(self) -> int:
        return len(self._containers)

    def cleanup(self) -> None:
        """Force-remove every registered container (idempotent, never raises)."""
        with self._lock:
            containers = list(self._containers.values())
            self._containers.clear()
        for container in containers:
            with contextlib.suppress(Exception):
                container.remove(force=True)

    def install(self) -> None:
        """Register the atexit hook and the SIGINT/SIGTERM handlers (once per process)."""
        if self._installed:
            return
        self._installed = True
        atexit.register(self.cleanup)
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread; atexit still runs
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):
                self._previous[signum] = signal.signal(signum, self._handler)

    def _handler(self, signum: int, frame: Any) -> None:
        self.cleanup()
        previous: Callable[[int, Any], Any] | int | None = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL (or unknown): restore the default action and re-deliver the signal
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


#: The process-wide registry used by :class:`agentgym.sandboxes.docker.DockerSandbox`.
REGISTRY = ContainerRegistry()
