"""Build KPI reports from the database: choose the rounds, load the frames once, evaluate.

A :class:`~analysis.model.KpiReport` is one framework's KPIs for one provider at one point in
time, anchored on a round. This module builds them (SQL loading, planning, evaluation); the
report itself and its plain data are :mod:`analysis.model`, and the renderers
(:mod:`analysis.render`) only ever see reports, whose cells are already suppressed where they
must be.

Which rounds a report reads:

- the **anchor**: the round asked for (``round_id``), else the provider's latest closed round of
  a survey the framework uses (or its latest round if none has closed yet);
- for each KPI, the round of its survey: the anchor itself, else the provider's round of that
  survey with the same period label, else its latest round of that survey that opened in the
  year up to the anchor's close; none of these means "no data" for that KPI;
- the **previous round** of a KPI's round: the same provider's latest round of the same survey
  that opened before it;
- for a count KPI (Essex x), the rounds of its survey that opened in its window (365 days) up to
  its round's close.

All the rounds of a survey that any report needs are loaded in one query; each condition is
evaluated once over that frame, then counted per round and segment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from analysis.comparisons import response_rates
from analysis.kpis.definitions import Framework, Kpi, KpiKind, frameworks, problems_with_survey
from analysis.kpis.results import KpiResult, RoundRef, no_data_cell
from analysis.model import KpiReport
from analysis.periods import (
    Period,
    parse_period,
    period_from_dates,
    previous_period,
    until_next,
)
from collector.errors import NotFound
from collector.localtime import uk
from collector.survey.model import Survey
from tests.analysis.reference import frames
from tests.analysis.reference.evaluation import (
    RecordFrames,
    Truths,
    evaluate_awareness,
    evaluate_count,
    evaluate_framework_results,
    evaluate_proportion,
    evaluate_records,
)
from tests.analysis.reference.frames import SEGMENTS

__all__ = ["SurveyFrame", "build_reports", "evaluate_report"]

YEAR = timedelta(days=365)


# --- choosing rounds -----------------------------------------------------------------------


def _ref(row: Any) -> RoundRef:
    return RoundRef(
        id=int(row[frames.ROUND_ID]),
        provider=str(row[frames.PROVIDER_SLUG]),
        provider_name=str(row[frames.PROVIDER_NAME]),
        survey=str(row[frames.SURVEY_SLUG]),
        survey_version=int(row[frames.SURVEY_VERSION]),
        period=str(row[frames.PERIOD]),
        status=str(row[frames.STATUS]),
        opens_at=frames.as_utc(row[frames.OPENS_AT]).to_pydatetime(),
        closes_at=frames.as_utc(row[frames.CLOSES_AT]).to_pydatetime(),
        kind=str(row[frames.ROUND_KIND]),
        closed_at=_moment(row.get(frames.CLOSED_AT)),
    )


def _moment(value: Any) -> datetime | None:
    """Give a stored moment from a frame's cell as a UTC datetime, or None when it is empty."""
    if value is None or pd.isna(value):
        return None
    return frames.as_utc(value).to_pydatetime()


