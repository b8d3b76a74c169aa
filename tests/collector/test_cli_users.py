"""`tempcheck users`: accounts from the command line, bad inputs refused with nothing saved."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import models, users
from tests.collector.conftest import Run

PASSWORD = "a long enough password"
TWICE = f"{PASSWORD}\n{PASSWORD}\n"


@pytest.fixture
def providers(session_factory: sessionmaker[Session]) -> None:
    """Two providers to belong to or fund."""
    with session_factory() as session, session.begin():
        session.add_all(
            [
                models.Provider(slug="harlow-cvs", name="Harlow CVS"),
                models.Provider(slug="brentwood-cvs", name="Brentwood CVS"),
            ]
        )


def _users(factory: sessionmaker[Session]) -> list[models.User]:
    with factory() as session:
        return list(session.scalars(select(models.User).order_by(models.User.email)))


def _events(factory: sessionmaker[Session]) -> list[models.AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(models.AuditEvent).order_by(models.AuditEvent.id)))


def test_add_asks_the_password_twice_hidden_and_stores_only_its_hash(
    run: Run, providers: None, session_factory: sessionmaker[Session]
) -> None:
    result = run(
        "users", "add", "Pat@Example.org", "--name", "Pat", "--role", "staff",
        "--provider", "harlow-cvs", input=TWICE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Added staff pat@example.org (harlow-cvs)." in result.output
    assert "Password:" in result.output and "Password again:" in result.output
    assert PASSWORD not in result.output  # never echoed
    [user] = _users(session_factory)
    assert (user.email, user.name, user.role, user.active) == (
        "pat@example.org",
        "Pat",
        "staff",
        True,
    )
    assert PASSWORD not in user.password_hash
    assert users.check_password(PASSWORD, user.password_hash)
    [event] = _events(session_factory)
    assert event.action == "user.add" and event.actor.startswith("command line (")
    assert event.provider_id == user.provider_id
    assert PASSWORD not in str(event.details) and PASSWORD not in (event.subject or "")


def test_a_funder_funds_the_providers_named_and_a_script_gives_the_password_on_stdin(
    run: Run, providers: None, session_factory: sessionmaker[Session]
) -> None:
    result = run(
        "users", "add", "funder@example.org", "--name", "Essex", "--role", "funder",
        "--funds", "harlow-cvs", "--funds", "brentwood-cvs,harlow-cvs", "--password-stdin",
        input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    assert "funds brentwood-cvs, harlow-cvs" in result.output
    with session_factory() as session:
        user = users.user_by_email(session, "funder@example.org")
        assert sorted(p.slug for p in user.funded) == ["brentwood-cvs", "harlow-cvs"]
        assert users.check_password(PASSWORD, user.password_hash)


@pytest.mark.parametrize(
    ("args", "typed", "message"),
    [
        (("--role", "staff", "--provider", "nowhere"), TWICE, "No provider called 'nowhere': "
         "known providers are brentwood-cvs, harlow-cvs"),
        (("--role", "staff"), TWICE, "A staff account belongs to a provider: name it"),
        (("--role", "admin", "--provider", "harlow-cvs"), TWICE,
         "Only staff belong to a provider, not admins"),
        (("--role", "funder"), TWICE, "A funder account needs the providers it funds"),
        (("--role", "funder", "--funds", "harlow-cvs,nowhere"), TWICE,
         "No provider called 'nowhere'"),
        (("--role", "admin"), "short\nshort\n", "A password must be at least 10 characters"),
        (("--role", "admin"), "password12\npassword12\n",
         "That password is too easy to guess: This is a very common password."),
        (("--role", "admin"), "aaaaaaaaaa\naaaaaaaaaa\n", "That password is too easy to guess"),
        (("--role", "admin"), f"{PASSWORD}\n{PASSWORD}x\n",
         "The two passwords do not match: nothing was saved"),
        (("--role", "admin"), "\n\n", "A password must be at least 10 characters"),
        (("--role", "admin", "--password-stdin"), "", "No password on standard input"),
    ],
)  # fmt: skip
def test_add_refuses_bad_input_with_a_message_and_saves_nothing(
    run: Run,
    providers: None,
    session_factory: sessionmaker[Session],
    args: tuple[str, ...],
    typed: str,
    message: str,
) -> None:
    result = run("users", "add", "new@example.org", "--name", "New", *args, input=typed)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert _users(session_factory) == [] and _events(session_factory) == []


def test_add_refuses_a_second_account_with_the_same_email_before_asking_a_password(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    first = run("users", "add", "a@example.org", "--name", "A", "--role", "admin", input=TWICE)
    assert first.exit_code == 0, first.output
    again = run("users", "add", "A@EXAMPLE.org", "--name", "B", "--role", "admin", input=TWICE)
    assert again.exit_code == 1
    assert "There is already an account for a@example.org" in again.output
    assert "Password" not in again.output
    assert [u.name for u in _users(session_factory)] == ["A"]
    bad = run("users", "add", "not-an-email", "--name", "B", "--role", "admin", input=TWICE)
    assert bad.exit_code == 1 and "'not-an-email' is not an email address" in bad.output


def test_list_shows_roles_what_each_sees_and_last_sign_in(
    run: Run, providers: None, session_factory: sessionmaker[Session]
) -> None:
    run("users", "add", "admin@example.org", "--name", "Ada", "--role", "admin", input=TWICE)
    run(
        "users", "add", "staff@example.org", "--name", "Sam", "--role", "staff",
        "--provider", "harlow-cvs", input=TWICE,
    )  # fmt: skip
    run(
        "users", "add", "funder@example.org", "--name", "Fay", "--role", "funder",
        "--funds", "harlow-cvs", input=TWICE,
    )  # fmt: skip
    with session_factory() as session, session.begin():
        assert users.authenticate(session, "admin@example.org", PASSWORD) is not None
    listed = run("users", "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == [
        "email", "name", "role", "provider", "/", "funds", "active", "last", "sign-in",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["admin@example.org"][:6] == ["admin@example.org", "Ada", "admin", "every",
                                              "provider", "yes"]  # fmt: skip
    assert rows["admin@example.org"][-1] != "never"  # a time
    assert rows["staff@example.org"] == [
        "staff@example.org", "Sam", "staff", "harlow-cvs", "yes", "never",
    ]  # fmt: skip
    assert rows["funder@example.org"] == [
        "funder@example.org", "Fay", "funder", "funds", "harlow-cvs", "yes", "never",
    ]  # fmt: skip


def _sign_in(factory: sessionmaker[Session]) -> str:
    """Sign the one account in, as the sign-in page does; give the session's token."""
    with factory() as session, session.begin():
        [user] = session.scalars(select(models.User)).all()
        return users.start_sign_in(session, user, hours=12)


