"""Community Hubs and Local Resource Centres, and their quarterly returns (issue 17).

In Leicestershire the county's infrastructure organisation (VAL) works beside seven Community
Hubs and three Local Resource Centres, each in its own locality, each reporting every quarter
against the same variables as VAL's own indicators: five for a hub, two for a centre (the VAL
review, section 8.2 and Table Three). This module keeps a provider's register of them and their
returns; `analysis.hubs` declares the variables and their targets and builds the RAG table.

Where the rules had to choose (as for contacts, `collector.contacts`):

- Both imports are all or nothing: every row is checked first; if any is bad nothing is saved
  and every problem is listed by line and column. A known reference (a hub), or a known hub,
  quarter and variable (a return), updates what is stored, so a corrected file can be imported
  again.
- A return's figures are whole numbers, never negative. A row may leave the figure empty only
  with a note saying why ("not applicable"): it is then "not reported", as a variable with no
  row at all is. A figure with no target anywhere is shown but not RAG rated.
- Quarters are UK financial quarters, written as the reports write them: "2010/11 Q2" is July
  to September 2010. A return for a quarter that has not started yet is refused.
- Which variables exist, and which kind of hub reports which, is the caller's to say
  (`Variables`, from the analysis framework): collector does not read the framework itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models
from collector.organisations import (
    CsvImportError,
    ImportPlan,
    Problem,
    Unique,
    control_problems,
    read_csv,
)

__all__ = [
    "HUB_COLUMNS",
    "KINDS",
    "RETURN_COLUMNS",
    "CsvImportError",
    "ImportPlan",
    "Problem",
    "Variables",
    "hubs_of",
    "import_hubs",
    "import_returns",
    "parse_quarter",
    "plan_hubs",
    "plan_returns",
    "previous_quarter",
    "quarter_label",
    "quarter_of",
    "quarters_of",
    "returns_of",
]

# The two kinds, with the names people write for them (in a CSV as in the review).
KINDS = {"hub": "Community Hub", "centre": "Local Resource Centre"}
_KIND_NAMES = {
    "hub": "hub",
    "ch": "hub",
    "community hub": "hub",
    "centre": "centre",
    "center": "centre",
    "lrc": "centre",
    "local resource centre": "centre",
    "resource centre": "centre",
}

HUB_REQUIRED = ("external_ref", "name", "kind", "locality")
HUB_COLUMNS = HUB_REQUIRED
HUB_EXAMPLE = ["VAC", "Voluntary Action Charnwood", "hub", "Charnwood"]

RETURN_REQUIRED = ("hub_ref", "quarter", "variable", "value")
RETURN_OPTIONAL = ("target", "note")
RETURN_COLUMNS = RETURN_REQUIRED + RETURN_OPTIONAL

# variable id -> the kinds of hub that report it ("hub", "centre").
Variables = Mapping[str, frozenset[str]]

_QUARTER = re.compile(r"^\s*(\d{4})\s*/\s*(\d{2})\s+Q([1-4])\s*$", re.IGNORECASE)
# Financial quarters: Q1 April-June, Q2 July-September, Q3 October-December, Q4 January-March.
_FIRST_MONTH = {1: 4, 2: 7, 3: 10, 4: 1}


# Quarters ------------------------------------------------------------------------------------


def parse_quarter(text: str) -> date | None:
    """Read a financial quarter's label ("2010/11 Q2"); give its first day, or None."""
    found = _QUARTER.match(text)
    if found is None:
        return None
    year, following, number = int(found[1]), int(found[2]), int(found[3])
    if following != (year + 1) % 100:
        return None
    return date(year + (1 if number == 4 else 0), _FIRST_MONTH[number], 1)


