"""Linking a Telegram chat: a signed-in staff member, admin or funder gets a one-time code to
send the bot as `/link CODE`, after which the bot answers their staff or funder commands.

The code is shown once, in the answer to the POST that made it, and is never logged or stored
(only its hash is). Nothing on this page is about a provider: it is about the account itself.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from collector import audit, models
from collector.delivery import chats
from forms import services
from forms.auth import Account
from forms.console import bp
from forms.console.access import ProviderRef, signed_in_required
from forms.console.pages import reading, render, writing


def _frame(account: Account) -> dict[str, Any]:
    """Give the page the navigation its owner is used to: a funder's, or staff's provider."""
    if account.role == "funder":
        return {"area": "funder", "provider": None}
    provider = account.user.provider if account.role == "staff" else None
    return {
        "provider": ProviderRef(provider.id, provider.slug, provider.name) if provider else None
    }


def _linked(account: Account) -> bool:
    """Tell whether a Telegram chat is linked to the account now."""
    with reading() as session:
        found = session.scalar(
            select(models.TelegramChat.id).where(models.TelegramChat.user_id == account.id)
        )
    return found is not None


@bp.route("/telegram", methods=["GET", "POST"])
@signed_in_required
def telegram(account: Account) -> ResponseReturnValue:
    """Explain linking a Telegram chat; on POST make a one-time code and show it once."""
    bot = (services(current_app).settings.telegram_bot_username or "").lstrip("@") or None
    code = expires_at = None
    if request.method == "POST":
        with writing() as session:
            user = session.get(models.User, account.id)
            assert user is not None  # signed in, so it exists
            code = chats.new_link_code(session, user)
            expires_at = user.telegram_code_expires_at
            # The code itself is never logged: whoever reads the log could link a chat with it.
            audit.record(
                session,
                "user.telegram_code",
                user=user,
                provider_id=user.provider_id,
                subject=f"user {user.id} ({user.email})",
            )
    return render(
        "console/telegram.html",
        section="telegram",
        bot=bot,
        code=code,
        expires_at=expires_at,
        linked=_linked(account),
        lifetime=int(chats.CODE_LIFETIME.total_seconds() // 60),
        **_frame(account),
    )
