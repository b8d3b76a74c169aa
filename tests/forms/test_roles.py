"""Who gets in where: every console and funder route, with every role, on providers A and B.

The expectations table names every endpoint under /console and /funder with the kind of
page it is; a new route that is not in the table (or whose view lacks the decorator for its
kind) fails here. Each route is then requested (GET and POST, as it allows) by an anonymous
visitor, an admin, staff of A, staff of B, a funder of A and a funder of neither, about
provider A, provider B, and provider A with B's rows in the path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from analysis.publish import build_report
from collector import db, models
from tests.forms.conftest import Browser
from tests.forms.people import PERSONAS, Side, World, as_persona

# Every endpoint under /console and /funder, and the kind of page it is.
EXPECTED = {
    "console.index": "signed_in",
    "console.audit": "admin",
    "console.status": "admin",
    "console.provider_home": "staff",
    "console.organisations": "staff",
    "console.organisation": "staff",
    "console.organisation_new": "staff",
    "console.organisation_opt_out": "staff",
    "console.organisation_opt_in": "staff",
    "console.organisations_import": "staff",
    "console.organisations_import_confirm": "staff",
    "console.organisations_template": "staff",
    "console.contacts_list": "staff",
    "console.contacts_import": "staff",
    "console.contacts_import_confirm": "staff",
    "console.contacts_template": "staff",
    "console.contact_opt_out": "staff",
    "console.contact_opt_in": "staff",
    "console.rounds": "staff",
    "console.round_new": "staff",
    "console.round_audience": "staff",
    "console.round": "staff",
    "console.round_status_json": "staff",
    "console.round_open": "staff",
    "console.round_remind": "staff",
    "console.round_close": "staff",
    "console.round_links": "staff",
    "console.round_responses": "staff",
    "console.activities": "staff",
    "console.activities_import": "staff",
    "console.activities_template": "staff",
    "console.surveys": "staff",
    "console.surveys_import": "staff",
    "console.survey_xlsform": "staff",
    "console.round_qr": "staff",
    "console.outbox": "staff",
    "console.outbox_retry": "staff",
    "console.reports": "staff",
    "console.report": "staff",
    "console.report_narrative": "staff",
    "console.report_publish": "staff",
    "console.volunteers": "staff",
    "console.volunteer": "staff",
    "console.volunteers_settings": "staff",
    "console.placements": "staff",
    "console.placement": "staff",
    "console.placement_new": "staff",
    "console.placement_end": "staff",
    "console.placement_did_not_start": "staff",
    "console.enquiries": "staff",
    "console.enquiry_new": "staff",
    **{
        f"console.{kind}_{page}": "staff"
        for kind in ("volunteers", "enquiries", "placements")
        for page in ("import", "import_confirm", "template")
    },
    "console.hubs_page": "staff",
    "console.hubs_import": "staff",
    "console.hubs_import_confirm": "staff",
    "console.hubs_template": "staff",
    "console.hub_returns_import": "staff",
    "console.hub_returns_import_confirm": "staff",
    "console.hub_returns_template": "staff",
    "funder.hubs_view": "funder",
    "funder.hubs_pdf_download": "reader",
    "funder.hubs_xlsx_download": "reader",
    "console.telegram": "signed_in",
    "funder.index": "signed_in",
    "funder.provider": "funder",
    "funder.report": "reader",
    "funder.report_pdf": "reader",
    "funder.report_xlsx": "reader",
    "console.selfeval_list": "staff",
    "console.selfeval_report": "staff",
    "console.selfeval_download": "staff",
    "console.selfeval_publish": "staff",
    "console.selfeval_hand_over": "staff",
    "console.selfeval_agreed": "staff",
    "console.selfeval_actions": "staff",
    "console.selfeval_action_add": "staff",
    "console.selfeval_action_edit": "staff",
    "console.selfeval_actions_xlsx": "staff",
    "funder.selfeval": "reader",
    "funder.selfeval_pdf": "reader",
}

# Who may use each kind of page about provider A, or B ("in"), or is refused and how: 404
# where the account may not see the provider, 403 where it may see but not use the page.
ON = {
    "a": {
        "staff": {"admin": "in", "staff_a": "in", "staff_b": 404, "funder_a": 403},
        "funder": {"admin": "in", "staff_a": 403, "staff_b": 404, "funder_a": "in"},
        "reader": {"admin": "in", "staff_a": "in", "staff_b": 404, "funder_a": "in"},
    },
    "b": {
        "staff": {"admin": "in", "staff_a": 404, "staff_b": "in", "funder_a": 404},
        "funder": {"admin": "in", "staff_a": 404, "staff_b": 403, "funder_a": 404},
        "reader": {"admin": "in", "staff_a": 404, "staff_b": "in", "funder_a": 404},
    },
}
ANYWHERE = {
    "admin": {"admin": "in", "staff_a": 403, "staff_b": 403, "funder_a": 403, "funder_other": 403},
    "signed_in": {p: "in" for p in PERSONAS},
}


def _guarded_rules(app: Flask) -> list[Any]:
    return [
        rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/console", "/funder"))
    ]


def test_every_console_and_funder_endpoint_is_in_the_table_with_its_decorator(
    app: Flask,
) -> None:
    endpoints = {rule.endpoint for rule in _guarded_rules(app)}
    assert endpoints == set(EXPECTED), (
        f"not in the table: {sorted(endpoints - set(EXPECTED))}; "
        f"gone: {sorted(set(EXPECTED) - endpoints)}"
    )
    for endpoint, kind in EXPECTED.items():
        view = app.view_functions[endpoint]
        assert getattr(view, "access", None) == kind, f"{endpoint} is not guarded as {kind}"


def _publish(sessions: sessionmaker[Session], world: World) -> dict[int, int]:
    """Publish a report of each provider's open round, as a snapshot row; give their ids."""
    made = {}
    with db.transaction(sessions) as session:
        for side in (world.a, world.b):
            round_ = session.get(models.Round, side.open_round)
            assert round_ is not None
            report = build_report(session, round_, "essex-2017", {})
            snapshot = models.ReportSnapshot(
                provider_id=side.id,
                round_id=round_.id,
                framework="essex-2017",
                title=f"{side.slug}: a report",
                data=report.to_json(),
                pdf=b"%PDF-1.7 a report",
                xlsx=b"PK a workbook",
                published_by="test",
            )
            session.add(snapshot)
            session.flush()
            made[side.id] = snapshot.id
    return made


