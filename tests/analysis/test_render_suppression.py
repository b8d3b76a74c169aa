"""Hidden cells (fewer than 5 answers, and the groups hidden with them) stay hidden in the page,
the workbook, the PDF and the message: no count, percentage, interval or n, only the reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from analysis.kpis.definitions import KpiKind
from analysis.model import KpiReport
from analysis.render.html import report_html
from analysis.render.message import report_message
from analysis.render.pdf import report_pdf
from analysis.render.xlsx import report_xlsx
from analysis.segments import SEGMENT_TITLES
from analysis.suppression import SUPPRESS_BELOW
from tests.analysis.rendered import Page, digits, pdf_text, read_html, read_xlsx
from tests.analysis.samples import essex_report, leicestershire_report
from tests.analysis.test_render import build, data_sets, true_counts

FIGURES = ("n", "Meeting the definition", "Result", "95% CI low", "95% CI high", "Count",
           "Invited", "Responded", "Response rate", "Previous result", "Change")


def hidden_labels(report: KpiReport) -> set[str]:
    """Give the labels of every hidden breakdown group and response-rate group.

    An outcome area's name is also the name of an awareness KPI's outcome (shown with its own
    figures), so outcome areas are left to the table checks.
    """
    labels = {c.label for r in report.results for s, cells in r.breakdowns.items()
              for c in cells if c.suppressed and s != "outcomes"}
    labels |= {c.label for rates in report.response_rates for s, cells in rates.segments.items()
               for c in cells if c.suppressed and s != "outcomes"}
    return labels


def check_page(page: Page, report: KpiReport) -> None:
    """Every row that says 'Not shown', and every hidden KPI's facts, hold no figure."""
    for table in page.tables:
        for row in table.rows[1:]:
            if any("Not shown" in cell or cell == "not shown" for cell in row[1:4]):
                assert digits(" ".join(row[1:4])) == [], (table.caption, row)
            if any("not shown" in cell for cell in row) and table.caption.startswith(
                    "Response rate"):
                assert digits(" ".join(row[1:4])) == [], (table.caption, row)
    for result in report.results:
        if result.overall.suppressed:
            anchor = "kpi-" + "".join(ch if ch.isalnum() else "-" for ch in result.kpi.id.lower())
            facts = page.facts(anchor)
            for term in ("Result", "Responses (n)", "95% confidence interval"):
                assert digits(facts.get(term, "")) == [], (result.kpi.id, facts)
            glance = page.table("The KPIs at a glance").row(result.kpi.id)
            assert digits(" ".join(glance[2:5])) == [], glance
    # A chart by district describes each group as "<label> <figure>": a group hidden in that
    # KPI's breakdown has no figure there. (Only that KPI's hidden groups: a district hidden in
    # the response rates, or in another KPI, may be shown here with its own n of 5 or more.)
    for result in report.results:
        prefix = f"Bar chart of {result.kpi.id} by district: "
        hidden = {c.label for c in result.breakdowns.get("district", ()) if c.suppressed}
        for alt in page.alts:
            if not alt.startswith(prefix):
                continue
            for part in alt.removeprefix(prefix).removesuffix(".").split("; "):
                label = next((h for h in hidden if part.startswith(h + " ")), None)
                if label is not None:
                    assert digits(part.removeprefix(label)) == [], alt


def check_sheets(sheets: dict[str, list[dict[str, Any]]]) -> None:
    """Every hidden row of the workbook has its figures empty and says why."""
    for name, rows in sheets.items():
        for row in rows:
            if row.get("Status") == "Not shown" or "not shown" in str(row.get("Note") or ""):
                for figure in FIGURES:
                    if figure in ("Previous result", "Change"):
                        continue  # the overall row may compare with a shown previous round
                    assert row.get(figure) is None, (name, row)
                assert row.get("Note"), (name, row)


def check_text(text: str, report: KpiReport) -> None:
    """In flowing text, the words after a hidden group's name are never figures."""
    for label in hidden_labels(report):
        for part in text.split(label)[1:]:
            assert digits(" ".join(part.split()[:4])) == [], (label, part[:80])


