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


_COLORS = (
    "black",
    "white",
    "navy blue",
    "light grey",
    "dark brown",
    "red",
    "olive green",
    "beige",
    "pink",
    "burgundy",
    "sky blue",
    "charcoal",
    "khaki",
    "purple",
    "teal",
    "mustard yellow",
)
_SIZES = ("small", "medium", "large", "x-large", "xx-large")
_SHOE_SIZES = tuple(str(s) for s in (6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5, 11, 12))
_VOLUMES = ("8 fl oz", "12 fl oz", "16 fl oz", "33.8 fl oz")

PRODUCT_TYPES: tuple[ProductType, ...] = (
    # --- beauty -----------------------------------------------------------------------------
    ProductType(
        "shampoo",
        ("shampoo",),
        "beauty",
        "Beauty & Personal Care › Hair Care › Shampoo & Conditioner › Shampoos",
        (
            "sulfate free",
            "paraben free",
            "argan oil",
            "color treated hair",
            "dry damaged hair",
            "cruelty free",
            "tea tree",
        ),
        {"size": _VOLUMES, "scent": ("coconut", "lavender", "unscented", "citrus", "mint")},
        (6.0, 35.0),
        ("2 pack", "salon formula"),
    ),
    ProductType(
        "conditioner",
        ("conditioner",),
        "beauty",
        "Beauty & Personal Care › Hair Care › Shampoo & Conditioner › Conditioners",
        (
            "sulfate free",
            "deep moisturizing",
            "curly hair",
            "keratin infused",
            "vegan formula",
            "fine thin hair",
        ),
        {"size": _VOLUMES, "scent": ("coconut", "rose", "unscented", "vanilla")},
        (6.0, 30.0),
        ("leave in", "salon formula"),
    ),
    ProductType(
        "face moisturizer",
        ("face", "moisturizer"),
        "beauty",
        "Beauty & Personal Care › Skin Care › Face › Creams & Moisturizers",
        (
            "hyaluronic acid",
            "oil free",
            "sensitive skin",
            "spf 30",
            "fragrance free",
            "anti aging",
            "non comedogenic",
        ),
        {"size": ("1.7 oz", "2.5 oz", "4 oz")},
        (9.0, 60.0),
        ("daily", "night cream"),
    ),
    ProductType(
        "lipstick",
        ("lipstick",),
        "beauty",
        "Beauty & Personal Care › Makeup › Lips › Lipstick",
        (
            "long lasting",
            "matte finish",
            "waterproof formula",
            "vitamin e",
            "highly pigmented",
            "cruelty free",
        ),
        {"color": ("red", "pink", "burgundy", "nude beige", "coral", "plum purple")},
        (5.0, 28.0),
        ("set of 3",),
    ),
    ProductType(
        "hair extensions",
        ("hair", "extensions"),
        "beauty",
        "Beauty & Personal Care › Hair Care › Hair Extensions, Wigs & Accessories",
        (
            "clip in",
            "human hair",
            "natural looking",
            "heat resistant",
            "straight style",
            "double weft",
        ),
        {
            "color": ("black", "dark brown", "blonde", "auburn", "ombre grey"),
            "size": ("14 inch", "18 inch", "22 inch"),
        },
        (15.0, 120.0),
        ("7 pieces",),
    ),
    # --- fashion ----------------------------------------------------------------------------
    ProductType(
        "running shoes",
        ("shoes",),
        "fashion",
        "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running",
        (
            "non slip",
            "breathable mesh",
            "memory foam",
            "arch support",
            "lightweight design",
            "rubber sole",
        ),
        {"color": _COLORS[:8], "size": _SHOE_SIZES},
        (25.0, 140.0),
        ("road",),
    ),
    ProductType(
        "t-shirt",
        ("t-shirt", "shirt"),
        "fashion",
        "Clothing, Shoes & Jewelry › Men › Clothing › Shirts › T-Shirts",
        (
            "cotton blend",
            "short sleeve",
            "moisture wicking",
            "machine wash",
            "crew neck",
            "slim fit",
        ),
        {"color": _COLORS, "size": _SIZES},
        (8.0, 35.0),
        ("3 pack",),
    ),
    ProductType(
        "jeans",
        ("jeans",),
        "fashion",
        "Clothing, Shoes & Jewelry › Women › Clothing › Jeans",
        (
            "high waist",
            "stretch denim",
            "skinny fit",
            "button closure",
            "distressed look",
            "machine wash",
        ),
        {
            "color": ("light wash blue", "dark wash blue", "black", "white", "grey"),
            "size": ("24", "26", "28", "30", "32", "34"),
        },
        (20.0, 90.0),
        (),
    ),
    ProductType(
        "dress",
        ("dress",),
        "fashion",
        "Clothing, Shoes & Jewelry › Women › Clothing › Dresses › Casual",
        ("floral print", "v neck", "long sleeve", "flowy chiffon", "midi length", "side pockets"),
        {"color": _COLORS[4:14], "size": _SIZES},
        (18.0, 75.0),
        ("summer",),
    ),
    ProductType(
        "backpack",
        ("backpack",),
        "fashion",
        "Clothing, Shoes & Jewelry › Luggage & Travel Gear › Backpacks › Laptop Backpacks",
        (
            "water resistant",
            "laptop compartment",
            "usb charging port",
            "anti theft",
            "padded straps",
            "large capacity",
        ),
        {"color": _COLORS[:10]},
        (20.0, 95.0),
        ("travel",),
    ),
    ProductType(
        "sunglasses",
        ("sunglasses",),
        "fashion",
        "Clothing, Shoes & Jewelry › Men › Accessories › Sunglasses & Eyewear Accessories",
        (
            "polarized lens",
            "uv protection",
            "metal frame",
            "lightweight design",
            "aviator style",
            "scratch resistant",
        ),
        {"color": ("black", "gold", "silver", "tortoise brown", "blue mirror")},
        (10.0, 120.0),
        (),
    ),
    # --- grocery ----------------------------------------------------------------------------
    ProductType(
        "coffee beans",
        ("coffee", "beans"),
        "grocery",
        "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans",
        ("medium roast", "dark roast", "single origin", "fair trade", "usda organic", "low acid"),
        {
            "size": ("12 ounce", "2 pound", "5 pound"),
            "flavor name": ("original", "hazelnut", "french vanilla", "mocha"),
        },
        (8.0, 60.0),
        ("whole bean",),
    ),
    ProductType(
        "green tea",
        ("tea",),
        "grocery",
        "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Tea › Green",
        (
            "caffeine free",
            "usda organic",
            "non gmo",
            "gluten free",
            "individually wrapped",
            "loose leaf",
        ),
        {
            "size": ("20 count", "50 count", "100 count"),
            "flavor name": ("jasmine", "matcha", "lemon ginger", "mint"),
        },
        (4.0, 30.0),
        ("tea bags",),
    ),
    ProductType(
        "protein bars",
        ("protein", "bars"),
        "grocery",
        "Grocery & Gourmet Food › Snack Foods › Bars › Protein Bars",
        ("gluten free", "low sugar", "high protein", "keto friendly", "plant based", "non gmo"),
        {
            "size": ("12 count", "24 count"),
            "flavor name": ("chocolate chip", "peanut butter", "cookie dough", "birthday cake"),
        },
        (12.0, 45.0),
        ("snack",),
    ),
    ProductType(
        "olive oil",
        ("olive", "oil"),
        "grocery",
        "Grocery & Gourmet Food › Pantry Staples › Cooking Oils › Olive",
        (
            "extra virgin",
            "cold pressed",
            "first press",
            "usda organic",
            "glass bottle",
            "single estate",
        ),
        {"size": ("16.9 fl oz", "25.3 fl oz", "33.8 fl oz", "68 fl oz")},
        (9.0, 55.0),
        (),
    ),
    # --- electronics ------------------------------------------------------------------------
    ProductType(
        "wireless earbuds",
        ("earbuds",),
        "electronics",
        "Electronics › Headphones, Earbuds & Accessories › Headphones & Earbuds › Earbud",
        (
            "noise cancelling",
            "bluetooth 5.3",
            "charging case",
            "sweat proof",
            "long battery life",
            "built in microphone",
        ),
        {"color": ("black", "white", "navy blue", "rose gold")},
        (15.0, 150.0),
        ("sport",),
    ),
    ProductType(
        "phone case",
        ("phone", "case"),
        "electronics",
        "Electronics › Cell Phones & Accessories › Cases, Holsters & Sleeves › Basic Cases",
        (
            "shockproof bumper",
            "wireless charging compatible",
            "slim profile",
            "screen protector",
            "kickstand stand",
            "clear back",
        ),
        {"color": _COLORS[:12], "style": ("iphone 14", "iphone 15", "galaxy s23", "pixel 8")},
        (6.0, 40.0),
        (),
    ),
    ProductType(
        "usb c cable",
        ("usb", "cable"),
        "electronics",
        "Electronics › Computers & Accessories › Computer Accessories & Peripherals › Cables",
        (
            "fast charging",
            "braided nylon",
            "data transfer",
            "100w power delivery",
            "tangle free",
            "aluminum connector",
        ),
        {"size": ("3 ft", "6 ft", "10 ft"), "color": ("black", "white", "red", "sky blue")},
        (5.0, 25.0),
        ("2 pack",),
    ),
    ProductType(
        "bluetooth speaker",
        ("speaker",),
        "electronics",
        "Electronics › Portable Audio & Video › Portable Speakers & Docks › Portable Bluetooth",
        (
            "waterproof ip67",
            "stereo sound",
            "deep bass",
            "long battery life",
            "portable design",
            "hands free calling",
        ),
        {"color": ("black", "blue", "red", "teal", "camo green")},
        (20.0, 130.0),
        ("outdoor",),
    ),
    ProductType(
        "hdmi cable",
        ("hdmi", "cable"),
        "electronics",
        "Electronics › Television & Video › Accessories › Cables › HDMI Cables",
        (
            "4k 120hz",
            "high speed",
            "gold plated",
            "ethernet channel",
            "braided nylon",
            "8k ultra hd",
        ),
        {"size": ("3 ft", "6 ft", "10 ft", "15 ft")},
        (6.0, 30.0),
        (),
    ),
    # --- home -------------------------------------------------------------------------------
    ProductType(
        "office chair",
        ("office", "chair"),
        "home",
        "Home & Kitchen › Furniture › Home Office Furniture › Home Office Chairs",
        (
            "lumbar support",
            "adjustable height",
            "mesh back",
            "easy assembly",
            "heavy duty",
            "padded armrests",
        ),
        {"color": ("black", "grey", "white", "navy blue", "pink")},
        (60.0, 300.0),
        ("ergonomic",),
    ),
    ProductType(
        "bed sheets",
        ("bed", "sheets"),
        "home",
        "Home & Kitchen › Bedding › Sheets & Pillowcases › Sheet & Pillowcase Sets",
        (
            "deep pocket",
            "egyptian cotton",
            "wrinkle free",
            "cooling fabric",
            "machine washable",
            "fade resistant",
        ),
        {"color": _COLORS[:12], "size": ("twin", "full", "queen", "king", "california king")},
        (20.0, 110.0),
        ("4 piece",),
    ),
    ProductType(
        "throw pillow covers",
        ("pillow", "covers"),
        "home",
        "Home & Kitchen › Home Décor Products › Decorative Pillows, Inserts & Covers",
        (
            "velvet fabric",
            "hidden zipper",
            "farmhouse style",
            "double sided",
            "machine washable",
            "boho pattern",
        ),
        {"color": _COLORS, "size": ("16 x 16 inch", "18 x 18 inch", "20 x 20 inch")},
        (8.0, 35.0),
        ("set of 2",),
    ),
    ProductType(
        "coffee table",
        ("coffee", "table"),
        "home",
        "Home & Kitchen › Furniture › Living Room Furniture › Tables › Coffee Tables",
        (
            "solid wood",
            "storage shelf",
            "easy assembly",
            "mid century",
            "lift top",
            "rustic finish",
        ),
        {"color": ("walnut brown", "black", "white", "natural oak", "grey")},
        (60.0, 280.0),
        (),
    ),
    ProductType(
        "desk lamp",
        ("desk", "lamp"),
        "home",
        "Home & Kitchen › Lighting & Ceiling Fans › Lamps & Shades › Desk Lamps",
        (
            "dimmable led",
            "usb charging port",
            "eye caring",
            "touch control",
            "adjustable arm",
            "memory function",
        ),
        {"color": ("black", "white", "silver", "rose gold")},
        (15.0, 70.0),
        (),
    ),
    ProductType(
        "dog bed",
        ("dog", "bed"),
        "pets",
        "Pet Supplies › Dogs › Beds & Furniture › Beds",
        (
            "orthopedic foam",
            "washable cover",
            "non slip bottom",
            "waterproof lining",
            "calming design",
            "raised rim",
        ),
        {"color": ("grey", "brown", "beige", "navy blue"), "size": _SIZES[:4]},
        (20.0, 120.0),
        (),
    ),
)