def _fill(rule: Any, provider: Side, rows: Side, snapshots: dict[int, int]) -> str:
    """Give the rule's path for `provider`, with the ids of `rows` (the same side, or not)."""
    values = {
        "provider_slug": provider.slug,
        "round_id": rows.open_round,
        "organisation_id": rows.organisation,
        "message_id": rows.failed_message,
        "snapshot_id": snapshots[rows.id],
        "volunteer_id": rows.volunteer,
        "placement_id": rows.placement,
        "contact_id": rows.contact,
        "survey_id": "cvs-support",
        "evaluation_id": rows.evaluation,
        "action_id": rows.action,
        "kind": "xlsx",
    }
    unknown = set(rule.arguments) - set(values)
    assert not unknown, f"fill {unknown} for {rule.rule} in this test"
    path: str = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
    return path


def _expected(kind: str, persona: str, target: str, crossed: bool) -> object:
    if persona == "anonymous":
        return "login"
    # The funder of neither provider sees neither (404 by default).
    outcome = ANYWHERE[kind][persona] if kind in ANYWHERE else ON[target][kind].get(persona, 404)
    if crossed and outcome == "in":
        return 404  # another provider's row under this provider's address
    return outcome


def _outcome(status: int, location: str) -> object:
    if status in (301, 302, 303, 307, 308) and location.startswith("/login"):
        return "login"
    if status in (200, 302, 303, 409, 422):  # 422: in, and the empty form refused
        return "in"
    return status


