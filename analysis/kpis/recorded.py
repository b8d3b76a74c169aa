"""Evaluate the indicators staff record (the compute layer: pure functions, no I/O).

Three kinds (see :mod:`analysis.kpis.definitions`): ``activity`` (counts and amounts from
activity records dated in the report's period, against a target pro rata when it is annual),
``evidence`` (case studies and other evidence attached for the period, with staff's status and
its reason) and ``milestone`` (a one-off event judged by its dates at the period's end). Each
says "not reported" when nothing is recorded for the period, which Essex ii counts as a target
not achieved.

Activity counts are the provider's own outputs, not anyone's answers: they are not suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from analysis import frames as f
from analysis.kpis.definitions import Kpi
from analysis.kpis.results import OVERALL, Cell, Evidence, KpiResult, RoundRef
from analysis.kpis.targets import Status, Target, TargetRule
from analysis.periods import Period
from analysis.segments import order_keys, value_label

__all__ = [
    "ASSESSMENT_STATUS",
    "MilestoneRecord",
    "RecordedFrames",
    "evaluate_activity",
    "evaluate_evidence",
    "evaluate_milestone",
    "milestone_verdict",
    "pounds",
    "scaled_target",
]

ASSESSMENT_STATUS = {"met": Status.GREEN, "partly_met": Status.AMBER, "not_met": Status.RED}
ASSESSMENT_WORDS = {"met": "met", "partly_met": "partly met", "not_met": "not met"}


@dataclass(frozen=True)
class MilestoneRecord:
    """A provider's milestone for an indicator, with its dates."""

    title: str
    progress_due: date | None
    due_on: date
    progress_on: date | None
    achieved_on: date | None
    note: str = ""


@dataclass
class RecordedFrames:
    """What staff recorded, as loaded for the reports being built (frames.load_activities...)."""

    activities: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(f.ACTIVITY_COLUMNS))
    )
    members: dict[str, int] = field(default_factory=dict)
    # (provider, period label, framework, KPI id) -> the evidence
    evidence: dict[tuple[str, str, str, str], list[Evidence]] = field(default_factory=dict)
    # (provider, framework, KPI id, period label) -> (status, reason)
    assessments: dict[tuple[str, str, str, str], tuple[str, str]] = field(default_factory=dict)
    # (provider, framework, KPI id) -> the milestone
    milestones: dict[tuple[str, str, str], MilestoneRecord] = field(default_factory=dict)

    @classmethod
    def of_rows(
        cls,
        activities: pd.DataFrame,
        members: dict[str, int],
        evidence: Sequence[tuple[str, str, str, str, str, str, bool, str | None]],
        assessments: dict[tuple[str, str, str, str], tuple[str, str]],
        milestones: dict[tuple[str, str, str], tuple[str, Any, Any, Any, Any, str]],
    ) -> RecordedFrames:
        """Gather what frames.load_evidence, load_assessments and load_milestones give."""
        grouped: dict[tuple[str, str, str, str], list[Evidence]] = {}
        for provider, period, framework, kpi_id, title, text, case, name in evidence:
            grouped.setdefault((provider, period, framework, kpi_id), []).append(
                Evidence(title, text, case, name or "")
            )
        return cls(
            activities,
            members,
            grouped,
            assessments,
            {key: MilestoneRecord(*row) for key, row in milestones.items()},
        )


def pounds(pence: int | Fraction) -> str:
    """Write an amount of money in whole pounds: £12,346."""
    whole = int(Fraction(pence) / 100 + Fraction(1, 2))
    return f"£{whole:,}"


