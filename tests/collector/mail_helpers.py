"""Shared by the outbox, dispatcher, round lifecycle and email delivery tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import flow, models
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.survey.model import QuestionType
from tests.factories import make_organisation, make_provider, make_round


def round_for(
    session: Session, organisations: int, *, open_now: bool = True, **overrides: Any
) -> models.Round:
    """Add a provider with `organisations` groups that agreed to email, and a round for them."""
    provider = make_provider(session)
    for _ in range(organisations):
        make_organisation(session, provider)
    return make_round(session, provider, open_now=open_now, **overrides)


def complete(session: Session, invitation: models.Invitation, **when: datetime) -> None:
    """Answer an invitation's survey with the simplest valid answers and send them."""
    response = flow.start(session, invitation, channel="web", **when)
    for _ in range(100):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView):
            break
        flow.answer(session, response, view.question_id, _simplest(view), **when)
    assert isinstance(flow.complete(session, response, **when), flow.DoneView)


def _simplest(view: flow.QuestionView) -> str | list[str] | None:
    values = [c.value for c in view.choices]
    if view.type == QuestionType.NOTE or not view.required:
        return None
    if view.type == QuestionType.MULTIPLE:
        return [values[0]]
    if view.type in (QuestionType.SINGLE, QuestionType.SCALE):
        return "no" if "no" in values else values[0]
    if view.type in (QuestionType.INTEGER, QuestionType.DECIMAL):
        return "3"
    return "Fine"


def messages(sessions: sessionmaker[Session], **where: Any) -> list[tuple[str, str, str, str]]:
    """Give (dedupe key, template, status, recipient) of every message, in id order."""
    with sessions() as session, session.begin():
        query = select(models.OutboxMessage).order_by(models.OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(models.OutboxMessage, name) == value)
        return [(m.dedupe_key, m.template, m.status, m.recipient) for m in session.scalars(query)]


class Recorder:
    """A transport that records what it would have sent, and fails for chosen addresses."""

    channel = "email"

    def __init__(self, on_send: Callable[[Outgoing], None] | None = None) -> None:
        self.sent: list[tuple[str, str]] = []  # (template, recipient)
        self.errors: dict[str, DeliveryError | Exception] = {}
        self.on_send = on_send
        self.closed = 0

    def describe(self) -> str:
        return "recorded"

    def render(self, message: Outgoing) -> dict[str, Any]:
        return {"to": message.recipient, "template": message.template, **message.data}

    def send(self, message: Outgoing, rendered: dict[str, Any]) -> None:
        if self.on_send is not None:
            self.on_send(message)
        error = self.errors.get(message.recipient)
        if error is not None:
            raise error
        assert rendered["to"] == message.recipient
        self.sent.append((message.template, message.recipient))

    def close(self) -> None:
        self.closed += 1
