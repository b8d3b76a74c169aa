"""What a careless respondent does in Telegram, through `tempcheck bot` (a real process) and the
Bot API emulator (issue 12, items 19 and 10): a choice typed as its button says it is taken, a
warning goes with the first tick, a too-long text says by how much and saves nothing, and a
"No, thanks" pressed just after "Yes, send them here" unlinks the chat.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import db, models
from collector.config import Settings
from collector.delivery import chats
from tests.e2e.telegram.client import one, wait_changed
from tests.e2e.telegram.harness import USERNAME, Emulator, bot_running, environment
from tests.factories import make_invitation

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass(frozen=True)
class Invited:
    """A SQLite database with one open round of the every-type survey, and one invitation."""

    url: str
    token: str
    organisation_id: int


@pytest.fixture
def invited(tmp_path: Path) -> Invited:
    """Give a database file with the schema and an invitation to answer."""
    url = f"sqlite:///{tmp_path / 'tempcheck.db'}"
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    with db.transaction(db.make_sessionmaker(engine)) as session:
        invitation = make_invitation(session)
        assert invitation.organisation_id is not None
        made = Invited(url, invitation.token, invitation.organisation_id)
    engine.dispose()
    return made


@contextmanager
def reading(invited: Invited) -> Iterator[Session]:
    """Give a session on the test's database, as the bot left it."""
    engine = db.make_engine(Settings(database_url=invited.url))
    try:
        with db.make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def stored(invited: Invited) -> tuple[str, dict[str, str]]:
    """Give the response's status and its answers as stored."""
    with reading(invited) as session:
        response = session.scalars(
            select(models.Response)
            .join(models.Invitation)
            .where(models.Invitation.token == invited.token)
        ).one()
        return response.status, {a.question_id: a.value for a in response.answers}


def test_typed_choices_ticks_and_a_too_long_text(
    emulator: Emulator, invited: Invited, tmp_path: Path
) -> None:
    env = environment(invited.url, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    user = emulator.user(515_151)

    with bot_running(env, tmp_path / "bot") as bot:
        user.command(f"/start {invited.token}")
        user.press(one(user), "Continue")
        assert "Did you use us?" in one(user).text

        user.text("Yes")  # the button's label, typed
        ease = one(user)
        assert "How easy?" in ease.text and "⚠️" not in ease.text
        user.text("easy")
        kinds = one(user)
        assert "Which kinds?" in kinds.text

        user.press(kinds, "Done")  # nothing ticked
        kinds = wait_changed(user, kinds)
        assert "⚠️ Select at least one answer" in kinds.text
        user.press(kinds, "⬜ Funding")
        kinds = wait_changed(user, kinds)
        assert "⚠️" not in kinds.text and kinds.button("☑️ Funding")
        user.press(kinds, "Done")

        assert "How many volunteers?" in one(user).text
        user.text("12")
        assert "What share came through us?" in one(user).text
        user.command("/skip")
        assert "Anything else?" in one(user).text

        user.text("x" * 2345)
        refused = one(user)
        assert "345 characters too long" in refused.text and "2,345" in refused.text
        assert "Anything else?" in refused.text  # asked again
        assert stored(invited) == (
            "in_progress",
            {"used": "yes", "ease": "easy", "kinds": "funding", "volunteers": "12"},
        )

        user.text("Shorter now.")
        assert "Check your answers before sending them" in one(user).text
        assert bot.terminate() == 0
    assert "Traceback" not in bot.output()
    assert stored(invited)[1]["comments"] == "Shorter now."


def test_no_thanks_just_after_yes_unlinks_the_chat(
    emulator: Emulator, invited: Invited, tmp_path: Path
) -> None:
    env = environment(invited.url, emulator, tmp_path, TELEGRAM_BOT_USERNAME=USERNAME)
    chat_id = 525_252
    user = emulator.user(chat_id)

    with bot_running(env, tmp_path / "bot") as bot:
        user.command(f"/start {invited.token}")
        user.press(one(user), "Continue")
        user.press(one(user), "No")
        assert "How many volunteers?" in one(user).text
        user.text("3")
        one(user)
        user.command("/skip")
        one(user)
        user.command("/skip")
        user.press(one(user), "Send answers")
        thanks, consent = user.wait_messages(2)
        assert "Your answers have been sent" in thanks.text
        assert "future surveys here" in consent.text

        user.press(consent, "Yes, send them here")
        assert "will send you future surveys here" in wait_changed(user, consent).text
        # A second tap on the buttons the phone still showed: the last answer wins.
        yes = user.message(consent.message_id)
        user.press(consent, "No, thanks")
        assert "will not send you surveys here" in wait_changed(user, yes).text
        assert bot.terminate() == 0

    with reading(invited) as session:
        stored_chat = chats.chat_for(session, chat_id)
        group = session.get(models.Organisation, invited.organisation_id)
        assert stored_chat is not None and group is not None
        assert stored_chat.organisation_id is None
        assert group.consent_telegram is False and group.preferred_channel is None
    assert stored(invited)[0] == "completed"
