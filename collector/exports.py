"""A round's raw responses out: one row per response, one column per question, as CSV, XLSX or
Parquet, for staff who work in spreadsheets.

The columns, in order: the response's number, its status, the channel it was answered in, its
language, when it started and was completed (UK time); who answered (the organisation's
reference and name for a round of groups, the contact's reference and organisation for a round
of contacts, the volunteer's reference for a volunteers' round; empty for an answer through the
open link, and left out altogether when the round invited no one); the segments copied onto the
response when it started (type, income, district, outcomes, membership, audience); then one
column per question in the survey's order. A multiple-choice question is one column per choice,
1 where it was selected and 0 where it was not (empty where the question was not answered);
a single choice or scale holds the choice's label or its code, as asked; numbers are numbers;
free text only when asked for (staff exports have it, anything a funder could see never does).
Notes are not questions and have no column.

Rows are read from the database in batches and written as they come, so memory stays flat
however many responses a round has (responses and answers are two ordered queries merged, not
one wide join). Text written to CSV or XLSX is data, never a formula
(:mod:`collector.spreadsheets`); Parquet holds the text as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import models
from collector.localtime import uk
from collector.segments import AUDIENCES, INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES
from collector.spreadsheets import csv_cell
from collector.survey.model import QuestionType, Survey
from collector.survey.store import definition
from collector.xlsx import SheetWriter

FORMATS = ("csv", "xlsx", "parquet")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
BATCH = 2_000  # responses read (and their answers) per round trip
PROGRESS_EVERY = 1_000  # rows between progress calls


@dataclass(frozen=True)
class Options:
    """What an export holds: choice labels or codes, in-progress responses, free text."""

    labels: bool = True
    in_progress: bool = False
    free_text: bool = True


@dataclass(frozen=True)
class Column:
    """One column: its heading, and the kind of value it holds (text, int, float, time)."""

    heading: str
    kind: str = "text"


class _Who:
    """Who answered: which columns a round's export has for its respondents."""

    def __init__(self, session: Session, round_: models.Round) -> None:
        invited = select(func.count(models.Invitation.id)).where(
            models.Invitation.round_id == round_.id
        )
        kinds = {
            "organisation": models.Invitation.organisation_id,
            "contact": models.Invitation.contact_id,
            "volunteer": models.Invitation.volunteer_id,
        }
        self.kinds = [
            kind
            for kind, column in kinds.items()
            if session.scalar(invited.where(column.is_not(None)))
        ]

    def columns(self, labels: bool) -> list[Column]:
        headings = {
            "organisation": [
                ("Organisation reference", "organisation_ref"),
                ("Organisation", "organisation"),
            ],
            "contact": [
                ("Contact reference", "contact_ref"),
                ("Contact's organisation", "contact_organisation"),
            ],
            "volunteer": [("Volunteer reference", "volunteer_ref")],
        }
        return [
            Column(label if labels else code)
            for kind in self.kinds
            for label, code in headings[kind]
        ]


_SEGMENTS = (
    # heading as label, as code, the response's attribute, the vocabulary of its values
    ("Type of group", "org_type", "org_type", ORGANISATION_TYPES),
    ("Income", "income_band", "income_band", INCOME_BANDS),
    ("District", "district", "district", None),
    ("Outcomes", "outcomes", "outcomes", OUTCOMES),
    ("Member", "is_member", "is_member", None),
    ("Audience", "audience", "audience", AUDIENCES),
)
_RESPONSE_COLUMNS = (
    ("Response", "response", "int"),
    ("Status", "status", "text"),
    ("Channel", "channel", "text"),
    ("Language", "language", "text"),
    ("Started (UK time)", "started_at", "time"),
    ("Completed (UK time)", "completed_at", "time"),
)


