"""The collective report of a county framework with several providers (the Essex scope's ECVS).

The Essex scope asks for "a strategic overview from ECVS collectively plus individual reports
from each CVS". For one framework and one period this gives:

- the **county overview**: per KPI, the providers' counts and amounts added up against their
  period targets added up (activity KPIs), and for every KPI how many providers met its
  target, did not, did not report, or could not be judged;
- every provider's figures **side by side** (each KPI's result and status per provider);
- then **each provider's own report**, exactly as it is published for that provider.

Survey shares are not pooled here (a provider's own report, or an alliance's, gives them with
their intervals); counts of different organisations are not added either, since one group may
be helped by two providers: their totals say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection

from analysis.build import build_reports
from analysis.kpis.definitions import Framework, Kpi, KpiKind, framework
from analysis.kpis.evaluation import _verdict
from analysis.kpis.recorded import pounds
from analysis.kpis.results import MET, NOT_JUDGED, NOT_MET, NOT_REPORTED, KpiResult
from analysis.kpis.targets import Status
from analysis.model import KpiReport
from collector.errors import NotFound

__all__ = ["CollectiveReport", "CountyLine", "build_collective", "collective_of"]

# Measures that add up across providers (different organisations do not: one group may have
# been helped by two providers).
ADDITIVE = ("activities", "amount_obtained", "amount_applied", "beneficiaries", "members")


@dataclass(frozen=True)
class CountyLine:
    """One KPI across the county: the providers' verdicts and, where they add up, the total."""

    kpi: Kpi
    met: int = 0
    not_met: int = 0
    not_reported: int = 0
    not_judged: int = 0
    total: int | None = None  # a sum of counts, or of pence for an amount
    target: Fraction | None = None  # the providers' period targets added up
    status: Status = Status.NO_TARGET

    @property
    def total_text(self) -> str:
        """Write the county's total (pounds for an amount), or a dash when it does not add up."""
        if self.total is None:
            return "–"
        return pounds(self.total) if self.kpi.is_amount else f"{self.total:,}"

    @property
    def target_text(self) -> str:
        """Write the providers' targets added up."""
        if self.target is None:
            return "–"
        whole = int(-(-self.target // 1))
        return f"£{whole:,}" if self.kpi.is_amount else f"{whole:,}"

    def to_json(self) -> dict[str, Any]:
        """Give the line as plain data."""
        return {
            "kpi": self.kpi.id,
            "title": self.kpi.title,
            "met": self.met,
            "not_met": self.not_met,
            "not_reported": self.not_reported,
            "not_judged": self.not_judged,
            "total": self.total,
            "total_text": self.total_text,
            "target": None if self.target is None else float(self.target),
            "status": str(self.status),
        }


@dataclass(frozen=True)
class CollectiveReport:
    """A framework's providers for one period: county overview, side by side, each report."""

    framework: Framework
    period: str
    reports: tuple[KpiReport, ...]
    lines: tuple[CountyLine, ...]

    @property
    def providers(self) -> tuple[tuple[str, str], ...]:
        """Give each provider's slug and name, in the report's order."""
        return tuple((r.provider, r.provider_name) for r in self.reports)

    def line(self, kpi_id: str) -> CountyLine:
        """Give the county line of one KPI."""
        for line in self.lines:
            if line.kpi.id == kpi_id:
                return line
        raise NotFound(f"The collective report has no KPI {kpi_id!r}")

    def results(self, kpi_id: str) -> list[KpiResult]:
        """Give each provider's result of one KPI, in the providers' order."""
        return [report.result(kpi_id) for report in self.reports]

    def to_json(self) -> dict[str, Any]:
        """Give the collective report as plain data (each provider's report in full)."""
        return {
            "framework": self.framework.id,
            "period": self.period,
            "providers": [{"slug": s, "name": n} for s, n in self.providers],
            "county": [line.to_json() for line in self.lines],
            "reports": [report.to_json() for report in self.reports],
        }


def _line(kpi: Kpi, results: Sequence[KpiResult]) -> CountyLine:
    verdicts = [_verdict(r.status) for r in results] if kpi.target.rule.value != "none" else []
    total: int | None = None
    target: Fraction | None = None
    status = Status.NO_TARGET
    if kpi.kind is KpiKind.ACTIVITY and kpi.measure in ADDITIVE:
        total = 0
        for r in results:
            cell = r.overall
            if cell.amount is not None:
                total += round(cell.amount * 100)
            elif cell.count is not None:
                total += cell.count
        if kpi.target.numeric:
            target = sum((r.target.value or Fraction(0) for r in results), Fraction(0))
            reached = Fraction(total, 100) if kpi.is_amount else Fraction(total)
            status = Status.GREEN if reached >= target else Status.RED
    return CountyLine(
        kpi,
        met=verdicts.count(MET),
        not_met=verdicts.count(NOT_MET),
        not_reported=verdicts.count(NOT_REPORTED),
        not_judged=verdicts.count(NOT_JUDGED),
        total=total,
        target=target,
        status=status,
    )


def collective_of(chosen: Framework, period: str, reports: Sequence[KpiReport]) -> CollectiveReport:
    """Gather providers' reports of one framework and period into the collective report."""
    mine = tuple(r for r in reports if r.framework.id == chosen.id and r.round.period == period)
    if not mine:
        raise NotFound(f"No provider has a {chosen.id} report for {period}")
    lines = tuple(_line(kpi, [r.result(kpi.id) for r in mine]) for kpi in chosen.kpis)
    return CollectiveReport(chosen, period, mine, lines)


def build_collective(
    connection: Connection,
    framework_id: str,
    *,
    period: str | None = None,
    providers: Sequence[str] = (),
    narratives: dict[str, dict[str, str]] | None = None,
) -> CollectiveReport:
    """Build a framework's collective report: every provider with a report for the period (the
    latest period any provider has, unless told), or only `providers`; `narratives` by provider
    slug are each provider's explanations (its own report's)."""
    chosen = framework(framework_id)
    reports = build_reports(connection, framework=framework_id)
    if providers:
        unknown = set(providers) - {r.provider for r in reports}
        if unknown:
            raise NotFound(f"No {framework_id} report for {', '.join(sorted(unknown))}")
        reports = [r for r in reports if r.provider in providers]
    if not reports:
        raise NotFound(f"No provider has a {framework_id} report")
    if period is None:
        period = max(reports, key=lambda r: (r.round.closes_at, r.round.id)).round.period
    if narratives:
        reports = [r.with_narratives(narratives.get(r.provider, {})) for r in reports]
    return collective_of(chosen, period, reports)
