"""Staff, admins and funders in the bot: /link, /rounds, /round, /remind (with a confirmation
button), /kpi, refusals to chats that are not linked or of the wrong role, and the command lists
per role. Offline, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import staff
from collector import db, models, rounds
from collector.delivery import chats
from collector.localtime import long_date
from collector.models import utcnow
from tests.bot.conftest import BotHarness, Call, FakeChat, callback_answers, texts
from tests.factories import make_organisation, make_provider, make_round

STAFF_CHAT, OTHER_STAFF_CHAT, FUNDER_CHAT, ADMIN_CHAT, STRANGER = 501, 502, 503, 504, 505


@dataclass
class World:
    """Providers A and B, each with an open round, and an account per role."""

    round_a: int
    round_b: int
    draft_a: int
    users: dict[str, int]


def _user(session: Session, email: str, role: str, **fields: Any) -> models.User:
    user = models.User(
        email=email, name=email.split("@")[0].title(), password_hash="x", role=role, **fields
    )
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    """Add providers A (three groups, one answered) and B, rounds, and the accounts."""
    with db.transaction(session_factory) as session:
        a = make_provider(session, slug="alpha-cvs", name="Alpha CVS")
        b = make_provider(session, slug="beta-cvs", name="Beta CVS")
        for n, district in enumerate(["Harlow", "Harlow", "Epping Forest"]):
            make_organisation(
                session, a, name=f"Alpha group {n}", district=district, contact_email=f"g{n}@a.org"
            )
        make_organisation(session, b, name="Beta group", contact_email="g@b.org")
        round_a = make_round(session, a, audience={})
        round_b = make_round(session, b, audience={})
        draft = make_round(session, a, open_now=False, period_label="2027/28 H1")
        answered = round_a.invitations[0]
        session.add(
            models.Response(
                round_id=round_a.id,
                invitation_id=answered.id,
                status="completed",
                channel="web",
                completed_at=utcnow(),
            )
        )
        users = {
            "staff_a": _user(session, "sam@alpha.org", "staff", provider=a).id,
            "staff_b": _user(session, "bea@beta.org", "staff", provider=b).id,
            "funder_a": _user(session, "fay@funder.org", "funder", funded=[a]).id,
            "admin": _user(session, "ada@tempcheck.org", "admin").id,
            "funder_none": _user(session, "nobody@funder.org", "funder").id,
        }
        return World(round_a.id, round_b.id, draft.id, users)


def _code(sessions: sessionmaker[Session], user_id: int) -> str:
    with db.transaction(sessions) as session:
        user = session.get(models.User, user_id)
        assert user is not None
        return chats.new_link_code(session, user)


def _link(harness: BotHarness, world: World, who: str, chat_id: int) -> FakeChat:
    chat = harness.chat(chat_id)
    answer = texts(chat.send(f"/link {_code(harness.sessions, world.users[who])}"))
    assert answer and "is now linked" in answer[0], answer
    return chat


def _state(sessions: sessionmaker[Session]) -> tuple[Any, ...]:
    """What a refused command must not change."""
    with sessions() as session:
        return (
            session.scalars(select(models.AuditEvent.id).order_by(models.AuditEvent.id)).all(),
            session.execute(select(models.OutboxMessage.id, models.OutboxMessage.status)).all(),
            session.execute(select(models.RoundReminder.id, models.RoundReminder.queued)).all(),
            session.execute(
                select(models.TelegramChat.chat_id, models.TelegramChat.user_id).order_by(
                    models.TelegramChat.chat_id
                )
            ).all(),
        )


def _tries(sessions: sessionmaker[Session]) -> list[tuple[str, int]]:
    """Give the /link tries counted, per chat (as its keyed hash)."""
    with sessions() as session:
        rows = session.execute(
            select(models.RateCount.client, models.RateCount.count).order_by(
                models.RateCount.client
            )
        )
        return [(client, count) for client, count in rows]


def _reminders(sessions: sessionmaker[Session], round_id: int) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count(models.OutboxMessage.id)).where(
                    models.OutboxMessage.round_id == round_id,
                    models.OutboxMessage.template == "reminder",
                )
            )
            or 0
        )


def _param(value: Any) -> Any:
    """Give a call's parameter as data (PTB may send it as JSON text)."""
    return json.loads(value) if isinstance(value, str) else value


