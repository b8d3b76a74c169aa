"""Respondent pages: start, one question per page, errors, back, change, check, confirmation."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, models
from collector.config import Settings
from collector.db import make_engine
from collector.models import utcnow
from tests.factories import (
    cvs_support,
    english_only,
    make_invitation,
    make_organisation,
    make_provider,
)
from tests.forms.conftest import Browser

# A path through cvs-support for a group that had no support: skip logic leaves six questions.
NO_SUPPORT: list[tuple[str, Any]] = [
    ("intro", None),
    ("used_support", "no"),
    ("outcomes_contributed", ["healthy_lifestyles", "good_lives"]),
    ("aware_outcomes", ["healthy_lifestyles"]),
    ("informed_strategies", "well_informed"),
    ("informed_district", "not_very_well_informed"),
    ("comments", "More evening sessions please"),
]


def invite(factory: sessionmaker[Session], **overrides: Any) -> str:
    """Add an invitation to a round of cvs-support (unless told otherwise); give its token."""
    overrides.setdefault("survey", cvs_support())
    with db.transaction(factory) as session:
        return make_invitation(session, **overrides).token


def response_of(factory: sessionmaker[Session], token: str) -> models.Response | None:
    """Give the invitation's response as stored."""
    with factory() as session:
        return session.scalar(
            select(models.Response).join(models.Invitation).where(models.Invitation.token == token)
        )


def stored_answers(factory: sessionmaker[Session], response_id: int) -> dict[str, str]:
    """Give a response's stored answers."""
    with factory() as session:
        rows = session.execute(
            select(models.Answer.question_id, models.Answer.value).where(
                models.Answer.response_id == response_id
            )
        )
        return {qid: value for qid, value in rows}


def start(browser: Browser, url: str) -> None:
    """Open the link and press Start."""
    browser.get(url)
    browser.post(f"{url}/start", {"language": "en"})


def walk(browser: Browser, path: list[tuple[str, Any]]) -> None:
    """Answer question after question, checking each is the one expected."""
    for question_id, value in path:
        assert browser.question == question_id
        browser.answer(value)


