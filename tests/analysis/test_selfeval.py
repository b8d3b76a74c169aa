"""The perception-gap report: hand-made cases for gaps, modal levels, don't-know shares,
agreed ratings, an empty side, change between two evaluations; and its renderers."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from analysis.render.selfeval import gap_html, gap_pdf, gap_xlsx, ratings_text
from analysis.selfeval import (
    Agreed,
    GapReport,
    QuestionGap,
    SideRating,
    build_gap_report,
    heading_summaries,
    side_ratings,
)
from collector import models, rounds, selfeval
from collector.models import utcnow
from collector.selfeval import ActionInput
from tests.factories import answer_self_evaluation, make_contact, make_provider


def test_side_ratings_give_counts_modal_levels_mean_and_dont_know_share() -> None:
    rows = [
        (1, "la", "gov_board", "good"),
        (2, "la", "gov_board", "good"),
        (3, "la", "gov_board", "minimum"),
        (4, "vcs", "gov_board", "improve"),
        (5, "vcs", "gov_board", "dont_know"),
        (6, "vcs", "gov_board", "minimum"),
        (7, "vcs", "gov_board", "dont_know"),
        (4, "vcs", "gov_board_priority", "yes"),
        (5, "vcs", "gov_board_priority", "no"),
        (4, "vcs", "gov_board_evidence", "=1+1"),
    ]
    ratings = side_ratings(rows, {})["gov_board"]
    la, vcs = ratings["la"], ratings["vcs"]
    assert la.counts == {"good": 2, "minimum": 1}
    assert la.modal == ("good",)
    assert la.mean == pytest.approx((3 + 3 + 2) / 3)
    assert la.dont_know_share == 0
    assert vcs.modal == ("minimum", "improve")  # a tie shows both, best first
    assert vcs.mean == pytest.approx(1.5)
    assert vcs.dont_know_share == pytest.approx(0.5)
    # One of the sector's four marked it: under a third, so the side does not prioritise it.
    assert (vcs.prioritised, vcs.prioritises, la.prioritises) == (1, False, False)
    assert SideRating("vcs", {"improve": 3}, prioritised=1).prioritises
    agreed = Agreed("improve", None, None, prioritise=False)
    assert not SideRating("vcs", {"improve": 3}, prioritised=3, agreed=agreed).prioritises
    assert vcs.evidence == ("=1+1",)
    # Few answers: counts, not percentages.
    assert ratings_text(la) == "2 good to best practice, 1 meets minimum standards"
    many = SideRating("la", {"good": 4, "minimum": 2})
    assert ratings_text(many) == "67% good to best practice, 33% meets minimum standards (of 6)"


def test_a_side_with_only_dont_know_has_no_level_and_no_score() -> None:
    ratings = side_ratings([(1, "vcs", "del_workforce", "dont_know")], {})["del_workforce"]
    assert ratings["vcs"].modal == () and ratings["vcs"].score is None
    assert ratings["vcs"].dont_know_share == 1


def _evaluation(
    session: Session, provider: models.Provider, label: str, start: int
) -> models.Round:
    now = utcnow()
    round_ = selfeval.create(
        session,
        provider=provider,
        period_label=label,
        opens_at=now - timedelta(days=start),
        closes_at=now - timedelta(days=start - 20),
    )
    rounds.open_round(session, round_, now=now - timedelta(days=start))
    return round_


def _answer_all(
    session: Session, round_: models.Round, by_audience: dict[str, list[dict[str, str]]], when: int
) -> None:
    moment = utcnow() - timedelta(days=when)
    for audience, people in by_audience.items():
        invitations = [i for i in round_.invitations if i.contact.audience == audience]
        for invitation, ratings in zip(invitations, people, strict=False):
            answer_self_evaluation(
                session,
                invitation,
                ratings,
                now=moment,
                prioritise=("str_communication",) if audience == "representative" else (),
                evidence="Minutes <b>& notes</b>",
            )
    rounds.close_round(session, round_, now=moment + timedelta(days=1), reports=False)


def _build_two_evaluations(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """Two evaluations a year apart, both answered and closed; an action after the first."""
    with sessions() as session:
        provider = make_provider(session, name="Test CVS <&>")
        for audience in ("partner", "partner", "commissioner", "representative", "representative"):
            make_contact(session, provider, audience=audience)
        first = _evaluation(session, provider, "2025/26", 400)
        _answer_all(
            session,
            first,
            {
                "partner": [{"gov_board": "good", "str_communication": "good"}] * 2,
                "commissioner": [{"gov_board": "minimum", "str_communication": "good"}],
                "representative": [
                    {"gov_board": "improve", "str_communication": "dont_know"},
                    {"gov_board": "minimum", "str_communication": "dont_know"},
                ],
            },
            when=399,
        )
        selfeval.add_action(
            session,
            first,
            ActionInput(
                question_id="str_communication",
                text="Write a communication strategy with the network",
                owner="Head of Partnerships",
                due_on=(utcnow() - timedelta(days=30)).date(),
            ),
            by="staff@example.org",
        )
        second = _evaluation(session, provider, "2026/27", 30)
        _answer_all(
            session,
            second,
            {
                "partner": [{"gov_board": "good", "str_communication": "good"}],
                "representative": [
                    {"gov_board": "minimum", "str_communication": "minimum"},
                    {"gov_board": "minimum", "str_communication": "good"},
                ],
            },
            when=29,
        )
        selfeval.record_agreed(
            session,
            second,
            side="la",
            question_id="gov_board",
            level="minimum",
            evidence="Agreed at the away day",
            by="facilitator@example.org",
        )
        session.commit()
        return first.id, second.id


@pytest.fixture
def two_evaluations(
    restore: Callable[[str, Callable[[sessionmaker[Session]], tuple[int, int]]], tuple[int, int]],
    session: Session,
) -> tuple[models.Round, models.Round]:
    first, second = restore("two-self-evaluations", _build_two_evaluations)
    return session.get_one(models.Round, first), session.get_one(models.Round, second)


def test_the_gap_modal_levels_and_dont_know_shares_of_a_small_case(
    session: Session, two_evaluations: tuple[models.Round, models.Round]
) -> None:
    first, _ = two_evaluations
    report = build_gap_report(session, first)
    assert report.respondents == {"la": 3, "vcs": 2}
    board = report.questions[0]
    assert board.question_id == "gov_board"
    assert board.sides["la"].modal == ("good",)
    assert board.gap == pytest.approx((3 + 3 + 2) / 3 - 1.5)
    communication = next(q for q in report.questions if q.question_id == "str_communication")
    assert communication.sides["vcs"].dont_know_share == 1
    assert communication.gap is None  # the sector gave no level, only don't know
    assert communication.prioritised_by == ("vcs",)
    governance = report.headings[0]
    assert governance.title == "Integrated governance"
    assert governance.dont_know_share["vcs"] == 0
    # The action, due 30 days ago and not done, is overdue.
    (action,) = report.actions
    assert action.overdue and report.overdue == (action,)


def test_the_next_evaluation_shows_each_sides_change_and_the_actions_taken(
    session: Session, two_evaluations: tuple[models.Round, models.Round]
) -> None:
    _, second = two_evaluations
    report = build_gap_report(session, second)
    assert report.previous_period == "2025/26"
    board = report.questions[0]
    # The authority's agreed rating (minimum, 2) replaces its one member's "good".
    assert board.sides["la"].score == 2
    assert board.change("la") == pytest.approx(2 - 8 / 3)
    assert board.change("vcs") == pytest.approx(2 - 1.5)
    communication = next(q for q in report.questions if q.question_id == "str_communication")
    assert communication.previous["vcs"] is None and communication.change("vcs") is None
    assert [a.text for a in communication.previous_actions] == [
        "Write a communication strategy with the network"
    ]


def test_a_side_with_no_respondents_is_said_and_nothing_breaks(session: Session) -> None:
    provider = make_provider(session)
    make_contact(session, provider, audience="partner")
    make_contact(session, provider, audience="representative")
    round_ = _evaluation(session, provider, "2026/27", 10)
    _answer_all(session, round_, {"partner": [{"gov_board": "good"}]}, when=9)
    report = build_gap_report(session, round_)
    assert report.empty_sides == ("vcs",)
    assert all(q.gap is None for q in report.questions)
    html = gap_html(report, standalone=False)
    assert "Nobody on the voluntary and community sector side has answered" in html
    assert gap_xlsx(report)[:2] == b"PK"


def test_the_report_renders_typed_text_as_data_and_funders_see_no_members_words(
    session: Session, two_evaluations: tuple[models.Round, models.Round]
) -> None:
    first, _ = two_evaluations
    staff = gap_html(build_gap_report(session, first), standalone=True)
    assert "Minutes &lt;b&gt;&amp; notes&lt;/b&gt;" in staff
    assert "Test CVS &lt;&amp;&gt;" in staff
    funder = gap_html(build_gap_report(session, first, for_funder=True), standalone=False)
    assert "Minutes &lt;b&gt;" not in funder
    assert "Write a communication strategy with the network" in funder


def test_the_workbook_has_the_gap_headings_ratings_chart_and_plan_sheets(
    session: Session, two_evaluations: tuple[models.Round, models.Round]
) -> None:
    _, second = two_evaluations
    selfeval.add_action(
        session,
        second,
        ActionInput(
            question_id="gov_board",
            text='=HYPERLINK("http://x")',
            owner="@owner\x0b",
            due_on=utcnow().date() + timedelta(days=5),
        ),
        by="staff@example.org",
    )
    book = load_workbook(io.BytesIO(gap_xlsx(build_gap_report(session, second))))
    assert book.sheetnames == [
        "Perception gap",
        "By heading",
        "Ratings",
        "Action plan",
        "Previous actions",
        "Chart",
    ]
    gap = book["Perception gap"]
    assert gap["A4"].value == "1. A place on the partnership board"
    assert gap["C4"].value == "Meets minimum standards (agreed)"
    plan = book["Action plan"]
    assert plan["B4"].value == '=HYPERLINK("http://x")' and plan["B4"].data_type == "s"
    assert plan["C4"].value == "@owner" and plan["C4"].quotePrefix  # the \x0b dropped on entry
    previous = book["Previous actions"]
    assert previous["G4"].value == "Overdue"


@pytest.mark.slow
def test_the_report_renders_as_a_pdf() -> None:
    rows = [(1, "la", "gov_board", "good"), (2, "vcs", "gov_board", "improve")]
    questions = tuple(
        QuestionGap(qid, heading, selfeval.question_title(qid), title, ratings)
        for (qid, (heading, title)), ratings in zip(
            selfeval.QUESTIONS.items(), side_ratings(rows, {}).values(), strict=True
        )
    )
    report = GapReport(
        provider_name="Test CVS",
        round_id=1,
        period="2026/27",
        mode="separate",
        first_side=None,
        opens_at=utcnow(),
        closes_at=utcnow(),
        respondents={"la": 1, "vcs": 1},
        questions=questions,
        headings=heading_summaries(questions),
        actions=(),
        previous_period=None,
        today=utcnow().date(),
        for_funder=False,
        published_at=None,
    )
    pdf = gap_pdf(report)
    assert pdf.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 2
    assert "Each side's ratings, level, the gap" in "".join(p.extract_text() for p in pages)
