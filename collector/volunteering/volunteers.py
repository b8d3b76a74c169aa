"""A volunteer centre's records: volunteers, their enquiries and placements with host groups.

One set of rules checks a record whichever way it comes in: a row of a CSV import, the
console's form or the `tempcheck placements add` command. An import checks every row before
saving any (the file is taken whole, or not at all), like `collector.organisations`.

Where the rules had to choose:

- A reference already on the provider's records updates that record (as an organisation
  import does), so a corrected file can be imported again. The same reference twice in one
  file is a problem, and so is a volunteer whose email address another volunteer (with
  another reference) already has: that is one person recorded twice.
- An erased volunteer's reference cannot be used again: importing it would undo the erasure.
- In a CSV, enquiries and placements need a reference too, so that importing the same file
  again updates them instead of counting them twice (VAL 25 and 26 count these rows).
- A volunteer's record is only held with their consent: a row without it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from collector import localtime, models, organisations
from collector.errors import CollectorError
from collector.models import utcnow
from collector.organisations import (
    EMAIL,
    NO,
    YES,
    CsvImportError,
    ImportPlan,
    Problem,
    Unique,
    control_problems,
    read_csv,
)

__all__ = ["CsvImportError", "ImportPlan", "Problem"]

KINDS = ("volunteers", "enquiries", "placements")
CHANNELS = {"email": "Email", "telegram": "Telegram"}
SOURCES = {
    "web": "Website",
    "phone": "Phone",
    "email": "Email",
    "walk_in": "Walk-in",
    "event": "Event",
    "referral": "Referral",
    "other": "Other",
}
OUTCOMES = {
    "pending": "Pending",
    "placed": "Placed",
    "referred": "Referred elsewhere",
    "not_placed": "Not placed",
}
STATUSES = {"active": "Active", "ended": "Ended", "did_not_start": "Did not start"}
# Dates before this are taken for a mistyped year.
EARLIEST = date(2000, 1, 1)
# A placement may be recorded ahead of its start, but not this far ahead.
AHEAD_DAYS = 366
FOLLOWUP_DAYS = (1, 365)
RETENTION_DAYS = (30, 3650)

# The columns of each kind's CSV: required, then optional.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "volunteers": (
        ("external_ref", "name", "consent", "consent_date"),
        ("email", "district", "consent_email", "consent_telegram", "preferred_channel"),
    ),
    "enquiries": (("external_ref", "date", "source"), ("district", "outcome", "volunteer_ref")),
    "placements": (
        ("external_ref", "volunteer_ref", "host_ref", "role", "start_date"),
        ("status", "end_date"),
    ),
}
# The fields of each kind's model that a record's values set.
FIELDS = {
    "volunteers": (
        "external_ref",
        "name",
        "contact_email",
        "district",
        "consent",
        "consent_at",
        "consent_email",
        "consent_telegram",
        "preferred_channel",
    ),
    "enquiries": ("external_ref", "enquired_on", "source", "district", "outcome", "volunteer_id"),
    "placements": (
        "external_ref",
        "volunteer_id",
        "organisation_id",
        "role",
        "starts_on",
        "status",
        "ended_on",
    ),
}
MODELS: dict[str, Any] = {
    "volunteers": models.Volunteer,
    "enquiries": models.Enquiry,
    "placements": models.Placement,
}
# One example row per kind, for the template CSV files.
EXAMPLES = {
    "volunteers": [
        "VOL0001",
        "Sam Example",
        "yes",
        "2026-03-02",
        "sam@example.org",
        "Harlow",
        "yes",
        "no",
        "email",
    ],
    "enquiries": ["ENQ0001", "2026-03-02", "phone", "Harlow", "placed", "VOL0001"],
    "placements": ["PLA0001", "VOL0001", "HAR0001", "Befriender", "2026-03-09", "active", ""],
}


class RecordError(CollectorError):
    """A record cannot be saved as given; `problems` names each bad field."""

    code = "bad_record"

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(f"Nothing was saved: {count} problem{'s' if count != 1 else ''}")
        self.problems = problems


def uk_today() -> date:
    """Give today's date in the UK."""
    return localtime.uk(utcnow()).date()


def display_name(volunteer: models.Volunteer) -> str:
    """Name a volunteer for staff: their name, or "Erased volunteer #id" once erased."""
    if volunteer.erased_at is not None or not volunteer.name:
        return f"Erased volunteer #{volunteer.id}"
    return volunteer.name


