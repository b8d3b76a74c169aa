"""A round for 50 groups, delivered through a real SMTP server on loopback (aiosmtpd): exactly one
invitation each, every link opens the survey, and the reminder reaches only the non-responders.

The delivery tests need no browser (so are not marked `e2e`): the web form is Flask's test
client. The last test opens the opt-out page in Chromium, with axe.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, rounds
from collector.cli import mailsink
from collector.config import Settings
from collector.delivery import mailer
from collector.delivery.dispatcher import Dispatcher
from collector.models import utcnow
from forms import create_app, services
from tests.collector.mail_helpers import complete
from tests.conftest import _free_port
from tests.e2e.conftest import Demo, LiveServer
from tests.e2e.test_answering import audit, phone
from tests.factories import cvs_support, make_organisation, make_provider, make_round

pytestmark = pytest.mark.slow

LINK = re.compile(r"http://testserver(/r/[A-Za-z0-9_-]{32})(?![A-Za-z0-9_/-])")


@pytest.fixture
def sink() -> Iterator[tuple[mailsink.Sink, int]]:
    """Run an SMTP server on a free loopback port that keeps what it receives."""
    sink, port = mailsink.Sink(), _free_port()
    controller = mailsink.serve(sink, "127.0.0.1", port)
    yield sink, port
    controller.stop()


def bodies(email: EmailMessage) -> tuple[str, str]:
    text, html = email.get_body(("plain",)), email.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def deliver(settings: Settings, sessions: sessionmaker[Session]) -> int:
    """Run a dispatcher with SMTP until nothing is due; give how many it sent."""
    transport = mailer.SmtpTransport(settings)
    return Dispatcher(settings, sessions, {"email": transport}, "e2e").run(until_idle=True).sent


def test_a_round_for_50_groups_emails_each_once_and_reminds_only_non_responders(
    settings: Settings,
    session_factory: sessionmaker[Session],
    sink: tuple[mailsink.Sink, int],
) -> None:
    server, port = sink
    smtp = replace(
        settings, smtp_host="127.0.0.1", smtp_port=port, smtp_tls=False, email_per_second=500
    )
    with db.transaction(session_factory) as session:
        provider = make_provider(session, name="Harlow CVS")
        names = {}
        for n in range(50):
            email = f"group{n:02d}@example.org"
            names[email] = make_organisation(
                session, provider, name=f"Group {n:02d}", contact_email=email
            ).name
        for _ in range(3):  # no consent to email: invited (for links and QR codes), not emailed
            make_organisation(session, provider, consent_email=False)
        make_organisation(session, provider, opted_out_at=utcnow())  # not invited at all
        round_ = make_round(session, provider, cvs_support(), open_now=False)
        assert rounds.open_round(session, round_) == 53
        round_id = round_.id

    assert deliver(smtp, session_factory) == 50
    invitations = server.snapshot()
    assert len(invitations) == 50
    assert sorted(str(m["To"]) for m in invitations) == sorted(names)
    assert {m["Subject"] for m in invitations} == {
        "Harlow CVS would like your feedback: Support from your CVS"
    }
    # Nothing more to send: a second run sends nothing.
    assert deliver(smtp, session_factory) == 0 and len(server.snapshot()) == 50

    # Every link works in the web form, and the page names the group it was sent to.
    app = create_app(settings)
    client = app.test_client()
    tokens = {}
    for email in invitations:
        text, html = bodies(email)
        (path,) = set(LINK.findall(text))
        assert f'href="http://testserver{path}"' in html
        assert f"http://testserver{path}/opt-out" in text and f"{path}/opt-out" in html
        page = client.get(path)
        assert page.status_code == 200, path
        body = page.get_data(as_text=True)
        assert "Start now" in body and names[str(email["To"])] in body
        tokens[str(email["To"])] = path.removeprefix("/r/")

    # 20 groups answer; one unsubscribes from its mail program (RFC 8058 one-click).
    addresses = sorted(tokens)
    answered, unsubscribed = addresses[:20], addresses[20]
    with db.transaction(session_factory) as session:
        for address in answered:
            complete(session, rounds.invitation_by_token(session, tokens[address]))
    one_click = next(m for m in invitations if m["To"] == unsubscribed)["List-Unsubscribe"]
    page = client.post(
        one_click.strip().strip("<>").removeprefix("http://testserver"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert page.status_code == 200
    services(app).engine.dispose()

    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, round_id)
        assert round_ is not None
        assert rounds.remind(session, round_) == 29
    assert deliver(smtp, session_factory) == 29
    reminders = server.snapshot()[50:]
    assert sorted(str(m["To"]) for m in reminders) == addresses[21:]
    assert all(
        m["Subject"].startswith("Reminder: Support from your CVS closes on") for m in reminders
    )
    for email in reminders:
        # Each group's reminder carries its own link, the same as its invitation's.
        text, html = bodies(email)
        assert set(LINK.findall(text)) == {f"/r/{tokens[str(email['To'])]}"}
        assert f'href="http://testserver/r/{tokens[str(email["To"])]}"' in html
    with session_factory() as session:
        statuses = session.scalars(
            select(models.OutboxMessage.status).where(models.OutboxMessage.round_id == round_id)
        ).all()
    assert sorted(statuses) == ["sent"] * 79


def test_the_mail_sink_command_saves_each_email_and_prints_no_address(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("tempcheck")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from collector.cli import main; main()"]
    )
    port, folder = _free_port(), tmp_path / "mail"
    process = subprocess.Popen(
        [*command, "mail-sink", "--port", str(port), "--folder", str(folder)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        assert first.startswith(f"mail-sink on 127.0.0.1:{port}, saving to {folder}/"), first
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in (1, 2):
                email = EmailMessage()
                email["From"], email["To"] = "cvs@example.org", "secret.person@example.org"
                email["Subject"] = f"Invitation {n}"
                email.set_content("Answer at http://testserver/r/TOKEN")
                smtp.send_message(email)
        saved = [process.stdout.readline().strip() for _ in (1, 2)]
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    assert saved == [
        "mail-sink: 1 saved, last: Invitation 1",
        "mail-sink: 2 saved, last: Invitation 2",
    ]
    assert process.returncode == 0, rest
    assert rest.strip().splitlines()[-1] == "mail-sink stopped: 2 messages saved."
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2 and b"Subject: Invitation 2" in files[1].read_bytes()
    assert "secret.person" not in first + "".join(saved) + rest


@pytest.mark.e2e
def test_opting_out_from_the_emails_link_in_a_browser_is_plain_and_accessible(
    chromium: Browser, live_server: LiveServer, demo_template: Demo, screenshots: Path
) -> None:
    token = demo_template.fresh[-1]
    context = phone(chromium)
    page = context.new_page()
    visit = page.goto(f"{live_server.url}/r/{token}/opt-out")
    assert visit is not None and visit.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop being asked for feedback")
    audit(page, "11-opt-out", screenshots)
    page.get_by_role("button", name=re.compile("^Stop asking ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You will not be asked again")
    audit(page, "12-opted-out", screenshots)
    context.close()
    with live_server.sessions() as session:
        invitation = rounds.invitation_by_token(session, token)
        assert invitation.organisation is not None
        assert invitation.organisation.opted_out_at is not None
