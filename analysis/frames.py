"""Load survey answers from SQL into tidy pandas frames (the load layer of ``analysis``).

Every query here is one SQLAlchemy Core ``select`` executed once, with its filters (rounds,
completed responses, the questions wanted) in the SQL; nothing goes through the ORM row by row.

The KPI engine reads one shape, :func:`load_kpi_frame`: one row per completed response of
only the rounds a report needs, with

- one column per question the report reads, named by the question id, typed for the condition
  language (see :mod:`analysis.conditions`) and for counting: integer and decimal questions as
  float64 with NaN for unanswered; choice, scale and text questions as categoricals with NaN for
  unanswered; a multiple-choice answer as its selected values joined by single spaces, in the
  order the survey lists them (the XLSForm convention, which ``selected()`` and
  ``count-selected()`` read);
- the response's round, provider (slug), organisation (id), channel and the segment
  attributes copied from its organisation when it started (type, income band, district,
  outcome areas as space-separated slugs, membership).

It is read from the driver's cursor in chunks, so that a million responses load in seconds and
a few hundred MiB.

The columns that are not questions start with ``@`` (``@round``, ``@org_type``): a question id
cannot contain ``@`` or ``:``, so no question can clash with them. Use the constants below, not
the strings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, Select, func, select

from collector import models
from collector.survey.model import NUMBER_TYPES, Question, Survey
from collector.survey.store import definition

# --- column names --------------------------------------------------------------------------

RESPONSE_ID = "response_id"  # the index of the wide frame, a column of the long one
QUESTION_ID = "question_id"
VALUE = "value"

ROUND = "@round"
PROVIDER = "@provider"  # the provider's slug
ORGANISATION = "@organisation"  # organisation id; NA for open-link responses
CHANNEL = "@channel"
ORG_TYPE = "@org_type"
INCOME_BAND = "@income_band"
DISTRICT = "@district"
OUTCOMES = "@outcomes"  # space-separated outcome slugs, as on the organisation
IS_MEMBER = "@is_member"
AUDIENCE = "@audience"  # who answered: group, volunteer, partner, commissioner, representative
CONTACT_ORG = "@contact_org"  # a contact's organisation (partners, commissioners)
LANGUAGE = "@language"  # the language the survey was answered in (answers are codes in any)

# The segments a result can be broken down by: the name people type -> the frame column.
SEGMENTS: dict[str, str] = {
    "org_type": ORG_TYPE,
    "income_band": INCOME_BAND,
    "district": DISTRICT,
    "outcomes": OUTCOMES,
    "channel": CHANNEL,
    "is_member": IS_MEMBER,
}
# Segments a KPI may name in its `breakdowns` (and `tempcheck kpi --by` may ask for), but that
# are not computed for every KPI by default: who answered, a contact's organisation, the language.
ALL_SEGMENTS: dict[str, str] = {
    **SEGMENTS,
    "audience": AUDIENCE,
    "contact_org": CONTACT_ORG,
    "language": LANGUAGE,
}
# Segments whose value is a set (a response counts in each of its values), not one value.
MULTI_VALUED_SEGMENTS = frozenset({"outcomes"})

# Columns of the rounds table (load_rounds).
ROUND_ID = "round_id"
PROVIDER_ID = "provider_id"
PROVIDER_SLUG = "provider"
PROVIDER_NAME = "provider_name"
SURVEY_SLUG = "survey"
SURVEY_VERSION = "survey_version"
SURVEY_ROW = "survey_row_id"
PERIOD = "period"
OPENS_AT = "opens_at"
CLOSES_AT = "closes_at"
STATUS = "status"
ROUND_KIND = "round_kind"
CLOSED_AT = "closed_at"  # when a round was closed (before its close date, if closed early)

# Columns of the invitation counts (load_invitation_counts).
SEGMENT = "segment"
KEY = "key"
INVITED = "invited"
RESPONDED = "responded"

_ROUNDS = models.Round.__table__
_PROVIDERS = models.Provider.__table__
_SURVEYS = models.Survey.__table__
_RESPONSES = models.Response.__table__
_INVITATIONS = models.Invitation.__table__
_ANSWERS = models.Answer.__table__


# --- rounds --------------------------------------------------------------------------------


def load_rounds(
    connection: Connection,
    *,
    round_ids: Collection[int] | None = None,
    providers: Collection[str] | None = None,
    surveys: Collection[str] | None = None,
) -> pd.DataFrame:
    """Load rounds with their provider and survey, one row per round, oldest first."""
    # Core tables, not the ORM's classes: a report needs no mapped objects, and configuring
    # the mappers would cost more than the query.
    r, p, s = _ROUNDS.c, _PROVIDERS.c, _SURVEYS.c
    query = (
        select(
            r.id.label(ROUND_ID),
            p.id.label(PROVIDER_ID),
            p.slug.label(PROVIDER_SLUG),
            p.name.label(PROVIDER_NAME),
            s.slug.label(SURVEY_SLUG),
            s.version.label(SURVEY_VERSION),
            s.id.label(SURVEY_ROW),
            r.period_label.label(PERIOD),
            r.opens_at.label(OPENS_AT),
            r.closes_at.label(CLOSES_AT),
            r.status.label(STATUS),
            r.kind.label(ROUND_KIND),
            r.closed_at.label(CLOSED_AT),
        )
        .select_from(_ROUNDS)
        .join(_PROVIDERS, r.provider_id == p.id)
        .join(_SURVEYS, r.survey_id == s.id)
        .order_by(r.opens_at, r.id)
    )
    if round_ids is not None:
        query = query.where(r.id.in_(list(round_ids)))
    if providers is not None:
        query = query.where(p.slug.in_(list(providers)))
    if surveys is not None:
        query = query.where(s.slug.in_(list(surveys)))
    rows = connection.execute(query).all()
    columns = [
        ROUND_ID,
        PROVIDER_ID,
        PROVIDER_SLUG,
        PROVIDER_NAME,
        SURVEY_SLUG,
        SURVEY_VERSION,
        SURVEY_ROW,
        PERIOD,
        OPENS_AT,
        CLOSES_AT,
        STATUS,
        ROUND_KIND,
        CLOSED_AT,
    ]
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def load_definitions(connection: Connection, survey_row_ids: Iterable[int]) -> dict[int, Survey]:
    """Load the frozen survey definitions by their row id."""
    ids = sorted(set(survey_row_ids))
    if not ids:
        return {}
    s = _SURVEYS.c
    rows = connection.execute(select(s.id, s.fingerprint, s.definition).where(s.id.in_(ids))).all()
    surveys: dict[int, Survey] = {}
    for row in rows:
        surveys[row.id] = definition(row)
    return surveys


# --- responses and answers -----------------------------------------------------------------


def _response_query(
    round_ids: Collection[int], wanted: Sequence[Question] = (), *, pivot: bool = False
) -> Select[*tuple[Any, ...]]:
    """Select the completed responses of some rounds with their segments, and one column per
    question wanted: its answer, so that the database pivots and each response arrives as one
    row.

    Two ways to pivot, the same rows: a LEFT JOIN on the answers' unique (response, question)
    index per question (SQLite looks each up in the index, the fastest there), or, with
    `pivot`, one pass over those responses' answers grouped by response, a column per question
    (PostgreSQL would otherwise hash-join the whole answers table once per question).
    """
    resp, inv = _RESPONSES.c, _INVITATIONS.c
    chosen = resp.round_id.in_(list(round_ids)) & (resp.status == "completed")
    joined = _RESPONSES.outerjoin(_INVITATIONS, resp.invitation_id == inv.id)
    answers: list[Any] = []
    if pivot and wanted:
        a = _ANSWERS.c
        pivoted = (
            select(
                a.response_id,
                *(
                    func.max(a.value).filter(a.question_id == question.id).label(f"q{n}")
                    for n, question in enumerate(wanted)
                ),
            )
            .where(
                a.response_id.in_(select(resp.id).where(chosen)),
                a.question_id.in_([question.id for question in wanted]),
            )
            .group_by(a.response_id)
            .subquery("pivoted")
        )
        joined = joined.outerjoin(pivoted, pivoted.c.response_id == resp.id)
        answers = [pivoted.c[f"q{n}"] for n in range(len(wanted))]
    else:
        for n, question in enumerate(wanted):
            answer = _ANSWERS.alias(f"a{n}")
            joined = joined.outerjoin(
                answer, (answer.c.response_id == resp.id) & (answer.c.question_id == question.id)
            )
            answers.append(answer.c.value)
    return (
        select(
            resp.id,
            resp.round_id,
            inv.organisation_id,
            resp.channel,
            resp.org_type,
            resp.income_band,
            resp.district,
            resp.outcomes,
            resp.is_member,
            resp.audience,
            resp.contact_org,
            resp.language,
            *answers,
        )
        .select_from(joined)
        .where(chosen)
    )


_RESPONSE_FIELDS = 12  # the columns of _response_query, in order


def _provider_slugs(connection: Connection, round_ids: Collection[int]) -> dict[int, str]:
    r, p = _ROUNDS.c, _PROVIDERS.c
    rows = connection.execute(
        select(r.id, p.slug)
        .select_from(_ROUNDS)
        .join(_PROVIDERS, r.provider_id == p.id)
        .where(r.id.in_(list(round_ids)))
    ).all()
    return {int(round_id): str(slug) for round_id, slug in rows}


def _typed(question: Question, stored: pd.Series) -> pd.Series:
    """Type one question's stored answers for the condition language (see the module doc)."""
    if question.type in NUMBER_TYPES:
        return pd.to_numeric(stored, errors="coerce").astype(np.float64)
    return stored.astype(object).where(stored.notna(), None)


