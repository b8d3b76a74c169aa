"""Survey definitions in the database: registered per version, frozen once a round uses one."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models
from collector.errors import CollectorError
from collector.survey.loader import survey_from_dict
from collector.survey.model import Survey


class SurveyChanged(CollectorError):
    """A frozen survey version was edited instead of given a new version."""

    code = "survey_frozen"
    status = 409


def register(session: Session, survey: Survey) -> models.Survey:
    """Store `survey` under its id and version, or return the stored row if it is the same."""
    fingerprint = survey.fingerprint()
    row = session.scalar(
        select(models.Survey).where(
            models.Survey.slug == survey.id, models.Survey.version == survey.version
        )
    )
    if row is None:
        row = models.Survey(
            slug=survey.id,
            version=survey.version,
            title=survey.title.get("en"),
            definition=survey.to_dict(),
            fingerprint=fingerprint,
        )
        session.add(row)
        session.flush()
        return row
    if row.fingerprint != fingerprint:
        if row.frozen_at is not None:
            raise SurveyChanged(
                f"Survey {survey.id} version {survey.version} is used by a round and frozen; "
                "its definition has changed since. Give the changed definition a new version."
            )
        row.definition = survey.to_dict()
        row.fingerprint = fingerprint
        row.title = survey.title.get("en")
        session.flush()
    return row


class StoredDefinition(Protocol):
    """What a stored survey version's definition is read from: a row or a query's row."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def definition(self) -> dict[str, Any]: ...


def definition(row: StoredDefinition) -> Survey:
    """Give the in-memory survey of a stored version (parsed once per fingerprint)."""
    survey = _parsed.get(row.fingerprint)
    if survey is None:
        survey = _parsed[row.fingerprint] = survey_from_dict(row.definition)
    return survey


# Survey versions are few and never change under a fingerprint, so this stays small.
_parsed: dict[str, Survey] = {}
