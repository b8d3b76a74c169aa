"""Funder reports on the collector's side: staff narratives, published snapshots, their emails.

Building a report is analysis's work (`analysis.publish`); the collector stores what staff wrote
about each KPI, keeps each published report as a snapshot (its data, PDF and workbook, frozen)
and queues one email per funder of the provider in the same transaction. Closing a round makes
its reports due, and the dispatcher publishes them in the background (`collector.schedules`,
about 9 s a round, never in a web request) through a hook that the composition root passes in
(the collector imports no analysis): `publish_after_close` runs it in a savepoint, so that a
report that cannot be built never undoes the close. A two-step hook (`TwoStepPublish`) lets the
dispatcher build the reports in a session that only reads (`prepare`) and keep them in a short
write transaction after, so that on SQLite nobody waits for the write lock while a PDF renders.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer

from collector import audit, models
from collector.delivery import outbox, webhooks
from collector.delivery.outbox import Outgoing
from collector.errors import CollectorError, NotFound
from collector.models import utcnow

log = logging.getLogger(__name__)

TEMPLATE = "report"
NARRATIVE_MAX = 4000
PDF_TYPE = "application/pdf"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Where the link to the report goes in the short message stored with each email: the
# mailer puts the link there when it sends, from its own BASE_URL (as invitation links are).
LINK_SLOT = "[[report link]]"


class ReportError(CollectorError):
    """A report cannot be published or annotated as asked."""

    code = "bad_report"


class NothingToPublish(ReportError):
    """A round has no report to publish (no framework reads its survey, or no answers)."""

    code = "nothing_to_publish"


# Narratives -----------------------------------------------------------------------------------


def narratives(session: Session, round_id: int, framework: str) -> dict[str, str]:
    """Give what staff wrote about each KPI of a framework for a round (kpi id -> text)."""
    rows = session.scalars(
        select(models.KpiNarrative)
        .where(models.KpiNarrative.round_id == round_id, models.KpiNarrative.framework == framework)
        .order_by(models.KpiNarrative.kpi_id)
    )
    return {row.kpi_id: row.text for row in rows}


def set_narrative(
    session: Session,
    round_: models.Round,
    framework: str,
    kpi_id: str,
    text: str,
    user: models.User | None = None,
) -> models.KpiNarrative | None:
    """Save what staff wrote about one KPI's result (trimmed); empty text deletes it.

    Give the saved narrative, or None when it was deleted (or there was none to delete).
    """
    if not framework.strip() or not kpi_id.strip():
        raise ReportError("Say which framework and KPI the narrative is about")
    # Line endings from a browser's textarea are \r\n: stored as \n, so length is counted once.
    text = text.replace("\r\n", "\n").strip()
    if len(text) > NARRATIVE_MAX:
        raise ReportError(
            f"The narrative is {len(text):,} characters long: keep it to {NARRATIVE_MAX:,}"
        )
    row = session.scalar(
        select(models.KpiNarrative).where(
            models.KpiNarrative.round_id == round_.id,
            models.KpiNarrative.framework == framework,
            models.KpiNarrative.kpi_id == kpi_id,
        )
    )
    if not text:
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    if row is None:
        row = models.KpiNarrative(round_id=round_.id, framework=framework, kpi_id=kpi_id, text="")
        session.add(row)
    row.text = text
    row.updated_by_id = user.id if user is not None else None
    row.updated_at = utcnow()
    session.flush()
    return row


# Snapshots ------------------------------------------------------------------------------------


def funders(session: Session, provider_id: int) -> list[models.User]:
    """List the active funder accounts that fund a provider."""
    user, link = models.User, models.FunderProvider
    return list(
        session.scalars(
            select(user)
            .join(link, link.user_id == user.id)
            .where(link.provider_id == provider_id, user.role == "funder", user.active.is_(True))
            .order_by(user.id)
        )
    )


def report_path(provider_slug: str, snapshot_id: int) -> str:
    """Give the path of a published report's page (below BASE_URL)."""
    return f"/funder/{provider_slug}/reports/{snapshot_id}"


