"""The console's rounds: creating one (with every bad input named), its status page and JSON,
opening, reminding and closing after a confirmation, the links CSV and the QR page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, localtime, models, rounds
from collector.localtime import long_date, short_date
from collector.models import utcnow
from tests.factories import cvs_support, make_organisation, make_round
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona, audit_actions

BASE = "/console/alpha-cvs/rounds"
LONDON = ZoneInfo("Europe/London")
TODAY = utcnow().astimezone(LONDON).date()


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


def dated(prefix: str, day: date) -> dict[str, str]:
    """Give a GOV.UK date input's three fields."""
    return {
        f"{prefix}-day": str(day.day),
        f"{prefix}-month": str(day.month),
        f"{prefix}-year": str(day.year),
    }


GOOD: dict[str, Any] = {
    "survey": "cvs-support",
    "period_label": "2026/27 H2",
    **dated("opens", TODAY),
    **dated("closes", TODAY + timedelta(days=30)),
    "org_type": ["faith_group"],
    "member": "any",
    "channels": ["email"],
    "reminders": "7, 14",
    "open_link": "yes",
}


def rounds_of(sessions: sessionmaker[Session], provider_id: int) -> list[models.Round]:
    """List a provider's rounds, oldest first."""
    with sessions() as session:
        found = session.scalars(
            select(models.Round)
            .where(models.Round.provider_id == provider_id)
            .order_by(models.Round.id)
        ).all()
        for row in found:
            _ = row.reminders
            session.expunge(row)
        return list(found)


# Creating a round -----------------------------------------------------------------------


