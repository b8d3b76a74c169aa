"""PNG charts of a KPI report (matplotlib, Agg): a KPI against its target, the change since
the previous round, and the localities side by side.

Status is shown three ways, so the charts read in greyscale and for colour-blind readers: a
colour from the Okabe-Ito palette, a hatching pattern, and the word (Green, Amber, Red) beside
each bar. Hidden cells (fewer than 5 answers) get no bar, only a note.

Each chart is drawn on its own ``Figure`` with an Agg canvas, never through pyplot, so charts
can be drawn in several threads at once without sharing pyplot's global state.
"""

from __future__ import annotations

import dataclasses
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from analysis.kpis.definitions import Kpi, KpiKind
from analysis.kpis.results import Cell, KpiResult
from analysis.kpis.targets import Status, Target
from analysis.model import KpiReport
from analysis.render.formats import HIDDEN, hidden_text, percent, respondents, status_word

__all__ = ["PALETTE", "kpi_chart", "locality_chart", "locality_result", "trend_chart"]

WIDTH, HEIGHT, DPI = 8.0, 4.0, 100  # 800 x 400 pixels
SINGLE_HEIGHT = 3.0  # one bar: 800 x 300
# Okabe-Ito: told apart by the common kinds of colour blindness; hatching tells them apart in
# greyscale.
PALETTE: dict[Status, tuple[str, str]] = {
    Status.GREEN: ("#009E73", ""),
    Status.AMBER: ("#E69F00", "//"),
    Status.RED: ("#D55E00", "xx"),
}
UNJUDGED = ("#BBBBBB", "..")
INK = "#0B0C0C"
TARGET_INK = "#1D3557"


@dataclass(frozen=True)
class _Bar:
    """One bar to draw: its label, value (0-1 or a count), interval and status."""

    label: str
    cell: Cell

    @property
    def value(self) -> float | None:
        if self.cell.suppressed:
            return None
        if self.cell.count is not None:
            return float(self.cell.count)
        return self.cell.proportion


def _figure(height: float = HEIGHT) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    # No Software/date metadata: the same report gives byte-identical charts.
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _title(figure: Figure, text: str, subtitle: str = "") -> float:
    """Write the title and a subtitle at the top left; give the top of the plot below them.

    Laid out in pixels, so a long title or subtitle that wraps pushes the plot down rather
    than running into it.
    """
    height = figure.get_figheight() * DPI
    lines = textwrap.wrap(text, 80)
    figure.text(
        0.02,
        1 - 12 / height,
        "\n".join(lines),
        ha="left",
        va="top",
        fontsize=12,
        fontweight="bold",
        color=INK,
    )
    used = 16 + 18 * len(lines)
    if subtitle:
        sublines = textwrap.wrap(subtitle, 115)
        figure.text(
            0.02,
            1 - (used + 4) / height,
            "\n".join(sublines),
            ha="left",
            va="top",
            fontsize=9.5,
            color="#383F43",
        )
        used += 4 + 15 * len(sublines)
    # Room for the target's label above the plot.
    return 1 - (used + 34) / height


def _style(status: Status) -> tuple[str, str]:
    return PALETTE.get(status, UNJUDGED)


def _label(bar: _Bar, percentage: bool) -> str:
    value = bar.value
    if value is None:
        return ""
    figure = percent(value) if percentage else str(int(value))
    return f"{figure}  {status_word(bar.cell.status)}"


