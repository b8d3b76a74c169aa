"""The Telegram outbox transport, offline: a fake Bot API records what would be sent.

Rendering (texts, the deep-link button), the per-chat limit (a fake clock: nothing sleeps),
RetryAfter waited out once, permanent and temporary failures, and the dispatcher delivering
Telegram invitations with a blocked chat marked unreachable (SQLite and PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from telegram.error import NetworkError
from telegram.request import RequestData

from bot.transport import TelegramMessage, TelegramTransport, deep_link
from collector import db, models, reports
from collector.config import Settings
from collector.delivery import outbox
from collector.delivery.dispatcher import Dispatcher
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.models import utcnow
from tests.bot.conftest import BOT_USER, FakeRequest
from tests.factories import make_organisation, make_provider, make_round

TOKEN = "123456:TEST-TOKEN"


class Request(FakeRequest):
    """FakeRequest with a queue of errors for sendMessage, one per call, and network failures."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[dict[str, Any] | Exception] = []

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answer sendMessage with the next queued error, if any."""
        if url.endswith("/sendMessage") and self.errors:
            error = self.errors.pop(0)
            self.calls.append(_call(request_data))
            if isinstance(error, Exception):
                raise error
            return int(error["error_code"]), json.dumps(error).encode()
        return await super().do_request(url, method, request_data)

    def sent(self) -> list[Any]:
        """Give the sendMessage calls."""
        return [call for call in self.calls if call.method == "sendMessage"]


def _call(request_data: RequestData | None) -> Any:
    from tests.bot.conftest import Call

    return Call("sendMessage", dict(request_data.parameters) if request_data else {})


def error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    """Build a Bot API error answer."""
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return answer


class FakeTime:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        """Give the time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Move the clock on instead of sleeping."""
        self.slept.append(seconds)
        self.now += seconds


_ids = itertools.count(1)


def outgoing(template: str = "invite", recipient: str = "4242", **data: Any) -> Outgoing:
    """Build a claimed message as the dispatcher hands it over."""
    values: dict[str, Any] = {
        "token": "tok-abc",
        "organisation": "Harlow Knitters",
        "provider": "Harlow CVS",
        "survey": "CVS support",
        "period": "2026/27 H1",
        "closes_at": "2026-09-30T22:59:59+00:00",
    }
    values.update(data)
    n = next(_ids)
    return Outgoing(
        id=n,
        dedupe_key=f"k{n}",
        channel="telegram",
        recipient=recipient,
        template=template,
        data=values,
        attempts=0,
        claimed_until=utcnow() + timedelta(minutes=5),
    )


@pytest.fixture
def tg_settings() -> Settings:
    """Settings with a token and the bot's username."""
    return Settings(
        database_url="sqlite://",
        telegram_bot_token=TOKEN,
        telegram_bot_username="tempcheck_bot",
        base_url="https://tempcheck.example.org",
    )


@pytest.fixture
def fake_time() -> FakeTime:
    """Give a fake clock."""
    return FakeTime()


@pytest.fixture
def transport(tg_settings: Settings, fake_time: FakeTime) -> Any:
    """Give a transport over a fake Bot API, closed afterwards."""
    request = Request()
    made = TelegramTransport(
        tg_settings, request=request, sleep=fake_time.sleep, clock=fake_time.clock
    )
    yield made, request
    made.close()


# Rendering ----------------------------------------------------------------------------------


def test_invitation_text_and_deep_link_button(transport: Any) -> None:
    sender, request = transport
    rendered = sender.render(outgoing())
    assert rendered.text.startswith("Hello Harlow Knitters,\n\nHarlow CVS would like to hear")
    assert '"CVS support" (2026/27 H1)' in rendered.text
    assert "closes on 30 September 2026" in rendered.text  # UK date of 23:59:59 BST
    assert "https://tempcheck.example.org/r/tok-abc" in rendered.text
    assert "/stop" in rendered.text
    assert rendered.buttons == (("Answer here", "https://t.me/tempcheck_bot?start=tok-abc"),)
    assert request.calls == []  # the username came from the settings: nothing asked


def test_reminder_and_placement_wording(transport: Any) -> None:
    sender, _ = transport
    reminder = sender.render(outgoing("reminder")).text
    assert reminder.startswith(
        "Hello Harlow Knitters,\n\nA reminder: Harlow CVS would still like to hear from "
        "Harlow Knitters about the support it has given you. If you have started, your answers "
        "so far are saved."
    )
    volunteer = sender.render(
        outgoing(
            organisation="Sam Patel",
            placement={"host": "Harlow Foodbank", "role": "Driver", "recipient": "volunteer"},
        )
    ).text
    assert volunteer.startswith(
        "Hello Sam Patel,\n\nHarlow CVS would like to hear how your volunteering as Driver "
        "with Harlow Foodbank is going."
    )
    host = sender.render(
        outgoing(
            "reminder",
            organisation="Harlow Foodbank",
            placement={"host": "Harlow Foodbank", "role": "Driver", "recipient": "host"},
        )
    ).text
    assert (
        "A reminder: Harlow CVS would still like to hear from Harlow Foodbank about the "
        "volunteer placed with you as Driver." in host
    )
    no_name = sender.render(outgoing(organisation="")).text
    assert no_name.startswith("Hello there,\n\nHarlow CVS would like to hear from your group")


