"""``XvfbSandbox``: a virtual X display (Debian's ``Xvfb``) with real input and screenshots.

Each sandbox starts its own ``Xvfb`` server on a free display number (``-displayfd``: the server
picks the number and reports it), listening on a local socket only, and owns every program
launched on it with :meth:`XvfbSandbox.spawn`. Input is real X input: the XTEST extension
(python-xlib) moves the pointer, presses buttons and keys, exactly as a user's devices would;
screenshots read the root window (``GetImage``) into a uint8 (H, W, 3) array.

The sandbox always stops what it started — the programs (their whole process groups) and the
server — on :meth:`~XvfbSandbox.close`, when used as a context manager, at interpreter exit and on
SIGINT/SIGTERM (:func:`agentgym.core.resources.on_exit`).

::

    with XvfbSandbox(480, 360) as screen:
        app = screen.spawn([sys.executable, "-m", "some.tk.app"])
        screen.click(100, 80)
        screen.type_text("hello")
        image = screen.screenshot()        # uint8 (360, 480, 3)

Key names are the canonical ones of :func:`agentgym.envs.gui.actions.normalize_key` style
(``Enter``, ``Tab``, ``ArrowUp``, ``Control`` …) or single printable ASCII characters.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from agentgym.core.resources import on_exit

#: Canonical key names -> X keysym names.
KEYSYMS: dict[str, str] = {
    "Enter": "Return", "Tab": "Tab", "Escape": "Escape", "Backspace": "BackSpace",
    "Delete": "Delete", "Space": "space", "ArrowUp": "Up", "ArrowDown": "Down",
    "ArrowLeft": "Left", "ArrowRight": "Right", "Home": "Home", "End": "End",
    "PageUp": "Prior", "PageDown": "Next", "Insert": "Insert", "Control": "Control_L",
    "Shift": "Shift_L", "Alt": "Alt_L", "Meta": "Super_L",
    **{f"F{i}": f"F{i}" for i in range(1, 13)},
}
#: Presses closer than this (pixels) and sooner than :data:`CLICK_GAP_S` chain into multi-clicks.
CLICK_SLOP_PX = 16
CLICK_GAP_S = 0.55
_INSTALL_HINT = "install it with `apt-get install xvfb` (and `pip install python-xlib`)"


class XvfbUnavailableError(RuntimeError):
    """Xvfb or python-xlib is missing, or the server does not start; the message says what to
    do."""


def check_xvfb() -> str:
    """The ``Xvfb`` executable; cheap preflight (starts nothing).

    Raises:
        XvfbUnavailableError: Xvfb or python-xlib is missing.
    """
    path = shutil.which("Xvfb")
    if path is None:
        raise XvfbUnavailableError(f"Xvfb not found on PATH: {_INSTALL_HINT}")
    try:
        import Xlib.display
        import Xlib.ext.xtest  # noqa: F401
    except ImportError as exc:
        raise XvfbUnavailableError(f"python-xlib does not import ({exc}): {_INSTALL_HINT}") from exc
    return path


def _kill_group(proc: subprocess.Popen[Any], grace_s: float = 3.0) -> None:
    """Stop ``proc`` and its process group: SIGTERM, then SIGKILL after ``grace_s``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)


