"""collector.reports: narratives, snapshots and their funder emails (one each, deduplicated),
report emails as the mailer renders them, and publishing when a round closes (by hand or by the
dispatcher), where a report that fails never undoes the close. No analysis here: the publish
hook is a stand-in, as the composition root would pass analysis.publish.publish."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import models, reports, rounds, schedules, users
from collector.config import Settings
from collector.delivery import mailer
from collector.delivery.dispatcher import Dispatcher, still_wanted
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.errors import NotFound
from collector.models import utcnow
from collector.reports import LINK_SLOT, NARRATIVE_MAX, ReportError
from tests.collector.mail_helpers import Recorder
from tests.factories import make_provider, make_round

PDF = b"%PDF-1.7 pretend report"
XLSX = b"PK\x03\x04 pretend workbook"
DATA = {"framework": {"id": "essex-2017", "title": "Essex CVS support"}, "kpis": [{"n": 12}]}
PASSWORD = "a long enough password 1"


def closed_round(session: Session, **overrides: Any) -> models.Round:
    """Add a provider and a closed round of it."""
    provider = overrides.pop("provider", None) or make_provider(
        session, slug="brentwood-cvs", name="Brentwood CVS"
    )
    round_ = make_round(session, provider, **overrides)
    round_.status = "closed"
    round_.closed_at = utcnow()
    session.flush()
    return round_


def funder(
    session: Session, email: str, funded: Sequence[models.Provider], *, active: bool = True
) -> models.User:
    user = users.create_user(
        session, email=email, name=email, password=PASSWORD, role="funder", funded=funded
    )
    user.active = active
    session.flush()
    return user


def snapshot(session: Session, round_: models.Round, **overrides: Any) -> models.ReportSnapshot:
    values: dict[str, Any] = {
        "round_": round_,
        "framework": "essex-2017",
        "title": f"{round_.provider.name}: Essex CVS support, {round_.period_label}",
        "data": DATA,
        "pdf": PDF,
        "xlsx": XLSX,
        "published_by": "staff@brentwood.example.org",
        "message": f"5 of 6 targets met.\nRead it: {LINK_SLOT}",
    }
    values.update(overrides)
    return reports.save_snapshot(session, **values)


def report_messages(session: Session) -> list[models.OutboxMessage]:
    return list(
        session.scalars(
            select(models.OutboxMessage)
            .where(models.OutboxMessage.template == "report")
            .order_by(models.OutboxMessage.id)
        )
    )


# Narratives -----------------------------------------------------------------------------------


def test_a_narrative_is_trimmed_updated_and_deleted_when_emptied(session: Session) -> None:
    round_ = closed_round(session)
    staff = users.create_user(
        session,
        email="staff@brentwood.example.org",
        name="Priya",
        password=PASSWORD,
        role="staff",
        provider=round_.provider,
    )
    saved = reports.set_narrative(session, round_, "essex-2017", "ix", "  Fewer staff.\r\n\r\n ")
    assert saved is not None and saved.text == "Fewer staff." and saved.updated_by_id is None
    reports.set_narrative(session, round_, "essex-2017", "ii", "Line one\r\nline two", staff)
    reports.set_narrative(session, round_, "leicestershire-val", "ix", "Another framework")
    assert reports.narratives(session, round_.id, "essex-2017") == {
        "ii": "Line one\nline two",
        "ix": "Fewer staff.",
    }
    updated = reports.set_narrative(session, round_, "essex-2017", "ix", "Two staff left.", staff)
    assert updated is not None and updated.id == saved.id and updated.updated_by_id == staff.id
    assert reports.set_narrative(session, round_, "essex-2017", "ix", "   \n ") is None
    assert reports.narratives(session, round_.id, "essex-2017") == {"ii": "Line one\nline two"}
    assert reports.set_narrative(session, round_, "essex-2017", "ix", "") is None  # nothing left
    assert session.scalars(select(models.KpiNarrative)).all().__len__() == 2


def test_a_narrative_longer_than_the_limit_is_refused_and_the_old_one_kept(
    session: Session,
) -> None:
    round_ = closed_round(session)
    reports.set_narrative(session, round_, "essex-2017", "ix", "Kept.")
    longest = "x" * NARRATIVE_MAX
    with pytest.raises(ReportError, match=r"4,001 characters long: keep it to 4,000"):
        reports.set_narrative(session, round_, "essex-2017", "ix", longest + "y")
    assert reports.narratives(session, round_.id, "essex-2017") == {"ix": "Kept."}
    # Surrounding spaces do not count against the limit: they are trimmed first.
    reports.set_narrative(session, round_, "essex-2017", "ix", f"  {longest}  ")
    assert reports.narratives(session, round_.id, "essex-2017") == {"ix": longest}
    with pytest.raises(ReportError, match="which framework and KPI"):
        reports.set_narrative(session, round_, "essex-2017", " ", "About nothing")


# Snapshots and their emails -------------------------------------------------------------------


def test_a_snapshot_queues_one_email_per_active_funder_of_the_provider(session: Session) -> None:
    round_ = closed_round(session)
    other = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
    first = funder(session, "first@funder.example.org", [round_.provider])
    both = funder(session, "both@funder.example.org", [other, round_.provider])
    funder(session, "gone@funder.example.org", [round_.provider], active=False)
    funder(session, "elsewhere@funder.example.org", [other])
    users.create_user(session, email="admin@example.org", name="A", password=PASSWORD, role="admin")
    users.create_user(
        session,
        email="staff@example.org",
        name="S",
        password=PASSWORD,
        role="staff",
        provider=round_.provider,
    )

    kept = snapshot(session, round_)

    assert (kept.provider_id, kept.round_id, kept.framework) == (
        round_.provider_id,
        round_.id,
        "essex-2017",
    )
    assert (kept.pdf, kept.xlsx, kept.data) == (PDF, XLSX, DATA)
    sent = report_messages(session)
    assert [(m.recipient, m.dedupe_key) for m in sent] == [
        ("first@funder.example.org", f"report:{kept.id}:{first.id}"),
        ("both@funder.example.org", f"report:{kept.id}:{both.id}"),
    ]
    message = sent[0]
    assert message.channel == "email" and message.status == "pending"
    assert message.provider_id == round_.provider_id
    # Not the round's: closing or following a round concerns its invitations, not reports.
    assert message.round_id is None and message.invitation_id is None
    assert message.data == {
        "snapshot_id": kept.id,
        "title": "Brentwood CVS: Essex CVS support, 2026/27 H1",
        "provider": "Brentwood CVS",
        "provider_slug": "brentwood-cvs",
        "period": "2026/27 H1",
        "framework": "essex-2017",
        "framework_title": "Essex CVS support",
        "path": f"/funder/brentwood-cvs/reports/{kept.id}",
        "message": f"5 of 6 targets met.\nRead it: {LINK_SLOT}",
        "user_id": first.id,
        "replaces": None,
    }
    assert reports.emails_queued(session, kept.id) == 2


def test_queueing_a_snapshot_again_emails_nobody_twice(session: Session) -> None:
    round_ = closed_round(session)
    funder(session, "first@funder.example.org", [round_.provider])
    kept = snapshot(session, round_)
    assert reports.queue_emails(session, kept) == 0
    late = funder(session, "late@funder.example.org", [round_.provider])
    assert reports.queue_emails(session, kept) == 1  # only the funder added since
    assert [m.dedupe_key for m in report_messages(session)] == [
        f"report:{kept.id}:{late.id - 1}",
        f"report:{kept.id}:{late.id}",
    ]


def test_without_a_funder_the_snapshot_is_still_kept(session: Session) -> None:
    round_ = closed_round(session)
    kept = snapshot(session, round_)
    assert reports.snapshot(session, kept.id).pdf == PDF
    assert report_messages(session) == []
    outcome = reports.PublishOutcome(round_id=round_.id, snapshots=[kept])
    assert outcome.describe() == (
        "Published 1 report; no funder of this provider has an account, so nobody was emailed."
    )


def test_publishing_again_is_a_correction_that_names_the_report_it_replaces(
    session: Session,
) -> None:
    round_ = closed_round(session)
    funder(session, "first@funder.example.org", [round_.provider])
    first = snapshot(session, round_)
    other_framework = snapshot(session, round_, framework="leicestershire-val")
    second = snapshot(session, round_)
    replaces = {m.data["snapshot_id"]: m.data["replaces"] for m in report_messages(session)}
    assert replaces == {first.id: None, other_framework.id: None, second.id: first.id}
    assert reports.latest_snapshot(session, round_.id, "essex-2017") == second


def test_snapshots_are_listed_newest_first_and_by_provider(session: Session) -> None:
    round_ = closed_round(session)
    other = closed_round(session, provider=make_provider(session, slug="harlow-cvs"))
    older = snapshot(session, round_)
    theirs = snapshot(session, other)
    newer = snapshot(session, round_)
    for days, kept in ((3, older), (2, theirs), (1, newer)):
        kept.published_at = utcnow() - timedelta(days=days)
    session.flush()
    assert reports.snapshots(session, round_.provider_id) == [newer, older]
    assert reports.snapshots(session) == [newer, theirs, older]
    assert reports.snapshot(session, theirs.id).provider_id == other.provider_id
    with pytest.raises(NotFound, match="No published report 999999"):
        reports.snapshot(session, 999_999)


def test_attachments_are_the_stored_files_with_plain_names_and_types(session: Session) -> None:
    round_ = closed_round(session)
    kept = snapshot(session, round_)
    pdf, xlsx = reports.attachments(kept)
    assert (pdf.filename, pdf.content_type, pdf.content) == (
        "brentwood-cvs-2026-27-h1-essex-2017.pdf",
        "application/pdf",
        PDF,
    )
    assert (xlsx.filename, xlsx.maintype, xlsx.subtype, xlsx.content) == (
        "brentwood-cvs-2026-27-h1-essex-2017.xlsx",
        "application",
        "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        XLSX,
    )
    no_files = snapshot(session, round_, pdf=None, xlsx=b"")
    assert reports.attachments(no_files) == []


# Just before sending --------------------------------------------------------------------------


def outgoing(message: models.OutboxMessage) -> Outgoing:
    return Outgoing(
        id=message.id,
        dedupe_key=message.dedupe_key,
        channel=message.channel,
        recipient=message.recipient,
        template=message.template,
        data=dict(message.data),
        attempts=1,
        claimed_until=utcnow() + timedelta(minutes=5),
        provider_id=message.provider_id,
    )


def test_a_report_email_goes_to_the_funder_as_they_are_when_it_is_sent(session: Session) -> None:
    round_ = closed_round(session)
    user = funder(session, "old@funder.example.org", [round_.provider])
    snapshot(session, round_)
    [message] = [outgoing(m) for m in report_messages(session)]
    assert still_wanted(session, message) == (None, "old@funder.example.org")
    user.email = "new@funder.example.org"
    session.flush()
    assert still_wanted(session, message) == (None, "new@funder.example.org")
    user.funded = [make_provider(session)]
    session.flush()
    assert still_wanted(session, message)[0] == "The account no longer funds this provider"
    user.funded = [round_.provider]
    user.active = False
    session.flush()
    assert still_wanted(session, message)[0] == "The account is no longer an active funder"
    gone = replace(message, data={**message.data, "user_id": 999_999})
    assert still_wanted(session, gone)[0] == "The funder's account was removed"


# The email ------------------------------------------------------------------------------------

SETTINGS = Settings(
    database_url="sqlite://",
    base_url="https://tempcheck.example.org/",
    mail_from="Tempcheck <reports@tempcheck.example.org>",
)


def report_outgoing(**data: Any) -> Outgoing:
    return Outgoing(
        id=3,
        dedupe_key="report:9:4",
        channel="email",
        recipient="funder@council.example.org",
        template="report",
        data={
            "snapshot_id": 9,
            "title": "Brentwood CVS: Essex CVS support, 2026/27 H1",
            "provider": "Brentwood <CVS>",
            "provider_slug": "brentwood-cvs",
            "period": "2026/27 H1",
            "framework": "essex-2017",
            "framework_title": "Essex CVS support",
            "path": "/funder/brentwood-cvs/reports/9",
            "message": f"Brentwood CVS met 5 of 6 targets.\nix: 81% (green)\n{LINK_SLOT}",
            "user_id": 4,
            "replaces": None,
            **data,
        },
        attempts=1,
        claimed_until=datetime(2030, 1, 1, tzinfo=UTC),
        provider_id=1,
    )


def test_the_report_email_has_the_message_the_link_and_both_files() -> None:
    files = [
        reports.Attachment("b-2026-27-h1-essex-2017.pdf", reports.PDF_TYPE, PDF),
        reports.Attachment("b-2026-27-h1-essex-2017.xlsx", reports.XLSX_TYPE, XLSX),
    ]
    email = mailer.render_email(SETTINGS, report_outgoing(), attachments=files)
    link = "https://tempcheck.example.org/funder/brentwood-cvs/reports/9"
    assert email["Subject"] == "Brentwood <CVS>: KPI report for 2026/27 H1 – Essex CVS support"
    assert email["To"] == "funder@council.example.org"
    assert email["List-Unsubscribe"] is None  # a funder's own account, not a mailing
    assert email["Auto-Submitted"] == "auto-generated"
    text_part, html_part = email.get_body(("plain",)), email.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    assert LINK_SLOT not in text and LINK_SLOT not in html
    assert f"ix: 81% (green)\n{link}" in text
    assert f"sign in with your funder account: {link}" in text
    assert "Brentwood <CVS> has published its KPI report for 2026/27 H1" in text
    assert "funder account for Brentwood <CVS>" in text  # why they get it
    assert f'href="{link}"' in html and "ix: 81% (green)" in html
    assert "Brentwood &lt;CVS&gt;" in html and "<CVS>" not in html
    assert "a PDF (b-2026-27-h1-essex-2017.pdf) and an Excel workbook" in text
    attached = list(email.iter_attachments())
    assert [(a.get_filename(), a.get_content_type(), a.get_content()) for a in attached] == [
        ("b-2026-27-h1-essex-2017.pdf", "application/pdf", PDF),
        ("b-2026-27-h1-essex-2017.xlsx", reports.XLSX_TYPE, XLSX),
    ]


def test_a_corrected_report_says_so() -> None:
    email = mailer.render_email(SETTINGS, report_outgoing(replaces=7))
    assert email["Subject"].startswith("Corrected: Brentwood <CVS>: KPI report")
    text_part = email.get_body(("plain",))
    assert text_part is not None and "corrected KPI report" in text_part.get_content()
    assert list(email.iter_attachments()) == []


def test_a_report_email_without_what_it_needs_fails_for_good(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(DeliveryError, match="Could not render the report email") as error:
        mailer.render_email(SETTINGS, replace(report_outgoing(), data={"snapshot_id": 9}))
    assert error.value.permanent
    transport = mailer.ConsoleTransport(SETTINGS)  # no database to read the files from
    with pytest.raises(DeliveryError, match="no database") as error:
        transport.render(report_outgoing())
    assert error.value.permanent
    with_database = mailer.ConsoleTransport(SETTINGS, sessions=session_factory)
    with pytest.raises(DeliveryError, match="no longer exists") as error:
        with_database.render(report_outgoing(snapshot_id=999_999))
    assert error.value.permanent


def test_the_transport_attaches_the_files_stored_in_the_snapshot(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        round_ = closed_round(session)
        funder(session, "funder@council.example.org", [round_.provider])
        kept = snapshot(session, round_)
        [message] = [outgoing(m) for m in report_messages(session)]
        name = reports.file_stem(kept)
    email = mailer.ConsoleTransport(SETTINGS, sessions=session_factory).render(message)
    assert [(a.get_filename(), a.get_content()) for a in email.iter_attachments()] == [
        (f"{name}.pdf", PDF),
        (f"{name}.xlsx", XLSX),
    ]


# Publishing when a round closes ---------------------------------------------------------------


def fake_publish(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
    """Stand in for analysis.publish.publish: one snapshot for the round."""
    return [snapshot(session, round_)]


def test_publishing_after_a_close_keeps_the_snapshots_and_audits(session: Session) -> None:
    round_ = closed_round(session)
    funder(session, "first@funder.example.org", [round_.provider])
    outcome = reports.publish_after_close(session, round_, fake_publish, actor="test")
    assert outcome.error is None and outcome.nothing is None and outcome.emails == 1
    [kept] = outcome.snapshots
    assert outcome.links == [(kept.id, f"/funder/brentwood-cvs/reports/{kept.id}")]
    assert outcome.describe() == "Published 1 report; 1 email to funders queued."
    event = session.scalars(
        select(models.AuditEvent).where(models.AuditEvent.action == "report.publish")
    ).one()
    assert event.actor == "test" and event.provider_id == round_.provider_id
    assert event.details == {
        "snapshots": [kept.id],
        "frameworks": ["essex-2017"],
        "emails": 1,
        "on": "close",
    }


def test_a_report_that_fails_to_publish_leaves_the_close_and_is_logged(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    round_ = closed_round(session)
    funder(session, "first@funder.example.org", [round_.provider])

    def broken(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        snapshot(session, round_)  # written, then undone with the savepoint
        raise RuntimeError("the PDF renderer fell over")

    with caplog.at_level(logging.ERROR, logger="collector.reports"):
        outcome = reports.publish_after_close(session, round_, broken)
    assert outcome.error == "RuntimeError: the PDF renderer fell over"
    assert outcome.describe().startswith(
        "The report could not be published: RuntimeError: the PDF renderer fell over."
    )
    [record] = caplog.records
    assert record.exc_info is not None and f"round {round_.id} closed" in record.getMessage()
    session.flush()
    assert session.get(models.Round, round_.id).status == "closed"  # type: ignore[union-attr]
    assert session.scalars(select(models.ReportSnapshot)).all() == []
    assert report_messages(session) == []
    assert session.scalars(select(models.AuditEvent)).all() == []


def test_closing_makes_the_reports_due_and_the_background_publishes_them_once(
    session: Session,
) -> None:
    provider = make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
    funder(session, "first@funder.example.org", [provider])
    round_ = make_round(session, provider)
    closed_at = utcnow()

    rounds.close_round(session, round_, now=closed_at, by="sam.staff@example.org")

    # Closing builds nothing: it records that the reports are due, and who asked.
    assert (round_.reports_due_at, round_.reports_due_by) == (closed_at, "sam.staff@example.org")
    assert reports.reports_due(session) == 1
    assert session.scalars(select(models.ReportSnapshot)).all() == []

    [outcome] = reports.publish_due(session, fake_publish, actor="dispatcher w1")

    [kept] = outcome.snapshots
    assert kept.published_by == "sam.staff@example.org"  # in the name of who closed it
    assert (round_.reports_due_at, round_.reports_due_by) == (None, None)
    assert round_.reports_note == "Published 1 report; 1 email to funders queued."
    event = session.scalars(
        select(models.AuditEvent).where(models.AuditEvent.action == "report.publish")
    ).one()
    assert event.actor == "sam.staff@example.org"
    # Published once: the next background step finds nothing due.
    assert reports.publish_due(session, fake_publish, actor="dispatcher w1") == []
    assert len(report_messages(session)) == 1


def test_a_due_report_that_fails_stops_being_due_and_the_round_says_why(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    round_ = make_round(session, make_provider(session))
    rounds.close_round(session, round_)

    def broken(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        raise RuntimeError("no fonts")

    with caplog.at_level(logging.ERROR, logger="collector.reports"):
        [outcome] = reports.publish_due(session, broken, actor="dispatcher w1")
    assert outcome.error == "RuntimeError: no fonts"
    assert round_.reports_due_at is None and round_.status == "closed"
    assert (round_.reports_note or "").startswith(
        "The report could not be published: RuntimeError: no fonts."
    )
    assert reports.publish_due(session, broken, actor="dispatcher w1") == []  # not retried


def test_reports_published_by_hand_before_the_background_are_not_published_again(
    session: Session,
) -> None:
    round_ = make_round(session, make_provider(session, slug="brentwood-cvs"))
    rounds.close_round(session, round_, by="sam.staff@example.org")
    reports.record_publication(session, round_, [snapshot(session, round_)], actor="cli")
    assert round_.reports_due_at is None
    assert reports.publish_due(session, fake_publish, actor="dispatcher w1") == []
    assert len(session.scalars(select(models.ReportSnapshot)).all()) == 1


def test_a_round_with_nothing_to_publish_says_so_without_an_error(session: Session) -> None:
    round_ = closed_round(session)

    def nothing(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        raise reports.NothingToPublish("no KPI framework reads the survey every-type v1")

    outcome = reports.publish_after_close(session, round_, nothing)
    assert outcome.error is None and outcome.snapshots == []
    assert outcome.describe() == (
        "No report was published: no KPI framework reads the survey every-type v1."
    )


def test_the_dispatcher_publishes_the_report_of_a_round_it_closes(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        provider = make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
        funder(session, "funder@council.example.org", [provider])
        due = make_round(session, provider)
        still_open = make_round(session, provider)
        session.execute(
            update(models.Round)
            .where(models.Round.id == due.id)
            .values(closes_at=utcnow() - timedelta(minutes=1))
        )
        due_id, open_id = due.id, still_open.id
    calls: list[int] = []

    def publish(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        calls.append(round_.id)
        assert round_.status == "closed"  # after the schedules' transaction that closed it
        return fake_publish(session, round_)

    transport = Recorder()
    fast = replace(settings, email_per_second=10_000)
    dispatcher = Dispatcher(fast, session_factory, {"email": transport}, "w1", publish=publish)
    total = dispatcher.run(until_idle=True)
    assert calls == [due_id]
    assert (total.closed, total.published) == (1, 1)
    assert "reports published 1" in total.summary()
    assert ("report", "funder@council.example.org") in transport.sent
    with session_factory() as session:
        assert session.get(models.Round, due_id).status == "closed"  # type: ignore[union-attr]
        assert session.get(models.Round, open_id).status == "open"  # type: ignore[union-attr]
        event = session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.action == "report.publish")
        ).one()
        assert event.actor == "dispatcher w1"


def test_the_dispatcher_closes_a_round_whose_report_fails(
    settings: Settings,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with session_factory() as session, session.begin():
        due = make_round(session, make_provider(session))
        session.execute(
            update(models.Round)
            .where(models.Round.id == due.id)
            .values(closes_at=utcnow() - timedelta(minutes=1))
        )
        due_id = due.id

    def broken(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        raise RuntimeError("no fonts")

    dispatcher = Dispatcher(settings, session_factory, {"email": Recorder()}, "w1", publish=broken)
    with caplog.at_level(logging.WARNING):
        report = dispatcher.tick()
    assert (report.closed, report.published) == (1, 0)
    with session_factory() as session:
        assert session.get(models.Round, due_id).status == "closed"  # type: ignore[union-attr]
    warnings = [r.getMessage() for r in caplog.records if r.name == "collector.delivery.dispatcher"]
    assert any(
        f"`tempcheck report publish --round {due_id}` tries again" in w and "no fonts" in w
        for w in warnings
    )


def test_the_period_s_follow_up_rounds_publish_one_report_when_the_last_closes(
    session: Session,
) -> None:
    provider = make_provider(session, slug="harlow-vc", name="Harlow Volunteer Centre")
    funder(session, "funder@council.example.org", [provider])
    volunteers_round, hosts_round = (
        make_round(session, provider, audience={"district": ["Nowhere"]}) for _ in range(2)
    )
    for round_ in (volunteers_round, hosts_round):
        round_.kind = "rolling"
    hosts_round.closes_at = volunteers_round.closes_at
    session.flush()
    outcomes: list[reports.PublishOutcome] = []

    def closed(session: Session, round_: models.Round) -> None:
        outcomes.append(reports.publish_after_close(session, round_, fake_publish))

    done = schedules.run_schedules(session, now=hosts_round.closes_at, on_close=closed)

    assert done["closed"] == 2
    outcomes.sort(key=lambda o: o.round_id)
    assert [(o.round_id, len(o.snapshots)) for o in outcomes] == [
        (volunteers_round.id, 0),
        (hosts_round.id, 1),
    ]
    assert f"round {hosts_round.id}) is still open" in (outcomes[0].nothing or "")
    assert len(report_messages(session)) == 1
