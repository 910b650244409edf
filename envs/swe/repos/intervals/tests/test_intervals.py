"""Tests of intervals."""

import pytest
from intervals import (
    Interval,
    add_days,
    day_of_year,
    days_in_month,
    find_free_slot,
    gaps,
    intersect_all,
    is_leap_year,
    max_overlap,
    merge,
    total_length,
    weekday,
)


def test_interval_rejects_reversed_bounds():
    """An interval whose end is before its start is rejected."""
    with pytest.raises(ValueError):
        Interval(5, 3)


def test_interval_length():
    """The length of [2, 7) is 5."""
    assert len(Interval(2, 7)) == 5


def test_interval_empty():
    """[3, 3) is empty and [3, 4) is not."""
    assert Interval(3, 3).empty
    assert not Interval(3, 4).empty


def test_contains_excludes_end():
    """contains includes the start and excludes the end."""
    interval = Interval(1, 4)
    assert interval.contains(1)
    assert interval.contains(3)
    assert not interval.contains(4)
    assert not interval.contains(0)


def test_overlaps():
    """Intervals sharing a point overlap; adjacent ones do not."""
    assert Interval(0, 5).overlaps(Interval(4, 8))
    assert not Interval(0, 5).overlaps(Interval(5, 8))
    assert Interval(4, 8).overlaps(Interval(0, 5))


def test_touches_adjacent():
    """Adjacent intervals touch; separated ones do not."""
    assert Interval(0, 5).touches(Interval(5, 8))
    assert not Interval(0, 5).touches(Interval(6, 8))


def test_intersection():
    """The intersection of [0, 5) and [3, 9) is [3, 5)."""
    assert Interval(0, 5).intersection(Interval(3, 9)) == Interval(3, 5)


def test_intersection_disjoint_is_none():
    """Disjoint or adjacent intervals have no intersection."""
    assert Interval(0, 3).intersection(Interval(3, 9)) is None
    assert Interval(0, 2).intersection(Interval(5, 9)) is None


def test_hull():
    """The hull of [0, 2) and [5, 9) is [0, 9)."""
    assert Interval(5, 9).hull(Interval(0, 2)) == Interval(0, 9)


def test_shift():
    """shift moves both bounds."""
    assert Interval(1, 3).shift(10) == Interval(11, 13)
    assert Interval(1, 3).shift(-1) == Interval(0, 2)


def test_split():
    """split cuts an interval at an inner point."""
    assert Interval(0, 10).split(4) == (Interval(0, 4), Interval(4, 10))


def test_split_rejects_bounds():
    """split rejects a point on a boundary."""
    with pytest.raises(ValueError):
        Interval(0, 10).split(0)
    with pytest.raises(ValueError):
        Interval(0, 10).split(10)


def test_merge_overlapping():
    """merge joins overlapping intervals and sorts the result."""
    assert merge([Interval(5, 8), Interval(0, 3), Interval(2, 6)]) == [Interval(0, 8)]


def test_merge_adjacent():
    """merge joins adjacent intervals."""
    assert merge([Interval(0, 2), Interval(2, 4)]) == [Interval(0, 4)]


def test_merge_keeps_separate():
    """merge keeps separated intervals apart and drops empty ones."""
    got = merge([Interval(6, 9), Interval(0, 2), Interval(4, 4)])
    assert got == [Interval(0, 2), Interval(6, 9)]


def test_merge_contained():
    """merge absorbs an interval inside another."""
    assert merge([Interval(0, 10), Interval(2, 3)]) == [Interval(0, 10)]


def test_total_length_counts_overlap_once():
    """total_length counts overlapping points once."""
    assert total_length([Interval(0, 5), Interval(3, 8), Interval(10, 12)]) == 10


def test_gaps():
    """gaps lists the uncovered parts of the window."""
    busy = [Interval(2, 4), Interval(6, 7)]
    assert gaps(busy, Interval(0, 10)) == [Interval(0, 2), Interval(4, 6), Interval(7, 10)]