# Checking cells -----------------------------------------------------------------------------


@dataclass
class Lookups:
    """What a check needs to know of the provider's stored records, loaded once per file."""

    provider_id: int
    today: date
    # reference -> (id, erased)
    volunteers: dict[str, tuple[int, bool]] = field(default_factory=dict)
    # lower-cased email -> the reference of the volunteer who has it
    emails: dict[str, str] = field(default_factory=dict)
    organisations: dict[str, int] = field(default_factory=dict)
    # placement reference -> its volunteer's id
    placements: dict[str, int] = field(default_factory=dict)
    # references already used by the kind being checked
    existing: set[str] = field(default_factory=set)


def load_lookups(
    session: Session, provider_id: int, kind: str, *, today: date | None = None
) -> Lookups:
    """Load the references a check of `kind` records needs."""
    found = Lookups(provider_id, today or uk_today())
    vol = models.Volunteer
    for vid, ref, email, erased in session.execute(
        select(vol.id, vol.external_ref, vol.contact_email, vol.erased_at).where(
            vol.provider_id == provider_id
        )
    ):
        found.volunteers[ref] = (vid, erased is not None)
        if email:
            found.emails[email.lower()] = ref
    org = models.Organisation
    found.organisations = {
        ref: oid
        for ref, oid in session.execute(
            select(org.external_ref, org.id).where(org.provider_id == provider_id)
        )
    }
    pla = models.Placement
    found.placements = {
        ref: vid
        for ref, vid in session.execute(
            select(pla.external_ref, pla.volunteer_id).where(pla.provider_id == provider_id)
        )
        if ref
    }
    if kind == "volunteers":
        found.existing = set(found.volunteers)
    elif kind == "placements":
        found.existing = set(found.placements)
    else:
        enq = models.Enquiry
        found.existing = {
            ref
            for ref in session.scalars(
                select(enq.external_ref).where(enq.provider_id == provider_id)
            )
            if ref
        }
    return found


