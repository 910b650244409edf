"""Process-wide resources: shared, reference-counted objects and clean-up at exit and on signals.

Environments share expensive things — a browser, a shop server, a pool of containers — and must
release them however the process ends. Two small tools cover that:

* :class:`SharedResources`: one object per key, created on the first
  :meth:`~SharedResources.acquire` and closed when the last holder calls
  :meth:`~SharedResources.release`::

      SERVERS = SharedResources(close=lambda server: server.stop())
      server = SERVERS.acquire(key, lambda: ShopServer(...).start())
      ...
      SERVERS.release(key)

* :func:`on_exit`: run a clean-up function at interpreter exit and on SIGINT/SIGTERM. The signal
  handler runs every registered clean-up, then the previous handler (or the default action, so
  the process still dies of the signal). Handlers are installed once, from the main thread.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_CLEANUPS: list[Callable[[], None]] = []
_CLEANUPS_LOCK = threading.Lock()
_PREVIOUS_HANDLERS: dict[int, Any] = {}
_INSTALLED = False


def on_exit(cleanup: Callable[[], None]) -> Callable[[], None]:
    """Run ``cleanup`` at interpreter exit and on SIGINT/SIGTERM (at most once per signal).

    ``cleanup`` must be idempotent and should not raise (exceptions are suppressed). Returns
    ``cleanup`` so it can be used as a decorator.
    """
    global _INSTALLED
    with _CLEANUPS_LOCK:
        if cleanup not in _CLEANUPS:
            _CLEANUPS.append(cleanup)
        first = not _INSTALLED
        _INSTALLED = True
    if first:
        atexit.register(run_cleanups)
    if threading.current_thread() is threading.main_thread():
        _install_signal_handlers()
    return cleanup


def run_cleanups() -> None:
    """Run every registered clean-up now (idempotent; never raises)."""
    with _CLEANUPS_LOCK:
        cleanups = list(_CLEANUPS)
    for cleanup in reversed(cleanups):
        with contextlib.suppress(Exception):
            cleanup()


def _install_signal_handlers() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signum in _PREVIOUS_HANDLERS:
            continue
        with contextlib.suppress(ValueError, OSError):
            _PREVIOUS_HANDLERS[signum] = signal.signal(signum, _handle_signal)


def _handle_signal(signum: int, frame: Any) -> None:
    run_cleanups()
    previous = _PREVIOUS_HANDLERS.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL or unknown: restore the default action and re-deliver the signal
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


class SharedResources(Generic[T]):
    """Reference-counted objects shared by key within a process.

    Args:
        close: called with an object when its last holder releases it (and at exit for any
            object still held).
    """

    def __init__(self, close: Callable[[T], None]) -> None:
        self._close = close
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[T, int]] = {}
        on_exit(self.close_all)

    def acquire(self, key: Hashable, factory: Callable[[], T]) -> T:
        """The object for ``key`` (``factory()`` makes it the first time); pair with
        :meth:`release`. If ``factory`` raises, nothing is held."""
        with self._lock:
            item, refs = self._items.get(key, (None, 0))
            if refs == 0:
                item = factory()
            self._items[key] = (item, refs + 1)  # type: ignore[assignment]
            return item  # type: ignore[return-value]

    def release(self, key: Hashable) -> None:
        """Drop one reference to ``key``'s object; the last one closes it. Unknown keys are
        ignored (a double release is harmless)."""
        with self._lock:
            item, refs = self._items.get(key, (None, 0))
            if refs == 0:
                return
            if refs > 1:
                self._items[key] = (item, refs - 1)  # type: ignore[assignment]
                return
            del self._items[key]
        with contextlib.suppress(Exception):
            self._close(item)  # type: ignore[arg-type]

    def holders(self, key: Hashable) -> int:
        """How many holders ``key``'s object has (0 when none is open)."""
        with self._lock:
            return self._items.get(key, (None, 0))[1]

    def live(self) -> list[T]:
        """The objects currently held."""
        with self._lock:
            return [item for item, _ in self._items.values()]

    def close_all(self) -> None:
        """Close every object regardless of holders (exit and signal clean-up)."""
        with self._lock:
            items = [item for item, _ in self._items.values()]
            self._items.clear()
        for item in items:
            with contextlib.suppress(Exception):
                self._close(item)
