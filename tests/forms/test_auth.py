"""Signing in and out: right and wrong passwords, disabled accounts, limits, where `next` may
send someone, signing out, and sessions that stop working."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, users
from collector.delivery import ratelimits
from forms import auth
from tests.forms.conftest import Browser
from tests.forms.people import PASSWORD, World, sign_in, user_row


def signed_in_as(browser: Browser) -> str | None:
    """Give the name in the console header, or None when the console asks to sign in."""
    page = browser.client.get("/console/")
    if page.status_code == 302 and "/login" in page.headers["Location"]:
        return None
    assert page.status_code in (200, 303), page.status_code
    browser.get("/console/")
    start = browser.text.index('class="tempcheck-account__name">') + 32
    return browser.text[start : browser.text.index("<", start)]


def test_staff_sign_in_and_land_on_their_provider_s_rounds(
    browser: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    assert user_row(session_factory, world.emails["staff_a"]).last_login_at is None

    sign_in(browser, "  Staff.A@Example.org ", PASSWORD)

    assert browser.path == "/console/alpha-cvs/rounds"
    assert "Alpha CVS" in browser.text and "Sign out" in browser.text
    assert signed_in_as(browser) == "Staff A"
    assert user_row(session_factory, world.emails["staff_a"]).last_login_at is not None


@pytest.mark.parametrize(
    ("persona", "lands"),
    [("admin", "/console/"), ("funder_a", "/funder/"), ("staff_b", "/console/beta-cvs/rounds")],
)
def test_each_role_lands_on_its_own_start_page(
    browser: Browser, world: World, persona: str, lands: str
) -> None:
    sign_in(browser, world.emails[persona])
    assert browser.path == lands


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("staff.a@example.org", "wrong password here"),
        ("nobody@example.org", PASSWORD),
        ("nobody@example.org", "wrong password here"),
    ],
    ids=["wrong-password", "unknown-email", "both-wrong"],
)
def test_a_wrong_email_or_password_gets_one_message_that_tells_neither(
    browser: Browser, world: World, email: str, password: str
) -> None:
    sign_in(browser, email, password)

    assert browser.page is not None and browser.page.status_code == 200
    assert browser.path == "/login"
    assert "The email address or password is not right" in browser.text
    assert 'href="#email"' in browser.text  # the error summary links to the field
    assert browser.text.count("The email address or password is not right") == 2
    assert "no account" not in browser.text.lower()
    assert signed_in_as(browser) is None


def test_the_pages_for_a_wrong_password_and_an_unknown_email_are_the_same(
    app: Flask, world: World
) -> None:
    pages = []
    for email in ("staff.a@example.org", "nobody.at.all@example.org"):
        browser = Browser(app.test_client())
        sign_in(browser, email, "wrong password here")
        text = re.sub(r'nonce="[^"]+"', "NONCE", browser.text)
        pages.append(text.replace(browser.csrf(), "CSRF").replace(email, "EMAIL"))
    assert pages[0] == pages[1]


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", PASSWORD, "Enter your email address"),
        ("staff.a@example.org", "", "Enter your password"),
    ],
)
def test_an_empty_field_is_named(
    browser: Browser, world: World, email: str, password: str, message: str
) -> None:
    sign_in(browser, email, password)
    assert message in browser.text
    assert "There is a problem" in browser.text
    assert browser.text.startswith("<!DOCTYPE html>")
    assert "<title>Error: Sign in" in browser.text
    assert signed_in_as(browser) is None


def test_a_disabled_account_cannot_sign_in(
    browser: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        users.user_by_email(session, world.emails["staff_a"]).active = False

    sign_in(browser, world.emails["staff_a"])

    assert "The email address or password is not right" in browser.text
    assert signed_in_as(browser) is None
    assert user_row(session_factory, world.emails["staff_a"]).last_login_at is None


def test_disabling_an_account_signs_it_out(
    browser: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    sign_in(browser, world.emails["staff_a"])
    assert signed_in_as(browser) == "Staff A"
    with db.transaction(session_factory) as session:
        users.user_by_email(session, world.emails["staff_a"]).active = False
    assert signed_in_as(browser) is None


def test_a_new_password_signs_out_every_other_session(
    browser: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    sign_in(browser, world.emails["staff_a"])
    with db.transaction(session_factory) as session:
        users.set_password(
            session, users.user_by_email(session, world.emails["staff_a"]), "a new password 2"
        )
    assert signed_in_as(browser) is None
    sign_in(browser, world.emails["staff_a"], "a new password 2")
    assert signed_in_as(browser) == "Staff A"


def test_a_session_used_from_another_browser_is_not_signed_in(
    browser: Browser, world: World
) -> None:
    sign_in(browser, world.emails["staff_a"])
    page = browser.client.get("/console/alpha-cvs/rounds", headers={"User-Agent": "stolen/1.0"})
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")


def test_a_session_used_from_another_address_is_not_signed_in(
    browser: Browser, world: World
) -> None:
    sign_in(browser, world.emails["staff_a"])
    # A forged X-Forwarded-For changes nothing (no proxy is trusted here)...
    page = browser.client.get("/console/alpha-cvs/rounds", headers={"X-Forwarded-For": "1.2.3.4"})
    assert page.status_code == 200
    # ...but another address is another browser.
    page = browser.client.get("/console/alpha-cvs/rounds", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")


def test_a_session_ends_hours_after_signing_in(
    browser: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    sign_in(browser, world.emails["staff_a"])
    assert signed_in_as(browser) == "Staff A"
    with db.transaction(session_factory) as session:
        [row] = session.scalars(select(models.SignIn)).all()
        assert row.expires_at - row.created_at == timedelta(hours=auth.SESSION_HOURS)
        row.expires_at = models.utcnow() - timedelta(seconds=1)
    assert signed_in_as(browser) is None


def _replay(app: Flask, cookie: str, path: str = "/console/alpha-cvs/rounds") -> int:
    """Open a page in a fresh client holding only a copy of a session cookie; give the status."""
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return thief.get(path).status_code


def _session_cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie(browser.client.application.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def test_a_copied_session_cookie_stops_working_when_its_browser_signs_out(
    app: Flask, browser: Browser, other_browser: Browser, world: World
) -> None:
    sign_in(browser, world.emails["staff_a"])
    sign_in(other_browser, world.emails["staff_a"])  # the same person on another device
    copied = _session_cookie(browser)
    assert _replay(app, copied) == 200  # a copy works while the session lasts...

    browser.post("/logout")

    assert "You have signed out." in browser.text
    assert _replay(app, copied) == 302  # ...and not after signing out, for up to 12 hours
    # Signing out on one device leaves the other signed in.
    assert signed_in_as(other_browser) == "Staff A"


def test_a_new_password_or_deactivation_ends_every_session_on_the_server(
    app: Flask,
    browser: Browser,
    other_browser: Browser,
    world: World,
    session_factory: sessionmaker[Session],
) -> None:
    for persona, end in (
        ("staff_a", lambda s, u: users.set_password(s, u, "a new password 2")),
        ("staff_b", users.deactivate),
    ):
        sign_in(browser, world.emails[persona])
        sign_in(other_browser, world.emails[persona])
        copies = [_session_cookie(browser), _session_cookie(other_browser)]
        with db.transaction(session_factory) as session:
            end(session, users.user_by_email(session, world.emails[persona]))
        assert [_replay(app, c, "/console/") for c in copies] == [302, 302], persona
        with session_factory() as session:
            rows = session.scalars(select(models.SignIn).join(models.User)).all()
            assert not [r for r in rows if r.user.email == world.emails[persona]]


def test_signing_in_gives_a_new_csrf_secret(browser: Browser, world: World) -> None:
    browser.get("/login")
    before_sign_in = browser.csrf()
    with browser.client.session_transaction() as cookie:
        secret_before = cookie["csrf_token"]

    sign_in(browser, world.emails["staff_a"])

    with browser.client.session_transaction() as cookie:
        assert cookie.get("csrf_token") not in (None, secret_before)
    # The sign-in page's token is no good for a signed-in form...
    refused = browser.client.post("/logout", data={"csrf_token": before_sign_in})
    assert refused.status_code == 400
    assert signed_in_as(browser) == "Staff A"
    # ...the signed-in page's own is.
    browser.post("/logout")
    assert signed_in_as(browser) is None


def test_too_many_failures_for_one_email_from_one_client_refuse_even_the_right_password(
    browser: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    for _ in range(auth.LOGIN_ACCOUNT_CLIENT.limit):
        sign_in(browser, world.emails["staff_a"], "wrong password here")
        assert "not right" in browser.text

    sign_in(browser, world.emails["staff_a"])

    assert browser.page is not None and browser.page.status_code == 429
    assert "too many attempts to sign in" in browser.text
    assert browser.page.headers["Retry-After"].isdigit()
    assert signed_in_as(browser) is None
    # Another account from the same place is not held up by this one's limit.
    sign_in(browser, world.emails["staff_b"])
    assert signed_in_as(browser) == "Staff B"
    # The counts keep keyed hashes, never the address.
    with session_factory() as session:
        clients = session.scalars(select(models.RateCount.client)).all()
    assert clients and not any("@" in c or "staff" in c for c in clients)


def test_an_unknown_email_is_limited_the_same_way(browser: Browser, world: World) -> None:
    for _ in range(auth.LOGIN_ACCOUNT_CLIENT.limit):
        sign_in(browser, "nobody@example.org", "wrong password here")
    sign_in(browser, "nobody@example.org", "wrong password here")
    assert browser.page is not None and browser.page.status_code == 429


def test_too_many_failures_from_one_client_refuse_it(
    browser: Browser, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        auth, "LOGIN_CLIENT", ratelimits.Limit("login_client", 3, timedelta(minutes=15))
    )
    for n in range(3):
        sign_in(browser, f"guess{n}@example.org", "wrong password here")

    sign_in(browser, world.emails["staff_a"])

    assert browser.page is not None and browser.page.status_code == 429
    assert signed_in_as(browser) is None


def _from(app: Flask, address: str) -> Browser:
    """Give a browser of its own at another client address."""
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def _small_limits(monkeypatch: pytest.MonkeyPatch, **limits: int) -> None:
    """Lower some of the sign-in limits, so a test reaches them in a few tries."""
    for name, limit in limits.items():
        old: ratelimits.Limit = getattr(auth, name)
        monkeypatch.setattr(auth, name, ratelimits.Limit(old.bucket, limit, old.window))


@pytest.mark.parametrize("persona", ["staff_a", "admin"])
def test_a_stranger_s_failures_do_not_lock_out_the_real_user(
    app: Flask, browser: Browser, world: World, persona: str
) -> None:
    email = world.emails[persona]
    sign_in(browser, email)  # the real person, on their own browser, some day before
    browser.post("/logout")
    stranger = _from(app, "203.0.113.66")
    for _ in range(auth.LOGIN_ACCOUNT_CLIENT.limit):
        sign_in(stranger, email, "wrong password here")
        assert "not right" in stranger.text

    # The stranger is stopped, even with the right password...
    sign_in(stranger, email)
    assert stranger.page is not None and stranger.page.status_code == 429
    assert signed_in_as(stranger) is None
    # ...but the person is not: on their own browser, nor on a new one somewhere else.
    sign_in(browser, email)
    assert "Sign out" in browser.text
    elsewhere = _from(app, "198.51.100.7")
    sign_in(elsewhere, email)
    assert "Sign out" in elsewhere.text


def test_guessing_from_many_clients_holds_up_only_browsers_new_to_the_account(
    app: Flask, browser: Browser, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_limits(monkeypatch, LOGIN_ACCOUNT_CLIENT=2, LOGIN_ACCOUNT=4)
    email = world.emails["admin"]
    sign_in(browser, email)
    browser.post("/logout")
    for n in range(2):
        stranger = _from(app, f"203.0.113.{n + 1}")
        for _ in range(2):
            sign_in(stranger, email, "wrong password here")
            assert "not right" in stranger.text

    # Guesses from all over reached the account's own limit: a browser new to it waits...
    for new in (_from(app, "198.51.100.7"), Browser(app.test_client())):
        sign_in(new, email)
        assert new.page is not None and new.page.status_code == 429
        assert "too many attempts to sign in" in new.text
    # ...and so does one with a forged or altered device cookie...
    forged = _from(app, "198.51.100.8")
    name = app.config["SESSION_COOKIE_NAME"] + "-device"
    copied = browser.client.get_cookie(name)
    assert copied is not None
    forged.client.set_cookie(name, copied.value[:-2] + "xx")
    sign_in(forged, email)
    assert forged.page is not None and forged.page.status_code == 429
    # ...but the browser the admin signed in from before gets in, and other accounts too.
    sign_in(browser, email)
    assert "Sign out" in browser.text
    other = _from(app, "198.51.100.9")
    sign_in(other, world.emails["staff_b"])
    assert "Sign out" in other.text


def test_a_known_browser_s_own_failures_are_still_limited(
    browser: Browser, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_limits(monkeypatch, LOGIN_DEVICE=3)
    sign_in(browser, world.emails["staff_a"])
    browser.post("/logout")
    for _ in range(3):
        sign_in(browser, world.emails["staff_a"], "wrong password here")
        assert "not right" in browser.text

    sign_in(browser, world.emails["staff_a"])

    assert browser.page is not None and browser.page.status_code == 429
    assert signed_in_as(browser) is None


def test_the_device_cookie_names_no_account_and_scripts_cannot_read_it(
    browser: Browser, world: World
) -> None:
    browser.get("/login")
    page = browser.client.post(
        "/login",
        data={"csrf_token": browser.csrf(), "email": world.emails["staff_a"], "password": PASSWORD},
    )
    [cookie] = [c for c in page.headers.getlist("Set-Cookie") if c.startswith("tempcheck-device=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=7776000" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "staff" not in value and "example" not in value
    assert "staff" not in base64.urlsafe_b64decode(value.split(".")[0] + "==").decode()


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/console/alpha-cvs/organisations?q=club", "/console/alpha-cvs/organisations"),
        ("//evil.example/console", "/console/alpha-cvs/rounds"),
        ("https://evil.example/", "/console/alpha-cvs/rounds"),
        ("/\\evil.example", "/console/alpha-cvs/rounds"),
        ("javascript:alert(1)", "/console/alpha-cvs/rounds"),
        ("/console/%0d%0aSet-Cookie:x", "/console/alpha-cvs/rounds"),
        ("evil.example", "/console/alpha-cvs/rounds"),
    ],
)
def test_next_only_leads_to_a_page_of_this_site(
    browser: Browser, world: World, target: str, lands: str
) -> None:
    browser.get("/login")
    page = browser.client.post(
        "/login",
        data={
            "csrf_token": browser.csrf(),
            "email": world.emails["staff_a"],
            "password": PASSWORD,
            "next": target.replace("%0d%0a", "\r\n"),
        },
    )
    location = page.headers["Location"]
    assert location.startswith("/"), location
    assert not location.startswith("//")
    browser.get(location)
    assert browser.path == lands


def test_an_anonymous_visit_goes_to_sign_in_and_comes_back(browser: Browser, world: World) -> None:
    page = browser.client.get("/console/alpha-cvs/organisations?q=lunch")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=/console/alpha-cvs/organisations?q%3Dlunch"

    browser.get(page.headers["Location"])
    assert 'name="next" value="/console/alpha-cvs/organisations?q=lunch"' in browser.text
    browser.post(
        "/login",
        {"email": world.emails["staff_a"], "password": PASSWORD, "next": browser_next(browser)},
    )

    assert browser.path == "/console/alpha-cvs/organisations"
    assert "Alpha CVS Lunch Club" in browser.text
    assert "Alpha CVS Youth Club" not in browser.text


def browser_next(browser: Browser) -> str:
    """Give the sign-in form's hidden `next` value."""
    marker = 'name="next" value="'
    start = browser.text.index(marker) + len(marker)
    return browser.text[start : browser.text.index('"', start)]