def _wanted(survey: Survey, questions: Collection[str] | None) -> list[Question]:
    return [q for q in survey.answerable_questions() if questions is None or q.id in questions]


# --- the typed frame the KPI engine reads --------------------------------------------------

# Rows are read from the driver in chunks of this many, so that a million responses never
# exist as a million Python tuples at once.
FETCH_CHUNK = 50_000


class _Codes:
    """Dictionary-encode one column chunk by chunk: a code per row, and the values seen."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.chunks: list[npt.NDArray[np.int32]] = []

    def add(self, values: npt.NDArray[np.object_]) -> None:
        codes, uniques = pd.factorize(np.ascontiguousarray(values), use_na_sentinel=True)
        lookup = np.array(
            [self.index.setdefault(value, len(self.index)) for value in uniques.tolist()] + [-1],
            dtype=np.int32,
        )
        self.chunks.append(lookup[codes])  # code -1 (missing) takes the last entry, -1

    def categorical(self) -> pd.Categorical:
        codes = np.concatenate(self.chunks) if self.chunks else np.empty(0, dtype=np.int32)
        return pd.Categorical.from_codes(codes, categories=pd.Index(list(self.index), dtype=object))


def load_kpi_frame(
    connection: Connection,
    survey: Survey,
    round_ids: Collection[int],
    questions: Collection[str],
) -> pd.DataFrame:
    """Load the typed wide frame the KPI engine reads: only these rounds and these questions.

    One query: the completed responses, with one LEFT JOIN on the answers' (response, question)
    index per question wanted, so that the database pivots and each response arrives as one
    row. Typed columns: choice, scale and text answers and every segment as categoricals (missing
    values are NaN, not None), numeric answers as float64, the round as int64, the organisation
    as Int64 and membership as boolean. Rows come from the driver's cursor in chunks and are
    dictionary-encoded as they come, so no column of Python objects is ever built.
    """
    wanted = _wanted(survey, questions)
    query = _response_query(round_ids, wanted, pivot=connection.dialect.name == "postgresql")
    width = _RESPONSE_FIELDS + len(wanted)
    ids: list[npt.NDArray[np.int64]] = []
    rounds: list[npt.NDArray[np.int64]] = []
    organisations: list[npt.NDArray[np.float64]] = []
    members: list[npt.NDArray[np.float64]] = []
    strings = {column: _Codes() for column in (CHANNEL, ORG_TYPE, INCOME_BAND, DISTRICT, OUTCOMES)}
    contact_strings = {column: _Codes() for column in (AUDIENCE, CONTACT_ORG, LANGUAGE)}
    answers = [_Codes() for _ in wanted]
    cursor = _raw_cursor(connection, query)
    while rows := cursor.fetchmany(FETCH_CHUNK):
        block = np.empty((len(rows), width), dtype=object)
        block[:] = rows  # one pass in C, where transposing the tuples in Python costs ten
        ids.append(block[:, 0].astype(np.int64))
        rounds.append(block[:, 1].astype(np.int64))
        organisations.append(_numbers(block[:, 2]))
        members.append(_numbers(block[:, 8]))
        for n, codes in enumerate(strings.values(), start=3):
            codes.add(block[:, n])
        for n, codes in enumerate(contact_strings.values(), start=9):
            codes.add(block[:, n])
        for n, codes in enumerate(answers, start=_RESPONSE_FIELDS):
            codes.add(block[:, n])
    cursor.close()
    index = pd.Index(_joined(ids, np.int64), name=RESPONSE_ID)
    round_array = _joined(rounds, np.int64)
    providers = _provider_slugs(connection, round_ids)
    slugs = sorted(set(providers.values()))
    lookup = {round_id: slugs.index(slug) for round_id, slug in providers.items()}
    provider_codes = np.array([lookup[r] for r in np.unique(round_array).tolist()] or [0])
    data: dict[str, Any] = {}
    for question, codes in zip(wanted, answers, strict=True):
        stored = codes.categorical()
        if question.type in NUMBER_TYPES:
            objects = pd.Series(np.asarray(stored.astype(object)), index=index, dtype=object)
            data[question.id] = _typed(question, objects).to_numpy()
        else:
            data[question.id] = stored
    rounds_seen = np.unique(round_array)
    data[ROUND] = round_array
    data[PROVIDER] = (
        pd.Categorical.from_codes(
            provider_codes[np.searchsorted(rounds_seen, round_array)], categories=slugs
        )
        if len(round_array)
        else pd.Categorical([], categories=slugs)
    )
    organisation = _joined(organisations, np.float64)
    unknown = np.isnan(organisation)
    data[ORGANISATION] = pd.arrays.IntegerArray(
        np.where(unknown, 0, organisation).astype(np.int64), unknown
    )
    for column, codes in (strings | contact_strings).items():
        data[column] = codes.categorical()
    member = _joined(members, np.float64)
    data[IS_MEMBER] = pd.arrays.BooleanArray(member == 1, np.isnan(member))
    return pd.DataFrame(data, index=index)


def _raw_cursor(connection: Connection, query: Select[Any]) -> Any:
    """Run `query` on a DB-API cursor of the connection's own: SQLAlchemy's rows would cost more
    than the whole evaluation. On PostgreSQL a server-side cursor, so that the rows come over in
    chunks as they are read, rather than all into the client's memory at once (SQLAlchemy's own
    streaming buffers rows ahead of its cursor, which this reads directly)."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql":
        return connection.execute(query).cursor
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    cursor = dbapi_connection.cursor(name="tempcheck_kpi_frame")
    cursor.itersize = FETCH_CHUNK
    statement, parameters = str(compiled), compiled.params
    # Tell the engine's listeners (logging, statement counters) as its own execute would.
    connection.dispatch.before_cursor_execute(
        connection, cursor, statement, parameters, None, False
    )
    cursor.execute(statement, parameters)
    return cursor


