"""The Community Hub Temperature Check: the check file and its validation, the RAG rule, and
the review's Table Three counted by hand, through the imports and SQL (SQLite and PostgreSQL)
and out through every renderer."""

from __future__ import annotations

import io
from datetime import date
from fractions import Fraction

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from analysis.hubs import (
    HubCheckError,
    HubStatus,
    check,
    check_from_data,
    checks,
    judge,
    load_table,
)
from analysis.render.hubs import SHEETS, hubs_html, hubs_section, hubs_text, hubs_xlsx
from collector import hubs
from tests.factories import make_provider

Q2 = date(2010, 7, 1)

# The review's Table Three (Appendix Eight): three Local Resource Centres with two variables
# each and seven Community Hubs with five. "g": a figure meeting its target, "a": below it but
# within 80%, "x": no row at all, "na": a row without a figure, saying why, "nt": a figure with
# no target (volunteers_referred has none in the check file).
TABLE_THREE = {
    ("CDLRC", "Castle Donington VC/LRC", "centre", "North West Leicestershire"): "x na",
    ("LUTLRC", "Lutterworth LRC", "centre", "Harborough"): "g g",
    ("SYSLRC", "Syston LRC", "centre", "Charnwood"): "g g",
    ("VASL", "VASL", "hub", "Harborough"): "g g g g g",
    ("CABD", "CABD", "hub", "Blaby"): "g g g g g",
    ("MRCCA", "MRC CA", "hub", "Melton"): "a g g g g",
    ("OWCA", "O and W CA", "hub", "Oadby and Wigston"): "g g x nt na",
    ("VAC", "VAC", "hub", "Charnwood"): "g x na nt g",
    ("VAHB", "VAH and B", "hub", "Hinckley and Bosworth"): "x g g na x",
    ("VAM", "VAM", "hub", "Melton"): "g a g nt x",
}
# (red, amber, green, not reported, total) per row, as the review prints them.
REVIEW_COUNTS = {
    "CDLRC": (0, 0, 0, 2, 2),
    "LUTLRC": (0, 0, 2, 0, 2),
    "SYSLRC": (0, 0, 2, 0, 2),
    "VASL": (0, 0, 5, 0, 5),
    "CABD": (0, 0, 5, 0, 5),
    "MRCCA": (0, 1, 4, 0, 5),
    "OWCA": (0, 0, 2, 3, 5),
    "VAC": (0, 0, 2, 3, 5),
    "VAHB": (0, 0, 2, 3, 5),
    "VAM": (0, 1, 2, 2, 5),
}


def _returns_csv() -> str:
    """Write Table Three as a returns file: figures against the check file's targets."""
    hub_check = check()
    lines = ["hub_ref,quarter,variable,value,target,note"]
    for (ref, _, kind, _), codes in TABLE_THREE.items():
        for variable, code in zip(hub_check.variables_for(kind), codes.split(), strict=True):
            target = variable.targets[kind]
            # volunteers_referred has no county target: a green one gives the hub's own.
            own = 10 if target is None and code != "nt" else None
            aim = target if target is not None else own
            if code == "g":
                lines.append(f"{ref},2010/11 Q2,{variable.id},{aim + 3},{own or ''},")
            elif code == "a":
                assert aim is not None
                lines.append(f"{ref},2010/11 Q2,{variable.id},{aim - 1},{own or ''},")
            elif code == "na":
                lines.append(f"{ref},2010/11 Q2,{variable.id},,,not applicable")
            elif code == "nt":
                lines.append(f"{ref},2010/11 Q2,{variable.id},7,,")
    # The quarter before, for the comparison: VAC's groups were 5 fewer.
    lines.append(f"VAC,2010/11 Q1,groups_supported,{hub_check.variables[0].targets['hub'] - 2},,")
    return "\n".join(lines) + "\n"


@pytest.fixture
def table_three(session: Session):  # type: ignore[no-untyped-def]
    provider = make_provider(session, name="Voluntary Action LeicesterShire")
    register = "external_ref,name,kind,locality\n" + "".join(
        f"{ref},{name},{kind},{locality}\n" for ref, name, kind, locality in TABLE_THREE
    )
    hubs.import_hubs(session, provider, register)
    hub_check = check()
    hubs.import_returns(
        session, provider, _returns_csv(), hub_check.variable_kinds(), today=date(2010, 12, 1)
    )
    return load_table(session, provider, Q2, hub_check)


