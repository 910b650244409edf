"""The ``compact`` observation of a shop page: what a shopper needs, one short line per thing.

The ``text`` observation is the original's: every visible string joined by `` [SEP] ``, the
instruction repeated on every page and the available actions listed after it (a results page is
about 900 tokens of a small model's tokenizer). ``compact`` renders the same parsed page
(:class:`~.html_text.ParsedPage`, so nothing the page does not show) as a few lower-cased lines:

* search page — ``search page``;
* results — ``results for "<query>", page 1 of 5:`` then one numbered line per product,
  ``1. b0abc12345 | <title> | $12.34``, then the buttons;
* item — ``<title> | $12.34 | rating 4.5``, one line per option with its values and the chosen
  one (``color: black, navy blue, red (chosen: red)``), then the buttons;
* description, features, reviews, attributes — their text, then the buttons;
* done — the page's text.

The instruction is not repeated: it is ``info["instruction"]``, which agentgym's chat prompts
show once as the ``Task:`` line. Actions, their validity and the reward are those of the
``text`` mode, plus one: on a results page ``click[<n>]`` clicks the product numbered ``n``
(a model copies a small number instead of a ten-character id). Lower-casing matches the actions,
whose arguments are lower-cased anyway (``click[B0ABC12345]`` and ``click[b0abc12345]`` are the
same click).
"""

from __future__ import annotations

import re
from typing import Any

from agentgym.envs.web.webshop.html_text import ParsedPage
from agentgym.envs.web.webshop.pages import PRODUCT_WINDOW

_TOTAL = re.compile(r"total results:\s*(\d+)", re.IGNORECASE)


def _buttons(page: ParsedPage) -> str:
    """``buttons: a, b, …`` in page order (the search box's button is not listed)."""
    names = [key for key, c in page.clickables.items() if c.kind == "button" and key != "search"]
    return "buttons: " + ", ".join(names) if names else ""


def _body_texts(page: ParsedPage) -> list[tuple[str, str, bool]]:
    """The page's strings without the instruction block and the buttons."""
    out: list[tuple[str, str, bool]] = []
    skip_next = False
    for text, kind, checked in page.texts:
        if skip_next:
            skip_next = False
            continue
        if text == "Instruction:":
            skip_next = True  # the instruction itself follows
            continue
        if kind == "button":
            continue
        out.append((text, kind, checked))
    return out


def _results(page: ParsedPage, location: dict[str, Any]) -> list[str]:
    body = _body_texts(page)
    total = 0
    rows: list[list[str]] = []
    for text, kind, _ in body:
        match = _TOTAL.search(text)
        if match:
            total = int(match.group(1))
        elif kind == "a.product-link":
            rows.append([text])
        elif rows and kind in ("h4", "h5"):
            rows[-1].append(text)
    pages = max(1, -(-total // PRODUCT_WINDOW))
    head = f'results for "{location.get("q", "")}", page {location.get("page", 1)} of {pages}:'
    lines = [head]
    first = (int(location.get("page", 1)) - 1) * PRODUCT_WINDOW
    lines += [f"{first + i + 1}. " + " | ".join(row) for i, row in enumerate(rows)]
    if not rows:
        lines.append("no products on this page")
    return lines


def _item(page: ParsedPage) -> list[str]:
    body = _body_texts(page)
    options: list[tuple[str, list[str], str]] = []
    head: list[str] = []
    for text, kind, checked in body:
        if kind == "label":
            if options:
                options[-1][1].append(text)
                if checked:
                    options[-1] = (options[-1][0], options[-1][1], text)
        elif kind == "h4" and not head and not text.startswith(("Price:", "Rating:")):
            options.append((text, [], ""))  # an option name; its values follow as labels
        elif kind == "h2":
            head.append(text)
        elif kind == "h4" and text.startswith("Price:"):
            head.append(text.split(":", 1)[1].strip())
        elif kind == "h4" and text.startswith("Rating:"):
            head.append("rating " + text.split(":", 1)[1].strip())
    lines = [" | ".join(head)]
    for name, values, chosen in options:
        lines.append(f"{name}: {', '.join(values)} (chosen: {chosen or 'none'})")
    return lines


def _sub_page(page: ParsedPage, location: dict[str, Any]) -> list[str]:
    texts = [text for text, _, _ in _body_texts(page)]
    return [f"{location.get('sub', 'page')} of this item:", *texts]


def compact_text(page: ParsedPage, location: dict[str, Any]) -> str:
    """The compact observation of ``page``.

    Args:
        page: the parsed page (:func:`~.html_text.parse_page`).
        location: the page kind and navigation state of its URL (``kind``: ``search``,
            ``search_results``, ``item_page``, ``item_sub_page``, ``done``; ``q``, ``page``,
            ``sub``), as :meth:`WebShopEnv._location` returns it.

    Returns:
        Lower-cased lines joined by newlines (see the module docstring).
    """
    kind = location.get("kind", "")
    if kind == "search":
        lines = ["search page"]
    elif kind == "search_results":
        lines = _results(page, location)
    elif kind == "item_page":
        lines = _item(page)
    elif kind == "item_sub_page":
        lines = _sub_page(page, location)
    else:
        lines = [" | ".join(text for text, _, _ in _body_texts(page))]
    buttons = _buttons(page)
    if buttons and kind != "done":
        lines.append(buttons)
    return "\n".join(lines).lower()