def test_creating_a_round_checks_whom_it_reaches_then_saves_a_draft(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    before = len(rounds_of(session_factory, world.a.id))
    staff.get(f"{BASE}/new")
    assert "Support from your CVS" in staff.text  # the library's survey

    staff.post(f"{BASE}/new", {**GOOD, "step": "check"})

    assert "Check the round before creating it" in staff.text
    assert "1 organisation matches; 1 of them can be invited by email." in staff.text
    assert "Type of group: Faith group" in staff.text
    assert len(rounds_of(session_factory, world.a.id)) == before  # nothing saved yet

    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', staff.text))
    assert hidden["period_label"] == "2026/27 H2" and hidden["reminders"] == "7, 14"
    staff.post(f"{BASE}/new", {**GOOD, "step": "create"})

    created = rounds_of(session_factory, world.a.id)[-1]
    assert staff.path == f"{BASE}/{created.id}"
    assert "The round was created as a draft." in staff.text
    assert (created.status, created.period_label, created.open_link) == (
        "draft",
        "2026/27 H2",
        True,
    )
    # Whole UK days, as `tempcheck rounds create` takes them.
    assert created.opens_at == datetime.combine(TODAY, time(0, 0), LONDON).astimezone(UTC)
    closes = TODAY + timedelta(days=30)
    assert created.closes_at == datetime.combine(closes, time(23, 59), LONDON).astimezone(UTC)
    assert created.audience == {"org_type": ["faith_group"]}
    assert created.channels == ["email"]
    assert [r.due_at - created.opens_at for r in created.reminders] == [
        timedelta(days=7),
        timedelta(days=14),
    ]
    assert audit_actions(session_factory)[-1] == "round.create"


def test_a_round_of_a_survey_already_open_for_the_same_groups_is_created_only_deliberately(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        running = make_round(session, provider, cvs_support(), period_label="Spring", audience={})
        running_id = running.id
    before = len(rounds_of(session_factory, world.a.id))
    staff.get(f"{BASE}/new")

    staff.post(f"{BASE}/new", {**GOOD, "step": "check"})

    # The check page names the running round and how many of these groups it already invited.
    assert "This survey is already running for some of these groups" in staff.text
    assert f"Round {running_id} (Spring) of Support from your CVS is open until" in staff.text
    assert "already invited 1 of these groups: it would get a second invitation" in staff.text
    assert f'href="{BASE}/{running_id}"' in staff.text
    # Creating it without ticking the box is refused, and saves nothing.
    refused = staff.post(f"{BASE}/new", {**GOOD, "step": "create"})
    assert refused.status_code == 400
    assert "Tick the box to create the round although it overlaps" in staff.text
    assert 'href="#overlap"' in staff.text
    assert len(rounds_of(session_factory, world.a.id)) == before

    staff.post(f"{BASE}/new", {**GOOD, "step": "create", "overlap": "yes"})

    assert "The round was created as a draft." in staff.text
    assert len(rounds_of(session_factory, world.a.id)) == before + 1


def test_change_on_the_check_page_goes_back_to_the_form_with_everything_kept(
    staff: Browser,
) -> None:
    staff.get(f"{BASE}/new")
    staff.post(f"{BASE}/new", {**GOOD, "step": "change"})
    assert "Create a round" in staff.text and "There is a problem" not in staff.text
    assert 'value="2026/27 H2"' in staff.text and 'value="7, 14"' in staff.text
    assert re.search(r'value="faith_group"\s+checked', staff.text)


def _later(days: int) -> date:
    return TODAY + timedelta(days=days)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"survey": ""}, "survey", "Choose a survey"),
        ({"survey": "no-such-survey"}, "survey", "Choose a survey from the list"),
        ({"period_label": "   "}, "period_label", "Enter a period label, like 2026/27 H1"),
        ({"period_label": "x" * 41}, "period_label", "must be 40 characters or fewer"),
        (
            {"opens-day": "", "opens-month": "", "opens-year": ""},
            "opens-day",
            "Enter the open date",
        ),
        ({"opens-month": ""}, "opens-day", "The open date must include a month"),
        ({"opens-day": "31", "opens-month": "2"}, "opens-day", "The open date must be a real date"),
        ({"closes-day": "first"}, "closes-day", "The close date must be a real date"),
        ({"opens-year": "26"}, "opens-day", "The year must include 4 numbers"),
        (
            {**dated("opens", _later(-1))},
            "opens-day",
            "The open date must be today or in the future",
        ),
        ({**dated("closes", TODAY)}, "closes-day", "The close date must be after the open date"),
        (
            {**dated("closes", _later(-5))},
            "closes-day",
            "The close date must be after the open date",
        ),
        ({"reminders": "seven"}, "reminders", "whole numbers separated by commas, like 7, 14"),
        ({"reminders": "7, -3"}, "reminders", "whole numbers separated by commas"),
        ({"reminders": "0"}, "reminders", "at least 1 day after the round opens"),
        ({"reminders": "1,2,3,4,5,6"}, "reminders", "Give at most 5 reminder days"),
        ({"reminders": "7, 31"}, "reminders", "A reminder 31 days after opening would be after"),
        ({"channels": [], "open_link": "no"}, "channels", "Choose email or Telegram, or give"),
        ({"channels": [], "reminders": "7"}, "reminders", "Reminders go by email or Telegram"),
    ],
)
@pytest.mark.parametrize("step", ["check", "create"])
def test_a_bad_round_is_named_field_by_field_and_nothing_is_saved(
    staff: Browser,
    world: World,
    session_factory: sessionmaker[Session],
    changes: dict[str, Any],
    field: str,
    message: str,
    step: str,
) -> None:
    before, actions = len(rounds_of(session_factory, world.a.id)), audit_actions(session_factory)
    staff.get(f"{BASE}/new")

    staff.post(f"{BASE}/new", {**GOOD, **changes, "step": step})

    assert staff.page is not None and staff.page.status_code == 200
    assert "There is a problem" in staff.text
    assert staff.text.count(message) == 2, staff.text  # in the summary and by the field
    assert f'href="#{field}"' in staff.text
    assert "<title>Error: Create a round" in staff.text
    assert len(rounds_of(session_factory, world.a.id)) == before
    assert audit_actions(session_factory) == actions