def test_start_page_says_who_asks_how_long_it_takes_who_sees_answers_and_the_close_date(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    closes = utcnow() + timedelta(days=20)
    with db.transaction(session_factory) as session:
        provider = make_provider(session, name="Harlow CVS")
        organisation = make_organisation(session, provider, name="Old Harlow Lunch Club")
        token = make_invitation(
            session,
            provider=provider,
            organisation=organisation,
            survey=cvs_support(),
            closes_at=closes,
        ).token

    page = browser.get(f"/r/{token}")

    assert page.status_code == 200
    assert '<h1 class="govuk-heading-l">Support from your CVS</h1>' in browser.text
    assert "Harlow CVS is asking Old Harlow Lunch Club" in browser.text
    assert "About 2 minutes" in browser.text
    assert "only see totals from at least 5 groups, never your own answers" in browser.text
    assert "Survey closes</dt>" in browser.text
    assert f"{closes:%-d %B %Y}</dd>" in browser.text
    assert "Start now" in browser.text
    # Looking at the start page starts nothing.
    assert response_of(session_factory, token) is None


def test_answering_the_survey_stores_the_answers_and_confirms(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")

    walk(browser, NO_SUPPORT)

    assert browser.path == f"/r/{token}/check"
    assert "Check your answers before sending them" in browser.text
    assert "Healthy lifestyles, Good Lives: helping people stay independent" in browser.text
    browser.post(f"/r/{token}/check")
    assert browser.path == f"/r/{token}/done"
    assert "Your answers have been sent" in browser.text
    response = response_of(session_factory, token)
    assert response is not None
    assert (response.status, response.channel) == ("completed", "web")
    assert stored_answers(session_factory, response.id) == {
        "used_support": "no",
        "outcomes_contributed": "healthy_lifestyles good_lives",
        "aware_outcomes": "healthy_lifestyles",
        "informed_strategies": "well_informed",
        "informed_district": "not_very_well_informed",
        "comments": "More evening sessions please",
    }


def test_progress_counts_only_the_questions_that_apply(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])
    assert "Question 1 of 11" in browser.text

    walk(browser, NO_SUPPORT[1:2])  # no support: five questions fall away

    assert browser.question == "outcomes_contributed"
    assert "Question 2 of 6" in browser.text


def test_the_intro_note_has_no_progress_and_the_first_question_goes_back_to_it(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    assert browser.question == "intro"
    assert "Question" not in browser.text
    assert "Your answers help us improve our support" in browser.text

    browser.answer(None)
    browser.post(f"/r/{token}/back")

    assert browser.question == "intro"


def test_an_empty_answer_shows_an_error_summary_linked_to_the_field(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])

    page = browser.answer(None)

    assert page.status_code == 200
    assert browser.question == "used_support"
    assert "<title>Error: " in browser.text
    assert "There is a problem" in browser.text
    assert 'href="#answer"' in browser.text
    assert 'id="answer"' in browser.text  # the first radio, where the summary link lands
    assert 'class="govuk-error-message"' in browser.text
    response = response_of(session_factory, token)
    assert response is not None and stored_answers(session_factory, response.id) == {}

    browser.answer("yes")  # corrected

    assert browser.question == "support_kinds"
    assert "There is a problem" not in browser.text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("lots", "Enter a whole number, like 12"),
        ("600", "Enter a number from 0 to 500"),
        ("", "Enter a number"),
    ],
)
def test_a_bad_number_is_shown_back_as_typed_with_what_to_do(
    browser: Browser, session_factory: sessionmaker[Session], typed: str, message: str
) -> None:
    token = invite(session_factory, survey=None)  # the every-type survey
    start(browser, f"/r/{token}")
    walk(browser, [("intro", None), ("used", "no")])
    assert browser.question == "volunteers"
    assert 'inputmode="numeric"' in browser.text

    browser.answer(typed)

    assert browser.question == "volunteers"
    assert message in browser.text
    assert f'value="{typed}"' in browser.text or typed == ""


def test_a_broken_constraint_shows_the_survey_s_own_message(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:2])

    browser.answer(["none", "healthy_lifestyles"])

    assert browser.question == "outcomes_contributed"
    assert "Select &#39;None of these&#39; on its own" in browser.text
    # What was ticked stays ticked, and "None of these" is exclusive when JavaScript runs.
    assert browser.text.count("checked") == 2
    assert 'data-behaviour="exclusive"' in browser.text


def test_change_from_the_check_page_comes_back_to_the_check_page(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT)
    assert f'href="/r/{token}/q/informed_district"' in browser.text

    browser.get(f"/r/{token}/q/informed_district")
    assert "Not very well informed" in browser.text
    browser.answer("well_informed")

    assert browser.path == f"/r/{token}/check"
    response = response_of(session_factory, token)
    assert response is not None
    assert stored_answers(session_factory, response.id)["informed_district"] == "well_informed"


def test_changing_an_answer_that_opens_new_questions_asks_them_before_the_check_page(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT)

    browser.get(f"/r/{token}/q/used_support")
    browser.answer("yes")

    assert browser.question == "support_kinds"


def test_a_later_question_cannot_be_reached_by_its_address(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:2])

    browser.get(f"/r/{token}/q/informed_district")

    assert browser.question == "outcomes_contributed"
    browser.get(f"/r/{token}/q/no_such_question")
    assert browser.question == "outcomes_contributed"


def test_back_returns_to_the_previous_question_with_its_answer(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:2])

    browser.post(f"/r/{token}/back")

    assert browser.question == "used_support"
    assert 'value="no" checked' in browser.text


def test_the_same_link_carries_on_where_the_respondent_stopped_on_another_device(
    browser: Browser, other_browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:3])

    other_browser.get(f"/r/{token}")
    assert "You have started this survey" in other_browser.text
    other_browser.post(f"/r/{token}/start", {"language": "en"})

    assert other_browser.question == "aware_outcomes"
    walk(other_browser, NO_SUPPORT[3:])
    assert other_browser.path == f"/r/{token}/check"


