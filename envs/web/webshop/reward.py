"""The WebShop reward (princeton-nlp/WebShop ``web_agent_site/engine/goal.py``, ``get_reward``).

Given the bought product, the selected options, the price paid and the goal::

    total = (attr_matches + option_matches + [price <= price_upper])
            / (len(goal_attributes) + len(goal_options) + 1) * r_type

* **Attribute match** — a goal attribute matches when some product attribute has
  ``token_set_ratio(product_attr, goal_attr) > 85`` (rapidfuzz), or when the goal attribute is a
  substring of the lower-cased title, bullet points or description.
* **Option match** — every *selected* option value (colours normalized by
  :func:`normalize_color`) is compared with the goal's option values: exact for ``size``, fuzzy
  (``token_set_ratio > 85``) otherwise; failing that, a substring of title, bullets or description.
* **Type reward** ``r_type`` — 1.0, lowered to 0.5 unless the query matches, at least two levels
  of the category breadcrumb are shared, or the title-noun overlap is above 0.2; 0.1 when the
  overlap is below 0.1 and 0.0 when it is 0. The original tags title nouns with spaCy; a
  generated catalog knows its nouns (type nouns, brands), and loaded files fall back to a
  stop-word heuristic (:func:`heuristic_nouns`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Option names matched exactly rather than fuzzily (``EXACT_MATCH_OPTS``).
EXACT_MATCH_OPTS = ("size",)

#: Colour words recognised by :func:`normalize_color`, searched in this order (the first one
#: contained in the option value wins, as in ``engine/normalize.py``).
COLOR_SET: tuple[str, ...] = (
    "alabaster",
    "apricot",
    "aqua",
    "ash",
    "asphalt",
    "azure",
    "banana",
    "beige",
    "black",
    "blue",
    "blush",
    "bordeaux",
    "bronze",
    "brown",
    "burgundy",
    "camel",
    "camo",
    "caramel",
    "champagne",
    "charcoal",
    "cheetah",
    "chestnut",
    "chocolate",
    "christmas",
    "coffee",
    "cognac",
    "copper",
    "coral",
    "cream",
    "crimson",
    "cyan",
    "denim",
    "dusty",
    "ecru",
    "emerald",
    "fuchsia",
    "gold",
    "gray",
    "green",
    "grey",
    "hot pink",
    "indigo",
    "ivory",
    "jade",
    "khaki",
    "lavender",
    "leopard",
    "lime",
    "magenta",
    "maroon",
    "mauve",
    "mint",
    "mocha",
    "multicolor",
    "mustard",
    "natural",
    "navy",
    "neon",
    "nude",
    "olive",
    "orange",
    "peach",
    "pewter",
    "pink",
    "plum",
    "purple",
    "rainbow",
    "red",
    "rose gold",
    "rust",
    "sage",
    "sand",
    "silver",
    "sky",
    "slate",
    "tan",
    "taupe",
    "teal",
    "turquoise",
    "violet",
    "walnut",
    "white",
    "wine",
    "yellow",
)

_FUZZY_THRESHOLD = 85
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "for",
        "with",
        "of",
        "in",
        "on",
        "to",
        "by",
        "from",
        "at",
        "as",
        "or",
        "is",
        "are",
        "be",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "your",
        "our",
        "new",
        "set",
        "pack",
        "pcs",
        "piece",
        "pieces",
        "inch",
        "inches",
        "oz",
        "ounce",
        "ounces",
        "count",
        "ft",
        "size",
        "color",
        "women",
        "men",
        "womens",
        "mens",
        "kids",
        "girls",
        "boys",
    ]
)


def normalize_color(value: str) -> str:
    """The first colour of :data:`COLOR_SET` contained in ``value``, else ``value`` itself.

    >>> normalize_color("navy blue")  # "blue" comes before "navy" in COLOR_SET
    'blue'
    """
    for color in COLOR_SET:
        if color in value:
            return color
    return value


def heuristic_nouns(title: str) -> set[str]:
    """Lower-cased alphabetic words of ``title`` that are not stop words (a stand-in for spaCy's
    NOUN/PROPN tags on loaded catalogs)."""
    return {w for w in re.findall(r"[a-z][a-z'-]+", title.lower()) if w not in _STOPWORDS}


def vocab_nouns(vocab: Iterable[str]) -> Callable[[str], set[str]]:
    """A noun tagger that keeps the title words found in ``vocab``."""
    known = frozenset(vocab)

    def nouns(title: str) -> set[str]:
        return {w for w in re.findall(r"[\w'-]+", title.lower()) if w in known}

    return nouns


def _fuzzy(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.token_set_ratio(a, b))


def _product_text(product: Mapping[str, Any]) -> tuple[str, str, str]:
    return (
        str(product.get("Title", "")).lower(),
        " ".join(product.get("BulletPoints", []) or []).lower(),
        str(product.get("Description", "")).lower(),
    )


def type_reward(
    product: Mapping[str, Any],
    goal: Mapping[str, Any],
    nouns: Callable[[str], set[str]] = heuristic_nouns,
) -> dict[str, Any]:
    """``r_type`` and its inputs (``get_type_reward``)."""
    query_match = product.get("query") == goal.get("query")
    bought_levels = {x.strip() for x in str(product.get("product_category", "")).split("›")}
    goal_levels = {x.strip() for x in str(goal.get("product_category", "")).split("›")}
    category_match = len(bought_levels & goal_levels) >= 2
    bought_nouns = nouns(str(product.get("name", product.get("Title", ""))))
    desired_nouns = nouns(str(goal.get("name", "")))
    title_score = (
        0.2 if not desired_nouns else len(bought_nouns & desired_nouns) / len(desired_nouns)
    )
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {
        "r_type": r_type,
        "query_match": query_match,
        "category_match": category_match,
        "title_score": title_score,
    }


def attribute_matches(product: Mapping[str, Any], goal_attrs: list[str]) -> int:
    """Number of goal attributes the product has (``get_attribute_reward``)."""
    title, bullets, desc = _product_text(product)
    count = 0
    for g_attr in goal_attrs:
        fuzzy = any(
            _fuzzy(p_attr, g_attr) > _FUZZY_THRESHOLD for p_attr in product.get("Attributes", [])
        )
        if fuzzy or g_attr in title or g_attr in bullets or g_attr in desc:
            count += 1
    return count


def option_matches(
    product: Mapping[str, Any], goal_options: list[str], selected: Mapping[str, str]
) -> int:
    """Number of selected options that match a goal option (``get_option_reward``)."""
    title, bullets, desc = _product_text(product)
    goal_norm = [normalize_color(o) for o in goal_options]
    count = 0
    for name, value in selected.items():
        value = normalize_color(value)
        if name.lower() in EXACT_MATCH_OPTS:
            matched = value in goal_norm
        else:
            matched = any(_fuzzy(g, value) > _FUZZY_THRESHOLD for g in goal_norm)
        if matched or value in title or value in bullets or value in desc:
            count += 1
    return count


def get_reward(
    product: Mapping[str, Any],
    goal: Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
    nouns: Callable[[str], set[str]] = heuristic_nouns,
) -> tuple[float, dict[str, Any]]:
    """The WebShop score of buying ``product`` with ``options`` at ``price`` for ``goal``.

    Args:
        product: the bought product dict (``Title``, ``BulletPoints``, ``Description``,
            ``Attributes``, ``query``, ``product_category``, ``name``).
        goal: the goal dict (``attributes``, ``goal_options``, ``price_upper``, ``query``,
            ``product_category``, ``name``).
        price: the price paid.
        options: option name -> selected value.
        nouns: title-noun tagger for the type reward.

    Returns:
        ``(score, parts)``: the score in [0, 1] and its components (``r_type``, ``r_att``,
        ``r_option``, ``r_price``, match counts, weights), as the original's verbose info.
    """
    goal_attrs = list(goal.get("attributes", []))
    raw_opts = goal.get("goal_options", {})
    goal_opts = list(raw_opts.values()) if isinstance(raw_opts, Mapping) else list(raw_opts)
    type_info = type_reward(product, goal, nouns)
    price_upper = float(goal.get("price_upper", 1_000_000.0))
    r_price = float(price <= price_upper) if price_upper > 0 else 0.0
    n_attr = attribute_matches(product, goal_attrs)
    n_opt = option_matches(product, goal_opts, options)
    denom = len(goal_attrs) + len(goal_opts) + 1
    total = (n_attr + n_opt + r_price) / denom * type_info["r_type"]
    parts: dict[str, Any] = {
        **type_info,
        "r_att": n_attr / len(goal_attrs) if goal_attrs else 0.0,
        "w_att": len(goal_attrs) / denom,
        "r_price": r_price,
        "w_price": 1 / denom,
        "num_attr_matches": n_attr,
        "num_option_matches": n_opt,
    }
    if goal_opts:
        parts["r_option"] = n_opt / len(goal_opts)
        parts["w_option"] = len(goal_opts) / denom
    return float(total), parts
