"""The WebShop reward (princeton-nlp/WebShop ``web_agent_site/engine/goal.py``, ``get_reward``).

Given the bought product, the selected options, the price paid and the goal::

    total = (attr_matches + option_matches + [price <= price_upper])
            / (len(goal_attributes) + len(goal_options) + 1) * r_type

Two rule sets (``strict``):

**Original** (``strict=False``, the default) — the original's rules, reproduced exactly (but for
the noun tagger of the type reward, below):

* *Similarity* :func:`fuzz_score` is the original's ``thefuzz.fuzz.token_set_ratio``: both
  arguments are turned into ``str``, code points 128–255 are dropped, everything but letters and
  digits becomes a space, the text is lower-cased, and rapidfuzz's ``token_set_ratio`` is rounded
  to an integer. A match is a score above 85.
* *Attribute match* — a goal attribute matches when some product attribute matches it, or when it
  is a substring of the lower-cased title, bullet points or description.
* *Option match* — counted per **goal** option: it matches when some selected option value
  matches it, after both went through :func:`~.colors.normalize_color`. A synthetic goal keeps
  its options as a dict, and the original passes its ``(name, value)`` *pairs* to the
  normalisation and the similarity, so a pair is compared as the text ``"name value"`` unless
  its name or value is exactly a colour word (then it is that word). Consequences: a selected
  ``large`` matches a goal ``size: x-large``, ``6`` matches ``6.5``; there is no fallback to the
  product text.

**Strict** (``strict=True``) — agentgym 0.1's rules, kept for reproducing earlier runs: every
*selected* option is compared with the goal's option *values* (colours normalised with
:data:`~.colors.LEGACY_COLORS`): exactly for ``size``, with rapidfuzz's unprocessed
``token_set_ratio > 85`` otherwise, and failing that it matches when the normalised value is a
substring of the title, bullets or description (so ``navy blue`` → ``blue`` matches
"bluetooth"). Attributes use the unprocessed ``token_set_ratio`` too.

**Type reward** ``r_type`` (both) — 1.0, lowered to 0.5 unless the query matches, at least two
levels of the category breadcrumb are shared, or the title-noun overlap is above 0.2; 0.1 when the
overlap is below 0.1 and 0.0 when it is 0. The original tags title nouns with spaCy; a generated
catalog knows its nouns (type nouns, brands), and loaded files fall back to a stop-word heuristic
(:func:`heuristic_nouns`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agentgym.envs.web.webshop.colors import LEGACY_COLORS, normalize_color

#: Option names matched exactly rather than fuzzily (``EXACT_MATCH_OPTS``).
EXACT_MATCH_OPTS = ("size",)

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


_DROP_LATIN1 = {code: None for code in range(128, 256)}


def fuzz_score(a: Any, b: Any) -> int:
    """The original's similarity of ``a`` and ``b`` in [0, 100] (``thefuzz`` semantics).

    Each argument is converted with ``str`` (a tuple becomes its ``repr``), loses the code
    points 128–255, and is processed by rapidfuzz's ``default_process`` (non-alphanumerics to
    spaces, lower case, trimmed); the result is rapidfuzz's ``token_set_ratio`` rounded to an
    integer, as ``thefuzz.fuzz.token_set_ratio(a, b)`` computes it.

    >>> fuzz_score("x-large", "large"), fuzz_score("6", "6.5"), fuzz_score("ash", "black")
    (100, 100, 25)
    """
    from rapidfuzz import fuzz, utils

    left = utils.default_process(str(a).translate(_DROP_LATIN1))
    right = utils.default_process(str(b).translate(_DROP_LATIN1))
    return round(fuzz.token_set_ratio(left, right))  # Python rounds half to even, as thefuzz


def _raw_fuzz(a: str, b: str) -> float:
    """rapidfuzz's ``token_set_ratio`` without processing (agentgym 0.1, ``strict=True``)."""
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


