"""XLSForm in and out: the form format of KoboToolbox, ODK and SurveyCTO, with pyxform (the
field's own library) as the reference reader.

Importing (`read_xlsform`): pyxform converts the form first, and a form it refuses is refused
with its message. Then the workbook's survey, choices and settings sheets (read by pyxform's own
readers, `.xlsx` and `.xls`, so row numbers are the sheet's) become a survey definition:

- types: `select_one L` (a scale with the `likert` appearance), `select_multiple L`, `integer`,
  `decimal`, `text`, `note`, and `range` (a scale of its steps, at most 21);
- columns: `name`, `label` and `hint` (per language), `required` (`yes`, `true`, `true()`;
  blank is optional, as in XLSForm), `relevant`, `constraint`, `constraint_message`; a group's
  `relevant` is joined to its questions' own; tempcheck's own `min` and `max` for numbers and
  `exclusive` for a choice that goes on its own;
- languages: a plain `label` is the settings' `default_language` (English where unset);
  `label::Welsh (cy)` and `label:cy` columns are languages; tempcheck needs English text;
- settings: `form_title`, `form_id` (the survey's id), `version` (a whole number), tempcheck's
  own `minutes`, `tempcheck_title::Welsh (cy)` (the title in other languages: pyxform's `title`
  takes one) and `description` (estimated and empty where absent, with a note) and `drafts`
  (the codes of machine-drafted languages awaiting review, space-separated, like `cy ur`).

Whatever tempcheck cannot hold is named in the import's notes by sheet and row, never dropped
silently: repeats, calculations, date, geo and media questions, metadata rows (start, end,
deviceid...), choice filters, choices from files, `or_other`, names tempcheck cannot store,
expressions outside its condition language, and any other column with a value. Groups are
flattened, with a note.

Exporting (`write_xlsform`) writes every part of a definition (tempcheck's own columns too), so
that a built-in survey exported and imported again is the same definition; pyxform converts the
export without error.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models
from collector.survey.expr import ExprError, parse, references
from collector.survey.loader import SurveyDefinitionError, library_surveys, survey_from_data
from collector.survey.model import (
    CHOICE_VALUE,
    ENGLISH,
    LANGUAGE_CODE,
    QUESTION_ID,
    SURVEY_ID,
    Survey,
)
from collector.survey.store import definition

# Language names for column headings ("label::Welsh (cy)"), by code; others use the code.
LANGUAGE_NAMES = {
    "en": "English",
    "cy": "Welsh",
    "pl": "Polish",
    "gu": "Gujarati",
    "ur": "Urdu",
    "pa": "Punjabi",
    "bn": "Bengali",
    "ro": "Romanian",
    "ar": "Arabic",
    "so": "Somali",
    "fr": "French",
    "es": "Spanish",
}
# The settings column of the title in other languages (pyxform's own `title` takes only one).
TITLE_COLUMN = "tempcheck_title"
_CODES_BY_NAME = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
METADATA = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start-geopoint",
        "background-audio",
        "uri:subscriberid",
        "uri:deviceid",
    }
)
UNSUPPORTED_TYPES = {
    "calculate": "a calculation",
    "hidden": "a hidden value",
    "date": "a date question",
    "time": "a time question",
    "datetime": "a date and time question",
    "geopoint": "a location question",
    "geotrace": "a location question",
    "geoshape": "a location question",
    "image": "a photo question",
    "audio": "an audio question",
    "video": "a video question",
    "file": "a file question",
    "barcode": "a barcode question",
    "acknowledge": "an acknowledge question",
    "rank": "a ranking question",
    "trigger": "an acknowledge question",
    "xml-external": "an external data source",
    "csv-external": "an external data source",
    "select_one_from_file": "a choice from a file",
    "select_multiple_from_file": "a choice from a file",
}
# Survey sheet columns read here; any other column with a value is named in the notes.
READ_COLUMNS = frozenset(
    {"type", "name", "required", "relevant", "constraint", "appearance", "min", "max", "parameters"}
)
MOST_RANGE_STEPS = 21
_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"", "no", "false", "false()", "0"})
_LANGUAGE_IN_NAME = re.compile(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\)\s*$")


@dataclass
class Imported:
    """An imported form: the survey, and what could not be imported, by sheet and row."""

    survey: Survey
    notes: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, sheets: Mapping[str, Any], filename: str) -> None:
        self.filename = filename
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.survey_rows: list[dict[str, str]] = list(sheets.get("survey") or [])
        self.choice_rows: list[dict[str, str]] = list(sheets.get("choices") or [])
        settings = list(sheets.get("settings") or [])
        self.settings: dict[str, str] = dict(settings[0]) if settings else {}
        self.default = self._default_language()

    # Languages --------------------------------------------------------------------------

    def _default_language(self) -> str:
        named = (self.settings.get("default_language") or "").strip()
        if not named:
            return ENGLISH
        code = self._code(named)
        if code is None:
            self.problems.append(
                f"settings: default_language {named!r} has no language code: write it like "
                "'English (en)'"
            )
            return ENGLISH
        return code

    @staticmethod
    def _code(name: str) -> str | None:
        """Give the code of a language column's name: 'Welsh (cy)', 'cy' or 'Welsh'."""
        name = name.strip()
        found = _LANGUAGE_IN_NAME.search(name)
        if found:
            return found.group(1).lower()
        if LANGUAGE_CODE.fullmatch(name.lower()) and len(name) <= 3:
            return name.lower()
        return _CODES_BY_NAME.get(name.lower())

    def _column_language(self, column: str, base: str) -> str | None:
        """Give the language of a `base` column ('label', 'label::Welsh (cy)', 'label:cy'),
        or None when the column is not one of `base`'s."""
        if column == base:
            return self.default
        for separator in ("::", ":"):
            if column.startswith(base + separator):
                return self._code(column[len(base) + len(separator) :])
        return None

    def texts(
        self, row: Mapping[str, str], base: str, where: str, *, english: bool = True
    ) -> dict[str, str] | None:
        """Give a row's `base` texts by language (None when it has none); with `english`,
        refuse texts without English."""
        texts: dict[str, str] = {}
        for column, value in row.items():
            if not column.startswith(base):
                continue
            language = self._column_language(column, base)
            if language is None:
                if column == base or column.startswith((base + ":", base + "::")):
                    self.notes.append(
                        f"{where}: column {column!r} names no language code (write it like "
                        f"'{base}::Welsh (cy)'): not imported"
                    )
                continue
            if value and value.strip():
                texts[language] = value.strip()
        if not texts:
            return None
        if english and ENGLISH not in texts:
            self.problems.append(
                f"{where}: {base} has no English text (tempcheck needs English, with any "
                "other languages beside it)"
            )
            return None
        return texts

    def handled(self, column: str) -> bool:
        if column in READ_COLUMNS:
            return True
        return any(
            self._column_language(column, base) is not None or column == base
            for base in ("label", "hint", "constraint_message", "constraint message")
        )

    # Choices ----------------------------------------------------------------------------

    def choices(self) -> dict[str, list[dict[str, Any]]]:
        lists: dict[str, list[dict[str, Any]]] = {}
        for n, row in enumerate(self.choice_rows, start=2):
            if not row:
                continue
            where = f"choices row {n}"
            list_name = (row.get("list_name") or row.get("list name") or "").strip()
            value = (row.get("name") or "").strip()
            for column in row:
                known = column in ("list_name", "list name", "name", "exclusive")
                if not known and self._column_language(column, "label") is None and row[column]:
                    self.notes.append(f"{where}: column {column!r} not imported")
            if not CHOICE_VALUE.fullmatch(value):
                self.notes.append(
                    f"{where}: choice {value!r} of list {list_name!r} not imported (a choice's "
                    "name may have only letters, digits, - and _)"
                )
                continue
            label = self.texts(row, "label", where) or {ENGLISH: value}
            choice: dict[str, Any] = {"value": value, "label": label}
            if (row.get("exclusive") or "").strip().lower() in _TRUE:
                choice["exclusive"] = True
            lists.setdefault(list_name, []).append(choice)
        return lists

    # Survey rows ------------------------------------------------------------------------

    def questions(self, lists: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        made: list[dict[str, Any]] = []
        groups: list[str | None] = []  # each open group's relevant
        repeat_from: int | None = None
        repeats = 0
        for n, row in enumerate(self.survey_rows, start=2):
            if not row:
                continue
            where = f"survey row {n}"
            kind = " ".join((row.get("type") or "").split()).lower()
            name = (row.get("name") or "").strip()
            head, _, rest = kind.partition(" ")
            if repeat_from is not None:
                if kind in ("begin repeat", "begin_repeat"):
                    repeats += 1
                elif kind in ("end repeat", "end_repeat"):
                    if repeats == 0:
                        self.notes.append(
                            f"survey rows {repeat_from}-{n}: a repeat not imported (tempcheck "
                            "has no repeats)"
                        )
                        repeat_from = None
                    else:
                        repeats -= 1
                continue
            if kind in ("begin repeat", "begin_repeat"):
                repeat_from = n
                continue
            if kind in ("begin group", "begin_group"):
                self.notes.append(
                    f"{where}: group {name!r} flattened: its questions are asked in order"
                    + (", each with the group's relevant" if row.get("relevant") else "")
                )
                groups.append(self._expression(row.get("relevant"), where, "relevant", made))
                continue
            if kind in ("end group", "end_group"):
                if groups:
                    groups.pop()
                continue
            if kind in METADATA:
                self.notes.append(f"{where}: metadata {kind!r} not imported")
                continue
            if head in UNSUPPORTED_TYPES:
                self.notes.append(f"{where}: {name!r} is {UNSUPPORTED_TYPES[head]}: not imported")
                continue
            if rest.endswith(" or_other"):
                self.notes.append(f"{where}: {name!r} has or_other (a typed 'other'): not imported")
                continue
            if not QUESTION_ID.fullmatch(name):
                self.notes.append(
                    f"{where}: the name {name!r} cannot be stored (letters, digits and _ only, "
                    "not starting with a digit): not imported"
                )
                continue
            question = self._question(row, where, head, rest, lists, made)
            if question is None:
                continue
            conditions = [g for g in groups if g] + (
                [question["relevant"]] if question.get("relevant") else []
            )
            if len(conditions) > 1:
                question["relevant"] = " and ".join(f"({c})" for c in conditions)
            elif conditions:
                question["relevant"] = conditions[0]
            made.append(question)
        if repeat_from is not None:
            self.notes.append(f"survey rows {repeat_from}-: a repeat with no end not imported")
        return made

    def _question(
        self,
        row: Mapping[str, str],
        where: str,
        head: str,
        rest: str,
        lists: dict[str, list[dict[str, Any]]],
        made: list[dict[str, Any]],
    ) -> dict[str, Any] | None:
        name = row["name"].strip()
        appearance = (row.get("appearance") or "").strip().lower()
        question: dict[str, Any] = {"id": name}
        if head in ("select_one", "select_multiple"):
            list_name = rest.strip()
            if list_name not in lists:
                self.notes.append(
                    f"{where}: {name!r} uses the choice list {list_name!r}, which has no "
                    "choices tempcheck could import: not imported"
                )
                return None
            if row.get("choice_filter"):
                self.notes.append(f"{where}: choice_filter of {name!r} not imported")
            likert = "likert" in appearance.split()
            question["type"] = (
                "multiple" if head == "select_multiple" else "scale" if likert else "single"
            )
            question["choices"] = list_name
        elif head == "range":
            steps = self._range(row, where)
            if steps is None:
                return None
            list_name = f"{name}_range"
            lists[list_name] = [{"value": s, "label": {ENGLISH: s}} for s in steps]
            question["type"] = "scale"
            question["choices"] = list_name
        elif head in ("integer", "decimal", "text", "note") and not rest:
            question["type"] = head
        else:
            self.notes.append(f"{where}: the type {row.get('type')!r} is not known: not imported")
            return None
        label = self.texts(row, "label", where)
        if label is None:
            self.notes.append(f"{where}: {name!r} has no label: not imported")
            return None
        question["label"] = label
        hint = self.texts(row, "hint", where)
        if hint:
            question["hint"] = hint
        message = self.texts(row, "constraint_message", where) or self.texts(
            row, "constraint message", where
        )
        if question["type"] != "note":
            required = (row.get("required") or "").strip().lower()
            if required not in _TRUE | _FALSE:
                self.notes.append(
                    f"{where}: required {row.get('required')!r} (a condition) not imported: "
                    f"{name!r} is optional"
                )
            question["required"] = required in _TRUE
            constraint = self._expression(row.get("constraint"), where, "constraint", made)
            if constraint:
                question["constraint"] = constraint
            if message:  # also the message of an exclusive choice chosen with others
                question["constraint_message"] = message
        relevant = self._expression(row.get("relevant"), where, "relevant", made)
        if relevant:
            question["relevant"] = relevant
        for bound in ("min", "max"):
            if row.get(bound) not in (None, ""):
                number = _number(row[bound])
                if number is None or question["type"] not in ("integer", "decimal"):
                    self.notes.append(f"{where}: {bound} {row[bound]!r} not imported")
                else:
                    question[bound] = number
        for column, value in row.items():
            if value and not self.handled(column) and column != "choice_filter":
                self.notes.append(f"{where}: column {column!r} of {name!r} not imported")
        return question

    def _range(self, row: Mapping[str, str], where: str) -> list[str] | None:
        parameters = dict(
            part.split("=", 1) for part in (row.get("parameters") or "").split() if "=" in part
        )
        start, end, step = (
            _number(parameters.get(key, default))
            for key, default in (("start", "1"), ("end", "10"), ("step", "1"))
        )
        if start is None or end is None or not step or step <= 0 or end < start:
            self.notes.append(f"{where}: range parameters {row.get('parameters')!r}: not imported")
            return None
        count = int((end - start) / step) + 1
        if count > MOST_RANGE_STEPS or any(isinstance(v, float) for v in (start, end, step)):
            self.notes.append(
                f"{where}: a range of {count} steps or of fractions (tempcheck asks a range as a "
                f"scale of at most {MOST_RANGE_STEPS} whole numbers): not imported"
            )
            return None
        return [str(int(start + i * step)) for i in range(count)]

    def _expression(
        self, text: str | None, where: str, what: str, made: list[dict[str, Any]]
    ) -> str | None:
        """Give an expression tempcheck can evaluate, or None (with a note) when it cannot."""
        text = " ".join((text or "").split())
        if not text:
            return None
        try:
            node = parse(text)
        except ExprError as error:
            self.notes.append(f"{where}: {what} {text!r} not imported ({error})")
            return None
        known = {q["id"] for q in made}
        unknown = sorted(set(references(node)) - known)
        if unknown:
            self.notes.append(
                f"{where}: {what} {text!r} not imported (it refers to "
                f"{', '.join(unknown)}, not an earlier question tempcheck imported)"
            )
            return None
        return text

    def _complete_languages(
        self,
        questions: list[dict[str, Any]],
        lists: dict[str, list[dict[str, Any]]],
        used: set[str],
        title: dict[str, str],
    ) -> set[str]:
        """Give the languages every question and choice has text in; take out of the texts
        those some lack (with a note: tempcheck shows a survey only in complete languages).
        The title, and a range's numbers, are the English where a language lacks them."""
        texts: list[dict[str, str]] = []
        for q in questions:
            texts += [q[key] for key in ("label", "hint", "constraint_message") if key in q]
        for name in used:
            if not name.endswith("_range"):
                texts += [choice["label"] for choice in lists[name]]
        found = set().union(*texts) if texts else {ENGLISH}
        for language in sorted(found - {ENGLISH}):
            lacking = sum(1 for t in texts if language not in t)
            if lacking:
                self.notes.append(
                    f"language {language!r}: {lacking} question, hint or choice text"
                    f"{'s' if lacking != 1 else ''} missing, so the survey is imported without "
                    f"it (add the missing texts and import it again)"
                )
                for t in texts:
                    t.pop(language, None)
        complete = {ENGLISH} | {lang for lang in found if all(lang in t for t in texts)}
        for name in used:
            if name.endswith("_range"):
                for choice in lists[name]:
                    choice["label"] = {lang: choice["value"] for lang in complete}
        for language in sorted(complete - set(title)):
            title[language] = title[ENGLISH]
            self.notes.append(f"settings: the title has no {language!r} text: the English is used")
        for language in set(title) - complete:
            del title[language]
        return complete

    # The whole --------------------------------------------------------------------------

    def survey(self) -> Survey:
        lists = self.choices()
        questions = self.questions(lists)
        used = {q["choices"] for q in questions if "choices" in q}
        settings = self.settings
        survey_id = (settings.get("form_id") or self.filename.rsplit(".", 1)[0]).strip()
        stored_id = re.sub(r"[^a-z0-9]+", "-", survey_id.lower()).strip("-")
        if not SURVEY_ID.fullmatch(stored_id):
            self.problems.append(f"settings: form_id {survey_id!r} cannot be a survey id")
        elif stored_id != survey_id:
            self.notes.append(f"settings: form_id {survey_id!r} stored as {stored_id!r}")
        version_text = (settings.get("version") or "1").strip()
        version = int(version_text) if version_text.isdigit() and len(version_text) < 10 else 1
        if str(version) != version_text:
            self.notes.append(
                f"settings: version {version_text!r} is not a whole number tempcheck keeps: "
                "stored as version 1 (set the version when you import a new one)"
            )
        answerable = sum(1 for q in questions if q["type"] != "note")
        minutes_text = (settings.get("minutes") or "").strip()
        minutes = _number(minutes_text) if minutes_text else None
        if not isinstance(minutes, int) or minutes < 1:
            minutes = max(1, math.ceil(answerable / 5))
            self.notes.append(
                f"settings: minutes (tempcheck's own column) not given: about {minutes} "
                f"minute{'s' if minutes != 1 else ''} assumed for {answerable} questions"
            )
        title = {
            **(self.texts(settings, TITLE_COLUMN, "settings", english=False) or {}),
            ENGLISH: (settings.get("form_title") or stored_id).strip(),
        }
        description = self.texts(settings, "description", "settings")
        languages = self._complete_languages(questions, lists, used, title)
        if not questions and not self.problems:
            self.problems.append("survey: no question tempcheck can ask was found")
        if self.problems:
            raise SurveyDefinitionError([f"{self.filename}: {p}" for p in self.problems])
        data: dict[str, Any] = {
            "id": stored_id,
            "version": version,
            "title": title,
            "minutes": minutes,
            "languages": [ENGLISH, *sorted(languages - {ENGLISH})],
            "choices": {name: choices for name, choices in lists.items() if name in used},
            "questions": questions,
        }
        if description:
            data["description"] = description
        drafts = self.drafts(languages)
        if drafts:
            data["drafts"] = drafts
        return survey_from_data(data, source=self.filename)

    def drafts(self, languages: set[str]) -> list[str]:
        """Give the settings' `drafts` (machine-drafted languages), those the survey has."""
        codes = list(dict.fromkeys(re.split(r"[\s,]+", self.settings.get("drafts") or "")))
        kept = [code for code in codes if code in languages]
        for code in codes:
            if code and code not in kept:
                self.notes.append(
                    f"settings: drafts {code!r} is not one of the survey's languages: left out"
                )
        return kept


def _number(text: str | None) -> int | float | None:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in str(text) else value


def _check_with_pyxform(content: bytes, file_type: str, filename: str) -> None:
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    try:
        convert(xlsform=content, warnings=[], file_type=file_type)
    except PyXFormError as error:
        raise SurveyDefinitionError([f"{filename}: pyxform refused the form: {error}"]) from None
    except Exception as error:  # noqa: BLE001 - a workbook pyxform cannot even read
        raise SurveyDefinitionError(
            [f"{filename}: not a readable XLSForm workbook ({type(error).__name__})"]
        ) from None


def read_xlsform(content: bytes, filename: str = "form.xlsx") -> Imported:
    """Import an XLSForm (`.xlsx` or `.xls` bytes) as a survey, with notes on what was left
    out; raise SurveyDefinitionError with every problem when it cannot be imported."""
    from pyxform.xls2json_backends import xls_to_dict, xlsx_to_dict

    if content.startswith(b"PK"):
        file_type, reader = ".xlsx", xlsx_to_dict
    elif content.startswith(b"\xd0\xcf\x11\xe0"):
        file_type, reader = ".xls", xls_to_dict
    else:
        raise SurveyDefinitionError(
            [f"{filename}: not an Excel workbook (.xlsx or .xls): an XLSForm is one"]
        )
    _check_with_pyxform(content, file_type, filename)
    sheets = reader(io.BytesIO(content))
    read = _Reader(sheets, filename)
    survey = read.survey()
    return Imported(survey=survey, notes=read.notes)


def import_survey(content: bytes, filename: str, *, version: int | None = None) -> Imported:
    """Import an XLSForm as `read_xlsform` does, as another version where asked, refusing a
    built-in survey's id and version with a different definition (it would replace it)."""
    imported = read_xlsform(content, filename)
    survey = imported.survey
    if version is not None and version != survey.version:
        survey = survey_from_data({**survey.to_dict(), "version": version}, source=filename)
    builtin = library_surveys().get(survey.id)
    if builtin is not None and builtin.version == survey.version and builtin != survey:
        raise SurveyDefinitionError(
            [
                f"{filename}: {survey.id} version {survey.version} is a built-in survey: give "
                f"the form another form_id, or import it as a new version (version "
                f"{survey.version + 1} or later)"
            ]
        )
    return Imported(survey=survey, notes=imported.notes)


def find_survey(session: Session, survey_id: str) -> Survey | None:
    """Give a built-in survey by id, or a stored one by `slug` (its newest version) or
    `slug:version`; None when there is none."""
    slug, _, version = survey_id.partition(":")
    if not version and slug in library_surveys():
        return library_surveys()[slug]
    query = select(models.Survey).where(models.Survey.slug == slug)
    if version:
        if not version.isdigit():
            return None
        query = query.where(models.Survey.version == int(version))
    row = session.scalars(query.order_by(models.Survey.version.desc()).limit(1)).first()
    return definition(row) if row is not None else None


# Export ---------------------------------------------------------------------------------


def _heading(base: str, language: str) -> str:
    return f"{base}::{LANGUAGE_NAMES.get(language, language)} ({language})"


def write_xlsform(survey: Survey) -> bytes:
    """Write a survey as an XLSForm workbook (survey, choices and settings sheets)."""
    data = survey.to_dict()
    languages = list(survey.languages)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    texts = ("label", "hint", "constraint_message")
    headings = ["type", "name", "required", "relevant", "constraint", "appearance", "min", "max"]
    headings += [_heading(base, language) for base in texts for language in languages]
    sheet.append(headings)
    for q in data["questions"]:
        kind = q["type"]
        list_name = q.get("choices")
        if isinstance(list_name, list):  # choices of its own: a list named after it
            data.setdefault("choices", {})[q["id"]] = list_name
            list_name = q["id"]
        xls_type = {
            "single": f"select_one {list_name}",
            "scale": f"select_one {list_name}",
            "multiple": f"select_multiple {list_name}",
        }.get(kind, kind)
        row: dict[str, Any] = {
            "type": xls_type,
            "name": q["id"],
            "required": "yes" if q.get("required") else None,
            "relevant": q.get("relevant"),
            "constraint": q.get("constraint"),
            "appearance": "likert" if kind == "scale" else None,
            "min": q.get("min"),
            "max": q.get("max"),
        }
        for base in texts:
            for language, text in (q.get(base) or {}).items():
                row[_heading(base, language)] = text
        sheet.append([_cell(row.get(h)) for h in headings])
    choices = book.create_sheet("choices")
    choice_headings = ["list_name", "name", "exclusive"]
    choice_headings += [_heading("label", language) for language in languages]
    choices.append(choice_headings)
    for list_name, items in (data.get("choices") or {}).items():
        for item in items:
            row = {
                "list_name": list_name,
                "name": item["value"],
                "exclusive": "yes" if item.get("exclusive") else None,
            }
            for language, text in item["label"].items():
                row[_heading("label", language)] = text
            choices.append([_cell(row.get(h)) for h in choice_headings])
    settings = book.create_sheet("settings")
    setting = {
        "form_id": survey.id,
        "version": str(survey.version),
        "default_language": f"{LANGUAGE_NAMES[ENGLISH]} ({ENGLISH})",
        "minutes": survey.minutes,
    }
    # pyxform takes one form_title (English here), and refuses a `title::Welsh (cy)` column;
    # the others are tempcheck's own columns.
    for language, text in survey.title.to_dict().items():
        setting["form_title" if language == ENGLISH else _heading(TITLE_COLUMN, language)] = text
    for language, text in (survey.description.to_dict() if survey.description else {}).items():
        setting["description" if language == ENGLISH else _heading("description", language)] = text
    if survey.drafts:
        setting["drafts"] = " ".join(survey.drafts)
    settings.append(list(setting))
    settings.append([_cell(v) for v in setting.values()])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Give a value as an XLSForm cell: expressions and labels stay text, never formulas."""
    if isinstance(value, str) and value.startswith("="):
        return " " + value  # openpyxl would write it as a formula; pyxform strips spaces
    return value
