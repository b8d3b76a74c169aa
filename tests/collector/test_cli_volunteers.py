"""`tempcheck volunteers|placements|enquiries`, run as a user would, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models
from collector.volunteering.volunteers import uk_today
from tests.collector.conftest import Run
from tests.factories import make_organisation, make_provider

DAY = (uk_today() - timedelta(days=10)).isoformat()
VOLUNTEERS = (
    "external_ref,name,consent,consent_date,email,district,consent_email\n"
    f"VOL1,Sam Example,yes,{DAY},sam@example.org,Harlow,yes\n"
    f"VOL2,Ali Example,yes,{DAY},,Epping,no\n"
)


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _setup(factory: sessionmaker[Session]) -> None:
    with db.transaction(factory) as session:
        provider = make_provider(session, slug="harlow-vc", name="Harlow Volunteer Centre")
        make_organisation(session, provider, external_ref="HAR1", name="Harlow Foodbank")


def _actions(factory: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with factory() as session:
        return [
            (e.action, e.subject)
            for e in session.scalars(select(models.AuditEvent).order_by(models.AuditEvent.id))
        ]


def test_volunteers_import_is_all_or_nothing_then_listed(
    run: Run, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    _setup(session_factory)
    bad = tmp_path / "bad.csv"
    bad.write_text(VOLUNTEERS + f"VOL1,Sam Again,yes,{DAY},,,no\nVOL3,Jo,no,,,,no\n")
    result = run("volunteers", "import", str(bad), "--provider", "harlow-vc")
    assert result.exit_code == 1
    assert "Nothing was imported: 2 problems in the file" in result.output
    assert "line 4, column external_ref: VOL1 appears again (first on line 2)" in result.output
    assert "line 5, column consent: must be yes" in result.output
    assert "Traceback" not in result.output
    assert _count(session_factory, models.Volunteer) == 0

    good = tmp_path / "volunteers.csv"
    good.write_text(VOLUNTEERS)
    dry = run("volunteers", "import", str(good), "--provider", "harlow-vc", "--dry-run")
    assert "Would add 2 and would update 0 volunteers" in dry.output
    assert _count(session_factory, models.Volunteer) == 0
    done = run("volunteers", "import", str(good), "--provider", "harlow-vc")
    assert done.exit_code == 0 and "Added 2 and updated 0 volunteers" in done.output
    assert _count(session_factory, models.Volunteer) == 2
    assert _actions(session_factory) == [("volunteers.import", "volunteers.csv")]

    listed = run("volunteers", "list", "--provider", "harlow-vc")
    assert "Sam Example" in listed.output and "Ali Example" in listed.output
    assert "sam@example.org" not in listed.output  # the channel, not the address
    epping = run("volunteers", "list", "--provider", "harlow-vc", "--district", "Epping")
    assert "Ali Example" in epping.output and "Sam Example" not in epping.output
    nobody = run("volunteers", "list", "--provider", "nobody")
    assert nobody.exit_code == 1 and "No provider called 'nobody'" in nobody.output


def test_placements_add_checks_like_an_import_and_says_when_follow_ups_are_due(
    run: Run, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    _setup(session_factory)
    volunteers = tmp_path / "volunteers.csv"
    volunteers.write_text(VOLUNTEERS)
    run("volunteers", "import", str(volunteers), "--provider", "harlow-vc")
    base = [
        "placements",
        "add",
        "--provider",
        "harlow-vc",
        "--volunteer",
        "VOL1",
        "--role",
        "Driver",
    ]
    unknown = run(*base, "--host", "NOPE", "--starts", DAY)
    assert unknown.exit_code == 1
    assert "--host: no organisation on your list has the reference 'NOPE'" in unknown.output
    bad_date = run(*base, "--host", "HAR1", "--starts", "31/02/2026")
    assert "--starts: '31/02/2026' is not a date" in bad_date.output
    assert _count(session_factory, models.Placement) == 0

    added = run(*base, "--host", "HAR1", "--starts", DAY, "--ref", "PLA1")
    assert added.exit_code == 0, added.output
    due = (uk_today() - timedelta(days=10) + timedelta(days=28)).isoformat()
    assert f"Follow-ups are due on {due}" in added.output
    listed = run("placements", "list", "--provider", "harlow-vc")
    assert "PLA1" in listed.output and "HAR1" in listed.output and "not yet due" in listed.output
    assert (
        run("placements", "list", "--provider", "harlow-vc", "--status", "ended").output.count(
            "PLA1"
        )
        == 0
    )
    assert ("placement.add", "placement PLA1 (#1)") in _actions(session_factory)


def test_placements_and_enquiries_import(
    run: Run, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    _setup(session_factory)
    volunteers = tmp_path / "volunteers.csv"
    volunteers.write_text(VOLUNTEERS)
    run("volunteers", "import", str(volunteers), "--provider", "harlow-vc")

    placements = tmp_path / "placements.csv"
    header = "external_ref,volunteer_ref,host_ref,role,start_date,status,end_date\n"
    placements.write_text(
        header + f"PLA1,VOL1,HAR1,Befriender,{DAY},,\nPLA2,VOL2,GONE,Driver,{DAY},,\n"
    )
    refused = run("placements", "import", str(placements), "--provider", "harlow-vc")
    assert refused.exit_code == 1 and "line 3, column host_ref" in refused.output
    assert _count(session_factory, models.Placement) == 0
    placements.write_text(header + f"PLA1,VOL1,HAR1,Befriender,{DAY},,\n")
    assert run("placements", "import", str(placements), "--provider", "harlow-vc").exit_code == 0
    assert _count(session_factory, models.Placement) == 1

    enquiries = tmp_path / "enquiries.csv"
    enquiries.write_text(
        "external_ref,date,source,outcome,volunteer_ref\n"
        f"E1,{DAY},phone,placed,VOL1\nE2,{DAY},web,,\nE3,{DAY},event,not placed,\n"
    )
    done = run("enquiries", "import", str(enquiries), "--provider", "harlow-vc")
    assert done.exit_code == 0 and "Added 3 and updated 0 enquiries" in done.output
    listed = run("enquiries", "list", "--provider", "harlow-vc")
    assert "3 enquiries: 1 pending, 1 placed, 1 not placed" in listed.output
    placed = run("enquiries", "list", "--provider", "harlow-vc", "--outcome", "placed")
    assert "1 enquiry." in placed.output and "E2" not in placed.output


def test_a_file_that_is_not_utf8_is_refused(run: Run, tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("external_ref,name\nX,Zo\xeb\n".encode("latin-1"))
    result = run("volunteers", "import", str(latin), "--provider", "any")
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output
