"""A seeded product catalog and shopping goals in the format of princeton-nlp/WebShop.

WebShop (Yao et al., 2022, arXiv 2207.01206) scrapes 1.18M Amazon products; its files come from
Google Drive and are not available here, so :func:`generate_catalog` writes a catalog of the same
shape from product-type specifications: every product is a dict with the keys the original
engine uses after ``load_products`` (``asin``, ``name``/``Title``, ``query``, ``category``,
``product_category``, ``BulletPoints``, ``Description``, ``Attributes``, ``options``,
``pricing``, ``Price``, ``Rating``, ``Reviews``), and every goal is a dict as in
``engine/goal.py`` (``asin``, ``query``, ``name``, ``product_category``, ``instruction_text``,
``attributes``, ``goal_options``, ``price_upper``).

Distractors arise by construction: each product type has hundreds of products that share the
type noun but draw different attributes, option values and prices, so a shopper who ignores an
attribute or picks the wrong option scores below 1.

Goal price caps follow the original: ``price_upper`` is the larger of two distinct draws from the
next four multiples of $10 above the price.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentgym.envs.web.webshop import vocabulary as vocab

#: Number of goals in the test split (goals ``0..499``); the rest are training goals
#: (the verl-agent convention).
TEST_GOALS = 500

#: Price caps are multiples of $10 (``engine/goal.py`` PRICE_RANGE).
PRICE_RANGE: tuple[float, ...] = tuple(10.0 * i for i in range(1, 100))


@dataclass(frozen=True)
class ProductType:
    """One kind of product and the vocabulary its products are drawn from.

    Attributes:
        noun: the type noun phrase used in titles and instructions ("running shoes").
        nouns: the words of ``noun`` that are nouns (for the type reward's title-noun overlap).
        category: top-level category ("fashion"), as the original ``category`` field.
        path: ``product_category`` breadcrumb, levels separated by `` › ``.
        attributes: attribute phrases; a product has 3–5 of them, a goal 1–3 of the product's.
        options: option name -> pool of values; a product offers a subset of each pool.
        price: (low, high) price range in dollars.
        extras: title extras (nouns such as "pack" are listed in :data:`EXTRA_NOUNS`).
    """

    noun: str
    nouns: tuple[str, ...]
    category: str
    path: str
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    price: tuple[float, float] = (5.0, 80.0)
    extras: tuple[str, ...] = ()


#: The product types of the generated catalog (specifications in :mod:`.vocabulary`).
PRODUCT_TYPES: tuple[ProductType, ...] = tuple(
    ProductType(*spec) for spec in vocab.PRODUCT_TYPE_SPECS
)
#: Extra nouns that appear in titles (besides type nouns and brands).
EXTRA_NOUNS: frozenset[str] = vocab.EXTRA_NOUNS


def _asin(rng: np.random.Generator, used: set[str]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        asin = "B0" + "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 8))
        if asin not in used:
            used.add(asin)
            return asin


def _brand(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 4))
    return "".join(
        vocab.BRAND_SYLLABLES[i] for i in rng.integers(0, len(vocab.BRAND_SYLLABLES), n)
    ).title()


def _pick(rng: np.random.Generator, pool: tuple[str, ...], lo: int, hi: int) -> list[str]:
    """``lo..hi`` distinct items of ``pool`` in pool order."""
    k = int(rng.integers(lo, min(hi, len(pool)) + 1))
    idx = np.sort(rng.choice(len(pool), size=k, replace=False))
    return [pool[i] for i in idx]


def _make_product(
    rng: np.random.Generator, ptype: ProductType, asin: str, brands: list[str]
) -> dict[str, Any]:
    brand = brands[int(rng.integers(len(brands)))]
    attrs = _pick(rng, ptype.attributes, 3, 5)
    title_attrs = [attrs[i] for i in sorted(rng.choice(len(attrs), size=2, replace=False))]
    extra = ""
    if ptype.extras and rng.random() < 0.5:
        extra = ", " + ptype.extras[int(rng.integers(len(ptype.extras)))].title()
    title = f"{brand} {' '.join(a.title() for a in title_attrs)} {ptype.noun.title()}{extra}"
    bullets = [
        vocab.BULLET_TEMPLATES[int(rng.integers(len(vocab.BULLET_TEMPLATES)))].format(
            A=a.capitalize(), a=a, noun=ptype.noun
        )
        for a in attrs
    ]
    description = vocab.DESCRIPTION_TEMPLATES[
        int(rng.integers(len(vocab.DESCRIPTION_TEMPLATES)))
    ].format(
        noun=ptype.noun,
        brand=brand,
        attrs=", ".join(attrs[:-1]) + " and " + attrs[-1],
        extra=vocab.DESCRIPTION_EXTRAS[int(rng.integers(len(vocab.DESCRIPTION_EXTRAS)))],
    )
    options = {name: _pick(rng, pool, 2, 6) for name, pool in ptype.options.items()}
    low, high = ptype.price
    price = round(float(rng.uniform(low, high)), 2)
    n_reviews = int(rng.integers(0, 4))
    reviews = [
        {
            "title": vocab.REVIEW_TITLES[int(rng.integers(len(vocab.REVIEW_TITLES)))],
            "score": int(rng.integers(2, 6)),
            "body": vocab.REVIEW_BODIES[int(rng.integers(len(vocab.REVIEW_BODIES)))],
        }
        for _ in range(n_reviews)
    ]
    rating = f"{np.mean([r['score'] for r in reviews]):.1f}" if reviews else "N.A."
    return {
        "asin": asin,
        "name": title,
        "Title": title,
        "brand": brand,
        "query": ptype.noun,
        "category": ptype.category,
        "product_category": ptype.path,
        "type_nouns": list(ptype.nouns),
        "BulletPoints": bullets,
        "Description": description,
        "Attributes": attrs,
        "options": options,
        "option_to_image": {},
        "pricing": [price],
        "Price": f"${price:.2f}",
        "Rating": rating,
        "Reviews": reviews,
        "MainImage": "",
    }


def price_upper_for(price: float, rng: np.random.Generator) -> float:
    """Price cap of a goal, as ``engine/goal.py``: the larger of two distinct draws from the
    next four multiples of $10 strictly above ``price`` (1,000,000 if fewer than two exist)."""
    candidates = [p for p in PRICE_RANGE if p > price][:4]
    if len(candidates) < 2:
        return 1_000_000.0
    draw = rng.choice(len(candidates), size=2, replace=False)
    return float(max(candidates[int(i)] for i in draw))


def make_goal(product: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A goal for ``product``: 1–3 of its attributes, one value per option, a price cap and an
    instruction written from a natural-language template (the synthetic-goal format of
    ``engine/goal.py``: ``"<instruction> with <k>: <v>, and <k>: <v>, and price lower than
    <p> dollars"``)."""
    attrs = list(product["Attributes"])
    k = int(rng.integers(1, min(3, len(attrs)) + 1))
    goal_attrs = [attrs[i] for i in sorted(rng.choice(len(attrs), size=k, replace=False))]
    goal_options = {
        name: values[int(rng.integers(len(values)))]
        for name, values in sorted(product["options"].items())
    }
    price_upper = price_upper_for(product["pricing"][0], rng)
    noun = product["query"]
    template = vocab.INSTRUCTION_TEMPLATES[int(rng.integers(len(vocab.INSTRUCTION_TEMPLATES)))]
    article = "" if noun in vocab.PLURAL_NOUNS else ("an" if noun[0] in "aeiou" else "a")
    attr_text = goal_attrs[0] if k == 1 else ", ".join(goal_attrs[:-1]) + " and " + goal_attrs[-1]
    text = template.format(article=article, attrs=attr_text, noun=noun)
    text = re.sub(r"\s+", " ", text).strip()
    if goal_options:
        text += " with " + ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
    if price_upper < 1_000_000:
        text += f", and price lower than {price_upper:.2f} dollars"
    return {
        "asin": product["asin"],
        "category": product["category"],
        "query": product["query"],
        "name": product["name"],
        "product_category": product["product_category"],
        "instruction_text": text,
        "attributes": goal_attrs,
        "price_upper": price_upper,
        "goal_options": goal_options,
        "weight": 1.0,
    }


@dataclass
class Catalog:
    """Products, goals and the noun vocabulary of a shop.

    Attributes:
        products: product dicts (see the module docstring).
        goals: goal dicts; ``goals[:TEST_GOALS]`` is the test split, the rest train.
        noun_vocab: words counted as nouns in titles (type nouns, brands, extra nouns) for the
            type reward; ``None`` means "use the heuristic" (loaded original files).
        name: a short description (``generated(n=10000, seed=0)``).
    """

    products: list[dict[str, Any]]
    goals: list[dict[str, Any]]
    noun_vocab: frozenset[str] | None
    name: str = "catalog"

    def __post_init__(self) -> None:
        self.by_asin: dict[str, dict[str, Any]] = {p["asin"]: p for p in self.products}

    def split(self, name: str) -> list[int]:
        """Goal indices of split ``name``: ``test`` (0–499), ``train`` (500+) or ``all``."""
        n = len(self.goals)
        if name == "test":
            return list(range(min(TEST_GOALS, n)))
        if name == "train":
            return list(range(TEST_GOALS, n)) if n > TEST_GOALS else list(range(n))
        if name == "all":
            return list(range(n))
        raise ValueError(f"unknown split {name!r}; choose 'train', 'test' or 'all'")


@functools.lru_cache(maxsize=4)
def generate_catalog(n_products: int = 10_000, seed: int = 0, n_goals: int = 6_000) -> Catalog:
    """Generate (and cache) a catalog of ``n_products`` products and ``n_goals`` goals.

    Products cycle through :data:`PRODUCT_TYPES` in a seeded order, so every type has about
    ``n_products / len(PRODUCT_TYPES)`` products (the distractors of each other). Goals are made
    for the first ``n_goals`` products of a seeded shuffle, one goal each.

    Args:
        n_products: number of products (>= 1).
        seed: generator seed; the same arguments give the same catalog.
        n_goals: number of goals (capped at ``n_products``).

    Returns:
        The :class:`Catalog`; cached, so treat it as read-only.
    """
    if n_products < 1:
        raise ValueError("n_products must be >= 1")
    rng = np.random.default_rng(seed)
    brands = sorted({_brand(rng) for _ in range(400)})
    used: set[str] = set()
    type_ids = rng.permutation(np.arange(n_products) % len(PRODUCT_TYPES))
    products = [
        _make_product(rng, PRODUCT_TYPES[int(t)], _asin(rng, used), brands) for t in type_ids
    ]
    goal_rng = np.random.default_rng([seed, 1])
    order = goal_rng.permutation(n_products)[: min(n_goals, n_products)]
    goals = [make_goal(products[int(i)], goal_rng) for i in order]
    nouns = {w.lower() for b in brands for w in b.split()}
    for ptype in PRODUCT_TYPES:
        nouns.update(ptype.nouns)
    nouns |= EXTRA_NOUNS
    return Catalog(
        products, goals, frozenset(nouns), name=f"generated(n={n_products}, seed={seed})"
    )
