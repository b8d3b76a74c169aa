"""The read-only JSON API (/api/v1): rounds and their response rates, KPI results (published
snapshots, and live rounds), and raw responses for staff tokens, with an OpenAPI document
generated from the code (spectree, from the pydantic models below) at
/api/v1/spec/openapi.json.

Every call carries `Authorization: Bearer <token>` (`tempcheck api create-token`): no token or
an unknown or revoked one is 401; a round or report of a provider the token does not see is
404, as if it did not exist; raw responses for a funder's token are 403. Lists are paginated
(`page`, `per_page`); bad query values are 422 with the problem.

KPI results are the report model's, in which every small cell is already suppressed, so a
funder's token sees what the funder pages show and nothing that identifies one respondent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, Field
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData
from sqlalchemy import func, select

from collector import apitokens, db, exports, models, rounds
from forms import csrf, services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
spec = SpecTree(
    "flask",
    title="tempcheck API",
    version="1",
    description=(
        "Read-only: rounds and response rates, KPI results, raw responses (staff tokens). "
        "Send `Authorization: Bearer <token>`."
    ),
    # Only the views below (the others are pages, not the API); the document at
    # /api/v1/spec/openapi.json, without the documentation pages (they load scripts from
    # elsewhere).
    mode="strict",
    path="api/v1/spec",
    page_templates={},
    security_schemes=[
        SecurityScheme(
            name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")
        )
    ],
    security={"bearer": []},
    # The views read their query from request.context: their annotations are strings
    # (postponed), which spectree cannot resolve.
    annotations=False,
)


# Models --------------------------------------------------------------------------------------


class Problem(BaseModel):
    """An error: a code and a message for people."""

    error: str
    message: str


class Page(BaseModel):
    """Which page of a list: `page` from 1, `per_page` up to 500."""

    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(100, ge=1, le=500)


class RoundOut(BaseModel):
    """A round: its survey, period, dates, status and how many answered."""

    id: int
    provider: str
    survey: str
    survey_version: int
    period: str
    status: str
    opens_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    invited: int
    completed: int
    response_rate: float | None = Field(description="completed / invited; null with no invitations")


class RoundList(BaseModel):
    """A page of rounds, newest first."""

    rounds: list[RoundOut]
    page: int
    per_page: int
    total: int


class RoundDetail(RoundOut):
    """A round with its completed responses by the channel they finished in."""

    completed_by_channel: dict[str, int]


class ReportOut(BaseModel):
    """A published KPI report (a frozen snapshot)."""

    id: int
    provider: str
    round_id: int
    framework: str
    title: str
    published_at: datetime


class ReportList(BaseModel):
    """A page of published reports, newest first."""

    reports: list[ReportOut]
    page: int
    per_page: int
    total: int


class ReportDetail(ReportOut):
    """A published report with its KPI results as published."""

    data: dict[str, Any]


class LiveQuery(BaseModel):
    """The framework of a live report (needed when the round's survey feeds several)."""

    framework: str | None = Field(None, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")


class LiveReport(BaseModel):
    """A round's KPI results as they stand now (not published)."""

    round_id: int
    framework: str
    data: dict[str, Any]


class ResponsesOut(BaseModel):
    """A page of a round's raw responses: the export's columns, one row per response."""

    columns: list[str]
    rows: list[list[Any]]
    page: int
    per_page: int
    total: int


# Access --------------------------------------------------------------------------------------


def _problem(status: int, error: str, message: str) -> ResponseReturnValue:
    response = jsonify(error=error, message=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tempcheck"'
    return response


@bp.before_request
def _authenticate() -> ResponseReturnValue | None:
    """Check the bearer token; keep what it may read in `g.scope`."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _problem(401, "no_token", "Send Authorization: Bearer <token>")
    with db.transaction(services(current_app).sessions) as session:
        scope = apitokens.authenticate(session, token.strip())
    if scope is None:
        return _problem(401, "bad_token", "The token is unknown or revoked")
    g.scope = scope
    return None


def _scope() -> apitokens.Scope:
    scope: apitokens.Scope = g.scope
    return scope


def _query() -> Any:
    """Give the request's query as validated against the view's model (spectree's work)."""
    return request.context.query  # type: ignore[attr-defined]


def _round(session: Any, round_id: int) -> models.Round | None:
    found = session.get(models.Round, round_id)
    if found is None or found.provider_id not in _scope().provider_ids:
        return None
    return found


def _counts(session: Any, round_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Give (invited, completed) per round."""
    invited = dict(
        session.execute(
            select(models.Invitation.round_id, func.count(models.Invitation.id))
            .where(models.Invitation.round_id.in_(round_ids))
            .group_by(models.Invitation.round_id)
        ).all()
    )
    completed = dict(
        session.execute(
            select(models.Response.round_id, func.count(models.Response.id))
            .where(models.Response.round_id.in_(round_ids), models.Response.status == "completed")
            .group_by(models.Response.round_id)
        ).all()
    )
    return {r: (int(invited.get(r, 0)), int(completed.get(r, 0))) for r in round_ids}


def _round_out(round_: models.Round, invited: int, completed: int) -> dict[str, Any]:
    return {
        "id": round_.id,
        "provider": round_.provider.slug,
        "survey": round_.survey.slug,
        "survey_version": round_.survey.version,
        "period": round_.period_label,
        "status": round_.status,
        "opens_at": round_.opens_at.isoformat(),
        "closes_at": round_.closes_at.isoformat(),
        "closed_at": round_.closed_at.isoformat() if round_.closed_at else None,
        "invited": invited,
        "completed": completed,
        "response_rate": round(completed / invited, 4) if invited else None,
    }


# Endpoints -----------------------------------------------------------------------------------


@bp.get("/rounds")
@spec.validate(query=Page, resp=Response(HTTP_200=RoundList, HTTP_401=Problem), tags=["rounds"])
def list_rounds() -> ResponseReturnValue:
    """List the rounds of the providers the token sees, newest first, with response rates."""
    query = _query()
    where = models.Round.provider_id.in_(_scope().provider_ids)
    with db.transaction(services(current_app).readers) as session:
        total = int(session.scalar(select(func.count(models.Round.id)).where(where)) or 0)
        found = list(
            session.scalars(
                select(models.Round)
                .where(where)
                .order_by(models.Round.opens_at.desc(), models.Round.id.desc())
                .offset((query.page - 1) * query.per_page)
                .limit(query.per_page)
            )
        )
        counts = _counts(session, [r.id for r in found])
        items = [_round_out(r, *counts[r.id]) for r in found]
    return jsonify(rounds=items, page=query.page, per_page=query.per_page, total=total)


@bp.get("/rounds/<int:round_id>")
@spec.validate(
    resp=Response(HTTP_200=RoundDetail, HTTP_401=Problem, HTTP_404=Problem), tags=["rounds"]
)
def get_round(round_id: int) -> ResponseReturnValue:
    """Give a round with its response rate and its completed responses by channel."""
    with db.transaction(services(current_app).readers) as session:
        found = _round(session, round_id)
        if found is None:
            return _problem(404, "not_found", f"No round {round_id}")
        status = rounds.round_status(session, found)
        invited, completed = _counts(session, [found.id])[found.id]
        item = _round_out(found, invited, completed)
    return jsonify(**item, completed_by_channel=dict(status.by_channel))


@bp.get("/rounds/<int:round_id>/responses")
@spec.validate(
    query=Page,
    resp=Response(HTTP_200=ResponsesOut, HTTP_401=Problem, HTTP_403=Problem, HTTP_404=Problem),
    tags=["responses"],
)
def round_responses(round_id: int) -> ResponseReturnValue:
    """Give a page of a round's completed responses, one row per response and one column per
    question (as the CSV export with codes). Staff tokens only."""
    query = _query()
    if not _scope().free_text:
        return _problem(403, "staff_only", "Raw responses are for staff tokens only")
    with db.transaction(services(current_app).readers) as session:
        found = _round(session, round_id)
        if found is None:
            return _problem(404, "not_found", f"No round {round_id}")
        export = exports.Export(session, found, exports.Options(labels=False))
        total = export.count()
        first = (query.page - 1) * query.per_page
        rows = []
        for n, row in enumerate(export.rows()):
            if n >= first + query.per_page:
                break
            if n >= first:
                rows.append([v.isoformat() if isinstance(v, datetime) else v for v in row])
        columns = [c.heading for c in export.columns]
    return jsonify(
        columns=columns, rows=rows, page=query.page, per_page=query.per_page, total=total
    )


@bp.get("/rounds/<int:round_id>/kpis")
@spec.validate(
    query=LiveQuery,
    resp=Response(HTTP_200=LiveReport, HTTP_401=Problem, HTTP_404=Problem, HTTP_409=Problem),
    tags=["kpis"],
)
def live_kpis(round_id: int) -> ResponseReturnValue:
    """Give a round's KPI results as they stand now, suppressed as a funder sees them."""
    query = _query()
    from analysis.publish import build_report, choose_frameworks, completed_responses
    from collector import reports
    from collector.errors import CollectorError

    with db.transaction(services(current_app).readers) as session:
        found = _round(session, round_id)
        if found is None:
            return _problem(404, "not_found", f"No round {round_id}")
        try:
            chosen = choose_frameworks(found, query.framework)
        except CollectorError as error:
            return _problem(409, "no_framework", error.message)
        if len(chosen) > 1:
            names = ", ".join(f.id for f in chosen)
            return _problem(409, "choose_framework", f"Name one with ?framework= ({names})")
        if not completed_responses(session, found.id):
            return _problem(409, "no_responses", "The round has no completed responses yet")
        try:
            built = build_report(
                session, found, chosen[0].id, reports.narratives(session, found.id, chosen[0].id)
            )
        except CollectorError as error:
            return _problem(409, "no_report", error.message)
        return jsonify(round_id=found.id, framework=chosen[0].id, data=built.to_json())


def _report_out(snapshot: models.ReportSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "provider": snapshot.provider.slug,
        "round_id": snapshot.round_id,
        "framework": snapshot.framework,
        "title": snapshot.title,
        "published_at": snapshot.published_at.isoformat(),
    }


@bp.get("/reports")
@spec.validate(query=Page, resp=Response(HTTP_200=ReportList, HTTP_401=Problem), tags=["kpis"])
def list_reports() -> ResponseReturnValue:
    """List the published KPI reports of the providers the token sees, newest first."""
    query = _query()
    snapshot = models.ReportSnapshot
    where = snapshot.provider_id.in_(_scope().provider_ids)
    with db.transaction(services(current_app).readers) as session:
        total = int(session.scalar(select(func.count(snapshot.id)).where(where)) or 0)
        found = session.scalars(
            select(snapshot)
            .where(where)
            .order_by(snapshot.published_at.desc(), snapshot.id.desc())
            .offset((query.page - 1) * query.per_page)
            .limit(query.per_page)
        )
        items = [_report_out(s) for s in found]
    return jsonify(reports=items, page=query.page, per_page=query.per_page, total=total)


@bp.get("/reports/<int:report_id>")
@spec.validate(
    resp=Response(HTTP_200=ReportDetail, HTTP_401=Problem, HTTP_404=Problem), tags=["kpis"]
)
def get_report(report_id: int) -> ResponseReturnValue:
    """Give a published report's KPI results, exactly as published (the frozen snapshot)."""
    with db.transaction(services(current_app).readers) as session:
        found = session.get(models.ReportSnapshot, report_id)
        if found is None or found.provider_id not in _scope().provider_ids:
            return _problem(404, "not_found", f"No report {report_id}")
        return jsonify(**_report_out(found), data=found.data)


def init_app(app: Flask) -> None:
    """Add the API to the app: its blueprint, free of CSRF (tokens, not cookies, sign in)."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
    spec.register(app)