@dataclass
class _Rounds:
    """The rounds known, as RoundRefs, and the choices made among them."""

    refs: list[RoundRef]

    def of(self, provider: str, survey: str) -> list[RoundRef]:
        return [r for r in self.refs if r.provider == provider and r.survey == survey]

    def anchor(self, provider: str, surveys: Iterable[str]) -> RoundRef | None:
        wanted = set(surveys)
        mine = [r for r in self.refs if r.provider == provider and r.survey in wanted]
        closed = [r for r in mine if r.status == "closed"]
        pool = closed or mine
        return max(pool, key=lambda r: (r.closes_at, r.id)) if pool else None

    def for_kpi(self, anchor: RoundRef, survey: str) -> RoundRef | None:
        if survey == anchor.survey:
            return anchor
        candidates = self.of(anchor.provider, survey)
        same_period = [r for r in candidates if r.period == anchor.period]
        if same_period:
            return max(same_period, key=lambda r: (r.opens_at, r.id))
        recent = [
            r for r in candidates if anchor.closes_at - YEAR <= r.opens_at <= anchor.closes_at
        ]
        return max(recent, key=lambda r: (r.opens_at, r.id)) if recent else None

    def previous(self, round_: RoundRef) -> RoundRef | None:
        earlier = [
            r
            for r in self.of(round_.provider, round_.survey)
            if (r.opens_at, r.id) < (round_.opens_at, round_.id)
        ]
        return max(earlier, key=lambda r: (r.opens_at, r.id)) if earlier else None

    def period(self, anchor: RoundRef) -> Period:
        """Give the dates of the anchor's period, for record-based KPIs (analysis.periods)."""
        rolling = [
            r
            for r in self.refs
            if r.provider == anchor.provider and r.period == anchor.period and r.kind == "rolling"
        ]
        if rolling:
            whole = period_from_dates(
                anchor.period,
                min(r.opens_at for r in rolling),
                max(r.closes_at for r in rolling),
            )
            # The provider's other rolling periods: this one ends before the next begins.
            others = [
                uk(r.opens_at).date()
                for r in self.refs
                if r.provider == anchor.provider
                and r.kind == "rolling"
                and r.period != anchor.period
            ]
            return until_next(whole, others)
        parsed = parse_period(anchor.period)
        if parsed is not None:
            return parsed
        end = uk(anchor.closes_at).date()
        return Period(anchor.period, end - timedelta(days=364), end)

    def window(self, round_: RoundRef, days: int) -> list[RoundRef]:
        start = round_.closes_at - timedelta(days=days)
        return [
            r
            for r in self.of(round_.provider, round_.survey)
            if start <= r.opens_at <= round_.closes_at
        ]


@dataclass
class _Plan:
    """One report to build: which round each KPI reads, and what else it needs."""

    framework: Framework
    anchor: RoundRef
    kpi_rounds: dict[str, RoundRef | None]
    previous: dict[str, RoundRef | None]
    windows: dict[str, list[RoundRef]]
    period: Period | None = None  # for record-based KPIs

    def rounds(self) -> set[RoundRef]:
        needed: set[RoundRef] = {self.anchor}
        needed |= {r for r in self.kpi_rounds.values() if r is not None}
        needed |= {r for r in self.previous.values() if r is not None}
        for window in self.windows.values():
            needed |= set(window)
        return needed


def _plan(framework: Framework, rounds: _Rounds, anchor: RoundRef) -> _Plan:
    plan = _Plan(framework, anchor, {}, {}, {})
    if any(kpi.kind is KpiKind.RECORDS for kpi in framework.kpis):
        plan.period = rounds.period(anchor)
    for kpi in framework.kpis:
        if kpi.survey is None:
            continue
        round_ = rounds.for_kpi(anchor, kpi.survey)
        plan.kpi_rounds[kpi.id] = round_
        plan.previous[kpi.id] = None if round_ is None else rounds.previous(round_)
        if kpi.kind is KpiKind.COUNT and round_ is not None:
            plan.windows[kpi.id] = rounds.window(round_, kpi.window_days)
    return plan


# --- building ------------------------------------------------------------------------------


@dataclass
class SurveyFrame:
    """The loaded responses of one survey (all the rounds needed), ready to evaluate."""

    frame: pd.DataFrame
    survey: Survey
    versions: dict[int, Survey] = field(default_factory=dict)  # round id -> its definition

    def __post_init__(self) -> None:
        self.truths = Truths(self.frame)

    def definition(self, round_id: int) -> Survey:
        """Give the survey version a round used (the frame's survey unless told otherwise)."""
        return self.versions.get(round_id, self.survey)


