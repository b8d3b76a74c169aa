"""The report as HTML: a whole document (inline CSS, print styles, charts as data: URIs) for the
PDF and downloads, or a fragment for the web pages (GOV.UK classes, no inline style: the site's
Content-Security-Policy allows styles only from its own stylesheet, and images as data:).

Order, as funders read it: the summary (targets met, what changed), each KPI (chart, figures,
status in words, change, the provider's explanation), breakdowns, response rates, definitions.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from analysis.collective import CollectiveReport
from analysis.comparisons import RateCell, ResponseRates
from analysis.kpis.definitions import COMBINE_METHODS, Kpi, KpiKind
from analysis.kpis.results import Cell, KpiResult
from analysis.kpis.targets import Status
from analysis.model import KpiReport
from analysis.render import charts
from analysis.render.formats import (
    CHANGE_METHOD,
    DASH,
    benchmark_lines,
    benchmark_value,
    change_text,
    focus_text,
    headline_text,
    hidden_text,
    interval_text,
    is_share,
    n_label,
    n_text,
    percent,
    result_text,
    status_word,
    summarise,
    unit,
)
from analysis.segments import SEGMENT_TITLES
from collector.localtime import long_date

__all__ = [
    "TEMPLATES",
    "collective_html",
    "definition_lines",
    "report_css",
    "report_html",
    "report_view",
    "shown_segments",
]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "report"

# Class names per element: the site's GOV.UK Frontend classes in the fragment, plain ones in
# the standalone document (styled by report.css).
GOVUK = {
    "h1": "govuk-heading-l",
    "h2": "govuk-heading-m",
    "h3": "govuk-heading-s",
    "caption": "govuk-caption-l",
    "p": "govuk-body",
    "lead": "govuk-body-l",
    "list": "govuk-list govuk-list--bullet",
    "table": "govuk-table",
    "table_caption": "govuk-table__caption govuk-table__caption--s",
    "thead": "govuk-table__head",
    "tbody": "govuk-table__body",
    "tr": "govuk-table__row",
    "th": "govuk-table__header",
    "td": "govuk-table__cell",
    "num": "govuk-table__cell govuk-table__cell--numeric",
    "thnum": "govuk-table__header govuk-table__header--numeric",
    "dl": "govuk-summary-list",
    "dlrow": "govuk-summary-list__row",
    "dt": "govuk-summary-list__key",
    "dd": "govuk-summary-list__value",
    "inset": "govuk-inset-text",
    "hint": "govuk-hint",
    "details": "govuk-details",
    "summary": "govuk-details__summary",
    "summary_text": "govuk-details__summary-text",
    "details_text": "govuk-details__text",
}
PLAIN = {key: "" for key in GOVUK} | {
    "caption": "caption",
    "lead": "lead",
    "num": "num",
    "thnum": "num",
    "inset": "narrative",
    "hint": "hint",
}
TAGS = {
    Status.GREEN: "govuk-tag--green",
    Status.AMBER: "govuk-tag--yellow",
    Status.RED: "govuk-tag--red",
}


@dataclass(frozen=True)
class Chart:
    """A chart as an <img>: its data: URI and the text that says what it shows."""

    uri: str
    alt: str


@dataclass(frozen=True)
class Row:
    """One line of a figures table: a group's result, n, interval, status and note."""

    label: str
    result: str
    n: str
    interval: str
    status: Status
    note: str = ""
    suppressed: bool = False


@dataclass(frozen=True)
class Table:
    """A breakdown of one KPI by one segment."""

    kpi: Kpi
    segment: str
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class KpiView:
    """Everything the page shows about one KPI."""

    result: KpiResult
    anchor: str
    chart: Chart | None  # none when there is no figure to draw (the facts say why)
    trend: Chart | None
    facts: tuple[tuple[str, str], ...]
    outcomes: tuple[dict[str, Any], ...]
    narrative: str
    notes: tuple[str, ...]
    tables: tuple[Table, ...] = field(default=())
    # Below its target (or not reported): the narrative is the variance explanation.
    below_target: bool = False


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _row(cell: Cell) -> Row:
    return Row(
        label=cell.label,
        result="not shown" if cell.suppressed else result_text(cell),
        n=n_text(cell),
        interval=interval_text(cell.low, cell.high),
        status=cell.status,
        note=hidden_text(cell) if cell.suppressed else cell.note,
        suppressed=cell.suppressed,
    )


