"""The outbox as staff see it: messages by status, the ones given up on, and retrying them.

Addresses are masked: the page is for seeing what failed and why, not a list of contacts.
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from collector import audit, models
from collector.delivery import outbox
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.pages import mask_address, owned, reading, render, writing

SHOWN = 200
TEMPLATE_NAMES = {"invite": "Invitation", "reminder": "Reminder"}


@bp.get("/<provider_slug>/outbox", endpoint="outbox")
@staff_required
def outbox_page(provider: ProviderRef) -> ResponseReturnValue:
    """Show the provider's messages by status, and the failed ones with their errors."""
    with reading() as session:
        counts = outbox.counts(session, provider_id=provider.id)
        failed = outbox.failures(session, provider_id=provider.id, limit=SHOWN)
        round_ids = {m.round_id for m in failed if m.round_id is not None}
        labels = dict(
            session.execute(
                select(models.Round.id, models.Round.period_label).where(
                    models.Round.id.in_(round_ids)
                )
            ).all()
        )
    rows = [
        {
            "id": m.id,
            "template": TEMPLATE_NAMES.get(m.template, m.template),
            "channel": m.channel,
            "round_id": m.round_id,
            "round": labels.get(m.round_id, "") if m.round_id else "",
            "recipient": mask_address(m.recipient),
            "attempts": m.attempts,
            "error": m.last_error or "",
            "when": m.next_attempt_at,
        }
        for m in failed
    ]
    return render(
        "console/outbox.html",
        section="outbox",
        counts=counts,
        rows=rows,
        more=max(0, counts.get("failed", 0) - len(rows)),
    )


@bp.post("/<provider_slug>/outbox/<int:message_id>/retry")
@staff_required
def outbox_retry(provider: ProviderRef, message_id: int) -> ResponseReturnValue:
    """Try a failed message again, unless its round has closed or its group opted out."""
    with writing() as session:
        message = owned(session, models.OutboxMessage, message_id, provider.id)
        round_ = session.get(models.Round, message.round_id) if message.round_id else None
        invitation = (
            session.get(models.Invitation, message.invitation_id) if message.invitation_id else None
        )
        organisation = invitation.organisation if invitation is not None else None
        if message.status != "failed":
            note = "That message has not failed, so there is nothing to retry."
        elif round_ is not None and round_.status == "closed":
            note = "That message was not retried: its round has closed."
        elif organisation is not None and organisation.opted_out_at is not None:
            note = "That message was not retried: the group has opted out."
        elif outbox.retry(session, [message.id], provider_id=provider.id):
            audit.record(
                session,
                "outbox.retry",
                user=current_user.user,
                provider_id=provider.id,
                subject=f"message {message.id} ({message.template})",
            )
            note = "The message will be sent again shortly."
        else:
            note = "That message has not failed, so there is nothing to retry."
    flash(note)
    return redirect(url_for("console.outbox", provider_slug=provider.slug), 303)
