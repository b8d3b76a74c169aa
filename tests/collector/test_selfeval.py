"""The two-way self-evaluation: two-sided rounds, handing over, agreed ratings, action plans."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import flow, models, rounds, selfeval
from collector.models import utcnow
from collector.selfeval import ActionInput, SelfEvaluationError
from tests.factories import answer_self_evaluation, make_contact, make_provider


def _people(session: Session, provider: models.Provider, la: int = 2, vcs: int = 2) -> None:
    for n in range(la):
        make_contact(session, provider, audience="commissioner" if n % 2 else "partner")
    for _ in range(vcs):
        make_contact(session, provider, audience="representative")


def _open(session: Session, provider: models.Provider, **kwargs: object) -> models.Round:
    now = utcnow()
    round_ = selfeval.create(
        session,
        provider=provider,
        period_label="2026/27",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=20),
        **kwargs,  # type: ignore[arg-type]
    )
    rounds.open_round(session, round_, now=now - timedelta(days=1))
    return round_


def test_a_separate_round_invites_both_sides_and_each_response_knows_its_side(
    session: Session,
) -> None:
    provider = make_provider(session)
    _people(session, provider, la=3, vcs=2)
    make_contact(session, provider, audience="representative", opted_out_at=utcnow())
    round_ = _open(session, provider)
    audiences = sorted(i.contact.audience for i in round_.invitations if i.contact)
    assert audiences == ["commissioner", "partner", "partner", "representative", "representative"]
    representative = next(i for i in round_.invitations if i.contact.audience == "representative")
    response = answer_self_evaluation(session, representative, {"gov_board": "improve"})
    assert selfeval.side_of(response.audience) == "vcs"
    assert (
        session.scalar(
            select(models.Answer.value).where(
                models.Answer.response_id == response.id, models.Answer.question_id == "gov_board"
            )
        )
        == "improve"
    )
    messages = session.scalars(
        select(models.OutboxMessage).where(models.OutboxMessage.round_id == round_.id)
    ).all()
    assert len(messages) == 5 and {m.template for m in messages} == {"invite"}


def test_a_reviewed_round_asks_the_first_side_then_shows_its_ratings_to_the_other(
    session: Session,
) -> None:
    provider = make_provider(session)
    _people(session, provider, la=2, vcs=1)
    round_ = _open(session, provider, mode="reviewed", first_side="la")
    assert {i.contact.audience for i in round_.invitations} == {"partner", "commissioner"}
    for invitation in list(round_.invitations):
        answer_self_evaluation(session, invitation, {"gov_board": "good"})
    assert selfeval.hand_over(session, round_) == 1
    with pytest.raises(SelfEvaluationError, match="handed over already"):
        selfeval.hand_over(session, round_)
    reviewer = next(i for i in round_.invitations if i.contact.audience == "representative")
    response = flow.start(session, reviewer, channel="web")
    flow.answer(session, response, "heading_governance", None)
    view = flow.view(session, response)
    assert isinstance(view, flow.QuestionView) and view.question_id == "gov_board"
    assert view.beside == ("Local authority's ratings: 2 good to best practice.",)
    # An agreed rating, once entered, is what the reviewers see instead.
    selfeval.record_agreed(
        session,
        round_,
        side="la",
        question_id="gov_board",
        level="minimum",
        evidence="Board minutes, May",
        by="staff@example.org",
    )
    view = flow.view(session, response)
    assert isinstance(view, flow.QuestionView)
    assert view.beside == (
        "Local authority's agreed rating: Meets minimum standards.",
        "Their evidence: Board minutes, May",
    )
    # The first side never sees its own ratings beside a question.
    la_response = session.scalar(
        select(models.Response).where(models.Response.audience == "partner")
    )
    assert la_response is not None
    assert selfeval.beside(session, la_response, "gov_board") == ()


def test_a_reviewed_round_needs_a_first_side(session: Session) -> None:
    provider = make_provider(session)
    with pytest.raises(SelfEvaluationError) as error:
        selfeval.create(
            session,
            provider=provider,
            period_label="x",
            opens_at=utcnow(),
            closes_at=utcnow() + timedelta(days=3),
            mode="reviewed",
        )
    assert "first_side" in error.value.errors


def test_a_facilitated_entry_is_stored_apart_from_answers_and_replaced_when_entered_again(
    session: Session,
) -> None:
    provider = make_provider(session)
    _people(session, provider)
    round_ = _open(session, provider)
    selfeval.record_agreed(
        session,
        round_,
        side="vcs",
        question_id="str_communication",
        level="improve",
        evidence="Network survey",
        prioritise=True,
        by="facilitator@example.org",
    )
    selfeval.record_agreed(
        session,
        round_,
        side="vcs",
        question_id="str_communication",
        level="minimum",
        evidence="Network survey, revised",
        by="facilitator@example.org",
    )
    (agreed,) = selfeval.agreed_ratings(session, round_.id)
    assert (agreed.level, agreed.evidence, agreed.prioritise) == (
        "minimum",
        "Network survey, revised",
        False,
    )
    assert session.scalar(select(models.Response.id)) is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"level": "excellent"}, "level", "Choose one of the three levels"),
        ({"level": ""}, "level", "Choose one of the three levels"),
        ({"side": "council"}, "side", "Choose a side"),
        ({"question_id": "gov_nothing"}, "question", "Unknown question"),
    ],
)
def test_a_facilitated_entry_outside_the_levels_is_refused_and_saves_nothing(
    session: Session, fields: dict[str, str], field: str, message: str
) -> None:
    provider = make_provider(session)
    _people(session, provider)
    round_ = _open(session, provider)
    given = {"side": "la", "question_id": "gov_board", "level": "good"} | fields
    with pytest.raises(SelfEvaluationError) as error:
        selfeval.record_agreed(session, round_, by="staff@example.org", **given)
    assert message in error.value.errors[field]
    assert selfeval.agreed_ratings(session, round_.id) == []


def test_a_rating_outside_the_three_levels_is_refused_in_the_survey(session: Session) -> None:
    provider = make_provider(session)
    _people(session, provider, la=1, vcs=0)
    round_ = _open(session, provider)
    response = flow.start(session, round_.invitations[0], channel="web")
    flow.answer(session, response, "heading_governance", None)
    view = flow.answer(session, response, "gov_board", "excellent")
    assert isinstance(view, flow.QuestionView) and view.question_id == "gov_board"
    assert view.error == "Select one of the options shown"
    assert flow.answers(session, response) == {}


def _action(**overrides: object) -> ActionInput:
    values: dict[str, object] = {
        "question_id": "str_communication",
        "text": "Agree a communication strategy with the network",
        "owner": "Head of Partnerships",
        "due_on": (utcnow() + timedelta(days=90)).date().isoformat(),
    }
    values.update(overrides)
    return ActionInput(**values)  # type: ignore[arg-type]


def test_an_action_is_added_and_changed(session: Session) -> None:
    provider = make_provider(session)
    _people(session, provider)
    round_ = _open(session, provider)
    action = selfeval.add_action(session, round_, _action(), by="staff@example.org")
    assert (action.owner, action.status, action.provider_id) == (
        "Head of Partnerships",
        "planned",
        provider.id,
    )
    selfeval.update_action(
        session, action, _action(status="in_progress", review_on="2030-01-31"), by="s@example.org"
    )
    assert (action.status, action.review_on) == ("in_progress", date(2030, 1, 31))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"owner": "  "}, "owner", "Give the action an owner"),
        ({"due_on": "2001-01-01"}, "due_on", "on or after the round opened"),
        ({"due_on": "31/02/2027"}, "due_on", "must be a real date"),
        ({"due_on": ""}, "due_on", "Give the date the action is due"),
        ({"status": "finished"}, "status", "Unknown status 'finished'"),
        ({"text": ""}, "text", "Say what the action is"),
        ({"question_id": "nope"}, "question", "Choose the question"),
        ({"review_on": "2001-01-01"}, "review_on", "on or after the round opened"),
    ],
)
def test_a_bad_action_is_refused_with_a_clear_message_and_nothing_saved(
    session: Session, overrides: dict[str, str], field: str, message: str
) -> None:
    provider = make_provider(session)
    _people(session, provider)
    round_ = _open(session, provider)
    with pytest.raises(SelfEvaluationError) as error:
        selfeval.add_action(session, round_, _action(**overrides), by="staff@example.org")
    assert message in error.value.errors[field]
    assert selfeval.actions_of(session, round_.id) == []


def test_a_bad_change_leaves_the_action_as_it_was(session: Session) -> None:
    provider = make_provider(session)
    _people(session, provider)
    round_ = _open(session, provider)
    action = selfeval.add_action(session, round_, _action(), by="staff@example.org")
    with pytest.raises(SelfEvaluationError):
        selfeval.update_action(session, action, _action(owner=""), by="staff@example.org")
    assert action.owner == "Head of Partnerships"


def test_an_action_past_its_due_date_and_not_finished_is_overdue(session: Session) -> None:
    provider = make_provider(session)
    _people(session, provider)
    round_ = _open(session, provider)
    due = (utcnow() + timedelta(days=10)).date()
    action = selfeval.add_action(
        session, round_, _action(due_on=due.isoformat()), by="staff@example.org"
    )
    assert not selfeval.is_overdue(action, due)
    assert selfeval.is_overdue(action, due + timedelta(days=1))
    action.status = "done"
    assert not selfeval.is_overdue(action, due + timedelta(days=1))


def test_the_next_evaluation_follows_the_last_and_only_a_closed_one_publishes(
    session: Session,
) -> None:
    provider = make_provider(session)
    _people(session, provider)
    first = _open(session, provider)
    with pytest.raises(SelfEvaluationError, match="close it before publishing"):
        selfeval.publish(session, first, by="staff@example.org")
    rounds.close_round(session, first, reports=False)
    selfeval.publish(session, first, by="staff@example.org")
    now = utcnow()
    second = selfeval.create(
        session,
        provider=provider,
        period_label="2027/28",
        opens_at=now + timedelta(days=365),
        closes_at=now + timedelta(days=395),
    )
    assert selfeval.require(session, second.id).previous_round_id == first.id
    assert selfeval.evaluations_of(session, provider.id)[0].round_id == second.id
