"""Fixtures for the web app: the app on the test's database, clients as respondents' browsers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from collector.config import Settings
from forms import Services, create_app, services

if TYPE_CHECKING:
    from tests.forms.people import World

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# One app per worker and per settings but the database and instance folder: making an app
# compiles every URL rule's builder (about 90 ms), and nearly every test here needs one.
_apps: dict[Settings, Flask] = {}


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """Give the web app on the test's database (CSRF protection on, as in production)."""
    shared = replace(settings, database_url="", instance_path="")
    if shared not in _apps:
        _apps[shared] = create_app(settings)
    app = _apps[shared]
    app.extensions["tempcheck"] = Services(settings)
    yield app
    services(app).engine.dispose()


class Browser:
    """A respondent's browser: keeps its cookies, and sends forms with the page's CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.page: TestResponse | None = None

    @property
    def text(self) -> str:
        """Give the last page's HTML."""
        assert self.page is not None
        return self.page.get_data(as_text=True)

    @property
    def path(self) -> str:
        """Give the path of the last page, after redirects."""
        assert self.page is not None and self.page.request is not None
        return self.page.request.path

    def csrf(self) -> str:
        """Give the CSRF token from the last page that had a form."""
        match = _CSRF.search(self.text)
        assert match, "the last page has no form"
        return match.group(1)

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        """Open a page, following redirects."""
        self.page = self.client.get(url, follow_redirects=True, **kwargs)
        return self.page

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """Send a form from the last page (with its CSRF token), following redirects."""
        fields = {"csrf_token": self.csrf(), **(data or {})}
        self.page = self.client.post(url, data=fields, follow_redirects=True, **kwargs)
        return self.page

    def answer(self, value: str | list[str] | None) -> TestResponse:
        """Answer the question on the current page (None: send it empty)."""
        assert "/q/" in self.path, f"not on a question page: {self.path}"
        return self.post(self.path, {"answer": value} if value is not None else {})

    @property
    def question(self) -> str:
        """Give the id of the question being shown."""
        assert "/q/" in self.path, f"not on a question page: {self.path}"
        return self.path.rsplit("/", 1)[1]


@pytest.fixture
def browser(app: Flask) -> Browser:
    """Give one respondent's browser."""
    return Browser(app.test_client())


@pytest.fixture
def other_browser(app: Flask) -> Browser:
    """Give a second browser: another device, with cookies of its own."""
    return Browser(app.test_client())


@pytest.fixture
def world(app: Flask, restore: Callable[..., World]) -> World:
    """Give providers A and B (each with groups, rounds, a volunteer, a placement and an
    enquiry), provider C, and an account per role: built once per worker, copied per test."""
    from tests.forms.people import build_world

    return restore("console-world", build_world)
