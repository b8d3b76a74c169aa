"""Outgoing webhooks: an HTTPS address told when a report is published, a round closes or
(for a provider's own webhooks) a response is completed, through the outbox.

An event is an outbox message per webhook that wants it (channel `webhook`, its dedupe key the
webhook, the event and its subject), queued in the transaction of the change itself, so a
crash loses nothing and a repeated change sends nothing twice; the dispatcher delivers it with
the outbox's retries and back-off, and a dispatcher killed mid-delivery leaves it to be sent
again (so a receiver may see a delivery twice: the `Tempcheck-Delivery` header is the same).

Each delivery is a POST of a JSON body, signed so the receiver can tell it came from here and
was not replayed:

    Tempcheck-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

The receiver recomputes the HMAC over the timestamp, a dot and the raw body with the webhook's
secret (shown once, when the webhook is added), compares in constant time, and refuses a
timestamp more than 5 minutes old. Bodies hold ids and figures a funder may see, never a
respondent's answers (staff fetch those from the API).

Addresses must be HTTPS; plain HTTP only to this machine (127.0.0.1, ::1, localhost), for
trying it out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.delivery import outbox
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.errors import CollectorError
from collector.models import utcnow

CHANNEL = "webhook"
EVENTS = {
    "report.published": "a KPI report is published",
    "round.closed": "a round closes",
    "response.completed": "a response is completed (a provider's own webhooks only)",
}
STAFF_ONLY = frozenset({"response.completed"})
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
TIMEOUT_SECONDS = 10.0
TOLERANCE_SECONDS = 300


class WebhookError(CollectorError):
    """A webhook that cannot be added, with a plain message."""

    code = "bad_webhook"


def check_url(url: str) -> str:
    """Give the address as it will be used, or raise WebhookError saying what is wrong."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookError(f"{url!r} is not a web address: give one like https://example.org/hook")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise WebhookError("A webhook's address must be HTTPS (plain HTTP only to this machine)")
    if len(url) > 500 or parts.username or parts.password:
        raise WebhookError("Give the address without a user name or password, in 500 characters")
    return url


def add_webhook(
    session: Session,
    *,
    url: str,
    events: list[str],
    created_by: str,
    provider: models.Provider | None = None,
    funder: models.User | None = None,
) -> tuple[models.Webhook, str]:
    """Add a webhook for a provider's events or a funder's; give the row and its secret (shown
    once, kept to sign deliveries)."""
    url = check_url(url)
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise WebhookError(f"Events are {', '.join(EVENTS)}; not {', '.join(unknown) or 'none'}")
    if (provider is None) == (funder is None):
        raise WebhookError("A webhook is for one provider or one funder's account")
    if funder is not None:
        if funder.role != "funder":
            raise WebhookError(f"{funder.email} is not a funder's account")
        staff_only = sorted(set(events) & STAFF_ONLY)
        if staff_only:
            raise WebhookError(f"{', '.join(staff_only)} is for a provider's own webhooks only")
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = models.Webhook(
        url=url,
        events=sorted(set(events)),
        provider_id=provider.id if provider is not None else None,
        user_id=funder.id if funder is not None else None,
        secret=secret,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, secret


def _wanting(session: Session, event: str, provider_id: int) -> list[models.Webhook]:
    hooks = session.scalars(select(models.Webhook).where(models.Webhook.removed_at.is_(None)))
    wanting = []
    for hook in hooks:
        if event not in hook.events:
            continue
        if hook.provider_id is not None:
            if hook.provider_id == provider_id:
                wanting.append(hook)
        elif (
            hook.user is not None
            and hook.user.active
            and any(p.id == provider_id for p in hook.user.funded)
        ):
            wanting.append(hook)
    return wanting


def emit(
    session: Session, event: str, *, provider_id: int, subject: str, payload: Mapping[str, Any]
) -> int:
    """Queue an event for every webhook that wants it; give how many were queued."""
    queued = 0
    for hook in _wanting(session, event, provider_id):
        queued += outbox.enqueue(
            session,
            dedupe_key=f"webhook:{hook.id}:{event}:{subject}",
            channel=CHANNEL,
            recipient=str(hook.id),
            template=event,
            data={"event": event, "occurred_at": utcnow().isoformat(), **payload},
            provider_id=provider_id,
        )
    return queued


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Give the Tempcheck-Signature header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None) -> bool:
    """Check a Tempcheck-Signature header, as a receiver does (for tests, and to copy)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


@dataclass(frozen=True)
class Request:
    """A delivery ready to send."""

    url: str
    body: bytes
    secret: str


class WebhookTransport:
    """Deliver webhook messages: POST, signed, at most TIMEOUT_SECONDS each."""

    channel = CHANNEL

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> str:
        """Say where messages go."""
        return "webhooks: signed POSTs to their addresses"

    def render(self, message: Outgoing) -> Request:
        """Build the request; a webhook removed since is a permanent failure."""
        with self.sessions() as session:
            hook = session.get(models.Webhook, int(message.recipient))
            if hook is None or hook.removed_at is not None:
                raise DeliveryError("The webhook was removed", permanent=True)
            url, secret = hook.url, hook.secret
        body = json.dumps(message.data, sort_keys=True, separators=(",", ":")).encode()
        return Request(url=url, body=body, secret=secret)

    def send(self, message: Outgoing, rendered: Request) -> None:
        """POST it; a 2xx answer is delivered, 410 Gone gives up, anything else is retried."""
        request = urllib.request.Request(
            rendered.url,
            data=rendered.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "tempcheck-webhooks",
                "Tempcheck-Event": message.template,
                "Tempcheck-Delivery": message.dedupe_key,
                "Tempcheck-Signature": sign(rendered.secret, rendered.body, int(time.time())),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(
                f"The webhook's address did not answer ({reason})", permanent=False
            ) from None
        if status == 410:
            raise DeliveryError("The webhook's address answered 410 Gone", permanent=True)
        if not 200 <= status < 300:
            raise DeliveryError(f"The webhook's address answered {status}", permanent=False)

    def close(self) -> None:
        """Nothing held open."""


def still_wanted(session: Session, message: Outgoing) -> str | None:
    """Give why a webhook message is no longer wanted (its webhook removed), or None."""
    hook = session.get(models.Webhook, int(message.recipient))
    if hook is None or hook.removed_at is not None:
        return "The webhook was removed"
    return None


def remove(session: Session, webhook_id: int) -> models.Webhook:
    """Remove a webhook: nothing more is sent to it (what is queued is cancelled)."""
    hook = session.get(models.Webhook, webhook_id)
    if hook is None:
        raise WebhookError(f"No webhook {webhook_id} (see `tempcheck api webhooks`)")
    if hook.removed_at is None:
        hook.removed_at = utcnow()
    return hook
