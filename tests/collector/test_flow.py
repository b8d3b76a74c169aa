"""The answering engine: views, validation, skip logic, back, resume, completion, races."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import flow, models, rounds
from collector.localtime import day_ends, day_starts, long_date
from collector.models import utcnow
from collector.survey.loader import library_survey
from tests.factories import make_invitation, make_organisation, make_provider, make_round


def _answers(session: Session, response: models.Response) -> dict[str, str]:
    rows = session.execute(
        select(models.Answer.question_id, models.Answer.value).where(
            models.Answer.response_id == response.id
        )
    )
    return {qid: value for qid, value in rows}


def _go(session: Session, response: models.Response, *raws: object) -> flow.View:
    """Answer the current question with each raw input in turn; give the last view."""
    view = flow.view(session, response)
    for raw in raws:
        assert isinstance(view, flow.QuestionView), view
        view = flow.answer(session, response, view.question_id, raw)  # type: ignore[arg-type]
    return view


@pytest.fixture
def response(session: Session) -> models.Response:
    invitation = make_invitation(session)
    return flow.start(session, invitation, channel="web")


def test_start_copies_the_organisation_segments_onto_the_response(session: Session) -> None:
    provider = make_provider(session)
    organisation = make_organisation(
        session,
        provider,
        org_type="faith_group",
        income_band="over_500k",
        district="Epping",
        outcomes="winter_preparedness",
        is_member=False,
    )
    invitation = make_invitation(session, provider=provider, organisation=organisation)
    response = flow.start(session, invitation, channel="web")
    organisation.org_type = "registered_charity"  # a later edit does not rewrite history
    session.flush()
    session.refresh(response)
    assert (response.org_type, response.income_band, response.district) == (
        "faith_group",
        "over_500k",
        "Epping",
    )
    assert (response.outcomes, response.is_member) == ("winter_preparedness", False)


def test_the_first_view_is_the_intro_note_then_question_one_of_n(
    session: Session, response: models.Response
) -> None:
    view = flow.view(session, response)
    assert isinstance(view, flow.QuestionView)
    assert (view.question_id, view.type, view.label) == ("intro", "note", "Welcome")
    view = flow.answer(session, response, "intro", None)
    assert isinstance(view, flow.QuestionView)
    assert view.question_id == "used"
    assert [c.label for c in view.choices] == ["Yes", "No"]
    # intro is not counted; ease and kinds are relevant until `used` is answered "no".
    assert view.progress == "Question 1 of 6"


def test_skip_logic_drops_questions_and_recounts_progress(
    session: Session, response: models.Response
) -> None:
    view = _go(session, response, None, "no")
    assert isinstance(view, flow.QuestionView)
    assert view.question_id == "volunteers"
    assert view.progress == "Question 2 of 4"


@pytest.mark.parametrize(
    ("answers_before", "raw", "message"),
    [
        ((None,), "", "Select an answer"),
        ((None,), "maybe", "Select one of the options shown"),
        ((None, "yes"), "sideways", "Select one of the options shown"),
        ((None, "yes", "easy"), [], "Select at least one answer"),
        ((None, "yes", "easy"), ["funding", "none"], "'None of these' goes on its own"),
        ((None, "yes", "easy"), ["funding", "bogus"], "Select one of the options shown"),
        ((None, "no"), "twelve", "Enter a whole number, like 12"),
        ((None, "no"), "1.5", "Enter a whole number, like 12"),
        ((None, "no"), "-1", "0"),
        ((None, "no"), "501", "500"),
        ((None, "no", "3"), "lots", "Enter a number, like 2.5"),
        ((None, "no", "3", ""), "x" * 2001, "characters or fewer"),
    ],
)
def test_bad_answers_are_refused_with_a_message_and_nothing_is_stored(
    session: Session,
    response: models.Response,
    answers_before: tuple[object, ...],
    raw: object,
    message: str,
) -> None:
    view = _go(session, response, *answers_before)
    assert isinstance(view, flow.QuestionView)
    before = _answers(session, response)
    after = flow.answer(session, response, view.question_id, raw)  # type: ignore[arg-type]
    assert isinstance(after, flow.QuestionView)
    assert after.question_id == view.question_id
    assert after.error is not None and message in after.error
    assert _answers(session, response) == before
    # The error goes once a good answer is given.
    fixed = {
        "used": "yes",
        "ease": "easy",
        "kinds": ["funding"],
        "volunteers": "12",
        "share": "2.5",
        "comments": "ok",
    }[view.question_id]
    assert flow.answer(session, response, view.question_id, fixed).kind in ("question", "review")
    assert flow.view(session, response).__dict__.get("error") is None


def test_every_type_is_stored_in_canonical_form(
    session: Session, response: models.Response
) -> None:
    view = _go(
        session,
        response,
        None,
        "yes",
        "easy",
        ["training", "funding"],
        " 120 ",
        "2.50",
        "  thanks  ",
    )
    assert isinstance(view, flow.ReviewView)
    assert _answers(session, response) == {
        "used": "yes",
        "ease": "easy",
        "kinds": "funding training",
        "volunteers": "120",
        "share": "2.5",
        "comments": "thanks",
    }
    assert [(i.question_id, i.answer) for i in view.items][:3] == [
        ("used", "Yes"),
        ("ease", "Easy"),
        ("kinds", "Funding, Training"),
    ]


def test_optional_questions_can_be_skipped(session: Session, response: models.Response) -> None:
    view = _go(session, response, None, "no", "3", "", None)
    assert isinstance(view, flow.ReviewView)
    assert {i.question_id: i.answered for i in view.items} == {
        "used": True,
        "volunteers": True,
        "share": False,
        "comments": False,
    }
    assert [i.answer for i in view.items if not i.answered] == ["Not answered", "Not answered"]


def test_back_goes_to_the_previous_relevant_question_with_its_answer(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "no")
    view = flow.back(session, response)
    assert isinstance(view, flow.QuestionView)
    assert (view.question_id, view.value) == ("used", "no")
    assert [c.selected for c in view.choices] == [False, True]
    view = flow.back(session, response)
    assert isinstance(view, flow.QuestionView) and view.question_id == "intro"
    assert not view.can_go_back
    assert flow.back(session, response).question_id == "intro"  # type: ignore[union-attr]


def test_answers_to_questions_made_irrelevant_do_not_count(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "yes", "hard", ["funding"], "4", "", "")
    flow.change(session, response, "used")
    view = flow.answer(session, response, "used", "no")
    # Changing from "check your answers" returns there: nothing new is required.
    assert isinstance(view, flow.ReviewView)
    assert [i.question_id for i in view.items] == ["used", "volunteers", "share", "comments"]
    done = flow.complete(session, response)
    assert isinstance(done, flow.DoneView)
    assert _answers(session, response) == {"used": "no", "volunteers": "4"}


def test_changing_an_answer_that_makes_new_questions_relevant_asks_them(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "no", "4", "", "")
    flow.change(session, response, "used")
    view = flow.answer(session, response, "used", "yes")
    assert isinstance(view, flow.QuestionView) and view.question_id == "ease"
    view = _go(session, response, "easy", ["funding"])
    assert isinstance(view, flow.ReviewView)


def test_resume_carries_on_where_the_respondent_stopped(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        invitation = make_invitation(session)
        response = flow.start(session, invitation, channel="web")
        _go(session, response, None, "yes", "easy")
        invitation_id = invitation.id
    with session_factory() as session, session.begin():
        invitation = session.get(models.Invitation, invitation_id)
        assert invitation is not None
        again = flow.start(session, invitation, channel="telegram")
        assert again.id == response.id
        assert again.channel == "web"  # the channel it started in
        view = flow.view(session, again)
        assert isinstance(view, flow.QuestionView) and view.question_id == "kinds"


def test_a_completed_response_is_immutable(session: Session, response: models.Response) -> None:
    _go(session, response, None, "no", "3", "", "")
    flow.complete(session, response)
    before = _answers(session, response)
    with pytest.raises(flow.AlreadyCompleted, match="already answered"):
        flow.answer(session, response, "volunteers", "99")
    with pytest.raises(flow.AlreadyCompleted):
        flow.back(session, response)
    with pytest.raises(flow.AlreadyCompleted):
        flow.complete(session, response)
    assert _answers(session, response) == before
    assert isinstance(flow.view(session, response), flow.DoneView)
    invitation = response.invitation
    assert invitation is not None
    assert flow.start(session, invitation, channel="web").status == "completed"


def test_completing_with_a_required_answer_missing_goes_back_to_it(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "no")
    flow.change(session, response, "used")  # jump around without answering volunteers
    response.cursor = None
    view = flow.complete(session, response)
    assert isinstance(view, flow.QuestionView)
    assert view.question_id == "volunteers"
    assert view.error == "Answer this question before you submit your answers"
    assert response.status == "in_progress"


def test_an_answer_to_a_question_not_being_asked_changes_nothing(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "yes")
    with pytest.raises(flow.StaleQuestion):
        flow.answer(session, response, "used", "no")
    assert _answers(session, response) == {"used": "yes"}


def test_language_switch_shows_the_survey_in_welsh(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None)
    view = flow.set_language(session, response, "cy")
    assert isinstance(view, flow.QuestionView)
    assert view.label == "Wnaethoch chi ein defnyddio?"
    assert [c.label for c in view.choices] == ["Ie", "Na"]
    with pytest.raises(flow.CollectorError, match="not available"):
        flow.set_language(session, response, "fr")


def test_a_round_not_yet_open_says_when_it_opens(session: Session) -> None:
    opens = utcnow() + timedelta(days=3)
    invitation = make_invitation(session, opens_at=opens, closes_at=opens + timedelta(days=9))
    with pytest.raises(flow.RoundNotOpen, match=f"opens on {opens:%-d %B %Y}") as error:
        flow.start(session, invitation, channel="web")
    assert error.value.code == "round_not_open_yet"


def test_a_closed_round_takes_no_more_answers(session: Session, response: models.Response) -> None:
    _go(session, response, None)
    response.round.status = "closed"
    response.round.closed_at = utcnow()
    with pytest.raises(flow.RoundNotOpen, match="closed on") as error:
        flow.answer(session, response, "used", "yes")
    assert error.value.code == "round_closed"
    assert _answers(session, response) == {}


def test_an_opted_out_organisation_is_not_asked(session: Session) -> None:
    provider = make_provider(session)
    organisation = make_organisation(session, provider)
    invitation = make_invitation(session, provider=provider, organisation=organisation)
    organisation.opted_out_at = utcnow()
    with pytest.raises(flow.OptedOut):
        flow.start(session, invitation, channel="web")
    assert session.scalar(select(func.count()).select_from(models.Response)) == 0


def test_open_link_starts_anonymous_responses_only_when_enabled(session: Session) -> None:
    provider = make_provider(session)
    closed_link = make_round(session, provider)
    with pytest.raises(flow.CollectorError, match="no open link"):
        flow.start_anonymous(session, closed_link)
    open_link = make_round(session, provider, open_link=True)
    response = flow.start_anonymous(session, open_link)
    assert (response.invitation_id, response.channel, response.org_type) == (
        None,
        "open_link",
        None,
    )


def _race(target: object, count: int = 2) -> list[object]:
    """Run `target` in `count` threads released at the same moment; give what each returned."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target()  # type: ignore[operator]
        except Exception as error:  # noqa: BLE001 - the outcome is what the test asserts
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_concurrent_completions_record_exactly_one_response(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        invitation = make_invitation(session)
        response = flow.start(session, invitation, channel="web")
        _go(session, response, None, "no", "3", "", "")
        response_id, invitation_id = response.id, invitation.id

    def submit() -> str:
        with session_factory() as s, s.begin():
            row = s.get(models.Response, response_id)
            assert row is not None
            return flow.complete(s, row).kind

    results = _race(submit, 4)
    assert sorted(map(repr, results)).count(repr("done")) == 1
    assert all(r == "done" or isinstance(r, flow.AlreadyCompleted) for r in results), results
    with session_factory() as session:
        rows = session.scalars(
            select(models.Response).where(models.Response.invitation_id == invitation_id)
        ).all()
        assert [r.status for r in rows] == ["completed"]


def test_two_concurrent_starts_share_one_response(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        invitation_id = make_invitation(session).id

    def begin() -> int:
        with session_factory() as s, s.begin():
            invitation = s.get(models.Invitation, invitation_id)
            assert invitation is not None
            return flow.start(s, invitation, channel="web").id

    results = _race(begin, 4)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1


def test_go_to_moves_back_to_an_earlier_question_but_never_ahead(session: Session) -> None:
    invitation = make_invitation(session)
    response = flow.start(session, invitation, channel="web")
    _go(session, response, None, "yes", "easy", ["funding"])
    assert response.cursor == "volunteers"

    view = flow.go_to(session, response, "used")

    assert isinstance(view, flow.QuestionView) and view.question_id == "used"
    with pytest.raises(flow.StaleQuestion):
        flow.go_to(session, response, "share")  # later than where the respondent is
    with pytest.raises(flow.StaleQuestion):
        flow.go_to(session, response, "no_such_question")
    assert response.cursor == "used"


def test_go_to_from_check_your_answers_changes_one_answer_and_comes_back(
    session: Session,
) -> None:
    invitation = make_invitation(session)
    response = flow.start(session, invitation, channel="web")
    _go(session, response, None, "no", "12", "", "")
    assert isinstance(flow.view(session, response), flow.ReviewView)

    flow.go_to(session, response, "volunteers")
    view = flow.answer(session, response, "volunteers", "14")

    assert isinstance(view, flow.ReviewView)


def test_the_total_counts_questions_that_hang_on_questions_not_yet_relevant(
    session: Session,
) -> None:
    # capacity_increased hangs on support_kinds, which hangs on used_support: counted from
    # the start, so the total does not grow when the respondent says yes.
    invitation = make_invitation(session, survey=library_survey("cvs-support"))
    response = flow.start(session, invitation, channel="web")
    first = _go(session, response, None)
    assert isinstance(first, flow.QuestionView)
    assert first.total == 11
    after = _go(session, response, "yes", ["training"])
    assert isinstance(after, flow.QuestionView) and after.total == 11


def test_a_refused_answer_s_error_is_only_in_the_view_that_answer_returns(
    session: Session, response: models.Response
) -> None:
    view = _go(session, response, None)
    assert isinstance(view, flow.QuestionView) and view.question_id == "used"

    refused = flow.answer(session, response, "used", "maybe")

    assert isinstance(refused, flow.QuestionView) and refused.error is not None
    # Another device (or the same one, later) asks for the view: no error of someone else's.
    session.expire_all()
    again = flow.view(session, response)
    assert isinstance(again, flow.QuestionView) and again.question_id == "used"
    assert again.error is None


def test_a_missing_answer_at_completion_is_said_once_and_not_stored(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "no")
    flow.change(session, response, "used")
    response.cursor = None

    view = flow.complete(session, response)

    assert isinstance(view, flow.QuestionView) and view.error == flow.ANSWER_BEFORE_SUBMITTING
    session.expire_all()
    again = flow.view(session, response)
    assert isinstance(again, flow.QuestionView) and again.question_id == "volunteers"
    assert again.error is None


def test_an_answer_to_a_question_another_device_answered_is_a_conflict_not_dropped_silently(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "yes")  # the first device answered "used" and moved on

    with pytest.raises(flow.AnsweredElsewhere) as conflict:
        flow.answer(session, response, "used", "no")  # the second, from its older page

    assert conflict.value.answered and conflict.value.question_id == "used"
    assert "answered on another device or in another tab" in conflict.value.message
    assert "not saved" in conflict.value.message
    assert _answers(session, response) == {"used": "yes"}
    assert response.cursor == "ease"  # where the first device left it


@pytest.mark.parametrize("raw", ["yes", "maybe"])
def test_the_same_answer_sent_again_is_stale_but_no_conflict_and_a_bad_one_is(
    session: Session, response: models.Response, raw: str
) -> None:
    _go(session, response, None, "yes")

    with pytest.raises(flow.StaleQuestion) as stale:
        flow.answer(session, response, "used", raw)

    # The same answer twice (a double click) lost nothing; one that could not be taken did.
    assert isinstance(stale.value, flow.AnsweredElsewhere) == (raw == "maybe")
    assert _answers(session, response) == {"used": "yes"}


def test_an_answer_to_a_question_ahead_of_where_another_device_went_back_to_is_a_conflict(
    session: Session, response: models.Response
) -> None:
    _go(session, response, None, "yes", "easy")  # now on "kinds"
    flow.back(session, response)  # another device goes back to "ease"

    with pytest.raises(flow.AnsweredElsewhere) as conflict:
        flow.answer(session, response, "kinds", ["funding"])

    assert not conflict.value.answered
    assert "changed on another device or in another tab" in conflict.value.message
    assert _answers(session, response) == {"used": "yes", "ease": "easy"}


def test_a_round_opening_in_summer_time_says_the_uk_day_it_opens(session: Session) -> None:
    # The start of 1 April in London (BST) is 23:00 UTC on 31 March.
    opens_on = date(utcnow().year + 1, 4, 1)
    invitation = make_invitation(
        session, opens_at=day_starts(opens_on), closes_at=day_ends(opens_on + timedelta(days=29))
    )

    with pytest.raises(flow.RoundNotOpen) as error:
        flow.start(session, invitation, channel="web")

    assert error.value.message == f"This survey opens on 1 April {opens_on.year}."


def test_a_round_closed_early_says_the_day_it_closed(session: Session) -> None:
    invitation = make_invitation(session, closes_at=utcnow() + timedelta(days=20))
    closed = utcnow() - timedelta(days=1)
    rounds.close_round(session, invitation.round, now=closed)

    assert invitation.round.closed_early and invitation.round.ends_at == closed
    with pytest.raises(flow.RoundNotOpen) as error:
        flow.start(session, invitation, channel="web")

    assert error.value.message.startswith(f"This survey closed on {long_date(closed)}.")
