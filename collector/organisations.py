"""Organisations: the VCS groups on a provider's list, and their CSV import (all or nothing)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from collector import models
from collector.controls import control_problem
from collector.delivery import outbox
from collector.errors import CollectorError
from collector.models import utcnow
from collector.segments import INCOME_BANDS, ORGANISATION_TYPES, OUTCOMES

REQUIRED_COLUMNS = ("external_ref", "name", "org_type")
OPTIONAL_COLUMNS = (
    "income_band",
    "district",
    "outcomes",
    "is_member",
    "contact_email",
    "consent_email",
    "consent_telegram",
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell (or the whole file, at line 1)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class CsvImportError(CollectorError):
    """The file has problems; nothing was imported."""

    code = "bad_import"

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"Nothing was imported: {count} problem{'s' if count != 1 else ''} in the file"
        )
        self.problems = problems


@dataclass
class ImportPlan:
    """What an import would do: the parsed rows, split into new and updated organisations."""

    new: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)


def _lookup(vocabulary: dict[str, str], raw: str) -> str | None:
    """Accept a vocabulary key or its label, case-insensitively."""
    wanted = raw.strip().lower()
    for key, label in vocabulary.items():
        if wanted in (key.lower(), label.lower()):
            return key
    return None


def _flag(raw: str) -> bool | None:
    text = raw.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None


@dataclass(frozen=True)
class Unique:
    """A value no two rows of an imported file may share."""

    key: str  # the checked row's key
    column: str  # the column its problem names
    message: str  # with {value} and {first}, the line it was first on
    fold_case: bool = False


def read_csv(
    text: str,
    required: Sequence[str],
    optional: Sequence[str],
    check: Callable[[int, dict[str, str]], tuple[dict[str, Any], list[Problem]]],
    unique: Sequence[Unique] = (),
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Read an imported CSV file: check its header, each row (with `check`, given the line
    number and the cells by lower-case column name) and that no `unique` value repeats; give
    the checked rows and every problem, in the order the file has them."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in headers]
    if missing:
        return [], [Problem(1, c, "required column is missing") for c in missing]
    known = (*required, *optional)
    problems = [Problem(1, h, "unknown column") for h in headers if h not in known]
    rows: list[dict[str, Any]] = []
    seen: dict[str, dict[str, int]] = {rule.key: {} for rule in unique}
    for record in reader:
        line = reader.line_num
        cells = {
            (k or "").strip().lower(): (v if isinstance(v, str) else "") for k, v in record.items()
        }
        if None in record:
            problems.append(Problem(line, "", "more cells than columns"))
        row, row_problems = check(line, cells)
        problems += row_problems
        for rule in unique:
            value = row.get(rule.key) or ""
            if rule.fold_case:
                value = value.lower()
            if not value:
                continue
            first = seen[rule.key].setdefault(value, line)
            if first != line:
                problems.append(
                    Problem(line, rule.column, rule.message.format(value=value, first=first))
                )
        rows.append(row)
    if not rows and not problems:
        problems.append(Problem(1, "", "the file has a header but no rows"))
    return rows, problems


def parse_csv(text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Parse and check every row of an organisations CSV; give the rows and all the problems."""
    ref = Unique("external_ref", "external_ref", "{value!r} appears again (first on line {first})")
    return read_csv(text, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, _parse_row, [ref])


def control_problems(line: int, cells: dict[str, str]) -> list[Problem]:
    """Give a problem for each cell holding a control character (see `collector.controls`)."""
    found = ((column, control_problem(value)) for column, value in cells.items())
    return [Problem(line, column, message) for column, message in found if message]


