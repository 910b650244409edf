"""Pure helpers for the TextWorld environment: cleaning game text and naming states.

Both work on plain data (strings and TextWorld ``Proposition`` objects, or anything with the same
``name`` / ``arguments[i].name`` / ``arguments[i].type`` attributes), so they are tested without
running a game.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

#: Characters of the ASCII-art "TEXTWORLD" banner printed at the start of every game.
_BANNER_CHARS = frozenset(" _|\\/$<>")
_RESTART_PROMPT = "Would you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command?"
_PROMPT_LINE = re.compile(r"(?:^|\n)>[^\n]*\s*$")  # the "> -= Room =-0/3" status line at the end
_BLANK_RUNS = re.compile(r"\n{3,}")

#: Unary predicates that never change during a game (kinds, not states); left out of state keys.
STATIC_PREDICATES = frozenset(
    {"cookable", "cuttable", "drinkable", "edible", "inedible", "sharp", "needs_cooking"}
)
#: Object types that are bookkeeping of the cooking challenge, not things in the house.
_HIDDEN_TYPES = frozenset({"P", "RECIPE", "ingredient", "slot"})
#: Relations ``(predicate, object, holder)`` that place an object in a room, container,
#: supporter or the inventory.
_PLACEMENT = frozenset({"at", "in", "on"})
_CLOSED = frozenset({"closed", "locked"})


def clean_feedback(text: str) -> str:
    """The game's answer without the banner, the trailing ``>`` prompt/status line and the
    restart question; blank-line runs collapse to one blank line.

    >>> clean_feedback("\\nYou take the apple.\\n\\n\\n>   -= Kitchen =-1/4")
    'You take the apple.'
    """
    text = _PROMPT_LINE.sub("", text.replace("\r\n", "\n"))
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == _RESTART_PROMPT or (stripped and set(line) <= _BANNER_CHARS):
            continue
        lines.append(stripped)
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _is_static(predicate: str) -> bool:
    # ingredient_<k>(f) marks the recipe's k-th ingredient: fixed for the whole game.
    return predicate in STATIC_PREDICATES or predicate.startswith("ingredient_")


def _arg(fact: Any, i: int) -> tuple[str, str]:
    var = fact.arguments[i]
    return str(var.name), str(var.type)


def state_key(facts: Iterable[Any]) -> str:
    """Canonical name of what the player sees: location, inventory and visible objects.

    Format: ``room=<room>|inv=<items>|objs=<items>``, items sorted and comma-separated, each
    ``name(state,...)[contents,...]``: its changing unary facts (open, closed, locked, raw,
    sliced, ...) and, for open containers and supporters, what lies in/on it (recursively).
    Objects in the room, on/in visible holders and the room's doors are visible; things in
    other rooms or in closed containers are not. Example::

        room=kitchen|inv=flour(raw,uncut)|objs=fridge(closed),table[cookbook],wooden door(open)

    Args:
        facts: the game state's propositions (TextWorld ``infos["facts"]``).

    Returns:
        The key; equal facts about what is visible give equal keys, whatever the history.
    """
    room = ""
    holds: dict[str, list[str]] = defaultdict(list)
    attrs: dict[str, set[str]] = defaultdict(set)
    doors: dict[str, set[str]] = defaultdict(set)
    for fact in facts:
        args = fact.arguments
        if fact.name in _PLACEMENT and len(args) == 2:
            (thing, thing_type), (holder, _) = _arg(fact, 0), _arg(fact, 1)
            if thing_type == "P":
                room = holder
            elif thing_type not in _HIDDEN_TYPES:
                holds[holder].append(thing)
        elif fact.name == "link" and len(args) == 3:
            doors[_arg(fact, 0)[0]].add(_arg(fact, 1)[0])
        elif len(args) == 1 and not _is_static(str(fact.name)):
            name, kind = _arg(fact, 0)
            if kind not in _HIDDEN_TYPES:
                attrs[name].add(str(fact.name))

    def show(name: str, seen: frozenset[str]) -> str:
        text = name + (f"({','.join(sorted(attrs[name]))})" if attrs.get(name) else "")
        inside = holds.get(name)
        if inside and name not in seen and not attrs.get(name, set()) & _CLOSED:
            seen = seen | {name}
            text += "[" + ",".join(sorted(show(child, seen) for child in inside)) + "]"
        return text

    inventory = sorted(show(item, frozenset()) for item in holds.get("I", []))
    visible = [*holds.get(room, []), *doors.get(room, set())]
    objects = sorted(show(item, frozenset({room})) for item in visible)
    return f"room={room}|inv={','.join(inventory)}|objs={','.join(objects)}"
