"""``BrowserSandbox``: the system Chromium driven by Playwright, shared by many environments.

One Chromium process serves every environment of the process: each environment gets a
:class:`BrowserPage` (its own browser context, so cookies and storage are isolated), taken from a
pool of warm pages and given back on release. Playwright objects are bound to the event loop that
created them, so the sandbox runs Playwright's *async* API on one dedicated thread with its own
event loop; every call from any thread (e.g. a rollout's thread pool) is submitted to that loop
and waited for, and calls on different pages run concurrently inside the one browser.

Chromium is the Debian package (``/usr/bin/chromium``), launched through Playwright's
``executable_path`` (never ``playwright install``) with flags that keep it off the network. The
browser is started lazily, and closed by :meth:`BrowserSandbox.close`, at interpreter exit and on
SIGTERM/SIGINT (when the sandbox was started on the main thread).

::

    with BrowserSandbox() as browser:
        page = browser.new_page()
        page.goto("http://127.0.0.1:8000/")
        image = page.screenshot()          # uint8 (H, W, 3)
        page.release()
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import os
import shutil
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

#: Where Debian installs Chromium.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Launch flags: no sandbox (root in containers), no GPU and no background network traffic.
LAUNCH_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--font-render-hinting=none",
)


class BrowserNotFoundError(RuntimeError):
    """Chromium (or Playwright) is missing; the message says how to install it."""


def find_chromium(executable_path: str | None = None) -> str:
    """The Chromium executable to use: ``executable_path`` if given, else the first of
    ``$AGENTGYM_CHROMIUM``, ``/usr/bin/chromium`` and ``chromium`` on ``PATH``.

    Raises:
        BrowserNotFoundError: none exists.
    """
    if executable_path:
        candidates = [executable_path]  # an explicit path is used or reported, never replaced
    else:
        candidates = [
            os.environ.get("AGENTGYM_CHROMIUM"),
            DEFAULT_CHROMIUM,
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
        ]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise BrowserNotFoundError(
        f"Chromium not found at {executable_path or DEFAULT_CHROMIUM}: install it with "
        "`apt-get install chromium` (or set AGENTGYM_CHROMIUM to a Chromium executable)"
    )


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> uint8 array of shape (H, W, 3)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


class BrowserPage:
    """One page in its own browser context; every method blocks until the browser is done.

    Obtain pages from :meth:`BrowserSandbox.new_page`; give them back with :meth:`release`.
    """

    def __init__(self, sandbox: BrowserSandbox, context: Any, page: Any) -> None:
        self._sandbox = sandbox
        self._context = context
        self._page = page
        self.released = False

    @property
    def url(self) -> str:
        return str(self._page.url)

    def _run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        if self.released:
            raise RuntimeError("this browser page was released")
        return self._sandbox.run(coro, timeout=timeout)

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for the ``load`` event."""
        self._run(self._page.goto(url, wait_until="load"))

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

    def screenshot(self) -> np.ndarray:
        """The viewport as a uint8 array of shape (H, W, 3)."""
        data = self._run(self._page.screenshot(type="png", animations="disabled", caret="hide"))
        return decode_png(data)

    def accessibility_tree(self) -> str:
        """The page's ARIA snapshot (Playwright's YAML accessibility tree of ``body``)."""
        return self._run(self._page.locator("body").aria_snapshot())

    def evaluate(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page."""
        return self._run(self._page.evaluate(expression))

    def release(self) -> None:
        """Give the page back to the sandbox's pool (idempotent)."""
        if not self.released:
            self._sandbox._release_page(self)
            self.released = True


class BrowserSandbox:
    """A Chromium process (Playwright async API on a private event-loop thread) and a page pool.

    Args:
        executable_path: the Chromium executable (default: see :func:`find_chromium`).
        viewport: page size ``(width, height)`` in CSS pixels; screenshots have this shape.
        pool_size: warm pages kept for reuse after release.
        timeout_s: default timeout of every browser operation, in seconds.
        launch_args: Chromium command-line flags.
    """

    def __init__(
        self,
        executable_path: str | None = None,
        *,
        viewport: tuple[int, int] = (800, 600),
        pool_size: int = 32,
        timeout_s: float = 30.0,
        launch_args: tuple[str, ...] = LAUNCH_ARGS,
    ) -> None:
        self.executable_path = executable_path
        self.viewport = viewport
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self.launch_args = launch_args
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._pool: list[BrowserPage] = []
        self._pages: weakref.WeakSet[BrowserPage] = weakref.WeakSet()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._browser is not None

    def start(self) -> BrowserSandbox:
        """Launch Chromium (idempotent)."""
        with self._lock:
            if self._browser is not None:
                return self
            path = find_chromium(self.executable_path)
            try:
                from playwright.async_api import async_playwright
            except ImportError as exc:
                raise BrowserNotFoundError(
                    "Playwright is missing: pip install 'agentgym[web]' (and apt-get install "
                    "chromium; never `playwright install`)"
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
                except Exception:
                    await playwright.stop()
                    raise
                return playwright, browser

            try:
                self._playwright, self._browser = self.run(launch(), timeout=60)
            except Exception as exc:
                self._stop_loop()
                raise BrowserNotFoundError(
                    f"could not launch Chromium at {path} ({type(exc).__name__}: {exc}); "
                    "install it with `apt-get install chromium`"
                ) from exc
            _register_cleanup(self)
            return self

    def close(self) -> None:
        """Close every page, the browser and the event-loop thread (idempotent)."""
        with self._lock:
            if self._loop is None:
                return
            browser, playwright = self._browser, self._playwright
            self._browser = self._playwright = None
            self._pool.clear()

            async def shutdown() -> None:
                with contextlib.suppress(Exception):
                    if browser is not None:
                        await browser.close()
                with contextlib.suppress(Exception):
                    if playwright is not None:
                        await playwright.stop()

            with contextlib.suppress(Exception):
                self.run(shutdown(), timeout=30)
            self._stop_loop()

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
    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        """Run ``coro`` on the browser's event loop and return its result."""
        loop = self._loop
        if loop is None:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise RuntimeError("the browser sandbox is not running; call start()")
        future = asyncio.run_coroutine_threadsafe(coro, loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout=timeout or self.timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run the coroutine function ``fn`` on the browser's event loop."""
        return self.run(fn(), timeout=timeout)

    # -- pages -------------------------------------------------------------------------------
    def new_page(self) -> BrowserPage:
        """A page in a fresh (or recycled, cleaned) browser context."""
        self.start()
        with self._lock:
            if self._pool:
                return self._pool.pop()
        width, height = self.viewport

        async def make() -> tuple[Any, Any]:
            context = await self._browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=1
            )
            context.set_default_timeout(self.timeout_s * 1000)
            return context, await context.new_page()

        context, page = self.run(make())
        handle = BrowserPage(self, context, page)
        self._pages.add(handle)
        return handle

    def _release_page(self, handle: BrowserPage) -> None:
        if self._loop is None:
            return

        async def clean() -> None:
            await handle._context.clear_cookies()
            await handle._page.goto("about:blank")

        try:
            keep = len(self._pool) < self.pool_size
            if keep:
                self.run(clean())
            else:
                self.run(handle._context.close())
        except Exception:
            keep = False
        if keep:
            fresh = BrowserPage(self, handle._context, handle._page)
            self._pages.add(fresh)
            with self._lock:
                self._pool.append(fresh)

    @property
    def open_pages(self) -> int:
        """Pages handed out and not yet released."""
        return sum(1 for page in list(self._pages) if not page.released) - len(self._pool)


# -- one shared sandbox per process, closed at exit and on signals -----------------------------
_SHARED: BrowserSandbox | None = None
_SHARED_REFS = 0
_SHARED_LOCK = threading.Lock()
_LIVE: weakref.WeakSet[BrowserSandbox] = weakref.WeakSet()
_HANDLERS_INSTALLED = False


def acquire_browser(**kwargs: Any) -> BrowserSandbox:
    """The process-wide shared sandbox (started on first use); pair with
    :func:`release_browser`. ``kwargs`` configure it when it is created."""
    global _SHARED, _SHARED_REFS
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = BrowserSandbox(**kwargs)
        _SHARED_REFS += 1
        sandbox = _SHARED
    try:
        return sandbox.start()
    except BaseException:
        release_browser()
        raise


def release_browser() -> None:
    """Drop a reference to the shared sandbox; the last one closes the browser."""
    global _SHARED, _SHARED_REFS
    with _SHARED_LOCK:
        _SHARED_REFS = max(0, _SHARED_REFS - 1)
        if _SHARED_REFS or _SHARED is None:
            return
        sandbox, _SHARED = _SHARED, None
    sandbox.close()


def _close_all() -> None:
    for sandbox in list(_LIVE):
        with contextlib.suppress(Exception):
            sandbox.close()


def _register_cleanup(sandbox: BrowserSandbox) -> None:
    global _HANDLERS_INSTALLED
    _LIVE.add(sandbox)
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(_close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(num: int, frame: Any, previous: Any = previous) -> None:
            _close_all()
            if callable(previous):
                previous(num, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(num, signal.SIG_DFL)
                os.kill(os.getpid(), num)

        with contextlib.suppress(ValueError):
            signal.signal(signum, handler)