def _bars(
    axes: Axes,
    bars: Sequence[_Bar],
    *,
    percentage: bool,
    limit: float,
    markers: Sequence[float | None] = (),
) -> None:
    """Draw horizontal bars, top to bottom, with intervals, labels, and notes for hidden ones.

    `markers` are values drawn on the same rows (the previous round's): labels go past them.
    """
    positions = list(range(len(bars)))[::-1]
    beyond = list(markers) + [None] * (len(bars) - len(markers))
    for y, bar, marker in zip(positions, bars, beyond, strict=True):
        value = bar.value
        if value is None:
            note = hidden_text(bar.cell) if bar.cell.suppressed else (bar.cell.note or "no data")
            # On a white ground, so the target line does not strike the words through.
            axes.text(
                0.01 * limit,
                y,
                note,
                va="center",
                ha="left",
                fontsize=9.5,
                style="italic",
                color="#505A5F",
                zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
            )
            continue
        colour, hatch = _style(bar.cell.status)
        axes.barh(y, value, height=0.55, color=colour, hatch=hatch, edgecolor=INK, linewidth=0.8)
        end = value
        if bar.cell.low is not None and bar.cell.high is not None and percentage:
            axes.errorbar(
                value,
                y,
                xerr=[[value - bar.cell.low], [bar.cell.high - value]],
                fmt="none",
                ecolor=INK,
                elinewidth=1.4,
                capsize=5,
                capthick=1.4,
            )
            end = bar.cell.high
        if marker is not None:
            end = max(end, marker + 0.015 * limit)
        # On a white ground above the target line, which would otherwise strike it through.
        axes.text(
            end + 0.015 * limit,
            y,
            _label(bar, percentage),
            va="center",
            ha="left",
            fontsize=10,
            fontweight="bold",
            color=INK,
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
        )
    axes.set_yticks(positions, [_wrap(b.label, 28) for b in bars], fontsize=9.5)
    axes.set_ylim(-0.7, len(bars) - 0.3)
    # Room on the right for the labels ("100%  Not enough data" past a whisker at 100%); the
    # axis itself stops at the limit.
    long_label = any(b.value is not None and not b.cell.status.judged for b in bars)
    axes.set_xlim(0, limit * (1.45 if long_label else 1.3))
    axes.spines["bottom"].set_bounds(0, limit)
    if percentage:
        axes.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: percent(x)))
    else:
        axes.set_xticks([t for t in axes.get_xticks() if 0 <= t <= limit])
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    axes.tick_params(axis="x", labelsize=9)


def _wrap(text: str, width: int) -> str:
    return "\n".join(line for part in text.split("\n") for line in textwrap.wrap(part, width))


def _target(
    axes: Axes, value: float, text: str, *, vertical: bool = True, label_x: float = 0.0
) -> None:
    if vertical:
        axes.axvline(value, color=TARGET_INK, linestyle=(0, (5, 3)), linewidth=1.6)
        axes.annotate(
            f"Target {text}",
            xy=(value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 2),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=9,
            color=TARGET_INK,
            fontweight="bold",
        )
    else:
        # Labelled to the right of the last bar, where no bar can hide it.
        axes.axhline(value, color=TARGET_INK, linestyle=(0, (5, 3)), linewidth=1.6)
        axes.annotate(
            f"Target {text}",
            xy=(label_x, value),
            xycoords="data",
            xytext=(0, 3),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=9,
            color=TARGET_INK,
            fontweight="bold",
        )


def _round_label(result: KpiResult, cell: Cell) -> str:
    period = result.round.period if result.round is not None else "this round"
    if cell.n is None:
        return period
    if result.kpi.kind is KpiKind.TARGETS_MET:
        return f"{period}\n{cell.n} KPIs judged"
    if result.kpi.kind is KpiKind.RECORDS:
        return f"{period}\n{cell.n} enquiries"
    return f"{period}\nn = {cell.n}"


def _no_figures(axes: Axes, text: str) -> None:
    axes.set_axis_off()
    axes.text(
        0.5,
        0.5,
        "\n".join(textwrap.wrap(text, 70)),
        ha="center",
        va="center",
        fontsize=11,
        style="italic",
        color="#505A5F",
        transform=axes.transAxes,
    )


