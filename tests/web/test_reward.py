"""The WebShop score: hand-computed cases for every term, and properties on generated goals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym.envs.web.webshop.catalog import PRICE_RANGE, generate_catalog, price_upper_for
from agentgym.envs.web.webshop.reward import (
    attribute_matches,
    get_reward,
    heuristic_nouns,
    normalize_color,
    option_matches,
    type_reward,
    vocab_nouns,
)

CATEGORY = "Beauty › Hair Care › Shampoo"
PRODUCT = {
    "asin": "B000000001",
    "name": "Acme Sulfate Free Shampoo",
    "Title": "Acme Sulfate Free Shampoo",
    "query": "shampoo",
    "product_category": CATEGORY,
    "BulletPoints": ["Gentle on color treated hair"],
    "Description": "A shampoo with argan oil.",
    "Attributes": ["sulfate free", "paraben frees"],
}
GOAL = {
    "asin": "B000000001",
    "name": "Acme Sulfate Free Shampoo",
    "query": "shampoo",
    "product_category": CATEGORY,
    "attributes": ["sulfate free", "argan oil", "tea tree"],
    "goal_options": {"color": "navy blue", "size": "large"},
    "price_upper": 30.0,
}
NOUNS = vocab_nouns(
    [
        "acme",
        "zeta",
        "shampoo",
        "conditioner",
        "lamp",
        "bottle",
        "pump",
        "cap",
        "box",
        "bag",
        "jar",
        "tube",
        "kit",
        "tin",
        "can",
    ]
)


def test_attribute_fuzzy_and_substring_matches():
    # "sulfate free": token_set_ratio 100 against the product attribute;
    # "argan oil": no attribute is close, but it is a substring of the description;
    # "tea tree": nowhere.
    assert attribute_matches(PRODUCT, ["sulfate free"]) == 1
    assert attribute_matches(PRODUCT, ["argan oil"]) == 1
    assert attribute_matches(PRODUCT, ["tea tree"]) == 0
    # "paraben free" vs "paraben frees": token_set_ratio = ratio("paraben free",
    # "paraben frees") = 2*12/25 = 96 > 85.
    assert attribute_matches(PRODUCT, ["paraben free"]) == 1
    # "paraben" vs "paraben frees" is a token subset (100), "treated hair" a bullet substring.
    assert attribute_matches(PRODUCT, ["paraben", "treated hair", "silicone"]) == 2


def test_color_normalization():
    assert normalize_color("navy blue") == "blue"  # "blue" precedes "navy" in COLOR_SET
    assert normalize_color("dark brown") == "brown"
    assert normalize_color("light grey") == "grey"
    assert normalize_color("king") == "king"


def test_option_matches_colour_normalized_and_exact_size():
    goal_opts = ["navy blue", "large"]
    # "dark blue" and "navy blue" both normalize to "blue": a match.
    assert option_matches(PRODUCT, goal_opts, {"color": "dark blue"}) == 1
    assert option_matches(PRODUCT, goal_opts, {"color": "red"}) == 0
    # size is compared exactly: "x-large" is not "large" (fuzzy would give 100).
    assert option_matches(PRODUCT, goal_opts, {"size": "large"}) == 1
    assert option_matches(PRODUCT, goal_opts, {"size": "x-large"}) == 0
    # an option value found in the product text counts too ("hair" is in a bullet point).
    assert option_matches(PRODUCT, goal_opts, {"style": "hair"}) == 1


def test_total_score_hand_computed():
    # attributes 2 of 3, options 2 of 2, price 25 <= 30: (2 + 2 + 1) / (3 + 2 + 1) * 1.0
    score, parts = get_reward(PRODUCT, GOAL, 25.0, {"color": "dark blue", "size": "large"}, NOUNS)
    assert score == pytest.approx(5 / 6)
    assert parts["r_att"] == pytest.approx(2 / 3)
    assert parts["r_option"] == 1.0 and parts["r_price"] == 1.0 and parts["r_type"] == 1.0
    # over the price cap: (2 + 2 + 0) / 6
    assert get_reward(PRODUCT, GOAL, 35.0, {"color": "dark blue", "size": "large"}, NOUNS)[
        0
    ] == pytest.approx(4 / 6)
    # wrong size, no colour chosen: (2 + 0 + 1) / 6
    assert get_reward(PRODUCT, GOAL, 25.0, {"size": "x-large"}, NOUNS)[0] == pytest.approx(3 / 6)


def _other(name: str, query: str = "other", category: str = "Home › Lighting › Lamps") -> dict:
    return {**PRODUCT, "name": name, "Title": name, "query": query, "product_category": category}


def test_type_reward_branches():
    goal6 = {**GOAL, "name": "Acme Shampoo Bottle Pump Cap Box"}  # 6 nouns
    goal11 = {**GOAL, "name": "Acme Shampoo Bottle Pump Cap Box Bag Jar Tube Kit Tin"}  # 11
    # query match -> 1.0
    assert type_reward(PRODUCT, GOAL, NOUNS)["r_type"] == 1.0
    # no shared noun -> 0.0
    assert type_reward(_other("Zeta Conditioner"), GOAL, NOUNS)["r_type"] == 0.0
    # title-noun overlap 1/2 > 0.2 -> 1.0 although query and category differ
    assert type_reward(_other("Acme Conditioner"), GOAL, NOUNS)["r_type"] == 1.0
    # overlap 1/6 (no query/category match) -> 0.5
    info = type_reward(_other("Acme Lamp"), goal6, NOUNS)
    assert info["title_score"] == pytest.approx(1 / 6) and info["r_type"] == 0.5
    # overlap 1/11 < 0.1 -> 0.1
    assert type_reward(_other("Acme Lamp"), goal11, NOUNS)["r_type"] == 0.1
    # two shared category levels lift 1/6 back to 1.0
    same_cat = _other("Acme Lamp", category="Beauty › Hair Care › Conditioner")
    assert type_reward(same_cat, goal6, NOUNS)["category_match"] is True
    assert type_reward(same_cat, goal6, NOUNS)["r_type"] == 1.0
    # r_type multiplies the total: overlap 1/6 halves the score
    score, _ = get_reward(_other("Acme Lamp"), goal6, 25.0, {"color": "navy blue"}, NOUNS)
    assert score == pytest.approx((2 + 1 + 1) / 6 * 0.5)


def test_heuristic_nouns_drop_stop_words():
    assert heuristic_nouns("Shampoo for Women, 2 Pack") == {"shampoo"}


def test_price_upper_is_the_larger_of_two_of_the_next_four_multiples_of_ten():
    rng = np.random.default_rng(0)
    draws = [price_upper_for(12.5, rng) for _ in range(3000)]
    assert set(draws) == {30.0, 40.0, 50.0}  # never 20: it is the larger of two
    freq = {v: draws.count(v) / len(draws) for v in (30.0, 40.0, 50.0)}
    assert freq[50.0] == pytest.approx(3 / 6, abs=0.04)  # P(max=k-th) = (k-1)/C(4,2)
    assert freq[30.0] == pytest.approx(1 / 6, abs=0.04)
    assert price_upper_for(20.0, rng) in {40.0, 50.0, 60.0}  # strictly above the price
    assert price_upper_for(PRICE_RANGE[-1] - 5, rng) == 1_000_000.0  # fewer than two left


CATALOG = generate_catalog(2000, 3, 500)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(CATALOG.goals) - 1), st.integers(0, len(CATALOG.products) - 1), st.data())
def test_score_in_unit_interval(goal_index, product_index, data):
    goal = CATALOG.goals[goal_index]
    product = CATALOG.products[product_index]
    options = {
        name: data.draw(st.sampled_from(values))
        for name, values in product["options"].items()
        if data.draw(st.booleans())
    }
    price = data.draw(st.floats(0, 500))
    score, _ = get_reward(product, goal, price, options, vocab_nouns(CATALOG.noun_vocab))
    assert 0.0 <= score <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(CATALOG.goals) - 1))
def test_goal_product_with_goal_options_scores_one(goal_index):
    goal = CATALOG.goals[goal_index]
    product = CATALOG.by_asin[goal["asin"]]
    score, parts = get_reward(
        product, goal, product["pricing"][0], goal["goal_options"], vocab_nouns(CATALOG.noun_vocab)
    )
    assert score == 1.0, parts