class _Row:
    """One record's cells being checked: its values so far and its problems."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.values: dict[str, Any] = {}
        self.problems: list[Problem] = control_problems(line, cells)

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def text(self, column: str, *, limit: int, required: bool) -> str | None:
        value = self.cells.get(column, "").strip()
        if not value:
            if required:
                self.problem(column, "is empty")
            return None
        if len(value) > limit:
            self.problem(column, f"is too long ({limit} characters at most)")
        return value

    def flag(self, column: str) -> bool:
        raw = self.cells.get(column, "").strip().lower()
        if raw in YES:
            return True
        if raw not in NO:
            self.problem(column, f"{raw!r} is not yes or no")
        return False

    def choice(self, column: str, vocabulary: dict[str, str], default: str | None) -> str | None:
        raw = self.cells.get(column, "").strip()
        if not raw:
            if default is None:
                self.problem(column, f"is empty (use one of: {', '.join(vocabulary)})")
            return default
        wanted = raw.lower().replace(" ", "_").replace("-", "_")
        for key, label in vocabulary.items():
            if wanted == key or raw.lower() == label.lower():
                return key
        self.problem(column, f"{raw!r} is not one of: {', '.join(vocabulary)}")
        return default

    def day(self, column: str, *, required: bool, latest: date, what: str) -> date | None:
        raw = self.cells.get(column, "").strip()
        if not raw:
            if required:
                self.problem(column, "is empty (use a date like 2026-04-01)")
            return None
        parsed = parse_date(raw)
        if parsed is None:
            self.problem(column, f"{raw!r} is not a date (use YYYY-MM-DD, like 2026-04-01)")
        elif parsed < EARLIEST:
            self.problem(column, f"{raw} is before 2000: check the year")
            return None
        elif parsed > latest:
            self.problem(column, f"{raw} is {what}")
            return None
        return parsed


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(raw: str) -> date | None:
    """Read a date as 2026-04-01 or, as UK spreadsheets write it, 01/04/2026; None if neither."""
    text = raw.strip()
    if match := _ISO.match(text):
        year, month, day = match.groups()
    elif match := _UK.match(text):
        day, month, year = match.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _check_ref(row: _Row, *, required: bool) -> str | None:
    ref = row.text("external_ref", limit=64, required=required)
    row.values["external_ref"] = ref
    return ref


def _check_volunteer(row: _Row, found: Lookups) -> None:
    ref = _check_ref(row, required=True)
    if ref and found.volunteers.get(ref, (0, False))[1]:
        row.problem(
            "external_ref", f"volunteer {ref} was erased: their reference cannot be used again"
        )
    row.values["name"] = row.text("name", limit=200, required=True)
    email = row.text("email", limit=254, required=False)
    if email and not EMAIL.match(email):
        row.problem("email", f"{email!r} is not an email address")
    elif email and found.emails.get(email.lower(), ref) != ref:
        row.problem(
            "email",
            f"{email} is already the address of volunteer {found.emails[email.lower()]}: "
            "the same person twice?",
        )
    row.values["contact_email"] = email
    row.values["district"] = row.text("district", limit=100, required=False)
    consent = row.flag("consent")
    if not consent and not any(p.column == "consent" for p in row.problems):
        row.problem(
            "consent", "must be yes: a volunteer's details are only kept with their consent"
        )
    row.values["consent"] = consent
    given = row.day("consent_date", required=consent, latest=found.today, what="in the future")
    row.values["consent_at"] = localtime.day_starts(given) if given else None
    row.values["consent_email"] = row.flag("consent_email")
    row.values["consent_telegram"] = row.flag("consent_telegram")
    if row.values["consent_email"] and not email:
        row.problem("consent_email", "consent to email given but no email address")
    channel = row.choice("preferred_channel", CHANNELS, "")
    if channel and not row.values[f"consent_{channel}"]:
        row.problem("preferred_channel", f"{channel} is preferred but not consented to")
    row.values["preferred_channel"] = channel or None


def _check_enquiry(row: _Row, found: Lookups, *, ref_required: bool) -> None:
    _check_ref(row, required=ref_required)
    row.values["enquired_on"] = row.day(
        "date", required=True, latest=found.today, what="in the future"
    )
    row.values["source"] = row.choice("source", SOURCES, None)
    row.values["district"] = row.text("district", limit=100, required=False)
    row.values["outcome"] = row.choice("outcome", OUTCOMES, "pending")
    volunteer_ref = row.text("volunteer_ref", limit=64, required=False)
    row.values["volunteer_ref"] = volunteer_ref
    row.values["volunteer_id"] = None
    if volunteer_ref:
        known = found.volunteers.get(volunteer_ref)
        if known is None:
            row.problem("volunteer_ref", f"no volunteer has the reference {volunteer_ref!r}")
        else:
            row.values["volunteer_id"] = known[0]


def _check_placement(row: _Row, found: Lookups, *, ref_required: bool) -> None:
    ref = _check_ref(row, required=ref_required)
    volunteer_ref = row.text("volunteer_ref", limit=64, required=True)
    row.values["volunteer_ref"] = volunteer_ref
    row.values["volunteer_id"] = None
    if volunteer_ref:
        known = found.volunteers.get(volunteer_ref)
        if known is None:
            row.problem(
                "volunteer_ref",
                f"no volunteer has the reference {volunteer_ref!r} (import volunteers first)",
            )
        else:
            vid, erased = known
            # An erased volunteer's old placements may still be corrected, not new ones added.
            if erased and found.placements.get(ref or "") != vid:
                row.problem("volunteer_ref", f"volunteer {volunteer_ref} was erased")
            row.values["volunteer_id"] = vid
    host_ref = row.text("host_ref", limit=64, required=True)
    row.values["host_ref"] = host_ref
    row.values["organisation_id"] = None
    if host_ref:
        host = found.organisations.get(host_ref)
        if host is None:
            row.problem("host_ref", f"no organisation on your list has the reference {host_ref!r}")
        row.values["organisation_id"] = host
    row.values["role"] = row.text("role", limit=200, required=True)
    starts = row.day(
        "start_date",
        required=True,
        latest=found.today + timedelta(days=AHEAD_DAYS),
        what="more than a year ahead: check the year",
    )
    row.values["starts_on"] = starts
    status = row.choice("status", STATUSES, "active")
    row.values["status"] = status
    ended = row.day("end_date", required=False, latest=found.today, what="in the future")
    if ended is None and status == "ended" and not row.cells.get("end_date", "").strip():
        row.problem("end_date", "is empty: an ended placement needs its end date")
    if ended and status != "ended":
        row.problem("end_date", f"is given but the status is {status}: leave it empty")
    if ended and starts and ended < starts:
        row.problem("end_date", f"{ended} is before the start date {starts}")
    row.values["ended_on"] = ended if status == "ended" else None


def check_cells(
    found: Lookups, kind: str, cells: dict[str, str], *, line: int = 0, ref_required: bool = True
) -> tuple[dict[str, Any], list[Problem]]:
    """Check one record's cells (a CSV row's text) with `kind`'s rules; give values, problems."""
    row = _Row(line, cells)
    if kind == "volunteers":
        _check_volunteer(row, found)
    elif kind == "enquiries":
        _check_enquiry(row, found, ref_required=ref_required)
    else:
        _check_placement(row, found, ref_required=ref_required)
    row.values["line"] = line
    return row.values, row.problems


