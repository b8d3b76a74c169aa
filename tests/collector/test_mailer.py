"""Email: what an invitation says (link and opt-out in both parts, escaping, headers), and SMTP
delivery against a real SMTP server on loopback."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from collector.cli import mailsink
from collector.config import Settings
from collector.delivery import mailer
from collector.delivery.outbox import DeliveryError, Outgoing
from tests.conftest import _free_port

TOKEN = "Tok3nTok3nTok3nTok3nTok3nTok3n12"
SETTINGS = Settings(
    database_url="sqlite://",
    base_url="https://survey.example.org",
    mail_from="Harlow CVS surveys <surveys@cvs.example.org>",
    smtp_host="127.0.0.1",
    smtp_tls=False,
)


def outgoing(**overrides: Any) -> Outgoing:
    """Give a claimed invitation message."""
    values: dict[str, Any] = {
        "id": 7,
        "dedupe_key": "invite:42:email",
        "channel": "email",
        "recipient": "chair@group.example.org",
        "template": "invite",
        "data": {
            "token": TOKEN,
            "organisation": "Harlow Food Bank",
            "provider": "Harlow CVS",
            "survey": "CVS support survey",
            "period": "2026/27 H1",
            "closes_at": "2026-11-30T17:00:00+00:00",
        },
        "attempts": 1,
        "claimed_until": datetime(2030, 1, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return Outgoing(**values)


def parts(email: EmailMessage) -> tuple[str, str]:
    """Give the plain text and the HTML of an email."""
    text = email.get_body(("plain",))
    html = email.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_an_invitation_has_the_link_and_the_opt_out_link_in_both_parts() -> None:
    email = mailer.render_email(SETTINGS, outgoing())
    text, html = parts(email)
    link = f"https://survey.example.org/r/{TOKEN}"
    for body in (text, html):
        assert link in body
        assert f"{link}/opt-out" in body
        assert "30 November 2026" in body
        assert "Harlow CVS" in body and "Harlow Food Bank" in body
        assert "only see totals from at least 5 groups" in body
    assert f'href="{link}"' in html and f'href="{link}/opt-out"' in html
    assert email["Subject"] == "Harlow CVS would like your feedback: CVS support survey"
    assert email["To"] == "chair@group.example.org"
    assert email["From"] == "Harlow CVS surveys <surveys@cvs.example.org>"


def test_headers_offer_one_click_unsubscribe_and_a_stable_message_id() -> None:
    when = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    email = mailer.render_email(SETTINGS, outgoing(), now=when)
    assert email["List-Unsubscribe"] == f"<https://survey.example.org/r/{TOKEN}/unsubscribe>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["Date"] == "Thu, 01 Oct 2026 09:30:00 +0000"
    assert email["Auto-Submitted"] == "auto-generated"
    again = mailer.render_email(SETTINGS, replace(outgoing(), attempts=2))
    other = mailer.render_email(SETTINGS, outgoing(dedupe_key="invite:43:email"))
    assert email["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert email["Message-ID"].endswith("@cvs.example.org>")
    assert "42" not in email["Message-ID"]


def test_a_reminder_says_it_is_one_and_when_the_survey_closes() -> None:
    email = mailer.render_email(SETTINGS, outgoing(template="reminder"))
    text, html = parts(email)
    assert email["Subject"] == "Reminder: CVS support survey closes on 30 November 2026"
    assert "A reminder: Harlow CVS would still like to hear from Harlow Food Bank" in text
    assert "your answers so far are saved" in html
    assert f"https://survey.example.org/r/{TOKEN}/opt-out" in text


def test_names_are_escaped_in_the_html_and_plain_in_the_text() -> None:
    data = {**outgoing().data, "organisation": "Tom & Jerry's <b>Club</b>", "provider": "A<B"}
    text, html = parts(mailer.render_email(SETTINGS, outgoing(data=data)))
    assert "Tom &amp; Jerry&#39;s &lt;b&gt;Club&lt;/b&gt;" in html
    assert "<b>Club</b>" not in html and "A<B" not in html
    assert "Tom & Jerry's <b>Club</b>" in text and "A<B" in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"template": "summary"}, "No email template for 'summary'"),
        ({"data": {"token": TOKEN}}, "Could not render the invite email"),
        ({"data": {**outgoing().data, "closes_at": "soon"}}, "Could not render"),
    ],
)
def test_a_message_that_cannot_be_rendered_fails_for_good(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeliveryError, match=message) as raised:
        mailer.render_email(SETTINGS, outgoing(**overrides))
    assert raised.value.permanent


def test_addresses_are_taken_out_of_error_text() -> None:
    assert (
        mailer.redact_addresses("550 5.1.1 <bob@example.org>: Recipient address rejected")
        == "550 5.1.1 [address]: Recipient address rejected"
    )


def test_the_console_transport_prints_a_line_without_address_or_link() -> None:
    stream = io.StringIO()
    console = mailer.ConsoleTransport(replace(SETTINGS, smtp_host=None), stream)
    message = outgoing()
    console.send(message, console.render(message))
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert "message 7 (invite): Harlow CVS would like your feedback" in line
    assert "chair@" not in line and TOKEN[:6] not in line
    assert isinstance(mailer.email_transport(replace(SETTINGS, smtp_host="")), type(console))
    assert isinstance(mailer.email_transport(SETTINGS), mailer.SmtpTransport)


# SMTP against a real server on loopback ----------------------------------------------------


class Server(mailsink.Sink):
    """A sink that also remembers each message's connection, and refuses chosen recipients."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[Any] = []  # each message's SMTP session (one per connection)
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.sessions.append(session)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp() -> Iterator[tuple[Server, int]]:
    """Run an SMTP server on a free loopback port."""
    server, port = Server(), _free_port()
    controller = mailsink.serve(server, "127.0.0.1", port)
    yield server, port
    controller.stop()


