"""The two-way self-evaluation (issue 16): a local authority and its voluntary and community
sector each rate how well they work together, and the gap between them is the finding.

One round of the `self-evaluation` survey asks both sides: the local authority's side (the
provider's contacts of audience partner and commissioner) and the sector's side (its
representatives). Each response knows its side from its audience. The round runs one of two
ways (the VCS Engage pilots ran it several):

- "separate": both sides are invited at once and rate independently;
- "reviewed": one side is invited first; when staff hand over, the other side is invited and
  sees the first side's ratings beside each question as it rates.

After a facilitated meeting, staff enter one agreed rating per side per question, with its
evidence (`record_agreed`); these are kept apart from individual answers. Staff then turn
prioritised questions into an action plan (`add_action`, `update_action`), which the next
evaluation's report shows beside each side's change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import models, rounds
from collector.errors import CollectorError, NotFound
from collector.localtime import uk
from collector.models import utcnow
from collector.survey.loader import library_survey
from collector.survey.store import register

SURVEY_ID = "self-evaluation"

# The two sides, and the contact audiences on each.
LA, VCS = "la", "vcs"
SIDES: dict[str, str] = {LA: "Local authority", VCS: "Voluntary and community sector"}
SIDE_AUDIENCES: dict[str, tuple[str, ...]] = {
    LA: ("partner", "commissioner"),
    VCS: ("representative",),
}

# The three levels, best first, and "don't know" (not a level: it counts in no score).
GOOD, MINIMUM, IMPROVE, DONT_KNOW = "good", "minimum", "improve", "dont_know"
LEVELS: dict[str, str] = {
    GOOD: "Good to best practice",
    MINIMUM: "Meets minimum standards",
    IMPROVE: "Needs significant improvement",
}
CHOICES: dict[str, str] = {**LEVELS, DONT_KNOW: "Don't know"}
# A level as a number, for means and changes: 3 good, 2 minimum, 1 needs improvement.
SCORES: dict[str, int] = {GOOD: 3, MINIMUM: 2, IMPROVE: 1}

# The five headings of the DCSF "onion", and the 17 questions under them (short titles for
# tables and charts; the survey holds the full wording).
HEADINGS: dict[str, str] = {
    "governance": "Integrated governance",
    "strategy": "Strategy",
    "processes": "Processes",
    "delivery": "Delivery",
    "outcomes": "Outcomes",
}
QUESTIONS: dict[str, tuple[str, str]] = {
    "gov_board": ("governance", "A place on the partnership board"),
    "gov_safeguarding": ("governance", "Safeguarding board"),
    "gov_agreement": ("governance", "A written agreement (compact)"),
    "gov_representation": ("governance", "Representation"),
    "str_plans": ("strategy", "Shaping local plans"),
    "str_commissioning": ("strategy", "Commissioning strategy"),
    "str_communication": ("strategy", "Communication strategy"),
    "str_investment": ("strategy", "Investment in capacity"),
    "pro_commissioning": ("processes", "Open commissioning"),
    "pro_information": ("processes", "Information sharing"),
    "pro_quality": ("processes", "Quality and performance management"),
    "pro_assets": ("processes", "Asset sharing"),
    "del_workforce": ("delivery", "Workforce development"),
    "del_integrated": ("delivery", "Multi-agency working"),
    "del_reach": ("delivery", "The sector's reach"),
    "out_shared": ("outcomes", "Shared outcomes"),
    "out_learning": ("outcomes", "Learning and follow-up"),
}
EVIDENCE, COMMENT, PRIORITY = "_evidence", "_comment", "_priority"

MODES: dict[str, str] = {
    "separate": "Both sides separately",
    "reviewed": "One side first, reviewed by the other",
}
ACTION_STATUSES: dict[str, str] = {
    "planned": "Planned",
    "in_progress": "In progress",
    "done": "Done",
    "dropped": "Dropped",
}
FINISHED = frozenset({"done", "dropped"})
MAX_TEXT = 2000


class SelfEvaluationError(CollectorError):
    """A self-evaluation, agreed rating or action cannot be made as asked; `errors` says what
    is wrong with each field (field id to message), for a form to show beside each."""

    code = "bad_self_evaluation"
    status = 422

    def __init__(self, errors: Mapping[str, str] | str, **kwargs: Any) -> None:
        self.errors = {"": errors} if isinstance(errors, str) else dict(errors)
        super().__init__(" ".join(self.errors.values()), **kwargs)


def side_of(audience: str | None) -> str | None:
    """Give the side (la or vcs) a response's audience is on, or None."""
    for side, audiences in SIDE_AUDIENCES.items():
        if audience in audiences:
            return side
    return None


