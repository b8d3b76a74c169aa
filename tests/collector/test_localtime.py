from __future__ import annotations

from datetime import UTC, date, datetime

from collector import localtime


def test_a_summer_day_starts_at_23_00_utc_the_day_before_and_shows_as_its_own_date() -> None:
    starts = localtime.day_starts(date(2026, 7, 1))
    assert starts == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert localtime.long_date(starts) == "1 July 2026"
    assert localtime.day_ends(date(2026, 7, 1)) == datetime(2026, 7, 1, 22, 59, tzinfo=UTC)


def test_a_winter_day_is_utc() -> None:
    assert localtime.day_starts(date(2026, 12, 1)) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    moment = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
    assert localtime.short_date(moment) == "1 Dec 2026"
    assert localtime.date_time(moment) == "1 Dec 2026, 14:05"
