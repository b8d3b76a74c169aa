"""The audit log: who did what, in the caller's transaction, newest first."""

from __future__ import annotations

import getpass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, models, users
from tests.factories import make_provider


def test_an_event_names_the_user_by_email(session: Session) -> None:
    provider = make_provider(session)
    user = users.create_user(
        session,
        email="staff@example.org",
        name="Staff",
        password="a long enough password",
        role="staff",
        provider=provider,
    )
    event = audit.record(
        session,
        "round.open",
        user=user,
        provider_id=provider.id,
        subject="round 3 (2026/27 H1)",
        details={"invitations": 48},
    )
    session.commit()
    session.expire_all()
    stored = session.get(models.AuditEvent, event.id)
    assert stored is not None
    assert (stored.user_id, stored.actor, stored.action) == (user.id, user.email, "round.open")
    assert (stored.provider_id, stored.subject) == (provider.id, "round 3 (2026/27 H1)")
    assert stored.details == {"invitations": 48} and stored.at is not None


def test_without_a_user_the_actor_is_the_command_line_login(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "operator")
    assert audit.command_line_actor() == "command line (operator)"
    event = audit.record(session, "user.add")
    assert event.actor == "command line (operator)" and event.user_id is None
    assert audit.record(session, "x", actor="the dispatcher").actor == "the dispatcher"


def test_the_command_line_actor_survives_an_unknown_login(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_login() -> str:
        raise KeyError("uid not in passwd")

    monkeypatch.setattr(getpass, "getuser", no_login)
    assert audit.command_line_actor() == "command line (unknown)"


def test_an_event_stands_or_falls_with_its_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        audit.record(session, "round.close", actor="someone")
        session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count(models.AuditEvent.id))) == 0


def test_recent_gives_the_newest_first_and_filters_by_provider(session: Session) -> None:
    a, b = make_provider(session), make_provider(session)
    for n, provider in enumerate((a, b, a, None)):
        audit.record(
            session, f"action.{n}", actor="x", provider_id=provider.id if provider else None
        )
    assert [e.action for e in audit.recent(session)] == [
        "action.3",
        "action.2",
        "action.1",
        "action.0",
    ]
    assert [e.action for e in audit.recent(session, provider_id=a.id)] == ["action.2", "action.0"]
    assert [e.action for e in audit.recent(session, limit=1)] == ["action.3"]
