"""The read-only JSON API: tokens per role against every endpoint, the OpenAPI document, and
the API fuzzed from that document (schemathesis) without a server error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import ignored_auth
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import apitokens, db, flow, models
from tests.factories import cvs_support, make_round
from tests.forms.people import World
from tests.forms.test_roles import _publish

ENDPOINTS = (
    "/api/v1/rounds",
    "/api/v1/rounds/{round}",
    "/api/v1/rounds/{round}/responses",
    "/api/v1/rounds/{round}/kpis",
    "/api/v1/reports",
    "/api/v1/reports/{report}",
)


def _complete(session: Session, round_: models.Round, answers: dict[str, Any]) -> None:
    for invitation in round_.invitations:
        response = flow.start(session, invitation, channel="web")
        for _ in range(40):
            view = flow.view(session, response)
            if not isinstance(view, flow.QuestionView):
                break
            raw: Any = answers.get(view.question_id)
            if raw is None and view.choices:  # any other question: its first choice
                first = view.choices[0].value
                raw = [first] if view.type == "multiple" else first
            flow.answer(session, response, view.question_id, raw)
        assert isinstance(flow.complete(session, response), flow.DoneView)


@pytest.fixture
def tokens(world: World, session_factory: sessionmaker[Session]) -> dict[str, Any]:
    """Tokens: provider A's staff, A's funder, a funder of neither, a revoked one; and A's and
    B's rounds with answers and a published report each."""
    reports = _publish(session_factory, world)
    made: dict[str, Any] = {"reports": reports}
    with db.transaction(session_factory) as session:
        a = session.get(models.Provider, world.a.id)
        assert a is not None
        for side in (world.a, world.b):
            round_ = session.get(models.Round, side.open_round)
            assert round_ is not None
            _complete(session, round_, {"used": "no", "volunteers": "7", "comments": "=1+1"})
        funders = {
            u.email: u
            for u in session.scalars(select(models.User).where(models.User.role == "funder"))
        }
        for key, kwargs in (
            ("staff_a", {"provider": a}),
            ("funder_a", {"funder": funders[world.emails["funder_a"]]}),
            ("funder_other", {"funder": funders[world.emails["funder_other"]]}),
            ("revoked", {"provider": a}),
        ):
            row, token = apitokens.create_token(session, name=key, created_by="test", **kwargs)
            made[key] = token
            if key == "revoked":
                apitokens.revoke(session, row.id)
    return made


