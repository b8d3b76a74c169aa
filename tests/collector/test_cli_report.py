"""`tempcheck report` build, publish and list, and `tempcheck rounds close` publishing: every
format written and readable, files never overwritten by surprise, every bad input a plain
message that changes nothing, and a close that stands when its report cannot be published."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import models, rounds, users
from collector.config import Settings
from tests.analysis.test_publish import answered_round, pdf_text, workbook_summary
from tests.collector.conftest import Run
from tests.factories import make_organisation, make_provider, make_round
from tests.meanwhile import Meanwhile

pytestmark = pytest.mark.slow

BASE = "http://localhost:5000"


@pytest.fixture
def world(restore: Callable[..., dict[str, int]]) -> dict[str, int]:
    """Brentwood CVS with a closed round of answers and a funder; an open round; Harlow CVS
    with a closed round of a survey no framework reads; and a closed round nobody answered."""
    return restore("cli-report-world", build_world)


def build_world(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Build the world (once per worker: tests get a copy)."""
    with session_factory() as session, session.begin():
        closed = answered_round(session)
        brentwood = closed.provider
        users.create_user(
            session,
            email="funder@council.example.org",
            name="Essex County Council",
            password="a long enough password 1",
            role="funder",
            funded=[brentwood],
        )
        still_open = answered_round(session, groups=6, answered=6, provider=brentwood, close=False)
        harlow = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
        make_organisation(session, harlow)
        other_survey = make_round(session, harlow)
        rounds.close_round(session, other_survey)
        unanswered = answered_round(session, groups=3, answered=0, provider=harlow)
        return {
            "closed": closed.id,
            "open": still_open.id,
            "other_survey": other_survey.id,
            "unanswered": unanswered.id,
        }


