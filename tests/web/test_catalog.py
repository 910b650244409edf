"""The generated catalog and goals, and the loader of the original WebShop files."""

from __future__ import annotations

import json

import pytest

from agentgym.envs.web.webshop.catalog import PRODUCT_TYPES, generate_catalog
from agentgym.envs.web.webshop.env import WebShopEnv
from agentgym.envs.web.webshop.loader import load_original
from agentgym.envs.web.webshop.search import SearchEngine


def test_catalog_is_seeded_and_varied():
    a, b = generate_catalog(500, 7, 100), generate_catalog.__wrapped__(500, 7, 100)
    assert [p["asin"] for p in a.products] == [p["asin"] for p in b.products]
    assert [g["instruction_text"] for g in a.goals] == [g["instruction_text"] for g in b.goals]
    assert generate_catalog(500, 8, 100).products[0]["asin"] != a.products[0]["asin"]
    assert len(PRODUCT_TYPES) >= 20
    assert len({t.category for t in PRODUCT_TYPES}) >= 5
    assert len({p["query"] for p in a.products}) == len(PRODUCT_TYPES)
    assert len({p["asin"] for p in a.products}) == len(a.products)
    for p in a.products:
        assert p["Title"] and p["BulletPoints"] and p["Description"] and p["Attributes"]
        assert p["Price"] == f"${p['pricing'][0]:.2f}"
        names = list(p["options"])
        values = [v for vs in p["options"].values() for v in vs]
        assert len(values) == len(set(values)), "option values must be unique per product"
        assert all(len(p["options"][n]) >= 2 for n in names)


def test_goals_have_distractors_and_original_fields():
    catalog = generate_catalog(2000, 0, 300)
    for goal in catalog.goals[:50]:
        product = catalog.by_asin[goal["asin"]]
        assert set(goal["attributes"]) <= set(product["Attributes"])
        assert all(product["options"][k].count(v) == 1 for k, v in goal["goal_options"].items())
        assert goal["price_upper"] > product["pricing"][0]
        assert goal["price_upper"] % 10 == 0
        assert "price lower than" in goal["instruction_text"]
        same_type = [p for p in catalog.products if p["query"] == goal["query"]]
        assert len(same_type) > 20  # distractors of the same type
        # some same-type product lacks a goal attribute or a goal option value
        assert any(
            not set(goal["attributes"]) <= set(p["Attributes"])
            or any(v not in p["options"].get(k, []) for k, v in goal["goal_options"].items())
            for p in same_type
        )


def test_splits():
    catalog = generate_catalog(2000, 0, 1200)
    assert catalog.split("test") == list(range(500))
    assert catalog.split("train") == list(range(500, 1200))
    with pytest.raises(ValueError, match="unknown split"):
        catalog.split("validation")


def test_bm25_search_ranks_matching_products_first():
    catalog = generate_catalog(500, 7, 100)
    engine = SearchEngine(catalog.products)
    product = catalog.products[3]
    hits = engine.search(product["Title"].lower())
    assert hits[0] == 3 or catalog.products[hits[0]]["Title"] == product["Title"]
    assert len(hits) <= 50
    assert engine.search("zzzz qqqq") == []
    assert all(catalog.products[i]["query"] == "desk lamp" for i in engine.search("desk lamp")[:5])


# -- the original files --------------------------------------------------------------------
def _write_original_files(folder) -> None:
    products = [
        {
            "asin": "B09AAAAAAA",
            "name": "Lumos Sulfate Free Shampoo for Dry Hair",
            "full_description": "A gentle shampoo with argan oil.",
            "small_description": ["Sulfate free", "Argan oil"],
            "pricing": "$12.99",
            "customization_options": {
                "Color": [{"value": "Navy/Blue", "image": None}, {"value": "Red", "image": None}],
                "Size": [{"value": "8 oz", "image": None}, {"value": "16 oz", "image": None}],
            },
            "images": ["http://img/1.jpg"],
            "query": "Shampoo ",
            "category": "beauty",
            "product_category": "Beauty & Personal Care › Hair Care › Shampoo",
        },
        {
            "asin": "B09BBBBBBB",
            "name": "Glow Desk Lamp",
            "full_description": "A dimmable lamp.",
            "small_description": "Dimmable",
            "pricing": "$20.00 - $30.00",
            "customization_options": None,
            "images": ["http://img/2.jpg"],
            "query": "desk lamp",
            "category": "home",
            "product_category": "Home › Lighting › Lamps",
        },
        {
            "asin": "B09CCCCCCC",
            "name": "Warm Wool Socks",
            "full_description": "Socks.",
            "small_description": ["Wool"],
            "pricing": "",
            "customization_options": {
                "Size": [{"value": "Small", "image": None}, {"value": "Large", "image": None}],
                "Style": None,
            },
            "images": [""],
            "query": "socks",
            "category": "fashion",
            "product_category": "Clothing › Socks",
        },
        {"asin": "nan", "name": "broken"},
    ]
    attributes = {
        "B09AAAAAAA": {
            "attributes": ["sulfate free", "argan oil"],
            "instruction": "i need a sulfate free shampoo.",
            "instruction_attributes": ["sulfate free"],
        },
        "B09BBBBBBB": {
            "attributes": ["dimmable"],
            "instruction": "i want a dimmable desk lamp",
            "instruction_attributes": ["dimmable"],
        },
        "B09CCCCCCC": {
            "attributes": [],
            "instruction": "i want warm wool socks",
            "instruction_attributes": ["wool"],
        },
    }
    human = {
        "B09AAAAAAA": [
            {
                "instruction": "i need a sulfate free shampoo in navy | blue, 16 oz.",
                "instruction_attributes": ["sulfate free"],
                "instruction_options": ["navy | blue", "16 oz"],
            },
            {"instruction": "skipped", "instruction_attributes": [], "instruction_options": []},
        ]
    }
    (folder / "items_shuffle_1000.json").write_text(json.dumps(products))
    (folder / "items_ins_v2_1000.json").write_text(json.dumps(attributes))
    (folder / "items_human_ins.json").write_text(json.dumps(human))


