"""Surveys answered in several languages (issue 18): the same answers give the same KPIs in
any language, because answers are stored as codes; the language is kept on each response and
can be broken down by."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import models, rounds
from collector.cli import main
from collector.db import transaction
from collector.models import utcnow
from collector.survey.model import Survey
from tests.factories import cvs_support, make_organisation, make_provider, make_round
from tests.forms.conftest import Browser

SURVEY = cvs_support()

# Six groups' answers to cvs-support, by question (choice codes); unlisted questions take the
# first choice shown, and free text is left empty.
ANSWERS: list[dict[str, Any]] = [
    {"ease_of_access": "very_easy", "satisfaction": "very_satisfied"},
    {"ease_of_access": "easy", "satisfaction": "satisfied"},
    {"ease_of_access": "difficult", "satisfaction": "dissatisfied"},
    {"ease_of_access": "very_easy", "satisfaction": "satisfied", "used_support": "no"},
    {"ease_of_access": "easy", "satisfaction": "neither"},
    {"ease_of_access": "very_difficult", "satisfaction": "very_dissatisfied"},
]

_OPTION = re.compile(
    r'<input class="govuk-(?:radios|checkboxes)__input" id="(?P<id>[^"]+)" name="answer" '
    r'type="(?:radio|checkbox)" value="(?P<value>[^"]*)"'
)


def shown_options(page: str) -> dict[str, str]:
    """Give the page's answer options: the label a respondent reads -> the value it sends."""
    options: dict[str, str] = {}
    for match in _OPTION.finditer(page):
        label = re.search(rf'<label [^>]*for="{match["id"]}">\s*(.*?)\s*</label>', page, re.S)
        assert label is not None, f"option {match['id']} has no label"
        options[html.unescape(label.group(1))] = match["value"]
    return options


def answer_in(
    browser: Browser, survey: Survey, token: str, language: str, plan: dict[str, Any]
) -> None:
    """Answer the survey on its web pages in `language`, picking each answer by the label shown
    in that language (as a respondent who reads only that language would)."""
    url = f"/r/{token}"
    browser.get(url)
    if language != "en":
        browser.post(f"{url}/language", {"language": language, "page": "start"})
    assert f'<html lang="{language}"' in browser.text
    browser.post(f"{url}/start", {"language": language})
    while "/q/" in browser.path:
        question = survey.question(browser.question)
        options = shown_options(browser.text)
        if question.type == "note" or not question.choices:
            browser.answer(None)
            continue
        code = plan.get(question.id, question.choices[0].value)
        codes = code if isinstance(code, list) else [code]
        wanted = [
            next(c for c in question.choices if c.value == v).label.get(language) for v in codes
        ]
        assert all(label in options for label in wanted), (question.id, wanted, list(options))
        picked = [options[label] for label in wanted]
        browser.answer(picked if question.type == "multiple" else picked[0])
    assert browser.path == f"{url}/check", browser.path
    browser.post(f"{url}/check")
    assert browser.path == f"{url}/done"


def kpis(database_url: str, round_id: int, *by: str) -> list[dict[str, str]]:
    """Give the rows of `tempcheck kpi --round N --csv` (with `--by SEGMENT` when given)."""
    args = ["kpi", "--round", str(round_id), "--csv", *(("--by", by[0]) if by else ())]
    result = CliRunner().invoke(main, args, env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


FIGURES = (
    "framework",
    "kpi",
    "measure",
    "segment",
    "group",
    "n",
    "numerator",
    "proportion",
    "count",
    "status",
)


def figures(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    """Give each row's figures, without what names the provider or round."""
    return sorted(tuple(row[column] for column in FIGURES) for row in rows)


def test_the_same_answers_in_english_welsh_and_urdu_give_the_same_kpis(
    database_url: str,
    session_factory: sessionmaker[Session],
    browser: Browser,
) -> None:
    assert {"cy", "ur"} <= set(SURVEY.languages)
    with transaction(session_factory) as session:
        english = make_provider(session, slug="english-cvs", name="English CVS")
        mixed = make_provider(session, slug="mixed-cvs", name="Mixed CVS")
        for provider in (english, mixed):
            for _ in ANSWERS:
                make_organisation(session, provider)
        opened = utcnow() - timedelta(days=2)
        in_english = make_round(session, english, SURVEY, opens_at=opened)
        in_mixed = make_round(session, mixed, SURVEY, opens_at=opened)
        tokens = {
            r.id: [i.token for i in sorted(r.invitations, key=lambda i: i.id)]
            for r in (in_english, in_mixed)
        }
        ids = (in_english.id, in_mixed.id)

    languages = ["cy", "ur", "cy", "ur", "en", "cy"]
    for n, plan in enumerate(ANSWERS):
        answer_in(browser, SURVEY, tokens[ids[0]][n], "en", plan)
        answer_in(browser, SURVEY, tokens[ids[1]][n], languages[n], plan)

    with transaction(session_factory) as session:
        for round_id in ids:
            rounds.close_round(session, session.get(models.Round, round_id), reports=False)
        stored = {
            (r.round_id, r.invitation.token): (
                r.language,
                {a.question_id: a.value for a in r.answers},
            )
            for r in session.scalars(select(models.Response))
        }
        status = rounds.round_status(session, session.get(models.Round, ids[1]))
    # Every answer is the same code whichever language it was given in.
    for n in range(len(ANSWERS)):
        lang_en, answers_en = stored[(ids[0], tokens[ids[0]][n])]
        lang, answers = stored[(ids[1], tokens[ids[1]][n])]
        assert (lang_en, lang) == ("en", languages[n])
        assert answers == answers_en
    assert status.by_language == {"cy": 3, "en": 1, "ur": 2}

    english_kpis, mixed_kpis = (
        figures(kpis(database_url, ids[0])),
        figures(kpis(database_url, ids[1])),
    )
    assert any(row[FIGURES.index("proportion")] for row in english_kpis)
    assert mixed_kpis == english_kpis

    # The breakdown by language: each language's responses counted under its name.
    by_language = [
        row for row in kpis(database_url, ids[1], "language") if row["segment"] == "language"
    ]
    assert {row["group"] for row in by_language} == {"Welsh", "Urdu", "English"}
    # Each group's count is its language's responses (3 Welsh, 2 Urdu, 1 English), or hidden
    # as too few to show without identifying a group.
    sizes = {"Welsh": "3", "Urdu": "2", "English": "1"}
    assert all(row["n"] in (sizes[row["group"]], "") for row in by_language)