def test_the_same_answer_posted_twice_is_stored_once(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])
    csrf = browser.csrf()
    url = f"/r/{token}/q/used_support"

    first = browser.client.post(url, data={"csrf_token": csrf, "answer": "no"})
    second = browser.client.post(url, data={"csrf_token": csrf, "answer": "no"})

    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == f"/r/{token}/q/outcomes_contributed"
    response = response_of(session_factory, token)
    assert response is not None
    assert stored_answers(session_factory, response.id) == {"used_support": "no"}


def test_sending_twice_records_one_response_and_then_says_already_answered(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT)
    csrf = browser.csrf()

    first = browser.client.post(f"/r/{token}/check", data={"csrf_token": csrf})
    second = browser.client.post(f"/r/{token}/check", data={"csrf_token": csrf})

    assert first.status_code == 303 and first.headers["Location"] == f"/r/{token}/done"
    assert second.status_code == 409
    assert "You have already answered this survey" in second.get_data(as_text=True)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(models.Response)) == 1


def test_the_language_switch_shows_the_survey_in_welsh(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, survey=None)  # the every-type survey has en and cy
    browser.get(f"/r/{token}")
    assert 'aria-current="true" lang="en" dir="auto">English' in browser.text

    browser.post(f"/r/{token}/language", {"language": "cy", "page": "start"})
    assert browser.path == f"/r/{token}"
    assert '<html lang="cy"' in browser.text
    assert 'dir="ltr"' in browser.text.split("<body", 1)[1].split(">", 1)[0]
    assert "Dechrau nawr" in browser.text
    browser.post(f"/r/{token}/start", {"language": "cy"})
    walk(browser, [("intro", None)])

    assert "Wnaethoch chi ein defnyddio?" in browser.text
    assert "Cwestiwn 1 o" in browser.text
    response = response_of(session_factory, token)
    assert response is not None and response.language == "cy"

    browser.post(f"/r/{token}/language", {"language": "en"})
    assert "Did you use us?" in browser.text


def test_a_survey_in_one_language_has_no_language_switch(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, survey=english_only(cvs_support()))
    browser.get(f"/r/{token}")
    assert "tempcheck-language" not in browser.text