def _state(sessions: sessionmaker[Session]) -> tuple[Any, ...]:
    """Snapshot what a refused request must not change."""
    with sessions() as session:
        return (
            session.scalars(select(models.AuditEvent.id).order_by(models.AuditEvent.id)).all(),
            session.execute(select(models.Round.id, models.Round.status)).all(),
            session.execute(select(models.Organisation.id, models.Organisation.opted_out_at)).all(),
            session.execute(select(models.OutboxMessage.id, models.OutboxMessage.status)).all(),
            session.scalar(select(models.Organisation.id).order_by(models.Organisation.id.desc())),
            session.scalars(
                select(models.ReportSnapshot.id).order_by(models.ReportSnapshot.id)
            ).all(),
            session.execute(select(models.KpiNarrative.id, models.KpiNarrative.text)).all(),
            session.execute(
                select(models.Placement.id, models.Placement.status, models.Placement.role)
            ).all(),
            session.scalar(select(models.Enquiry.id).order_by(models.Enquiry.id.desc())),
            session.execute(select(models.Provider.id, models.Provider.followup_days)).all(),
            session.execute(
                select(models.SelfEvaluation.id, models.SelfEvaluation.published_at)
            ).all(),
            session.execute(
                select(models.EvaluationAction.id, models.EvaluationAction.owner)
            ).all(),
            session.execute(select(models.AgreedRating.id)).all(),
        )


def _requests(
    app: Flask, world: World, snapshots: dict[int, int]
) -> Iterator[tuple[str, str, str, str, bool]]:
    """Give (endpoint, method, path, target, crossed) for every route, method and provider."""
    for rule in sorted(_guarded_rules(app), key=lambda r: r.rule):
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        variants = [("a", world.a, world.a, False), ("b", world.b, world.b, False)]
        # A survey is everyone's (not a provider's row): no other provider's to cross to.
        if set(rule.arguments) - {"provider_slug", "survey_id"}:
            variants.append(("a", world.a, world.b, True))
        if "provider_slug" not in rule.arguments:
            variants = variants[:1]
        for method in methods:
            for target, provider, rows, crossed in variants:
                path = _fill(rule, provider, rows, snapshots)
                yield rule.endpoint, method, path, target, crossed


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_role_gets_into_exactly_the_pages_it_should(
    app: Flask, session_factory: sessionmaker[Session], world: World, persona: str
) -> None:
    snapshots = _publish(session_factory, world)
    browser = as_persona(Browser(app.test_client()), world, persona)
    if persona == "anonymous":
        browser.get("/login")  # a form, for a CSRF token: the refusal must not be CSRF's
    token = browser.csrf()
    wrong: list[str] = []
    checked = 0
    for endpoint, method, path, target, crossed in _requests(app, world, snapshots):
        expected = _expected(EXPECTED[endpoint], persona, target, crossed)
        before = _state(session_factory) if expected != "in" else None
        if method == "GET":
            page = browser.client.get(path)
        else:
            page = browser.client.post(path, data={"csrf_token": token})
        got = _outcome(page.status_code, page.headers.get("Location", ""))
        checked += 1
        if got != expected:
            wrong.append(f"{method} {path}: expected {expected}, got {got}")
        elif before is not None and _state(session_factory) != before:
            wrong.append(f"{method} {path}: refused ({got}) but changed something")
        if got == "in" and page.status_code == 200 and page.mimetype == "text/html":
            assert "Sign out" in page.get_data(as_text=True), f"{path} has no sign-out button"
    assert checked > 60
    assert not wrong, "\n".join(wrong)


def test_a_refused_page_says_nothing_about_the_provider(app: Flask, world: World) -> None:
    browser = as_persona(Browser(app.test_client()), world, "staff_b")
    missing = browser.client.get("/console/no-such-cvs/rounds")
    hidden = browser.client.get("/console/alpha-cvs/rounds")
    assert missing.status_code == hidden.status_code == 404

    def text(page: Any) -> str:
        return re.sub(r'nonce="[^"]+"', "", page.get_data(as_text=True))

    assert text(missing) == text(hidden)
    assert "Alpha" not in text(hidden)
