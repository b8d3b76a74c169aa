"""Render KPI reports for people and programs: a terminal table, JSON and CSV.

Renderers only read :class:`analysis.model.KpiReport` objects, whose small cells are already
empty (see :mod:`analysis.suppression`), so nothing here can show a hidden count.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any

import click

from analysis.comparisons import RateCell, ResponseRates, side_by_side
from analysis.kpis.definitions import KpiKind
from analysis.kpis.results import Cell, Change, KpiResult
from analysis.kpis.targets import Status
from analysis.model import KpiReport
from analysis.render.formats import DASH, benchmark_value, interval_text, percent
from analysis.segments import SEGMENT_TITLES
from analysis.suppression import SUPPRESS_BELOW
from collector.segments import OUTCOMES
from collector.spreadsheets import csv_cell

if TYPE_CHECKING:
    from analysis.drift import Drift

__all__ = ["CSV_COLUMNS", "to_csv", "to_json", "to_table"]

STATUS_COLOURS = {
    Status.GREEN: "green",
    Status.AMBER: "yellow",
    Status.RED: "red",
}
TITLE_WIDTH = 46


# --- JSON ----------------------------------------------------------------------------------


def to_json(reports: Sequence[KpiReport], changes: Sequence[Drift] = ()) -> str:
    """Render reports as JSON: every figure, each hidden cell as nulls with its note, and (in
    `changed_since_published`) the figures that differ from those published for the period."""
    out = []
    for report in reports:
        data = report.to_json()
        data["changed_since_published"] = [
            c.to_json()
            for c in changes
            if (c.framework, c.provider) == (report.framework.id, report.provider)
        ]
        out.append(data)
    return json.dumps({"reports": out}, indent=2, ensure_ascii=False)


# --- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "framework",
    "provider",
    "round_id",
    "period",
    "kpi",
    "kpi_title",
    "measure",
    "segment",
    "group",
    "n",
    "numerator",
    "proportion",
    "ci_low",
    "ci_high",
    "count",
    "target",
    "status",
    "previous_period",
    "previous_proportion",
    "change",
    "change_ci_low",
    "change_ci_high",
    "change_verdict",
    "note",
)


def _cell_fields(cell: Cell) -> dict[str, Any]:
    return {
        "group": cell.label,
        "n": cell.n,
        "numerator": cell.numerator,
        "proportion": cell.proportion,
        "ci_low": cell.low,
        "ci_high": cell.high,
        "count": cell.count,
        "status": str(cell.status),
        "note": cell.note,
    }


def _change_fields(change: Change | None) -> dict[str, Any]:
    if change is None:
        return {}
    return {
        "previous_period": change.previous_round.period,
        "previous_proportion": change.previous.proportion,
        "change": change.difference,
        "change_ci_low": change.low,
        "change_ci_high": change.high,
        "change_verdict": change.verdict,
    }


def csv_rows(reports: Sequence[KpiReport]) -> list[dict[str, Any]]:
    """Give one flat row per figure: overall, breakdown groups, outcomes, response rates."""
    rows: list[dict[str, Any]] = []
    for report in reports:
        for result in report.results:
            kpi = result.kpi
            base = {
                "framework": report.framework.id,
                "provider": report.provider,
                "round_id": result.round.id if result.round else None,
                "period": result.round.period if result.round else None,
                "kpi": kpi.id,
                "kpi_title": kpi.title,
                "target": str(result.target),
            }
            overall = {**base, "measure": "overall", **_cell_fields(result.overall)}
            if result.note and not overall["note"]:
                overall["note"] = result.note
            rows.append({**overall, **_change_fields(result.change)})
            if result.focus is not None:
                rows.append({**base, "measure": "focus", **_cell_fields(result.focus)})
            for benchmark, comparison in result.benchmarks():
                rows.append(
                    {
                        **base,
                        "measure": "benchmark",
                        "group": f"{benchmark.label} ({benchmark.year})",
                        "proportion": float(benchmark.value),
                        "note": "; ".join(x for x in (benchmark.source, comparison) if x),
                    }
                )
            for segment, cells in result.breakdowns.items():
                for cell in cells:
                    rows.append(
                        {**base, "measure": "breakdown", "segment": segment, **_cell_fields(cell)}
                    )
            for outcome in result.outcomes:
                rows.append(
                    {
                        **base,
                        "measure": "aware",
                        "segment": "outcome",
                        **_cell_fields(outcome.aware),
                        "status": str(outcome.status),
                        **_change_fields(outcome.change),
                    }
                )
                rows.append(
                    {
                        **base,
                        "measure": "raised",
                        "segment": "outcome",
                        **_cell_fields(outcome.raised),
                    }
                )
        for rates in report.response_rates:
            base = {
                "framework": report.framework.id,
                "provider": report.provider,
                "round_id": rates.round.id,
                "period": rates.round.period,
                "kpi": "response rate",
                "kpi_title": f"Response rate ({rates.round.survey})",
                "measure": "response_rate",
            }
            rows.append({**base, **_rate_fields(rates.overall)})
            for segment, rate_cells in rates.segments.items():
                for rate in rate_cells:
                    rows.append({**base, "segment": segment, **_rate_fields(rate)})
    return rows


def _rate_fields(cell: RateCell) -> dict[str, Any]:
    return {
        "group": cell.label,
        "n": cell.invited,
        "numerator": cell.responded,
        "proportion": cell.rate,
        "status": "suppressed" if cell.suppressed else "",
        "note": "; ".join(x for x in (cell.note, cell.warning) if x),
    }


def to_csv(reports: Sequence[KpiReport]) -> str:
    """Render reports as CSV, one row per figure (columns: CSV_COLUMNS)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(reports):
        writer.writerow({key: "" if v is None else csv_cell(v) for key, v in row.items()})
    return out.getvalue()


