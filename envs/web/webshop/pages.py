"""HTML pages of the shop, laid out as the templates of princeton-nlp/WebShop.

Pages: search (``/<session>``), results (``/search_results/<session>``: 10 of the top 50 per
page with ``Back to Search``, ``< Prev`` from page 2 on, and ``Next >`` on every page as in the
original — past the last result it shows an empty page; ``always_next=False`` shows it only while
more results follow, as agentgym 0.1 did), item (``/item_page/<session>/<asin>``:
option radio buttons, title, price, rating, sub-page buttons, ``Buy Now``), sub-pages
(``Description``, ``Features``, ``Reviews``, ``Attributes``) and done (``/done/...``).

Buttons are ``<button class="btn">`` inside ``<form method="post">`` as in the original; product
links are ``<a class="product-link">``; options are ``<input type="radio">`` with a ``<label>``
and a ``data-url`` that a click follows (a one-line script, no external resources). Every
clickable element has an ``id`` so that the browser mode can click it by selector. The whole
navigation state is in the URL (query ``q``, ``page``, ``options`` as JSON), so pages are pure
functions of their URL and the session's goal.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

#: Products per results page (``PRODUCT_WINDOW``).
PRODUCT_WINDOW = 10
#: Sub-pages of an item (``ACTION_TO_TEMPLATE``).
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")

_STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 14px; margin: 16px;
       background: #fff; color: #222; }
h1, h2 { font-size: 20px; margin: 6px 0; } h4 { font-size: 15px; margin: 4px 0; }
form { display: inline-block; margin: 2px 6px 2px 0; }
.btn { background: #2b6cb0; color: #fff; border: 0; padding: 6px 12px; border-radius: 4px;
       font-size: 14px; cursor: pointer; }
.btn-success { background: #2f855a; } .purchase { background: #dd6b20; font-size: 16px; }
.grid-item { border-bottom: 1px solid #ddd; padding: 4px 0; }
.product-link { color: #2b6cb0; font-weight: bold; }
.radio-toolbar input { display: none; }
.radio-toolbar label { display: inline-block; border: 1px solid #999; padding: 3px 8px;
       margin: 2px; border-radius: 4px; cursor: pointer; }
.radio-toolbar input:checked + label { background: #2b6cb0; color: #fff; }
#search_input { width: 420px; padding: 6px; font-size: 14px; }
""".strip()


def _url(path: str, **params: Any) -> str:
    query = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(query)}" if query else path


def item_url(sid: str, asin: str, q: str, page: int, options: dict[str, str]) -> str:
    return _url(
        f"/item_page/{quote(sid)}/{quote(asin)}", q=q, page=page, options=_options_json(options)
    )


def results_url(sid: str, q: str, page: int) -> str:
    return _url(f"/search_results/{quote(sid)}", q=q, page=page)


def start_url(sid: str) -> str:
    """The search page of session ``sid``."""
    return f"/{quote(sid)}"


def search_form_url(sid: str) -> str:
    """Where the search form of session ``sid`` is submitted (``?search_query=<q>``)."""
    return f"/search/{quote(sid)}"


def _options_json(options: dict[str, str]) -> str:
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>'
        f'{escape(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _instruction(instruction: str) -> str:
    return f'<div id="instruction-text"><h4>Instruction:</h4><h4>{escape(instruction)}</h4></div>'


def _button(label: str, action: str, element_id: str, css: str = "btn") -> str:
    return (
        f'<form method="post" action="{escape(action)}">'
        f'<button type="submit" class="{css}" id="{element_id}">{escape(label)}</button></form>'
    )


def search_page(sid: str, instruction: str) -> str:
    """The start page: the instruction and a search box."""
    body = (
        '<div class="container"><h1>WebShop</h1>'
        f"{_instruction(instruction)}"
        f'<form id="search-form" method="get" action="{escape(search_form_url(sid))}">'
        '<input type="text" id="search_input" name="search_query" '
        'placeholder="Search..." autocomplete="off">'
        '<button type="submit" class="btn" id="btn-search">Search</button></form></div>'
    )
    return _page("WebShop", body)


def results_page(
    sid: str,
    instruction: str,
    q: str,
    page: int,
    products: list[dict[str, Any]],
    total: int,
    always_next: bool = True,
) -> str:
    """Page ``page`` of the results for ``q`` (``products`` are the ones shown); ``Next >`` on
    every page when ``always_next``, else only while more results follow."""
    parts = [
        _instruction(instruction),
        "<div><h1>Results</h1>",
        f"<p>Page {page} (Total results: {total})</p></div><div>",
        _button("Back to Search", start_url(sid), "btn-back-to-search", "btn btn-success"),
    ]
    if page > 1:
        parts.append(_button("< Prev", results_url(sid, q, page - 1), "btn-prev"))
    if always_next or page * PRODUCT_WINDOW < total:
        parts.append(_button("Next >", results_url(sid, q, page + 1), "btn-next"))
    parts.append('</div><div class="grid-container">')
    for product in products:
        asin = product["asin"]
        parts.append(
            '<div class="grid-item">'
            f'<h4><a class="product-link" id="link-{escape(asin)}" '
            f'href="{escape(item_url(sid, asin, q, page, {}))}">{escape(asin)}</a></h4>'
            f'<h4 class="product-title">{escape(product["Title"])}</h4>'
            f'<h5 class="product-price">{escape(product["Price"])}</h5></div>'
        )
    parts.append("</div>")
    return _page("Results", "".join(parts))


