"""What a respondent sees in Telegram: collector.flow's views turned into text and buttons.

Pure functions, no database and no network. Messages use Telegram's HTML parse mode, so
everything that comes from a survey or a respondent is escaped here.

Callback data (64 bytes at most) names the response and the question by its position in the
survey, so a button pressed on an old message can be recognised as stale and refused:
`r:<response id>:<question index>:<action>[:<argument>]`, with "-" for no question.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from collector import flow, i18n
from collector.i18n import N_

PREFIX = "r"
NO_QUESTION = "-"
# Actions: choose (choice index), toggle and done (multiple choice, selection as a hex bit
# mask), next (a note), keep (a typed answer as it is), skip, back, edit (from the summary),
# submit, language, consent yes / no.
CHOOSE, TOGGLE, DONE, NEXT, KEEP, SKIP, BACK, EDIT = "c", "t", "d", "n", "k", "s", "b", "e"
SUBMIT, LANGUAGE, CONSENT_YES, CONSENT_NO = "S", "L", "y", "x"
# Open one of the surveys a linked chat's group has open (the invitation's id as argument),
# from a list that belongs to no response yet (response id 0).
OPEN = "o"

MAX_MESSAGE = 4000  # Telegram allows 4,096 characters; leave room for the notice line.
MAX_REVIEW_ANSWER = 300

# The bot's own words, in English, marked for the catalogs that translate them (collector.i18n);
# `word(language, key)` gives one translated.
WORDS: dict[str, str] = {
    "progress": N_("Question %(position)s of %(total)s"),
    "optional": N_("(optional)"),
    "choose_one": N_("Choose one answer."),
    "choose_some": N_("Tick every answer that applies, then press Done."),
    "type_integer": N_("Reply with a whole number."),
    "type_decimal": N_("Reply with a number."),
    "type_text": N_("Reply with your answer."),
    "note": N_("Press Continue when you are ready."),
    "previous": N_("Your answer so far: %(value)s"),
    "done": N_("Done"),
    "continue": N_("Continue"),
    "keep": N_("Keep my answer"),
    "skip": N_("Skip"),
    "back": N_("« Back"),
    "check_heading": N_("Check your answers before sending them"),
    "send_body": N_("When you send your answers you cannot change them."),
    "send": N_("Send answers"),
    "change": N_("Change %(number)s"),
    "not_answered": N_("Not answered"),
    "thanks": N_("Thank you. Your answers have been sent."),
    "language": N_("Choose a language:"),
    "choose_survey_group": N_(
        "Your group has %(count)s surveys open. Which one would you like to answer now?"
    ),
    "choose_survey_you": N_(
        "You have %(count)s surveys open. Which one would you like to answer now?"
    ),
    "survey_option": N_("%(title)s (%(period)s), closes %(closes)s"),
    "chosen": N_("Answering: %(title)s (%(period)s)"),
    "finished_elsewhere": N_(
        "This survey was finished %(where)s, so your answers have been sent. Thank you."
    ),
    "kept_answer": N_("%(who)s answered %(answer)s %(where)s, so that answer was kept."),
    "who_group": N_("Your group"),
    "who_you": N_("You"),
    "where_web": N_("on the web"),
    "where_telegram": N_("in Telegram"),
    "where_terminal": N_("on another device"),
    "where_unknown": N_("already"),
    "consent": N_(
        "Would you like %(provider)s to send you future surveys here in Telegram? "
        "You can stop them at any time with /stop."
    ),
    "consent_yes": N_("Yes, send them here"),
    "consent_no": N_("No, thanks"),
}

# Marks the reason a question's last answer was not taken, on the question's message.
WARNING = "⚠️"


def word(language: str, key: str, **values: object) -> str:
    """Give one of the bot's words in `language` (English when it has no translation)."""
    return i18n.translate(language, WORDS[key], **values)


@dataclass(frozen=True)
class Rendered:
    """A message to send: HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Callback:
    """Decoded callback data of a respondent's button."""

    response_id: int
    question: int | None
    action: str
    argument: str = ""


def data(response_id: int, question: int | None, action: str, argument: str = "") -> str:
    """Encode a button's callback data."""
    parts = [PREFIX, str(response_id), NO_QUESTION if question is None else str(question), action]
    if argument:
        parts.append(argument)
    encoded = ":".join(parts)
    assert len(encoded.encode()) <= 64, "callback data is limited to 64 bytes"
    return encoded


