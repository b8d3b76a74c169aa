"""How every renderer writes a figure and a status, so the page, the workbook, the PDF and the
message show the same text for the same number (one source: the KpiReport).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from analysis.kpis.definitions import MEASURES, Kpi, KpiKind
from analysis.kpis.results import Cell, Change, KpiResult, benchmark_comparison
from analysis.kpis.targets import Status, TargetRule
from analysis.model import KpiReport
from analysis.stats import whole_percent
from analysis.suppression import SECONDARY_NOTE, SUPPRESS_BELOW, SUPPRESSED_NOTE

__all__ = [
    "CHANGE_METHOD",
    "DASH",
    "HIDDEN",
    "SECONDARY",
    "STATUS_WORDS",
    "Summary",
    "change_text",
    "benchmark_lines",
    "benchmark_value",
    "focus_text",
    "headline_text",
    "hidden_text",
    "interval_text",
    "is_share",
    "n_label",
    "n_text",
    "percent",
    "respondents",
    "result_text",
    "status_word",
    "summarise",
    "unit",
]

DASH = "–"
HIDDEN = f"fewer than {SUPPRESS_BELOW} answers: not shown"
SECONDARY = "not shown, so that a smaller group cannot be worked out from the total"
CHANGE_METHOD = (
    "Change since the previous round: the difference between the two rounds' results with "
    "Newcombe's 95% interval; 'more than chance' when the whole interval is on one side of zero. "
    "Both rounds need the framework's minimum number of responses to be compared."
)
STATUS_WORDS = {
    Status.GREEN: "Green",
    Status.AMBER: "Amber",
    Status.RED: "Red",
    Status.NOT_ENOUGH_DATA: "Not enough data",
    Status.SUPPRESSED: "Not shown",
    Status.NO_DATA: "No data",
    Status.NO_TARGET: "No target",
    Status.NOT_REPORTED: "Not reported",
}


def is_share(kpi: Kpi) -> bool:
    """Tell whether a KPI's result is a share with an interval (not a count or a verdict)."""
    return kpi.kind in (KpiKind.PROPORTION, KpiKind.AUDIENCES) or (
        kpi.kind is KpiKind.RECORDS and not kpi.is_count
    )


def unit(kpi: Kpi) -> str:
    """Name what a KPI's count counts, or what its share is of: 'enquiries', 'organisations'."""
    if kpi.kind is KpiKind.RECORDS:
        return "enquiries"
    if kpi.kind is KpiKind.ACTIVITY:
        return MEASURES.get(kpi.measure, "activities")
    if kpi.kind is KpiKind.COUNT:
        return "organisations"
    if kpi.kind is KpiKind.TARGETS_MET:
        return "KPIs"
    return "responses"


RESPONDENTS = {
    "volunteer-placement": "volunteers",
    "funder-satisfaction": "funders",
    "representative-views": "representatives",
}


def respondents(kpi: Kpi) -> str:
    """Name who answered a survey KPI's questions: 'groups', 'volunteers', 'funders'."""
    return RESPONDENTS.get(kpi.survey or "", "groups")


def n_label(kpi: Kpi) -> str:
    """Name the n of a share: 'Responses (n)', or 'Enquiries (n)' for a record-based share."""
    return f"{unit(kpi).capitalize()} (n)"


def percent(value: float | None) -> str:
    """Write a proportion as a whole percentage, rounding halves up as spreadsheets do."""
    if value is None:
        return DASH
    return f"{whole_percent(value):d}%"


def interval_text(low: float | None, high: float | None) -> str:
    """Write a 95% interval as '70–96%' (a dash when there is none)."""
    if low is None or high is None:
        return DASH
    return f"{whole_percent(low):d}–{whole_percent(high):d}%"


def n_text(cell: Cell) -> str:
    """Write the number of responses behind a cell (a dash when hidden or none)."""
    return DASH if cell.n is None else str(cell.n)


def hidden_text(cell: Cell) -> str:
    """Say why a hidden cell is not shown: too few answers, or to protect a smaller group."""
    if cell.note == SECONDARY_NOTE:
        return SECONDARY
    if cell.note.startswith("fewer than") and cell.note != SUPPRESSED_NOTE:
        return cell.note  # a count of something else: "fewer than 5 enquiries: not shown"
    return HIDDEN


def result_text(cell: Cell) -> str:
    """Write a cell's result: a percentage, a count, or why there is none."""
    if cell.suppressed:
        return "not shown" if cell.note == SECONDARY_NOTE else HIDDEN
    if cell.text:
        return cell.text  # an amount in pounds, a milestone's or evidence's verdict
    if cell.count is not None:
        return str(cell.count)
    if cell.proportion is not None:
        return percent(cell.proportion)
    return "no data"


