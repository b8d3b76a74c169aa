"""Frames from SQL: one typed row per completed response, from what the flow really stores."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from analysis import frames
from collector import flow, models
from collector.survey.loader import library_survey
from tests.analysis.reference import frames as reference
from tests.factories import cvs_support, make_organisation, make_provider, make_round

SUPPORTED = {
    "used_support": "yes",
    "support_kinds": ["training", "funding"],
    "ease_of_access": "easy",
    "satisfaction": "very_satisfied",
    "capacity_increased": "yes_a_lot",
    "outcomes_contributed": ["healthy_lifestyles"],
    "aware_outcomes": ["good_lives", "weight_management"],  # stored in the survey's order
    "awareness_raised": ["good_lives"],
    "informed_strategies": "well_informed",
    "informed_district": "not_very_well_informed",
    "comments": "Thank you",
}
NOT_SUPPORTED = {
    "used_support": "no",
    "outcomes_contributed": ["none"],
    "aware_outcomes": ["none"],
    "informed_strategies": "not_at_all_informed",
    "informed_district": "well_informed",
}


def walk(
    session: Session,
    response: models.Response,
    answers: Mapping[str, object],
    *,
    complete: bool = True,
) -> models.Response:
    """Answer every question the flow asks, from `answers` (None for the rest), and submit."""
    view = flow.view(session, response)
    while isinstance(view, flow.QuestionView):
        view = flow.answer(session, response, view.question_id, answers.get(view.question_id))  # type: ignore[arg-type]
    assert isinstance(view, flow.ReviewView), view
    if complete:
        flow.complete(session, response)
    return response


@pytest.fixture
def scenario(session: Session) -> dict[str, object]:
    provider = make_provider(session, slug="harlow-cvs")
    charity = make_organisation(
        session,
        provider,
        org_type="registered_charity",
        income_band="100k_500k",
        district="Old Harlow",
        outcomes="good_lives step_down",
        is_member=False,
    )
    club = make_organisation(
        session,
        provider,
        org_type="sports_arts_heritage",
        income_band=None,
        district="Harlow",
        outcomes="",
    )
    quiet = make_organisation(session, provider)
    round_ = make_round(session, provider, cvs_support(), open_link=True)
    invitations = {i.organisation_id: i for i in round_.invitations}
    walk(session, flow.start(session, invitations[charity.id], channel="web"), SUPPORTED)
    walk(session, flow.start(session, invitations[club.id], channel="telegram"), NOT_SUPPORTED)
    walk(
        session,
        flow.start(session, invitations[quiet.id], channel="web"),
        SUPPORTED,
        complete=False,
    )  # in progress: never counted
    walk(session, flow.start_anonymous(session, round_), NOT_SUPPORTED)
    session.commit()
    return {"round": round_, "charity": charity, "club": club}


def test_a_frame_has_one_typed_row_per_completed_response(
    session: Session, scenario: dict[str, object]
) -> None:
    round_ = scenario["round"]
    assert isinstance(round_, models.Round)
    with session.connection() as connection:
        frame = reference.load_frame(connection, library_survey("cvs-support"), [round_.id])
    assert len(frame) == 3 and frame.index.name == frames.RESPONSE_ID
    by_org = frame.set_index(frame[frames.ORGANISATION].astype(object))
    charity, club = scenario["charity"], scenario["club"]
    assert isinstance(charity, models.Organisation) and isinstance(club, models.Organisation)
    row = by_org.loc[charity.id]
    assert row["ease_of_access"] == "easy" and row["satisfaction"] == "very_satisfied"
    assert row["aware_outcomes"] == "weight_management good_lives"
    assert row["comments"] == "Thank you"
    assert row[frames.ROUND] == round_.id and row[frames.PROVIDER] == "harlow-cvs"
    assert (row[frames.ORG_TYPE], row[frames.INCOME_BAND], row[frames.DISTRICT]) == (
        "registered_charity",
        "100k_500k",
        "Old Harlow",
    )
    assert row[frames.OUTCOMES] == "good_lives step_down" and not row[frames.IS_MEMBER]
    assert row[frames.CHANNEL] == "web"
    skipped = by_org.loc[club.id]
    assert skipped["ease_of_access"] is None  # skip logic: never asked
    assert skipped[frames.CHANNEL] == "telegram" and skipped[frames.INCOME_BAND] is None
    open_link = frame[frame[frames.ORGANISATION].isna()]
    assert len(open_link) == 1 and open_link[frames.CHANNEL].iloc[0] == "open_link"
    assert open_link[frames.ORG_TYPE].iloc[0] is None


def test_only_the_questions_asked_for_are_loaded_and_choices_can_be_columns(
    session: Session, scenario: dict[str, object]
) -> None:
    round_ = scenario["round"]
    assert isinstance(round_, models.Round)
    with session.connection() as connection:
        frame = reference.load_frame(
            connection,
            library_survey("cvs-support"),
            [round_.id],
            questions={"aware_outcomes", "used_support"},
            choice_columns=True,
        )
    questions = [c for c in frame.columns if not c.startswith("@")]
    assert questions[:2] == ["used_support", "aware_outcomes"]
    good_lives = frame[reference.choice_column("aware_outcomes", "good_lives")]
    none = frame[reference.choice_column("aware_outcomes", "none")]
    assert good_lives.dtype == bool and good_lives.sum() == 1 and none.sum() == 2


def test_the_long_form_and_the_pandas_pivot_agree_with_the_sql_pivot(
    session: Session, scenario: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    round_ = scenario["round"]
    assert isinstance(round_, models.Round)
    survey = library_survey("cvs-support")
    with session.connection() as connection:
        long = reference.load_long(connection, [round_.id])
        joined = reference.load_frame(connection, survey, [round_.id])
        monkeypatch.setattr(reference, "MAX_JOINED_QUESTIONS", 0)
        pivoted = reference.load_frame(connection, survey, [round_.id])
    assert list(long.columns) == [frames.RESPONSE_ID, frames.QUESTION_ID, frames.VALUE]
    assert long[frames.RESPONSE_ID].nunique() == 3  # the one in progress is not there
    assert len(long) == len(SUPPORTED) + 2 * len(NOT_SUPPORTED)
    pd.testing.assert_frame_equal(
        joined.sort_index(), pivoted.sort_index()[joined.columns], check_dtype=False
    )


def test_the_grouped_pivot_and_the_joined_pivot_load_the_same_frame(
    session: Session, scenario: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL pivots one pass over the answers grouped by response, SQLite joins the
    # answers once per question: both databases can run both, and both give the same frame.
    round_ = scenario["round"]
    assert isinstance(round_, models.Round)
    survey = library_survey("cvs-support")
    loaded = {}
    real_query = frames._response_query
    with session.connection() as connection:
        for pivot in (False, True):
            monkeypatch.setattr(
                frames,
                "_response_query",
                lambda ids, wanted, *, pivot=pivot, **_: real_query(ids, wanted, pivot=pivot),
            )
            loaded[pivot] = frames.load_kpi_frame(connection, survey, [round_.id], SUPPORTED)
    assert len(loaded[True]) == 3
    assert loaded[True]["ease_of_access"].notna().sum() == 1  # the charity's: the club skipped it
    assert loaded[True]["comments"].astype(object).tolist().count("Thank you") == 1
    pd.testing.assert_frame_equal(loaded[False].sort_index(), loaded[True].sort_index())


def test_numeric_questions_are_float_with_nan_for_unanswered(session: Session) -> None:
    provider = make_provider(session)
    organisations = [make_organisation(session, provider) for _ in range(2)]
    survey = library_survey("volunteer-host")
    round_ = make_round(session, provider, survey)
    invitations = {i.organisation_id: i for i in round_.invitations}
    confident = {"recruit_confidence": "confident", "manage_confidence": "very_confident"}
    walk(
        session,
        flow.start(session, invitations[organisations[0].id], channel="web"),
        {**confident, "volunteers_placed": "1,200", "share_via_centre": "62.5"},
    )
    walk(session, flow.start(session, invitations[organisations[1].id], channel="web"), confident)
    with session.connection() as connection:
        frame = reference.load_frame(connection, survey, [round_.id]).sort_index()
    assert frame["volunteers_placed"].dtype == np.float64
    assert frame["volunteers_placed"].iloc[0] == 1200.0
    assert np.isnan(frame["volunteers_placed"].iloc[1])
    assert frame["share_via_centre"].tolist()[0] == 62.5


def test_invitation_counts_by_segment_come_from_sql(
    session: Session, scenario: dict[str, object]
) -> None:
    round_ = scenario["round"]
    assert isinstance(round_, models.Round)
    with session.connection() as connection:
        counts = frames.load_invitation_counts(connection, [round_.id])

    def count(segment: str, key: str | None) -> tuple[int, int]:
        rows = counts[
            (counts[frames.SEGMENT] == segment)
            & (
                counts[frames.KEY].astype(object) == key
                if key is not None
                else counts[frames.KEY].isna()
            )
        ]
        assert len(rows) == 1, rows
        return int(rows[frames.INVITED].iloc[0]), int(rows[frames.RESPONDED].iloc[0])

    # 3 invited, 2 completed (the open-link response has no invitation; one is in progress).
    assert count("all", None) == (3, 2)
    assert count("org_type", "registered_charity") == (1, 1)
    assert count("org_type", "community_group") == (1, 0)
    assert count("income_band", None) == (1, 1)  # the club has none recorded
    # The charity works on two outcome areas and counts in each; the club on none.
    assert count("outcomes", "good_lives") == (2, 1)  # the charity, and the default group
    assert count("outcomes", "step_down") == (1, 1)
    assert count("outcomes", None) == (1, 1)
    assert count("is_member", "not_member") == (1, 1)


def test_rounds_are_listed_with_provider_and_survey(
    session: Session, scenario: dict[str, object]
) -> None:
    round_ = scenario["round"]
    assert isinstance(round_, models.Round)
    later = make_round(
        session,
        round_.provider,
        cvs_support(),
        period_label="2026/27 H2",
        opens_at=round_.opens_at + timedelta(days=1),
        closes_at=round_.closes_at + timedelta(days=2),
    )
    with session.connection() as connection:
        table = frames.load_rounds(connection)
    assert table[frames.ROUND_ID].tolist() == [round_.id, later.id]
    assert set(table[frames.SURVEY_SLUG]) == {"cvs-support"}
    assert table[frames.PERIOD].tolist() == ["2026/27 H1", "2026/27 H2"]
