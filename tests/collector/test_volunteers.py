"""Volunteer, enquiry and placement records: the shared checks, CSV imports (all or nothing),
one-record changes and the follow-up status, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import localtime, models
from collector.volunteering import volunteers as vols
from tests.factories import (
    make_organisation,
    make_placement,
    make_provider,
    make_round,
    make_volunteer,
)

TODAY = date(2026, 5, 14)

VOLUNTEERS = (
    "external_ref,name,consent,consent_date,email,district,"
    "consent_email,consent_telegram,preferred_channel\n"
    """VOL1,Sam Example,yes,2026-03-02,sam@example.org,Harlow,yes,no,email
VOL2,Ali Example,yes,02/03/2026,,Epping,no,yes,telegram
"""
)


def _count(session: Session, model: type[models.Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _provider_with_host(session: Session) -> models.Provider:
    provider = make_provider(session)
    make_organisation(session, provider, external_ref="HAR1", name="Harlow Foodbank")
    return provider


def _messages(error: vols.CsvImportError) -> list[str]:
    return [str(p) for p in error.problems]


def test_a_good_volunteers_file_is_imported_and_a_second_import_updates(session: Session) -> None:
    provider = make_provider(session)
    plan = vols.import_csv(session, provider, "volunteers", VOLUNTEERS, today=TODAY)
    assert [r["external_ref"] for r in plan.new] == ["VOL1", "VOL2"] and not plan.updated
    sam = session.scalars(
        select(models.Volunteer).where(models.Volunteer.external_ref == "VOL1")
    ).one()
    assert (sam.name, sam.contact_email, sam.district) == (
        "Sam Example",
        "sam@example.org",
        "Harlow",
    )
    assert sam.consent and sam.consent_email and not sam.consent_telegram
    assert sam.preferred_channel == "email"
    assert sam.consent_at == localtime.day_starts(date(2026, 3, 2))
    ali = session.scalars(
        select(models.Volunteer).where(models.Volunteer.external_ref == "VOL2")
    ).one()
    assert ali.contact_email is None and ali.preferred_channel == "telegram"
    assert ali.consent_at == localtime.day_starts(date(2026, 3, 2))  # the UK way of writing it

    again = vols.import_csv(
        session, provider, "volunteers", VOLUNTEERS.replace("Harlow", "Harlow Town"), today=TODAY
    )
    assert not again.new and len(again.updated) == 2
    session.refresh(sam)
    assert sam.district == "Harlow Town"
    assert _count(session, models.Volunteer) == 2


BAD_VOLUNTEERS = [
    ("VOL9,Jo,no,,,,no,no,", "line 2, column consent: must be yes"),
    ("VOL9,Jo,,,,,no,no,", "line 2, column consent: must be yes"),
    ("VOL9,Jo,yes,,,,no,no,", "line 2, column consent_date: is empty"),
    ("VOL9,Jo,yes,2026-02-30,,,no,no,", "'2026-02-30' is not a date"),
    ("VOL9,Jo,yes,2027-01-01,,,no,no,", "2027-01-01 is in the future"),
    ("VOL9,Jo,yes,1926-01-01,,,no,no,", "1926-01-01 is before 2000: check the year"),
    ("VOL9,Jo,yes,2026-01-01,jo-at-example,,yes,no,", "'jo-at-example' is not an email address"),
    ("VOL9,Jo,yes,2026-01-01,,,yes,no,", "consent to email given but no email address"),
    ("VOL9,Jo,yes,2026-01-01,,,no,no,telegram", "telegram is preferred but not consented to"),
    ("VOL9,Jo,yes,2026-01-01,,,maybe,no,", "'maybe' is not yes or no"),
    ("VOL9,Jo,yes,2026-01-01,,,no,no,pigeon", "'pigeon' is not one of: email, telegram"),
    (",Jo,yes,2026-01-01,,,no,no,", "line 2, column external_ref: is empty"),
    ("VOL9,,yes,2026-01-01,,,no,no,", "line 2, column name: is empty"),
    # The same volunteer twice in the file, and the same person under another reference.
    (
        "VOL1,Sam Again,yes,2026-01-01,,,no,no,",
        "line 3, column external_ref: VOL1 appears again (first on line 2)",
    ),
    (
        "VOL9,Sam,yes,2026-01-01,SAM@example.org,,yes,no,",
        "line 3, column email: the same address as line 2",
    ),
]


@pytest.mark.parametrize(("row", "message"), BAD_VOLUNTEERS)
def test_a_bad_volunteer_row_stops_the_whole_file(session: Session, row: str, message: str) -> None:
    provider = make_provider(session)
    header, good = VOLUNTEERS.splitlines()[:2]
    # The bad row comes after a good one: the good one must not be saved either.
    if "appears again" in message or "same address" in message:
        text = f"{header}\n{good}\n{row}\n"
    else:
        text = f"{header}\n{row}\n{good}\n"
    with pytest.raises(vols.CsvImportError) as caught:
        vols.import_csv(session, provider, "volunteers", text, today=TODAY)
    assert any(message in m for m in _messages(caught.value)), _messages(caught.value)
    assert _count(session, models.Volunteer) == 0


def test_a_volunteer_already_stored_under_another_reference_is_a_duplicate(
    session: Session,
) -> None:
    provider = make_provider(session)
    make_volunteer(session, provider, external_ref="OLD7", contact_email="sam@example.org")
    with pytest.raises(vols.CsvImportError) as caught:
        vols.import_csv(session, provider, "volunteers", VOLUNTEERS, today=TODAY)
    assert _messages(caught.value) == [
        "line 2, column email: sam@example.org is already the address of volunteer OLD7: "
        "the same person twice?"
    ]
    assert _count(session, models.Volunteer) == 1


def test_an_erased_volunteers_reference_cannot_be_imported_again(session: Session) -> None:
    provider = make_provider(session)
    make_volunteer(
        session,
        provider,
        external_ref="VOL1",
        name=None,
        contact_email=None,
        erased_at=models.utcnow(),
    )
    with pytest.raises(vols.CsvImportError) as caught:
        vols.import_csv(session, provider, "volunteers", VOLUNTEERS, today=TODAY)
    assert "volunteer VOL1 was erased" in _messages(caught.value)[0]


def test_the_file_level_problems_are_listed(session: Session) -> None:
    provider = make_provider(session)
    for text, message in (
        ("external_ref,name\nVOL1,Sam\n", "line 1, column consent: required column is missing"),
        (VOLUNTEERS.splitlines()[0] + ",shoe_size\n", "line 1, column shoe_size: unknown column"),
        (VOLUNTEERS.splitlines()[0] + "\n", "line 1: the file has a header but no rows"),
    ):
        with pytest.raises(vols.CsvImportError) as caught:
            vols.plan_import(session, provider, "volunteers", text, today=TODAY)
        assert message in _messages(caught.value)


PLACEMENTS = "external_ref,volunteer_ref,host_ref,role,start_date,status,end_date\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "PLA1,VOL1,NOPE,Driver,2026-04-01,,",
            "no organisation on your list has the reference 'NOPE'",
        ),
        ("PLA1,VOL404,HAR1,Driver,2026-04-01,,", "no volunteer has the reference 'VOL404'"),
        ("PLA1,VOL1,HAR1,Driver,1st April,,", "'1st April' is not a date"),
        ("PLA1,VOL1,HAR1,Driver,2026-13-01,,", "'2026-13-01' is not a date"),
        ("PLA1,VOL1,HAR1,Driver,2028-04-01,,", "2028-04-01 is more than a year ahead"),
        (
            "PLA1,VOL1,HAR1,Driver,2026-04-01,ended,2026-03-01",
            "2026-03-01 is before the start date",
        ),
        ("PLA1,VOL1,HAR1,Driver,2026-04-01,ended,", "an ended placement needs its end date"),
        ("PLA1,VOL1,HAR1,Driver,2026-04-01,active,2026-05-01", "the status is active"),
        ("PLA1,VOL1,HAR1,Driver,2026-04-01,paused,", "'paused' is not one of: active, ended"),
        ("PLA1,VOL1,HAR1,,2026-04-01,,", "column role: is empty"),
        (",VOL1,HAR1,Driver,2026-04-01,,", "column external_ref: is empty"),
    ],
)
def test_a_bad_placement_row_stops_the_whole_file(session: Session, row: str, message: str) -> None:
    provider = _provider_with_host(session)
    make_volunteer(session, provider, external_ref="VOL1")
    text = PLACEMENTS + "PLA0,VOL1,HAR1,Befriender,2026-04-01,active,\n" + row + "\n"
    with pytest.raises(vols.CsvImportError) as caught:
        vols.import_csv(session, provider, "placements", text, today=TODAY)
    assert any(message in m for m in _messages(caught.value)), _messages(caught.value)
    assert _count(session, models.Placement) == 0


def test_placements_are_imported_with_their_volunteer_and_host(session: Session) -> None:
    provider = _provider_with_host(session)
    volunteer = make_volunteer(session, provider, external_ref="VOL1")
    text = (
        PLACEMENTS
        + "PLA1,VOL1,HAR1,Befriender,2026-04-01,,\n"
        + "PLA2,VOL1,HAR1,Driver,01/02/2026,ended,2026-03-31\n"
        + "PLA3,VOL1,HAR1,Shop,2026-06-01,did not start,\n"
    )
    plan = vols.import_csv(session, provider, "placements", text, today=TODAY)
    assert len(plan.new) == 3
    rows = {p.external_ref: p for p in session.scalars(select(models.Placement))}
    assert rows["PLA1"].volunteer_id == volunteer.id and rows["PLA1"].status == "active"
    assert rows["PLA1"].organisation.external_ref == "HAR1"
    assert (rows["PLA2"].status, rows["PLA2"].ended_on) == ("ended", date(2026, 3, 31))
    assert rows["PLA2"].starts_on == date(2026, 2, 1)
    assert rows["PLA3"].status == "did_not_start"
    # Importing again with one placement ended updates it, adds nothing.
    again = vols.import_csv(
        session,
        provider,
        "placements",
        PLACEMENTS + "PLA1,VOL1,HAR1,Befriender,2026-04-01,ended,2026-05-10\n",
        today=TODAY,
    )
    assert len(again.updated) == 1 and not again.new
    assert rows["PLA1"].status == "ended" and rows["PLA1"].ended_on == date(2026, 5, 10)
    assert _count(session, models.Placement) == 3


def test_another_providers_host_and_volunteer_are_unknown(session: Session) -> None:
    provider = _provider_with_host(session)
    other = make_provider(session)
    make_organisation(session, other, external_ref="BETA1")
    make_volunteer(session, other, external_ref="VOLB")
    with pytest.raises(vols.CsvImportError) as caught:
        vols.plan_import(
            session,
            provider,
            "placements",
            PLACEMENTS + "PLA1,VOLB,BETA1,Driver,2026-04-01,,\n",
            today=TODAY,
        )
    assert [p.column for p in caught.value.problems] == ["host_ref", "volunteer_ref"]


ENQUIRIES = "external_ref,date,source,district,outcome,volunteer_ref\n"


def test_enquiries_are_imported_and_bad_ones_stop_the_file(session: Session) -> None:
    provider = make_provider(session)
    volunteer = make_volunteer(session, provider, external_ref="VOL1")
    good = ENQUIRIES + "E1,2026-04-01,phone,Harlow,placed,VOL1\nE2,2026-04-02,Walk-in,,,\n"
    plan = vols.import_csv(session, provider, "enquiries", good, today=TODAY)
    assert len(plan.new) == 2
    rows = {e.external_ref: e for e in session.scalars(select(models.Enquiry))}
    assert rows["E1"].volunteer_id == volunteer.id and rows["E1"].outcome == "placed"
    assert (rows["E2"].source, rows["E2"].outcome) == ("walk_in", "pending")
    for row, message in (
        ("E3,2026-06-01,phone,,,", "2026-06-01 is in the future"),
        ("E3,yesterday,phone,,,", "'yesterday' is not a date"),
        ("E3,2026-04-01,carrier pigeon,,,", "'carrier pigeon' is not one of: web, phone"),
        ("E3,2026-04-01,phone,,hired,", "'hired' is not one of: pending, placed"),
        ("E3,2026-04-01,phone,,,VOL404", "no volunteer has the reference 'VOL404'"),
        ("E3,2026-04-01,,,,", "column source: is empty"),
    ):
        text = ENQUIRIES + "E4,2026-04-03,web,,,\n" + row + "\n"
        with pytest.raises(vols.CsvImportError) as caught:
            vols.import_csv(session, provider, "enquiries", text, today=TODAY)
        assert any(message in m for m in _messages(caught.value)), (row, _messages(caught.value))
    assert _count(session, models.Enquiry) == 2


def test_one_placement_is_added_edited_ended_and_checked_like_a_row(session: Session) -> None:
    provider = _provider_with_host(session)
    make_volunteer(session, provider, external_ref="VOL1")
    cells = {
        "volunteer_ref": "VOL1",
        "host_ref": "HAR1",
        "role": "Befriender",
        "start_date": "2026-04-01",
    }
    placement = vols.add_placement(session, provider, cells, today=TODAY)
    assert placement.external_ref is None and placement.status == "active"
    with pytest.raises(vols.RecordError) as caught:
        vols.add_placement(session, provider, {**cells, "host_ref": "NOPE"}, today=TODAY)
    assert [p.column for p in caught.value.problems] == ["host_ref"]
    changed = vols.update_placement(
        session, placement, {**vols.placement_cells(placement), "role": "Driver"}, today=TODAY
    )
    assert changed == ["role"] and placement.role == "Driver"
    with pytest.raises(vols.RecordError, match="1 problem"):
        vols.end_placement(session, placement, date(2026, 3, 1), today=TODAY)
    with pytest.raises(vols.RecordError):
        vols.end_placement(session, placement, TODAY + timedelta(days=1), today=TODAY)
    assert placement.status == "active"
    vols.end_placement(session, placement, TODAY, today=TODAY)
    assert (placement.status, placement.ended_on) == ("ended", TODAY)
    with pytest.raises(vols.RecordError):
        vols.mark_did_not_start(session, placement)
    assert _count(session, models.Placement) == 1


def test_a_second_record_may_not_take_a_used_reference(session: Session) -> None:
    provider = _provider_with_host(session)
    make_placement(session, provider, external_ref="PLA1")
    make_volunteer(session, provider, external_ref="VOL1")
    with pytest.raises(vols.RecordError) as caught:
        vols.add_placement(
            session,
            provider,
            {
                "external_ref": "PLA1",
                "volunteer_ref": "VOL1",
                "host_ref": "HAR1",
                "role": "Driver",
                "start_date": "2026-04-01",
            },
            today=TODAY,
        )
    assert str(caught.value.problems[0]) == (
        "line 0, column external_ref: PLA1 is already used by another record"
    )


def test_follow_up_settings_are_checked(session: Session) -> None:
    provider = make_provider(session)
    assert vols.set_followup_settings(session, provider, "14", "730") == ["followup_days"]
    assert provider.followup_days == 14
    for days, keep in (("0", "730"), ("28", "10"), ("two", "730"), ("28", "")):
        with pytest.raises(vols.RecordError):
            vols.set_followup_settings(session, provider, days, keep)
    assert (provider.followup_days, provider.volunteer_retention_days) == (14, 730)


def test_follow_up_status_reads_the_placements_invitations(session: Session) -> None:
    provider = _provider_with_host(session)
    due = make_placement(session, provider, starts_on=date(2026, 4, 1))
    later = make_placement(session, provider, starts_on=date(2026, 5, 1))
    never = make_placement(session, provider, status="did_not_start")
    # The volunteer's and the host's surveys are two rounds (one invitation per placement each).
    round_ = make_round(session, provider, open_now=False)
    host_round = make_round(session, provider, open_now=False)
    session.add_all(
        [
            models.Invitation(
                round_id=round_.id,
                volunteer_id=due.volunteer_id,
                placement_id=due.id,
                token="t-volunteer",
            ),
            models.Invitation(
                round_id=host_round.id,
                organisation_id=due.organisation_id,
                placement_id=due.id,
                token="t-host",
            ),
        ]
    )
    session.flush()
    host_invitation = session.scalars(
        select(models.Invitation).where(models.Invitation.token == "t-host")
    ).one()
    session.add(
        models.Response(
            round_id=host_round.id,
            invitation_id=host_invitation.id,
            status="completed",
            channel="web",
        )
    )
    due.followed_up_at = models.utcnow()
    session.flush()
    status = vols.followups(session, [due, later, never], 28)
    assert status[due.id] == vols.FollowUp(date(2026, 4, 29), "queued", "answered")
    assert status[later.id] == vols.FollowUp(date(2026, 5, 29), "not yet due", "not yet due")
    assert status[never.id].due_on is None and status[never.id].volunteer == "not sent"


def test_erased_volunteers_are_named_by_their_id(session: Session) -> None:
    provider = make_provider(session)
    volunteer = make_volunteer(session, provider, name="Sam Example")
    assert vols.display_name(volunteer) == "Sam Example"
    volunteer.name, volunteer.erased_at = None, models.utcnow()
    assert vols.display_name(volunteer) == f"Erased volunteer #{volunteer.id}"
    assert "Sam" not in vols.subject(volunteer)


def test_search_finds_volunteers_and_placements(session: Session) -> None:
    provider = _provider_with_host(session)
    other_host = make_organisation(session, provider, external_ref="HAR2", name="Harlow Shed")
    sam = make_volunteer(session, provider, name="Sam Example", district="Harlow")
    make_volunteer(session, provider, name="Ali Example", district="Epping")
    rows, total = vols.search_volunteers(session, provider.id, text="sam")
    assert [r.id for r in rows] == [sam.id] and total == 1
    assert vols.search_volunteers(session, provider.id, district="Epping")[1] == 1
    assert vols.volunteer_districts(session, provider.id) == ["Epping", "Harlow"]
    ended = make_placement(session, provider, sam, other_host, status="ended")
    make_placement(session, provider, sam)
    rows, total = vols.search_placements(session, provider.id, status="ended")
    assert [r.id for r in rows] == [ended.id]
    assert vols.search_placements(session, provider.id, host_id=other_host.id)[1] == 1
    assert "Harlow Shed" in [name for _, name in vols.hosts(session, provider.id)]