def test_the_audience_count_follows_the_filter(staff: Browser, world: World) -> None:
    def reach(query: str) -> dict[str, Any]:
        page = staff.client.get(f"{BASE}/audience.json?{query}")
        assert page.headers["Cache-Control"] == "no-store"
        found: dict[str, Any] = page.get_json()
        return found

    assert reach("")["matching"] == 2
    assert reach("org_type=faith_group") == {
        "matching": 1,
        "emailable": 1,
        "telegram": 0,
        "text": "1 organisation match, 1 of them can be invited by email.",
    }
    assert reach("org_type=faith_group&org_type=community_group")["matching"] == 2
    assert reach("income_band=over_500k")["matching"] == 0
    assert reach("member=no")["matching"] == 0
    assert reach("org_type=nonsense")["matching"] == 2  # unknown values are ignored


# The status page --------------------------------------------------------------------------


def _complete(sessions: sessionmaker[Session], round_id: int) -> None:
    """Answer one of the round's invitations to the end, as the web form would."""
    with db.transaction(sessions) as session:
        invitation = session.scalars(
            select(models.Invitation).where(models.Invitation.round_id == round_id)
        ).first()
        assert invitation is not None
        response = flow.start(session, invitation, channel="web")
        answers = {"used": "no", "volunteers": "3"}
        for _ in range(20):
            view = flow.view(session, response)
            if not isinstance(view, flow.QuestionView):
                break
            flow.answer(session, response, view.question_id, answers.get(view.question_id))
        flow.complete(session, response)


