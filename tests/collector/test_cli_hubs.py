"""`tempcheck hubs`: the register and returns imported (all or nothing) and the quarter's table
in text, PDF and workbook, as a user runs them."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import models
from tests.collector.conftest import Run

REGISTER = (
    "external_ref,name,kind,locality\n"
    "VAC,Voluntary Action Charnwood,hub,Charnwood\n"
    "SYS,Syston LRC,centre,Charnwood\n"
)
RETURNS = (
    "hub_ref,quarter,variable,value,target,note\n"
    "VAC,2010/11 Q1,groups_supported,20,,\n"
    "VAC,2010/11 Q2,groups_supported,31,,\n"
    "VAC,2010/11 Q2,volunteer_enquiries,50,,\n"
    "VAC,2010/11 Q2,volunteers_placed,12,,\n"
    "SYS,2010/11 Q2,groups_supported,,,not applicable\n"
)


def _returns(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(models.HubReturn)) or 0)


def test_hubs_commands_import_and_show_the_quarter(
    run: Run, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        session.add(models.Provider(slug="val", name="Voluntary Action LeicesterShire"))
    register = tmp_path / "hubs.csv"
    register.write_text(REGISTER)
    assert (
        "Added 2 and updated 0 hubs"
        in run("hubs", "import", str(register), "--provider", "val").output
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        RETURNS + "SYS,2010/11 Q2,volunteers_placed,-3,,\nVAC,2010/11 Q2,groups_supported,9,,\n"
    )
    refused = run("hubs", "import-returns", str(bad), "--provider", "val")
    assert refused.exit_code == 1
    assert "Nothing was imported: 3 problems in the file" in refused.output
    assert (
        "line 7, column variable: a Local Resource Centre does not report volunteers_placed"
        in refused.output
    )
    assert "line 7, column value: -3 is negative: a figure is 0 or more" in refused.output
    assert (
        "line 8, column variable: VAC 2010/11 Q2 groups_supported appears again" in refused.output
    )
    assert _returns(session_factory) == 0
    good = tmp_path / "returns.csv"
    good.write_text(RETURNS)
    done = run("hubs", "import-returns", str(good), "--provider", "val")
    assert done.exit_code == 0 and "Added 5 and updated 0 returned figures" in done.output
    listed = run("hubs", "list", "--provider", "val").output
    assert "Syston LRC" in listed and "2010/11 Q2, 2010/11 Q1" in listed
    text = run("hubs", "table", "--provider", "val").output  # the latest quarter
    assert "Community Hub Temperature Check, 2010/11 Q2" in text
    # VAC: 31 of 30 green, 50 of 60 amber (83%), 12 of 25 red, two not returned; SYS: 2 not.
    assert text.splitlines()[-1].split() == ["Total", "1", "1", "1", "4", "7"]
    pdf = tmp_path / "hubs.pdf"
    wrote = run(
        "hubs",
        "table",
        "--provider",
        "val",
        "--quarter",
        "2010/11 Q2",
        "--format",
        "pdf",
        "--out",
        str(pdf),
    )
    assert wrote.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF")
    xlsx = tmp_path / "hubs.xlsx"
    run("hubs", "table", "--provider", "val", "--format", "xlsx", "--out", str(xlsx))
    comparison = load_workbook(io.BytesIO(xlsx.read_bytes()))["Hub comparison"]
    rows = list(comparison.iter_rows(min_row=3, values_only=True))
    assert rows[0][:8] == (
        "Variable",
        "Locality",
        "Hub or centre",
        "2010/11 Q2",
        "Target",
        "2010/11 Q1",
        "Change",
        "Status",
    )
    assert (
        "VCS groups given one-to-one support",
        "Charnwood",
        "Voluntary Action Charnwood",
        31,
        30,
        20,
        11,
        "green",
    ) in [r[:8] for r in rows]
    wrong = run("hubs", "table", "--provider", "val", "--quarter", "Q2")
    assert wrong.exit_code == 1 and "'Q2' is not a quarter" in wrong.output
    needs = run("hubs", "table", "--provider", "val", "--format", "pdf")
    assert needs.exit_code == 1 and "--format pdf needs --out FILE" in needs.output