def shown_segments(kpi: Kpi, result: KpiResult) -> list[str]:
    """Give the breakdowns the page shows for a KPI: by provider in an alliance's report, those
    it asks for, then districts."""
    wanted = [
        "provider",
        *kpi.breakdowns,
        *([] if "district" in kpi.breakdowns else ["district"]),
    ]
    return [s for s in wanted if result.breakdowns.get(s)]


def _chart_alt(result: KpiResult) -> str:
    kpi, cell = result.kpi, result.overall
    if kpi.kind is KpiKind.AWARENESS and result.outcomes:
        parts = [
            f"{o.label} {result_text(o.aware)} ({status_word(o.status)})" for o in result.outcomes
        ]
        return f"Bar chart of {kpi.id}, groups aware of each outcome: " + "; ".join(parts) + "."
    if cell.suppressed or (cell.proportion is None and cell.count is None):
        return f"Chart of {kpi.id}: no bar, {hidden_text(cell) if cell.suppressed else 'no data'}."
    interval = (
        f", 95% interval {interval_text(cell.low, cell.high)}" if cell.low is not None else ""
    )
    figures_unit = f" {unit(kpi)}" if kpi.kind is KpiKind.RECORDS and kpi.is_count else ""
    return (
        f"Bar chart of {kpi.id}: {result_text(cell)}{figures_unit}{interval}, "
        f"target {result.target}, "
        f"status {status_word(cell.status)}."
    )


def _trend_alt(result: KpiResult) -> str:
    change = result.change
    assert change is not None
    return (
        f"Bar chart of {result.kpi.id} in {change.previous_round.period} "
        f"({result_text(change.previous)}) and now ({result_text(result.overall)}): "
        f"{change.verdict}."
    )


def _facts(result: KpiResult) -> tuple[tuple[str, str], ...]:
    kpi, cell = result.kpi, result.overall
    period = result.round.period if result.round is not None else DASH
    facts: list[tuple[str, str]] = [("Round", period)]
    if result.period is not None:
        facts = [("Period", result.period.describe())]
    if kpi.kind is KpiKind.RECORDS and kpi.is_count:
        facts.append(("Enquiries", result_text(cell)))
    elif kpi.kind is KpiKind.ACTIVITY:
        facts.append((unit(kpi).capitalize(), result_text(cell)))
    elif kpi.kind is KpiKind.EVIDENCE:
        facts.append(("Evidence", result_text(cell)))
        if cell.note and cell.status is not Status.NOT_REPORTED:
            facts.append(("Why (staff's assessment)", cell.note))
    elif kpi.kind is KpiKind.MILESTONE:
        facts.append(("Milestone", cell.note or result_text(cell)))
    elif kpi.kind is KpiKind.AWARENESS:
        facts.append(("Responses (n)", n_text(cell)))
    elif kpi.kind is KpiKind.COUNT:
        facts.append(("Organisations", result_text(cell)))
    elif kpi.kind is KpiKind.TARGETS_MET:
        facts.append(("Result", result_text(cell)))
        if cell.n is not None:
            facts.append(("Targets counted", str(cell.n)))
            facts.append(("Targets met", str(cell.numerator)))
    else:
        facts.append(("Result", result_text(cell)))
        facts.append((n_label(kpi), n_text(cell)))
        if cell.numerator is not None:
            counted = "Taken up" if kpi.kind is KpiKind.RECORDS else "Meeting the definition"
            facts.append((counted, str(cell.numerator)))
        facts.append(("95% confidence interval", interval_text(cell.low, cell.high)))
    facts.append(("Target", str(result.target)))
    if kpi.target_text:
        facts.append(("The target as the source words it", kpi.target_text))
    facts.append(("Status", status_word(result.status)))
    if is_share(kpi):
        facts.append(("Change since the previous round", change_text(result.change)))
    if result.focus is not None:
        facts.append((f"Focus: {result.focus.label}", focus_text(result.focus)))
    facts.extend(benchmark_lines(result))
    return tuple(facts)


