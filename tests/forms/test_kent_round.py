"""A Kent round end to end (issue 15): opened, answered on the web and in Telegram, closed,
published with the provider's and the alliance's reports, and in `tempcheck kpi --json`."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from analysis.publish import publish
from collector import models, rounds
from collector.cli import main
from collector.config import Settings
from collector.db import transaction
from collector.models import utcnow
from collector.survey.loader import library_survey
from tests.analysis.builders import store_response
from tests.bot.conftest import BOT_USER, TOKEN, BotHarness, texts
from tests.factories import make_organisation, make_provider, make_round
from tests.forms.conftest import Browser

KENT = library_survey("kent-support")


def answer_on_the_web(browser: Browser, token: str, influence: str) -> None:
    """Answer the kent-support survey on its web pages, as an organisation that had support."""
    url = f"/r/{token}"
    browser.get(url)
    browser.post(f"{url}/start", {"language": "en"})
    for question_id, value in [
        ("intro", None),
        ("used_support", "yes"),
        ("support_kinds", ["funding", "volunteers"]),
        ("grow_develop", "yes_a_little"),
        ("volunteering_helped", "no"),
        ("kcc_priorities", "fairly_well"),
        ("statutory_influence", influence),
        ("comments", None),
    ]:
        assert browser.question == question_id
        browser.answer(value)
    assert browser.path == f"{url}/check"
    browser.post(f"{url}/check")
    assert "Your answers have been sent" in browser.text or "Thank you" in browser.text


def test_a_kent_round_answered_on_the_web_and_in_telegram_publishes_ni7_and_the_alliance(
    settings: Settings,
    session_factory: sessionmaker[Session],
    browser: Browser,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with transaction(session_factory) as session:
        west = make_provider(session, slug="west-kent-cvs", name="West Kent CVS")
        east = make_provider(session, slug="east-kent-cvs", name="East Kent CVS")
        # West: 6 organisations, 4 of them under £500k. East: 5 answers stored (1 positive).
        for n in range(6):
            make_organisation(session, west, income_band="under_10k" if n < 4 else "over_500k")
        round_ = make_round(session, west, KENT, period_label="2026/27 H1",
                            opens_at=utcnow() - timedelta(days=2))
        east_round = make_round(session, east, KENT, period_label="2026/27 H1",
                                opens_at=utcnow() - timedelta(days=2))
        for n in range(5):
            store_response(session, east_round, make_organisation(session, east), {
                "used_support": "no", "kcc_priorities": "very_well",
                "statutory_influence": "positive" if n == 0 else "no_influence"})
        rounds.close_round(session, east_round, reports=False)
        tokens = [i.token for i in sorted(round_.invitations, key=lambda i: i.id)]
        round_id = round_.id

    # Five on the web (positive, negative, positive, don't know, no influence)...
    for token, influence in zip(
        tokens[:5], ["positive", "negative", "positive", "dont_know", "no_influence"],
        strict=True,
    ):
        answer_on_the_web(Browser(browser.client.application.test_client()), token, influence)
    # ... and the sixth in Telegram: positive.
    bot_settings = dataclasses.replace(
        settings, telegram_bot_token=TOKEN, telegram_bot_username=BOT_USER["username"]
    )
    harness = BotHarness(bot_settings, session_factory).start()
    try:
        chat = harness.chat(707)
        welcome = texts(chat.send(f"/start {tokens[5]}"))[0]
        assert "asking for your answers to “Support for community organisations in Kent”" in welcome
        chat.press_label("Continue")
        chat.press_label("Yes")
        chat.press_label("⬜ Training")
        chat.press_label("Done")
        chat.press_label("Yes, a lot")
        chat.press_label("We do not involve volunteers")
        chat.press_label("Very well")
        chat.press_label("A positive influence")
        chat.send("Thank you")
        sent = texts(chat.press_label("Send answers"))
        assert "Thank you. Your answers have been sent." in sent
    finally:
        harness.close()

    with transaction(session_factory) as session:
        round_ = session.get(models.Round, round_id)
        assert round_ is not None
        channels = session.scalars(
            select(models.Response.channel).where(
                models.Response.round_id == round_id, models.Response.status == "completed"
            )
        ).all()
        assert sorted(channels) == ["telegram"] + ["web"] * 5
        rounds.close_round(session, round_, reports=False)
        snapshots = publish(session, round_, published_by="test")
        assert [s.framework for s in snapshots] == ["kent-2017", "kent-2017-alliance"]
        own, alliance = (s.data for s in snapshots)
    ni7 = next(k for k in own["kpis"] if k["id"] == "NI7")
    # West: positive from web answers 1 and 3 and the Telegram answer: 3 of 6.
    assert (ni7["overall"]["numerator"], ni7["overall"]["n"]) == (3, 6)
    assert ni7["status"] == "not enough data"  # fewer than 10: shown, not judged
    assert [b["label"] for b in ni7["benchmarks"]] == ["England", "Thurrock"]
    # Its focus (4 under £500k) is hidden: the 2 over £500k could be worked out from it.
    assert ni7["focus"]["suppressed"] is True and ni7["focus"]["n"] is None
    pooled = next(k for k in alliance["kpis"] if k["id"] == "NI7")
    assert (pooled["overall"]["numerator"], pooled["overall"]["n"]) == (3 + 1, 6 + 5)
    # K2 leaves out the organisation that involves no volunteers: 0 of the 5 on the web.
    k2 = next(k for k in own["kpis"] if k["id"] == "K2")
    assert (k2["overall"]["numerator"], k2["overall"]["n"]) == (0, 5)

    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": database_url, "TEMPCHECK_INSTANCE": str(tmp_path / "instance")}
    result = CliRunner().invoke(
        main, ["kpi", "--framework", "kent-2017", "--alliance", "--round", str(round_id),
               "--json"], env=env, catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)["reports"]
    assert [r["provider"]["slug"] for r in reports] == [
        "west-kent-cvs", "strengthening-community-organisations-in-kent"]
    pooled = next(k for k in reports[1]["kpis"] if k["id"] == "NI7")
    overall = pooled["overall"]
    assert (overall["n"], overall["numerator"], overall["status"]) == (11, 4, "green")
    assert overall["ci_low"] < 4 / 11 < overall["ci_high"]
    assert pooled["target"]["value"] == 0.163 and pooled["change"] is None
    assert pooled["benchmarks"][0]["comparison"].endswith("England's 16.3% (2008)")
