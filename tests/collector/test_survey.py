"""Survey definitions: the model, answer coercion, and the YAML loader's validation."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.errors import NotFound
from collector.survey.loader import (
    SurveyDefinitionError,
    load_survey,
    load_survey_text,
    survey_from_data,
    survey_from_dict,
)
from collector.survey.model import (
    MAX_TEXT_LENGTH,
    AnswerError,
    Choice,
    Labels,
    Question,
    QuestionType,
)

HEAD = """\
id: demo
version: 1
title: Demo survey
minutes: 2
"""

CHOICES = """\
choices:
  yes_no:
    - {value: "yes", label: "Yes"}
    - {value: "no", label: "No"}
"""

WELSH = """\
id: welsh-demo
version: 3
title: {en: Support from your CVS, cy: Cymorth gan eich CGG}
description: {en: Two questions., cy: Dau gwestiwn.}
minutes: 1
languages: [cy, en]
choices:
  yes_no:
    - {value: "yes", label: {en: "Yes", cy: "Ie"}}
    - {value: "no", label: {en: "No", cy: "Na"}}
questions:
  - id: intro
    type: note
    label: {en: Thank you for helping., cy: Diolch am helpu.}
  - id: used
    type: single
    choices: yes_no
    label: {en: "Did you use our support?", cy: "A wnaethoch chi ddefnyddio ein cymorth?"}
  - id: why_not
    type: text
    required: false
    relevant: "${used} = 'no'"
    label: {en: "Why not?", cy: "Pam lai?", fr: "Pourquoi pas ?"}
