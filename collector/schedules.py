"""What the dispatcher does on its clock, besides delivering: the schedules.

Each tick it closes the rounds past their close date, queues the reminders due, follows up the
placements due and erases the volunteers past their retention period (`run_schedules`, one
transaction), then publishes the reports of one closed round whose reports are due, in two
steps: `build_due_reports` builds them (reading only: the slow part, seconds of PDF rendering)
and `store_due_reports` keeps them and queues their emails (a short write transaction). So on
SQLite no respondent waits for the write lock while a report renders.

Each step takes a session and commits nothing: the dispatcher opens the transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models, reports, rounds
from collector.models import utcnow
from collector.volunteering import erasure, followups


def run_schedules(
    session: Session,
    *,
    now: datetime | None = None,
    on_close: Callable[[Session, models.Round], object] | None = None,
) -> dict[str, int]:
    """Do what is due: queue scheduled reminders, close rounds past their close date, follow up
    placements (and remind those follow-ups), erase volunteers past their retention period.

    A round closed here has its reports due (the dispatcher publishes them next, outside this
    transaction); `on_close` is called with each round just closed, in the same transaction.
    Safe to run from several dispatchers at once: reminders dedupe
    in the outbox, and each round is changed under a row lock (PostgreSQL) or the write lock
    (SQLite).
    """
    now = now or utcnow()
    done = {"reminders": 0, "reminded": 0, "closed": 0}
    # Close first: a reminder still waiting when its round closes is never sent.
    due_rounds = session.scalars(
        select(models.Round)
        .where(models.Round.status == "open", models.Round.closes_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    for round_ in due_rounds:
        rounds.close_round(session, round_, now=now)
        done["closed"] += 1
        if on_close is not None:
            on_close(session, round_)
    due_reminders = session.scalars(
        select(models.RoundReminder)
        .join(models.Round)
        .where(
            models.RoundReminder.queued_at.is_(None),
            models.RoundReminder.due_at <= now,
            models.Round.status == "open",
        )
        .with_for_update(of=models.RoundReminder, skip_locked=True)
    ).all()
    for reminder in due_reminders:
        done["reminded"] += rounds.remind(session, reminder.round, reminder=reminder, now=now)
        done["reminders"] += 1
    # After closing: a follow-up due today never joins a round that has just closed.
    followed = followups.run(session, now=now)
    done["followups"] = followed.placements
    done["followup_messages"] = followed.queued + followed.reminders
    done["erased"] = erasure.sweep(session, now=now)
    return done


# Reports due ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReports:
    """A closed round's reports, built and waiting to be stored (`store` does it, or raises
    what building raised)."""

    round_id: int
    store: reports.PublishHook


def build_due_reports(
    session: Session, publish: reports.PublishHook, *, limit: int = 1
) -> list[DueReports]:
    """Build the reports of closed rounds whose reports are due (oldest first, at most `limit`
    rounds), storing nothing: run it in a session that only reads, with no lock held.

    A two-step hook (`reports.TwoStepPublish`) builds here; any other hook does all its work
    when stored.
    """
    rnd = models.Round
    due = session.scalars(
        select(rnd)
        .where(rnd.status == "closed", rnd.reports_due_at.is_not(None))
        .order_by(rnd.reports_due_at, rnd.id)
        .limit(limit)
    ).all()
    return [build_round_reports(session, round_, publish) for round_ in due]


def build_round_reports(
    session: Session, round_: models.Round, publish: reports.PublishHook
) -> DueReports:
    """Build one closed round's due reports, storing nothing (as `build_due_reports`): for
    a command that closes a round and publishes its reports at once."""
    return DueReports(round_.id, reports.prepare(session, round_, publish))


def store_due_reports(
    session: Session, built: DueReports, *, actor: str
) -> reports.PublishOutcome | None:
    """Keep a round's built reports and queue their emails, if they are still due; give what
    happened (None when they no longer are, or another dispatcher is storing them).

    As `reports.publish_due`: in the name of whoever closed the round (else `actor`), and the
    reports stop being due whatever the outcome. Two dispatchers that built the same round's
    reports store them once: the round is locked, and its reports are no longer due after.
    """
    rnd = models.Round
    round_ = session.scalar(
        select(rnd)
        .where(rnd.id == built.round_id, rnd.status == "closed", rnd.reports_due_at.is_not(None))
        .with_for_update(skip_locked=True)
    )
    if round_ is None:
        return None
    return reports.publish_due_round(session, round_, built.store, actor=actor)
