"""Build small response frames and rounds by hand, shaped exactly as analysis.frames loads them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import frames
from analysis.kpis.results import RoundRef
from collector import models
from collector.segments import SEGMENT_ATTRIBUTES
from collector.survey.model import NUMBER_TYPES, Survey

SEGMENT_KEYS = {
    "org_type": frames.ORG_TYPE,
    "income_band": frames.INCOME_BAND,
    "district": frames.DISTRICT,
    "outcomes": frames.OUTCOMES,
    "channel": frames.CHANNEL,
}
START = datetime(2025, 4, 1, tzinfo=UTC)


def round_ref(
    round_id: int,
    period: str = "2025/26 H1",
    *,
    months: int = 0,
    provider: str = "harlow-cvs",
    survey: str = "cvs-support",
    status: str = "closed",
) -> RoundRef:
    """Make a round of 42 days that opens `months` (of 30 days) after 1 April 2025."""
    opens = START + timedelta(days=30 * months)
    return RoundRef(
        id=round_id,
        provider=provider,
        provider_name=provider.replace("-", " ").title(),
        survey=survey,
        survey_version=1,
        period=period,
        status=status,
        opens_at=opens,
        closes_at=opens + timedelta(days=42),
    )


def response_frame(rows: Sequence[Mapping[str, object]], survey: Survey) -> pd.DataFrame:
    """Build a wide frame from rows of {question id: stored value, and round/org/segments}.

    Row keys besides question ids: round (int), org (int or None), provider, channel,
    org_type, income_band, district, outcomes, is_member. Response ids are 1, 2, 3...
    """
    index = pd.Index(np.arange(1, len(rows) + 1, dtype=np.int64), name=frames.RESPONSE_ID)
    columns: dict[str, object] = {}
    for question in survey.answerable_questions():
        values = [row.get(question.id) for row in rows]
        if question.type in NUMBER_TYPES:
            columns[question.id] = pd.Series(
                [np.nan if v is None else float(str(v)) for v in values], index=index,
                dtype=np.float64,
            )
        else:
            columns[question.id] = _objects(values, index)
    columns[frames.ROUND] = pd.Series([int(str(row["round"])) for row in rows], index=index,
                                      dtype=np.int64)
    columns[frames.PROVIDER] = pd.Series(
        pd.Categorical([str(row.get("provider", "harlow-cvs")) for row in rows]), index=index
    )
    columns[frames.ORGANISATION] = pd.Series(
        pd.array([row.get("org") for row in rows], dtype="Int64"), index=index
    )
    for key, column in SEGMENT_KEYS.items():
        default = "web" if key == "channel" else None
        columns[column] = _objects([row.get(key, default) for row in rows], index)
    columns[frames.IS_MEMBER] = pd.Series(
        pd.array([row.get("is_member") for row in rows], dtype="boolean"), index=index
    )
    return pd.DataFrame(columns, index=index)


def _objects(values: Iterable[object], index: pd.Index) -> pd.Series:
    array = np.empty(len(index), dtype=object)
    array[:] = list(values)
    return pd.Series(array, index=index, dtype=object)


def invitation_counts(rows: Sequence[tuple[int, str, str | None, int, int]]) -> pd.DataFrame:
    """Build invitation counts: (round, segment, key, invited, responded) rows."""
    return pd.DataFrame(
        rows, columns=[frames.ROUND, frames.SEGMENT, frames.KEY, frames.INVITED, frames.RESPONDED]
    ).astype({frames.ROUND: np.int64, frames.INVITED: np.int64, frames.RESPONDED: np.int64})


def store_response(
    session: Session,
    round_: models.Round,
    organisation: models.Organisation | None,
    answers: Mapping[str, str],
    *,
    channel: str = "web",
    status: str = "completed",
) -> models.Response:
    """Store a response with its answers directly (canonical stored values, skip logic obeyed
    by the caller), copying the organisation's segments as the flow does."""
    invitation = None
    if organisation is not None:
        invitation = session.scalar(
            select(models.Invitation).where(
                models.Invitation.round_id == round_.id,
                models.Invitation.organisation_id == organisation.id,
            )
        )
    when = round_.opens_at + timedelta(days=1)
    response = models.Response(
        round_id=round_.id,
        invitation_id=None if invitation is None else invitation.id,
        status=status,
        started_at=when,
        updated_at=when,
        completed_at=when if status == "completed" else None,
        channel=channel,
    )
    if organisation is not None:
        for attribute in SEGMENT_ATTRIBUTES:
            setattr(response, attribute, getattr(organisation, attribute))
    session.add(response)
    session.flush()
    for question_id, value in answers.items():
        session.add(models.Answer(response_id=response.id, question_id=question_id, value=value,
                                  answered_at=when))
    session.flush()
    return response