def evaluate_report(
    framework: Framework,
    anchor: RoundRef,
    rounds: Sequence[RoundRef],
    surveys: dict[str, SurveyFrame],
    invitation_counts: pd.DataFrame | None = None,
    *,
    segments: Sequence[str] | None = None,
    records: RecordFrames | None = None,
) -> KpiReport:
    """Evaluate one framework for one provider from loaded frames (no I/O).

    `rounds` are all the rounds known (the provider's at least); `surveys` the loaded frames by
    survey id, holding every round the report reads; `invitation_counts` as
    frames.load_invitation_counts gives them (no response rates without); `records` the
    volunteering records (frames.load_enquiries and load_placements; record-based KPIs say
    "no data" without).
    """
    plan = _plan(framework, _Rounds(list(rounds)), anchor)
    wanted = tuple(SEGMENTS) if segments is None else tuple(segments)
    results = [
        _evaluate(plan, kpi, surveys, wanted, records)
        for kpi in framework.kpis
        if kpi.kind is not KpiKind.TARGETS_MET
    ]
    results = evaluate_framework_results(framework, results)
    used = sorted(
        {anchor} | {r.round for r in results if r.round is not None},
        key=lambda r: (r.survey != anchor.survey, r.opens_at, r.id),
    )
    rates = (
        ()
        if invitation_counts is None
        else tuple(response_rates(invitation_counts, r) for r in used)
    )
    return KpiReport(
        framework=framework,
        provider=anchor.provider,
        provider_name=anchor.provider_name,
        round=anchor,
        results=tuple(results),
        response_rates=rates,
    )


def build_reports(
    connection: Connection,
    *,
    framework: str | None = None,
    provider: str | None = None,
    round_id: int | None = None,
    segments: Sequence[str] | None = None,
) -> list[KpiReport]:
    """Build the reports asked for: one per framework and provider, in that order.

    With `round_id`, that round's provider anchored on that round; with `provider`, its latest
    closed round; with neither, every provider (side by side). `framework` picks one framework
    (default: all). `segments` are the breakdowns to compute for every proportion KPI (default:
    all); a KPI's required breakdowns are always computed.
    """
    chosen = _frameworks(framework)
    table = frames.load_rounds(connection)
    refs = [_ref(row) for _, row in table.iterrows()]
    survey_rows = {
        int(r): int(s)
        for r, s in zip(table[frames.ROUND_ID], table[frames.SURVEY_ROW], strict=True)
    }
    rounds = _Rounds(refs)
    plans = _plans(chosen, rounds, provider, round_id)
    if not plans:
        return []
    needed: dict[str, set[RoundRef]] = {}
    questions: dict[str, set[str]] = {}
    for plan in plans:
        for round_ in plan.rounds():
            needed.setdefault(round_.survey, set()).add(round_)
        for kpi in plan.framework.kpis:
            if kpi.survey is not None:
                questions.setdefault(kpi.survey, set()).update(kpi.questions)
    definitions = frames.load_definitions(
        connection, {survey_rows[r.id] for refs in needed.values() for r in refs}
    )
    loaded: dict[str, SurveyFrame] = {}
    for survey_id, used in needed.items():
        newest = max(used, key=lambda r: (r.survey_version, r.id))
        survey = definitions[survey_rows[newest.id]]
        frame = frames.load_frame(
            connection, survey, [r.id for r in used], questions=questions.get(survey_id, set())
        )
        versions = {r.id: definitions[survey_rows[r.id]] for r in used}
        loaded[survey_id] = SurveyFrame(frame, survey, versions)
    shown = {plan.anchor} | {r for plan in plans for r in plan.kpi_rounds.values() if r}
    invitation_counts = frames.load_invitation_counts(connection, sorted(r.id for r in shown))
    records = None
    counted = {plan.anchor.provider for plan in plans if plan.period is not None}
    if counted:
        records = RecordFrames(
            frames.load_enquiries(connection, counted), frames.load_placements(connection, counted)
        )
    return [
        evaluate_report(
            plan.framework,
            plan.anchor,
            refs,
            loaded,
            invitation_counts,
            segments=segments,
            records=records,
        )
        for plan in plans
    ]


def _frameworks(framework: str | None) -> list[Framework]:
    # KPIs asked of several audiences (issue 15) and those staff record (issue 17) came after
    # this engine: it leaves them out.
    known = {
        key: dataclasses.replace(
            f,
            kpis=tuple(
                k for k in f.kpis if k.kind is not KpiKind.AUDIENCES and not k.is_recorded
            ),
        )
        for key, f in frameworks().items()
    }
    if framework is None:
        return list(known.values())
    if framework not in known:
        raise NotFound(f"No KPI framework {framework!r} (there are: {', '.join(sorted(known))})")
    return [known[framework]]


