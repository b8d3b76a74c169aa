"""Rate limits: what one client may do how often, counted in SQL.

The counts live in the database, not in a process, so every web worker on every host shares
them. Windows are fixed (aligned to the epoch): a client can get up to twice the limit across
a window boundary, which is fine for slowing down guessing and flooding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from collector import models
from collector.db import upsert
from collector.models import utcnow

# Counts older than this are deleted as new ones are written.
KEEP = timedelta(days=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Limit:
    """At most `limit` events of kind `bucket` per client in each `window`."""

    bucket: str
    limit: int
    window: timedelta

    def window_start(self, now: datetime) -> datetime:
        """Give the start of the window that `now` falls in."""
        return now - (now - _EPOCH) % self.window

    def retry_after(self, now: datetime) -> int:
        """Give the seconds until the current window ends."""
        return max(1, int((self.window_start(now) + self.window - now).total_seconds()) + 1)


def count(session: Session, limit: Limit, client: str, *, now: datetime | None = None) -> int:
    """Give how many events the client has had in the current window."""
    now = now or utcnow()
    found = session.scalar(
        select(models.RateCount.count).where(
            models.RateCount.bucket == limit.bucket,
            models.RateCount.client == client,
            models.RateCount.window_start == limit.window_start(now),
        )
    )
    return int(found or 0)


def exceeded(session: Session, limit: Limit, client: str, *, now: datetime | None = None) -> bool:
    """Tell whether the client has used up its limit in the current window."""
    return count(session, limit, client, now=now) >= limit.limit


def hit(session: Session, limit: Limit, client: str, *, now: datetime | None = None) -> None:
    """Count one event for the client in the current window."""
    now = now or utcnow()
    upsert(
        session,
        models.RateCount,
        {
            "bucket": limit.bucket,
            "client": client,
            "window_start": limit.window_start(now),
            "count": 1,
        },
        ["bucket", "client", "window_start"],
        update={"count": models.RateCount.count + 1},
    )
    session.execute(delete(models.RateCount).where(models.RateCount.window_start < now - KEEP))
