"""The README's pictures, renewed by `make screenshots` (not part of `make test`: the file's name
does not start with test_, so only `make screenshots` runs it, by its path).

With the suite's own parts: Debian's Chromium (Playwright) on the published demo data set (as
`make demo` makes it), and `tempcheck bot` against the Telegram Bot API emulator for the chat.
The emulator has no screen: the chat's messages, as the bot left them (edits included), are
drawn as an HTML page styled like Telegram's phone app, and that page is photographed.

Each picture is quantised to 256 colours and saved optimised, under docs/images/.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from collector import db, models, users
from collector.models import utcnow
from tests.e2e.conftest import DESKTOP, PHONE, Demo, LiveServer
from tests.e2e.telegram.client import BotMessage, one, wait_changed
from tests.e2e.telegram.harness import USERNAME, Emulator, bot_running, environment

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PASSWORD = "a long enough password for pictures"
STAFF = ("sam.staff@example.org", "Sam Staff")
FUNDER = ("fay.funder@example.org", "Fay Funder")
CHAT = 515_151
PROVIDER = "brentwood-cvs"


def save(png: bytes, name: str) -> Path:
    """Save a screenshot as a small PNG (256 colours, optimised) under docs/images/."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    target = IMAGES / name
    raw = target.with_suffix(".raw.png")
    raw.write_bytes(png)
    with Image.open(raw) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(target, optimize=True)
    raw.unlink()
    return target


def _sign_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _accounts(server: LiveServer) -> tuple[str, int, int]:
    """Add a staff member and a funder of the demo's Brentwood CVS; give its slug, its open
    round of cvs-support with the most answers, and its newest published Essex report."""
    with db.transaction(server.sessions) as session:
        provider = session.scalars(
            select(models.Provider).where(models.Provider.slug == PROVIDER)
        ).one()
        snapshot_id = session.scalars(
            select(models.ReportSnapshot.id)
            .where(
                models.ReportSnapshot.provider_id == provider.id,
                models.ReportSnapshot.framework == "essex-2017",
            )
            .order_by(models.ReportSnapshot.id.desc())
        ).first()
        assert snapshot_id is not None, "the published demo has no Essex report for Brentwood"
        users.create_user(
            session,
            email=STAFF[0],
            name=STAFF[1],
            password=PASSWORD,
            role="staff",
            provider=provider,
        )
        users.create_user(
            session,
            email=FUNDER[0],
            name=FUNDER[1],
            password=PASSWORD,
            role="funder",
            funded=[provider],
        )
        answered = (
            select(models.Round.id)
            .join(models.Survey, models.Survey.id == models.Round.survey_id)
            .join(models.Response, models.Response.round_id == models.Round.id)
            .where(models.Round.provider_id == provider.id, models.Round.status == "open")
            .where(models.Survey.slug == "cvs-support")
            .group_by(models.Round.id)
            .order_by(func.count(models.Response.id).desc())
        )
        round_id = session.scalars(answered).first()
        assert round_id is not None, "the published demo has no open cvs-support round"
        return provider.slug, round_id, snapshot_id


