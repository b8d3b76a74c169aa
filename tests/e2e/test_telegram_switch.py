"""Issue 20: a group carries on between the web and Telegram with the same invitation, through
the real parts: `tempcheck bot` (a real process) and the outbox's dispatcher against the Bot
API emulator and a mail sink, the web pages in Chromium, on SQLite and (a smoke run)
PostgreSQL.

One round of the every-type survey invites two groups. The Emailed group has no chat: its
invitation email offers "answer in Telegram instead" (the deep link and a QR code that decodes
to it); it starts in Telegram, moves to the web, where it wins a clash (the chat says which
answer was kept), and finishes there; the chat is then told, once, through the outbox. The
Linked group's chat was linked in an earlier round, which it answered; it gets the new
round's invitation in the chat, starts on the web, then writes "hi" in the chat, which carries
on with the new survey (not "already answered") and finishes it there. Each switch's response
is checked row by row: one response, every answer with its value and the channel it was given
in, started-in and finished-in right; `tempcheck rounds status` counts the switches.
"""

from __future__ import annotations

import base64
import html
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.transport import TelegramTransport
from collector import db, flow, models, rounds
from collector.cli import mailsink, main
from collector.config import Settings
from collector.delivery import mailer
from collector.delivery.chats import deep_link
from collector.delivery.dispatcher import Dispatcher, Transport
from tests.conftest import _free_port, create_database, drop_database
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer, serving
from tests.e2e.telegram.client import BotMessage, TgUser, one, wait_changed
from tests.e2e.telegram.harness import TOKEN, USERNAME, Emulator, bot_running, environment
from tests.factories import make_organisation, make_provider, make_round
from tests.qr import decode_qr

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAILED_CHAT = 727_001
LINKED_CHAT = 727_002

# Both switch tests also run on PostgreSQL (one smoke run each).
ALSO_ON_POSTGRESQL = pytest.mark.parametrize(
    "switch_database",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)


@dataclass(frozen=True)
class World:
    """The database, and the invitations of the two groups to the open round."""

    url: str
    round_id: int
    emailed: str  # token of the group invited by email, with no chat
    linked: str  # token of the group whose chat was linked in an earlier round


@pytest.fixture
def switch_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Give an empty, migrated database: a SQLite file, or PostgreSQL when parametrised so."""
    if getattr(request, "param", "sqlite") == "sqlite":
        url = f"sqlite:///{tmp_path / 'tempcheck.db'}"
        engine = db.make_engine(Settings(database_url=url))
        db.upgrade(engine)
        engine.dispose()
        yield url
        return
    server: str = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    yield create_database(server, name, template=template)
    drop_database(server, name)


def _answer_all(session: Any, response: models.Response, channel: str) -> None:
    """Answer the every-type survey in `channel` the short way (No; 3 volunteers) and send it."""
    given = {"used": "no", "volunteers": "3"}
    for _ in range(20):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView):
            break
        raw = given.get(view.question_id)
        flow.answer(session, response, view.question_id, raw, channel=channel)
    assert isinstance(flow.complete(session, response, channel=channel), flow.DoneView)


@pytest.fixture
def world(switch_database: str) -> World:
    """Two groups invited to an open round; the Linked group's chat answered an earlier one."""
    engine = db.make_engine(Settings(database_url=switch_database))
    with db.transaction(db.make_sessionmaker(engine)) as session:
        provider = make_provider(session, name="Harlow CVS")
        emailed = make_organisation(session, provider, name="Emailed Allotment Society")
        linked = make_organisation(
            session,
            provider,
            name="Linked Lunch Club",
            consent_telegram=True,
            preferred_channel="telegram",
        )
        chat = models.TelegramChat(chat_id=LINKED_CHAT, organisation=linked)
        session.add(chat)
        earlier = make_round(session, provider, period_label="2025/26 H2", audience={})
        earlier_invitation = next(i for i in earlier.invitations if i.organisation is linked)
        response = flow.start(session, earlier_invitation, channel="telegram")
        _answer_all(session, response, "telegram")
        chat.invitation = earlier_invitation  # the chat answered it, and said yes to more
        rounds.close_round(session, earlier)  # its invitations not sent yet are cancelled
        current = make_round(
            session,
            provider,
            channels=["email", "telegram"],
            audience={},
            period_label="2026/27 H1",
        )
        tokens = {i.organisation_id: i.token for i in current.invitations}
        made = World(switch_database, current.id, tokens[emailed.id], tokens[linked.id])
    engine.dispose()
    return made


