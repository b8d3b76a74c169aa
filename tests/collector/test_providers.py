from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from tests.collector.conftest import Run


def _providers(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count(models.Provider.id))) or 0)


def test_a_provider_is_added_listed_and_audited(
    run: Run, session_factory: sessionmaker[Session]
) -> None:
    added = run("providers", "add", "harlow-cvs", "--name", "Harlow CVS", "--district", "Harlow")

    assert added.exit_code == 0, added.output
    assert "Added provider harlow-cvs (Harlow CVS)" in added.output
    listed = run("providers", "list")
    assert "harlow-cvs" in listed.output and "Harlow CVS" in listed.output
    with session_factory() as session:
        provider = session.scalars(select(models.Provider)).one()
        assert (provider.kind, provider.district) == ("cvs", "Harlow")
        event = session.scalars(select(models.AuditEvent)).one()
        assert (event.action, event.provider_id) == ("provider.add", provider.id)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Harlow CVS", "--name", "Harlow CVS"], "cannot be a slug"),
        (["x", "--name", "X"], "cannot be a slug"),
        (["audit", "--name", "Audit Ltd"], "a word the console uses"),
        (["harlow-cvs", "--name", "  "], "Give the provider a name"),
    ],
)
def test_bad_providers_are_refused_with_a_message_and_nothing_saved(
    run: Run, session_factory: sessionmaker[Session], args: list[str], message: str
) -> None:
    result = run("providers", "add", *args)

    assert result.exit_code == 1
    assert message in result.output
    assert _providers(session_factory) == 0


def test_a_slug_already_taken_is_refused(run: Run, session_factory: sessionmaker[Session]) -> None:
    run("providers", "add", "harlow-cvs", "--name", "Harlow CVS")

    again = run("providers", "add", "Harlow-CVS", "--name", "Another")

    assert again.exit_code == 1 and "already a provider called 'harlow-cvs'" in again.output
    assert _providers(session_factory) == 1
