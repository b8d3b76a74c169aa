"""The perception-gap report of a two-way self-evaluation (issue 16), in three layers: load the
round's ratings from SQL, compute each side's picture per question and heading, and the report
model the renderers (`analysis.render.selfeval`) draw.

Per question and side: how many rated it at each level (and "don't know"), the modal level,
the mean on a 1-3 scale (needs significant improvement 1, meets minimum standards 2, good to
best practice 3; "don't know" counts in none), the "don't know" share, how many prioritised it,
and the side's agreed rating when a facilitator entered one. A side prioritises a question when
its agreed rating does, or (without one) when a third or more of its members who answered did.
A side's rating of a question is its agreed rating where there is one, else its members'
mean; the gap is the local authority's rating minus the sector's (positive: the authority
rates the partnership higher, as the pilots found). The previous evaluation's ratings give
each side's change, beside the actions planned on each question then.

Small numbers stay counts: a side of three shows its three ratings, never percentages (see
`SideRating.small`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.suppression import is_small
from collector import models, selfeval
from collector.localtime import uk
from collector.selfeval import CHOICES, DONT_KNOW, LA, LEVELS, QUESTIONS, SCORES, SIDES, VCS
from collector.survey.store import definition

__all__ = [
    "ActionRow",
    "Agreed",
    "GapReport",
    "HeadingSummary",
    "QuestionGap",
    "SideRating",
    "build_gap_report",
]

# A side prioritises a question when at least this share of its members who answered it
# marked it for follow-up (one of three, two of six), unless its agreed rating says otherwise.
PRIORITY_SHARE = 1 / 3

# Column names of the loaded ratings (one row per completed response and question).
RESPONSE, SIDE, QUESTION, LEVEL, PRIORITY, EVIDENCE, COMMENT = (
    "response",
    "side",
    "question",
    "level",
    "priority",
    "evidence",
    "comment",
)


@dataclass(frozen=True)
class Agreed:
    """A side's agreed rating of a question, entered by a facilitator."""

    level: str
    evidence: str | None
    comment: str | None
    prioritise: bool


@dataclass(frozen=True)
class SideRating:
    """How one side rated one question."""

    side: str
    counts: dict[str, int]  # good, minimum, improve, dont_know: how many chose each
    prioritised: int = 0
    agreed: Agreed | None = None
    evidence: tuple[str, ...] = ()  # individual members' evidence (staff only)
    comments: tuple[str, ...] = ()  # individual members' comments (staff only)

    @property
    def answered(self) -> int:
        """Give how many of the side's members answered the question (don't know included)."""
        return sum(self.counts.values())

    @property
    def rated(self) -> int:
        """Give how many rated it at one of the three levels."""
        return sum(self.counts.get(level, 0) for level in LEVELS)

    @property
    def small(self) -> bool:
        """Tell whether so few answered that counts, not percentages, are shown."""
        return is_small(self.answered)

    @property
    def dont_know(self) -> int:
        """Give how many answered don't know."""
        return self.counts.get(DONT_KNOW, 0)

    @property
    def dont_know_share(self) -> float | None:
        """Give the share of answers that were don't know, or None with no answers."""
        return self.dont_know / self.answered if self.answered else None

    @property
    def modal(self) -> tuple[str, ...]:
        """Give the most chosen level(s), best first: more than one on a tie, none unrated."""
        top = max((self.counts.get(level, 0) for level in LEVELS), default=0)
        if top == 0:
            return ()
        return tuple(level for level in LEVELS if self.counts.get(level, 0) == top)

    @property
    def mean(self) -> float | None:
        """Give the members' mean on the 1-3 scale, or None when nobody rated it."""
        if not self.rated:
            return None
        total = sum(SCORES[level] * self.counts.get(level, 0) for level in LEVELS)
        return total / self.rated

    @property
    def score(self) -> float | None:
        """Give the side's rating: its agreed level's score when agreed, else the mean."""
        if self.agreed is not None:
            return float(SCORES[self.agreed.level]) if self.agreed.level in SCORES else None
        return self.mean

    @property
    def prioritises(self) -> bool:
        """Tell whether the side prioritised the question: its agreed rating says so, or
        (with none) at least a third of the members who answered it marked it."""
        if self.agreed is not None:
            return self.agreed.prioritise
        return bool(self.answered) and self.prioritised >= PRIORITY_SHARE * self.answered


@dataclass(frozen=True)
class ActionRow:
    """One action of the plan, as the report shows it."""

    id: int
    question_id: str
    text: str
    owner: str
    due_on: date
    status: str
    review_on: date | None
    overdue: bool

    @property
    def status_label(self) -> str:
        """Give the status as people read it."""
        return selfeval.ACTION_STATUSES.get(self.status, self.status)


