"""Record-based KPIs without a database: periods, pro rata targets, small numbers, definitions."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import pandas as pd
import pytest

from analysis import frames
from analysis.kpis import KpiDefinitionError, Status, framework
from analysis.kpis.definitions import framework_from_data
from analysis.kpis.evaluation import RecordFrames, evaluate_records, period_target
from analysis.model import KpiReport
from analysis.periods import Period, parse_period, previous_period
from tests.analysis.builders import round_ref

VAL = framework("leicestershire-val")
H1 = Period("2025/26 H1", date(2025, 4, 1), date(2025, 9, 30))


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2025/26", date(2025, 4, 1), date(2026, 3, 31)),
        ("2025/26 H1", date(2025, 4, 1), date(2025, 9, 30)),
        ("2025/26 H2", date(2025, 10, 1), date(2026, 3, 31)),
        ("2025/26 Q3", date(2025, 10, 1), date(2025, 12, 31)),
        ("2025/26 Q4", date(2026, 1, 1), date(2026, 3, 31)),
        ("1999/00 H2", date(1999, 10, 1), date(2000, 3, 31)),
    ],
)
def test_financial_year_labels_are_read_as_dates(label: str, start: date, end: date) -> None:
    period = parse_period(label)
    assert period is not None and (period.start, period.end) == (start, end)


@pytest.mark.parametrize("label", ["2025/27 H1", "2025 H1", "2025/26 H3", "Spring 2026", ""])
def test_other_labels_are_not_guessed(label: str) -> None:
    assert parse_period(label) is None


@pytest.mark.parametrize(
    ("label", "before"),
    [
        ("2025/26 H2", "2025/26 H1"),
        ("2025/26 H1", "2024/25 H2"),
        ("2025/26", "2024/25"),
        ("2025/26 Q1", "2024/25 Q4"),
        ("2025/26 Q3", "2025/26 Q2"),
    ],
)
def test_the_previous_period_follows_the_label(label: str, before: str) -> None:
    period = parse_period(label)
    assert period is not None
    assert previous_period(period) == parse_period(before)


def test_a_period_of_other_dates_is_preceded_by_as_many_days() -> None:
    period = Period("Spring", date(2026, 3, 1), date(2026, 5, 31))  # 92 days
    before = previous_period(period)
    assert (before.start, before.end, before.days) == (date(2025, 11, 29), date(2026, 2, 28), 92)


def test_an_annual_target_is_pro_rata_for_part_of_a_year_and_whole_for_a_year() -> None:
    val25 = VAL.kpi("VAL 25")
    half = period_target(val25, H1)
    assert half is not None and half.value == Fraction(1669)  # 3,327 x 183 / 365 = 1,668.06
    quarter = period_target(val25, Period("Q", date(2025, 4, 1), date(2025, 6, 30)))
    assert quarter is not None and quarter.value == Fraction(830)  # x 91 / 365 = 829.5
    year = parse_period("2023/24")  # 366 days: still the annual target, not more
    assert year is not None and period_target(val25, year) is None
    assert period_target(VAL.kpi("VAL 26"), H1) is None


def records(enquiries: list[dict[str, Any]], placements: list[dict[str, Any]]) -> RecordFrames:
    """Build record frames shaped as frames.load_enquiries and load_placements give them."""
    e = pd.DataFrame(
        [
            {
                frames.RECORD_PROVIDER: "harlow-cvs",
                frames.ENQUIRY_DISTRICT: "Harlow",
                frames.OUTCOME: "pending",
                frames.VOLUNTEER: None,
                **row,
            }
            for row in enquiries
        ],
        columns=[
            frames.RECORD_PROVIDER,
            frames.ENQUIRED_ON,
            frames.ENQUIRY_DISTRICT,
            frames.OUTCOME,
            frames.VOLUNTEER,
        ],
    )
    e[frames.VOLUNTEER] = pd.array(e[frames.VOLUNTEER].tolist(), dtype="Int64")
    e[frames.ENQUIRED_ON] = pd.to_datetime(e[frames.ENQUIRED_ON])
    p = pd.DataFrame(
        [
            {frames.RECORD_PROVIDER: "harlow-cvs", frames.PLACEMENT_STATUS: "active", **row}
            for row in placements
        ],
        columns=[
            frames.RECORD_PROVIDER,
            frames.VOLUNTEER,
            frames.STARTS_ON,
            frames.PLACEMENT_STATUS,
        ],
    )
    p[frames.VOLUNTEER] = pd.array(p[frames.VOLUNTEER].tolist(), dtype="Int64")
    p[frames.STARTS_ON] = pd.to_datetime(p[frames.STARTS_ON])
    return RecordFrames(e, p)


ANCHOR = round_ref(1, "2025/26 H1", survey="volunteer-placement")


def test_enough_enquiries_meet_the_pro_rata_target() -> None:
    rows = [{frames.ENQUIRED_ON: date(2025, 4, 1 + n % 30)} for n in range(1669)]
    result = evaluate_records(VAL.kpi("VAL 25"), records(rows, []), ANCHOR, H1)
    assert (result.overall.count, result.status) == (1669, Status.GREEN)
    fewer = evaluate_records(VAL.kpi("VAL 25"), records(rows[1:], []), ANCHOR, H1)
    assert (fewer.overall.count, fewer.status) == (1668, Status.RED)


def test_small_numbers_of_enquiries_are_hidden_or_not_judged() -> None:
    four = [{frames.ENQUIRED_ON: date(2025, 5, 1), frames.OUTCOME: "placed"}] * 4
    for kpi_id in ("VAL 25", "VAL 26"):
        result = evaluate_records(VAL.kpi(kpi_id), records(four, []), ANCHOR, H1)
        cell = result.overall
        assert cell.suppressed and (cell.count, cell.n, cell.numerator) == (None, None, None)
        assert cell.note == "fewer than 5 enquiries: not shown"
    seven = [{frames.ENQUIRED_ON: date(2025, 5, 1), frames.OUTCOME: "placed"}] * 7
    result = evaluate_records(VAL.kpi("VAL 26"), records(seven, []), ANCHOR, H1)
    assert (result.overall.numerator, result.overall.n) == (7, 7)
    assert result.status is Status.NOT_ENOUGH_DATA  # under the framework's 10


def test_a_placement_counts_only_when_it_starts_on_or_after_the_enquiry() -> None:
    may = date(2025, 5, 1)
    enquiries = [
        {frames.ENQUIRED_ON: may, frames.VOLUNTEER: v, frames.OUTCOME: "placed"}
        for v in range(1, 11)
    ]
    placements = [
        {frames.VOLUNTEER: 1, frames.STARTS_ON: may},  # the same day: taken up
        {frames.VOLUNTEER: 2, frames.STARTS_ON: date(2025, 11, 1)},  # after the period: too
        {frames.VOLUNTEER: 3, frames.STARTS_ON: date(2025, 4, 30)},  # before: not this one
        {frames.VOLUNTEER: 4, frames.STARTS_ON: may, frames.PLACEMENT_STATUS: "did_not_start"},
        {frames.VOLUNTEER: 5, frames.STARTS_ON: date(2025, 6, 1), frames.PLACEMENT_STATUS: "ended"},
    ]
    # Volunteers 6-10 have no placement: their outcome "placed" is not enough.
    result = evaluate_records(VAL.kpi("VAL 26"), records(enquiries, placements), ANCHOR, H1)
    assert (result.overall.numerator, result.overall.n) == (3, 10)


def test_another_providers_records_are_not_counted() -> None:
    rows = [{frames.ENQUIRED_ON: date(2025, 5, 1), frames.RECORD_PROVIDER: "other"}] * 8
    result = evaluate_records(VAL.kpi("VAL 25"), records(rows, []), ANCHOR, H1)
    assert result.status is Status.NO_DATA
    assert result.note == "no volunteer enquiries recorded for Harlow Cvs"


def _framework(**kpi: Any) -> dict[str, Any]:
    return {
        "id": "test-framework",
        "title": "Test",
        "kpis": [{"id": "R", "title": "Records", "kind": "records", **kpi}],
    }


@pytest.mark.parametrize(
    ("kpi", "message"),
    [
        (
            {"records": "volunteers", "target": 5},
            "unknown records 'volunteers' (records: enquiries, placements_per_enquiry)",
        ),
        ({"records": "enquiries", "target": "75%"}, "a count's target must be a whole number"),
        (
            {"records": "placements_per_enquiry", "target": 40},
            "a share's target must be between 0 and 1",
        ),
        (
            {"records": "placements_per_enquiry", "target": "40%", "target_period": "year"},
            "only a count can have an annual target",
        ),
        (
            {"records": "enquiries", "target": 100, "target_period": "month"},
            "must be 'period' or 'year'",
        ),
        (
            {"records": "placements_per_enquiry", "target": "40%", "breakdowns": ["org_type"]},
            "can be broken down only by district",
        ),
        ({"records": "enquiries", "target": 100, "survey": "cvs-support"}, "unknown key 'survey'"),
    ],
)
def test_bad_records_kpis_are_refused_with_a_clear_message(
    kpi: dict[str, Any], message: str
) -> None:
    with pytest.raises(KpiDefinitionError) as raised:
        framework_from_data(_framework(**kpi))
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_a_snapshot_from_before_records_kpis_still_reads() -> None:
    from tests.analysis.samples import essex_report

    data = essex_report().to_json()
    for kpi in data["kpis"]:
        kpi["target"].pop("count")
        kpi["target"].pop("basis")
        for key in ("records", "period", "period_target"):
            kpi.pop(key)
        kpi["definition"].pop("target_period")
    data["round"].pop("kind")
    again = KpiReport.from_json(data)
    assert str(again.result("x").target) == "≥ 50"
    assert again.result("x").kpi.is_count and again.round.kind == "survey"
