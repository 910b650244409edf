"""WebShop's compact observation and the first_match expert: the page a shopper reads, the same
actions and rewards as the text mode, and an expert a model can imitate."""

from __future__ import annotations

import re

import pytest

import agentgym
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.envs.web.webshop.reward import get_reward


@pytest.fixture
def env():
    env = WebShopEnv(split="train", observation_mode="compact", expert="first_match")
    yield env
    env.close()


def _results_lines(env, query: str, page: int = 1) -> list[str]:
    """The numbered result lines computed from the catalog and the search index directly."""
    hits = env._server.search(query)[(page - 1) * 10 : page * 10]
    lines = []
    for i, index in enumerate(hits):
        product = env.catalog.products[index]
        number = (page - 1) * 10 + i + 1
        lines.append(f"{number}. {product['asin']} | {product['Title']} | {product['Price']}"
                     .lower())
    return lines


def _results_clicks(env) -> list[str]:
    """The product clicks ``env`` lists on a results page, in page order (else none)."""
    return [a for a in env.admissible_actions()
            if re.fullmatch(r"click\[(\d+|b0[0-9a-z]{8})\]", a)]


def test_search_and_results_pages_hand_built(env):
    obs, info = env.reset(seed=7)
    assert obs == "search page"
    assert info["instruction"] and info["instruction"].lower() not in obs
    obs, reward, terminated, _, info = env.step("search[Bluetooth Speaker]")
    assert info["action_valid"] and reward == 0.0 and not terminated
    expected = [
        'results for "bluetooth speaker", page 1 of 5:',
        *_results_lines(env, "bluetooth speaker"),
        "buttons: back to search, next >",
    ]
    assert obs.split("\n") == expected
    obs, *_ = env.step("click[next >]")
    assert obs.split("\n") == [
        'results for "bluetooth speaker", page 2 of 5:',
        *_results_lines(env, "bluetooth speaker", page=2),
        "buttons: back to search, < prev, next >",
    ]
    # the admissible actions name the results by the numbers the page shows
    assert env.admissible_actions() == ["search[<your query>]", "click[back to search]",
                                        "click[< prev]", "click[next >]",
                                        *[f"click[{n}]" for n in range(11, 21)]]


def test_item_page_shows_options_and_the_chosen_ones(env):
    env.reset(seed=7)
    env.step("search[bed sheets]")
    asin = env.catalog.products[env._server.search("bed sheets")[0]]["asin"]
    product = env.catalog.by_asin[asin]
    obs, *_ = env.step(f"click[{asin}]")
    names = list(product["options"])
    lines = obs.split("\n")
    head = f"{product['Title']} | {product['Price']} | rating {product['Rating']}"
    assert lines[0] == head.lower()
    for line, name in zip(lines[1:], names, strict=False):
        assert line == f"{name}: {', '.join(product['options'][name])} (chosen: none)".lower()
    assert lines[-1] == "buttons: back to search, < prev, description, features, reviews, buy now"
    value = product["options"][names[0]][1]
    obs, *_ = env.step(f"click[{value}]")
    assert f"(chosen: {value})" in obs.split("\n")[1]
    obs, *_ = env.step("click[features]")
    assert obs.split("\n") == [
        "features of this item:",
        *[b.lower() for b in product["BulletPoints"]],
        "buttons: back to search, < prev",
    ]


