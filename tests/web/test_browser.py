"""The browser mode: BrowserSandbox on the system Chromium and agentgym/WebShopBrowser-v0.

These tests run for real (CI installs Debian's chromium); without Chromium they fail with the
sandbox's one-line install hint.
"""

from __future__ import annotations

import http.server
import threading

import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import agentgym
from agentgym.envs.web.webshop import server as shop_server
from agentgym.envs.web.webshop.browser_env import WebShopBrowserEnv
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.sandboxes import browser as browser_mod
from agentgym.sandboxes.browser import (
    BrowserSandbox,
    BrowserUnavailableError,
    check_browser,
)

SMALL = (400, 300)


def _require_chromium() -> None:
    try:
        check_browser()
    except BrowserUnavailableError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    """A machine without Chromium: nothing at the default path, on PATH or in the variable."""
    monkeypatch.setattr(browser_mod, "DEFAULT_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(browser_mod.CHROMIUM_ENV, raising=False)


@pytest.fixture(scope="module")
def page_server():
    html = b"<html><body style='background:#ff0000'><h1>Hello</h1><a id='go' href='/b'>go</a>"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = html if self.path == "/" else b"<html><body><p>second page</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_missing_chromium_is_one_clear_line(no_chromium, tmp_path):
    with pytest.raises(BrowserUnavailableError) as caught:
        check_browser()
    message = str(caught.value)
    assert "\n" not in message and "apt-get install chromium" in message
    assert "$AGENTGYM_CHROMIUM (unset)" in message and str(tmp_path / "no-chromium") in message
    with pytest.raises(BrowserUnavailableError, match=r"not found \(looked at /nonexistent/c"):
        BrowserSandbox("/nonexistent/chromium").start()
    assert browser_mod.BrowserNotFoundError is BrowserUnavailableError  # the former name


def test_a_chromium_named_in_the_variable_is_used_or_reported(monkeypatch, tmp_path):
    """$AGENTGYM_CHROMIUM is an explicit choice: a wrong path is an error, not a silent
    fallback to another browser."""
    monkeypatch.setenv(browser_mod.CHROMIUM_ENV, str(tmp_path / "missing-chromium"))
    with pytest.raises(BrowserUnavailableError, match=r"AGENTGYM_CHROMIUM=.*missing-chromium"):
        check_browser()


def test_browser_env_without_chromium_fails_at_reset_and_holds_nothing(no_chromium):
    servers = len(shop_server.running_servers())
    env = WebShopBrowserEnv(viewport=SMALL)
    with pytest.raises(BrowserUnavailableError, match="apt-get install chromium"):
        env.reset(seed=0)
    assert len(shop_server.running_servers()) == servers  # the shop it started is released
    assert browser_mod._SHARED.holders("browser") == 0
    with pytest.raises(ResetNeeded):
        env.step("search[shoes]")
    env.close()


def test_a_release_whose_close_fails_does_not_leak_its_context():
    _require_chromium()
    with BrowserSandbox(viewport=SMALL, pool_size=0) as sandbox:
        kept = sandbox.new_page()
        failing = sandbox.new_page()
        assert sandbox.open_contexts() == 2
        sandbox.timeout_s = 1e-9  # the close cannot be confirmed in time: a real TimeoutError
        failing.release()
        sandbox.timeout_s = 30.0
        assert sandbox.cleanup_failures == 1 and sandbox.leaked_contexts == 1
        # the next page is handed out only after the failed context is really closed
        other = sandbox.new_page()
        assert sandbox.leaked_contexts == 0
        assert sandbox.open_contexts() == 2  # kept and other; the failed one is gone
        kept.release()
        other.release()
        assert sandbox.open_contexts() == 0 and sandbox.open_pages == 0


def test_sandbox_pages_screenshots_and_cleanup(page_server):
    _require_chromium()
    with BrowserSandbox(viewport=SMALL) as sandbox:
        pages = [sandbox.new_page() for _ in range(3)]
        results = []

        def visit(page):
            page.goto(page_server + "/")
            results.append(page.screenshot())

        threads = [threading.Thread(target=visit, args=(p,)) for p in pages]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 3
        for image in results:
            assert image.shape == (300, 400, 3) and image.dtype == np.uint8
            assert tuple(image[-1, -1]) == (255, 0, 0)  # the page background
        page = pages[0]
        assert 'heading "Hello"' in page.accessibility_tree()
        page.click("#go")
        assert "second page" in page.content() and page.url.endswith("/b")
        for p in pages:
            p.release()
        assert sandbox.open_pages == 0
        assert sandbox.open_contexts() <= sandbox.pool_size  # only fresh spares remain
        fresh = sandbox.new_page()
        assert fresh.url == "about:blank" and fresh.evaluate("history.length") == 1
        fresh.release()
    assert not sandbox.running
    with pytest.raises(RuntimeError):
        sandbox.run(_noop())


async def _noop():
    return None


def test_shared_browser_is_closed_by_the_last_release():
    _require_chromium()
    a = browser_mod.acquire_browser(viewport=SMALL)
    b = browser_mod.acquire_browser()
    assert a is b and a.running
    browser_mod.release_browser()
    assert a.running
    browser_mod.release_browser()
    assert not a.running


def test_browser_env_observation_and_check_env():
    _require_chromium()
    env = WebShopBrowserEnv(viewport=SMALL, accessibility_in_text=True)
    try:
        obs, info = env.reset(seed=0)
        assert set(obs) == {"text", "image"} and env.observation_space.contains(obs)
        assert obs["image"].shape == (300, 400, 3)
        assert "Accessibility tree:" in obs["text"] and 'textbox "Search..."' in obs["text"]
        obs, _, _, _, info = env.step("click[nothing]")
        assert not info["action_valid"] and obs["text"].startswith("Invalid action:")
        assert 'button "Search"' in info["accessibility_tree"]
    finally:
        env.close()
    report = agentgym.check_env("agentgym/WebShopBrowser-v0", make_kwargs={"viewport": SMALL})
    assert report.ok and report.expert_successes == 2


@pytest.mark.slow
def test_browser_and_text_modes_agree_on_20_goals():
    """The expert's actions in text mode, replayed as clicks and typing in Chromium, reach the
    same pages (same text observations) and the same rewards."""
    _require_chromium()
    text_env = WebShopEnv(split="test")
    browser_env = WebShopBrowserEnv(split="test", viewport=SMALL)
    try:
        for goal_index in range(0, 500, 25):
            text_obs, _ = text_env.reset(options={"goal_index": goal_index})
            browser_obs, _ = browser_env.reset(options={"goal_index": goal_index})
            assert browser_obs["text"] == text_obs
            rewards = []
            for _ in range(15):
                action = text_env.expert_action()
                text_obs, r_text, term, trunc, text_info = text_env.step(action)
                browser_obs, r_browser, b_term, _, b_info = browser_env.step(action)
                assert browser_obs["text"] == text_obs, (goal_index, action)
                assert b_info["state_key"] == text_info["state_key"]
                assert (r_browser, b_term) == (r_text, term)
                rewards.append(r_text)
                if term or trunc:
                    break
            assert rewards[-1] == 1.0 and b_info["task_score"] == text_info["task_score"]
    finally:
        text_env.close()
        browser_env.close()