def _signed_in(factory: sessionmaker[Session], token: str) -> bool:
    with factory() as session:
        return users.signed_in_user(session, token) is not None


def test_set_password_deactivate_and_activate_are_audited(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    run("users", "add", "a@example.org", "--name", "A", "--role", "admin", input=TWICE)
    token = _sign_in(session_factory)
    new = "another long password"
    changed = run("users", "set-password", "A@example.org", input=f"{new}\n{new}\n")
    assert changed.exit_code == 0 and "New password set for a@example.org" in changed.output
    assert "signed out everywhere" in changed.output
    assert new not in changed.output
    [user] = _users(session_factory)
    assert users.check_password(new, user.password_hash)
    assert _signed_in(session_factory, token) is False

    token = _sign_in(session_factory)
    off = run("users", "deactivate", "a@example.org")
    assert off.exit_code == 0 and "can no longer sign in" in off.output
    assert "signed out everywhere" in off.output
    assert _signed_in(session_factory, token) is False
    with session_factory() as session:
        assert users.authenticate(session, "a@example.org", new) is None
    again = run("users", "deactivate", "a@example.org")
    assert again.exit_code == 0 and "already deactivated: nothing changed" in again.output
    on = run("users", "activate", "a@example.org")
    assert on.exit_code == 0 and "may sign in again" in on.output
    assert _users(session_factory)[0].active is True
    actions = [e.action for e in _events(session_factory)]
    assert actions == ["user.add", "user.set_password", "user.deactivate", "user.activate"]


def test_set_password_refuses_bad_input_and_keeps_the_old_password(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    run("users", "add", "a@example.org", "--name", "A", "--role", "admin", input=TWICE)
    before = _users(session_factory)[0].password_hash
    for typed, message in [
        ("short one\nshort one\n", "at least 10 characters"),
        (" " * 10 + "\n" + " " * 10 + "\n", "too easy to guess"),
        ("a@example.org\na@example.org\n", "too easy to guess"),
        ("one long password\nanother long one\n", "The two passwords do not match"),
    ]:
        result = run("users", "set-password", "a@example.org", input=typed)
        assert result.exit_code == 1 and message in result.output
    unknown = run("users", "set-password", "who@example.org", input=TWICE)
    assert unknown.exit_code == 1 and "No account for who@example.org" in unknown.output
    missing = run("users", "deactivate", "who@example.org")
    assert missing.exit_code == 1 and "No account for who@example.org" in missing.output
    assert _users(session_factory)[0].password_hash == before
    assert [e.action for e in _events(session_factory)] == ["user.add"]


def test_no_command_takes_a_password_as_an_argument(run: Run) -> None:
    result = run("users", "add", "a@example.org", "--name", "A", "--role", "admin",
                 "--password", PASSWORD)  # fmt: skip
    assert result.exit_code == 2 and "No such option '--password'" in result.output


def test_the_audit_log_counts_one_event_per_change(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    run("users", "add", "a@example.org", "--name", "A", "--role", "admin", input=TWICE)
    run("users", "list")
    with session_factory() as session:
        assert session.scalar(select(func.count(models.AuditEvent.id))) == 1
