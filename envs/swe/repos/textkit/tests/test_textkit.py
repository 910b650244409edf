"""Tests of textkit."""

import pytest
import textkit as tk


def test_slugify_basic():
    """slugify lower-cases words and joins them with hyphens."""
    assert tk.slugify("Hello World") == "hello-world"


def test_slugify_collapses_separators():
    """slugify collapses runs of spaces and punctuation into one separator."""
    assert tk.slugify("  Hello,   World!! ") == "hello-world"


def test_slugify_custom_separator():
    """slugify accepts a custom separator."""
    assert tk.slugify("a b c", sep="_") == "a_b_c"


def test_slugify_keeps_digits():
    """slugify keeps digits inside words."""
    assert tk.slugify("Version 2 Release 10") == "version-2-release-10"


def test_count_words():
    """count_words counts whitespace-separated words."""
    assert tk.count_words("one two  three\nfour") == 4


def test_count_words_empty():
    """count_words of blank text is zero."""
    assert tk.count_words("   ") == 0


def test_count_vowels():
    """count_vowels counts vowels of either case."""
    assert tk.count_vowels("EducAtion") == 5


def test_truncate_short_text_unchanged():
    """truncate leaves text that fits unchanged."""
    assert tk.truncate("short", 10) == "short"


def test_truncate_exact_width_unchanged():
    """truncate leaves text of exactly the width unchanged."""
    assert tk.truncate("abcde", 5) == "abcde"


def test_truncate_adds_ellipsis():
    """truncate cuts long text and ends it with an ellipsis within the width."""
    assert tk.truncate("Hello beautiful world", 10) == "Hello b..."


def test_truncate_tiny_width():
    """truncate to a width smaller than the ellipsis returns part of the ellipsis."""
    assert tk.truncate("Hello", 2) == ".."


def test_truncate_negative_width():
    """truncate rejects a negative width."""
    with pytest.raises(ValueError):
        tk.truncate("Hello", -1)


def test_wrap_lines_fit_width():
    """wrap breaks text into lines no longer than the width."""
    lines = tk.wrap("the quick brown fox jumps over the lazy dog", 10)
    assert lines == ["the quick", "brown fox", "jumps over", "the lazy", "dog"]


def test_wrap_exact_fit():
    """wrap keeps two words on a line when they fill it exactly."""
    assert tk.wrap("ab cd ef", 5) == ["ab cd", "ef"]


def test_wrap_long_word():
    """wrap puts a word longer than the width on its own line."""
    assert tk.wrap("a extraordinarily b", 5) == ["a", "extraordinarily", "b"]


def test_wrap_rejects_zero_width():
    """wrap rejects a zero width."""
    with pytest.raises(ValueError):
        tk.wrap("text", 0)


def test_camel_to_snake_simple():
    """camel_to_snake inserts underscores before capitals."""
    assert tk.camel_to_snake("parseResponse") == "parse_response"


def test_camel_to_snake_acronym():
    """camel_to_snake keeps acronyms together."""
    assert tk.camel_to_snake("parseHTTPResponse") == "parse_http_response"


def test_camel_to_snake_leading_capital():
    """camel_to_snake does not start with an underscore."""
    assert tk.camel_to_snake("UserName") == "user_name"


def test_snake_to_camel():
    """snake_to_camel capitalizes every word after the first."""
    assert tk.snake_to_camel("parse_http_response") == "parseHttpResponse"


def test_snake_to_camel_upper_first():
    """snake_to_camel can capitalize the first word too."""
    assert tk.snake_to_camel("user_name", upper_first=True) == "UserName"


def test_snake_to_camel_ignores_extra_underscores():
    """snake_to_camel ignores leading and doubled underscores."""
    assert tk.snake_to_camel("__user__name") == "userName"


def test_title_case_minor_words():
    """title_case keeps minor words lower-case in the middle of a title."""
    assert tk.title_case("the lord of the rings") == "The Lord of the Rings"


def test_title_case_last_word_capitalized():
    """title_case capitalizes a minor word at the end."""
    assert tk.title_case("what are you in") == "What Are You In"


def test_levenshtein_known_values():
    """levenshtein gives the classic distances."""
    assert tk.levenshtein("kitten", "sitting") == 3
    assert tk.levenshtein("flaw", "lawn") == 2


def test_levenshtein_empty():
    """levenshtein to the empty string is the length."""
    assert tk.levenshtein("", "abc") == 3
    assert tk.levenshtein("abc", "") == 3


def test_levenshtein_identical():
    """levenshtein of equal strings is zero."""
    assert tk.levenshtein("same", "same") == 0


def test_is_palindrome_sentence():
    """is_palindrome ignores case and punctuation."""
    assert tk.is_palindrome("A man, a plan, a canal: Panama")


def test_is_palindrome_false():
    """is_palindrome rejects non-palindromes."""
    assert not tk.is_palindrome("palindrome")


def test_is_palindrome_near_miss():
    """is_palindrome rejects strings that differ only in the middle."""
    assert not tk.is_palindrome("abcxba")


def test_caesar_shift():
    """caesar shifts letters and wraps around the alphabet."""
    assert tk.caesar("xyz", 3) == "abc"


def test_caesar_keeps_case_and_symbols():
    """caesar keeps case and leaves other characters alone."""
    assert tk.caesar("Hello, World!", 1) == "Ifmmp, Xpsme!"


def test_caesar_roundtrip():
    """caesar with the opposite shift decodes."""
    assert tk.caesar(tk.caesar("Secret Message", 11), -11) == "Secret Message"


def test_rle_encode():
    """rle_encode writes the count before each run."""
    assert tk.rle_encode("aaabccdddd") == "3a1b2c4d"


def test_rle_encode_empty():
    """rle_encode of the empty string is empty."""
    assert tk.rle_encode("") == ""


def test_rle_decode():
    """rle_decode expands multi-digit counts."""
    assert tk.rle_decode("12a1b") == "a" * 12 + "b"


def test_rle_roundtrip():
    """rle_decode inverts rle_encode."""
    text = "wwwwbbbwwwwwwwwwwwwb"
    assert tk.rle_decode(tk.rle_encode(text)) == text


def test_rle_decode_errors():
    """rle_decode rejects a missing or dangling count."""
    with pytest.raises(ValueError):
        tk.rle_decode("a")
    with pytest.raises(ValueError):
        tk.rle_decode("3a4")


def test_to_roman():
    """to_roman uses subtractive notation."""
    assert tk.to_roman(1994) == "MCMXCIV"
    assert tk.to_roman(4) == "IV"


def test_to_roman_bounds():
    """to_roman accepts 1 and 3999 and rejects 0 and 4000."""
    assert tk.to_roman(1) == "I"
    assert tk.to_roman(3999) == "MMMCMXCIX"
    with pytest.raises(ValueError):
        tk.to_roman(0)
    with pytest.raises(ValueError):
        tk.to_roman(4000)


def test_from_roman():
    """from_roman reads subtractive notation."""
    assert tk.from_roman("MCMXCIV") == 1994
    assert tk.from_roman("XLII") == 42


def test_roman_roundtrip():
    """from_roman inverts to_roman."""
    assert all(tk.from_roman(tk.to_roman(n)) == n for n in range(1, 400))


def test_center_even_padding():
    """center pads both sides equally when it can."""
    assert tk.center("ab", 6) == "  ab  "


def test_center_odd_padding():
    """center puts the extra padding on the right."""
    assert tk.center("ab", 5, "*") == "*ab**"


def test_center_too_long():
    """center returns text wider than the width unchanged."""
    assert tk.center("abcdef", 3) == "abcdef"
