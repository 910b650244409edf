"""Tests of datecalc."""

import pytest
from datecalc import (
    Date,
    add_business_days,
    age,
    business_days_between,
    days_before_month,
    days_before_year,
    easter,
    is_business_day,
    is_leap,
    month_length,
    nth_weekday,
    parse_date,
)


def test_leap_years():
    """2024 and 2000 are leap years; 2023 and 1900 are not."""
    assert is_leap(2024) and is_leap(2000)
    assert not is_leap(2023) and not is_leap(1900)


def test_month_length():
    """February has 29 days in a leap year, 28 otherwise; April 30; December 31."""
    assert month_length(2024, 2) == 29
    assert month_length(2023, 2) == 28
    assert month_length(2023, 4) == 30
    assert month_length(2023, 12) == 31


def test_days_before_year():
    """No days before year 1; 365 before year 2; 1461 before year 5."""
    assert days_before_year(1) == 0
    assert days_before_year(2) == 365
    assert days_before_year(5) == 1461


def test_days_before_month():
    """59 days precede March in a common year, 60 in a leap year; none precede January."""
    assert days_before_month(2023, 3) == 59
    assert days_before_month(2024, 3) == 60
    assert days_before_month(2024, 1) == 0
    assert days_before_month(2024, 2) == 31


def test_invalid_dates_are_rejected():
    """Month 13, February 30th, February 29th of a common year and year 0 are invalid."""
    for year, month, day in [(2024, 13, 1), (2024, 2, 30), (2023, 2, 29), (0, 1, 1),
                             (2024, 4, 31), (2024, 1, 0)]:
        with pytest.raises(ValueError):
            Date(year, month, day)


def test_valid_edge_dates():
    """February 29th of a leap year and December 31st are valid."""
    assert Date(2024, 2, 29).day == 29
    assert Date(9999, 12, 31).year == 9999


def test_to_ordinal():
    """Known ordinals: 0001-01-01 is 1, 1970-01-01 is 719163, 2024-03-01 is 738946."""
    assert Date(1, 1, 1).to_ordinal() == 1
    assert Date(1970, 1, 1).to_ordinal() == 719163
    assert Date(2024, 3, 1).to_ordinal() == 738946
    assert Date(9999, 12, 31).to_ordinal() == 3652059


def test_from_ordinal():
    """from_ordinal inverts to_ordinal at known points."""
    assert Date.from_ordinal(1) == Date(1, 1, 1)
    assert Date.from_ordinal(730120) == Date(2000, 1, 1)
    assert Date.from_ordinal(738946) == Date(2024, 3, 1)
    assert Date.from_ordinal(3652059) == Date(9999, 12, 31)


def test_from_ordinal_year_boundaries():
    """The last day of a year and the first day of the next are one ordinal apart."""
    assert Date.from_ordinal(Date(2023, 12, 31).to_ordinal()) == Date(2023, 12, 31)
    assert Date.from_ordinal(Date(2024, 12, 31).to_ordinal()) == Date(2024, 12, 31)
    assert Date.from_ordinal(Date(2024, 1, 1).to_ordinal()) == Date(2024, 1, 1)


def test_from_ordinal_rejects_zero():
    """Ordinal 0 is before the first date."""
    with pytest.raises(ValueError):
        Date.from_ordinal(0)


def test_subtraction_counts_days():
    """2024 has 366 days; subtraction is negative backwards."""
    assert Date(2025, 1, 1) - Date(2024, 1, 1) == 366
    assert Date(2024, 1, 1) - Date(2023, 1, 1) == 365
    assert Date(2024, 3, 1) - Date(2024, 3, 11) == -10


def test_weekday():
    """0001-01-01 was a Monday; 2000-01-01 a Saturday; 1970-01-01 a Thursday."""
    assert Date(1, 1, 1).weekday() == 0
    assert Date(2000, 1, 1).weekday() == 5
    assert Date(1970, 1, 1).weekday() == 3
    assert Date(2024, 6, 15).weekday_name() == "Saturday"


def test_day_of_year():
    """March 1st is day 61 of 2024; December 31st is day 366 of 2024 and 365 of 2023."""
    assert Date(2024, 3, 1).day_of_year() == 61
    assert Date(2024, 12, 31).day_of_year() == 366
    assert Date(2023, 12, 31).day_of_year() == 365
    assert Date(2023, 1, 1).day_of_year() == 1


def test_quarter():
    """March is in Q1, April in Q2, September in Q3, December in Q4."""
    assert [Date(2024, m, 1).quarter() for m in (1, 3, 4, 6, 7, 9, 10, 12)] == [
        1, 1, 2, 2, 3, 3, 4, 4]


