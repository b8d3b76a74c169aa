"""XLSForm import and export, with pyxform as the reference: round trips, real forms' rows that
tempcheck cannot hold named by sheet and row, bad workbooks refused with every problem."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from pyxform.xls2xform import convert
from sqlalchemy import select

from collector import models
from collector.survey.loader import SurveyDefinitionError, library_surveys
from collector.survey.model import QuestionType
from collector.survey.xlsform import LANGUAGE_NAMES, import_survey, read_xlsform, write_xlsform
from tests.factories import every_type_survey


def workbook(survey: list[list[Any]], choices: list[list[Any]], settings: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    for name, rows in (("choices", choices), ("settings", settings)):
        other = book.create_sheet(name)
        for row in rows:
            other.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "survey", [*library_surveys().values(), every_type_survey()], ids=lambda s: s.id
)
def test_every_built_in_survey_round_trips_and_pyxform_converts_the_export(survey: Any) -> None:
    exported = write_xlsform(survey)
    warnings: list[str] = []
    result = convert(xlsform=exported, warnings=warnings, file_type=".xlsx")
    assert "<h:html" in result.xform
    imported = read_xlsform(exported, f"{survey.id}.xlsx")
    assert imported.notes == []
    assert imported.survey == survey
    assert imported.survey.fingerprint() == survey.fingerprint()
    assert imported.survey.drafts == survey.drafts
    for language in survey.languages[1:]:  # pyxform carries each language as a translation
        assert f'lang="{LANGUAGE_NAMES[language]} ({language})"' in result.xform


def test_drafts_naming_a_language_the_form_lacks_are_left_out_with_a_note() -> None:
    survey = library_surveys()["sector-voice"]
    book = load_workbook(io.BytesIO(write_xlsform(survey)))
    settings = book["settings"]
    column = [cell.value for cell in settings[1]].index("drafts") + 1
    settings.cell(row=2, column=column, value="cy pl")
    out = io.BytesIO()
    book.save(out)
    imported = read_xlsform(out.getvalue(), "sector-voice.xlsx")
    assert imported.survey.drafts == ("cy",)
    assert imported.notes == [
        "settings: drafts 'pl' is not one of the survey's languages: left out"
    ]


# A form as a KoboToolbox user makes it: metadata, groups, a repeat, calculations, geo, a
# choice filter, or_other, a name tempcheck cannot store, an expression it cannot evaluate.
KOBO_SURVEY = [
    [
        "type",
        "name",
        "label",
        "label::Welsh (cy)",
        "required",
        "relevant",
        "constraint",
        "constraint_message",
        "appearance",
        "choice_filter",
        "calculation",
        "default",
        "parameters",
    ],
    ["start", "start", None, None, None, None, None, None, None, None, None, None, None],  # 2
    ["deviceid", "deviceid", None, None, None, None, None, None, None, None, None, None, None],
    [
        "begin_group",
        "about",
        "About you",
        None,
        None,
        "${consent} = 'yes'",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 4: relevant refers to a later question: dropped
    [
        "select_one yn",
        "used",
        "Did you use us?",
        "Wnaethoch chi?",
        "yes",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 5
    [
        "integer",
        "staff",
        "How many staff?",
        None,
        "true()",
        "${used} = 'yes'",
        ". < 1000",
        "Under 1,000",
        None,
        None,
        None,
        None,
        None,
    ],  # 6
    ["end_group", None, None, None, None, None, None, None, None, None, None, None, None],
    [
        "calculate",
        "double",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "${staff} * 2",
        None,
        None,
    ],  # 8
    [
        "begin_repeat",
        "children",
        "Children",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 9
    ["text", "child_name", "Name", None, None, None, None, None, None, None, None, None, None],
    ["end_repeat", None, None, None, None, None, None, None, None, None, None, None, None],  # 11
    [
        "geopoint",
        "where",
        "Where are you?",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 12
    [
        "select_one yn or_other",
        "other_q",
        "Other?",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 13
    [
        "text",
        "bad.name",
        "A name with a dot",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 14
    [
        "select_multiple help",
        "helped",
        "What helped?",
        None,
        "yes",
        None,
        None,
        None,
        None,
        "filter = 'x'",
        None,
        None,
        None,
    ],  # 15
    [
        "date",
        "founded",
        "When founded?",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 16
    [
        "text",
        "comments",
        "Anything else?",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "Nothing",
        None,
    ],  # 17: a default
    [
        "note",
        "thanks",
        "Thank you",
        None,
        None,
        "today() > 0",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],  # 18: an expression outside the condition language
    [
        "range",
        "score",
        "Score us",
        None,
        "yes",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "start=1 end=5",
    ],  # 19
    [
        "select_one yn",
        "consent",
        "Happy for us to share this?",
        None,
        "yes",
        None,
        None,
        None,
        "likert",
        None,
        None,
        None,
        None,
    ],  # 20
]
KOBO_CHOICES = [
    ["list_name", "name", "label", "filter"],
    ["yn", "yes", "Yes", None],
    ["yn", "no", "No", None],
    ["yn", "not sure", "A name with a space", None],  # row 4
    ["help", "funding", "Funding", "x"],  # row 5
]
KOBO_SETTINGS = [["form_title", "form_id", "version"], ["Kobo form", "kobo_form", "vABC123"]]


def test_a_real_form_imports_what_tempcheck_holds_and_names_every_row_it_does_not() -> None:
    imported = read_xlsform(workbook(KOBO_SURVEY, KOBO_CHOICES, KOBO_SETTINGS), "kobo.xlsx")
    survey = imported.survey
    assert (survey.id, survey.version, survey.title.get()) == ("kobo-form", 1, "Kobo form")
    assert [q.id for q in survey.questions] == [
        "used",
        "staff",
        "helped",
        "comments",
        "thanks",
        "score",
        "consent",
    ]
    used, staff = survey.question("used"), survey.question("staff")
    assert used.type is QuestionType.SINGLE and used.required
    # Welsh is on one question only: a survey is shown in complete languages, so not imported.
    assert survey.languages == ("en",) and "cy" not in used.label.languages
    assert staff.required and staff.relevant == "${used} = 'yes'"
    assert staff.constraint == ". < 1000" and staff.constraint_message is not None
    assert survey.question("comments").required is False  # blank required: optional
    assert survey.question("thanks").relevant is None
    score = survey.question("score")
    assert score.type is QuestionType.SCALE and [c.value for c in score.choices] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert survey.question("consent").type is QuestionType.SCALE  # the likert appearance
    assert [c.value for c in survey.question("helped").choices] == ["funding"]
    notes = "\n".join(imported.notes)
    for expected in (
        "survey row 2: metadata 'start' not imported",
        "survey row 3: metadata 'deviceid' not imported",
        "survey row 4: group 'about' flattened",
        "survey row 4: relevant \"${consent} = 'yes'\" not imported",
        "survey row 8: 'double' is a calculation: not imported",
        "survey rows 9-11: a repeat not imported",
        "survey row 12: 'where' is a location question: not imported",
        "survey row 13: 'other_q' has or_other",
        "survey row 14: the name 'bad.name' cannot be stored",
        "survey row 15: choice_filter of 'helped' not imported",
        "survey row 16: 'founded' is a date question: not imported",
        "survey row 17: column 'default' of 'comments' not imported",
        "survey row 18: relevant 'today() > 0' not imported",
        "choices row 4: choice 'not sure' of list 'yn' not imported",
        "choices row 5: column 'filter' not imported",
        "settings: form_id 'kobo_form' stored as 'kobo-form'",
        "settings: version 'vABC123' is not a whole number",
        "settings: minutes (tempcheck's own column) not given: about 2 minutes assumed",
        "language 'cy': 10 question, hint or choice texts missing, so the survey is imported "
        "without it",
    ):
        assert expected in notes, f"missing note: {expected}\n{notes}"


def test_bad_workbooks_are_refused_with_every_problem() -> None:
    with pytest.raises(SurveyDefinitionError, match="not an Excel workbook"):
        read_xlsform(b"type,name,label\ntext,a,A\n", "form.csv")
    with pytest.raises(SurveyDefinitionError, match="pyxform refused the form"):
        read_xlsform(
            workbook(
                [["type", "name", "label"], ["select_one nolist", "x", "X"]],
                [["list_name", "name", "label"], ["yn", "yes", "Yes"]],
                [["form_title"], ["T"]],
            ),
            "form.xlsx",
        )
    with pytest.raises(SurveyDefinitionError) as refused:
        read_xlsform(
            workbook(
                [
                    ["type", "name", "label::Welsh (cy)"],
                    ["text", "a", "Enw"],
                    ["integer", "b", "Faint"],
                ],
                [["list_name", "name", "label::Welsh (cy)"]],
                [["form_title", "default_language"], ["T", "Welsh (cy)"]],
            ),
            "welsh.xlsx",
        )
    assert len(refused.value.problems) == 2  # both questions named
    assert all("has no English text" in p for p in refused.value.problems)
    with pytest.raises(SurveyDefinitionError, match="broken.xlsx: pyxform refused the form"):
        read_xlsform(b"PK\x03\x04 not really a zip", "broken.xlsx")


def test_importing_over_a_built_in_survey_is_refused_unless_a_new_version() -> None:
    survey = library_surveys()["cvs-support"]
    changed = write_xlsform(survey).replace(b"", b"")
    data = survey.to_dict()
    data["questions"][1]["label"] = {"en": "Changed wording", "cy": "Geiriad", "ur": "نئے الفاظ"}
    from collector.survey.loader import survey_from_data

    edited = write_xlsform(survey_from_data(data))
    with pytest.raises(SurveyDefinitionError, match="is a built-in survey"):
        import_survey(edited, "cvs.xlsx")
    newer = survey.version + 1
    assert import_survey(edited, "cvs.xlsx", version=newer).survey.version == newer
    assert import_survey(changed, "cvs.xlsx").survey == survey  # the same: no harm


def test_the_commands_import_and_export(run, session_factory, tmp_path: Path) -> None:  # noqa: ANN001
    form = tmp_path / "kobo.xlsx"
    form.write_bytes(workbook(KOBO_SURVEY, KOBO_CHOICES, KOBO_SETTINGS))
    checked = run("surveys", "import", str(form), "--dry-run")
    assert checked.exit_code == 0, checked.output
    assert "survey rows 9-11: a repeat not imported" in checked.output
    assert "nothing stored (--dry-run)" in checked.output
    done = run("surveys", "import", str(form))
    assert done.exit_code == 0, done.output
    assert "Imported kobo-form v1, 6 questions, languages en" in done.output
    with session_factory() as session:
        row = session.scalars(select(models.Survey).where(models.Survey.slug == "kobo-form")).one()
        assert row.version == 1
        actions = session.scalars(select(models.AuditEvent.action)).all()
        assert "survey.import" in actions

    out = tmp_path / "out.xlsx"
    exported = run("surveys", "export", "kobo-form", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    again = read_xlsform(out.read_bytes(), "out.xlsx")
    assert again.survey.id == "kobo-form" and again.notes == []
    built_in = run("surveys", "export", "cvs-support", "--out", str(tmp_path / "cvs.xlsx"))
    assert built_in.exit_code == 0, built_in.output

    refused = run("surveys", "export", "cvs-support", "--out", str(out))
    assert refused.exit_code == 1 and "already exists" in refused.output
    missing = run("surveys", "export", "nope", "--out", str(tmp_path / "n.xlsx"))
    assert missing.exit_code == 1 and "No survey 'nope'" in missing.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"hello")
    failed = run("surveys", "import", str(bad))
    assert failed.exit_code == 1 and "not an Excel workbook" in failed.output