def _plans(
    chosen: list[Framework], rounds: _Rounds, provider: str | None, round_id: int | None
) -> list[_Plan]:
    if round_id is not None:
        anchor = next((r for r in rounds.refs if r.id == round_id), None)
        if anchor is None:
            raise NotFound(f"No round {round_id}")
        if provider is not None and anchor.provider != provider:
            raise NotFound(f"Round {round_id} is not {provider}'s")
        return [_plan(f, rounds, anchor) for f in chosen]
    providers = sorted({r.provider for r in rounds.refs})
    if provider is not None:
        if provider not in providers:
            raise NotFound(f"No rounds for provider {provider!r}")
        providers = [provider]
    plans = []
    for f in chosen:
        for slug in providers:
            anchor = rounds.anchor(slug, f.surveys)
            if anchor is not None:
                plans.append(_plan(f, rounds, anchor))
    return plans


def _counted(period: Period, anchor: RoundRef) -> Period:
    """Give the part of a period a report counts records in: up to its anchor's close.

    A report published when a survey round closes mid-period counts the enquiries so far,
    and an annual target is then pro rata to those days, not to the whole period.
    """
    close = uk(anchor.closes_at).date()
    if period.start <= close < period.end:
        return Period(period.label, period.start, close)
    return period


def interim_note(kpi: Kpi, anchor: RoundRef, counted: Period) -> str:
    """Say that a records KPI's figures are interim: its round is open, its period not over.

    A survey KPI on an open round says it by the round's status (the answers so far); a
    records KPI counts dates, so it says which period is not over and what is compared.
    """
    what = (
        "the enquiries recorded so far, against the target for the whole period"
        if kpi.is_count
        else "the share of the enquiries recorded so far"
    )
    return (
        f"interim: {anchor.survey} round {anchor.id} is still open, so {counted.describe()} "
        f"is not over: these are {what}"
    )


def _evaluate(
    plan: _Plan,
    kpi: Kpi,
    surveys: dict[str, SurveyFrame],
    segments: Sequence[str],
    records: RecordFrames | None = None,
) -> KpiResult:
    if kpi.kind is KpiKind.RECORDS:
        assert plan.period is not None
        if records is None:
            note = "no volunteering records were read for this report"
            return KpiResult(kpi, no_data_cell(note=note), plan.anchor, note=note)
        whole = plan.period
        counted = _counted(whole, plan.anchor)
        result = evaluate_records(
            kpi, records, plan.anchor, counted, previous_period(whole), min_n=plan.framework.min_n
        )
        if result.note:
            return result  # no enquiries recorded: nothing is counted, so nothing is interim
        notes = []
        if plan.anchor.status == "open":
            notes.append(interim_note(kpi, plan.anchor, counted))
        if counted != whole:
            notes.append(
                f"counted to {plan.anchor.survey}'s close on {counted.end:%-d %b %Y}, not the "
                f"whole of {whole.describe()}"
            )
        if notes:
            result = dataclasses.replace(result, note="; ".join(notes))
        return result
    assert kpi.survey is not None
    round_ = plan.kpi_rounds.get(kpi.id)
    loaded = surveys.get(kpi.survey)
    if round_ is None or loaded is None:
        note = f"no round of {kpi.survey} for {plan.anchor.provider} in this period"
        return KpiResult(kpi, no_data_cell(note=note), None, note=note)
    previous = plan.previous.get(kpi.id)
    for used in (round_, previous):
        if used is None:
            continue
        problems = problems_with_survey(kpi, loaded.definition(used.id))
        if problems:
            note = "cannot be measured: " + "; ".join(problems)
            return KpiResult(kpi, no_data_cell(note=note), round_, note=note)
    frame, truths, min_n = loaded.frame, loaded.truths, plan.framework.min_n
    if kpi.kind is KpiKind.PROPORTION:
        return evaluate_proportion(
            kpi, frame, round_, previous, min_n=min_n, segments=segments, truths=truths
        )
    if kpi.kind is KpiKind.AWARENESS:
        return evaluate_awareness(
            kpi, frame, loaded.survey, round_, previous, min_n=min_n, truths=truths
        )
    return evaluate_count(kpi, frame, round_, plan.windows.get(kpi.id, [round_]), truths)
