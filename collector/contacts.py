"""Contacts: the people on a provider's list who are not VCS groups, and their CSV import.

A contact is a public-sector partner, a commissioner (each with their organisation, such as
"Leicestershire County Council, Children's Services") or one of the sector's elected
representatives on a partnership board. Rounds invite them as they invite groups (a round's
audience names the contact audiences it asks), by email, Telegram or an open link, with their
consent per channel; they opt out from any invitation, and are erased on request.

Where the rules had to choose (as for volunteers, `collector.volunteering.volunteers`):

- An import is all or nothing: every row is checked first, and if any is bad nothing is saved
  and every problem is listed by line and column. A reference already on the list updates that
  contact, so a corrected file can be imported again.
- The same reference twice in a file is a problem; so is the same email address twice, in the
  file or on another stored contact: that is one person listed twice, who would be asked twice.
- An erased contact's reference cannot be imported again: that would undo the erasure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from collector import models
from collector.delivery import outbox
from collector.erasure import delete_free_text, register, scrub_messages
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
from collector.segments import CONTACT_AUDIENCES

__all__ = [
    "COLUMNS",
    "ContactError",
    "CsvImportError",
    "Erased",
    "ImportPlan",
    "Problem",
    "add_contact",
    "display_name",
    "erase_contact",
    "import_csv",
    "opt_in",
    "opt_out",
    "plan_import",
    "search",
    "subject",
]

REQUIRED_COLUMNS = ("external_ref", "name", "audience")
OPTIONAL_COLUMNS = (
    "organisation",
    "email",
    "consent_email",
    "consent_telegram",
    "preferred_channel",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
CHANNELS = ("email", "telegram")
# The model's fields a checked row sets.
FIELDS = (
    "external_ref",
    "name",
    "audience",
    "organisation",
    "contact_email",
    "consent_email",
    "consent_telegram",
    "preferred_channel",
)
EXAMPLE = [
    "PAR0001",
    "Alex Example",
    "partner",
    "Leicestershire County Council, Children's Services",
    "alex@example.org",
    "yes",
    "no",
    "email",
]


class ContactError(CollectorError):
    """A contact cannot be saved as given; `problems` names each bad field."""

    code = "bad_contact"

    def __init__(self, problems: list[Problem]) -> None:
        count = len(problems)
        super().__init__(f"Nothing was saved: {count} problem{'s' if count != 1 else ''}")
        self.problems = problems


def display_name(contact: models.Contact) -> str:
    """Name a contact for staff: their name, or "Erased contact #id" once erased."""
    if contact.erased_at is not None or not contact.name:
        return f"Erased contact #{contact.id}"
    return contact.name


def subject(contact: models.Contact) -> str:
    """Name a contact for the audit log by reference and id: never a person's name."""
    return f"contact {contact.external_ref} (#{contact.id})"


# Checking ------------------------------------------------------------------------------------


@dataclass
class Stored:
    """What a check needs of the provider's stored contacts, loaded once per file."""

    # reference -> erased
    refs: dict[str, bool] = field(default_factory=dict)
    # lower-cased email -> the reference of the contact who has it
    emails: dict[str, str] = field(default_factory=dict)


def load_stored(session: Session, provider_id: int) -> Stored:
    """Load the provider's contacts' references and addresses."""
    found = Stored()
    con = models.Contact
    for ref, email, erased in session.execute(
        select(con.external_ref, con.contact_email, con.erased_at).where(
            con.provider_id == provider_id
        )
    ):
        found.refs[ref] = erased is not None
        if email:
            found.emails[email.lower()] = ref
    return found


def _audience(raw: str) -> str | None:
    """Accept an audience's key or its label, case-insensitively ("Commissioner")."""
    wanted = raw.strip().lower()
    for key, label in CONTACT_AUDIENCES.items():
        if wanted in (key, label.lower()):
            return key
    return None


