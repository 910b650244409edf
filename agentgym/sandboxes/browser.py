"""``BrowserSandbox``: the system Chromium driven by Playwright, shared by many environments.

One Chromium process serves every environment of the process. Each :class:`BrowserPage` lives in
its own, never reused browser context (an incognito-like profile: its own cookies, local and
session storage, IndexedDB, cache and service workers), so nothing a page leaves behind — storage,
a popup, a pending timer — can reach another page: releasing a page closes its context with every
page, popup and timer in it. Contexts whose closing fails are kept and closed again later (and
with the browser), never handed out. Fresh contexts are prepared in the background so that
:meth:`BrowserSandbox.new_page` rarely waits for one. Service workers are blocked.

Playwright objects are bound to the event loop that created them, so the sandbox runs
Playwright's *async* API on one dedicated thread with its own event loop; every call from any
thread (e.g. a rollout's thread pool) is submitted to that loop and waited for, and calls on
different pages run concurrently inside the one browser.

Chromium is the Debian package (``/usr/bin/chromium``), launched through Playwright's
``executable_path`` (never ``playwright install``) with flags that keep it off the network. The
browser is started lazily, and closed by :meth:`BrowserSandbox.close`, when the last user of the
shared sandbox releases it (:func:`acquire_browser`, :class:`~agentgym.core.resources.
SharedResources`) and at interpreter exit or on SIGINT/SIGTERM (:func:`~agentgym.core.resources.
on_exit`). :func:`check_browser` is a cheap preflight (no launch) for command-line tools.

::

    with BrowserSandbox() as browser:
        page = browser.new_page()
        page.goto("http://127.0.0.1:8000/")
        image = page.screenshot()          # uint8 (H, W, 3)
        page.release()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import io
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from agentgym.core.resources import SharedResources, on_exit

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Where Debian installs Chromium.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Environment variable naming the Chromium executable to use.
CHROMIUM_ENV = "AGENTGYM_CHROMIUM"
#: Launch flags: no sandbox (root in containers), no GPU and no background network traffic.
LAUNCH_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--disable-smooth-scrolling",  # a wheel turn scrolls at once: screenshots follow the input
    "--disable-partial-raster",  # repaint whole tiles: pixels do not depend on repaint history
    "--font-render-hinting=none",
)
_INSTALL_HINT = (
    f"install it with `apt-get install chromium`, or set {CHROMIUM_ENV} to a Chromium executable"
)


class BrowserUnavailableError(RuntimeError):
    """Chromium (or Playwright) is missing or does not start; the one-line message says what to
    do."""


#: The former name of :class:`BrowserUnavailableError`.
BrowserNotFoundError = BrowserUnavailableError


def find_chromium(executable_path: str | None = None) -> str:
    """The Chromium executable to use: ``executable_path`` if given, else ``$AGENTGYM_CHROMIUM``
    if set, else the first of ``/usr/bin/chromium`` and ``chromium``/``chromium-browser`` on
    ``PATH``. An explicit choice (the argument or the variable) is used or reported, never
    silently replaced by another browser.

    Raises:
        BrowserUnavailableError: none exists (the message lists where it looked).
    """
    explicit = executable_path or os.environ.get(CHROMIUM_ENV) or None
    if explicit:
        candidates: list[str | None] = [explicit]
    else:
        candidates = [DEFAULT_CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    if executable_path:
        where = executable_path
    elif explicit:
        where = f"${CHROMIUM_ENV}={explicit}"
    else:
        where = (f"${CHROMIUM_ENV} (unset), {DEFAULT_CHROMIUM}, chromium and chromium-browser "
                 "on PATH")
    raise BrowserUnavailableError(f"Chromium not found (looked at {where}): {_INSTALL_HINT}")


def check_browser(executable_path: str | None = None) -> None:
    """Cheap preflight for the browser environments: Chromium exists and Playwright imports.

    Launches nothing (call it before playing, so a missing browser is one clear line instead of
    failed episodes).

    Raises:
        BrowserUnavailableError: with a one-line message saying what to install.
    """
    find_chromium(executable_path)
    if importlib.util.find_spec("playwright") is None:
        raise BrowserUnavailableError(
            "Playwright is missing: pip install 'agentgym[web]' (it uses the system Chromium; "
            "never `playwright install`)"
        )


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> uint8 array of shape (H, W, 3)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


class BrowserPage:
    """One page in its own browser context; every method blocks until the browser is done.

    Obtain pages from :meth:`BrowserSandbox.new_page`; give them back with :meth:`release`,
    which closes the context (and every popup it opened).
    """

    def __init__(self, sandbox: BrowserSandbox, context: Any, page: Any) -> None:
        self._sandbox = sandbox
        self._context = context
        self._page = page
        self.released = False

    @property
    def url(self) -> str:
        return str(self._page.url)

    @property
    def context(self) -> Any:
        """The Playwright ``BrowserContext`` (use it through :meth:`BrowserSandbox.run`)."""
        return self._context

    def _run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        if self.released:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise RuntimeError("this browser page was released")
        return self._sandbox.run(coro, timeout=timeout)

    def goto(self, url: str, *, wait_until: str = "load") -> None:
        """Load ``url`` and wait for the ``wait_until`` event (``load``, ``domcontentloaded``)."""
        self._run(self._page.goto(url, wait_until=wait_until))

    def call(self, fn: Callable[[Any], Awaitable[T]], timeout: float | None = None) -> T:
        """Run ``fn(page)`` on the browser's event loop, where ``page`` is the Playwright (async)
        ``Page``: several operations in one call cross threads once."""
        return self._run(fn(self._page), timeout=timeout)

    # -- a virtual clock: page time follows the caller, not the wall ---------------------------
    def install_clock(self, time_s: float) -> None:
        """Replace the page's timers and ``Date`` with a paused fake clock at ``time_s`` (Unix
        seconds); from now on page time only moves through :meth:`advance_clock`. Call before
        :meth:`goto` (it applies to every later navigation of the page's context)."""

        async def go() -> None:
            clock = self._context.clock
            await clock.install(time=time_s)
            await clock.pause_at(time_s + 60)  # (the page's clock may have run a little)
            await clock.set_system_time(time_s)

        self._run(go())

    def set_clock(self, time_s: float) -> None:
        """Set the fake clock to ``time_s`` (also backwards) without firing timers."""
        self._run(self._context.clock.set_system_time(time_s))

    def advance_clock(self, ms: float) -> None:
        """Move the fake clock ``ms`` milliseconds forward, firing the timers due on the way."""
        self._run(self._context.clock.run_for(int(ms)))

    # -- real input at viewport coordinates (CSS pixels) -------------------------------------
    def mouse_click(self, x: float, y: float, *, click_count: int = 1) -> None:
        """Move the mouse to (x, y) and click (``click_count=2``: a double click)."""
        self._run(self._page.mouse.click(x, y, click_count=click_count))

    def mouse_move(self, x: float, y: float) -> None:
        """Move the mouse to (x, y) (hover)."""
        self._run(self._page.mouse.move(x, y))

    def mouse_drag(self, x1: float, y1: float, x2: float, y2: float, *, steps: int = 5) -> None:
        """Press at (x1, y1), move to (x2, y2) in ``steps`` moves, release."""

        async def go() -> None:
            mouse = self._page.mouse
            await mouse.move(x1, y1)
            await mouse.down()
            await mouse.move(x2, y2, steps=max(1, steps))
            await mouse.up()

        self._run(go())

    def wheel(self, dx: float, dy: float) -> None:
        """Scroll the mouse wheel by (dx, dy) pixels where the mouse is."""
        self._run(self._page.mouse.wheel(dx, dy))

    def press_key(self, key: str) -> None:
        """Press a key or chord in Playwright's notation (``Enter``, ``Control+a``)."""
        self._run(self._page.keyboard.press(key))

    def type_text(self, text: str) -> None:
        """Type ``text`` key by key (keydown, keypress, input, keyup per character)."""
        self._run(self._page.keyboard.type(text))

    def content(self) -> str:
        """The page's current HTML (the serialized DOM)."""
        return self._run(self._page.content())

    def click(self, selector: str, *, navigates: bool = True) -> None:
        """Click the element matching ``selector`` (waiting for the navigation it starts)."""

        async def go() -> None:
            if navigates:
                async with self._page.expect_navigation(wait_until="load"):
                    await self._page.click(selector)
            else:
                await self._page.click(selector)

        self._run(go())

    def type_and_submit(self, selector: str, text: str) -> None:
        """Fill the input ``selector`` with ``text`` and press Enter (waiting for navigation)."""

        async def go() -> None:
            await self._page.fill(selector, text)
            async with self._page.expect_navigation(wait_until="load"):
                await self._page.press(selector, "Enter")

        self._run(go())

    def screenshot_png(self) -> bytes:
        """The viewport as PNG bytes (CSS animations stopped, the text caret hidden)."""
        return self._run(self._page.screenshot(type="png", animations="disabled", caret="hide"))

    def screenshot(self) -> np.ndarray:
        """The viewport as a uint8 array of shape (H, W, 3)."""
        return decode_png(self.screenshot_png())

    def accessibility_tree(self) -> str:
        """The page's ARIA snapshot (Playwright's YAML accessibility tree of ``body``)."""
        return self._run(self._page.locator("body").aria_snapshot())

    def evaluate(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page."""
        return self._run(self._page.evaluate(expression))

    def release(self) -> None:
        """Close the page's context and everything in it (idempotent)."""
        if not self.released:
            self.released = True
            self._sandbox._release_page(self)


class BrowserSandbox:
    """A Chromium process (Playwright async API on a private event-loop thread) handing out
    pages in fresh browser contexts.

    Args:
        executable_path: the Chromium executable (default: see :func:`find_chromium`).
        viewport: default page size ``(width, height)`` in CSS pixels; screenshots have this
            shape.
        pool_size: fresh contexts (of the default viewport) kept ready for :meth:`new_page`.
        timeout_s: default timeout of every browser operation, in seconds.
        launch_args: Chromium command-line flags.
    """

    def __init__(
        self,
        executable_path: str | None = None,
        *,
        viewport: tuple[int, int] = (800, 600),
        pool_size: int = 2,
        timeout_s: float = 30.0,
        launch_args: tuple[str, ...] = LAUNCH_ARGS,
    ) -> None:
        self.executable_path = executable_path
        self.viewport = (int(viewport[0]), int(viewport[1]))
        self.pool_size = max(0, int(pool_size))
        self.timeout_s = timeout_s
        self.launch_args = launch_args
        #: Contexts whose closing failed (each is retried later; counted, logged).
        self.cleanup_failures = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._spares: list[tuple[Any, Any]] = []
        self._refilling = False
        self._zombies: list[tuple[Any, concurrent.futures.Future[Any]]] = []
        self._closing = False
        self._pages: weakref.WeakSet[BrowserPage] = weakref.WeakSet()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._browser is not None

    def start(self) -> BrowserSandbox:
        """Launch Chromium (idempotent).

        Raises:
            BrowserUnavailableError: Chromium or Playwright is missing, or Chromium does not
                start.
        """
        with self._lock:
            if self._browser is not None:
                return self
            path = find_chromium(self.executable_path)
            check_browser(path)
            try:
                from playwright.async_api import async_playwright
            except ImportError as exc:
                raise BrowserUnavailableError(
                    f"Playwright does not import ({_first_line(exc)}): pip install 'agentgym[web]'"
                ) from exc

            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="agentgym-browser", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread

            async def launch() -> tuple[Any, Any]:
                playwright = await async_playwright().start()
                try:
                    browser = await playwright.chromium.launch(
                        executable_path=path, headless=True, args=list(self.launch_args)
                    )
                except BaseException:
                    await playwright.stop()
                    raise
                return playwright, browser

            try:
                self._playwright, self._browser = self.run(launch(), timeout=60)
            except Exception as exc:
                self._stop_loop()
                raise BrowserUnavailableError(
                    f"could not launch Chromium at {path} ({_first_line(exc)}): {_INSTALL_HINT}"
                ) from exc
            _LIVE.add(self)
            on_exit(_close_all)
        self._schedule_refill()
        return self

    def close(self) -> None:
        """Close every context, the browser and the event-loop thread (idempotent)."""
        with self._lock:
            if self._loop is None or self._closing:
                return
            self._closing = True
            browser, playwright = self._browser, self._playwright
            self._browser = self._playwright = None
            self._spares.clear()
            self._zombies.clear()

        async def shutdown() -> None:
            with contextlib.suppress(Exception):
                if browser is not None:
                    await browser.close()
            with contextlib.suppress(Exception):
                if playwright is not None:
                    await playwright.stop()

        try:  # not under the lock: the loop's own tasks take it
            with contextlib.suppress(Exception):
                self.run(shutdown(), timeout=30)
            self._stop_loop()
        finally:
            self._closing = False
        _LIVE.discard(self)

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if loop is not None and not loop.is_running():
            loop.close()

    def __enter__(self) -> BrowserSandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- running work on the browser thread --------------------------------------------------
    def run(
        self, coro: Awaitable[T], timeout: float | None = None, *, cancel_on_timeout: bool = True
    ) -> T:
        """Run ``coro`` on the browser's event loop and return its result.

        Raises:
            TimeoutError: it took longer than ``timeout`` (default :attr:`timeout_s`); the
                coroutine is cancelled unless ``cancel_on_timeout`` is False.
        """
        loop = self._loop
        if loop is None:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise RuntimeError("the browser sandbox is not running; call start()")
        future = asyncio.run_coroutine_threadsafe(coro, loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout=timeout or self.timeout_s)
        except TimeoutError:
            if cancel_on_timeout:
                future.cancel()
            raise

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run the coroutine function ``fn`` on the browser's event loop."""
        return self.run(fn(), timeout=timeout)

    # -- contexts and pages ------------------------------------------------------------------
    async def _new_context(self, viewport: tuple[int, int]) -> tuple[Any, Any]:
        width, height = viewport
        context = await self._browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            service_workers="block",
            accept_downloads=False,
        )
        context.set_default_timeout(self.timeout_s * 1000)
        try:
            return context, await context.new_page()
        except BaseException:
            await context.close()
            raise

    def _schedule_refill(self) -> None:
        """Prepare fresh contexts of the default viewport in the background."""
        with self._lock:
            if self._refilling or self._loop is None or len(self._spares) >= self.pool_size:
                return
            self._refilling = True
            loop = self._loop

        async def refill() -> None:
            try:
                while True:
                    with self._lock:
                        if self._browser is None or len(self._spares) >= self.pool_size:
                            return
                    spare = await self._new_context(self.viewport)
                    with self._lock:
                        if self._browser is None:
                            keep = False
                        else:
                            self._spares.append(spare)
                            keep = True
                    if not keep:
                        with contextlib.suppress(Exception):
                            await spare[0].close()
                        return
            except Exception as exc:  # the next new_page creates its context itself
                if self._browser is not None:  # (a closing browser fails its refill quietly)
                    logger.warning("could not prepare a browser context: %s", _first_line(exc))
            finally:
                with self._lock:
                    self._refilling = False

        asyncio.run_coroutine_threadsafe(refill(), loop)

    def new_page(self, viewport: tuple[int, int] | None = None) -> BrowserPage:
        """A page in a fresh browser context that no page has used before.

        Args:
            viewport: page size; default :attr:`viewport`.
        """
        self.start()
        self._reap_zombies()
        size = self.viewport if viewport is None else (int(viewport[0]), int(viewport[1]))
        spare = None
        if size == self.viewport:
            with self._lock:
                if self._spares:
                    spare = self._spares.pop()
        context, page = spare if spare is not None else self.run(self._new_context(size))
        self._schedule_refill()
        handle = BrowserPage(self, context, page)
        self._pages.add(handle)
        return handle

    def _release_page(self, handle: BrowserPage) -> None:
        """Close ``handle``'s context; if that fails, keep the context to close it later."""
        loop = self._loop
        if loop is None:
            return
        # a close that times out goes on in the background (it is never half-cancelled)
        closing = asyncio.run_coroutine_threadsafe(handle._context.close(), loop)
        try:
            closing.result(timeout=self.timeout_s)
        except Exception as exc:
            with self._lock:
                self.cleanup_failures += 1
                self._zombies.append((handle._context, closing))
            logger.warning(
                "closing a released browser context failed (%s); it will be closed again",
                _first_line(exc) if str(exc) else type(exc).__name__,
            )
            return
        self._reap_zombies()

    def _reap_zombies(self) -> None:
        """Finish closing the contexts whose closing failed; keep those still open."""
        with self._lock:
            zombies, self._zombies = self._zombies, []
        if not zombies or self._loop is None:
            return
        left = []
        for context, closing in zombies:
            with contextlib.suppress(Exception):  # wait for the close still in flight
                closing.result(timeout=self.timeout_s)

            async def still_open(context: Any = context) -> bool:
                return self._browser is not None and context in self._browser.contexts

            try:
                if self.run(still_open()):
                    left.append((context, closing))
            except Exception:
                left.append((context, closing))
        if left:
            logger.warning("%d released browser contexts are still open", len(left))
        with self._lock:
            self._zombies.extend(left)

    @property
    def leaked_contexts(self) -> int:
        """Contexts whose closing failed and that are not closed yet."""
        with self._lock:
            return len(self._zombies)

    def open_contexts(self) -> int:
        """Browser contexts alive in Chromium (pages handed out, fresh spares, zombies)."""

        async def count() -> int:
            return len(self._browser.contexts) if self._browser is not None else 0

        return self.run(count())

    @property
    def open_pages(self) -> int:
        """Pages handed out and not yet released."""
        return sum(1 for page in list(self._pages) if not page.released)


# -- one shared sandbox per process, closed by its last user, at exit and on signals -----------
_SHARED: SharedResources[BrowserSandbox] = SharedResources(close=lambda sandbox: sandbox.close())
_LIVE: weakref.WeakSet[BrowserSandbox] = weakref.WeakSet()


def acquire_browser(**kwargs: Any) -> BrowserSandbox:
    """The process-wide shared sandbox (started on first use); pair with
    :func:`release_browser`. ``kwargs`` configure it when it is created.

    Raises:
        BrowserUnavailableError: Chromium cannot be used (nothing is held then).
    """
    return _SHARED.acquire("browser", lambda: BrowserSandbox(**kwargs).start())


def release_browser() -> None:
    """Drop a reference to the shared sandbox; the last one closes the browser."""
    _SHARED.release("browser")


def _close_all() -> None:
    for sandbox in list(_LIVE):
        with contextlib.suppress(Exception):
            sandbox.close()