def test_iso_week_mid_year():
    """2024-06-15 is in ISO week 24 of 2024."""
    assert Date(2024, 6, 15).iso_week() == (2024, 24)


def test_iso_week_belongs_to_previous_year():
    """2021-01-01 (a Friday) and 2016-01-03 (a Sunday) are in week 53 of the year before."""
    assert Date(2021, 1, 1).iso_week() == (2020, 53)
    assert Date(2016, 1, 3).iso_week() == (2015, 53)


def test_iso_week_belongs_to_next_year():
    """2024-12-30 (a Monday) is in week 1 of 2025."""
    assert Date(2024, 12, 30).iso_week() == (2025, 1)


def test_iso_week_first_thursday():
    """2026-01-01 is a Thursday, so it is in week 1 of 2026; 2020-12-31 is in week 53."""
    assert Date(2026, 1, 1).iso_week() == (2026, 1)
    assert Date(2020, 12, 31).iso_week() == (2020, 53)


def test_isoformat_pads():
    """Years have four digits, months and days two."""
    assert Date(33, 2, 5).isoformat() == "0033-02-05"
    assert Date(2024, 11, 30).isoformat() == "2024-11-30"


def test_add_days():
    """100 days after 2024-03-01 is 2024-06-09; leap days are counted."""
    assert Date(2024, 3, 1).add_days(100) == Date(2024, 6, 9)
    assert Date(2000, 2, 28).add_days(1) == Date(2000, 2, 29)
    assert Date(1900, 2, 28).add_days(1) == Date(1900, 3, 1)
    assert Date(2024, 1, 1).add_days(-1) == Date(2023, 12, 31)


def test_add_months_simple():
    """Adding months keeps the day when it exists, across year ends in both directions."""
    assert Date(2023, 12, 15).add_months(1) == Date(2024, 1, 15)
    assert Date(2024, 1, 10).add_months(-13) == Date(2022, 12, 10)
    assert Date(2024, 5, 20).add_months(0) == Date(2024, 5, 20)


def test_add_months_clamps_day():
    """January 31st plus a month is the last day of February."""
    assert Date(2024, 1, 31).add_months(1) == Date(2024, 2, 29)
    assert Date(2023, 1, 31).add_months(1) == Date(2023, 2, 28)
    assert Date(2024, 3, 31).add_months(-1) == Date(2024, 2, 29)
    assert Date(2024, 8, 31).add_months(1) == Date(2024, 9, 30)


def test_add_years_from_leap_day():
    """February 29th plus a year is February 28th; plus four years it is the 29th again."""
    assert Date(2024, 2, 29).add_years(1) == Date(2025, 2, 28)
    assert Date(2024, 2, 29).add_years(4) == Date(2028, 2, 29)


def test_end_of_month():
    """The end of February 2024 is the 29th; of June, the 30th."""
    assert Date(2024, 2, 10).end_of_month() == Date(2024, 2, 29)
    assert Date(2023, 6, 1).end_of_month() == Date(2023, 6, 30)


def test_dates_compare_chronologically():
    """Dates order by year, then month, then day."""
    assert Date(2023, 12, 31) < Date(2024, 1, 1) < Date(2024, 1, 2)


def test_parse_date():
    """YYYY-MM-DD parses; surrounding spaces are ignored."""
    assert parse_date("2024-02-29") == Date(2024, 2, 29)
    assert parse_date(" 0999-01-05 ") == Date(999, 1, 5)


def test_parse_date_rejects_bad_shapes():
    """Wrong widths, separators, signs or letters are rejected."""
    for text in ["2024-2-29", "24-02-29", "2024/02/29", "2024-02", "2024-0a-01", "2024-02-29-1",
                 "+024-02-01"]:
        with pytest.raises(ValueError):
            parse_date(text)


def test_parse_date_rejects_impossible_dates():
    """A well-formed but impossible date is rejected."""
    with pytest.raises(ValueError):
        parse_date("2023-02-29")


def test_is_business_day():
    """Fridays are business days, Saturdays are not, nor are holidays."""
    assert is_business_day(Date(2024, 3, 1))
    assert not is_business_day(Date(2024, 3, 2))
    assert not is_business_day(Date(2024, 3, 1), [Date(2024, 3, 1)])


def test_business_days_between_spans_a_weekend():
    """From Friday 2024-03-01 to Monday 2024-03-11 (exclusive) there are 6 business days."""
    assert business_days_between(Date(2024, 3, 1), Date(2024, 3, 11)) == 6


def test_business_days_between_whole_year():
    """2024 has 262 weekdays."""
    assert business_days_between(Date(2024, 1, 1), Date(2025, 1, 1)) == 262