def other_side(side: str) -> str:
    """Give the other side."""
    return VCS if side == LA else LA


def question_title(question_id: str) -> str:
    """Give a question's number and short title, e.g. '2. Safeguarding board'."""
    number = list(QUESTIONS).index(question_id) + 1
    return f"{number}. {QUESTIONS[question_id][1]}"


def evaluation_for(session: Session, round_id: int) -> models.SelfEvaluation | None:
    """Give the self-evaluation of a round, or None when the round is not one."""
    return session.scalar(
        select(models.SelfEvaluation).where(models.SelfEvaluation.round_id == round_id)
    )


def require(session: Session, round_id: int) -> models.SelfEvaluation:
    """Give the self-evaluation of a round, or NotFound."""
    found = evaluation_for(session, round_id)
    if found is None:
        raise NotFound(f"Round {round_id} is not a self-evaluation")
    return found


def evaluations_of(session: Session, provider_id: int) -> list[models.SelfEvaluation]:
    """List a provider's self-evaluations, newest first."""
    return list(
        session.scalars(
            select(models.SelfEvaluation)
            .join(models.Round, models.Round.id == models.SelfEvaluation.round_id)
            .where(models.Round.provider_id == provider_id)
            .order_by(models.Round.opens_at.desc(), models.Round.id.desc())
        )
    )


def create(
    session: Session,
    *,
    provider: models.Provider,
    period_label: str,
    opens_at: datetime,
    closes_at: datetime,
    mode: str = "separate",
    first_side: str | None = None,
    channels: Sequence[str] = ("email",),
    reminder_days: Sequence[int] = (),
) -> models.Round:
    """Create a draft two-sided round of the self-evaluation for `provider`.

    It follows the provider's latest self-evaluation that opened before it, whose ratings
    and actions its report compares with. In "reviewed" mode the round first asks
    `first_side` only (`hand_over` asks the other).
    """
    if mode not in MODES:
        raise SelfEvaluationError({"mode": f"Unknown mode {mode!r}: use {' or '.join(MODES)}"})
    if mode == "reviewed":
        if first_side not in SIDES:
            raise SelfEvaluationError(
                {"first_side": "Say which side rates first: la (local authority) or vcs"}
            )
        audiences = list(SIDE_AUDIENCES[first_side])
    else:
        first_side = None
        audiences = [*SIDE_AUDIENCES[LA], *SIDE_AUDIENCES[VCS]]
    survey = register(session, library_survey(SURVEY_ID))
    round_ = rounds.create_round(
        session,
        provider=provider,
        survey=survey,
        period_label=period_label,
        opens_at=opens_at,
        closes_at=closes_at,
        audience={rounds.CONTACTS: audiences},
        channels=channels,
        reminder_days=reminder_days,
    )
    previous = session.scalar(
        select(models.Round.id)
        .join(models.SelfEvaluation, models.SelfEvaluation.round_id == models.Round.id)
        .where(
            models.Round.provider_id == provider.id,
            models.Round.id != round_.id,
            models.Round.opens_at < opens_at,
        )
        .order_by(models.Round.opens_at.desc(), models.Round.id.desc())
        .limit(1)
    )
    session.add(
        models.SelfEvaluation(
            round_id=round_.id, mode=mode, first_side=first_side, previous_round_id=previous
        )
    )
    session.flush()
    return round_


def hand_over(session: Session, round_: models.Round, *, now: datetime | None = None) -> int:
    """Invite the reviewing side of an open "reviewed" round: they see the first side's
    ratings beside each question from now on. Give the number of invitations made."""
    evaluation = require(session, round_.id)
    if evaluation.mode != "reviewed" or evaluation.first_side is None:
        raise SelfEvaluationError("Only a round run one side first is handed over")
    if evaluation.handed_over_at is not None:
        raise SelfEvaluationError(
            f"Round {round_.id} was handed over already, on {evaluation.handed_over_at:%d %B %Y}"
        )
    if round_.status != "open":
        raise SelfEvaluationError(f"Round {round_.id} is {round_.status}: hand over an open round")
    now = now or utcnow()
    second = other_side(evaluation.first_side)
    round_.audience = {
        rounds.CONTACTS: [*round_.audience.get(rounds.CONTACTS, []), *SIDE_AUDIENCES[second]]
    }
    invited = set(
        session.scalars(
            select(models.Invitation.contact_id).where(models.Invitation.round_id == round_.id)
        )
    )
    contacts = [c for c in session.scalars(rounds.audience_query(round_)) if c.id not in invited]
    invitations = [
        models.Invitation(round=round_, contact=contact, token=rounds.new_token())
        for contact in contacts
    ]
    session.add_all(invitations)
    evaluation.handed_over_at = now
    session.flush()
    for invitation in invitations:
        rounds.queue_message(session, round_, invitation, "invite", f"invite:{invitation.id}", now)
    return len(invitations)


