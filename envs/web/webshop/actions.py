"""WebShop action grammar: ``search[query]`` and ``click[target]``, parsed in linear time.

**Original grammar** (the default; ``web_agent_site/engine/engine.py``, ``parse_action``): the
original matches ``re.match(r"(.+)\\[(.+)\\]", action)``, i.e. a case-sensitive name, then the
*last* ``[`` that still leaves a ``]`` at least two characters later, then the *last* ``]`` of the
line; everything after that ``]`` is ignored, and nothing can span a newline. So
``click[x] now`` is ``("click", "x")``, while ``Search[x]``, `` click[x]`` and ``click [x]`` have
the names ``Search``, `` click`` and ``click `` and are rejected. :func:`parse_original` computes
the same groups with two ``rfind`` calls instead of a backtracking regex (the regex is quadratic
on inputs such as ``"a[" * 50_000``).

**Strict grammar** (``strict=True``, agentgym 0.1): the whole action must be
``search[...]``/``click[...]`` (any case, spaces allowed around the name and the brackets).

Arguments are checked by :func:`argument_problem`: text with lone surrogates (which cannot be
sent to the shop) or control characters is rejected, as are over-long actions and queries.
"""

from __future__ import annotations

import re

#: Longest action accepted (characters); longer ones are invalid.
MAX_ACTION_CHARS = 1000
#: Longest search query accepted (characters).
MAX_QUERY_CHARS = 500

_STRICT = re.compile(r"\s*(search|click)\s*\[(.*)\]\s*", re.IGNORECASE | re.DOTALL)
# C0 and C1 control characters except the tab, and UTF-16 surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# agentgym 0.1 also refused zero-width and bidirectional-override characters.
_STRICT_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e]")


def parse_original(action: str) -> tuple[str, str] | None:
    """``(name, argument)`` as ``re.match(r"(.+)\\[(.+)\\]", action).groups()``, or None.

    Linear time: the match lies inside the first line (``.`` never matches a newline); its
    ``]`` is the line's last one, and its ``[`` the last one before that ``]`` that leaves at
    least one character on each side.

    >>> parse_original("click[x] now")
    ('click', 'x')
    >>> parse_original("click[a][b]")
    ('click[a]', 'b')
    >>> parse_original("[x]") is None
    True
    """
    line = action.partition("\n")[0]
    close = line.rfind("]")
    if close < 3:
        return None
    opening = line.rfind("[", 1, close - 1)
    if opening < 0:
        return None
    return line[:opening], line[opening + 1 : close]


def parse_strict(action: str) -> tuple[str, str] | None:
    """``(name, argument)`` of agentgym 0.1's grammar (name lower-cased, argument stripped)."""
    match = _STRICT.fullmatch(action)
    if match is None:
        return None
    return match.group(1).lower(), match.group(2).strip()


def argument_problem(argument: str, *, strict: bool = False) -> str | None:
    """Why ``argument`` cannot be sent to the shop, or None when it can."""
    if strict and (not argument or _STRICT_UNPRINTABLE.search(argument)):
        return "it is empty or has unprintable characters"
    if _SURROGATE.search(argument):
        return "it contains a lone surrogate, which is not valid Unicode text"
    if _CONTROL.search(argument):
        return "it contains control characters"
    return None