def _outcomes(result: KpiResult) -> tuple[dict[str, Any], ...]:
    rows = []
    for outcome in result.outcomes:
        before = outcome.change.previous if outcome.change is not None else None
        rows.append(
            {
                "label": outcome.label,
                "aware": result_text(outcome.aware),
                "n": n_text(outcome.aware),
                "interval": interval_text(outcome.aware.low, outcome.aware.high),
                "before": DASH if before is None else result_text(before),
                "change": DASH if outcome.change is None else outcome.change.verdict,
                "status": outcome.status,
                "raised": result_text(outcome.raised),
                "raised_interval": interval_text(outcome.raised.low, outcome.raised.high),
            }
        )
    return tuple(rows)


def _has_figures(result: KpiResult) -> bool:
    cell = result.overall
    if cell.suppressed or result.kpi.is_recorded:
        # What staff record is written out in the facts: a bar of one count says no more.
        return False
    return cell.proportion is not None or cell.count is not None or bool(result.outcomes)


def _kpi_view(result: KpiResult, report: KpiReport) -> KpiView:
    kpi = result.kpi
    trend = charts.trend_chart(result, report)
    # A hidden result already says why; its note would only repeat it. A recorded KPI's cell
    # note is in its facts.
    cell_note = (
        ""
        if kpi.is_recorded and result.overall.status is not Status.NOT_REPORTED
        else (result.overall.note)
    )
    notes = [n for n in (result.note, cell_note) if n and not result.overall.suppressed]
    tables = tuple(
        Table(
            kpi,
            s,
            f"{kpi.id} by {SEGMENT_TITLES[s].lower()}",
            tuple(_row(c) for c in result.breakdowns[s]),
        )
        for s in shown_segments(kpi, result)
    )
    return KpiView(
        result=result,
        anchor="kpi-" + "".join(ch if ch.isalnum() else "-" for ch in kpi.id.lower()),
        chart=Chart(_uri(charts.kpi_chart(result, report)), _chart_alt(result))
        if _has_figures(result)
        else None,
        trend=None if trend is None else Chart(_uri(trend), _trend_alt(result)),
        facts=_facts(result),
        outcomes=_outcomes(result),
        narrative=report.narratives.get(kpi.id, "").strip(),
        notes=tuple(dict.fromkeys(notes)),
        tables=tables,
        below_target=result.status in (Status.AMBER, Status.RED, Status.NOT_REPORTED),
    )


def _rate_row(cell: RateCell) -> dict[str, Any]:
    return {
        "label": cell.label,
        "invited": DASH if cell.invited is None else str(cell.invited),
        "responded": DASH if cell.responded is None else str(cell.responded),
        "rate": "not shown" if cell.suppressed else percent(cell.rate),
        "note": "; ".join(
            x for x in (hidden_text_rate(cell) if cell.suppressed else cell.note, cell.warning) if x
        ),
        "suppressed": cell.suppressed,
    }


def hidden_text_rate(cell: RateCell) -> str:
    """Say why a response rate is not shown."""
    return hidden_text(Cell(label=cell.label, status=Status.SUPPRESSED, note=cell.note))


def _rates(rates: ResponseRates) -> dict[str, Any]:
    return {
        "round": rates.round,
        "overall": _rate_row(rates.overall),
        "segments": [
            (SEGMENT_TITLES.get(segment, segment), [_rate_row(c) for c in cells])
            for segment, cells in rates.segments.items()
            if cells
        ],
    }