@dataclass(frozen=True)
class QuestionGap:
    """One question: each side's rating, the gap, and the change since the last evaluation."""

    question_id: str
    heading: str
    title: str
    label: str
    sides: dict[str, SideRating]
    previous: dict[str, float | None] = field(default_factory=dict)
    actions: tuple[ActionRow, ...] = ()
    previous_actions: tuple[ActionRow, ...] = ()

    @property
    def gap(self) -> float | None:
        """Give the local authority's rating minus the sector's, or None without both."""
        la, vcs = self.sides[LA].score, self.sides[VCS].score
        return None if la is None or vcs is None else la - vcs

    @property
    def prioritised_by(self) -> tuple[str, ...]:
        """Give the sides that prioritised the question."""
        return tuple(side for side in SIDES if self.sides[side].prioritises)

    def change(self, side: str) -> float | None:
        """Give a side's rating now minus at the previous evaluation, or None."""
        now, before = self.sides[side].score, self.previous.get(side)
        return None if now is None or before is None else now - before


@dataclass(frozen=True)
class HeadingSummary:
    """The overall picture under one heading of the onion."""

    heading: str
    title: str
    scores: dict[str, float | None]  # each side's mean of its question ratings
    dont_know_share: dict[str, float | None]

    @property
    def gap(self) -> float | None:
        """Give the local authority's mean minus the sector's, or None without both."""
        la, vcs = self.scores[LA], self.scores[VCS]
        return None if la is None or vcs is None else la - vcs


@dataclass(frozen=True)
class GapReport:
    """A self-evaluation's perception-gap report: the model every renderer draws."""

    provider_name: str
    round_id: int
    period: str
    mode: str
    first_side: str | None
    opens_at: datetime
    closes_at: datetime
    respondents: dict[str, int]  # completed responses per side
    questions: tuple[QuestionGap, ...]
    headings: tuple[HeadingSummary, ...]
    actions: tuple[ActionRow, ...]
    previous_period: str | None
    today: date
    for_funder: bool
    published_at: datetime | None

    @property
    def title(self) -> str:
        """Give the report's title."""
        return f"{self.provider_name}: two-way self-evaluation, {self.period}"

    @property
    def empty_sides(self) -> tuple[str, ...]:
        """Give the sides with no respondents and no agreed ratings."""
        return tuple(
            side
            for side in SIDES
            if not self.respondents.get(side)
            and not any(q.sides[side].agreed for q in self.questions)
        )

    @property
    def overdue(self) -> tuple[ActionRow, ...]:
        """Give the plan's overdue actions."""
        return tuple(a for a in self.actions if a.overdue)

    @property
    def prioritised(self) -> tuple[QuestionGap, ...]:
        """Give the questions either side prioritised."""
        return tuple(q for q in self.questions if q.prioritised_by)


# Load -------------------------------------------------------------------------------------


def _ratings(session: Session, round_id: int) -> list[tuple[int, str, str, str]]:
    """Give (response id, side, question id, value) of a round's completed responses."""
    resp, ans = models.Response, models.Answer
    audiences = [a for side in SIDES for a in selfeval.SIDE_AUDIENCES[side]]
    rows = session.execute(
        select(resp.id, resp.audience, ans.question_id, ans.value)
        .join(ans, ans.response_id == resp.id)
        .where(
            resp.round_id == round_id,
            resp.status == "completed",
            resp.audience.in_(audiences),
        )
        .order_by(resp.id, ans.id)
    ).all()
    return [(rid, selfeval.side_of(aud) or "", qid, value) for rid, aud, qid, value in rows]


def _respondents(session: Session, round_id: int) -> dict[str, int]:
    resp = models.Response
    counts = dict.fromkeys(SIDES, 0)
    for (audience,) in session.execute(
        select(resp.audience).where(resp.round_id == round_id, resp.status == "completed")
    ).all():
        side = selfeval.side_of(audience)
        if side is not None:
            counts[side] += 1
    return counts


def _action_rows(session: Session, round_id: int, today: date) -> list[ActionRow]:
    return [
        ActionRow(
            id=a.id,
            question_id=a.question_id,
            text=a.text,
            owner=a.owner,
            due_on=a.due_on,
            status=a.status,
            review_on=a.review_on,
            overdue=selfeval.is_overdue(a, today),
        )
        for a in selfeval.actions_of(session, round_id)
    ]


# Compute ----------------------------------------------------------------------------------


