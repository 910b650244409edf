"""numkit: integer number theory, exact rational numbers and exact statistics.

Everything is exact: statistics of integers or :class:`Rational` values are Rationals.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence


# -- number theory ----------------------------------------------------------------------------
def gcd(a: int, b: int) -> int:
    """Greatest common divisor (Euclid), never negative; ``gcd(0, 0) == 0``."""
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a


def lcm(a: int, b: int) -> int:
    """Least common multiple, never negative; 0 if either argument is 0."""
    if a == 0 or b == 0:
        return 0
    return abs(a * b) // gcd(a, b)


def egcd(a: int, b: int) -> tuple[int, int, int]:
    """``(g, x, y)`` with ``a*x + b*y == g == gcd(a, b)`` for non-negative ``a``, ``b``."""
    old_r, r = a, b
    old_x, x = 1, 0
    old_y, y = 0, 1
    while r:
        quotient = old_r // r
        old_r, r = r, old_r - quotient * r
        old_x, x = x, old_x - quotient * x
        old_y, y = y, old_y - quotient * y
    return old_r, old_x, old_y


def mod_inverse(a: int, m: int) -> int:
    """The ``x`` in ``0..m-1`` with ``a*x % m == 1``; ``ValueError`` if none exists."""
    g, x, _ = egcd(a % m, m)
    if g != 1:
        raise ValueError(f"{a} has no inverse modulo {m}")
    return x % m


def pow_mod(base: int, exponent: int, modulus: int) -> int:
    """``base ** exponent % modulus`` by repeated squaring (``exponent >= 0``)."""
    if exponent < 0:
        raise ValueError("exponent must be non-negative")
    result = 1 % modulus
    base %= modulus
    while exponent > 0:
        if exponent & 1:
            result = result * base % modulus
        base = base * base % modulus
        exponent >>= 1
    return result


def isqrt(n: int) -> int:
    """The largest ``r`` with ``r * r <= n`` (Newton's method on integers)."""
    if n < 0:
        raise ValueError("square root of a negative number")
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def is_prime(n: int) -> bool:
    """Trial division by 2, 3 and numbers of the form 6k +- 1."""
    if n < 2:
        return False
    if n < 4:
        return True
    if n % 2 == 0 or n % 3 == 0:
        return False
    k = 5
    while k * k <= n:
        if n % k == 0 or n % (k + 2) == 0:
            return False
        k += 6
    return True


def primes_up_to(n: int) -> list[int]:
    """Primes ``<= n`` (sieve of Eratosthenes)."""
    if n < 2:
        return []
    sieve = [True] * (n + 1)
    sieve[0] = sieve[1] = False
    for p in range(2, isqrt(n) + 1):
        if sieve[p]:
            for multiple in range(p * p, n + 1, p):
                sieve[multiple] = False
    return [i for i, prime in enumerate(sieve) if prime]


def factorize(n: int) -> list[tuple[int, int]]:
    """Prime factorisation of ``n >= 1`` as ``[(prime, exponent), ...]``, primes ascending."""
    if n < 1:
        raise ValueError("factorize needs a positive integer")
    factors = []
    p = 2
    while p * p <= n:
        exponent = 0
        while n % p == 0:
            n //= p
            exponent += 1
        if exponent:
            factors.append((p, exponent))
        p += 1 if p == 2 else 2
    if n > 1:
        factors.append((n, 1))
    return factors


def binomial(n: int, k: int) -> int:
    """``n`` choose ``k``; 0 when ``k < 0`` or ``k > n``."""
    if k < 0 or k > n:
        return 0
    k = min(k, n - k)
    result = 1
    for i in range(1, k + 1):
        result = result * (n - k + i) // i
    return result


# -- rationals --------------------------------------------------------------------------------
@functools.total_ordering
class Rational:
    """An exact fraction in lowest terms with a positive denominator."""

    __slots__ = ("den", "num")

    def __init__(self, num: int, den: int = 1) -> None:
        if den == 0:
            raise ZeroDivisionError("zero denominator")
        if den < 0:
            num, den = -num, -den
        common = gcd(num, den)
        self.num = num // common
        self.den = den // common

    @classmethod
    def parse(cls, text: str) -> Rational:
        """``"3/4"``, ``"-2"`` or a decimal like ``"-1.25"`` (exactly -5/4)."""
        text = text.strip()
        if "/" in text:
            num, den = text.split("/")
            return cls(int(num), int(den))
        if "." in text:
            whole, fraction = text.split(".")
            negative = whole.startswith("-")
            digits = int(whole.lstrip("-") or "0") * 10 ** len(fraction) + int(fraction or "0")
            return cls(-digits if negative else digits, 10 ** len(fraction))
        return cls(int(text))

    @staticmethod
    def _coerce(other: object) -> Rational | None:
        if isinstance(other, Rational):
            return other
        if isinstance(other, int):
            return Rational(other)
        return None

    def __add__(self, other: object) -> Rational:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Rational(self.num * o.den + o.num * self.den, self.den * o.den)

    __radd__ = __add__

    def __neg__(self) -> Rational:
        return Rational(-self.num, self.den)

    def __sub__(self, other: object) -> Rational:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return self + -o

    def __rsub__(self, other: object) -> Rational:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return o - self

    def __mul__(self, other: object) -> Rational:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Rational(self.num * o.num, self.den * o.den)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Rational:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return Rational(self.num * o.den, self.den * o.num)

    def __rtruediv__(self, other: object) -> Rational:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return o / self

    def __pow__(self, exponent: int) -> Rational:
        if exponent < 0:
            return Rational(self.den**-exponent, self.num**-exponent)
        return Rational(self.num**exponent, self.den**exponent)

    def __abs__(self) -> Rational:
        return Rational(abs(self.num), self.den)

    def __eq__(self, other: object) -> bool:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return self.num == o.num and self.den == o.den

    def __lt__(self, other: object) -> bool:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        return self.num * o.den < o.num * self.den

    def __hash__(self) -> int:
        return hash((self.num, self.den))

    def __float__(self) -> float:
        return self.num / self.den

    def __repr__(self) -> str:
        return f"Rational({self.num}, {self.den})"

    def __str__(self) -> str:
        return str(self.num) if self.den == 1 else f"{self.num}/{self.den}"

    def floor(self) -> int:
        return self.num // self.den

    def to_decimal(self, places: int) -> str:
        """The value rounded half away from zero to ``places`` decimals, e.g. ``"0.67"``."""
        scaled = abs(self.num) * 10**places
        digits, remainder = divmod(scaled, self.den)
        if 2 * remainder >= self.den:
            digits += 1
        sign = "-" if self.num < 0 and digits else ""
        text = str(digits).rjust(places + 1, "0")
        if places == 0:
            return sign + text
        return f"{sign}{text[:-places]}.{text[-places:]}"

    def continued_fraction(self) -> list[int]:
        """Terms ``[a0; a1, a2, ...]`` of the (finite) continued fraction."""
        terms = []
        num, den = self.num, self.den
        while den:
            whole = num // den
            terms.append(whole)
            num, den = den, num - whole * den
        return terms

    @classmethod
    def from_continued_fraction(cls, terms: Sequence[int]) -> Rational:
        """The value of ``[a0; a1, ...]`` (the inverse of :meth:`continued_fraction`)."""
        if not terms:
            raise ValueError("no terms")
        value = cls(terms[-1])
        for term in reversed(terms[:-1]):
            value = term + 1 / value
        return value


# -- statistics -------------------------------------------------------------------------------
def _rationals(values: Iterable[int | Rational]) -> list[Rational]:
    data = [value if isinstance(value, Rational) else Rational(value) for value in values]
    if not data:
        raise ValueError("no data")
    return data


def mean(values: Iterable[int | Rational]) -> Rational:
    data = _rationals(values)
    return sum(data, Rational(0)) / len(data)


def median(values: Iterable[int | Rational]) -> Rational:
    """The middle value; the mean of the two middle values for an even count."""
    data = sorted(_rationals(values))
    middle = len(data) // 2
    if len(data) % 2:
        return data[middle]
    return (data[middle - 1] + data[middle]) / 2


def mode(values: Iterable[int | Rational]) -> Rational:
    """The most common value; the smallest of them on a tie."""
    counts: dict[Rational, int] = {}
    for value in _rationals(values):
        counts[value] = counts.get(value, 0) + 1
    best = max(counts.values())
    return min(value for value, count in counts.items() if count == best)


def variance(values: Iterable[int | Rational], sample: bool = True) -> Rational:
    """Sample variance (divide by n - 1) or population variance (divide by n)."""
    data = _rationals(values)
    if sample and len(data) < 2:
        raise ValueError("sample variance needs at least two values")
    centre = mean(data)
    squares = sum(((value - centre) ** 2 for value in data), Rational(0))
    return squares / (len(data) - 1 if sample else len(data))
