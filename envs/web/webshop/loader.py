"""Load the original WebShop data files into a :class:`~.catalog.Catalog`.

For users who have princeton-nlp/WebShop's files (``setup.sh`` downloads them from Google
Drive into ``data/``):

* ``items_shuffle*.json`` — a list of scraped products (``asin``, ``name``,
  ``full_description``, ``small_description``, ``pricing`` such as ``"$12.99"`` or
  ``"$10.99 - $15.99"``, ``customization_options``, ``images``, ``query``, ``category``,
  ``product_category``);
* ``items_ins_v2*.json`` — ``asin -> {"attributes", "instruction", "instruction_attributes"}``;
* ``items_human_ins.json`` — ``asin -> [{"instruction", "instruction_attributes",
  "instruction_options"}]`` (human goals, used when present);
* optionally ``items_reviews*.json`` — ``[{"asin", "reviews", "average_rating"}]``.

Products are cleaned as ``engine.load_products`` does (options lower-cased with ``/`` written
`` | ``, ``DUMMY_ATTR`` for products without attributes, prices parsed from the ``pricing``
string), and goals are built as ``engine/goal.py`` builds human or synthetic goals, in product
order, then shuffled exactly as the original shuffles them (``random.seed(233)`` then
``random.shuffle``; here on a private ``random.Random(233)``), so goals 0–499 are the original's
test goals. Human instructions lose trailing periods (``strip('.')``), synthetic ones keep them,
as in the original.

Differences: the original draws the price of a price-range product (``random.uniform``) and the
goal price caps (``random.sample``) from Python's *unseeded* global generator, so they change
from run to run there; here both are seeded draws (numpy, ``seed``). Products whose synthetic
instruction has no attributes are skipped (the original stops on an assertion), as are products
missing from ``items_ins_v2*.json`` in synthetic mode (a ``KeyError`` there).
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import random
import re
from collections import Counter
from typing import Any

import numpy as np

from agentgym.envs.web.webshop.catalog import Catalog, price_upper_for


def _find(folder: str, pattern: str, required: bool = True) -> str | None:
    matches = sorted(glob.glob(os.path.join(folder, pattern)), key=lambda p: (len(p), p))
    if not matches:
        if required:
            raise FileNotFoundError(f"no {pattern} in {folder!r} (the original WebShop data)")
        return None
    return matches[0]


def _prices(pricing: Any) -> list[float]:
    if not pricing:
        return [100.0]
    if isinstance(pricing, list):
        return [float(p) for p in pricing[:2]] or [100.0]
    values = [re.sub(r"[^\d.]", "", part) for part in str(pricing).split("$")[1:]]
    parsed = [float(v) for v in values if v and v.count(".") <= 1]
    return parsed[:2] or [100.0]


def _clean_product(raw: dict[str, Any], attrs: dict[str, Any], reviews: dict[str, Any]) -> dict:
    asin = raw["asin"]
    pricing = _prices(raw.get("pricing"))
    price_tag = f"${pricing[0]}" if len(pricing) == 1 else f"${pricing[0]} to ${pricing[1]}"
    options: dict[str, list[str]] = {}
    for name, contents in (raw.get("customization_options") or {}).items():
        if contents is None:
            continue
        options[name.lower()] = [
            str(c["value"]).strip().replace("/", " | ").lower() for c in contents
        ]
    bullets = raw.get("small_description", [])
    review_entry = reviews.get(asin, {})
    product_reviews = []
    for r in review_entry.get("reviews", []) or []:
        product_reviews.append(
            {
                "title": r.get("title", ""),
                "score": r.get("score", r.get("stars", "")),
                "body": r.get("body", r.get("review", "")),
            }
        )
    images = raw.get("images") or [""]
    return {
        "asin": asin,
        "name": raw.get("name", ""),
        "Title": raw.get("name", ""),
        "query": str(raw.get("query", "")).lower().strip(),
        "category": raw.get("category", ""),
        "product_category": raw.get("product_category", ""),
        "BulletPoints": bullets if isinstance(bullets, list) else [bullets],
        "Description": raw.get("full_description", "") or "",
        "Attributes": (
            list(attrs[asin]["attributes"])
            if "attributes" in attrs.get(asin, {})
            else ["DUMMY_ATTR"]
        ),
        "options": options,
        "option_to_image": {},
        "pricing": pricing,
        "Price": price_tag,
        "Rating": review_entry.get("average_rating", "N.A."),
        "Reviews": product_reviews,
        "MainImage": images[0],
    }


def _goal(product: dict[str, Any], text: str, attrs: list[str], options: Any, price_upper: float):
    """A goal dict; ``text`` is the instruction before the price clause."""
    price_text = f", and price lower than {price_upper:.2f} dollars" if price_upper < 1e6 else ""
    return {
        "asin": product["asin"],
        "category": product["category"],
        "query": product["query"],
        "name": product["name"],
        "product_category": product["product_category"],
        "instruction_text": text + price_text,
        "attributes": list(attrs),
        "price_upper": price_upper,
        "goal_options": options,
        "weight": 1.0,
    }


def load_original(
    folder: str,
    *,
    num_products: int | None = None,
    human_goals: bool | None = None,
    seed: int = 233,
) -> Catalog:
    """Load products and goals from the original files in ``folder``.

    Args:
        folder: directory holding the files listed in the module docstring.
        num_products: keep only the first ``num_products`` products (the files are shuffled).
        human_goals: use ``items_human_ins.json`` (default: when the file exists) instead of the
            synthetic instructions of ``items_ins_v2*.json``.
        seed: seed of the goal shuffle (the original's 233) and of the price draws.

    Returns:
        A :class:`Catalog` whose type reward uses :func:`~.reward.heuristic_nouns`; its goals are
        in the original's order.
    """
    rng = np.random.default_rng(seed)
    with open(_find(folder, "items_shuffle*.json")) as f:  # type: ignore[arg-type]
        raw_products = json.load(f)
    with open(_find(folder, "items_ins_v2*.json")) as f:  # type: ignore[arg-type]
        attributes = json.load(f)
    human_path = _find(folder, "items_human_ins*.json", required=False)
    review_path = _find(folder, "items_reviews*.json", required=False) or _find(
        folder, "reviews.json", required=False
    )
    reviews: dict[str, Any] = {}
    if review_path:
        with open(review_path) as f:
            reviews = {r["asin"]: r for r in json.load(f)}
    if num_products is not None:
        raw_products = raw_products[:num_products]
    products, seen = [], set()
    for raw in raw_products:
        asin = str(raw.get("asin", ""))
        if asin == "nan" or not asin or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        products.append(_clean_product(raw, attributes, reviews))
    prices = {
        p["asin"]: (
            p["pricing"][0] if len(p["pricing"]) == 1 else float(rng.uniform(*p["pricing"][:2]))
        )
        for p in products
    }
    for p in products:  # the price a buyer pays is fixed once, as generate_product_prices
        p["pricing"] = [prices[p["asin"]], *p["pricing"][1:]]

    use_human = human_path is not None if human_goals is None else human_goals
    if use_human:
        if human_path is None:
            raise FileNotFoundError(f"no items_human_ins*.json in {folder!r}")
        with open(human_path) as f:
            goals = _human_goals(products, json.load(f), prices, rng)
    else:
        goals = _synthetic_goals(products, attributes, prices, rng)
    if not goals:
        raise ValueError(f"no goals could be built from the files in {folder!r}")
    random.Random(seed).shuffle(goals)  # == random.seed(233); random.shuffle(goals)
    return Catalog(products, goals, None, name=f"original({folder})")


def _human_goals(
    products: list[dict[str, Any]],
    human: dict[str, Any],
    prices: dict[str, float],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """``get_human_goals``: one goal per human instruction with attributes, in product order."""
    goals = []
    for p in products:
        for ins in human.get(p["asin"], []):
            if not ins.get("instruction_attributes"):
                continue
            price_upper = price_upper_for(prices[p["asin"]], rng)
            options = list(ins.get("instruction_options", []))
            text = str(ins["instruction"]).strip(".")
            goals.append(_goal(p, text, ins["instruction_attributes"], options, price_upper))
    return goals


def _synthetic_goals(
    products: list[dict[str, Any]],
    attributes: dict[str, Any],
    prices: dict[str, float],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """``get_synthetic_goals``: one goal per option combination of every product with an
    instruction, the instruction text kept as written (trailing period included)."""
    goals: list[dict[str, Any]] = []
    for p in products:
        entry = attributes.get(p["asin"], {})
        instruction = entry.get("instruction")
        if instruction is None or not entry.get("instruction_attributes"):
            continue
        names = sorted(p["options"])
        price_upper = price_upper_for(prices[p["asin"]], rng)
        for combo in itertools.product(*(p["options"][n] for n in names)):
            goal_options = dict(zip(names, combo, strict=True))
            text = str(instruction)
            if goal_options:
                text += " with " + ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            goals.append(_goal(p, text, entry["instruction_attributes"], goal_options, price_upper))
    counts = Counter(a for g in goals for a in g["attributes"])
    for goal in goals:  # the original's sampling weight of a synthetic goal
        goal["weight"] = sum(1.0 / counts[a] for a in goal["attributes"]) / len(goal["attributes"])
    return goals
