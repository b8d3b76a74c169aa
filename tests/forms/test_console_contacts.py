"""The console's contacts pages (issue 15): the list, the CSV import (preview, confirm, a bad
file that saves nothing and lists every problem), opting out and back in; staff of the provider
only; audited by reference, never by name."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from tests.factories import make_contact, make_round
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona
from tests.forms.test_console_volunteers import _hidden

BASE = "/console/alpha-cvs"
CONTACTS = (
    "external_ref,name,audience,organisation,email,consent_email\n"
    "PAR1,Alex Partner,partner,County Council,alex@council.example,yes\n"
    "COM1,Chris Commissioner,commissioner,NHS,chris@nhs.example,yes\n"
)


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(models.Contact)) or 0)


def _upload(browser: Browser, text: str) -> None:
    browser.get(f"{BASE}/contacts/import")
    browser.post(f"{BASE}/contacts/import", {"file": (io.BytesIO(text.encode()), "contacts.csv")})


def test_a_contacts_file_is_previewed_then_imported_and_listed(
    staff: Browser, session_factory: sessionmaker[Session]
) -> None:
    before = _count(session_factory)  # the world's one
    _upload(staff, CONTACTS)
    assert "Importing it will add 2 and update 0 contacts" in staff.text
    assert "Alex Partner" in staff.text and "Commissioner" in staff.text
    assert _count(session_factory) == before
    staff.post(f"{BASE}/contacts/import/confirm", {"csv": _hidden(staff.text, "csv")})
    assert staff.path == f"{BASE}/contacts"
    assert "Imported 2 contacts: 2 added, 0 updated." in staff.text
    assert "Alex Partner" in staff.text and "County Council" in staff.text
    assert _count(session_factory) == before + 2
    staff.get(f"{BASE}/contacts?audience=commissioner")
    assert "Chris Commissioner" in staff.text and "Alex Partner" not in staff.text
    with session_factory() as session:
        [event] = session.scalars(select(models.AuditEvent)).all()
        assert event.action == "contacts.import" and "Alex" not in str(event.subject)


def test_a_bad_contacts_file_saves_nothing_and_lists_every_problem(
    staff: Browser, session_factory: sessionmaker[Session]
) -> None:
    before = _count(session_factory)
    bad = CONTACTS + "PAR2,Pat,mayor,,alex@council.example,no\nPAR3,Sam,,,,no\n"
    _upload(staff, bad)
    text = staff.text
    assert "The file has 3 problems, listed below: nothing was imported" in text
    assert "&#39;mayor&#39; is not an audience" in text
    assert "the same address as line 2" in text
    assert "is empty (use one of: partner, commissioner, representative)" in text
    assert _count(session_factory) == before


def test_staff_opt_a_contact_out_and_back_in(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        contact_id = make_contact(session, provider, external_ref="PAR7", name="Pat Lee").id
    staff.get(f"{BASE}/contacts")
    staff.post(f"{BASE}/contacts/{contact_id}/opt-out")
    assert "Contact PAR7 will not be asked again." in staff.text and "Opted out" in staff.text
    staff.post(f"{BASE}/contacts/{contact_id}/opt-in")
    assert "Contact PAR7 will be asked again in new rounds." in staff.text
    with session_factory() as session:
        actions = session.scalars(select(models.AuditEvent.action)).all()
        assert actions == ["contact.opt_out", "contact.opt_in"]


@pytest.mark.parametrize(("persona", "status"), [("staff_b", 404), ("funder_a", 403)])
def test_only_the_providers_staff_see_its_contacts(
    app: Flask, world: World, persona: str, status: int
) -> None:
    browser = as_persona(Browser(app.test_client()), world, persona)
    assert browser.client.get(f"{BASE}/contacts").status_code == status
    assert browser.client.get(f"{BASE}/contacts/template.csv").status_code == status


def test_a_form_without_its_csrf_token_is_refused(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        contact_id = make_contact(session, provider).id
    page = staff.client.post(f"{BASE}/contacts/{contact_id}/opt-out")
    assert page.status_code == 400
    with session_factory() as session:
        contact = session.get(models.Contact, contact_id)
        assert contact is not None and contact.opted_out_at is None


def test_the_template_file_has_the_import_columns(staff: Browser) -> None:
    page = staff.client.get(f"{BASE}/contacts/template.csv")
    assert page.mimetype == "text/csv"
    assert page.get_data(as_text=True).startswith("external_ref,name,audience,organisation")


def test_a_round_of_contacts_counts_them_by_audience_and_organisation(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        make_contact(session, provider, audience="commissioner", organisation="NHS Essex")
        round_id = make_round(
            session, provider, audience={"contacts": ["partner", "commissioner"]}
        ).id
    staff.get(f"{BASE}/rounds/{round_id}")
    text = " ".join(staff.text.split())
    assert "Audience" in text and "Public-sector partner" in text and "Commissioner" in text
    assert "NHS Essex" in text and "County Council, Children&#39;s Services" in text
