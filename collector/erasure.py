"""What erasing a person (a volunteer, a contact) does to the rows that name or reach them:
their messages in the outbox are blanked (unsent ones cancelled) and their free-text answers,
where people write names and circumstances, are deleted. Their choice answers stay, anonymous.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from collector import models
from collector.survey.model import QuestionType
from collector.survey.store import definition

# What an erased message's recipient becomes.
ERASED = "erased"


def scrub_messages(
    session: Session, invitation_ids: list[int], addresses: set[str], reason: str
) -> tuple[int, int]:
    """Blank the outbox messages to someone erased (by their invitations or addresses),
    cancelling those not sent with `reason`; give (scrubbed, of which cancelled)."""
    message = models.OutboxMessage
    to_them = or_(message.invitation_id.in_(invitation_ids), message.recipient.in_(addresses))
    cancelled = session.execute(
        update(message)
        .where(to_them, message.status.in_(("pending", "sending")))
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )
    scrubbed = session.execute(
        update(message)
        .where(to_them)
        .values(recipient=ERASED, data={"erased": True})
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(getattr(scrubbed, "rowcount", 0) or 0), int(getattr(cancelled, "rowcount", 0) or 0)


def delete_free_text(session: Session, invitation_ids: list[int]) -> int:
    """Delete the text answers of the responses to these invitations; give how many."""
    if not invitation_ids:
        return 0
    responses = session.scalars(
        select(models.Response).where(models.Response.invitation_id.in_(invitation_ids))
    ).all()
    deleted = 0
    for response in responses:
        survey = definition(response.round.survey)
        text_ids = {q.id for q in survey.questions if q.type == QuestionType.TEXT}
        for answer in [a for a in response.answers if a.question_id in text_ids]:
            response.answers.remove(answer)  # delete-orphan: the row goes
            deleted += 1
    session.flush()
    return deleted