def send(transport: mailer.SmtpTransport, message: Outgoing) -> None:
    transport.send(message, transport.render(message))


def test_smtp_delivers_a_batch_on_one_connection(smtp: tuple[Server, int]) -> None:
    server, port = smtp
    transport = mailer.SmtpTransport(replace(SETTINGS, smtp_port=port))
    for n in range(3):
        send(transport, outgoing(dedupe_key=f"invite:{n}:email", recipient=f"g{n}@example.org"))
    transport.close()
    received = server.snapshot()
    assert [m["To"] for m in received] == ["g0@example.org", "g1@example.org", "g2@example.org"]
    assert all(s is server.sessions[0] for s in server.sessions)
    assert f"https://survey.example.org/r/{TOKEN}" in parts(received[0])[0]


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        ("550 5.1.1 <gone@example.org>: Recipient address rejected", True),
        ("450 4.2.0 <gone@example.org>: mailbox busy", False),
    ],
)
def test_a_refused_recipient_fails_for_good_only_on_a_5xx(
    smtp: tuple[Server, int], reply: str, permanent: bool
) -> None:
    server, port = smtp
    server.refuse["gone@example.org"] = reply
    transport = mailer.SmtpTransport(replace(SETTINGS, smtp_port=port))
    with pytest.raises(DeliveryError) as raised:
        send(transport, outgoing(recipient="gone@example.org"))
    assert raised.value.permanent is permanent
    assert "gone@example.org" not in str(raised.value)
    assert str(raised.value).startswith(f"Mail server recipient refused: {reply[:3]}")
    # The connection is still good for the next message.
    send(transport, outgoing(recipient="fine@example.org"))
    transport.close()
    assert [m["To"] for m in server.snapshot()] == ["fine@example.org"]


def test_an_unreachable_server_is_a_temporary_failure() -> None:
    transport = mailer.SmtpTransport(replace(SETTINGS, smtp_port=_free_port()), timeout=5)
    with pytest.raises(DeliveryError, match="Could not connect to the mail server") as raised:
        send(transport, outgoing())
    assert not raised.value.permanent


def test_a_connection_the_server_dropped_is_opened_again(smtp: tuple[Server, int]) -> None:
    server, port = smtp
    transport = mailer.SmtpTransport(replace(SETTINGS, smtp_port=port))
    send(transport, outgoing(recipient="first@example.org"))
    assert transport._smtp is not None
    transport._smtp.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]  # a hang-up
    send(transport, outgoing(recipient="second@example.org"))
    transport.close()
    assert [m["To"] for m in server.snapshot()] == ["first@example.org", "second@example.org"]
    assert server.sessions[0] is not server.sessions[1]


def test_smtp_logs_in_when_a_user_is_set() -> None:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = auth.login == b"cvs" and auth.password == b"right-password"
        return AuthResult(success=ok, handled=False)

    sink, port = mailsink.Sink(), _free_port()
    controller = mailsink.Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        settings = replace(SETTINGS, smtp_port=port, smtp_user="cvs")
        wrong = mailer.SmtpTransport(replace(settings, smtp_password="wrong"))
        with pytest.raises(DeliveryError, match="login refused") as raised:
            send(wrong, outgoing())
        assert not raised.value.permanent
        right = mailer.SmtpTransport(replace(settings, smtp_password="right-password"))
        send(right, outgoing())
        right.close()
    finally:
        controller.stop()
    assert len(sink.snapshot()) == 1
