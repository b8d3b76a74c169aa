"""One source: every figure in the page, the workbook, the PDF and the message is the KpiReport's.

The expected text of each figure is written by tests.analysis.rendered (independently of the
renderers' own formatting); the workbook is read back with openpyxl and the PDF's text with
pypdf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from analysis.kpis.definitions import KpiKind
from analysis.kpis.results import Cell, KpiResult
from analysis.kpis.targets import Status
from analysis.model import KpiReport
from analysis.render.html import report_html
from analysis.render.message import LIMIT, report_message
from analysis.render.pdf import report_pdf
from analysis.render.xlsx import report_xlsx, sheet_name
from analysis.segments import SEGMENT_TITLES
from tests.analysis.rendered import (
    Page,
    interval,
    pct,
    pdf_text,
    read_html,
    read_xlsx,
)
from tests.analysis.samples import NARRATIVES, essex_report, leicestershire_report

LINK = "https://reports.example/funder/harlow-cvs/reports/7"
WORDS = {Status.GREEN: "Green", Status.AMBER: "Amber", Status.RED: "Red"}


@dataclass
class Rendered:
    """One report in every format."""

    report: KpiReport
    page: Page
    fragment: Page
    sheets: dict[str, list[dict[str, Any]]]
    pdf: str
    message: str


def render(report: KpiReport) -> Rendered:
    return Rendered(
        report=report,
        page=read_html(report_html(report)),
        fragment=read_html(report_html(report, standalone=False)),
        sheets=read_xlsx(report_xlsx(report)),
        pdf=pdf_text(report_pdf(report)),
        message=report_message(report, LINK),
    )


@pytest.fixture(scope="module")
def essex() -> Rendered:
    return render(essex_report())


@pytest.fixture(scope="module")
def val() -> Rendered:
    return render(leicestershire_report())


def shown(cell: Cell) -> bool:
    return not cell.suppressed and cell.proportion is not None


def proportion_results(report: KpiReport) -> list[KpiResult]:
    return [r for r in report.results
            if r.kpi.kind is KpiKind.PROPORTION and shown(r.overall)]


def test_the_sample_report_has_the_cases_the_tests_need() -> None:
    report = essex_report()
    ix = report.result("ix")
    assert (ix.overall.numerator, ix.overall.n, ix.status) == (22, 25, Status.GREEN)
    assert report.result("x").overall.count == 37
    districts = {c.label: c for c in ix.breakdowns["district"]}
    assert districts["Harlow"].n == 14
    assert districts["Old Harlow"].suppressed and districts["Potter Street"].suppressed
    assert leicestershire_report().result("VAL 19").overall.suppressed


@pytest.mark.parametrize("which", ["page", "fragment"])
def test_each_kpis_figures_in_the_html_are_the_reports(essex: Rendered, val: Rendered,
                                                        which: str) -> None:
    for rendered in (essex, val):
        page: Page = getattr(rendered, which)
        glance = page.table("The KPIs at a glance")
        for result in rendered.report.results:
            kpi, cell = result.kpi, result.overall
            row = glance.row(kpi.id)
            assert row[glance.column("Target")] == str(kpi.target)
            anchor = "kpi-" + "".join(ch if ch.isalnum() else "-" for ch in kpi.id.lower())
            facts = page.facts(anchor)
            assert facts["Target"] == str(kpi.target)
            if result.status.judged:
                assert facts["Status"] == WORDS[result.status]
                assert WORDS[result.status] in row[glance.column("Status")]
            if kpi.kind is KpiKind.PROPORTION and shown(cell):
                assert cell.low is not None and cell.high is not None
                assert facts["Result"] == pct(cell.proportion or 0)
                assert facts["Responses (n)"] == str(cell.n)
                assert facts["Meeting the definition"] == str(cell.numerator)
                assert facts["95% confidence interval"] == interval(cell.low, cell.high)
                assert row[glance.column("Result")] == pct(cell.proportion or 0)
                assert row[glance.column("n")] == str(cell.n)
                assert row[glance.column("95% interval")] == interval(cell.low, cell.high)
            if kpi.kind is KpiKind.COUNT:
                assert facts["Organisations"] == str(cell.count)
                assert row[glance.column("Result")] == str(cell.count)


def test_the_targets_read_as_their_values(essex: Rendered) -> None:
    # The target text carries the target's value: 75% for ix, 50 organisations for x.
    facts = essex.page.facts("kpi-ix")
    assert facts["Target"] == "≥ 75%" and float(essex.report.result("ix").kpi.target.value) == 0.75
    assert essex.page.facts("kpi-x")["Target"] == "≥ 50"
    assert essex.page.facts("kpi-ii")["Target"] == "≥ 80%"


def test_changes_breakdowns_outcomes_and_rates_in_the_html_are_the_reports(
    essex: Rendered,
) -> None:
    report = essex.report
    ix = report.result("ix")
    assert ix.change is not None and ix.change.previous.proportion is not None
    assert essex.page.facts("kpi-ix")["Change since the previous round"] == (
        f"{ix.change.verdict} ({ix.change.previous_round.period}: "
        f"{pct(ix.change.previous.proportion)})"
    )
    table = essex.page.table("ix by district")
    for cell in ix.breakdowns["district"]:
        row = table.row(cell.label)
        if shown(cell):
            assert cell.low is not None and cell.high is not None
            assert row[1:4] == [pct(cell.proportion or 0), str(cell.n),
                                interval(cell.low, cell.high)]
    outcomes = essex.page.table("b: awareness of each outcome")
    for outcome in report.result("b").outcomes:
        row = outcomes.row(outcome.label)
        aware = outcome.aware
        assert aware.low is not None and aware.high is not None
        assert row[1:4] == [pct(aware.proportion or 0), str(aware.n),
                            interval(aware.low, aware.high)]
        assert WORDS[outcome.status] in row[6]
    for rates in report.response_rates:
        table = essex.page.table(f"Response rate: {rates.round.survey}, {rates.round.period}")
        overall = table.row(rates.overall.label)
        assert overall[1:4] == [str(rates.overall.invited), str(rates.overall.responded),
                                pct(rates.overall.rate or 0)]
        for cells in rates.segments.values():
            for rate in cells:
                if not rate.suppressed:
                    row = next(r for r in table.rows if r[0] == rate.label)
                    assert row[1:4] == [str(rate.invited), str(rate.responded),
                                        pct(rate.rate or 0)]


def test_the_narratives_and_definitions_are_on_the_page(essex: Rendered) -> None:
    for kpi_id, text in NARRATIVES.items():
        assert text in essex.page.text and text in essex.pdf
        anchor = "kpi-" + kpi_id
        assert anchor in {t.section for t in essex.page.tables} | set(essex.page.terms)
    assert "No explanation has been written for this KPI." in essex.page.text
    ix = essex.report.result("ix").kpi
    assert ix.numerator_text in essex.page.text
    assert "Wilson" in essex.page.text and "Newcombe" in essex.page.text
    assert essex.report.rag_rule in essex.page.text


def test_the_workbook_holds_the_reports_numbers_as_numbers(essex: Rendered) -> None:
    report, sheets = essex.report, essex.sheets
    summary = {row["KPI"]: row for row in sheets["Summary"]}
    for result in report.results:
        cell, row = result.overall, summary[result.kpi.id]
        assert row["Target"] == str(result.kpi.target)
        assert row["Status"] in (WORDS.get(result.status), "Not enough data", "Not shown",
                                 "No data", "Not reported")
        if shown(cell):
            # Stored exactly, not rounded text: the same float as the report's.
            assert (row["n"], row["Result"], row["95% CI low"], row["95% CI high"]) == (
                cell.n, cell.proportion, cell.low, cell.high)
        if cell.count is not None:
            assert row["Count"] == cell.count
    assert summary["ix"]["Explanation"] == NARRATIVES["ix"]
    ix = report.result("ix")
    assert ix.change is not None
    assert summary["ix"]["Change"] == ix.change.difference
    assert summary["ix"]["Change CI low"] == ix.change.low
    kpi_sheet = sheets[sheet_name("ix")]
    assert kpi_sheet[0]["Measure"] == "Overall" and kpi_sheet[0]["Result"] == ix.overall.proportion
    previous = kpi_sheet[1]
    assert (previous["Round"], previous["n"], previous["Result"]) == (
        ix.change.previous_round.period, ix.change.previous.n, ix.change.previous.proportion)
    breakdowns = sheets["Breakdowns"]
    for result in report.results:
        for segment, cells in result.breakdowns.items():
            for cell in cells:
                row = next(r for r in breakdowns if (r["KPI"], r["Segment"], r["Group"]) ==
                           (result.kpi.id, SEGMENT_TITLES[segment], cell.label))
                assert (row["n"], row["Result"], row["95% CI low"], row["95% CI high"]) == (
                    cell.n, cell.proportion, cell.low, cell.high)
    rates = sheets["Response rates"]
    for round_rates in report.response_rates:
        row = next(r for r in rates if r["Round"] == round_rates.round.period
                   and r["Segment"] == "All")
        assert (row["Invited"], row["Responded"], row["Response rate"]) == (
            round_rates.overall.invited, round_rates.overall.responded, round_rates.overall.rate)


def test_the_workbook_is_formatted_for_people(essex: Rendered) -> None:
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(essex.report)))
    assert book.sheetnames == ["Summary", *(sheet_name(k.id) for k in essex.report.framework.kpis),
                               "Breakdowns", "Response rates", "Definitions"]
    assert "KPI ix" in book.sheetnames and "KPI I.i" in book.sheetnames
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A4", sheet.title
        assert sheet["A3"].font.b, sheet.title  # the header row
        assert sheet.column_dimensions["A"].width >= 10
    summary = book["Summary"]
    header = [c.value for c in summary[3]]
    row = next(r for r in range(4, summary.max_row + 1) if summary.cell(row=r, column=1).value
               == "ix")
    result = summary.cell(row=row, column=header.index("Result") + 1)
    assert isinstance(result.value, float) and result.number_format == "0%"
    n = summary.cell(row=row, column=header.index("n") + 1)
    assert isinstance(n.value, int)
    assert summary["A1"].value.startswith(essex.report.provider_name)


def test_the_pdf_text_holds_the_reports_figures(essex: Rendered, val: Rendered) -> None:
    for rendered in (essex, val):
        text = rendered.pdf
        for result in proportion_results(rendered.report):
            cell = result.overall
            assert cell.low is not None and cell.high is not None
            assert f"Result {pct(cell.proportion or 0)}" in text
            assert f"Responses (n) {cell.n}" in text
            assert f"95% confidence interval {interval(cell.low, cell.high)}" in text
            assert f"{pct(cell.proportion or 0)} {cell.n} {interval(cell.low, cell.high)} " \
                   f"{result.kpi.target}" in text  # the glance table's row
        for result in rendered.report.results:
            assert f"Target {result.kpi.target}" in text
    ix = essex.report.result("ix")
    harlow = next(c for c in ix.breakdowns["district"] if c.label == "Harlow")
    assert harlow.low is not None and harlow.high is not None
    assert f"Harlow {pct(harlow.proportion or 0)} {harlow.n} " \
           f"{interval(harlow.low, harlow.high)}" in essex.pdf
    assert f"Organisations {essex.report.result('x').overall.count}" in essex.pdf


def test_the_message_holds_each_kpis_figures_and_the_link(essex: Rendered, val: Rendered
                                                           ) -> None:
    for rendered in (essex, val):
        message = rendered.message
        assert len(message) <= LIMIT
        assert message.rstrip().endswith(LINK)
        lines = message.splitlines()
        empty = [x for x in lines if x.startswith("- No data this time: ")]
        verdicts = [x for x in lines if x.startswith("- Evidence and milestones: ")]
        for result in rendered.report.results:
            starts = (f"- {result.kpi.id} ", f"- {result.kpi.id}:")
            mine = [x for x in lines if x.startswith(starts)]
            if not mine and result.overall.text and result.kpi.kind in (
                KpiKind.EVIDENCE, KpiKind.MILESTONE
            ):
                # Evidence indicators and milestones: one line per status (issue 17).
                (line,) = verdicts
                assert f"{WORDS.get(result.status, 'Not reported')} " in line
                listed = [x.strip() for part in line.split(": ", 1)[1].split("; ")
                          for x in part.split(" ", 1 if part.startswith(("Green", "Amber", "Red"))
                                              else 2)[-1].split(", ")]
                assert result.kpi.id in listed
                continue
            if not mine:
                # Many KPIs: those with no data share one line (issue 15).
                (line,) = empty
                assert result.kpi.id in line.split(": ", 1)[1].split(", ")
                assert result.overall.proportion is None and result.overall.count is None
                continue
            (line,) = mine
            cell = result.overall
            if result.kpi.kind is KpiKind.PROPORTION and shown(cell):
                assert cell.low is not None and cell.high is not None
                assert (f"{pct(cell.proportion or 0)} (n={cell.n}, 95% CI "
                        f"{interval(cell.low, cell.high)}), target {result.kpi.target}") in line
            if result.status.judged:
                assert line.endswith(WORDS[result.status])
            if cell.count is not None:
                assert f": {cell.count}, target {result.kpi.target}" in line
    # ix, b green, x red, and the 21 KPIs staff record have nothing recorded in this case.
    assert essex.message.splitlines()[1] == "2 of 24 targets met (21 not reported)."
