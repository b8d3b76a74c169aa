"""Respondents answering a survey in Telegram, one question per message, through collector.flow.

Every handler reloads the chat, its invitation and the response from SQL (nothing is kept in
memory), works out what to say inside one transaction (`bot.storage.db`), and only then talks
to Telegram. Buttons carry the response and the question they belong to (see bot.render), so
a button pressed on an old message is recognised and refused without changing anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import render
from bot.render import Rendered
from bot.storage import db
from collector import flow, i18n, localtime, models
from collector.delivery import chats, ratelimits
from collector.errors import NotFound
from collector.rounds import invitation_by_token
from collector.survey.model import MAX_TEXT_LENGTH, AnswerError, QuestionType, Survey
from collector.survey.store import definition

log = logging.getLogger(__name__)

# Tokens have 192 bits: this limit does not keep them safe, it stops a chat hammering.
BAD_STARTS = ratelimits.Limit("telegram_bad_start", limit=20, window=timedelta(minutes=10))

# Said to a chat with no survey to answer. An invitation by email offers the Telegram link
# only where the bot is configured, so this does not take for granted that one has it.
NOT_LINKED = (
    "There is no survey waiting for this chat. When you are invited to one, its invitation "
    "(or the survey's web page) has an “Answer in Telegram” link that starts it here. Send "
    "/help to see what I can do."
)
MOVED_ON = "That question has moved on, so that button does nothing now."
USE_BUTTONS = "Please answer this one with the buttons under the question."
CHOOSE_OR_TYPE = (
    "Please answer with the buttons under the question, or type an answer as its button says."
)
USE_REVIEW_BUTTONS = "Please use the buttons: Send answers, or Change to go back to a question."
NO_FILES = "I can only read typed answers and button presses, not stickers, photos or other files."
NO_EDITS = "I do not read changes to earlier messages: please send your answer as a new message."
CANNOT_SKIP = "This question needs an answer, so it cannot be skipped."
FIRST_QUESTION = "This is the first question: there is nothing before it."
UNKNOWN_COMMAND = "I do not know that command. Send /help to see the ones I understand."
OLD_BUTTON = "That button no longer works."
HELP = (
    "I ask the questions of a survey one at a time. Answer with the buttons under a question, "
    "or by typing when it asks for a number or some words. Your answers are saved as you go, so "
    "you can stop and carry on later, here or with the web link in your invitation.\n\n"
    "/back: go back to the question before\n"
    "/skip: skip a question marked (optional)\n"
    "/language: answer in another language, when the survey has one\n"
    "/stop: send me no more survey invitations\n"
    "/help: show this message"
)

BotApp = Application[Any, Any, Any, Any, Any, Any]
CHANNEL = "telegram"
# The most open surveys a linked chat is offered to choose from at once (one button each).
MOST_CHOICES = 8


@dataclass
class Reply:
    """What to say after an update, worked out inside the transaction.

    `notice`: a short answer (a toast for a button press, else a message of its own);
    `edit`: new text and buttons for the pressed message; `strip`: remove its buttons;
    `markup`: new buttons only (multiple-choice ticks); `send`: new messages.
    """

    notice: str | None = None
    edit: Rendered | None = None
    strip: bool = False
    markup: InlineKeyboardMarkup | None = None
    send: list[Rendered] = field(default_factory=list)


@dataclass
class State:
    """The chat and what it is answering, as stored."""

    chat: models.TelegramChat
    invitation: models.Invitation
    response: models.Response | None


# Registration ---------------------------------------------------------------------------------


def register(app: BotApp) -> None:
    """Add the respondent's command, button and reply handlers (private chats only)."""
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("start", _on_start, filters=private))
    app.add_handler(CommandHandler("back", _on_back, filters=private))
    app.add_handler(CommandHandler("skip", _on_skip, filters=private))
    app.add_handler(CommandHandler("language", _on_language, filters=private))
    app.add_handler(CommandHandler("help", _on_help, filters=private))
    app.add_handler(CommandHandler("stop", _on_stop, filters=private))
    app.add_handler(CallbackQueryHandler(_on_button, pattern=rf"^{render.PREFIX}:"))
    app.add_handler(
        MessageHandler(
            private & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, _on_text
        )
    )