def _numbers(values: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Give whole numbers or booleans as floats, NaN for None."""
    missing = pd.isna(values)
    return np.where(missing, np.nan, np.where(missing, 0, values).astype(np.float64))


def _joined(chunks: list[Any], dtype: Any) -> Any:
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=dtype)


# --- invitations ---------------------------------------------------------------------------


def load_invitation_counts(connection: Connection, round_ids: Collection[int]) -> pd.DataFrame:
    """Count invitations and completed responses per round, segment and value, in SQL.

    One row per (round, segment, value): ``@round, segment, key, invited, responded``, with
    segment ``all`` (key None) for the round as a whole. Segments are the organisation's
    current record (an invitation never answered has no copy on a response); responses
    through an open link have no invitation and are not counted. A volunteer's invitation (a
    placement follow-up) has the volunteer's district and no organisation segments; a contact's
    (a partner, commissioner or representative) counts in the round's total only. Two GROUP
    BYs: one over the single-valued segments together, one over outcome sets (split here, as a
    group counts in each of its outcome areas).
    """
    inv, org, resp = _INVITATIONS.c, models.Organisation.__table__.c, _RESPONSES.c
    vol = models.Volunteer.__table__.c
    district = func.coalesce(org.district, vol.district)
    counted = (func.count(inv.id), func.count(resp.id))

    def grouped(*keys: Any) -> list[Any]:
        query = (
            select(inv.round_id, *keys, *counted)
            .select_from(_INVITATIONS)
            .outerjoin(models.Organisation.__table__, inv.organisation_id == org.id)
            .outerjoin(models.Volunteer.__table__, inv.volunteer_id == vol.id)
            .where(
                (inv.organisation_id.is_not(None))
                | (inv.volunteer_id.is_not(None))
                | (inv.contact_id.is_not(None))
            )
            .outerjoin(_RESPONSES, (resp.invitation_id == inv.id) & (resp.status == "completed"))
            .where(inv.round_id.in_(list(round_ids)))
            .group_by(inv.round_id, *keys)
        )
        return list(connection.execute(query).all())

    single = pd.DataFrame(
        [tuple(row) for row in grouped(org.org_type, org.income_band, district, org.is_member)],
        columns=[ROUND, "org_type", "income_band", "district", "is_member", INVITED, RESPONDED],
    )
    single["is_member"] = [
        None if v is None else ("member" if v else "not_member") for v in single["is_member"]
    ]
    parts = [
        single.groupby(ROUND, as_index=False)[[INVITED, RESPONDED]]
        .sum()
        .assign(**{SEGMENT: "all", KEY: None})
    ]
    for segment in ("org_type", "income_band", "district", "is_member"):
        keyed = single.assign(**{KEY: single[segment].astype(object).fillna("")})
        summed = keyed.groupby([ROUND, KEY], as_index=False)[[INVITED, RESPONDED]].sum()
        parts.append(summed.assign(**{SEGMENT: segment}))
    outcome_rows = []
    for round_id, outcomes, invited, responded in grouped(org.outcomes):
        for key in (outcomes or "").split() or [""]:
            outcome_rows.append((round_id, key, invited, responded))
    outcome_frame = pd.DataFrame(outcome_rows, columns=[ROUND, KEY, INVITED, RESPONDED])
    parts.append(
        outcome_frame.groupby([ROUND, KEY], as_index=False)[[INVITED, RESPONDED]]
        .sum()
        .assign(**{SEGMENT: "outcomes"})
    )
    counts = pd.concat(parts, ignore_index=True)[[ROUND, SEGMENT, KEY, INVITED, RESPONDED]]
    counts[KEY] = counts[KEY].astype(object).where(counts[KEY].astype(object) != "", None)
    for column in (ROUND, INVITED, RESPONDED):
        counts[column] = counts[column].astype(np.int64)
    return counts


def as_utc(value: datetime) -> pd.Timestamp:
    """Give a timestamp in UTC, whether the datetime came aware or naive (taken as UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# --- volunteering records (VAL 25, 26) -----------------------------------------------------

# Columns of load_enquiries and load_placements (one row per record).
RECORD_PROVIDER = "provider"  # the provider's slug
ENQUIRED_ON = "enquired_on"
ENQUIRY_DISTRICT = "district"
OUTCOME = "outcome"
VOLUNTEER = "volunteer_id"  # None when the enquiry has no volunteer linked
STARTS_ON = "starts_on"
PLACEMENT_STATUS = "status"


def load_enquiries(connection: Connection, providers: Collection[str]) -> pd.DataFrame:
    """Load the providers' volunteer enquiries: provider, date, district, outcome, volunteer."""
    e, p = models.Enquiry, models.Provider
    rows = connection.execute(
        select(p.slug, e.enquired_on, e.district, e.outcome, e.volunteer_id)
        .join(p, e.provider_id == p.id)
        .where(p.slug.in_(sorted(providers)))
        .order_by(e.id)
    ).all()
    columns = [RECORD_PROVIDER, ENQUIRED_ON, ENQUIRY_DISTRICT, OUTCOME, VOLUNTEER]
    frame = pd.DataFrame([tuple(row) for row in rows], columns=columns, dtype=object)
    frame[VOLUNTEER] = pd.array(frame[VOLUNTEER].tolist(), dtype="Int64")
    frame[ENQUIRED_ON] = pd.to_datetime(pd.Series(frame[ENQUIRED_ON].tolist(), dtype=object))
    return frame


def load_placements(connection: Connection, providers: Collection[str]) -> pd.DataFrame:
    """Load the providers' placements: provider, volunteer, start date, status."""
    pl, p = models.Placement, models.Provider
    rows = connection.execute(
        select(p.slug, pl.volunteer_id, pl.starts_on, pl.status)
        .join(p, pl.provider_id == p.id)
        .where(p.slug.in_(sorted(providers)))
        .order_by(pl.id)
    ).all()
    columns = [RECORD_PROVIDER, VOLUNTEER, STARTS_ON, PLACEMENT_STATUS]
    frame = pd.DataFrame([tuple(row) for row in rows], columns=columns, dtype=object)
    frame[VOLUNTEER] = pd.array(frame[VOLUNTEER].tolist(), dtype="Int64")
    frame[STARTS_ON] = pd.to_datetime(pd.Series(frame[STARTS_ON].tolist(), dtype=object))
    return frame


# --- what staff record: activities, evidence, milestones (issue 17) -------------------------

ACTIVITY_KIND = "kind"
OCCURRED_ON = "occurred_on"
ACTIVITY_ORGANISATION = "organisation_id"
APPLIED = "amount_applied_pence"
OBTAINED = "amount_obtained_pence"
BENEFICIARIES = "beneficiaries"
# The activity frame's segment columns are named as the survey frame's (@org_type...), so that
# the same segment names break both down.
ACTIVITY_COLUMNS = (
    RECORD_PROVIDER,
    ACTIVITY_KIND,
    OCCURRED_ON,
    ACTIVITY_ORGANISATION,
    APPLIED,
    OBTAINED,
    BENEFICIARIES,
    ORG_TYPE,
    INCOME_BAND,
    DISTRICT,
    OUTCOMES,
    IS_MEMBER,
)


def load_activities(
    connection: Connection, providers: Collection[str], start: Any, end: Any
) -> pd.DataFrame:
    """Load the providers' activity records dated from `start` to `end` (inclusive), each with
    the segments of the group helped (today's, as the organisation list has them)."""
    a, p, o = models.ActivityRecord, models.Provider, models.Organisation
    query = (
        select(
            p.slug,
            a.kind,
            a.occurred_on,
            a.organisation_id,
            a.amount_applied_pence,
            a.amount_obtained_pence,
            a.beneficiaries,
            o.org_type,
            o.income_band,
            o.district,
            o.outcomes,
            o.is_member,
        )
        .join(p, a.provider_id == p.id)
        .outerjoin(o, a.organisation_id == o.id)
        .where(p.slug.in_(sorted(providers)), a.occurred_on >= start, a.occurred_on <= end)
        .order_by(a.id)
    )
    rows = connection.execute(query).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(ACTIVITY_COLUMNS), dtype=object)
    frame[OCCURRED_ON] = pd.to_datetime(pd.Series(frame[OCCURRED_ON].tolist(), dtype=object))
    for column in (ACTIVITY_ORGANISATION, APPLIED, OBTAINED, BENEFICIARIES):
        frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
    return frame