# CSV imports --------------------------------------------------------------------------------


def parse_csv(found: Lookups, kind: str, text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Check every row of a `kind` CSV; give the rows and all the problems."""
    required, optional = COLUMNS[kind]

    def check(line: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
        return check_cells(found, kind, cells, line=line)

    unique = [
        Unique("external_ref", "external_ref", "{value} appears again (first on line {first})"),
        Unique("contact_email", "email", "the same address as line {first}", fold_case=True),
    ]
    return read_csv(text, required, optional, check, unique)


def plan_import(
    session: Session, provider: models.Provider, kind: str, text: str, *, today: date | None = None
) -> ImportPlan:
    """Check a `kind` CSV against the provider's records and say what importing it would do."""
    if kind not in KINDS:
        raise CollectorError(f"Unknown kind of record {kind!r}: use one of {', '.join(KINDS)}")
    found = load_lookups(session, provider.id, kind, today=today)
    rows, problems = parse_csv(found, kind, text)
    if problems:
        raise CsvImportError(sorted(problems, key=lambda p: (p.line, p.column)))
    plan = ImportPlan()
    for row in rows:
        (plan.updated if row["external_ref"] in found.existing else plan.new).append(row)
    return plan


def import_csv(
    session: Session, provider: models.Provider, kind: str, text: str, *, today: date | None = None
) -> ImportPlan:
    """Import (add or update) `kind` records from CSV text: every row, or none if any is bad."""
    plan = plan_import(session, provider, kind, text, today=today)
    model = MODELS[kind]
    by_ref: dict[str, Any] = {}
    for row in session.scalars(select(model).where(model.provider_id == provider.id)):
        if row.external_ref:
            by_ref[row.external_ref] = row
    for values in plan.new + plan.updated:
        fields = {k: values[k] for k in FIELDS[kind]}
        record = by_ref.get(values["external_ref"])
        if record is None:
            session.add(model(provider_id=provider.id, **fields))
        else:
            for key, value in fields.items():
                if getattr(record, key) != value:
                    setattr(record, key, value)
    session.flush()
    return plan


# One record at a time (the console and `tempcheck placements add`) -------------------------


def _checked(
    session: Session,
    provider_id: int,
    kind: str,
    cells: dict[str, str],
    *,
    own: str | None,
    today: date | None,
) -> dict[str, Any]:
    """Check one record's cells; `own`: the reference of the record being edited, if any."""
    found = load_lookups(session, provider_id, kind, today=today)
    values, problems = check_cells(found, kind, cells, ref_required=kind == "volunteers")
    ref = values.get("external_ref")
    if ref and ref != own and ref in found.existing:
        problems.append(Problem(0, "external_ref", f"{ref} is already used by another record"))
    if problems:
        order = {column: n for n, column in enumerate(sum(COLUMNS[kind], ()))}
        raise RecordError(sorted(problems, key=lambda p: order.get(p.column, 99)))
    return {k: values[k] for k in FIELDS[kind]}


def add_record(
    session: Session,
    provider: models.Provider,
    kind: str,
    cells: dict[str, str],
    *,
    today: date | None = None,
) -> models.Volunteer | models.Enquiry | models.Placement:
    """Add one record, checked as a CSV row is (the reference is optional but for volunteers)."""
    values = _checked(session, provider.id, kind, cells, own=None, today=today)
    record = MODELS[kind](provider_id=provider.id, **values)
    session.add(record)
    session.flush()
    return record


def add_placement(
    session: Session, provider: models.Provider, cells: dict[str, str], *, today: date | None = None
) -> models.Placement:
    """Add one placement of a volunteer with a host group."""
    placement = add_record(session, provider, "placements", cells, today=today)
    assert isinstance(placement, models.Placement)
    return placement


def add_enquiry(
    session: Session, provider: models.Provider, cells: dict[str, str], *, today: date | None = None
) -> models.Enquiry:
    """Add one volunteer enquiry."""
    enquiry = add_record(session, provider, "enquiries", cells, today=today)
    assert isinstance(enquiry, models.Enquiry)
    return enquiry


def update_placement(
    session: Session,
    placement: models.Placement,
    cells: dict[str, str],
    *,
    today: date | None = None,
) -> list[str]:
    """Change one placement, checked as a CSV row is; give the names of the changed fields."""
    values = _checked(
        session,
        placement.provider_id,
        "placements",
        cells,
        own=placement.external_ref,
        today=today,
    )
    changed = [key for key, value in values.items() if getattr(placement, key) != value]
    for key in changed:
        setattr(placement, key, values[key])
    session.flush()
    return changed


def end_placement(
    session: Session, placement: models.Placement, ended_on: date, *, today: date | None = None
) -> None:
    """Mark an active placement ended on a day (not before it started, not in the future)."""
    today = today or uk_today()
    problem = None
    if placement.status != "active":
        problem = f"The placement is {STATUSES[placement.status].lower()}, not active"
    elif ended_on < placement.starts_on:
        problem = "The end date must be on or after the start date"
    elif ended_on > today:
        problem = "The end date must be today or in the past"
    if problem:
        raise RecordError([Problem(0, "end_date", problem)])
    placement.status, placement.ended_on = "ended", ended_on
    session.flush()


def mark_did_not_start(session: Session, placement: models.Placement) -> None:
    """Record that an active placement never started: no follow-up is sent for it."""
    if placement.status != "active":
        raise RecordError(
            [
                Problem(
                    0,
                    "status",
                    f"The placement is {STATUSES[placement.status].lower()}, not active",
                )
            ]
        )
    placement.status, placement.ended_on = "did_not_start", None
    session.flush()


def placement_cells(placement: models.Placement) -> dict[str, str]:
    """Give a placement's fields as the text a form or CSV row holds."""
    return {
        "external_ref": placement.external_ref or "",
        "volunteer_ref": placement.volunteer.external_ref,
        "host_ref": placement.organisation.external_ref,
        "role": placement.role,
        "start_date": placement.starts_on.isoformat(),
        "status": placement.status,
        "end_date": placement.ended_on.isoformat() if placement.ended_on else "",
    }


def set_followup_settings(
    session: Session, provider: models.Provider, followup_days: str, retention_days: str
) -> list[str]:
    """Change when follow-ups are sent and how long volunteers' details are kept.

    Give the names of the settings changed; bad values raise `RecordError` and change nothing.
    """
    problems: list[Problem] = []
    values: dict[str, int] = {}
    for name, raw, (low, high), what in (
        ("followup_days", followup_days, FOLLOWUP_DAYS, "Days before the follow-up"),
        ("volunteer_retention_days", retention_days, RETENTION_DAYS, "Days details are kept"),
    ):
        text = raw.strip()
        if not text.isdigit() or not low <= int(text) <= high:
            problems.append(Problem(0, name, f"{what} must be a whole number from {low} to {high}"))
        else:
            values[name] = int(text)
    if problems:
        raise RecordError(problems)
    changed = [k for k, v in values.items() if getattr(provider, k) != v]
    for key in changed:
        setattr(provider, key, values[key])
    session.flush()
    return changed


# Finding records ----------------------------------------------------------------------------


def _page(
    session: Session, query: Any, order: Iterable[Any], page: int, per_page: int
) -> tuple[list[Any], int]:
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(*order).offset(max(page - 1, 0) * per_page).limit(per_page)
    ).all()
    return list(rows), total


