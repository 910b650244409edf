"""agentgym/WebShop-v0: the shop over HTTP, actions, observations, rewards and the expert."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from gymnasium.error import ResetNeeded

import agentgym
from agentgym.core.checker import GARBAGE_ACTIONS
from agentgym.envs.web.webshop import server as shop_server
from agentgym.envs.web.webshop.env import SUCCESS_REWARD, WebShopEnv


@pytest.fixture
def env():
    env = WebShopEnv(split="test")
    yield env
    env.close()


def play_expert(env, **reset_kwargs):
    env.reset(**reset_kwargs)
    actions, step_info, reward = [], {}, 0.0
    for _ in range(15):
        action = env.expert_action()
        actions.append(action)
        _obs, reward, terminated, truncated, step_info = env.step(action)
        if terminated or truncated:
            break
    return actions, reward, step_info


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_server_is_shared_and_stopped_when_the_last_env_closes():
    a, b = WebShopEnv(), WebShopEnv()
    a.reset(seed=0)
    b.reset(seed=1)
    assert a._server is b._server
    port = a._server.port
    assert _port_open(port)
    assert requests.get(f"http://127.0.0.1:{port}/nosuchsession", timeout=5).status_code == 404
    a.close()
    assert _port_open(port)
    b.close()
    assert not _port_open(port), "the shop must stop when its last environment closes"
    assert shop_server.running_servers() == []


def test_page_flow_and_observation(env):
    obs, info = env.reset(seed=3)
    assert obs.startswith("WebShop [SEP] Instruction: [SEP] ")
    assert info["instruction"] in obs and info["state_key"] == "search"
    assert env.admissible_actions() == ["search[<your query>]"]
    goal = env.catalog.goals[info["goal_index"]]
    obs, reward, terminated, _truncated, info = env.step(f"search[{goal['query']}]")
    assert info["action_valid"] and reward == 0.0 and not terminated
    assert "Page 1 (Total results: 50)" in obs and "Next >" in obs and "< Prev" not in obs
    assert info["state_key"] == f"results|q={goal['query']}|page=1"
    first_page = [a for a in env.admissible_actions() if a.startswith("click[b0")]
    assert len(first_page) == 10
    obs, *_, info = env.step("click[Next >]")  # the argument is lower-cased, as the original
    assert "Page 2 (Total results: 50)" in obs and "< Prev" in obs
    second_page = [a for a in env.admissible_actions() if a.startswith("click[b0")]
    assert not set(first_page) & set(second_page)
    for _ in range(3):
        obs = env.step("click[next >]")[0]
    assert "Page 5 (Total results: 50)" in obs
    # the original shows "Next >" on every results page; past the last one the page is empty
    assert "click[next >]" in env.admissible_actions()
    obs, *_, info = env.step("click[next >]")
    assert info["action_valid"] and "Page 6 (Total results: 50)" in obs
    assert not [a for a in env.admissible_actions() if a.startswith("click[b0")]
    env.step("click[< prev]")
    env.step("click[< prev]")
    assert env.state_key().endswith("page=4")
    product = env.admissible_actions()[-1]
    obs, *_, info = env.step(product)
    assert info["state_key"].startswith("item|") and "Buy Now" in obs and "Rating:" in obs
    for sub in ("description", "features", "reviews"):
        obs, *_, info = env.step(f"click[{sub}]")
        assert info["action_valid"] and info["state_key"].startswith(sub)
        obs, *_, info = env.step("click[< prev]")
        assert info["state_key"].startswith("item|")
    # search works on any page, as the original's
    assert "search[<your query>]" in env.admissible_actions()
    obs, *_, info = env.step("search[desk lamp]")
    assert info["action_valid"] and info["state_key"] == "results|q=desk lamp|page=1"
    obs, *_, info = env.step("click[back to search]")
    assert info["state_key"] == "search"


def test_strict_rules_are_agentgym_0_1():
    strict = WebShopEnv(split="test", strict=True)
    try:
        strict.reset(seed=3)
        goal = strict.catalog.goals[strict._goal_index]
        _obs, *_, info = strict.step(f"  Search [{goal['query']}]  ")  # any case, spaces
        assert info["action_valid"]
        assert "search[<your query>]" not in strict.admissible_actions()
        assert "no search box" in strict.step("search[shoes]")[0]
        for _ in range(4):
            strict.step("click[next >]")
        assert "Page 5 (Total results: 50)" in strict._page.text()
        assert "click[next >]" not in strict.admissible_actions()  # only while more follow
    finally:
        strict.close()


def test_original_grammar(env):
    env.reset(seed=0)
    env.step(env.expert_action())
    on_page = sorted(a for a in env.admissible_actions() if a.startswith("click[b0"))
    key = env.state_key()
    # rejected by the original's case-sensitive (.+)\[(.+)\] (name "Search", " click",
    # "click "), and by agentgym: no change
    for action in ("Search[shoes]", " click[next >]", "click [next >]", "CLICK[next >]"):
        info = env.step(action)[4]
        assert info["action_valid"] is False and env.state_key() == key, action
        assert "is not an action name" in info["message"]
    # accepted: text after the last "]" is ignored; the argument is lower-cased
    product = on_page[0][6:-1]
    _obs, _, _, _, info = env.step(f"click[{product.upper()}] now, please")
    assert info["action_valid"] and env.state_key().startswith(f"item|{product.upper()}")
    # click[a][b] is the action "click[a]" with argument "b" (not an action name)
    env.step("click[< prev]")
    assert env.step("click[next >][x]")[4]["message"].startswith("'click[next >]'")


def test_invalid_action_leaves_the_page_unchanged():
    """An invalid action changes nothing; the observation is the unchanged page's, after one
    line that says why (``invalid_feedback=False``: exactly the unchanged page)."""
    for feedback in (True, False):
        env = WebShopEnv(split="test", invalid_feedback=feedback)
        try:
            env.reset(seed=4)
            before, *_ = env.step(env.expert_action())
            url, html = env._url, env._html
            obs, reward, terminated, truncated, info = env.step("click[no such button]")
            assert (env._url, env._html) == (url, html)
            assert info["action_valid"] is False and reward == 0.0
            assert not (terminated or truncated)
            assert "no 'no such button' to click" in info["message"]
            if feedback:
                assert obs == f"Invalid action: {info['message']}\n\n{before}"
            else:
                assert obs == before
        finally:
            env.close()


def test_invalid_actions_change_nothing(env):
    _obs0, info = env.reset(seed=0)
    key = info["state_key"]
    cases = [
        *GARBAGE_ACTIONS.values(),
        "click[buy now]",
        "click[search]",
        "search[]",
        "search [" + "q" * 600 + "]",
        "search[" + "q" * 600 + "]",
        "buy",
        42,
        None,
    ]
    for action in cases:
        obs, reward, terminated, _truncated, info = env.step(action)
        assert info["action_valid"] is False, action
        assert obs.startswith("Invalid action: ") and info["message"]
        assert info["state_key"] == key and reward == 0.0 and not terminated
    env.step(env.expert_action())
    results_key = env.state_key()
    stale = "b0zzzzzzzz"
    obs, _, _, _, info = env.step(f"click[{stale}]")
    assert not info["action_valid"] and "B0ZZZZZZZZ is not on this page" in obs
    assert "no 'teleport'" in env.step("click[teleport]")[0]
    assert env.state_key() == results_key
    # a product id from another page is stale too
    on_page = {a[6:-1] for a in env.admissible_actions() if a.startswith("click[b0")}
    env.step("click[next >]")
    obs, _, _, _, info = env.step(f"click[{sorted(on_page)[0]}]")
    assert not info["action_valid"] and "is not on this page" in obs


def test_step_before_reset_raises_reset_needed():
    env = WebShopEnv()
    try:
        with pytest.raises(ResetNeeded, match=r"call reset\(\)"):
            env.step("search[shoes]")
        env.reset(seed=0)
        env.close()
        with pytest.raises(ResetNeeded):
            env.step("search[shoes]")
    finally:
        env.close()


def test_no_turn_limit_inside_the_env_but_15_when_made():
    raw = WebShopEnv(split="test")
    try:
        raw.reset(seed=1)
        for _ in range(30):
            *_, terminated, truncated, _info = raw.step("click[nothing]")
            assert not (terminated or truncated)
    finally:
        raw.close()
    made = agentgym.make("agentgym/WebShop-v0", split="test")
    try:
        made.reset(seed=1)
        steps, truncated = 0, False
        while not truncated:
            *_, terminated, truncated, _info = made.step("click[nothing]")
            steps += 1
            assert not terminated
        assert steps == 15
    finally:
        made.close()


def test_expert_buys_with_score_one_and_state_keys_repeat(env):
    actions, reward, info = play_expert(env, seed=7)
    assert reward == 1.0 and info["success"] and info["task_score"] == 1.0
    assert info["reward_parts"] == {"score": 1.0}
    assert info["reward_info"]["r_type"] == 1.0 and info["state_key"].startswith("done|")
    assert actions[0].startswith("search[") and actions[-1] == "click[buy now]"
    # after the end every action is invalid and terminal
    _obs, reward, terminated, _, info = env.step("click[buy now]")
    assert terminated and not info["action_valid"] and reward == 0.0
    # the same page reached twice gives the same state_key
    env.reset(seed=7)
    env.step(actions[0])
    key = env.state_key()
    env.reset(seed=7)
    assert env.step(actions[0])[4]["state_key"] == key


def test_wrong_purchase_scores_below_one(env):
    env.reset(seed=11)
    goal = env.catalog.goals[env._goal_index]
    env.step(env.expert_action())
    while env.expert_action() == "click[next >]":
        env.step("click[next >]")
    env.step(env.expert_action())  # on the goal product (or back to search)
    if env.state_key().startswith("item|"):
        _obs, reward, terminated, _, _info = env.step("click[buy now]")  # no options chosen
        n = len(goal["attributes"]) + len(goal["goal_options"]) + 1
        assert terminated and reward == pytest.approx((n - len(goal["goal_options"])) / n)


def test_success_reward_mode():
    env = WebShopEnv(split="test", reward_mode="success")
    try:
        _, reward, info = play_expert(env, seed=2)
        assert reward == SUCCESS_REWARD and info["reward_parts"] == {"success": 10.0}
        assert info["task_score"] == 1.0
    finally:
        env.close()


@pytest.mark.parametrize("mode", ["text_rich", "html", "url"])
def test_observation_modes_are_deterministic(mode):
    a, b = WebShopEnv(observation_mode=mode), WebShopEnv(observation_mode=mode)
    try:
        obs_a, _ = a.reset(seed=5)
        obs_b, _ = b.reset(seed=5)
        assert obs_a == obs_b
        assert a._sid not in obs_a
        act = a.expert_action()
        obs_a = a.step(act)[0]
        obs_b = b.step(act)[0]
        assert obs_a == obs_b
        if mode == "html":
            assert obs_a.startswith("<!DOCTYPE html>") and "product-link" in obs_a
        elif mode == "url":
            assert obs_a.startswith("/search_results/<session>?q=")
        else:
            assert "[button] Back to Search [button_]" in obs_a
            item = a.expert_action()
            a.step(item)
            option = a.expert_action()
            if option != "click[buy now]":
                obs = a.step(option)[0]
                assert f"You have clicked {option[6:-1]}." in obs
    finally:
        a.close()
        b.close()


def test_attributes_page_when_enabled():
    env = WebShopEnv(show_attrs=True)
    try:
        env.reset(seed=0)
        while not env.state_key().startswith("item|"):
            env.step(env.expert_action())
        obs, *_, info = env.step("click[attributes]")
        goal = env.catalog.goals[env._goal_index]
        assert info["action_valid"] and all(a in obs for a in goal["attributes"])
    finally:
        env.close()


def test_check_env_passes():
    report = agentgym.check_env("agentgym/WebShop-v0")
    assert report.ok and report.expert_successes == report.expert_episodes == 5


@pytest.mark.slow
def test_expert_solves_all_500_test_goals():
    """Every test goal is bought with score 1.0 (8 environments in threads)."""

    def run(indices):
        env = WebShopEnv(split="test")
        try:
            return [(i, play_expert(env, options={"goal_index": i})[1]) for i in indices]
        finally:
            env.close()

    keeper = WebShopEnv(split="test")  # keep the shared server up between workers
    keeper.reset(seed=0)
    with ThreadPoolExecutor(8) as pool:
        chunks = pool.map(run, [range(k, 500, 8) for k in range(8)])
        results = dict(r for chunk in chunks for r in chunk)
    keeper.close()
    assert sorted(results) == list(range(500))
    failed = {i: r for i, r in results.items() if r != 1.0}
    assert not failed, f"expert failed on {len(failed)} test goals: {list(failed)[:10]}"


def test_distance_to_goal_counts_the_experts_steps(env):
    """``info["distance_to_goal"]`` (for CAST) is what the expert still needs: it falls by one
    per expert action to 0 on the purchase, from the start and after detours (a search that
    misses, another product, a sub-page, paging)."""
    detours = [
        [],
        ["search[zzzz qqqq]"],
        ["search[shirt]", "click[next >]"],
    ]
    for seed in (3, 7, 11):
        for detour in detours:
            _obs, info = env.reset(seed=seed)
            start = info["distance_to_goal"]
            assert start is not None and start >= 3  # search, product, buy at the least
            for action in detour:
                info = env.step(action)[4]
            product = next((k for k, c in env._page.clickables.items() if c.kind == "link"),
                           None)
            if product is not None:  # look at some product's description first
                env.step(f"click[{product}]")
                info = env.step("click[description]")[4]
            distances = [info["distance_to_goal"]]
            for _ in range(20):
                _obs, _reward, terminated, _, info = env.step(env.expert_action())
                distances.append(info["distance_to_goal"])
                if terminated:
                    break
            assert info["success"], (seed, detour)
            assert distances == list(range(distances[0], -1, -1)), (seed, detour, distances)
