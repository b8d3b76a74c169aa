"""Accounts: scrypt hashes, signing in, and who may see and run which provider."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import models, users
from collector.errors import NotFound
from tests.factories import make_provider

PASSWORD = "correct horse battery"


def test_a_hash_is_salted_scrypt_and_checks_only_its_password() -> None:
    first = users.hash_password(PASSWORD)
    second = users.hash_password(PASSWORD)
    assert first.startswith("scrypt$32768$8$1$")
    assert first != second  # a new salt each time
    assert PASSWORD not in first
    assert users.check_password(PASSWORD, first) and users.check_password(PASSWORD, second)
    assert not users.check_password(PASSWORD + "!", first)
    assert not users.check_password("", first)


@pytest.mark.parametrize(
    "stored",
    ["", "plain-text", "bcrypt$1$2$3$abc$def", "scrypt$x$8$1$abc$def", "scrypt$32768$8$1$!!$??"],
)
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    assert users.check_password(PASSWORD, stored) is False


def _account(session: Session, role: str = "admin", **overrides: Any) -> models.User:
    values: dict[str, Any] = {
        "email": f"{role}@example.org",
        "name": f"A {role}",
        "password": PASSWORD,
        "role": role,
    }
    values.update(overrides)
    return users.create_user(session, **values)


def test_authenticate_takes_the_right_password_of_an_active_account(session: Session) -> None:
    user = _account(session, email="Pat@Example.org")
    assert user.email == "pat@example.org" and user.last_login_at is None
    assert users.authenticate(session, " PAT@example.org ", PASSWORD) is user
    assert user.last_login_at is not None


def test_authenticate_refuses_a_wrong_password_an_unknown_email_and_an_inactive_account(
    session: Session,
) -> None:
    user = _account(session)
    assert users.authenticate(session, user.email, "wrong password") is None
    assert users.authenticate(session, "nobody@example.org", PASSWORD) is None
    user.active = False
    assert users.authenticate(session, user.email, PASSWORD) is None
    assert user.last_login_at is None


def test_set_password_replaces_the_old_one_and_refuses_a_short_one(session: Session) -> None:
    user = _account(session)
    users.set_password(session, user, "a brand new password")
    assert users.authenticate(session, user.email, "a brand new password") is user
    assert users.authenticate(session, user.email, PASSWORD) is None
    before = user.password_hash
    with pytest.raises(users.UserError, match="at least 10 characters"):
        users.set_password(session, user, "short")
    assert user.password_hash == before


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
        ("password12", "This is a very common password."),
        (" " * 10, 'Repeats like "aaa" are easy to guess.'),
        ("qwertyuiop", "This is a top-100 common password."),
        ("1234567890", ""),
        ("Password1!", ""),
        ("harriet quill", ""),  # the account's own name
        ("harriet.quill@example.org", ""),  # its email address
    ],
)
def test_a_common_or_guessable_password_is_refused_with_advice(
    session: Session, password: str, why: str
) -> None:
    with pytest.raises(users.UserError) as refused:
        users.create_user(
            session,
            email="harriet.quill@example.org",
            name="Harriet Quill",
            password=password,
            role="admin",
        )
    message = refused.value.message
    assert message.startswith("That password is too easy to guess: ")
    assert why in message
    assert "Three or four words nobody would put together make a strong password." in message
    assert password.strip() == "" or password not in message  # never echoed
    assert session.scalar(select(func.count(models.User.id))) == 0
    # The same rule holds for a new password.
    user = _account(session, email="harriet.quill@example.org", name="Harriet Quill")
    before = user.password_hash
    with pytest.raises(users.UserError, match="too easy to guess"):
        users.set_password(session, user, password)
    assert user.password_hash == before


def test_a_password_longer_than_sign_in_reads_is_refused(session: Session) -> None:
    long = "correct horse battery staple " * 40
    with pytest.raises(users.UserError, match="at most 1024 characters"):
        _account(session, password=long[: users.MAX_PASSWORD_LENGTH + 1])
    assert _account(session, password=long[: users.MAX_PASSWORD_LENGTH]).id


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD,
        "correct horse battery staple",  # the console personas' (tests/forms/people.py)
        "a long enough password",  # the command-line tests'
        "a new password 2",
        "Tr0ub4dor&3-plus",
    ],
)
def test_a_strong_password_passes(session: Session, password: str) -> None:
    users.check_password_strength(password, personal=["pat@example.org", "Pat Lee"])
    assert users.check_password(password, _account(session, password=password).password_hash)


def test_the_demo_s_random_passwords_pass() -> None:
    for _ in range(200):
        users.check_password_strength(secrets.token_urlsafe(12))  # as collector.cli.demo makes them


def _sign_ins(session: Session, user: models.User) -> int:
    return int(
        session.scalar(select(func.count(models.SignIn.id)).where(models.SignIn.user_id == user.id))
        or 0
    )


def test_a_sign_in_opens_until_it_ends_or_expires(session: Session) -> None:
    user = _account(session)
    first = users.start_sign_in(session, user, hours=12)
    second = users.start_sign_in(session, user, hours=12)
    assert first != second and len(first) >= 43  # 256 random bits
    assert users.signed_in_user(session, first) is user
    assert users.signed_in_user(session, "") is None
    assert users.signed_in_user(session, first + "x") is None
    # Only a hash of the token is stored.
    stored = session.scalars(select(models.SignIn.token_hash)).all()
    assert first not in stored and second not in stored

    users.end_sign_in(session, first)
    assert users.signed_in_user(session, first) is None
    assert users.signed_in_user(session, second) is user  # the other browser stays in

    expired = users.start_sign_in(session, user, hours=0)
    assert users.signed_in_user(session, expired) is None


def test_a_new_password_and_deactivation_end_every_sign_in(session: Session) -> None:
    user = _account(session)
    tokens = [users.start_sign_in(session, user, hours=12) for _ in range(2)]
    other = _account(session, "funder", funded=[make_provider(session)])
    kept = users.start_sign_in(session, other, hours=12)

    users.set_password(session, user, "a brand new password")
    assert [users.signed_in_user(session, t) for t in tokens] == [None, None]
    assert _sign_ins(session, user) == 0
    assert users.signed_in_user(session, kept) is other

    token = users.start_sign_in(session, user, hours=12)
    users.deactivate(session, user)
    assert users.signed_in_user(session, token) is None and not user.active
    assert _sign_ins(session, user) == 0 and _sign_ins(session, other) == 1


def test_user_by_email_ignores_case_and_says_when_there_is_none(session: Session) -> None:
    user = _account(session)
    assert users.user_by_email(session, "ADMIN@example.org") is user
    with pytest.raises(NotFound, match="No account for someone@example.org"):
        users.user_by_email(session, "someone@example.org")


@pytest.fixture
def personas(session: Session) -> dict[str, Any]:
    """Three providers and one account of each kind: admin, staff of A, funder of A and B."""
    a, b, c = (make_provider(session) for _ in range(3))
    accounts = {
        "admin": _account(session, "admin"),
        "staff": _account(session, "staff", provider=a),
        "funder": _account(session, "funder", funded=[a, b]),
    }
    return {"providers": (a, b, c), **accounts}


@pytest.mark.parametrize(
    ("role", "sees", "runs"),
    [
        ("admin", (True, True, True), (True, True, True)),
        ("staff", (True, False, False), (True, False, False)),
        ("funder", (True, True, False), (False, False, False)),
    ],
)
def test_who_may_see_and_run_each_provider(
    session: Session,
    personas: dict[str, Any],
    role: str,
    sees: tuple[bool, ...],
    runs: tuple[bool, ...],
) -> None:
    user = personas[role]
    providers = personas["providers"]
    assert tuple(users.can_see(user, p.id) for p in providers) == sees
    assert tuple(users.can_run(user, p.id) for p in providers) == runs
    visible = users.visible_provider_ids(session, user)
    assert visible == sorted(p.id for p, seen in zip(providers, sees, strict=True) if seen)
    user.active = False
    assert not any(users.can_see(user, p.id) or users.can_run(user, p.id) for p in providers)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "not-an-email"}, "'not-an-email' is not an email address"),
        ({"role": "owner"}, "Unknown role 'owner': use one of admin, staff, funder"),
        ({"role": "staff"}, "A staff account belongs to a provider: name it"),
        ({"role": "admin", "provider": True}, "Only staff belong to a provider, not admins"),
        ({"role": "funder"}, "A funder account needs the providers it funds"),
        ({"role": "staff", "provider": True, "funded": True}, "Only funder accounts fund"),
        ({"name": "  "}, "Give the account a name"),
        ({"password": "too short"}, "A password must be at least 10 characters"),
        ({"email": "TAKEN@example.org"}, "There is already an account for taken@example.org"),
    ],
)
def test_create_user_refuses_bad_accounts_and_saves_nothing(
    session: Session, overrides: dict[str, Any], message: str
) -> None:
    provider = make_provider(session)
    _account(session, email="taken@example.org")
    values: dict[str, Any] = {"email": "new@example.org", "name": "New", "role": "admin"}
    values.update(overrides)
    if values.get("provider") is True:
        values["provider"] = provider
    if values.get("funded") is True:
        values["funded"] = [provider]
    with pytest.raises(users.UserError) as refused:
        users.create_user(session, password=values.pop("password", PASSWORD), **values)
    assert message in refused.value.message
    assert session.scalar(select(func.count(models.User.id))) == 1


def test_staff_and_funders_keep_their_providers(session: Session) -> None:
    a, b = make_provider(session), make_provider(session)
    staff = _account(session, "staff", provider=a)
    funder = _account(session, "funder", funded=[a, b])
    session.commit()
    session.expire_all()
    assert staff.provider_id == a.id and staff.funded == []
    assert funder.provider_id is None and {p.id for p in funder.funded} == {a.id, b.id}
    links = session.scalars(select(models.FunderProvider.provider_id)).all()
    assert sorted(links) == sorted([a.id, b.id])
