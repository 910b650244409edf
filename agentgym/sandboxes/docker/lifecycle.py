"""Who owns a sandbox container, and how it dies with its owner.

Three layers, strongest first:

1. **The owner lease** (:mod:`.keeper`): a container's main process is a keeper reading commands
   from the container's stdin, which only its owner holds open (an attach connection, with
   docker's ``StdinOnce``). When the owner process dies — even by SIGKILL — the kernel closes the
   connection, docker closes the keeper's stdin, the keeper exits, the container stops and
   ``AutoRemove`` deletes it, about a second later. Nothing polls and no later run is needed.
2. **Clean-up at exit**: :data:`REGISTRY` removes this process's containers at interpreter exit
   and on SIGINT/SIGTERM (:func:`agentgym.core.resources.on_exit`).
3. **The label reaper**: every container carries labels naming its owner (host, pid and the pid's
   start time, so a recycled pid is not mistaken for the owner). :func:`prune_orphans` removes
   those whose owner is gone; it runs when a process first connects and in
   ``agentgym sandbox prune``. It catches what the lease cannot: a container created but never
   started, or one made by an older version.

A process that forks (``multiprocessing`` with ``fork``) would hand a copy of every lease to its
children; :data:`REGISTRY` closes those copies in the child, so the lease stays the parent's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from agentgym.core.resources import on_exit

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
        The short ids of the containers this call removed (one that vanished on its own
        meanwhile, e.g. by its lease, is not counted).
    """
    import docker.errors

    removed = []
    # The low-level listing: the high-level one inspects each container and fails on one that
    # its lease removes meanwhile.
    for container in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        if all_containers or not owner_alive(container.get("Labels") or {}):
            try:
                client.api.remove_container(container["Id"], force=True)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:
                if "already in progress" in str(exc):
                    continue  # its lease ended it a moment ago
                raise
            removed.append(container["Id"][:12])
    return removed


class ContainerRegistry:
    """The containers this process owns: removed at exit and on SIGINT/SIGTERM, and their
    leases closed in forked children.

    Each entry is ``container id -> (remove, close_lease)``, two idempotent callables.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {}
        self._installed = False

    def add(self, container_id: str, remove: Callable[[], None],
            close_lease: Callable[[], None]) -> None:
        with self._lock:
            self._entries[container_id] = (remove, close_lease)
            first, self._installed = not self._installed, True
        on_exit(self.cleanup)  # idempotent; installs the signal handlers from the main thread
        if first:
            os.register_at_fork(after_in_child=self._forget_in_child)

    def discard(self, container_id: str) -> None:
        with self._lock:
            self._entries.pop(container_id, None)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, container_id: object) -> bool:
        return container_id in self._entries

    def cleanup(self) -> None:
        """Remove every registered container (idempotent, never raises)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for remove, _ in entries:
            with contextlib.suppress(Exception):
                remove()

    def _forget_in_child(self) -> None:
        """In a forked child: close the inherited lease copies and own nothing."""
        entries = list(self._entries.values())
        self._entries = {}
        self._lock = threading.Lock()
        for _, close_lease in entries:
            with contextlib.suppress(Exception):
                close_lease()


#: The process-wide registry used by :class:`agentgym.sandboxes.docker.DockerSandbox`.
REGISTRY = ContainerRegistry()