def beside(session: Session, response: models.Response, question_id: str) -> tuple[str, ...]:
    """Give what a reviewing side sees beside a rating question: the first side's agreed
    rating (with its evidence) or, without one, how its members rated; else nothing."""
    if question_id not in QUESTIONS:
        return ()
    evaluation = evaluation_for(session, response.round_id)
    if (
        evaluation is None
        or evaluation.first_side is None
        or evaluation.handed_over_at is None
        or side_of(response.audience) == evaluation.first_side
    ):
        return ()
    first = evaluation.first_side
    agreed = session.scalar(
        select(models.AgreedRating).where(
            models.AgreedRating.round_id == response.round_id,
            models.AgreedRating.side == first,
            models.AgreedRating.question_id == question_id,
        )
    )
    if agreed is not None:
        lines = [f"{SIDES[first]}'s agreed rating: {CHOICES[agreed.level]}."]
        if agreed.evidence:
            lines.append(f"Their evidence: {agreed.evidence}")
        return tuple(lines)
    counts = dict(
        session.execute(
            select(models.Answer.value, func.count(models.Answer.id))
            .join(models.Response, models.Response.id == models.Answer.response_id)
            .where(
                models.Response.round_id == response.round_id,
                models.Response.status == "completed",
                models.Response.audience.in_(SIDE_AUDIENCES[first]),
                models.Answer.question_id == question_id,
            )
            .group_by(models.Answer.value)
        ).all()
    )
    if not counts:
        return (f"{SIDES[first]}: no ratings of this question yet.",)
    said = ", ".join(
        f"{counts[value]} {label.lower()}" for value, label in CHOICES.items() if value in counts
    )
    return (f"{SIDES[first]}'s ratings: {said}.",)


def _text(value: str | None, field: str, errors: dict[str, str], label: str) -> str | None:
    text = "".join(ch for ch in (value or "") if ch in "\n\t" or ord(ch) >= 32).strip()
    if len(text) > MAX_TEXT:
        errors[field] = f"{label} must be {MAX_TEXT:,} characters or fewer"
    return text or None


def record_agreed(
    session: Session,
    round_: models.Round,
    *,
    side: str,
    question_id: str,
    level: str,
    evidence: str | None = None,
    comment: str | None = None,
    prioritise: bool = False,
    by: str,
) -> models.AgreedRating:
    """Record (or replace) one side's agreed rating of a question, entered by a facilitator
    after a meeting; refuse an unknown side, question or level, saving nothing."""
    require(session, round_.id)
    errors: dict[str, str] = {}
    if round_.status == "draft":
        errors["round"] = f"Round {round_.id} is a draft: open it before entering ratings"
    if side not in SIDES:
        errors["side"] = "Choose a side: la (local authority) or vcs (the sector)"
    if question_id not in QUESTIONS:
        errors["question"] = f"Unknown question {question_id!r}: choose one of the 17"
    if level not in CHOICES:
        errors["level"] = (
            f"Choose one of the three levels (good, minimum, improve) or dont_know, not {level!r}"
        )
    evidence = _text(evidence, "evidence", errors, "The evidence")
    comment = _text(comment, "comment", errors, "The comment")
    if errors:
        raise SelfEvaluationError(errors)
    agreed = session.scalar(
        select(models.AgreedRating).where(
            models.AgreedRating.round_id == round_.id,
            models.AgreedRating.side == side,
            models.AgreedRating.question_id == question_id,
        )
    )
    if agreed is None:
        agreed = models.AgreedRating(round_id=round_.id, side=side, question_id=question_id)
        session.add(agreed)
    agreed.level = level
    agreed.evidence = evidence
    agreed.comment = comment
    agreed.prioritise = prioritise
    agreed.entered_by = by[:254]
    agreed.entered_at = utcnow()
    session.flush()
    return agreed


