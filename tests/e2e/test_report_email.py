"""A round closes at its close date and its reports reach the funder: the dispatcher closes it,
publishes each report through the hook the dispatch command passes, and delivers through a real
SMTP server on loopback (aiosmtpd). The funder gets one email per report, with the PDF and the
workbook attached; both open (openpyxl, pypdf) and say the snapshot's numbers; the link opens
the report for the funder and for nobody else.

No browser: the web pages are Flask's test client (so not marked `e2e`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from analysis.publish import publish
from collector import db, models, users
from collector.cli import mailsink
from collector.config import Settings
from collector.delivery import mailer
from collector.delivery.dispatcher import Dispatcher, TickReport
from collector.models import utcnow
from forms import create_app, services
from tests.analysis.test_publish import answered_round, pdf_text
from tests.conftest import _free_port
from tests.factories import make_provider
from tests.forms.conftest import Browser
from tests.forms.people import sign_in

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password 1"
FUNDER = "funder@council.example.org"
OTHER_FUNDER = "other@trust.example.org"
LINK = re.compile(r"http://testserver(/funder/brentwood-cvs/reports/(\d+))(?![\w/-])")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def sink() -> Iterator[tuple[mailsink.Sink, int]]:
    """Run an SMTP server on a free loopback port that keeps what it receives."""
    sink, port = mailsink.Sink(), _free_port()
    controller = mailsink.serve(sink, "127.0.0.1", port)
    yield sink, port
    controller.stop()


def dispatch(settings: Settings, sessions: sessionmaker[Session]) -> TickReport:
    """Run a dispatcher as `tempcheck dispatch` builds it, until nothing is due."""
    transport = mailer.SmtpTransport(settings, sessions=sessions)
    hook = partial(publish, published_by="dispatcher e2e (the round's close date)")
    return Dispatcher(settings, sessions, {"email": transport}, "e2e", publish=hook).run(
        until_idle=True
    )


def account(session: Session, email: str, funded: list[models.Provider], **values: Any) -> None:
    user = users.create_user(
        session, email=email, name=email, password=PASSWORD, role="funder", funded=funded
    )
    for name, value in values.items():
        setattr(user, name, value)


def workbook_rows(data: bytes) -> dict[str, dict[str, Any]]:
    """Read the workbook's Summary sheet (header on row 3): its rows by KPI id."""
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Summary"]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    header = [str(h) for h in rows[0]]
    return {str(row[0]): dict(zip(header, row, strict=True)) for row in rows[1:] if row[0]}


def test_a_closing_round_emails_its_reports_to_the_funder_with_both_files(
    settings: Settings,
    session_factory: sessionmaker[Session],
    sink: tuple[mailsink.Sink, int],
) -> None:
    server, port = sink
    smtp = replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls=False,
        email_per_second=500,
        base_url="http://testserver",
    )
    with db.transaction(session_factory) as session:
        round_ = answered_round(session, groups=16, answered=12, close=False)
        brentwood = round_.provider
        elsewhere = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
        account(session, FUNDER, [brentwood])
        account(session, OTHER_FUNDER, [elsewhere])
        account(session, "gone@council.example.org", [brentwood], active=False)
        # The close date passes: the next dispatcher tick closes the round.
        session.execute(
            update(models.Round)
            .where(models.Round.id == round_.id)
            .values(closes_at=utcnow() - timedelta(minutes=1))
        )
        round_id = round_.id

    total = dispatch(smtp, session_factory)

    assert (total.closed, total.published) == (1, 2)
    received = server.snapshot()
    # The round's unsent invitations were cancelled when it closed: only the reports went out.
    assert [str(m["To"]) for m in received] == [FUNDER, FUNDER]
    assert sorted(m["Subject"] for m in received) == [
        "Brentwood CVS: KPI report for 2026/27 H1 – Essex CVS infrastructure support 2017/18",
        "Brentwood CVS: KPI report for 2026/27 H1 – VAL Performance Temperature Check "
        "(Leicestershire)",
    ]
    # Nothing more to send: a second run sends nobody a second copy.
    assert dispatch(smtp, session_factory).sent == 0 and len(server.snapshot()) == 2

    with session_factory() as session:
        snapshots = {
            s.id: (s.framework, s.data, s.pdf, s.xlsx)
            for s in session.scalars(
                select(models.ReportSnapshot).where(models.ReportSnapshot.round_id == round_id)
            )
        }
    assert len(snapshots) == 2
    paths = []
    for email in received:
        paths.append(check_email(email, snapshots))

    # The link opens the report for the funder, and for a funder of another provider not at all.
    app = create_app(smtp)
    try:
        funder = Browser(app.test_client())
        sign_in(funder, FUNDER, PASSWORD)
        for path, snapshot_id in paths:
            page = funder.get(path)
            assert page.status_code == 200, path
            framework, data, _, _ = snapshots[snapshot_id]
            assert data["framework"]["title"] in funder.text
            if framework == "essex-2017":
                ix = next(k for k in data["kpis"] if k["id"] == "ix")["overall"]
                assert f"{round(ix['proportion'] * 100)}%" in funder.text
        other = Browser(app.test_client())
        sign_in(other, OTHER_FUNDER, PASSWORD)
        assert other.get(paths[0][0]).status_code == 404
    finally:
        services(app).engine.dispose()


def check_email(
    email: EmailMessage, snapshots: dict[int, tuple[str, dict[str, Any], bytes, bytes]]
) -> tuple[str, int]:
    """Check one report email against its snapshot; give its link's path and snapshot id."""
    text_part, html_part = email.get_body(("plain",)), email.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    [(path, number)] = set(LINK.findall(text))
    snapshot_id = int(number)
    framework, data, pdf, xlsx = snapshots[snapshot_id]
    assert f'href="http://testserver{path}"' in html
    assert "funder account for Brentwood CVS" in text and email["List-Unsubscribe"] is None

    attached = list(email.iter_attachments())
    stem = f"brentwood-cvs-2026-27-h1-{framework}"
    assert [(a.get_filename(), a.get_content_type()) for a in attached] == [
        (f"{stem}.pdf", "application/pdf"),
        (f"{stem}.xlsx", XLSX),
    ]
    sent_pdf, sent_xlsx = (a.get_content() for a in attached)
    assert (sent_pdf, sent_xlsx) == (pdf, xlsx)  # the files kept when it was published

    # Both open, and say the snapshot's numbers.
    rows = workbook_rows(sent_xlsx)
    pdf_words = pdf_text(sent_pdf)
    assert data["framework"]["title"] in pdf_words
    checked = 0
    for kpi in data["kpis"]:
        cell = kpi["overall"]
        if kpi["kind"] != "proportion" or cell["proportion"] is None:
            continue
        row = rows[kpi["id"]]
        assert (row["n"], row["Meeting the definition"]) == (cell["n"], cell["numerator"])
        assert row["Result"] == pytest.approx(cell["proportion"])
        assert f"{round(cell['proportion'] * 100)}% {cell['n']} " in pdf_words
        checked += 1
    if framework == "essex-2017":
        ix = next(k for k in data["kpis"] if k["id"] == "ix")["overall"]
        assert (ix["n"], ix["numerator"]) == (12, 9) and checked >= 1
        # The email's short message says the same.
        assert f"75% (n={ix['n']}, 95% CI " in text
    return path, snapshot_id
