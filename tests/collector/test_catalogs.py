"""The interface catalogs: every word of the template translated in Welsh and Urdu, with the same
placeholders, the right plural forms, Urdu in Urdu script, and a catalog that compiles."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from collector import i18n

TEMPLATE = i18n.LOCALE_PATH / "messages.pot"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")
# Plural forms: Welsh has six (CLDR, as Babel writes them), Urdu two.
PLURALS = {"cy": 6, "ur": 2}


def catalog(code: str) -> Catalog:
    with i18n.catalog_path(code).open("rb") as po:
        return read_po(po, locale=code)


def template() -> Catalog:
    with TEMPLATE.open("rb") as pot:
        return read_po(pot)


@pytest.mark.parametrize("code", sorted(PLURALS))
def test_every_word_is_translated_with_its_placeholders(code: str) -> None:
    words = catalog(code)
    expected = {m.id for m in template() if m.id}
    found = {m.id: m for m in words if m.id}
    assert expected <= set(found), f"{code}: not in the catalog: {expected - set(found)}"
    for message_id in expected:
        message = found[message_id]
        assert message.string, f"{code}: {message_id!r} is not translated"
        assert not message.fuzzy, f"{code}: {message_id!r} is marked fuzzy"
        assert sorted(PLACEHOLDER.findall(str(message.string))) == sorted(
            PLACEHOLDER.findall(str(message_id))
        ), f"{code}: {message_id!r} changes its placeholders"
    assert [error for _, errors in words.check() for error in errors] == []
    assert words.num_plurals == PLURALS[code]
    assert not words.fuzzy  # pybabel compile skips a catalog whose header is fuzzy
    assert "machine-drafted, awaiting review" in words.header_comment.lower()


def test_the_urdu_words_are_in_urdu_script() -> None:
    for message in catalog("ur"):
        if not message.id:
            continue
        text = PLACEHOLDER.sub("", str(message.string))
        assert ARABIC_LETTER.search(text), message.id
        # Only the product's name, and the bot's commands (/stop), stay in Latin letters.
        text = re.sub(r"/[a-z]+", "", text)
        assert set(LATIN_WORD.findall(text)) <= {"tempcheck"}, message.id


@pytest.mark.parametrize("code", sorted(PLURALS))
def test_the_catalog_compiles_and_the_app_reads_it(code: str) -> None:
    compiled = BytesIO()
    write_mo(compiled, catalog(code), use_fuzzy=False)
    assert compiled.getvalue()
    said = i18n.translate(code, "Question %(position)s of %(total)s", position=2, total=11)
    assert said == {"cy": "Cwestiwn 2 o 11", "ur": "11 میں سے سوال 2"}[code]
    assert i18n.translate(code, "Start now") == {"cy": "Dechrau nawr", "ur": "ابھی شروع کریں"}[code]
