"""A scripted expert for a subset of MiniWoB++ tasks: it reads the page (the element list and,
where the task hides its answer in the DOM, the DOM itself) and returns the next action.

The expert acts only through the env's actions — the same clicks, fills and key presses a policy
may send — so a solved episode is a demonstration a policy could imitate. Each solver is a function
of the current page (and of the actions already taken this episode, for tasks whose progress the
page does not show) that returns one action string.

:data:`SOLVERS` maps task name → solver; it is the documented expert subset (see docs/gui.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentgym.envs.gui.actions import format_action

if TYPE_CHECKING:
    from agentgym.envs.gui.miniwob.env import MiniWoBEnv

_ID_OF = """sel => {
  const el = document.querySelector(sel);
  return el && el.dataset.agentgymId ? +el.dataset.agentgymId : null;
}"""
_IDS_OF = """sel => Array.from(document.querySelectorAll(sel))
  .map(el => el.dataset.agentgymId ? +el.dataset.agentgymId : null)"""
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")


class ExpertError(RuntimeError):
    """The expert found the page in a state it does not handle."""


class View:
    """What a solver reads: the utterance, the element list, the actions taken, and the DOM."""

    def __init__(self, env: MiniWoBEnv) -> None:
        self.env = env
        self.utterance = env.utterance
        self.fields = env._state.get("fields") or {}
        self.elements = env.elements
        self.history = list(env._history)

    # -- reading -----------------------------------------------------------------------------
    def quoted(self) -> list[str]:
        return re.findall(r'"([^"]*)"', self.utterance)

    def find(self, *, role: str | None = None, text: str | None = None,
             tag: str | None = None, cls: str | None = None) -> list[dict[str, Any]]:
        out = []
        for el in self.elements:
            if role is not None and el["role"] != role:
                continue
            if text is not None and el["text"] != text:
                continue
            if tag is not None and el["tag"] != tag:
                continue
            if cls is not None and cls not in el.get("classes", []):
                continue
            out.append(el)
        return out

    def one(self, **query: Any) -> dict[str, Any]:
        found = self.find(**query)
        if not found:
            raise ExpertError(f"no element {query} on the page")
        return found[0]

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.env.page_js(expression, arg)

    def id_of(self, selector: str) -> int:
        found = self.js(_ID_OF, selector)
        if found is None:
            raise ExpertError(f"no visible element matches {selector!r}")
        return int(found)

    def ids_of(self, selector: str) -> list[int | None]:
        return list(self.js(_IDS_OF, selector))

    def did(self, action: str) -> bool:
        return action in self.history

    # -- acting ------------------------------------------------------------------------------
    @staticmethod
    def click(element: dict[str, Any] | int) -> str:
        return format_action("click", element if isinstance(element, int) else element["id"])

    @staticmethod
    def fill(element: dict[str, Any] | int, text: str) -> str:
        return format_action("fill", element if isinstance(element, int) else element["id"], text)

    def submit(self, *names: str) -> str:
        for name in names or ("Submit", "submit"):
            found = self.find(role="button", text=name)
            if found:
                return self.click(found[0])
        raise ExpertError(f"no button named {names or 'Submit'}")

    def fill_then(self, pairs: list[tuple[dict[str, Any] | int, str]], then: str) -> str:
        """Fill each field whose value differs, then return ``then``."""
        by_id = {el["id"]: el for el in self.elements}
        for field, value in pairs:
            fid = field if isinstance(field, int) else field["id"]
            if by_id.get(fid, {}).get("value") != value:
                return self.fill(fid, value)
        return then


Solver = Callable[[View], str]
SOLVERS: dict[str, Solver] = {}


def solver(*names: str) -> Callable[[Solver], Solver]:
    def add(fn: Solver) -> Solver:
        for name in names:
            SOLVERS[name] = fn
        return fn

    return add


def next_action(env: MiniWoBEnv) -> str:
    """The expert's next action in ``env``'s current page."""
    fn = SOLVERS.get(env.task)
    if fn is None:
        raise ExpertError(f"the expert does not solve {env.task}")
    return fn(View(env))


def _ordinal(text: str) -> int:
    match = _ORDINAL.search(text)
    if match is None:
        raise ExpertError(f"no ordinal in {text!r}")
    return int(match.group(1))


# -- clicking ----------------------------------------------------------------------------------
@solver("click-button", "unicode-test")
def _click_button(v: View) -> str:
    return v.click(v.one(role="button", text=v.quoted()[0]))


@solver("click-test")
def _click_test(v: View) -> str:
    return v.click(v.one(role="button"))


@solver("click-test-2", "click-test-transfer")
def _click_named_button(v: View) -> str:
    name = re.search(r"button (\w+)", v.utterance).group(1)  # type: ignore[union-attr]
    return v.click(v.one(role="button", text=name))


@solver("click-button-sequence")
def _click_sequence(v: View) -> str:
    one = v.one(role="button", text="ONE")
    first = v.click(one)
    return first if not v.did(first) else v.click(v.one(role="button", text="TWO"))


@solver("click-link")
def _click_link(v: View) -> str:
    return v.click(v.one(tag="span", text=v.quoted()[0]))


@solver("click-dialog")
def _click_dialog(v: View) -> str:
    return v.click(v.id_of(".ui-dialog-titlebar-close"))


@solver("click-dialog-2")
def _click_dialog_2(v: View) -> str:
    label = v.quoted()[0]
    if label.lower() == "x":
        return v.click(v.id_of(".ui-dialog-titlebar-close"))
    return v.click(v.one(role="button", text=label))


@solver("click-tab")
def _click_tab(v: View) -> str:
    number = re.search(r"Tab #(\d+)", v.utterance).group(1)  # type: ignore[union-attr]
    return v.click(v.one(role="link", text=f"Tab #{number}"))


_FIND_LINK = """text => {
  const links = Array.from(document.querySelectorAll('.alink'));
  const el = links.find(e => e.textContent.trim() === text);
  if (!el) return null;
  const box = el.getBoundingClientRect();
  const visible = box.width > 0 && box.height > 0 && el.offsetParent !== null;
  const panel = el.closest('[id^="tabs-"], .ui-accordion-content');
  let index = -1;
  if (panel) index = Array.from(panel.parentNode.children).filter(
      c => c.matches('[id^="tabs-"], .ui-accordion-content')).indexOf(panel);
  return {id: visible && el.dataset.agentgymId ? +el.dataset.agentgymId : null,
          panel: panel ? panel.id : null, index: index};
}"""


@solver("click-tab-2", "click-tab-2-easy", "click-tab-2-medium", "click-tab-2-hard")
def _click_tab_2(v: View) -> str:
    found = v.js(_FIND_LINK, v.quoted()[0])
    if found is None:  # (-medium: the link was removed from the hidden tab; that tab is right)
        return v.click(v.id_of('a[href="#tabs-2"]'))
    if found["id"] is not None:
        return v.click(found["id"])
    return v.click(v.id_of(f'a[href="#{found["panel"]}"]'))


@solver("click-collapsible", "click-collapsible-nodelay")
def _click_collapsible(v: View) -> str:
    header = v.click(v.one(role="heading"))
    return header if not v.did(header) else v.submit()


@solver("click-collapsible-2", "click-collapsible-2-nodelay")
def _click_collapsible_2(v: View) -> str:
    found = v.js(_FIND_LINK, v.quoted()[0])
    if found is None:
        raise ExpertError("the link is not on the page")
    if found["id"] is not None:
        return v.click(found["id"])
    return v.click(v.find(role="heading")[found["index"]])


@solver("click-option")
def _click_option(v: View) -> str:
    name = re.search(r"Select (\S+) and", v.utterance).group(1)  # type: ignore[union-attr]
    label = v.one(role="label", text=name)
    radio = next(el for el in v.elements if el["parent"] == label["id"])
    return v.click(radio) if not radio.get("checked") else v.submit()


@solver("click-checkboxes", "click-checkboxes-transfer")
def _click_checkboxes(v: View) -> str:
    match = re.search(r"Select (.*) and click Submit", v.utterance)
    words = [] if match is None or match.group(1) == "nothing" else [
        w.strip() for w in match.group(1).split(",")
    ]
    for label in v.find(role="label"):
        box = next((el for el in v.elements if el["parent"] == label["id"]), None)
        if box is not None and bool(box.get("checked")) != (label["text"] in words):
            return v.click(box)
    return v.submit()


@solver("click-widget")
def _click_widget(v: View) -> str:
    kind = v.quoted()[0]
    return v.click(v.id_of(f'#area [data-type="{kind}"]'))


@solver("click-color")
def _click_color(v: View) -> str:
    color = re.search(r"Click on the (\S+) colored box", v.utterance).group(1)  # type: ignore
    return v.click(next(el for el in v.elements if el.get("bg") == color))


@solver("grid-coordinate")
def _grid(v: View) -> str:
    coords = re.search(r"\((-?\d+),(-?\d+)\)", v.utterance).group(0)  # type: ignore[union-attr]
    return v.click(v.id_of(f'circle[id="{coords}"]'))


@solver("identify-shape")
def _identify_shape(v: View) -> str:
    kind = v.js("""() => {
      const t = document.querySelector('#area_svg text');
      if (t) return /[0-9]/.test(t.textContent) ? 'digit' : 'letter';
      if (document.querySelector('#area_svg circle')) return 'circle';
      if (document.querySelector('#area_svg rect')) return 'rectangle';
      return 'triangle';
    }""")
    return v.click(v.id_of(f'#area-buttons button[data-type="{kind}"]'))


@solver("focus-text")
def _focus_text(v: View) -> str:
    return v.click(v.one(role="textbox"))


@solver("focus-text-2")
def _focus_text_2(v: View) -> str:
    return v.click(v.find(role="textbox")[_ordinal(v.utterance) - 1])


@solver("navigate-tree")
def _navigate_tree(v: View) -> str:
    name = v.quoted()[0]
    target = v.js("""name => {
      const spans = Array.from(document.querySelectorAll('#tree span.folder, #tree span.file'));
      const el = spans.find(s => s.textContent.trim() === name);
      if (!el) return null;
      if (el.offsetParent !== null && el.dataset.agentgymId) return {id: +el.dataset.agentgymId};
      let li = el.closest('li').parentNode.closest('li');
      let closed = null;
      while (li) {
        if (li.classList.contains('expandable')) closed = li;
        li = li.parentNode.closest('li');
      }
      const span = closed ? closed.querySelector(':scope > span') : null;
      return span && span.dataset.agentgymId ? {id: +span.dataset.agentgymId} : null;
    }""", name)
    if target is None:
        raise ExpertError(f"{name} is not in the tree")
    return v.click(target["id"])


@solver("phone-book")
def _phone_book(v: View) -> str:
    name = re.search(r"Find (.+?) in the contact book", v.utterance).group(1)  # type: ignore
    prop = re.search(r"click on their (\w+)", v.utterance).group(1)  # type: ignore[union-attr]
    prop = {"phone": "phone", "email": "email", "address": "address"}[prop]
    if v.find(role="heading", text=name):
        return v.click(v.id_of(f"#contact a.{prop}"))
    return v.click(v.id_of("#pagination li.next a, .pagination .next a, a.next"))


# -- typing ------------------------------------------------------------------------------------
@solver("enter-text", "enter-text-dynamic")
def _enter_text(v: View) -> str:
    return v.fill_then([(v.one(role="textbox"), v.quoted()[0])], v.submit())


@solver("enter-text-2")
def _enter_text_2(v: View) -> str:
    word = v.quoted()[0]
    word = word.upper() if "upper case" in v.utterance else word.lower()
    return v.fill_then([(v.one(role="textbox"), word)], v.submit())


@solver("enter-password")
def _enter_password(v: View) -> str:
    password = v.quoted()[0]
    return v.fill_then([(box, password) for box in v.find(role="textbox")], v.submit())


@solver("login-user", "login-user-popup")
def _login(v: View) -> str:
    cancel = v.find(role="button", text="Cancel")
    if cancel:  # the "session expires" popup: stay
        return v.click(cancel[0])
    user, password = v.quoted()[:2]
    return v.fill_then(
        [(v.id_of("#username"), user), (v.id_of("#password"), password)],
        v.submit("Login", "OK", "Submit"),
    )


@solver("enter-date")
def _enter_date(v: View) -> str:
    month, day, year = re.search(r"(\d\d)/(\d\d)/(\d{4})", v.utterance).groups()  # type: ignore
    return v.fill_then([(v.one(role="input-date"), f"{year}-{month}-{day}")], v.submit())


@solver("enter-time")
def _enter_time(v: View) -> str:
    hour, minute, half = re.search(r"(\d+):(\d\d) ?([AP]M)", v.utterance).groups()  # type: ignore
    h = int(hour) % 12 + (12 if half == "PM" else 0)
    return v.fill_then([(v.one(role="input-time"), f"{h:02d}:{minute}")], v.submit())


@solver("choose-list")
def _choose_list(v: View) -> str:
    name = re.search(r"Select (.+) from the list", v.utterance).group(1)  # type: ignore
    box = v.one(role="combobox")
    if box.get("value") != name:
        return format_action("select", box["id"], name)
    return v.submit()


@solver("click-scroll-list")
def _click_scroll_list(v: View) -> str:
    names = re.search(r"Select (.+) from the scroll list", v.utterance).group(1)  # type: ignore
    wanted = [n.strip() for n in names.split(",")]
    box = v.one(role="combobox")
    chosen = v.js(
        "id => Array.from(document.querySelector('[data-agentgym-id=\"' + id + '\"]')"
        ".selectedOptions).map(o => o.text.trim())",
        box["id"],
    )
    if sorted(chosen) != sorted(wanted):
        return format_action("select", box["id"], *wanted)
    return v.submit()


@solver("use-autocomplete", "use-autocomplete-nodelay")
def _autocomplete(v: View) -> str:
    quoted = v.quoted()
    start = quoted[0]
    end = quoted[1] if len(quoted) > 1 else ""
    word = v.js("""a => {
      return ui_utils.COUNTRIES.find(w => w.startsWith(a.start) && w.endsWith(a.end)) || null;
    }""", {"start": start, "end": end})
    if word is None:
        raise ExpertError("no autocomplete entry fits")
    return v.fill_then([(v.id_of("#tags"), word)], v.submit())


@solver("read-table")
def _read_table(v: View) -> str:
    label = re.search(r"value of (.+?) into", v.utterance).group(1)  # type: ignore[union-attr]
    cells = v.find(role="cell")
    value = next(cells[i + 1]["text"] for i, c in enumerate(cells[:-1]) if c["text"] == label)
    return v.fill_then([(v.one(role="textbox"), value)], v.submit())


@solver("read-table-2")
def _read_table_2(v: View) -> str:
    cells = v.find(role="cell")
    table = {cells[i]["text"]: cells[i + 1]["text"] for i in range(0, len(cells) - 1, 2)}
    pairs: list[tuple[dict[str, Any] | int, str]] = []
    for label in v.find(role="label"):
        box = v.js(
            "id => { const l = document.querySelector('[data-agentgym-id=\"' + id + '\"]');"
            " const f = document.getElementById(l.htmlFor) || l.parentNode.querySelector('input');"
            " return f && f.dataset.agentgymId ? +f.dataset.agentgymId : null; }",
            label["id"],
        )
        key = label["text"].rstrip(":").strip()
        if box is not None and key in table:
            pairs.append((int(box), table[key]))
    return v.fill_then(pairs, v.submit())


@solver("copy-paste")
def _copy_paste(v: View) -> str:
    boxes = v.find(role="textbox")
    source = next(el for el in boxes if el["tag"] == "textarea")
    field = next(el for el in boxes if el["tag"] == "input")
    text = v.js("id => document.querySelector('[data-agentgym-id=\"' + id + '\"]').value",
                source["id"])
    return v.fill_then([(field, text)], v.submit())


@solver("copy-paste-2")
def _copy_paste_2(v: View) -> str:
    areas = [el for el in v.find(role="textbox") if el["tag"] == "textarea"]
    field = next(el for el in v.find(role="textbox") if el["tag"] == "input")
    source = areas[_ordinal(v.utterance) - 1]
    text = v.js("id => document.querySelector('[data-agentgym-id=\"' + id + '\"]').value",
                source["id"])
    return v.fill_then([(field, text)], v.submit())


@solver("find-word")
def _find_word(v: View) -> str:
    index = _ordinal(v.utterance) - 1
    words = [w for w in v.one(tag="p")["text"].split(" ") if w]
    word = re.sub(r"[^a-zA-Z]", "", words[index])
    return v.fill_then([(v.one(role="textbox"), word)], v.submit())


@solver("scroll-text")
def _scroll_text(v: View) -> str:
    area = next(el for el in v.find(role="textbox") if el["tag"] == "textarea")
    field = next(el for el in v.find(role="textbox") if el["tag"] == "input")
    word = re.sub(r"[^a-zA-Z0-9]", "", str(area["value"]).split()[-1])
    return v.fill_then([(field, word)], v.submit())


@solver("text-transform")
def _text_transform(v: View) -> str:
    text = v.js("() => document.getElementById('captcha').textContent.replace(/\\s+/g, '')")
    return v.fill_then([(v.one(role="textbox"), text)], v.submit())


def _arithmetic(expression: str) -> int:
    a, op, b = re.search(r"(-?\d+)\s*([-+x*/])\s*(-?\d+)", expression).groups()  # type: ignore
    x, y = int(a), int(b)
    return {"+": x + y, "-": x - y, "x": x * y, "*": x * y, "/": x // y if y else 0}[op]


@solver("simple-arithmetic")
def _simple_arithmetic(v: View) -> str:
    problem = next(el["text"] for el in v.elements if el["text"].endswith("="))
    return v.fill_then([(v.one(role="textbox"), str(_arithmetic(problem)))], v.submit())


@solver("simple-algebra")
def _simple_algebra(v: View) -> str:
    equation = next(el["text"] for el in v.elements if "x" in el["text"] and "=" in el["text"])
    left, right = (s.strip() for s in equation.split("="))
    total = int(right)
    match = re.fullmatch(r"x\s*([-+])\s*(\d+)", left) or re.fullmatch(r"(\d+)\s*([-+])\s*x", left)
    if match is None:
        raise ExpertError(f"cannot solve {equation!r}")
    if left.startswith("x"):
        op, n = match.group(1), int(match.group(2))
        x = total - n if op == "+" else total + n
    else:
        n, op = int(match.group(1)), match.group(2)
        x = total - n if op == "+" else n - total
    return v.fill_then([(v.one(role="textbox"), str(x))], v.submit())


@solver("multi-layouts", "multi-orderings")
def _movie_search(v: View) -> str:
    genre, name, year = re.search(  # type: ignore[union-attr]
        r"Search for (.+) movies directed by (.+) from year (\d+)", v.utterance
    ).groups()
    boxes = v.js("""() => {
      const found = {};
      for (const input of document.querySelectorAll('#area input[type=text]')) {
        let node = input.parentNode, label = '';
        for (let i = 0; i < 3 && node && !label; i++, node = node.parentNode) {
          label = node.textContent.trim().toLowerCase();
        }
        const key = label.includes('genre') ? 'genre' : label.includes('year') ||
          label.includes('date') ? 'year' : label.includes('director') ||
          label.includes('name') ? 'name' : null;
        if (key && input.dataset.agentgymId) found[key] = +input.dataset.agentgymId;
      }
      return ['genre', 'name', 'year'].map(k => k in found ? found[k] : null); }""")
    submit = v.js("""() => {
      const el = Array.from(
          document.querySelectorAll('#area button, #area .final, #area .ui-submit'))
        .find(e => /^(submit|search|go!)$/i.test(e.textContent.trim()));
      return el && el.dataset.agentgymId ? +el.dataset.agentgymId : null; }""")
    if submit is None:
        raise ExpertError("no submit control")
    return v.fill_then(list(zip(boxes, (genre, name, year), strict=True)), v.click(int(submit)))


@solver("search-engine")
def _search_engine(v: View) -> str:
    query = v.quoted()[0]
    rank = _ordinal(v.utterance)
    state = v.js("""rank => {
      const links = Array.from(document.querySelectorAll('#page-content a.search-title'));
      const hit = links.find(a => +a.getAttribute('data-result') === rank - 1);
      const idOf = e => e && e.dataset.agentgymId ? +e.dataset.agentgymId : null;
      const pages = Array.from(document.querySelectorAll('#pagination a'))
        .filter(a => /^\\d+$/.test(a.textContent.trim()));
      const page = pages.find(a => +a.textContent.trim() === Math.floor((rank - 1) / 3) + 1);
      return {searched: links.length > 0, hit: idOf(hit), page: idOf(page)};
    }""", rank)
    if not state["searched"]:
        return v.fill_then([(v.id_of("#search-text"), query)], v.click(v.id_of("#search")))
    if state["hit"] is not None:
        return v.click(state["hit"])
    if state["page"] is None:
        raise ExpertError("the result page link is missing")
    return v.click(state["page"])


# -- forms -------------------------------------------------------------------------------------
@solver("form-sequence-2")
def _form_sequence_2(v: View) -> str:
    radio_n, number, box_n = re.search(  # type: ignore[union-attr]
        r"Check the (\d+)\w\w radio button and enter the number \"(-?\d+)\" into the (\d+)\w\w",
        v.utterance,
    ).groups()
    radio = v.find(role="radio")[int(radio_n) - 1]
    if not radio.get("checked"):
        return v.click(radio)
    return v.fill_then([(v.find(role="textbox")[int(box_n) - 1], number)], v.submit())


@solver("odd-or-even")
def _odd_or_even(v: View) -> str:
    pending = v.js("""() => {
      const rows = Array.from(document.querySelectorAll('#numbers .row'));
      for (const row of rows) {
        const n = parseInt(row.querySelector('.display-number').textContent, 10);
        const want = row.querySelector(Math.abs(n) % 2 === 1 ? '.odd' : '.even');
        if (!want.classList.contains('selected')) return +want.dataset.agentgymId;
      }
      return null; }""")
    return v.click(int(pending)) if pending is not None else v.submit()


@solver("guess-number")
def _guess_number(v: View) -> str:
    bounds = v.env._expert_memory.setdefault("bounds", [0, 9])
    feedback = v.js("""() => {
      const shown = Array.from(document.querySelectorAll('#feedback > div'))
        .find(d => !d.classList.contains('hide'));
      return shown ? shown.id : ''; }""")
    last = v.env._expert_memory.get("guess")
    if v.history and v.history[-1].startswith("click(") and last is not None:
        if feedback == "higher":
            bounds[0] = max(bounds[0], last + 1)
        elif feedback == "lower":
            bounds[1] = min(bounds[1], last - 1)
    if v.history and v.history[-1].startswith("fill("):
        return v.submit()
    guess = (bounds[0] + bounds[1]) // 2
    v.env._expert_memory["guess"] = guess
    return v.fill(v.one(role="textbox"), str(guess))


@solver("sign-agreement")
def _sign_agreement(v: View) -> str:
    if not v.quoted():  # "Click the cancel button."
        return v.click(v.one(role="button", text="Cancel"))
    name = v.quoted()[0]
    button = v.quoted()[1] if len(v.quoted()) > 1 else "Agree"
    area = next(el for el in v.find(role="textbox") if el["tag"] == "textarea")
    field = next(el for el in v.find(role="textbox") if el["tag"] == "input")
    if field.get("disabled"):
        hover = format_action("hover", area["id"])
        if not v.history or v.history[-1] != hover:  # the wheel scrolls what the mouse is over
            return hover
        return format_action("scroll", 0, 5000)
    return v.fill_then([(field, name)], v.click(v.one(role="button", text=button)))


@solver("email-inbox-delete", "email-inbox-important")
def _email_icon(v: View) -> str:
    sender = re.search(r"email by (.+?) and", v.utterance).group(1)  # type: ignore[union-attr]
    icon = "trash" if "trash" in v.utterance else "star"
    target = v.js("""a => {
      const threads = Array.from(document.querySelectorAll('.email-thread'));
      const t = threads.find(e => e.querySelector('.email-sender').textContent.trim() === a.s);
      if (!t) return null;
      const el = t.querySelector('.' + a.icon);
      const shown = el && el.getBoundingClientRect().width > 0 && el.dataset.agentgymId;
      return {icon: shown ? +el.dataset.agentgymId : null,
              thread: t.dataset.agentgymId ? +t.dataset.agentgymId : null};
    }""", {"s": sender, "icon": icon})
    if target is None:
        raise ExpertError(f"no email by {sender}")
    if target["icon"] is None:  # the icons show while the mouse is over the email
        return format_action("hover", target["thread"])
    return v.click(int(target["icon"]))
