"""Report pages: the staff's live draft (numbers as the KpiReport has them), narratives (saved,
too long, emptied), publishing after a confirmation, and the funder's published report with its
downloads, the same whatever answers arrive later, and out of reach of other providers' funders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from analysis.model import KpiReport
from analysis.publish import build_report
from analysis.render.formats import interval_text, n_text, result_text, status_word
from analysis.render.html import report_html
from collector import db, models, rounds
from collector.config import Settings
from collector.localtime import short_date
from collector.models import utcnow
from forms.console.reports import site_fragment
from tests.analysis.builders import store_response
from tests.factories import cvs_support, make_organisation, make_round
from tests.forms.conftest import Browser
from tests.forms.people import World, as_persona, audit_actions
from tests.meanwhile import Meanwhile

ESSEX = "essex-2017"
POSITIVE = {"ease_of_access": "easy", "satisfaction": "satisfied"}
NEGATIVE = {"ease_of_access": "difficult", "satisfaction": "satisfied"}
# Groups by type: 7 charities, 5 community groups, 2 faith groups; the faith groups are in
# Epping, the rest in Harlow (2 answers in Epping: too few to show).
TYPES = ["registered_charity"] * 7 + ["community_group"] * 5 + ["faith_group"] * 2


def supported(answers: dict[str, str]) -> dict[str, str]:
    """Give the stored answers of a group that had support (skip logic obeyed)."""
    return {
        "used_support": "yes",
        "support_kinds": "networking",
        **answers,
        "outcomes_contributed": "good_lives",
        "aware_outcomes": "none",
        "informed_strategies": "well_informed",
        "informed_district": "not_very_well_informed",
    }


@dataclass
class Answered:
    """Provider A's rounds of cvs-support with answers: one closed, one still open."""

    closed: int
    open: int
    names: list[str]


@pytest.fixture
def answered(world: World, session_factory: sessionmaker[Session]) -> Answered:
    """Give A a closed round with 14 answers (11 positive) and an open one with 6 so far."""
    with db.transaction(session_factory) as session:
        provider = session.get(models.Provider, world.a.id)
        assert provider is not None
        groups = [
            make_organisation(
                session,
                provider,
                name=f"Alpha group {n}",
                org_type=kind,
                district="Epping" if kind == "faith_group" else "Harlow",
            )
            for n, kind in enumerate(TYPES)
        ]
        opens = utcnow() - timedelta(days=60)
        closed = make_round(
            session,
            provider,
            cvs_support(),
            period_label="2025/26 H2",
            opens_at=opens,
            closes_at=opens + timedelta(days=42),
            audience={},
        )
        for n, group in enumerate(groups):
            store_response(session, closed, group, supported(POSITIVE if n < 11 else NEGATIVE))
        # Its reports are published by hand in the tests that want them, not in the background.
        rounds.close_round(session, closed, now=closed.closes_at, reports=False)
        current = make_round(session, provider, cvs_support(), period_label="2026/27 H1")
        for group in groups[:6]:
            store_response(session, current, group, supported(POSITIVE))
        return Answered(closed.id, current.id, [g.name for g in groups])


@pytest.fixture
def staff(app: Flask, world: World) -> Browser:
    """Give a browser signed in as a member of provider A's staff."""
    return as_persona(Browser(app.test_client()), world, "staff_a")


@pytest.fixture
def funder(app: Flask, world: World) -> Browser:
    """Give a browser signed in as provider A's funder."""
    return as_persona(Browser(app.test_client()), world, "funder_a")


def report_now(sessions: sessionmaker[Session], round_id: int, framework: str = ESSEX) -> KpiReport:
    """Build a round's report as it stands, with its saved narratives."""
    from collector import reports

    with sessions() as session:
        round_ = session.get(models.Round, round_id)
        assert round_ is not None
        return build_report(
            session, round_, framework, reports.narratives(session, round_id, framework)
        )


def narratives(sessions: sessionmaker[Session], round_id: int) -> dict[str, str]:
    """Give the narratives stored for a round (kpi id -> text)."""
    with sessions() as session:
        rows = session.scalars(
            select(models.KpiNarrative).where(models.KpiNarrative.round_id == round_id)
        )
        return {row.kpi_id: row.text for row in rows}


def snapshots(sessions: sessionmaker[Session]) -> list[models.ReportSnapshot]:
    """List the published snapshots, oldest first."""
    with sessions() as session:
        found = list(
            session.scalars(select(models.ReportSnapshot).order_by(models.ReportSnapshot.id))
        )
        for row in found:
            session.expunge(row)
        return found