def _get(app: Flask, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get(path, headers=headers)


def test_each_token_sees_exactly_its_role(
    app: Flask, world: World, tokens: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    a_round, b_round = world.a.open_round, world.b.open_round
    a_report, b_report = tokens["reports"][world.a.id], tokens["reports"][world.b.id]
    # What each token gets from A's and B's rows: staff A and A's funder see A's, never B's;
    # raw responses are staff's only; the other funder sees nothing of A or B.
    expected = {
        "staff_a": {"a": 200, "b": 404, "responses": 200},
        "funder_a": {"a": 200, "b": 404, "responses": 403},
        "funder_other": {"a": 404, "b": 404, "responses": 403},
    }
    for who, outcome in expected.items():
        token = tokens[who]
        for path in ENDPOINTS:
            if "{" not in path:
                continue
            for side, round_id, report_id in (("a", a_round, a_report), ("b", b_round, b_report)):
                url = path.format(round=round_id, report=report_id)
                got = _get(app, url, token).status_code
                if path.endswith("/responses") and side == "a":
                    want = outcome["responses"]
                elif path.endswith("/kpis") and outcome[side] == 200:
                    want = 409  # the every-type survey feeds no KPI framework
                elif path.endswith("/responses") and outcome["responses"] == 403:
                    want = 403
                else:
                    want = outcome[side]
                assert got == want, f"{who} GET {url}: {got}, expected {want}"
    listed = _get(app, "/api/v1/rounds", tokens["funder_a"]).json
    assert {r["provider"] for r in listed["rounds"]} == {"alpha-cvs"}
    with session_factory() as session:
        rounds_of_a = session.scalars(
            select(models.Round.id).where(models.Round.provider_id == world.a.id)
        ).all()
    assert listed["total"] == len(rounds_of_a) and listed["page"] == 1
    assert {r["id"] for r in listed["rounds"]} == set(rounds_of_a)
    opened = next(r for r in listed["rounds"] if r["id"] == a_round)
    assert (opened["invited"], opened["completed"], opened["response_rate"]) == (2, 2, 1.0)
    assert _get(app, "/api/v1/rounds", tokens["funder_other"]).json["rounds"] == []
    reports = _get(app, "/api/v1/reports", tokens["staff_a"]).json["reports"]
    assert [r["id"] for r in reports] == [a_report]
    report = _get(app, f"/api/v1/reports/{a_report}", tokens["funder_a"]).json
    assert report["framework"] == "essex-2017" and "kpis" in report["data"]
    detail = _get(app, f"/api/v1/rounds/{a_round}", tokens["staff_a"]).json
    assert detail["completed_by_channel"] == {"web": 2}


def test_staff_read_raw_responses_page_by_page(
    app: Flask, world: World, tokens: dict[str, Any]
) -> None:
    url = f"/api/v1/rounds/{world.a.open_round}/responses"
    first = _get(app, url + "?per_page=1", tokens["staff_a"]).json
    assert first["total"] == 2 and len(first["rows"]) == 1 and first["page"] == 1
    row = dict(zip(first["columns"], first["rows"][0], strict=True))
    assert (row["used"], row["volunteers"], row["comments"]) == ("no", 7, "=1+1")
    assert row["organisation"] == "Alpha CVS Lunch Club" or row["organisation"] == (
        "Alpha CVS Youth Club"
    )
    second = _get(app, url + "?per_page=1&page=2", tokens["staff_a"]).json
    assert second["rows"][0][0] != first["rows"][0][0]
    assert _get(app, url + "?page=3&per_page=1", tokens["staff_a"]).json["rows"] == []


def test_live_kpis_of_a_round_that_feeds_a_framework(
    app: Flask, world: World, session_factory: sessionmaker[Session], tokens: dict[str, Any]
) -> None:
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        fed = make_round(session, provider, cvs_support(), period_label="2026/27 H2")
        _complete(session, fed, {"used_support": "no"})
        fed_id = fed.id
    url = f"/api/v1/rounds/{fed_id}/kpis"
    assert _get(app, url, tokens["staff_a"]).json["error"] == "choose_framework"
    live = _get(app, url + "?framework=essex-2017", tokens["funder_a"]).json
    assert live["framework"] == "essex-2017" and live["round_id"] == fed_id
    assert {k["id"] for k in live["data"]["kpis"]} >= {"ix", "x", "ii"}
    unknown = _get(app, url + "?framework=nope", tokens["staff_a"])
    assert unknown.status_code == 409 and "No KPI framework 'nope'" in unknown.json["message"]


def test_bad_tokens_and_bad_queries_get_clear_answers(
    app: Flask, world: World, tokens: dict[str, Any]
) -> None:
    for token in (None, "tc_not-a-real-token", tokens["revoked"], "Basic abc"):
        got = _get(app, "/api/v1/rounds", token)
        assert got.status_code == 401 and got.headers["WWW-Authenticate"].startswith("Bearer")
        assert got.json["error"] in ("no_token", "bad_token")
    bad = _get(app, "/api/v1/rounds?per_page=501", tokens["staff_a"])
    assert bad.status_code == 422
    bad = _get(app, "/api/v1/rounds?page=zero", tokens["staff_a"])
    assert bad.status_code == 422
    assert _get(app, "/api/v1/rounds/999999", tokens["staff_a"]).status_code == 404


def test_the_openapi_document_is_valid_and_the_api_survives_fuzzing(
    app: Flask, world: World, tokens: dict[str, Any]
) -> None:
    document = app.test_client().get("/api/v1/spec/openapi.json")
    assert document.status_code == 200
    paths = document.json["paths"]
    assert set(paths) == {
        p.replace("{round}", "{round_id}").replace("{report}", "{report_id}") for p in ENDPOINTS
    }
    assert document.json["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    validate(document.json)  # a valid OpenAPI document (raises with the problem otherwise)
    schema = schemathesis.openapi.from_wsgi("/api/v1/spec/openapi.json", app)
    headers = {"Authorization": f"Bearer {tokens['staff_a']}"}
    checked: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.path, case.query, response.text)
            # Every check but "ignored auth", which assumes the token it made up was sent: the
            # real one is (bad tokens are tested above).
            case.validate_response(response, excluded_checks=[ignored_auth])

        fuzz()
        checked.append(operation.label)
    assert len(checked) == len(ENDPOINTS)