"""


def definition(questions: str, *, head: str = HEAD, choices: str = CHOICES) -> str:
    """Build a YAML definition from a questions list written as YAML."""
    body = textwrap.indent(textwrap.dedent(questions).strip("\n"), "  ")
    return f"{head}{choices}questions:\n{body}\n"


def problems_of(text: str) -> list[str]:
    """Return the problems the loader reports for a definition named demo.yaml."""
    with pytest.raises(SurveyDefinitionError) as caught:
        load_survey_text(text, source="demo.yaml")
    assert caught.value.code == "bad_definition"
    return caught.value.problems


def make_question(type_: str = "single", **overrides: Any) -> Question:
    """Build a question with sensible defaults for its type."""
    fields: dict[str, Any] = {"id": "q", "type": QuestionType(type_), "label": Labels("Q?")}
    if type_ in ("single", "multiple", "scale"):
        fields["choices"] = (
            Choice("very_easy", Labels({"en": "Very easy", "cy": "Hawdd iawn"})),
            Choice("easy", Labels("Easy")),
            Choice("difficult", Labels("Difficult")),
        )
    fields.update(overrides)
    return Question(**fields)


# -- labels ------------------------------------------------------------------------------------


def test_labels_fall_back_to_english() -> None:
    labels = Labels({"en": "Hello", "cy": "Helo"})
    assert labels.get("cy") == "Helo"
    assert labels.get("fr") == "Hello"
    assert labels.get() == "Hello"
    assert labels.languages == {"en", "cy"}
    assert Labels("Hello") == Labels({"en": "Hello"})


def test_labels_need_english() -> None:
    with pytest.raises(ValueError, match="English"):
        Labels({"cy": "Helo"})


# -- coercion ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "overrides", "raw", "stored"),
    [
        ("single", {}, "easy", "easy"),
        ("single", {}, "  easy ", "easy"),
        ("single", {}, ["easy"], "easy"),
        ("single", {}, "EASY", "easy"),
        ("scale", {}, "Very easy", "very_easy"),
        ("scale", {}, "hawdd iawn", "very_easy"),
        ("multiple", {}, "difficult very_easy", "very_easy difficult"),
        ("multiple", {}, ["difficult", "easy", "difficult"], "easy difficult"),
        ("multiple", {}, "easy,difficult", "easy difficult"),
        ("multiple", {}, ["Very easy", "easy"], "very_easy easy"),
        ("integer", {}, "12", "12"),
        ("integer", {}, " 1,200 ", "1200"),
        ("integer", {}, "-0", "0"),
        ("integer", {"min": 0, "max": 300}, "300", "300"),
        ("decimal", {}, "2.5", "2.5"),
        ("decimal", {}, "2.50", "2.5"),
        ("decimal", {}, "1,000.25", "1000.25"),
        ("decimal", {}, "100", "100"),
        ("decimal", {}, ".5", "0.5"),
        ("decimal", {}, "-0.0", "0"),
        ("text", {}, "  Thank you\r\nvery much  ", "Thank you\nvery much"),
        ("text", {}, "no\x00nul", "nonul"),
        ("text", {"required": False}, "x" * MAX_TEXT_LENGTH, "x" * MAX_TEXT_LENGTH),
    ],
)
def test_coerce_stores_the_canonical_answer(
    type_: str, overrides: dict[str, Any], raw: Any, stored: str
) -> None:
    assert make_question(type_, **overrides).coerce(raw) == stored


@pytest.mark.parametrize("type_", ["single", "multiple", "scale", "integer", "decimal", "text"])
@pytest.mark.parametrize("raw", [None, "", "   ", []])
def test_an_optional_question_can_be_skipped(type_: str, raw: Any) -> None:
    assert make_question(type_, required=False).coerce(raw) is None


@pytest.mark.parametrize(
    ("type_", "overrides", "raw", "code", "message"),
    [
        ("single", {}, None, "required", "Select an answer"),
        ("scale", {}, "  ", "required", "Select an answer"),
        ("multiple", {}, [], "required", "Select at least one answer"),
        ("integer", {}, "", "required", "Enter a number"),
        ("text", {}, " \n ", "required", "Enter an answer"),
        ("single", {}, "hard", "not_a_choice", "Select one of the options shown"),
        ("single", {}, ["easy", "difficult"], "not_a_choice", "Select only one answer"),
        ("multiple", {}, "easy hard", "not_a_choice", "Select one of the options shown"),
        ("integer", {}, "1.5", "not_an_integer", "Enter a whole number, like 12"),
        ("integer", {}, "twelve", "not_an_integer", "Enter a whole number, like 12"),
        ("integer", {}, "12,00", "not_an_integer", "Enter a whole number, like 12"),
        ("integer", {}, "١٢", "not_an_integer", "Enter a whole number, like 12"),
        ("integer", {}, ["1", "2"], "too_many", "Enter one answer"),
        ("decimal", {}, "2,5", "not_a_number", "Enter a number, like 2.5"),
        ("decimal", {}, "1e5", "not_a_number", "Enter a number, like 2.5"),
        ("decimal", {}, "nan", "not_a_number", "Enter a number, like 2.5"),
        ("integer", {"min": 0}, "-1", "too_small", "Enter a number of 0 or more"),
        ("integer", {"max": 1000}, "1001", "too_large", "Enter a number of 1,000 or less"),
        ("integer", {"min": 0, "max": 300}, "301", "too_large", "Enter a number from 0 to 300"),
        ("decimal", {"min": 0.5}, "0.4", "too_small", "Enter a number of 0.5 or more"),
        ("text", {}, "x" * (MAX_TEXT_LENGTH + 1), "too_long", "Enter 2,000 characters or fewer"),
    ],
)
def test_coerce_rejects_with_a_plain_message(
    type_: str, overrides: dict[str, Any], raw: Any, code: str, message: str
) -> None:
    with pytest.raises(AnswerError) as caught:
        make_question(type_, **overrides).coerce(raw)
    assert caught.value.code == code
    assert caught.value.message == message
    # The interface catalogs have every answer message, with its numbers, in Welsh and Urdu.
    welsh, urdu = caught.value.message_in("cy"), caught.value.message_in("ur")
    assert welsh and welsh != message and urdu != message
    assert re.search(r"[\u0600-\u06ff]", urdu)
    numbers = re.findall(r"[0-9][0-9,.]*[0-9]|[0-9]", message)
    assert re.findall(r"[0-9][0-9,.]*[0-9]|[0-9]", welsh) == numbers
    assert re.findall(r"[0-9][0-9,.]*[0-9]|[0-9]", urdu) == numbers


def test_a_note_takes_no_answer() -> None:
    note = make_question("note", required=True)
    assert note.required is False
    assert note.answerable is False
    assert note.coerce("anything") is None


@pytest.mark.parametrize(
    ("type_", "stored", "decoded"),
    [
        ("single", "easy", "easy"),
        ("multiple", "very_easy difficult", ["very_easy", "difficult"]),
        ("integer", "1200", 1200),
        ("decimal", "2.5", 2.5),
        ("text", "Thanks", "Thanks"),
    ],
)
def test_decode_gives_the_value_conditions_expect(type_: str, stored: str, decoded: object) -> None:
    assert make_question(type_).decode(stored) == decoded


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_integers_round_trip(number: int) -> None:
    question = make_question("integer")
    assert question.coerce(str(number)) == str(number)
    assert question.coerce(f"{number:,}") == str(number)
    assert question.decode(str(number)) == number


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1e9, max_value=1e9))
def test_decimals_are_stored_canonically(number: Any) -> None:
    question = make_question("decimal")
    stored = question.coerce(format(number, "f"))
    assert stored is not None
    assert question.coerce(stored) == stored
    assert question.decode(stored) == pytest.approx(float(number))


@given(st.lists(st.sampled_from(["very_easy", "easy", "difficult"]), min_size=1))
def test_multiple_choice_is_stored_in_choice_list_order(picked: list[str]) -> None:
    stored = make_question("multiple").coerce(picked)
    assert stored is not None
    order = ["very_easy", "easy", "difficult"]
    assert stored.split() == [value for value in order if value in picked]


def test_constraint_uses_the_current_answer_and_earlier_answers() -> None:
    question = make_question(
        "integer",
        id="hours",
        constraint=". <= ${max_hours}",
        constraint_message=Labels({"en": "More than your maximum", "cy": "Mwy na'ch uchafswm"}),
    )
    question.check_constraint("10", {"max_hours": 20})
    question.check_constraint(10, {"max_hours": 20})
    with pytest.raises(AnswerError) as caught:
        question.check_constraint("30", {"max_hours": 20})
    assert caught.value.code == "constraint"
    assert caught.value.message == "More than your maximum"
    assert caught.value.message_in("cy") == "Mwy na'ch uchafswm"


def test_constraint_without_message_says_check_your_answer() -> None:
    question = make_question(
        "multiple", constraint="not(selected(., 'difficult') and count-selected(${q}) > 1)"
    )
    assert question.validate(["difficult"], {}) == "difficult"
    with pytest.raises(AnswerError, match="Check your answer"):
        question.validate(["easy", "difficult"], {})


def test_a_skipped_answer_is_not_checked_against_the_constraint() -> None:
    question = make_question("integer", required=False, constraint=". > 5")
    assert question.validate("", {}) is None


def test_relevance_follows_earlier_answers() -> None:
    question = make_question("text", relevant="${used} = 'yes'")
    assert question.is_relevant({"used": "yes"})
    assert not question.is_relevant({"used": "no"})
    assert not question.is_relevant({})
    assert make_question("text").is_relevant({})


def test_choice_lookup() -> None:
    question = make_question("scale")
    assert question.choice("easy").label.get() == "Easy"
    with pytest.raises(NotFound):
        question.choice("hard")


# -- the survey --------------------------------------------------------------------------------


def test_a_welsh_survey_loads_with_english_first() -> None:
    survey = load_survey_text(WELSH)
    assert survey.id == "welsh-demo"
    assert survey.version == 3
    assert survey.languages == ("en", "cy")
    assert survey.title.get("cy") == "Cymorth gan eich CGG"
    assert [q.id for q in survey.answerable_questions()] == ["used", "why_not"]
    used = survey.question("used")
    assert used.choice_list == "yes_no"
    assert [c.label.get("cy") for c in used.choices] == ["Ie", "Na"]
    assert used.required is True
    assert survey.question("why_not").relevant_node is not None
    with pytest.raises(NotFound):
        survey.question("nope")


def test_machine_drafted_languages_are_kept_and_marked() -> None:
    drafted = load_survey_text(WELSH.replace("]\nchoices:", "]\ndrafts: [cy]\nchoices:"))
    assert drafted.drafts == ("cy",)
    assert drafted.language_names() == ["en", "cy (draft)"]
    assert drafted.to_dict()["drafts"] == ["cy"]
    assert survey_from_dict(drafted.to_dict()) == drafted
    # A survey with no drafts keeps the definition (and fingerprint) it had before drafts.
    plain = load_survey_text(WELSH)
    assert plain.drafts == () and "drafts" not in plain.to_dict()
    assert plain.language_names() == ["en", "cy"]
    assert plain.fingerprint() != drafted.fingerprint()


def test_a_plain_string_label_is_english() -> None:
    survey = load_survey_text(definition("- {id: used, type: single, choices: yes_no, label: Hi}"))
    assert survey.title == Labels({"en": "Demo survey"})
    assert survey.languages == ("en",)


def test_inline_choices_are_allowed() -> None:
    survey = load_survey_text(
        definition(
            """
            - id: colour
              type: single
              label: Colour?
              choices:
                - {value: red, label: Red}
                - {value: 7, label: 7}
            """,
            choices="",
        )
    )
    question = survey.question("colour")
    assert question.choice_list is None
    assert [c.value for c in question.choices] == ["red", "7"]
    assert survey_from_dict(survey.to_dict()) == survey


def test_to_dict_round_trips_through_json() -> None:
    survey = load_survey_text(WELSH)
    data = json.loads(json.dumps(survey.to_dict()))
    again = survey_from_dict(data)
    assert again == survey
    assert again.fingerprint() == survey.fingerprint()
    assert again.question("why_not").relevant == "${used} = 'no'"


def test_fingerprint_changes_when_a_label_changes() -> None:
    survey = load_survey_text(WELSH)
    data = survey.to_dict()
    data["questions"][1]["label"]["en"] = "Did you use our help?"
    assert survey_from_dict(data).fingerprint() != survey.fingerprint()
    assert len(survey.fingerprint()) == 64


def test_from_dict_validates_again() -> None:
    data = load_survey_text(WELSH).to_dict()
    data["questions"][1]["type"] = "dropdown"
    with pytest.raises(SurveyDefinitionError) as caught:
        survey_from_dict(data)
    assert caught.value.problems == [
        "stored survey 'welsh-demo': question 'used': unknown type 'dropdown' "
        "(use one of: single, multiple, scale, integer, decimal, text, note)"
    ]


def test_decode_answers_skips_unanswered() -> None:
    survey = load_survey_text(WELSH)
    assert survey.decode_answers({"used": "no", "why_not": None}) == {"used": "no"}


def test_load_survey_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(definition("- {id: used, type: single, choices: yes_no}"), encoding="utf-8")
    with pytest.raises(SurveyDefinitionError) as caught:
        load_survey(path)
    assert caught.value.problems == ["demo.yaml: question 'used': missing label"]
    assert str(caught.value) == "demo.yaml: question 'used': missing label"


def test_load_survey_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SurveyDefinitionError, match="missing.yaml: cannot read the file"):
        load_survey(tmp_path / "missing.yaml")


# -- validation --------------------------------------------------------------------------------

Q = "- {id: used, type: single, choices: yes_no, label: Used}\n"

BAD_DEFINITIONS = [
    pytest.param(
        "id: demo\ntitle: [unclosed\nversion: 1\n",
        "demo.yaml: line 3, column 8: YAML syntax error: expected ',' or ']', but got ':'",
        id="yaml-syntax",
    ),
    pytest.param(
        HEAD + "title: Again\n",
        "demo.yaml: line 5, column 1: duplicate key 'title'",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "- just\n- a list\n",
        "demo.yaml: the definition must be a mapping with id, version, title, questions",
        id="not-a-mapping",
    ),
    pytest.param(
        definition(Q, head="version: 1\ntitle: T\nminutes: 2\n"),
        "demo.yaml: missing 'id'",
        id="missing-id",
    ),
    pytest.param(
        definition(Q, head="id: demo\ntitle: T\nminutes: 2\n"),
        "demo.yaml: missing 'version'",
        id="missing-version",
    ),
    pytest.param(
        definition(Q, head="id: demo\nversion: 0\ntitle: T\nminutes: 2\n"),
        "demo.yaml: version must be a whole number of 1 or more, not 0",
        id="bad-version",
    ),
    pytest.param(
        definition(Q, head="id: demo\nversion: 1\nminutes: 2\n"),
        "demo.yaml: missing title",
        id="missing-title",
    ),
    pytest.param(
        definition(Q, head="id: demo\nversion: 1\ntitle: T\n"),
        "demo.yaml: missing 'minutes'",
        id="missing-minutes",
    ),
    pytest.param(HEAD, "demo.yaml: missing 'questions'", id="missing-questions"),
    pytest.param(
        HEAD + "questions: []\n", "demo.yaml: questions must be a non-empty list", id="no-questions"
    ),
    pytest.param(
        definition(Q, head=HEAD.replace("id: demo", "id: CVS Support")),
        "demo.yaml: id 'CVS Support' must be a slug of lower-case letters, digits and single "
        "hyphens, like 'cvs-support'",
        id="bad-id-slug",
    ),
    pytest.param(
        definition("- {id: used, type: dropdown, choices: yes_no, label: Used}"),
        "demo.yaml: question 'used': unknown type 'dropdown' "
        "(use one of: single, multiple, scale, integer, decimal, text, note)",
        id="unknown-type",
    ),
    pytest.param(
        definition("- {id: used, choices: yes_no, label: Used}"),
        "demo.yaml: question 'used': missing type",
        id="missing-type",
    ),
    pytest.param(
        definition(Q + "- {id: used, type: text, label: Again}"),
        "demo.yaml: question 'used': duplicate question id (question 1 too)",
        id="duplicate-question-id",
    ),
    pytest.param(
        definition("- {type: text, label: Who}"),
        "demo.yaml: question 1: missing id",
        id="missing-question-id",
    ),
    pytest.param(
        definition("- {id: 2nd-question, type: text, label: Who}"),
        "demo.yaml: question 1: id '2nd-question' must start with a letter or _ and use only "
        "letters, digits and _",
        id="bad-question-id",
    ),
    pytest.param(
        definition(Q, choices=CHOICES + '    - {value: "yes", label: "Yes again"}\n'),
        "demo.yaml: choice list 'yes_no': duplicate choice value 'yes'",
        id="duplicate-choice-value",
    ),
    pytest.param(
        definition(Q, choices=CHOICES + "    - {value: not sure, label: Not sure}\n"),
        "demo.yaml: choice list 'yes_no': choice value 'not sure' may use only letters, digits, "
        "_ and -",
        id="choice-value-with-space",
    ),
    pytest.param(
        definition(Q, choices=CHOICES + "    - {value: no, label: Nope}\n"),
        "demo.yaml: choice list 'yes_no': choice 3: value False must be text (YAML reads "
        "unquoted yes/no/on/off as true/false: put them in quotes)",
        id="choice-value-yaml-boolean",
    ),
    pytest.param(
        definition("- {id: used, type: single, choices: yes_n, label: Used}"),
        "demo.yaml: question 'used': unknown choice list 'yes_n' (did you mean 'yes_no'?)",
        id="unknown-choice-list",
    ),
    pytest.param(
        definition(Q + "- {id: kinds, type: multiple, label: Kinds}"),
        "demo.yaml: question 'kinds': a multiple question needs choices",
        id="choice-question-without-choices",
    ),
    pytest.param(
        definition(Q + "- {id: n, type: integer, choices: yes_no, label: How many}"),
        "demo.yaml: question 'n': choices are only for single, multiple and scale questions",
        id="choices-on-non-choice-question",
    ),
    pytest.param(
        definition(Q, choices=CHOICES + "  unused:\n    - {value: a, label: A}\n"),
        "demo.yaml: choice list 'unused': is not used by any question",
        id="unused-choice-list",
    ),
    pytest.param(
        definition("- {id: used, type: single, choices: yes_no, label: {cy: Defnyddio}}"),
        "demo.yaml: question 'used': label has no English ('en') text",
        id="question-without-english",
    ),
    pytest.param(
        definition(Q, choices=CHOICES + "    - {value: maybe, label: {cy: Efallai}}\n"),
        "demo.yaml: choice list 'yes_no': choice 'maybe': label has no English ('en') text",
        id="choice-without-english",
    ),
    pytest.param(
        definition(Q, head=HEAD.replace("title: Demo survey", "title: {cy: Arolwg}")),
        "demo.yaml: title has no English ('en') text",
        id="title-without-english",
    ),
    pytest.param(
        definition("- {id: used, type: single, choices: yes_no, label: {en: ''}}"),
        "demo.yaml: question 'used': label in 'en' is empty",
        id="empty-label",
    ),
    pytest.param(
        WELSH.replace('cy: "A wnaethoch chi ddefnyddio ein cymorth?"', 'fr: "Avez-vous ?"'),
        "demo.yaml: question 'used': label has no 'cy' text, but 'cy' is declared in languages",
        id="declared-language-missing-in-question",
    ),
    pytest.param(
        WELSH.replace('cy: "Na"', 'fr: "Non"'),
        "demo.yaml: choice list 'yes_no': choice 'no': label has no 'cy' text, but 'cy' is "
        "declared in languages",
        id="declared-language-missing-in-choice",
    ),
    pytest.param(
        WELSH.replace(", cy: Dau gwestiwn.", ""),
        "demo.yaml: description has no 'cy' text, but 'cy' is declared in languages",
        id="declared-language-missing-in-description",
    ),
    pytest.param(
        WELSH.replace("languages: [cy, en]", "languages: [cy]"),
        "demo.yaml: languages must include 'en'",
        id="languages-without-english",
    ),
    pytest.param(
        WELSH.replace("languages: [cy, en]", "languages: [cy, en]\ndrafts: [cy, ur]"),
        "demo.yaml: drafts: 'ur' is not one of the survey's languages (en, cy)",
        id="draft-language-not-in-languages",
    ),
    pytest.param(
        WELSH.replace("languages: [cy, en]", "languages: [cy, en]\ndrafts: [cy, cy]"),
        "demo.yaml: drafts: 'cy' is listed twice",
        id="draft-language-twice",
    ),
    pytest.param(
        WELSH.replace("languages: [cy, en]", "languages: [cy, en]\ndrafts: cy"),
        "demo.yaml: drafts must be a list of language codes, like [cy]",
        id="drafts-not-a-list",
    ),
    pytest.param(
        definition(Q + '- {id: why, type: text, label: Why, relevant: "${used} = "}'),
        "demo.yaml: question 'why': relevant is not valid: unexpected end of expression at "
        "position 10 (expected a value) in: ${used} = ",
        id="bad-condition",
    ),
    pytest.param(
        definition(Q + "- {id: why, type: text, label: Why, relevant: \"${usd} = 'yes'\"}"),
        "demo.yaml: question 'why': relevant refers to unknown question 'usd' "
        "(did you mean 'used'?)",
        id="relevant-unknown-question",
    ),
    pytest.param(
        definition(Q + "- {id: n, type: integer, label: How many, constraint: '. < ${limit}'}"),
        "demo.yaml: question 'n': constraint refers to unknown question 'limit'",
        id="constraint-unknown-question",
    ),
    pytest.param(
        definition("- {id: why, type: text, label: Why, relevant: \"${used} = 'no'\"}\n" + Q),
        "demo.yaml: question 'why': relevant refers to question 'used', which comes later",
        id="relevant-later-question",
    ),
    pytest.param(
        definition(
            "- {id: used, type: single, choices: yes_no, label: Used, "
            "relevant: \"${used} = 'yes'\"}"
        ),
        "demo.yaml: question 'used': relevant refers to the question itself",
        id="relevant-itself",
    ),
    pytest.param(
        definition(Q + "- {id: why, type: text, label: Why, relevant: \". = 'x'\"}"),
        "demo.yaml: question 'why': relevant cannot use '.' (it stands for the question's own "
        "answer)",
        id="relevant-uses-current",
    ),
    pytest.param(
        definition(
            "- {id: intro, type: note, label: Hello}\n"
            + Q
            + "- {id: why, type: text, label: Why, relevant: \"${intro} = 'x'\"}"
        ),
        "demo.yaml: question 'why': relevant refers to note 'intro', which has no answer",
        id="relevant-refers-to-note",
    ),
    pytest.param(
        definition(Q + "- {id: why, type: text, label: Why, relevant: \"${used} = 'maybe'\"}"),
        "demo.yaml: question 'why': relevant compares 'used' with 'maybe', which is not one of "
        "its choices (yes, no)",
        id="comparison-with-unknown-choice",
    ),
    pytest.param(
        definition(
            Q + "- {id: why, type: text, label: Why, relevant: \"selected(${used}, 'Yes')\"}"
        ),
        "demo.yaml: question 'why': relevant compares 'used' with 'Yes', which is not one of "
        "its choices (yes, no)",
        id="selected-with-unknown-choice",
    ),
    pytest.param(
        definition(Q + "- {id: intro, type: note, label: Hello, constraint: '. > 1'}"),
        "demo.yaml: question 'intro': a note cannot have a constraint",
        id="constraint-on-note",
    ),
    pytest.param(
        definition(Q + "- {id: intro, type: note, label: Hello, required: true}"),
        "demo.yaml: question 'intro': a note cannot be required",
        id="required-note",
    ),
    pytest.param(
        definition(Q + "- {id: n, type: integer, label: How many, min: 10, max: 5}"),
        "demo.yaml: question 'n': min (10) is greater than max (5)",
        id="min-greater-than-max",
    ),
    pytest.param(
        definition(Q + "- {id: n, type: integer, label: How many, min: 0.5}"),
        "demo.yaml: question 'n': min must be a whole number for an integer question",
        id="fractional-min-on-integer",
    ),
    pytest.param(
        definition(Q + "- {id: t, type: text, label: Why, max: 5}"),
        "demo.yaml: question 't': min and max are only for integer and decimal questions",
        id="max-on-text",
    ),
    pytest.param(
        definition(Q + "- {id: t, type: text, label: Why, requried: false}"),
        "demo.yaml: question 't': unknown key 'requried' (did you mean 'required'?)",
        id="typo-in-question-key",
    ),
    pytest.param(
        definition(Q, head=HEAD + "langauges: [en]\n"),
        "demo.yaml: unknown key 'langauges' (did you mean 'languages'?)",
        id="typo-in-survey-key",
    ),
    pytest.param(
        definition(Q, choices=CHOICES + "    - {value: maybe, lable: Maybe}\n"),
        "demo.yaml: choice list 'yes_no': choice 'maybe': unknown key 'lable' "
        "(did you mean 'label'?)",
        id="typo-in-choice-key",
    ),
    pytest.param(
        definition(Q + "- {id: t, type: text, label: Why, required: 'no'}"),
        "demo.yaml: question 't': required must be true or false, not 'no'",
        id="required-not-boolean",
    ),
    pytest.param(
        definition(Q + "- {id: t, type: text, label: Why, constraint_message: Too long}"),
        "demo.yaml: question 't': constraint_message without a constraint",
        id="constraint-message-without-constraint",
    ),
    pytest.param(
        definition("- {id: intro, type: note, label: Hello}", choices=""),
        "demo.yaml: the survey has no questions to answer, only notes",
        id="only-notes",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD_DEFINITIONS)
def test_a_bad_definition_is_refused_with_a_clear_problem(text: str, problem: str) -> None:
    assert problem in problems_of(text)


def test_every_problem_is_reported_at_once() -> None:
    text = definition(
        """
        - {id: used, type: singel, choices: yes_no, label: Used}
        - {id: used, type: text, label: Again}
        - {id: why, type: text, relevant: "${nope} = 'x'"}
        """,
        head="id: demo\nversion: one\ntitle: Demo\nminutes: 2\n",
    )
    problems = problems_of(text)
    assert problems == [
        "demo.yaml: version must be a whole number of 1 or more, not 'one'",
        "demo.yaml: question 'used': unknown type 'singel' "
        "(use one of: single, multiple, scale, integer, decimal, text, note)",
        "demo.yaml: question 'used': duplicate question id (question 1 too)",
        "demo.yaml: question 'why': missing label",
        "demo.yaml: question 'why': relevant refers to unknown question 'nope'",
    ]
    with pytest.raises(SurveyDefinitionError) as caught:
        load_survey_text(text, source="demo.yaml")
    assert str(caught.value).startswith("5 problems in the survey definition:\n- demo.yaml: ")


def test_survey_from_data_refuses_what_is_not_a_mapping() -> None:
    with pytest.raises(SurveyDefinitionError, match="must be a mapping"):
        survey_from_data(None, source="empty.yaml")


# Exclusive choices ("None of these") ------------------------------------------------------

EXCLUSIVE = """\
choices:
  kinds:
    - {value: funding, label: Funding}
    - {value: training, label: Training}
    - {value: nothing, label: Nothing of the kind, exclusive: true}