def scaled_target(kpi: Kpi, period: Period) -> Target | None:
    """Give the period's share of an annual target, rounded up (else None: the KPI's own).

    Pro rata by days: 20 a year is 10 for a half year of 183 days; £30,000 a year is £15,041.
    """
    target = kpi.target
    if kpi.target_period != "year" or target.value is None or period.days >= 365:
        return None
    scaled = target.value * period.days / 365
    whole = -(-scaled.numerator // scaled.denominator)
    yearly = f"£{int(target.value):,}" if target.is_amount else f"{int(target.value):,}"
    return Target(
        target.rule,
        Fraction(whole),
        is_count=target.is_count,
        is_amount=target.is_amount,
        basis=f"({yearly} a year, pro rata)",
    )


def _not_reported(kpi: Kpi, round_: RoundRef | None, period: Period, what: str) -> KpiResult:
    note = f"not reported: {what} for {period.describe()}"
    cell = Cell(OVERALL, status=Status.NOT_REPORTED, note=note, text="not reported")
    return KpiResult(kpi, cell, round_, note=note, period=period)


def _in_period(frame: pd.DataFrame, period: Period) -> np.ndarray:
    dates = frame[f.OCCURRED_ON]
    inside = (dates >= pd.Timestamp(period.start)) & (dates <= pd.Timestamp(period.end))
    return inside.to_numpy(dtype=np.bool_)


def _measure(kpi: Kpi, rows: pd.DataFrame) -> int:
    """Give the KPI's measure over some activity rows (pence for an amount)."""
    if kpi.measure == "organisations":
        return int(rows[f.ACTIVITY_ORGANISATION].dropna().nunique())
    if kpi.measure == "beneficiaries":
        return int(rows[f.BENEFICIARIES].fillna(0).sum())
    if kpi.measure == "amount_obtained":
        return int(rows[f.OBTAINED].fillna(0).sum())
    if kpi.measure == "amount_applied":
        return int(rows[f.APPLIED].fillna(0).sum())
    return len(rows)


def _value_cell(
    kpi: Kpi,
    value: int,
    target: Target,
    label: str = OVERALL,
    key: str | None = None,
    *,
    judge: bool = True,
) -> Cell:
    """Build the cell of a count or an amount (value in pence), judged against the target."""
    if not judge or not target.numeric:
        status = Status.NO_TARGET
    else:
        assert target.value is not None
        reached = Fraction(value, 100) if kpi.is_amount else Fraction(value)
        status = Status.GREEN if reached >= target.value else Status.RED
    if kpi.is_amount:
        return Cell(label, key=key, amount=value / 100, status=status, text=pounds(value))
    return Cell(label, key=key, count=value, status=status)


def evaluate_activity(
    kpi: Kpi,
    recorded: RecordedFrames,
    round_: RoundRef,
    period: Period,
) -> KpiResult:
    """Count (or sum) the provider's activity records of the KPI's kinds dated in the period."""
    provider = round_.provider
    scaled = scaled_target(kpi, period)
    target = scaled or kpi.target
    if kpi.measure == "members":
        count = recorded.members.get(provider, 0)
        if not count:
            return _not_reported(kpi, round_, period, "no member groups on the provider's list")
        cell = _value_cell(kpi, count, target)
        note = "member groups on the provider's list when the report was built"
        return KpiResult(kpi, cell, round_, note=note, period=period, period_target=scaled)
    frame = recorded.activities
    mine = frame[
        (frame[f.RECORD_PROVIDER] == provider).to_numpy(dtype=np.bool_)
        & frame[f.ACTIVITY_KIND].isin(kpi.activities).to_numpy(dtype=np.bool_)
    ]
    rows = mine[_in_period(mine, period)]
    if rows.empty:
        return _not_reported(kpi, round_, period, "no activity of this kind recorded")
    overall = _value_cell(kpi, _measure(kpi, rows), target)
    breakdowns = {
        segment: _activity_breakdown(kpi, rows, segment, target) for segment in kpi.breakdowns
    }
    return KpiResult(
        kpi, overall, round_, breakdowns=breakdowns, period=period, period_target=scaled
    )


def _activity_breakdown(
    kpi: Kpi, rows: pd.DataFrame, segment: str, target: Target
) -> tuple[Cell, ...]:
    """Give the KPI's measure per value of a segment of the groups helped (not judged)."""
    column = f.SEGMENTS[segment]
    values = rows[column].tolist()
    by_key: dict[str | None, list[int]] = {}
    for position, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            keys: list[str | None] = [None]
        elif segment == "is_member":
            keys = ["member" if value else "not_member"]
        elif segment == "outcomes":
            keys = list(str(value).split()) or [None]
        else:
            keys = [str(value) or None]
        for key in keys:
            by_key.setdefault(key, []).append(position)
    cells = []
    for key in order_keys(segment, list(by_key)):
        part = rows.iloc[by_key[key]]
        cells.append(
            _value_cell(
                kpi, _measure(kpi, part), target, value_label(segment, key), key, judge=False
            )
        )
    return tuple(cells)


def case_studies_wanted(kpi: Kpi, period: Period) -> int:
    """Give the case studies the target asks for in the period (pro rata, rounded up)."""
    if kpi.target_period != "year" or period.days >= 365 or not kpi.case_studies:
        return kpi.case_studies
    scaled = Fraction(kpi.case_studies * period.days, 365)
    return -(-scaled.numerator // scaled.denominator)


def evaluate_evidence(
    kpi: Kpi,
    recorded: RecordedFrames,
    framework: str,
    round_: RoundRef,
    period: Period,
) -> KpiResult:
    """Give an evidence indicator's status for the period: staff's, checked against the case
    studies the target asks for, with the evidence attached."""
    provider = round_.provider
    items = tuple(recorded.evidence.get((provider, period.label, framework, kpi.id), ()))
    assessed = recorded.assessments.get((provider, framework, kpi.id, period.label))
    if not items and assessed is None:
        return _not_reported(kpi, round_, period, "no evidence recorded")
    wanted = case_studies_wanted(kpi, period)
    cases = sum(1 for item in items if item.is_case_study)
    counted = f"{len(items)} item{'s' if len(items) != 1 else ''}"
    if cases:
        counted += f", {cases} case stud{'ies' if cases != 1 else 'y'}"
    if wanted:
        counted += f" ({wanted} asked for)"
    if kpi.target.rule is TargetRule.NONE:
        cell = Cell(OVERALL, count=None, status=Status.NO_TARGET, text=counted)
        return KpiResult(kpi, cell, round_, period=period, evidence=items)
    if assessed is None:
        note = "evidence is attached, but staff have not set its status for the period"
        cell = Cell(
            OVERALL, status=Status.NOT_REPORTED, note=note, text=f"{counted}; no status set"
        )
        return KpiResult(kpi, cell, round_, note=note, period=period, evidence=items)
    key, reason = assessed
    status = ASSESSMENT_STATUS.get(key, Status.NOT_REPORTED)
    words = ASSESSMENT_WORDS.get(key, key)
    notes = [reason] if reason else []
    if status is Status.GREEN and cases < wanted:
        status = Status.AMBER
        notes.append(
            f"staff assessed it as met, but the target asks for {wanted} case "
            f"stud{'ies' if wanted != 1 else 'y'} in the period and {cases} "
            f"{'is' if cases == 1 else 'are'} attached"
        )
    cell = Cell(OVERALL, status=status, note="; ".join(notes), text=f"{words} ({counted})")
    return KpiResult(kpi, cell, round_, period=period, evidence=items)


def milestone_verdict(milestone: MilestoneRecord, as_of: date) -> tuple[Status, str]:
    """Judge a milestone at a date: met, on track, late or missed, with the words for it."""
    due = f"{milestone.due_on:%-d %b %Y}"
    achieved = milestone.achieved_on
    if achieved is not None and achieved <= as_of:
        if achieved <= milestone.due_on:
            return Status.GREEN, f"met: achieved on {achieved:%-d %b %Y} (due by {due})"
        return Status.AMBER, f"late: achieved on {achieved:%-d %b %Y}, after {due}"
    if as_of > milestone.due_on:
        return Status.RED, f"missed: not achieved by {due}"
    progress_due = milestone.progress_due
    if progress_due is not None and as_of > progress_due:
        made = milestone.progress_on
        if made is None or made > progress_due:
            return Status.AMBER, (
                f"late: progress was due by {progress_due:%-d %b %Y} and "
                + ("none is recorded" if made is None else f"was made on {made:%-d %b %Y}")
                + f"; achievement is due by {due}"
            )
    return Status.GREEN, f"on track: due by {due}"


def evaluate_milestone(
    kpi: Kpi,
    recorded: RecordedFrames,
    framework: str,
    round_: RoundRef,
    period: Period,
) -> KpiResult:
    """Judge the provider's milestone for the KPI as at the period's end."""
    milestone = recorded.milestones.get((round_.provider, framework, kpi.id))
    if milestone is None:
        return _not_reported(kpi, round_, period, "no milestone recorded")
    status, words = milestone_verdict(milestone, period.end)
    verdict = words.partition(":")[0]
    note = "; ".join(part for part in (f"{milestone.title}: {words}", milestone.note) if part)
    cell = Cell(OVERALL, status=status, text=verdict, note=note)
    return KpiResult(kpi, cell, round_, period=period)