#: Extra nouns that appear in titles (besides type nouns and brands).
EXTRA_NOUNS: frozenset[str] = frozenset(
    {"pack", "formula", "cream", "pieces", "set", "bags", "bean", "piece", "snack", "road"}
)

_BRAND_SYLLABLES = (
    "lu",
    "mo",
    "ra",
    "ve",
    "zen",
    "ka",
    "tri",
    "no",
    "va",
    "sol",
    "quin",
    "bel",
    "dor",
    "fi",
    "max",
    "ori",
    "pex",
    "ta",
    "ul",
    "ly",
    "ser",
    "gro",
    "nix",
    "ae",
)
_BULLET_TEMPLATES = (
    "{A}: designed with {a} for everyday use",
    "{A} - our {noun} is made to last",
    "Premium {a} quality that customers love",
    "{A} makes this {noun} a great choice",
)
_DESCRIPTION_TEMPLATES = (
    "This {noun} from {brand} combines {attrs}. {extra}",
    "{brand} presents a {noun} with {attrs}. {extra}",
    "Meet the {brand} {noun}: {attrs}. {extra}",
)
_DESCRIPTION_EXTRAS = (
    "Backed by our satisfaction guarantee.",
    "A thoughtful gift for friends and family.",
    "Ships in recyclable packaging.",
    "Customer service is available every day.",
)
_REVIEW_TITLES = ("Great value", "Works as described", "Not bad", "Would buy again", "Okay")
_REVIEW_BODIES = (
    "Exactly what I was looking for.",
    "Quality is fine for the price.",
    "Arrived quickly and well packed.",
    "It does the job.",
)
_INSTRUCTION_TEMPLATES = (
    "i am looking for {article} {attrs} {noun}",
    "i need {article} {attrs} {noun}",
    "find me {article} {noun} that is {attrs}",
    "i want to buy {article} {noun} which is {attrs}",
    "i'd like {article} {attrs} {noun}",
    "looking for {article} {noun} with {attrs}",
)
_PLURAL_NOUNS = frozenset(
    {
        "running shoes",
        "jeans",
        "sunglasses",
        "coffee beans",
        "protein bars",
        "wireless earbuds",
        "bed sheets",
        "throw pillow covers",
        "hair extensions",
    }
)


