"""The quarterly RAG table of a provider's hubs and centres, and the locality comparison.

Three layers, as the rest of analysis: `load_table` reads the register and two quarters of
returns (the quarter and the one before) from SQL; `build_table` is pure and judges each cell
with the check's rule; the renderers (`analysis.render.hubs`) draw it.

Every variable a hub's kind reports is a cell, whether or not anything was returned, so "not
reported" is counted as the review counts it ("of a total of 41 variables across all
localities, 26 (or 63%) were reported as green, two (or 5%) ... amber and 13 (or 32%) ... not
reported upon"). The figures are an organisation's own counts of its work, not anyone's
answers, so nothing is suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from analysis.hubs.definitions import HubCheck, Variable
from collector import hubs as register
from collector import models

__all__ = [
    "HubCell",
    "HubInfo",
    "HubRow",
    "HubStatus",
    "HubTable",
    "ReturnRow",
    "build_table",
    "judge",
    "load_table",
    "report_quarter",
    "report_table",
    "table_from_json",
    "table_to_json",
]


class HubStatus(StrEnum):
    """Where one variable of one hub stands for the quarter."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NOT_REPORTED = "not reported"


STATUSES = (HubStatus.RED, HubStatus.AMBER, HubStatus.GREEN, HubStatus.NOT_REPORTED)


@dataclass(frozen=True)
class HubInfo:
    """A hub or centre on the register, as plain values."""

    ref: str
    name: str
    kind: str
    locality: str


@dataclass(frozen=True)
class ReturnRow:
    """One returned variable of one hub for one quarter."""

    hub_ref: str
    quarter: date
    variable: str
    value: int | None
    target: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class HubCell:
    """One variable of one hub: the figure, its target, the status and why, the quarter
    before."""

    variable: Variable
    value: int | None
    target: int | None
    status: HubStatus
    reason: str  # why it is not reported or not rated; empty when rated
    note: str  # what the hub wrote
    previous: int | None  # the figure the quarter before, if one was returned

    @property
    def change(self) -> int | None:
        """Give the change since the quarter before, when both figures exist."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass(frozen=True)
class HubRow:
    """One hub or centre's line of the table."""

    hub: HubInfo
    cells: tuple[HubCell, ...]

    def count(self, status: HubStatus) -> int:
        """Count the hub's cells with a status."""
        return sum(1 for c in self.cells if c.status is status)

    def cell(self, variable_id: str) -> HubCell | None:
        """Give the cell of a variable, or None when the hub's kind does not report it."""
        return next((c for c in self.cells if c.variable.id == variable_id), None)