def agreed_ratings(session: Session, round_id: int) -> list[models.AgreedRating]:
    """List a round's agreed ratings, by side and question."""
    return list(
        session.scalars(
            select(models.AgreedRating)
            .where(models.AgreedRating.round_id == round_id)
            .order_by(models.AgreedRating.side, models.AgreedRating.question_id)
        )
    )


@dataclass(frozen=True)
class ActionInput:
    """An action as staff gave it (text from a form or the command line)."""

    question_id: str
    text: str
    owner: str
    due_on: str | date | None
    status: str = "planned"
    review_on: str | date | None = None


def _date(value: str | date | None, field: str, errors: dict[str, str], label: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[field] = f"{label} must be a real date, like 2027-03-31"
        return None


def _checked(round_: models.Round, given: ActionInput) -> dict[str, Any]:
    """Check an action against its round; give its fields or raise SelfEvaluationError."""
    errors: dict[str, str] = {}
    if given.question_id not in QUESTIONS:
        errors["question"] = "Choose the question the action is about"
    text = _text(given.text, "text", errors, "The action")
    if not text:
        errors.setdefault("text", "Say what the action is")
    owner = _text(given.owner, "owner", errors, "The owner")
    if not owner:
        errors.setdefault("owner", "Give the action an owner: who will see it done")
    elif len(owner) > 200:
        errors["owner"] = "The owner must be 200 characters or fewer"
    due = _date(given.due_on, "due_on", errors, "The due date")
    opened = uk(round_.opens_at).date()
    if due is None:
        errors.setdefault("due_on", "Give the date the action is due")
    elif due < opened:
        errors["due_on"] = f"The due date must be on or after the round opened ({opened:%d %B %Y})"
    review = _date(given.review_on, "review_on", errors, "The review date")
    if review is not None and review < opened:
        errors["review_on"] = (
            f"The review date must be on or after the round opened ({opened:%d %B %Y})"
        )
    if given.status not in ACTION_STATUSES:
        errors["status"] = f"Unknown status {given.status!r}: use {', '.join(ACTION_STATUSES)}"
    if errors:
        raise SelfEvaluationError(errors)
    return {
        "question_id": given.question_id,
        "text": text,
        "owner": owner,
        "due_on": due,
        "status": given.status,
        "review_on": review,
    }


def add_action(
    session: Session, round_: models.Round, given: ActionInput, *, by: str
) -> models.EvaluationAction:
    """Add an action to a self-evaluation's plan; refuse one with no owner, no text, a due
    date before the round opened or an unknown status, saving nothing."""
    require(session, round_.id)
    action = models.EvaluationAction(
        round_id=round_.id,
        provider_id=round_.provider_id,
        updated_by=by[:254],
        **_checked(round_, given),
    )
    session.add(action)
    session.flush()
    return action


def update_action(
    session: Session, action: models.EvaluationAction, given: ActionInput, *, by: str
) -> models.EvaluationAction:
    """Change an action; refuse bad fields as `add_action` does, changing nothing."""
    for name, value in _checked(action.round, given).items():
        setattr(action, name, value)
    action.updated_by = by[:254]
    session.flush()
    return action


def actions_of(session: Session, round_id: int) -> list[models.EvaluationAction]:
    """List a self-evaluation's actions, in question order, then by due date."""
    found = session.scalars(
        select(models.EvaluationAction).where(models.EvaluationAction.round_id == round_id)
    ).all()
    order = list(QUESTIONS)
    return sorted(found, key=lambda a: (order.index(a.question_id), a.due_on, a.id))


def is_overdue(action: models.EvaluationAction, today: date) -> bool:
    """Tell whether an action is past its due date and neither done nor dropped."""
    return action.status not in FINISHED and action.due_on < today


def publish(
    session: Session,
    round_: models.Round,
    *,
    by: str,
    pdf: bytes | None = None,
    now: datetime | None = None,
) -> models.SelfEvaluation:
    """Publish a closed self-evaluation's perception-gap report: its funders may read it, and
    download `pdf` (rendered by the caller, as published)."""
    evaluation = require(session, round_.id)
    if round_.status != "closed":
        raise SelfEvaluationError(
            f"Round {round_.id} is {round_.status}: close it before publishing its report"
        )
    evaluation.published_at = now or utcnow()
    evaluation.published_by = by[:254]
    evaluation.pdf = pdf
    session.flush()
    return evaluation