def test_signing_out_is_a_post_with_the_form_s_token(browser: Browser, world: World) -> None:
    sign_in(browser, world.emails["staff_a"])
    assert browser.client.get("/logout").status_code == 405
    assert browser.client.post("/logout").status_code == 400  # no CSRF token
    assert signed_in_as(browser) == "Staff A"

    browser.post("/logout")

    assert browser.path == "/login"
    assert "You have signed out." in browser.text
    assert signed_in_as(browser) is None


def test_the_sign_in_page_is_not_cached_and_signed_in_pages_neither(
    browser: Browser, world: World
) -> None:
    assert browser.get("/login").headers["Cache-Control"] == "no-store"
    sign_in(browser, world.emails["staff_a"])
    assert browser.get("/console/alpha-cvs/rounds").headers["Cache-Control"] == "no-store"


def test_a_signed_in_visit_to_the_sign_in_page_goes_on(browser: Browser, world: World) -> None:
    sign_in(browser, world.emails["staff_a"])
    browser.get("/login?next=/console/alpha-cvs/outbox")
    assert browser.path == "/console/alpha-cvs/outbox"


def test_sign_in_never_logs_the_address_or_password(
    browser: Browser, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG"):
        sign_in(browser, world.emails["staff_a"], "wrong password here")
        sign_in(browser, world.emails["staff_a"])
    assert "staff.a@" not in caplog.text
    assert "wrong password" not in caplog.text and PASSWORD not in caplog.text