def test_the_leicestershire_check_has_five_hub_and_two_centre_variables() -> None:
    hub_check = check("leicestershire-hubs")
    assert len(hub_check.variables_for("hub")) == 5
    assert len(hub_check.variables_for("centre")) == 2
    assert hub_check.amber_from == Fraction(4, 5)
    assert "at least 80% of it" in hub_check.rule
    assert set(checks()) == {"leicestershire-hubs"}


def test_the_kpi_loader_does_not_pick_up_the_hub_check() -> None:
    from analysis.kpis import frameworks

    assert "leicestershire-hubs" not in frameworks()


def test_a_bad_check_file_lists_every_problem() -> None:
    data = {
        "id": "Bad Id",
        "title": "",
        "rag": {"amber_from": "120%", "colour": "x"},
        "variables": [
            {"id": "groups", "title": "Groups", "targets": {"hub": -1, "spoke": 3}},
            {"id": "groups", "title": "Again", "targets": {}},
            {"id": "Nope!", "targets": {"centre": 2.5}, "extra": 1},
        ],
        "extras": True,
    }
    with pytest.raises(HubCheckError) as raised:
        check_from_data(data, source="bad.yaml")
    problems = raised.value.problems
    for wanted in (
        "bad.yaml: extras: unknown key",
        "bad.yaml: id: must be lower-case letters, digits and -",
        "bad.yaml: title: is missing",
        "bad.yaml: rag.colour: unknown key",
        "bad.yaml: rag.amber_from: must be between 0% and 100%, both excluded",
        "bad.yaml: variable groups.targets.hub: -1 is not a whole number >= 0",
        "bad.yaml: variable groups.targets.spoke: is not a kind (use hub or centre)",
        "bad.yaml: variable 2.id: groups appears twice",
        "bad.yaml: variable groups.targets: must name the kinds that report it (hub, centre)",
        "bad.yaml: variable 3.extra: unknown key",
        "bad.yaml: variable 3.id: must be lower-case letters, digits and _",
        "bad.yaml: variable #3.title: is missing",
        "bad.yaml: variable #3.targets.centre: 2.5 is not a whole number >= 0",
    ):
        assert wanted in problems
    assert len(problems) == 13


@pytest.mark.parametrize(
    ("value", "target", "status"),
    [
        (10, 10, HubStatus.GREEN),
        (11, 10, HubStatus.GREEN),
        (8, 10, HubStatus.AMBER),  # exactly 80%: still amber
        (7, 10, HubStatus.RED),
        (0, 0, HubStatus.GREEN),
        (None, 10, HubStatus.NOT_REPORTED),
        (5, None, HubStatus.NOT_REPORTED),
    ],
)
def test_the_rag_rule(value: int | None, target: int | None, status: HubStatus) -> None:
    assert judge(value, target, Fraction(4, 5))[0] is status


def test_table_three_counts_as_the_review_does(table_three) -> None:  # type: ignore[no-untyped-def]
    table = table_three
    counts = {
        row.hub.ref: (*(row.count(s) for s in HubStatus_order()), len(row.cells))
        for row in table.rows
    }
    assert counts == REVIEW_COUNTS
    assert table.totals == {
        HubStatus.RED: 0,
        HubStatus.AMBER: 2,
        HubStatus.GREEN: 26,
        HubStatus.NOT_REPORTED: 13,
    }
    assert table.total == 41
    assert table.summary() == (
        "Of 41 variables across all localities in 2010/11 Q2: 26 (63%) green, 2 (5%) amber, "
        "0 (0%) red and 13 (32%) not reported."
    )
    # Why each not reported cell is not: nothing returned, not applicable, or no target.
    owca = next(r for r in table.rows if r.hub.ref == "OWCA")
    reasons = [(c.variable.id, c.status.value, c.reason, c.note) for c in owca.cells]
    assert reasons[2:] == [
        ("volunteers_placed", "not reported", "no return", ""),
        ("volunteers_referred", "not reported", "no target set", ""),
        ("opportunities_developed", "not reported", "no figure returned", "not applicable"),
    ]
    # The comparison with the quarter before: VAC's groups 33 now, 28 then.
    vac = next(r for r in table.rows if r.hub.ref == "VAC")
    groups = vac.cell("groups_supported")
    assert groups is not None
    assert (groups.value, groups.target, groups.previous, groups.change) == (33, 30, 28, 5)
    assert vac.cell("volunteer_enquiries").previous is None  # type: ignore[union-attr]