def test_gaps_busy_outside_window():
    """gaps ignores busy time outside the window."""
    busy = [Interval(-5, 1), Interval(9, 20)]
    assert gaps(busy, Interval(0, 10)) == [Interval(1, 9)]


def test_gaps_fully_busy():
    """gaps of a fully covered window is empty."""
    assert gaps([Interval(0, 10)], Interval(2, 8)) == []


def test_intersect_all():
    """intersect_all intersects two interval lists."""
    a = [Interval(0, 4), Interval(6, 10)]
    b = [Interval(2, 7), Interval(9, 12)]
    assert intersect_all(a, b) == [Interval(2, 4), Interval(6, 7), Interval(9, 10)]


def test_max_overlap():
    """max_overlap counts the deepest stack of intervals."""
    assert max_overlap([Interval(0, 5), Interval(1, 3), Interval(2, 8)]) == 3


def test_max_overlap_adjacent_not_counted():
    """Adjacent intervals do not overlap in max_overlap."""
    assert max_overlap([Interval(0, 2), Interval(2, 4)]) == 1


def test_find_free_slot():
    """find_free_slot returns the earliest gap long enough."""
    busy = [Interval(0, 2), Interval(3, 5)]
    assert find_free_slot(busy, Interval(0, 10), 2) == Interval(5, 7)


def test_find_free_slot_exact_fit():
    """find_free_slot accepts a gap of exactly the duration."""
    busy = [Interval(0, 2), Interval(4, 10)]
    assert find_free_slot(busy, Interval(0, 10), 2) == Interval(2, 4)


def test_find_free_slot_none():
    """find_free_slot returns None when nothing fits, and rejects a zero duration."""
    assert find_free_slot([Interval(0, 9)], Interval(0, 10), 2) is None
    with pytest.raises(ValueError):
        find_free_slot([], Interval(0, 10), 0)


def test_leap_years():
    """Leap years follow the Gregorian rules."""
    assert is_leap_year(2024)
    assert not is_leap_year(2023)
    assert not is_leap_year(1900)
    assert is_leap_year(2000)


def test_days_in_month():
    """days_in_month knows 30-day months and February."""
    assert days_in_month(2023, 1) == 31
    assert days_in_month(2023, 4) == 30
    assert days_in_month(2023, 2) == 28
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2023, 12) == 31


def test_days_in_month_rejects_bad_month():
    """days_in_month rejects months outside 1..12."""
    with pytest.raises(ValueError):
        days_in_month(2023, 13)
    with pytest.raises(ValueError):
        days_in_month(2023, 0)


def test_day_of_year():
    """day_of_year counts from January 1st."""
    assert day_of_year(2023, 1, 1) == 1
    assert day_of_year(2023, 3, 1) == 60
    assert day_of_year(2024, 3, 1) == 61
    assert day_of_year(2023, 12, 31) == 365


def test_day_of_year_rejects_bad_day():
    """day_of_year rejects February 30th."""
    with pytest.raises(ValueError):
        day_of_year(2024, 2, 30)


def test_weekday():
    """weekday returns Monday=0 .. Sunday=6."""
    assert weekday(2024, 1, 1) == 0
    assert weekday(2000, 2, 29) == 1
    assert weekday(2023, 12, 31) == 6
    assert weekday(1999, 7, 16) == 4


def test_add_days_within_month():
    """add_days within a month adds to the day."""
    assert add_days(2023, 5, 10, 5) == (2023, 5, 15)


def test_add_days_across_months_and_years():
    """add_days rolls over months and years."""
    assert add_days(2023, 1, 31, 1) == (2023, 2, 1)
    assert add_days(2023, 12, 30, 3) == (2024, 1, 2)
    assert add_days(2024, 2, 28, 1) == (2024, 2, 29)


def test_add_days_long_span():
    """add_days handles a whole year."""
    assert add_days(2023, 1, 1, 365) == (2024, 1, 1)


def test_add_days_rejects_negative():
    """add_days rejects a negative count."""
    with pytest.raises(ValueError):
        add_days(2023, 1, 1, -1)
