"""An alliance's report: one framework over all its providers' responses together.

Kent contracts one alliance of providers under one performance framework (the framework file's
``alliance``: a name and the providers' slugs). Besides each provider's own report, the alliance
has one report for a period: every provider's round of the framework's surveys with that period
label, counted as if they were one round, with each provider's own result and its share of the
responses shown beside the whole (a breakdown by provider, suppressed like any other).

How the rounds are pooled: each provider's round is planned exactly as its own report plans it
(:func:`analysis.build._plan`), then the loaded frame's rows of those rounds are relabelled as
one round (and the rows of their previous rounds as one previous round) and evaluated by the
same functions as a provider's report, so that a pooled figure means what a provider's does.
The change since the previous round is given only when every provider in the report had a
previous round (otherwise the two would not count the same providers). Record-based KPIs
(volunteering records) are not pooled: each provider's own report gives them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from analysis import frames
from analysis.build import SurveyFrame, _Plan, _plan, _Rounds, load_for, load_rounds
from analysis.comparisons import response_rates
from analysis.kpis.definitions import Alliance, Framework, Kpi, KpiKind, framework
from analysis.kpis.evaluation import (
    Truths,
    evaluate_awareness,
    evaluate_count,
    evaluate_framework_results,
    evaluate_proportion,
    focus_cell,
    indicators,
)
from analysis.kpis.results import (
    Cell,
    KpiResult,
    RoundRef,
    hidden_cell,
    no_data_cell,
    proportion_cell,
)
from analysis.model import AllianceMember, KpiReport
from analysis.suppression import SECONDARY_NOTE, cells_to_hide
from collector import models
from collector.errors import NotFound

__all__ = ["ALLIANCE_SUFFIX", "alliance_framework_key", "build_alliance_report", "provider_cells"]

# A published alliance report is kept under its framework's id with this suffix, beside the
# provider's own report of the same framework.
ALLIANCE_SUFFIX = "-alliance"


def alliance_framework_key(framework_id: str) -> str:
    """Give the key an alliance's published report is kept under: 'kent-2017-alliance'."""
    return framework_id + ALLIANCE_SUFFIX


def build_alliance_report(
    connection: Connection,
    framework_id: str,
    *,
    round_id: int | None = None,
    period: str | None = None,
    segments: Sequence[str] | None = None,
) -> KpiReport:
    """Build a framework's alliance report for a period (a round's, or the latest one)."""
    chosen = framework(framework_id)
    alliance = chosen.alliance
    if alliance is None:
        raise NotFound(f"The framework {framework_id} has no alliance of providers")
    refs, survey_rows = load_rounds(connection)
    rounds = _Rounds(refs)
    wanted = set(chosen.surveys)
    if round_id is not None:
        anchor = next((r for r in refs if r.id == round_id), None)
        if anchor is None:
            raise NotFound(f"No round {round_id}")
        if anchor.provider not in alliance.providers:
            raise NotFound(
                f"Round {round_id} is {anchor.provider}'s, which is not in the alliance "
                f"{alliance.name} (its providers: {', '.join(alliance.providers)})"
            )
        period = anchor.period
    if period is None:
        anchors = [a for p in alliance.providers if (a := rounds.anchor(p, wanted)) is not None]
        if not anchors:
            raise NotFound(f"No rounds for any provider of the alliance {alliance.name}")
        period = max(anchors, key=lambda r: (r.closes_at, r.id)).period
    names = _provider_names(connection, alliance)
    plans: dict[str, _Plan] = {}
    members: list[AllianceMember] = []
    for slug in alliance.providers:
        mine = [r for r in refs if r.provider == slug and r.survey in wanted and r.period == period]
        closed = [r for r in mine if r.status == "closed"] or mine
        if not closed:
            note = f"no round for {period}" if slug in names else "no such provider"
            members.append(AllianceMember(slug, names.get(slug, slug), note=note))
            continue
        plans[slug] = _plan(chosen, rounds, max(closed, key=lambda r: (r.closes_at, r.id)))
        used = sorted(
            {r for r in plans[slug].kpi_rounds.values() if r is not None}, key=lambda r: r.id
        )
        # A provider whose round is still open counts its answers so far, and says so.
        note = "still open: its answers so far" if any(r.status == "open" for r in used) else ""
        members.append(AllianceMember(slug, names.get(slug, slug), tuple(r.id for r in used), note))
    if not plans:
        raise NotFound(f"No provider of the alliance {alliance.name} has a round for {period}")
    loaded, invitation_counts, _ = load_for(connection, list(plans.values()), survey_rows)
    anchor = _alliance_round(alliance, [p.anchor for p in plans.values()])
    shown = tuple(SEGMENTS_DEFAULT if segments is None else segments)
    results = [
        _evaluate(chosen, kpi, anchor, plans, loaded, names, shown)
        for kpi in chosen.kpis
        if kpi.kind is not KpiKind.TARGETS_MET
    ]
    results = evaluate_framework_results(chosen, results)
    member_rounds = sorted(
        {r for p in plans.values() for r in p.kpi_rounds.values() if r is not None},
        key=lambda r: (r.survey, r.provider, r.id),
    )
    return KpiReport(
        framework=chosen,
        provider=alliance.slug,
        provider_name=alliance.name,
        round=anchor,
        results=tuple(results),
        response_rates=tuple(response_rates(invitation_counts, r) for r in member_rounds),
        members=tuple(members),
    )


SEGMENTS_DEFAULT = tuple(frames.SEGMENTS)


