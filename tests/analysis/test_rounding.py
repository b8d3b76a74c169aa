"""One rounding rule for every figure: halves up, in the pages, the PDF, the workbook, the
charts, the terminal table and the words about a change."""

from __future__ import annotations

import pytest

from analysis.build import SurveyFrame, evaluate_report
from analysis.kpis import framework
from analysis.model import KpiReport
from analysis.render.formats import interval_text, percent
from analysis.render.html import report_html
from analysis.render.text import to_table
from analysis.stats import Interval, change_verdict, points, whole_percent
from tests.analysis.builders import invitation_counts, response_frame
from tests.analysis.samples import H1, H2, SURVEY, _row, sample_counts


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.625, 63), (0.125, 13), (0.875, 88), (0.005, 1), (0.0049, 0), (0.0, 0), (1.0, 100)],
)
def test_a_half_rounds_up_everywhere(value: float, shown: int) -> None:
    assert whole_percent(value) == shown
    assert percent(value) == f"{shown}%"
    assert interval_text(value, value) == f"{shown}–{shown}%"


def test_a_change_of_62_and_a_half_points_is_63_points() -> None:
    # 88% against 25% (0.875 - 0.25): Python's round() gave 62, the percentages say 63.
    assert points(0.875 - 0.25) == "63 points"
    assert points(-0.125) == "13 points"
    assert change_verdict(Interval(0.625, 0.3, 0.85)) == "up 63 points, more than chance"


def halves_report() -> KpiReport:
    """Give an essex-2017 report whose ix is 28 of 32 (87.5%) against 8 of 32 (25%)."""
    rows = [_row(1, org, org < 8, "Harlow", "community_group") for org in range(32)]
    rows += [_row(2, 100 + org, org < 28, "Harlow", "community_group") for org in range(32)]
    surveys = {"cvs-support": SurveyFrame(response_frame(rows, SURVEY), SURVEY)}
    return evaluate_report(
        framework("essex-2017"), H2, [H1, H2], surveys, invitation_counts(sample_counts(rows))
    )


def test_the_terminal_table_and_the_page_give_the_same_whole_percentages() -> None:
    report = halves_report()
    ix = report.result("ix")
    assert ix.overall.proportion == 0.875 and ix.change is not None
    assert ix.change.difference == 0.625  # exactly: 87.5% against 25%
    table = to_table([report])
    page = report_html(report)
    for text in (table, page):
        assert "88%" in text and "25%" in text
        assert "up 63 points, more than chance" in text and "62 points" not in text