def save_snapshot(
    session: Session,
    *,
    round_: models.Round,
    framework: str,
    title: str,
    data: Mapping[str, Any],
    pdf: bytes | None,
    xlsx: bytes | None,
    published_by: str,
    message: str = "",
) -> models.ReportSnapshot:
    """Keep a published report, and queue its email to each active funder of the provider.

    `message` is the email's short text, with LINK_SLOT where the link to the report goes.
    """
    previous = latest_snapshot(session, round_.id, framework)
    snapshot = models.ReportSnapshot(
        provider_id=round_.provider_id,
        round_id=round_.id,
        framework=framework,
        title=title[:300],
        data=dict(data),
        pdf=pdf,
        xlsx=xlsx,
        published_at=utcnow(),
        published_by=published_by[:254],
    )
    session.add(snapshot)
    session.flush()
    queue_emails(session, snapshot, message=message, replaces=previous.id if previous else None)
    round_ = snapshot.round
    webhooks.emit(
        session,
        "report.published",
        provider_id=snapshot.provider_id,
        subject=f"report-{snapshot.id}",
        payload={
            "report": {
                "id": snapshot.id,
                "round_id": snapshot.round_id,
                "provider": round_.provider.slug,
                "period": round_.period_label,
                "framework": snapshot.framework,
                "title": snapshot.title,
                "path": report_path(round_.provider.slug, snapshot.id),
                "replaces": previous.id if previous else None,
            }
        },
    )
    return snapshot


def queue_emails(
    session: Session,
    snapshot: models.ReportSnapshot,
    *,
    message: str = "",
    replaces: int | None = None,
) -> int:
    """Queue a snapshot's email to each active funder of its provider; give how many were new.

    Queueing again sends nobody a second copy (one dedupe key per snapshot and funder).
    """
    round_ = snapshot.round
    provider = round_.provider
    queued = 0
    for user in funders(session, snapshot.provider_id):
        queued += outbox.enqueue(
            session,
            dedupe_key=f"report:{snapshot.id}:{user.id}",
            channel="email",
            recipient=user.email,
            template=TEMPLATE,
            data={
                "snapshot_id": snapshot.id,
                "title": snapshot.title,
                "provider": provider.name,
                "provider_slug": provider.slug,
                "period": round_.period_label,
                "framework": snapshot.framework,
                "framework_title": _framework_title(snapshot),
                "path": report_path(provider.slug, snapshot.id),
                "message": message,
                "user_id": user.id,
                "replaces": replaces,
            },
            provider_id=snapshot.provider_id,
        )
    return queued


def _framework_title(snapshot: models.ReportSnapshot) -> str:
    framework = (snapshot.data or {}).get("framework")
    if isinstance(framework, Mapping) and framework.get("title"):
        return str(framework["title"])
    return snapshot.framework


def emails_queued(session: Session, snapshot_id: int) -> int:
    """Count the emails queued for a snapshot (one per funder that had an account then)."""
    message = models.OutboxMessage
    return int(
        session.scalar(
            select(func.count(message.id)).where(
                message.dedupe_key.startswith(f"report:{snapshot_id}:")
            )
        )
        or 0
    )


def latest_snapshot(
    session: Session, round_id: int, framework: str
) -> models.ReportSnapshot | None:
    """Give the newest snapshot of a round's report for a framework, if it was published."""
    return session.scalar(
        select(models.ReportSnapshot)
        .where(
            models.ReportSnapshot.round_id == round_id,
            models.ReportSnapshot.framework == framework,
        )
        .order_by(models.ReportSnapshot.id.desc())
        .limit(1)
    )


