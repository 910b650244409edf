"""A page that leaves state for the next episode: nothing it writes reaches the next context.

An episode's page (real Chromium, the shared pooled browser) writes everything a page can leave
behind — local and session storage, a cookie, an IndexedDB database, a Cache Storage entry, a
service-worker registration (blocked), a pending timer and a ``window.open`` popup whose timer
tries to buy the next episode's goal product through its opener. The next episode, on the same
environment and browser, must see none of it and score exactly as without the attack: the
expert's path 1.0, a do-nothing episode 0. A control test shows the attack does buy when a page
is simply reused, so the isolation test can fail.
"""

from __future__ import annotations

import json
import time

import pytest

from agentgym.envs.web.webshop.browser_env import WebShopBrowserEnv
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.sandboxes.browser import BrowserSandbox, BrowserUnavailableError, check_browser

SMALL = (400, 300)
GOAL_A, GOAL_B = 10, 11


def _require_chromium() -> None:
    try:
        check_browser()
    except BrowserUnavailableError as exc:
        pytest.fail(str(exc))


def attack_script(base: str, own_sid: str, asin: str, options: dict[str, str]) -> str:
    """A page function that leaves every kind of state behind; its popup buys ``asin`` with
    ``options`` for any *other* session its opener shows later."""
    done = f"{base}/done/"
    query = "?options=" + json.dumps(options, sort_keys=True, separators=(",", ":"))
    popup_code = (
        "setInterval(() => { try {"
        " const m = window.opener.location.pathname.match(/^\\/(?:[a-z_]+\\/)?([0-9a-f]{32})/);"
        f" if (m && m[1] !== {json.dumps(own_sid)}) fetch({json.dumps(done)} + m[1] + "
        f"{json.dumps('/' + asin + query)});"
        " } catch (e) {} }, 20);"
    )
    return f"""async () => {{
        localStorage.setItem("evil", "1");
        sessionStorage.setItem("evil", "1");
        document.cookie = "evil=1; path=/; max-age=86400";
        await new Promise((resolve, reject) => {{
            const request = indexedDB.open("evil", 1);
            request.onupgradeneeded = () => request.result.createObjectStore("store");
            request.onsuccess = () => {{ request.result.close(); resolve(); }};
            request.onerror = () => reject(request.error);
        }});
        const cache = await caches.open("evil");
        await cache.put({json.dumps(base + "/evil")}, new Response("evil"));
        let worker = "registered";
        try {{ await navigator.serviceWorker.register("/sw.js"); }}
        catch (error) {{ worker = "refused"; }}
        setInterval(() => document.querySelector("#btn-buy-now")?.click(), 20);
        const popup = window.open("about:blank", "evil");
        popup.eval({json.dumps(popup_code)});
        return worker;
    }}"""


LEFTOVERS = """async () => ({
    local: localStorage.length,
    session: sessionStorage.length,
    cookie: document.cookie,
    idb: (await indexedDB.databases()).length,
    caches: (await caches.keys()).length,
    workers: navigator.serviceWorker
        ? (await navigator.serviceWorker.getRegistrations()).length : 0,
})"""
CLEAN = {"local": 0, "session": 0, "cookie": "", "idb": 0, "caches": 0, "workers": 0}


def play_expert(env) -> list[float]:
    rewards = []
    for _ in range(15):
        *_, reward, terminated, _truncated, _info = env.step(env.expert_action())
        rewards.append(reward)
        if terminated:
            break
    return rewards


@pytest.fixture(scope="module")
def reference():
    """The expert's rewards on goal B with no browser at all (text mode)."""
    env = WebShopEnv(split="test")
    try:
        env.reset(options={"goal_index": GOAL_B})
        return play_expert(env)
    finally:
        env.close()


def test_control_a_reused_page_is_attacked(reference):
    """Without a fresh context, the popup left by episode A buys in episode B's session."""
    _require_chromium()
    text_env = WebShopEnv(split="test")
    text_env.reset(options={"goal_index": GOAL_A})
    server = text_env._server
    goal_b = server.catalog.goals[GOAL_B]
    with BrowserSandbox(viewport=SMALL, pool_size=0) as sandbox:
        page = sandbox.new_page()
        page.goto(server.start_url("a" * 32, GOAL_A))
        page.evaluate(attack_script(server.url, "a" * 32, goal_b["asin"], goal_b["goal_options"]))
        sid_b = "b" * 32
        page.goto(server.start_url(sid_b, GOAL_B))  # the same page, as agentgym 0.1 did
        deadline = time.monotonic() + 30
        while server.outcome(sid_b) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome = server.outcome(sid_b)
        page.release()
    text_env.close()
    assert outcome is not None, "the attack did not buy: this test could not detect a leak"
    assert outcome[0] == reference[-1] == 1.0  # it bought the goal product for a perfect score


def test_next_episode_sees_nothing_and_scores_as_fresh(reference):
    _require_chromium()
    env = WebShopBrowserEnv(split="test", viewport=SMALL)
    try:
        # episode A: the page leaves everything it can behind
        env.reset(options={"goal_index": GOAL_A})
        goal_b = env.catalog.goals[GOAL_B]
        page_a = env._driver.page
        sandbox = page_a._sandbox
        page_a.evaluate(
            attack_script(env._server.url, env._sid, goal_b["asin"], goal_b["goal_options"])
        )
        left = page_a.evaluate(LEFTOVERS)  # the state was really written
        assert left["local"] == left["session"] == left["idb"] == left["caches"] == 1
        assert left["cookie"] == "evil=1"
        assert left["workers"] == 0  # service workers are blocked in agentgym's contexts
        assert len(page_a.context.pages) == 2  # the popup is open
        env.step(env.expert_action())  # a search: the page's own timer dies with it

        # episode B does nothing: invalid actions only
        env.reset(options={"goal_index": GOAL_B})
        sid_b, page_b = env._sid, env._driver.page
        assert page_b.context is not page_a.context
        assert sandbox.run(_alive(sandbox, page_a.context)) is False  # A's context is closed
        assert len(page_b.context.pages) == 1  # no popup
        state = sandbox.run(page_b.context.storage_state(indexed_db=True))
        assert state == {"cookies": [], "origins": []}
        assert page_b.evaluate(LEFTOVERS) == CLEAN
        rewards = [env.step("click[nothing here]")[1] for _ in range(5)]
        time.sleep(1.0)  # give any surviving timer (there is none) time to act
        assert rewards == [0.0] * 5
        assert env._server.outcome(sid_b) is None  # nothing was bought in B's session
        *_, info = env.step("search[anything]")
        assert not info.get("task_score") and info["reward_parts"] == {"score": 0.0}

        # episode C: the expert on the same goal scores exactly as without a browser
        env.reset(options={"goal_index": GOAL_B})
        assert play_expert(env) == reference and reference[-1] == 1.0
    finally:
        env.close()


async def _alive(sandbox: BrowserSandbox, context) -> bool:
    return context in sandbox._browser.contexts
