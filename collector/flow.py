"""The answering engine that every channel (web, Telegram, terminal) drives.

A channel starts or resumes the response for an invitation, asks for the current view, shows
it, and passes raw input back. The response row holds all the state (`cursor` is the step
being shown, or None for "check your answers"), so any channel can pick up where another
stopped, and a process restart loses nothing.

Relevance is worked out in survey order from the answers of questions that are themselves
relevant, so an answer to a question that has become irrelevant never steers later skip
logic, and it is deleted when the response completes: it does not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar, cast

from sqlalchemy import CursorResult, Select, delete, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryContext, Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from collector import models, selfeval
from collector.db import upsert
from collector.delivery import chats, webhooks
from collector.errors import CollectorError, Conflict, NotFound
from collector.i18n import N_
from collector.models import utcnow
from collector.segments import SEGMENT_ATTRIBUTES
from collector.survey import expr
from collector.survey.model import AnswerError, Question, QuestionType, Survey
from collector.survey.store import definition

SelectT = TypeVar("SelectT", bound=Select[Any])

CHANNELS = ("web", "telegram", "terminal", "open_link")
NOT_ANSWERED = "Not answered"
MOVED_ON = N_("That question has moved on. Here is where you are now.")
ANSWER_BEFORE_SUBMITTING = "Answer this question before you submit your answers"


class AlreadyCompleted(Conflict):
    """The response was submitted already; nothing more can change it."""

    code = "already_completed"

    def __init__(self) -> None:
        super().__init__(N_("You have already answered this survey. Thank you."))


class StaleQuestion(Conflict):
    """An answer arrived for a question other than the one being asked (an old page or button)."""

    code = "stale_question"

    def __init__(self, message: str = MOVED_ON) -> None:
        super().__init__(message)


class AnsweredElsewhere(StaleQuestion):
    """An answer that was not saved: another device, tab or channel moved the response on first.

    Raised only when what was sent differs from what is stored, so a second click of the same
    answer is not a conflict (it is the same answer, taken once).
    """

    code = "answered_elsewhere"

    def __init__(self, question_id: str, *, answered: bool) -> None:
        if answered:
            message = (
                "This question was answered on another device or in another tab, so the "
                "answer you just gave was not saved. Here is where you are now: you can "
                "change any answer before you send them."
            )
        else:
            message = (
                "Your answers were changed on another device or in another tab, so the answer "
                "you just gave was not saved. Here is where you are now."
            )
        super().__init__(message)
        self.question_id = question_id
        self.answered = answered


class RoundNotOpen(CollectorError):
    """The round is not taking answers: not open yet, or closed."""

    status = 403

    def __init__(self, round_: models.Round, now: datetime) -> None:
        if round_.status == "draft" or now < round_.opens_at:
            code = "round_not_open_yet"
            message = N_("This survey opens on %(opens)s.")
        else:
            code = "round_closed"
            message = N_("This survey closed on %(closed)s. Thank you for your interest.")
        values = {"opens": round_.opens_at, "closed": round_.ends_at}
        super().__init__(message, code=code, values=values)
        self.round = round_


class OptedOut(CollectorError):
    """The organisation asked not to be surveyed."""

    code = "opted_out"
    status = 403

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Your organisation has asked not to receive these surveys, so we will not ask "
                "again."
            )
        )


@dataclass(frozen=True)
class ChoiceView:
    """One option of a choice question, as a channel shows it."""

    value: str
    label: str
    selected: bool
    exclusive: bool = False  # goes on its own: choosing it clears the others, and the reverse


@dataclass(frozen=True)
class QuestionView:
    """The step being asked: a question (or a note), with its progress and any error."""

    response_id: int
    question_id: str
    type: str
    label: str
    hint: str | None
    choices: tuple[ChoiceView, ...]
    required: bool
    position: int
    total: int
    value: str | None
    error: str | None
    language: str
    languages: tuple[str, ...]
    can_go_back: bool
    kind: str = "question"
    # Shown beside the question: in a self-evaluation reviewed by the other side, the first
    # side's ratings of it (collector.selfeval.beside).
    beside: tuple[str, ...] = ()

    @property
    def progress(self) -> str:
        """Say where the respondent is, e.g. 'Question 3 of 8'."""
        return f"Question {self.position} of {self.total}"


@dataclass(frozen=True)
class ReviewItem:
    """One line of "check your answers"."""

    question_id: str
    label: str
    answer: str
    answered: bool


@dataclass(frozen=True)
class ReviewView:
    """Every relevant question with its answer, before submitting."""

    response_id: int
    items: tuple[ReviewItem, ...]
    language: str
    languages: tuple[str, ...]
    kind: str = "review"


@dataclass(frozen=True)
class DoneView:
    """The response is complete."""

    response_id: int
    completed_at: datetime | None
    language: str
    kind: str = "done"


View = QuestionView | ReviewView | DoneView


# Starting and resuming --------------------------------------------------------------------


def start(
    session: Session,
    invitation: models.Invitation,
    *,
    channel: str,
    language: str | None = None,
    now: datetime | None = None,
) -> models.Response:
    """Start the response for an invitation, or resume the one it already has."""
    now = now or utcnow()
    existing = _response_for(session, invitation.id)
    if existing is not None and existing.status == "completed":
        return existing
    round_ = invitation.round
    ensure_invited(invitation, now=now)
    organisation = invitation.organisation
    if existing is not None:
        return existing
    survey = definition(round_.survey)
    response = models.Response(
        round_id=round_.id,
        invitation_id=invitation.id,
        channel=_channel(channel),
        language=_language(survey, language),
        started_at=now,
        updated_at=now,
        cursor=_first_step(survey),
    )
    if invitation.volunteer is not None:
        # A volunteer's follow-up: where they live is the segment (VAL 24 is by location).
        response.district = invitation.volunteer.district
        response.audience = "volunteer"
    elif invitation.contact is not None:
        # A partner, commissioner or representative: who they are and where they work.
        response.audience = invitation.contact.audience
        response.contact_org = invitation.contact.organisation
    elif organisation is not None:
        for attribute in SEGMENT_ATTRIBUTES:
            setattr(response, attribute, getattr(organisation, attribute))
        response.audience = "group"
    try:
        # Another tab or channel may be starting the same invitation right now: the unique
        # invitation_id lets exactly one insert win, and the loser resumes the winner's row.
        with session.begin_nested():
            session.add(response)
    except IntegrityError:
        winner = _response_for(session, invitation.id)
        if winner is None:
            raise
        return winner
    return response


def ensure_open(round_: models.Round, *, now: datetime | None = None) -> None:
    """Raise RoundNotOpen unless the round is taking answers now."""
    _check_open(round_, now or utcnow())


def ensure_invited(invitation: models.Invitation, *, now: datetime | None = None) -> None:
    """Raise RoundNotOpen or OptedOut when an invitation cannot be answered now."""
    _check_open(invitation.round, now or utcnow())
    recipient = invitation.recipient
    if recipient is not None and recipient.opted_out_at is not None:
        raise OptedOut()


def response_for(session: Session, invitation: models.Invitation) -> models.Response | None:
    """Give the invitation's response, if it has been started (in any channel)."""
    return _response_for(session, invitation.id)


