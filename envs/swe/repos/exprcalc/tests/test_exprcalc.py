"""Tests of exprcalc."""

import pytest
from exprcalc import ExprError, Token, calc, free_variables, parse, to_infix, to_rpn, tokenize


def test_tokenize_numbers_names_and_operators():
    """'12+x1' is the number 12, the operator +, the name x1 and the end."""
    assert tokenize("12+x1") == [
        Token("num", "12", 0), Token("op", "+", 2), Token("name", "x1", 3), Token("end", "", 5),
    ]


def test_tokenize_decimals_and_spaces():
    """Decimals may start with a dot; spaces are skipped but positions are kept."""
    assert tokenize("  3.5 * .5") == [
        Token("num", "3.5", 2), Token("op", "*", 6), Token("num", ".5", 8), Token("end", "", 10),
    ]


def test_tokenize_underscore_names():
    """Names may contain underscores and digits after the first character."""
    assert [t.text for t in tokenize("_a1 + b_2")] == ["_a1", "+", "b_2", ""]


def test_tokenize_rejects_two_dots():
    """A number with two dots is malformed; the error points at its start."""
    with pytest.raises(ExprError) as info:
        tokenize("1 + 1.2.3")
    assert info.value.position == 4


def test_tokenize_rejects_lone_dot():
    """A dot alone is not a number."""
    with pytest.raises(ExprError):
        tokenize("1 + .")


def test_tokenize_rejects_unknown_character():
    """An unknown character is reported with its position."""
    with pytest.raises(ExprError) as info:
        tokenize("2 $ 3")
    assert info.value.position == 2
    assert "position 2" in str(info.value)


def test_parse_precedence():
    """Multiplication binds tighter than addition."""
    assert parse("1 + 2 * 3") == ("bin", "+", ("num", 1), ("bin", "*", ("num", 2), ("num", 3)))


def test_parse_subtraction_is_left_associative():
    """10 - 4 - 3 groups as (10 - 4) - 3."""
    assert parse("10 - 4 - 3") == ("bin", "-", ("bin", "-", ("num", 10), ("num", 4)),
                                   ("num", 3))


def test_parse_power_is_right_associative():
    """2 ^ 3 ^ 2 groups as 2 ^ (3 ^ 2)."""
    assert parse("2 ^ 3 ^ 2") == ("bin", "^", ("num", 2), ("bin", "^", ("num", 3), ("num", 2)))


def test_parse_negation_and_variables():
    """A leading minus negates; names are variables."""
    assert parse("-x") == ("neg", ("var", "x"))


def test_parse_calls():
    """Calls take comma-separated arguments, possibly none."""
    assert parse("max(1, y)") == ("call", "max", [("num", 1), ("var", "y")])
    assert parse("f()") == ("call", "f", [])


def test_parse_number_types():
    """Integers stay int; decimals become float."""
    assert parse("7") == ("num", 7) and isinstance(parse("7")[1], int)
    assert parse("2.5") == ("num", 2.5)


def test_parse_error_at_end_of_input():
    """A missing operand is reported at the end of the input."""
    with pytest.raises(ExprError) as info:
        parse("1 +")
    assert info.value.position == 3


def test_parse_error_missing_parenthesis():
    """An unclosed parenthesis is reported where ')' was expected."""
    with pytest.raises(ExprError) as info:
        parse("(1 + 2")
    assert info.value.position == 6
    assert "expected ')'" in str(info.value)


def test_parse_error_trailing_token():
    """Two numbers in a row: the second is unexpected."""
    with pytest.raises(ExprError) as info:
        parse("1 2")
    assert info.value.position == 2


def test_parse_error_leading_close_parenthesis():
    """A closing parenthesis cannot start an expression."""
    with pytest.raises(ExprError) as info:
        parse(")")
    assert info.value.position == 0


def test_parse_error_trailing_comma():
    """A trailing comma in a call is an error."""
    with pytest.raises(ExprError) as info:
        parse("max(1,)")
    assert info.value.position == 6


def test_calc_precedence():
    """1 + 2 * 3 is 7 and (1 + 2) * 3 is 9."""
    assert calc("1 + 2 * 3") == 7
    assert calc("(1 + 2) * 3") == 9


def test_calc_left_associativity():
    """10 - 4 - 3 is 3 and 100 / 10 / 5 is 2."""
    assert calc("10 - 4 - 3") == 3
    assert calc("100 / 10 / 5") == 2.0


def test_calc_true_division():
    """7 / 2 is 3.5."""
    assert calc("7 / 2") == 3.5


def test_calc_modulo():
    """7 % 3 is 1 and -7 % 3 is 2 (Python's modulo)."""
    assert calc("7 % 3") == 1
    assert calc("-7 % 3") == 2


def test_calc_power():
    """2 ^ 3 ^ 2 is 512 and 2 ^ -1 is 0.5."""
    assert calc("2 ^ 3 ^ 2") == 512
    assert calc("2 ^ -1") == 0.5