def item_page(
    sid: str,
    instruction: str,
    product: dict[str, Any],
    q: str,
    page: int,
    options: dict[str, str],
    show_attrs: bool,
) -> str:
    """The product page with its options (selected ones ``checked``) and buttons."""
    asin = product["asin"]
    parts = [
        _instruction(instruction),
        "<div>",
        _button("Back to Search", start_url(sid), "btn-back-to-search", "btn btn-success"),
        _button("< Prev", results_url(sid, q, page), "btn-prev"),
        "</div><div>",
    ]
    for d, (name, values) in enumerate(product.get("options", {}).items()):
        parts.append(f'<div class="option"><h4>{escape(name)}</h4><div class="radio-toolbar">')
        for v, value in enumerate(values):
            url = item_url(sid, asin, q, page, {**options, name: value})
            checked = " checked" if options.get(name) == value else ""
            radio_id = f"radio-{d}-{v}"
            parts.append(
                f'<input type="radio" id="{radio_id}" name="{escape(name)}" '
                f'value="{escape(value)}" data-url="{escape(url)}"{checked} '
                'onclick="window.location.href=this.dataset.url">'
                f'<label for="{radio_id}">{escape(value)}</label>'
            )
        parts.append("</div></div>")
    parts.append(
        f"</div><div><h2>{escape(product['Title'])}</h2>"
        f"<h4>Price: {escape(product['Price'])}</h4>"
        f"<h4>Rating: {escape(str(product.get('Rating', 'N.A.')))}</h4></div><div>"
    )
    option_json = _options_json(options)
    for sub in SUB_PAGES:
        if sub == "Attributes" and not show_attrs:
            continue
        action = _url(
            f"/item_sub_page/{quote(sid)}/{quote(asin)}/{sub}", q=q, page=page, options=option_json
        )
        parts.append(_button(sub, action, f"btn-{sub.lower()}"))
    parts.append(
        "</div><div>"
        + _button(
            "Buy Now",
            _url(f"/done/{quote(sid)}/{quote(asin)}", options=option_json),
            "btn-buy-now",
            "btn purchase",
        )
        + "</div>"
    )
    return _page(product["Title"], "".join(parts))


def sub_page(
    sid: str,
    instruction: str,
    product: dict[str, Any],
    sub: str,
    q: str,
    page: int,
    options: dict[str, str],
) -> str:
    """One of the Description / Features / Reviews / Attributes pages of an item."""
    parts = [
        _instruction(instruction),
        "<div>",
        _button("Back to Search", start_url(sid), "btn-back-to-search", "btn btn-success"),
        _button("< Prev", item_url(sid, product["asin"], q, page, options), "btn-prev"),
        "</div>",
    ]
    if sub == "Description":
        parts.append(f'<div class="description"><p>{escape(product["Description"])}</p></div>')
    elif sub == "Features":
        items = "".join(f"<li><p>{escape(b)}</p></li>" for b in product.get("BulletPoints", []))
        parts.append(f'<div class="features"><ul>{items}</ul></div>')
    elif sub == "Reviews":
        for review in product.get("Reviews", []):
            parts.append(
                f'<div class="review"><h4>{escape(str(review.get("title", "")))}</h4>'
                f"<p>Score: {escape(str(review.get('score', '')))}</p>"
                f"<p>{escape(str(review.get('body', '')))}</p></div>"
            )
    else:
        items = "".join(f"<li><p>{escape(a)}</p></li>" for a in product.get("Attributes", []))
        parts.append(f'<div class="attributes"><ul>{items}</ul></div>')
    return _page(sub, "".join(parts))


def done_page(asin: str, options: dict[str, str], reward: float) -> str:
    """The end page: what was bought and the score (the environment reads the score from the
    server's session, not from this page)."""
    opts = ", ".join(f"{k}: {v}" for k, v in options.items()) or "no options"
    body = (
        '<div class="container"><h1>Thank you for shopping with us!</h1>'
        f'<h4>Purchased</h4><p id="asin">{escape(asin)}</p><p id="options">{escape(opts)}</p>'
        f'<h4>Your score (min 0.0, max 1.0)</h4><h4 id="reward">{round(reward, 4)}</h4></div>'
    )
    return _page("Done", body)


def message_page(title: str, message: str, status_note: str = "") -> str:
    """A plain error page (unknown session, product or page)."""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{status_note}")