def register_fallbacks(app: BotApp) -> None:
    """Add the catch-alls that answer anything no other handler took."""
    app.add_handler(CallbackQueryHandler(_on_other_button))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, _on_unknown_command))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE, _on_anything_else))


# Handlers -------------------------------------------------------------------------------------


async def _on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /start: open the invitation whose code it carries, or carry on where the chat is."""
    token = context.args[0] if context.args else None
    if token is None:
        await _run(update, context, _resume)
    else:
        await _run(update, context, _start, token)


async def _on_back(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /back: show the question before."""
    await _run(update, context, _back)


async def _on_skip(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /skip: move past an optional question or a note."""
    await _run(update, context, _skip)


async def _on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /language: offer the survey's languages."""
    await _run(update, context, _languages)


async def _on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /help: say how answering here works, and the commands."""
    await _run(update, context, _help)


async def _on_stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /stop: send this chat no more survey invitations."""
    await _run(update, context, _stop)


async def _on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a typed message: take it as the answer to the question asked now."""
    assert update.effective_message is not None
    await _run(update, context, _typed, update.effective_message.text or "")


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a survey button: act on it if its question is the one asked now."""
    query = update.callback_query
    assert query is not None
    callback = render.parse(query.data or "")
    if callback is None:
        await _deliver(update, context, Reply(notice=OLD_BUTTON))
        return
    # Errors are never stored: whether the message shows one is on the message itself.
    warned = isinstance(query.message, Message) and render.WARNING in (query.message.text or "")
    await _run(update, context, _press, callback, warned, pressed=callback.question)


async def _on_other_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button no other handler took: it no longer works."""
    await _deliver(update, context, Reply(notice=OLD_BUTTON))


async def _on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a command the bot does not know: point to /help."""
    await _deliver(update, context, Reply(notice=UNKNOWN_COMMAND))


async def _on_anything_else(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer an edited message, a sticker, photo or file: only new typed messages are read."""
    if update.edited_message is not None:
        await _deliver(update, context, Reply(notice=NO_EDITS))
        return
    await _run(update, context, _other_message)


async def _run(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    work: Any,
    *args: Any,
    pressed: int | None = None,
) -> None:
    """Do `work(session, chat_id, *args)` in a transaction, then say what it decided.

    The flow's refusals (a closed round, an opted-out group, a response already sent) roll
    the transaction back and are said as they are; a stale question shows where things are
    (and, for the button of question number `pressed`, which answer was kept).
    """
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    try:
        reply: Reply = await db(context, work, chat.id, *args)
    except flow.StaleQuestion:
        reply = await db(context, _moved_on, chat.id, pressed)
    except (flow.AlreadyCompleted, flow.RoundNotOpen, flow.OptedOut) as error:
        reply = Reply(notice=error.message, strip=True)
    await _deliver(update, context, reply)


async def _deliver(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
    """Send the reply: answer the button press, edit its message, send new messages."""
    chat = update.effective_chat
    if chat is None:
        return
    query = update.callback_query
    if query is not None:
        await query.answer(_toast(reply.notice) if reply.notice else None)
        try:
            if reply.edit is not None:
                await query.edit_message_text(
                    reply.edit.text, parse_mode=ParseMode.HTML, reply_markup=reply.edit.keyboard
                )
            elif reply.markup is not None:
                await query.edit_message_reply_markup(reply_markup=reply.markup)
            elif reply.strip:
                await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as error:
            # "Message is not modified" (a double press) or a message too old to edit: the
            # new messages below still say where things are.
            log.info("could not edit a respondent's message: %s", error.message)
    elif reply.notice:
        await context.bot.send_message(chat.id, render.e(reply.notice), parse_mode=ParseMode.HTML)
    for message in reply.send:
        await context.bot.send_message(
            chat.id, message.text, parse_mode=ParseMode.HTML, reply_markup=message.keyboard
        )


def _toast(text: str) -> str:
    # Telegram shows at most 200 characters in a button's answer.
    return text if len(text) <= 200 else text[:199] + "…"


# Work in the database -------------------------------------------------------------------------


def _state(session: Session, chat_id: int) -> State | None:
    """Give what the chat is answering, or None when it is answering nothing."""
    chat = chats.chat_for(session, chat_id)
    if chat is None or chat.invitation is None:
        return None
    return State(chat, chat.invitation, flow.response_for(session, chat.invitation))


def _survey(response: models.Response) -> Survey:
    return definition(response.round.survey)


def _index(survey: Survey, question_id: str) -> int:
    return survey.questions.index(survey.question(question_id))


def _show(session: Session, response: models.Response, *, notice: str | None = None) -> Rendered:
    """Render what the respondent should see now."""
    view = flow.view(session, response)
    return _render(response, view, notice=notice)


def _render(
    response: models.Response,
    view: flow.View,
    *,
    notice: str | None = None,
    ticks: list[bool] | None = None,
) -> Rendered:
    survey = _survey(response)
    if isinstance(view, flow.QuestionView):
        index = _index(survey, view.question_id)
        return render.question(view, index, notice=notice, ticks=ticks)
    if isinstance(view, flow.ReviewView):
        indexes = {item.question_id: _index(survey, item.question_id) for item in view.items}
        return render.review(view, indexes, notice=notice)
    return render.done(view.language, notice=notice)


def _after_done(session: Session, state: State, *, first: Rendered | None = None) -> list[Rendered]:
    """The thank-you message (or `first`), and the question about future surveys when the
    chat is not linked for them yet."""
    assert state.response is not None
    messages = [first or render.done(state.response.language)]
    recipient = state.invitation.recipient
    if recipient is None or recipient.opted_out_at is not None:
        return messages
    if not isinstance(recipient, models.Organisation) and recipient.erased_at is not None:
        return messages
    if isinstance(recipient, models.Volunteer):
        linked = state.chat.volunteer_id == recipient.id
    elif isinstance(recipient, models.Contact):
        linked = state.chat.contact_id == recipient.id
    else:
        linked = state.chat.organisation_id == recipient.id
    if linked and recipient.consent_telegram and state.chat.stopped_at is None:
        return messages
    provider = state.invitation.round.provider.name
    messages.append(render.consent(state.response.id, provider, state.response.language))
    return messages


def _resume(session: Session, chat_id: int) -> Reply:
    """`/start` without a code: carry on with the survey this chat is answering, or with the
    one its group has open."""
    state = _answering(session, chat_id)
    if isinstance(state, Reply):
        return state
    assert state.response is not None
    return Reply(send=[_show(session, state.response, notice="Here is where you are now.")])


def _answerable(state: State) -> bool:
    """Say whether the chat's survey takes answers now (started, not sent, round open)."""
    if state.response is None or state.response.status != "in_progress":
        return False
    try:
        flow.ensure_invited(state.invitation)
    except (flow.RoundNotOpen, flow.OptedOut):
        return False
    return True


def _open_elsewhere(session: Session, chat_id: int, state: State | None) -> Reply | None:
    """A linked chat answering nothing it can answer now: carry on with the survey its group
    has open, or list them when several are. None when it has none open."""
    chat = state.chat if state is not None else chats.chat_for(session, chat_id)
    if chat is None:
        return None
    waiting = chats.open_invitations(session, chat)
    if not waiting:
        return None
    if len(waiting) == 1:
        return _begin(session, chat_id, waiting[0])
    language = chat.language or "en"
    options = [
        render.SurveyOption(
            invitation.id,
            definition(invitation.round.survey).title.get(language),
            invitation.round.period_label,
            localtime.long_date(invitation.round.closes_at),
        )
        for invitation in waiting[:MOST_CHOICES]
    ]
    group = chat.organisation_id is not None
    return Reply(send=[render.choose_survey(language, options, group=group)])


def _begin(
    session: Session,
    chat_id: int,
    invitation: models.Invitation,
    *,
    edit: Rendered | None = None,
) -> Reply:
    """Start (or carry on with) an invitation's survey in this chat: welcome, and its question."""
    existing = flow.response_for(session, invitation)
    chat = chats.chat_for(session, chat_id)
    language = chat.language if chat is not None else None
    # Raises RoundNotOpen or OptedOut before anything is linked: the chat stays as it was.
    response = flow.start(session, invitation, channel=CHANNEL, language=language)
    chats.attach_invitation(session, chat_id, invitation)
    welcome = _welcome(session, invitation, response, resumed=existing is not None)
    return Reply(edit=edit, send=[welcome])


def _open_chosen(session: Session, chat_id: int, argument: str) -> Reply:
    """A survey chosen from the list of those open: start it, if it is still open."""
    chat = chats.chat_for(session, chat_id)
    if chat is None or not argument.isdigit():
        return Reply(notice=OLD_BUTTON, strip=True)
    chosen = next((i for i in chats.open_invitations(session, chat) if i.id == int(argument)), None)
    if chosen is None:
        # Sent, closed, or never this chat's group's: the list is out of date.
        return Reply(notice=OLD_BUTTON, strip=True)
    language = chat.language or "en"
    title = definition(chosen.round.survey).title.get(language)
    label = render.word(language, "chosen", title=title, period=chosen.round.period_label)
    return _begin(session, chat_id, chosen, edit=render.plain(label))


def _start(session: Session, chat_id: int, token: str) -> Reply:
    """`/start <token>` from an invitation's deep link: link the chat and ask the questions."""
    client = f"telegram:{chat_id}"
    if ratelimits.exceeded(session, BAD_STARTS, client):
        return Reply(
            notice="There have been too many codes that are not valid from this chat. "
            "Please try again later with the link in your invitation."
        )
    try:
        invitation = invitation_by_token(session, token)
    except NotFound:
        ratelimits.hit(session, BAD_STARTS, client)
        return Reply(
            notice="That survey code is not valid. Please open the whole Telegram link from your "
            "invitation again, or use its web link instead."
        )
    existing = flow.response_for(session, invitation)
    if existing is not None and existing.status == "completed":
        try:
            flow.ensure_invited(invitation)
        except (flow.RoundNotOpen, flow.OptedOut):
            return Reply(notice=flow.AlreadyCompleted().message)
        # Opened from the thank-you page, say, to answer in Telegram next time: while the
        # round is open, the chat may be linked for future surveys.
        chat = chats.attach_invitation(session, chat_id, invitation)
        state = State(chat, invitation, existing)
        already = render.plain(flow.AlreadyCompleted().message)
        return Reply(send=_after_done(session, state, first=already))
    return _begin(session, chat_id, invitation)


def _welcome(
    session: Session, invitation: models.Invitation, response: models.Response, *, resumed: bool
) -> Rendered:
    round_ = invitation.round
    survey = _survey(response)
    title = survey.title.get(response.language)
    provider = round_.provider.name
    who = f" for {invitation.organisation.name}" if invitation.organisation is not None else ""
    minutes = f"about {survey.minutes} minutes" if survey.minutes != 1 else "about a minute"
    lines = [
        f"Hello! {provider} is asking for your answers to “{title}”{who}. It takes {minutes} "
        f"and closes on {localtime.long_date(round_.closes_at)}.",
        "",
        "Your answers are saved as you go: you can stop and carry on later, here or with the "
        "web link in your invitation. Send /help to see the commands.",
    ]
    if resumed:
        lines += ["", "You have started this survey already, so we carry on where you left off."]
    view = flow.view(session, response)
    first = _render(response, view)
    return Rendered(render.e("\n".join(lines)) + "\n\n" + first.text, first.keyboard)


def _answering(session: Session, chat_id: int) -> State | Reply:
    """Give the state of a chat answering a survey now, or the reply that says why not.

    A chat whose survey is sent or closed (or that has none) carries on with the one its
    group has open, if it is linked to a group that has one: then the reply is its welcome.
    """
    state = _state(session, chat_id)
    if state is None or not _answerable(state):
        carried = _open_elsewhere(session, chat_id, state)
        if carried is not None:
            return carried
    if state is None or state.response is None:
        return Reply(notice=NOT_LINKED)
    if state.response.status == "completed":
        return Reply(notice=flow.AlreadyCompleted().message)
    flow.ensure_invited(state.invitation)
    return state


def _back(session: Session, chat_id: int) -> Reply:
    """`/back`: go to the step before."""
    state = _answering(session, chat_id)
    if isinstance(state, Reply):
        return state
    assert state.response is not None
    before = state.response.cursor
    view = flow.back(session, state.response)
    notice = FIRST_QUESTION if before is not None and state.response.cursor == before else None
    return Reply(send=[_render(state.response, view, notice=notice)])


def _skip(session: Session, chat_id: int) -> Reply:
    """`/skip`: move past an optional question (or a note) without answering it."""
    state = _answering(session, chat_id)
    if isinstance(state, Reply):
        return state
    response = state.response
    assert response is not None
    view = flow.view(session, response)
    if not isinstance(view, flow.QuestionView):
        return Reply(send=[_render(response, view, notice=USE_REVIEW_BUTTONS)])
    if view.required and view.type != "note":
        return Reply(send=[_render(response, view, notice=CANNOT_SKIP)])
    view = flow.answer(session, response, view.question_id, None, channel=CHANNEL)
    return Reply(send=[_render(response, view)])


def _languages(session: Session, chat_id: int) -> Reply:
    """`/language`: offer the survey's languages."""
    state = _answering(session, chat_id)
    if isinstance(state, Reply):
        return state
    response = state.response
    assert response is not None
    available = tuple(_survey(response).languages)
    if len(available) < 2:
        name = i18n.name(available[0])
        return Reply(notice=f"This survey is only in {name}.")
    return Reply(send=[render.languages(response.id, available, response.language)])


def _help(session: Session, chat_id: int) -> Reply:
    """`/help`: the commands, and how to start when the chat is answering nothing."""
    state = _state(session, chat_id)
    text = HELP if state is not None else HELP + "\n\n" + NOT_LINKED
    return Reply(send=[render.plain(text)])


def _stop(session: Session, chat_id: int) -> Reply:
    """`/stop`: no more survey invitations to this chat."""
    cancelled = chats.stop(session, chat_id)
    log.info("a chat stopped Telegram invitations (%d pending cancelled)", cancelled)
    return Reply(
        notice="Done: I will send you no more survey invitations here. Anything you have "
        "answered is kept. To answer a survey again, open its link from an invitation."
    )


def _typed(session: Session, chat_id: int, text: str) -> Reply:
    """A typed reply: the answer to the question (a choice typed as its button says it), else
    a pointer to the buttons."""
    state = _answering(session, chat_id)
    if isinstance(state, Reply):
        return state
    response = state.response
    assert response is not None
    view = flow.view(session, response)
    if isinstance(view, flow.ReviewView):
        return Reply(send=[_render(response, view, notice=USE_REVIEW_BUTTONS)])
    if not isinstance(view, flow.QuestionView):
        return Reply(send=[_render(response, view)])
    if view.type == "note":
        return Reply(send=[_render(response, view, notice=USE_BUTTONS)])
    question = _survey(response).question(view.question_id)
    if question.is_choice:
        # A choice typed as its button says ("Yes", "yes", "Funding, Training") is taken like
        # the button; anything else changes nothing and points to the buttons.
        try:
            question.coerce(text)
        except AnswerError:
            return Reply(send=[_render(response, view, notice=CHOOSE_OR_TYPE)])
    elif question.type is QuestionType.TEXT:
        # Measured as the flow measures it (a CR LF is one new line).
        length = len(text.replace("\r\n", "\n").strip())
        if length > MAX_TEXT_LENGTH:
            return Reply(send=[_render(response, view, notice=too_long(length))])
    view = flow.answer(session, response, view.question_id, text, channel=CHANNEL)
    return Reply(send=[_render(response, view)])


def too_long(length: int) -> str:
    """Say by how much a typed answer is over the limit, and that it is still there to copy."""
    over = length - MAX_TEXT_LENGTH
    return (
        f"That answer is {over:,} character{'s' if over != 1 else ''} too long: it has "
        f"{length:,}, and this question takes up to {MAX_TEXT_LENGTH:,}. Nothing was saved. "
        "Your message is still in the chat: copy it, shorten it and send it again."
    )


def _other_message(session: Session, chat_id: int) -> Reply:
    """A sticker, photo, voice note or anything else that is not text."""
    state = _state(session, chat_id)
    if state is None or not _answerable(state):
        carried = _open_elsewhere(session, chat_id, state)
        if carried is not None:
            return carried
    if state is None or state.response is None:
        return Reply(notice=NOT_LINKED)
    if state.response.status == "completed":
        return Reply(notice=NO_FILES)
    return Reply(send=[_show(session, state.response, notice=NO_FILES)])


def _moved_on(session: Session, chat_id: int, pressed: int | None = None) -> Reply:
    """An old button was pressed: say so, and show where the chat is now.

    When it was a button of question number `pressed`, and that question was answered in
    another channel, say which answer was kept there ("Your group answered No on the web"),
    and show it on the pressed message.
    """
    state = _state(session, chat_id)
    if state is None or state.response is None or state.response.status != "in_progress":
        return Reply(notice=MOVED_ON, strip=True)
    kept = _kept(session, state, pressed)
    if kept is None:
        return Reply(notice=MOVED_ON, strip=True, send=[_show(session, state.response)])
    text, edit = kept
    return Reply(notice=text, edit=edit, send=[_show(session, state.response, notice=text)])


def _kept(session: Session, state: State, pressed: int | None) -> tuple[str, Rendered] | None:
    """Say which answer another channel gave question number `pressed` (kept, as it came
    first), with the question's message as answered; None when no other channel did."""
    response = state.response
    assert response is not None
    survey = _survey(response)
    if pressed is None or pressed >= len(survey.questions):
        return None
    question = survey.questions[pressed]
    stored = session.execute(
        select(models.Answer.value, models.Answer.channel).where(
            models.Answer.response_id == response.id, models.Answer.question_id == question.id
        )
    ).first()
    if stored is None or stored.channel == CHANNEL:
        return None
    answer = flow.display(question, stored.value, response.language)
    group = state.invitation.organisation_id is not None
    text = render.kept_answer(response.language, answer, stored.channel, group=group)
    return text, _answered(session, response, question.id)


def _press(
    session: Session, chat_id: int, callback: render.Callback, warned: bool = False
) -> Reply:
    """A respondent's button: act on it if it belongs to the question being asked now."""
    if callback.action == render.OPEN:
        return _open_chosen(session, chat_id, callback.argument)
    state = _state(session, chat_id)
    if state is None or state.response is None:
        return Reply(notice=NOT_LINKED, strip=True)
    response = state.response
    if callback.response_id != response.id:
        return _moved_on(session, chat_id)
    if callback.action in (render.CONSENT_YES, render.CONSENT_NO):
        return _consent(session, state, callback.action == render.CONSENT_YES)
    if response.status == "completed":
        return Reply(notice=flow.AlreadyCompleted().message, strip=True)
    flow.ensure_invited(state.invitation)
    survey = _survey(response)
    if callback.action == render.LANGUAGE:
        if callback.argument not in survey.languages:
            return Reply(notice=OLD_BUTTON, strip=True)
        view = flow.set_language(session, response, callback.argument)
        state.chat.language = callback.argument
        name = i18n.name(callback.argument)
        return Reply(edit=render.plain(f"Language: {name}"), send=[_render(response, view)])
    if callback.action == render.SUBMIT:
        if response.cursor is not None:
            return _moved_on(session, chat_id)
        view = flow.complete(session, response, channel=CHANNEL)
        if isinstance(view, flow.DoneView):
            return Reply(strip=True, send=_after_done(session, state))
        return Reply(strip=True, send=[_render(response, view)])
    if callback.question is None or callback.question >= len(survey.questions):
        return Reply(notice=OLD_BUTTON, strip=True)
    question = survey.questions[callback.question]
    if callback.action == render.EDIT:
        if response.cursor is not None:
            return _moved_on(session, chat_id)
        view = flow.change(session, response, question.id)
        return Reply(strip=True, send=[_render(response, view)])
    if response.cursor != question.id:
        return _moved_on(session, chat_id, callback.question)
    current = flow.view(session, response)
    assert isinstance(current, flow.QuestionView)
    return _question_button(session, state, question.id, current, callback, warned=warned)


def _question_button(
    session: Session,
    state: State,
    question_id: str,
    current: flow.QuestionView,
    callback: render.Callback,
    *,
    warned: bool = False,
) -> Reply:
    """A button of the question being asked: choose, tick, done, continue, keep, skip, back."""
    response = state.response
    assert response is not None
    action, argument = callback.action, callback.argument
    raw: str | list[str] | None
    ticks: list[bool] | None = None
    if action == render.BACK:
        return Reply(strip=True, send=[_render(response, flow.back(session, response))])
    if action == render.CHOOSE and current.type in ("single", "scale"):
        try:
            raw = current.choices[int(argument)].value
        except (ValueError, IndexError):
            return Reply(notice=OLD_BUTTON)
    elif action in (render.TOGGLE, render.DONE) and current.type == "multiple":
        ticks = render.selection(argument, len(current.choices))
        if ticks is None:
            return Reply(notice=OLD_BUTTON)
        if action == render.TOGGLE:
            # Ticking changes only the buttons; the answer is stored on Done. A warning from
            # the last Done ("Select at least one answer") goes with the first tick.
            if warned:
                return Reply(edit=_render(response, current, ticks=ticks))
            return Reply(markup=_render(response, current, ticks=ticks).keyboard)
        raw = [choice.value for choice, on in zip(current.choices, ticks, strict=True) if on]
    elif action == render.NEXT and current.type == "note":
        raw = None
    elif action == render.KEEP and current.value is not None:
        raw = current.value
    elif action == render.SKIP:
        if current.required:
            return Reply(notice=CANNOT_SKIP)
        raw = None
    else:
        return Reply(notice=OLD_BUTTON)
    view = flow.answer(session, response, question_id, raw, channel=CHANNEL)
    if isinstance(view, flow.QuestionView) and view.question_id == question_id and view.error:
        # Not taken: show the question again in place, with the reason and the ticks as sent.
        return Reply(edit=_render(response, view, ticks=ticks))
    return Reply(edit=_answered(session, response, question_id), send=[_render(response, view)])


def _answered(session: Session, response: models.Response, question_id: str) -> Rendered:
    """The pressed question's message once answered: its label and the answer, no buttons."""
    question = _survey(response).question(question_id)
    label = question.label.get(response.language)
    if not question.answerable:
        return Rendered(f"<b>{render.e(label)}</b>")
    value = session.scalar(
        select(models.Answer.value).where(
            models.Answer.response_id == response.id, models.Answer.question_id == question_id
        )
    )
    return Rendered(render.answered(label, flow.display(question, value, response.language)))


def _consent(session: Session, state: State, yes: bool) -> Reply:
    """The answer to "future surveys here?": link the chat to the recipient, or not."""
    provider = state.invitation.round.provider.name
    if not yes:
        # A "yes" pressed a moment before on the same question is undone: the last answer wins.
        chats.unlink_recipient(session, state.chat)
        return Reply(
            edit=render.plain(
                f"No problem: {provider} will not send you surveys here. This survey's answers "
                "are kept."
            )
        )
    recipient = chats.link_recipient(session, state.chat)
    if recipient is None:
        return Reply(notice=OLD_BUTTON, strip=True)
    return Reply(
        edit=render.plain(
            f"Thank you: {provider} will send you future surveys here. Send /stop at any time "
            "to stop them."
        )
    )
