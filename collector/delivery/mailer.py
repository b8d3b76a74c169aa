"""Email: invitations, reminders and funder reports rendered from templates, and the transports
that send them.

`render_email` builds the whole message. An invitation or reminder has a subject, plain text and
HTML, the respondent's link and an opt-out link in both, and List-Unsubscribe headers for
one-click unsubscribe as RFC 8058 asks. A report email goes to a funder's own account: the
short message, the link to the report's page, and the report's PDF and workbook attached, read
from the published snapshot when it is sent (so a resend attaches the same files).
`SmtpTransport` delivers through an SMTP server, keeping one connection open across a batch;
`ConsoleTransport` prints a one-line summary instead (when SMTP_HOST is empty), with neither
the address nor the link, because logs must not hold personal data or tokens.
"""

from __future__ import annotations

import hashlib
import io
import re
import smtplib
import ssl
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, TextIO

import segno
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from collector import models, reports
from collector.config import Settings
from collector.delivery.chats import telegram_link
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.localtime import long_date
from collector.models import utcnow
from collector.reports import Attachment

TEMPLATES = ("invite", "reminder", reports.TEMPLATE)
# The Content-ID of the QR code of the Telegram link, in an invitation's HTML.
QR_CID = "telegram-qr@tempcheck"
# Errors from mail servers often quote the address; it goes nowhere near logs or the console.
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")