def _one(calls: list[Call]) -> str:
    said = texts(calls)
    assert len(said) == 1, said
    return said[0]


# /link ---------------------------------------------------------------------------------------


def test_link_with_a_good_code_links_the_chat_audits_and_lists_staff_commands(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    code = _code(session_factory, world.users["staff_a"])
    calls = harness.chat(STAFF_CHAT).send(f"/link {code.lower()}")
    assert "now linked to Sam's account (staff)" in texts(calls)[0]
    [scoped] = [c for c in calls if c.method == "setMyCommands"]
    assert _param(scoped.params["scope"]) == {"type": "chat", "chat_id": STAFF_CHAT}
    listed = [c["command"] for c in _param(scoped.params["commands"])]
    assert {"rounds", "round", "remind", "link", "start", "stop"} <= set(listed)
    assert "kpi" not in listed
    with session_factory() as session:
        user = chats.user_for_chat(session, STAFF_CHAT)
        assert user is not None and user.id == world.users["staff_a"]
        event = session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.action == "user.telegram_link")
        ).one()
        assert event.actor == "sam@alpha.org (Telegram)"
        assert str(STAFF_CHAT) not in json.dumps([event.subject, event.details])
    # Used up.
    again = harness.chat(OTHER_STAFF_CHAT).send(f"/link {code}")
    assert "wrong, used or out of date" in _one(again)


def test_a_new_link_replaces_the_old_chat_and_clears_its_command_list(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    _link(harness, world, "staff_a", STAFF_CHAT)
    calls = _link(harness, world, "staff_a", OTHER_STAFF_CHAT).harness.request.calls
    cleared = [c for c in calls if c.method == "deleteMyCommands"]
    assert [_param(c.params["scope"])["chat_id"] for c in cleared] == [STAFF_CHAT]
    refused = harness.chat(STAFF_CHAT).send("/rounds")
    assert "/link" in _one(refused)


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        ("/link", "Send /link followed by your code"),
        ("/link TWO WORDS", "Send /link followed by your code"),
        ("/link ABCDEFGH", "wrong, used or out of date"),
        ("/link short", "wrong, used or out of date"),
        ("/link " + "X" * 300, "wrong, used or out of date"),
    ],
)
def test_link_refuses_bad_codes_and_links_nothing(
    harness: BotHarness,
    world: World,
    session_factory: sessionmaker[Session],
    sent: str,
    answer: str,
) -> None:
    assert answer in _one(harness.chat(STRANGER).send(sent))
    with session_factory() as session:
        assert chats.user_for_chat(session, STRANGER) is None
        assert not session.scalars(select(models.AuditEvent)).all()


def test_link_tries_are_limited_per_chat_even_with_a_right_code(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    guesser = harness.chat(STRANGER)
    for _ in range(5):
        assert "wrong, used or out of date" in _one(guesser.send("/link ABCDEFGH"))
    code = _code(session_factory, world.users["admin"])
    assert "Too many tries" in _one(guesser.send(f"/link {code}"))
    with session_factory() as session:
        assert chats.user_for_chat(session, STRANGER) is None
        # Counted under a keyed hash, not the chat id.
        clients = session.scalars(select(models.RateCount.client)).all()
        assert clients and all(str(STRANGER) not in c for c in clients)
    # Another chat is not held back by this one's tries.
    assert "is now linked" in _one(harness.chat(ADMIN_CHAT).send(f"/link {code}"))


# Refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/rounds", "/round 1", "/remind 1", "/kpi"])
def test_staff_and_funder_commands_are_refused_to_a_chat_not_linked(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session], command: str
) -> None:
    before = _state(session_factory)
    answer = _one(harness.chat(STRANGER).send(command.replace("1", str(world.round_a))))
    assert "is for tempcheck staff and funders" in answer and "/link CODE" in answer
    assert "Alpha" not in answer
    assert _state(session_factory) == before


@pytest.mark.parametrize("command", ["/rounds", "/round 1", "/remind 1", "/kpi", "/link"])
def test_a_chat_not_linked_is_told_what_to_do_not_a_server_command(
    harness: BotHarness, world: World, command: str
) -> None:
    # Mostly groups' members, who answer surveys here: nothing to run on a server for them.
    answer = _one(harness.chat(STRANGER).send(command))
    assert "`" not in answer and "tempcheck users" not in answer
    assert "/link" in answer and "tempcheck administrator" in answer