def textarea(page: str, field: str) -> str:
    """Give the text in a textarea of the page, as a browser would show it."""
    match = re.search(rf'<textarea[^>]*id="{field}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {field}"
    return unescape(match.group(1)).lstrip("\n")


def freeze(sessions: sessionmaker[Session], world: World, round_id: int) -> int:
    """Keep a snapshot of a round's report as publishing would (with stand-in files)."""
    report = report_now(sessions, round_id)
    with db.transaction(sessions) as session:
        snapshot = models.ReportSnapshot(
            provider_id=world.a.id,
            round_id=round_id,
            framework=ESSEX,
            title="Alpha CVS: Essex, 2025/26 H2",
            data=report.to_json(),
            pdf=b"%PDF-1.7 the frozen report",
            xlsx=b"PK\x03\x04 the frozen workbook",
            published_by="test",
        )
        session.add(snapshot)
        session.flush()
        return snapshot.id


# The list and the draft -------------------------------------------------------------------


def test_the_list_shows_the_rounds_with_answers(
    staff: Browser, world: World, answered: Answered
) -> None:
    staff.get("/console/alpha-cvs/reports")
    assert staff.page is not None and staff.page.status_code == 200
    assert f"/console/alpha-cvs/reports/{answered.closed}" in staff.text
    assert f"/console/alpha-cvs/reports/{answered.open}" in staff.text
    assert f'/console/alpha-cvs/reports/{world.a.open_round}"' not in staff.text  # no answers
    assert "Not yet" in staff.text  # nothing published


def test_the_draft_shows_the_reports_own_numbers(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    staff.get(f"/console/alpha-cvs/reports/{answered.closed}?framework={ESSEX}")
    report = report_now(session_factory, answered.closed)
    # The page holds the report's own rendering, whole: one source for every number.
    assert _unwrapped(site_fragment(report)) == report_html(report, standalone=False)
    assert site_fragment(report) in staff.text
    ix = report.result("ix")
    assert (ix.overall.numerator, ix.overall.n) == (11, 14)
    row = _fact_rows(staff.text)
    assert row["Result"] == result_text(ix.overall)
    assert row["Responses (n)"] == n_text(ix.overall) == "14"
    assert row["95% confidence interval"] == interval_text(ix.overall.low, ix.overall.high)
    now = f"Now: {status_word(ix.status)}, {result_text(ix.overall)} (n = 14); target ≥ 75%."
    assert now in staff.text
    assert 'Save<span class="govuk-visually-hidden"> the narrative for ix</span>' in staff.text
    assert "Draft: not yet published." in staff.text
    assert "Publish this report" in staff.text


def _unwrapped(html: str) -> str:
    """Take away the scrolling regions the site puts round each table."""
    html = re.sub(r'<div class="tempcheck-table-wrap"[^>]*>(<table\b)', r"\1", str(html))
    return html.replace("</table></div>", "</table>")


def _fact_rows(page: str) -> dict[str, str]:
    """Give KPI ix's facts (term -> value) from the report's summary list."""
    facts: dict[str, str] = {}
    # The Essex report shows every KPI of the scope under its group: ix's section is Part C's.
    start = page.find('id="kpi-ix"')
    page = page[start:] if start >= 0 else page
    pairs = re.findall(
        r'<dt class="govuk-summary-list__key">(.*?)</dt>\s*'
        r'<dd class="govuk-summary-list__value">(.*?)</dd>',
        page,
        re.S,
    )
    for term, value in pairs:
        facts.setdefault(unescape(term.strip()), unescape(re.sub(r"<[^>]+>", "", value).strip()))
    return facts


def test_an_open_rounds_draft_says_its_numbers_change_and_cannot_be_published_yet(
    staff: Browser, answered: Answered
) -> None:
    staff.get(f"/console/alpha-cvs/reports/{answered.open}")
    assert "Draft: not yet published; numbers change as answers arrive." in staff.text
    assert "Publish this report" not in staff.text
    page = staff.client.get(f"/console/alpha-cvs/reports/{answered.open}/publish")
    assert page.status_code == 409
    assert "its report is published when the round closes" in page.get_data(as_text=True)


def test_the_draft_of_a_round_without_answers_says_so(staff: Browser, world: World) -> None:
    staff.get(f"/console/alpha-cvs/reports/{world.a.open_round}")
    assert staff.page is not None and staff.page.status_code == 200
    assert "has no report" in staff.text  # the test survey feeds no framework


def test_suppressed_cells_are_not_shown(staff: Browser, answered: Answered) -> None:
    staff.get(f"/console/alpha-cvs/reports/{answered.closed}?framework={ESSEX}")
    # Epping: 2 answers. Its rows name the place and say why, with no figure at all.
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", staff.text, re.S) if "Epping" in r]
    assert rows
    for row in rows:
        cells = [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        assert not any(re.fullmatch(r"\d+%?|\d+–\d+%", c) for c in cells), cells
        assert any("not shown" in c for c in cells), cells


def test_an_unknown_framework_is_not_found(staff: Browser, answered: Answered) -> None:
    page = staff.client.get(f"/console/alpha-cvs/reports/{answered.closed}?framework=nope")
    assert page.status_code == 404


# Narratives ---------------------------------------------------------------------------------


def _narrate(staff: Browser, round_id: int, kpi: str, text: str) -> None:
    staff.get(f"/console/alpha-cvs/reports/{round_id}?framework={ESSEX}")
    staff.post(
        f"/console/alpha-cvs/reports/{round_id}/narrative",
        {"framework": ESSEX, "kpi": kpi, "narrative": text},
    )


def test_a_narrative_is_saved_shown_in_the_report_and_audited(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    _narrate(staff, answered.closed, "ix", "  Two groups waited\r\nfor a call back.  ")
    assert narratives(session_factory, answered.closed) == {
        "ix": "Two groups waited\nfor a call back."
    }
    assert staff.path == f"/console/alpha-cvs/reports/{answered.closed}"
    assert "Saved." in staff.text
    assert textarea(staff.text, "narrative-ix") == "Two groups waited\nfor a call back."
    # The report shows it where funders will read it.
    report = report_now(session_factory, answered.closed)
    assert report.narratives == {"ix": "Two groups waited\nfor a call back."}
    assert site_fragment(report) in staff.text
    assert audit_actions(session_factory)[-1] == "report.narrative"


def test_a_narrative_for_a_kpi_id_with_a_space_has_a_usable_field(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    staff.get(f"/console/alpha-cvs/reports/{answered.closed}?framework=leicestershire-val")
    assert 'id="narrative-val-2"' in staff.text
    staff.post(
        f"/console/alpha-cvs/reports/{answered.closed}/narrative",
        {"framework": "leicestershire-val", "kpi": "VAL 2", "narrative": "Well informed."},
    )
    assert staff.page is not None and staff.page.request is not None
    assert staff.page.request.args["framework"] == "leicestershire-val"
    assert textarea(staff.text, "narrative-val-2") == "Well informed."


def test_a_narrative_too_long_is_refused_and_kept_on_the_page(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    _narrate(staff, answered.closed, "ix", "Kept.")
    too_long = "Why. " * 800 + "x"  # 4,001 characters
    _narrate(staff, answered.closed, "ix", too_long)
    assert "There is a problem" in staff.text
    assert "The narrative must be 4,000 characters or fewer (it has 4,001)" in staff.text
    assert 'href="#narrative-ix"' in staff.text
    assert textarea(staff.text, "narrative-ix") == too_long  # nothing typed is lost
    assert staff.text.startswith("<!DOCTYPE html>") and "<title>Error:" in staff.text
    assert narratives(session_factory, answered.closed) == {"ix": "Kept."}
    assert audit_actions(session_factory).count("report.narrative") == 1


def test_a_narrative_of_4000_characters_with_line_breaks_fits(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    text = "a" * 1999 + "\r\n" + "b" * 2000  # a browser sends each line break as two
    _narrate(staff, answered.closed, "x", text)
    assert narratives(session_factory, answered.closed)["x"] == text.replace("\r\n", "\n")


def test_an_emptied_narrative_is_deleted(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    _narrate(staff, answered.closed, "ix", "For now.")
    _narrate(staff, answered.closed, "ix", "   ")
    assert narratives(session_factory, answered.closed) == {}
    assert "There is no narrative for this result now." in staff.text
    with session_factory() as session:
        event = session.scalars(
            select(models.AuditEvent).order_by(models.AuditEvent.id.desc()).limit(1)
        ).one()
        assert event.action == "report.narrative"
        assert event.details == {"framework": ESSEX, "kpi": "ix", "characters": 0, "deleted": True}


@pytest.mark.parametrize(
    ("kpi", "message"),
    [
        ("", "Choose a KPI of this report to explain"),
        ("xiii", "Choose a KPI of this report to explain"),
    ],
)
def test_a_narrative_for_no_kpi_of_the_report_is_refused(
    staff: Browser,
    session_factory: sessionmaker[Session],
    answered: Answered,
    kpi: str,
    message: str,
) -> None:
    _narrate(staff, answered.closed, kpi, "Lost?")
    assert message in staff.text
    assert narratives(session_factory, answered.closed) == {}


# Publishing ---------------------------------------------------------------------------------


def test_publishing_asks_first_then_freezes_the_report_and_emails_the_funder(
    staff: Browser, session_factory: sessionmaker[Session], world: World, answered: Answered
) -> None:
    _narrate(staff, answered.closed, "ix", "Slower replies in August.")
    staff.get(f"/console/alpha-cvs/reports/{answered.closed}/publish?framework={ESSEX}")
    assert "Publish the report?" in staff.text
    assert "1 funder is emailed" in staff.text
    assert "1 of 27 results explained" in staff.text  # every KPI of the Essex scope
    assert snapshots(session_factory) == []  # asking changes nothing
    staff.post(f"/console/alpha-cvs/reports/{answered.closed}/publish", {"framework": ESSEX})
    (snapshot,) = snapshots(session_factory)
    assert (snapshot.round_id, snapshot.framework, snapshot.provider_id) == (
        answered.closed,
        ESSEX,
        world.a.id,
    )
    assert snapshot.pdf and snapshot.pdf.startswith(b"%PDF")
    assert snapshot.xlsx and snapshot.xlsx.startswith(b"PK")
    assert snapshot.data["narratives"] == {"ix": "Slower replies in August."}
    assert f"Published: {snapshot.title}. 1 funder will be emailed" in staff.text
    assert f"/funder/alpha-cvs/reports/{snapshot.id}" in staff.text
    with session_factory() as session:
        keys = session.scalars(
            select(models.OutboxMessage.dedupe_key).where(models.OutboxMessage.template == "report")
        ).all()
        funder_id = session.scalar(
            select(models.User.id).where(models.User.email == world.emails["funder_a"])
        )
        event = session.scalars(
            select(models.AuditEvent).order_by(models.AuditEvent.id.desc()).limit(1)
        ).one()
    assert keys == [f"report:{snapshot.id}:{funder_id}"]
    assert event.action == "report.publish"
    assert event.details == {"framework": ESSEX, "snapshots": [snapshot.id], "emailed": 1}
    # Publishing again is a correction, said so before it is done.
    staff.get(f"/console/alpha-cvs/reports/{answered.closed}/publish?framework={ESSEX}")
    assert "Publishing again makes a corrected version" in staff.text


def test_publishing_holds_no_lock_that_an_answer_waits_for(
    staff: Browser,
    settings: Settings,
    session_factory: sessionmaker[Session],
    answered: Answered,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meanwhile = Meanwhile.start(settings, monkeypatch, answers=1)
    try:
        staff.post(f"/console/alpha-cvs/reports/{answered.closed}/publish", {"framework": ESSEX})
    finally:
        meanwhile.close()
    (snapshot,) = snapshots(session_factory)
    assert f"Published: {snapshot.title}." in staff.text
    # The PDF rendered while a respondent answered, and the answer did not wait.
    assert meanwhile.blocked == []
    assert len(meanwhile.stored) == 1


def test_publishing_a_round_without_answers_is_refused(
    staff: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    staff.get(f"/console/alpha-cvs/reports/{world.a.open_round}")
    page = staff.client.post(
        f"/console/alpha-cvs/reports/{world.a.open_round}/publish",
        data={"csrf_token": staff.csrf(), "framework": ESSEX},
    )
    assert page.status_code == 404  # the test survey feeds no framework: there is no such report
    assert snapshots(session_factory) == []


def test_publishing_an_open_round_is_refused_with_the_way_to_do_it(
    staff: Browser, session_factory: sessionmaker[Session], answered: Answered
) -> None:
    staff.get(f"/console/alpha-cvs/reports/{answered.open}")
    page = staff.client.post(
        f"/console/alpha-cvs/reports/{answered.open}/publish",
        data={"csrf_token": staff.csrf(), "framework": ESSEX},
    )
    assert page.status_code == 409
    assert "Close the round" in page.get_data(as_text=True)
    assert snapshots(session_factory) == []


# The published report ------------------------------------------------------------------------


def test_the_funder_reads_the_snapshot_as_published_whatever_answers_come_later(
    funder: Browser, session_factory: sessionmaker[Session], world: World, answered: Answered
) -> None:
    snapshot_id = freeze(session_factory, world, answered.closed)
    frozen = KpiReport.from_json(snapshots(session_factory)[0].data)
    funder.get("/funder/alpha-cvs")
    assert f"/funder/alpha-cvs/reports/{snapshot_id}" in funder.text
    funder.get(f"/funder/alpha-cvs/reports/{snapshot_id}")
    before = funder.text
    assert site_fragment(frozen) in before
    then = result_text(frozen.result("ix").overall)
    assert _fact_rows(before)["Result"] == then
    assert frozen.result("ix").overall.n == 14
    # Two more negative answers arrive afterwards: the draft moves, the snapshot does not.
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, answered.closed)
        provider = session.get(models.Provider, world.a.id)
        assert round_ is not None and provider is not None
        for _ in range(2):
            store_response(
                session, round_, make_organisation(session, provider), supported(NEGATIVE)
            )
    now = report_now(session_factory, answered.closed).result("ix").overall
    assert (now.numerator, now.n) == (11, 16) and result_text(now) != then
    funder.get(f"/funder/alpha-cvs/reports/{snapshot_id}")
    assert _fact_rows(funder.text)["Result"] == then
    assert site_fragment(frozen) in funder.text


def test_the_funder_pages_name_no_group(
    funder: Browser, session_factory: sessionmaker[Session], world: World, answered: Answered
) -> None:
    snapshot_id = freeze(session_factory, world, answered.closed)
    for path in ("/funder/alpha-cvs", f"/funder/alpha-cvs/reports/{snapshot_id}"):
        funder.get(path)
        assert not [name for name in answered.names if name in funder.text], path
        assert "Alpha CVS Lunch Club" not in funder.text


def test_the_list_of_published_reports_is_newest_first(
    funder: Browser, session_factory: sessionmaker[Session], world: World, answered: Answered
) -> None:
    first = freeze(session_factory, world, answered.closed)
    second = freeze(session_factory, world, answered.closed)
    funder.get("/funder/alpha-cvs")
    assert funder.text.index(f'/reports/{second}"') < funder.text.index(f'/reports/{first}"')
    assert funder.text.count("replaced by a corrected version") == 1
    assert "2025/26 H2: Essex CVS infrastructure support 2017/18" in funder.text
    # The first says a correction followed, and links to it.
    third = freeze(session_factory, world, answered.closed)
    funder.get(f"/funder/alpha-cvs/reports/{first}")
    assert "A corrected version was published" in funder.text
    assert f'href="/funder/alpha-cvs/reports/{third}">read the latest version' in funder.text
    funder.get(f"/funder/alpha-cvs/reports/{third}")
    assert "A corrected version was published" not in funder.text


@pytest.mark.parametrize(
    ("suffix", "mimetype", "stored"),
    [
        (".pdf", "application/pdf", b"%PDF-1.7 the frozen report"),
        (
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK\x03\x04 the frozen workbook",
        ),
    ],
)
def test_downloads_give_the_stored_files(
    funder: Browser,
    session_factory: sessionmaker[Session],
    world: World,
    answered: Answered,
    suffix: str,
    mimetype: str,
    stored: bytes,
) -> None:
    snapshot_id = freeze(session_factory, world, answered.closed)
    funder.get(f"/funder/alpha-cvs/reports/{snapshot_id}")
    assert f"/funder/alpha-cvs/reports/{snapshot_id}{suffix}" in funder.text
    page = funder.client.get(f"/funder/alpha-cvs/reports/{snapshot_id}{suffix}")
    assert page.status_code == 200
    assert page.data == stored
    assert page.mimetype == mimetype
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Disposition"] == (
        f'attachment; filename="alpha-cvs-2025-26-h2-essex-2017{suffix}"'
    )


def test_staff_of_the_provider_read_the_published_report_too(
    staff: Browser, session_factory: sessionmaker[Session], world: World, answered: Answered
) -> None:
    snapshot_id = freeze(session_factory, world, answered.closed)
    staff.get(f"/console/alpha-cvs/reports/{answered.closed}?framework={ESSEX}")
    assert f"/funder/alpha-cvs/reports/{snapshot_id}" in staff.text
    staff.get(f"/funder/alpha-cvs/reports/{snapshot_id}")
    assert staff.page is not None and staff.page.status_code == 200
    assert "Back to the draft report" in staff.text


@pytest.mark.parametrize("suffix", ["", ".pdf", ".xlsx"])
def test_another_providers_funder_or_address_finds_nothing(
    app: Flask,
    session_factory: sessionmaker[Session],
    world: World,
    answered: Answered,
    suffix: str,
) -> None:
    snapshot_id = freeze(session_factory, world, answered.closed)
    other = as_persona(Browser(app.test_client()), world, "funder_other")
    assert other.client.get(f"/funder/alpha-cvs/reports/{snapshot_id}{suffix}").status_code == 404
    staff_b = as_persona(Browser(app.test_client()), world, "staff_b")
    assert staff_b.client.get(f"/funder/alpha-cvs/reports/{snapshot_id}{suffix}").status_code == 404
    # A's snapshot under B's address is not there either, even for B's own staff.
    assert staff_b.client.get(f"/funder/beta-cvs/reports/{snapshot_id}{suffix}").status_code == 404


def test_a_snapshot_whose_data_cannot_be_read_still_offers_its_files(
    funder: Browser,
    session_factory: sessionmaker[Session],
    world: World,
    answered: Answered,
    caplog: pytest.LogCaptureFixture,
) -> None:
    snapshot_id = freeze(session_factory, world, answered.closed)
    with db.transaction(session_factory) as session:
        snapshot = session.get(models.ReportSnapshot, snapshot_id)
        assert snapshot is not None
        snapshot.data = {"framework": "not a report"}
    funder.get(f"/funder/alpha-cvs/reports/{snapshot_id}")
    assert funder.page is not None and funder.page.status_code == 200
    assert "This report cannot be shown as a page: download it above." in funder.text
    assert f"/funder/alpha-cvs/reports/{snapshot_id}.pdf" in funder.text
    assert f"published report {snapshot_id} cannot be shown" in caplog.text


def test_the_funder_s_rounds_table_shows_a_round_closed_early_on_the_day_it_closed(
    funder: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    with db.transaction(session_factory) as session:
        round_ = session.get(models.Round, world.a.open_round)
        assert round_ is not None
        due = round_.closes_at
        rounds.close_round(session, round_)

    funder.get("/funder/alpha-cvs")

    assert f"{short_date(utcnow())}<br>" in funder.text
    assert f"closed early; was due {short_date(due)}" in funder.text


# Closing a round: its reports are published in the background ------------------------------


def test_closing_a_round_prepares_its_reports_in_the_background_then_links_them(
    staff: Browser, world: World, answered: Answered, session_factory: sessionmaker[Session]
) -> None:
    from collector import reports

    def stand_in(session: Session, round_: models.Round) -> list[models.ReportSnapshot]:
        """Publish as analysis.publish.publish does, without its seconds of rendering."""
        return [
            reports.save_snapshot(
                session,
                round_=round_,
                framework=ESSEX,
                title=f"Alpha CVS: Essex, {round_.period_label}",
                data={},
                pdf=b"%PDF-1.7",
                xlsx=b"PK",
                published_by="dispatcher w1",
            )
        ]

    url = f"/console/alpha-cvs/rounds/{answered.open}"
    staff.get(f"{url}/close")
    staff.post(f"{url}/close")

    # The request closes the round and builds nothing: the page says the reports are coming.
    assert "The round is closed." in staff.text
    assert "Its KPI reports are being prepared: this page links them once they are" in (staff.text)
    assert "KPI reports are being prepared, since" in staff.text
    assert snapshots(session_factory) == []
    # Publishing by hand meanwhile would email funders twice: refused, saying why.
    page = staff.client.get(f"/console/alpha-cvs/reports/{answered.open}/publish")
    assert page.status_code == 409
    assert "being published in the background" in page.get_data(as_text=True)

    # The background step (the dispatcher's) publishes them, in the name of who closed it.
    with db.transaction(session_factory) as session:
        [outcome] = reports.publish_due(session, stand_in, actor="dispatcher w1")
    assert outcome.round_id == answered.open and outcome.error is None, outcome.error
    [made] = snapshots(session_factory)
    assert made.published_by == world.emails["staff_a"]

    staff.get(url)
    assert "being prepared" not in staff.text
    assert "Published 1 report; 1 email to funders queued." in staff.text
    assert f'href="/funder/alpha-cvs/reports/{made.id}">Alpha CVS: Essex, ' in staff.text
    assert audit_actions(session_factory)[-2:] == ["round.close", "report.publish"]