@pytest.mark.parametrize("build_report", [essex_report, leicestershire_report])
def test_hidden_cells_show_no_figure_in_any_format(build_report: Any) -> None:
    report: KpiReport = build_report()
    assert hidden_labels(report)  # the sample has hidden groups to check
    html = report_html(report)
    check_page(read_html(html), report)
    check_page(read_html(report_html(report, standalone=False)), report)
    check_sheets(read_xlsx(report_xlsx(report)))
    text = pdf_text(report_pdf(report))
    check_text(text, report)
    assert "fewer than 5 answers: not shown" in text
    message = report_message(report, "https://reports.example/r/1")
    for result in report.results:
        if result.overall.suppressed:
            kpi = result.kpi.id
            lines = [
                x
                for x in message.splitlines()
                if x.startswith((f"- {kpi} ", f"- {kpi}:"))
                or (x.startswith("- No data this time:") and kpi in x.split(": ", 1)[1].split(", "))
            ]
            (line,) = lines
            if line.startswith("- No data this time:"):
                continue  # named in the list of those with nothing to show: no figure
            assert digits(line.replace(kpi, "")) == [], line
            assert "fewer than 5 answers" in line


def test_a_hidden_kpi_is_said_to_be_hidden() -> None:
    report = leicestershire_report()
    assert report.result("VAL 19").overall.suppressed
    page = read_html(report_html(report))
    assert page.facts("kpi-val-19")["Result"] == "fewer than 5 answers: not shown"
    sheets = read_xlsx(report_xlsx(report))
    row = next(r for r in sheets["Summary"] if r["KPI"] == "VAL 19")
    assert (row["n"], row["Result"], row["Status"]) == (None, None, "Not shown")
    assert row["Note"] == "fewer than 5 answers: not shown"


def test_a_group_hidden_to_protect_a_smaller_one_says_so() -> None:
    report = essex_report()
    table = read_html(report_html(report)).table("ix by district")
    old_harlow = table.row("Old Harlow")  # 8 groups, hidden with Potter Street's 3
    assert old_harlow[1:4] == ["not shown", "–", "–"]
    assert "so that a smaller group cannot be worked out" in old_harlow[5]
    assert table.row("Potter Street")[5] == "fewer than 5 answers: not shown"


# No shrinking: each example draws every chart, and shrinking a failure took minutes.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data_sets())
def test_random_data_never_shows_a_group_of_fewer_than_5(rows: list[dict[str, Any]]) -> None:
    for report in build(rows):
        truth = true_counts(rows, report.round.id)
        page = read_html(report_html(report, standalone=False))
        sheets = read_xlsx(report_xlsx(report))
        check_page(page, report)
        check_sheets(sheets)
        ix = report.result("ix")
        small = {
            (SEGMENT_TITLES[segment], cell.label)
            for segment, cells in ix.breakdowns.items() for cell in cells
            if truth[segment][cell.key] < SUPPRESS_BELOW
        }
        for row in sheets["Breakdowns"]:
            if row["KPI"] == "ix" and (row["Segment"], row["Group"]) in small:
                assert row["Status"] == "Not shown" and row["n"] is None, row
            if row["n"] is not None and row["KPI"] != "ii":
                assert row["n"] >= SUPPRESS_BELOW, row
        district = [t for t in page.tables if t.caption.startswith("ix by district")]
        for table in district:
            for row in table.rows[1:]:
                if ("District", row[0]) in small:
                    assert row[1:4] == ["not shown", "–", "–"], row
        message = report_message(report, "https://reports.example/r/1")
        counted = Counter(r["round"] for r in rows if "ease_of_access" in r)
        if counted[report.round.id] < SUPPRESS_BELOW:
            (line,) = [x for x in message.splitlines() if x.startswith(("- ix ", "- ix:"))]
            assert "fewer than 5 answers" in line and digits(line) == [], line
        for result in report.results:
            if result.kpi.kind is KpiKind.PROPORTION and result.overall.n is not None:
                assert result.overall.n >= SUPPRESS_BELOW
