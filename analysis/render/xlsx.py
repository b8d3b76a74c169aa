"""The report as an Excel workbook (pandas with openpyxl): Summary, one sheet per KPI,
Breakdowns, Response rates, Definitions.

Every sheet has a title row, then one table whose header row is frozen. Percentages are numbers
formatted as 0% (so funders can sort and chart them), counts whole numbers; a hidden cell (fewer
than 5 answers) is empty, with the reason in the Note column.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from analysis.comparisons import RateCell
from analysis.kpis.results import Cell, Change, KpiResult
from analysis.model import KpiReport
from analysis.render.formats import (
    CHANGE_METHOD,
    hidden_text,
    status_word,
    summarise,
)
from analysis.render.html import definition_lines, shown_segments
from analysis.segments import SEGMENT_TITLES
from collector.spreadsheets import FORMULA_STARTS, visible_controls

__all__ = ["PERCENT_COLUMNS", "report_xlsx", "sheet_name"]

TITLE_ROW = 1
HEADER_ROW = 3  # the table starts here (row 2 is blank); rows above it stay frozen
PERCENT_COLUMNS = frozenset(
    {
        "Result",
        "95% CI low",
        "95% CI high",
        "Previous result",
        "Change",
        "Change CI low",
        "Change CI high",
        "Response rate",
        "Raised by the CVS",
    }
)
WIDE_COLUMNS = {
    "Indicator": 48,
    "Note": 60,
    "Explanation": 70,
    "Text": 90,
    "Group": 32,
    "Verdict": 34,
    "Recorded result": 40,
    "Measure": 18,
    "Term": 24,
    "Segment": 22,
}


def sheet_name(kpi_id: str) -> str:
    """Name a KPI's sheet: 'KPI ix' (Excel allows 31 characters, none of []:*?/\\)."""
    return ("KPI " + re.sub(r"[\[\]:*?/\\]", "-", kpi_id))[:31]


def _cell(cell: Cell) -> dict[str, Any]:
    """Give a cell's figures as numbers (empty when hidden) and its note."""
    return {
        "n": cell.n,
        "Meeting the definition": cell.numerator,
        "Result": cell.proportion,
        "95% CI low": cell.low,
        "95% CI high": cell.high,
        "Count": cell.count,
        # An amount in pounds (Essex i, VAL 15), and a recorded indicator's result in words.
        "Amount (£)": cell.amount,
        "Recorded result": cell.text or None,
        "Status": status_word(cell.status),
        "Note": hidden_text(cell) if cell.suppressed else cell.note,
    }


def _overall(result: KpiResult) -> dict[str, Any]:
    """Give a KPI's overall figures, noted with what the result says of them (interim...)."""
    figures = _cell(result.overall)
    if not result.overall.suppressed and result.note and result.note != figures["Note"]:
        figures["Note"] = "; ".join(x for x in (result.note, figures["Note"]) if x)
    return figures


def _change(change: Change | None) -> dict[str, Any]:
    if change is None:
        return {
            "Previous round": None,
            "Previous result": None,
            "Change": None,
            "Change CI low": None,
            "Change CI high": None,
            "Verdict": None,
        }
    return {
        "Previous round": change.previous_round.period,
        "Previous result": change.previous.proportion,
        "Change": change.difference,
        "Change CI low": change.low,
        "Change CI high": change.high,
        "Verdict": change.verdict,
    }


def _summary(report: KpiReport) -> pd.DataFrame:
    rows = []
    for result in report.results:
        kpi = result.kpi
        rows.append(
            {
                "KPI": kpi.id,
                "Indicator": kpi.title,
                "Round": result.round.period if result.round else None,
                **_overall(result),
                "Target": str(result.target),
                **_change(result.change),
                "Explanation": report.narratives.get(kpi.id, "").strip() or None,
            }
        )
        if result.focus is not None:
            rows.append(
                {
                    "KPI": kpi.id,
                    "Indicator": f"Focus: {result.focus.label}",
                    "Round": result.round.period if result.round else None,
                    **_cell(result.focus),
                    "Target": str(result.target),
                }
            )
    return _frame(rows)