@pytest.fixture
def web(world: World) -> Iterator[LiveServer]:
    """Serve the web pages on the world's database, with the bot configured."""
    with serving(world.url, telegram_bot_username=USERNAME) as server:
        yield server


@pytest.fixture
def sink() -> Iterator[tuple[mailsink.Sink, int]]:
    """Run an SMTP server on a free loopback port that keeps what it receives."""
    kept, port = mailsink.Sink(), _free_port()
    controller = mailsink.serve(kept, "127.0.0.1", port)
    yield kept, port
    controller.stop()


def dispatch(world: World, emulator: Emulator, smtp_port: int | None = None) -> int:
    """Deliver what the outbox holds, as `tempcheck dispatch --until-idle` composes it (email
    to the sink, or printed without one; Telegram to the emulator); give how many were sent.

    In this process, to spare the suite a process start; on a thread of its own, because the
    Telegram transport runs its own event loop and Playwright's keeps this thread's busy.
    """
    settings = Settings(
        database_url=world.url,
        base_url="http://127.0.0.1:5000",
        telegram_bot_token=TOKEN,
        telegram_bot_username=USERNAME,
        telegram_api_url=emulator.api_url,
        smtp_host="127.0.0.1" if smtp_port else "",
        smtp_port=smtp_port or 25,
        smtp_tls=False,
    )
    engine = db.make_engine(settings)
    sessions = db.make_sessionmaker(engine)
    transports: dict[str, Transport] = {
        "email": mailer.email_transport(settings, sessions),
        "telegram": TelegramTransport(settings),
    }
    dispatcher = Dispatcher(settings, sessions, transports, "e2e", rates={"telegram": 25.0})
    try:
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(dispatcher.run, until_idle=True).result().sent
    finally:
        engine.dispose()


def response_rows(world: World, token: str) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Give an invitation's responses (status, started in, finished in) and its answers
    (question -> (value, channel)), as stored."""
    engine = db.make_engine(Settings(database_url=world.url))
    try:
        with db.make_sessionmaker(engine)() as session:
            invitation = rounds.invitation_by_token(session, token)
            responses = session.scalars(
                select(models.Response).where(models.Response.invitation_id == invitation.id)
            ).all()
            rows = [(r.status, r.channel, r.finished_channel) for r in responses]
            answers = {
                a.question_id: (a.value, a.channel)
                for r in responses
                for a in session.scalars(
                    select(models.Answer).where(models.Answer.response_id == r.id)
                )
            }
            return rows, answers
    finally:
        engine.dispose()


def plain(email: EmailMessage) -> str:
    """Give an email's plain text."""
    part = email.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def email_as_page(email: EmailMessage) -> str:
    """Give the email's HTML with its inline QR image as a data URI, to look at in a browser."""
    part = email.get_body(("html",))
    assert part is not None
    page = str(part.get_content())
    for related in email.walk():
        cid = related.get("Content-ID")
        if cid:
            data = base64.b64encode(related.get_payload(decode=True)).decode()
            page = page.replace(f"cid:{cid.strip('<>')}", f"data:image/png;base64,{data}")
    return page


def chat_page(messages: list[tuple[str, str, list[str]]], title: str) -> str:
    """Draw a chat as a page (who, text, buttons): the emulator keeps it, Telegram draws it."""
    bubbles = []
    for who, text, buttons in messages:
        body = text if who == "bot" else html.escape(text)
        keys = "".join(f"<div class=k>{html.escape(b)}</div>" for b in buttons)
        bubbles.append(f"<div class='m {who}'><div class=t>{body}</div>{keys}</div>")
    return (
        "<!doctype html><meta charset=utf-8>"
        "<meta name=viewport content=\"width=device-width, initial-scale=1\"><style>"
        "body{margin:0;background:#c8d8e4;font:15px/1.4 Arial,sans-serif}"
        "h1{margin:0;padding:12px 16px;background:#2b5278;color:#fff;font-size:17px}"
        ".c{padding:12px;display:flex;flex-direction:column;gap:8px}"
        ".m{max-width:82%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;"
        "overflow-wrap:anywhere}"
        ".bot{background:#fff;align-self:flex-start}.user{background:#effdde;align-self:flex-end}"
        ".k{margin-top:6px;padding:6px;border-radius:8px;background:#e8eef3;text-align:center;"
        "color:#2b5278}</style>"
        f"<h1>{html.escape(title)}</h1><div class=c>{''.join(bubbles)}</div>"
    )


