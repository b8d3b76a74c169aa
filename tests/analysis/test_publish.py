"""analysis.publish on SQLite and PostgreSQL: a closed round's reports built, frozen, rendered and
kept as snapshots that email the funders; a snapshot never changes when answers come later;
rounds with nothing to publish, and bad requests, say so plainly."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import openpyxl
import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.model import KpiReport
from analysis.publish import build_report, frameworks_for, publish, publisher
from collector import db, flow, models, reports, rounds, schedules, users
from collector.cli import demo
from collector.errors import NotFound
from collector.models import utcnow
from collector.reports import LINK_SLOT, NothingToPublish, ReportError
from collector.survey.model import QuestionType
from tests.factories import cvs_support, make_organisation, make_provider, make_round

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password 1"


# Answering like people do (shared with the end-to-end email test) ----------------------------


def pick(view: flow.QuestionView, positive: bool) -> str | list[str] | None:
    """Answer one question: the best answers when `positive`, middling ones otherwise."""
    values = [c.value for c in view.choices]
    if view.type == QuestionType.NOTE:
        return None
    if view.type == QuestionType.SCALE:
        return values[0] if positive else values[-2]
    if view.type == QuestionType.SINGLE:
        return "yes" if "yes" in values else values[0 if positive else -1]
    if view.type == QuestionType.MULTIPLE:
        options = [v for v in values if v != "none"]
        return options[:2] if positive else options[-1:]
    if view.type in (QuestionType.INTEGER, QuestionType.DECIMAL):
        return "3" if view.required else None
    return None if not view.required else "Fine"


def answer(session: Session, invitation: models.Invitation, positive: bool) -> None:
    """Answer an invitation's whole survey and send it."""
    when = invitation.round.opens_at + timedelta(hours=1)
    response = flow.start(session, invitation, channel="web", now=when)
    for _ in range(100):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView):
            break
        flow.answer(session, response, view.question_id, pick(view, positive), now=when)
    assert isinstance(flow.complete(session, response, now=when), flow.DoneView)


def answered_round(
    session: Session,
    *,
    groups: int = 16,
    answered: int = 12,
    provider: models.Provider | None = None,
    close: bool = True,
) -> models.Round:
    """Add a cvs-support round for `groups` groups, `answered` of them answering (3 in 4 well)."""
    provider = provider or make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
    for n in range(groups):
        make_organisation(session, provider, district=("Brentwood", "Shenfield")[n % 2])
    round_ = make_round(session, provider, cvs_support(), opens_at=utcnow() - timedelta(days=20))
    for n, invitation in enumerate(round_.invitations[:answered]):
        answer(session, invitation, positive=n % 4 != 0)
    if close:
        rounds.close_round(session, round_)
    return round_


def funder_of(session: Session, provider: models.Provider) -> models.User:
    return users.create_user(
        session,
        email="funder@council.example.org",
        name="Essex County Council",
        password=PASSWORD,
        role="funder",
        funded=[provider],
    )


def workbook_summary(data: bytes) -> dict[str, dict[str, Any]]:
    """Read the workbook's Summary sheet: its rows by KPI id (the header is on row 3)."""
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Summary"]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    header = [str(h) for h in rows[0]]
    return {str(row[0]): dict(zip(header, row, strict=True)) for row in rows[1:] if row[0]}