def test_every_page_before_starting_sends_to_the_start_page(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    for page in ("q", "q/used_support", "check", "done"):
        browser.get(f"/r/{token}/{page}")
        assert browser.path == f"/r/{token}"


def test_the_home_page_says_to_open_the_link(browser: Browser) -> None:
    page = browser.get("/")
    assert page.status_code == 200
    assert "open that link" in browser.text


def test_a_question_page_shared_between_respondents_carries_each_one_s_own_link_and_token(
    browser: Browser, other_browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    first, second = invite(session_factory), invite(session_factory)
    for who, token in ((browser, first), (other_browser, second)):
        start(who, f"/r/{token}")
        walk(who, NO_SUPPORT[:1])

    # The second page comes from the cache of rendered pages: nothing of the first may show.
    assert other_browser.question == browser.question == "used_support"
    assert second in other_browser.text and first not in other_browser.text
    assert other_browser.csrf() != browser.csrf()
    assert other_browser.page is not None
    nonce = other_browser.page.headers["Content-Security-Policy"].split("'nonce-")[1][:22]
    assert f'<script nonce="{nonce}">' in other_browser.text
    other_browser.answer("no")
    assert other_browser.question == "outcomes_contributed"


def test_an_unknown_language_is_refused_with_a_plain_page(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory, survey=None)
    start(browser, f"/r/{token}")

    page = browser.client.post(
        f"/r/{token}/language", data={"csrf_token": browser.csrf(), "language": "xx"}
    )

    assert page.status_code == 400
    assert "This survey is not available in that language" in page.get_data(as_text=True)
    response = response_of(session_factory, token)
    assert response is not None and response.language == "en"  # the choice was not kept


def test_an_answer_another_device_already_gave_is_not_dropped_silently(
    browser: Browser, other_browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])
    start(other_browser, f"/r/{token}")
    assert other_browser.question == browser.question == "used_support"
    browser.answer("no")  # the first device answers and moves on

    other_browser.answer("yes")  # the second answers the same question from its page

    assert other_browser.question == "outcomes_contributed"  # where the response is now
    assert "This question was answered on another device or in another tab" in other_browser.text
    assert "the answer you just gave was not saved" in other_browser.text
    response = response_of(session_factory, token)
    assert response is not None
    assert stored_answers(session_factory, response.id) == {"used_support": "no"}
    # Said once, to that browser only.
    other_browser.get(f"/r/{token}/q")
    assert "answered on another device" not in other_browser.text
    browser.get(f"/r/{token}/q")
    assert browser.question == "outcomes_contributed"
    assert "answered on another device" not in browser.text


def test_an_answer_sent_while_another_tab_s_answer_is_being_saved_waits_for_it_and_is_told(
    browser: Browser, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])
    url = f"/r/{token}/q/used_support"
    csrf = browser.csrf()
    sent: list[Any] = []
    with session_factory() as other_tab, other_tab.begin():
        # Another tab's answer to the same question, saved but not yet committed.
        invitation = other_tab.scalar(
            select(models.Invitation).where(models.Invitation.token == token)
        )
        assert invitation is not None and invitation.response is not None
        flow.answer(other_tab, invitation.response, "used_support", "yes")
        page = threading.Thread(
            target=lambda: sent.append(
                browser.client.post(url, data={"csrf_token": csrf, "answer": "no"})
            )
        )
        page.start()
        _until_waiting_for_a_lock(settings)

    page.join(timeout=60)
    # It waited for the other tab, then found the question answered: not saved, and told.
    assert sent and sent[0].status_code == 303
    assert sent[0].headers["Location"] == f"/r/{token}/q/support_kinds"
    response = response_of(session_factory, token)
    assert response is not None and response.cursor == "support_kinds"
    assert stored_answers(session_factory, response.id) == {"used_support": "yes"}
    browser.get(sent[0].headers["Location"])
    assert "This question was answered on another device or in another tab" in browser.text


def _until_waiting_for_a_lock(settings: Settings) -> None:
    """Wait until a PostgreSQL connection waits for a lock; SQLite cannot say, so go on."""
    if not settings.resolved_database_url.startswith("postgresql"):
        return
    engine = make_engine(settings)
    try:
        for _ in range(600):
            with engine.connect() as connection:
                waiting = connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            threading.Event().wait(0.05)
    finally:
        engine.dispose()
    raise AssertionError("the page never waited for the other tab's lock")


def test_a_validation_error_is_shown_only_to_the_browser_that_made_it(
    browser: Browser, other_browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT[:1])

    browser.answer(None)
    assert "There is a problem" in browser.text

    other_browser.get(f"/r/{token}")
    other_browser.post(f"/r/{token}/start", {"language": "en"})
    assert other_browser.question == "used_support"
    assert "There is a problem" not in other_browser.text
    assert "Select an answer" not in other_browser.text
    # Nor does the same browser see it again when it comes back to the question.
    browser.get(f"/r/{token}/q")
    assert browser.question == "used_support"
    assert "There is a problem" not in browser.text


def test_sending_with_an_answer_missing_shows_that_question_with_why_to_that_browser_only(
    browser: Browser, other_browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    token = invite(session_factory)
    start(browser, f"/r/{token}")
    walk(browser, NO_SUPPORT)
    response = response_of(session_factory, token)
    assert response is not None
    with db.transaction(session_factory) as session:
        session.execute(
            models.Answer.__table__.delete().where(
                models.Answer.response_id == response.id,
                models.Answer.question_id == "informed_district",
            )
        )

    page = browser.post(f"/r/{token}/check")

    assert page.status_code == 200
    assert "Answer this question before you submit your answers" in browser.text
    assert f'action="/r/{token}/q/informed_district"' in browser.text
    other_browser.get(f"/r/{token}/q")
    assert other_browser.question == "informed_district"
    assert "Answer this question before you submit" not in other_browser.text