# --- the terminal table --------------------------------------------------------------------


def _interval(cell: Cell) -> str:
    return interval_text(cell.low, cell.high)


def _status_text(status: Status) -> str:
    return str(status).upper() if status.judged else str(status)


def _result_text(cell: Cell) -> str:
    if cell.suppressed:
        return f"fewer than {SUPPRESS_BELOW}"
    if cell.text:
        return cell.text  # an amount, or a verdict (evidence, milestones)
    if cell.count is not None:
        return str(cell.count)
    return percent(cell.proportion)


def _n_text(cell: Cell) -> str:
    return DASH if cell.n is None else str(cell.n)


def _change_text(change: Change | None) -> str:
    if change is None:
        return ""
    was = change.previous
    if was.suppressed:
        return f"{change.verdict} ({change.previous_round.period}: fewer than {SUPPRESS_BELOW})"
    if change.difference is None:
        return change.verdict
    return f"{change.verdict} (was {percent(was.proportion)})"


def _short(text: str, width: int = TITLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


Styler = Callable[[str, Status], str]


def _styler(colour: bool) -> Styler:
    def style(text: str, status: Status) -> str:
        fg = STATUS_COLOURS.get(status)
        if not colour or fg is None:
            return text
        return click.style(text, fg=fg, bold=status is Status.RED)

    return style


def _table(
    headers: Sequence[str],
    rows: Sequence[tuple[Sequence[str], dict[int, Status]]],
    style: Styler,
    right: Sequence[int] = (),
) -> list[str]:
    """Lay out rows (cells, {column: status to colour}) under headers, padded before styling."""
    widths = [len(h) for h in headers]
    for cells, _ in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for cells, colours in rows:
        parts = []
        # Nothing is padded after the last cell with text: no trailing spaces, coloured or not.
        last = max((n for n, text in enumerate(cells) if text), default=0)
        for n, (text, width) in enumerate(zip(cells[: last + 1], widths, strict=False)):
            if n == last and n not in right:
                padded = text
            else:
                padded = text.rjust(width) if n in right else text.ljust(width)
            parts.append(style(padded, colours[n]) if n in colours else padded)
        lines.append("  ".join(parts))
    return lines


def _rounds_text(round_ids: Sequence[int]) -> str:
    return ", ".join(f"round {r}" for r in round_ids)


def _provider_line(report: KpiReport) -> str:
    anchor = report.round
    if report.is_alliance:
        counted = [
            f"{m.name} ({'; '.join(x for x in (_rounds_text(m.rounds), m.note) if x)})"
            for m in report.members
        ]
        return (
            f"{report.provider_name} (alliance) · {anchor.survey} {anchor.period}, all its "
            f"providers' responses together: " + "; ".join(counted)
        )
    line = (
        f"{report.provider_name} · {anchor.survey} {anchor.period} "
        f"(round {anchor.id}, {anchor.status})"
    )
    rates = next((r for r in report.response_rates if r.round.id == anchor.id), None)
    if rates is not None:
        overall = rates.overall
        if overall.suppressed:
            line += f" · fewer than {SUPPRESS_BELOW} responses"
        elif overall.rate is not None:
            line += (
                f" · response rate {percent(overall.rate)} "
                f"({overall.responded} of {overall.invited} invited)"
            )
    return line


def _detail_rows(
    result: KpiResult, by: str | None
) -> list[tuple[Sequence[str], dict[int, Status]]]:
    kpi = result.kpi
    overall = result.overall
    rows: list[tuple[Sequence[str], dict[int, Status]]] = []
    change = _change_text(result.change)
    note = change or overall.note or result.note
    if kpi.kind is KpiKind.TARGETS_MET and overall.n is not None:
        note = overall.note
    if result.period is not None and result.note and change:
        # A records KPI's note says what its figures count (interim, part of a period): it
        # comes before the change, not instead of it.
        note = f"{result.note}; {change}"
    if result.period is not None and not note:
        what = "records" if kpi.is_recorded else "enquiries"
        note = f"{what} dated {result.period.describe()}"
    status = overall.status
    rows.append(
        (
            [
                kpi.id,
                _short(kpi.title),
                _n_text(overall),
                _result_text(overall),
                _interval(overall),
                str(result.target),
                _status_text(status),
                note,
            ],
            {6: status},
        )
    )
    for outcome in result.outcomes:
        name = OUTCOMES.get(outcome.value, outcome.label)
        for measure, cell, text in (
            ("aware now", outcome.aware, _change_text(outcome.change)),
            ("raised by CVS", outcome.raised, ""),
        ):
            cell_status = outcome.status if cell is outcome.aware else cell.status
            shown = _status_text(cell_status) if cell is outcome.aware else ""
            rows.append(
                (
                    [
                        "",
                        _short(f"  {measure}: {name}"),
                        _n_text(cell),
                        _result_text(cell),
                        _interval(cell),
                        "",
                        shown,
                        text or cell.note,
                    ],
                    {6: cell_status},
                )
            )
    if result.focus is not None:
        focus = result.focus
        rows.append(
            (
                [
                    "",
                    _short(f"  Focus: {focus.label}"),
                    _n_text(focus),
                    _result_text(focus),
                    _interval(focus),
                    "",
                    _status_text(focus.status),
                    focus.note if focus.suppressed else "",
                ],
                {6: focus.status},
            )
        )
    for benchmark, comparison in result.benchmarks():
        rows.append(
            (
                [
                    "",
                    _short(f"  Benchmark: {benchmark.label} {benchmark.year}"),
                    "",
                    benchmark_value(benchmark.value),
                    "",
                    "",
                    "",
                    f"{comparison or 'no result to compare'} ({benchmark.source})",
                ],
                {},
            )
        )
    segments = (["provider"] if "provider" in result.breakdowns else []) + list(kpi.breakdowns)
    if by is not None and by in result.breakdowns and by not in segments:
        segments.append(by)
    for segment in segments:
        for cell in result.breakdowns.get(segment, ()):
            rows.append(
                (
                    [
                        "",
                        _short(f"  {SEGMENT_TITLES[segment]}: {cell.label}"),
                        _n_text(cell),
                        _result_text(cell),
                        _interval(cell),
                        "",
                        _status_text(cell.status),
                        cell.note
                        if cell.suppressed
                        or cell.status is Status.NOT_ENOUGH_DATA
                        or segment == "provider"
                        else "",
                    ],
                    {6: cell.status},
                )
            )
    return rows


def _rates_lines(rates: ResponseRates, by: str | None) -> list[str]:
    lines = []
    if by is not None and by in rates.segments:
        lines.append("")
        lines.append(
            f"Response rates by {SEGMENT_TITLES[by].lower()} ({rates.round.survey} "
            f"{rates.round.period}):"
        )
        for cell in rates.segments[by]:
            if cell.suppressed:
                figures = f"fewer than {SUPPRESS_BELOW} responses"
            else:
                figures = f"{percent(cell.rate)} ({cell.responded} of {cell.invited})"
            warning = f"  ! {cell.warning}" if cell.warning else ""
            lines.append(f"  {cell.label:32s} {figures}{warning}")
    return lines


def _warnings(report: KpiReport) -> list[str]:
    lines = []
    for rates in report.response_rates:
        for segment, cell in rates.warnings:
            lines.append(
                f"  ! {rates.round.survey} {rates.round.period}, "
                f"{SEGMENT_TITLES[segment].lower()} '{cell.label}': {cell.warning}"
            )
    return lines


DETAIL_HEADERS = ("KPI", "Indicator", "n", "Result", "95% CI", "Target", "Status", "Change / note")


def _detail(report: KpiReport, by: str | None, style: Styler, colour: bool) -> list[str]:
    lines = [
        click.style(f"{report.framework.title} ({report.framework.id})", bold=True)
        if colour
        else f"{report.framework.title} ({report.framework.id})",
        _provider_line(report),
        "",
    ]
    rows = [row for result in report.results for row in _detail_rows(result, by)]
    lines += _table(DETAIL_HEADERS, rows, style, right=(2, 3))
    for rates in report.response_rates:
        if rates.round.id == report.round.id:
            lines += _rates_lines(rates, by)
    warnings = _warnings(report)
    if warnings:
        lines += ["", "Response-rate warnings:", *warnings]
    return lines


def _compact(cell: Cell | None, *, of_kpis: bool = False) -> tuple[str, Status]:
    if cell is None:
        return "no data", Status.NO_DATA
    if cell.suppressed:
        return f"fewer than {SUPPRESS_BELOW}", cell.status
    if cell.count is not None:
        figure = f"{cell.count}"
    elif cell.proportion is not None and of_kpis:
        figure = f"{percent(cell.proportion)} of {cell.n} KPIs"
    elif cell.proportion is not None:
        figure = f"{percent(cell.proportion)} n={cell.n}"
    elif cell.n is not None:
        figure = f"n={cell.n}"
    else:
        figure = ""
    status = _status_text(cell.status) if cell.status is not Status.NO_TARGET else ""
    return " ".join(x for x in (figure, status) if x) or str(cell.status), cell.status


def _side_by_side(
    reports: Sequence[KpiReport], by: str | None, style: Styler, colour: bool
) -> list[str]:
    framework = reports[0].framework
    view = side_by_side(framework, [(r.provider, r.provider_name, r.results) for r in reports])
    title = f"{framework.title} ({framework.id}): providers side by side"
    lines = [click.style(title, bold=True) if colour else title]
    for report in reports:
        lines.append(f"  {_provider_line(report)}")
    lines.append("")
    headers = ["KPI", "Indicator", "Target", *[name for _, name in view.providers]]
    rows: list[tuple[Sequence[str], dict[int, Status]]] = []
    for kpi, results in view.rows:
        # A period's target (an annual one pro rata) when the providers' results agree on it.
        targets = {str(r.target) for r in results if r is not None}
        target = targets.pop() if len(targets) == 1 else str(kpi.target)
        texts, colours = [kpi.id, _short(kpi.title, 40), target], {}
        for n, result in enumerate(results):
            text, status = _compact(
                None if result is None else result.overall,
                of_kpis=kpi.kind is KpiKind.TARGETS_MET,
            )
            texts.append(text)
            colours[3 + n] = status
        rows.append((texts, colours))
        if any(r is not None and r.focus is not None for r in results):
            label = next(r.focus.label for r in results if r is not None and r.focus is not None)
            texts, colours = ["", _short(f"  Focus: {label}", 40), ""], {}
            for n, result in enumerate(results):
                focus = None if result is None else result.focus
                text, status = _compact(focus) if focus else ("–", Status.NO_DATA)
                texts.append(text)
                colours[3 + n] = status
            rows.append((texts, colours))
        for benchmark in kpi.benchmarks:
            texts = ["", _short(f"  Benchmark: {benchmark.label} {benchmark.year}", 40), ""]
            texts += [benchmark_value(benchmark.value)] * len(results)
            rows.append((texts, {}))
        segments = list(kpi.breakdowns) + ([by] if by and by not in kpi.breakdowns else [])
        for segment in segments:
            labels: dict[str | None, str] = {}
            for result in results:
                for cell in result.breakdowns.get(segment, ()) if result else ():
                    labels.setdefault(cell.key, cell.label)
            for key, label in labels.items():
                texts, colours = ["", _short(f"  {SEGMENT_TITLES[segment]}: {label}", 40), ""], {}
                for n, result in enumerate(results):
                    found = next(
                        (
                            c
                            for c in (result.breakdowns.get(segment, ()) if result else ())
                            if c.key == key
                        ),
                        None,
                    )
                    text, status = _compact(found) if found else ("–", Status.NO_DATA)
                    texts.append(text)
                    colours[3 + n] = status
                rows.append((texts, colours))
    lines += _table(headers, rows, style)
    warnings = [line for report in reports for line in _warnings(report)]
    if warnings:
        lines += ["", "Response-rate warnings:", *warnings]
    return lines


def _changed(changes: Sequence[Drift], style: Styler) -> list[str]:
    lines = ["Changed since published (the funders have the published figures):"]
    for change in changes:
        mark = style("!", Status.AMBER)
        lines.append(f"  {mark} {change.provider_name}: {change.line()}")
    return lines


def to_table(
    reports: Sequence[KpiReport],
    *,
    by: str | None = None,
    colour: bool = False,
    changes: Sequence[Drift] = (),
) -> str:
    """Render reports as readable text: one provider in detail, several side by side, then
    the figures that changed since their period's report was published."""
    if not reports:
        return "No rounds to report on.\n"
    style = _styler(colour)
    blocks: list[list[str]] = []
    for _, group in groupby(reports, key=lambda r: r.framework.id):
        same = list(group)
        if len(same) == 1:
            blocks.append(_detail(same[0], by, style, colour))
        else:
            blocks.append(_side_by_side(same, by, style, colour))
    if changes:
        blocks.append(_changed(changes, style))
    footer = [
        "How to read the status: " + reports[0].rag_rule,
        "Change since the previous round: the difference with Newcombe's 95% interval; "
        "'more than chance' when the whole interval is on one side of zero.",
    ]
    return "\n\n".join("\n".join(block) for block in [*blocks, footer]) + "\n"
