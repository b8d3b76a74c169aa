"""The web side of carrying on between channels (issue 20): "answer in Telegram instead" on
the start and thank-you pages where the bot is configured (and nowhere else), the deep link in
the console's links CSV, and the round page's count of the channel finished in and of the
switches."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from urllib.parse import unquote

import segno
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, models
from forms import services
from tests.factories import make_invitation, make_provider, make_round
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona

BOT = "tempcheck_test_bot"
OFFER = "Answer in Telegram instead"


def with_bot(app: Flask) -> None:
    """Configure the bot's username, as TELEGRAM_BOT_USERNAME does."""
    services(app).settings = replace(services(app).settings, telegram_bot_username=f"@{BOT}")


def test_the_start_and_thank_you_pages_offer_the_invitation_in_telegram(
    app: Flask, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        token = make_invitation(session).token
    browser.get(f"/r/{token}")
    assert OFFER not in browser.text  # no bot configured: nothing offers it

    with_bot(app)
    link = f"https://t.me/{BOT}?start={token}"
    browser.get(f"/r/{token}")
    assert OFFER in browser.text and f'href="{link}"' in browser.text
    # The QR code is the deep link's, drawn by segno, inline (no route serves it).
    (uri,) = [line for line in browser.text.split('"') if line.startswith("data:image/svg")]
    expected = segno.make(link, error="m").svg_data_uri(scale=4, border=2, dark="#0b0c0c")
    assert unquote(uri) == unquote(expected)

    browser.post(f"/r/{token}/start")
    for raw in (None, "no", "3", None, None):
        browser.answer(raw)
    browser.post(f"/r/{token}/check")
    assert "Your answers have been sent" in browser.text
    assert "Answer in Telegram next time" in browser.text and f'href="{link}"' in browser.text


def test_an_open_link_offers_no_telegram(
    app: Flask, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        slug = make_round(session, provider, open_link=True, audience={}).slug
    with_bot(app)
    browser.get(f"/s/{slug}")
    assert "Start now" in browser.text and OFFER not in browser.text


def test_the_round_page_counts_the_channel_finished_in_and_the_switches(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        round_ = make_round(session, provider, audience={}, period_label="Switches")
        round_id = round_.id
        response = flow.start(session, round_.invitations[0], channel="telegram")
        for question, raw in (
            ("intro", None),
            ("used", "no"),
            ("volunteers", "3"),
            ("share", None),
            ("comments", None),
        ):
            flow.answer(session, response, question, raw, channel="web")
        assert isinstance(flow.complete(session, response, channel="web"), flow.DoneView)
    staff = as_persona(Browser(app.test_client()), world, "staff_a")
    staff.get(f"/console/alpha-cvs/rounds/{round_id}")
    assert "Completed, by the channel they finished in" in staff.text
    assert "started in Telegram, finished on the web: 1" in staff.text

    with_bot(app)
    page = staff.client.get(f"/console/alpha-cvs/rounds/{round_id}/links.csv")
    rows = list(csv.DictReader(io.StringIO(page.get_data(as_text=True))))
    assert rows and all(
        r["telegram_link"] == f"https://t.me/{BOT}?start={r['link'].rsplit('/', 1)[1]}"
        for r in rows
    )
