"""The console's organisations: list, search and filters, add and edit with per-field errors,
opt-out and back in, and the CSV import's upload, preview and confirm."""

from __future__ import annotations

import csv
import html as markup
import io
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from collector import organisations as orgs
from forms.console.imports import IMPORT_LIMIT
from tests.factories import make_organisation
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona, audit_actions

BASE = "/console/alpha-cvs/organisations"
HEADER = (
    "external_ref,name,org_type,income_band,district,outcomes,is_member,contact_email,consent_email"
)
GOOD_ROWS = [
    "NEW1,Harlow Foodbank,registered_charity,10k_100k,Harlow,healthy_lifestyles;good_lives,yes,"
    "info@foodbank.example,yes",
    "NEW2,Old Harlow Men's Shed,Community group,Under £10k,Old Harlow,,no,,no",
]


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


def count(sessions: sessionmaker[Session], provider_id: int | None = None) -> int:
    """Count organisations (of one provider)."""
    with sessions() as session:
        query = select(func.count(models.Organisation.id))
        if provider_id is not None:
            query = query.where(models.Organisation.provider_id == provider_id)
        return int(session.scalar(query) or 0)


def organisation(sessions: sessionmaker[Session], **where: Any) -> models.Organisation | None:
    """Find an organisation by its columns."""
    with sessions() as session:
        query = select(models.Organisation).filter_by(**where)
        found = session.scalars(query).first()
        if found is not None:
            session.expunge(found)
        return found


# The list ------------------------------------------------------------------------------


