"""A round's links outside the outbox: a CSV for a mail merge, and a printable page of QR codes.

Both hold working invitation links, so both are audited, and neither is cached. Groups and
volunteers that opted out are left out: they asked not to be contacted.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from collector import audit, models
from collector.delivery.chats import telegram_link
from collector.rounds import asks_contacts
from collector.volunteering.followups import asks_volunteers
from forms import services
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.pages import csv_download, owned, reading, render, writing
from forms.console.rounds import _who, invitation_url, open_link_url
from forms.qr import qr_image


def _invitations(session: Session, round_id: int) -> list[Any]:
    """List a round's working links: to each group, (a follow-up round) each volunteer, or (a
    round of contacts) each contact, leaving out those who opted out and people whose records
    were erased."""
    inv, org, vol, resp = models.Invitation, models.Organisation, models.Volunteer, models.Response
    con = models.Contact
    return list(
        session.execute(
            select(
                inv.token,
                func.coalesce(org.external_ref, vol.external_ref, con.external_ref),
                func.coalesce(org.name, vol.name, con.name),
                func.coalesce(org.contact_email, vol.contact_email, con.contact_email),
                func.coalesce(org.consent_email, vol.consent_email, con.consent_email),
                resp.status,
            )
            .outerjoin(org, org.id == inv.organisation_id)
            .outerjoin(vol, vol.id == inv.volunteer_id)
            .outerjoin(con, con.id == inv.contact_id)
            .outerjoin(resp, resp.invitation_id == inv.id)
            .where(
                inv.round_id == round_id,
                or_(org.id.is_not(None), vol.id.is_not(None), con.id.is_not(None)),
            )
            .where(org.opted_out_at.is_(None), vol.opted_out_at.is_(None))
            .where(con.opted_out_at.is_(None))
            .where(vol.erased_at.is_(None), con.erased_at.is_(None))
            .order_by(func.coalesce(org.name, vol.name, con.name), inv.id)
        ).all()
    )


def _audit(provider: ProviderRef, round_id: int, action: str, count: int) -> None:
    with writing() as session:
        found = owned(session, models.Round, round_id, provider.id)
        audit.record(
            session,
            action,
            user=current_user.user,
            provider_id=provider.id,
            subject=f"round {found.id} ({found.period_label})",
            details={"links": count},
        )


@bp.get("/<provider_slug>/rounds/<int:round_id>/links.csv")
@staff_required
def round_links(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Give the round's invitation links as CSV, one row per group (or volunteer), for a
    mail merge."""
    with reading() as session:
        found = owned(session, models.Round, round_id, provider.id)
        rows = _invitations(session, found.id)
        who = "volunteer" if asks_volunteers(found) else "organisation"
        if asks_contacts(found):
            who = "contact"
    _audit(provider, round_id, "round.export_links", len(rows))
    states = {None: "not started", "in_progress": "started", "completed": "completed"}
    return csv_download(
        f"round-{round_id}-links.csv",
        [f"{who}_ref", who, "email", "link", "telegram_link", "answered"],
        [
            (
                ref,
                name,
                email if consent and email else "",
                invitation_url(token),
                telegram_link(services(current_app).settings, token) or "",
                states.get(status, status),
            )
            for token, ref, name, email, consent, status in rows
        ],
    )


@bp.get("/<provider_slug>/rounds/<int:round_id>/qr")
@staff_required
def round_qr(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Show a printable page of QR codes: the open link, and each group's (or volunteer's)
    invitation."""
    with reading() as session:
        found = owned(session, models.Round, round_id, provider.id)
        rows = _invitations(session, found.id)
        codes = [
            {
                "name": name,
                "ref": ref,
                "url": invitation_url(token),
                "image": qr_image(invitation_url(token)),
            }
            for token, ref, name, _email, _consent, status in rows
            if status != "completed"
        ]
        open_link = open_link_url(found) if found.open_link else None
        page = render(
            "console/round_qr.html",
            section="rounds",
            round=found,
            survey_title=found.survey.title,
            codes=codes,
            who=_who(found),
            open_link=open_link,
            open_image=qr_image(open_link) if open_link else None,
        )
    _audit(provider, round_id, "round.print_links", len(codes))
    return page
