"""The report as a short message (email body, Telegram): targets met, one line per KPI, the link.

Kept under about 1,000 characters: titles are shortened when the KPIs would not fit.
"""

from __future__ import annotations

from collections.abc import Sequence

from analysis.kpis.definitions import KpiKind
from analysis.kpis.results import KpiResult
from analysis.model import KpiReport
from analysis.render.formats import (
    benchmark_value,
    headline_text,
    interval_text,
    is_share,
    result_text,
    status_word,
    summarise,
    unit,
)

__all__ = ["LIMIT", "report_message"]

LIMIT = 1000


def _line(result: KpiResult, title_width: int) -> str:
    kpi, cell = result.kpi, result.overall
    title = kpi.title if len(kpi.title) <= title_width else kpi.title[: title_width - 1] + "…"
    head = f"{kpi.id} {title}: " if title_width else f"{kpi.id}: "
    if cell.suppressed:
        return f"- {head}fewer than 5 answers, not shown"
    if kpi.kind is KpiKind.AWARENESS and result.outcomes:
        figures = f"{headline_text(result)} (n={cell.n})"
        return f"- {head}{figures}: {status_word(result.status)}"
    if cell.text and cell.count is None:
        # An amount, or an evidence indicator's or a milestone's verdict.
        target = f", target {result.target}" if result.target.numeric else ""
        return f"- {head}{cell.text}{target}: {status_word(result.status)}"
    if cell.proportion is None and cell.count is None:
        return f"- {head}no data"
    if is_share(kpi):
        figures = f"{result_text(cell)} (n={cell.n}, 95% CI {interval_text(cell.low, cell.high)})"
    elif kpi.kind is KpiKind.TARGETS_MET:
        figures = f"{result_text(cell)} ({cell.numerator} of {cell.n} KPIs)"
    elif kpi.kind is KpiKind.RECORDS:
        figures = f"{result_text(cell)} {unit(kpi)}"
    else:
        figures = result_text(cell)
    target = f", target {result.target}" if str(result.target) != "none" else ""
    if kpi.benchmarks:
        target += ", against " + ", ".join(
            f"{b.label} {benchmark_value(b.value)} ({b.year})" for b in kpi.benchmarks
        )
    return f"- {head}{figures}{target}: {status_word(result.status)}"


def report_message(report: KpiReport, link: str) -> str:
    """Write the report as a short plain text with a link to the full report."""
    summary = summarise(report)
    top = [
        f"{report.provider_name}: {report.framework.title}, {report.round.period}",
        f"{summary.headline}.",
        "",
    ]
    bottom = ["", f"Full report, with intervals, breakdowns and explanations: {link}"]
    # A framework with many KPIs (leicestershire-val has 14) says those with no data in one
    # line, before it shortens titles further.
    for collapse, widths in ((False, (60, 44)), (True, (60, 44, 32, 20, 0))):
        for width in widths:
            lines = _lines(report.results, width, collapse)
            text = "\n".join([*top, *lines, *bottom]) + "\n"
            if len(text) <= LIMIT:
                return text
    return text


def _lines(results: Sequence[KpiResult], width: int, collapse: bool) -> list[str]:
    """Give one line per KPI, or (`collapse`) one line for all those with no data."""
    if not collapse:
        return [_line(result, width) for result in results]
    empty = [r for r in results if _no_data(r)]
    # Evidence indicators and milestones have a verdict, not a figure: one line per status.
    verdicts = [
        r
        for r in results
        if r.kpi.kind in (KpiKind.EVIDENCE, KpiKind.MILESTONE) and not _no_data(r)
    ]
    lines = [
        _line(result, width)
        for result in results
        if not _no_data(result) and result not in verdicts
    ]
    if verdicts:
        by_status: dict[str, list[str]] = {}
        for r in verdicts:
            by_status.setdefault(status_word(r.status), []).append(r.kpi.id)
        listed = "; ".join(f"{word} {', '.join(ids)}" for word, ids in by_status.items())
        lines.append(f"- Evidence and milestones: {listed}")
    if empty:
        lines.append(f"- No data this time: {', '.join(r.kpi.id for r in empty)}")
    return lines


def _no_data(result: KpiResult) -> bool:
    cell = result.overall
    return (
        not cell.suppressed
        and not (result.kpi.kind is KpiKind.AWARENESS and result.outcomes)
        and cell.proportion is None
        and cell.count is None
        and not cell.text
    )
