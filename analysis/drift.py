"""Published figures that the records now give differently: what changed since publication.

A published report is frozen (:mod:`analysis.publish`): it is what the funders were sent, and
it never changes. Volunteer enquiries can still be recorded, corrected or back-dated into a
period already reported, so the live VAL 25 and 26 of that period can drift from the
published ones without anyone being told. This module compares a live report's record-based
KPIs with the newest published report of the same provider and framework that counted the
same period (the same label and dates), and says what changed and by how much: "changed since
published on 3 October 2025: was 30 enquiries, now 32 enquiries, 2 more".

Load (the snapshots of a provider and framework), compare (pure), and words for the pages and
the terminal; the console's live report and `tempcheck kpi` show them beside the report, never
in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from analysis.kpis.definitions import Kpi, KpiKind
from analysis.kpis.results import Cell
from analysis.model import KpiReport, ReportDataError
from analysis.periods import Period
from analysis.render.formats import percent
from analysis.stats import points
from analysis.suppression import SUPPRESS_BELOW
from collector import models
from collector.errors import NotFound
from collector.localtime import long_date

__all__ = ["Drift", "Published", "changes", "load_published", "published_changes"]


@dataclass(frozen=True)
class Published:
    """A published report: its snapshot's id, when it was published, and its frozen data."""

    snapshot_id: int
    published_at: datetime
    report: KpiReport


@dataclass(frozen=True)
class Drift:
    """A record-based KPI of a period whose live figures differ from the published ones."""

    framework: str
    provider: str
    provider_name: str
    kpi: Kpi
    period: Period
    snapshot_id: int
    published_at: datetime
    was: Cell
    now: Cell

    def describe(self) -> str:
        """Say what changed: 'changed since published on 3 October 2025: was 30 enquiries,
        now 32 enquiries, 2 more'."""
        by = _by(self.was, self.now)
        return (
            f"changed since published on {long_date(self.published_at)}: "
            f"was {figures(self.kpi, self.was)}, now {figures(self.kpi, self.now)}"
            + (f", {by}" if by else "")
        )

    def line(self) -> str:
        """Name the KPI and period, then say what changed."""
        return f"{self.kpi.id} {self.kpi.title}, {self.period.label}: {self.describe()}"

    def to_json(self) -> dict[str, Any]:
        """Give the change as plain data."""
        return {
            "kpi": self.kpi.id,
            "period": {
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "snapshot_id": self.snapshot_id,
            "published_at": self.published_at.isoformat(),
            "was": self.was.to_json(),
            "now": self.now.to_json(),
            "text": self.describe(),
        }


def figures(kpi: Kpi, cell: Cell) -> str:
    """Write a records KPI's overall figures: '30 enquiries', '53% (16 of 30 enquiries)'."""
    if cell.suppressed:
        return f"fewer than {SUPPRESS_BELOW} enquiries"
    if cell.count is not None:
        return f"{cell.count:,} enquiries"
    if cell.proportion is not None:
        return f"{percent(cell.proportion)} ({cell.numerator:,} of {cell.n:,} enquiries)"
    return "no data"


def _by(was: Cell, now: Cell) -> str:
    """Say by how much a figure moved: '2 more', '3 fewer', 'down 3 points'."""
    if was.count is not None and now.count is not None:
        difference = now.count - was.count
        return f"{abs(difference):,} {'more' if difference > 0 else 'fewer'}"
    if was.proportion is not None and now.proportion is not None:
        moved = now.proportion - was.proportion
        if moved:
            return f"{'up' if moved > 0 else 'down'} {points(moved)}"
    return ""


def _figures(cell: Cell) -> tuple[Any, ...]:
    return (cell.suppressed, cell.count, cell.numerator, cell.n)


def changes(report: KpiReport, published: Sequence[Published]) -> list[Drift]:
    """Compare a live report's record-based KPIs with the newest published report of each
    KPI's period (`published` newest first); give those whose figures changed."""
    found = []
    for result in report.results:
        if result.kpi.kind is not KpiKind.RECORDS or result.period is None:
            continue
        for sent in published:
            try:
                before = sent.report.result(result.kpi.id)
            except NotFound:
                continue
            if before.period != result.period:
                continue  # another period, or part of this one (a survey round's report)
            if _figures(before.overall) != _figures(result.overall):
                found.append(
                    Drift(
                        framework=report.framework.id,
                        provider=report.provider,
                        provider_name=report.provider_name,
                        kpi=result.kpi,
                        period=result.period,
                        snapshot_id=sent.snapshot_id,
                        published_at=sent.published_at,
                        was=before.overall,
                        now=result.overall,
                    )
                )
            break
    return found


def load_published(connection: Connection, provider: str, framework: str) -> list[Published]:
    """Read a provider's published reports of a framework, newest first (unreadable skipped)."""
    snapshot, provider_ = models.ReportSnapshot, models.Provider
    rows = connection.execute(
        select(snapshot.id, snapshot.published_at, snapshot.data)
        .join(provider_, provider_.id == snapshot.provider_id)
        .where(provider_.slug == provider, snapshot.framework == framework)
        .order_by(snapshot.id.desc())
    ).all()
    found = []
    for snapshot_id, published_at, data in rows:
        try:
            found.append(Published(snapshot_id, published_at, KpiReport.from_json(data)))
        except ReportDataError:
            continue  # a snapshot this version cannot read has no figures to compare
    return found


def published_changes(connection: Connection, reports: Sequence[KpiReport]) -> list[Drift]:
    """Give what changed since publication in each report's record-based KPIs."""
    found = []
    for report in reports:
        if not any(r.kpi.kind is KpiKind.RECORDS and r.period for r in report.results):
            continue
        published = load_published(connection, report.provider, report.framework.id)
        found += changes(report, published)
    return found