def snapshots(session: Session, provider_id: int | None = None) -> list[models.ReportSnapshot]:
    """List published snapshots, newest first: one provider's, or every provider's."""
    snapshot_ = models.ReportSnapshot
    # The files stay in the database until one is asked for: a list needs none of them.
    query = (
        select(snapshot_)
        .options(defer(snapshot_.pdf), defer(snapshot_.xlsx))
        .order_by(snapshot_.published_at.desc(), snapshot_.id.desc())
    )
    if provider_id is not None:
        query = query.where(models.ReportSnapshot.provider_id == provider_id)
    return list(session.scalars(query))


def snapshot(session: Session, snapshot_id: int) -> models.ReportSnapshot:
    """Give a published snapshot, or raise NotFound."""
    found = session.get(models.ReportSnapshot, snapshot_id)
    if found is None:
        raise NotFound(f"No published report {snapshot_id}")
    return found


# Attachments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A file to attach to an email."""

    filename: str
    content_type: str
    content: bytes

    @property
    def maintype(self) -> str:
        """Give the MIME type's first part (application)."""
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        """Give the MIME type's second part (pdf)."""
        return self.content_type.partition("/")[2]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "report"


def file_stem(snapshot: models.ReportSnapshot) -> str:
    """Give a snapshot's file name without extension: provider-period-framework."""
    return "-".join(
        _slug(part)
        for part in (snapshot.provider.slug, snapshot.round.period_label, snapshot.framework)
    )


def attachments(snapshot: models.ReportSnapshot) -> list[Attachment]:
    """Give the stored PDF and workbook of a snapshot as attachments (those it has)."""
    stem = file_stem(snapshot)
    found = []
    if snapshot.pdf:
        found.append(Attachment(f"{stem}.pdf", PDF_TYPE, bytes(snapshot.pdf)))
    if snapshot.xlsx:
        found.append(Attachment(f"{stem}.xlsx", XLSX_TYPE, bytes(snapshot.xlsx)))
    return found


def still_wanted(session: Session, message: Outgoing) -> tuple[str | None, str]:
    """Check a report email before it is sent: give why it is no longer wanted (or None), and
    the address to send it to now (the funder's current one)."""
    user_id = message.data.get("user_id")
    user = session.get(models.User, user_id) if isinstance(user_id, int) else None
    if user is None:
        return "The funder's account was removed", message.recipient
    if not user.active or user.role != "funder":
        return "The account is no longer an active funder", message.recipient
    if message.provider_id not in {p.id for p in user.funded}:
        return "The account no longer funds this provider", message.recipient
    snapshot_id = message.data.get("snapshot_id")
    kept = session.scalar(
        select(models.ReportSnapshot.id).where(models.ReportSnapshot.id == snapshot_id)
    )
    if kept is None:
        return "The report was removed", message.recipient
    return None, user.email


# Publishing when a round closes ---------------------------------------------------------------

# What the composition root passes in: analysis.publish.publish with `published_by` bound, or
# a TwoStepPublish (analysis.publish.publisher), which the dispatcher builds outside its writes.
PublishHook = Callable[[Session, models.Round], Sequence[models.ReportSnapshot]]


@dataclass(frozen=True)
class BuiltReport:
    """One framework's report of a round, built, frozen and rendered, not yet kept."""

    framework: str
    title: str
    data: Mapping[str, Any]
    pdf: bytes | None
    xlsx: bytes | None
    message: str = ""  # the email's short text, with LINK_SLOT where the link goes


# Builds a closed round's reports, reading only (raising NothingToPublish when there are none).
BuildHook = Callable[[Session, models.Round], Sequence[BuiltReport]]


