"""The GUI action grammar shared by MiniWoB++ and the desktop: ``name(arg, ...)``, parsed in one
pass.

An action is one call, as in BrowserGym's action sets (arXiv 2412.05467)::

    click(12)                  element level: the element with id 12 in the text view
    fill(7, "Alice Smith")     element level: replace the field's text
    select(3, "Red")           element level: choose an option of a <select>
    hover(5)  press("Enter")  scroll(0, 120)
    click(40, 85)              coordinate level: a real mouse click at pixel (x=40, y=85)
    double_click(40, 85)  drag(10, 20, 90, 20)  type("hello")  key("ctrl+a")

Arguments are integers, decimal numbers or quoted strings (``"..."`` or ``'...'`` with the
escapes ``\\n \\t \\" \\' \\\\``). Whitespace is allowed around every token; nothing may follow the
closing parenthesis. :func:`parse_action` scans the text once (linear time, no backtracking
regex), and :func:`check_signature` matches the arguments against the environment's
:data:`Signature` table. Every problem raises :class:`ActionError` with a message for the agent;
environments answer it as an invalid action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Longest action text accepted, in characters.
MAX_ACTION_CHARS = 2000

Arg = int | float | str
#: One accepted argument list: a tuple of kinds, each ``"int"``, ``"num"`` (int or float),
#: ``"str"`` or ``"str*"`` (one or more further strings, last only).
Signature = tuple[str, ...]

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


class ActionError(ValueError):
    """An action that cannot be parsed or does not fit a signature; the message says why."""


@dataclass(frozen=True)
class GuiAction:
    """A parsed action: ``name`` (lower case) and its arguments in order."""

    name: str
    args: tuple[Arg, ...]

    def __str__(self) -> str:
        return format_action(self.name, *self.args)


def format_action(name: str, *args: Arg) -> str:
    """The canonical text of an action; ``parse_action(format_action(n, *a))`` gives it back.

    >>> format_action("fill", 3, 'say "hi"')
    'fill(3, "say \\\\"hi\\\\"")'
    """
    parts = []
    for arg in args:
        if isinstance(arg, str):
            escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
            escaped = escaped.replace("\n", "\\n").replace("\t", "\\t")
            parts.append(f'"{escaped}"')
        elif isinstance(arg, float):
            parts.append(repr(arg))
        else:
            parts.append(str(int(arg)))
    return f"{name}({', '.join(parts)})"


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def _parse_string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    i += 1
    n = len(text)
    start = i
    while i < n:
        char = text[i]
        if char == quote:
            out.append(text[start:i])
            return "".join(out), i + 1
        if char == "\\":
            out.append(text[start:i])
            if i + 1 >= n:
                break
            out.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
            start = i
            continue
        i += 1
    raise ActionError(f"a string opened with {quote} is never closed")


def _parse_number(text: str, i: int) -> tuple[int | float, int]:
    n = len(text)
    start = i
    if i < n and text[i] in "+-":
        i += 1
    digits = 0
    while i < n and text[i] in "0123456789":
        i += 1
        digits += 1
    is_float = i < n and text[i] == "."
    if is_float:
        i += 1
        while i < n and text[i] in "0123456789":
            i += 1
            digits += 1
    if digits == 0:
        raise ActionError(f"expected a number or a quoted string at position {start}")
    token = text[start:i]
    if len(token) > 20:
        raise ActionError(f"the number at position {start} is too long")
    return (float(token) if is_float else int(token)), i


def parse_action(text: str) -> GuiAction:
    """Parse one ``name(arg, ...)`` call.

    Raises:
        ActionError: the text is not exactly one call (the message says what is wrong).

    >>> parse_action(' click( 12 ) ')
    GuiAction(name='click', args=(12,))
    >>> parse_action('type("a, b")').args
    ('a, b',)
    """
    if not isinstance(text, str):
        raise ActionError(f"an action must be text, got {type(text).__name__}")
    if len(text) > MAX_ACTION_CHARS:
        raise ActionError(f"the action is {len(text)} characters long; at most {MAX_ACTION_CHARS}")
    n = len(text)
    i = _skip_space(text, 0)
    if i == n:
        raise ActionError("the action is empty; write one call such as click(12)")
    start = i
    while i < n and (text[i].isascii() and (text[i].isalnum() or text[i] == "_")):
        i += 1
    name = text[start:i].lower()
    if not name or not name[0].isalpha():
        raise ActionError("an action starts with a name, as in click(12) or type(\"text\")")
    i = _skip_space(text, i)
    if i >= n or text[i] != "(":
        raise ActionError(f"expected '(' after {name!r}; write {name}(...)")
    i = _skip_space(text, i + 1)
    args: list[Arg] = []
    if i < n and text[i] == ")":
        i += 1
    else:
        while True:
            if i >= n:
                raise ActionError("the action ends before its closing ')'")
            if text[i] in "\"'":
                value, i = _parse_string(text, i)
                args.append(value)
            else:
                number, i = _parse_number(text, i)
                args.append(number)
            i = _skip_space(text, i)
            if i >= n:
                raise ActionError("the action ends before its closing ')'")
            if text[i] == ",":
                i = _skip_space(text, i + 1)
                continue
            if text[i] == ")":
                i += 1
                break
            raise ActionError(f"expected ',' or ')' at position {i}")
    if _skip_space(text, i) != n:
        raise ActionError("write exactly one action; there is text after its closing ')'")
    return GuiAction(name, tuple(args))


def _fits(args: Sequence[Arg], signature: Signature) -> bool:
    if signature and signature[-1] == "str*":
        fixed = signature[:-1]
        if len(args) <= len(fixed):
            return False
        rest = args[len(fixed) :]
        return _fits(args[: len(fixed)], fixed) and all(isinstance(a, str) for a in rest)
    if len(args) != len(signature):
        return False
    for arg, kind in zip(args, signature, strict=True):
        if kind == "str" and not isinstance(arg, str):
            return False
        if kind == "int" and not (isinstance(arg, int) and not isinstance(arg, bool)):
            return False
        if kind == "num" and isinstance(arg, str | bool):
            return False
    return True


def _describe(name: str, signature: Signature) -> str:
    words = {"int": "ID", "num": "N", "str": '"TEXT"', "str*": '"TEXT", ...'}
    return f"{name}({', '.join(words[k] for k in signature)})"


def check_signature(
    action: GuiAction, signatures: Mapping[str, Sequence[Signature]]
) -> Signature:
    """The signature of ``signatures[action.name]`` that ``action.args`` fit.

    Raises:
        ActionError: unknown name or arguments that fit none of its signatures (the message lists
            the accepted forms).
    """
    forms = signatures.get(action.name)
    if forms is None:
        known = ", ".join(sorted(signatures))
        raise ActionError(f"unknown action {action.name!r}; use one of: {known}")
    for signature in forms:
        if _fits(action.args, signature):
            return signature
    accepted = " or ".join(_describe(action.name, s) for s in forms)
    raise ActionError(f"{action.name} takes {accepted}")


# -- key names ---------------------------------------------------------------------------------
_MODIFIERS = {"ctrl": "Control", "control": "Control", "shift": "Shift", "alt": "Alt",
              "meta": "Meta", "cmd": "Meta", "super": "Meta"}
_NAMED_KEYS = {
    "enter": "Enter", "return": "Enter", "tab": "Tab", "esc": "Escape", "escape": "Escape",
    "backspace": "Backspace", "delete": "Delete", "del": "Delete", "space": "Space",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "arrowup": "ArrowUp", "arrowdown": "ArrowDown", "arrowleft": "ArrowLeft",
    "arrowright": "ArrowRight", "home": "Home", "end": "End", "pageup": "PageUp",
    "pagedown": "PageDown", "insert": "Insert",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}


def normalize_key(key: str) -> tuple[str, ...]:
    """A key or chord as canonical names (Playwright's): ``"ctrl+a"`` → ``("Control", "a")``.

    Modifiers are ``Control``, ``Shift``, ``Alt``, ``Meta``; keys are the named keys above
    (``Enter``, ``Tab``, ``ArrowUp``, ``F5`` …) or one printable ASCII character.

    Raises:
        ActionError: an unknown key name or more than one non-modifier key.
    """
    if not key or len(key) > 40:
        raise ActionError("press takes a key such as \"Enter\", \"Tab\" or \"ctrl+a\"")
    parts = [key] if key == "+" else key.split("+")
    if parts[-1] == "" and key.endswith("++"):  # "ctrl++" is Control and the + key
        parts = [*parts[:-2], "+"]
    out: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        lowered = part.strip().lower() if len(part) > 1 else part
        if not last:
            if lowered not in _MODIFIERS:
                raise ActionError(f"{part!r} is not a modifier (ctrl, shift, alt, meta)")
            out.append(_MODIFIERS[lowered])
        elif lowered in _MODIFIERS:
            out.append(_MODIFIERS[lowered])
        elif lowered in _NAMED_KEYS:
            out.append(_NAMED_KEYS[lowered])
        elif len(part) == 1 and " " <= part <= "~":
            out.append(part)
        else:
            raise ActionError(
                f"unknown key {part!r}; use a printable character or one of Enter, Tab, "
                "Escape, Backspace, Delete, Space, ArrowUp/Down/Left/Right, Home, End, "
                "PageUp, PageDown, F1-F12, with ctrl/shift/alt/meta+"
            )
    return tuple(out)