def _kpi(result: KpiResult) -> pd.DataFrame:
    kpi = result.kpi
    period = result.round.period if result.round else None
    rows: list[dict[str, Any]] = [
        {
            "Measure": "Overall",
            "Segment": None,
            "Group": result.overall.label,
            "Round": period,
            **_overall(result),
            "Target": str(result.target),
            **_change(result.change),
        }
    ]
    if result.change is not None:
        before = result.change.previous
        rows.append(
            {
                "Measure": "Previous round",
                "Segment": None,
                "Group": before.label,
                "Round": result.change.previous_round.period,
                **_cell(before),
            }
        )
    if result.focus is not None:
        rows.append(
            {
                "Measure": "Focus",
                "Segment": None,
                "Group": result.focus.label,
                "Round": period,
                **_cell(result.focus),
                "Target": str(result.target),
            }
        )
    for benchmark, comparison in result.benchmarks():
        rows.append(
            {
                "Measure": "Benchmark",
                "Segment": None,
                "Group": f"{benchmark.label} ({benchmark.year})",
                "Round": None,
                "Result": float(benchmark.value),
                "Status": None,
                "Note": "; ".join(x for x in (comparison, benchmark.source) if x),
            }
        )
    for outcome in result.outcomes:
        rows.append(
            {
                "Measure": "Aware now",
                "Segment": "Outcome",
                "Group": outcome.label,
                "Round": period,
                **_cell(outcome.aware),
                "Status": status_word(outcome.status),
                **_change(outcome.change),
            }
        )
        rows.append(
            {
                "Measure": "Raised by the CVS",
                "Segment": "Outcome",
                "Group": outcome.label,
                "Round": period,
                **_cell(outcome.raised),
                "Status": None,
            }
        )
    for segment in shown_segments(kpi, result):
        for cell in result.breakdowns[segment]:
            rows.append(
                {
                    "Measure": "Breakdown",
                    "Segment": SEGMENT_TITLES[segment],
                    "Group": cell.label,
                    "Round": period,
                    **_cell(cell),
                }
            )
    frame = _frame(rows)
    # Columns that no row of this KPI fills are left out (a count has no interval...).
    keep = [
        c
        for c in frame.columns
        if c in ("Measure", "Group", "Status", "Note") or frame[c].notna().any()
    ]
    return frame[keep]


def _breakdowns(report: KpiReport) -> pd.DataFrame:
    rows = []
    for result in report.results:
        period = result.round.period if result.round else None
        for segment, cells in result.breakdowns.items():
            for cell in cells:
                rows.append(
                    {
                        "KPI": result.kpi.id,
                        "Segment": SEGMENT_TITLES.get(segment, segment),
                        "Group": cell.label,
                        "Round": period,
                        **_cell(cell),
                    }
                )
    columns = ["KPI", "Segment", "Group", "Round", *_cell(Cell(label="")).keys()]
    return _frame(rows, columns)


def _rate(cell: RateCell) -> dict[str, Any]:
    return {
        "Invited": cell.invited,
        "Responded": cell.responded,
        "Response rate": cell.rate,
        "Note": "; ".join(
            x
            for x in (
                hidden_text(Cell(label="", note=cell.note)) if cell.suppressed else cell.note,
                cell.warning,
            )
            if x
        ),
    }


def _rates(report: KpiReport) -> pd.DataFrame:
    rows = []
    for rates in report.response_rates:
        base = {"Survey": rates.round.survey, "Round": rates.round.period}
        rows.append(
            {**base, "Segment": "All", "Group": rates.overall.label, **_rate(rates.overall)}
        )
        for segment, cells in rates.segments.items():
            for cell in cells:
                rows.append(
                    {
                        **base,
                        "Segment": SEGMENT_TITLES.get(segment, segment),
                        "Group": cell.label,
                        **_rate(cell),
                    }
                )
    columns = [
        "Survey",
        "Round",
        "Segment",
        "Group",
        "Invited",
        "Responded",
        "Response rate",
        "Note",
    ]
    return _frame(rows, columns)