_environment = Environment(
    loader=PackageLoader("collector.delivery", "templates/email"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def redact_addresses(text: str) -> str:
    """Replace every email address in `text` with a placeholder."""
    return _ADDRESS.sub("[address]", text)


def respondent_link(settings: Settings, token: str) -> str:
    """Give the address of an invitation's survey."""
    return f"{settings.base_url.rstrip('/')}/r/{token}"


def optout_link(settings: Settings, token: str) -> str:
    """Give the address of the page where a group stops being asked."""
    return f"{respondent_link(settings, token)}/opt-out"


def unsubscribe_link(settings: Settings, token: str) -> str:
    """Give the one-click unsubscribe address (RFC 8058: a POST from the mail program)."""
    return f"{respondent_link(settings, token)}/unsubscribe"


def _domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(settings: Settings, dedupe_key: str) -> str:
    """Give the Message-ID of the email for an outbox message: the same on every attempt.

    A copy sent twice (a dispatcher killed between sending and recording) carries the same
    Message-ID, which lets mail programs that look at it show it once.
    """
    digest = hashlib.sha256(f"{settings.base_url}\n{dedupe_key}".encode()).hexdigest()[:32]
    return f"<tempcheck.{digest}@{_domain(settings)}>"


def _closes(value: Any) -> str:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return long_date(when)


def report_link(settings: Settings, path: str) -> str:
    """Give the address of a published report's page."""
    return f"{settings.base_url.rstrip('/')}{path}"


QR_SCALE, QR_BORDER = 5, 2


def qr_png(url: str) -> bytes:
    """Give a QR code of `url` as a PNG, big enough to scan from a screen."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(
        buffer, kind="png", scale=QR_SCALE, border=QR_BORDER, dark="#0b0c0c"
    )
    return buffer.getvalue()


def _qr_size(url: str | None) -> int:
    """Give the width (and height) in pixels of `url`'s QR code, 0 for no link."""
    if not url:
        return 0
    return int(segno.make(url, error="m").symbol_size(scale=QR_SCALE, border=QR_BORDER)[0])


def _invitation_context(settings: Settings, data: Mapping[str, Any]) -> dict[str, Any]:
    token = str(data["token"])
    telegram = telegram_link(settings, token)
    # A placement's follow-up speaks to the volunteer, or to the host group, about it.
    placement = data.get("placement") or {}
    return {
        # A contact (a partner, a commissioner, a representative) is asked for their views.
        "followup": "contact" if data.get("contact") else placement.get("recipient") or "",
        "host": placement.get("host") or "the group",
        "role": placement.get("role") or "a volunteer",
        "organisation": data.get("organisation") or "",
        "provider": data["provider"],
        "survey": data["survey"],
        "period": data["period"],
        "closes": _closes(data["closes_at"]),
        "link": respondent_link(settings, token),
        "optout_link": optout_link(settings, token),
        "token": token,
        # "Answer in Telegram instead", where the bot is configured: its deep link, and a QR
        # code of it that goes with the email as an inline image (QR_CID).
        "telegram_link": telegram,
        "qr_cid": QR_CID,
        "qr_size": _qr_size(telegram),
    }


def _report_context(
    settings: Settings, data: Mapping[str, Any], attachments: Sequence[Attachment]
) -> dict[str, Any]:
    link = report_link(settings, str(data["path"]))
    message = str(data.get("message") or "").replace(reports.LINK_SLOT, link).strip()
    names = {a.subtype: a.filename for a in attachments}
    attached = [
        f"{what} ({names[subtype]})"
        for subtype, what in (
            ("pdf", "a PDF"),
            (reports.XLSX_TYPE.partition("/")[2], "an Excel workbook"),
        )
        if subtype in names
    ]
    return {
        "provider": data["provider"],
        "period": data["period"],
        "framework_title": data.get("framework_title") or data.get("framework") or "",
        "title": data["title"],
        "replaces": data.get("replaces"),
        "link": link,
        "message": message,
        "message_lines": message.splitlines(),
        "attached": " and ".join(attached),
    }


def render_email(
    settings: Settings,
    message: Outgoing,
    *,
    now: datetime | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """Build the email for an invitation, a reminder or a funder's report.

    Raise a permanent DeliveryError when the message cannot be rendered (an unknown template,
    or data it lacks): trying again would not help.
    """
    if message.template not in TEMPLATES:
        raise DeliveryError(f"No email template for {message.template!r}", permanent=True)
    data = message.data
    try:
        if message.template == reports.TEMPLATE:
            context = _report_context(settings, data, attachments)
        else:
            context = _invitation_context(settings, data)
        subject = _environment.get_template(f"{message.template}.subject.txt").render(context)
        subject = " ".join(subject.split())
        text = _environment.get_template(f"{message.template}.txt").render(context)
        html = _environment.get_template(f"{message.template}.html").render(
            context, subject=subject
        )
    except (KeyError, ValueError, TemplateError) as error:
        raise DeliveryError(
            f"Could not render the {message.template} email: {type(error).__name__} {error}",
            permanent=True,
        ) from error
    email = EmailMessage()
    email["Subject"] = subject
    email["From"] = settings.mail_from
    email["To"] = message.recipient
    email["Date"] = format_datetime(now or utcnow())
    email["Message-ID"] = message_id(settings, message.dedupe_key)
    if "token" in context:
        # A group's invitation: one-click unsubscribe. A report goes to a funder's own
        # account, which a mail program's unsubscribe cannot close.
        email["List-Unsubscribe"] = f"<{unsubscribe_link(settings, context['token'])}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Tells out-of-office robots not to answer (RFC 3834).
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(text)
    email.add_alternative(html, subtype="html")
    if context.get("telegram_link"):
        # An image inside the email (multipart/related, cid:), which mail programs show where
        # they refuse data: images and pictures from the web.
        html_part = email.get_body(("html",))
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(
            qr_png(str(context["telegram_link"])), "image", "png", cid=f"<{QR_CID}>"
        )
    for attachment in attachments:
        email.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return email


def load_attachments(sessions: sessionmaker[Session] | None, message: Outgoing) -> list[Attachment]:
    """Read the files an email carries from the database (a report's PDF and workbook).

    Raise a permanent DeliveryError when they cannot be had: without a database to read from,
    or when the report is gone.
    """
    if message.template != reports.TEMPLATE:
        return []
    if sessions is None:
        raise DeliveryError(
            "This email transport has no database to read the report's files from",
            permanent=True,
        )
    with sessions() as session:
        snapshot = session.get(models.ReportSnapshot, message.data.get("snapshot_id"))
        if snapshot is None:
            raise DeliveryError("The published report no longer exists", permanent=True)
        return reports.attachments(snapshot)


class SmtpTransport:
    """Send email through the SMTP server in the settings, on one connection kept open."""

    channel = "email"

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 20.0,
        idle_check_seconds: float = 10.0,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        if not settings.smtp_host:
            raise ValueError("SMTP_HOST is not set")
        self.settings = settings
        self.sessions = sessions  # where a report email's attachments are read from
        self.host: str = settings.smtp_host
        self.timeout = timeout
        self.idle_check_seconds = idle_check_seconds
        self.envelope_from = parseaddr(settings.mail_from)[1] or settings.mail_from
        self._smtp: smtplib.SMTP | None = None
        self._used_at = 0.0

    def describe(self) -> str:
        """Say where email goes, for the dispatcher's first line."""
        tls = "STARTTLS" if self.settings.smtp_tls else "no TLS"
        return f"email through {self.host}:{self.settings.smtp_port} ({tls})"

    def render(self, message: Outgoing) -> EmailMessage:
        """Build the email for a message."""
        return render_email(
            self.settings, message, attachments=load_attachments(self.sessions, message)
        )

    def send(self, message: Outgoing, rendered: EmailMessage) -> None:
        """Deliver one email; raise DeliveryError saying whether trying again may help."""
        for attempt in (1, 2):
            reused = self._smtp is not None
            smtp = self._connection()
            try:
                smtp.send_message(rendered, self.envelope_from, [message.recipient])
            except smtplib.SMTPRecipientsRefused as error:
                code, reply = next(iter(error.recipients.values()), (0, b""))
                raise DeliveryError(
                    _describe("recipient refused", code, reply), permanent=500 <= code < 600
                ) from None
            except smtplib.SMTPResponseException as error:
                if error.smtp_code == 421:
                    self._drop()
                    if reused and attempt == 1:
                        continue  # the server closed a connection kept open: a fresh one
                # A 5xx on the message itself is about this message; a 5xx refusing the
                # sender is our configuration, which a later attempt may find fixed.
                permanent = isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500
                raise DeliveryError(
                    _describe("refused", error.smtp_code, error.smtp_error), permanent=permanent
                ) from None
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                if reused and attempt == 1:
                    continue
                raise DeliveryError(
                    f"Could not talk to the mail server: {type(error).__name__} "
                    f"{redact_addresses(str(error))}",
                    permanent=False,
                ) from None
            self._used_at = time.monotonic()
            return

    def _connection(self) -> smtplib.SMTP:
        """Give the open connection (checked when it has been idle), or open one."""
        if self._smtp is not None and time.monotonic() - self._used_at > self.idle_check_seconds:
            try:
                alive = self._smtp.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if not alive:
                self._drop()
        if self._smtp is None:
            self._smtp = self._open()
            self._used_at = time.monotonic()
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            smtp = smtplib.SMTP(self.host, settings.smtp_port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"Could not connect to the mail server {self.host}:{settings.smtp_port}: "
                f"{type(error).__name__} {error}",
                permanent=False,
            ) from None
        try:
            smtp.ehlo()
            if settings.smtp_tls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
        except smtplib.SMTPAuthenticationError as error:
            _quit(smtp)
            raise DeliveryError(
                _describe("login refused (check SMTP_USER and SMTP_PASSWORD)", *error.args[:2]),
                permanent=False,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            _quit(smtp)
            raise DeliveryError(
                f"Could not start a session with the mail server: {type(error).__name__} "
                f"{redact_addresses(str(error))}",
                permanent=False,
            ) from None
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            _quit(self._smtp)
        self._smtp = None

    def close(self) -> None:
        """Say goodbye to the server and close the connection."""
        self._drop()


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _describe(what: str, code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"Mail server {what}: {code} {redact_addresses(' '.join(text.split()))}".strip()


class ConsoleTransport:
    """Print a one-line summary of each email instead of sending it (no SMTP_HOST set).

    The line names the message and its subject, never the address or the link: the console
    is a log, and logs hold no personal data or tokens.
    """

    channel = "email"

    def __init__(
        self,
        settings: Settings,
        stream: TextIO | None = None,
        *,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.settings = settings
        self.stream = stream
        self.sessions = sessions
        self.sent = 0

    def describe(self) -> str:
        """Say where email goes, for the dispatcher's first line."""
        return "email printed to the console, not sent (SMTP_HOST is empty)"

    def render(self, message: Outgoing) -> EmailMessage:
        """Build the email for a message (as it would be sent)."""
        return render_email(
            self.settings, message, attachments=load_attachments(self.sessions, message)
        )

    def send(self, message: Outgoing, rendered: EmailMessage) -> None:
        """Print a line about the email."""
        self.sent += 1
        stream = self.stream or sys.stdout
        print(
            f"[email not sent: no SMTP_HOST] message {message.id} ({message.template}): "
            f"{rendered['Subject']}",
            file=stream,
            flush=True,
        )

    def close(self) -> None:
        """Nothing to close."""


def email_transport(
    settings: Settings, sessions: sessionmaker[Session] | None = None
) -> SmtpTransport | ConsoleTransport:
    """Give the email transport the settings ask for: SMTP, or the console without a host.

    `sessions` is where report emails' attachments are read from.
    """
    if settings.smtp_host:
        return SmtpTransport(settings, sessions=sessions)
    return ConsoleTransport(settings, sessions=sessions)
