"""Tests of numkit."""

import pytest
from numkit import (
    Rational,
    binomial,
    egcd,
    factorize,
    gcd,
    is_prime,
    isqrt,
    lcm,
    mean,
    median,
    mod_inverse,
    mode,
    pow_mod,
    primes_up_to,
    variance,
)


def test_gcd():
    """gcd(12, 18) is 6 whatever the signs; gcd(0, 5) is 5; gcd(0, 0) is 0."""
    assert gcd(12, 18) == 6
    assert gcd(-12, 18) == 6 and gcd(12, -18) == 6
    assert gcd(0, 5) == 5 and gcd(5, 0) == 5
    assert gcd(0, 0) == 0
    assert gcd(17, 5) == 1


def test_lcm():
    """lcm(4, 6) is 12 whatever the signs; 0 if either is 0."""
    assert lcm(4, 6) == 12 and lcm(-4, 6) == 12
    assert lcm(7, 3) == 21
    assert lcm(0, 5) == 0 and lcm(5, 0) == 0


def test_egcd():
    """240 * -9 + 46 * 47 == 2."""
    assert egcd(240, 46) == (2, -9, 47)
    assert egcd(5, 0) == (5, 1, 0)
    assert egcd(0, 7) == (7, 0, 1)


def test_mod_inverse():
    """3 * 4 = 12 = 1 (mod 11); 10 * 12 = 120 = 1 (mod 17); -3 = 8 and 8 * 7 = 1 (mod 11)."""
    assert mod_inverse(3, 11) == 4
    assert mod_inverse(10, 17) == 12
    assert mod_inverse(-3, 11) == 7


def test_mod_inverse_missing():
    """6 has no inverse modulo 9 (they share the factor 3)."""
    with pytest.raises(ValueError):
        mod_inverse(6, 9)


def test_pow_mod():
    """2^10 mod 1000 = 24; 4^13 mod 497 = 445; 7^128 mod 13 = 3."""
    assert pow_mod(2, 10, 1000) == 24
    assert pow_mod(4, 13, 497) == 445
    assert pow_mod(7, 128, 13) == 3


def test_pow_mod_edge_cases():
    """x^0 = 1, anything mod 1 is 0, negative exponents are rejected."""
    assert pow_mod(3, 0, 7) == 1
    assert pow_mod(5, 3, 1) == 0
    assert pow_mod(3, 0, 1) == 0
    with pytest.raises(ValueError):
        pow_mod(2, -1, 5)


def test_isqrt_small():
    """Floor square roots of small numbers."""
    assert [isqrt(n) for n in (0, 1, 2, 3, 4, 8, 9, 15, 16, 17, 99, 100)] == [
        0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 9, 10]


def test_isqrt_large():
    """isqrt(10**20) is 10**10; one less gives 10**10 - 1."""
    assert isqrt(10**20) == 10**10
    assert isqrt(10**20 - 1) == 10**10 - 1


def test_isqrt_negative():
    """Negative numbers have no integer square root."""
    with pytest.raises(ValueError):
        isqrt(-1)


