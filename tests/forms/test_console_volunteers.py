"""The console's volunteering pages: volunteers, placements (add, edit, end, did not start),
enquiries, the three CSV imports (preview, confirm, bad files that save nothing) and the
follow-up settings; each change audited by reference, never by name."""

from __future__ import annotations

import html as markup
import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from collector.volunteering import followups
from collector.volunteering.volunteers import uk_today
from tests.factories import make_placement, make_volunteer
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona

BASE = "/console/alpha-cvs"
DAY = uk_today() - timedelta(days=3)


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


def _count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refs(sessions: sessionmaker[Session], world: World) -> tuple[str, str]:
    """Give provider A's volunteer's and host organisation's references."""
    with sessions() as session:
        volunteer = session.get(models.Volunteer, world.a.volunteer)
        host = session.get(models.Organisation, world.a.organisation)
        assert volunteer is not None and host is not None
        return volunteer.external_ref, host.external_ref


def _events(sessions: sessionmaker[Session]) -> list[models.AuditEvent]:
    with sessions() as session:
        events = list(session.scalars(select(models.AuditEvent).order_by(models.AuditEvent.id)))
        session.expunge_all()
        return events


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return markup.unescape(html[start : html.index('"', start)])


def _upload(browser: Browser, kind: str, text: str) -> None:
    browser.get(f"{BASE}/{kind}/import")
    browser.post(f"{BASE}/{kind}/import", {"file": (io.BytesIO(text.encode()), f"{kind}.csv")})


def _date(name: str, day: Any) -> dict[str, str]:
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


# Lists and the volunteer page -------------------------------------------------------------


