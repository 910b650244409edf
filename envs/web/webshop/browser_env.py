"""``agentgym/WebShopBrowser-v0``: the same shop and tasks, played in a real Chromium.

The actions are those of :class:`~agentgym.envs.web.webshop.env.WebShopEnv`, carried out as
real input through Playwright (:class:`agentgym.sandboxes.browser.BrowserSandbox`):
``search[q]`` types ``q`` into the search box and presses Enter (from another page it first
loads the search page, as the original's ``search`` works from any page); ``click[x]`` clicks
the button, product link or option label. The page is then read back from the browser's DOM with
the same parser as the text mode, so both modes see the same text; purchases are scored by the
shop server, as in text mode, and read from its session record, never from the page.

Every episode runs in a fresh browser context (``reset`` closes the previous one), so nothing a
page of one episode stores — cookies, storage, caches, popups, timers — reaches the next.

Observation: ``{"text": str, "image": uint8 (H, W, 3)}`` — the text observation of the chosen
``observation_mode`` and a screenshot of the viewport. The accessibility tree (Playwright's ARIA
snapshot) is ``info["accessibility_tree"]``, and is appended to the text when
``accessibility_in_text=True``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import numpy as np
from gymnasium import spaces

from agentgym.core.spaces import FreeText
from agentgym.envs.web.webshop import pages
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.envs.web.webshop.html_text import Clickable
from agentgym.sandboxes.browser import BrowserPage, acquire_browser, release_browser


class _BrowserDriver:
    """Real clicks and typing in a browser page; a fresh browser context per episode."""

    def __init__(self, base_url: str, viewport: tuple[int, int]) -> None:
        self.base_url = base_url
        self.viewport = viewport
        self._browser = acquire_browser(viewport=viewport)
        self._page: BrowserPage | None = None

    @property
    def page(self) -> BrowserPage:
        if self._page is None:
            raise RuntimeError("no browser page: call reset() first")
        return self._page

    def new_episode(self) -> None:
        """Close the last episode's context (its pages, popups, timers and storage) and open a
        page in a fresh one."""
        old, self._page = self._page, None
        if old is not None:
            old.release()
        self._page = self._browser.new_page(self.viewport)

    def _read(self) -> tuple[str, str]:
        url = self.page.url
        if url.startswith(self.base_url):
            url = url[len(self.base_url) :]
        return url, self.page.content()

    def open(self, url: str) -> tuple[str, str]:
        self.page.goto(self.base_url + url)
        return self._read()

    def search(self, sid: str, query: str) -> tuple[str, str]:
        start = pages.start_url(sid)
        if urlsplit(self.page.url).path != start:
            self.page.goto(self.base_url + start)
        self.page.type_and_submit("#search_input", query)
        return self._read()

    def click(self, clickable: Clickable) -> tuple[str, str]:
        self.page.click(clickable.selector, navigates=True)
        return self._read()

    def close(self) -> None:
        browser, self._browser = self._browser, None
        if browser is None:
            return
        page, self._page = self._page, None
        try:
            if page is not None:
                page.release()
        finally:
            release_browser()


class WebShopBrowserEnv(WebShopEnv):
    """WebShop in Chromium: text + screenshot observations, actions as real input.

    Args:
        viewport: browser viewport ``(width, height)``; the screenshot is (height, width, 3).
        accessibility_in_text: append the accessibility tree to the text observation.
        **kwargs: as :class:`~agentgym.envs.web.webshop.env.WebShopEnv`.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"]}  # noqa: RUF012

    def __init__(
        self,
        *,
        viewport: tuple[int, int] = (800, 600),
        accessibility_in_text: bool = False,
        **kwargs: Any,
    ) -> None:
        render_mode = kwargs.pop("render_mode", None)
        super().__init__(**kwargs)
        if render_mode not in (None, "ansi", "rgb_array"):
            raise ValueError("render_mode must be None, 'ansi' or 'rgb_array'")
        self.render_mode = render_mode
        self.viewport = (int(viewport[0]), int(viewport[1]))
        self.accessibility_in_text = accessibility_in_text
        width, height = self.viewport
        self.observation_space = spaces.Dict(
            {
                "text": FreeText(),
                "image": spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8),
            }
        )
        self._image = np.zeros((height, width, 3), dtype=np.uint8)
        self._axtree = ""

    def _make_driver(self, base_url: str) -> Any:
        return _BrowserDriver(base_url, self.viewport)

    def _load(self, url: str, html: str) -> None:
        super()._load(url, html)
        page = self._driver.page
        self._image = page.screenshot()
        self._axtree = page.accessibility_tree()

    def _with_tree(self, text: str) -> str:
        if self.accessibility_in_text:
            return f"{text}\n\nAccessibility tree:\n{self._axtree}"
        return text

    def _observation(self, prefix: str = "") -> dict[str, Any]:
        text = self._with_tree(prefix + self._text_observation())
        return {"text": text, "image": self._image.copy()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        info["accessibility_tree"] = self._axtree
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        info["accessibility_tree"] = self._axtree
        return obs, reward, terminated, truncated, info

    def render(self) -> Any:
        if self.render_mode == "rgb_array":
            return self._image.copy()
        return super().render()
