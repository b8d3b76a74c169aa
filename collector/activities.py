"""What a provider did, as its staff record it: activity records, evidence and milestones.

Funders judge a CVS on more than surveys (issue 17). Three kinds of record feed the rest of a
performance framework:

- **activity records**: one row per thing done (an event or network supported, an
  organisational health check, guidance given, a funding application supported with the
  amounts applied for and obtained, training or specialist support arranged, a volunteer
  opportunity developed, a group signed up to the Compact), dated, with the group helped when
  there is one and, optionally, the beneficiaries reached. Counted by the framework's
  ``activity`` indicators.
- **evidence items**: a case study or other evidence, with a title, its text and an optional
  attachment, for a period, linked to the indicators it supports; and staff's **assessment**
  of an evidence indicator for a period (met, partly met, not met) with the reason.
- **milestones**: a one-off event an indicator asks for, with the date progress is due by
  (optional), the date it is due to be achieved by, and the dates progress and achievement
  were recorded.

An activity CSV import checks every row before saving any, as the other imports do: the file
is taken whole or not at all, and every problem is listed by line and column. Where the rules
had to choose:

- A reference already on the provider's records updates that record, so a corrected file can
  be imported again; the same reference twice in one file is a problem, and so is a row that
  repeats another row of the file in everything but its reference (one activity counted twice).
- A date must be inside a reporting period the provider can report on: not after today (an
  activity is recorded once it happened), and not before the financial year (1 April) before
  the provider's first round, or before the previous financial year when it has no rounds.
- Amounts are pounds (``1234.50``, ``£1,234.50``), never negative, kept in pence; only a
  funding application has them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from collector import localtime, models
from collector.controls import control_problem
from collector.errors import CollectorError, NotFound
from collector.models import utcnow
from collector.organisations import (
    CsvImportError,
    ImportPlan,
    Problem,
    Unique,
    control_problems,
    read_csv,
)
from collector.volunteering.volunteers import parse_date

__all__ = [
    "ACTIVITY_KINDS",
    "ASSESSMENTS",
    "ActivityError",
    "CsvImportError",
    "ImportPlan",
    "Problem",
    "add_activity",
    "add_evidence",
    "import_activities",
    "plan_activities",
    "reporting_window",
    "set_assessment",
    "set_milestone",
]

ACTIVITY_KINDS = {
    "event": "Network or event supported",
    "health_check": "Organisational health check",
    "guidance": "Guidance given",
    "funding_application": "Funding application supported",
    "training": "Training or specialist support arranged",
    "volunteer_opportunity": "Volunteer opportunity developed",
    "compact_signup": "Group signed up to the Compact",
}
ASSESSMENTS = {"met": "Met", "partly_met": "Partly met", "not_met": "Not met"}
REQUIRED = ("external_ref", "kind", "date")
OPTIONAL = ("organisation_ref", "description", "amount_applied", "amount_obtained", "beneficiaries")
FIELDS = (
    "external_ref",
    "kind",
    "occurred_on",
    "organisation_id",
    "description",
    "amount_applied_pence",
    "amount_obtained_pence",
    "beneficiaries",
)
EXAMPLE = [
    "ACT0001",
    "funding_application",
    "2026-05-12",
    "HAR0001",
    "Lottery bid",
    "5000",
    "4500",
    "",
]
# The largest amount one row may hold: a mistyped figure, not a grant, above this.
MOST_POUNDS = 100_000_000
MOST_BENEFICIARIES = 10_000_000
_MONEY = re.compile(r"^£?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


class ActivityError(CollectorError):
    """A record cannot be saved as given; `problems` names each bad field."""

    code = "bad_activity"

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(f"Nothing was saved: {count} problem{'s' if count != 1 else ''}")
        self.problems = problems


def uk_today() -> date:
    """Give today's date in the UK."""
    return localtime.uk(utcnow()).date()


def _financial_year_start(day: date) -> date:
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def reporting_window(
    session: Session, provider_id: int, *, today: date | None = None
) -> tuple[date, date]:
    """Give the first and last days an activity of the provider may be dated (see above)."""
    today = today or uk_today()
    first_round = session.scalar(
        select(func.min(models.Round.opens_at)).where(models.Round.provider_id == provider_id)
    )
    first = localtime.uk(first_round).date() if first_round is not None else today
    start = _financial_year_start(first)
    return date(start.year - 1, 4, 1), today


