"""The languages tempcheck speaks to respondents in: the words of its interface in each, their
names, writing direction and dates.

A survey brings its own questions in each of its languages (its definition file); the words
around them (buttons, hints, errors, the bot's prompts) are English in the code and translated
through gettext catalogs in `collector/locale/<code>/LC_MESSAGES/messages.po`, one for the web
pages and the bot together, made and updated with Babel (`make translations`). A word missing
from a catalog, or marked fuzzy there, is shown in English. The catalogs are read as .po files
when first needed, so there is no compiled file to keep in step.

Code marks an English word for the catalog with `N_(...)` where it is only named (a table of
words), and gives it translated with `translate(language, message, **values)`. Placeholders are
Python's named ones, `%(provider)s`, the form translators' tools check.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from collector.localtime import uk

ENGLISH = "en"
LOCALE_PATH = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark `message` for the catalog without translating it here."""
    return message


@cache
def _locale(code: str) -> Locale | None:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None


def name(code: str) -> str:
    """Give a language's name in itself (Cymraeg, اردو), or the code when it is not known."""
    locale = _locale(code)
    shown = locale.get_display_name() if locale is not None else None
    return (shown[:1].upper() + shown[1:]) if shown else code


def english_name(code: str) -> str:
    """Give a language's name in English (Welsh, Urdu), or the code when it is not known."""
    locale = _locale(code)
    shown = locale.get_display_name(ENGLISH) if locale is not None else None
    return shown or code


def direction(code: str) -> str:
    """Give the direction a language is written in: "rtl" or "ltr"."""
    locale = _locale(code)
    return "rtl" if locale is not None and locale.text_direction == "rtl" else "ltr"


def catalog_path(code: str) -> Path:
    """Give where a language's catalog of interface words lives."""
    return LOCALE_PATH / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> gettext.NullTranslations:
    """Give the interface words of one language (English, untranslated, when it has none)."""
    path = catalog_path(code)
    if code == ENGLISH or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def languages() -> tuple[str, ...]:
    """Give the languages the interface has a catalog for, English first."""
    found = sorted(p.parent.parent.name for p in LOCALE_PATH.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (ENGLISH, *(code for code in found if code != ENGLISH))


def translate(code: str | None, message: str, **values: object) -> str:
    """Give `message` in the language `code`, with its placeholders filled from `values` (a
    datetime as a long UK date in that language)."""
    text = translations(code or ENGLISH).gettext(message)
    if not values:
        return text
    shown = {
        key: long_date(value, code) if isinstance(value, datetime) else value
        for key, value in values.items()
    }
    return text % shown


def long_date(moment: datetime, code: str | None = None) -> str:
    """Show a moment's UK date as 3 March 2026, with the month's name in the language."""
    locale = _locale(code or ENGLISH)
    return format_date(uk(moment).date(), "d MMMM y", locale=locale or ENGLISH)