def test_a_forged_confirmation_from_a_chat_not_linked_sends_nothing(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    before = _state(session_factory)
    calls = harness.chat(STRANGER).press(f"s:remind:{world.round_a}:0", message_id=7)
    assert "is for tempcheck staff and funders" in callback_answers(calls)[0]
    assert not [c for c in calls if c.method == "editMessageText"]
    assert _state(session_factory) == before and _reminders(session_factory, world.round_a) == 0


@pytest.mark.parametrize(
    ("who", "command", "hint"),
    [
        ("funder_a", "/rounds", "try /kpi"),
        ("funder_a", "/round {a}", "try /kpi"),
        ("funder_a", "/remind {a}", "try /kpi"),
        ("staff_a", "/kpi", "try /rounds"),
    ],
)
def test_commands_of_another_role_are_refused_and_change_nothing(
    harness: BotHarness,
    world: World,
    session_factory: sessionmaker[Session],
    who: str,
    command: str,
    hint: str,
) -> None:
    chat = _link(harness, world, who, FUNDER_CHAT)
    before = _state(session_factory)
    answer = _one(chat.send(command.format(a=world.round_a)))
    assert "is not for your account" in answer and hint in answer
    assert _state(session_factory) == before
    if who == "funder_a":
        pressed = chat.press(f"s:remind:{world.round_a}:0", message_id=9)
        assert "is not for your account" in callback_answers(pressed)[0]
        assert _state(session_factory) == before


def test_a_deactivated_account_s_chat_is_refused(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    with db.transaction(session_factory) as session:
        user = session.get(models.User, world.users["staff_a"])
        assert user is not None
        user.active = False
    assert "/link CODE" in _one(chat.send("/rounds"))


def test_staff_commands_in_a_group_are_refused(harness: BotHarness, world: World) -> None:
    _link(harness, world, "staff_a", STAFF_CHAT)
    update = {
        "update_id": 990001,
        "message": {
            "message_id": 990002,
            "date": 0,
            "chat": {"id": -100123, "type": "group", "title": "Team"},
            "from": {"id": STAFF_CHAT, "is_bot": False, "first_name": "Sam"},
            "text": "/rounds",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    answer = _one(harness.feed(update))
    assert "private chat" in answer and "Alpha" not in answer


@pytest.mark.parametrize("control", ["\x00", "\x0b", "\x1f", "\x7f"])
def test_a_command_with_a_control_character_is_refused_and_changes_nothing(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session], control: str
) -> None:
    code = _code(session_factory, world.users["admin"])
    staff_chat = _link(harness, world, "staff_a", STAFF_CHAT)
    before = _state(session_factory), _tries(session_factory)

    for chat, command in (
        (harness.chat(ADMIN_CHAT), f"/link {code}{control}"),
        (harness.chat(ADMIN_CHAT), f"/link{control} {code}"),
        (staff_chat, f"/round {world.round_a}{control}"),
        (staff_chat, f"/remind {world.round_a}{control}"),
    ):
        answer = _one(chat.send(command))
        assert "invisible control character" in answer and "Nothing was saved" in answer
        assert not chat.last_message().buttons

    assert (_state(session_factory), _tries(session_factory)) == before  # no /link try counted
    with session_factory() as session:
        assert chats.user_for_chat(session, ADMIN_CHAT) is None
    # The code was not used up: sent plainly, it links.
    assert "is now linked" in _one(harness.chat(ADMIN_CHAT).send(f"/link {code}"))


# /rounds and /round --------------------------------------------------------------------------


def test_rounds_lists_the_staff_member_s_open_rounds_with_rates(
    harness: BotHarness, world: World
) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    answer = _one(chat.send("/rounds"))
    assert f"#{world.round_a} " in answer and "1 of 3 (33%)" in answer
    assert f"#{world.round_b} " not in answer and f"#{world.draft_a} " not in answer
    assert "Beta" not in answer

    admin = _link(harness, world, "admin", ADMIN_CHAT)
    everything = _one(admin.send("/rounds"))
    assert f"#{world.round_a} " in everything and f"#{world.round_b} " in everything
    assert "(Alpha CVS)" in everything and "(Beta CVS)" in everything


def test_rounds_says_so_when_none_is_open(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        for round_ in session.scalars(select(models.Round)):
            round_.status = "closed"
    chat = _link(harness, world, "staff_b", STAFF_CHAT)
    assert _one(chat.send("/rounds")) == "No rounds are open now."


def test_round_shows_the_status_by_segment(harness: BotHarness, world: World) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    answer = _one(chat.send(f"/round {world.round_a}"))
    assert answer.startswith(f"#{world.round_a} ")
    assert "Completed: 1 of 3 (33%)" in answer
    assert "By district:" in answer
    assert "- Harlow: " in answer and "- Epping Forest: " in answer
    # Counts only: no group's name or address goes to a phone.
    assert "Alpha group" not in answer and "@a.org" not in answer
    assert f"/remind {world.round_a}" in answer


def test_round_names_segment_values_and_channels_as_the_console_does(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, world.round_a)
        assert round_ is not None
        group = round_.invitations[1].organisation
        assert group is not None
        group.income_band, group.is_member = None, False  # copied below, as the status reads
    chat = _link(harness, world, "staff_a", STAFF_CHAT)

    answer = _one(chat.send(f"/round {world.round_a}"))

    assert "- Community group: 1 of 3 (33%)" in answer
    assert "- Under £10k: 1 of 2 (50%)" in answer and "- Not recorded: 0 of 1 (0%)" in answer
    assert "- Members: 1 of 2 (50%)" in answer and "- Not members: 0 of 1 (0%)" in answer
    assert "Completed, by the channel finished in: Web 1" in answer
    for code in ("under_10k", "community_group", "not a member", "web 1"):
        assert code not in answer, code


@pytest.mark.parametrize("argument", ["", "abc", "1 2", "-3", "99999999999999"])
def test_round_and_remind_explain_a_missing_or_bad_number(
    harness: BotHarness, world: World, argument: str
) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    assert "like /round 12" in _one(chat.send(f"/round {argument}".strip()))
    assert "like /remind 12" in _one(chat.send(f"/remind {argument}".strip()))


def test_another_provider_s_round_is_no_such_round_like_a_missing_one(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    missing = 987654
    for command in ("/round", "/remind"):
        hidden = _one(chat.send(f"{command} {world.round_b}"))
        absent = _one(chat.send(f"{command} {missing}"))
        assert hidden.replace(str(world.round_b), "N") == absent.replace(str(missing), "N")
        assert "no round" in hidden and "Beta" not in hidden
    before = _state(session_factory)
    pressed = chat.press(f"s:remind:{world.round_b}:0", message_id=3)
    assert "no round" in callback_answers(pressed)[0]
    assert _reminders(session_factory, world.round_b) == 0
    assert _state(session_factory) == before


# /remind ---------------------------------------------------------------------------------------


def _invited_days_ago(sessions: sessionmaker[Session], round_id: int, days: int = 2) -> None:
    """Date the round's invitations `days` back, as if they went out then."""
    with db.transaction(sessions) as session:
        for message in session.scalars(
            select(models.OutboxMessage).where(models.OutboxMessage.round_id == round_id)
        ):
            message.created_at -= timedelta(days=days)
            if message.sent_at is not None:
                message.sent_at -= timedelta(days=days)


def test_remind_asks_first_then_queues_reminders_once_and_audits(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    _invited_days_ago(session_factory, world.round_a)
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    before = _state(session_factory)
    asked = chat.send(f"/remind {world.round_a}")
    question = _one(asked)
    assert "2 groups have not answered" in question
    labels = [b["text"] for b in chat.last_message().flat_buttons]
    assert labels == ["Send reminders to 2 groups", "Cancel"]
    assert _state(session_factory) == before, "asking changed something"

    confirm = chat.last_message()
    pressed = chat.press_label("Send reminders to 2 groups", confirm)
    assert callback_answers(pressed) == ["2 reminders were queued."]
    [edited] = [c for c in pressed if c.method == "editMessageText"]
    assert "2 reminders were queued" in edited.text and not edited.buttons
    assert _reminders(session_factory, world.round_a) == 2
    with session_factory() as session:
        event = session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.action == "round.remind")
        ).one()
        assert event.actor == "sam@alpha.org (Telegram)"
        assert event.user_id == world.users["staff_a"] and event.details == {"queued": 2}

    # The same button again (a double tap, an old message): nothing more is sent.
    again = chat.press_label("Send reminders to 2 groups", confirm)
    assert callback_answers(again) == ["Already reminded"]
    assert _reminders(session_factory, world.round_a) == 2
    # Asking again gives a fresh confirmation that works, deliberately: the reminders just
    # went out, so it says when, and the button says "anyway".
    again_asked = _one(chat.send(f"/remind {world.round_a}"))
    assert "⚠️ The last invitation or reminder to those who have not answered went out" in (
        again_asked
    )
    chat.press_label("Send reminders to 2 groups anyway")
    assert _reminders(session_factory, world.round_a) == 4


def test_remind_too_soon_after_the_invitations_says_when_they_went_out(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    asked = _one(chat.send(f"/remind {world.round_a}"))
    assert "2 groups have not answered" in asked
    assert "⚠️ The last invitation or reminder to those who have not answered went out " in asked
    assert "UK time): reminders are kept at least 1 day apart." in asked
    labels = [b["text"] for b in chat.last_message().flat_buttons]
    assert labels == ["Send reminders to 2 groups anyway", "Cancel"]
    assert _reminders(session_factory, world.round_a) == 0
    chat.press_label("Send reminders to 2 groups anyway")
    assert _reminders(session_factory, world.round_a) == 2


def test_cancel_sends_nothing(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    chat = _link(harness, world, "admin", ADMIN_CHAT)
    chat.send(f"/remind {world.round_b}")
    before = _state(session_factory)
    pressed = chat.press_label("Cancel")
    assert callback_answers(pressed) == ["Cancelled"]
    assert "no reminders were sent" in texts(pressed)[0]
    assert _state(session_factory) == before


def test_a_round_that_closed_after_asking_is_not_reminded(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    _invited_days_ago(session_factory, world.round_a)
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    chat.send(f"/remind {world.round_a}")
    confirm = chat.last_message()
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, world.round_a)
        assert round_ is not None
        round_.status = "closed"
    pressed = chat.press_label("Send reminders to 2 groups", confirm)
    assert "only an open round can be reminded" in callback_answers(pressed)[0]
    assert _reminders(session_factory, world.round_a) == 0
    assert "only an open round" in _one(chat.send(f"/remind {world.round_a}"))
    assert "only an open round" in _one(chat.send(f"/remind {world.draft_a}"))


def test_remind_with_everyone_answered_says_so(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, world.round_b)
        assert round_ is not None
        for invitation in round_.invitations:
            session.add(
                models.Response(
                    round_id=round_.id, invitation_id=invitation.id, status="completed",
                    channel="web",
                )
            )  # fmt: skip
    chat = _link(harness, world, "staff_b", STAFF_CHAT)
    assert "nobody to remind" in _one(chat.send(f"/remind {world.round_b}"))
    assert not chat.last_message().buttons


@pytest.mark.parametrize("data", ["s:", "s:remind", "s:remind:x:1", "s:explode:1", "s:remind:1"])
def test_a_malformed_staff_button_is_answered_and_changes_nothing(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session], data: str
) -> None:
    chat = _link(harness, world, "staff_a", STAFF_CHAT)
    before = _state(session_factory)
    assert callback_answers(chat.press(data)) == ["That button no longer works."]
    assert _state(session_factory) == before


# /kpi ----------------------------------------------------------------------------------------


def _publish(sessions: sessionmaker[Session], round_id: int) -> int:
    from analysis.publish import build_report

    with db.transaction(sessions) as session:
        round_ = session.get(models.Round, round_id)
        assert round_ is not None
        report = build_report(session, round_, "essex-2017", {})
        snapshot = models.ReportSnapshot(
            provider_id=round_.provider_id,
            round_id=round_.id,
            framework="essex-2017",
            title="A report",
            data=report.to_json(),
            pdf=b"%PDF",
            xlsx=b"PK",
            published_by="test",
        )
        session.add(snapshot)
        session.flush()
        return snapshot.id


def test_kpi_says_when_nothing_is_published_then_gives_the_latest_summary(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    chat = _link(harness, world, "funder_a", FUNDER_CHAT)
    assert _one(chat.send("/kpi")) == "Alpha CVS: no KPI report has been published yet."
    _publish(session_factory, world.round_a)
    newest = _publish(session_factory, world.round_a)
    _publish(session_factory, world.round_b)  # another provider's: not this funder's
    answer = _one(chat.send("/kpi"))
    assert answer.startswith("Alpha CVS: ")
    assert f"/funder/alpha-cvs/reports/{newest}" in answer
    assert "Beta" not in answer and len(answer) <= 4096


def test_kpi_for_a_funder_of_nothing_and_for_an_admin(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    chat = _link(harness, world, "funder_none", FUNDER_CHAT)
    assert "does not fund any provider" in _one(chat.send("/kpi"))
    _publish(session_factory, world.round_b)
    admin = _link(harness, world, "admin", ADMIN_CHAT)
    said = texts(admin.send("/kpi"))
    assert said[0] == "Alpha CVS: no KPI report has been published yet."
    assert said[1].startswith("Beta CVS: ")
    assert len(said) == 2


def test_kpi_over_many_providers_stops_after_a_few_messages(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        for n in range(staff.MOST_REPORTS + 2):
            make_provider(session, slug=f"zeta-{n}", name=f"Zeta {n:02d}")
    said = texts(_link(harness, world, "admin", ADMIN_CHAT).send("/kpi"))
    assert len(said) == staff.MOST_REPORTS + 1
    assert said[-1] == "…and 4 more: see the funder pages on the web."


# Command lists ---------------------------------------------------------------------------------


def test_commands_are_published_per_role_at_start(harness: BotHarness, world: World) -> None:
    default = harness.request.calls
    [everyone] = [c for c in default if c.method == "setMyCommands"]
    assert _param(everyone.params["scope"]) == {"type": "default"}
    assert [c["command"] for c in _param(everyone.params["commands"])] == [
        "start", "back", "skip", "language", "help", "stop",
    ]  # fmt: skip
    _link(harness, world, "staff_a", STAFF_CHAT)
    _link(harness, world, "funder_a", FUNDER_CHAT)
    _link(harness, world, "admin", ADMIN_CHAT)
    harness.restart()
    scoped = {
        _param(c.params["scope"]).get("chat_id"): [
            b["command"] for b in _param(c.params["commands"])
        ]
        for c in harness.request.calls
        if c.method == "setMyCommands"
    }
    assert set(scoped) == {None, STAFF_CHAT, FUNDER_CHAT, ADMIN_CHAT}
    assert {"rounds", "remind"} <= set(scoped[STAFF_CHAT]) and "kpi" not in scoped[STAFF_CHAT]
    assert "kpi" in scoped[FUNDER_CHAT] and "rounds" not in scoped[FUNDER_CHAT]
    assert {"rounds", "kpi", "link"} <= set(scoped[ADMIN_CHAT])


def test_a_refused_command_list_does_not_stop_the_bot(harness: BotHarness, world: World) -> None:
    assert harness.app is not None
    blocked = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
    _link(harness, world, "staff_a", STAFF_CHAT)
    harness.request.fail_next["setMyCommands"] = dict(blocked)
    harness.loop.run_until_complete(staff.publish_commands(harness.app))
    harness.request.fail_next["setMyCommands"] = dict(blocked)
    harness.loop.run_until_complete(staff._set_chat_commands(harness.app, STAFF_CHAT, "staff"))
    assert [c.method for c in harness.request.calls[-3:]] == ["setMyCommands"] * 3
    # Still answering.
    assert "Open rounds" in _one(harness.chat(STAFF_CHAT).send("/rounds"))


def test_round_says_a_round_closed_early_closed_that_day_not_on_its_planned_close(
    harness: BotHarness, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, world.round_a)
        assert round_ is not None
        due = round_.closes_at
        rounds.close_round(session, round_)
    chat = _link(harness, world, "staff_a", STAFF_CHAT)

    answer = _one(chat.send(f"/round {world.round_a}"))

    assert (
        f"Status: closed; closed early on {long_date(utcnow())} (due to close on "
        f"{long_date(due)})" in answer
    )