def side_ratings(
    rows: list[tuple[int, str, str, str]],
    agreed: dict[tuple[str, str], Agreed],
    *,
    with_text: bool = True,
) -> dict[str, dict[str, SideRating]]:
    """Compute each question's rating by each side, from (response, side, question, value)
    rows and the agreed ratings by (side, question)."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    prioritised: Counter[tuple[str, str]] = Counter()
    texts: dict[tuple[str, str, str], list[str]] = {}
    for _, side, qid, value in rows:
        if side not in SIDES:
            continue
        if qid in QUESTIONS and value in CHOICES:
            counts.setdefault((side, qid), Counter())[value] += 1
            continue
        for suffix in (selfeval.PRIORITY, selfeval.EVIDENCE, selfeval.COMMENT):
            if qid.endswith(suffix) and qid[: -len(suffix)] in QUESTIONS:
                base = qid[: -len(suffix)]
                if suffix == selfeval.PRIORITY:
                    prioritised[(side, base)] += value == "yes"
                elif with_text:
                    texts.setdefault((side, base, suffix), []).append(value)
    return {
        qid: {
            side: SideRating(
                side=side,
                counts=dict(counts.get((side, qid), Counter())),
                prioritised=prioritised[(side, qid)],
                agreed=agreed.get((side, qid)),
                evidence=tuple(texts.get((side, qid, selfeval.EVIDENCE), ())),
                comments=tuple(texts.get((side, qid, selfeval.COMMENT), ())),
            )
            for side in SIDES
        }
        for qid in QUESTIONS
    }


def heading_summaries(questions: tuple[QuestionGap, ...]) -> tuple[HeadingSummary, ...]:
    """Sum up each heading: each side's mean of its question ratings and don't-know share."""
    summaries = []
    for heading, title in selfeval.HEADINGS.items():
        under = [q for q in questions if q.heading == heading]
        scores: dict[str, float | None] = {}
        shares: dict[str, float | None] = {}
        for side in SIDES:
            rated = [s for q in under if (s := q.sides[side].score) is not None]
            scores[side] = sum(rated) / len(rated) if rated else None
            answered = sum(q.sides[side].answered for q in under)
            unknown = sum(q.sides[side].dont_know for q in under)
            shares[side] = unknown / answered if answered else None
        summaries.append(HeadingSummary(heading, title, scores, shares))
    return tuple(summaries)


def _agreed(session: Session, round_id: int) -> dict[tuple[str, str], Agreed]:
    return {
        (a.side, a.question_id): Agreed(a.level, a.evidence, a.comment, a.prioritise)
        for a in selfeval.agreed_ratings(session, round_id)
    }


def build_gap_report(
    session: Session,
    round_: models.Round,
    *,
    today: date | None = None,
    for_funder: bool = False,
) -> GapReport:
    """Build a self-evaluation's perception-gap report (`for_funder`: without what individual
    members wrote)."""
    evaluation = selfeval.require(session, round_.id)
    today = today or uk(models.utcnow()).date()
    survey = definition(round_.survey)
    by_question = side_ratings(
        _ratings(session, round_.id), _agreed(session, round_.id), with_text=not for_funder
    )
    actions = _action_rows(session, round_.id, today)
    previous: dict[str, dict[str, SideRating]] = {}
    previous_actions: list[ActionRow] = []
    previous_round = evaluation.previous_round
    if previous_round is not None:
        previous = side_ratings(
            _ratings(session, previous_round.id),
            _agreed(session, previous_round.id),
            with_text=False,
        )
        previous_actions = _action_rows(session, previous_round.id, today)
    questions = tuple(
        QuestionGap(
            question_id=qid,
            heading=heading,
            title=selfeval.question_title(qid),
            label=survey.question(qid).label.get("en"),
            sides=by_question[qid],
            previous={side: previous[qid][side].score for side in SIDES} if previous else {},
            actions=tuple(a for a in actions if a.question_id == qid),
            previous_actions=tuple(a for a in previous_actions if a.question_id == qid),
        )
        for qid, (heading, _) in QUESTIONS.items()
    )
    return GapReport(
        provider_name=round_.provider.name,
        round_id=round_.id,
        period=round_.period_label,
        mode=evaluation.mode,
        first_side=evaluation.first_side,
        opens_at=round_.opens_at,
        closes_at=round_.ends_at,
        respondents=_respondents(session, round_.id),
        questions=questions,
        headings=heading_summaries(questions),
        actions=tuple(actions),
        previous_period=previous_round.period_label if previous_round is not None else None,
        today=today,
        for_funder=for_funder,
        published_at=evaluation.published_at,
    )
