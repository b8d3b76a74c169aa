"""The outbox sends 200 Telegram invitations through `tempcheck dispatch` (a real process)
to the emulator, which answers 429 when one chat gets more than FLOOD_PER_SEC=1 message in
its window: every invitation arrives, in its own chat, exactly once.

50 groups with linked chats, 4 rounds: each chat gets 4 invitations. The first chat's first
two are queued back to back; the emulator's window there (1.5 s) is stricter than the
transport's one message a second per chat, so that second message meets a 429 for certain,
is held for retry_after and sent again. The rest go round the chats, each chat's next one
after the other 49 (about 2 s at 25 a second), which the window lets through.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from collector import db, models
from collector.config import Settings
from collector.models import utcnow
from tests.e2e.telegram.harness import (
    Emulator,
    environment,
    start,
    telegram_groups,
)
from tests.factories import cvs_support, make_provider, make_round

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHATS = 50
ROUNDS = 4
LINK = re.compile(r"/r/([A-Za-z0-9_-]+)")


@pytest.fixture
def flooding(emulator: Emulator) -> Emulator:
    """Give the emulator with its per-chat flood control on."""
    emulator.reset(flood_per_sec=1, flood_window_ms=1500)
    return emulator


def queue(url: str) -> dict[str, int]:
    """Open 4 Telegram rounds for 50 linked groups; give each invitation's token its chat id."""
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    expected: dict[str, int] = {}
    with db.transaction(sessions) as session:
        provider = make_provider(session)
        chat_ids = [880_000 + n for n in range(CHATS)]
        telegram_groups(session, provider, chat_ids)
        for n in range(ROUNDS):
            round_ = make_round(
                session,
                provider,
                cvs_support(),
                channels=["telegram"],
                period_label=f"2026/27 Q{n + 1}",
            )
            for invitation in round_.invitations:
                assert invitation.organisation is not None
                chat = invitation.organisation.telegram_chats[0].chat_id
                expected[invitation.token] = chat
        # Queue order: round after round (the next to one chat comes 49 messages later),
        # except that the first chat's second invitation comes straight after its first.
        start_at = utcnow() - timedelta(minutes=5)
        messages = session.scalars(
            select(models.OutboxMessage).order_by(models.OutboxMessage.id)
        ).all()
        assert len(messages) == CHATS * ROUNDS
        first_chat = messages[0].recipient
        order = sorted(
            messages,
            key=lambda m: (
                0 if m.recipient == first_chat and m.id <= messages[CHATS].id else 1,
                m.id,
            ),
        )
        for position, message in enumerate(order):
            session.execute(
                update(models.OutboxMessage)
                .where(models.OutboxMessage.id == message.id)
                .values(next_attempt_at=start_at + timedelta(milliseconds=position))
            )
    engine.dispose()
    return expected


def test_200_invitations_under_flood_control_arrive_once_each(
    flooding: Emulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'tempcheck.db'}"
    expected = queue(url)
    assert len(expected) == CHATS * ROUNDS == 200
    env = environment(
        url,
        flooding,
        tmp_path,
        TELEGRAM_BOT_USERNAME="tempcheck_test_bot",
        TELEGRAM_PER_SECOND="25",
        DISPATCH_BATCH="50",
    )
    dispatcher = start(["dispatch", "--until-idle"], env, tmp_path / "dispatch", "dispatch")
    assert dispatcher.process.wait(timeout=180) == 0, dispatcher.output()
    output = dispatcher.output()
    assert "Telegram as @tempcheck_test_bot through 127.0.0.1:" in output
    assert "25 Telegram messages a second" in output
    assert output.rstrip().endswith("Done: sent 200."), output

    stats = flooding.stats()
    received = Counter(
        (int(chat), token)
        for chat, texts in stats["texts"].items()
        for text in texts
        for token in LINK.findall(text)
    )
    # None lost, none twice, each in its own group's chat.
    assert received == Counter({(chat, token): 1 for token, chat in expected.items()})
    assert sum(len(texts) for texts in stats["texts"].values()) == 200
    # The one message sent inside the emulator's window was refused, waited for and resent;
    # the transport's own pacing kept every other one clear of it.
    assert stats["refused"] == {"chat": 1, "total": 0}
    engine = db.make_engine(Settings(database_url=url))
    with db.make_sessionmaker(engine)() as session:
        statuses = Counter(session.scalars(select(models.OutboxMessage.status)))
    engine.dispose()
    assert statuses == Counter({"sent": 200})
    assert "TEST-TOKEN" not in output
    for chat in list(expected.values())[:5]:
        assert str(chat) not in output
