"""What one answer costs the database: statements counted, never timed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from forms import services
from tests.forms.conftest import Browser
from tests.forms.test_respond import NO_SUPPORT, invite, response_of, start, stored_answers, walk


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL the engine runs in the block, but SQLite's BEGIN (PostgreSQL has none)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    """Give the statements that change something, as verb and table."""
    changing = ("INSERT INTO", "UPDATE", "DELETE FROM")
    return [
        " ".join(s.split()[:3] if s.startswith(("INSERT", "DELETE")) else s.split()[:2])
        for s in seen
        if s.startswith(changing)
    ]


def test_an_answer_post_finds_reads_the_answers_upserts_one_and_updates_the_response_once(
    app: Flask, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])
    url = f"/r/{token}/q/used_support"

    with statements(services(app).engine) as seen:
        sent = browser.client.post(url, data={"csrf_token": browser.csrf(), "answer": "no"})

    assert sent.status_code == 303
    assert sent.headers["Location"] == f"/r/{token}/q/outcomes_contributed"
    # The respondent with their response, held; the stored answers; the answer; the response.
    assert len(seen) <= 4, seen
    assert writes(seen) == ["INSERT INTO answers", "UPDATE responses"], seen
    response = response_of(session_factory, token)
    assert response is not None and response.cursor == "outcomes_contributed"
    assert stored_answers(session_factory, response.id) == {"used_support": "no"}


def test_the_page_after_an_answer_reads_twice_and_writes_nothing(
    app: Flask, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:2])

    with statements(services(app).engine) as seen:
        page = browser.client.get(f"/r/{token}/q/outcomes_contributed")

    assert page.status_code == 200
    assert "Question 2 of" in page.get_data(as_text=True)
    # The respondent with their response and organisation, then the stored answers.
    assert len(seen) <= 2, seen
    assert writes(seen) == [], seen


def test_a_note_and_sending_the_answers_each_update_the_response_once(
    app: Flask, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")

    with statements(services(app).engine) as note:
        browser.answer(None)  # the intro: nothing to store
    walk(browser, NO_SUPPORT[1:])
    with statements(services(app).engine) as sending:
        sent = browser.client.post(f"/r/{token}/check", data={"csrf_token": browser.csrf()})

    assert writes(note) == ["UPDATE responses"], note
    assert sent.status_code == 303 and sent.headers["Location"] == f"/r/{token}/done"
    assert writes(sending) == ["UPDATE responses"], sending
    # The respondent, the stored answers, the one UPDATE, which Telegram chats were answering
    # it (to be told it was sent; none here), and which webhooks want a completed response
    # (none here, so nothing is queued).
    assert len(sending) <= 5, sending
    assert sum("FROM telegram_chats" in s for s in sending) == 1, sending
    assert sum("FROM webhooks" in s for s in sending) == 1, sending