def test_calc_negation_binds_looser_than_power():
    """-2 ^ 2 is -4; (-2) ^ 2 is 4."""
    assert calc("-2 ^ 2") == -4
    assert calc("(-2) ^ 2") == 4


def test_calc_unary_minus_in_products():
    """2 * -3 is -6 and --4 is 4."""
    assert calc("2 * -3") == -6
    assert calc("--4") == 4


def test_calc_variables():
    """x * x + y with x=3, y=1 is 10."""
    assert calc("x * x + y", x=3, y=1) == 10


def test_calc_decimals():
    """.5 + 1.25 is 1.75."""
    assert calc(".5 + 1.25") == 1.75


def test_calc_functions():
    """abs, min, max and sqrt."""
    assert calc("abs(-5)") == 5
    assert calc("max(2, 7) - min(2, 7)") == 5
    assert calc("sqrt(16)") == 4.0


def test_calc_mixed_expression():
    """2 * (3 + 4) - 5 % 3 ^ 2 / (1 - 3) is 14 - (5 % 9) / -2 = 16.5."""
    assert calc("2 * (3 + 4) - 5 % 3 ^ 2 / (1 - 3)") == 16.5


def test_calc_wrong_arity():
    """max needs two arguments."""
    with pytest.raises(ExprError, match="takes 2"):
        calc("max(1)")


def test_calc_unknown_function():
    """Unknown functions are reported by name."""
    with pytest.raises(ExprError, match="foo"):
        calc("foo(1)")


def test_calc_unknown_variable():
    """Unknown variables are reported by name."""
    with pytest.raises(ExprError, match="'z'"):
        calc("z + 1")


def test_calc_division_by_zero():
    """Dividing or taking a modulo by zero is an ExprError."""
    with pytest.raises(ExprError, match="division by zero"):
        calc("1 / 0")
    with pytest.raises(ExprError, match="division by zero"):
        calc("5 % (2 - 2)")


def test_free_variables():
    """Variables are collected from every branch; function names are not variables."""
    assert free_variables(parse("a + b * sqrt(c) - a")) == {"a", "b", "c"}
    assert free_variables(parse("-max(x, 2)")) == {"x"}
    assert free_variables(parse("1 + 2")) == set()


def test_to_rpn_precedence():
    """1 + 2 * x is '1 2 x * +'; (1 + 2) * x is '1 2 + x *'."""
    assert to_rpn(parse("1 + 2 * x")) == "1 2 x * +"
    assert to_rpn(parse("(1 + 2) * x")) == "1 2 + x *"


def test_to_rpn_left_associative():
    """10 - 4 - 3 is '10 4 - 3 -'."""
    assert to_rpn(parse("10 - 4 - 3")) == "10 4 - 3 -"


def test_to_rpn_negation_and_calls():
    """Negation is '~' after its operand; calls end with name/arity."""
    assert to_rpn(parse("-a ^ 2")) == "a 2 ^ ~"
    assert to_rpn(parse("max(a, b + 1)")) == "a b 1 + max/2"


def test_to_infix_keeps_needed_parentheses():
    """Parentheses stay where they change the meaning."""
    assert to_infix(parse("(1 + 2) * 3")) == "(1 + 2) * 3"
    assert to_infix(parse("10 - (4 - 3)")) == "10 - (4 - 3)"


def test_to_infix_drops_redundant_parentheses():
    """Parentheses that do not change the meaning are dropped."""
    assert to_infix(parse("1 + (2 * 3)")) == "1 + 2 * 3"
    assert to_infix(parse("(10 - 4) - 3")) == "10 - 4 - 3"


def test_to_infix_power_associativity():
    """(2 ^ 3) ^ 2 keeps its parentheses; 2 ^ (3 ^ 2) loses them."""
    assert to_infix(parse("(2 ^ 3) ^ 2")) == "(2 ^ 3) ^ 2"
    assert to_infix(parse("2 ^ (3 ^ 2)")) == "2 ^ 3 ^ 2"


def test_to_infix_negation():
    """A negated base of a power is parenthesised; a negated sum keeps its parentheses."""
    assert to_infix(parse("(-2) ^ 2")) == "(-2) ^ 2"
    assert to_infix(parse("-(1 + x)")) == "-(1 + x)"
    assert to_infix(parse("x ^ -2")) == "x ^ -2"


def test_to_infix_calls():
    """Call arguments are printed without extra parentheses."""
    assert to_infix(parse("max(1 + 2, x)")) == "max(1 + 2, x)"


@pytest.mark.parametrize("source", [
    "2 * (3 + 4) - 5 % 3 ^ 2 / (1 - 3)",
    "(1 - 2) - (3 - 4)",
    "-(2 ^ 2) ^ 3",
    "100 / (10 / 5)",
], ids=["mixed", "nested_differences", "negated_power", "nested_quotients"])
def test_to_infix_round_trip(source):
    """Printing and re-parsing an expression keeps its value."""
    assert calc(to_infix(parse(source))) == calc(source)
