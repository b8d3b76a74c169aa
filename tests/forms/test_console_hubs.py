"""The Community Hub Temperature Check pages (issue 17): the register and the quarterly returns
imported from CSV (preview, confirm; a bad file saves nothing and lists every problem), the
quarter's table for staff and for the provider's funders only, and its PDF and workbook."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import hubs, models
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona
from tests.forms.test_console_volunteers import _hidden

BASE = "/console/alpha-cvs"
FUNDER = "/funder/alpha-cvs"
REGISTER = (
    "external_ref,name,kind,locality\n"
    "VAC,Voluntary Action Charnwood,hub,Charnwood\n"
    "SYS,=Syston LRC,centre,Charnwood\n"
)
QUARTER = hubs.quarter_label(hubs.previous_quarter(hubs.quarter_of(date.today())))
RETURNS = (
    "hub_ref,quarter,variable,value,target,note\n"
    f"VAC,{QUARTER},groups_supported,31,,\n"
    f"VAC,{QUARTER},volunteer_enquiries,50,,\n"
    f"SYS,{QUARTER},groups_supported,,,<b>not applicable</b>\n"
)


def _count(sessions: sessionmaker[Session], model: type[models.Base]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _import(browser: Browser, path: str, text: str) -> None:
    browser.get(f"{BASE}/{path}")
    browser.post(f"{BASE}/{path}", {"file": (io.BytesIO(text.encode()), "file.csv")})


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    return as_persona(Browser(app.test_client()), world, "staff_a")


def test_staff_import_hubs_and_returns_and_the_funder_sees_the_table(
    app: Flask, world: World, staff: Browser, session_factory: sessionmaker[Session]
) -> None:
    staff.get(f"{BASE}/hubs")
    assert "There are no hubs or centres yet" in staff.text
    _import(staff, "hubs/import", REGISTER)
    assert "Importing it will add 2 and update 0 hubs and centres" in staff.text
    assert _count(session_factory, models.Hub) == 0
    staff.post(f"{BASE}/hubs/import/confirm", {"csv": _hidden(staff.text, "csv")})
    assert staff.path == f"{BASE}/hubs"
    assert "Imported 2 hubs and centres: 2 added, 0 updated." in staff.text

    bad = RETURNS + f"VAC,{QUARTER},volunteers_placed,-1,,\nNOPE,{QUARTER},hours,2,,\n"
    _import(staff, "hubs/returns/import", bad)
    assert "The file has 3 problems, listed below: nothing was imported" in staff.text
    assert "-1 is negative: a figure is 0 or more" in staff.text
    assert "&#39;NOPE&#39; is not a hub or centre on your register" in staff.text
    assert "&#39;hours&#39; is not a variable" in staff.text
    assert _count(session_factory, models.HubReturn) == 0

    _import(staff, "hubs/returns/import", RETURNS)
    assert "Importing it will add 3 and update 0 quarterly returns" in staff.text
    # Without its CSRF token the confirmation is refused and saves nothing.
    refused = staff.client.post(
        f"{BASE}/hubs/returns/import/confirm", data={"csv": _hidden(staff.text, "csv")}
    )
    assert refused.status_code == 400 and _count(session_factory, models.HubReturn) == 0
    staff.post(f"{BASE}/hubs/returns/import/confirm", {"csv": _hidden(staff.text, "csv")})
    assert "Imported 3 quarterly returns: 3 added, 0 updated." in staff.text
    summary = (
        f"Of 7 variables across all localities in {QUARTER}: 1 (14%) green, 1 (14%) amber, "
        "0 (0%) red and 5 (71%) not reported."
    )
    assert summary in staff.text
    assert "&lt;b&gt;not applicable&lt;/b&gt;" in staff.text  # typed text is text

    funder = as_persona(Browser(app.test_client()), world, "funder_a")
    funder.get(FUNDER)
    assert "Community Hub Temperature Check" in funder.text
    funder.get(f"{FUNDER}/hubs")
    assert summary in funder.text and "Voluntary Action Charnwood" in funder.text
    pdf = funder.client.get(f"{FUNDER}/hubs.pdf?quarter={QUARTER}")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    xlsx = funder.client.get(f"{FUNDER}/hubs.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data))["Hub check"]
    names = {c.value for c in sheet["C"] if c.value}
    cells = [c for c in sheet["C"] if c.value == "=Syston LRC"]
    assert "=Syston LRC" in names and cells[0].data_type == "s"  # a name, not a formula
    # A quarter that cannot be read, or has no returns: back to the page, with a message.
    funder.get(f"{FUNDER}/hubs?quarter=next+year")
    assert "‘next year’ is not a quarter: choose one from the list" in funder.text
    funder.get(f"{FUNDER}/hubs.pdf?quarter=1999/00 Q1")
    assert funder.path == f"{FUNDER}/hubs"
    assert "There are no returns for that quarter yet." in funder.text


@pytest.mark.parametrize(
    ("persona", "page", "status"),
    [
        ("funder_other", f"{FUNDER}/hubs", 404),
        ("staff_b", f"{FUNDER}/hubs.pdf", 404),
        ("staff_a", f"{FUNDER}/hubs", 403),
        ("funder_a", f"{BASE}/hubs", 403),
        ("funder_a", f"{BASE}/hubs/returns/template.csv", 403),
    ],
)
def test_only_the_providers_staff_and_funders_see_its_hubs(
    app: Flask, world: World, persona: str, page: str, status: int
) -> None:
    browser = as_persona(Browser(app.test_client()), world, persona)
    assert browser.client.get(page).status_code == status


def test_the_returns_template_has_the_import_columns(staff: Browser) -> None:
    page = staff.client.get(f"{BASE}/hubs/returns/template.csv")
    assert page.mimetype == "text/csv"
    assert (
        page.get_data(as_text=True).splitlines()[0] == "hub_ref,quarter,variable,value,target,note"
    )