def test_volunteers_are_listed_searched_and_shown_with_their_placements(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        make_volunteer(session, provider, name="Sam Example", district="Epping")
        erased = make_volunteer(
            session, provider, name=None, contact_email=None, erased_at=models.utcnow()
        )
        erased_id = erased.id
    staff.get(f"{BASE}/volunteers")
    assert "3 volunteers." in staff.text and "Sam Example" in staff.text
    assert f"Erased volunteer #{erased_id}" in staff.text
    staff.get(f"{BASE}/volunteers?district=Epping")
    assert "1 of 3 volunteers matches." in staff.text
    staff.get(f"{BASE}/volunteers?q=sam")
    assert "Sam Example" in staff.text and "Erased volunteer" not in staff.text

    staff.get(f"{BASE}/volunteers/{world.a.volunteer}")
    assert "Alpha CVS Lunch Club" in staff.text and "Befriender" in staff.text
    assert "Not yet due" in staff.text
    due = (uk_today() + timedelta(days=28)).strftime("%-d %b %Y")
    assert due in staff.text
    staff.get(f"{BASE}/volunteers/{erased_id}")
    assert f"Erased volunteer #{erased_id}" in staff.text and "were erased on" in staff.text
    # Another provider's volunteer is not found here.
    assert staff.client.get(f"{BASE}/volunteers/{world.b.volunteer}").status_code == 404


def test_placements_are_filtered_by_status_and_host(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        make_placement(session, provider, role="Shop volunteer", status="ended")
    staff.get(f"{BASE}/placements")
    assert "2 placements." in staff.text
    staff.get(f"{BASE}/placements?status=ended")
    assert "Shop volunteer" in staff.text and "Befriender" not in staff.text
    staff.get(f"{BASE}/placements?host={world.a.organisation}")
    assert "Befriender" in staff.text and "Shop volunteer" not in staff.text
    staff.get(f"{BASE}/placements?status=nonsense&host=abc")
    assert "2 placements." in staff.text  # a bad filter is ignored, not a 500


# Placements: add, edit, end, did not start -------------------------------------------------


def test_a_placement_is_added_with_problems_shown_per_field_first(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    volunteer_ref, host_ref = _refs(session_factory, world)
    before = _count(session_factory, models.Placement)
    staff.get(f"{BASE}/placements/new?volunteer={volunteer_ref}")
    assert f'value="{volunteer_ref}"' in staff.text
    staff.post(
        f"{BASE}/placements/new",
        {"volunteer_ref": volunteer_ref, "host_ref": "NOPE", "role": "", "start_date-day": "31"}
        | {"start_date-month": "2", "start_date-year": "2026"},
    )
    assert staff.page is not None and staff.page.status_code == 200
    assert "There is a problem" in staff.text
    assert "No organisation on your list has the reference" in staff.text
    assert "Enter the role" in staff.text
    assert "The start date must be a real date, like 1 4 2026" in staff.text
    assert 'href="#start_date-day"' in staff.text
    assert _count(session_factory, models.Placement) == before

    staff.post(
        f"{BASE}/placements/new",
        {"volunteer_ref": volunteer_ref, "host_ref": host_ref, "role": "Driver"}
        | _date("start_date", DAY),
    )
    assert "The placement was added." in staff.text
    assert _count(session_factory, models.Placement) == before + 1
    event = _events(session_factory)[-1]
    assert event.action == "placement.add" and event.subject.startswith("placement (#")


def test_a_placement_is_edited_ended_and_cannot_be_ended_twice(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    page = f"{BASE}/placements/{world.a.placement}"
    staff.get(page)
    volunteer_ref, host_ref = _refs(session_factory, world)
    with session_factory() as session:
        placement = session.get(models.Placement, world.a.placement)
        assert placement is not None and placement.external_ref
        ref = placement.external_ref
    assert f'value="{ref}"' in staff.text  # the form holds what is stored
    fields = {"volunteer_ref": volunteer_ref, "host_ref": host_ref, "role": "Lead befriender"}
    fields["external_ref"] = ref
    staff.post(page, fields | _date("start_date", uk_today()))
    assert "The placement was saved." in staff.text
    staff.post(f"{page}/end", _date("end_date", uk_today() - timedelta(days=5)))
    assert "The end date must be on or after the start date" in staff.text
    staff.post(f"{page}/end", _date("end_date", uk_today() + timedelta(days=5)))
    assert "The end date must be today or in the past" in staff.text
    staff.post(f"{page}/end", {"end_date-day": "x"})
    assert "as numbers" in staff.text
    with session_factory() as session:
        placement = session.get(models.Placement, world.a.placement)
        assert placement is not None
        assert (placement.status, placement.role) == ("active", "Lead befriender")
    staff.post(f"{page}/end", _date("end_date", uk_today()))
    assert "The placement was marked as ended." in staff.text
    staff.post(f"{page}/did-not-start")
    assert "The placement is ended, not active: nothing was changed." in staff.text
    with session_factory() as session:
        placement = session.get(models.Placement, world.a.placement)
        assert placement is not None and placement.status == "ended"
        assert placement.ended_on == uk_today()
    actions = [(e.action, e.details) for e in _events(session_factory)][-2:]
    assert actions == [
        ("placement.edit", {"changed": ["role"]}),
        ("placement.end", {"ended_on": uk_today().isoformat()}),
    ]


def test_a_placement_that_did_not_start_is_marked_so(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff.get(f"{BASE}/placements/{world.a.placement}")
    staff.post(f"{BASE}/placements/{world.a.placement}/did-not-start")
    assert "no follow-up will be sent for it" in staff.text
    with session_factory() as session:
        placement = session.get(models.Placement, world.a.placement)
        assert placement is not None and placement.status == "did_not_start"


# Enquiries --------------------------------------------------------------------------------


def test_an_enquiry_is_added_and_listed(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    before = _count(session_factory, models.Enquiry)
    staff.get(f"{BASE}/enquiries/new")
    staff.post(f"{BASE}/enquiries/new", {"source": "", "outcome": "pending"} | _date("date", DAY))
    assert "Enter the source" in staff.text
    tomorrow = uk_today() + timedelta(days=1)
    staff.post(f"{BASE}/enquiries/new", {"source": "web", "outcome": "x"} | _date("date", tomorrow))
    assert "The date of the enquiry must be today or in the past" in staff.text
    assert _count(session_factory, models.Enquiry) == before
    staff.post(
        f"{BASE}/enquiries/new",
        {"source": "event", "outcome": "referred", "district": "Harlow"} | _date("date", DAY),
    )
    assert "The enquiry was added." in staff.text and "Referred elsewhere" in staff.text
    assert _count(session_factory, models.Enquiry) == before + 1
    staff.get(f"{BASE}/enquiries?outcome=referred")
    assert "1 enquiry match." in staff.text


# Imports ----------------------------------------------------------------------------------

VOLUNTEERS = (
    "external_ref,name,consent,consent_date,email,district,consent_email\n"
    f"NEWV1,Sam Example,yes,{DAY},sam@example.org,Harlow,yes\n"
    f"NEWV2,Ali Example,yes,{DAY},,Epping,no\n"
)


def test_a_volunteers_file_is_previewed_then_imported(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    before = _count(session_factory, models.Volunteer)
    _upload(staff, "volunteers", VOLUNTEERS)
    assert "Importing it will add 2 and update 0 volunteers" in staff.text
    assert "Sam Example" in staff.text
    assert _count(session_factory, models.Volunteer) == before
    staff.post(f"{BASE}/volunteers/import/confirm", {"csv": _hidden(staff.text, "csv")})
    assert staff.path == f"{BASE}/volunteers"
    assert "Imported 2 volunteers: 2 added, 0 updated." in staff.text
    assert _count(session_factory, models.Volunteer) == before + 2
    event = _events(session_factory)[-1]
    assert event.action == "volunteers.import" and event.details == {"added": 2, "updated": 0}
    assert "Sam" not in str(event.subject) + str(event.details)


@pytest.mark.parametrize(
    ("kind", "text", "problem"),
    [
        (
            "placements",
            "external_ref,volunteer_ref,host_ref,role,start_date\n"
            "P1,{volunteer},{host},Driver,{day}\nP2,{volunteer},NOPE,Driver,{day}\n",
            "no organisation on your list has the reference &#39;NOPE&#39;",
        ),
        (
            "placements",
            "external_ref,volunteer_ref,host_ref,role,start_date,status,end_date\n"
            "P1,{volunteer},{host},Driver,2026-02-30,,\n",
            "&#39;2026-02-30&#39; is not a date",
        ),
        (
            "volunteers",
            "external_ref,name,consent,consent_date\nD1,Sam,yes,{day}\nD1,Sam,yes,{day}\n",
            "D1 appears again (first on line 2)",
        ),
        (
            "volunteers",
            "external_ref,name,consent,consent_date\nD1,Sam,no,\n",
            "a volunteer&#39;s details are only kept with their consent",
        ),
        (
            "enquiries",
            "external_ref,date,source\nE1,{day},phone\nE2,{day},pigeon\n",
            "&#39;pigeon&#39; is not one of",
        ),
    ],
)
def test_a_bad_file_lists_its_problems_and_saves_nothing(
    staff: Browser,
    world: World,
    session_factory: sessionmaker[Session],
    kind: str,
    text: str,
    problem: str,
) -> None:
    volunteer_ref, host_ref = _refs(session_factory, world)
    model = {"placements": models.Placement, "volunteers": models.Volunteer}.get(
        kind, models.Enquiry
    )
    before = _count(session_factory, model), len(_events(session_factory))
    _upload(staff, kind, text.format(volunteer=volunteer_ref, host=host_ref, day=DAY))
    assert "nothing was imported" in staff.text and problem in staff.text
    # A changed text sent straight to confirm is checked again, and refused the same way.
    staff.post(
        f"{BASE}/{kind}/import/confirm",
        {"csv": text.format(volunteer=volunteer_ref, host=host_ref, day=DAY)},
    )
    assert "nothing was imported" in staff.text
    assert (_count(session_factory, model), len(_events(session_factory))) == before


@pytest.mark.parametrize("control", ["\x0b", "\x1b"], ids=["vt", "esc"])
def test_a_file_with_a_control_character_is_refused_at_upload_with_its_line(
    staff: Browser, session_factory: sessionmaker[Session], control: str
) -> None:
    before = _count(session_factory, models.Volunteer), len(_events(session_factory))
    _upload(staff, "volunteers", VOLUNTEERS.replace("Ali Example", f"Ali{control}Example"))
    assert "nothing was imported" in staff.text
    assert f"holds a control character (U+{ord(control):04X})" in staff.text
    assert "Ali" not in staff.text  # the row is named by its line, its text is not echoed
    assert (_count(session_factory, models.Volunteer), len(_events(session_factory))) == before


def test_the_template_files_have_the_import_columns(staff: Browser) -> None:
    for kind, first in (
        ("volunteers", "external_ref,name,consent,consent_date"),
        ("placements", "external_ref,volunteer_ref,host_ref,role,start_date"),
        ("enquiries", "external_ref,date,source"),
    ):
        page = staff.client.get(f"{BASE}/{kind}/template.csv")
        assert page.mimetype == "text/csv"
        assert page.get_data(as_text=True).startswith(first)


def test_a_spreadsheet_is_refused_with_a_clear_message(staff: Browser) -> None:
    staff.get(f"{BASE}/placements/import")
    staff.post(f"{BASE}/placements/import", {"file": (io.BytesIO(b"PK\x03\x04 xlsx"), "book.xlsx")})
    assert "The file is a spreadsheet, not CSV" in staff.text


# Settings ---------------------------------------------------------------------------------


def test_follow_up_settings_are_saved_checked_and_audited(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff.get(f"{BASE}/volunteers/settings")
    assert 'value="28"' in staff.text and 'value="730"' in staff.text
    staff.post(
        f"{BASE}/volunteers/settings", {"followup_days": "0", "volunteer_retention_days": "lots"}
    )
    assert "must be a whole number from 1 to 365" in staff.text
    assert "must be a whole number from 30 to 3650" in staff.text
    staff.post(
        f"{BASE}/volunteers/settings", {"followup_days": "21", "volunteer_retention_days": "730"}
    )
    assert "The settings were saved." in staff.text
    with session_factory() as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None and provider.followup_days == 21
    event = _events(session_factory)[-1]
    assert event.action == "provider.volunteer_settings"
    assert event.details == {"followup_days": 21}


# A volunteers' follow-up round ------------------------------------------------------------


def test_a_volunteers_follow_up_round_gives_its_volunteers_links_and_counts_volunteers(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        placement = session.get(models.Placement, world.a.placement)
        assert placement is not None
        followups.follow_up(session, placement)
        invitation = session.scalars(
            select(models.Invitation).where(models.Invitation.volunteer_id == world.a.volunteer)
        ).one()
        round_id, token = invitation.round_id, invitation.token
        volunteer = session.get(models.Volunteer, world.a.volunteer)
        assert volunteer is not None
        ref, name, email = volunteer.external_ref, volunteer.name, volunteer.contact_email
    url = f"{BASE}/rounds/{round_id}"

    csv_text = staff.client.get(f"{url}/links.csv").get_data(as_text=True)
    rows = [line.split(",") for line in csv_text.lstrip("\ufeff").splitlines()]
    assert rows == [
        ["volunteer_ref", "volunteer", "email", "link", "telegram_link", "answered"],
        [ref, name, email, f"http://testserver/r/{token}", "", "not started"],
    ]

    staff.get(f"{url}/qr")
    assert "Invitations (1)" in staff.text and "no links yet" not in staff.text
    assert f"QR code for {name}" in staff.text and f"/r/{token}" in staff.text
    assert "belongs to one volunteer" in staff.text

    staff.get(url)
    assert "Volunteers that have not answered" in staff.text
    assert '<th scope="col" class="govuk-table__header">Volunteer</th>' in staff.text
    assert "Volunteers, as their placements reach their follow-up" in staff.text
    assert "Every group on the list" not in staff.text
    staff.get(f"{url}/remind")
    assert "<strong>1</strong> invited volunteer has not answered yet" in staff.text