def search_volunteers(
    session: Session,
    provider_id: int,
    *,
    text: str = "",
    district: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[models.Volunteer], int]:
    """Give one page of the provider's volunteers matching a name or reference, and the count."""
    vol = models.Volunteer
    query = select(vol).where(vol.provider_id == provider_id)
    wanted = text.strip().lower()
    if wanted:
        query = query.where(
            or_(
                func.lower(vol.name).contains(wanted, autoescape=True),
                func.lower(vol.external_ref).contains(wanted, autoescape=True),
            )
        )
    if district:
        query = query.where(vol.district == district)
    query = query.options(selectinload(vol.placements))
    return _page(session, query, (vol.external_ref, vol.id), page, per_page)


def volunteer_districts(session: Session, provider_id: int) -> list[str]:
    """List the districts recorded on the provider's volunteers, alphabetically."""
    return organisations.districts(session, provider_id, of=models.Volunteer)


def search_placements(
    session: Session,
    provider_id: int,
    *,
    status: str | None = None,
    host_id: int | None = None,
    volunteer_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[models.Placement], int]:
    """Give one page of the provider's placements, newest start first, and how many match."""
    pla = models.Placement
    query = select(pla).where(pla.provider_id == provider_id)
    if status:
        query = query.where(pla.status == status)
    if host_id:
        query = query.where(pla.organisation_id == host_id)
    if volunteer_id:
        query = query.where(pla.volunteer_id == volunteer_id)
    query = query.options(selectinload(pla.volunteer), selectinload(pla.organisation))
    return _page(session, query, (pla.starts_on.desc(), pla.id.desc()), page, per_page)