def start_anonymous(
    session: Session,
    round_: models.Round,
    *,
    language: str | None = None,
    now: datetime | None = None,
) -> models.Response:
    """Start a response without an invitation, through a round's open link."""
    now = now or utcnow()
    if not round_.open_link:
        raise CollectorError("This survey has no open link", code="no_open_link", status=404)
    _check_open(round_, now)
    survey = definition(round_.survey)
    response = models.Response(
        round_id=round_.id,
        channel="open_link",
        language=_language(survey, language),
        started_at=now,
        updated_at=now,
        cursor=_first_step(survey),
    )
    # An open link names no one, but a round of one kind of contact says who answers it.
    asked = (round_.audience or {}).get("contacts") or []
    if len(asked) == 1:
        response.audience = asked[0]
    session.add(response)
    session.flush()
    return response


def set_language(session: Session, response: models.Response, language: str) -> View:
    """Switch the language the response is shown in."""
    survey = _survey(response)
    if language not in survey.languages:
        raise CollectorError(f"This survey is not available in {language!r}", code="bad_language")
    if response.status == "in_progress":
        _hold(session, response)
        _save(session, response, utcnow(), language=language)
    return view(session, response)


# Holding a response for a change ----------------------------------------------------------


def holding(statement: SelectT) -> SelectT:
    """Make a query that loads responses hold them for the rest of its transaction.

    The flow changes a response only while it holds its row: locked on PostgreSQL (FOR UPDATE
    OF responses, so the responses must not be on the nullable side of an outer join), and
    read under the write lock that SQLite's BEGIN IMMEDIATE takes. A response loaded by such a
    query is not read again by the flow in that transaction: a page that looks its respondent
    up this way changes the response with no statement but the change itself.
    """
    return statement.with_for_update(of=models.Response).execution_options(**{_HOLD: True})