def _parse_row(line: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    problems: list[Problem] = control_problems(line, cells)
    row: dict[str, Any] = {"line": line}

    def problem(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    for column in ("external_ref", "name"):
        value = cells.get(column, "").strip()
        if not value:
            problem(column, "is empty")
        elif len(value) > (64 if column == "external_ref" else 200):
            problem(column, "is too long")
        row[column] = value
    org_type = _lookup(ORGANISATION_TYPES, cells.get("org_type", ""))
    if org_type is None:
        problem(
            "org_type",
            f"{cells.get('org_type', '').strip()!r} is not a known type of group "
            f"(use one of: {', '.join(ORGANISATION_TYPES)})",
        )
    row["org_type"] = org_type
    band_raw = cells.get("income_band", "").strip()
    row["income_band"] = _lookup(INCOME_BANDS, band_raw) if band_raw else None
    if band_raw and row["income_band"] is None:
        problem(
            "income_band",
            f"{band_raw!r} is not an income band (use one of: {', '.join(INCOME_BANDS)})",
        )
    row["district"] = cells.get("district", "").strip() or None
    outcomes = []
    for part in re.split(r"[;,]", cells.get("outcomes", "")):
        if not part.strip():
            continue
        key = _lookup(OUTCOMES, part)
        if key is None:
            problem(
                "outcomes", f"{part.strip()!r} is not an outcome area (use: {', '.join(OUTCOMES)})"
            )
        elif key not in outcomes:
            outcomes.append(key)
    row["outcomes"] = " ".join(k for k in OUTCOMES if k in outcomes)
    for column in ("is_member", "consent_email", "consent_telegram"):
        flag = _flag(cells.get(column, ""))
        if flag is None:
            problem(column, f"{cells.get(column, '').strip()!r} is not yes or no")
        row[column] = bool(flag)
    email = cells.get("contact_email", "").strip()
    if email and not EMAIL.match(email):
        problem("contact_email", f"{email!r} is not an email address")
    row["contact_email"] = email or None
    if row["consent_email"] and not email:
        problem("consent_email", "consent to email given but no contact_email")
    return row, problems


def plan_import(session: Session, provider: models.Provider, text: str) -> ImportPlan:
    """Check a CSV against the provider's list and say what importing it would do."""
    rows, problems = parse_csv(text)
    if problems:
        raise CsvImportError(problems)
    existing = set(
        session.scalars(
            select(models.Organisation.external_ref).where(
                models.Organisation.provider_id == provider.id
            )
        )
    )
    plan = ImportPlan()
    for row in rows:
        (plan.updated if row["external_ref"] in existing else plan.new).append(row)
    return plan


def import_csv(session: Session, provider: models.Provider, text: str) -> ImportPlan:
    """Import (add or update) organisations from CSV text: every row, or none if any is bad."""
    plan = plan_import(session, provider, text)
    by_ref = {
        o.external_ref: o
        for o in session.scalars(
            select(models.Organisation).where(models.Organisation.provider_id == provider.id)
        )
    }
    for row in plan.new + plan.updated:
        values = {k: v for k, v in row.items() if k != "line"}
        organisation = by_ref.get(row["external_ref"])
        if organisation is None:
            session.add(models.Organisation(provider_id=provider.id, **values))
        else:
            for key, value in values.items():
                setattr(organisation, key, value)
    session.flush()
    return plan


def opt_out(
    session: Session, organisation: models.Organisation, *, now: datetime | None = None
) -> int:
    """Stop asking an organisation: no new invitations, and its unsent messages are cancelled.

    Give the number of messages cancelled. Answers it already gave are kept.
    """
    if organisation.opted_out_at is None:
        organisation.opted_out_at = now or utcnow()
    return outbox.cancel_unsent_invitations(
        session, models.Invitation.organisation_id == organisation.id, "The group opted out"
    )


def opt_in(organisation: models.Organisation) -> None:
    """Ask an organisation again in future rounds (staff, when the group asks to be back)."""
    organisation.opted_out_at = None


# One organisation at a time (the console's add and edit) ----------------------------------

# The columns an organisation's form has, in the order its problems are listed.
FORM_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


class OrganisationError(CollectorError):
    """An organisation cannot be saved as given; `problems` names each bad field."""

    code = "bad_organisation"

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"Nothing was saved: {count} problem{'s' if count != 1 else ''} with the organisation"
        )
        self.problems = problems


def check_organisation(
    session: Session,
    provider: models.Provider,
    cells: dict[str, str],
    *,
    organisation: models.Organisation | None = None,
) -> dict[str, Any]:
    """Check one organisation's fields with the CSV's rules; give the values to store.

    `cells` are the CSV's columns as text (flags as yes or no, outcomes separated by
    semicolons). `organisation`: the one being edited, which may keep its own reference.
    """
    row, problems = _parse_row(0, cells)
    ref = row["external_ref"]
    if ref:
        taken = session.scalar(
            select(models.Organisation).where(
                models.Organisation.provider_id == provider.id,
                models.Organisation.external_ref == ref,
            )
        )
        if taken is not None and taken is not organisation:
            problems.append(Problem(0, "external_ref", f"{ref!r} is already used by {taken.name}"))
    if problems:
        order = {column: n for n, column in enumerate(FORM_COLUMNS)}
        raise OrganisationError(sorted(problems, key=lambda p: order.get(p.column, 99)))
    return {k: v for k, v in row.items() if k != "line"}


def add_organisation(
    session: Session, provider: models.Provider, cells: dict[str, str]
) -> models.Organisation:
    """Add one organisation to the provider's list, checked as a CSV row is."""
    values = check_organisation(session, provider, cells)
    organisation = models.Organisation(provider_id=provider.id, **values)
    session.add(organisation)
    session.flush()
    return organisation


def update_organisation(
    session: Session, organisation: models.Organisation, cells: dict[str, str]
) -> list[str]:
    """Change one organisation's fields, checked as a CSV row is; give the changed fields."""
    values = check_organisation(session, organisation.provider, cells, organisation=organisation)
    changed = [key for key, value in values.items() if getattr(organisation, key) != value]
    for key in changed:
        setattr(organisation, key, values[key])
    session.flush()
    return changed


def as_cells(organisation: models.Organisation) -> dict[str, str]:
    """Give an organisation's fields as the text a form or CSV row holds."""

    def flag(value: bool) -> str:
        return "yes" if value else "no"

    return {
        "external_ref": organisation.external_ref,
        "name": organisation.name,
        "org_type": organisation.org_type,
        "income_band": organisation.income_band or "",
        "district": organisation.district or "",
        "outcomes": ";".join(organisation.outcomes.split()),
        "is_member": flag(organisation.is_member),
        "contact_email": organisation.contact_email or "",
        "consent_email": flag(organisation.consent_email),
        "consent_telegram": flag(organisation.consent_telegram),
    }


# Finding organisations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What to look for in a provider's list; None (or empty) means any."""

    text: str = ""  # in the name or the reference
    org_type: str | None = None
    district: str | None = None
    income_band: str | None = None  # "unknown": not recorded
    member: bool | None = None
    outcome: str | None = None
    opted_out: bool | None = None


def filtered_query(provider_id: int, filters: Filters) -> Any:
    """Build the SELECT of a provider's organisations that match `filters` (by name)."""
    org = models.Organisation
    query = select(org).where(org.provider_id == provider_id)
    text = filters.text.strip().lower()
    if text:
        query = query.where(
            or_(
                func.lower(org.name).contains(text, autoescape=True),
                func.lower(org.external_ref).contains(text, autoescape=True),
            )
        )
    if filters.org_type:
        query = query.where(org.org_type == filters.org_type)
    if filters.district:
        query = query.where(org.district == filters.district)
    if filters.income_band == "unknown":
        query = query.where(org.income_band.is_(None))
    elif filters.income_band:
        query = query.where(org.income_band == filters.income_band)
    if filters.member is not None:
        query = query.where(org.is_member.is_(filters.member))
    if filters.outcome:
        # Outcomes are space-separated slugs: pad both sides so one never matches inside another.
        query = query.where((" " + org.outcomes + " ").contains(f" {filters.outcome} "))
    if filters.opted_out is True:
        query = query.where(org.opted_out_at.is_not(None))
    elif filters.opted_out is False:
        query = query.where(org.opted_out_at.is_(None))
    return query


def search(
    session: Session, provider_id: int, filters: Filters, *, page: int = 1, per_page: int = 50
) -> tuple[list[models.Organisation], int]:
    """Give one page of the provider's organisations that match, by name, and how many match."""
    query = filtered_query(provider_id, filters)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(func.lower(models.Organisation.name), models.Organisation.id)
        .offset(max(page - 1, 0) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total


def districts(
    session: Session,
    provider_id: int,
    of: type[models.Organisation | models.Volunteer] = models.Organisation,
) -> list[str]:
    """List the districts recorded on the provider's organisations (or volunteers, `of`),
    alphabetically."""
    return sorted(
        d
        for d in session.scalars(
            select(of.district).where(of.provider_id == provider_id).distinct()
        )
        if d
    )
