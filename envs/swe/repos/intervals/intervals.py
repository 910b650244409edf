"""intervals: half-open integer intervals and interval sets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Interval:
    """The half-open interval ``[start, end)``; empty when ``start == end``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} before start {self.start}")

    def __len__(self) -> int:
        return self.end - self.start

    @property
    def empty(self) -> bool:
        return self.start == self.end

    def contains(self, point: int) -> bool:
        """Whether ``point`` lies in the interval (the end is excluded)."""
        return self.start <= point < self.end

    def overlaps(self, other: Interval) -> bool:
        """Whether the intervals share at least one point."""
        return self.start < other.end and other.start < self.end

    def touches(self, other: Interval) -> bool:
        """Whether the intervals overlap or are adjacent."""
        return self.start <= other.end and other.start <= self.end

    def intersection(self, other: Interval) -> Interval | None:
        """The common part, or None when they do not overlap."""
        start = max(self.start, other.start)
        end = min(self.end, other.end)
        if start >= end:
            return None
        return Interval(start, end)

    def hull(self, other: Interval) -> Interval:
        """The smallest interval covering both."""
        return Interval(min(self.start, other.start), max(self.end, other.end))

    def shift(self, offset: int) -> Interval:
        """The interval moved by ``offset``."""
        return Interval(self.start + offset, self.end + offset)

    def split(self, point: int) -> tuple[Interval, Interval]:
        """Two intervals ``[start, point)`` and ``[point, end)``; ``point`` must lie inside."""
        if not self.start < point < self.end:
            raise ValueError(f"{point} is not strictly inside {self}")
        return Interval(self.start, point), Interval(point, self.end)


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted union of intervals; overlapping or adjacent intervals are joined."""
    result: list[Interval] = []
    for interval in sorted(intervals):
        if interval.empty:
            continue
        if result and result[-1].touches(interval):
            result[-1] = result[-1].hull(interval)
        else:
            result.append(interval)
    return result


def total_length(intervals: list[Interval]) -> int:
    """Number of points covered by at least one interval."""
    return sum(len(interval) for interval in merge(intervals))


def gaps(intervals: list[Interval], within: Interval) -> list[Interval]:
    """The parts of ``within`` not covered by ``intervals``."""
    result = []
    cursor = within.start
    for interval in merge(intervals):
        if interval.end <= cursor:
            continue
        if interval.start >= within.end:
            break
        if interval.start > cursor:
            result.append(Interval(cursor, interval.start))
        cursor = max(cursor, interval.end)
    if cursor < within.end:
        result.append(Interval(cursor, within.end))
    return result


def intersect_all(first: list[Interval], second: list[Interval]) -> list[Interval]:
    """Pairwise intersection of two interval lists (each merged first)."""
    a, b = merge(first), merge(second)
    i = j = 0
    result = []
    while i < len(a) and j < len(b):
        common = a[i].intersection(b[j])
        if common is not None:
            result.append(common)
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return result


def max_overlap(intervals: list[Interval]) -> int:
    """The largest number of intervals covering one point."""
    events = []
    for interval in intervals:
        if not interval.empty:
            events.append((interval.start, 1))
            events.append((interval.end, -1))
    events.sort()
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def find_free_slot(busy: list[Interval], within: Interval, duration: int) -> Interval | None:
    """The earliest slot of ``duration`` inside ``within`` that avoids every busy interval."""
    if duration <= 0:
        raise ValueError("duration must be positive")
    for gap in gaps(busy, within):
        if len(gap) >= duration:
            return Interval(gap.start, gap.start + duration)
    return None


def is_leap_year(year: int) -> bool:
    """Gregorian leap years: divisible by 4, except centuries not divisible by 400."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    """Days in ``month`` (1..12) of ``year``."""
    if not 1 <= month <= 12:
        raise ValueError("month must be in 1..12")
    if month == 2:
        return 29 if is_leap_year(year) else 28
    if month in (4, 6, 9, 11):
        return 30
    return 31


def day_of_year(year: int, month: int, day: int) -> int:
    """Ordinal day within the year, 1-based."""
    if not 1 <= day <= days_in_month(year, month):
        raise ValueError("day out of range")
    total = day
    for previous in range(1, month):
        total += days_in_month(year, previous)
    return total


def weekday(year: int, month: int, day: int) -> int:
    """Day of the week, Monday=0 .. Sunday=6 (Zeller's congruence)."""
    if month < 3:
        month += 12
        year -= 1
    k = year % 100
    j = year // 100
    h = (day + 13 * (month + 1) // 5 + k + k // 4 + j // 4 + 5 * j) % 7
    return (h + 5) % 7


def add_days(year: int, month: int, day: int, days: int) -> tuple[int, int, int]:
    """The date ``days`` (>= 0) after the given one."""
    if days < 0:
        raise ValueError("days must be non-negative")
    while days > 0:
        remaining = days_in_month(year, month) - day
        if days <= remaining:
            return year, month, day + days
        days -= remaining + 1
        day = 1
        month += 1
        if month > 12:
            month = 1
            year += 1
    return year, month, day