@dataclass(frozen=True)
class TwoStepPublish:
    """A publish hook in two steps: `build` (reading only: the seconds of rendering), then
    keeping what it built (a short write). Called as a PublishHook, it does both at once."""

    build: BuildHook
    published_by: str

    def __call__(self, session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        """Build a round's reports and keep them, in the caller's transaction."""
        return store_built(session, round_, self.build(session, round_), self.published_by)


def store_built(
    session: Session, round_: models.Round, built: Sequence[BuiltReport], published_by: str
) -> list[models.ReportSnapshot]:
    """Keep built reports as snapshots, each queueing its email to the provider's funders."""
    return [
        save_snapshot(
            session,
            round_=round_,
            framework=report.framework,
            title=report.title,
            data=report.data,
            pdf=report.pdf,
            xlsx=report.xlsx,
            published_by=published_by,
            message=report.message,
        )
        for report in built
    ]


def prepare(session: Session, round_: models.Round, publish: PublishHook) -> PublishHook:
    """Do the reading part of publishing a closed round's reports now; give the hook that
    finishes it in a write transaction later (through `publish_after_close`).

    A TwoStepPublish builds here (and what it raises is raised again when the hook runs, so
    it is logged and noted as if raised there); any other hook is given back to do it all.
    Nothing is built for a follow-up round whose period's other round is still open.
    """
    if not isinstance(publish, TwoStepPublish):
        return publish
    waiting = _open_rolling_sibling(session, round_)
    if waiting is not None:
        return _raising(NothingToPublish(_waiting_for(waiting)))
    try:
        built = list(publish.build(session, round_))
    except Exception as error:  # noqa: BLE001 - raised again where a failure is handled
        return _raising(error)

    def store(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        return store_built(session, round_, built, publish.published_by)

    return store


def _raising(error: Exception) -> PublishHook:
    def hook(_session: Session, _round: models.Round) -> list[models.ReportSnapshot]:
        raise error

    return hook


@dataclass
class PublishOutcome:
    """What publishing a round's reports did: the snapshots, or why there were none."""

    round_id: int
    snapshots: list[models.ReportSnapshot] = field(default_factory=list)
    links: list[tuple[int, str]] = field(default_factory=list)  # (snapshot id, page path)
    emails: int = 0
    nothing: str | None = None  # why there was nothing to publish (not an error)
    error: str | None = None  # why publishing failed (the close stands)

    def describe(self) -> str:
        """Say in a sentence what happened, for staff."""
        if self.error is not None:
            return (
                f"The report could not be published: {self.error}. Publish it again once "
                "that is fixed."
            )
        if self.nothing is not None:
            return f"No report was published: {self.nothing}."
        count = len(self.snapshots)
        what = f"Published {count} report{'s' if count != 1 else ''}"
        if self.emails:
            return (
                f"{what}; {self.emails} email{'s' if self.emails != 1 else ''} to funders queued."
            )
        return f"{what}; no funder of this provider has an account, so nobody was emailed."


def publish_after_close(
    session: Session,
    round_: models.Round,
    publish: PublishHook,
    *,
    user: models.User | None = None,
    actor: str | None = None,
) -> PublishOutcome:
    """Publish a just-closed round's reports in a savepoint; a failure leaves the close alone.

    Logged with its traceback when publishing fails, audited when it succeeds; the outcome
    says what happened, and the round keeps it as its note (its reports are no longer due).
    """
    outcome = _publish_after_close(session, round_, publish, user=user, actor=actor)
    round_.reports_due_at = None
    round_.reports_due_by = None
    round_.reports_note = outcome.describe()[:500]
    session.flush()
    return outcome


def _publish_after_close(
    session: Session,
    round_: models.Round,
    publish: PublishHook,
    *,
    user: models.User | None,
    actor: str | None,
) -> PublishOutcome:
    outcome = PublishOutcome(round_id=round_.id)
    waiting = _open_rolling_sibling(session, round_)
    if waiting is not None:
        # The period's follow-up rounds (volunteers', hosts') close together and feed the same
        # report: the last to close publishes it, so funders get one report, not two.
        outcome.nothing = _waiting_for(waiting)
        return outcome
    try:
        with session.begin_nested():
            outcome.snapshots = list(publish(session, round_))
    except NothingToPublish as error:
        outcome.nothing = error.message
        return outcome
    except CollectorError as error:
        log.warning(
            "round %d closed, but its report was not published: %s",
            round_.id,
            error,
            exc_info=True,
        )
        outcome.error = error.message
        return outcome
    except Exception as error:  # noqa: BLE001 - a report must never stop a round closing
        log.exception("round %d closed, but its report could not be published", round_.id)
        outcome.error = f"{type(error).__name__}: {error}"
        return outcome
    outcome.emails = sum(emails_queued(session, s.id) for s in outcome.snapshots)
    outcome.links = [(s.id, report_path(round_.provider.slug, s.id)) for s in outcome.snapshots]
    record_publication(session, round_, outcome.snapshots, user=user, actor=actor, on="close")
    return outcome


def _waiting_for(sibling: models.Round) -> str:
    return (
        f"the period's other follow-up round ({sibling.survey.title}, round {sibling.id}) "
        "is still open; the report is published when it closes"
    )


def publish_due(
    session: Session,
    publish: PublishHook,
    *,
    actor: str,
    limit: int = 1,
) -> list[PublishOutcome]:
    """Publish the reports of closed rounds whose reports are due (oldest first, at most
    `limit` rounds): the background step after a close, run by the dispatcher.

    Each is published in the name of whoever closed its round (else `actor`), and stops being
    due whatever the outcome, which the round keeps as its note. Safe to run from several
    dispatchers at once: a round being published is locked (PostgreSQL) and skipped by others.
    """
    rnd = models.Round
    due = session.scalars(
        select(rnd)
        .where(rnd.status == "closed", rnd.reports_due_at.is_not(None))
        .order_by(rnd.reports_due_at, rnd.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [publish_due_round(session, round_, publish, actor=actor) for round_ in due]


def publish_due_round(
    session: Session, round_: models.Round, publish: PublishHook, *, actor: str
) -> PublishOutcome:
    """Publish one closed round's due reports in the name of whoever closed it (else `actor`);
    they stop being due whatever the outcome."""
    who = round_.reports_due_by or actor
    outcome = publish_after_close(session, round_, publish, actor=who)
    for made in outcome.snapshots:
        made.published_by = who[:254]
    return outcome


def reports_due(session: Session) -> int:
    """Count the closed rounds whose reports wait to be published in the background."""
    rnd = models.Round
    return int(
        session.scalar(
            select(func.count(rnd.id)).where(
                rnd.status == "closed", rnd.reports_due_at.is_not(None)
            )
        )
        or 0
    )


def _open_rolling_sibling(session: Session, round_: models.Round) -> models.Round | None:
    """Give another open follow-up round of the same provider and period that will publish
    the period's report after this one: one closing later, or (closing together) the one with
    the higher id. Dispatchers closing two such rounds at once thus agree on who publishes."""
    if round_.kind != "rolling":
        return None
    rnd = models.Round
    return session.scalar(
        select(rnd)
        .where(
            rnd.provider_id == round_.provider_id,
            rnd.period_label == round_.period_label,
            rnd.kind == "rolling",
            rnd.status == "open",
            rnd.id != round_.id,
            or_(rnd.closes_at > round_.closes_at, rnd.id > round_.id),
        )
        .order_by(rnd.id)
        .limit(1)
    )


def record_publication(
    session: Session,
    round_: models.Round,
    published: Sequence[models.ReportSnapshot],
    *,
    user: models.User | None = None,
    actor: str | None = None,
    on: str = "request",
) -> models.AuditEvent:
    """Add the audit event of reports published for a round; they are no longer due."""
    if round_.reports_due_at is not None and published:
        # Published by hand before the background got to it: not published twice.
        round_.reports_due_at = None
        round_.reports_due_by = None
        round_.reports_note = PublishOutcome(
            round_.id,
            snapshots=list(published),
            emails=sum(emails_queued(session, s.id) for s in published),
        ).describe()[:500]
    return audit.record(
        session,
        "report.publish",
        user=user,
        actor=actor,
        provider_id=round_.provider_id,
        subject=f"round {round_.id} ({round_.period_label})",
        details={
            "snapshots": [s.id for s in published],
            "frameworks": [s.framework for s in published],
            "emails": sum(emails_queued(session, s.id) for s in published),
            "on": on,
        },
    )
