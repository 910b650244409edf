"""The WebShop score: hand-computed cases for every term and every difference between the
original rules (default) and agentgym 0.1's (``strict=True``), an equivalence test against a
literal reading of the original with ``thefuzz``, and properties on generated goals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from thefuzz import fuzz as thefuzz

from agentgym.envs.web.webshop.catalog import (
    PRICE_RANGE,
    PRODUCT_TYPES,
    generate_catalog,
    price_upper_for,
)
from agentgym.envs.web.webshop.colors import LEGACY_COLORS, ORIGINAL_COLORS, normalize_color
from agentgym.envs.web.webshop.reward import (
    attribute_matches,
    fuzz_score,
    get_reward,
    heuristic_nouns,
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
# A product whose text contains "bluetooth" and "machine wash" (the strict rules' text fallback).
SPEAKER = {
    **PRODUCT,
    "Title": "Zeta Bluetooth Speaker Cover",
    "BulletPoints": ["Machine wash cold"],
    "Description": "Fits every bluetooth speaker.",
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
        *("acme", "zeta", "shampoo", "conditioner", "lamp", "bottle", "pump", "cap", "box"),
        *("bag", "jar", "tube", "kit", "tin", "can"),
    ]
)


def both(goal_options, selected, product=PRODUCT) -> tuple[int, int]:
    """(original, strict) option matches."""
    return (
        option_matches(product, goal_options, selected),
        option_matches(product, goal_options, selected, strict=True),
    )


# -- the similarity ----------------------------------------------------------------------------
def test_fuzz_score_is_thefuzz_token_set_ratio():
    # "x-large" -> "x large" -> tokens {x, large} contain {large}: 100 (thefuzz processes text)
    assert fuzz_score("x-large", "large") == 100
    # "6.5" -> tokens {6, 5}: "6" is a subset: 100
    assert fuzz_score("6", "6.5") == 100
    # case and punctuation are ignored: "Sulfate-Free" vs "sulfate free"
    assert fuzz_score("Sulfate-Free", "sulfate free") == 100
    # a pair is compared as its repr: ('color', 'navy blue') -> tokens {color, navy, blue}
    assert fuzz_score("blue", ("color", "navy blue")) == 100
    # no shared token: ratio("ash", "black") = 2 * 1 / (3 + 5) = 25
    assert fuzz_score("ash", "black") == 25


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=20), st.tuples(st.text(max_size=8), st.text(max_size=8))),
    st.one_of(st.text(max_size=20), st.tuples(st.text(max_size=8), st.text(max_size=8))),
)
def test_fuzz_score_equals_thefuzz_on_any_input(a, b):
    assert fuzz_score(a, b) == thefuzz.token_set_ratio(a, b)


# -- colours -----------------------------------------------------------------------------------
def test_original_colour_list():
    assert len(ORIGINAL_COLORS) == 102 and list(ORIGINAL_COLORS) == sorted(ORIGINAL_COLORS)
    assert {"dark", "light", "ash", "steel", "stonewash"} <= set(ORIGINAL_COLORS)
    assert len(LEGACY_COLORS) == 84 and "hot pink" in LEGACY_COLORS


def test_colour_normalization_first_listed_colour_wins():
    assert normalize_color("navy blue") == "blue"  # "blue" precedes "navy"
    assert normalize_color("dark brown") == "brown"  # "brown" precedes "dark"
    assert normalize_color("light wash") == "ash"  # "ash" precedes "light"
    assert normalize_color("light grey") == "grey"
    assert normalize_color("webshopsteel") == "steel"
    assert normalize_color("king") == "king"
    assert normalize_color("light wash", LEGACY_COLORS) == "ash"
    assert normalize_color("dark brown", LEGACY_COLORS) == "brown"
    # a (name, value) pair is normalised only when an element is a colour word
    assert normalize_color(("color", "black")) == "black"
    assert normalize_color(("color", "navy blue")) == ("color", "navy blue")


# -- each difference between the rule sets, hand-computed ----------------------------------------
def test_sizes_x_large_and_large():
    # goal size x-large, bought large: the pair "size x large" contains {large} -> 100 > 85;
    # strict compares sizes exactly.
    assert both({"size": "x-large"}, {"size": "large"}) == (1, 0)
    # goal large, bought x-large: {x, large} vs {size, large}: best ratio("large", "large x")
    # = 2 * 5 / 12 = 83.3 -> 83, not above 85.
    assert both({"size": "large"}, {"size": "x-large"}) == (0, 0)
    # a human goal (a list of values) has no name token: {large} within {x, large} -> 100.
    assert both(["large"], {"size": "x-large"}) == (1, 0)
    assert both({"size": "large"}, {"size": "large"}) == (1, 1)


def test_shoe_sizes_6_and_6_point_5():
    # goal 6.5, bought 6: "size 6 5" contains {6} -> 100; strict: "6" != "6.5"
    assert both({"size": "6.5"}, {"size": "6"}) == (1, 0)
    # goal 6, bought 6.5: ratio("6", "6 5") = 2 / 4 = 50 is the best: no match
    assert both({"size": "6"}, {"size": "6.5"}) == (0, 0)
    assert both({"size": "6.5"}, {"size": "6.5"}) == (1, 1)


def test_colour_navy_blue():
    # bought "dark blue" -> "blue"; goal pair "color navy blue" contains {blue}: a match in both
    # (strict: "navy blue" -> "blue" == "blue").
    assert both({"color": "navy blue"}, {"color": "dark blue"}) == (1, 1)
    assert both({"color": "navy blue"}, {"color": "red"}) == (0, 0)
    # goal red, bought navy blue -> "blue": no similar goal option. Strict falls back to the
    # product text, where "blue" is found inside "bluetooth"; the original has no fallback.
    assert both({"color": "red"}, {"color": "navy blue"}, SPEAKER) == (0, 1)


def test_colour_light_wash():
    # bought "light wash" -> "ash"; goal ("color", "black") -> "black"; ratio("ash", "black")
    # = 25. Strict finds "ash" inside "machine wash" in the bullet points.
    assert both({"color": "black"}, {"color": "light wash"}, SPEAKER) == (0, 1)
    # The original's quirk, reproduced: a synthetic goal "light wash" stays the pair
    # ("color", "light wash") (no element is a colour word) while the bought value becomes
    # "ash", which is not one of its words: ratio("ash", "color light wash") = 32 -> no match.
    assert both({"color": "light wash"}, {"color": "light wash"}, SPEAKER) == (0, 1)
    # a human goal normalises the value itself: "ash" == "ash"
    assert both(["light wash"], {"color": "light wash"}, SPEAKER) == (1, 1)


def test_options_are_counted_per_goal_option():
    # original: each goal option counts once if some selected value matches it ...
    goal = {"color": "black", "style": "black"}
    assert option_matches(PRODUCT, goal, {"color": "black"}) == 2
    # ... strict: each selected option counts once if it matches some goal value
    assert option_matches(PRODUCT, goal, {"color": "black"}, strict=True) == 1
    # original: a selected option unrelated to any goal option adds nothing, and there is no
    # text fallback ("hair" is in a bullet point; strict counts it).
    assert both({"color": "black"}, {"style": "hair"}) == (0, 1)


def test_attributes_are_compared_after_processing():
    # "Sulfate-Free" matches "sulfate free" once case and punctuation are dropped (100); strict
    # compares the raw strings (50) and its substring fallback is case-sensitive.
    assert attribute_matches(PRODUCT, ["Sulfate-Free"]) == 1
    assert attribute_matches(PRODUCT, ["Sulfate-Free"], strict=True) == 0


def test_attribute_fuzzy_and_substring_matches():
    for strict in (False, True):
        # "sulfate free": token_set_ratio 100 against the product attribute;
        # "argan oil": no close attribute, but a substring of the description; "tea tree": none.
        assert attribute_matches(PRODUCT, ["sulfate free"], strict=strict) == 1
        assert attribute_matches(PRODUCT, ["argan oil"], strict=strict) == 1
        assert attribute_matches(PRODUCT, ["tea tree"], strict=strict) == 0
        # "paraben free" vs "paraben frees" = 2 * 12 / 25 = 96 > 85
        assert attribute_matches(PRODUCT, ["paraben free"], strict=strict) == 1
        # "paraben" is a token subset of "paraben frees"; "treated hair" a bullet substring
        several = ["paraben", "treated hair", "silicone"]
        assert attribute_matches(PRODUCT, several, strict=strict) == 2


# -- the total -----------------------------------------------------------------------------------
def test_total_score_hand_computed():
    for strict in (False, True):
        # attributes 2 of 3, options 2 of 2, price 25 <= 30: (2 + 2 + 1) / (3 + 2 + 1) * 1.0
        score, parts = get_reward(
            PRODUCT, GOAL, 25.0, {"color": "dark blue", "size": "large"}, NOUNS, strict=strict
        )
        assert score == pytest.approx(5 / 6)
        assert parts["r_att"] == pytest.approx(2 / 3)
        assert parts["r_option"] == 1.0 and parts["r_price"] == 1.0 and parts["r_type"] == 1.0
        # over the price cap: (2 + 2 + 0) / 6
        over = get_reward(
            PRODUCT, GOAL, 35.0, {"color": "dark blue", "size": "large"}, NOUNS, strict=strict
        )
        assert over[0] == pytest.approx(4 / 6)
        # wrong size (goal large, bought x-large: 83 in the original), no colour: (2 + 0 + 1) / 6
        wrong = get_reward(PRODUCT, GOAL, 25.0, {"size": "x-large"}, NOUNS, strict=strict)
        assert wrong[0] == pytest.approx(3 / 6)
    # right product, a smaller size than asked: 1.0 in the original, 5/6 strict
    goal_xl = {**GOAL, "goal_options": {"size": "x-large"}, "attributes": ["sulfate free"]}
    assert get_reward(PRODUCT, goal_xl, 25.0, {"size": "large"}, NOUNS)[0] == 1.0
    strict_xl = get_reward(PRODUCT, goal_xl, 25.0, {"size": "large"}, NOUNS, strict=True)
    assert strict_xl[0] == pytest.approx(2 / 3)


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


# -- equivalence with a literal reading of the original -------------------------------------------
def reference_option_matches(goal_options, selected) -> int:
    """``get_option_reward`` as the original writes it, with thefuzz itself."""

    def norm(x):
        for color in ORIGINAL_COLORS:
            if color in x:
                return color
        return x

    chosen = [norm(o) for o in selected.values()]
    items = goal_options.items() if isinstance(goal_options, dict) else goal_options
    wanted = [norm(o) for o in items]
    count = 0
    for g in wanted:
        for p in chosen:
            if thefuzz.token_set_ratio(p, g) > 85:
                count += 1
                break
    return count


def reference_attribute_matches(product, goal_attrs) -> int:
    count = 0
    for g in goal_attrs:
        if any(thefuzz.token_set_ratio(p, g) > 85 for p in product["Attributes"]) or (
            g in product["Title"].lower()
            or g in " ".join(product["BulletPoints"]).lower()
            or g in product["Description"].lower()
        ):
            count += 1
    return count


CATALOG = generate_catalog(2000, 3, 500)
OPTION_WORDS = st.sampled_from(
    [
        *("navy blue", "light wash", "x-large", "large", "6", "6.5", "black", "dark chocolate"),
        *("red", "size", "color", "steel grey", "stonewash", "8 fl oz", "peppermint", "tan"),
        *("Über", "é"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.dictionaries(OPTION_WORDS, OPTION_WORDS, max_size=3),
        st.lists(OPTION_WORDS, max_size=3),
    ),
    st.dictionaries(OPTION_WORDS, OPTION_WORDS, max_size=3),
)
def test_option_matches_equal_the_original(goal_options, selected):
    assert option_matches(PRODUCT, goal_options, selected) == reference_option_matches(
        goal_options, selected
    )


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(CATALOG.goals) - 1), st.integers(0, len(CATALOG.products) - 1), st.data())
def test_reward_equals_the_original_on_catalog_cases(goal_index, product_index, data):
    goal = CATALOG.goals[goal_index]
    product = data.draw(
        st.sampled_from([CATALOG.products[product_index], CATALOG.by_asin[goal["asin"]]])
    )
    options = {
        name: data.draw(st.sampled_from(values))
        for name, values in product["options"].items()
        if data.draw(st.booleans())
    }
    assert attribute_matches(product, goal["attributes"]) == reference_attribute_matches(
        product, goal["attributes"]
    )
    assert option_matches(product, goal["goal_options"], options) == reference_option_matches(
        goal["goal_options"], options
    )


# -- properties on generated goals -----------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, len(CATALOG.goals) - 1),
    st.integers(0, len(CATALOG.products) - 1),
    st.data(),
    st.booleans(),
)
def test_score_in_unit_interval(goal_index, product_index, data, strict):
    goal = CATALOG.goals[goal_index]
    product = CATALOG.products[product_index]
    options = {
        name: data.draw(st.sampled_from(values))
        for name, values in product["options"].items()
        if data.draw(st.booleans())
    }
    price = data.draw(st.floats(0, 500))
    nouns = vocab_nouns(CATALOG.noun_vocab)
    score, _ = get_reward(product, goal, price, options, nouns, strict=strict)
    assert 0.0 <= score <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(CATALOG.goals) - 1), st.booleans())
def test_goal_product_with_goal_options_scores_one(goal_index, strict):
    goal = CATALOG.goals[goal_index]
    product = CATALOG.by_asin[goal["asin"]]
    nouns = vocab_nouns(CATALOG.noun_vocab)
    score, parts = get_reward(
        product, goal, product["pricing"][0], goal["goal_options"], nouns, strict=strict
    )
    assert score == 1.0, parts


def test_every_catalog_option_value_can_be_matched_by_choosing_it():
    """The original's pair quirk (``light wash``) never hits the generated vocabulary."""
    for ptype in PRODUCT_TYPES:
        for name, values in ptype.options.items():
            for value in values:
                assert option_matches(PRODUCT, {name: value}, {name: value}) == 1, value