def test_username_from_get_me_when_not_configured(fake_time: FakeTime) -> None:
    request = Request()
    sender = TelegramTransport(
        Settings(database_url="sqlite://", telegram_bot_token=TOKEN),
        request=request,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    try:
        rendered = sender.render(outgoing())
        assert rendered.buttons[0][1] == deep_link(str(BOT_USER["username"]), "tok-abc")
        assert [call.method for call in request.calls] == ["getMe"]
        sender.render(outgoing())
        assert [call.method for call in request.calls] == ["getMe"]  # asked once
        assert "@tempcheck_test_bot" in sender.describe()
    finally:
        sender.close()


def test_report_notice(transport: Any) -> None:
    sender, _ = transport
    rendered = sender.render(
        outgoing(
            reports.TEMPLATE,
            provider="Harlow CVS",
            period="2026/27 H1",
            framework_title="Essex CVS KPIs",
            title="KPI report",
            path="/funder/reports/7",
            message=f"Response rate 62%. Read more: {reports.LINK_SLOT}",
        )
    )
    assert rendered.text.startswith(
        "Harlow CVS has published its KPI report for 2026/27 H1: Essex CVS KPIs."
    )
    assert "Read more: https://tempcheck.example.org/funder/reports/7" in rendered.text
    assert rendered.text.count("/funder/reports/7") == 1
    assert rendered.buttons == ()


@pytest.mark.parametrize(
    ("template", "data", "expected"),
    [
        ("nonsense", {}, "No Telegram message for 'nonsense'"),
        ("invite", {"token": None, "provider": None}, "Could not write the invite message"),
        ("invite", {"closes_at": "not a date"}, "Could not write the invite message"),
    ],
)
def test_render_refuses_what_it_cannot_write(
    transport: Any, template: str, data: dict[str, Any], expected: str
) -> None:
    sender, _ = transport
    message = outgoing(template, **data)
    if data.get("token", "x") is None:
        message = Outgoing(**{**message.__dict__, "data": {"survey": "x"}})
    with pytest.raises(DeliveryError, match=expected) as caught:
        sender.render(message)
    assert caught.value.permanent and not caught.value.unreachable


def test_long_text_is_cut_to_telegrams_limit(transport: Any) -> None:
    sender, _ = transport
    text = sender.render(outgoing(organisation="A" * 5000)).text
    assert len(text) == 4096 and text.endswith("…")


# Sending ------------------------------------------------------------------------------------


def test_send_posts_the_message_with_its_button(transport: Any) -> None:
    sender, request = transport
    message = outgoing()
    sender.send(message, sender.render(message))
    (call,) = request.sent()
    assert call.chat_id == 4242
    assert call.text.startswith("Hello Harlow Knitters")
    assert call.flat_buttons == [
        {"text": "Answer here", "url": "https://t.me/tempcheck_bot?start=tok-abc"}
    ]


def test_one_message_a_second_to_the_same_chat(transport: Any, fake_time: FakeTime) -> None:
    sender, request = transport
    plain = TelegramMessage("hello")
    sender.send(outgoing(recipient="1"), plain)
    sender.send(outgoing(recipient="2"), plain)  # another chat: no wait
    assert fake_time.slept == []
    fake_time.now += 0.25
    sender.send(outgoing(recipient="1"), plain)  # 0.25 s after the first to chat 1
    assert fake_time.slept == [pytest.approx(0.75)]
    fake_time.now += 5
    sender.send(outgoing(recipient="1"), plain)  # long enough ago
    assert fake_time.slept == [pytest.approx(0.75)]
    assert [call.chat_id for call in request.sent()] == [1, 2, 1, 1]


def test_retry_after_is_waited_out_then_sent(transport: Any, fake_time: FakeTime) -> None:
    sender, request = transport
    request.errors.append(error(429, "Too Many Requests: retry after 3", retry_after=3))
    sender.send(outgoing(), TelegramMessage("hello"))
    assert fake_time.slept == [3.0]
    assert len(request.sent()) == 2  # refused, then sent


def test_retry_after_twice_gives_a_temporary_error(transport: Any, fake_time: FakeTime) -> None:
    sender, request = transport
    request.errors += [error(429, "Too Many Requests", retry_after=1)] * 2
    with pytest.raises(DeliveryError, match="asked to wait again") as caught:
        sender.send(outgoing(), TelegramMessage("hello"))
    assert not caught.value.permanent
    assert fake_time.slept == [1.0]


def test_a_long_flood_wait_goes_back_to_the_outbox(transport: Any, fake_time: FakeTime) -> None:
    sender, request = transport
    request.errors.append(error(429, "Too Many Requests", retry_after=600))
    with pytest.raises(DeliveryError, match="wait 600 s") as caught:
        sender.send(outgoing(), TelegramMessage("hello"))
    assert not caught.value.permanent
    assert fake_time.slept == []


@pytest.mark.parametrize(
    ("answer", "permanent", "unreachable"),
    [
        (error(403, "Forbidden: bot was blocked by the user"), True, True),
        (error(403, "Forbidden: user is deactivated"), True, True),
        (error(400, "Bad Request: chat not found"), True, True),
        (error(400, "Bad Request: BUTTON_URL_INVALID"), True, False),
        (error(401, "Unauthorized"), False, False),
        (error(502, "Bad Gateway"), False, False),
        (NetworkError("connection refused"), False, False),
    ],
)
def test_failures(
    transport: Any, answer: dict[str, Any] | Exception, permanent: bool, unreachable: bool
) -> None:
    sender, request = transport
    request.errors.append(answer)
    with pytest.raises(DeliveryError) as caught:
        sender.send(outgoing(recipient="987654321"), TelegramMessage("hello"))
    assert (caught.value.permanent, caught.value.unreachable) == (permanent, unreachable)
    assert "987654321" not in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_address_that_is_not_a_chat_is_permanent(transport: Any) -> None:
    sender, request = transport
    with pytest.raises(DeliveryError, match="not a Telegram chat") as caught:
        sender.send(outgoing(recipient="someone@example.org"), TelegramMessage("hello"))
    assert caught.value.permanent
    assert request.sent() == []


def test_close_then_send_again(transport: Any) -> None:
    sender, request = transport
    sender.send(outgoing(), TelegramMessage("one"))
    sender.close()
    sender.close()  # twice is fine
    sender.send(outgoing(), TelegramMessage("two"))
    assert [call.text for call in request.sent()] == ["one", "two"]


def test_describe_names_no_token(tg_settings: Settings) -> None:
    described = TelegramTransport(tg_settings).describe()
    assert described == "Telegram as @tempcheck_bot through api.telegram.org"
    assert TOKEN not in described


# Through the dispatcher ---------------------------------------------------------------------


def test_dispatcher_sends_telegram_invitations_and_marks_blocked_chats(
    settings: Settings, session_factory: sessionmaker[Session], fake_time: FakeTime
) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        chats = {}
        for n, name in enumerate(("Reachable", "Blocked", "Email only")):
            organisation = make_organisation(
                session,
                provider,
                name=name,
                consent_telegram=n < 2,
                preferred_channel="telegram",
            )
            if n < 2:
                chat = models.TelegramChat(chat_id=5000 + n, organisation=organisation)
                session.add(chat)
                chats[name] = chat.chat_id
        session.flush()
        round_ = make_round(session, provider, channels=["email", "telegram"])
        round_id = round_.id
    with session_factory() as session:
        queued = {
            m.recipient: m.channel
            for m in session.scalars(
                select(models.OutboxMessage).where(models.OutboxMessage.round_id == round_id)
            )
        }
    assert sorted(queued.values()) == ["email", "telegram", "telegram"]

    request = Request()
    request.errors.append(error(403, "Forbidden: bot was blocked by the user"))
    settings = dataclasses.replace(
        settings, telegram_bot_token=TOKEN, telegram_bot_username="tempcheck_bot"
    )
    sender = TelegramTransport(
        settings, request=request, sleep=fake_time.sleep, clock=fake_time.clock
    )
    dispatcher = Dispatcher(
        settings, session_factory, {"telegram": sender}, "test", rates={"telegram": 1000}
    )
    total = dispatcher.run(until_idle=True)
    # The first Telegram message (the lower chat id is not guaranteed first): one sent, one
    # blocked and given up, the email left for an email dispatcher.
    assert (total.sent, total.failed) == (1, 1)
    with session_factory() as session:
        messages = {
            m.recipient: m
            for m in session.scalars(
                select(models.OutboxMessage).where(models.OutboxMessage.channel == "telegram")
            )
        }
        blocked = str(request.sent()[0].chat_id)
        delivered = next(r for r in messages if r != blocked)
        assert messages[blocked].status == "failed"
        assert "blocked" in (messages[blocked].last_error or "")
        assert messages[delivered].status == "sent"
        gone = session.scalar(
            select(models.TelegramChat).where(models.TelegramChat.chat_id == int(blocked))
        )
        assert gone is not None and gone.unreachable_at is not None
        email = session.scalar(
            select(models.OutboxMessage).where(models.OutboxMessage.channel == "email")
        )
        assert email is not None and email.status == "pending"
    assert [call.chat_id for call in request.sent()][1:] == [int(delivered)]
    assert outbox.CHANNELS == ("email", "telegram", "webhook")
