"""The words on the pages around the questions, per language (questions bring their own)."""

from __future__ import annotations

from typing import Any

LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "service": "tempcheck",
        "start": "Start now",
        "continue": "Continue",
        "back": "Back",
        "progress": "Question {position} of {total}",
        "optional": "(optional)",
        "or": "or",
        "problem": "There is a problem",
        "error_prefix": "Error:",
        "time_label": "Time it takes",
        "time_value": "About {minutes} minutes",
        "time_value_one": "About a minute",
        "closes_label": "Survey closes",
        "intro_who_heading": "Who is asking",
        "intro_who": "{provider} is asking the groups it supports about the help they have had.",
        "intro_who_org": "{provider} is asking {organisation} about the help it has had.",
        "intro_use_heading": "How your answers are used",
        "intro_use": (
            "Staff at {provider} read your answers to improve their support. The people who "
            "fund {provider} only see totals from at least 5 groups, never your own answers."
        ),
        "intro_anonymous": "This survey does not ask who you are.",
        "intro_resume": (
            "You can stop at any time. Your answers are saved as you go: open the same link "
            "again, on this or another device, to carry on."
        ),
        "intro_resume_open": (
            "You can stop at any time. Your answers are saved as you go: come back in this "
            "browser to carry on."
        ),
        "started": "You have started this survey. Your answers so far are saved.",
        "check_heading": "Check your answers before sending them",
        "change": "Change",
        "send_heading": "Now send your answers",
        "send_body": "When you send your answers you cannot change them.",
        "send": "Send answers",
        "not_answered": "Not answered",
        "done_title": "Thank you",
        "done_body": "Your answers have been sent",
        "done_next_heading": "What happens next",
        "done_next": (
            "{provider} will read your answers with those of other groups and use them to "
            "improve its support. You can close this page."
        ),
        "footer": "tempcheck collects feedback for {provider}.",
        "footer_plain": "tempcheck collects feedback for voluntary and community groups.",
        "language": "Language",
        "telegram_heading": "Answer in Telegram instead",
        "telegram_body": (
            "If you would rather answer in the Telegram app, open the survey there, or scan "
            "the code with your phone's camera. Answers you have already given here are kept."
        ),
        "telegram_link": "Open the survey in Telegram",
        "telegram_qr_alt": "QR code that opens the survey in Telegram",
        "telegram_next_heading": "Answer in Telegram next time",
        "telegram_next_body": (
            "{provider} can send you its next surveys in the Telegram app. Open this survey "
            "in Telegram, or scan the code with your phone's camera, and answer “Yes, send "
            "them here”."
        ),
    },
    "cy": {
        "start": "Dechrau nawr",
        "time_label": "Amser",
        "time_value": "Tua {minutes} munud",
        "closes_label": "Yr arolwg yn cau",
        "continue": "Parhau",
        "back": "Yn ôl",
        "progress": "Cwestiwn {position} o {total}",
        "optional": "(dewisol)",
        "or": "neu",
        "problem": "Mae problem wedi codi",
        "error_prefix": "Gwall:",
        "check_heading": "Gwiriwch eich atebion cyn eu hanfon",
        "change": "Newid",
        "send_heading": "Nawr anfonwch eich atebion",
        "send": "Anfon atebion",
        "not_answered": "Heb ateb",
        "done_title": "Diolch",
        "done_body": "Mae eich atebion wedi cael eu hanfon",
        "language": "Iaith",
        "footer": "Mae tempcheck yn casglu adborth ar gyfer {provider}.",
    },
}


class Words:
    """The page words in one language, falling back to English: `t.start`, `t('progress', ...)`."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._table = {**TEXT["en"], **TEXT.get(language, {})}

    def __getattr__(self, key: str) -> str:
        try:
            return self._table[key]
        except KeyError:
            raise AttributeError(key) from None

    def __call__(self, key: str, **values: Any) -> str:
        return self._table[key].format(**values)