def parse(raw: str) -> Callback | None:
    """Decode callback data; None when it is not a respondent's well-formed button."""
    parts = raw.split(":")
    if len(parts) not in (4, 5) or parts[0] != PREFIX:
        return None
    try:
        response_id = int(parts[1])
        question = None if parts[2] == NO_QUESTION else int(parts[2])
    except ValueError:
        return None
    if question is not None and question < 0:
        return None
    return Callback(response_id, question, parts[3], parts[4] if len(parts) == 5 else "")


def mask_of(selected: list[bool]) -> str:
    """Give a selection as a hex bit mask (bit i: choice i ticked)."""
    return format(sum(1 << i for i, on in enumerate(selected) if on), "x")


def toggled(choices: Sequence[flow.ChoiceView], ticks: list[bool], index: int) -> list[bool]:
    """Give the ticks after pressing one choice: ticking an exclusive one clears the others.

    As GOV.UK's exclusive checkbox does on the web: "None of these" unticks the rest, and
    ticking any other choice unticks "None of these".
    """
    after = list(ticks)
    after[index] = not after[index]
    if after[index]:
        for i, choice in enumerate(choices):
            if i != index and (choice.exclusive or choices[index].exclusive):
                after[i] = False
    return after


def selection(mask: str, count: int) -> list[bool] | None:
    """Give the ticks a hex bit mask stands for; None when it is not a valid mask."""
    try:
        bits = int(mask, 16)
    except ValueError:
        return None
    if bits < 0 or bits >= 1 << count:
        return None
    return [bool(bits >> i & 1) for i in range(count)]


def e(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def question(
    view: flow.QuestionView,
    index: int,
    *,
    notice: str | None = None,
    ticks: list[bool] | None = None,
) -> Rendered:
    """Render a question (or a note): progress, label, hint, error, how to answer, buttons.

    `index` is the question's position in the survey (for the callback data); `ticks`
    overrides the multiple-choice selection shown (while the respondent is ticking).
    """
    lang = view.language
    lines: list[str] = []
    if notice:
        lines += [e(notice), ""]
    if view.kind == "question" and view.type != "note":
        lines.append(
            f"<i>{e(word(lang, 'progress', position=view.position, total=view.total))}</i>"
        )
    label = f"<b>{e(view.label)}</b>"
    if not view.required and view.type != "note":
        label += " " + e(word(lang, "optional"))
    lines.append(label)
    if view.hint:
        lines.append(e(view.hint))
    for line in view.beside:
        lines.append(f"<i>{e(line)}</i>")
    if view.error:
        lines += ["", f"{WARNING} {e(view.error)}"]
    rows: list[list[InlineKeyboardButton]] = []
    rid = view.response_id

    def button(text: str, action: str, argument: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=data(rid, index, action, argument))

    if view.type in ("single", "scale"):
        lines += ["", e(word(lang, "choose_one"))]
        for i, choice in enumerate(view.choices):
            mark = "✅ " if choice.selected else ""
            rows.append([button(mark + choice.label, CHOOSE, str(i))])
    elif view.type == "multiple":
        lines += ["", e(word(lang, "choose_some"))]
        current = ticks if ticks is not None else [c.selected for c in view.choices]
        for i, choice in enumerate(view.choices):
            flipped = toggled(view.choices, current, i)
            mark = "☑️ " if current[i] else "⬜ "
            rows.append([button(mark + choice.label, TOGGLE, mask_of(flipped))])
        rows.append([button(word(lang, "done"), DONE, mask_of(current))])
    elif view.type == "note":
        lines += ["", e(word(lang, "note"))]
        rows.append([button(word(lang, "continue"), NEXT)])
    else:
        lines += ["", e(word(lang, f"type_{view.type}"))]
        if view.value is not None:
            lines.append(e(word(lang, "previous", value=view.value)))
            rows.append([button(word(lang, "keep"), KEEP)])
    last: list[InlineKeyboardButton] = []
    if view.can_go_back:
        last.append(button(word(lang, "back"), BACK))
    if not view.required and view.type != "note":
        last.append(button(word(lang, "skip"), SKIP))
    if last:
        rows.append(last)
    return Rendered(_fit("\n".join(lines)), InlineKeyboardMarkup(rows) if rows else None)


def answered(label: str, answer: str) -> str:
    """Give the text a question's message is edited to once answered (its buttons go)."""
    return f"<b>{e(label)}</b>\n✔️ {e(answer)}"


def review(
    view: flow.ReviewView, indexes: dict[str, int], *, notice: str | None = None
) -> Rendered:
    """Render the summary: every answer, numbered, with "Send answers" and change buttons.

    `indexes` gives each question's position in the survey (for the callback data).
    """
    lang = view.language
    lines: list[str] = []
    if notice:
        lines += [e(notice), ""]
    lines += [f"<b>{e(word(lang, 'check_heading'))}</b>", ""]
    for number, item in enumerate(view.items, start=1):
        answer = item.answer if item.answered else word(lang, "not_answered")
        if len(answer) > MAX_REVIEW_ANSWER:
            answer = answer[: MAX_REVIEW_ANSWER - 1] + "…"
        lines.append(f"{number}. {e(item.label)}\n<i>{e(answer)}</i>")
    lines += ["", e(word(lang, "send_body"))]
    rid = view.response_id
    rows = [[InlineKeyboardButton(word(lang, "send"), callback_data=data(rid, None, SUBMIT))]]
    changes = [
        InlineKeyboardButton(
            word(lang, "change", number=number),
            callback_data=data(rid, indexes[item.question_id], EDIT),
        )
        for number, item in enumerate(view.items, start=1)
    ]
    rows += [changes[i : i + 4] for i in range(0, len(changes), 4)]
    return Rendered(_fit("\n".join(lines)), InlineKeyboardMarkup(rows))


def done(language: str, *, notice: str | None = None) -> Rendered:
    """Render the thank-you message."""
    text = e(word(language, "thanks"))
    return Rendered(f"{e(notice)}\n\n{text}" if notice else text)


def languages(response_id: int, available: tuple[str, ...], current: str) -> Rendered:
    """Render the language choice: one button per language of the survey."""
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if code == current else "") + i18n.name(code),
                callback_data=data(response_id, None, LANGUAGE, code),
            )
        ]
        for code in available
    ]
    return Rendered(e(word(current, "language")), InlineKeyboardMarkup(rows))


