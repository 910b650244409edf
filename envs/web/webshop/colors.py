"""Colour words of the WebShop option reward, and the normalisation that uses them.

The original reward (princeton-nlp/WebShop, ``web_agent_site/engine/normalize.py``) replaces an
option value by the first word of its colour list that occurs in it, so "navy blue" and "sky
blue" both become "blue" before they are compared. Order matters: the list is alphabetical, so
"navy blue" becomes "blue" (not "navy") and "light wash" becomes "ash".

:data:`ORIGINAL_COLORS` is the original's list (102 words, alphabetical). :data:`LEGACY_COLORS` is
the list of agentgym 0.1, kept only for ``strict=True`` (see :mod:`.reward`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The original's colour words, in its (alphabetical) search order.
ORIGINAL_COLORS: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black",
    "blue", "blush", "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel",
    "champagne", "charcoal", "cheetah", "chestnut", "chocolate", "christmas", "coffee", "cognac",
    "copper", "coral", "cranberry", "cream", "crystal", "dark", "denim", "eggplant", "elephant",
    "espresso", "fuchsia", "gold", "granite", "grape", "graphite", "grass", "gray", "green",
    "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light",
    "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach",
    "pewter", "pink", "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand",
    "sapphire", "seashell", "silver", "skull", "slate", "steel", "stone", "stonewash",
    "sunflower", "tan", "taupe", "teal", "tiger", "turquoise", "violet", "walnut", "wheat",
    "white", "wine", "yellow",
)  # fmt: skip

#: agentgym 0.1's colour words (``strict=True`` only), in their search order.
LEGACY_COLORS: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black",
    "blue", "blush", "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel",
    "champagne", "charcoal", "cheetah", "chestnut", "chocolate", "christmas", "coffee", "cognac",
    "copper", "coral", "cream", "crimson", "cyan", "denim", "dusty", "ecru", "emerald",
    "fuchsia", "gold", "gray", "green", "grey", "hot pink", "indigo", "ivory", "jade", "khaki",
    "lavender", "leopard", "lime", "magenta", "maroon", "mauve", "mint", "mocha", "multicolor",
    "mustard", "natural", "navy", "neon", "nude", "olive", "orange", "peach", "pewter", "pink",
    "plum", "purple", "rainbow", "red", "rose gold", "rust", "sage", "sand", "silver", "sky",
    "slate", "tan", "taupe", "teal", "turquoise", "violet", "walnut", "white", "wine", "yellow",
)  # fmt: skip


def normalize_color(value: Any, colors: Sequence[str] = ORIGINAL_COLORS) -> Any:
    """The first word of ``colors`` found ``in value``, else ``value`` unchanged.

    ``in`` is Python's: a substring test for a string, but an *element* test for a tuple. The
    original applies this to the ``(name, value)`` pairs of a synthetic goal's options, so such a
    pair is normalised only when its name or value *is* a colour word, and otherwise stays a pair
    (see :func:`agentgym.envs.web.webshop.reward.option_matches`).

    >>> normalize_color("navy blue")
    'blue'
    >>> normalize_color("light wash")
    'ash'
    >>> normalize_color(("color", "navy blue"))
    ('color', 'navy blue')
    >>> normalize_color(("color", "black"))
    'black'
    """
    for color in colors:
        if color in value:
            return color
    return value