def kpi_chart(result: KpiResult, report: KpiReport) -> bytes:
    """Draw a KPI's result against its target: bar, 95% interval, dashed target, RAG in words."""
    kpi = result.kpi
    target = result.target
    period = result.round.period if result.round is not None else report.round.period
    if kpi.kind is KpiKind.AWARENESS and result.outcomes:
        return _awareness_chart(result, report)
    figure, axes = _figure(SINGLE_HEIGHT)
    top = _title(
        figure,
        f"{kpi.id}: {kpi.title}",
        f"{report.provider_name}, {period}. Status: {status_word(result.status)}",
    )
    overall = result.overall
    if overall.suppressed or (overall.proportion is None and overall.count is None):
        _no_figures(axes, HIDDEN if overall.suppressed else (overall.note or "no data"))
        figure.subplots_adjust(top=top)
        return _png(figure)
    if kpi.is_count:
        count = overall.count or 0
        goal = float(target.value) if target.value is not None else 0.0
        limit = max(count, goal, 1) * 1.1
        _bars(axes, [_Bar(_round_label(result, overall), overall)], percentage=False, limit=limit)
        axes.set_xlabel(
            f"Volunteer enquiries, {result.period.describe()}"
            if kpi.kind is KpiKind.RECORDS and result.period is not None
            else "Different organisations",
            fontsize=9.5,
        )
    else:
        _bars(axes, [_Bar(_round_label(result, overall), overall)], percentage=True, limit=1.0)
        axes.set_xlabel(_share_axis(kpi), fontsize=9.5)
    if target.value is not None:
        _target(axes, float(target.value), _target_label(target))
    figure.subplots_adjust(left=0.17, right=0.97, top=top, bottom=0.2)
    return _png(figure)


def _share_axis(kpi: Kpi) -> str:
    if kpi.kind is KpiKind.RECORDS:
        return "Share of the period's enquiries taken up (bar), with its 95% interval (whiskers)"
    if kpi.kind is KpiKind.TARGETS_MET:
        return "Share of the KPIs judged that met their target"
    return f"Share of {respondents(kpi)} (bar), with its 95% confidence interval (whiskers)"


def _target_label(target: Target) -> str:
    """Give a target as the chart labels it: a pro rata one says so briefly (the facts say how)."""
    if target.basis.startswith("(") and "pro rata" in target.basis:
        return str(dataclasses.replace(target, basis="(pro rata)"))
    return str(target)


def _awareness_chart(result: KpiResult, report: KpiReport) -> bytes:
    kpi = result.kpi
    height = max(HEIGHT, 1.2 + 0.5 * len(result.outcomes))
    figure, axes = _figure(height)
    period = result.round.period if result.round is not None else report.round.period
    top = _title(
        figure,
        f"{kpi.id}: {kpi.title}",
        f"{report.provider_name}, {period}: groups aware of each outcome; status from "
        "the change since the previous round",
    )
    bars = [
        _Bar(
            o.label,
            Cell(
                label=o.label,
                n=o.aware.n,
                proportion=o.aware.proportion,
                low=o.aware.low,
                high=o.aware.high,
                status=o.status,
            ),
        )
        if not o.aware.suppressed
        else _Bar(o.label, o.aware)
        for o in result.outcomes
    ]
    before_values = [
        o.change.previous.proportion if o.change is not None and not o.aware.suppressed else None
        for o in result.outcomes
    ]
    _bars(axes, bars, percentage=True, limit=1.0, markers=before_values)
    positions = list(range(len(bars)))[::-1]
    shown = False
    for y, outcome in zip(positions, result.outcomes, strict=True):
        before = outcome.change.previous if outcome.change is not None else None
        if before is not None and before.proportion is not None and not outcome.aware.suppressed:
            axes.plot(
                [before.proportion],
                [y],
                marker="D",
                markersize=7,
                color="white",
                markeredgecolor=INK,
                markeredgewidth=1.4,
                linestyle="none",
                zorder=5,
                label="previous round" if not shown else None,
            )
            shown = True
    if shown:
        axes.legend(loc="lower right", fontsize=8.5, frameon=False)
    axes.set_xlabel(
        "Share of groups aware (bar) with 95% interval; diamond: previous round", fontsize=9.5
    )
    figure.subplots_adjust(left=0.3, right=0.97, top=top, bottom=0.55 / height)
    return _png(figure)