class Export:
    """A round's export: its columns, and its rows read in batches."""

    def __init__(self, session: Session, round_: models.Round, options: Options) -> None:
        self.session = session
        # Core rows, not ORM ones: the export reads millions of plain values.
        self.connection = session.connection()
        self.round = round_
        self.options = options
        self.survey: Survey = definition(round_.survey)
        self.who = _Who(session, round_)
        self.statuses = ["completed", "in_progress"] if options.in_progress else ["completed"]
        self.questions = [
            q
            for q in self.survey.questions
            if q.type is not QuestionType.NOTE
            and (options.free_text or q.type is not QuestionType.TEXT)
        ]

    @property
    def columns(self) -> list[Column]:
        """Give the columns, in order."""
        labels = self.options.labels
        made = [Column(label if labels else code, kind) for label, code, kind in _RESPONSE_COLUMNS]
        made += self.who.columns(labels)
        made += [Column(label if labels else code) for label, code, _, _ in _SEGMENTS]
        for question in self.questions:
            heading = question.label.get() if labels else question.id
            if question.type is QuestionType.MULTIPLE:
                made += [
                    Column(
                        f"{heading}: {choice.label.get()}"
                        if labels
                        else f"{question.id}/{choice.value}",
                        "int",
                    )
                    for choice in question.choices
                ]
            elif question.type is QuestionType.INTEGER:
                made.append(Column(heading, "int"))
            elif question.type is QuestionType.DECIMAL:
                made.append(Column(heading, "float"))
            else:
                made.append(Column(heading))
        return made

    def count(self) -> int:
        """Give how many rows the export has."""
        return int(
            self.session.scalar(
                select(func.count(models.Response.id)).where(
                    models.Response.round_id == self.round.id,
                    models.Response.status.in_(self.statuses),
                )
            )
            or 0
        )

    def rows(self) -> Iterator[list[Any]]:
        """Give the rows, one per response in the order they started, read in batches."""
        response, invitation = models.Response, models.Invitation
        after = 0
        while True:
            batch = self.connection.execute(
                select(
                    response.id,
                    response.status,
                    response.channel,
                    response.language,
                    response.started_at,
                    response.completed_at,
                    models.Organisation.external_ref,
                    models.Organisation.name,
                    models.Contact.external_ref,
                    models.Contact.organisation,
                    models.Volunteer.external_ref,
                    *(getattr(response, attribute) for _, _, attribute, _ in _SEGMENTS),
                )
                .outerjoin(invitation, invitation.id == response.invitation_id)
                .outerjoin(
                    models.Organisation, models.Organisation.id == invitation.organisation_id
                )
                .outerjoin(models.Contact, models.Contact.id == invitation.contact_id)
                .outerjoin(models.Volunteer, models.Volunteer.id == invitation.volunteer_id)
                .where(
                    response.round_id == self.round.id,
                    response.status.in_(self.statuses),
                    response.id > after,
                )
                .order_by(response.id)
                .limit(BATCH)
            ).all()
            if not batch:
                return
            answers = self._answers(batch[0][0], batch[-1][0])
            for row in batch:
                yield self._row(row, answers.get(row[0], {}))
            after = batch[-1][0]

    def _answers(self, first: int, last: int) -> dict[int, dict[str, str]]:
        """Give the answers of the responses numbered first to last, by response."""
        found: dict[int, dict[str, str]] = {}
        rows = self.connection.execute(
            select(models.Answer.response_id, models.Answer.question_id, models.Answer.value)
            .join(models.Response)
            .where(
                models.Response.round_id == self.round.id,
                models.Answer.response_id.between(first, last),
            )
        )
        for response_id, question_id, value in rows:
            found.setdefault(response_id, {})[question_id] = value
        return found

    def _row(self, row: Any, answers: dict[str, str]) -> list[Any]:
        labels = self.options.labels
        made: list[Any] = list(row[:6])
        who = {
            "organisation": [row[6], row[7]],
            "contact": [row[8], row[9]],
            "volunteer": [row[10]],
        }
        for kind in self.who.kinds:
            made += who[kind]
        for (_, _, attribute, vocabulary), value in zip(_SEGMENTS, row[11:], strict=True):
            made.append(_segment(attribute, value, vocabulary, labels))
        for question in self.questions:
            stored = answers.get(question.id)
            if question.type is QuestionType.MULTIPLE:
                chosen = set(stored.split()) if stored is not None else None
                made += [
                    None if chosen is None else int(choice.value in chosen)
                    for choice in question.choices
                ]
            elif stored is None:
                made.append(None)
            elif question.type in (QuestionType.SINGLE, QuestionType.SCALE):
                made.append(_choice(question, stored) if labels else stored)
            elif question.type in (QuestionType.INTEGER, QuestionType.DECIMAL):
                made.append(question.decode(stored))
            else:
                made.append(stored)
        return made


