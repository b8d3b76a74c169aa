"""collector.schedules: what the dispatcher runs on its clock, and the due reports it publishes
in two steps (built reading only, then kept in a short transaction), so that a respondent's
answer never waits for a report being rendered. The publish hook is a stand-in for
analysis.publish.publisher, whose build step waits on an Event as a PDF renderer would take its
seconds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, reports, schedules, users
from collector.config import Settings
from collector.delivery.dispatcher import Dispatcher, TickReport
from collector.models import utcnow
from tests.collector.mail_helpers import Recorder, complete
from tests.factories import make_invitation, make_provider, make_round

DATA = {"framework": {"id": "essex-2017", "title": "Essex CVS support"}, "kpis": [{"n": 12}]}
# Long enough for any machine; the tests never wait this long unless something is wrong.
PATIENCE = 60


def built(round_: models.Round) -> list[reports.BuiltReport]:
    """Give what analysis would have built for a round: one framework's report."""
    return [
        reports.BuiltReport(
            framework="essex-2017",
            title=f"{round_.provider.name}: Essex CVS support, {round_.period_label}",
            data=DATA,
            pdf=b"%PDF-1.7 pretend report",
            xlsx=b"PK\x03\x04 pretend workbook",
            message=f"5 of 6 targets met.\nRead it: {reports.LINK_SLOT}",
        )
    ]


def due_round(session: Session, provider: models.Provider) -> models.Round:
    """Add an open round of the provider whose close date has just passed."""
    round_ = make_round(session, provider)
    session.execute(
        update(models.Round)
        .where(models.Round.id == round_.id)
        .values(closes_at=utcnow() - timedelta(minutes=1))
    )
    return round_


def funder(session: Session, provider: models.Provider) -> None:
    users.create_user(
        session,
        email="funder@council.example.org",
        name="Funder",
        password="a long enough password 1",
        role="funder",
        funded=[provider],
    )


@pytest.fixture
def answering(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Give sessions for a respondent's requests, on their own engine (their own connections),
    that give up on a lock after 5 s rather than the usual 30 (a blocked answer fails fast)."""
    engine: Engine = db.make_engine(replace(settings, sqlite_busy_timeout_ms=5000))
    yield db.make_sessionmaker(engine)
    engine.dispose()


def test_an_answer_is_stored_while_the_dispatcher_publishes_a_report(
    settings: Settings,
    session_factory: sessionmaker[Session],
    answering: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        provider = make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
        funder(session, provider)
        closing_id = due_round(session, provider).id
        invitation_id = make_invitation(session).id  # another provider's open round
    building, release = threading.Event(), threading.Event()

    def build(session: Session, round_: models.Round) -> list[reports.BuiltReport]:
        """Stand in for building and rendering: take as long as the test says."""
        building.set()
        if not release.wait(PATIENCE):
            raise RuntimeError("the test never let the publisher go")
        return built(round_)

    publisher = reports.TwoStepPublish(build=build, published_by="dispatcher w1")
    dispatcher = Dispatcher(
        replace(settings, email_per_second=10_000),
        session_factory,
        {"email": Recorder()},
        "w1",
        publish=publisher,
    )
    ticks: list[TickReport] = []
    thread = threading.Thread(target=lambda: ticks.append(dispatcher.tick()))
    thread.start()
    try:
        assert building.wait(PATIENCE), "the dispatcher never started building the report"
        # The report is being built: a respondent answers and sends, on another connection.
        with db.transaction(answering) as session:
            invitation = session.get(models.Invitation, invitation_id)
            assert invitation is not None
            complete(session, invitation)
        # Committed, while the publisher still waits: it held no lock the answer needed.
        assert thread.is_alive() and not release.is_set()
        with answering() as session:
            closing = session.get(models.Round, closing_id)
            assert closing is not None and closing.status == "closed"  # the close committed
            assert session.scalar(select(func.count(models.ReportSnapshot.id))) == 0
    finally:
        release.set()
        thread.join(PATIENCE)
    assert not thread.is_alive()
    [tick] = ticks
    assert (tick.closed, tick.published, tick.report_rounds) == (1, 1, 1)
    with session_factory() as session:
        response = session.scalar(
            select(models.Response).where(models.Response.invitation_id == invitation_id)
        )
        assert response is not None and response.status == "completed"
        [kept] = session.scalars(select(models.ReportSnapshot)).all()
        assert (kept.round_id, kept.published_by) == (closing_id, "dispatcher w1")
        assert reports.emails_queued(session, kept.id) == 1
        closing = session.get(models.Round, closing_id)
        assert closing is not None and closing.reports_due_at is None
        assert closing.reports_note == "Published 1 report; 1 email to funders queued."


def test_reports_built_twice_are_stored_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        provider = make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
        funder(session, provider)
        schedules.run_schedules(session, now=due_round(session, provider).closes_at)
    publisher = reports.TwoStepPublish(
        build=lambda _session, round_: built(round_), published_by="dispatcher"
    )
    # Two dispatchers find the same round's reports due, and both build them.
    with session_factory() as session:
        [first] = schedules.build_due_reports(session, publisher)
    with session_factory() as session:
        [second] = schedules.build_due_reports(session, publisher)
    with db.transaction(session_factory) as session:
        outcome = schedules.store_due_reports(session, first, actor="dispatcher w1")
        assert outcome is not None and len(outcome.snapshots) == 1
    with db.transaction(session_factory) as session:
        assert schedules.store_due_reports(session, second, actor="dispatcher w2") is None
    with session_factory() as session:
        assert session.scalar(select(func.count(models.ReportSnapshot.id))) == 1
        assert (
            session.scalar(
                select(func.count(models.OutboxMessage.id)).where(
                    models.OutboxMessage.template == reports.TEMPLATE
                )
            )
            == 1
        )


def test_a_report_that_fails_to_build_leaves_the_close_and_says_why(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        closing_id = due_round(session, make_provider(session)).id

    def broken(session: Session, round_: models.Round) -> list[reports.BuiltReport]:
        raise RuntimeError("no fonts")

    publisher = reports.TwoStepPublish(build=broken, published_by="dispatcher w1")
    dispatcher = Dispatcher(
        settings, session_factory, {"email": Recorder()}, "w1", publish=publisher
    )
    tick = dispatcher.tick()
    assert (tick.closed, tick.published, tick.report_rounds) == (1, 0, 1)
    with session_factory() as session:
        closing = session.get(models.Round, closing_id)
        assert closing is not None and closing.status == "closed"
        assert closing.reports_due_at is None
        assert (closing.reports_note or "").startswith(
            "The report could not be published: RuntimeError: no fonts."
        )
