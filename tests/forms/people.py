"""Personas for the console tests: two providers with rows of their own, and one account per
role, each signed in through the real sign-in page."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, selfeval, users
from collector.models import utcnow
from tests.factories import (
    make_contact,
    make_enquiry,
    make_organisation,
    make_placement,
    make_provider,
    make_round,
)
from tests.forms.conftest import Browser

PASSWORD = "correct horse battery staple"
PERSONAS = ("anonymous", "admin", "staff_a", "staff_b", "funder_a", "funder_other")


@dataclass
class Side:
    """One provider and a row of each kind that belongs to it."""

    id: int
    slug: str
    organisation: int
    open_round: int
    draft_round: int
    failed_message: int
    volunteer: int = 0
    placement: int = 0
    contact: int = 0
    evaluation: int = 0  # a closed, published self-evaluation (issue 16)
    action: int = 0  # an action of its plan


@dataclass
class World:
    """Providers A and B (and C, funded by the funder of neither), and who signs in."""

    a: Side
    b: Side
    emails: dict[str, str] = field(default_factory=dict)


@functools.cache
def password_hash() -> str:
    """Hash the personas' password once per worker, at a lower scrypt cost than production's.

    A password is checked at the cost written in its hash. The personas sign in hundreds of
    times, and at production's N=2^15 (about 80 ms a check) that alone took minutes; the hash
    has the same form and goes through the same check, with N=2^10.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(users._SCRYPT, "n", 2**10)
        return users.hash_password(PASSWORD)


def _side(session: Session, slug: str, name: str) -> Side:
    provider = make_provider(session, slug=slug, name=name)
    organisation = make_organisation(session, provider, name=f"{name} Lunch Club")
    make_organisation(session, provider, name=f"{name} Youth Club", org_type="faith_group")
    open_round = make_round(session, provider, audience={})
    draft = make_round(session, provider, open_now=False, period_label="2027/28 H1")
    message = session.scalars(
        select(models.OutboxMessage)
        .where(models.OutboxMessage.round_id == open_round.id)
        .order_by(models.OutboxMessage.id)
    ).first()
    assert message is not None
    message.status, message.attempts, message.last_error = "failed", 5, "550 mailbox unavailable"
    session.flush()
    placement = make_placement(session, provider, organisation=organisation)
    make_enquiry(session, provider, volunteer=placement.volunteer)
    contact = make_contact(session, provider)
    evaluation, action = _self_evaluation(session, provider)
    return Side(
        provider.id,
        slug,
        organisation.id,
        open_round.id,
        draft.id,
        message.id,
        placement.volunteer_id,
        placement.id,
        contact.id,
        evaluation,
        action,
    )


def _self_evaluation(session: Session, provider: models.Provider) -> tuple[int, int]:
    """Add a closed and published self-evaluation with one action: no invitations, so the
    other rows (rounds' messages, answers) stay as they were."""
    opens = utcnow() - timedelta(days=60)
    round_ = selfeval.create(
        session,
        provider=provider,
        period_label="2025/26 self-evaluation",
        opens_at=opens,
        closes_at=opens + timedelta(days=30),
    )
    round_.status, round_.opened_at, round_.closed_at = "closed", opens, opens + timedelta(days=30)
    selfeval.publish(
        session,
        round_,
        by="staff@example.org",
        pdf=b"%PDF-1.7 a report",
        now=opens + timedelta(days=31),
    )
    action = selfeval.add_action(
        session,
        round_,
        selfeval.ActionInput(
            question_id="str_communication",
            text="Agree a communication strategy",
            owner="Head of Partnerships",
            due_on=(opens + timedelta(days=90)).date(),
        ),
        by="staff@example.org",
    )
    return selfeval.require(session, round_.id).id, action.id


def build_world(sessions: sessionmaker[Session]) -> World:
    """Add providers A, B and C with their rows, and one account per role."""
    with db.transaction(sessions) as session:
        a = _side(session, "alpha-cvs", "Alpha CVS")
        b = _side(session, "beta-cvs", "Beta CVS")
        c = make_provider(session, slug="gamma-cvs", name="Gamma CVS")
        provider_a = session.get(models.Provider, a.id)
        provider_b = session.get(models.Provider, b.id)
        world = World(a, b)
        for persona, role, provider, funded in (
            ("admin", "admin", None, []),
            ("staff_a", "staff", provider_a, []),
            ("staff_b", "staff", provider_b, []),
            ("funder_a", "funder", None, [provider_a]),
            ("funder_other", "funder", None, [c]),
        ):
            email = f"{persona.replace('_', '.')}@example.org"
            # As `users.create_user` makes them, with the one hash computed once.
            session.add(
                models.User(
                    email=email,
                    name=persona.replace("_", " ").title(),
                    password_hash=password_hash(),
                    role=role,
                    provider=provider,
                    funded=list(funded),
                    active=True,
                )
            )
            world.emails[persona] = email
    return world


def sign_in(browser: Browser, email: str, password: str = PASSWORD, next_: str = "") -> None:
    """Sign in through the sign-in page."""
    browser.get("/login" + (f"?next={next_}" if next_ else ""))
    browser.post("/login", {"email": email, "password": password, "next": next_})


def as_persona(browser: Browser, world: World, persona: str) -> Browser:
    """Sign the browser in as the persona (or leave it anonymous)."""
    if persona != "anonymous":
        sign_in(browser, world.emails[persona])
        assert "Sign out" in browser.text, f"{persona} could not sign in"
    return browser


def user_row(sessions: sessionmaker[Session], email: str) -> models.User:
    """Give an account's row as stored now."""
    with sessions() as session:
        user = session.scalars(select(models.User).where(models.User.email == email)).one()
        session.expunge(user)
        return user


def audit_actions(sessions: sessionmaker[Session]) -> list[str]:
    """List the audit log's actions, oldest first."""
    with sessions() as session:
        return list(
            session.scalars(select(models.AuditEvent.action).order_by(models.AuditEvent.id))
        )
