"""`tempcheck api`: tokens made, listed (never shown again), revoked; bad input refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from collector import apitokens, models, users
from tests.factories import make_provider


def test_tokens_are_made_shown_once_listed_and_revoked(run: Any, session_factory: Any) -> None:
    with session_factory() as session:
        provider = make_provider(session, slug="alpha-cvs")
        users.create_user(
            session,
            email="funder@example.org",
            name="Funder",
            password="a long pass phrase 42!",
            role="funder",
            funded=[provider],
        )
        session.commit()
    made = run("api", "create-token", "--name", "council dashboard", "--provider", "alpha-cvs")
    assert made.exit_code == 0, made.output
    token = made.output.split(": ")[1].split()[0]
    assert token.startswith("tc_") and len(token) == 46
    funder = run("api", "create-token", "--name", "funder sync", "--funder", "funder@example.org")
    assert funder.exit_code == 0, funder.output
    with session_factory() as session:
        scope = apitokens.authenticate(session, token)
        assert scope is not None and scope.role == "staff" and scope.free_text
        stored = session.scalars(select(models.ApiToken)).all()
        assert len(stored) == 2 and all(token not in t.token_hash for t in stored)
        actions = session.scalars(select(models.AuditEvent.action)).all()
        assert actions.count("api.token_create") == 2
        details = " ".join(str(e.details) for e in session.scalars(select(models.AuditEvent)))
        assert token not in details

    listed = run("api", "tokens")
    assert "council dashboard" in listed.output and token[:10] in listed.output
    assert token not in listed.output and "active" in listed.output

    revoked = run("api", "revoke", "1")
    assert revoked.exit_code == 0 and "Revoked API token 1" in revoked.output
    with session_factory() as session:
        assert apitokens.authenticate(session, token) is None
    assert "revoked" in run("api", "tokens").output


def test_bad_token_requests_are_refused(run: Any, session_factory: Any) -> None:
    with session_factory() as session:
        make_provider(session, slug="alpha-cvs")
        users.create_user(
            session,
            email="staff@example.org",
            name="Staff",
            password="a long pass phrase 42!",
            role="staff",
            provider=session.scalars(select(models.Provider)).one(),
        )
        session.commit()
    for args, message in (
        (["--name", "x"], "Give one of --provider SLUG"),
        (["--name", "x", "--provider", "alpha-cvs", "--funder", "a@b.org"], "Give one of"),
        (["--name", "x", "--provider", "nope"], "nope"),
        (["--name", "x", "--funder", "nobody@example.org"], "No account nobody@example.org"),
        (["--name", "x", "--funder", "staff@example.org"], "is not a funder's account"),
        (["--name", " ", "--provider", "alpha-cvs"], "Give the token a name"),
    ):
        result = run("api", "create-token", *args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    missing = run("api", "revoke", "42")
    assert missing.exit_code == 1 and "No API token 42" in missing.output
    assert "No API tokens yet" in run("api", "tokens").output


def test_webhooks_are_added_listed_and_removed(run: Any, session_factory: Any) -> None:
    with session_factory() as session:
        make_provider(session, slug="alpha-cvs")
        session.commit()
    added = run(
        "api",
        "add-webhook",
        "https://example.org/hook",
        "--events",
        "round.closed,response.completed",
        "--provider",
        "alpha-cvs",
    )
    assert added.exit_code == 0, added.output
    secret = added.output.split("signing secret: ")[1].split()[0]
    assert secret.startswith("whsec_")
    listed = run("api", "webhooks")
    assert "https://example.org/hook" in listed.output and secret not in listed.output
    bad = run(
        "api",
        "add-webhook",
        "http://example.org/x",
        "--events",
        "round.closed",
        "--provider",
        "alpha-cvs",
    )
    assert bad.exit_code == 1 and "must be HTTPS" in bad.output
    assert run("api", "remove-webhook", "1").exit_code == 0
    assert "removed" in run("api", "webhooks").output
    missing = run("api", "remove-webhook", "7")
    assert missing.exit_code == 1 and "No webhook 7" in missing.output
    with session_factory() as session:
        actions = session.scalars(select(models.AuditEvent.action)).all()
        assert actions.count("api.webhook_add") == 1 and "api.webhook_remove" in actions