def test_business_days_between_from_weekend():
    """A range holding only a weekend has none; an empty range has none."""
    assert business_days_between(Date(2024, 3, 2), Date(2024, 3, 4)) == 0
    assert business_days_between(Date(2024, 3, 5), Date(2024, 3, 5)) == 0


def test_business_days_between_holidays():
    """A weekday holiday inside the range is not counted; weekend or outside ones change
    nothing; a repeated holiday counts once."""
    start, end = Date(2024, 3, 1), Date(2024, 3, 11)
    assert business_days_between(start, end, [Date(2024, 3, 5)]) == 5
    assert business_days_between(start, end, [Date(2024, 3, 5), Date(2024, 3, 5)]) == 5
    assert business_days_between(start, end, [Date(2024, 3, 9)]) == 6
    assert business_days_between(start, end, [Date(2024, 3, 11)]) == 6
    assert business_days_between(start, end, [Date(2024, 3, 1)]) == 5


def test_business_days_between_rejects_reversed_range():
    """The end may not be before the start."""
    with pytest.raises(ValueError):
        business_days_between(Date(2024, 3, 11), Date(2024, 3, 1))


def test_add_business_days_skips_weekend():
    """One business day after Friday 2024-03-01 is Monday 2024-03-04; five is the next
    Friday; three after Wednesday 03-06 is Monday 03-11."""
    assert add_business_days(Date(2024, 3, 1), 1) == Date(2024, 3, 4)
    assert add_business_days(Date(2024, 3, 1), 5) == Date(2024, 3, 8)
    assert add_business_days(Date(2024, 3, 6), 3) == Date(2024, 3, 11)


def test_add_business_days_skips_holidays():
    """With Monday 03-04 a holiday, one business day after Friday 03-01 is Tuesday 03-05."""
    assert add_business_days(Date(2024, 3, 1), 1, [Date(2024, 3, 4)]) == Date(2024, 3, 5)


def test_add_business_days_zero_and_negative():
    """Zero days is the start itself (even on a weekend); negative counts are rejected."""
    assert add_business_days(Date(2024, 3, 2), 0) == Date(2024, 3, 2)
    with pytest.raises(ValueError):
        add_business_days(Date(2024, 3, 2), -1)


def test_nth_weekday():
    """The 4th Thursday of November 2024 is the 28th; the 1st Monday of September 2024 the 2nd;
    the 5th Friday of November 2024 the 29th."""
    assert nth_weekday(2024, 11, 3, 4) == Date(2024, 11, 28)
    assert nth_weekday(2024, 9, 0, 1) == Date(2024, 9, 2)
    assert nth_weekday(2024, 11, 4, 5) == Date(2024, 11, 29)


def test_nth_weekday_last():
    """The last Monday of May 2024 is the 27th; the last Sunday of September 2024 the 29th;
    the last Monday of September 2024 the 30th."""
    assert nth_weekday(2024, 5, 0, -1) == Date(2024, 5, 27)
    assert nth_weekday(2024, 9, 6, -1) == Date(2024, 9, 29)
    assert nth_weekday(2024, 9, 0, -1) == Date(2024, 9, 30)


def test_nth_weekday_missing():
    """February 2023 has no 5th Monday; n=0 is invalid."""
    with pytest.raises(ValueError):
        nth_weekday(2023, 2, 0, 5)
    with pytest.raises(ValueError):
        nth_weekday(2023, 2, 0, 0)


@pytest.mark.parametrize("year, expected", [
    (2024, (3, 31)), (2025, (4, 20)), (2000, (4, 23)), (2019, (4, 21)), (1961, (4, 2)),
    (2038, (4, 25)), (2285, (3, 22)), (1818, (3, 22)),
])
def test_easter(year, expected):
    """Known Easter Sundays, including the earliest (March 22) and latest (April 25) dates."""
    assert easter(year) == Date(year, *expected)


def test_easter_is_a_sunday():
    """Easter falls on a Sunday every year."""
    assert {easter(year).weekday() for year in range(1990, 2040)} == {6}


def test_age():
    """Completed years: the birthday itself counts; the day before does not."""
    birth = Date(1990, 6, 15)
    assert age(birth, Date(2024, 6, 15)) == 34
    assert age(birth, Date(2024, 6, 14)) == 33
    assert age(birth, Date(2024, 12, 1)) == 34


def test_age_leap_day_birth():
    """Someone born on 2000-02-29 is 22 on 2023-02-28 and 23 on 2023-03-01."""
    birth = Date(2000, 2, 29)
    assert age(birth, Date(2023, 2, 28)) == 22
    assert age(birth, Date(2023, 3, 1)) == 23