def definition_lines(kpi: Kpi) -> list[tuple[str, str, bool]]:
    """Give (term, text, is code) lines saying how a KPI is computed."""
    lines: list[tuple[str, str, bool]] = []
    if kpi.source:
        lines.append(("Source", kpi.source, False))
    if kpi.survey:
        lines.append(("Survey", kpi.survey, False))
    if kpi.kind is KpiKind.PROPORTION:
        lines.append(("Counted (numerator)", kpi.numerator_text, True))
        lines.append(("Out of (denominator)", kpi.denominator_text, True))
    elif kpi.kind is KpiKind.AUDIENCES:
        for part in kpi.parts:
            lines.append((f"{part.title}: survey", part.survey or "", False))
            lines.append((f"{part.title}: counted", part.numerator_text, True))
            lines.append((f"{part.title}: out of", part.denominator_text, True))
        lines.append(("Combined", COMBINE_METHODS[kpi.combine], False))
    elif kpi.kind is KpiKind.COUNT:
        lines.append(("Counted", "different organisations with a completed response", False))
        if kpi.where_text:
            lines.append(("Where", kpi.where_text, True))
        lines.append(
            (
                "Window",
                f"rounds opened in the {kpi.window_days} days up to the round's close",
                False,
            )
        )
    elif kpi.kind is KpiKind.AWARENESS:
        if kpi.aware:
            lines.append(("Aware (each outcome)", f"selected in {kpi.aware}", False))
        if kpi.raised:
            lines.append(("Raised by the CVS", f"selected in {kpi.raised}", False))
        if kpi.raised_among_text:
            lines.append(("Raised: out of", kpi.raised_among_text, True))
    elif kpi.kind is KpiKind.ACTIVITY:
        if kpi.measure == "members":
            lines.append(("Counted", "member groups on the provider's list", False))
        else:
            kinds = ", ".join(kpi.activities)
            lines.append(("Records", f"the provider's activity records of kind {kinds}", False))
            lines.append(("Counted", f"{unit(kpi)}, dated in the report's period", False))
        if kpi.target_period == "year":
            lines.append(
                ("Annual target", "compared pro rata to the period's length in days", False)
            )
    elif kpi.kind is KpiKind.EVIDENCE:
        lines.append(
            (
                "Judged",
                "by the provider's staff, on the evidence they attach for the period, with "
                "the reason; not reported when nothing is attached and no status is set",
                False,
            )
        )
        if kpi.case_studies:
            per = "a year, pro rata" if kpi.target_period == "year" else "in each period"
            lines.append(("Case studies asked for", f"{kpi.case_studies} {per}", False))
    elif kpi.kind is KpiKind.MILESTONE:
        lines.append(
            (
                "Judged",
                "by the provider's milestone dates at the period's end: met, on track, late "
                "(progress or achievement after its date) or missed",
                False,
            )
        )
    elif kpi.kind is KpiKind.TARGETS_MET:
        lines.append(
            (
                "Counted",
                "every other KPI with a target: met, not met, or not reported (counted as not "
                "met); a KPI with too few answers to judge is listed but not counted",
                False,
            )
        )
    elif kpi.kind is KpiKind.RECORDS:
        records = "enquiries" if kpi.is_count else "enquiries and placements"
        lines.append(("Records", f"the provider's volunteer {records}", False))
        if kpi.is_count:
            lines.append(("Counted", "volunteer enquiries dated in the report's period", False))
        else:
            lines.append(("Out of", "volunteer enquiries dated in the report's period", False))
            lines.append(("Counted", "those taken up by a placement (see the note)", False))
        lines.append(
            (
                "Period",
                "the dates of the provider's follow-up round for the period (ending the "
                "day before its next period starts, so that no day counts twice), else the "
                "period's label read as a UK financial year (April to March; H1, H2, Q1-Q4)",
                False,
            )
        )
        if kpi.target_period == "year":
            lines.append(
                ("Annual target", "compared pro rata to the period's length in days", False)
            )
    lines.append(("Target", str(kpi.target), False))
    if kpi.target_text:
        lines.append(("Target in the source's words", kpi.target_text, False))
    for benchmark in kpi.benchmarks:
        lines.append(
            (
                f"Benchmark: {benchmark.label}",
                f"{benchmark_value(benchmark.value)} in {benchmark.year}: {benchmark.source}",
                False,
            )
        )
    if kpi.note:
        lines.append(("Note", kpi.note, False))
    return lines