def parse_pounds(raw: str) -> int | None:
    """Read an amount of money in pounds ('1234.5', '£1,234.50') as pence; None if unread."""
    match = _MONEY.match(raw.strip())
    if match is None:
        return None
    pounds = int(match.group(1).replace(",", ""))
    pence = int((match.group(2) or "0").ljust(2, "0"))
    return pounds * 100 + pence


@dataclass
class _Lookups:
    provider_id: int
    window: tuple[date, date]
    organisations: dict[str, int] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)


def _lookups(session: Session, provider_id: int, today: date | None) -> _Lookups:
    org, act = models.Organisation, models.ActivityRecord
    found = _Lookups(provider_id, reporting_window(session, provider_id, today=today))
    found.organisations = {
        ref: oid
        for ref, oid in session.execute(
            select(org.external_ref, org.id).where(org.provider_id == provider_id)
        )
    }
    found.existing = {
        ref
        for ref in session.scalars(select(act.external_ref).where(act.provider_id == provider_id))
        if ref
    }
    return found


def _check(
    found: _Lookups, line: int, cells: dict[str, str], *, ref_required: bool = True
) -> tuple[dict[str, Any], list[Problem]]:
    """Check one activity's cells; give its values and its problems."""
    problems = control_problems(line, cells)
    values: dict[str, Any] = {"line": line}

    def problem(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    ref = cells.get("external_ref", "").strip()
    if not ref and ref_required:
        problem("external_ref", "is empty")
    elif len(ref) > 64:
        problem("external_ref", "is too long (64 characters at most)")
    values["external_ref"] = ref or None
    raw_kind = cells.get("kind", "").strip()
    kind = _kind(raw_kind)
    if kind is None:
        shown = f"{raw_kind!r} is not" if raw_kind else "is empty: use"
        problem("kind", f"{shown} one of: {', '.join(ACTIVITY_KINDS)}")
    values["kind"] = kind
    values["occurred_on"] = _date(cells.get("date", ""), found.window, problem)
    org_ref = cells.get("organisation_ref", "").strip()
    values["organisation_id"] = None
    if org_ref:
        if org_ref not in found.organisations:
            problem(
                "organisation_ref",
                f"{org_ref!r} is not an organisation on the provider's list "
                "(add it first, or leave the cell empty)",
            )
        else:
            values["organisation_id"] = found.organisations[org_ref]
    description = " ".join(cells.get("description", "").split())
    if len(description) > 300:
        problem("description", "is too long (300 characters at most)")
    values["description"] = description
    for column in ("amount_applied", "amount_obtained"):
        values[f"{column}_pence"] = _amount(cells.get(column, ""), column, kind, problem)
    values["beneficiaries"] = _beneficiaries(cells.get("beneficiaries", ""), problem)
    return values, problems


def _kind(raw: str) -> str | None:
    wanted = raw.lower().replace(" ", "_").replace("-", "_")
    for key, label in ACTIVITY_KINDS.items():
        if wanted == key or raw.lower() == label.lower():
            return key
    return None


def _date(raw: str, window: tuple[date, date], problem: Any) -> date | None:
    text = raw.strip()
    if not text:
        problem("date", "is empty (use a date like 2026-04-01)")
        return None
    day = parse_date(text)
    if day is None:
        problem("date", f"{text!r} is not a date (use YYYY-MM-DD, like 2026-04-01)")
        return None
    first, last = window
    if day > last:
        problem("date", f"{text} is after today: record an activity once it has happened")
        return None
    if day < first:
        problem(
            "date",
            f"{text} is outside any reporting period of this provider (the earliest is the "
            f"period starting {first:%-d %b %Y}): check the year",
        )
        return None
    return day


def _amount(raw: str, column: str, kind: str | None, problem: Any) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if kind is not None and kind != "funding_application":
        problem(column, "is only for a funding application: leave it empty")
        return None
    if text.lstrip().startswith("-") or text.startswith("£-"):
        problem(column, f"{text} is negative: an amount is 0 or more pounds")
        return None
    pence = parse_pounds(text)
    if pence is None:
        problem(column, f"{text!r} is not an amount in pounds (like 1234.50)")
        return None
    if pence > MOST_POUNDS * 100:
        problem(column, f"{text} is more than £{MOST_POUNDS:,}: check the figure")
        return None
    return pence


def _beneficiaries(raw: str, problem: Any) -> int | None:
    text = raw.strip().replace(",", "")
    if not text:
        return None
    if text.startswith("-"):
        problem("beneficiaries", f"{raw.strip()} is negative: give a number of people, 0 or more")
        return None
    if not text.isdigit():
        problem("beneficiaries", f"{raw.strip()!r} is not a whole number of people")
        return None
    if int(text) > MOST_BENEFICIARIES:
        problem("beneficiaries", f"{raw.strip()} is more than {MOST_BENEFICIARIES:,}: check it")
        return None
    return int(text)


def _same_activity(values: dict[str, Any]) -> str:
    """Give what makes two rows the same activity (everything but the reference)."""
    keys = ("kind", "occurred_on", "organisation_id", "description")
    amounts = ("amount_applied_pence", "amount_obtained_pence", "beneficiaries")
    parts = [str(values.get(k)) for k in keys + amounts]
    return "|".join(parts).lower()


def parse_csv(found: _Lookups, text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Check every row of an activity CSV; give the rows and every problem."""
    rows, problems = read_csv(
        text,
        REQUIRED,
        OPTIONAL,
        lambda line, cells: _check(found, line, cells),
        [Unique("external_ref", "external_ref", "{value} appears again (first on line {first})")],
    )
    seen: dict[str, int] = {}
    for row in rows:
        if row.get("kind") is None or row.get("occurred_on") is None:
            continue
        first = seen.setdefault(_same_activity(row), row["line"])
        if first != row["line"]:
            problems.append(
                Problem(
                    row["line"],
                    "",
                    f"the same activity as line {first} (kind, date, organisation, description "
                    "and amounts): a duplicate row",
                )
            )
    return rows, sorted(problems, key=lambda p: (p.line, p.column))


def plan_activities(
    session: Session, provider: models.Provider, text: str, *, today: date | None = None
) -> ImportPlan:
    """Check an activity CSV against the provider's records; say what importing it would do."""
    found = _lookups(session, provider.id, today)
    rows, problems = parse_csv(found, text)
    if problems:
        raise CsvImportError(problems)
    plan = ImportPlan()
    for row in rows:
        (plan.updated if row["external_ref"] in found.existing else plan.new).append(row)
    return plan


def import_activities(
    session: Session, provider: models.Provider, text: str, *, today: date | None = None
) -> ImportPlan:
    """Import (add or update) activity records from CSV text: every row, or none if any is bad."""
    plan = plan_activities(session, provider, text, today=today)
    act = models.ActivityRecord
    by_ref = {
        record.external_ref: record
        for record in session.scalars(select(act).where(act.provider_id == provider.id))
        if record.external_ref
    }
    new = [{"provider_id": provider.id, **{k: values[k] for k in FIELDS}} for values in plan.new]
    if new:
        session.execute(insert(models.ActivityRecord), new)
    for values in plan.updated:
        record = by_ref[values["external_ref"]]
        for key in FIELDS:
            if getattr(record, key) != values[key]:
                setattr(record, key, values[key])
    session.flush()
    return plan


def add_activity(
    session: Session, provider: models.Provider, cells: dict[str, str], *, today: date | None = None
) -> models.ActivityRecord:
    """Add one activity, checked as a CSV row is (the reference is optional here)."""
    found = _lookups(session, provider.id, today)
    values, problems = _check(found, 0, cells, ref_required=False)
    ref = values.get("external_ref")
    if ref and ref in found.existing:
        problems.append(Problem(0, "external_ref", f"{ref} is already used by another activity"))
    if problems:
        raise ActivityError(problems)
    record = models.ActivityRecord(provider_id=provider.id, **{k: values[k] for k in FIELDS})
    session.add(record)
    session.flush()
    return record


def activities(
    session: Session, provider_id: int, *, limit: int = 200
) -> list[models.ActivityRecord]:
    """Give the provider's latest activity records, newest first."""
    act = models.ActivityRecord
    return list(
        session.scalars(
            select(act)
            .where(act.provider_id == provider_id)
            .order_by(act.occurred_on.desc(), act.id.desc())
            .limit(limit)
        )
    )


# Evidence and assessments ------------------------------------------------------------------


def _text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise CollectorError(f"The {what} is empty")
    if len(text) > limit:
        raise CollectorError(f"The {what} is too long ({limit} characters at most)")
    message = control_problem(text)
    if message:
        raise CollectorError(f"The {what} {message}")
    return text


def add_evidence(
    session: Session,
    provider: models.Provider,
    *,
    period: str,
    title: str,
    text: str,
    indicators: list[tuple[str, str]],
    is_case_study: bool = False,
    attachment: tuple[str, str, bytes] | None = None,
    user: models.User | None = None,
) -> models.EvidenceItem:
    """Add a case study or other evidence for a period, linked to the indicators it supports.

    `indicators` are (framework id, KPI id) pairs, checked by the caller against the framework
    (the collector does not read frameworks); `attachment` is (file name, type, bytes).
    """
    if not indicators:
        raise CollectorError("Name at least one indicator the evidence supports")
    item = models.EvidenceItem(
        provider_id=provider.id,
        period=_text(period, "period", 64),
        title=_text(title, "title", 200),
        text=_text(text, "text", 20_000, required=False),
        is_case_study=is_case_study,
        created_by_id=None if user is None else user.id,
    )
    if attachment is not None:
        name, kind, data = attachment
        if len(data) > 5 * 1024 * 1024:
            raise CollectorError("The attachment is larger than 5 MB")
        item.attachment_name = _text(name, "attachment's name", 200)
        item.attachment_type = kind[:100] or "application/octet-stream"
        item.attachment = data
    for framework, kpi_id in dict.fromkeys(indicators):
        item.links.append(models.EvidenceLink(framework=framework, kpi_id=kpi_id))
    session.add(item)
    session.flush()
    return item


def set_assessment(
    session: Session,
    provider: models.Provider,
    *,
    framework: str,
    kpi_id: str,
    period: str,
    status: str,
    reason: str,
    user: models.User | None = None,
) -> models.IndicatorAssessment:
    """Set staff's status of an evidence indicator for a period (met, partly met, not met)."""
    if status not in ASSESSMENTS:
        raise CollectorError(f"Unknown status {status!r}: use one of {', '.join(ASSESSMENTS)}")
    reason = _text(reason, "reason", 5000)
    table = models.IndicatorAssessment
    row = session.scalar(
        select(table).where(
            table.provider_id == provider.id,
            table.framework == framework,
            table.kpi_id == kpi_id,
            table.period == period,
        )
    )
    if row is None:
        row = table(provider_id=provider.id, framework=framework, kpi_id=kpi_id, period=period)
        session.add(row)
    row.status = status
    row.reason = reason
    row.updated_by_id = None if user is None else user.id
    session.flush()
    return row


def set_milestone(
    session: Session,
    provider: models.Provider,
    *,
    framework: str,
    kpi_id: str,
    title: str,
    due_on: date,
    progress_due: date | None = None,
    progress_on: date | None = None,
    achieved_on: date | None = None,
    note: str = "",
) -> models.Milestone:
    """Record (or update) a provider's milestone for an indicator, with its dates."""
    if progress_due is not None and progress_due > due_on:
        raise CollectorError(
            f"Progress is due by {progress_due}, after the milestone itself ({due_on})"
        )
    table = models.Milestone
    row = session.scalar(
        select(table).where(
            table.provider_id == provider.id, table.framework == framework, table.kpi_id == kpi_id
        )
    )
    if row is None:
        row = table(provider_id=provider.id, framework=framework, kpi_id=kpi_id)
        session.add(row)
    row.title = _text(title, "title", 200)
    row.due_on = due_on
    row.progress_due = progress_due
    row.progress_on = progress_on
    row.achieved_on = achieved_on
    row.note = _text(note, "note", 5000, required=False)
    session.flush()
    return row


def provider(session: Session, slug: str) -> models.Provider:
    """Give the provider with this slug."""
    found = session.scalar(select(models.Provider).where(models.Provider.slug == slug))
    if found is None:
        raise NotFound(f"No provider {slug!r}")
    return found
