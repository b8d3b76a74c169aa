"""What erasing a person (a volunteer, a contact) does to the rows that name or reach them:
their messages in the outbox are blanked (unsent ones cancelled) and their free-text answers,
where people write names and circumstances, are deleted. Their choice answers stay, anonymous.

Every erasure is also written to the register of erasures (`register`): the record's kind and
id and when, nothing personal. The register is a table, written in the erasure's own
transaction, and a copy of each line is appended, once the transaction commits, to
`erasures.jsonl` in the backup folder (BACKUP_DIR). `tempcheck restore` reads both, the
database it replaces and the file, and erases again whatever a restored older backup brings
back (see `collector.backup`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from collector import db, models
from collector.models import utcnow
from collector.survey.model import QuestionType
from collector.survey.store import definition

log = logging.getLogger(__name__)

# What an erased message's recipient becomes.
ERASED = "erased"
# The kinds of record erasure applies to, as the register names them.
KINDS = ("volunteer", "contact")
# The register's copy in the backup folder: one JSON object a line.
REGISTER_FILE = "erasures.jsonl"
_PENDING = "tempcheck_erasures_to_log"


def register(session: Session, kind: str, record_id: int, *, now: datetime | None = None) -> None:
    """Write an erasure to the register (once per record; the first time stays)."""
    if kind not in KINDS:
        raise ValueError(f"no erasure of a {kind!r}")
    now = now or utcnow()
    added = db.upsert(
        session,
        models.Erasure,
        {"kind": kind, "record_id": record_id, "erased_at": now},
        ["kind", "record_id"],
    )
    if not added:
        return
    folder = db.backup_folder(session.get_bind())
    if folder is None:
        return
    if _PENDING not in session.info:
        session.info[_PENDING] = []
        event.listen(session, "after_commit", _append_pending)
        event.listen(session, "after_rollback", _forget_pending)
    session.info[_PENDING].append(
        (folder, {"kind": kind, "record_id": record_id, "erased_at": now.isoformat()})
    )


def _append_pending(session: Session) -> None:
    pending = session.info.get(_PENDING) or []
    session.info[_PENDING] = []
    for folder, entry in pending:
        try:
            append_to_file(folder / REGISTER_FILE, [entry])
        except OSError as error:
            # The table has it: only the copy beside the backups is missing.
            log.warning("could not copy an erasure to the register file: %s", error.strerror)


def _forget_pending(session: Session) -> None:
    session.info[_PENDING] = []


def append_to_file(path: Path, entries: Iterable[dict[str, Any]]) -> None:
    """Append entries to a register file, made readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def read_file(path: Path) -> list[tuple[str, int, datetime]]:
    """Read a register file: (kind, record id, when) for each well-formed line."""
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            kind, record_id = str(entry["kind"]), int(entry["record_id"])
            when = datetime.fromisoformat(entry["erased_at"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a full disk: the others still count
        if kind in KINDS and when.tzinfo is not None:
            found.append((kind, record_id, when))
    return found


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
