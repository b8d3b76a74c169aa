"""Reporting periods as dates: what "the period" of a report means for record-based KPIs.

Survey KPIs read the responses of a round; record-based KPIs (VAL 25 enquiries, VAL 26
placements against enquiries) count the records dated in the report's period. The period is
found, in this order:

1. the provider's rolling (follow-up) round with the report's period label: it opens on the
   period's first day and closes on its last (UK days). A provider's periods never overlap:
   when its next rolling period starts on (or before) the day this one's round closes, this
   period ends the day before, so a record dated on the boundary counts in the later period
   only (:func:`until_next`);
2. the label itself, read as a UK financial year (1 April to 31 March): ``2025/26`` the whole
   year, ``2025/26 H1`` April to September, ``2025/26 H2`` October to March, ``2025/26 Q1`` to
   ``Q4`` the quarters;
3. otherwise the 365 days up to the anchor round's close (as KPI x's window).

The previous period is the one before with the same kind of label (H2 before it H1, H1 the
previous year's H2), else the same number of days just before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from collector.localtime import uk

__all__ = ["Period", "parse_period", "period_from_dates", "previous_period", "until_next"]

_LABEL = re.compile(r"(?P<year>\d{4})/(?P<next>\d{2})(?:\s+(?P<part>H[12]|Q[1-4]))?")


@dataclass(frozen=True)
class Period:
    """A reporting period: a label and its first and last days (inclusive, UK dates)."""

    label: str
    start: date
    end: date

    @property
    def days(self) -> int:
        """Give the number of days in the period."""
        return (self.end - self.start).days + 1

    def describe(self) -> str:
        """Give the period as words: '2025/26 H1 (1 Apr 2025 to 30 Sep 2025)'."""
        return f"{self.label} ({_day(self.start)} to {_day(self.end)})"


def _day(day: date) -> str:
    return f"{day:%-d %b %Y}"


def _months(year: int, first: int, count: int) -> tuple[date, date]:
    """Give the first and last day of `count` months from month `first` of `year`."""
    start = date(year + (first - 1) // 12, (first - 1) % 12 + 1, 1)
    after = first + count
    following = date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
    return start, following - timedelta(days=1)


def parse_period(label: str) -> Period | None:
    """Read a UK financial-year label ('2025/26', '2025/26 H2', '2025/26 Q3'); None if not."""
    match = _LABEL.fullmatch(label.strip())
    if match is None:
        return None
    year = int(match["year"])
    if (year + 1) % 100 != int(match["next"]):
        return None
    part = match["part"]
    if part is None:
        first, count = 4, 12
    elif part[0] == "H":
        first, count = 4 + 6 * (int(part[1]) - 1), 6
    else:
        first, count = 4 + 3 * (int(part[1]) - 1), 3
    start, end = _months(year, first, count)
    return Period(label.strip(), start, end)


def period_from_dates(label: str, opens_at: datetime, closes_at: datetime) -> Period:
    """Give the period a round covers: its open and close days in UK time."""
    return Period(label, uk(opens_at).date(), uk(closes_at).date())


def until_next(period: Period, next_starts: Iterable[date]) -> Period:
    """End a period the day before the next period starts, when that is before its own end.

    `next_starts` are the first days of the provider's other periods; those starting after this
    one's first day are the ones that follow it. Consecutive rounds share their boundary day
    (one closes on the day the next opens): the day belongs to the period that starts on it.
    """
    later = [day for day in next_starts if day > period.start]
    if not later or min(later) > period.end:
        return period
    return Period(period.label, period.start, min(later) - timedelta(days=1))


def previous_period(period: Period) -> Period:
    """Give the period before: by its label when it is a financial-year one, else by length."""
    parsed = parse_period(period.label)
    if parsed is not None and (parsed.start, parsed.end) == (period.start, period.end):
        match = _LABEL.fullmatch(parsed.label)
        assert match is not None
        year, part = int(match["year"]), match["part"]
        if part is None:
            label = f"{year - 1}/{year % 100:02d}"
        else:
            number, last = int(part[1]), 2 if part[0] == "H" else 4
            if number == 1:
                label = f"{year - 1}/{year % 100:02d} {part[0]}{last}"
            else:
                label = f"{year}/{(year + 1) % 100:02d} {part[0]}{number - 1}"
        before = parse_period(label)
        assert before is not None
        return before
    end = period.start - timedelta(days=1)
    start = end - timedelta(days=period.days - 1)
    return Period(f"{_day(start)} to {_day(end)}", start, end)