def load_member_counts(connection: Connection, providers: Collection[str]) -> dict[str, int]:
    """Count each provider's member groups on its list today (Essex l)."""
    o, p = models.Organisation, models.Provider
    rows = connection.execute(
        select(p.slug, func.count(o.id))
        .join(o, o.provider_id == p.id)
        .where(p.slug.in_(sorted(providers)), o.is_member.is_(True))
        .group_by(p.slug)
    ).all()
    return {str(slug): int(count) for slug, count in rows}


def load_evidence(
    connection: Connection, providers: Collection[str], periods: Collection[str]
) -> list[tuple[str, str, str, str, str, str, bool, str | None]]:
    """Load the evidence of the providers' periods: (provider, period, framework, KPI id, title,
    text, is a case study, attachment name), one row per indicator an item supports."""
    e, link, p = models.EvidenceItem, models.EvidenceLink, models.Provider
    rows = connection.execute(
        select(
            p.slug,
            e.period,
            link.framework,
            link.kpi_id,
            e.title,
            e.text,
            e.is_case_study,
            e.attachment_name,
        )
        .join(p, e.provider_id == p.id)
        .join(link, link.item_id == e.id)
        .where(p.slug.in_(sorted(providers)), e.period.in_(sorted(periods)))
        .order_by(e.id, link.id)
    ).all()
    return [
        (str(a), str(b), str(c), str(d), str(t), str(x or ""), bool(cs), name)
        for a, b, c, d, t, x, cs, name in rows
    ]


