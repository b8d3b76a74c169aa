"""`tempcheck selfeval`: a two-way self-evaluation from the command line; bad input is refused
with its reasons and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from collector.models import utcnow
from tests.collector.conftest import Run
from tests.factories import answer_self_evaluation, make_contact, make_provider


def _day(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def test_a_reviewed_self_evaluation_from_the_command_line(
    run: Run, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        provider = make_provider(session, slug="val", name="Voluntary Action LeicesterShire")
        make_contact(session, provider, audience="partner")
        make_contact(session, provider, audience="representative")
    created = run(
        "selfeval",
        "create",
        "--provider",
        "val",
        "--period",
        "2026/27",
        "--opens",
        _day(0),
        "--closes",
        _day(20),
        "--mode",
        "reviewed",
        "--first-side",
        "la",
    )
    assert created.exit_code == 0, created.output
    assert "Created self-evaluation round 1 (draft): One side first" in created.output
    assert run("rounds", "open", "1").exit_code == 0
    with session_factory() as session, session.begin():
        [invitation] = session.get_one(models.Round, 1).invitations
        answer_self_evaluation(session, invitation, {"gov_board": "good"})
    handed = run("selfeval", "hand-over", "1")
    assert "Handed over: 1 invitations queued." in handed.output
    bad = run(
        "selfeval",
        "agreed",
        "1",
        "--side",
        "vcs",
        "--question",
        "gov_board",
        "--level",
        "brilliant",
    )
    assert bad.exit_code == 1 and "Choose one of the three levels" in bad.output
    agreed = run(
        "selfeval",
        "agreed",
        "1",
        "--side",
        "vcs",
        "--question",
        "gov_board",
        "--level",
        "improve",
        "--evidence",
        "Network survey",
        "--prioritise",
    )
    assert agreed.exit_code == 0, agreed.output
    no_owner = run(
        "selfeval", "action", "1", "--question", "gov_board", "--text", "Fix it", "--due", _day(30)
    )
    assert no_owner.exit_code == 1
    assert "Give the action an owner: who will see it done" in no_owner.output
    too_early = run(
        "selfeval",
        "action",
        "1",
        "--question",
        "gov_board",
        "--text",
        "Fix it",
        "--owner",
        "Chair",
        "--due",
        "2000-01-01",
        "--status",
        "someday",
    )
    assert "The due date must be on or after the round opened" in too_early.output
    assert "Unknown status 'someday'" in too_early.output
    with session_factory() as session:
        assert session.scalar(select(func.count(models.EvaluationAction.id))) == 0
    added = run(
        "selfeval",
        "action",
        "1",
        "--question",
        "gov_board",
        "--text",
        "Fix it",
        "--owner",
        "Chair",
        "--due",
        _day(30),
    )
    assert added.exit_code == 0, added.output
    listed = run("selfeval", "actions", "1")
    assert "1. A place on the partnership board" in listed.output and "Chair" in listed.output
    refused = run("selfeval", "publish", "1")
    assert refused.exit_code == 1 and "close it before publishing" in refused.output
    assert run("rounds", "close", "1").exit_code == 0
    report = run("selfeval", "report", "1", "--xlsx", str(tmp_path / "gap.xlsx"))
    assert report.exit_code == 0, report.output
    assert "Answered by 1 on the local authority's side and 0 on the sector's." in report.output
    assert "Needs significant improvement (agreed)" in report.output
    assert (tmp_path / "gap.xlsx").read_bytes()[:2] == b"PK"
    assert run("selfeval", "list", "--provider", "val").output.count("One side first") == 1
    assert "not a self-evaluation" in run("selfeval", "report", "99").output