def hosts(session: Session, provider_id: int) -> list[tuple[int, str]]:
    """List the organisations that host (or hosted) the provider's placements, by name."""
    org, pla = models.Organisation, models.Placement
    rows = session.execute(
        select(org.id, org.name)
        .where(org.id.in_(select(pla.organisation_id).where(pla.provider_id == provider_id)))
        .order_by(org.name)
    )
    return list(rows)


def search_enquiries(
    session: Session,
    provider_id: int,
    *,
    outcome: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[models.Enquiry], int]:
    """Give one page of the provider's enquiries, newest first, and how many match."""
    enq = models.Enquiry
    query = select(enq).where(enq.provider_id == provider_id)
    if outcome:
        query = query.where(enq.outcome == outcome)
    query = query.options(selectinload(enq.volunteer))
    return _page(session, query, (enq.enquired_on.desc(), enq.id.desc()), page, per_page)


@dataclass(frozen=True)
class FollowUp:
    """Where a placement's follow-up stands, for the volunteer and for the host group."""

    due_on: date | None  # None: none will be sent (the placement did not start)
    volunteer: str  # "not yet due", "queued", "answered", "not sent"
    host: str


def followups(
    session: Session, placements: list[models.Placement], followup_days: int
) -> dict[int, FollowUp]:
    """Say where each placement's follow-up stands: not yet due, queued or answered."""
    inv, resp = models.Invitation, models.Response
    found: dict[tuple[int, str], str] = {}
    ids = [p.id for p in placements]
    if ids:
        for placement_id, volunteer_id, status in session.execute(
            select(inv.placement_id, inv.volunteer_id, resp.status)
            .outerjoin(resp, resp.invitation_id == inv.id)
            .where(inv.placement_id.in_(ids))
        ):
            who = "volunteer" if volunteer_id is not None else "host"
            found[(placement_id or 0, who)] = "answered" if status == "completed" else "queued"
    result = {}
    for placement in placements:
        if placement.status == "did_not_start":
            result[placement.id] = FollowUp(None, "not sent", "not sent")
            continue
        waiting = "not yet due" if placement.followed_up_at is None else "not sent"
        result[placement.id] = FollowUp(
            placement.starts_on + timedelta(days=followup_days),
            found.get((placement.id, "volunteer"), waiting),
            found.get((placement.id, "host"), waiting),
        )
    return result


def subject(record: models.Volunteer | models.Enquiry | models.Placement) -> str:
    """Name a record for the audit log by kind, reference and id: never a person's name."""
    if isinstance(record, models.Volunteer):
        kind = "volunteer"
    elif isinstance(record, models.Enquiry):
        kind = "enquiry"
    else:
        kind = "placement"
    ref = f" {record.external_ref}" if record.external_ref else ""
    return f"{kind}{ref} (#{record.id})"


def rows_for_csv(kind: str) -> tuple[tuple[str, ...], list[list[str]]]:
    """Give a kind's CSV columns and an example row, for a template file."""
    required, optional = COLUMNS[kind]
    return required + optional, [EXAMPLES[kind]]