def test_is_prime_small():
    """The primes below 30."""
    assert [n for n in range(-3, 30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_is_prime_squares_and_large():
    """Squares of primes are composite; 7919 is prime."""
    assert not is_prime(25) and not is_prime(49) and not is_prime(121)
    assert is_prime(7919) and not is_prime(7917)


def test_primes_up_to():
    """Primes up to 30 inclusive; 25 primes below 100."""
    assert primes_up_to(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert primes_up_to(29)[-1] == 29
    assert len(primes_up_to(100)) == 25


def test_primes_up_to_small():
    """Nothing below 2; [2] up to 2; 49 is crossed out."""
    assert primes_up_to(1) == [] and primes_up_to(0) == []
    assert primes_up_to(2) == [2]
    assert primes_up_to(49)[-1] == 47


def test_factorize():
    """360 = 2^3 * 3^2 * 5; 2548 = 2^2 * 7^2 * 13; 9 = 3^2."""
    assert factorize(360) == [(2, 3), (3, 2), (5, 1)]
    assert factorize(2548) == [(2, 2), (7, 2), (13, 1)]
    assert factorize(9) == [(3, 2)]


def test_factorize_primes_and_one():
    """A prime is its own factorisation; 1 has none; 0 is rejected."""
    assert factorize(97) == [(97, 1)]
    assert factorize(2 * 101) == [(2, 1), (101, 1)]
    assert factorize(1) == []
    with pytest.raises(ValueError):
        factorize(0)


def test_binomial():
    """5 choose 2 is 10; 52 choose 5 is 2598960; 30 choose 15 is 155117520."""
    assert binomial(5, 2) == 10
    assert binomial(52, 5) == 2598960
    assert binomial(30, 15) == 155117520


def test_binomial_edges():
    """k = 0 or n gives 1; k out of range gives 0."""
    assert binomial(10, 0) == 1 and binomial(10, 10) == 1
    assert binomial(5, 6) == 0 and binomial(5, -1) == 0


def test_rational_normalises():
    """6/-8 is -3/4; 4/2 is 2; 0/5 is 0/1."""
    value = Rational(6, -8)
    assert (value.num, value.den) == (-3, 4)
    assert (Rational(4, 2).num, Rational(4, 2).den) == (2, 1)
    assert (Rational(0, 5).num, Rational(0, 5).den) == (0, 1)


def test_rational_zero_denominator():
    """A zero denominator is a ZeroDivisionError."""
    with pytest.raises(ZeroDivisionError):
        Rational(1, 0)


def test_rational_str_and_repr():
    """Whole numbers print without a denominator."""
    assert str(Rational(-3, 4)) == "-3/4" and str(Rational(4, 2)) == "2"
    assert repr(Rational(1, 3)) == "Rational(1, 3)"


def test_rational_add_sub():
    """1/2 + 1/3 = 5/6; 1/2 - 3/4 = -1/4."""
    assert Rational(1, 2) + Rational(1, 3) == Rational(5, 6)
    assert Rational(1, 2) - Rational(3, 4) == Rational(-1, 4)


def test_rational_mul_div():
    """2/3 * 9/4 = 3/2; (1/2) / (1/4) = 2."""
    assert Rational(2, 3) * Rational(9, 4) == Rational(3, 2)
    assert Rational(1, 2) / Rational(1, 4) == 2


def test_rational_with_ints():
    """Integers mix in on either side."""
    assert 1 + Rational(1, 2) == Rational(3, 2)
    assert Rational(1, 2) + 1 == Rational(3, 2)
    assert 1 - Rational(1, 4) == Rational(3, 4)
    assert Rational(1, 4) - 1 == Rational(-3, 4)
    assert 3 * Rational(1, 6) == Rational(1, 2)
    assert 2 / Rational(1, 3) == 6
    assert Rational(3, 4) / 3 == Rational(1, 4)


def test_rational_rejects_floats():
    """Floats do not mix with exact rationals."""
    with pytest.raises(TypeError):
        Rational(1, 2) + 0.5


def test_rational_divide_by_zero():
    """Dividing by zero raises ZeroDivisionError."""
    with pytest.raises(ZeroDivisionError):
        Rational(1, 2) / Rational(0)


def test_rational_power():
    """(2/3)^2 = 4/9; (2/3)^-2 = 9/4; (-2/3)^-1 = -3/2; x^0 = 1."""
    assert Rational(2, 3) ** 2 == Rational(4, 9)
    assert Rational(2, 3) ** -2 == Rational(9, 4)
    assert Rational(-2, 3) ** -1 == Rational(-3, 2)
    assert Rational(5, 7) ** 0 == 1


def test_rational_neg_abs():
    """Negation and absolute value."""
    assert -Rational(1, 2) == Rational(-1, 2)
    assert abs(Rational(-3, 4)) == Rational(3, 4)
    assert abs(Rational(3, 4)) == Rational(3, 4)


def test_rational_ordering():
    """1/3 < 1/2; -1/2 < -1/3; 2/4 == 1/2; comparisons with ints work."""
    assert Rational(1, 3) < Rational(1, 2)
    assert Rational(-1, 2) < Rational(-1, 3)
    assert not Rational(1, 2) < Rational(1, 2)
    assert Rational(1, 2) <= Rational(2, 4)
    assert Rational(2, 4) == Rational(1, 2)
    assert Rational(2) == 2 and Rational(5, 2) > 2
    assert sorted([Rational(3, 4), Rational(-1), Rational(1, 8)]) == [
        Rational(-1), Rational(1, 8), Rational(3, 4)]


def test_rational_hash():
    """Equal values hash alike."""
    assert hash(Rational(2, 4)) == hash(Rational(1, 2))
    assert len({Rational(2, 4), Rational(1, 2), Rational(3, 6)}) == 1


def test_rational_float_floor():
    """float and floor (towards minus infinity)."""
    assert float(Rational(1, 4)) == 0.25
    assert Rational(7, 2).floor() == 3
    assert Rational(-7, 2).floor() == -4


def test_rational_parse():
    """Fractions, integers and decimals parse exactly."""
    assert Rational.parse("3/4") == Rational(3, 4)
    assert Rational.parse(" -6/8 ") == Rational(-3, 4)
    assert Rational.parse("-2") == -2
    assert Rational.parse("-1.25") == Rational(-5, 4)
    assert Rational.parse("-0.5") == Rational(-1, 2)
    assert Rational.parse(".5") == Rational(1, 2)
    assert Rational.parse("2.") == 2


def test_to_decimal_rounds_half_away_from_zero():
    """2/3 -> 0.67; -1/8 -> -0.13; 7/2 -> 4 at no places; -2/3 -> -1."""
    assert Rational(2, 3).to_decimal(2) == "0.67"
    assert Rational(-1, 8).to_decimal(2) == "-0.13"
    assert Rational(7, 2).to_decimal(0) == "4"
    assert Rational(-2, 3).to_decimal(0) == "-1"
    assert Rational(1, 3).to_decimal(0) == "0"


def test_to_decimal_padding_and_negative_zero():
    """Leading and trailing zeros are written; a value rounding to zero has no minus sign."""
    assert Rational(1, 200).to_decimal(2) == "0.01"
    assert Rational(5).to_decimal(3) == "5.000"
    assert Rational(-1, 1000).to_decimal(2) == "0.00"


def test_continued_fraction():
    """415/93 = [4; 2, 6, 7]; -7/3 = [-3; 1, 2]; an integer is one term."""
    assert Rational(415, 93).continued_fraction() == [4, 2, 6, 7]
    assert Rational(-7, 3).continued_fraction() == [-3, 1, 2]
    assert Rational(5).continued_fraction() == [5]


def test_from_continued_fraction():
    """[4; 2, 6, 7] is 415/93; [-3; 1, 2] is -7/3; no terms is an error."""
    assert Rational.from_continued_fraction([4, 2, 6, 7]) == Rational(415, 93)
    assert Rational.from_continued_fraction([-3, 1, 2]) == Rational(-7, 3)
    assert Rational.from_continued_fraction([0, 2]) == Rational(1, 2)
    with pytest.raises(ValueError):
        Rational.from_continued_fraction([])


def test_mean():
    """mean(1..4) = 5/2; rationals average exactly."""
    assert mean([1, 2, 3, 4]) == Rational(5, 2)
    assert mean([Rational(1, 2), Rational(1, 3)]) == Rational(5, 12)


def test_mean_of_nothing():
    """No data is an error."""
    with pytest.raises(ValueError):
        mean([])


def test_median():
    """The middle of an odd count; the mean of the middle two of an even count."""
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == Rational(5, 2)
    assert median([7]) == 7


def test_mode():
    """The most common value; the smallest on a tie."""
    assert mode([1, 2, 2, 3]) == 2
    assert mode([3, 3, 1, 2, 2]) == 2
    assert mode([5]) == 5


def test_variance():
    """For 2, 4, 4, 4, 5, 5, 7, 9: population variance 4, sample variance 32/7."""
    data = [2, 4, 4, 4, 5, 5, 7, 9]
    assert variance(data, sample=False) == 4
    assert variance(data) == Rational(32, 7)


def test_variance_small_samples():
    """One value: population variance 0, sample variance undefined."""
    assert variance([3], sample=False) == 0
    with pytest.raises(ValueError):
        variance([3])
