"""Sandboxes environments run their side effects in: a real Chromium browser (Playwright) and
docker containers. Each is created lazily at first use and always released, also on errors and
signals. Heavy dependencies (playwright, docker) load only when a sandbox is used."""

from agentgym.sandboxes.browser import (
    BrowserNotFoundError,
    BrowserPage,
    BrowserSandbox,
    BrowserUnavailableError,
    acquire_browser,
    check_browser,
    find_chromium,
    release_browser,
)

__all__ = [
    "BrowserNotFoundError",
    "BrowserPage",
    "BrowserSandbox",
    "BrowserUnavailableError",
    "acquire_browser",
    "check_browser",
    "find_chromium",
    "release_browser",
]
