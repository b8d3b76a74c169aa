"""Rate limits counted in SQL: shared by every worker, per client, per fixed window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import models
from collector.delivery import ratelimits

LIMIT = ratelimits.Limit("bad_link", limit=3, window=timedelta(minutes=10))
NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_a_client_is_limited_after_its_allowance_in_a_window(session: Session) -> None:
    for n in range(3):
        assert not ratelimits.exceeded(session, LIMIT, "client-a", now=NOON)
        ratelimits.hit(session, LIMIT, "client-a", now=NOON + timedelta(seconds=n))

    assert ratelimits.exceeded(session, LIMIT, "client-a", now=NOON + timedelta(minutes=9))
    assert not ratelimits.exceeded(session, LIMIT, "client-b", now=NOON)
    assert ratelimits.count(session, LIMIT, "client-a", now=NOON) == 3


def test_the_count_starts_again_in_the_next_window(session: Session) -> None:
    for _ in range(3):
        ratelimits.hit(session, LIMIT, "client-a", now=NOON)

    assert not ratelimits.exceeded(session, LIMIT, "client-a", now=NOON + timedelta(minutes=10))
    assert LIMIT.retry_after(NOON + timedelta(minutes=4)) == 6 * 60 + 1


def test_buckets_are_counted_apart(session: Session) -> None:
    other = ratelimits.Limit("open_start", limit=1, window=timedelta(minutes=10))
    ratelimits.hit(session, other, "client-a", now=NOON)
    assert ratelimits.exceeded(session, other, "client-a", now=NOON)
    assert not ratelimits.exceeded(session, LIMIT, "client-a", now=NOON)


def test_old_counts_are_deleted_as_new_ones_are_written(session: Session) -> None:
    ratelimits.hit(session, LIMIT, "client-a", now=NOON - timedelta(days=2))
    ratelimits.hit(session, LIMIT, "client-b", now=NOON)

    rows = session.scalar(select(func.count()).select_from(models.RateCount))
    assert rows == 1


def test_windows_are_the_same_in_every_process(session: Session) -> None:
    # Aligned to a fixed epoch, not to the first hit: two workers agree on the window.
    assert LIMIT.window_start(NOON + timedelta(minutes=7)) == NOON