def test_pages(chromium: Browser, published_server: LiveServer) -> None:
    """A question on a phone, the console's round page, the funder's report and a chart."""
    server = published_server
    slug, round_id, snapshot_id = _accounts(server)
    with server.sessions() as session:
        token = session.scalars(
            select(models.Invitation.token)
            .join(models.Round)
            .outerjoin(models.Response, models.Response.invitation_id == models.Invitation.id)
            .where(models.Round.status == "open", models.Response.id.is_(None))
            .join(models.Survey, models.Survey.id == models.Round.survey_id)
            .where(models.Survey.slug == "cvs-support", models.Round.opens_at < utcnow())
            .where(models.Invitation.organisation_id.is_not(None))
            .order_by(models.Invitation.id)
        ).first()
    assert token is not None

    # A respondent on a phone: the start page, then the first question with choices.
    phone = chromium.new_context(viewport=PHONE, device_scale_factor=1)
    page = phone.new_page()
    page.goto(f"{server.url}/r/{token}")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Continue").click()  # the introduction
    expect(page.locator(".govuk-radios, .govuk-checkboxes").first).to_be_visible()
    save(page.screenshot(full_page=False), "respondent-question-phone.png")
    phone.close()

    desktop = chromium.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = desktop.new_page()
    _sign_in(page, server, STAFF[0])
    page.goto(f"{server.url}/console/{slug}/rounds/{round_id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    save(page.screenshot(full_page=False), "console-round.png")
    desktop.close()

    desktop = chromium.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = desktop.new_page()
    _sign_in(page, server, FUNDER[0])
    page.goto(f"{server.url}/funder/{slug}/reports/{snapshot_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("KPI report for")
    page.set_viewport_size({"width": DESKTOP["width"], "height": 1500})  # down to the summary
    save(page.screenshot(full_page=False), "funder-report.png")
    chart = page.locator("img.tc-report__chart").first
    chart.scroll_into_view_if_needed()
    save(chart.screenshot(), "kpi-chart.png")
    desktop.close()


# The chat ---------------------------------------------------------------------------------------

CHAT_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Telegram chat</title><style>
body {{ margin: 0; font: 15px/1.35 -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  background: #c8d8b4 linear-gradient(160deg, #d3e3b8, #9fc0a0); min-height: 100vh; }}
header {{ background: #517da2; color: #fff; padding: 10px 14px; display: flex; gap: 10px;
  align-items: center; position: sticky; top: 0; }}
.avatar {{ width: 38px; height: 38px; border-radius: 50%; background: #e17076; display: grid;
  place-items: center; font-weight: 600; }}
header small {{ display: block; opacity: .8; font-size: 13px; }}
main {{ padding: 10px 8px 16px; display: flex; flex-direction: column; gap: 6px; }}
.msg {{ max-width: 82%; padding: 7px 10px 6px; border-radius: 12px; box-shadow: 0 1px 1px #0002;
  white-space: pre-wrap; word-wrap: break-word; }}
.bot {{ align-self: flex-start; background: #fff; border-bottom-left-radius: 4px; }}
.me {{ align-self: flex-end; background: #effdde; border-bottom-right-radius: 4px; }}
.keys {{ align-self: flex-start; width: 82%; display: grid; gap: 4px; margin-top: -2px; }}
.row {{ display: grid; gap: 4px; grid-auto-flow: column; grid-auto-columns: 1fr; }}
.key {{ background: #0000002e; color: #fff; text-align: center; border-radius: 8px;
  padding: 7px 4px; font-size: 14px; font-weight: 500; }}
</style></head><body>
<header><div class="avatar">T</div><div>tempcheck<small>bot</small></div></header>
<main>{messages}</main></body></html>"""


def _bot_html(message: BotMessage, keys: bool) -> str:
    """Draw a bot message, and its buttons if `keys` (its text is Telegram's HTML, from our
    bot)."""
    text = re.sub(r"<(?!/?(b|i|u|s|code|pre)>)", "&lt;", message.text)
    drawn = f'<div class="msg bot">{text}</div>'
    rows = (message.markup or {}).get("inline_keyboard", []) if keys else []
    if rows:
        keys = "".join(
            '<div class="row">'
            + "".join(f'<div class="key">{html.escape(str(b["text"]))}</div>' for b in row)
            + "</div>"
            for row in rows
        )
        drawn += f'<div class="keys">{keys}</div>'
    return drawn


def test_chat(
    chromium: Browser,
    emulator: Emulator,
    live_database: str,
    demo_template: Demo,
    tmp_path: Path,
) -> None:
    """A group answering in Telegram: the deep link, a question, ticking, a scale."""
    env = environment(live_database, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    user = emulator.user(CHAT, first_name="Hutton Poplars")
    with bot_running(env, tmp_path / "bot", "bot"):
        user.command(f"/start {demo_template.fresh[0]}")
        welcome = one(user)
        user.press(welcome, "Continue")
        used = one(user)
        if used.text.count("Question") == 0 or not used.buttons:
            pytest.fail(f"not a question: {used.text!r}")
        user.press(used, "Yes")
        wait_changed(user, used)
        kinds = one(user)
        first = next(b["text"] for b in kinds.buttons if str(b["text"]).startswith("⬜"))
        user.press(kinds, first)
        kinds = wait_changed(user, kinds)
        second = [b["text"] for b in kinds.buttons if str(b["text"]).startswith("⬜")][1]
        user.press(kinds, second)
        kinds = wait_changed(user, kinds)
        user.press(kinds, "Done")
        wait_changed(user, kinds)
        one(user)  # the next question, with its scale
        history = user.history()
    drawn = ['<div class="msg me">/start</div>']
    # The bot edits an answered question without buttons, which takes them away in Telegram;
    # the emulator keeps them: only the question waiting for an answer shows its buttons.
    drawn += [_bot_html(m, keys=m is history[-1]) for m in history]
    page = chromium.new_page(viewport={"width": PHONE["width"], "height": 400})
    page.set_content(CHAT_PAGE.format(messages="".join(drawn)))
    save(page.screenshot(full_page=True), "telegram-chat.png")
    page.close()
