"""Staff, admins and funders in Telegram: linking a chat to an account, and their commands.

- `/link CODE` links the chat to the account whose one-time code it is (from the console's
  Telegram page or `tempcheck users link-telegram`); tries are rate-limited per chat.
- Staff and admins: `/rounds` (open rounds and their response rates), `/round ID` (a round's
  status by segment), `/remind ID` (reminders to the groups that have not answered, after a
  confirmation button).
- Funders (and admins): `/kpi`, the latest published KPI report of each provider they fund.

Every command looks the chat's account up again in SQL (the bot keeps nothing in memory), and
a chat that is not linked, or linked to an account of another role, is refused with a short
answer and nothing changed. Callback data of this module start with "s:".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from analysis.segments import value_label
from bot.storage import db
from collector import audit, localtime, models, reports, rounds, users
from collector.delivery import chats, ratelimits
from collector.errors import CollectorError
from collector.models import utcnow
from collector.segments import status_label

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

# Guessing codes is slowed down per chat: 5 tries in 15 minutes (a code has about 39 bits).
LINK_LIMIT = ratelimits.Limit("telegram_link", 5, timedelta(minutes=15))
# Telegram refuses messages over 4,096 characters; lists are cut well before that.
MOST_ROUNDS = 25
MOST_SEGMENT_ROWS = 12
# One message per report, and Telegram allows about one a second to a chat: an admin's /kpi
# over many providers stops here and points to the web.
MOST_REPORTS = 8
PREFIX = "s:"

RESPONDENT_COMMANDS = [
    BotCommand("start", "Start the survey from your invitation link"),
    BotCommand("back", "Go back to the previous question"),
    BotCommand("skip", "Skip an optional question"),
    BotCommand("language", "Change the survey's language"),
    BotCommand("help", "How answering here works"),
    BotCommand("stop", "No more survey invitations in Telegram"),
]
LINK_COMMAND = BotCommand("link", "Link this chat to your tempcheck account with a code")
STAFF_COMMANDS = [
    BotCommand("rounds", "Open rounds and their response rates"),
    BotCommand("round", "A round's status by group: /round ID"),
    BotCommand("remind", "Remind groups that have not answered: /remind ID"),
]
FUNDER_COMMANDS = [BotCommand("kpi", "The latest KPI summary of the providers you fund")]

# Said to chats not linked to an account: mostly groups' members, who answer surveys here and
# run nothing on a server, so it says what to do and who to ask, not a command line.
HOW_TO_LINK = (
    "To use it, link this chat to your tempcheck account: sign in to tempcheck on the web, get "
    "a code on its Telegram page (or ask your tempcheck administrator for one) and send "
    "/link CODE here. Answering a survey for your group needs no account: open the Telegram "
    "link in your invitation."
)


def commands_for(role: str | None) -> list[BotCommand]:
    """Give the commands listed to a chat of this role (None: a respondent's chat)."""
    if role == "admin":
        return [*RESPONDENT_COMMANDS, *STAFF_COMMANDS, *FUNDER_COMMANDS, LINK_COMMAND]
    if role == "staff":
        return [*RESPONDENT_COMMANDS, *STAFF_COMMANDS, LINK_COMMAND]
    if role == "funder":
        return [*RESPONDENT_COMMANDS, *FUNDER_COMMANDS, LINK_COMMAND]
    return list(RESPONDENT_COMMANDS)


def register(app: App) -> None:
    """Add the staff and funder handlers to the application (before the respondent's)."""
    app.add_handler(CommandHandler("link", _link))
    app.add_handler(CommandHandler("rounds", _rounds))
    app.add_handler(CommandHandler("round", _round))
    app.add_handler(CommandHandler("remind", _remind))
    app.add_handler(CommandHandler("kpi", _kpi))
    app.add_handler(CallbackQueryHandler(_button, pattern=f"^{PREFIX}"))


async def publish_commands(app: App) -> None:
    """Tell Telegram which commands to list: respondents' for everyone, and more in each chat
    linked to an active staff member, admin or funder."""
    try:
        await app.bot.set_my_commands(RESPONDENT_COMMANDS, scope=BotCommandScopeDefault())
    except TelegramError as error:
        # The lists are a convenience: the bot answers its commands without them.
        log.warning("could not set the default command list: %s", type(error).__name__)
    linked: list[tuple[int, str]] = await db(app, _linked_chats)
    for chat_id, role in linked:
        await _set_chat_commands(app, chat_id, role)


async def _set_chat_commands(app: App, chat_id: int, role: str | None) -> None:
    scope = BotCommandScopeChat(chat_id)
    try:
        if role is None:
            await app.bot.delete_my_commands(scope=scope)
        else:
            await app.bot.set_my_commands(commands_for(role), scope=scope)
    except TelegramError as error:
        # A chat that blocked the bot or is gone: its list does not matter. No chat id logged.
        log.warning("could not set a chat's command list: %s", type(error).__name__)


def _linked_chats(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(models.TelegramChat.chat_id, models.User.role)
        .join(models.User, models.User.id == models.TelegramChat.user_id)
        .where(models.User.active.is_(True))
        .order_by(models.TelegramChat.id)
    ).all()
    return [(int(chat_id), str(role)) for chat_id, role in rows]


# Helpers ----------------------------------------------------------------------------------


async def _say(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=markup)


def _chat_id(update: Update) -> int | None:
    chat = update.effective_chat
    # Staff commands are for private chats only: in a group anyone could read the answers.
    if chat is None or chat.type != "private":
        return None
    return chat.id


@dataclass(frozen=True)
class Caller:
    """The account linked to the chat, as plain values, or the reason it may not go on."""

    user_id: int | None = None
    role: str | None = None
    refusal: str | None = None


def _caller(session: Session, chat_id: int, roles: Sequence[str], command: str) -> Caller:
    user = chats.user_for_chat(session, chat_id)
    if user is None:
        return Caller(refusal=f"{command} is for tempcheck staff and funders. {HOW_TO_LINK}")
    if user.role not in roles:
        if user.role == "funder":
            hint = "Your account is a funder's: try /kpi."
        else:
            hint = "Your account is a provider's staff: try /rounds."
        return Caller(refusal=f"{command} is not for your account. {hint}")
    return Caller(user.id, user.role)


def _round_id(context: ContextTypes.DEFAULT_TYPE) -> int | None:
    args = context.args or []
    if len(args) != 1:
        return None
    raw = args[0].lstrip("#")
    if not raw.isdigit() or len(raw) > 9:
        return None
    return int(raw)


def _visible_round(session: Session, user: models.User, round_id: int) -> models.Round | None:
    """Give the round if this account may run it; another provider's is "not found" too."""
    round_ = session.get(models.Round, round_id)
    if round_ is None or not users.can_run(user, round_.provider_id):
        return None
    return round_


def _closes(round_: models.Round) -> str:
    """Say when the round closes, or closed: early, if it was closed before its planned close."""
    if round_.closed_early:
        return (
            f"closed early on {localtime.long_date(round_.ends_at)} (due to close on "
            f"{localtime.long_date(round_.closes_at)})"
        )
    verb = "closed" if round_.status == "closed" else "closes"
    return f"{verb} {localtime.long_date(round_.closes_at)}"


def _rate(completed: int, invited: int) -> str:
    if not invited:
        return "nobody invited"
    return f"{completed} of {invited} ({completed / invited:.0%})"


def _no_such_round(round_id: int) -> str:
    return f"There is no round {round_id} that you can see. /rounds lists the open ones."


# /link --------------------------------------------------------------------------------------


def _rate_key(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> str:
    """Key the rate count by a keyed hash of the chat: the counts table holds no chat ids."""
    settings = context.bot_data["settings"]
    secret = (settings.secret_key or settings.telegram_bot_token or "tempcheck").encode()
    return hmac.new(secret, f"chat:{chat_id}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Linked:
    """What /link did: the answer, and the chats whose command lists change."""

    text: str
    role: str | None = None
    unlinked: tuple[int, ...] = ()


def _do_link(session: Session, chat_id: int, code: str, client: str) -> Linked:
    now = utcnow()
    if ratelimits.exceeded(session, LINK_LIMIT, client, now=now):
        minutes = -(-LINK_LIMIT.retry_after(now) // 60)
        return Linked(
            f"Too many tries. Wait {minutes} minute{'s' if minutes != 1 else ''}, then send "
            "/link with a new code from the console."
        )
    ratelimits.hit(session, LINK_LIMIT, client, now=now)
    # The chats linked before, so that one replaced by this link loses its staff commands.
    before = dict(
        session.execute(
            select(models.TelegramChat.chat_id, models.TelegramChat.user_id).where(
                models.TelegramChat.user_id.is_not(None)
            )
        ).all()
    )
    user = chats.redeem_link_code(session, chat_id, code, now=now)
    if user is None:
        return Linked(
            "That code is wrong, used or out of date. Get a new one on the console's Telegram "
            "page and send /link CODE within 15 minutes."
        )
    audit.record(
        session,
        "user.telegram_link",
        user=user,
        actor=f"{user.email} (Telegram)",
        provider_id=user.provider_id,
        subject=f"user {user.id} ({user.email})",
    )
    unlinked = tuple(c for c, u in before.items() if u == user.id and c != chat_id)
    if user.role == "funder":
        what = "Send /kpi for the latest KPI summary of the providers you fund."
    elif user.role == "admin":
        what = "Send /rounds for open rounds, /round ID, /remind ID, or /kpi."
    else:
        what = "Send /rounds for your open rounds, /round ID for one, /remind ID to chase."
    return Linked(
        f"This chat is now linked to {user.name}'s account ({user.role}). {what}",
        user.role,
        unlinked,
    )


async def _link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /link CODE: link this private chat to the account whose code it is."""
    chat_id = _chat_id(update)
    if chat_id is None:
        await _say(update, "Link your account in a private chat with the bot, not in a group.")
        return
    args = context.args or []
    if len(args) != 1:
        await _say(
            update,
            "Send /link followed by your code, like /link ABCD2345. Get a code on the "
            "Telegram page of tempcheck on the web, signed in to your account, or ask your "
            "tempcheck administrator for one.",
        )
        return
    linked = await db(context, _do_link, chat_id, args[0], _rate_key(context, chat_id))
    await _say(update, linked.text)
    if linked.role is not None:
        app = context.application
        await _set_chat_commands(app, chat_id, linked.role)
        for old in linked.unlinked:
            await _set_chat_commands(app, old, None)


# /rounds, /round ------------------------------------------------------------------------------


STAFF = ("staff", "admin")


def _open_rounds(session: Session, chat_id: int) -> str:
    caller = _caller(session, chat_id, STAFF, "/rounds")
    if caller.refusal:
        return caller.refusal
    user = session.get(models.User, caller.user_id)
    assert user is not None
    providers = users.visible_provider_ids(session, user)
    found = session.scalars(
        select(models.Round)
        .where(models.Round.provider_id.in_(providers), models.Round.status == "open")
        .order_by(models.Round.closes_at, models.Round.id)
    ).all()
    if not found:
        return "No rounds are open now."
    lines = ["Open rounds (completed of invited):"]
    for round_ in found[:MOST_ROUNDS]:
        total = rounds.round_status(session, round_).total
        whose = f" ({round_.provider.name})" if user.role == "admin" else ""
        lines.append(
            f"#{round_.id} {round_.survey.title}, {round_.period_label}{whose}: "
            f"{_rate(total.completed, total.invited)}, "
            f"closes {localtime.short_date(round_.closes_at)}"
        )
    if len(found) > MOST_ROUNDS:
        lines.append(f"…and {len(found) - MOST_ROUNDS} more: see the console.")
    lines.append("")
    lines.append("/round ID for one round by group, /remind ID to chase non-responders.")
    return "\n".join(lines)


async def _rounds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /rounds: the open rounds this staff member may run, with response rates."""
    chat_id = _chat_id(update)
    if chat_id is None:
        await _say(update, "Staff commands work in a private chat with the bot only.")
        return
    await _say(update, await db(context, _open_rounds, chat_id))


SEGMENT_TITLES = {
    "org_type": "By type",
    "district": "By district",
    "income_band": "By income",
    "is_member": "By membership",
    "audience": "By audience",
    "contact_org": "By organisation",
}


def _round_text(session: Session, chat_id: int, round_id: int | None) -> str:
    caller = _caller(session, chat_id, STAFF, "/round")
    if caller.refusal:
        return caller.refusal
    if round_id is None:
        return "Send /round followed by a round's number, like /round 12 (/rounds lists them)."
    user = session.get(models.User, caller.user_id)
    assert user is not None
    round_ = _visible_round(session, user, round_id)
    if round_ is None:
        return _no_such_round(round_id)
    status = rounds.round_status(session, round_)
    total = status.total
    lines = [
        f"#{round_.id} {round_.survey.title}, {round_.period_label} ({round_.provider.name})",
        f"Status: {round_.status}; {_closes(round_)}",
        f"Completed: {_rate(total.completed, total.invited)}; started, not finished: "
        f"{total.started - total.completed}",
    ]
    if status.anonymous_completed:
        lines.append(f"Answers through the open link: {status.anonymous_completed}")
    for key, title in SEGMENT_TITLES.items():
        cells = status.by_segment.get(key)
        if not cells:
            continue
        lines.append("")
        lines.append(f"{title}:")
        # The biggest first (the list is cut), named as the console names them.
        ordered = sorted(cells.items(), key=lambda item: (-item[1].invited, item[0]))
        for value, counts in ordered[:MOST_SEGMENT_ROWS]:
            label = status_label(key, value)
            lines.append(f"- {label}: {_rate(counts.completed, counts.invited)}")
        if len(ordered) > MOST_SEGMENT_ROWS:
            lines.append(f"- …and {len(ordered) - MOST_SEGMENT_ROWS} more")
    if status.by_channel:
        channels = ", ".join(
            f"{value_label('channel', k)} {v}" for k, v in sorted(status.by_channel.items())
        )
        lines += ["", f"Completed, by the channel finished in: {channels}"]
        for (started_in, finished_in), n in sorted(status.switches.items()):
            lines.append(rounds.describe_switch(started_in, finished_in, n).capitalize())
    if status.messages:
        messages = ", ".join(f"{v} {k}" for k, v in sorted(status.messages.items()))
        lines.append(f"Messages: {messages}")
    if round_.status == "open":
        lines += ["", f"/remind {round_.id} to chase the groups that have not answered."]
    return "\n".join(lines)


async def _round(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /round ID: one round's status, by segment."""
    chat_id = _chat_id(update)
    if chat_id is None:
        await _say(update, "Staff commands work in a private chat with the bot only.")
        return
    await _say(update, await db(context, _round_text, chat_id, _round_id(context)))


# /remind --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A text, and buttons to go with it."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()

    def markup(self) -> InlineKeyboardMarkup | None:
        """Give the buttons as an inline keyboard, one per row (or None)."""
        if not self.buttons:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data)] for label, data in self.buttons]
        )


def _reminders_sent(session: Session, round_id: int) -> int:
    """Count the round's reminders already queued. A confirmation carries this number: a
    reminder sent since it was asked for (a second press, a colleague, the schedule) makes it
    stale, so one press never sends a second round of reminders."""
    found = session.scalar(
        select(func.count(models.RoundReminder.id)).where(
            models.RoundReminder.round_id == round_id,
            models.RoundReminder.queued_at.is_not(None),
        )
    )
    return int(found or 0)


def _waiting(session: Session, round_: models.Round) -> int:
    query = rounds.non_responders_query(round_).subquery()
    return int(session.scalar(select(func.count()).select_from(query)) or 0)


def _remindable(round_: models.Round) -> str | None:
    """Say why the round cannot be reminded now, or None when it can."""
    if round_.status != "open":
        return f"Round {round_.id} is {round_.status}: only an open round can be reminded."
    if round_.opens_at > utcnow():
        opens = localtime.long_date(round_.opens_at)
        return f"Round {round_.id} opens on {opens}: nobody is invited yet."
    return None


def _ask_remind(
    session: Session, chat_id: int, round_id: int | None, min_interval: timedelta | None = None
) -> Reply:
    caller = _caller(session, chat_id, STAFF, "/remind")
    if caller.refusal:
        return Reply(caller.refusal)
    if round_id is None:
        return Reply("Send /remind followed by a round's number, like /remind 12.")
    user = session.get(models.User, caller.user_id)
    assert user is not None
    round_ = _visible_round(session, user, round_id)
    if round_ is None:
        return Reply(_no_such_round(round_id))
    problem = _remindable(round_)
    if problem:
        return Reply(problem)
    waiting = _waiting(session, round_)
    if not waiting:
        return Reply(f"Everyone invited to round {round_.id} has answered: nobody to remind.")
    groups = f"{waiting} group{'s' if waiting != 1 else ''}"
    sent = _reminders_sent(session, round_.id)
    # Too soon after the last message to the same groups: say when it was, and make sending
    # anyway a deliberate press (as the console's tick and the command line's --force).
    too_soon = ""
    if min_interval:
        try:
            rounds.check_reminder_interval(session, round_, min_interval)
        except rounds.TooSoon as error:
            too_soon = f"\n\n⚠️ {error.message}"
    return Reply(
        f"#{round_.id} {round_.survey.title}, {round_.period_label}: {groups} "
        f"{'have' if waiting != 1 else 'has'} not answered. Send each a reminder with its "
        f"link (by email or Telegram, as it is reached)?{too_soon}",
        (
            (
                f"Send reminders to {groups}{' anyway' if too_soon else ''}",
                f"{PREFIX}remind:{round_.id}:{sent}",
            ),
            ("Cancel", f"{PREFIX}cancel:{round_.id}"),
        ),
    )


async def _remind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /remind ID: offer to remind the round's groups that have not answered."""
    chat_id = _chat_id(update)
    if chat_id is None:
        await _say(update, "Staff commands work in a private chat with the bot only.")
        return
    interval = context.bot_data["settings"].reminder_min_interval
    reply = await db(context, _ask_remind, chat_id, _round_id(context), interval)
    await _say(update, reply.text, reply.markup())


@dataclass(frozen=True)
class Pressed:
    """What a button press did: the popup answer, and the message's new text (None: keep)."""

    alert: str
    text: str | None = None


def _confirm_remind(session: Session, chat_id: int, round_id: int, seen: int) -> Pressed:
    caller = _caller(session, chat_id, STAFF, "/remind")
    if caller.refusal:
        return Pressed(caller.refusal)
    user = session.get(models.User, caller.user_id)
    assert user is not None
    round_ = _visible_round(session, user, round_id)
    if round_ is None:
        return Pressed(_no_such_round(round_id), "No reminders were sent.")
    problem = _remindable(round_)
    if problem:
        return Pressed(problem, f"No reminders were sent. {problem}")
    if _reminders_sent(session, round_.id) != seen:
        note = (
            f"Reminders for round {round_.id} were sent since you asked, so none were sent "
            f"now. Send /remind {round_.id} again if more are needed."
        )
        return Pressed("Already reminded", note)
    try:
        queued = rounds.remind(session, round_)
    except CollectorError as error:
        return Pressed(error.message, f"No reminders were sent. {error.message}")
    audit.record(
        session,
        "round.remind",
        user=user,
        actor=f"{user.email} (Telegram)",
        provider_id=round_.provider_id,
        subject=f"round {round_.id} ({round_.period_label})",
        details={"queued": queued},
    )
    done = f"{queued} reminder{'s were' if queued != 1 else ' was'} queued"
    return Pressed(f"{done}.", f"#{round_.id} {round_.period_label}: {done}. /round {round_.id}")


def _cancel(session: Session, chat_id: int, round_id: int) -> Pressed:
    caller = _caller(session, chat_id, STAFF, "/remind")
    if caller.refusal:
        return Pressed(caller.refusal)
    return Pressed("Cancelled", f"Cancelled: no reminders were sent for round {round_id}.")


def _parse(data: str) -> tuple[str, list[int]] | None:
    parts = data.removeprefix(PREFIX).split(":")
    if not parts or not all(p.isdigit() and len(p) < 12 for p in parts[1:]):
        return None
    return parts[0], [int(p) for p in parts[1:]]


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a staff button: send the reminders confirmed, or cancel them."""
    query = update.callback_query
    if query is None:
        return
    chat_id = _chat_id(update)
    parsed = _parse(query.data or "")
    if chat_id is None or parsed is None:
        await query.answer("That button no longer works.")
        return
    action, numbers = parsed
    if action == "remind" and len(numbers) == 2:
        pressed = await db(context, _confirm_remind, chat_id, numbers[0], numbers[1])
    elif action == "cancel" and len(numbers) == 1:
        pressed = await db(context, _cancel, chat_id, numbers[0])
    else:
        await query.answer("That button no longer works.")
        return
    await query.answer(pressed.alert[:200])
    if pressed.text is not None:
        # The buttons go: the message now says what happened, and cannot be pressed again.
        await query.edit_message_text(pressed.text)


# /kpi -----------------------------------------------------------------------------------------


def _kpi_texts(session: Session, chat_id: int, base_url: str) -> list[str]:
    from analysis.model import KpiReport
    from analysis.render.message import report_message

    caller = _caller(session, chat_id, ("funder", "admin"), "/kpi")
    if caller.refusal:
        return [caller.refusal]
    user = session.get(models.User, caller.user_id)
    assert user is not None
    providers = session.scalars(
        select(models.Provider)
        .where(models.Provider.id.in_(users.visible_provider_ids(session, user)))
        .order_by(models.Provider.name)
    ).all()
    if not providers:
        return ["Your account does not fund any provider yet. Ask your tempcheck administrator."]
    texts: list[str] = []
    for provider in providers:
        newest: dict[str, models.ReportSnapshot] = {}
        for snapshot in reports.snapshots(session, provider.id):
            newest.setdefault(snapshot.framework, snapshot)  # newest first
        if not newest:
            texts.append(f"{provider.name}: no KPI report has been published yet.")
            continue
        for snapshot in newest.values():
            link = base_url.rstrip("/") + reports.report_path(provider.slug, snapshot.id)
            try:
                report = KpiReport.from_json(snapshot.data)
                texts.append(report_message(report, link))
            except (KeyError, TypeError, ValueError):
                log.exception("a published snapshot could not be read for /kpi")
                texts.append(f"{snapshot.title}: open the report on the web: {link}")
    if len(texts) > MOST_REPORTS:
        more = len(texts) - MOST_REPORTS
        texts = texts[:MOST_REPORTS]
        texts.append(f"…and {more} more: see the funder pages on the web.")
    return texts


async def _kpi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /kpi: the latest published KPI reports of the providers this account may read."""
    chat_id = _chat_id(update)
    if chat_id is None:
        await _say(update, "/kpi works in a private chat with the bot only.")
        return
    base_url = context.bot_data["settings"].base_url
    for text in await db(context, _kpi_texts, chat_id, base_url):
        await _say(update, text)