def headline_text(result: KpiResult) -> str:
    """Write a KPI's result in a few words (awareness: the verdict over all its outcomes)."""
    overall = result.overall
    if result.kpi.kind is KpiKind.AWARENESS and not overall.suppressed:
        # The KPI's own words: its outcomes are judged together, allowing for several tests,
        # which counting the outcomes' separate verdicts (each at 95%) would not.
        return overall.note or status_word(overall.status)
    return result_text(overall)


def benchmark_value(value: Fraction | float) -> str:
    """Write a published figure as it was published, to one decimal place: 16.3%."""
    return f"{float(value) * 100:.1f}%"


def benchmark_lines(result: KpiResult) -> list[tuple[str, str]]:
    """Give (term, text) for each benchmark beside a result: whose figure and when, and how the
    result stands against it (the source is in the definitions)."""
    lines = []
    for benchmark in result.kpi.benchmarks:
        figure = benchmark_value(benchmark.value)
        comparison = benchmark_comparison(benchmark, result.overall, "it")
        if comparison.startswith(("above", "below")):
            comparison = f"this result is {comparison}"
        text = f"{figure}: {comparison}" if comparison else figure
        lines.append((f"Benchmark: {benchmark.label}, {benchmark.year}", text))
    return lines


def focus_text(cell: Cell) -> str:
    """Write the focus group's result in a line: share, n, interval and status."""
    if cell.suppressed:
        return hidden_text(cell)
    if cell.proportion is None:
        return "no data"
    return (
        f"{percent(cell.proportion)} (n {cell.n}, 95% interval "
        f"{interval_text(cell.low, cell.high)}): {status_word(cell.status)}"
    )


def status_word(status: Status) -> str:
    """Name a status as the report writes it: Green, Amber, Red, Not enough data..."""
    return STATUS_WORDS[status]


def change_text(change: Change | None) -> str:
    """Write the change since the previous round: verdict and the previous result."""
    if change is None:
        return "no previous round"
    was = change.previous
    period = change.previous_round.period
    if was.suppressed:
        return f"{change.verdict} ({period}: {HIDDEN})"
    if was.proportion is None:
        return change.verdict
    return f"{change.verdict} ({period}: {percent(was.proportion)})"


@dataclass(frozen=True)
class Summary:
    """The top of a report: targets met and what changed by more than chance."""

    met: int
    judged: int
    with_target: int
    headline: str
    changes: tuple[str, ...]


def _judged(report: KpiReport) -> list[KpiResult]:
    # The same KPIs as Essex ii counts: every other KPI that has a target.
    return [
        r
        for r in report.results
        if r.kpi.kind is not KpiKind.TARGETS_MET and r.kpi.target.rule is not TargetRule.NONE
    ]


def summarise(report: KpiReport) -> Summary:
    """Count the targets met (of the KPIs judged) and list the clear changes.

    A KPI staff record (activity, evidence, milestone) with nothing recorded for the period is
    "not reported" and counts as a target not met, as Essex ii counts it.
    """
    with_target = _judged(report)
    judged = [r for r in with_target if r.status.judged or r.status is Status.NOT_REPORTED]
    met = sum(1 for r in judged if r.status is Status.GREEN)
    if judged:
        headline = f"{met} of {len(judged)} targets met"
        missing = sum(1 for r in judged if r.status is Status.NOT_REPORTED)
        extra = []
        if missing:
            extra.append(f"{missing} not reported")
        if len(judged) < len(with_target):
            unjudged = len(with_target) - len(judged)
            extra.append(f"{unjudged} not judged: too few answers or no data")
        if extra:
            headline += f" ({'; '.join(extra)})"
    else:
        headline = "No target could be judged: too few answers or no data"
    changes: list[str] = []
    for result in report.results:
        change = result.change
        if change is not None and change.status in (Status.GREEN, Status.RED):
            changes.append(
                f"{result.kpi.id} {result.kpi.title}: {change.verdict} "
                f"({percent(change.previous.proportion)} in {change.previous_round.period}, "
                f"{percent(result.overall.proportion)} now)"
            )
        for outcome in result.outcomes:
            if outcome.change is not None and outcome.change.status in (Status.GREEN, Status.RED):
                before = outcome.change.previous
                changes.append(
                    f"{result.kpi.id} awareness of {outcome.label}: {outcome.change.verdict} "
                    f"for this outcome on its own ({percent(before.proportion)} in "
                    f"{outcome.change.previous_round.period}, "
                    f"{percent(outcome.aware.proportion)} now)"
                )
    return Summary(met, len(judged), len(with_target), headline, tuple(changes))