def test_the_list_shows_only_this_provider_s_groups(staff: Browser) -> None:
    staff.get(BASE)
    assert "Alpha CVS Lunch Club" in staff.text and "Alpha CVS Youth Club" in staff.text
    assert "Beta CVS" not in staff.text
    assert "2 organisations." in staff.text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("q=lunch", ["Alpha CVS Lunch Club"], ["Alpha CVS Youth Club"]),
        ("q=YOUTH", ["Alpha CVS Youth Club"], ["Alpha CVS Lunch Club"]),
        ("q=%25", [], ["Alpha CVS Lunch Club", "Alpha CVS Youth Club"]),  # not a wildcard
        ("org_type=faith_group", ["Alpha CVS Youth Club"], ["Alpha CVS Lunch Club"]),
        ("district=Epping", ["Epping Arts"], ["Alpha CVS Lunch Club"]),
        ("income_band=over_500k", ["Epping Arts"], ["Alpha CVS Lunch Club"]),
        ("income_band=unknown", ["No Band Group"], ["Epping Arts"]),
        ("member=no", ["Epping Arts"], ["Alpha CVS Lunch Club"]),
        ("outcome=winter_preparedness", ["Epping Arts"], ["Alpha CVS Youth Club"]),
        ("opted_out=yes", ["Gone Away Group"], ["Alpha CVS Lunch Club"]),
        ("opted_out=no", ["Alpha CVS Lunch Club"], ["Gone Away Group"]),
        ("org_type=not-a-type", ["Alpha CVS Lunch Club", "Epping Arts"], []),  # ignored
    ],
)
def test_search_and_filters_narrow_the_list(
    staff: Browser,
    world: World,
    session_factory: sessionmaker[Session],
    query: str,
    shown: list[str],
    hidden: list[str],
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        make_organisation(
            session,
            provider,
            name="Epping Arts",
            district="Epping",
            income_band="over_500k",
            is_member=False,
            outcomes="winter_preparedness",
        )
        make_organisation(session, provider, name="No Band Group", income_band=None)
        make_organisation(session, provider, name="Gone Away Group", opted_out_at=models.utcnow())

    staff.get(f"{BASE}?{query}")

    for name in shown:
        assert name in staff.text, name
    for name in hidden:
        assert name not in staff.text, name


def test_a_long_list_comes_a_page_at_a_time(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        for n in range(60):
            make_organisation(session, provider, name=f"Zeta Group {n:02d}")
    staff.get(f"{BASE}?q=zeta")
    assert "Zeta Group 00" in staff.text and "Zeta Group 49" in staff.text
    assert "Zeta Group 50" not in staff.text
    assert "q=zeta&amp;page=2" in staff.text

    staff.get(f"{BASE}?q=zeta&page=2")

    assert "Zeta Group 50" in staff.text and "Zeta Group 59" in staff.text
    assert "Zeta Group 49" not in staff.text


# Add and edit ------------------------------------------------------------------------------

GOOD = {
    "name": "Harlow Carers Group",
    "external_ref": "HCG01",
    "org_type": "community_group",
    "income_band": "10k_100k",
    "district": "Harlow",
    "outcomes": ["good_lives", "step_down"],
    "is_member": "yes",
    "contact_email": "carers@example.org",
    "consent_email": "yes",
}


def test_adding_an_organisation_saves_every_field_and_is_audited(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff.get(f"{BASE}/new")
    staff.post(f"{BASE}/new", GOOD)

    assert staff.path == BASE
    assert "Harlow Carers Group was added." in staff.text
    added = organisation(session_factory, external_ref="HCG01")
    assert added is not None and added.provider_id == world.a.id
    assert (added.name, added.org_type, added.income_band, added.district) == (
        "Harlow Carers Group",
        "community_group",
        "10k_100k",
        "Harlow",
    )
    assert (added.outcomes, added.is_member, added.contact_email) == (
        "good_lives step_down",
        True,
        "carers@example.org",
    )
    assert (added.consent_email, added.consent_telegram) == (True, False)
    assert audit_actions(session_factory)[-1] == "organisation.add"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the group's name"),
        ({"name": "x" * 201}, "name", "The name must be 200 characters or fewer"),
        ({"external_ref": ""}, "external_ref", "Enter a reference"),
        (
            {"external_ref": "R" * 65},
            "external_ref",
            "The reference must be 64 characters or fewer",
        ),
        ({"external_ref": "TAKEN"}, "external_ref", "'TAKEN' is already used by Taken Group"),
        ({"org_type": ""}, "org_type", "Choose the type of group"),
        ({"org_type": "charity shop"}, "org_type", "Choose the type of group"),
        ({"income_band": "loads"}, "income_band", "Choose an income band from the list"),
        ({"outcomes": ["world_peace", "good_lives"]}, None, None),  # unknown boxes are ignored
        (
            {"contact_email": "not an address"},
            "contact_email",
            "Enter an email address in the correct format, like name@example.org",
        ),
        (
            {"contact_email": ""},
            "contact_email",
            "Enter the email address the group agreed to be contacted at",
        ),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_saved(
    staff: Browser,
    world: World,
    session_factory: sessionmaker[Session],
    changes: dict[str, Any],
    field: str | None,
    message: str | None,
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        make_organisation(session, provider, external_ref="TAKEN", name="Taken Group")
    before, actions = count(session_factory), audit_actions(session_factory)
    staff.get(f"{BASE}/new")

    staff.post(f"{BASE}/new", {**GOOD, **changes})

    if field is None:
        assert staff.path == BASE
        return
    assert staff.page is not None and staff.page.status_code == 200
    assert staff.path == f"{BASE}/new"
    assert "There is a problem" in staff.text
    assert f'href="#{field}"' in staff.text
    assert message in staff.text.replace("&#39;", "'")
    # What was typed is still there.
    assert 'value="Harlow"' in staff.text
    assert count(session_factory) == before
    assert audit_actions(session_factory) == actions


def test_editing_saves_the_changes_and_audits_the_fields_not_their_values(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"{BASE}/{world.a.organisation}"
    staff.get(url)
    assert 'value="Alpha CVS Lunch Club"' in staff.text
    form = {
        **GOOD,
        "name": "Alpha CVS Lunch Club",
        "external_ref": "LUNCH",
        "contact_email": "new.address@example.org",
    }

    staff.post(url, form)

    assert "Alpha CVS Lunch Club was saved." in staff.text
    saved = organisation(session_factory, id=world.a.organisation)
    assert saved is not None
    assert (saved.external_ref, saved.contact_email) == ("LUNCH", "new.address@example.org")
    with session_factory() as session:
        event = session.scalars(
            select(models.AuditEvent).order_by(models.AuditEvent.id.desc())
        ).first()
        assert event is not None and event.action == "organisation.edit"
        assert "contact_email" in event.details["changed"]
        assert "new.address" not in str(event.details) and "new.address" not in str(event.subject)

    # Saving again with nothing changed records nothing.
    staff.get(url)
    staff.post(url, form)
    assert "Nothing about Alpha CVS Lunch Club changed." in staff.text
    assert audit_actions(session_factory).count("organisation.edit") == 1


def test_an_edit_that_takes_another_group_s_reference_changes_nothing(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        other = session.scalars(
            select(models.Organisation).where(
                models.Organisation.provider_id == world.a.id,
                models.Organisation.id != world.a.organisation,
            )
        ).first()
        assert other is not None
        other_ref = other.external_ref
    before = organisation(session_factory, id=world.a.organisation)
    url = f"{BASE}/{world.a.organisation}"
    staff.get(url)

    staff.post(url, {**GOOD, "name": "Renamed", "external_ref": other_ref})

    assert f"&#39;{other_ref}&#39; is already used by Alpha CVS Youth Club" in staff.text
    assert 'value="Renamed"' in staff.text
    after = organisation(session_factory, id=world.a.organisation)
    assert after is not None and before is not None
    assert (after.name, after.external_ref) == (before.name, before.external_ref)


def test_opting_out_cancels_unsent_messages_and_opting_in_undoes_it(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        # The group whose invitation is still waiting to be sent.
        group = session.scalars(
            select(models.Invitation.organisation_id)
            .join(models.OutboxMessage, models.Invitation.id == models.OutboxMessage.invitation_id)
            .where(
                models.OutboxMessage.status == "pending",
                models.Invitation.round_id == world.a.open_round,
            )
        ).first()
        assert group is not None
        pending = session.scalars(
            select(models.OutboxMessage.id)
            .join(models.Invitation, models.Invitation.id == models.OutboxMessage.invitation_id)
            .where(
                models.Invitation.organisation_id == group,
                models.OutboxMessage.status == "pending",
            )
        ).all()
    url = f"{BASE}/{group}"
    staff.get(url)

    staff.post(f"{url}/opt-out")

    assert "will not be asked again" in staff.text
    assert "This group opted out on" in staff.text
    found = organisation(session_factory, id=group)
    assert found is not None and found.opted_out_at is not None
    with session_factory() as session:
        statuses = session.scalars(
            select(models.OutboxMessage.status).where(models.OutboxMessage.id.in_(pending))
        ).all()
    assert statuses and set(statuses) == {"cancelled"}

    staff.post(f"{url}/opt-in")

    found = organisation(session_factory, id=group)
    assert found is not None and found.opted_out_at is None
    assert audit_actions(session_factory)[-2:] == ["organisation.opt_out", "organisation.opt_in"]


# CSV import ------------------------------------------------------------------------------


def upload(browser: Browser, text: str | bytes, name: str = "groups.csv") -> None:
    """Upload a file on the import page."""
    raw = text.encode() if isinstance(text, str) else text
    browser.get(f"{BASE}/import")
    browser.post(f"{BASE}/import", {"file": (io.BytesIO(raw), name)})


def csv_text(*rows: str) -> str:
    """Give a CSV file with the header and rows."""
    return "\n".join([HEADER, *rows]) + "\n"


def test_a_file_with_a_bad_row_lists_each_problem_and_saves_nothing(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    before, actions = count(session_factory), audit_actions(session_factory)
    bad = GOOD_ROWS[1].replace("Community group", "charity shop").replace(",no,,no", ",maybe,,no")

    upload(staff, csv_text(GOOD_ROWS[0], bad))

    assert staff.page is not None and staff.page.status_code == 200
    assert "The file has 2 problems, listed below: nothing was imported." in staff.text
    assert "Nothing has been imported. Line 1 is the header row." in staff.text
    rows = _table_rows(staff.text, "Problems, by line and column")
    assert rows == [
        ["3", "is_member", "&#39;maybe&#39; is not yes or no"],
        [
            "3",
            "org_type",
            "&#39;charity shop&#39; is not a known type of group (use one of: "
            "voluntary_organisation, registered_charity, community_group, tenants_residents, "
            "faith_group, social_enterprise, sports_arts_heritage, other)",
        ],
    ]
    assert count(session_factory) == before
    assert audit_actions(session_factory) == actions


def test_a_good_file_is_previewed_then_imported_on_confirmation(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        existing = session.get(models.Organisation, world.a.organisation)
        assert existing is not None
        update = f"{existing.external_ref},Renamed Lunch Club,community_group,,Harlow,,yes,,no"
    before = count(session_factory, world.a.id)

    upload(staff, csv_text(*GOOD_ROWS, update))

    assert "Importing it will add 2 and update 1 organisation." in staff.text
    assert "Harlow Foodbank" in staff.text and "Renamed Lunch Club" in staff.text
    assert count(session_factory, world.a.id) == before  # nothing saved yet

    staff.post(f"{BASE}/import/confirm", {"csv": _hidden(staff.text, "csv")})

    assert staff.path == BASE
    assert "Imported 3 organisations: 2 added, 1 updated." in staff.text
    assert count(session_factory, world.a.id) == before + 2
    renamed = organisation(session_factory, id=world.a.organisation)
    assert renamed is not None and renamed.name == "Renamed Lunch Club"
    with session_factory() as session:
        event = session.scalars(
            select(models.AuditEvent).order_by(models.AuditEvent.id.desc())
        ).first()
        assert event is not None and event.action == "organisations.import"
        assert event.details == {"added": 2, "updated": 1}
        assert event.provider_id == world.a.id


def test_a_confirmation_with_a_changed_bad_text_saves_nothing(
    staff: Browser, session_factory: sessionmaker[Session]
) -> None:
    upload(staff, csv_text(*GOOD_ROWS))
    before = count(session_factory)

    staff.post(f"{BASE}/import/confirm", {"csv": csv_text(GOOD_ROWS[0].replace("yes", "perhaps"))})

    assert "nothing was imported" in staff.text
    assert count(session_factory) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Choose a CSV file to upload"),
        (b"", "The file is empty"),
        (b"PK\x03\x04 a workbook", "The file is a spreadsheet, not CSV"),
        (csv_text(GOOD_ROWS[1]).encode("latin-1"), "The file is not UTF-8 text"),
        (b"external_ref,name,org_type\n", "the file has a header but no rows"),
        (b"name,org_type\nA,other\n", "required column is missing"),
        (
            b"external_ref,name,org_type,district\nA1,Club,other,Mid\x0bshire\n",
            "holds a control character (U+000B)",
        ),
        (
            b"external_ref,name,org_type\nA1,Cl\x1bub,other\n",
            "holds a control character (U+001B)",
        ),
    ],
    ids=["no-file", "empty", "xlsx", "latin-1", "header-only", "no-ref-column", "vt", "esc"],
)
def test_a_file_that_is_not_a_list_of_groups_is_refused_with_a_reason(
    staff: Browser, session_factory: sessionmaker[Session], content: bytes | None, message: str
) -> None:
    before = count(session_factory)
    if content is None:
        staff.get(f"{BASE}/import")
        staff.post(f"{BASE}/import", {})
    else:
        upload(staff, content)
    assert staff.page is not None and staff.page.status_code == 200
    assert message in staff.text
    assert 'href="#file"' in staff.text
    assert count(session_factory) == before


def test_an_import_may_be_bigger_than_other_requests_up_to_its_own_limit(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    rows = [
        f"BIG{n:05d},Group number {n} of a long list,other,,Harlow,,no,,no" for n in range(2000)
    ]
    text = csv_text(*rows)
    assert 64 * 1024 < len(text) < IMPORT_LIMIT

    upload(staff, text)
    assert "Importing it will add 2000 and update 0 organisations." in staff.text
    staff.post(f"{BASE}/import/confirm", {"csv": _hidden(staff.text, "csv")})

    assert "Imported 2000 organisations" in staff.text
    assert count(session_factory, world.a.id) == 2002

    staff.get(f"{BASE}/import")
    # A body built by hand: the test client would spool a big upload to an unclosed temp file.
    boundary = "tempcheck-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{staff.csrf()}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n" + "x" * (IMPORT_LIMIT + 1) + f"\r\n--{boundary}--\r\n"
    ).encode()
    too_big = staff.client.post(
        f"{BASE}/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert too_big.status_code == 413


def test_the_template_file_imports_cleanly(staff: Browser, world: World, session: Session) -> None:
    page = staff.client.get(f"{BASE}/template.csv")
    assert page.mimetype == "text/csv"
    text = page.get_data(as_text=True)
    header = next(csv.reader(io.StringIO(text)))
    assert header == list(orgs.REQUIRED_COLUMNS + orgs.OPTIONAL_COLUMNS)
    provider = session.get(models.Provider, world.a.id)
    assert provider is not None
    plan = orgs.plan_import(session, provider, text)
    assert len(plan.new) == 1


def _hidden(html: str, name: str) -> str:
    """Give a hidden field's value, unescaped as a browser would send it."""
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return markup.unescape(html[start : html.index('"', start)])


def _table_rows(html: str, caption: str) -> list[list[str]]:
    """Give a table's body cells as text, found by its caption."""
    table = html[html.index(caption) :]
    body = table[table.index("<tbody") : table.index("</tbody>")]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows
