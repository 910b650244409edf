"""textkit: small text utilities (slugs, wrapping, case conversion, distances, encodings)."""

from __future__ import annotations

VOWELS = "aeiou"
ROMAN = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]


def slugify(text: str, sep: str = "-") -> str:
    """Lower-case words joined by ``sep``; every other character separates words."""
    words = []
    current = []
    for char in text.lower():
        if char.isalnum():
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return sep.join(words)


def count_words(text: str) -> int:
    """Number of whitespace-separated words."""
    count = 0
    in_word = False
    for char in text:
        if char.isspace():
            in_word = False
        elif not in_word:
            in_word = True
            count += 1
    return count


def count_vowels(text: str) -> int:
    """Number of vowels (a, e, i, o, u; either case)."""
    return sum(1 for char in text.lower() if char in VOWELS)


def truncate(text: str, width: int, ellipsis: str = "...") -> str:
    """Shorten ``text`` to at most ``width`` characters, ending with ``ellipsis`` if cut."""
    if width < 0:
        raise ValueError("width must be non-negative")
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return ellipsis[:width]
    return text[: width - len(ellipsis)] + ellipsis


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap: lines of at most ``width`` characters (long words get their own line)."""
    if width <= 0:
        raise ValueError("width must be positive")
    lines: list[str] = []
    line = ""
    for word in text.split():
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line = line + " " + word
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def camel_to_snake(name: str) -> str:
    """``parseHTTPResponse`` -> ``parse_http_response``."""
    out = []
    for i, char in enumerate(name):
        if char.isupper():
            prev_lower = i > 0 and name[i - 1].islower()
            next_lower = i + 1 < len(name) and name[i + 1].islower()
            if i > 0 and (prev_lower or (next_lower and name[i - 1].isupper())):
                out.append("_")
            out.append(char.lower())
        else:
            out.append(char)
    return "".join(out)


def snake_to_camel(name: str, upper_first: bool = False) -> str:
    """``parse_http_response`` -> ``parseHttpResponse`` (``ParseHttpResponse`` if upper_first)."""
    parts = [part for part in name.split("_") if part]
    if not parts:
        return ""
    head = parts[0].capitalize() if upper_first else parts[0].lower()
    return head + "".join(part.capitalize() for part in parts[1:])


def title_case(text: str, minor: tuple[str, ...] = ("a", "an", "the", "of", "and", "in")) -> str:
    """Capitalize words except minor ones (the first and last words are always capitalized)."""
    words = text.split()
    result = []
    for i, word in enumerate(words):
        lower = word.lower()
        if 0 < i < len(words) - 1 and lower in minor:
            result.append(lower)
        else:
            result.append(lower[:1].upper() + lower[1:])
    return " ".join(result)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


def is_palindrome(text: str) -> bool:
    """True if the letters and digits read the same both ways (case-insensitive)."""
    chars = [char.lower() for char in text if char.isalnum()]
    left, right = 0, len(chars) - 1
    while left < right:
        if chars[left] != chars[right]:
            return False
        left += 1
        right -= 1
    return True


def caesar(text: str, shift: int) -> str:
    """Shift ASCII letters by ``shift`` places, keeping case; other characters unchanged."""
    out = []
    for char in text:
        if "a" <= char <= "z":
            out.append(chr((ord(char) - ord("a") + shift) % 26 + ord("a")))
        elif "A" <= char <= "Z":
            out.append(chr((ord(char) - ord("A") + shift) % 26 + ord("A")))
        else:
            out.append(char)
    return "".join(out)


def rle_encode(text: str) -> str:
    """Run-length encoding: ``aaab`` -> ``3a1b``."""
    if not text:
        return ""
    out = []
    run_char, run_len = text[0], 1
    for char in text[1:]:
        if char == run_char:
            run_len += 1
        else:
            out.append(f"{run_len}{run_char}")
            run_char, run_len = char, 1
    out.append(f"{run_len}{run_char}")
    return "".join(out)


def rle_decode(code: str) -> str:
    """Inverse of :func:`rle_encode`."""
    out = []
    digits = ""
    for char in code:
        if char.isdigit():
            digits += char
        else:
            if not digits:
                raise ValueError(f"missing count before {char!r}")
            out.append(char * int(digits))
            digits = ""
    if digits:
        raise ValueError("dangling count at the end")
    return "".join(out)


def to_roman(number: int) -> str:
    """Roman numeral of 1..3999."""
    if not 0 < number < 4000:
        raise ValueError("number out of range (1..3999)")
    out = []
    for value, symbol in ROMAN:
        while number >= value:
            out.append(symbol)
            number -= value
    return "".join(out)


def from_roman(numeral: str) -> int:
    """Integer value of a Roman numeral."""
    values = {symbol: value for value, symbol in ROMAN if len(symbol) == 1}
    total = 0
    for i, char in enumerate(numeral):
        value = values[char]
        if i + 1 < len(numeral) and values[numeral[i + 1]] > value:
            total -= value
        else:
            total += value
    return total


def center(text: str, width: int, fill: str = " ") -> str:
    """Center ``text`` in ``width`` columns; extra padding goes to the right."""
    missing = width - len(text)
    if missing <= 0:
        return text
    left = missing // 2
    right = missing - left
    return fill * left + text + fill * right