def pdf_text(data: bytes) -> str:
    """Give a PDF's text with its whitespace folded."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def overall(data: dict[str, Any], kpi_id: str) -> dict[str, Any]:
    """Give one KPI's overall cell from a report's data."""
    [kpi] = [k for k in data["kpis"] if k["id"] == kpi_id]
    return dict(kpi["overall"])


# Publishing ---------------------------------------------------------------------------------


def test_a_closed_round_publishes_each_framework_its_survey_feeds(session: Session) -> None:
    round_ = answered_round(session)
    funder = funder_of(session, round_.provider)
    reports.set_narrative(session, round_, "essex-2017", "ix", "Evening sessions helped.")
    progress: list[str] = []

    made = publish(session, round_, published_by="staff@example.org", progress=progress.append)

    assert [s.framework for s in made] == ["essex-2017", "leicestershire-val"]
    assert progress[0] == f"Building the essex-2017 report for round {round_.id}..."
    essex = made[0]
    assert essex.title == "Brentwood CVS: Essex CVS infrastructure support 2017/18, 2026/27 H1"
    assert (essex.round_id, essex.provider_id, essex.published_by) == (
        round_.id,
        round_.provider_id,
        "staff@example.org",
    )
    # The data is the report as built now, narratives included; it rebuilds the same report.
    live = build_report(session, round_, "essex-2017", {"ix": "Evening sessions helped."})
    assert essex.data == live.to_json()
    assert essex.data["narratives"] == {"ix": "Evening sessions helped."}
    assert KpiReport.from_json(essex.data).to_json() == essex.data
    ix = overall(essex.data, "ix")
    # Every group had support and answered both questions; 3 in 4 positively.
    assert (ix["n"], ix["numerator"], ix["suppressed"]) == (12, 9, False)
    # The files are the same report: the workbook's and the PDF's numbers are the data's.
    assert essex.pdf is not None and essex.pdf.startswith(b"%PDF")
    assert essex.xlsx is not None
    row = workbook_summary(essex.xlsx)["ix"]
    assert (row["n"], row["Meeting the definition"], row["Result"]) == (
        ix["n"],
        ix["numerator"],
        pytest.approx(ix["proportion"]),
    )
    text = pdf_text(essex.pdf)
    assert f"{round(ix['proportion'] * 100)}% {ix['n']} " in text
    assert "Evening sessions helped." in text
    # One email to the funder per report, with the short message and a slot for the link.
    sent = session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id)).all()
    queued = [m for m in sent if m.template == "report"]
    assert [(m.recipient, m.dedupe_key) for m in queued] == [
        ("funder@council.example.org", f"report:{made[0].id}:{funder.id}"),
        ("funder@council.example.org", f"report:{made[1].id}:{funder.id}"),
    ]
    message = queued[0].data["message"]
    assert message.startswith(essex.title) and message.rstrip().endswith(LINK_SLOT)
    [line] = [line for line in message.splitlines() if line.startswith(("- ix ", "- ix:"))]
    assert "75% (n=12, 95% CI " in line


def test_a_published_snapshot_does_not_change_when_answers_come_later(session: Session) -> None:
    round_ = answered_round(session, groups=20, answered=12)
    [kept] = publish(session, round_, framework="essex-2017", published_by="staff")
    snapshot_id = kept.id
    data, pdf, xlsx = kept.data, kept.pdf, kept.xlsx
    assert pdf is not None and xlsx is not None
    before = overall(data, "ix")

    # Late answers (a data correction: the round reopened for the groups that had not
    # answered), then closed again.
    round_.status = "open"
    session.flush()
    for invitation in round_.invitations[12:]:
        answer(session, invitation, positive=True)
    round_.status = "closed"
    session.flush()
    session.expire_all()

    fresh = build_report(session, round_, "essex-2017")
    assert fresh.result("ix").overall.n == before["n"] + 8  # the live report has moved on
    stored = reports.snapshot(session, snapshot_id)
    assert stored.data == data
    assert (stored.pdf, stored.xlsx) == (pdf, xlsx)
    assert workbook_summary(stored.xlsx or b"")["ix"]["n"] == before["n"]
    text = pdf_text(stored.pdf or b"")
    assert f"{round(before['proportion'] * 100)}% {before['n']} " in text
    after = fresh.result("ix").overall
    assert f"{round((after.proportion or 0) * 100)}% {after.n} " not in text
    # Publishing again is a correction: a new snapshot with the new numbers, the old one kept.
    [correction] = publish(session, round_, framework="essex-2017", published_by="staff")
    assert correction.id != snapshot_id
    assert overall(correction.data, "ix")["n"] == after.n
    assert reports.snapshot(session, snapshot_id).data == data


def test_publishing_in_the_transaction_that_closes_the_round(session: Session) -> None:
    round_ = answered_round(session, close=False)
    funder_of(session, round_.provider)
    rounds.close_round(session, round_)

    def hook(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        return publish(session, round_, framework="essex-2017", published_by="staff")

    outcome = reports.publish_after_close(session, round_, hook, actor="staff")
    assert outcome.error is None and outcome.emails == 1
    [kept] = outcome.snapshots
    assert kept.data["round"]["status"] == "closed"  # it saw the close, not yet committed
    assert outcome.describe() == "Published 1 report; 1 email to funders queued."


def test_the_dispatcher_s_two_steps_build_reading_only_then_keep_the_reports(
    session: Session,
) -> None:
    round_ = answered_round(session, close=False)
    funder_of(session, round_.provider)
    rounds.close_round(session, round_, by="staff")
    session.commit()
    read = db.make_read_sessionmaker(session.get_bind().engine)
    with read() as reading, reading.begin():
        [due] = schedules.build_due_reports(reading, publisher("dispatcher w1"))
        assert not reading.new and not reading.dirty  # built, nothing kept yet
    assert session.scalars(select(models.ReportSnapshot)).all() == []
    outcome = schedules.store_due_reports(session, due, actor="dispatcher w1")
    assert outcome is not None and outcome.error is None and outcome.emails >= 1
    assert {s.framework for s in outcome.snapshots} == {f.id for f in frameworks_for(round_)}
    for kept in outcome.snapshots:
        assert kept.published_by == "staff" and kept.data["round"]["status"] == "closed"
        assert kept.pdf is not None and bytes(kept.pdf).startswith(b"%PDF")


def test_a_round_of_a_survey_no_framework_reads_has_nothing_to_publish(
    session: Session,
) -> None:
    provider = make_provider(session)
    make_organisation(session, provider)
    round_ = make_round(session, provider)  # the every-type test survey
    rounds.close_round(session, round_)
    assert frameworks_for(round_) == []
    with pytest.raises(NothingToPublish, match="no KPI framework reads the survey every-type v1"):
        publish(session, round_, published_by="staff")
    with pytest.raises(ReportError, match="essex-2017 has no KPI that reads the survey every-type"):
        publish(session, round_, framework="essex-2017", published_by="staff")
    outcome = reports.publish_after_close(
        session, round_, lambda s, r: publish(s, r, published_by="staff")
    )
    assert outcome.error is None and outcome.snapshots == []
    assert outcome.nothing == "no KPI framework reads the survey every-type v1"
    assert session.scalars(select(models.ReportSnapshot)).all() == []


def test_bad_publishing_requests_are_refused_with_a_reason(session: Session) -> None:
    round_ = answered_round(session, groups=3, answered=0, close=False)
    with pytest.raises(ReportError, match=f"Round {round_.id} is open: a report is published"):
        publish(session, round_, published_by="staff")
    rounds.close_round(session, round_)
    with pytest.raises(NothingToPublish, match=f"round {round_.id} has no completed responses"):
        publish(session, round_, published_by="staff")
    with pytest.raises(NotFound, match="No KPI framework 'nope' \\(there are: essex-2017"):
        publish(session, round_, framework="nope", published_by="staff")
    assert session.scalars(select(models.ReportSnapshot)).all() == []


@pytest.mark.demo_data("published")
def test_the_demo_publishes_each_providers_latest_closed_round(
    session: Session, demo_summary: demo.DemoSummary
) -> None:
    summary = demo_summary
    snapshots = session.scalars(select(models.ReportSnapshot).order_by(models.ReportSnapshot.id))
    by_round = {(s.round.provider.slug, s.round.period_label, s.framework) for s in snapshots}
    kent = ("west-kent-cvs", "east-kent-cvs", "north-kent-vc")
    assert by_round == {
        (slug, "2025/26 H2", framework)
        for slug in ("brentwood-cvs", "harlow-cvs", "uttlesford-cvs")
        for framework in ("essex-2017", "leicestershire-val")
    } | {
        (slug, "2025/26 H2", framework)
        for slug in kent
        for framework in ("kent-2017", "kent-2017-alliance")
    }
    for kept in session.scalars(select(models.ReportSnapshot)):
        assert kept.published_at == kept.round.closed_at  # as if published when it closed
        assert kept.published_by == f"staff@{kept.round.provider.slug}.example.org"
        assert kept.pdf and kept.xlsx
    # The Essex funder funds two of the three Essex providers: their four reports are linked
    # and emailed; Kent's funder funds its three providers: each one's own report and the
    # alliance's, published again as each provider's round closed.
    funded = [r for r in summary.reports if r.funded]
    assert {r.provider for r in funded} == {
        "Brentwood CVS", "Harlow Council for Voluntary Service", "West Kent CVS", "East Kent CVS",
        "North Kent Volunteer Centre",
    }
    assert len(funded) == 4 + 6 and summary.report_emails == 4 + 6
    assert all(
        re.fullmatch(r"/funder/(brentwood-cvs|harlow-cvs|[a-z]+-kent-(cvs|vc))/reports/\d+", r.path)
        for r in funded
    )
    emailed = session.scalars(
        select(models.OutboxMessage.recipient).where(models.OutboxMessage.template == "report")
    ).all()
    assert sorted(emailed) == ["funder@example.org"] * 4 + ["kent-funder@example.org"] * 6
    events = session.scalars(
        select(models.AuditEvent).where(models.AuditEvent.action == "report.publish")
    ).all()
    assert len(events) == 3 + 3 and all(e.details["on"] == "close" for e in events)
