"""Tests of textlayout."""

import pytest
from textlayout import (
    align,
    columns,
    fill,
    indent,
    justify,
    justify_line,
    paginate,
    split_words,
    table,
    truncate_middle,
    wrap_words,
)

FOX = "The quick brown fox jumps over the lazy dog"
FRUIT = ["apple", "fig", "kiwi", "banana", "plum", "cherry", "date"]


def test_split_words():
    """Any run of whitespace separates words."""
    assert split_words("  a\tbb \n ccc ") == ["a", "bb", "ccc"]


def test_wrap_words_greedy():
    """Words go on a line while they fit with single spaces."""
    assert wrap_words(["a", "b", "c"], 3) == [["a", "b"], ["c"]]


def test_wrap_words_exact_fit():
    """A word exactly as wide as the line is not broken."""
    assert wrap_words(["abcd", "e"], 4) == [["abcd"], ["e"]]


def test_wrap_words_breaks_long_words():
    """A long word is cut into pieces of the width; its last piece starts a normal line."""
    assert wrap_words(["abcdefghij", "xy"], 4) == [["abcd"], ["efgh"], ["ij"], ["xy"]]


def test_wrap_words_long_word_after_short():
    """A long word after a short one first ends the current line."""
    assert wrap_words(["ab", "cdefgh"], 4) == [["ab"], ["cdef"], ["gh"]]


def test_wrap_words_last_piece_shares_line():
    """The last piece of a broken word is followed by the next word when it fits."""
    assert wrap_words(["abcdef", "x"], 4) == [["abcd"], ["ef", "x"]]


def test_wrap_words_rejects_zero_width():
    """The width must be at least 1; no words give no lines."""
    with pytest.raises(ValueError):
        wrap_words(["a"], 0)
    assert wrap_words([], 5) == []


def test_fill():
    """The fox sentence wrapped at 10 columns."""
    assert fill(FOX, 10) == "The quick\nbrown fox\njumps over\nthe lazy\ndog"


def test_fill_wide():
    """A width larger than the text gives one line."""
    assert fill(FOX, 80) == FOX


def test_justify_line_even_gaps():
    """Four one-letter words in 10 columns get two spaces per gap."""
    assert justify_line(["a", "b", "c", "d"], 10) == "a  b  c  d"


def test_justify_line_extra_spaces_go_left():
    """Uneven spaces go to the leftmost gaps."""
    assert justify_line(["a", "b", "c"], 8) == "a   b  c"
    assert justify_line(["aa", "b", "c", "d"], 10) == "aa  b  c d"


def test_justify_line_single_word_is_padded():
    """A lone word is left-aligned and padded to the width."""
    assert justify_line(["hello"], 8) == "hello   "


def test_justify_line_rejects_overfull():
    """Words that cannot keep one space per gap are rejected."""
    with pytest.raises(ValueError):
        justify_line(["abc", "def"], 6)


def test_justify():
    """Every line but the last is exactly 10 wide; the last is left as is."""
    assert justify(FOX, 10) == ["The  quick", "brown  fox", "jumps over", "the   lazy", "dog"]


def test_justify_short_and_empty():
    """One line is not stretched; no text gives no lines."""
    assert justify("one two", 10) == ["one two"]
    assert justify("", 5) == []


def test_align_left_right():
    """Left pads on the right, right pads on the left."""
    assert align("ab", 5) == "ab   "
    assert align("ab", 5, "right") == "   ab"


def test_align_center_odd_space_goes_right():
    """Centering puts the odd space on the right."""
    assert align("ab", 5, "center") == " ab  "
    assert align("ab", 6, "center") == "  ab  "


def test_align_short_names_and_overflow():
    """l/r/c are accepted; text longer than the width is unchanged."""
    assert align("ab", 5, "c") == " ab  "
    assert align("ab", 3, "r") == " ab"
    assert align("abc", 2, "right") == "abc"
    assert align("abc", 3, "center") == "abc"


def test_align_rejects_unknown():
    """Unknown alignments are rejected."""
    with pytest.raises(ValueError):
        align("x", 3, "middle")