# The execution option that marks a holding query, and where its session keeps what it holds.
_HOLD = "tempcheck_hold"


@event.listens_for(models.Response, "load")
def _loaded(response: models.Response, context: QueryContext) -> None:
    if context.query.get_execution_options().get(_HOLD):
        _held(context.session)[response.id] = context.session.get_transaction()


@event.listens_for(models.Response, "refresh")
def _refreshed(response: models.Response, context: QueryContext, _attrs: Any) -> None:
    _loaded(response, context)


def _held(session: Session) -> dict[int, object]:
    """Give the session's held responses: id to the transaction that holds it."""
    held: dict[int, object] = session.info.setdefault(_HOLD, {})
    return held


def _hold(session: Session, response: models.Response) -> None:
    """Hold the response's row (read afresh) for this transaction, unless it is held; refuse
    one that is no longer in progress.

    Holding the row means an answer can never land after a concurrent completion, and two
    tabs answering at once are taken one after the other, each seeing where the other left.
    """
    transaction = session.get_transaction()
    if transaction is None or _held(session).get(response.id) is not transaction:
        session.execute(
            holding(
                select(models.Response).where(models.Response.id == response.id)
            ).execution_options(populate_existing=True)
        ).one()
    if response.status != "in_progress":
        raise AlreadyCompleted()


