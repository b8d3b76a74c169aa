"""Dates as the people using tempcheck read them: UK time, whatever the server's zone.

Times are stored in UTC. A round's dates are whole UK days: it opens at the start of its open
date and closes at the end of its close date, in London time (GMT or BST).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
DAY_STARTS = time(0, 0)
DAY_ENDS = time(23, 59)


def day_starts(day: date) -> datetime:
    """Give the moment (UTC) a UK day starts: when a round opening that day opens."""
    return datetime.combine(day, DAY_STARTS, tzinfo=LONDON).astimezone(UTC)


def day_ends(day: date) -> datetime:
    """Give the moment (UTC) a UK day ends: when a round closing that day closes."""
    return datetime.combine(day, DAY_ENDS, tzinfo=LONDON).astimezone(UTC)


def uk(moment: datetime) -> datetime:
    """Give a stored UTC moment in UK time."""
    return moment.astimezone(LONDON)


def long_date(moment: datetime) -> str:
    """Show a moment's UK date as 3 March 2026 (the GOV.UK style)."""
    return f"{uk(moment):%-d %B %Y}"


def short_date(moment: datetime) -> str:
    """Show a moment's UK date briefly, for tables: 3 Mar 2026."""
    return f"{uk(moment):%-d %b %Y}"


def date_time(moment: datetime) -> str:
    """Show a moment in UK time: 3 Mar 2026, 14:05."""
    return f"{uk(moment):%-d %b %Y, %H:%M}"