def test_the_status_page_and_its_json_count_a_new_response(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"{BASE}/{world.a.open_round}"
    staff.get(url)
    assert '<span data-stat="invited">2</span>' in staff.text
    assert '<span data-stat="completed">0</span>' in staff.text
    assert "Not answered yet (2)" in staff.text
    assert ">Refresh<" in staff.text  # works without JavaScript
    assert 'aria-live="polite"' in staff.text
    before = staff.client.get(f"{url}/status.json").get_json()
    assert (before["invited"], before["completed"], before["rate"]) == (2, 0, "0%")
    assert before["messages.failed"] == 1

    _complete(session_factory, world.a.open_round)

    after = staff.client.get(f"{url}/status.json")
    assert after.headers["Cache-Control"] == "no-store"
    numbers = after.get_json()
    assert (numbers["completed"], numbers["started"], numbers["rate"]) == (1, 1, "50%")
    assert numbers["not_answered"] == 1
    staff.get(url)
    assert '<span data-stat="completed">1</span>' in staff.text
    assert "Not answered yet (1)" in staff.text
    assert "Web form" in staff.text  # by channel


# Open, remind, close ----------------------------------------------------------------------


def test_opening_a_draft_invites_the_audience_after_a_confirmation(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"{BASE}/{world.a.draft_round}"
    staff.get(url)
    staff.get(f"{url}/open")
    assert "Open the round?" in staff.text
    assert "<strong>2</strong> organisations" in staff.text

    staff.post(f"{url}/open")

    assert staff.path == url
    assert "The round is open: 2 organisations were invited." in staff.text
    with session_factory() as session:
        invited = session.scalar(
            select(func.count(models.Invitation.id)).where(
                models.Invitation.round_id == world.a.draft_round
            )
        )
        queued = session.scalar(
            select(func.count(models.OutboxMessage.id)).where(
                models.OutboxMessage.round_id == world.a.draft_round,
                models.OutboxMessage.template == "invite",
            )
        )
    assert (invited, queued) == (2, 2)
    assert audit_actions(session_factory)[-1] == "round.open"

    # A second press (another tab) is refused, and changes nothing.
    again = staff.client.post(f"{url}/open", data={"csrf_token": staff.csrf()})
    assert again.status_code == 409
    assert "is open, not a draft" in again.get_data(as_text=True)
    assert audit_actions(session_factory).count("round.open") == 1
    # The confirmation page of an action that no longer applies leads back to the round.
    assert staff.client.get(f"{url}/open").headers["Location"] == url


def test_reminding_queues_a_reminder_for_each_group_that_has_not_answered(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    _complete(session_factory, world.a.open_round)
    url = f"{BASE}/{world.a.open_round}"
    staff.get(f"{url}/remind")
    assert "<strong>1</strong> invited group has not answered yet" in staff.text
    # Its invitation went out a moment ago: the page says when, and a reminder now is refused.
    with session_factory() as session:
        last = rounds.last_contact(session, session.get(models.Round, world.a.open_round))
    assert last is not None
    assert f"went out on {localtime.date_time(last)}" in staff.text
    assert "That is less than 24 hours ago" in staff.text
    refused = staff.client.post(f"{url}/remind", data={"csrf_token": staff.csrf()})
    assert refused.status_code == 409
    assert "reminders are kept at least 1 day apart" in refused.get_data(as_text=True)
    assert "round.remind" not in audit_actions(session_factory)

    staff.post(f"{url}/remind", {"anyway": "yes"})

    assert "1 reminder was queued." in staff.text
    with session_factory() as session:
        reminders = session.scalars(
            select(models.OutboxMessage.invitation_id).where(
                models.OutboxMessage.round_id == world.a.open_round,
                models.OutboxMessage.template == "reminder",
            )
        ).all()
        answered = session.scalars(
            select(models.Response.invitation_id).where(
                models.Response.round_id == world.a.open_round
            )
        ).all()
    assert len(reminders) == 1 and reminders[0] not in answered
    assert audit_actions(session_factory)[-1] == "round.remind"


def test_closing_cancels_unsent_messages_and_stops_answers(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    url = f"{BASE}/{world.a.open_round}"
    staff.get(f"{url}/close")
    assert "1 message not sent yet will be cancelled." in staff.text

    staff.post(f"{url}/close")

    assert "The round is closed. 1 unsent message was cancelled." in staff.text
    closed = [r for r in rounds_of(session_factory, world.a.id) if r.id == world.a.open_round]
    assert closed[0].status == "closed" and closed[0].closed_at is not None
    with session_factory() as session:
        statuses = set(
            session.scalars(
                select(models.OutboxMessage.status).where(
                    models.OutboxMessage.round_id == world.a.open_round
                )
            )
        )
    assert statuses == {"cancelled", "failed"}
    assert audit_actions(session_factory)[-1] == "round.close"
    assert "Send a reminder now" not in staff.text and "Close the round" not in staff.text


def test_closing_early_says_who_has_not_answered_that_funders_are_emailed_and_no_undo(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    staff.get(f"{BASE}/{world.a.open_round}/close")
    text = " ".join(staff.text.split())
    assert "closing it now ends it early" in text
    # Provider A's two groups were invited and neither has answered.
    assert "<strong>2</strong> of those invited have not answered yet, and will not" in text
    assert "Closing cannot be undone" in text
    assert "Closing publishes" not in text  # no framework reads the test survey

    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        fed = make_round(session, provider, cvs_support(), period_label="2026/27 H2").id
    staff.get(f"{BASE}/{fed}/close")
    text = " ".join(staff.text.split())
    # cvs-support feeds two frameworks; funder A funds provider A.
    assert (
        "Closing publishes the round's 2 KPI reports and emails them to the "
        "<strong>1</strong> funder account of Alpha CVS" in text
    )


# Links ----------------------------------------------------------------------------------


def test_the_links_csv_has_a_working_link_per_group_for_a_mail_merge(
    app: Flask, staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        make_organisation(session, provider, name="=HYPERLINK(evil)", consent_email=False)
        make_organisation(session, provider, name="Gone Away", opted_out_at=utcnow())
    staff.post(f"{BASE}/{world.a.draft_round}/open")

    page = staff.client.get(f"{BASE}/{world.a.draft_round}/links.csv")

    assert page.mimetype == "text/csv"
    assert page.headers["Cache-Control"] == "no-store"
    assert "attachment" in page.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(page.get_data(as_text=True))))
    assert {r["organisation"] for r in rows} == {
        "Alpha CVS Lunch Club",
        "Alpha CVS Youth Club",
        "'=HYPERLINK(evil)",
    }
    assert all(r["link"].startswith("http://testserver/r/") for r in rows)
    assert next(r for r in rows if r["organisation"].startswith("'"))["email"] == ""
    assert {r["answered"] for r in rows} == {"not started"}
    # Each link opens its group's survey.
    assert (
        Browser(app.test_client())
        .get(rows[0]["link"].removeprefix("http://testserver"))
        .status_code
        == 200
    )
    assert audit_actions(session_factory)[-1] == "round.export_links"


def test_the_qr_page_has_a_code_for_the_open_link_and_each_invitation(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        found = session.get(models.Round, world.a.open_round)
        assert found is not None
        found.open_link = True
        slug = found.slug

    staff.get(f"{BASE}/{world.a.open_round}/qr")

    assert staff.text.count('src="data:image/svg+xml') == 3
    assert f"http://testserver/s/{slug}" in staff.text
    assert 'alt="QR code for Alpha CVS Lunch Club\'s invitation"' in staff.text
    assert audit_actions(session_factory)[-1] == "round.print_links"


def test_the_rounds_list_shows_each_round_with_its_response_rate(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    _complete(session_factory, world.a.open_round)
    staff.get(BASE)
    assert "2026/27 H1" in staff.text and "2027/28 H1" in staff.text
    assert '50% <span class="tempcheck-muted">(1 of 2)</span>' in staff.text
    assert ">Draft<" in staff.text.replace("\n", "").replace(" ", "")


def test_a_round_can_invite_in_telegram_too(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        group = session.scalars(
            select(models.Organisation).where(
                models.Organisation.provider_id == world.a.id,
                models.Organisation.org_type == "faith_group",
            )
        ).one()
        group.consent_telegram = True
        session.add(models.TelegramChat(chat_id=424242, organisation_id=group.id))
    staff.get(f"{BASE}/new")
    assert 'value="telegram"' in staff.text and "not available" not in staff.text

    staff.post(f"{BASE}/new", {**GOOD, "channels": ["email", "telegram"], "step": "check"})
    assert "1 of them can be invited by email and 1 in Telegram." in staff.text
    assert "Email and Telegram" in staff.text
    staff.post(f"{BASE}/new", {**GOOD, "channels": ["email", "telegram"], "step": "create"})

    created = rounds_of(session_factory, world.a.id)[-1]
    assert created.channels == ["email", "telegram"]
    assert "Email and Telegram" in staff.text


def test_a_round_closed_early_shows_the_day_it_closed_in_the_rounds_table_and_its_page(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, world.a.open_round)
        assert round_ is not None
        due = round_.closes_at
        rounds.close_round(session, round_)

    staff.get(BASE)

    row = next(r for r in staff.text.split("<tr") if f'/rounds/{world.a.open_round}"' in r)
    assert f"{short_date(utcnow())}<br>" in row
    assert f"closed early; was due {short_date(due)}" in row
    staff.get(f"{BASE}/{world.a.open_round}")
    assert f"Closed early on {short_date(utcnow())}, " in staff.text
    assert f"(it was due to close on {long_date(due)})" in staff.text


# Responses ------------------------------------------------------------------------------


def test_staff_download_a_rounds_responses_and_a_funder_cannot(
    app: Flask, staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    _complete(session_factory, world.a.open_round)
    page = staff.get(f"{BASE}/{world.a.open_round}")
    assert "Download responses" in page.get_data(as_text=True)

    for format_, mimetype in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("parquet", "application/vnd.apache.parquet"),
    ):
        got = staff.client.get(
            f"{BASE}/{world.a.open_round}/responses?format={format_}&values=codes"
        )
        assert got.status_code == 200 and got.mimetype == mimetype
        assert got.headers["Cache-Control"] == "no-store"
        assert f"-responses.{format_}" in got.headers["Content-Disposition"]
        assert len(got.get_data()) > 100
    rows = list(
        csv.DictReader(
            io.StringIO(
                staff.client.get(f"{BASE}/{world.a.open_round}/responses?format=csv&values=codes")
                .get_data()
                .decode("utf-8-sig")
            )
        )
    )
    assert [(r["status"], r["used"], r["volunteers"]) for r in rows] == [("completed", "no", "3")]
    assert audit_actions(session_factory)[-4:] == ["responses.export"] * 4

    # An unknown format goes back to the round's page with a message, nothing downloaded.
    bad = staff.client.get(f"{BASE}/{world.a.open_round}/responses?format=ods")
    assert bad.status_code == 302 and bad.headers["Location"].endswith("#responses")
    assert "Responses download as CSV, Excel workbook or Parquet" in staff.get(
        bad.headers["Location"]
    ).get_data(as_text=True)
    # Funders never download raw responses, not even their own provider's.
    funder = as_persona(Browser(app.test_client()), world, "funder_a")
    refused = funder.client.get(f"{BASE}/{world.a.open_round}/responses?format=csv")
    assert refused.status_code == 403
    other = as_persona(Browser(app.test_client()), world, "staff_b")
    assert other.client.get(f"{BASE}/{world.a.open_round}/responses").status_code == 404
    assert audit_actions(session_factory)[-1] == "responses.export"


# Surveys: XLSForm in and out ---------------------------------------------------------------


def test_staff_import_an_xlsform_and_download_surveys_as_xlsforms(
    staff: Browser, session_factory: sessionmaker[Session]
) -> None:
    from collector.survey.xlsform import read_xlsform
    from tests.collector.test_xlsform import KOBO_CHOICES, KOBO_SETTINGS, KOBO_SURVEY, workbook

    page = staff.get("/console/alpha-cvs/surveys")
    assert page.status_code == 200 and "Support from your CVS" in staff.text
    assert "en, cy (draft), ur (draft)" in staff.text  # machine-drafted languages marked
    download = staff.client.get("/console/alpha-cvs/surveys/cvs-support.xlsx")
    assert (
        download.status_code == 200
        and "cvs-support-v2.xlsx" in download.headers["Content-Disposition"]
    )
    assert read_xlsform(download.get_data(), "cvs.xlsx").survey.id == "cvs-support"

    form = workbook(KOBO_SURVEY, KOBO_CHOICES, KOBO_SETTINGS)
    imported = staff.client.post(
        "/console/alpha-cvs/surveys",
        data={"csrf_token": staff.csrf(), "file": (io.BytesIO(form), "kobo.xlsx"), "version": ""},
        content_type="multipart/form-data",
    )
    text = imported.get_data(as_text=True)
    assert imported.status_code == 200 and "Not imported (19)" in text
    assert "survey rows 9-11: a repeat not imported" in text
    assert "Imported ‘Kobo form’ (kobo-form, version 1, 6 questions)" in text
    assert audit_actions(session_factory)[-1] == "survey.import"
    staff.get("/console/alpha-cvs/rounds/new")
    assert "Kobo form" in staff.text  # a round can use it
    stored = staff.client.get("/console/alpha-cvs/surveys/kobo-form:1.xlsx")
    assert read_xlsform(stored.get_data(), "k.xlsx").survey.id == "kobo-form"

    # Bad input: no file, a bad version, not a workbook: a message, nothing stored.
    staff.get("/console/alpha-cvs/surveys")
    for data, message in (
        ({"version": ""}, "Choose an XLSForm (.xlsx or .xls) to upload"),
        ({"version": "two", "file": (io.BytesIO(form), "k.xlsx")}, "Enter the version as a"),
        ({"file": (io.BytesIO(b"hello"), "notes.txt")}, "The form has 1 problem"),
    ):
        refused = staff.client.post(
            "/console/alpha-cvs/surveys",
            data={"csrf_token": staff.csrf(), **data},
            content_type="multipart/form-data",
        )
        assert refused.status_code == 200 and message in refused.get_data(as_text=True)
    assert audit_actions(session_factory).count("survey.import") == 1
    missing = staff.client.get("/console/alpha-cvs/surveys/nope.xlsx")
    assert missing.status_code == 302