def test_same_actions_same_rewards_and_states_as_the_text_mode():
    compact = WebShopEnv(split="train", observation_mode="compact")
    text = WebShopEnv(split="train", observation_mode="text")
    try:
        for seed in (0, 3, 11):
            compact.reset(seed=seed)
            text.reset(seed=seed)
            actions = []
            for _ in range(15):
                action = text.expert_action()
                actions.append(action)
                step_c = compact.step(action)
                step_t = text.step(action)
                assert step_c[1:4] == step_t[1:4]
                info_c, info_t = step_c[4], step_t[4]
                for key in ("state_key", "action_valid", "reward_parts", "success",
                            "task_score"):
                    assert info_c.get(key) == info_t.get(key), key
                # the same actions; compact results pages list products by their number
                numbered = dict(zip(_results_clicks(compact), _results_clicks(text),
                                    strict=True))
                assert [numbered.get(a, a) for a in info_c.get("admissible_actions", [])] == \
                    info_t.get("admissible_actions", [])
                if step_t[2]:
                    break
            assert actions[-1] == "click[buy now]"
            # invalid actions: same message, the unchanged page behind it
            for junk in ("click[nothing here]", "Search[x]", 42):
                obs_c, r_c, *_, info_c = compact.step(junk)
                _, r_t, *_, info_t = text.step(junk)
                assert (r_c, info_c["message"]) == (r_t, info_t["message"])
                assert obs_c.startswith(f"Invalid action: {info_c['message']}\n\n")
    finally:
        compact.close()
        text.close()


def test_compact_results_are_clicked_by_their_number(env):
    """click[n] on a compact results page is the product listed as n (numbers go on across
    pages); elsewhere, and in the text mode, n is just text."""
    env.reset(seed=4)
    page, *_ = env.step("search[shirt]")
    listed = [line.split(" ")[1] for line in page.split("\n")[1:] if line[:1].isdigit()]
    assert len(listed) == 10
    _, _, _, _, info = env.step("click[11]")  # not on page 1
    assert not info["action_valid"] and "to click" in info["message"]
    page2, *_ = env.step("click[next >]")
    first_of_page2 = next(line for line in page2.split("\n") if line.startswith("11. "))
    env.step("click[11]")
    assert env._location()["kind"] == "item_page"
    assert env._location()["asin"].lower() == first_of_page2.split(" ")[1]
    env.reset(seed=4)
    env.step("search[shirt]")
    env.step("click[3]")
    by_number = env._location()["asin"].lower()
    env.reset(seed=4)
    env.step("search[shirt]")
    env.step(f"click[{listed[2]}]")
    assert env._location()["asin"].lower() == by_number == listed[2]
    for bad in ("click[0]", "click[99999999]", "click[-1]"):
        assert not env.step(bad)[4]["action_valid"]
    text = WebShopEnv(split="train", observation_mode="text")
    try:
        text.reset(seed=4)
        text.step("search[shirt]")
        assert not text.step("click[3]")[4]["action_valid"]
    finally:
        text.close()


def test_invalid_action_keeps_the_compact_page(env):
    env.reset(seed=2)
    page, *_ = env.step("search[running shoes]")
    obs, reward, terminated, _, info = env.step("click[b0zzzzzzzz]")
    assert not info["action_valid"] and reward == 0.0 and not terminated
    assert obs == f"Invalid action: {info['message']}\n\n{page}"


def test_first_match_expert_buys_the_first_listed_product_that_satisfies_the_goal(env):
    for seed in range(20):
        _, info = env.reset(seed=seed)
        goal = env.catalog.goals[info["goal_index"]]
        query = re.sub(r",? and price lower than .*$", "", goal["instruction_text"].lower())
        assert env.expert_action() == f"search[{query.strip()}]"
        obs, *_ = env.step(env.expert_action())
        nouns = env._server.nouns
        # the first listed product whose purchase with the goal's options scores 1.0
        pick = None
        for line in obs.split("\n")[1:-1]:
            number, asin = line.split(" ")[:2]
            product = env.catalog.by_asin[asin.upper()]
            options = {k: v for k, v in goal["goal_options"].items()
                       if v in product["options"].get(k, [])}
            score, _ = get_reward(product, goal, product["pricing"][0], options, nouns=nouns)
            if score == 1.0:
                pick = number.rstrip(".")
                break
        if pick is None:
            assert env.expert_action() == "click[next >]"
            continue
        assert env.expert_action() == f"click[{pick}]"
        for _ in range(10):
            _, reward, terminated, _, info = env.step(env.expert_action())
            if terminated:
                break
        assert terminated and info["task_score"] == 1.0 and reward == 1.0


