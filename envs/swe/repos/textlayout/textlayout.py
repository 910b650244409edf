"""textlayout: lay out text in fixed-width, monospaced output.

Wrapping, full justification, alignment, hanging indents, ``ls``-style columns, tables and
pagination. Widths count characters; words are separated by whitespace.
"""

from __future__ import annotations

from collections.abc import Sequence

ALIGNMENTS = ("left", "right", "center")
_SHORT = {"l": "left", "r": "right", "c": "center"}


def split_words(text: str) -> list[str]:
    """The whitespace-separated words of ``text``."""
    return text.split()


def wrap_words(words: Sequence[str], width: int) -> list[list[str]]:
    """Greedy wrapping: each line's words joined by single spaces fit in ``width``.

    A word longer than ``width`` is broken into pieces of ``width`` characters, each on its
    own line (the last piece may share its line with the next words).
    """
    if width < 1:
        raise ValueError("width must be at least 1")
    lines: list[list[str]] = []
    current: list[str] = []
    length = 0
    for word in words:
        while len(word) > width:
            if current:
                lines.append(current)
                current, length = [], 0
            lines.append([word[:width]])
            word = word[width:]
        if current and length + 1 + len(word) > width:
            lines.append(current)
            current, length = [], 0
        length = len(word) if not current else length + 1 + len(word)
        current.append(word)
    if current:
        lines.append(current)
    return lines


def fill(text: str, width: int) -> str:
    """``text`` wrapped to ``width``, lines joined by newlines."""
    return "\n".join(" ".join(line) for line in wrap_words(split_words(text), width))


def justify_line(words: Sequence[str], width: int) -> str:
    """Spread ``words`` over exactly ``width`` characters; leftmost gaps get the extra spaces.

    A single word is left-aligned and padded with spaces.
    """
    if len(words) == 1:
        return words[0].ljust(width)
    gaps = len(words) - 1
    spaces = width - sum(len(word) for word in words)
    if spaces < gaps:
        raise ValueError("the words do not fit in the width")
    base, extra = divmod(spaces, gaps)
    parts = []
    for index, word in enumerate(words[:-1]):
        parts.append(word)
        parts.append(" " * (base + (1 if index < extra else 0)))
    parts.append(words[-1])
    return "".join(parts)


def justify(text: str, width: int) -> list[str]:
    """Fully justified lines; the last line is left-aligned and not padded."""
    lines = wrap_words(split_words(text), width)
    result = [justify_line(line, width) for line in lines[:-1]]
    if lines:
        result.append(" ".join(lines[-1]))
    return result


def align(text: str, width: int, how: str = "left") -> str:
    """Pad ``text`` to ``width``: ``left``, ``right`` or ``center`` (an odd space goes right).

    Text longer than ``width`` is returned unchanged.
    """
    how = _SHORT.get(how, how)
    if how not in ALIGNMENTS:
        raise ValueError(f"unknown alignment {how!r}")
    padding = width - len(text)
    if padding <= 0:
        return text
    if how == "left":
        return text + " " * padding
    if how == "right":
        return " " * padding + text
    left = padding // 2
    return " " * left + text + " " * (padding - left)


def indent(lines: Sequence[str], prefix: str, first: str | None = None) -> list[str]:
    """Prefix every non-empty line; the first line gets ``first`` instead when given (a
    hanging indent)."""
    result = []
    for index, line in enumerate(lines):
        if not line:
            result.append(line)
        elif index == 0 and first is not None:
            result.append(first + line)
        else:
            result.append(prefix + line)
    return result


def columns(items: Sequence[str], width: int, gap: int = 2) -> list[str]:
    """``ls``-style layout: items fill columns top to bottom, using the fewest rows whose
    layout fits in ``width``; trailing spaces are stripped."""
    if not items:
        return []
    for rows in range(1, len(items) + 1):
        cols = [items[start:start + rows] for start in range(0, len(items), rows)]
        widths = [max(len(item) for item in col) for col in cols]
        if sum(widths) + gap * (len(cols) - 1) <= width:
            break
    lines = []
    for row in range(rows):
        cells = [col[row].ljust(w) for col, w in zip(cols, widths, strict=True)
                 if row < len(col)]
        lines.append((" " * gap).join(cells).rstrip())
    return lines


def table(rows: Sequence[Sequence[object]], header: Sequence[object] | None = None,
          aligns: str = "") -> list[str]:
    """A text table: cells joined by ``" | "``, a ``-+-`` rule under the header.

    Args:
        rows: the body; short rows are padded with empty cells.
        header: optional column titles.
        aligns: one letter per column (``l``, ``r`` or ``c``); missing ones are ``l``.
    """
    body = [[str(cell) for cell in row] for row in rows]
    head = [str(cell) for cell in header] if header is not None else None
    count = max([len(row) for row in body] + [len(head) if head else 0])
    grid = ([head] if head else []) + body
    grid = [row + [""] * (count - len(row)) for row in grid]
    widths = [max(len(row[col]) for row in grid) for col in range(count)]
    letters = aligns[:count].ljust(count, "l")
    for letter in letters:
        if letter not in _SHORT:
            raise ValueError(f"unknown alignment letter {letter!r}")
    lines = []
    for row in grid:
        cells = [align(cell, w, how) for cell, w, how in zip(row, widths, letters, strict=True)]
        lines.append(" | ".join(cells).rstrip())
    if head:
        lines.insert(1, "-+-".join("-" * w for w in widths))
    return lines


def truncate_middle(text: str, width: int, marker: str = "...") -> str:
    """Shorten ``text`` to ``width`` by replacing its middle with ``marker`` (the head keeps the
    odd character)."""
    if width < 0:
        raise ValueError("width must be non-negative")
    if len(text) <= width:
        return text
    if width <= len(marker):
        return marker[:width]
    keep = width - len(marker)
    head, tail = (keep + 1) // 2, keep // 2
    return text[:head] + marker + text[len(text) - tail:]


def paginate(lines: Sequence[str], height: int, footer: bool = False) -> list[list[str]]:
    """Split ``lines`` into pages of ``height`` lines. With ``footer``, each page's last line is
    ``- n/N -`` (so a page holds ``height - 1`` text lines)."""
    per_page = height - 1 if footer else height
    if per_page < 1:
        raise ValueError("height too small")
    pages = [list(lines[start:start + per_page]) for start in range(0, len(lines), per_page)]
    if footer:
        for number, page in enumerate(pages, start=1):
            page.append(f"- {number}/{len(pages)} -")
    return pages