def _definitions(report: KpiReport) -> pd.DataFrame:
    rows = [
        (r.kpi.id, term, text) for r in report.results for term, text, _ in definition_lines(r.kpi)
    ]
    rows += [
        ("All", "How to read the status", report.rag_rule),
        ("All", "Change since the previous round", CHANGE_METHOD),
        (
            "All",
            "Small groups",
            "Groups with fewer than 5 responses are left empty, and where "
            "a breakdown adds up to a total the next smallest group too.",
        ),
    ]
    return _frame(rows, ["KPI", "Term", "Text"])


def _frame(rows: Sequence[Any], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Build a frame of objects: whole numbers stay whole, missing figures stay empty."""
    return pd.DataFrame(
        list(rows), columns=None if columns is None else list(columns), dtype=object
    )


def _text(value: Any) -> Any:
    return visible_controls(value) if isinstance(value, str) else value


def _as_data(sheet: Worksheet) -> None:
    """Make every cell openpyxl took for a formula (text starting with =) plain text.

    tempcheck writes no formulas: such a cell is text someone typed, and a funder opening the
    workbook must see it, not run it. The quote prefix on text that starts like a formula
    keeps a spreadsheet from reading it as one when the cell is edited.
    """
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.quotePrefix = True


def _write(writer: pd.ExcelWriter, name: str, title: str, frame: pd.DataFrame) -> None:
    frame = frame.map(_text)
    frame.columns = [_text(column) for column in frame.columns]
    frame.to_excel(writer, sheet_name=name, startrow=HEADER_ROW - 1, index=False)
    sheet: Worksheet = writer.sheets[name]
    sheet.cell(row=TITLE_ROW, column=1, value=_text(title)).font = Font(bold=True, size=13)
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=1)
    for number, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(number)
        header = sheet.cell(row=HEADER_ROW, column=number)
        header.font = Font(bold=True)
        header.alignment = Alignment(wrap_text=True, vertical="top")
        width = WIDE_COLUMNS.get(str(column), max(10, min(len(str(column)) + 2, 18)))
        sheet.column_dimensions[letter].width = width
        for row in range(HEADER_ROW + 1, HEADER_ROW + 1 + len(frame)):
            cell = sheet.cell(row=row, column=number)
            if column in PERCENT_COLUMNS:
                cell.number_format = "0%"
            elif str(column) in WIDE_COLUMNS and width >= 48:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    if len(frame.columns):
        sheet.auto_filter.ref = (
            f"A{HEADER_ROW}:{get_column_letter(len(frame.columns))}{HEADER_ROW + len(frame)}"
        )
    _as_data(sheet)


def report_xlsx(report: KpiReport) -> bytes:
    """Render the report as an .xlsx workbook."""
    heading = f"{report.provider_name}: {report.framework.title}, {report.round.period}"
    summary = summarise(report)
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        _write(writer, "Summary", f"{heading}. {summary.headline}.", _summary(report))
        for result in report.results:
            _write(
                writer,
                sheet_name(result.kpi.id),
                f"{result.kpi.id}: {result.kpi.title}",
                _kpi(result),
            )
        _write(writer, "Breakdowns", f"{heading}: every KPI by every segment", _breakdowns(report))
        _write(writer, "Response rates", f"{heading}: response rates", _rates(report))
        _write(
            writer,
            "Definitions",
            f"{report.framework.title}: how each number is computed",
            _definitions(report),
        )
        _properties(writer, heading)
    return out.getvalue()


def _properties(writer: pd.ExcelWriter, title: str) -> None:
    book: Any = writer.book
    book.properties.title = _text(title)
    book.properties.creator = "tempcheck"