def HubStatus_order() -> tuple[HubStatus, ...]:  # noqa: N802 - the review's column order
    return (HubStatus.RED, HubStatus.AMBER, HubStatus.GREEN, HubStatus.NOT_REPORTED)


def test_table_three_renders_the_same_counts_in_page_workbook_and_text(  # type: ignore[no-untyped-def]
    table_three,
) -> None:
    table = table_three
    page = hubs_section(table)
    assert "Of 41 variables across all localities in 2010/11 Q2" in page
    assert page.count("govuk-tag--grey") == 2 * 13  # not reported: in the grid and comparison
    document = hubs_html(table)
    assert document.count('class="rag rag--amber"') == 2 * 2  # grid and comparison
    assert "Castle Donington VC/LRC" in document and "Locality comparison" in document
    book = load_workbook(io.BytesIO(hubs_xlsx(table)))
    assert book.sheetnames == list(SHEETS)
    sheet = book[SHEETS[0]]
    statuses = [row[9] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert statuses.count("green") == 26 + 1  # the cells, and the totals row
    text = hubs_text(table)
    assert text.splitlines()[-1].split() == ["Total", "0", "2", "26", "13", "41"]


@pytest.mark.demo_data("plain")
def test_the_demo_has_a_year_of_hub_returns_with_every_status(session: Session) -> None:
    from sqlalchemy import select

    from collector import models
    from collector.cli import demo

    provider = session.scalars(
        select(models.Provider).where(models.Provider.slug == demo.LEICESTERSHIRE[0])
    ).one()
    quarters = hubs.quarters_of(session, provider.id)
    assert len(quarters) == 4
    table = load_table(session, provider, quarters[0], check())
    assert len(table.rows) == 8 and table.total == 5 * 5 + 3 * 2
    # Four hubs' volunteers referred have no target; one centre's return does not apply; two
    # hubs returned nothing for one variable.
    assert table.totals[HubStatus.NOT_REPORTED] == 4 + 1 + 2
    assert table.totals[HubStatus.AMBER] == 1 and table.totals[HubStatus.RED] == 1
    assert table.totals[HubStatus.GREEN] == 31 - 9
    groups = next(r for r in table.rows if r.hub.ref == "VAC").cell("groups_supported")
    assert groups is not None and groups.previous is not None  # the comparison has figures


def test_a_table_kept_as_json_renders_as_it_was(table_three) -> None:  # type: ignore[no-untyped-def]
    import json

    from analysis.hubs import table_from_json, table_to_json

    kept = table_from_json(json.loads(json.dumps(table_to_json(table_three))))
    assert kept.totals == table_three.totals
    assert hubs_section(kept) == hubs_section(table_three)
    assert hubs_html(kept) == hubs_html(table_three)


@pytest.mark.parametrize(
    ("start", "end", "quarter"),
    [
        (date(2026, 4, 1), date(2026, 9, 30), date(2026, 7, 1)),  # H1: its second quarter
        (date(2026, 10, 1), date(2027, 3, 31), date(2027, 1, 1)),  # H2: Q4
        (date(2025, 11, 16), date(2026, 11, 15), date(2026, 7, 1)),  # the last complete one
        (date(2026, 10, 20), date(2026, 11, 15), date(2026, 10, 1)),  # shorter than a quarter
    ],
)
def test_a_report_shows_the_last_quarter_of_its_period(
    start: date, end: date, quarter: date
) -> None:
    from analysis.hubs import report_quarter

    assert report_quarter(start, end) == quarter


def test_a_check_file_with_a_key_twice_is_refused_with_its_line() -> None:
    from analysis.hubs.definitions import load_yaml

    text = "id: x\ntitle: X\nrag: {amber_from: 80%}\nvariables: []\nrag: {amber_from: 50%}\n"
    with pytest.raises(HubCheckError) as raised:
        load_yaml(text, "x.yaml")
    assert raised.value.problems == ["x.yaml: line 5: duplicate key 'rag'"]
