"""Where a response started and finished, and the channel of each answer (issue 20): kept by the
flow, counted by the round's status, told to a chat once, backfilled by migration 0016; and the
"answer in Telegram instead" of the invitation email and the links CSV."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, models, rounds
from collector.config import Settings
from collector.delivery import chats, mailer
from collector.delivery.outbox import Outgoing
from collector.models import utcnow
from tests.collector.conftest import Run
from tests.factories import make_invitation, make_organisation, make_provider, make_round
from tests.qr import decode_qr

BOT = "tempcheck_test_bot"


def answer_short(session: Session, response: models.Response, channel: str) -> None:
    """Answer the every-type survey the short way (No; 3 volunteers) in `channel`."""
    for question, raw in (
        ("intro", None),
        ("used", "no"),
        ("volunteers", "3"),
        ("share", None),
        ("comments", None),
    ):
        flow.answer(session, response, question, raw, channel=channel)


def test_a_response_keeps_where_it_started_finished_and_each_answer_was_given(
    session: Session,
) -> None:
    invitation = make_invitation(session)
    response = flow.start(session, invitation, channel="telegram")
    flow.answer(session, response, "intro", None, channel="telegram")
    flow.answer(session, response, "used", "no", channel="telegram")
    flow.answer(session, response, "volunteers", "3", channel="web")
    flow.answer(session, response, "share", None, channel="web")
    flow.answer(session, response, "comments", "From the web", channel="web")
    flow.complete(session, response, channel="web")

    session.expire_all()
    stored = session.get(models.Response, response.id)
    assert stored is not None
    assert (stored.status, stored.channel, stored.finished_channel) == (
        "completed",
        "telegram",
        "web",
    )
    assert {a.question_id: (a.value, a.channel) for a in stored.answers} == {
        "used": ("no", "telegram"),
        "volunteers": ("3", "web"),
        "comments": ("From the web", "web"),
    }


def test_a_chat_answering_a_response_finished_on_the_web_is_told_once(session: Session) -> None:
    invitation = make_invitation(session)
    answering = chats.attach_invitation(session, 8101, invitation)
    stopped = chats.attach_invitation(session, 8102, invitation)
    stopped.stopped_at = utcnow()
    chats.ensure_chat(session, 8103)  # a chat answering something else
    response = flow.start(session, invitation, channel="telegram")
    answer_short(session, response, "web")
    flow.complete(session, response, channel="web")

    told = session.scalars(
        select(models.OutboxMessage).where(
            models.OutboxMessage.template == chats.FINISHED_ELSEWHERE
        )
    ).all()
    assert [(m.channel, m.recipient, m.data) for m in told] == [
        ("telegram", str(answering.chat_id), {"finished_channel": "web", "language": "en"})
    ]
    assert told[0].invitation_id is None  # not cancelled as an answered invitation's message
    # At most once: asking again queues nothing.
    assert chats.tell_finished_elsewhere(session, response) == 0


def test_a_response_sent_in_telegram_tells_no_chat(session: Session) -> None:
    invitation = make_invitation(session)
    chats.attach_invitation(session, 8201, invitation)
    response = flow.start(session, invitation, channel="web")
    answer_short(session, response, "telegram")
    flow.complete(session, response, channel="telegram")
    assert session.scalars(select(models.OutboxMessage.template)).all().count(
        chats.FINISHED_ELSEWHERE
    ) == 0


def test_round_status_counts_the_channel_finished_in_and_the_switches(session: Session) -> None:
    provider = make_provider(session)
    for _ in range(5):
        make_organisation(session, provider)
    round_ = make_round(session, provider, audience={})
    ways = [("telegram", "web"), ("telegram", "web"), ("web", "telegram"), ("web", "web")]
    for invitation, (started, finished) in zip(round_.invitations, ways, strict=False):
        response = flow.start(session, invitation, channel=started)
        answer_short(session, response, finished)
        flow.complete(session, response, channel=finished)

    status = rounds.round_status(session, round_)
    assert status.by_channel == {"web": 3, "telegram": 1}
    assert status.switches == {("telegram", "web"): 2, ("web", "telegram"): 1}
    assert rounds.describe_switch("telegram", "web", 2) == (
        "started in Telegram, finished on the web: 2"
    )


def test_migration_0016_backfills_the_finishing_channel_of_completed_responses(
    engine: Engine,
) -> None:
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as session:
        provider = make_provider(session)
        make_organisation(session, provider)
        make_organisation(session, provider)
        done, going = make_round(session, provider, audience={}).invitations
        completed = flow.start(session, done, channel="telegram")
        answer_short(session, completed, "telegram")
        flow.complete(session, completed, channel="telegram")
        flow.start(session, going, channel="web")

    command.downgrade(db._alembic_config(engine), "0015")
    db.upgrade(engine)
    with db.transaction(sessions) as session:
        rows = session.execute(
            select(models.Response.status, models.Response.finished_channel).order_by(
                models.Response.id
            )
        ).all()
        assert [tuple(row) for row in rows] == [("completed", "telegram"), ("in_progress", None)]
        # The channel of answers given before 0016 is not known.
        assert set(session.scalars(select(models.Answer.channel))) == {None}


def invitation_email(settings: Settings, token: str) -> Outgoing:
    return Outgoing(
        1,
        "invite:1",
        "email",
        "group@example.org",
        "invite",
        {
            "token": token,
            "provider": "Harlow CVS",
            "survey": "Support",
            "period": "2026/27 H1",
            "closes_at": "2027-01-31T17:00:00+00:00",
            "organisation": "Lunch Club",
        },
        0,
        utcnow(),
    )


def test_an_invitation_email_offers_telegram_where_the_bot_is_configured(
    settings: Settings,
) -> None:
    token = "x" * 32
    link = f"https://t.me/{BOT}?start={token}"
    with_bot = dataclasses.replace(settings, telegram_bot_username=f"@{BOT}")
    email = mailer.render_email(with_bot, invitation_email(with_bot, token))
    text, html = email.get_body(("plain",)), email.get_body(("html",))
    assert text is not None and html is not None
    offer = "Or answer in Telegram instead (answers you have already given on the web are kept)"
    assert f"{offer}:\n{link}" in text.get_content()
    assert f'href="{link}"' in html.get_content()
    assert f'src="cid:{mailer.QR_CID}"' in html.get_content()
    (image,) = [part for part in email.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == f"<{mailer.QR_CID}>"
    assert decode_qr(image.get_payload(decode=True)) == link

    without = mailer.render_email(settings, invitation_email(settings, token))
    assert "t.me" not in without.as_string() and "Telegram" not in without.as_string()
    assert [p.get_content_type() for p in without.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_the_links_csv_carries_the_deep_link_beside_the_web_link(
    session_factory: sessionmaker[Session], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction(session_factory) as session:
        invitation = make_invitation(session)
        round_id, token = invitation.round_id, invitation.token
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", BOT)
    result = run("rounds", "links", str(round_id))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert list(rows[0])[-2:] == ["link", "telegram_link"]
    row = next(r for r in rows if r["link"].endswith(token))
    assert row["telegram_link"] == f"https://t.me/{BOT}?start={token}"