def transcript(user: TgUser) -> list[tuple[str, str, list[str]]]:
    """Give the chat as the emulator keeps it: the user's messages and the bot's, in order."""
    answer = user.http.post("/getUpdatesHistory", json={"token": user.token})
    answer.raise_for_status()
    lines: list[tuple[str, str, list[str]]] = []
    for stored in answer.json()["result"]:
        message = stored.get("message") or {}
        if "callbackQuery" in stored or not message:
            continue
        chat = message.get("chat_id") or (message.get("chat") or {}).get("id")
        if str(chat) != str(user.chat_id):
            continue
        if message.get("from") is None:
            shown = BotMessage.from_stored(stored)
            lines.append(("bot", shown.text, [str(b["text"]) for b in shown.buttons]))
        else:
            lines.append(("user", str(message.get("text") or ""), []))
    return lines


def screenshot(page: Page, folder: Path, name: str) -> None:
    """Save a whole-page screenshot in the (git-ignored) screenshots folder, to look at."""
    page.screenshot(path=str(folder / name), full_page=True)


@ALSO_ON_POSTGRESQL
def test_started_in_telegram_finished_on_the_web(
    emulator: Emulator,
    world: World,
    web: LiveServer,
    chromium: Browser,
    sink: tuple[mailsink.Sink, int],
    screenshots: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept, port = sink
    env = environment(world.url, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    link = deep_link(USERNAME, world.emailed)

    # The invitation email offers Telegram: the deep link, and a QR code that decodes to it.
    assert dispatch(world, emulator, port) == 2  # one email, one Telegram invitation
    (email,) = [m for m in kept.snapshot() if world.emailed in plain(m)]
    assert "Or answer in Telegram instead" in plain(email) and link in plain(email)
    page_html = email_as_page(email)
    assert f'href="{link}"' in page_html and "Answer in Telegram instead" in page_html
    (qr,) = [p for p in email.walk() if p.get_content_type() == "image/png"]
    assert decode_qr(qr.get_payload(decode=True)) == link

    user = emulator.user(EMAILED_CHAT)
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_content(page_html)
    screenshot(page, screenshots, "email-telegram-phone.png")

    with bot_running(env, tmp_path / "bot") as bot:
        # The group opens the email's Telegram link: the survey starts in the chat.
        user.command(f"/start {world.emailed}")
        user.press(one(user), "Continue")
        used = one(user)
        user.press(used, "Yes")
        wait_changed(user, used)
        ease = one(user)
        assert "How easy?" in ease.text

        # ...and moves to the web, whose start page offers Telegram too (its QR decodes).
        page.goto(f"{web.url}/r/{world.emailed}")
        expect(page.get_by_text("You have started this survey")).to_be_visible()
        offer = page.locator("#telegram")
        expect(offer.get_by_role("heading", name="Answer in Telegram instead")).to_be_visible()
        expect(offer.get_by_role("link", name="Open the survey in Telegram")).to_have_attribute(
            "href", link
        )
        assert decode_qr(offer.get_by_role("img").screenshot()) == link
        screenshot(page, screenshots, "start-telegram-phone.png")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_label("Easy", exact=True)).to_be_visible()
        page.get_by_label("Easy", exact=True).check()
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_label("Funding", exact=True)).to_be_visible()

        # A clash the web won: "Hard" pressed in the chat after "Easy" on the web.
        user.press(ease, "Hard")
        kept_answer = "Your group answered Easy on the web, so that answer was kept."
        now = one(user)
        assert kept_answer in now.text and "Which kinds?" in now.text
        assert "✔️ Easy" in wait_changed(user, ease).text

        page.get_by_label("Funding", exact=True).check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("How many volunteers?").fill("12")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Continue").click()  # no share: optional
        page.get_by_label("Anything else?").fill("Moved to the web <b>at lunch</b>")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Send answers").click()
        expect(page.get_by_role("heading", name="Answer in Telegram next time")).to_be_visible()
        screenshot(page, screenshots, "done-telegram-phone.png")
        context.close()

        # The chat is told, through the outbox (once: tests/collector/test_channels.py).
        assert dispatch(world, emulator) == 1
        told = one(user)
        assert told.text == (
            "This survey was finished on the web, so your answers have been sent. Thank you."
        )
        assert bot.terminate() == 0
    assert "Traceback" not in bot.output()
    finished = [t for t in emulator.stats()["texts"][str(EMAILED_CHAT)] if "finished on" in t]
    assert len(finished) == 1

    rows, answers = response_rows(world, world.emailed)
    assert rows == [("completed", "telegram", "web")]
    assert answers == {
        "used": ("yes", "telegram"),
        "ease": ("easy", "web"),
        "kinds": ("funding", "web"),
        "volunteers": ("12", "web"),
        "comments": ("Moved to the web <b>at lunch</b>", "web"),
    }

    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    status = CliRunner().invoke(
        main,
        ["rounds", "status", str(world.round_id)],
        env={"DATABASE_URL": world.url, "TEMPCHECK_INSTANCE": str(tmp_path / "instance")},
    )
    assert status.exit_code == 0, status.output
    assert "completed, by the channel finished in" in status.output
    assert "started in Telegram, finished on the web: 1" in status.output