class XvfbSandbox:
    """A private virtual screen with real input.

    Args:
        width, height: screen size in pixels; screenshots are (height, width, 3).
        depth: colour depth (24).
        start_timeout_s: how long the server may take to report its display.
    """

    def __init__(
        self, width: int = 640, height: int = 480, *, depth: int = 24, start_timeout_s: float = 20
    ) -> None:
        self.width, self.height, self.depth = int(width), int(height), int(depth)
        self.start_timeout_s = start_timeout_s
        self.display_name: str | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._children: list[subprocess.Popen[Any]] = []
        self._x: Any = None
        self._lock = threading.RLock()
        self._last_press: tuple[float, float, float] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None and self._server.poll() is None

    def start(self) -> XvfbSandbox:
        """Start the X server and connect to it (idempotent).

        Raises:
            XvfbUnavailableError: Xvfb or python-xlib is missing, or the server did not start.
        """
        with self._lock:
            if self.running:
                return self
            path = check_xvfb()
            import Xlib.display

            read_fd, write_fd = os.pipe()
            try:
                server = subprocess.Popen(
                    [path, "-displayfd", str(write_fd), "-screen", "0",
                     f"{self.width}x{self.height}x{self.depth}", "-nolisten", "tcp",
                     "-noreset", "+extension", "XTEST"],
                    pass_fds=(write_fd,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            finally:
                os.close(write_fd)
            self._server = server
            _LIVE.add(self)
            on_exit(_close_all)
            try:
                number = self._read_display(read_fd, server)
                self.display_name = f":{number}"
                self._x = Xlib.display.Display(self.display_name)
                if not self._x.has_extension("XTEST"):
                    raise XvfbUnavailableError("the X server has no XTEST extension")
            except BaseException as exc:
                self.close()
                if isinstance(exc, XvfbUnavailableError):
                    raise
                raise XvfbUnavailableError(f"Xvfb did not start ({exc}): {_INSTALL_HINT}") from exc
            finally:
                os.close(read_fd)
        return self

    def _read_display(self, fd: int, server: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + self.start_timeout_s
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or server.poll() is not None:
                raise XvfbUnavailableError(
                    f"Xvfb exited or did not report a display within {self.start_timeout_s} s"
                )
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 64)
                if not chunk:
                    raise XvfbUnavailableError("Xvfb closed its display pipe")
                data += chunk
        return int(data.strip())

    def close(self) -> None:
        """Stop every spawned program, disconnect and stop the server (idempotent)."""
        with self._lock:
            children, self._children = self._children, []
            server, self._server = self._server, None
            connection, self._x = self._x, None
        for child in children:
            _kill_group(child)
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
        if server is not None:
            _kill_group(server)
        _LIVE.discard(self)

    def __enter__(self) -> XvfbSandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- programs on the display -------------------------------------------------------------
    def spawn(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` on this display (``DISPLAY`` set, its own process group); the sandbox
        stops it on :meth:`close`."""
        self.start()
        env = dict(popen_kwargs.pop("env", None) or os.environ)
        env["DISPLAY"] = str(self.display_name)
        proc = subprocess.Popen(list(argv), env=env, start_new_session=True, **popen_kwargs)
        with self._lock:
            self._children = [c for c in self._children if c.poll() is None] + [proc]
        return proc

    def stop(self, proc: subprocess.Popen[Any]) -> None:
        """Stop one spawned program (and its process group)."""
        _kill_group(proc)
        with self._lock:
            self._children = [c for c in self._children if c is not proc]

    # -- screenshots -------------------------------------------------------------------------
    def screenshot(self) -> np.ndarray:
        """The screen as uint8 (height, width, 3)."""
        from Xlib import X

        with self._lock:
            x = self._connection()
            root = x.screen().root
            image = root.get_image(0, 0, self.width, self.height, X.ZPixmap, 0xFFFFFFFF)
        data = np.frombuffer(image.data, dtype=np.uint8)
        pixels = data.reshape(self.height, self.width, 4)  # BGRX, 32 bits per pixel
        return np.ascontiguousarray(pixels[:, :, 2::-1])

    # -- input -------------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._x is None:
            raise RuntimeError("the virtual display is not running; call start()")
        return self._x

    def _fake(self, event_type: int, detail: int = 0, x: int | None = None,
              y: int | None = None) -> None:
        from Xlib.ext import xtest

        if x is None:
            xtest.fake_input(self._connection(), event_type, detail)
        else:
            xtest.fake_input(self._connection(), event_type, detail, x=int(x), y=int(y or 0))

    def _check_point(self, x: float, y: float) -> None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ValueError(f"({x}, {y}) is outside the {self.width}x{self.height} screen")

    def _new_click_sequence(self, x: float, y: float) -> None:
        """Wait, if needed, so that this click does not extend the last one into a double or
        triple click: toolkits chain presses less than about half a second apart at nearly the
        same spot (Tk: 500 ms). Only a click within :data:`CLICK_SLOP_PX` of the last press and
        sooner than :data:`CLICK_GAP_S` after it waits."""
        last = self._last_press
        if last is not None and abs(x - last[1]) <= CLICK_SLOP_PX and abs(
            y - last[2]
        ) <= CLICK_SLOP_PX:
            wait = CLICK_GAP_S - (time.monotonic() - last[0])
            if wait > 0:
                time.sleep(wait)

    def move(self, x: float, y: float) -> None:
        """Move the pointer to (x, y)."""
        from Xlib import X

        self._check_point(x, y)
        with self._lock:
            self._fake(X.MotionNotify, x=round(x), y=round(y))
            self._connection().sync()

    def click(self, x: float, y: float, *, button: int = 1, count: int = 1) -> None:
        """Click ``button`` at (x, y) ``count`` times (2: a double click)."""
        from Xlib import X

        self._check_point(x, y)
        with self._lock:
            self._new_click_sequence(x, y)
            self._fake(X.MotionNotify, x=round(x), y=round(y))
            for _ in range(max(1, count)):
                self._fake(X.ButtonPress, button)
                self._fake(X.ButtonRelease, button)
            self._connection().sync()
            self._last_press = (time.monotonic(), x, y)

    def drag(self, x1: float, y1: float, x2: float, y2: float, *, steps: int = 8) -> None:
        """Press the left button at (x1, y1), move to (x2, y2) in ``steps`` moves, release."""
        from Xlib import X

        self._check_point(x1, y1)
        self._check_point(x2, y2)
        with self._lock:
            self._fake(X.MotionNotify, x=round(x1), y=round(y1))
            self._fake(X.ButtonPress, 1)
            for i in range(1, max(1, steps) + 1):
                t = i / max(1, steps)
                self._fake(X.MotionNotify, x=round(x1 + (x2 - x1) * t), y=round(y1 + (y2 - y1) * t))
            self._fake(X.ButtonRelease, 1)
            self._connection().sync()

    def scroll(self, dx: float, dy: float, *, step_px: int = 40) -> None:
        """Turn the wheel where the pointer is: one notch (buttons 4/5, 6/7) per ``step_px``."""
        from Xlib import X

        with self._lock:
            for amount, (back, forward) in ((dy, (4, 5)), (dx, (6, 7))):
                notches = min(50, round(abs(amount) / step_px)) or (1 if amount else 0)
                button = forward if amount > 0 else back
                for _ in range(notches):
                    self._fake(X.ButtonPress, button)
                    self._fake(X.ButtonRelease, button)
            self._connection().sync()

    def _keycode(self, keysym: int) -> tuple[int, bool]:
        """(keycode, needs shift) for ``keysym``, or raises ValueError."""
        x = self._connection()
        for keycode, index in x.keysym_to_keycodes(keysym):
            if index in (0, 1):
                return keycode, index == 1
        raise ValueError(f"the virtual keyboard has no key for keysym {keysym:#x}")

    def _keysym(self, name: str) -> int:
        from Xlib import XK

        if len(name) == 1:
            return ord(name)  # Latin-1 keysyms equal their code points
        keysym = XK.string_to_keysym(KEYSYMS.get(name, name))
        if not keysym:
            raise ValueError(f"unknown key {name!r}")
        return keysym

    def key(self, chord: Sequence[str]) -> None:
        """Press a chord of canonical key names (modifiers first), then release it."""
        from Xlib import X

        with self._lock:
            codes = []
            for name in chord:
                code, shift = self._keycode(self._keysym(name))
                if shift and len(name) == 1:
                    codes.append(self._keycode(self._keysym("Shift"))[0])
                codes.append(code)
            for code in codes:
                self._fake(X.KeyPress, code)
            for code in reversed(codes):
                self._fake(X.KeyRelease, code)
            self._connection().sync()

    def type_text(self, text: str) -> None:
        """Type printable ASCII text key by key (``\\n`` is Enter, ``\\t`` is Tab).

        Raises:
            ValueError: a character the virtual keyboard cannot type (nothing is typed).
        """
        names = []
        for char in text:
            if char == "\n":
                names.append("Enter")
            elif char == "\t":
                names.append("Tab")
            elif " " <= char <= "~":
                names.append(char)
            else:
                raise ValueError(f"cannot type {char!r}: only printable ASCII is typed")
        with self._lock:
            for name in names:
                self._keycode(self._keysym(name))  # every key exists before any is pressed
            for name in names:
                self.key([name])

    def sync(self) -> None:
        """Wait until the server has handled every request sent so far."""
        with self._lock:
            self._connection().sync()


_LIVE: weakref.WeakSet[XvfbSandbox] = weakref.WeakSet()


def _close_all() -> None:
    for sandbox in list(_LIVE):
        with contextlib.suppress(Exception):
            sandbox.close()


def live_sandboxes() -> int:
    """How many virtual displays this process has running."""
    return sum(1 for sandbox in list(_LIVE) if sandbox.running)
