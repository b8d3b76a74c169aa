"""Security: CSRF on every form, size limits, headers, cookies, and tokens kept out of logs."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from collector.config import Settings, SettingsError
from forms import MAX_REQUEST_BYTES, create_app, services
from forms.logs import RedactTokens, redact
from forms.server import AccessLog
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona
from tests.forms.test_respond import NO_SUPPORT, invite, response_of, start, stored_answers, walk

TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"


@pytest.mark.parametrize(
    "csrf", [None, "", "not-a-token", "forged"], ids=["missing", "empty", "garbage", "other"]
)
def test_a_form_without_this_session_s_csrf_token_is_refused_and_nothing_is_stored(
    app: Flask, browser: Browser, session_factory: sessionmaker[Session], csrf: str | None
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])
    if csrf == "forged":
        # A valid token, but from another browser's session.
        stranger = Browser(app.test_client())
        stranger.get(f"/r/{token}")
        csrf = stranger.csrf()
    data = {"answer": "yes"} if csrf is None else {"answer": "yes", "csrf_token": csrf}

    refused = browser.client.post(f"/r/{token}/q/used_support", data=data)

    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "This page has expired" in text
    assert f'href="/r/{token}"' in text  # a way back to the survey
    response = response_of(session_factory, token)
    assert response is not None and stored_answers(session_factory, response.id) == {}


@pytest.mark.parametrize("path", ["/start", "/back", "/check", "/language", "/q/intro"])
def test_every_respondent_form_needs_the_csrf_token(
    browser: Browser, session_factory: sessionmaker[Session], path: str
) -> None:
    token = invite(session_factory)
    assert browser.client.post(f"/r/{token}{path}", data={}).status_code == 400
    assert response_of(session_factory, token) is None


def test_an_oversized_answer_gets_a_friendly_413_and_nothing_is_stored(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:-1])
    assert browser.question == "comments"

    page = browser.client.post(
        f"/r/{token}/q/comments",
        data={"csrf_token": browser.csrf(), "answer": "x" * (MAX_REQUEST_BYTES + 1)},
    )

    assert page.status_code == 413
    text = page.get_data(as_text=True)
    assert "What you sent is too long" in text
    assert "<html" in text
    response = response_of(session_factory, token)
    assert response is not None
    assert "comments" not in stored_answers(session_factory, response.id)


def test_a_long_answer_within_the_limit_gets_the_usual_error(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:-1])

    browser.answer("x" * 2001)

    assert browser.question == "comments"
    assert "Enter 2,000 characters or fewer" in browser.text


def test_pages_carry_a_content_security_policy_whose_nonce_is_the_inline_script_s(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)

    page = browser.get(f"/r/{token}")

    policy = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in browser.text
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers  # plain http in tests
    # A fresh nonce for each response.
    assert browser.get(f"/r/{token}").headers["Content-Security-Policy"] != policy


def test_the_session_cookie_is_http_only_and_same_site(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    page = browser.get(f"/r/{token}")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_over_https_the_cookie_is_secure_host_only_and_hsts_is_sent(settings: Settings) -> None:
    app = create_app(replace(settings, base_url="https://tempcheck.example.org"))
    try:
        page = app.test_client().get("/", base_url="https://tempcheck.example.org")
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    finally:
        services(app).engine.dispose()


def test_the_app_refuses_to_start_without_a_secret_key(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        create_app(replace(settings, secret_key=None))


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(replace(settings, trusted_proxies=1))
    try:
        token = invite(session_factory)
        proxy = app.test_client()
        for n in range(20):
            proxy.get(f"/r/{n:032d}", headers={"X-Forwarded-For": "203.0.113.9"})
        # The guesser is held up; another client behind the same proxy is not.
        bad = f"/r/{'Q' * 32}"
        guesser = proxy.get(bad, headers={"X-Forwarded-For": "203.0.113.9"})
        other = proxy.get(bad, headers={"X-Forwarded-For": "198.51.100.3"})
        assert (guesser.status_code, other.status_code) == (429, 404)
        assert (
            proxy.get(f"/r/{token}", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
        )
    finally:
        services(app).engine.dispose()


def test_redact_cuts_invitation_tokens_in_paths_to_six_characters() -> None:
    line = f'127.0.0.1 "POST /r/{TOKEN}/q/used_support HTTP/1.1" 303 "/r/{TOKEN}/check"'
    cleaned = redact(line)
    assert TOKEN not in cleaned
    assert "/r/AbCdEf…/q/used_support" in cleaned
    assert "/r/AbCdEf…/check" in cleaned
    assert redact("/s/open-slug/q/intro") == "/s/open-slug/q/intro"


def test_the_app_log_never_holds_a_whole_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.forms.redaction")
    logger.addFilter(RedactTokens())
    with caplog.at_level(logging.ERROR, logger="tests.forms.redaction"):
        logger.error("Exception on %s [%s]", f"/r/{TOKEN}/check", "POST")
    assert TOKEN not in caplog.text
    assert "/r/AbCdEf…/check" in caplog.text


def test_the_access_log_never_holds_a_whole_token(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/r/{TOKEN}/q/used_support",
        "QUERY_STRING": f"next=/r/{TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"http://localhost/r/{TOKEN}",
        "REMOTE_ADDR": "127.0.0.1",
    }
    with caplog.at_level(logging.INFO, logger="tempcheck.access"):
        body = AccessLog(app)(environ, lambda status, headers, *exc: None)
        assert b"".join(body) == b"ok"
        body.close()  # type: ignore[attr-defined]

    [line] = caplog.messages
    assert TOKEN not in line
    assert '"GET /r/AbCdEf…/q/used_support?next=/r/AbCdEf… HTTP/1.1" 200 2' in line
    assert '"http://localhost/r/AbCdEf…"' in line
    assert redact(line) == line  # cut short once is cut short for good


@pytest.mark.parametrize(
    ("persona", "path"),
    [
        ("funder_a", "/console/alpha-cvs/rounds"),  # a staff page of a provider it funds
        ("staff_a", "/funder/alpha-cvs"),  # its own provider's funder page
        ("staff_a", "/console/audit"),  # an admin's page
    ],
)
def test_a_page_an_account_may_not_use_is_tempcheck_s_own_403_page(
    browser: Browser, world: World, persona: str, path: str
) -> None:
    as_persona(browser, world, persona)
    page = browser.get(path)
    assert page.status_code == 403
    assert "<title>You cannot use this page – tempcheck</title>" in browser.text
    assert "this page is not for your account" in browser.text
    assert "ask your tempcheck administrator" in browser.text
    assert '<a class="govuk-link" href="/console/">Go to your pages</a>' in browser.text
    # Not the web framework's words.
    assert "Forbidden" not in browser.text
    assert "permission to access the requested resource" not in browser.text
    # The way back leads to the account's own pages.
    assert browser.get("/console/").status_code == 200
    assert browser.path != path and "Sign out" in browser.text
