"""The console's self-evaluation pages (issue 16): the report, agreed ratings, the action
plan with its bad inputs, and the funder's published report."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.models import utcnow
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona

BASE = "/console/alpha-cvs/self-evaluations"


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


def _actions(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(
                models.EvaluationAction.text,
                models.EvaluationAction.owner,
                models.EvaluationAction.status,
            ).order_by(models.EvaluationAction.id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_report_page_lists_the_evaluation_and_shows_the_empty_sides(
    staff: Browser, world: World
) -> None:
    staff.get(BASE)
    assert "2025/26 self-evaluation" in staff.text
    staff.get(f"{BASE}/{world.a.evaluation}")
    assert "Nobody on the local authority side has answered" in staff.text
    assert "Nobody on the voluntary and community sector side has answered" in staff.text
    assert "Agree a communication strategy" in staff.text  # the plan, in the report
    workbook = staff.client.get(f"{BASE}/{world.a.evaluation}/report.xlsx")
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.data))
    assert book["Action plan"]["B4"].value == "Agree a communication strategy"


def test_an_action_is_added_from_the_plan_page_and_an_overdue_one_is_flagged(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    page = f"{BASE}/{world.a.evaluation}/actions"
    staff.get(page)
    # The world's action is due 90 days after its round opened 60 days ago: not overdue yet.
    assert "Overdue" not in staff.text
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    staff.post(
        page,
        {
            "question": "del_workforce",
            "text": "Open the <b>joint training</b> calendar to VCS staff",
            "owner": "Workforce lead",
            "due_on": yesterday,
            "status": "in_progress",
            "review_on": "",
        },
    )
    assert staff.path == page
    assert "Action added to the plan." in staff.text
    assert "Open the &lt;b&gt;joint training&lt;/b&gt; calendar" in staff.text
    assert "Overdue" in staff.text
    assert _actions(session_factory)[-1] == (
        "Open the <b>joint training</b> calendar to VCS staff",
        "Workforce lead",
        "in_progress",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"owner": ""}, "Give the action an owner: who will see it done"),
        ({"due_on": "2001-02-03"}, "The due date must be on or after the round opened"),
        ({"status": "finished"}, "Unknown status &#39;finished&#39;"),
    ],
)
def test_a_bad_action_is_refused_on_the_page_and_nothing_is_saved(
    staff: Browser,
    world: World,
    session_factory: sessionmaker[Session],
    changes: dict[str, str],
    message: str,
) -> None:
    before = _actions(session_factory)
    fields = {
        "question": "del_workforce",
        "text": "An action",
        "owner": "Someone",
        "due_on": (utcnow() + timedelta(days=9)).date().isoformat(),
        "status": "planned",
    } | changes
    page = staff.post(f"{BASE}/{world.a.evaluation}/actions", fields)
    assert page.status_code == 422
    assert "There is a problem" in staff.text and message in staff.text
    assert 'value="An action"' in staff.text or "An action</textarea>" in staff.text
    assert _actions(session_factory) == before


def test_changing_an_action_keeps_it_when_the_change_is_bad(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    page = f"{BASE}/{world.a.evaluation}/actions/{world.a.action}"
    staff.get(page)
    assert "Agree a communication strategy" in staff.text
    due = (utcnow() + timedelta(days=5)).date().isoformat()
    fields = {
        "question": "str_communication",
        "text": "Agree a communication strategy",
        "owner": "",
        "due_on": due,
        "status": "done",
    }
    assert staff.post(page, fields).status_code == 422
    assert _actions(session_factory)[0][1:] == ("Head of Partnerships", "planned")
    staff.post(page, fields | {"owner": "Director of Children's Services"})
    assert "Action saved." in staff.text
    assert _actions(session_factory)[0][1:] == ("Director of Children's Services", "done")


def test_a_facilitated_entry_is_saved_and_a_level_outside_the_three_is_refused(
    staff: Browser, world: World, session_factory: sessionmaker[Session]
) -> None:
    page = f"{BASE}/{world.a.evaluation}/agreed"
    bad = staff.post(
        page, {"side": "la", "question": "gov_board", "level": "excellent", "evidence": "Minutes"}
    )
    assert bad.status_code == 422
    assert "Choose one of the three levels" in staff.text
    staff.post(
        page,
        {
            "side": "la",
            "question": "gov_board",
            "level": "minimum",
            "evidence": "Board minutes, May",
            "prioritise": "yes",
        },
    )
    assert (
        "Saved the local authority&#39;s agreed rating of 1. A place on the partnership board"
        in staff.text
    )
    with session_factory() as session:
        (agreed,) = session.scalars(select(models.AgreedRating)).all()
        assert (agreed.side, agreed.level, agreed.prioritise) == ("la", "minimum", True)
    staff.get(f"{BASE}/{world.a.evaluation}")
    assert "Meets minimum standards (agreed)" in staff.text


def test_the_funder_reads_the_published_report_but_not_an_unpublished_one(
    app: Flask, world: World, session_factory: sessionmaker[Session]
) -> None:
    funder = as_persona(Browser(app.test_client()), world, "funder_a")
    funder.get("/funder/alpha-cvs")
    assert "Two-way self-evaluations" in funder.text
    funder.get(f"/funder/alpha-cvs/self-evaluations/{world.a.evaluation}")
    assert "how the local authority and the sector rate their partnership" in funder.text
    assert "What each member wrote is kept for the provider" in funder.text
    with session_factory() as session:
        evaluation = session.get_one(models.SelfEvaluation, world.a.evaluation)
        evaluation.published_at = None
        session.commit()
    assert (
        funder.client.get(f"/funder/alpha-cvs/self-evaluations/{world.a.evaluation}").status_code
        == 404
    )
