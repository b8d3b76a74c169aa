"""The indicators staff record (issue 17) against hand counts: activity counts and amounts with
pro rata targets, evidence with staff's status, milestones by their dates, and ii over all.

The period is 2025/26 H2: 1 October 2025 to 31 March 2026, 182 days. An annual target of 20
is 20 x 182 / 365 = 9.97, rounded up: 10 for the half year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest

from analysis import frames as f
from analysis.kpis.definitions import framework
from analysis.kpis.evaluation import evaluate_targets_met
from analysis.kpis.recorded import (
    MilestoneRecord,
    RecordedFrames,
    evaluate_activity,
    evaluate_evidence,
    evaluate_milestone,
    milestone_verdict,
)
from analysis.kpis.results import Cell, Evidence, KpiResult, RoundRef
from analysis.kpis.targets import Status
from analysis.model import KpiReport
from analysis.periods import parse_period

ESSEX = framework("essex-2017")
VAL = framework("leicestershire-val")
H2 = parse_period("2025/26 H2")
assert H2 is not None and H2.days == 182
ROUND = RoundRef(
    id=7,
    provider="brentwood-cvs",
    provider_name="Brentwood CVS",
    survey="cvs-support",
    survey_version=1,
    period="2025/26 H2",
    status="closed",
    opens_at=datetime(2026, 4, 1, tzinfo=UTC),
    closes_at=datetime(2026, 5, 1, tzinfo=UTC),
)


def activity(kind: str, on: str, org: int | None = None, **more: Any) -> dict[str, Any]:
    """Give one activity row as frames.load_activities gives it."""
    return {
        f.RECORD_PROVIDER: more.pop("provider", "brentwood-cvs"),
        f.ACTIVITY_KIND: kind,
        f.OCCURRED_ON: pd.Timestamp(on),
        f.ACTIVITY_ORGANISATION: org,
        f.APPLIED: more.pop("applied", None),
        f.OBTAINED: more.pop("obtained", None),
        f.BENEFICIARIES: more.pop("beneficiaries", None),
        f.ORG_TYPE: more.pop("org_type", None),
        f.INCOME_BAND: more.pop("income_band", None),
        f.DISTRICT: more.pop("district", None),
        f.OUTCOMES: more.pop("outcomes", None),
        f.IS_MEMBER: more.pop("is_member", None),
    }


def recorded(rows: list[dict[str, Any]], **more: Any) -> RecordedFrames:
    frame = pd.DataFrame(rows, columns=list(f.ACTIVITY_COLUMNS))
    frame[f.OCCURRED_ON] = pd.to_datetime(frame[f.OCCURRED_ON])
    for column in (f.ACTIVITY_ORGANISATION, f.APPLIED, f.OBTAINED, f.BENEFICIARIES):
        frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
    return RecordedFrames(frame, **more)


@pytest.mark.parametrize(("events", "status"), [(10, Status.GREEN), (9, Status.RED)])
def test_events_are_judged_against_the_annual_target_pro_rata(events: int, status: Status) -> None:
    rows = [activity("event", f"2025-{10 + n % 3}-{1 + n:02d}") for n in range(events)]
    # Outside the period, another kind, another provider: none of these count.
    rows += [
        activity("event", "2025-09-30"),
        activity("event", "2026-04-01"),
        activity("health_check", "2025-11-01", 1),
        activity("event", "2025-11-01", provider="harlow-cvs"),
    ]
    result = evaluate_activity(ESSEX.kpi("a"), recorded(rows), ROUND, H2)
    assert result.overall.count == events and result.status is status
    assert result.period_target is not None and result.period_target.value == 10
    assert str(result.target) == "≥ 10 (20 a year, pro rata)"


def test_guidance_counts_different_organisations_and_breaks_down_by_their_type() -> None:
    rows = [
        activity("guidance", "2025-10-02", 1, org_type="registered_charity"),
        activity("guidance", "2025-12-02", 1, org_type="registered_charity"),  # again: once
        activity("guidance", "2026-01-05", 2, org_type="faith_group"),
        activity("guidance", "2026-02-05", 3, org_type="registered_charity"),
        activity("guidance", "2026-03-05", None),  # nobody named: no organisation to count
    ]
    result = evaluate_activity(ESSEX.kpi("g"), recorded(rows), ROUND, H2)
    assert result.overall.count == 3
    # 40 a year: 40 x 182 / 365 = 19.95, so 20 for the half year; 3 is short.
    assert result.period_target is not None and result.period_target.value == 20
    assert result.status is Status.RED
    by_type = {c.key: c.count for c in result.breakdowns["org_type"]}
    assert by_type == {"registered_charity": 2, "faith_group": 1, None: 0}


def test_funding_obtained_is_summed_in_pounds_and_judged_pro_rata() -> None:
    rows = [
        activity("funding_application", "2025-10-10", 1, applied=200_000, obtained=123_450),
        activity("funding_application", "2025-11-10", 2, applied=50_000, obtained=50_000),
        activity("funding_application", "2025-12-10", 3, applied=90_000, obtained=0),
    ]
    essex_i = evaluate_activity(ESSEX.kpi("i"), recorded(rows), ROUND, H2)
    # £1,234.50 + £500 + £0 = £1,734.50: shown to the pound, kept exactly.
    assert essex_i.overall.amount == 1734.5 and essex_i.overall.text == "£1,735"
    assert essex_i.status is Status.NO_TARGET  # "N/A – outcome report only"
    val_15 = evaluate_activity(VAL.kpi("VAL 15"), recorded(rows), ROUND, H2)
    # £200,000 a year x 182 / 365 = £99,726.03: £99,727 for the half year.
    assert val_15.period_target is not None and val_15.period_target.value == 99_727
    assert str(val_15.target) == "≥ £99,727 (£200,000 a year, pro rata)"
    assert val_15.status is Status.RED
    applications = evaluate_activity(ESSEX.kpi("h"), recorded(rows), ROUND, H2)
    assert applications.overall.count == 3


def test_beneficiaries_are_summed_over_every_kind() -> None:
    rows = [
        activity("event", "2025-10-10", beneficiaries=120),
        activity("guidance", "2025-11-10", 1, beneficiaries=35),
        activity("health_check", "2025-12-10", 2),
    ]
    result = evaluate_activity(ESSEX.kpi("xi"), recorded(rows), ROUND, H2)
    assert result.overall.count == 155 and result.status is Status.NO_TARGET


def test_nothing_recorded_is_not_reported() -> None:
    result = evaluate_activity(ESSEX.kpi("e"), recorded([]), ROUND, H2)
    assert result.status is Status.NOT_REPORTED
    assert "not reported: no activity of this kind recorded for 2025/26 H2" in result.note


def test_members_are_counted_from_the_list() -> None:
    found = recorded([], members={"brentwood-cvs": 104})
    result = evaluate_activity(ESSEX.kpi("l"), found, ROUND, H2)
    assert (result.overall.count, result.status) == (104, Status.GREEN)


def _evidence(*cases: bool) -> dict[tuple[str, str, str, str], list[Evidence]]:
    items = [Evidence(f"Item {n}", "Text", case) for n, case in enumerate(cases)]
    return {("brentwood-cvs", "2025/26 H2", "essex-2017", "c"): items}


def test_evidence_takes_staffs_status_and_checks_the_case_studies_asked_for() -> None:
    key = ("brentwood-cvs", "essex-2017", "c", "2025/26 H2")
    # c asks for 2 examples a year: 2 x 182 / 365 = 0.997, so 1 in the half year.
    met = RecordedFrames(evidence=_evidence(True, False), assessments={key: ("met", "Shown")})
    result = evaluate_evidence(ESSEX.kpi("c"), met, "essex-2017", ROUND, H2)
    assert result.status is Status.GREEN and len(result.evidence) == 2
    assert result.overall.text == "met (2 items, 1 case study (1 asked for))"
    assert result.overall.note == "Shown"
    # Met by staff's account, but no case study attached: amber, and the report says why.
    short = RecordedFrames(evidence=_evidence(False), assessments={key: ("met", "Shown")})
    result = evaluate_evidence(ESSEX.kpi("c"), short, "essex-2017", ROUND, H2)
    assert result.status is Status.AMBER and "asks for 1 case study" in result.overall.note
    not_met = RecordedFrames(assessments={key: ("not_met", "Paused over winter")})
    result = evaluate_evidence(ESSEX.kpi("c"), not_met, "essex-2017", ROUND, H2)
    assert result.status is Status.RED and result.overall.note == "Paused over winter"
    # Evidence attached but no status set, and nothing at all: both not reported.
    unassessed = RecordedFrames(evidence=_evidence(True))
    assert (
        evaluate_evidence(ESSEX.kpi("c"), unassessed, "essex-2017", ROUND, H2).status
        is Status.NOT_REPORTED
    )
    nothing = evaluate_evidence(ESSEX.kpi("c"), RecordedFrames(), "essex-2017", ROUND, H2)
    assert nothing.status is Status.NOT_REPORTED and nothing.evidence == ()


MARCH_31 = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("milestone", "status", "words"),
    [
        # Achieved by its date: met.
        (MilestoneRecord("Plan", None, MARCH_31, None, date(2026, 3, 1)), Status.GREEN, "met"),
        # Achieved after its date (by the period's end): late.
        (
            MilestoneRecord("Plan", None, date(2026, 1, 31), None, date(2026, 2, 20)),
            Status.AMBER,
            "late",
        ),
        # Not achieved, its date passed: missed (achieving it after the period changes nothing
        # in this period's report).
        (
            MilestoneRecord("Plan", None, date(2026, 1, 31), None, date(2026, 5, 1)),
            Status.RED,
            "missed",
        ),
        # Due next year, progress made by its date: on track.
        (
            MilestoneRecord("QA", date(2026, 3, 1), date(2027, 3, 31), date(2026, 2, 1), None),
            Status.GREEN,
            "on track",
        ),
        # Due next year, but no progress by the date it was due: late.
        (
            MilestoneRecord("QA", date(2026, 3, 1), date(2027, 3, 31), None, None),
            Status.AMBER,
            "late",
        ),
    ],
)
def test_a_milestone_is_met_on_track_late_or_missed_at_the_periods_end(
    milestone: MilestoneRecord, status: Status, words: str
) -> None:
    assert milestone_verdict(milestone, MARCH_31)[0] is status
    found = RecordedFrames(milestones={("brentwood-cvs", "essex-2017", "iv"): milestone})
    result = evaluate_milestone(ESSEX.kpi("iv"), found, "essex-2017", ROUND, H2)
    assert result.status is status and result.overall.text == words


def test_a_milestone_with_nothing_recorded_is_not_reported() -> None:
    result = evaluate_milestone(ESSEX.kpi("vi"), RecordedFrames(), "essex-2017", ROUND, H2)
    assert result.status is Status.NOT_REPORTED


def _result(kpi_id: str, status: Status) -> KpiResult:
    return KpiResult(ESSEX.kpi(kpi_id), Cell("All responses", status=status))


def test_ii_counts_an_indicator_with_nothing_recorded_as_not_achieved() -> None:
    results = [
        _result("ix", Status.GREEN),
        _result("a", Status.GREEN),
        _result("c", Status.GREEN),
        _result("e", Status.RED),
        _result("iv", Status.AMBER),  # a late milestone
        _result("g", Status.NOT_REPORTED),  # nothing recorded
        _result("x", Status.NOT_ENOUGH_DATA),  # too few answers: listed, not counted
        _result("i", Status.NO_TARGET),  # no target: not listed at all
    ]
    ii = evaluate_targets_met(ESSEX.kpi("ii"), results)
    # 3 met of 6 counted (met, not met, not reported) = 50% < 80%.
    assert (ii.overall.numerator, ii.overall.n, ii.status) == (3, 6, Status.RED)
    verdicts = {c.kpi_id: c.verdict for c in ii.components}
    assert verdicts == {
        "ix": "met",
        "a": "met",
        "c": "met",
        "e": "not met",
        "iv": "not met",
        "g": "not reported",
        "x": "not judged",
    }
    assert (
        ii.overall.note == "3 of 6 targets met, 1 not reported; 1 not judged (too few answers): x"
    )
    # Had g been reported and met, 4 of 6 would still fall short; all met is 100%.
    met = [_result(k, Status.GREEN) for k in ("ix", "a", "c", "e", "iv")]
    assert evaluate_targets_met(ESSEX.kpi("ii"), met).status is Status.GREEN


def test_a_report_with_recorded_kpis_survives_its_json() -> None:
    rows = [activity("funding_application", "2025-10-10", 1, applied=100, obtained=50)]
    found = recorded(rows)
    results = (
        evaluate_activity(ESSEX.kpi("i"), found, ROUND, H2),
        evaluate_milestone(
            ESSEX.kpi("iv"),
            RecordedFrames(
                milestones={
                    ("brentwood-cvs", "essex-2017", "iv"): MilestoneRecord(
                        "Plan", None, MARCH_31, None, None
                    )
                }
            ),
            "essex-2017",
            ROUND,
            H2,
        ),
        evaluate_evidence(
            ESSEX.kpi("c"),
            RecordedFrames(evidence=_evidence(True)),
            "essex-2017",
            ROUND,
            H2,
        ),
    )
    ii = evaluate_targets_met(ESSEX.kpi("ii"), results)
    report = KpiReport(ESSEX, "brentwood-cvs", "Brentwood CVS", ROUND, (*results, ii))
    again = KpiReport.from_json(report.to_json())
    assert again.to_json() == report.to_json()
    assert again.result("i").overall.text == "£1" and again.result("c").evidence
    # iv is due on the period's last day and not yet achieved: on track, which counts as met.
    assert again.result("iv").overall.text == "on track"
    assert [c.verdict for c in again.result("ii").components] == ["met", "not reported"]
    assert [g.key for g in again.framework.groups] == [g.key for g in ESSEX.groups]
