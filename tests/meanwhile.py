"""A respondent answering while a report is published: on their own connection, giving up on a
lock after 1 s, from inside the PDF renderer (the seconds of publishing that must hold no lock).

Used by the tests of every way a report is published (the command line, the console): each
makes `Meanwhile` render its PDFs and asserts that every answer tried then was stored."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from collector import db, models
from collector.config import Settings
from tests.collector.mail_helpers import complete
from tests.factories import make_invitation, make_provider


@dataclass
class Meanwhile:
    """Answers an invitation each time a PDF renders, and keeps what happened."""

    engine: Engine
    invitation_ids: list[int]
    stored: list[int] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls, settings: Settings, monkeypatch: pytest.MonkeyPatch, answers: int = 4
    ) -> Meanwhile:
        """Add invitations of another provider's open round, and answer one of them whenever
        `analysis.render.pdf.report_pdf` is called, before it renders."""
        import analysis.render.pdf

        engine = db.make_engine(replace(settings, sqlite_busy_timeout_ms=1000))
        sessions = db.make_sessionmaker(engine)
        with db.transaction(sessions) as session:
            provider = make_provider(session, slug="meanwhile-cvs", name="Meanwhile CVS")
            ids = [make_invitation(session, provider=provider).id for _ in range(answers)]
        meanwhile = cls(engine, ids)
        render = analysis.render.pdf.report_pdf

        def rendering(*args: Any, **kwargs: Any) -> bytes:
            meanwhile.answer()
            return render(*args, **kwargs)

        monkeypatch.setattr(analysis.render.pdf, "report_pdf", rendering)
        return meanwhile

    def answer(self) -> None:
        """Answer the next invitation and send it, in a transaction of its own."""
        invitation_id = self.invitation_ids[len(self.stored) + len(self.blocked)]
        try:
            with db.transaction(db.make_sessionmaker(self.engine)) as session:
                invitation = session.get(models.Invitation, invitation_id)
                assert invitation is not None
                complete(session, invitation)
        except OperationalError as error:  # "database is locked": the publisher held it
            self.blocked.append(str(error.orig))
        else:
            self.stored.append(invitation_id)

    def close(self) -> None:
        self.engine.dispose()