def test_indent_hanging():
    """The first line gets its own prefix; the rest the common one."""
    assert indent(["a", "b", "c"], "   ", first="1. ") == ["1. a", "   b", "   c"]


def test_indent_skips_empty_lines():
    """Empty lines stay empty."""
    assert indent(["a", "", "b"], "> ") == ["> a", "", "> b"]
    assert indent(["x"], "  ") == ["  x"]


def test_columns_two_rows():
    """Seven fruits in 30 columns take two rows, filled top to bottom."""
    assert columns(FRUIT, 30) == ["apple  kiwi    plum    date", "fig    banana  cherry"]


def test_columns_narrow():
    """In 12 columns the fruits need six rows."""
    assert columns(FRUIT, 12) == ["apple   date", "fig", "kiwi", "banana", "plum", "cherry"]


def test_columns_one_row_and_gap():
    """Short items fit on one row; the gap is configurable."""
    assert columns(["a", "b", "c", "d"], 20, gap=1) == ["a b c d"]
    assert columns(["a", "b", "c", "d"], 5, gap=1) == ["a c", "b d"]


def test_columns_too_wide_and_empty():
    """Items wider than the width go one per line; no items give no lines."""
    assert columns(["toolongword", "b"], 5) == ["toolongword", "b"]
    assert columns([], 10) == []


def test_table_with_header():
    """A header, a -+- rule, and right-aligned numbers."""
    assert table([["apple", 3], ["fig", 12]], header=["fruit", "qty"], aligns="lr") == [
        "fruit | qty",
        "------+----",
        "apple |   3",
        "fig   |  12",
    ]


def test_table_centered_cells():
    """Centered cells put the odd space on the right; lines are right-stripped."""
    assert table([["a", "b"], ["ccc", "dddd"]], aligns="cc") == [" a  |  b", "ccc | dddd"]


def test_table_ragged_rows():
    """Short rows are padded with empty cells."""
    assert table([["x"], ["y", "z"]]) == ["x |", "y | z"]


def test_table_header_only():
    """A header without rows still gets its rule."""
    assert table([], header=["h1", "h2"]) == ["h1 | h2", "---+---"]


def test_table_formats_values():
    """Cells are converted with str()."""
    assert table([[1, 2.5], [None, True]]) == ["1    | 2.5", "None | True"]


def test_table_ignores_extra_alignment_letters():
    """Letters beyond the last column are ignored."""
    assert table([["a", "bb"], ["ccc", "d"]], aligns="rrr") == ["  a | bb", "ccc |  d"]


def test_table_rejects_unknown_alignment():
    """Unknown alignment letters are rejected."""
    with pytest.raises(ValueError):
        table([[1]], aligns="x")


def test_truncate_middle():
    """The middle is replaced; the head keeps the odd character."""
    assert truncate_middle("abcdefghij", 7) == "ab...ij"
    assert truncate_middle("abcdefghij", 8) == "abc...ij"
    assert truncate_middle("abcdefghij", 4) == "a..."


def test_truncate_middle_short_cases():
    """Fitting text is unchanged; a width not above the marker gives part of the marker."""
    assert truncate_middle("abcdefghij", 10) == "abcdefghij"
    assert truncate_middle("abcdefghij", 3) == "..."
    assert truncate_middle("abcdefghij", 2) == ".."
    with pytest.raises(ValueError):
        truncate_middle("abc", -1)


def test_truncate_middle_custom_marker():
    """A one-character marker leaves more of the text."""
    assert truncate_middle("abcdefghij", 5, marker="~") == "ab~ij"


def test_paginate():
    """Five lines in pages of two: 2, 2, 1."""
    assert paginate(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert paginate([], 3) == []


def test_paginate_with_footer():
    """With a footer each page holds height - 1 lines and ends with '- n/N -'."""
    assert paginate(list("abcde"), 3, footer=True) == [
        ["a", "b", "- 1/3 -"], ["c", "d", "- 2/3 -"], ["e", "- 3/3 -"]]


def test_paginate_rejects_small_height():
    """A page must hold at least one text line."""
    with pytest.raises(ValueError):
        paginate(["x"], 1, footer=True)
    with pytest.raises(ValueError):
        paginate(["x"], 0)
