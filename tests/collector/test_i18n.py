"""The interface's words in other languages: the template is current with the code, and a word is
given in the respondent's language or, failing that, in English (the catalogs' contents are
checked in test_catalogs)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from collector import i18n
from collector.survey.loader import library_surveys
from collector.survey.model import AnswerError

ROOT = Path(__file__).parents[2]
# Every language the built-in surveys are written in has the interface's words too.
SHIPPED = sorted({code for s in library_surveys().values() for code in s.languages} - {"en"})


def marked_in_code() -> set[str]:
    """Give the English words the code marks with N_ (as `make translations` gathers them)."""
    found: set[str] = set()
    for package in ("collector", "forms", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords={"N_": None}
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def catalog_ids(path: Path) -> set[str]:
    with path.open("rb") as po:
        return {m.id for m in read_po(po) if m.id and isinstance(m.id, str)}


def test_the_template_has_every_word_the_code_marks() -> None:
    template = catalog_ids(i18n.LOCALE_PATH / "messages.pot")
    marked = marked_in_code()
    assert marked, "no words found"
    assert marked - template == set(), "run `make translations`: the template lacks these words"
    assert template - marked == set(), "run `make translations`: the template has old words"


def test_the_built_in_surveys_languages_are_welsh_and_urdu() -> None:
    assert SHIPPED == ["cy", "ur"]
    assert i18n.languages() == ("en", "cy", "ur")


def test_a_word_is_given_in_the_language_or_else_in_english() -> None:
    assert i18n.translate("cy", "Continue") == "Parhau"
    assert i18n.translate("cy", "Question %(position)s of %(total)s", position=2, total=9) == (
        "Cwestiwn 2 o 9"
    )
    # No catalog for Polish: English, with the values filled in.
    assert i18n.translate("pl", "Question %(position)s of %(total)s", position=2, total=9) == (
        "Question 2 of 9"
    )
    assert i18n.translate(None, "Continue") == "Continue"
    # A word no catalog has (new in the code, not yet translated) stays English.
    assert i18n.translate("ur", "A sentence nobody has translated") == (
        "A sentence nobody has translated"
    )


def test_a_translated_answer_error_keeps_the_respondent_s_values() -> None:
    error = AnswerError("too_small", params={"min": 5})
    assert error.message_in("en") == "Enter a number of 5 or more"
    welsh = error.message_in("cy")
    assert "5" in welsh and welsh != "Enter a number of 5 or more"


def test_names_and_directions_of_languages() -> None:
    assert (i18n.name("cy"), i18n.english_name("cy"), i18n.direction("cy")) == (
        "Cymraeg",
        "Welsh",
        "ltr",
    )
    assert (i18n.name("ur"), i18n.english_name("ur"), i18n.direction("ur")) == (
        "اردو",
        "Urdu",
        "rtl",
    )
    assert i18n.direction("ar") == "rtl" and i18n.direction("pl") == "ltr"
    # A code Babel does not know is named by itself and read left to right.
    assert (i18n.name("xx"), i18n.direction("xx")) == ("xx", "ltr")
