"""Reading a shop page: visible text and clickables, from its HTML.

The text modes of princeton-nlp/WebShop (``envs/web_agent_text_env.py``) parse the page with
BeautifulSoup: ``text`` joins the visible strings with `` [SEP] ``, ``text_rich`` marks buttons
and options, and the clickables are the ``.btn`` buttons, the ``.product-link`` links (keyed by
their lower-cased text) and the radio inputs (keyed by their value). This module does the same
with the standard library's :class:`html.parser.HTMLParser`, and also records how each
clickable is followed (HTTP method and URL for the text mode, a CSS selector for the browser).
The score is not read from pages: the environment takes it from the server's session record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

_INVISIBLE = frozenset({"style", "script", "head", "title", "meta", "[document]"})
_VOID = frozenset({"input", "br", "img", "meta", "link", "hr"})


@dataclass(frozen=True)
class Clickable:
    """One clickable element of a page.

    Attributes:
        kind: ``button``, ``link`` or ``option``.
        text: its text (the option value for options).
        method: HTTP method that following it sends (``GET`` or ``POST``).
        url: where following it leads (relative to the site).
        selector: CSS selector of the element a browser clicks.
        name: the option name (options only).
    """

    kind: str
    text: str
    method: str
    url: str
    selector: str
    name: str = ""


@dataclass
class ParsedPage:
    """What :func:`parse_page` reads from a page.

    Attributes:
        texts: visible strings in document order, each with the tag that holds it
            (``button``, ``label``, ``a.product-link`` or the parent tag name) and whether it is
            checked (options).
        clickables: lower-cased key -> :class:`Clickable` (buttons, product links, options).
        search_action: the search form's URL when the page has a search box, else ``None``.
    """

    texts: list[tuple[str, str, bool]] = field(default_factory=list)
    clickables: dict[str, Clickable] = field(default_factory=dict)
    search_action: str | None = None

    def text(self) -> str:
        """The ``text`` observation: visible strings joined by `` [SEP] ``."""
        return " [SEP] ".join(t for t, _, _ in self.texts)

    def text_rich(self) -> str:
        """The ``text_rich`` observation: one line per string, clickables marked."""
        lines: list[str] = []
        clicked: list[str] = []
        for text, kind, checked in self.texts:
            if kind == "button":
                lines.append(f"[button] {text} [button_]")
            elif kind == "label":
                if checked:
                    lines.append(f"  [clicked button] {text} [clicked button_]")
                    clicked.append(f"You have clicked {text}.")
                else:
                    lines.append(f"  [button] {text} [button_]")
            elif kind == "a.product-link":
                lines.append(f"\n[button] {text} [button_]")
            else:
                lines.append(text)
        return "\n".join(clicked + lines) + "\n"


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.form: dict[str, str] | None = None
        self.radios: dict[str, dict[str, str]] = {}
        self.pending_button: dict[str, str] | None = None
        self.pending_link: dict[str, str] | None = None
        self.label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form = a
        elif tag == "input" and a.get("type") == "radio":
            self.radios[a.get("id", "")] = a
            self.page.clickables[a.get("value", "")] = Clickable(
                "option",
                a.get("value", ""),
                "GET",
                a.get("data-url", ""),
                f'label[for="{a.get("id", "")}"]',
                a.get("name", ""),
            )
        elif tag == "input" and a.get("id") == "search_input" and self.form is not None:
            self.page.search_action = self.form.get("action", "")
        elif tag == "button" and "btn" in a.get("class", "").split():
            self.pending_button = a
        elif tag == "a" and "product-link" in a.get("class", "").split():
            self.pending_link = a
        elif tag == "label":
            self.label_for = a.get("for")
        if tag not in _VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "label":
            self.label_for = None
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        tag = self.stack[-1][0] if self.stack else "[document]"
        if any(t in _INVISIBLE for t, _ in self.stack) or tag in _INVISIBLE:
            return
        text = data.strip()
        if not text:
            return
        kind, checked = tag, False
        if tag == "button" and self.pending_button is not None:
            kind = "button"
            form = self.form or {}
            element_id = self.pending_button.get("id", "")
            self.page.clickables.setdefault(
                text.lower(),
                Clickable(
                    "button",
                    text,
                    form.get("method", "get").upper(),
                    form.get("action", ""),
                    f"#{element_id}",
                ),
            )
            self.pending_button = None
        elif tag == "a" and self.pending_link is not None:
            kind = "a.product-link"
            self.page.clickables[text.lower()] = Clickable(
                "link",
                text,
                "GET",
                self.pending_link.get("href", ""),
                f"#{self.pending_link.get('id', '')}",
            )
            self.pending_link = None
        elif tag == "label":
            radio = self.radios.get(self.label_for or "", {})
            checked = "checked" in radio
        self.page.texts.append((text, kind, checked))


def parse_page(html: str) -> ParsedPage:
    """Parse a shop page (see :class:`ParsedPage`)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.page
