"""datecalc: calendar arithmetic on proleptic Gregorian dates (years 1..9999).

Dates are counted by *ordinal*: 0001-01-01 is day 1. Weekdays run Monday=0 .. Sunday=6.
Week numbers follow ISO 8601: week 1 is the week holding the year's first Thursday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIN_YEAR, MAX_YEAR = 1, 9999


def is_leap(year: int) -> bool:
    """Gregorian leap years: every 4th year, except centuries not divisible by 400."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_length(year: int, month: int) -> int:
    """Number of days in ``month`` (1..12) of ``year``."""
    if month == 2 and is_leap(year):
        return 29
    return MONTH_DAYS[month - 1]


def days_before_year(year: int) -> int:
    """Days from 0001-01-01 up to (not including) January 1st of ``year``."""
    previous = year - 1
    return previous * 365 + previous // 4 - previous // 100 + previous // 400


def days_before_month(year: int, month: int) -> int:
    """Days in ``year`` before the first of ``month``."""
    total = sum(MONTH_DAYS[: month - 1])
    if month > 2 and is_leap(year):
        total += 1
    return total


@dataclass(frozen=True, order=True)
class Date:
    """A calendar date; invalid dates raise ``ValueError``. Dates compare chronologically."""

    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise ValueError(f"year {self.year} out of range")
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} out of range")
        if not 1 <= self.day <= month_length(self.year, self.month):
            raise ValueError(f"day {self.day} out of range for {self.year}-{self.month:02d}")

    # -- ordinals ----------------------------------------------------------------------------
    def to_ordinal(self) -> int:
        """Days since 0000-12-31 (so 0001-01-01 is 1)."""
        return days_before_year(self.year) + days_before_month(self.year, self.month) + self.day

    @classmethod
    def from_ordinal(cls, ordinal: int) -> Date:
        """The date with the given ordinal (the inverse of :meth:`to_ordinal`)."""
        if ordinal < 1:
            raise ValueError("ordinal must be at least 1")
        year = max(MIN_YEAR, ordinal * 400 // 146097)
        while days_before_year(year + 1) < ordinal:
            year += 1
        while days_before_year(year) >= ordinal:
            year -= 1
        remaining = ordinal - days_before_year(year)
        month = 1
        while remaining > month_length(year, month):
            remaining -= month_length(year, month)
            month += 1
        return cls(year, month, remaining)

    def __sub__(self, other: Date) -> int:
        """Days from ``other`` to ``self`` (negative when ``other`` is later)."""
        return self.to_ordinal() - other.to_ordinal()

    # -- fields ------------------------------------------------------------------------------
    def weekday(self) -> int:
        """Monday=0 .. Sunday=6 (0001-01-01 was a Monday)."""
        return (self.to_ordinal() + 6) % 7

    def weekday_name(self) -> str:
        return WEEKDAY_NAMES[self.weekday()]

    def day_of_year(self) -> int:
        """1 for January 1st, up to 365 or 366."""
        return days_before_month(self.year, self.month) + self.day

    def quarter(self) -> int:
        """1 for January-March, ..., 4 for October-December."""
        return (self.month - 1) // 3 + 1

    def iso_week(self) -> tuple[int, int]:
        """``(ISO year, ISO week)``; early January can belong to the previous ISO year."""
        thursday = self.add_days(3 - self.weekday())
        return thursday.year, (thursday.day_of_year() - 1) // 7 + 1

    def isoformat(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    # -- arithmetic --------------------------------------------------------------------------
    def add_days(self, days: int) -> Date:
        return Date.from_ordinal(self.to_ordinal() + days)

    def add_months(self, months: int) -> Date:
        """Move by whole months; the day is clamped to the target month's length."""
        index = self.year * 12 + (self.month - 1) + months
        year, month = divmod(index, 12)
        month += 1
        return Date(year, month, min(self.day, month_length(year, month)))

    def add_years(self, years: int) -> Date:
        """Move by whole years (February 29th becomes the 28th in a common year)."""
        return self.add_months(12 * years)

    def end_of_month(self) -> Date:
        return Date(self.year, self.month, month_length(self.year, self.month))


def parse_date(text: str) -> Date:
    """Parse ``YYYY-MM-DD`` (exactly four, two and two digits)."""
    parts = text.strip().split("-")
    if len(parts) != 3 or [len(p) for p in parts] != [4, 2, 2]:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return Date(int(parts[0]), int(parts[1]), int(parts[2]))


def is_business_day(date: Date, holidays: Iterable[Date] = ()) -> bool:
    """Monday to Friday, and not a holiday."""
    return date.weekday() < 5 and date not in set(holidays)


def business_days_between(start: Date, end: Date, holidays: Iterable[Date] = ()) -> int:
    """Business days in ``[start, end)``: weekdays that are not holidays."""
    days = end - start
    if days < 0:
        raise ValueError("end is before start")
    weeks, extra = divmod(days, 7)
    count = weeks * 5
    first = start.weekday()
    for offset in range(extra):
        if (first + offset) % 7 < 5:
            count += 1
    for holiday in set(holidays):
        if start <= holiday < end and holiday.weekday() < 5:
            count -= 1
    return count


def add_business_days(start: Date, days: int, holidays: Iterable[Date] = ()) -> Date:
    """The date ``days`` (>= 0) business days after ``start`` (``start`` itself not counted)."""
    if days < 0:
        raise ValueError("days must be non-negative")
    skip = set(holidays)
    current = start
    while days > 0:
        current = current.add_days(1)
        if is_business_day(current, skip):
            days -= 1
    return current


def nth_weekday(year: int, month: int, weekday: int, n: int) -> Date:
    """The ``n``-th given weekday of a month (``n`` >= 1), or the last one (``n == -1``)."""
    length = month_length(year, month)
    if n == -1:
        last = Date(year, month, length)
        return Date(year, month, length - (last.weekday() - weekday) % 7)
    if n < 1:
        raise ValueError("n must be positive or -1")
    offset = (weekday - Date(year, month, 1).weekday()) % 7
    day = 1 + offset + 7 * (n - 1)
    if day > length:
        raise ValueError(f"there is no weekday {weekday} number {n} in {year}-{month:02d}")
    return Date(year, month, day)


def easter(year: int) -> Date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    golden = year % 19
    century, rest = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    shift = (century + 8) // 25
    correction = (century - shift + 1) // 3
    epact = (19 * golden + century - leap_centuries - correction + 15) % 30
    quarter, quarter_rest = divmod(rest, 4)
    sunday = (32 + 2 * century_rest + 2 * quarter - epact - quarter_rest) % 7
    late = (golden + 11 * epact + 22 * sunday) // 451
    month, day = divmod(epact + sunday - 7 * late + 114, 31)
    return Date(year, month, day + 1)


def age(birth: Date, on: Date) -> int:
    """Completed years between ``birth`` and ``on``."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years