def _choice(question: Any, stored: str) -> str:
    try:
        return str(question.choice(stored).label.get())
    except Exception:  # noqa: BLE001 - a value from an older version of the survey: keep its code
        return stored


def _segment(attribute: str, value: Any, vocabulary: dict[str, str] | None, labels: bool) -> Any:
    if value is None:
        return None
    if attribute == "is_member":
        return ("Yes" if value else "No") if labels else int(bool(value))
    if attribute == "outcomes":
        keys = str(value).split()
        return "; ".join(OUTCOMES.get(k, k) for k in keys) if labels else " ".join(keys)
    if labels and vocabulary is not None:
        return vocabulary.get(value, value)
    return value


# Writers ------------------------------------------------------------------------------------

Progress = Callable[[int], None]


def write(export: Export, format_: str, out: IO[bytes], progress: Progress | None = None) -> int:
    """Write an export in a format (csv, xlsx, parquet) to a binary file; give the rows written.

    `progress` is called with the number of rows written since its last call, every
    PROGRESS_EVERY rows and at the end.
    """
    writers = {"csv": _write_csv, "xlsx": _write_xlsx, "parquet": _write_parquet}
    if format_ not in writers:
        raise ValueError(f"unknown format {format_!r} (formats: {', '.join(FORMATS)})")
    return writers[format_](export, out, progress or (lambda _: None))


def _counted(rows: Iterator[list[Any]], progress: Progress) -> Iterator[list[Any]]:
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == PROGRESS_EVERY:
            progress(pending)
            pending = 0
    progress(pending)


def _uk_text(moment: datetime) -> str:
    return f"{uk(_aware(moment)):%Y-%m-%d %H:%M:%S}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _write_csv(export: Export, out: IO[bytes], progress: Progress) -> int:
    # UTF-8 with a byte order mark, so that Excel shows "£" and accents as they are.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    writer = csv.writer(text)
    columns = export.columns
    writer.writerow([csv_cell(c.heading) for c in columns])
    count = 0
    for row in _counted(export.rows(), progress):
        writer.writerow([_uk_text(v) if isinstance(v, datetime) else csv_cell(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def _write_xlsx(export: Export, out: IO[bytes], progress: Progress) -> int:
    columns = export.columns
    times = [i for i, c in enumerate(columns) if c.kind == "time"]
    count = 0
    with SheetWriter(out, "Responses", times=times) as sheet:
        sheet.heading([c.heading for c in columns])
        for row in _counted(export.rows(), progress):
            for i in times:
                if row[i] is not None:
                    row[i] = uk(_aware(row[i])).replace(tzinfo=None)
            sheet.row(row)
            count += 1
    return count


def _write_parquet(export: Export, out: IO[bytes], progress: Progress) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = export.columns
    types = {
        "text": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "time": pa.timestamp("us", tz="UTC"),
    }
    # Headings are unique as column names: a repeated label gets its position added.
    names: list[str] = []
    for i, column in enumerate(columns):
        names.append(column.heading if column.heading not in names else f"{column.heading} ({i})")
    schema = pa.schema([pa.field(n, types[c.kind]) for n, c in zip(names, columns, strict=True)])
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: list[list[Any]] = []
        for row in _counted(export.rows(), progress):
            batch.append(row)
            count += 1
            if len(batch) == BATCH * 5:
                writer.write_table(_table(pa, schema, batch))
                batch = []
        if batch or not count:
            writer.write_table(_table(pa, schema, batch))
    return count


def _table(pa: Any, schema: Any, rows: list[list[Any]]) -> Any:
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for field, column in zip(schema, by_column, strict=True):
        values: list[Any] = list(column)
        if pa.types.is_timestamp(field.type):
            values = [None if v is None else _aware(v) for v in values]
        elif pa.types.is_string(field.type):
            values = [None if v is None else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def file_name(round_: models.Round, format_: str) -> str:
    """Give an export's file name: the round's slug, "responses" and the format."""
    return f"{round_.slug}-responses.{format_}"