def count(sessions: sessionmaker[Session], model: Any, *where: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# Building -------------------------------------------------------------------------------------


def test_a_report_builds_in_every_format(run: Run, world: dict[str, Any], tmp_path: Path) -> None:
    closed = str(world["closed"])
    common = ("report", "build", "--round", closed, "--framework", "essex-2017")

    built = run(*common, "--format", "xlsx", "--out", "r.xlsx")
    assert built.exit_code == 0, built.output
    assert "Wrote r.xlsx (" in built.output
    summary = workbook_summary((tmp_path / "r.xlsx").read_bytes())
    assert (summary["ix"]["n"], summary["ix"]["Meeting the definition"]) == (12, 9)

    built = run(*common, "--format", "pdf", "--out", "r.pdf")
    assert built.exit_code == 0, built.output
    assert "rendering pdf..." in built.output
    assert "75% 12 " in pdf_text((tmp_path / "r.pdf").read_bytes())

    built = run(*common, "--format", "html", "--out", "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Brentwood CVS" in html

    printed = run(*common, "--format", "text", "--out", "-")
    assert printed.exit_code == 0
    # The Essex framework's 27 KPIs make the message use short lines: "- ix: 75% ...".
    assert "- ix: 75% (n=12, 95% CI " in printed.stdout
    assert f"{BASE}/funder/brentwood-cvs" in printed.stdout
    assert "Building" not in printed.stdout  # progress goes to stderr, the text alone to stdout

    charts = run(*common, "--format", "png", "--out", "charts")
    assert charts.exit_code == 0, charts.output
    written = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert {"ix.png", "b.png", "x.png", "ii.png"} <= set(written)
    assert f"Wrote {len(written)} charts to charts/:" in charts.output
    for name in written:
        assert (tmp_path / "charts" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert openpyxl.load_workbook(io.BytesIO((tmp_path / "r.xlsx").read_bytes())).sheetnames[0] == (
        "Summary"
    )


def test_building_never_overwrites_without_force(
    run: Run, world: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "r.pdf").write_bytes(b"keep me")
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "ix.png").write_bytes(b"keep me too")
    common = ("report", "build", "--round", str(world["closed"]), "--framework", "essex-2017")

    refused = run(*common, "--format", "pdf", "--out", "r.pdf")
    assert refused.exit_code == 1
    assert "r.pdf already exists: choose another file, or add --force to overwrite it" in (
        refused.output
    )
    assert (tmp_path / "r.pdf").read_bytes() == b"keep me"
    refused = run(*common, "--format", "png", "--out", "charts")
    assert refused.exit_code == 1
    assert "charts already has charts in it: choose another folder, or add --force" in (
        refused.output
    )
    assert (tmp_path / "charts" / "ix.png").read_bytes() == b"keep me too"

    forced = run(*common, "--format", "pdf", "--out", "r.pdf", "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--round", "999", "--format", "pdf", "--out", "r.pdf"), "No round 999"),
        (
            ("--round", "{unanswered}", "--format", "pdf", "--out", "r.pdf"),
            "Round {unanswered} has no completed responses (closed): there is nothing to "
            "report yet",
        ),
        (
            ("--round", "{closed}", "--format", "pdf", "--out", "r.pdf"),
            "Round {closed}'s survey feeds 2 KPI frameworks: choose one with --framework "
            "(essex-2017, leicestershire-val)",
        ),
        (
            ("--round", "{closed}", "--framework", "nope", "--format", "text", "--out", "-"),
            "No KPI framework 'nope' (there are: essex-2017, kent-2017, leicestershire-val)",
        ),
        (
            ("--round", "{other_survey}", "--format", "text", "--out", "-"),
            "Round {other_survey}: no KPI framework reads the survey every-type v1, so it has "
            "no KPI report",
        ),
        (
            ("--round", "{closed}", "--framework", "essex-2017", "--format", "pdf", "--out", "-"),
            "Only html and text can be printed: give --out a file for pdf",
        ),
        (
            ("--round", "{closed}", "--framework", "essex-2017", "--format", "pdf", "--out", "."),
            ". is a folder: give --out a file name, e.g. report.pdf",
        ),
        (
            ("--round", "{closed}", "--format", "pdf", "--out", "missing/r.pdf"),
            "There is no folder missing to write r.pdf into",
        ),
        (
            ("--round", "{closed}", "--format", "png", "--out", "taken.txt"),
            "taken.txt is a file: png writes one file per chart, so give --out a folder",
        ),
        (
            ("--round", "{closed}", "--format", "docx", "--out", "r.docx"),
            "Invalid value for '--format': 'docx' is not one of 'html', 'xlsx', 'pdf', 'png', "
            "'text'",
        ),
    ],
)
def test_bad_build_requests_say_what_is_wrong_and_write_nothing(
    run: Run,
    world: dict[str, Any],
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    (tmp_path / "taken.txt").write_text("mine")
    before = {p.name for p in tmp_path.iterdir()}
    result = run("report", "build", *(a.format(**world) for a in args))
    assert result.exit_code in (1, 2)
    assert message.format(**world) in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert {p.name for p in tmp_path.iterdir()} == before


# Publishing and listing -----------------------------------------------------------------------


def test_publishing_by_hand_and_again_as_a_correction(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    closed = str(world["closed"])
    first = run("report", "publish", "--round", closed, "--framework", "essex-2017")
    assert first.exit_code == 0, first.output
    assert "Building the essex-2017 report for round" in first.output
    assert (
        "Published report 1: Brentwood CVS: Essex CVS infrastructure support 2017/18, 2026/27 H1"
        in first.output
    )
    assert f"{BASE}/funder/brentwood-cvs/reports/1" in first.output
    assert "1 email to funders queued: `tempcheck dispatch` sends it" in first.output
    assert "a correction" not in first.output

    again = run("report", "publish", "--round", closed)
    assert again.exit_code == 0, again.output
    assert "Published report 2: Brentwood CVS: Essex" in again.output
    assert "a correction: it replaces report 1 of " in again.output
    assert "Published report 3: Brentwood CVS: VAL Performance" in again.output
    assert count(session_factory, models.ReportSnapshot) == 3
    assert (
        count(session_factory, models.OutboxMessage, models.OutboxMessage.template == "report") == 3
    )
    assert (
        count(session_factory, models.AuditEvent, models.AuditEvent.action == "report.publish") == 2
    )

    listed = run("report", "list")
    lines = listed.output.splitlines()
    assert lines[0].split() == [
        "id", "provider", "round", "framework", "published", "emails", "link"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["3", "2", "1"]
    assert lines[1].split()[-1] == f"{BASE}/funder/brentwood-cvs/reports/3"
    assert run("report", "list", "--provider", "harlow-cvs").output.splitlines()[1] == "(none)"
    unknown = run("report", "list", "--provider", "nope")
    assert unknown.exit_code == 1
    assert "No provider called 'nope': known providers are brentwood-cvs, harlow-cvs" in (
        unknown.output
    )


@pytest.mark.parametrize(
    ("round_key", "exit_code", "message"),
    [
        (
            "open",
            1,
            "Round {open} is open: its reports are published when it closes "
            "(`tempcheck rounds close {open}`)",
        ),
        ("other_survey", 0, "Nothing to publish: no KPI framework reads the survey every-type v1."),
        ("unanswered", 0, "Nothing to publish: round {unanswered} has no completed responses."),
    ],
)
def test_publishing_what_cannot_be_published_says_why(
    run: Run,
    world: dict[str, Any],
    session_factory: sessionmaker[Session],
    round_key: str,
    exit_code: int,
    message: str,
) -> None:
    result = run("report", "publish", "--round", str(world[round_key]))
    assert result.exit_code == exit_code
    assert message.format(**world) in " ".join(result.output.split())
    assert count(session_factory, models.ReportSnapshot) == 0
    assert run("report", "publish", "--round", "999").output.strip() == (
        "No round 999 (see `tempcheck rounds list`)"
    )


def test_publishing_that_fails_says_why_in_a_sentence_and_publishes_nothing(
    run: Run,
    world: dict[str, Any],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import analysis.publish

    def broken(*args: Any, **kwargs: Any) -> list[models.ReportSnapshot]:
        raise ValueError("the workbook cannot hold this text")

    monkeypatch.setattr(analysis.publish, "build", broken)
    closed = world["closed"]
    result = run("report", "publish", "--round", str(closed))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        "Nothing was published: ValueError: the workbook cannot hold this text. When that is "
        f"fixed, publish again with `tempcheck report publish --round {closed}`"
    ) in " ".join(result.output.split())
    assert count(session_factory, models.ReportSnapshot) == 0
    emails = count(session_factory, models.OutboxMessage, models.OutboxMessage.template == "report")
    assert emails == 0


def test_closing_publishes_and_a_failure_leaves_the_round_closed(
    run: Run,
    world: dict[str, Any],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import analysis.publish

    def broken(*args: Any, **kwargs: Any) -> list[models.ReportSnapshot]:
        raise RuntimeError("WeasyPrint has no fonts")

    monkeypatch.setattr(analysis.publish, "build", broken)
    open_id = world["open"]
    closed = run("rounds", "close", str(open_id))
    assert closed.exit_code == 0, closed.output
    assert f"Closed round {open_id}: 6 of 22 invited completed (27%)" in closed.output
    assert (
        "Closed, but the report could not be published: RuntimeError: WeasyPrint has no fonts. "
        f"When that is fixed, publish it with `tempcheck report publish --round {open_id}`."
        in " ".join(closed.output.split())
    )
    with session_factory() as session:
        assert session.get(models.Round, open_id).status == "closed"  # type: ignore[union-attr]
    assert count(session_factory, models.ReportSnapshot) == 0

    monkeypatch.undo()
    retried = run("report", "publish", "--round", str(open_id), "--framework", "essex-2017")
    assert retried.exit_code == 0, retried.output
    assert "Published report 1: Brentwood CVS" in retried.output


def test_closing_a_round_publishes_its_reports(
    run: Run, world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    open_id = world["open"]
    closed = run("rounds", "close", str(open_id))
    assert closed.exit_code == 0, closed.output
    assert "Published 2 reports; 2 emails to funders queued." in closed.output
    assert f"  report 1: {BASE}/funder/brentwood-cvs/reports/1" in closed.output
    assert "Run `tempcheck dispatch` to send the report emails." in closed.output
    with session_factory() as session:
        snapshots = session.scalars(select(models.ReportSnapshot)).all()
        assert {(s.round_id, s.framework) for s in snapshots} == {
            (open_id, "essex-2017"),
            (open_id, "leicestershire-val"),
        }
        assert all(s.published_by.startswith("command line (") for s in snapshots)


def test_publishing_holds_no_lock_that_an_answer_waits_for(
    run: Run,
    world: dict[str, Any],
    settings: Settings,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meanwhile = Meanwhile.start(settings, monkeypatch)
    try:
        published = run("report", "publish", "--round", str(world["closed"]))
        closed = run("rounds", "close", str(world["open"]))
    finally:
        meanwhile.close()
    assert published.exit_code == 0, published.output
    assert closed.exit_code == 0, closed.output
    assert "Published 2 reports; 2 emails to funders queued." in closed.output
    # Each of the four PDFs rendered while a respondent answered, and no answer waited.
    assert meanwhile.blocked == []
    assert len(meanwhile.stored) == 4
    assert count(session_factory, models.ReportSnapshot) == 4