def _provider_names(connection: Connection, alliance: Alliance) -> dict[str, str]:
    rows = connection.execute(
        select(models.Provider.slug, models.Provider.name).where(
            models.Provider.slug.in_(alliance.providers)
        )
    )
    return {str(slug): str(name) for slug, name in rows}


def _alliance_round(alliance: Alliance, anchors: Sequence[RoundRef], survey: str = "") -> RoundRef:
    """Name the providers' rounds together as one round of the alliance (the latest's id)."""
    latest = max(anchors, key=lambda r: (r.closes_at, r.id))
    return dataclasses.replace(
        latest,
        provider=alliance.slug,
        provider_name=alliance.name,
        survey=survey or latest.survey,
        status="closed" if all(r.status == "closed" for r in anchors) else "open",
        opens_at=min(r.opens_at for r in anchors),
        closes_at=max(r.closes_at for r in anchors),
        closed_at=None,
    )


def _pooled(
    loaded: SurveyFrame, current: Sequence[RoundRef], previous: Sequence[RoundRef]
) -> tuple[pd.DataFrame, RoundRef, RoundRef | None]:
    """Relabel the providers' rounds as one round (and their previous rounds as one)."""
    now = max(current, key=lambda r: (r.closes_at, r.id))
    before = max(previous, key=lambda r: (r.closes_at, r.id)) if previous else None
    relabel = {r.id: now.id for r in current}
    if before is not None:
        relabel |= {r.id: before.id for r in previous}
    frame = loaded.frame
    keep = frame[frames.ROUND].isin(list(relabel)).to_numpy(dtype=np.bool_)
    pooled = frame[keep].copy()
    pooled[frames.ROUND] = pooled[frames.ROUND].map(relabel).astype(np.int64)
    return pooled, now, before


def provider_cells(
    counts: Sequence[tuple[str, str, int, int]], kpi: Kpi, min_n: int
) -> tuple[Cell, ...]:
    """Give each provider's result within an alliance, with its share of the responses.

    `counts` are (slug, name, numerator, n). The providers add up to the alliance's total, so
    a hidden provider takes the next smallest with it, as any breakdown does.
    """
    total = sum(n for _, _, _, n in counts)
    # A provider with no responses in the KPI hides nobody, and needs nobody hidden.
    primary, secondary = cells_to_hide({slug: n for slug, _, _, n in counts if n})
    cells = []
    for slug, name, numerator, n in counts:
        if not n:
            cells.append(no_data_cell(name, "no responses", key=slug))
        elif slug in primary:
            cells.append(hidden_cell(name, slug))
        elif slug in secondary:
            cells.append(hidden_cell(name, slug, SECONDARY_NOTE))
        else:
            share = f"{round(100 * n / total)}% of the alliance's responses"
            cells.append(
                proportion_cell(
                    numerator, n, kpi.target, min_n=min_n, label=name, key=slug, note=share
                )
            )
    return tuple(cells)


def _evaluate(
    chosen: Framework,
    kpi: Kpi,
    anchor: RoundRef,
    plans: dict[str, _Plan],
    loaded: dict[str, SurveyFrame],
    names: dict[str, str],
    segments: Sequence[str],
) -> KpiResult:
    if kpi.kind is KpiKind.RECORDS:
        note = "counted from each provider's records: see each provider's own report"
        return KpiResult(kpi, no_data_cell(note=note), anchor, note=note)
    assert kpi.survey is not None
    current = {s: r for s, p in plans.items() if (r := p.kpi_rounds.get(kpi.id)) is not None}
    survey = loaded.get(kpi.survey)
    if not current or survey is None:
        note = f"no round of {kpi.survey} for the alliance's providers in this period"
        return KpiResult(kpi, no_data_cell(note=note), None, note=note)
    previous = {s: r for s in current if (r := plans[s].previous.get(kpi.id)) is not None}
    comparable = len(previous) == len(current)
    frame, now, before = _pooled(
        survey, list(current.values()), list(previous.values()) if comparable else []
    )
    now_ref = dataclasses.replace(anchor, id=now.id, survey=kpi.survey)
    before_ref = (
        None
        if before is None
        else dataclasses.replace(
            before, provider=anchor.provider, provider_name=anchor.provider_name
        )
    )
    truths, min_n = Truths(frame), chosen.min_n
    note = (
        ""
        if comparable or not previous
        else ("no change shown: not every provider had a previous round to compare with")
    )
    if kpi.kind is KpiKind.COUNT:
        window = [r for p in plans.values() for r in p.windows.get(kpi.id, [])]
        return evaluate_count(kpi, survey.frame, now_ref, window, survey.truths)
    if kpi.kind is KpiKind.AWARENESS:
        result = evaluate_awareness(
            kpi, frame, survey.survey, now_ref, before_ref, min_n=min_n, truths=truths
        )
        return dataclasses.replace(result, note=note)
    result = evaluate_proportion(
        kpi, frame, now_ref, before_ref, min_n=min_n, segments=segments, truths=truths
    )
    assert kpi.numerator is not None and kpi.denominator is not None
    found = indicators(survey.frame, kpi.numerator, kpi.denominator, survey.truths)
    counts = [
        (slug, names.get(slug, slug), *found.counts(round_.id)) for slug, round_ in current.items()
    ]
    breakdowns = {"provider": provider_cells(counts, kpi, min_n), **result.breakdowns}
    focus = None
    if chosen.focus is not None:
        focus = focus_cell(kpi, frame, now.id, chosen.focus, min_n=min_n, truths=truths)
    return dataclasses.replace(result, breakdowns=breakdowns, focus=focus, note=note)
