"""`tempcheck users link-telegram`: a one-time code for the bot's /link, never logged."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.delivery import chats
from tests.collector.conftest import Run

PASSWORD = "a long enough password"
TWICE = f"{PASSWORD}\n{PASSWORD}\n"
CODE = re.compile(r"/link ([A-Z0-9]{8})\b")


def _add_admin(run: Run, email: str = "ada@example.org") -> None:
    added = run("users", "add", email, "--name", "Ada", "--role", "admin", input=TWICE)
    assert added.exit_code == 0, added.output


def test_prints_a_code_that_links_a_chat_once_and_is_audited_without_it(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    _add_admin(run)
    result = run("users", "link-telegram", "Ada@Example.org")
    assert result.exit_code == 0, result.output
    match = CODE.search(result.output)
    assert match, result.output
    code = match.group(1)
    assert "works once, until" in result.output and "UK time" in result.output
    with session_factory() as session, session.begin():
        user = chats.redeem_link_code(session, 4242, code)
        assert user is not None and user.email == "ada@example.org"
        # Used up: a second chat cannot use it.
        assert chats.redeem_link_code(session, 4343, code) is None
        assert chats.user_for_chat(session, 4242) == user
        events = session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.action == "user.telegram_code")
        ).all()
        assert len(events) == 1
        logged = json.dumps([events[0].subject, events[0].details, events[0].actor])
        assert code not in logged and "ada@example.org" in logged


def test_names_the_bot_when_its_username_is_set(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "tempcheck_test_bot")
    _add_admin(run)
    result = run("users", "link-telegram", "ada@example.org")
    assert result.exit_code == 0
    assert "send the bot @tempcheck_test_bot this message: /link " in result.output


def test_a_new_code_replaces_the_old_one(run: Run, session_factory: sessionmaker[Session]) -> None:
    _add_admin(run)
    first = CODE.search(run("users", "link-telegram", "ada@example.org").output)
    second = CODE.search(run("users", "link-telegram", "ada@example.org").output)
    assert first and second and first.group(1) != second.group(1)
    with session_factory() as session, session.begin():
        assert chats.redeem_link_code(session, 1, first.group(1)) is None
        assert chats.redeem_link_code(session, 1, second.group(1)) is not None


def test_unknown_and_deactivated_accounts_get_no_code(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    unknown = run("users", "link-telegram", "who@example.org")
    assert unknown.exit_code == 1 and "No account for who@example.org" in unknown.output
    _add_admin(run)
    assert run("users", "deactivate", "ada@example.org").exit_code == 0
    off = run("users", "link-telegram", "ada@example.org")
    assert off.exit_code == 1 and "is deactivated" in off.output
    assert not CODE.search(off.output)
    with session_factory() as session:
        user = session.scalar(select(models.User))
        assert user is not None and user.telegram_code_hash is None
        actions = session.scalars(select(models.AuditEvent.action)).all()
        assert "user.telegram_code" not in actions
