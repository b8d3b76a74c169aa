"""What evaluating a KPI gives: cells a funder may see, changes, and per-KPI results.

A :class:`Cell` is built only through :func:`proportion_cell`, :func:`count_cell` or
:func:`hidden_cell`, so a cell with fewer than 5 responses never holds its counts: there is
nothing for any renderer to leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analysis.kpis.targets import DEFAULT_MIN_N, Status, Target, rag, rag_count
from analysis.periods import Period
from analysis.stats import wilson
from analysis.suppression import SUPPRESSED_NOTE, is_small
from collector.models import round_ends_at

if TYPE_CHECKING:
    from analysis.kpis.definitions import Benchmark, Kpi

__all__ = [
    "MET",
    "NOT_JUDGED",
    "NOT_MET",
    "NOT_REPORTED",
    "OVERALL",
    "Cell",
    "Change",
    "Component",
    "Evidence",
    "KpiResult",
    "OutcomeResult",
    "RoundRef",
    "benchmark_comparison",
    "count_cell",
    "hidden_cell",
    "no_data_cell",
    "proportion_cell",
]

OVERALL = "All responses"
NOT_ENOUGH_FOR_CHANGE = "not enough data to compare"  # the verdict when n is too small


@dataclass(frozen=True)
class RoundRef:
    """The round a result comes from, as reports name it."""

    id: int
    provider: str
    provider_name: str
    survey: str
    survey_version: int
    period: str
    status: str
    opens_at: datetime
    closes_at: datetime
    kind: str = "survey"  # or "rolling": a provider's follow-up round for a period
    closed_at: datetime | None = None  # when it was closed; before closes_at if closed early

    @property
    def closed_early(self) -> bool:
        """Tell whether the round was closed before its planned close."""
        return round_ends_at(self.closes_at, self.closed_at) != self.closes_at

    @property
    def ends_at(self) -> datetime:
        """Give when the round stopped (or stops) taking answers: closed early, or as planned."""
        return round_ends_at(self.closes_at, self.closed_at)

    def to_json(self) -> dict[str, Any]:
        """Give the round as plain data."""
        return {
            "kind": self.kind,
            "id": self.id,
            "provider": self.provider,
            "provider_name": self.provider_name,
            "survey": self.survey,
            "survey_version": self.survey_version,
            "period": self.period,
            "status": self.status,
            "opens_at": self.opens_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at is not None else None,
        }


@dataclass(frozen=True)
class Cell:
    """One figure for one group of responses, as a funder may see it."""

    label: str
    key: str | None = None
    n: int | None = None
    numerator: int | None = None
    proportion: float | None = None
    low: float | None = None
    high: float | None = None
    count: int | None = None
    status: Status = Status.NO_DATA
    note: str = ""
    # A sum of money in pounds (an activity KPI's amount), and a verdict in words (a
    # milestone's "late", an evidence indicator's "met, 2 case studies").
    amount: float | None = None
    text: str = ""

    @property
    def suppressed(self) -> bool:
        """Tell whether the cell is hidden from funders."""
        return self.status is Status.SUPPRESSED

    def to_json(self) -> dict[str, Any]:
        """Give the cell as plain data (suppressed cells have no figures to give)."""
        return {
            "label": self.label,
            "key": self.key,
            "n": self.n,
            "numerator": self.numerator,
            "proportion": self.proportion,
            "ci_low": self.low,
            "ci_high": self.high,
            "count": self.count,
            "status": str(self.status),
            "suppressed": self.suppressed,
            "note": self.note,
            "amount": self.amount,
            "text": self.text or None,
        }


def proportion_cell(
    numerator: int,
    n: int,
    target: Target,
    *,
    min_n: int = DEFAULT_MIN_N,
    label: str = OVERALL,
    key: str | None = None,
    note: str = "",
) -> Cell:
    """Build the cell of numerator/n: Wilson interval and RAG, or suppressed under 5."""
    if is_small(n):
        return hidden_cell(label, key)
    interval = wilson(numerator, n)
    return Cell(
        label=label,
        key=key,
        n=n,
        numerator=numerator,
        proportion=interval.estimate,
        low=interval.low,
        high=interval.high,
        status=rag(numerator, n, target, min_n),
        note=note,
    )


def count_cell(count: int, target: Target, *, label: str = OVERALL, note: str = "") -> Cell:
    """Build the cell of a count: green at or above the target, red below; hidden under 5."""
    if is_small(count):
        return hidden_cell(label, note=SUPPRESSED_NOTE.replace("responses", "organisations"))
    return Cell(label=label, count=count, status=rag_count(count, target), note=note)


def hidden_cell(label: str, key: str | None = None, note: str = SUPPRESSED_NOTE) -> Cell:
    """Build a suppressed cell: a label and a note, nothing else."""
    return Cell(label=label, key=key, status=Status.SUPPRESSED, note=note)


def no_data_cell(label: str = OVERALL, note: str = "", key: str | None = None) -> Cell:
    """Build the cell of a result that has no responses to count."""
    return Cell(label=label, key=key, status=Status.NO_DATA, note=note)


def benchmark_comparison(benchmark: Benchmark, cell: Cell, figure: str = "") -> str:
    """Say how a result stands against a published figure, allowing for chance.

    Above or below when the whole 95% interval is, else no clear difference; nothing to say
    about a hidden result, and "too few" about one with too few responses to judge. `figure`
    names the benchmark in the sentence (by default: "England's 16.3% (2008)").
    """
    figure = figure or f"{benchmark.label}'s {float(benchmark.value) * 100:.1f}% ({benchmark.year})"
    if cell.suppressed or cell.proportion is None or cell.low is None or cell.high is None:
        return ""
    if cell.status is Status.NOT_ENOUGH_DATA:
        return f"too few responses to compare with {figure}"
    if cell.low > benchmark.value:
        return f"above {figure}, more than chance"
    if cell.high < benchmark.value:
        return f"below {figure}, more than chance"
    return f"no clear difference from {figure}"


@dataclass(frozen=True)
class Change:
    """The change of a proportion since the previous round, with Newcombe's 95% interval."""

    previous_round: RoundRef
    previous: Cell
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    verdict: str = NOT_ENOUGH_FOR_CHANGE

    @property
    def status(self) -> Status:
        """Give the change as a status: green up, red down, amber unclear (more than chance)."""
        if self.difference is None or self.low is None or self.high is None:
            return Status.NOT_ENOUGH_DATA
        if self.low > 0:
            return Status.GREEN
        if self.high < 0:
            return Status.RED
        return Status.AMBER

    def to_json(self) -> dict[str, Any]:
        """Give the change as plain data."""
        return {
            "round": self.previous_round.to_json(),
            "previous": self.previous.to_json(),
            "difference": self.difference,
            "ci_low": self.low,
            "ci_high": self.high,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class OutcomeResult:
    """Essex b for one outcome: aware now against the previous round, and raised by the CVS."""

    value: str
    label: str
    aware: Cell
    raised: Cell
    change: Change | None = None

    @property
    def status(self) -> Status:
        """Give the outcome's status: from the change in awareness since the previous round."""
        if self.aware.suppressed:
            return Status.SUPPRESSED
        if self.change is None:
            return Status.NOT_ENOUGH_DATA
        return self.change.status

    def to_json(self) -> dict[str, Any]:
        """Give the outcome's figures as plain data."""
        return {
            "outcome": self.value,
            "label": self.label,
            "status": str(self.status),
            "aware": self.aware.to_json(),
            "change": None if self.change is None else self.change.to_json(),
            "raised": self.raised.to_json(),
        }


@dataclass(frozen=True)
class Evidence:
    """A case study or other evidence shown under an evidence indicator (no attachment bytes)."""

    title: str
    text: str
    is_case_study: bool = False
    attachment: str = ""  # the attachment's file name, if any

    def to_json(self) -> dict[str, Any]:
        """Give the evidence as plain data."""
        return {
            "title": self.title,
            "text": self.text,
            "case_study": self.is_case_study,
            "attachment": self.attachment or None,
        }


# How Essex ii counts each KPI with a target.
MET, NOT_MET, NOT_REPORTED, NOT_JUDGED = "met", "not met", "not reported", "not judged"


@dataclass(frozen=True)
class Component:
    """One KPI that Essex ii counts (or leaves out), with its verdict: met, not met..."""

    kpi_id: str
    title: str
    status: Status
    verdict: str

    def to_json(self) -> dict[str, Any]:
        """Give the component as plain data."""
        return {
            "id": self.kpi_id,
            "title": self.title,
            "status": str(self.status),
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class KpiResult:
    """One KPI for one provider and round: overall, change, breakdowns, per outcome."""

    kpi: Kpi
    overall: Cell
    round: RoundRef | None = None
    change: Change | None = None
    breakdowns: dict[str, tuple[Cell, ...]] = field(default_factory=dict)
    outcomes: tuple[OutcomeResult, ...] = ()
    note: str = ""
    # Record-based KPIs: the dates counted, and the target for them when it is not the KPI's
    # own (an annual target, pro rata for a half year).
    period: Period | None = None
    period_target: Target | None = None
    # The framework's focus group (Kent: income under £500k), reported beside the overall.
    focus: Cell | None = None
    # Evidence indicators: the evidence attached for the period.
    evidence: tuple[Evidence, ...] = ()
    # Essex ii: every KPI with a target and how it counted.
    components: tuple[Component, ...] = ()

    @property
    def status(self) -> Status:
        """Give the KPI's status."""
        return self.overall.status

    def benchmarks(self) -> list[tuple[Benchmark, str]]:
        """Give the KPI's benchmarks, each with how this result stands against it."""
        return [(b, benchmark_comparison(b, self.overall)) for b in self.kpi.benchmarks]

    @property
    def target(self) -> Target:
        """Give the target this result is judged against (the period's, else the KPI's)."""
        return self.period_target if self.period_target is not None else self.kpi.target

    def to_json(self) -> dict[str, Any]:
        """Give the result as plain data."""
        kpi = self.kpi
        data = self._plain()
        if kpi.parts:
            # An indicator asked of several audiences: who, from which survey, and how combined.
            data["combine"] = kpi.combine
            data["audiences"] = [
                {
                    "key": part.part_key,
                    "label": part.title,
                    "survey": part.survey,
                    "numerator": part.numerator_text,
                    "denominator": part.denominator_text,
                }
                for part in kpi.parts
            ]
        return data

    def _plain(self) -> dict[str, Any]:
        kpi = self.kpi
        return {
            "id": kpi.id,
            "title": kpi.title,
            "source": kpi.source or None,
            "kind": str(kpi.kind),
            "survey": kpi.survey,
            "target": kpi.target.to_json(),
            "numerator": kpi.numerator_text or None,
            "denominator": kpi.denominator_text or None,
            "definition_note": kpi.note or None,
            "round": None if self.round is None else self.round.to_json(),
            "status": str(self.status),
            "overall": self.overall.to_json(),
            "change": None if self.change is None else self.change.to_json(),
            "breakdowns": {
                segment: [cell.to_json() for cell in cells]
                for segment, cells in self.breakdowns.items()
            },
            "outcomes": [outcome.to_json() for outcome in self.outcomes],
            "note": self.note or None,
            "records": None if kpi.records is None else str(kpi.records),
            "period": None
            if self.period is None
            else {
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "period_target": None if self.period_target is None else self.period_target.to_json(),
            "benchmarks": [
                {**benchmark.to_json(), "comparison": comparison or None}
                for benchmark, comparison in self.benchmarks()
            ],
            "focus": None if self.focus is None else self.focus.to_json(),
            "evidence": [item.to_json() for item in self.evidence],
            "components": [c.to_json() for c in self.components],
        }