def quarter_of(day: date) -> date:
    """Give the first day of the financial quarter a day falls in."""
    month = ((day.month - 1) // 3) * 3 + 1
    return date(day.year, month, 1)


def quarter_label(start: date) -> str:
    """Name a quarter by its first day: 1 July 2010 is "2010/11 Q2"."""
    year = start.year if start.month >= 4 else start.year - 1
    number = {4: 1, 7: 2, 10: 3, 1: 4}[start.month]
    return f"{year}/{(year + 1) % 100:02d} Q{number}"


def previous_quarter(start: date) -> date:
    """Give the first day of the quarter before."""
    month = start.month - 3
    return date(start.year, month, 1) if month >= 1 else date(start.year - 1, month + 12, 1)


def quarter_end(start: date) -> date:
    """Give the last day of a quarter."""
    month = start.month + 3
    after = date(start.year, month, 1) if month <= 12 else date(start.year + 1, month - 12, 1)
    return date.fromordinal(after.toordinal() - 1)


# The register --------------------------------------------------------------------------------


def _kind(raw: str) -> str | None:
    return _KIND_NAMES.get(" ".join(raw.strip().lower().split()))


def _text(
    problems: list[Problem], line: int, cells: dict[str, str], column: str, limit: int
) -> str | None:
    value = cells.get(column, "").strip()
    if not value:
        problems.append(Problem(line, column, "is empty"))
        return None
    if len(value) > limit:
        problems.append(Problem(line, column, f"is too long ({limit} characters at most)"))
    return value


def _check_hub(line: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    problems = control_problems(line, cells)
    row: dict[str, Any] = {"line": line}
    row["external_ref"] = _text(problems, line, cells, "external_ref", 64)
    row["name"] = _text(problems, line, cells, "name", 200)
    raw = cells.get("kind", "").strip()
    row["kind"] = _kind(raw)
    if row["kind"] is None:
        shown = f"{raw!r} is not a kind of hub" if raw else "is empty"
        problems.append(
            Problem(
                line,
                "kind",
                f"{shown} (use hub for a Community Hub, centre for a Local Resource Centre)",
            )
        )
    row["locality"] = _text(problems, line, cells, "locality", 100)
    return row, problems


def hubs_of(session: Session, provider_id: int) -> list[models.Hub]:
    """List a provider's hubs and centres: centres first (as the review's table), by name."""
    found = session.scalars(select(models.Hub).where(models.Hub.provider_id == provider_id))
    return sorted(found, key=lambda h: (h.kind != "centre", h.name.lower(), h.id))


def plan_hubs(session: Session, provider: models.Provider, text: str) -> ImportPlan:
    """Check a CSV of hubs and centres and say what importing it would do."""
    ref = Unique("external_ref", "external_ref", "{value} appears again (first on line {first})")
    rows, problems = read_csv(text, HUB_REQUIRED, (), _check_hub, [ref])
    if problems:
        raise CsvImportError(problems)
    known = {h.external_ref for h in hubs_of(session, provider.id)}
    plan = ImportPlan()
    for row in rows:
        (plan.updated if row["external_ref"] in known else plan.new).append(row)
    return plan


def import_hubs(session: Session, provider: models.Provider, text: str) -> ImportPlan:
    """Import (add or update) hubs and centres from CSV text: every row, or none if any is bad."""
    plan = plan_hubs(session, provider, text)
    by_ref = {h.external_ref: h for h in hubs_of(session, provider.id)}
    for row in plan.new + plan.updated:
        values = {k: row[k] for k in HUB_COLUMNS}
        hub = by_ref.get(row["external_ref"])
        if hub is None:
            session.add(models.Hub(provider_id=provider.id, **values))
        else:
            for key, value in values.items():
                if getattr(hub, key) != value:
                    setattr(hub, key, value)
    session.flush()
    return plan


# Returns -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    """What checking a returns file needs, loaded once: the hubs and the variables."""

    hubs: dict[str, models.Hub]
    variables: Variables
    today: date


def _whole(problems: list[Problem], line: int, cells: dict[str, str], column: str) -> int | None:
    raw = cells.get(column, "").strip().replace(",", "")
    if not raw:
        return None
    try:
        number = int(raw)
    except ValueError:
        problems.append(Problem(line, column, f"{raw!r} is not a whole number"))
        return None
    if number < 0:
        problems.append(Problem(line, column, f"{raw} is negative: a figure is 0 or more"))
        return None
    if number > 10_000_000:
        problems.append(Problem(line, column, f"{raw} is too large"))
        return None
    return number


def _check_return(
    known: _Known, line: int, cells: dict[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    problems = control_problems(line, cells)
    row: dict[str, Any] = {"line": line}

    def problem(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    ref = cells.get("hub_ref", "").strip()
    hub = known.hubs.get(ref)
    if not ref:
        problem("hub_ref", "is empty")
    elif hub is None:
        problem("hub_ref", f"{ref!r} is not a hub or centre on your register: add it first")
    row["hub_ref"] = ref
    raw_quarter = cells.get("quarter", "").strip()
    quarter = parse_quarter(raw_quarter)
    if not raw_quarter:
        problem("quarter", "is empty")
    elif quarter is None:
        problem("quarter", f"{raw_quarter!r} is not a quarter (write it as 2010/11 Q2)")
    elif quarter > known.today:
        problem("quarter", f"{quarter_label(quarter)} has not started yet")
    row["quarter"] = quarter
    variable = cells.get("variable", "").strip().lower()
    kinds = known.variables.get(variable)
    if not variable:
        problem("variable", "is empty")
    elif kinds is None:
        problem(
            "variable",
            f"{variable!r} is not a variable (use one of: {', '.join(known.variables)})",
        )
    elif hub is not None and hub.kind not in kinds:
        problem("variable", f"a {KINDS[hub.kind]} does not report {variable}")
    row["variable"] = variable
    row["value"] = _whole(problems, line, cells, "value")
    row["target"] = _whole(problems, line, cells, "target")
    note = cells.get("note", "").strip()
    if len(note) > 500:
        problem("note", "is too long (500 characters at most)")
    row["note"] = note or None
    if row["value"] is None and not cells.get("value", "").strip() and not note:
        problem("value", "is empty: give the figure, or say in the note why it is not reported")
    return row, problems


def plan_returns(
    session: Session,
    provider: models.Provider,
    text: str,
    variables: Variables,
    *,
    today: date | None = None,
) -> ImportPlan:
    """Check a CSV of quarterly returns and say what importing it would do (new or updated
    figures)."""
    known = _Known(
        hubs={h.external_ref: h for h in hubs_of(session, provider.id)},
        variables=variables,
        today=today or date.today(),
    )

    def check(line: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
        row, problems = _check_return(known, line, cells)
        # One key for the duplicate check: the same hub, quarter and variable twice.
        if row["hub_ref"] and row["quarter"] and row["variable"]:
            row["key"] = f"{row['hub_ref']} {quarter_label(row['quarter'])} {row['variable']}"
        return row, problems

    same = Unique(
        "key", "variable", "{value} appears again (first on line {first}): a duplicate row"
    )
    rows, problems = read_csv(text, RETURN_REQUIRED, RETURN_OPTIONAL, check, [same])
    if problems:
        order = {c: n for n, c in enumerate(RETURN_COLUMNS)}
        raise CsvImportError(sorted(problems, key=lambda p: (p.line, order.get(p.column, 99))))
    stored = {
        (r.hub_id, r.quarter, r.variable)
        for r in session.scalars(
            select(models.HubReturn).join(models.Hub).where(models.Hub.provider_id == provider.id)
        )
    }
    plan = ImportPlan()
    for row in rows:
        hub = known.hubs[row["hub_ref"]]
        row["hub_id"] = hub.id
        is_stored = (hub.id, row["quarter"], row["variable"]) in stored
        (plan.updated if is_stored else plan.new).append(row)
    return plan


def import_returns(
    session: Session,
    provider: models.Provider,
    text: str,
    variables: Variables,
    *,
    today: date | None = None,
) -> ImportPlan:
    """Import quarterly returns from CSV text: every row, or none if any is bad."""
    plan = plan_returns(session, provider, text, variables, today=today)
    hub_ids = [h.id for h in hubs_of(session, provider.id)]
    by_key = {
        (r.hub_id, r.quarter, r.variable): r
        for r in session.scalars(
            select(models.HubReturn).where(models.HubReturn.hub_id.in_(hub_ids))
        )
    }
    for row in plan.new + plan.updated:
        values = {k: row[k] for k in ("value", "target", "note")}
        stored = by_key.get((row["hub_id"], row["quarter"], row["variable"]))
        if stored is None:
            session.add(
                models.HubReturn(
                    hub_id=row["hub_id"],
                    quarter=row["quarter"],
                    variable=row["variable"],
                    **values,
                )
            )
        else:
            for key, value in values.items():
                if getattr(stored, key) != value:
                    setattr(stored, key, value)
    session.flush()
    return plan


def returns_of(session: Session, provider_id: int, quarters: list[date]) -> list[models.HubReturn]:
    """Give the provider's returns for the quarters asked."""
    return list(
        session.scalars(
            select(models.HubReturn)
            .join(models.Hub)
            .where(models.Hub.provider_id == provider_id, models.HubReturn.quarter.in_(quarters))
            .order_by(models.HubReturn.id)
        )
    )


def quarters_of(session: Session, provider_id: int) -> list[date]:
    """List the quarters the provider has returns for, newest first."""
    return sorted(
        set(
            session.scalars(
                select(models.HubReturn.quarter)
                .join(models.Hub)
                .where(models.Hub.provider_id == provider_id)
                .distinct()
            )
        ),
        reverse=True,
    )


def csv_example(variables: Variables) -> list[list[str]]:
    """Give example rows for a returns template: one figure and one not reported."""
    names = list(variables) or ["groups_supported"]
    return [
        ["VAC", "2010/11 Q2", names[0], "34", "", ""],
        ["VAC", "2010/11 Q2", names[-1], "", "", "not applicable this quarter"],
    ]