def _asin(rng: np.random.Generator, used: set[str]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        asin = "B0" + "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 8))
        if asin not in used:
            used.add(asin)
            return asin


def _brand(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 4))
    return "".join(_BRAND_SYLLABLES[i] for i in rng.integers(0, len(_BRAND_SYLLABLES), n)).title()


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
        _BULLET_TEMPLATES[int(rng.integers(len(_BULLET_TEMPLATES)))].format(
            A=a.capitalize(), a=a, noun=ptype.noun
        )
        for a in attrs
    ]
    description = _DESCRIPTION_TEMPLATES[int(rng.integers(len(_DESCRIPTION_TEMPLATES)))].format(
        noun=ptype.noun,
        brand=brand,
        attrs=", ".join(attrs[:-1]) + " and " + attrs[-1],
        extra=_DESCRIPTION_EXTRAS[int(rng.integers(len(_DESCRIPTION_EXTRAS)))],
    )
    options = {name: _pick(rng, pool, 2, 6) for name, pool in ptype.options.items()}
    low, high = ptype.price
    price = round(float(rng.uniform(low, high)), 2)
    n_reviews = int(rng.integers(0, 4))
    reviews = [
        {
            "title": _REVIEW_TITLES[int(rng.integers(len(_REVIEW_TITLES)))],
            "score": int(rng.integers(2, 6)),
            "body": _REVIEW_BODIES[int(rng.integers(len(_REVIEW_BODIES)))],
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
    template = _INSTRUCTION_TEMPLATES[int(rng.integers(len(_INSTRUCTION_TEMPLATES)))]
    article = "" if noun in _PLURAL_NOUNS else ("an" if noun[0] in "aeiou" else "a")
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
    vocab = {w.lower() for b in brands for w in b.split()}
    for ptype in PRODUCT_TYPES:
        vocab.update(ptype.nouns)
    vocab |= EXTRA_NOUNS
    return Catalog(
        products, goals, frozenset(vocab), name=f"generated(n={n_products}, seed={seed})"
    )