def test_loader_reads_original_format(tmp_path):
    _write_original_files(tmp_path)
    catalog = load_original(str(tmp_path))
    assert [p["asin"] for p in catalog.products] == ["B09AAAAAAA", "B09BBBBBBB", "B09CCCCCCC"]
    shampoo, lamp, socks = catalog.products
    assert shampoo["options"] == {"color": ["navy | blue", "red"], "size": ["8 oz", "16 oz"]}
    assert shampoo["Price"] == "$12.99" and shampoo["query"] == "shampoo"
    assert lamp["Price"] == "$20.0 to $30.0" and 20.0 <= lamp["pricing"][0] <= 30.0
    assert lamp["BulletPoints"] == ["Dimmable"]
    # as load_products: a None option list is skipped, an empty pricing is $100.0, and an
    # attribute list in items_ins_v2 is used as it is (even empty; DUMMY_ATTR only if absent)
    assert socks["options"] == {"size": ["small", "large"]} and socks["Price"] == "$100.0"
    assert socks["Attributes"] == [] and shampoo["Attributes"] == ["sulfate free", "argan oil"]
    assert len(catalog.goals) == 1  # human goals; the one without attributes is skipped
    goal = catalog.goals[0]
    assert goal["goal_options"] == ["navy | blue", "16 oz"]
    # human instructions lose their trailing "." (strip('.')) before the price clause
    price = f"{goal['price_upper']:.2f}"
    assert goal["instruction_text"] == (
        f"i need a sulfate free shampoo in navy | blue, 16 oz, and price lower than {price} dollars"
    )
    assert goal["price_upper"] in (30.0, 40.0, 50.0)


def test_synthetic_goals_in_the_original_split_order(tmp_path):
    """Goals are built in product order, one per option combination (option names sorted),
    then shuffled as the original: ``random.seed(233); random.shuffle(goals)``."""
    _write_original_files(tmp_path)
    catalog = load_original(str(tmp_path), human_goals=False)
    built = [  # (asin, options) in the order get_synthetic_goals builds them
        ("B09AAAAAAA", {"color": "navy | blue", "size": "8 oz"}),
        ("B09AAAAAAA", {"color": "navy | blue", "size": "16 oz"}),
        ("B09AAAAAAA", {"color": "red", "size": "8 oz"}),
        ("B09AAAAAAA", {"color": "red", "size": "16 oz"}),
        ("B09BBBBBBB", {}),
        ("B09CCCCCCC", {"size": "small"}),
        ("B09CCCCCCC", {"size": "large"}),
    ]
    # random.seed(233); random.shuffle(x) on 7 items puts x[2], x[0], x[3], x[4], x[1], x[6],
    # x[5] in that order (recorded from the original's call on Python 3.11).
    expected = [built[i] for i in (2, 0, 3, 4, 1, 6, 5)]
    assert [(g["asin"], g["goal_options"]) for g in catalog.goals] == expected
    assert catalog.split("test") == list(range(7))
    # the synthetic instruction keeps its trailing "." before the options, as the original
    first = catalog.goals[0]
    assert first["instruction_text"].startswith(
        "i need a sulfate free shampoo. with color: red, and size: 8 oz"
    )
    price = f"{first['price_upper']:.2f}"
    assert first["instruction_text"].endswith(f"price lower than {price} dollars")
    assert catalog.goals[3]["instruction_text"].startswith("i want a dimmable desk lamp, and price")
    # the original's sampling weight: mean over attributes of 1 / (goals with the attribute)
    assert first["weight"] == pytest.approx(1 / 4)  # "sulfate free" in the 4 shampoo goals
    assert catalog.goals[5]["weight"] == pytest.approx(1 / 2)  # "wool" in the 2 sock goals


def test_env_plays_loaded_files(tmp_path):
    _write_original_files(tmp_path)
    env = WebShopEnv(data_path=str(tmp_path), split="all")
    try:
        _obs, info = env.reset(seed=0)
        assert "sulfate free shampoo" in info["instruction"]
        info = {}
        for _ in range(10):
            _, reward, terminated, _, info = env.step(env.expert_action())
            if terminated:
                break
        assert info["task_score"] == 1.0 and reward == 1.0
    finally:
        env.close()