def load_assessments(
    connection: Connection, providers: Collection[str], periods: Collection[str]
) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """Load staff's statuses of evidence indicators: (provider, framework, KPI id, period) ->
    (status, reason)."""
    a, p = models.IndicatorAssessment, models.Provider
    rows = connection.execute(
        select(p.slug, a.framework, a.kpi_id, a.period, a.status, a.reason)
        .join(p, a.provider_id == p.id)
        .where(p.slug.in_(sorted(providers)), a.period.in_(sorted(periods)))
    ).all()
    return {(str(s), str(f), str(k), str(per)): (str(st), str(r)) for s, f, k, per, st, r in rows}


def load_milestones(
    connection: Connection, providers: Collection[str]
) -> dict[tuple[str, str, str], tuple[str, Any, Any, Any, Any, str]]:
    """Load the providers' milestones: (provider, framework, KPI id) -> (title, progress due,
    due, progress recorded, achieved, note)."""
    m, p = models.Milestone, models.Provider
    rows = connection.execute(
        select(
            p.slug,
            m.framework,
            m.kpi_id,
            m.title,
            m.progress_due,
            m.due_on,
            m.progress_on,
            m.achieved_on,
            m.note,
        )
        .join(p, m.provider_id == p.id)
        .where(p.slug.in_(sorted(providers)))
    ).all()
    return {
        (str(s), str(f), str(k)): (str(t), pd_, due, pon, ach, str(note or ""))
        for s, f, k, t, pd_, due, pon, ach, note in rows
    }