def report_view(report: KpiReport) -> dict[str, Any]:
    """Gather what the templates show (charts drawn, every figure written as text)."""
    anchor = report.round
    results = report.results
    views = {r.kpi.id: _kpi_view(r, report) for r in results}
    known = {r.kpi.id for r in results}
    grouped = [
        (group, [views[k.id] for k in kpis if k.id in known])
        for group, kpis in report.framework.grouped()
    ]
    glance: list[dict[str, Any]] = [
        {
            "result": r,
            "anchor": "kpi-" + "".join(ch if ch.isalnum() else "-" for ch in r.kpi.id.lower()),
            "value": "not shown" if r.overall.suppressed else headline_text(r),
            "n": n_text(r.overall),
            "interval": interval_text(r.overall.low, r.overall.high),
            "change": (change_text(r.change) if is_share(r.kpi) else DASH),
            "focus": None
            if r.focus is None
            else {
                "label": r.focus.label,
                "value": result_text(r.focus),
                "n": n_text(r.focus),
                "interval": interval_text(r.focus.low, r.focus.high),
                "status": r.focus.status,
                "note": hidden_text(r.focus) if r.focus.suppressed else "",
            },
        }
        for r in results
    ]
    rows = {row["result"].kpi.id: row for row in glance}
    return {
        "groups": grouped,
        "overview": report.overview,
        "report": report,
        "framework": report.framework,
        "provider": report.provider_name,
        "round": anchor,
        "opens": long_date(anchor.opens_at),
        "closes": long_date(anchor.closes_at),
        # A round closed early: the day it really closed, beside the one it was due to.
        "closed_early": long_date(anchor.ends_at) if anchor.closed_early else None,
        "summary": summarise(report),
        "glance": glance,
        "glance_groups": [
            (group, [rows[view.result.kpi.id] for view in group_views])
            for group, group_views in grouped
        ],
        "kpis": [views[r.kpi.id] for r in results],
        "members": report.members,
        "focus": report.framework.focus,
        "locality": _locality(report),
        "rates": [_rates(r) for r in report.response_rates],
        "definitions": [(r.kpi, definition_lines(r.kpi)) for r in results],
        "rag_rule": report.rag_rule,
        "suppression": (
            "Groups with fewer than 5 responses are not shown (no count, percentage, interval or "
            "status), and where a breakdown adds up to a total, the next smallest group is "
            "hidden too, so that a small group cannot be worked out from the others."
        ),
        "change_method": CHANGE_METHOD,
        "interval_method": (
            "95% confidence intervals are Wilson score intervals: the range the true share "
            "probably lies in, given how many groups answered."
        ),
    }


def _locality(report: KpiReport) -> Chart | None:
    result = charts.locality_result(report)
    png = charts.locality_chart(report)
    if result is None or png is None:
        return None
    parts = [f"{c.label} {result_text(c)}" for c in result.breakdowns.get("district", ())]
    return Chart(_uri(png), f"Bar chart of {result.kpi.id} by district: " + "; ".join(parts) + ".")


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["status_word"] = status_word
    env.globals["Status"] = Status
    env.globals["TAGS"] = TAGS
    return env


def report_css() -> str:
    """Give the standalone document's stylesheet (screen and A4 print)."""
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def report_html(report: KpiReport, *, standalone: bool = True) -> str:
    """Render the report as a whole HTML document (standalone) or a fragment for the site."""
    env = _environment()
    context = report_view(report)
    context["c"] = PLAIN if standalone else GOVUK
    context["standalone"] = standalone
    body = env.get_template("body.html").render(context)
    if not standalone:
        return body
    return env.get_template("document.html").render(
        title=f"{report.provider_name}: {report.framework.title}, {report.round.period}",
        css=markupsafe.Markup(report_css()),
        body=markupsafe.Markup(body),
    )


def collective_html(collective: CollectiveReport) -> str:
    """Render a framework's collective report as one standalone document (and so a PDF)."""
    env = _environment()
    lines = {line.kpi.id: line for line in collective.lines}
    bodies = []
    for report in collective.reports:
        context = report_view(report)
        context["c"] = PLAIN
        context["standalone"] = True
        bodies.append(markupsafe.Markup(env.get_template("body.html").render(context)))
    side = [
        {
            "kpi": kpi,
            "cells": [
                (
                    "not shown" if r.overall.suppressed else headline_text(r),
                    r.status,
                )
                for r in collective.results(kpi.id)
            ],
        }
        for kpi in collective.framework.kpis
    ]
    body = env.get_template("collective.html").render(
        framework=collective.framework,
        period=collective.period,
        providers=collective.providers,
        county_groups=[
            (group, [lines[k.id] for k in kpis]) for group, kpis in collective.framework.grouped()
        ],
        side=side,
        bodies=bodies,
    )
    return env.get_template("document.html").render(
        title=f"{collective.framework.title}: collective report, {collective.period}",
        css=markupsafe.Markup(report_css()),
        body=markupsafe.Markup(body),
    )