"""


def kinds_question(extra: str = "") -> Question:
    """Load a multiple question over the kinds list, with extra keys written as YAML."""
    text = definition(
        f"- {{id: kinds, type: multiple, choices: kinds, label: Which{extra}}}",
        choices=EXCLUSIVE,
    )
    return load_survey_text(text).question("kinds")


def test_an_exclusive_choice_goes_on_its_own() -> None:
    question = kinds_question()
    assert [c.exclusive for c in question.choices] == [False, False, True]
    assert question.validate(["nothing"], {}) == "nothing"
    assert question.validate(["funding", "training"], {}) == "funding training"
    with pytest.raises(AnswerError) as caught:
        question.validate(["funding", "nothing"], {})
    assert caught.value.message_in("en") == (
        "Select 'Nothing of the kind' on its own, or only the ones that apply"
    )


def test_an_exclusive_choice_is_refused_with_the_survey_s_message() -> None:
    question = kinds_question(", constraint_message: Nothing goes alone")
    with pytest.raises(AnswerError) as caught:
        question.validate(["nothing", "training"], {})
    assert caught.value.message_in("en") == "Nothing goes alone"
    # The rule holds for a stored answer checked again too (at completion, say).
    with pytest.raises(AnswerError):
        question.check_constraint("training nothing", {})


def test_exclusive_survives_the_round_trip_through_plain_data() -> None:
    survey = load_survey_text(
        definition("- {id: kinds, type: multiple, choices: kinds, label: W}", choices=EXCLUSIVE)
    )
    again = survey_from_dict(survey.to_dict())
    assert again.question("kinds").choices[2].exclusive
    assert again.fingerprint() == survey.fingerprint()
    # A choice that is not exclusive says nothing, so other definitions keep their fingerprints.
    assert Choice("a", Labels("A")).to_dict() == {"value": "a", "label": {"en": "A"}}


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        pytest.param(
            "- {id: kinds, type: single, choices: kinds, label: W}",
            "demo.yaml: question 'kinds': choice 'nothing' is exclusive, but only a multiple "
            "question's choices can be (a single or scale question takes one answer anyway)",
            id="not-multiple",
        ),
        pytest.param(
            "- {id: kinds, type: multiple, label: W, choices: [{value: a, label: A, "
            "exclusive: 'yes'}]}\n- {id: other, type: multiple, choices: kinds, label: O}",
            "demo.yaml: question 'kinds': choice 'a': exclusive must be true or false, not 'yes'",
            id="not-a-boolean",
        ),
    ],
)
def test_an_exclusive_choice_is_checked_by_the_loader(question: str, problem: str) -> None:
    assert problem in problems_of(definition(question, choices=EXCLUSIVE))


def test_the_library_marks_none_of_these_exclusive() -> None:
    from collector.survey.loader import library_survey

    question = library_survey("cvs-support").question("outcomes_contributed")
    assert [c.value for c in question.choices if c.exclusive] == ["none"]
    assert question.constraint is None  # the rule is the choice's, not a constraint's
