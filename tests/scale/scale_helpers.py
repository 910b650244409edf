"""Probes shared by the scale tests: containers by owner, process trees, polling."""

from __future__ import annotations

import os
import subprocess
import time


def containers_of(pids: set[int]) -> list[str]:
    """Ids of docker containers (running or not) owned by any of ``pids``."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=agentgym.sandbox=1", "--format",
         '{{.ID}} {{.Label "agentgym.owner_pid"}}'],
        capture_output=True, text=True, timeout=60, check=True).stdout
    found = []
    for line in out.splitlines():
        cid, _, pid = line.partition(" ")
        if pid.strip().isdigit() and int(pid) in pids:
            found.append(cid)
    return found


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren …)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still exist (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def eventually(predicate, timeout: float = 60.0, interval: float = 0.25) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes (a bound on failure, not a
    timing assertion); returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return bool(value)
        time.sleep(interval)
