"""The console's outbox (failed messages, masked, and retrying them), the audit log for
admins, and the funder pages (rounds and rates, no names)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, db, models
from collector.models import utcnow
from forms.console.pages import mask_address
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona, audit_actions

OUTBOX = "/console/alpha-cvs/outbox"


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


def message(sessions: sessionmaker[Session], message_id: int) -> models.OutboxMessage:
    """Give an outbox row as stored now."""
    with sessions() as session:
        found = session.get(models.OutboxMessage, message_id)
        assert found is not None
        session.expunge(found)
        return found


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("group@example.org", "g•••@example.org"),
        ("x@example.org", "x•••@example.org"),
        ("123456789", "12•••"),
        ("ab", "•••"),
    ],
)
def test_addresses_are_masked(address: str, shown: str) -> None:
    assert mask_address(address) == shown


def test_the_outbox_shows_counts_and_failures_without_the_whole_address(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    failed = message(session_factory, world.a.failed_message)

    staff.get(OUTBOX)

    assert "550 mailbox unavailable" in staff.text
    assert failed.recipient not in staff.text
    assert mask_address(failed.recipient) in staff.text
    assert '<span class="tempcheck-stat__number">1</span> failed' in staff.text
    assert '<span class="tempcheck-stat__number">1</span> waiting' in staff.text
    # Provider B's failure is not shown to A: one row, one retry button, A's message.
    assert staff.text.count("/retry") == 1
    assert f"/outbox/{world.a.failed_message}/retry" in staff.text


def test_retrying_a_failed_message_queues_it_again_and_is_audited(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff.get(OUTBOX)

    staff.post(f"{OUTBOX}/{world.a.failed_message}/retry")

    assert "The message will be sent again shortly." in staff.text
    retried = message(session_factory, world.a.failed_message)
    assert (retried.status, retried.attempts) == ("pending", 0)
    assert audit_actions(session_factory)[-1] == "outbox.retry"
    assert "No messages have failed." in staff.text

    # Pressing again (an old page) does nothing more.
    staff.post(f"{OUTBOX}/{world.a.failed_message}/retry")
    assert "nothing to retry" in staff.text
    assert audit_actions(session_factory).count("outbox.retry") == 1


@pytest.mark.parametrize("why", ["closed", "opted_out"])
def test_a_message_for_a_closed_round_or_an_opted_out_group_is_not_retried(
    staff: Browser, world: World, session_factory: sessionmaker[Session], why: str
) -> None:
    with db.transaction(session_factory) as session:
        row = session.get(models.OutboxMessage, world.a.failed_message)
        assert row is not None and row.invitation_id is not None
        if why == "closed":
            found = session.get(models.Round, row.round_id)
            assert found is not None
            found.status = "closed"
        else:
            invitation = session.get(models.Invitation, row.invitation_id)
            assert invitation is not None and invitation.organisation is not None
            invitation.organisation.opted_out_at = utcnow()
    staff.get(OUTBOX)

    staff.post(f"{OUTBOX}/{world.a.failed_message}/retry")

    assert "was not retried" in staff.text
    assert message(session_factory, world.a.failed_message).status == "failed"
    assert "outbox.retry" not in audit_actions(session_factory)


def test_admins_read_the_audit_log_newest_first_and_by_provider(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        audit.record(session, "round.open", actor="first@example.org", provider_id=world.a.id)
        audit.record(session, "round.close", actor="second@example.org", provider_id=world.b.id)
    admin = as_persona(Browser(app.test_client()), world, "admin")

    admin.get("/console/audit")

    assert admin.text.index("second@example.org") < admin.text.index("first@example.org")
    assert "Beta CVS" in admin.text
    admin.get("/console/audit?provider=alpha-cvs")
    assert "first@example.org" in admin.text and "second@example.org" not in admin.text


def test_the_funder_sees_rounds_and_rates_but_no_group_names(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    funder = as_persona(Browser(app.test_client()), world, "funder_a")
    assert funder.path == "/funder/"
    assert "Alpha CVS" in funder.text and "Beta CVS" not in funder.text

    funder.get("/funder/alpha-cvs")

    assert "2026/27 H1" in funder.text
    assert "0%" in funder.text
    assert "2027/28 H1" not in funder.text  # a draft is not shown
    with session_factory() as session:
        names = session.scalars(
            select(models.Organisation.name).where(models.Organisation.provider_id == world.a.id)
        ).all()
    assert names and not any(name in funder.text for name in names)
    assert "Organisations" not in funder.text and "Outbox" not in funder.text
