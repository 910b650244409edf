"""Generated backend-programming tasks for ``agentgym/Collab-v0`` (ColBench style).

ColBench (Zhou et al. 2025, "SWEET-RL: Training Multi-Turn LLM Agents on Collaborative Reasoning
Tasks", arXiv 2503.15478) asks an agent to write a function whose exact behaviour only a human
collaborator knows. Here each task is one *family* (``normalize_scores``, ``slugify`` …) with a
few hidden *knobs* (output range, rounding, what an empty input returns …); every combination of
knob values is one task, 13 families × 16 combinations = 208 tasks.

A :class:`Task` carries

* the public part shown to the coder: the function signature and a one-line purpose;
* the hidden specification: one :class:`Fact` per knob, a sentence the collaborator can say,
  with the words a question about it is likely to use;
* the reference solution (Python source generated from the knobs) and the hidden test cases:
  argument tuples chosen so that getting any single knob wrong fails at least one case (a test
  checks this for every task). Expected outputs come from running the reference.

Tasks are deterministic: :func:`all_tasks` always returns the same list. Every fifth task is in
the ``test`` split, the rest in ``train``.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Fact:
    """One hidden detail of the specification.

    Attributes:
        topic: short name of what it is about (``"empty input"``), safe to mention publicly.
        keywords: lower-case words a question about it may contain.
        sentence: the detail itself, as the collaborator says it.
        question: a question that asks for it (what the expert asks).
    """

    topic: str
    keywords: frozenset[str]
    sentence: str
    question: str


@dataclass(frozen=True)
class Task:
    """One collaborative programming task.

    Attributes:
        index: position in :func:`all_tasks`.
        task_id: ``"<family>/<knob values>"``.
        family: the function family.
        function: the function name the submission must define.
        signature: e.g. ``"def slugify(title: str) -> str"``.
        summary: the public one-line purpose.
        facts: the hidden details, one per knob.
        reference: Python source of a correct solution.
        cases: argument tuples of the hidden tests (Python literals).
        split: ``"train"`` or ``"test"``.
    """

    index: int
    task_id: str
    family: str
    function: str
    signature: str
    summary: str
    facts: tuple[Fact, ...]
    reference: str
    cases: tuple[tuple[Any, ...], ...]
    split: str = "train"
    knobs: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def spec(self) -> str:
        """The full hidden specification as text (training-time information)."""
        return "\n".join(
            [f"{self.signature}: {self.summary}", *(f"- {f.sentence}" for f in self.facts)]
        )


@dataclass(frozen=True)
class _Family:
    name: str
    function: str
    signature: str
    summary: str
    knobs: dict[str, tuple[Any, ...]]
    facts: Callable[[dict[str, Any]], list[Fact]]
    source: Callable[[dict[str, Any]], str]
    cases: tuple[tuple[Any, ...], ...]


def _fact(topic: str, words: str, sentence: str, question: str) -> Fact:
    return Fact(topic, frozenset(words.split()), sentence, question)


def _code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# -- 1. normalize_scores ------------------------------------------------------------------------
def _normalize_facts(k: dict[str, Any]) -> list[Fact]:
    top = 100 if k["scale"] == "percent" else 1
    return [
        _fact("output range", "range scale between percent percentage output min max interval "
              "normalize normalized values bounds",
              f"Scores are scaled linearly so the smallest becomes 0 and the largest becomes "
              f"{top}.", "What range should the normalized scores be in?"),
        _fact("rounding", "round rounding rounded decimal decimals precision digits places",
              "Each result is rounded to 2 decimal places." if k["round"] else
              "Results are not rounded.", "Should the results be rounded?"),
        _fact("all equal", "equal same identical constant all duplicate flat",
              f"If all scores are equal, every result is {top / 2:g}." if k["flat"] == "middle"
              else "If all scores are equal, every result is 0.",
              "What if all scores are the same?"),
        _fact("empty input", "empty nothing none no zero length blank input",
              "An empty list returns None." if k["empty"] == "none"
              else "An empty list returns an empty list.",
              "What should an empty list return?"),
    ]


def _normalize_source(k: dict[str, Any]) -> str:
    top = 100 if k["scale"] == "percent" else 1
    flat = f"{top / 2!r}" if k["flat"] == "middle" else "0.0"
    empty = "None" if k["empty"] == "none" else "[]"
    finish = "round(value, 2)" if k["round"] else "value"
    return _code(f"""
        def normalize_scores(scores):
            if not scores:
                return {empty}
            low, high = min(scores), max(scores)
            out = []
            for score in scores:
                value = {flat} if high == low else (score - low) / (high - low) * {top}
                out.append({finish})
            return out
    """)


# -- 2. slugify -------------------------------------------------------------------------------
def _slugify_facts(k: dict[str, Any]) -> list[Fact]:
    sep = "hyphens (-)" if k["sep"] == "-" else "underscores (_)"
    return [
        _fact("separator", "separator separate join joined between words hyphen hyphens dash "
              "underscore underscores space spaces character",
              f"Words are joined with {sep}.", "What character goes between words?"),
        _fact("letter case", "case lowercase lower uppercase upper capital capitals letters",
              "Everything is lower-cased." if k["lower"] else "Letter case is kept as is.",
              "Should the slug be lower case?"),
        _fact("maximum length", "length long longest maximum max limit truncate characters "
              "size short",
              "Slugs longer than 20 characters are cut to 20, then any trailing separator is "
              "removed." if k["max_len"] else "There is no length limit.",
              "Is there a maximum length?"),
        _fact("digits", "digits digit numbers number numeric numerals",
              "Digits are removed (a word left empty disappears)." if k["drop_digits"]
              else "Digits are kept.", "What happens to digits?"),
    ]


def _slugify_source(k: dict[str, Any]) -> str:
    lines = [
        "import re",
        "",
        "def slugify(title):",
        "    words = re.findall(r'[A-Za-z0-9]+', title.replace(\"'\", ''))",
    ]
    if k["drop_digits"]:
        lines.append("    words = [w for w in (re.sub(r'[0-9]', '', w) for w in words) if w]")
    if k["lower"]:
        lines.append("    words = [w.lower() for w in words]")
    lines.append(f"    slug = {k['sep']!r}.join(words)")
    if k["max_len"]:
        lines.append(f"    slug = slug[:20].rstrip({k['sep']!r})")
    lines.append("    return slug")
    return "\n".join(lines) + "\n"


# -- 3. parse_duration ------------------------------------------------------------------------
def _duration_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("result unit", "unit units seconds minutes return returned result measure",
              "The result is the total in whole seconds." if k["unit"] == "seconds" else
              "The result is the total in whole minutes (seconds are rounded down).",
              "What unit should the result be in?"),
        _fact("invalid input", "invalid bad malformed wrong error errors garbage unparseable "
              "fail raise exception",
              "Invalid or empty text raises ValueError." if k["invalid"] == "raise" else
              "Invalid or empty text returns -1.", "What happens with invalid input?"),
        _fact("bare numbers", "bare plain number numbers without unit digits only just",
              "A bare number without a unit counts as minutes." if k["bare"] == "minutes" else
              "A bare number without a unit counts as seconds.",
              "How is a number without a unit read?"),
        _fact("days", "days day d week weeks long",
              "Days are written with d (1d = 24h)." if k["days"] else
              "Days are not supported: a d unit is invalid.", "Are days supported?"),
    ]


def _duration_source(k: dict[str, Any]) -> str:
    units = "{'h': 3600, 'm': 60, 's': 1" + (", 'd': 86400}" if k["days"] else "}")
    invalid = "raise ValueError(text)" if k["invalid"] == "raise" else "return -1"
    bare = "60" if k["bare"] == "minutes" else "1"
    result = "total" if k["unit"] == "seconds" else "total // 60"
    return _code(f"""
        import re

        def parse_duration(text):
            units = {units}
            compact = text.replace(' ', '').lower()
            if compact.isdigit():
                total = int(compact) * {bare}
                return {result}
            parts = re.findall(r'(\\d+)([a-z])', compact)
            if not compact or ''.join(n + u for n, u in parts) != compact:
                {invalid}
            total = 0
            for number, unit in parts:
                if unit not in units:
                    {invalid}
                total += int(number) * units[unit]
            return {result}
    """)


# -- 4. word_frequencies ----------------------------------------------------------------------
def _words_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("letter case", "case sensitive insensitive lowercase upper uppercase capital same "
              "different",
              "Counting ignores case: words are lower-cased first." if k["fold"] else
              "Counting is case-sensitive.", "Is counting case-sensitive?"),
        _fact("minimum length", "length short shorter minimum min small letters characters "
              "tiny ignore",
              "Words shorter than 3 characters are ignored." if k["min_len"] == 3 else
              "Words of any length count.", "Are short words counted?"),
        _fact("punctuation", "punctuation punctuations comma commas period periods symbols "
              "marks strip",
              "Punctuation is removed from words before counting." if k["strip"] else
              "Words are split on whitespace only; punctuation stays part of the word.",
              "What about punctuation?"),
        _fact("how many words", "top most frequent common many all limit only return how",
              "Only the 3 most frequent words are returned (ties by alphabetical order)."
              if k["top"] else "All words are returned.", "Should all words be returned?"),
    ]


def _words_source(k: dict[str, Any]) -> str:
    lines = ["import string", "", "def word_frequencies(text):", "    counts = {}",
             "    for word in text.split():"]
    if k["strip"]:
        lines.append("        word = ''.join(ch for ch in word if ch not in string.punctuation)")
    if k["fold"]:
        lines.append("        word = word.lower()")
    lines += [
        f"        if len(word) < {k['min_len']}:",
        "            continue",
        "        counts[word] = counts.get(word, 0) + 1",
    ]
    if k["top"]:
        lines += [
            "    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]",
            "    return dict(ranked)",
        ]
    else:
        lines.append("    return counts")
    return "\n".join(lines) + "\n"


# -- 5. dedupe --------------------------------------------------------------------------------
def _dedupe_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("which duplicate", "keep first last occurrence occurrences which duplicate "
              "duplicates repeated position",
              f"Of repeated items the {k['keep']} occurrence is kept.",
              "Which occurrence of a duplicate is kept?"),
        _fact("letter case", "case sensitive insensitive lowercase uppercase capital strings "
              "same",
              "Strings that differ only in case count as duplicates." if k["fold"] else
              "Comparison is case-sensitive.", "Are strings compared case-insensitively?"),
        _fact("counts", "count counts how many times number frequency tally",
              "Each kept item comes as a tuple (item, number of times it occurred)."
              if k["counts"] else "The result holds the items only.",
              "Should the result include how many times each item occurred?"),
        _fact("None values", "none null missing empty values value",
              "None values are dropped." if k["drop_none"] else "None is kept like any value.",
              "What about None values?"),
    ]


def _dedupe_source(k: dict[str, Any]) -> str:
    key = "item.lower() if isinstance(item, str) else item" if k["fold"] else "item"
    items = "reversed(items)" if k["keep"] == "last" else "items"
    lines = ["def dedupe(items):", "    seen = set()", "    out = []",
             f"    for item in {items}:"]
    if k["drop_none"]:
        lines += ["        if item is None:", "            continue"]
    lines += [
        f"        key = {key}",
        "        if key in seen:",
        "            continue",
        "        seen.add(key)",
        "        out.append(item)",
    ]
    if k["keep"] == "last":
        lines.append("    out.reverse()")
    if k["counts"]:
        lines.append("    keys = [" + key.replace("item", "x") + " for x in items]")
        lines.append("    out = [(item, keys.count(" + key + ")) for item in out]")
    lines.append("    return out")
    return "\n".join(lines) + "\n"


# -- 6. apply_discount ------------------------------------------------------------------------
def _discount_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("SAVE code", "save save10 save15 percent percentage",
              f"Code SAVE takes {k['save']}% off.", "How much does the SAVE code take off?"),
        _fact("FLAT code", "flat fixed amount dollars",
              f"Code FLAT takes {k['flat']} off the price.",
              "How much does the FLAT code take off?"),
        _fact("minimum price", "minimum min floor lowest negative below zero least",
              f"The price never goes below {k['floor']:g}.",
              "Is there a minimum price after a discount?"),
        _fact("unknown codes", "unknown invalid bad wrong other unrecognized missing error "
              "raise",
              "An unknown code raises ValueError." if k["unknown"] == "raise" else
              "An unknown code leaves the price unchanged.",
              "What happens with an unknown code?"),
    ]


def _discount_source(k: dict[str, Any]) -> str:
    unknown = "raise ValueError(code)" if k["unknown"] == "raise" else "result = price"
    return _code(f"""
        def apply_discount(price, code):
            code = code.strip().upper()
            if code == 'SAVE':
                result = price * (1 - {k['save']} / 100)
            elif code == 'FLAT':
                result = price - {k['flat']}
            elif code == 'HALF':
                result = price / 2
            else:
                {unknown}
            return round(max(result, {float(k['floor'])!r}), 2)
    """)


# -- 7. paginate ------------------------------------------------------------------------------
def _paginate_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("page numbering", "first page numbering numbered start starts zero one index "
              "based",
              "Pages are numbered from 1." if k["base"] == 1 else "Pages are numbered from 0.",
              "Is the first page number 0 or 1?"),
        _fact("default page size", "default size per_page per page items none many",
              f"When per_page is None, pages hold {k['default']} items.",
              "What is the default page size?"),
        _fact("out of range", "range beyond past after last out missing large exist empty end",
              "A page past the end returns the last page." if k["clamp"] else
              "A page past the end returns an empty list.",
              "What if the page is past the end?"),
        _fact("bad page size", "zero negative invalid bad size error raise",
              "per_page below 1 raises ValueError." if k["bad"] == "raise" else
              "per_page below 1 means the default size.",
              "What if the page size is zero or negative?"),
    ]


def _paginate_source(k: dict[str, Any]) -> str:
    bad = "raise ValueError(per_page)" if k["bad"] == "raise" else f"per_page = {k['default']}"
    past = ("index = max(0, (len(items) - 1) // per_page)" if k["clamp"]
            else "return []")
    return _code(f"""
        def paginate(items, page, per_page=None):
            if per_page is None:
                per_page = {k['default']}
            if per_page < 1:
                {bad}
            index = page - {k['base']}
            if index < 0:
                return []
            if index * per_page >= len(items):
                {past}
            return items[index * per_page:(index + 1) * per_page]
    """)


# -- 8. is_strong_password --------------------------------------------------------------------
def _password_facts(k: dict[str, Any]) -> list[Fact]:
    def need(word: str, flag: bool) -> str:
        return f"It must contain {word}." if flag else f"It need not contain {word}."

    return [
        _fact("minimum length", "length long minimum min characters short size many",
              f"It must be at least {k['min_len']} characters long.",
              "How long must a password be?"),
        _fact("digits", "digit digits number numbers numeric", need("a digit", k["digit"]),
              "Must it contain a digit?"),
        _fact("upper case", "upper uppercase capital capitals case letter letters",
              need("an upper-case letter", k["upper"]), "Must it contain an upper-case letter?"),
        _fact("symbols", "symbol symbols special character characters punctuation",
              need("a symbol (not a letter or digit)", k["symbol"]), "Must it contain a symbol?"),
    ]


def _password_source(k: dict[str, Any]) -> str:
    lines = ["def is_strong_password(password):",
             f"    if len(password) < {k['min_len']}:", "        return False"]
    if k["digit"]:
        lines += ["    if not any(ch.isdigit() for ch in password):", "        return False"]
    if k["upper"]:
        lines += ["    if not any(ch.isupper() for ch in password):", "        return False"]
    if k["symbol"]:
        lines += ["    if all(ch.isalnum() for ch in password):", "        return False"]
    lines.append("    return True")
    return "\n".join(lines) + "\n"


# -- 9. format_price --------------------------------------------------------------------------
def _price_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("symbol position", "symbol position before after currency sign where placed "
              "place",
              "The currency symbol goes before the number ($12.50)." if k["before"] else
              "The currency symbol goes after the number, after a space (12.50 $).",
              "Where does the currency symbol go?"),
        _fact("thousands separator", "thousands separator separators comma commas grouping "
              "large big",
              "Thousands are separated with commas." if k["commas"] else
              "There is no thousands separator.", "Should thousands be separated?"),
        _fact("decimals", "decimal decimals cents digits places round rounding precision",
              f"Amounts show {k['decimals']} decimal places.", "How many decimals?"),
        _fact("negative amounts", "negative minus below zero parentheses refund refunds",
              "Negative amounts are wrapped in parentheses, e.g. ($5.00)." if k["parens"] else
              "Negative amounts start with a minus sign, e.g. -$5.00.",
              "How are negative amounts shown?"),
    ]


def _price_source(k: dict[str, Any]) -> str:
    spec = ("," if k["commas"] else "") + f".{k['decimals']}f"
    body = "f'{symbol}{number}'" if k["before"] else "f'{number} {symbol}'"
    negative = "'(' + text + ')'" if k["parens"] else "'-' + text"
    return _code(f"""
        def format_price(amount, currency):
            symbol = {{'USD': '$', 'EUR': '€', 'GBP': '£'}}.get(currency, currency)
            number = format(abs(amount), {spec!r})
            text = {body}
            return {negative} if amount < 0 else text
    """)


# -- 10. merge_intervals ----------------------------------------------------------------------
def _intervals_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("touching intervals", "touch touching adjacent share shared endpoint endpoints "
              "overlap overlapping boundary",
              "Intervals that only touch ([1, 2] and [2, 3]) are merged." if k["touch"] else
              "Intervals that only touch ([1, 2] and [2, 3]) stay separate.",
              "Should touching intervals be merged?"),
        _fact("output type", "type types tuple tuples list lists pairs format return",
              "Each merged interval is a tuple." if k["tuples"] else
              "Each merged interval is a list.", "Should intervals be lists or tuples?"),
        _fact("reversed intervals", "reversed backwards start end greater swapped swap invalid "
              "order",
              "An interval with start > end is swapped." if k["swap"] else
              "An interval with start > end is ignored.",
              "What if an interval has start greater than end?"),
        _fact("empty intervals", "empty zero length point points single degenerate",
              "Zero-length intervals like [4, 4] are dropped." if k["drop_empty"] else
              "Zero-length intervals are kept.", "What about zero-length intervals?"),
    ]


def _intervals_source(k: dict[str, Any]) -> str:
    bad = "start, end = end, start" if k["swap"] else "continue"
    cmp = "<=" if k["touch"] else "<"
    wrap = "tuple(pair)" if k["tuples"] else "list(pair)"
    lines = ["def merge_intervals(intervals):", "    pairs = []",
             "    for start, end in intervals:", "        if start > end:", f"            {bad}"]
    if k["drop_empty"]:
        lines += ["        if start == end:", "            continue"]
    lines += [
        "        pairs.append([start, end])",
        "    pairs.sort()",
        "    merged = []",
        "    for start, end in pairs:",
        f"        if merged and start {cmp} merged[-1][1]:",
        "            merged[-1][1] = max(merged[-1][1], end)",
        "        else:",
        "            merged.append([start, end])",
        f"    return [{wrap} for pair in merged]",
    ]
    return "\n".join(lines) + "\n"


# -- 11. mask_email ---------------------------------------------------------------------------
def _mask_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("visible letters", "visible shown show first last letter letters character "
              "characters keep reveal",
              "The first and the last character of the name stay visible." if k["ends"] else
              "Only the first character of the name stays visible.",
              "Which characters stay visible?"),
        _fact("mask symbol", "mask symbol star asterisk hash replace replaced",
              f"Hidden characters are replaced by {k['char']!r}.",
              "Which mask symbol replaces the hidden letters?"),
        _fact("mask length", "length long many count number fixed same",
              "Exactly three mask characters are used, whatever the length." if k["fixed"] else
              "One mask character per hidden character.",
              "Is the number of mask characters fixed?"),
        _fact("invalid address", "invalid without missing bad error raise not address email "
              "at",
              "Text without @ raises ValueError." if k["invalid"] == "raise" else
              "Text without @ is returned unchanged.",
              "What if the text is not an email address?"),
    ]


def _mask_source(k: dict[str, Any]) -> str:
    invalid = "raise ValueError(email)" if k["invalid"] == "raise" else "return email"
    keep_end = 1 if k["ends"] else 0
    count = "3" if k["fixed"] else f"max(len(name) - 1 - {keep_end}, 0)"
    tail = "name[-1] if len(name) > 1 else ''" if k["ends"] else "''"
    return _code(f"""
        def mask_email(email):
            if '@' not in email:
                {invalid}
            name, domain = email.split('@', 1)
            hidden = {k['char']!r} * {count}
            return name[:1] + hidden + ({tail}) + '@' + domain
    """)


# -- 12. chunk_text ---------------------------------------------------------------------------
def _chunk_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("chunk unit", "unit units characters character words word size measured count "
              "split",
              "size counts words: each chunk is that many words joined by single spaces."
              if k["words"] else "size counts characters.", "Is size in characters or words?"),
        _fact("last chunk", "last final short shorter remainder leftover end incomplete",
              "A shorter last chunk is dropped." if k["drop_short"] else
              "A shorter last chunk is kept.", "What about a shorter last chunk?"),
        _fact("numbering", "number numbered numbering prefix label labels index",
              "Each chunk is prefixed with its number and a colon, e.g. '1: abc'."
              if k["numbered"] else "Chunks are returned as they are, without numbers.",
              "Should the chunks be numbered?"),
        _fact("bad size", "zero negative invalid bad size error raise",
              "size below 1 raises ValueError." if k["bad"] == "raise" else
              "size below 1 returns the whole text as one chunk.",
              "What if size is 0 or negative?"),
    ]


def _chunk_source(k: dict[str, Any]) -> str:
    whole = "[f'1: {text}']" if k["numbered"] else "[text]"
    bad = "raise ValueError(size)" if k["bad"] == "raise" else f"return {whole}"
    if k["words"]:
        split = ["    words = text.split()",
                 "    chunks = [' '.join(words[i:i + size]) for i in range(0, len(words), size)]",
                 "    lengths = [len(words[i:i + size]) for i in range(0, len(words), size)]"]
    else:
        split = ["    chunks = [text[i:i + size] for i in range(0, len(text), size)]",
                 "    lengths = [len(chunk) for chunk in chunks]"]
    lines = ["def chunk_text(text, size):", "    if size < 1:", f"        {bad}", *split]
    if k["drop_short"]:
        lines += ["    if chunks and lengths[-1] < size:", "        chunks = chunks[:-1]"]
    if k["numbered"]:
        lines.append("    chunks = [f'{i}: {c}' for i, c in enumerate(chunks, 1)]")
    lines.append("    return chunks")
    return "\n".join(lines) + "\n"


# -- 13. status_class -------------------------------------------------------------------------
def _status_facts(k: dict[str, Any]) -> list[Fact]:
    return [
        _fact("naming style", "name names naming style words format label labels return "
              "string",
              "Classes are named like '2xx', '4xx'." if k["style"] == "prefix" else
              "Classes are named in words: success, redirect, client_error, server_error.",
              "How should the classes be named?"),
        _fact("1xx codes", "1xx informational continue switching",
              "1xx codes are 'informational'." if k["info"] else "1xx codes are 'other'.",
              "What about 1xx codes?"),
        _fact("unknown codes", "unknown invalid outside below above range bad error raise "
              "large 599",
              "Codes outside 100-599 raise ValueError." if k["unknown"] == "raise" else
              "Codes outside 100-599 are 'unknown'.", "What about codes outside 100-599?"),
        _fact("letter case", "case upper uppercase lower lowercase capital capitals letters",
              "Results are upper case (e.g. SUCCESS, 2XX)." if k["upper"] else
              "Results are lower case.", "Should the result be upper or lower case?"),
    ]


def _status_source(k: dict[str, Any]) -> str:
    unknown = "raise ValueError(code)" if k["unknown"] == "raise" else "return 'unknown'"
    info = "'informational'" if k["info"] else "'other'"
    if k["style"] == "prefix":
        named = "f'{code // 100}xx'"
    else:
        named = "{2: 'success', 3: 'redirect', 4: 'client_error', 5: 'server_error'}[code // 100]"
    upper = ".upper()" if k["upper"] else ""
    return _code(f"""
        def status_class(code):
            if not 100 <= code <= 599:
                {unknown}
            if code < 200:
                return ({info}){upper}
            return ({named}){upper}
    """)


_FAMILIES: tuple[_Family, ...] = (
    _Family("normalize_scores", "normalize_scores",
            "def normalize_scores(scores: list[float]) -> list[float] | None",
            "Normalize a list of numeric scores.",
            {"scale": ("unit", "percent"), "round": (False, True), "flat": ("zero", "middle"),
             "empty": ("list", "none")},
            _normalize_facts, _normalize_source,
            (([3, 1, 2],), ([10, 20, 15, 40],), ([5, 5, 5],), ([],), ([1, 2, 4],))),
    _Family("slugify", "slugify", "def slugify(title: str) -> str",
            "Turn a title into a URL slug.",
            {"sep": ("-", "_"), "lower": (True, False), "max_len": (False, True),
             "drop_digits": (False, True)},
            _slugify_facts, _slugify_source,
            (("Hello World 2024",), ("  Python's Best Tips & Tricks for Backend Engineers ",),
             ("MiXeD Case 42 Items",), ("a 1 b",))),
    _Family("parse_duration", "parse_duration", "def parse_duration(text: str) -> int",
            "Parse a duration such as '1h30m' into a number.",
            {"unit": ("seconds", "minutes"), "invalid": ("minus_one", "raise"),
             "bare": ("seconds", "minutes"), "days": (False, True)},
            _duration_facts, _duration_source,
            (("1h30m",), ("45s",), ("2d3h",), ("90",), ("abc",), ("",), ("1h 15m 30s",))),
    _Family("word_frequencies", "word_frequencies",
            "def word_frequencies(text: str) -> dict[str, int]",
            "Count how often each word occurs in a text.",
            {"fold": (True, False), "min_len": (1, 3), "strip": (True, False),
             "top": (False, True)},
            _words_facts, _words_source,
            (("The cat and the hat. The END!",), ("a a a b b c",),
             ("Hello, hello; HELLO world",), ("",), ("zz yy xx ww zz yy xx zz",))),
    _Family("dedupe", "dedupe", "def dedupe(items: list) -> list",
            "Remove duplicate items from a list.",
            {"keep": ("first", "last"), "fold": (False, True), "counts": (False, True),
             "drop_none": (False, True)},
            _dedupe_facts, _dedupe_source,
            ((["b", "a", "B", "c", "a", None, "C"],), ([3, 1, 3, 2, 1],), ([],),
             (["x", None, None, "X"],), (["d", "e", "d", "f"],))),
    _Family("apply_discount", "apply_discount",
            "def apply_discount(price: float, code: str) -> float",
            "Apply a discount code (SAVE, FLAT or HALF) to a price, rounded to cents.",
            {"save": (10, 15), "flat": (5, 8), "floor": (0, 1), "unknown": ("keep", "raise")},
            _discount_facts, _discount_source,
            ((100.0, "SAVE"), (20.0, "FLAT"), (4.0, "FLAT"), (50.0, "half"), (30.0, "BOGUS"),
             (19.99, "save"), (1.5, "HALF"))),
    _Family("paginate", "paginate",
            "def paginate(items: list, page: int, per_page: int | None = None) -> list",
            "Return one page of a list.",
            {"base": (1, 0), "default": (10, 5), "clamp": (False, True),
             "bad": ("raise", "default")},
            _paginate_facts, _paginate_source,
            ((list(range(23)), 1, None), (list(range(23)), 2, 10), (list(range(23)), 9, 4),
             (list(range(5)), 0, 2), (list(range(7)), 1, 0), (list(range(12)), 1, 3))),
    _Family("is_strong_password", "is_strong_password",
            "def is_strong_password(password: str) -> bool",
            "Decide whether a password is strong enough.",
            {"min_len": (8, 12), "digit": (True, False), "upper": (True, False),
             "symbol": (False, True)},
            _password_facts, _password_source,
            (("abcdefgh",), ("Abcdef1!",), ("Abcdefgh1",), ("abcdefghij1!",), ("ABCDEFGHIJKL",),
             ("Abc1!",), ("Abcdefghijk1",), ("abcdefghijkl!",), ("Abcdefgh!",), ("Abcdefghijk!",),
             ("abcdefghijk1",), ("Abcdefghijk1!",))),
    _Family("format_price", "format_price",
            "def format_price(amount: float, currency: str) -> str",
            "Format an amount of money for display.",
            {"before": (True, False), "commas": (True, False), "decimals": (2, 0),
             "parens": (False, True)},
            _price_facts, _price_source,
            ((1234.5, "USD"), (-5, "EUR"), (0.25, "GBP"), (1000000, "JPY"))),
    _Family("merge_intervals", "merge_intervals",
            "def merge_intervals(intervals: list[list[int]]) -> list",
            "Merge overlapping intervals, sorted by start.",
            {"touch": (True, False), "tuples": (False, True), "swap": (True, False),
             "drop_empty": (False, True)},
            _intervals_facts, _intervals_source,
            (([[1, 3], [2, 6], [8, 10], [15, 18]],), ([[1, 2], [2, 3]],), ([[5, 1], [2, 3]],),
             ([[4, 4], [1, 2]],), ([],))),
    _Family("mask_email", "mask_email", "def mask_email(email: str) -> str",
            "Hide most of the name part of an email address.",
            {"ends": (False, True), "char": ("*", "#"), "fixed": (False, True),
             "invalid": ("keep", "raise")},
            _mask_facts, _mask_source,
            (("john.doe@example.com",), ("ab@x.org",), ("a@b.co",), ("not-an-email",),
             ("alexander@mail.net",))),
    _Family("chunk_text", "chunk_text", "def chunk_text(text: str, size: int) -> list[str]",
            "Split a text into chunks of a given size.",
            {"words": (False, True), "drop_short": (False, True), "numbered": (False, True),
             "bad": ("raise", "whole")},
            _chunk_facts, _chunk_source,
            (("the quick brown fox jumps over the lazy dog", 10), ("a b c d e", 2),
             ("  padded  text  ", 4), ("x", 0), ("one two three four", 2), ("ab cd ef", 3))),
    _Family("status_class", "status_class", "def status_class(code: int) -> str",
            "Classify an HTTP status code.",
            {"style": ("words", "prefix"), "info": (True, False), "unknown": ("label", "raise"),
             "upper": (False, True)},
            _status_facts, _status_source,
            ((200,), (404,), (503,), (301,), (101,), (42,), (700,))),
)


def _knob_text(knobs: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in knobs.items())


@cache
def all_tasks() -> tuple[Task, ...]:
    """Every task, in a fixed order (13 families × 16 knob combinations)."""
    tasks: list[Task] = []
    for family in _FAMILIES:
        names = list(family.knobs)
        for values in itertools.product(*(family.knobs[n] for n in names)):
            knobs = dict(zip(names, values, strict=True))
            index = len(tasks)
            tasks.append(Task(
                index=index,
                task_id=f"{family.name}/{_knob_text(knobs)}",
                family=family.name,
                function=family.function,
                signature=family.signature,
                summary=family.summary,
                facts=tuple(family.facts(knobs)),
                reference=family.source(knobs),
                cases=family.cases,
                split="test" if index % 5 == 4 else "train",
                knobs=knobs,
            ))
    return tuple(tasks)


def tasks_for(split: str) -> tuple[Task, ...]:
    """The tasks of ``split``: ``"train"``, ``"test"`` or ``"all"``."""
    if split == "all":
        return all_tasks()
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    return tuple(t for t in all_tasks() if t.split == split)


def family_variants(task: Task) -> list[tuple[str, str]]:
    """``(knob, reference source)`` for every single-knob change of ``task`` (for tests that
    check each hidden fact changes the expected outputs)."""
    family = next(f for f in _FAMILIES if f.name == task.family)
    out = []
    for name, options in family.knobs.items():
        for option in options:
            if option != task.knobs[name]:
                out.append((name, family.source({**task.knobs, name: option})))
    return out


def families() -> Sequence[str]:
    """The family names, in order."""
    return [f.name for f in _FAMILIES]
