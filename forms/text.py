"""The words on the pages around the questions (questions bring their own, per language).

The words are English here, marked with `N_` for the gettext catalogs that translate them
(`collector.i18n`, `make translations`); `Words(language)` gives them translated.
"""

from __future__ import annotations

from typing import Any

from collector import i18n
from collector.i18n import N_

WORDS: dict[str, str] = {
    "service": "tempcheck",  # a name, not translated
    "start": N_("Start now"),
    "continue": N_("Continue"),
    "back": N_("Back"),
    "progress": N_("Question %(position)s of %(total)s"),
    "optional": N_("(optional)"),
    "or": N_("or"),
    "problem": N_("There is a problem"),
    "error_prefix": N_("Error:"),
    "time_label": N_("Time it takes"),
    "time_value": N_("About %(minutes)s minutes"),
    "time_value_one": N_("About a minute"),
    "closes_label": N_("Survey closes"),
    "intro_who_heading": N_("Who is asking"),
    "intro_who": N_("%(provider)s is asking the groups it supports about the help they have had."),
    "intro_who_org": N_("%(provider)s is asking %(organisation)s about the help it has had."),
    "intro_use_heading": N_("How your answers are used"),
    "intro_use": N_(
        "Staff at %(provider)s read your answers to improve their support. The people who "
        "fund %(provider)s only see totals from at least 5 groups, never your own answers."
    ),
    "intro_anonymous": N_("This survey does not ask who you are."),
    "intro_resume": N_(
        "You can stop at any time. Your answers are saved as you go: open the same link "
        "again, on this or another device, to carry on."
    ),
    "intro_resume_open": N_(
        "You can stop at any time. Your answers are saved as you go: come back in this "
        "browser to carry on."
    ),
    "started": N_("You have started this survey. Your answers so far are saved."),
    "check_heading": N_("Check your answers before sending them"),
    "change": N_("Change"),
    "send_heading": N_("Now send your answers"),
    "send_body": N_("When you send your answers you cannot change them."),
    "send": N_("Send answers"),
    "not_answered": N_("Not answered"),
    "done_title": N_("Thank you"),
    "done_body": N_("Your answers have been sent"),
    "done_next_heading": N_("What happens next"),
    "done_next": N_(
        "%(provider)s will read your answers with those of other groups and use them to "
        "improve its support. You can close this page."
    ),
    "footer": N_("tempcheck collects feedback for %(provider)s."),
    "footer_plain": N_("tempcheck collects feedback for voluntary and community groups."),
    "language": N_("Language"),
    "telegram_heading": N_("Answer in Telegram instead"),
    "telegram_body": N_(
        "If you would rather answer in the Telegram app, open the survey there, or scan "
        "the code with your phone's camera. Answers you have already given here are kept."
    ),
    "telegram_link": N_("Open the survey in Telegram"),
    "telegram_qr_alt": N_("QR code that opens the survey in Telegram"),
    "telegram_next_heading": N_("Answer in Telegram next time"),
    "telegram_next_body": N_(
        "%(provider)s can send you its next surveys in the Telegram app. Open this survey "
        "in Telegram, or scan the code with your phone's camera, and answer “Yes, send "
        "them here”."
    ),
}


class Words:
    """The page words in one language, falling back to English: `t.start`, `t('progress', ...)`.

    `t.code` is the language's code and `t.dir` its direction, for the page's `lang` and `dir`.
    """

    def __init__(self, language: str) -> None:
        self.code = language
        self.dir = i18n.direction(language)

    def __getattr__(self, key: str) -> str:
        try:
            return i18n.translate(self.code, WORDS[key])
        except KeyError:
            raise AttributeError(key) from None

    def __call__(self, key: str, **values: Any) -> str:
        return i18n.translate(self.code, WORDS[key], **values)

    def say(self, text: str, **values: Any) -> str:
        """Give a text that is not in the table (a message's) in the language, if the catalogs
        have it, with its placeholders filled from `values`."""
        return i18n.translate(self.code, text, **values)

    def name(self, code: str) -> str:
        """Give a language's name in itself, for the language choice."""
        return i18n.name(code)