def test_first_match_expert_goes_back_to_the_results_from_a_product_that_does_not_fit(env):
    """Off its path (a noisy demonstration opened another product) the expert returns to the
    list with ``< prev`` and opens its pick from there, as a reader would."""
    checked = 0
    for seed in range(30):
        env.reset(seed=seed)
        results, *_ = env.step(env.expert_action())
        pick = env.expert_action()
        if not re.fullmatch(r"click\[\d+\]", pick):
            continue
        numbers = [line.split(".")[0] for line in results.split("\n")[1:-1]]
        others = [n for n in numbers if f"click[{n}]" != pick and
                  not env.satisfies_goal(results.split("\n")[numbers.index(n) + 1].split()[1])]
        if not others:
            continue
        _, _, _, _, info = env.step(f"click[{others[0]}]")
        assert info["action_valid"] and env.expert_action() == "click[< prev]"
        back, *_ = env.step("click[< prev]")
        assert back == results and env.expert_action() == pick
        checked += 1
    assert checked >= 10


def test_first_match_expert_searches_again_with_the_query_that_listed_a_match(env):
    """Sent back to the search page off its path, the expert repeats its first search when that
    search lists a product that fits (a reader cannot know the goal product's title)."""
    checked = 0
    for seed in range(20):
        env.reset(seed=seed)
        first = env.expert_action()
        env.step(first)
        if not re.fullmatch(r"click\[\d+\]", env.expert_action()):
            continue  # no fit on the first page: not this case
        env.step("click[back to search]")
        assert env.expert_action() == first
        checked += 1
    assert checked >= 10


def test_first_match_expert_on_its_own_path_never_needs_the_way_back(env):
    """Without a detour the expert neither goes back from a product nor repeats its search:
    the demonstrations without noise are what they were."""
    for seed in range(40):
        env.reset(seed=seed)
        actions = []
        for _ in range(15):
            actions.append(env.expert_action())
            *_, terminated, _, _ = env.step(actions[-1])
            if terminated:
                break
        searches = [a for a in actions if a.startswith("search[")]
        assert "click[< prev]" not in actions and len(set(searches)) == len(searches), seed


def test_first_match_expert_solves_held_out_goals_through_make():
    env = agentgym.make("agentgym/WebShop-v0", split="test", observation_mode="compact",
                        expert="first_match")
    try:
        scores = []
        for seed in range(40):
            env.reset(seed=seed)
            for _ in range(15):
                *_, terminated, truncated, info = env.step(env.unwrapped.expert_action())
                if terminated or truncated:
                    break
            scores.append(info.get("task_score", 0.0))
        assert scores == [1.0] * 40
    finally:
        env.close()


def test_default_observation_and_expert_are_unchanged():
    env = WebShopEnv(split="test")
    try:
        obs, info = env.reset(seed=0)
        assert obs.startswith("WebShop [SEP] Instruction: [SEP] ") and env.expert == "goal"
        goal = env.catalog.goals[info["goal_index"]]
        words = [*goal["attributes"], goal["query"], *goal["goal_options"].values()]
        assert env.expert_action() == f"search[{' '.join(words).lower()}]"
    finally:
        env.close()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="observation_mode"):
        WebShopEnv(observation_mode="tiny")
    with pytest.raises(ValueError, match="expert"):
        WebShopEnv(expert="psychic")


def test_tokenizer_words_are_every_product_id_and_option_value(env):
    words = set(env.tokenizer_words())
    catalog = env.catalog
    assert {p["asin"].lower() for p in catalog.products} <= words
    assert {"navy blue", "x-large", "16.9 fl oz"} <= words
    assert len(words) == len(catalog.products) + len(
        {v for p in catalog.products for vs in p["options"].values() for v in vs})