def trend_chart(result: KpiResult, report: KpiReport) -> bytes | None:
    """Draw a proportion KPI in the previous round and this one, or give None if not both."""
    change = result.change
    if result.kpi.kind not in (KpiKind.PROPORTION, KpiKind.RECORDS) or change is None:
        return None
    now, before = result.overall, change.previous
    if now.proportion is None:
        return None
    figure, axes = _figure()
    kpi = result.kpi
    top = _title(
        figure,
        f"{kpi.id}: change since the previous round",
        f"{report.provider_name}: {change.verdict}",
    )
    cells = [(change.previous_round.period, before), (_period(result, report), now)]
    for x, (_, cell) in enumerate(cells):
        if cell.proportion is None:
            axes.text(
                x,
                0.5,
                "\n".join(
                    textwrap.wrap(HIDDEN if cell.suppressed else (cell.note or "no data"), 18)
                ),
                ha="center",
                va="center",
                fontsize=9.5,
                style="italic",
                color="#505A5F",
            )
            continue
        colour, hatch = _style(cell.status)
        axes.bar(
            x, cell.proportion, width=0.5, color=colour, hatch=hatch, edgecolor=INK, linewidth=0.8
        )
        label_at = cell.proportion
        if cell.low is not None and cell.high is not None:
            axes.errorbar(
                x,
                cell.proportion,
                yerr=[[cell.proportion - cell.low], [cell.high - cell.proportion]],
                fmt="none",
                ecolor=INK,
                elinewidth=1.4,
                capsize=6,
                capthick=1.4,
            )
            label_at = cell.high
        axes.text(
            x,
            min(label_at + 0.03, 1.02),
            f"{percent(cell.proportion)}  {status_word(cell.status)}",
            ha="center",
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color=INK,
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
        )
    axes.set_xticks(
        [0, 1], [f"{p}\nn = {c.n}" if c.n is not None else p for p, c in cells], fontsize=9.5
    )
    axes.set_xlim(-0.6, 2.3)
    axes.spines["bottom"].set_bounds(-0.6, 1.6)
    axes.set_ylim(0, 1.12)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda y, _: percent(y)))
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    if result.target.value is not None:
        _target(axes, float(result.target.value), str(result.target), vertical=False, label_x=1.32)
    figure.subplots_adjust(left=0.1, right=0.97, top=top, bottom=0.16)
    return _png(figure)


def _period(result: KpiResult, report: KpiReport) -> str:
    return result.round.period if result.round is not None else report.round.period


def locality_result(report: KpiReport) -> KpiResult | None:
    """Choose the KPI to compare localities on: one that asks for districts, else the first
    proportion KPI with a district shown."""

    def shown(result: KpiResult) -> bool:
        return any(c.proportion is not None for c in result.breakdowns.get("district", ()))

    candidates = [r for r in report.results if r.kpi.kind is KpiKind.PROPORTION and shown(r)]
    asked = [r for r in candidates if "district" in r.kpi.breakdowns]
    chosen = asked or candidates
    return chosen[0] if chosen else None


def locality_chart(report: KpiReport, kpi_id: str | None = None) -> bytes | None:
    """Draw a KPI by district (the localities side by side), or give None without districts."""
    result = report.result(kpi_id) if kpi_id is not None else locality_result(report)
    if result is None:
        return None
    cells = result.breakdowns.get("district", ())
    if not any(c.proportion is not None for c in cells):
        return None
    height = max(HEIGHT, 1.6 + 0.45 * len(cells))
    figure, axes = _figure(height)
    kpi = result.kpi
    top = _title(
        figure,
        f"{kpi.id} by district: {kpi.title}",
        f"{report.provider_name}, {_period(result, report)}",
    )
    bars = [_Bar(f"{c.label}\nn = {c.n}" if c.n is not None else c.label, c) for c in cells]
    _bars(axes, bars, percentage=True, limit=1.0)
    if kpi.target.value is not None:
        _target(axes, float(kpi.target.value), str(kpi.target))
    axes.set_xlabel(
        f"Share of {respondents(kpi)} (bar), with its 95% confidence interval (whiskers)",
        fontsize=9.5,
    )
    figure.subplots_adjust(left=0.22, right=0.97, top=top, bottom=0.6 / height)
    return _png(figure)
