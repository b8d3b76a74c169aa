"""Opting out from an invitation's link: a group that no longer wants to be asked.

Every invitation and reminder email links to `/r/<token>/opt-out`: a page that says who is
asking and what opting out means, with a button (a CSRF-protected form). Mail programs that
offer "unsubscribe" use the List-Unsubscribe header instead: a POST to `/r/<token>/unsubscribe`
with the body `List-Unsubscribe=One-Click` (RFC 8058), which carries no CSRF token because it
comes from the mail program, not from our page; the token in the address is the secret.

Opting out stops every invitation and reminder from the provider to the group; answers it
already gave are kept. Staff see it in the console and the audit log, and can opt it back in.
A volunteer's placement follow-up links to the same pages: the volunteer opts out of follow-ups
(audited by the volunteer's number, never their name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, contacts, db, models, organisations
from collector.delivery import ratelimits
from collector.errors import NotFound
from collector.models import utcnow
from collector.rounds import looks_like_token
from collector.volunteering import followups
from forms import csrf, services
from forms.errors import Message, TooManyAttempts, render_message
from forms.respond import BAD_LINKS, Frame, Visit
from forms.security import client_key
from forms.text import Words

bp = Blueprint("optout", __name__)

ONE_CLICK = "One-Click"
# Who did it, as the audit log shows it (the group has no account).
ACTOR = "the group, by its opt-out link"
VOLUNTEER_ACTOR = "the volunteer, by their opt-out link"
CONTACT_ACTOR = "the contact, by their opt-out link"


def _invitation(session: Session, token: str) -> models.Invitation | None:
    if not looks_like_token(token):
        return None
    invitation = session.scalar(select(models.Invitation).where(models.Invitation.token == token))
    if invitation is None or invitation.recipient is None:
        return None
    return invitation


def _frame(invitation: models.Invitation, token: str) -> Frame:
    """Give the survey's frame for the page, without the language switch (English only)."""
    frame = Visit("r", token, invitation.round, invitation, None).frame(named=True)
    return replace(frame, language="en", languages=("en",))


def _with_invitation(
    token: str, work: Callable[[Session, models.Invitation], ResponseReturnValue]
) -> ResponseReturnValue:
    """Do the work for the invitation with this token in one transaction; an unknown token is
    counted against the client's bad-link limit and answered "not valid", after the commit."""
    outcome: ResponseReturnValue | None = None
    with db.transaction(services(current_app).sessions) as session:
        invitation = _invitation(session, token)
        if invitation is None:
            client = client_key()
            if ratelimits.exceeded(session, BAD_LINKS, client):
                raise TooManyAttempts(
                    BAD_LINKS.retry_after(utcnow()),
                    "There have been too many attempts with links that are not valid from "
                    "your connection.",
                )
            ratelimits.hit(session, BAD_LINKS, client)
        else:
            outcome = work(session, invitation)
    if outcome is None:
        raise NotFound("This link is not valid", code="bad_link")
    return outcome


def _opt_out(session: Session, invitation: models.Invitation, via: str) -> None:
    volunteer = invitation.volunteer
    if volunteer is not None:
        if volunteer.opted_out_at is not None:
            return
        cancelled = followups.opt_out_volunteer(session, volunteer)
        audit.record(
            session,
            "volunteer.opt_out",
            actor=VOLUNTEER_ACTOR,
            provider_id=volunteer.provider_id,
            subject=f"volunteer {volunteer.id}",
            details={"via": via, "cancelled": cancelled, "round_id": invitation.round_id},
        )
        return
    contact = invitation.contact
    if contact is not None:
        if contact.opted_out_at is not None:
            return
        cancelled = contacts.opt_out(session, contact)
        audit.record(
            session,
            "contact.opt_out",
            actor=CONTACT_ACTOR,
            provider_id=contact.provider_id,
            subject=contacts.subject(contact),
            details={"via": via, "cancelled": cancelled, "round_id": invitation.round_id},
        )
        return
    organisation = invitation.organisation
    assert organisation is not None
    if organisation.opted_out_at is not None:
        return  # once is enough: a second click changes nothing and logs nothing
    cancelled = organisations.opt_out(session, organisation)
    audit.record(
        session,
        "organisation.opt_out",
        actor=ACTOR,
        provider_id=organisation.provider_id,
        subject=f"organisation {organisation.external_ref} ({organisation.name})"[:200],
        details={"via": via, "cancelled": cancelled, "round_id": invitation.round_id},
    )


@bp.get("/r/<token>/opt-out")
def confirm(token: str) -> ResponseReturnValue:
    """Say who is asking and what opting out means, and offer the button (or say it is done)."""

    def work(session: Session, invitation: models.Invitation) -> ResponseReturnValue:
        frame = _frame(invitation, token)
        recipient = invitation.recipient
        assert recipient is not None
        template = "optout/confirm.html"
        if recipient.opted_out_at is not None:
            template = "optout/done.html"
        return render_template(
            template,
            frame=frame,
            t=Words("en"),
            page="opt-out",
            volunteer=invitation.volunteer is not None or invitation.contact is not None,
            contact=invitation.contact is not None,
        )

    return _with_invitation(token, work)


@bp.post("/r/<token>/opt-out")
def opt_out(token: str) -> ResponseReturnValue:
    """Opt the group out (the form on the confirmation page), then show that it is done."""

    def work(session: Session, invitation: models.Invitation) -> ResponseReturnValue:
        _opt_out(session, invitation, "opt-out page")
        return redirect(url_for("optout.confirm", token=token), 303)

    return _with_invitation(token, work)


@bp.post("/r/<token>/unsubscribe")
@csrf.exempt
def one_click(token: str) -> ResponseReturnValue:
    """Opt the group out from its mail program's unsubscribe button (RFC 8058 one-click)."""
    if request.form.get("List-Unsubscribe") != ONE_CLICK:
        # Not a mail program's one-click request: a person belongs on the page with the button.
        return render_message(
            Message(
                "Use the link in the email to stop being asked",
                ["This address only takes one-click unsubscribe requests from mail programs."],
                400,
                link=(url_for("optout.confirm", token=token), "Stop being asked"),
            )
        )

    def work(session: Session, invitation: models.Invitation) -> ResponseReturnValue:
        _opt_out(session, invitation, "one-click unsubscribe")
        recipient = invitation.recipient
        assert recipient is not None
        provider = invitation.round.provider.name
        person = invitation.volunteer is not None or invitation.contact is not None
        whom = "you" if person else recipient.name
        return render_message(
            Message(
                "You will not be asked again",
                [f"{provider} will not send {whom} any more surveys."],
            )
        )

    return _with_invitation(token, work)


@bp.get("/r/<token>/unsubscribe")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """Send a person who opened the unsubscribe address to the page with the button."""
    return redirect(url_for("optout.confirm", token=token), 303)