def consent(response_id: int, provider: str, language: str = "en") -> Rendered:
    """Ask whether future surveys may come to this chat."""
    text = e(word(language, "consent", provider=provider))
    rows = [
        [
            InlineKeyboardButton(
                word(language, "consent_yes"), callback_data=data(response_id, None, CONSENT_YES)
            ),
            InlineKeyboardButton(
                word(language, "consent_no"), callback_data=data(response_id, None, CONSENT_NO)
            ),
        ]
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


def plain(text: str) -> Rendered:
    """Render a plain message (escaped)."""
    return Rendered(e(text))


def _fit(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    # Cut without leaving half a tag or half an entity: drop the (only) tags, b and i.
    flat = re.sub(r"</?[bi]>", "", text)[: MAX_MESSAGE - 1]
    amp = flat.rfind("&")
    if amp != -1 and ";" not in flat[amp:]:
        flat = flat[:amp]
    return flat + "…"


def where(language: str, channel: str | None) -> str:
    """Say where an answer was given or a survey finished: "on the web", "in Telegram"."""
    key = {"web": "where_web", "open_link": "where_web", "telegram": "where_telegram"}.get(
        channel or "", "where_terminal" if channel == "terminal" else "where_unknown"
    )
    return word(language, key)


def finished_elsewhere(language: str, channel: str) -> str:
    """The one line a chat gets when the survey it was answering was sent from elsewhere."""
    return word(language, "finished_elsewhere", where=where(language, channel))


def kept_answer(language: str, answer: str, channel: str | None, *, group: bool) -> str:
    """Say which answer was kept when another channel answered a question first."""
    who = word(language, "who_group" if group else "who_you")
    return word(language, "kept_answer", who=who, answer=answer, where=where(language, channel))


@dataclass(frozen=True)
class SurveyOption:
    """One open survey a linked chat may choose to answer."""

    invitation_id: int
    title: str
    period: str
    closes: str


def choose_survey(language: str, options: Sequence[SurveyOption], *, group: bool) -> Rendered:
    """Ask which of several open surveys to answer: one button each."""
    key = "choose_survey_group" if group else "choose_survey_you"
    text = e(word(language, key, count=len(options)))
    rows = [
        [
            InlineKeyboardButton(
                word(
                    language,
                    "survey_option",
                    title=option.title,
                    period=option.period,
                    closes=option.closes,
                ),
                callback_data=data(0, None, OPEN, str(option.invitation_id)),
            )
        ]
        for option in options
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))