def _save(session: Session, response: models.Response, now: datetime, **values: Any) -> None:
    """Change a held response: one UPDATE, and the same values on the object."""
    values["updated_at"] = now
    changed = _rowcount(
        session.execute(
            update(models.Response)
            .where(models.Response.id == response.id, models.Response.status == "in_progress")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        # The row is held, so nothing else can have completed it; say so rather than go on.
        raise AlreadyCompleted()
    for name, value in values.items():
        set_committed_value(response, name, value)


# Showing ----------------------------------------------------------------------------------


def view(
    session: Session,
    response: models.Response,
    *,
    _known: dict[str, str] | None = None,
    _error: str | None = None,
) -> View:
    """Give what the respondent should see now.

    An error (an answer refused) is never stored on the response: it belongs to the one
    request that sent the answer, so it is only in the view `answer` or `complete` returns.
    """
    if response.status == "completed":
        return DoneView(response.id, response.completed_at, response.language)
    survey = _survey(response)
    # `_known`: the stored answers, when the caller has just read (and written) them.
    stored = _stored(session, response) if _known is None else _known
    steps, effective = _walk(survey, stored)
    return _view(response, survey, steps, effective, stored, _error)


def _view(
    response: models.Response,
    survey: Survey,
    steps: list[Question],
    effective: dict[str, Any],
    stored: dict[str, str],
    error: str | None = None,
) -> View:
    """Give the view of an in-progress response from its walk."""
    if response.cursor is None:
        return _review(response, survey, steps, stored)
    question = survey.question(response.cursor)
    if not _is_step(steps, question):
        # Only an earlier answer changes relevance, and changing it moves the cursor there;
        # this guards against definitions edited under a draft round.
        following = _after(survey, steps, question)
        response.cursor = following[0].id if following else None
        return _view(response, survey, steps, effective, stored, error)
    return _question_view(response, survey, steps, effective, question, stored, error)


# Answering --------------------------------------------------------------------------------


def answer(
    session: Session,
    response: models.Response,
    question_id: str,
    raw: str | Sequence[str] | None,
    *,
    now: datetime | None = None,
    channel: str | None = None,
) -> View:
    """Record the answer to the current question and move on, or show why it was not taken.

    `channel`: where it was given (the response's starting channel when not said).
    """
    now = now or utcnow()
    _hold(session, response)
    _check_open(response.round, now)
    survey = _survey(response)
    stored = _stored(session, response)
    if response.cursor != question_id:
        _refuse_stale(survey, stored, question_id, raw)
    question = survey.question(question_id)
    before = stored.get(question_id)
    try:
        steps, effective = _walk(survey, stored, taking=question, raw=raw)
    except AnswerError as error:
        # Shown once, to whoever sent it: never stored, so another device never sees it.
        said = error.message_in(response.language)
        return view(session, response, _known=stored, _error=said)
    value = stored.get(question_id)
    if question.answerable and (value is not None or before is not None):
        _store(session, response, question_id, value, now, _channel(channel or response.channel))
    cursor = _next_step(survey, steps, question, stored, response.reached_review)
    _save(
        session,
        response,
        now,
        cursor=cursor,
        reached_review=response.reached_review or cursor is None,
    )
    return _view(response, survey, steps, effective, stored)


def back(session: Session, response: models.Response) -> View:
    """Go to the step before the current one."""
    _hold(session, response)
    survey = _survey(response)
    stored = _stored(session, response)
    steps, effective = _walk(survey, stored)
    if response.cursor is None:
        target = steps[-1] if steps else None
    else:
        question = survey.question(response.cursor)
        earlier = _before(survey, steps, question)
        target = earlier[-1] if earlier else None
    if target is not None:
        _save(session, response, utcnow(), cursor=target.id)
    return _view(response, survey, steps, effective, stored)


def change(session: Session, response: models.Response, question_id: str) -> View:
    """Go to a relevant question to change its answer (from "check your answers")."""
    _hold(session, response)
    survey = _survey(response)
    stored = _stored(session, response)
    steps, effective = _walk(survey, stored)
    if question_id not in {q.id for q in steps if q.answerable}:
        raise StaleQuestion()
    _save(session, response, utcnow(), cursor=question_id)
    return _view(response, survey, steps, effective, stored)


def go_to(session: Session, response: models.Response, question_id: str) -> View:
    """Go back to an earlier relevant question (a change link, or the browser's back button).

    Only the current question or one before it: a respondent cannot skip ahead this way.
    """
    survey = _survey(response)
    if response.status == "completed":
        raise AlreadyCompleted()
    stored = _stored(session, response)
    steps, effective = _walk(survey, stored)
    if response.cursor == question_id:
        return _view(response, survey, steps, effective, stored)
    target = next((q for q in steps if q.id == question_id and q.answerable), None)
    if target is None:
        raise StaleQuestion()
    if response.cursor is not None and not _is_step(
        _before(survey, steps, survey.question(response.cursor)), target
    ):
        raise StaleQuestion()
    return change(session, response, question_id)


def complete(
    session: Session,
    response: models.Response,
    *,
    now: datetime | None = None,
    channel: str | None = None,
) -> View:
    """Submit the response: exactly once, however many tabs, channels or threads try.

    `channel`: where it is sent from (the response's starting channel when not said). A chat
    that was answering it in Telegram and did not send it is told where it was finished.
    """
    now = now or utcnow()
    finished = _channel(channel or response.channel)
    _check_open(response.round, now)
    _hold(session, response)
    survey = _survey(response)
    stored = _stored(session, response)
    steps, effective = _walk(survey, stored)
    missing = [q for q in steps if q.answerable and q.required and q.id not in stored]
    if missing:
        _save(session, response, now, cursor=missing[0].id)
        return _view(response, survey, steps, effective, stored, ANSWER_BEFORE_SUBMITTING)
    # Held, so no other tab, channel or thread can be submitting it too: the second to come
    # finds it completed (`_hold` refuses it).
    _save(
        session,
        response,
        now,
        status="completed",
        completed_at=now,
        cursor=None,
        finished_channel=finished,
    )
    if finished != "telegram" and response.invitation_id is not None:
        chats.tell_finished_elsewhere(session, response)
    webhooks.emit(
        session,
        "response.completed",
        provider_id=response.round.provider_id,
        subject=f"response-{response.id}",
        payload={
            "response": {
                "id": response.id,
                "round_id": response.round_id,
                "channel": response.channel,
                "finished_channel": finished,
                "completed_at": now.isoformat(),
            }
        },
    )
    counted = {q.id for q in steps if q.answerable}
    if not counted.issuperset(stored):
        session.execute(
            delete(models.Answer).where(
                models.Answer.response_id == response.id, models.Answer.question_id.not_in(counted)
            )
        )
    return view(session, response)


def answers(session: Session, response: models.Response) -> dict[str, Any]:
    """Give the response's stored answers, decoded, keyed by question id."""
    survey = _survey(response)
    return {qid: survey.question(qid).decode(v) for qid, v in _stored(session, response).items()}


# Internals --------------------------------------------------------------------------------


def _response_for(session: Session, invitation_id: int) -> models.Response | None:
    return session.scalar(
        select(models.Response).where(models.Response.invitation_id == invitation_id)
    )


def _refuse_stale(
    survey: Survey, stored: dict[str, str], question_id: str, raw: str | Sequence[str] | None
) -> NoReturn:
    """Refuse an answer to a question other than the current one, saying whether it was lost.

    The same answer sent again (a double click, a resent form) is not a conflict: it is
    already stored. Anything else would be dropped, so the respondent is told.
    """
    try:
        question = survey.question(question_id)
    except NotFound:
        raise StaleQuestion() from None
    if not question.answerable:
        raise StaleQuestion()  # a note: nothing was given, so nothing is lost
    _, effective = _walk(survey, stored)
    try:
        value = question.validate(raw, effective)
    except AnswerError:
        raise AnsweredElsewhere(question_id, answered=question_id in stored) from None
    if stored.get(question_id) == value:
        raise StaleQuestion()
    raise AnsweredElsewhere(question_id, answered=question_id in stored)


def _check_open(round_: models.Round, now: datetime) -> None:
    if round_.status != "open" or not (round_.opens_at <= now < round_.closes_at):
        raise RoundNotOpen(round_, now)


def _rowcount(result: Any) -> int:
    """Give how many rows an UPDATE matched (a CursorResult; typed loosely by SQLAlchemy)."""
    return int(cast(CursorResult[Any], result).rowcount)


def _survey(response: models.Response) -> Survey:
    return definition(response.round.survey)


def _stored(session: Session, response: models.Response) -> dict[str, str]:
    rows = session.execute(
        select(models.Answer.question_id, models.Answer.value).where(
            models.Answer.response_id == response.id
        )
    )
    return {qid: value for qid, value in rows}


def _store(
    session: Session,
    response: models.Response,
    question_id: str,
    value: str | None,
    now: datetime,
    channel: str,
) -> None:
    if value is None:
        session.execute(
            delete(models.Answer).where(
                models.Answer.response_id == response.id, models.Answer.question_id == question_id
            )
        )
        return
    upsert(
        session,
        models.Answer,
        {
            "response_id": response.id,
            "question_id": question_id,
            "value": value,
            "answered_at": now,
            "channel": channel,
        },
        ["response_id", "question_id"],
        update={"value": value, "answered_at": now, "channel": channel},
    )


def _walk(
    survey: Survey,
    stored: dict[str, str],
    *,
    taking: Question | None = None,
    raw: str | Sequence[str] | None = None,
) -> tuple[list[Question], dict[str, Any]]:
    """Give the relevant steps in order, and the answers that count, given stored answers.

    `taking`: the question being answered, `raw` what was sent. It is validated on the way,
    against the answers before it (a condition refers only to questions before its own, or to
    itself), and its value goes into `stored` before the questions after it are walked, so
    answering walks the survey once. Raises AnswerError, leaving `stored` as it was.
    """
    steps: list[Question] = []
    effective: dict[str, Any] = {}
    for question in survey.questions:
        relevant = question.relevant_node is None or expr.evaluate(
            question.relevant_node, effective
        )
        if relevant and question.answerable and question.id in stored:
            effective[question.id] = question.decode(stored[question.id])
        if question is taking and question.answerable:
            value = question.validate(raw, effective)
            effective.pop(question.id, None)
            if value is None:
                stored.pop(question.id, None)
            else:
                stored[question.id] = value
                if relevant:
                    effective[question.id] = question.decode(value)
        if relevant:
            steps.append(question)
    return steps, effective


def _unknown(node: expr.Node, answers: dict[str, Any], pending: set[str]) -> bool | None:
    """Evaluate a condition in three-valued logic: None when it hangs on a pending answer."""
    if isinstance(node, expr.And | expr.Or):
        left = _unknown(node.left, answers, pending)
        right = _unknown(node.right, answers, pending)
        decisive = isinstance(node, expr.Or)  # True decides an or, False decides an and
        if decisive in (left, right):
            return decisive
        return None if None in (left, right) else not decisive
    if isinstance(node, expr.Not):
        inner = _unknown(node.operand, answers, pending)
        return None if inner is None else not inner
    if expr.references(node) & pending:
        return None
    return expr.evaluate(node, answers)


def _first_step(survey: Survey) -> str | None:
    steps, _ = _walk(survey, {})
    return steps[0].id if steps else None


def _next_step(
    survey: Survey,
    steps: list[Question],
    current: Question,
    stored: dict[str, str],
    reached_review: bool,
) -> str | None:
    following = _after(survey, steps, current)
    if reached_review:
        # Changing an answer from "check your answers": ask only what is now missing.
        following = [q for q in following if q.answerable and q.required and q.id not in stored]
    return following[0].id if following else None


def _is_step(steps: list[Question], question: Question) -> bool:
    return any(q is question for q in steps)


def _before(survey: Survey, steps: list[Question], question: Question) -> list[Question]:
    """Give the steps before `question` in the survey (it need not be a step itself)."""
    later = {q.id for q in survey.questions[survey.questions.index(question) :]}
    return [q for q in steps if q.id not in later]


def _after(survey: Survey, steps: list[Question], question: Question) -> list[Question]:
    """Give the steps after `question` in the survey (it need not be a step itself)."""
    earlier = {q.id for q in survey.questions[: survey.questions.index(question) + 1]}
    return [q for q in steps if q.id not in earlier]


def _question_view(
    response: models.Response,
    survey: Survey,
    steps: list[Question],
    effective: dict[str, Any],
    question: Question,
    stored: dict[str, str],
    error: str | None,
) -> QuestionView:
    lang = response.language
    here = next(n for n, q in enumerate(steps) if q is question)
    answerable = [q for q in steps if q.answerable]
    # Count questions that may yet become relevant once the questions they depend on are
    # answered, so that the total does not jump up mid-survey.
    asked = {q.id for q in steps}
    pending = {q.id for q in steps if q.answerable and q.id not in stored}
    # A question that may become relevant is itself still pending for the ones after it
    # (capacity_increased hangs on support_kinds, which hangs on used_support): repeat
    # until nothing more is added.
    maybe: list[Question] = []
    growing = True
    while growing:
        growing = False
        for q in survey.questions:
            if (
                q.answerable
                and q.id not in asked
                and q.id not in pending
                and q.relevant_node is not None
                and _unknown(q.relevant_node, effective, pending) is None
            ):
                maybe.append(q)
                pending.add(q.id)
                growing = True
    position = sum(1 for q in steps[:here] if q.answerable) + (1 if question.answerable else 0)
    value = stored.get(question.id)
    selected = set(value.split()) if value and question.type == QuestionType.MULTIPLE else {value}
    beside: tuple[str, ...] = ()
    session = object_session(response)
    if survey.id == selfeval.SURVEY_ID and session is not None:
        beside = selfeval.beside(session, response, question.id)
    return QuestionView(
        response_id=response.id,
        question_id=question.id,
        type=str(question.type),
        label=question.label.get(lang),
        hint=question.hint.get(lang) if question.hint else None,
        choices=tuple(
            ChoiceView(c.value, c.label.get(lang), c.value in selected, c.exclusive)
            for c in question.choices
        ),
        required=question.required,
        position=max(position, 1),
        total=len(answerable) + len(maybe),
        value=value,
        error=error,
        language=lang,
        languages=tuple(survey.languages),
        can_go_back=here > 0,
        beside=beside,
    )


def _review(
    response: models.Response, survey: Survey, steps: list[Question], stored: dict[str, str]
) -> ReviewView:
    lang = response.language
    items = []
    for question in steps:
        if not question.answerable:
            continue
        value = stored.get(question.id)
        items.append(
            ReviewItem(
                question.id,
                question.label.get(lang),
                display(question, value, lang),
                value is not None,
            )
        )
    return ReviewView(response.id, tuple(items), lang, tuple(survey.languages))


def display(question: Question, value: str | None, language: str = "en") -> str:
    """Give an answer as a person reads it: choice labels, not stored values."""
    if value is None:
        return NOT_ANSWERED
    if question.is_choice:
        labels = [question.choice(v).label.get(language) for v in value.split()]
        return ", ".join(labels)
    return value


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise CollectorError(f"Unknown channel {channel!r}", code="bad_channel")
    return channel


def _language(survey: Survey, language: str | None) -> str:
    return language if language in survey.languages else survey.languages[0]