@ALSO_ON_POSTGRESQL
def test_started_on_the_web_finished_in_the_linked_chat(
    emulator: Emulator,
    world: World,
    web: LiveServer,
    chromium: Browser,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    env = environment(world.url, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    user = emulator.user(LINKED_CHAT)

    # The new round's invitation reaches the linked chat (the email group's goes nowhere:
    # no SMTP server here, so it is printed, without its address or link).
    assert dispatch(world, emulator) == 2
    invitation = one(user)
    assert invitation.button("Answer here")["url"] == deep_link(USERNAME, world.linked)

    # The group starts on the web instead.
    context = chromium.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{web.url}/r/{world.linked}")
    expect(page.get_by_role("heading", name="Answer in Telegram instead")).to_be_visible()
    screenshot(page, screenshots, "start-telegram-desktop.png")
    page.get_by_role("button", name="Start now").click()
    page.get_by_role("button", name="Continue").click()  # the note
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("How many volunteers?")).to_be_visible()
    context.close()

    with bot_running(env, tmp_path / "bot") as bot:
        # "hi" in the chat carries on with the new survey, where the web left it.
        user.text("hi")
        welcome = one(user)
        assert "You have started this survey already, so we carry on" in welcome.text
        assert "How many volunteers?" in welcome.text
        assert "already answered" not in welcome.text
        user.text("7")
        assert "What share came through us?" in one(user).text
        user.command("/skip")
        assert "Anything else?" in one(user).text
        user.text("Finished in the chat, thanks")
        review = one(user)
        assert "Check your answers before sending them" in review.text
        user.press(review, "Send answers")
        thanks = one(user)  # linked already: no question about future surveys
        assert thanks.text == "Thank you. Your answers have been sent."
        # Now it has been, "already answered" is said of it.
        user.command("/start")
        assert one(user).text == "You have already answered this survey. Thank you."
        assert bot.terminate() == 0
    assert "Traceback" not in bot.output()

    rows, answers = response_rows(world, world.linked)
    assert rows == [("completed", "web", "telegram")]
    assert answers == {
        "used": ("no", "web"),
        "volunteers": ("7", "telegram"),
        "comments": ("Finished in the chat, thanks", "telegram"),
    }

    # The chat after the switch, drawn as a page to look at.
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_content(chat_page(transcript(user), "Harlow CVS surveys"))
    screenshot(page, screenshots, "chat-after-switch-phone.png")
    context.close()