@dataclass(frozen=True)
class HubTable:
    """The temperature check of one quarter: every hub's cells, counted."""

    check: HubCheck
    provider: str
    quarter: date
    rows: tuple[HubRow, ...]
    totals: dict[HubStatus, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Name the quarter: "2010/11 Q2"."""
        return register.quarter_label(self.quarter)

    @property
    def previous_label(self) -> str:
        """Name the quarter before."""
        return register.quarter_label(register.previous_quarter(self.quarter))

    @property
    def dates(self) -> str:
        """Give the quarter's dates in words: "1 Jul 2010 to 30 Sep 2010"."""
        end = register.quarter_end(self.quarter)
        return f"{self.quarter:%-d %b %Y} to {end:%-d %b %Y}"

    @property
    def total(self) -> int:
        """Count every cell: the variables across all localities."""
        return sum(self.totals.values())

    def share(self, status: HubStatus) -> Fraction:
        """Give a status's share of every cell (0 when there are none)."""
        return Fraction(self.totals.get(status, 0), self.total) if self.total else Fraction(0)

    def by_kind(self, kind: str) -> tuple[HubRow, ...]:
        """Give the rows of one kind ("centre" or "hub")."""
        return tuple(r for r in self.rows if r.hub.kind == kind)

    def summary(self) -> str:
        """Say the counts as the review does, each with its share."""
        if not self.total:
            return f"No hubs or centres on the register for {self.label}."
        parts = []
        for status in (HubStatus.GREEN, HubStatus.AMBER, HubStatus.RED, HubStatus.NOT_REPORTED):
            count = self.totals.get(status, 0)
            parts.append(f"{count} ({round(self.share(status) * 100)}%) {status.value}")
        return (
            f"Of {self.total} variables across all localities in {self.label}: "
            + ", ".join(parts[:-1])
            + f" and {parts[-1]}."
        )

    @property
    def variables(self) -> tuple[Variable, ...]:
        """Give the check's variables (the table's columns)."""
        return self.check.variables


def judge(value: int | None, target: int | None, amber_from: Fraction) -> tuple[HubStatus, str]:
    """Rate a figure against its target with the check's rule; give the status and why it is
    not rated, if it is not."""
    if value is None:
        return HubStatus.NOT_REPORTED, "no figure returned"
    if target is None:
        return HubStatus.NOT_REPORTED, "no target set"
    if value >= target:
        return HubStatus.GREEN, ""
    if value >= amber_from * target:
        return HubStatus.AMBER, ""
    return HubStatus.RED, ""


def build_table(
    check: HubCheck,
    provider: str,
    quarter: date,
    hubs: Sequence[HubInfo],
    returns: Iterable[ReturnRow],
) -> HubTable:
    """Judge every variable every hub reports for the quarter, with the quarter before."""
    before = register.previous_quarter(quarter)
    now: dict[tuple[str, str], ReturnRow] = {}
    previous: dict[tuple[str, str], ReturnRow] = {}
    for row in returns:
        if row.quarter == quarter:
            now[(row.hub_ref, row.variable)] = row
        elif row.quarter == before:
            previous[(row.hub_ref, row.variable)] = row
    rows = []
    totals = dict.fromkeys(STATUSES, 0)
    for hub in hubs:
        cells = []
        for variable in check.variables_for(hub.kind):
            found = now.get((hub.ref, variable.id))
            prior = previous.get((hub.ref, variable.id))
            if found is None:
                status, reason = HubStatus.NOT_REPORTED, "no return"
                value, target, note = None, variable.targets.get(hub.kind), ""
            else:
                value, note = found.value, found.note or ""
                target = found.target if found.target is not None else variable.targets[hub.kind]
                status, reason = judge(value, target, check.amber_from)
            totals[status] += 1
            cells.append(
                HubCell(
                    variable=variable,
                    value=value,
                    target=target,
                    status=status,
                    reason=reason,
                    note=note,
                    previous=prior.value if prior is not None else None,
                )
            )
        rows.append(HubRow(hub=hub, cells=tuple(cells)))
    return HubTable(
        check=check, provider=provider, quarter=quarter, rows=tuple(rows), totals=totals
    )


def load_table(
    session: Session, provider: models.Provider, quarter: date, check: HubCheck
) -> HubTable:
    """Read the provider's register and its returns for the quarter and the one before, and
    build the table."""
    found = register.hubs_of(session, provider.id)
    refs = {h.id: h.external_ref for h in found}
    hubs = [HubInfo(h.external_ref, h.name, h.kind, h.locality) for h in found]
    returns = [
        ReturnRow(refs[r.hub_id], r.quarter, r.variable, r.value, r.target, r.note)
        for r in register.returns_of(
            session, provider.id, [quarter, register.previous_quarter(quarter)]
        )
    ]
    return build_table(check, provider.name, quarter, hubs, returns)


# The table as data: a published report keeps it as it was (a snapshot's JSON) ---------------


def table_to_json(table: HubTable) -> dict[str, Any]:
    """Give the table as JSON-ready data, with its check, so it renders the same later."""
    check = table.check
    return {
        "check": {
            "id": check.id,
            "title": check.title,
            "source": check.source,
            "amber_from": str(check.amber_from),
            "variables": [
                {"id": v.id, "title": v.title, "val": v.val, "targets": dict(v.targets)}
                for v in check.variables
            ],
        },
        "provider": table.provider,
        "quarter": table.quarter.isoformat(),
        "rows": [
            {
                "ref": row.hub.ref,
                "name": row.hub.name,
                "kind": row.hub.kind,
                "locality": row.hub.locality,
                "cells": [
                    {
                        "variable": c.variable.id,
                        "value": c.value,
                        "target": c.target,
                        "status": c.status.value,
                        "reason": c.reason,
                        "note": c.note,
                        "previous": c.previous,
                    }
                    for c in row.cells
                ],
            }
            for row in table.rows
        ],
    }


def table_from_json(data: dict[str, Any]) -> HubTable:
    """Rebuild a table from `table_to_json`'s data."""
    raw = data["check"]
    variables = tuple(
        Variable(id=v["id"], title=v["title"], val=v["val"], targets=dict(v["targets"]))
        for v in raw["variables"]
    )
    by_id = {v.id: v for v in variables}
    check = HubCheck(
        id=raw["id"],
        title=raw["title"],
        source=raw["source"],
        amber_from=Fraction(raw["amber_from"]),
        variables=variables,
    )
    rows = []
    totals = dict.fromkeys(STATUSES, 0)
    for row in data["rows"]:
        cells = []
        for c in row["cells"]:
            status = HubStatus(c["status"])
            totals[status] += 1
            cells.append(
                HubCell(
                    variable=by_id[c["variable"]],
                    value=c["value"],
                    target=c["target"],
                    status=status,
                    reason=c["reason"],
                    note=c["note"],
                    previous=c["previous"],
                )
            )
        hub = HubInfo(row["ref"], row["name"], row["kind"], row["locality"])
        rows.append(HubRow(hub=hub, cells=tuple(cells)))
    return HubTable(
        check=check,
        provider=data["provider"],
        quarter=date.fromisoformat(data["quarter"]),
        rows=tuple(rows),
        totals=totals,
    )


def report_quarter(start: date, end: date) -> date:
    """Give the quarter a report for the days `start` to `end` shows: the last that ends
    inside them (a six-monthly report's second quarter), else the one `end` falls in."""
    latest = register.quarter_of(end)
    if register.quarter_end(latest) > end and register.previous_quarter(latest) >= start:
        return register.previous_quarter(latest)
    return latest


def report_table(
    session: Session, provider: models.Provider, start: date, end: date, check: HubCheck
) -> HubTable | None:
    """Give the hub table a provider's report for a period includes, or None when the provider
    has no hubs or centres (the report then has no such section)."""
    if not register.hubs_of(session, provider.id):
        return None
    return load_table(session, provider, report_quarter(start, end), check)
