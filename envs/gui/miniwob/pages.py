"""Recycled browser pages for MiniWoB++ envs: a closed env's page serves the next env.

Making a page costs a browser context and a renderer process (and, for the first one, Chromium
itself); MiniWoB envs are made and closed often (one per check, per worker). A closed env hands
its page — with its fake clock installed — to this pool, together with its reference to the shared
browser, and the next env of the same viewport takes both. That is safe for MiniWoB because
every episode reloads the task page (a fresh document, scripts and timers) and resets the clock,
and the task pages keep nothing in cookies or storage.

Pages idle for :data:`IDLE_S` seconds are released (the browser then closes if no env uses it),
and :func:`drain` releases them all at once (also run at exit and on SIGTERM).
"""

from __future__ import annotations

import contextlib
import threading
import time

from agentgym.core.resources import on_exit
from agentgym.sandboxes.browser import BrowserPage, release_browser

#: Seconds a recycled page waits for a new env before it is released.
IDLE_S = 20.0
#: Most idle pages kept per viewport.
MAX_IDLE = 8

_lock = threading.Lock()
_idle: dict[tuple[int, int], list[tuple[BrowserPage, float]]] = {}
_timer: threading.Timer | None = None


def _usable(page: BrowserPage) -> bool:
    return not page.released and page._sandbox.running


def _drop(page: BrowserPage) -> None:
    """Release a page and the browser reference it carried."""
    try:
        if _usable(page):
            page.release()
    finally:
        release_browser()


def take(viewport: tuple[int, int]) -> BrowserPage | None:
    """An idle page of ``viewport`` with its browser reference (now the caller's), or None."""
    stale: list[BrowserPage] = []
    found = None
    with _lock:
        entries = _idle.get(viewport, [])
        while entries:
            page, _ = entries.pop()
            if _usable(page):
                found = page
                break
            stale.append(page)
    for page in stale:
        _drop(page)
    return found


def give(viewport: tuple[int, int], page: BrowserPage) -> None:
    """Keep ``page`` (and the caller's browser reference) for the next env of ``viewport``."""
    if not _usable(page):
        _drop(page)
        return
    overflow = None
    with _lock:
        entries = _idle.setdefault(viewport, [])
        if len(entries) >= MAX_IDLE:
            overflow = page
        else:
            entries.append((page, time.monotonic()))
    if overflow is not None:
        _drop(overflow)
        return
    _schedule()


def _expire() -> None:
    global _timer
    now = time.monotonic()
    old: list[BrowserPage] = []
    with _lock:
        _timer = None
        for entries in _idle.values():
            keep = [(p, t) for p, t in entries if now - t < IDLE_S]
            old.extend(p for p, t in entries if now - t >= IDLE_S)
            entries[:] = keep
        pending = any(_idle.values())
    for page in old:
        with contextlib.suppress(Exception):
            _drop(page)
    if pending:
        _schedule()


def _schedule() -> None:
    global _timer
    with _lock:
        if _timer is not None:
            return
        _timer = threading.Timer(IDLE_S / 2, _expire)
        _timer.daemon = True
        _timer.start()


def drain() -> None:
    """Release every idle page now (the browser closes when no env holds it)."""
    with _lock:
        pages = [page for entries in _idle.values() for page, _ in entries]
        _idle.clear()
    for page in pages:
        with contextlib.suppress(Exception):
            _drop(page)


def idle_pages() -> int:
    """How many pages wait in the pool."""
    with _lock:
        return sum(len(entries) for entries in _idle.values())


on_exit(drain)