def attribute_matches(
    product: Mapping[str, Any], goal_attrs: list[str], *, strict: bool = False
) -> int:
    """Number of goal attributes the product has (``get_attribute_reward``).

    A goal attribute matches a product attribute with similarity above 85 (:func:`fuzz_score`,
    or the unprocessed ratio when ``strict``), else when it is a substring of the lower-cased
    title, bullet points or description.
    """
    score = _raw_fuzz if strict else fuzz_score
    title, bullets, desc = _product_text(product)
    count = 0
    for g_attr in goal_attrs:
        attrs = product.get("Attributes", [])
        fuzzy = any(score(p_attr, g_attr) > _FUZZY_THRESHOLD for p_attr in attrs)
        if fuzzy or g_attr in title or g_attr in bullets or g_attr in desc:
            count += 1
    return count


def _goal_option_items(goal_options: Any) -> list[Any]:
    """The goal options as the original hands them to the option reward: the ``(name, value)``
    pairs of a dict (synthetic goals), the values of a list (human goals)."""
    if isinstance(goal_options, Mapping):
        return list(goal_options.items())
    return list(goal_options)


def option_matches(
    product: Mapping[str, Any],
    goal_options: Mapping[str, str] | list[str],
    selected: Mapping[str, str],
    *,
    strict: bool = False,
) -> int:
    """Number of option matches (``get_option_reward``).

    Args:
        product: the bought product (only used when ``strict``).
        goal_options: the goal's options: a dict ``name -> value`` (synthetic goals) or a list
            of values (human goals).
        selected: option name -> the value chosen on the item page.
        strict: agentgym 0.1's rules instead of the original's (see the module docstring).

    Returns:
        Original rules: the number of goal options that some selected value matches
        (:func:`fuzz_score` > 85 after :func:`~.colors.normalize_color` of both sides).
        Strict rules: the number of selected options that match a goal option value.
    """
    if strict:
        return _strict_option_matches(product, goal_options, selected)
    chosen = [normalize_color(value) for value in selected.values()]
    wanted = [normalize_color(item) for item in _goal_option_items(goal_options)]
    return sum(
        1 for goal in wanted if any(fuzz_score(value, goal) > _FUZZY_THRESHOLD for value in chosen)
    )


def _strict_option_matches(
    product: Mapping[str, Any], goal_options: Any, selected: Mapping[str, str]
) -> int:
    values = list(goal_options.values()) if isinstance(goal_options, Mapping) else goal_options
    title, bullets, desc = _product_text(product)
    goal_norm = [normalize_color(o, LEGACY_COLORS) for o in values]
    count = 0
    for name, value in selected.items():
        value = normalize_color(value, LEGACY_COLORS)
        if name.lower() in EXACT_MATCH_OPTS:
            matched = value in goal_norm
        else:
            matched = any(_raw_fuzz(g, value) > _FUZZY_THRESHOLD for g in goal_norm)
        if matched or value in title or value in bullets or value in desc:
            count += 1
    return count


def get_reward(
    product: Mapping[str, Any],
    goal: Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
    nouns: Callable[[str], set[str]] = heuristic_nouns,
    *,
    strict: bool = False,
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
        strict: agentgym 0.1's option and attribute rules instead of the original's (see the
            module docstring).

    Returns:
        ``(score, parts)``: the score in [0, 1] and its components (``r_type``, ``r_att``,
        ``r_option``, ``r_price``, match counts, weights), as the original's verbose info.
    """
    goal_attrs = list(goal.get("attributes", []))
    goal_opts = goal.get("goal_options", {})
    n_goal_opts = len(goal_opts)
    type_info = type_reward(product, goal, nouns)
    price_upper = float(goal.get("price_upper", 1_000_000.0))
    r_price = float(price <= price_upper) if price_upper > 0 else 0.0
    n_attr = attribute_matches(product, goal_attrs, strict=strict)
    n_opt = option_matches(product, goal_opts, options, strict=strict)
    denom = len(goal_attrs) + n_goal_opts + 1
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
    if n_goal_opts:
        parts["r_option"] = n_opt / n_goal_opts
        parts["w_option"] = n_goal_opts / denom
    return float(total), parts