def check_cells(
    found: Stored, cells: dict[str, str], *, line: int = 0
) -> tuple[dict[str, Any], list[Problem]]:
    """Check one contact's cells (a CSV row's text); give the values and the problems."""
    problems = control_problems(line, cells)
    values: dict[str, Any] = {"line": line}

    def problem(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    def text(column: str, limit: int, *, required: bool) -> str | None:
        value = cells.get(column, "").strip()
        if not value:
            if required:
                problem(column, "is empty")
            return None
        if len(value) > limit:
            problem(column, f"is too long ({limit} characters at most)")
        return value

    def flag(column: str) -> bool:
        raw = cells.get(column, "").strip().lower()
        if raw in YES:
            return True
        if raw not in NO:
            problem(column, f"{raw!r} is not yes or no")
        return False

    ref = text("external_ref", 64, required=True)
    if ref and found.refs.get(ref):
        problem("external_ref", f"contact {ref} was erased: their reference cannot be used again")
    values["external_ref"] = ref
    values["name"] = text("name", 200, required=True)
    raw_audience = cells.get("audience", "").strip()
    audience = _audience(raw_audience)
    if audience is None:
        shown = f"{raw_audience!r} is not an audience" if raw_audience else "is empty"
        problem("audience", f"{shown} (use one of: {', '.join(CONTACT_AUDIENCES)})")
    values["audience"] = audience
    values["organisation"] = text("organisation", 200, required=False)
    email = text("email", 254, required=False)
    if email and not EMAIL.match(email):
        problem("email", f"{email!r} is not an email address")
    elif email and found.emails.get(email.lower(), ref) != ref:
        problem(
            "email",
            f"{email} is already the address of contact {found.emails[email.lower()]}: "
            "the same person twice?",
        )
    values["contact_email"] = email
    values["consent_email"] = flag("consent_email")
    values["consent_telegram"] = flag("consent_telegram")
    if values["consent_email"] and not email:
        problem("consent_email", "consent to email given but no email address")
    channel = cells.get("preferred_channel", "").strip().lower()
    if channel and channel not in CHANNELS:
        problem("preferred_channel", f"{channel!r} is not one of: {', '.join(CHANNELS)}")
        channel = ""
    if channel and not values[f"consent_{channel}"]:
        problem("preferred_channel", f"{channel} is preferred but not consented to")
    values["preferred_channel"] = channel or None
    return values, problems


def parse_csv(found: Stored, text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Check every row of a contacts CSV; give the rows and all the problems."""

    def check(line: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
        return check_cells(found, cells, line=line)

    unique = [
        Unique("external_ref", "external_ref", "{value} appears again (first on line {first})"),
        Unique("contact_email", "email", "the same address as line {first}", fold_case=True),
    ]
    return read_csv(text, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, check, unique)


def plan_import(session: Session, provider: models.Provider, text: str) -> ImportPlan:
    """Check a contacts CSV against the provider's list and say what importing it would do."""
    found = load_stored(session, provider.id)
    rows, problems = parse_csv(found, text)
    if problems:
        raise CsvImportError(
            sorted(
                problems,
                key=lambda p: (p.line, COLUMNS.index(p.column) if p.column in COLUMNS else 99),
            )
        )
    plan = ImportPlan()
    for row in rows:
        (plan.updated if row["external_ref"] in found.refs else plan.new).append(row)
    return plan


def import_csv(session: Session, provider: models.Provider, text: str) -> ImportPlan:
    """Import (add or update) contacts from CSV text: every row, or none if any is bad."""
    plan = plan_import(session, provider, text)
    by_ref = {
        c.external_ref: c
        for c in session.scalars(
            select(models.Contact).where(models.Contact.provider_id == provider.id)
        )
    }
    for row in plan.new + plan.updated:
        values = {k: row[k] for k in FIELDS}
        contact = by_ref.get(row["external_ref"])
        if contact is None:
            session.add(models.Contact(provider_id=provider.id, **values))
        else:
            for key, value in values.items():
                if getattr(contact, key) != value:
                    setattr(contact, key, value)
    session.flush()
    return plan


def add_contact(
    session: Session, provider: models.Provider, cells: dict[str, str]
) -> models.Contact:
    """Add one contact to the provider's list, checked as a CSV row is."""
    found = load_stored(session, provider.id)
    values, problems = check_cells(found, cells)
    ref = values["external_ref"]
    if ref and ref in found.refs and not found.refs[ref]:
        problems.append(Problem(0, "external_ref", f"{ref} is already used by another contact"))
    if problems:
        raise ContactError(problems)
    contact = models.Contact(provider_id=provider.id, **{k: values[k] for k in FIELDS})
    session.add(contact)
    session.flush()
    return contact


# Opting out and erasure ----------------------------------------------------------------------


def opt_out(session: Session, contact: models.Contact, *, now: datetime | None = None) -> int:
    """Stop asking a contact: no new invitations, and their unsent messages are cancelled.

    Give the number of messages cancelled. Answers they already gave are kept.
    """
    if contact.opted_out_at is None:
        contact.opted_out_at = now or utcnow()
    return outbox.cancel_unsent_invitations(
        session, models.Invitation.contact_id == contact.id, "The contact opted out"
    )


def opt_in(contact: models.Contact) -> None:
    """Ask a contact again in future rounds (staff, when they ask to be back)."""
    contact.opted_out_at = None


@dataclass
class Erased:
    """What erasing one contact did."""

    contact_id: int
    chats: int = 0
    messages: int = 0
    cancelled: int = 0
    answers: int = 0


def erase_contact(
    session: Session, contact: models.Contact, *, now: datetime | None = None
) -> Erased:
    """Erase a contact's personal details, keeping their anonymous answers; the caller commits.

    Name, email, consents and preferred channel are cleared, their Telegram chats deleted (or
    unlinked, when someone else's too), every message to them blanked (unsent ones cancelled)
    and their free-text answers deleted. Their audience and organisation stay: segments of the
    results (a whole organisation, as the responses keep it), not a way to reach them; so does
    the reference, which stops an import bringing them back.
    """
    now = now or utcnow()
    done = Erased(contact_id=contact.id)
    invitation_ids = list(
        session.scalars(
            select(models.Invitation.id).where(models.Invitation.contact_id == contact.id)
        )
    )
    chat = models.TelegramChat
    chats = list(
        session.scalars(
            select(chat).where(
                or_(chat.contact_id == contact.id, chat.invitation_id.in_(invitation_ids))
            )
        )
    )
    addresses = {str(c.chat_id) for c in chats}
    if contact.contact_email:
        addresses.add(contact.contact_email)
    done.messages, done.cancelled = scrub_messages(
        session, invitation_ids, addresses, "The contact's details were erased"
    )
    for found in chats:
        if (
            found.user_id is not None
            or found.organisation_id is not None
            or found.volunteer_id is not None
        ):
            if found.contact_id == contact.id:
                found.contact_id = None
            if found.invitation_id in invitation_ids:
                found.invitation_id = None
        else:
            session.delete(found)
        done.chats += 1
    done.answers = delete_free_text(session, invitation_ids)
    contact.name = None
    contact.contact_email = None
    contact.consent_email = False
    contact.consent_telegram = False
    contact.preferred_channel = None
    if contact.erased_at is None:
        contact.erased_at = now
    session.flush()
    register(session, "contact", contact.id, now=contact.erased_at)
    return done


# Finding contacts ----------------------------------------------------------------------------


def search(
    session: Session,
    provider_id: int,
    *,
    text: str = "",
    audience: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[models.Contact], int]:
    """Give one page of the provider's contacts matching a name, reference or organisation,
    by reference, and how many match."""
    con = models.Contact
    query = select(con).where(con.provider_id == provider_id)
    wanted = text.strip().lower()
    if wanted:
        query = query.where(
            or_(
                func.lower(con.name).contains(wanted, autoescape=True),
                func.lower(con.external_ref).contains(wanted, autoescape=True),
                func.lower(con.organisation).contains(wanted, autoescape=True),
            )
        )
    if audience:
        query = query.where(con.audience == audience)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(con.external_ref, con.id).offset(max(page - 1, 0) * per_page).limit(per_page)
    ).all()
    return list(rows), total
