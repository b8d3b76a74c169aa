"""Community Hubs and Local Resource Centres: the register and the quarterly returns, imported
from CSV all or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import hubs, models
from tests.factories import make_provider

REGISTER = (
    "external_ref,name,kind,locality\n"
    "VAC,Voluntary Action Charnwood,hub,Charnwood\n"
    "SYS,Syston Local Resource Centre,LRC,Charnwood\n"
    "VAM,Voluntary Action Melton,Community Hub,Melton\n"
)
VARIABLES = {
    "groups_supported": frozenset({"hub", "centre"}),
    "volunteer_enquiries": frozenset({"hub", "centre"}),
    "volunteers_referred": frozenset({"hub"}),
}
TODAY = date(2010, 11, 15)


def _count(session: Session, model: type[models.Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def provider(session: Session) -> models.Provider:
    provider = make_provider(session)
    hubs.import_hubs(session, provider, REGISTER)
    return provider


def test_quarters_are_uk_financial_quarters() -> None:
    assert hubs.parse_quarter("2010/11 Q2") == date(2010, 7, 1)
    assert hubs.parse_quarter("2010/11 q4") == date(2011, 1, 1)
    assert hubs.parse_quarter("2010/12 Q1") is None  # not one year after the other
    assert hubs.parse_quarter("Q2 2010") is None
    assert hubs.quarter_label(date(2011, 1, 1)) == "2010/11 Q4"
    assert hubs.previous_quarter(date(2010, 4, 1)) == date(2010, 1, 1)
    assert hubs.quarter_label(hubs.previous_quarter(date(2010, 4, 1))) == "2009/10 Q4"
    assert hubs.quarter_end(date(2010, 7, 1)) == date(2010, 9, 30)
    assert hubs.quarter_of(date(2010, 11, 15)) == date(2010, 10, 1)


def test_the_register_is_imported_and_a_second_import_updates(
    session: Session, provider: models.Provider
) -> None:
    found = hubs.hubs_of(session, provider.id)
    # Centres first, as the review's table lists them.
    assert [(h.external_ref, h.kind, h.locality) for h in found] == [
        ("SYS", "centre", "Charnwood"),
        ("VAC", "hub", "Charnwood"),
        ("VAM", "hub", "Melton"),
    ]
    plan = hubs.import_hubs(
        session,
        provider,
        "external_ref,name,kind,locality\nVAM,Melton Voluntary Action,hub,Melton\n",
    )
    assert (len(plan.new), len(plan.updated)) == (0, 1)
    assert {h.name for h in hubs.hubs_of(session, provider.id)} >= {"Melton Voluntary Action"}


def test_a_bad_register_lists_every_problem_and_saves_nothing(session: Session) -> None:
    provider = make_provider(session)
    text = (
        "external_ref,name,kind,locality\n"
        "VAC,Voluntary Action Charnwood,spoke,Charnwood\n"
        "VAC,Again,hub,\n"
        ",No reference,centre,Melton\x07\n"
    )
    with pytest.raises(hubs.CsvImportError) as raised:
        hubs.import_hubs(session, provider, text)
    messages = [str(p) for p in raised.value.problems]
    assert any(m.startswith("line 2, column kind: 'spoke' is not a kind of hub") for m in messages)
    assert "line 3, column locality: is empty" in messages
    assert "line 3, column external_ref: VAC appears again (first on line 2)" in messages
    assert "line 4, column external_ref: is empty" in messages
    assert any(m.startswith("line 4, column locality:") for m in messages)  # the control char
    assert _count(session, models.Hub) == 0


RETURNS = (
    "hub_ref,quarter,variable,value,target,note\n"
    "VAC,2010/11 Q2,groups_supported,34,,\n"
    "VAC,2010/11 Q2,volunteers_referred,,,not applicable: no VAL volunteering officer\n"
    'SYS,2010/11 Q2,volunteer_enquiries,"1,204",20,\n'
)


def test_returns_are_imported_and_a_corrected_file_updates_them(
    session: Session, provider: models.Provider
) -> None:
    plan = hubs.import_returns(session, provider, RETURNS, VARIABLES, today=TODAY)
    assert (len(plan.new), len(plan.updated)) == (3, 0)
    rows = {
        (r.hub.external_ref, r.variable): r
        for r in hubs.returns_of(session, provider.id, [date(2010, 7, 1)])
    }
    assert (rows["VAC", "groups_supported"].value, rows["VAC", "groups_supported"].target) == (
        34,
        None,
    )
    referred = rows["VAC", "volunteers_referred"]
    assert referred.value is None and referred.note.startswith("not applicable")
    assert (
        rows["SYS", "volunteer_enquiries"].value,
        rows["SYS", "volunteer_enquiries"].target,
    ) == (
        1204,
        20,
    )
    again = "hub_ref,quarter,variable,value\nVAC,2010/11 Q2,groups_supported,36\n"
    plan = hubs.import_returns(session, provider, again, VARIABLES, today=TODAY)
    assert (len(plan.new), len(plan.updated)) == (0, 1)
    session.expire_all()
    assert _count(session, models.HubReturn) == 3
    assert hubs.quarters_of(session, provider.id) == [date(2010, 7, 1)]
    stored = session.scalars(
        select(models.HubReturn.value).where(models.HubReturn.variable == "groups_supported")
    ).one()
    assert stored == 36


def test_a_bad_returns_file_lists_every_problem_by_line_and_column_and_saves_nothing(
    session: Session, provider: models.Provider
) -> None:
    hubs.import_returns(session, provider, RETURNS, VARIABLES, today=TODAY)
    before = [(r.id, r.value, r.note) for r in session.scalars(select(models.HubReturn))]
    text = (
        "hub_ref,quarter,variable,value,target,note\n"
        "NOPE,2010/11 Q2,groups_supported,3,,\n"  # 2: not on the register
        "VAC,2010/11 Q2,volunteer_enquiries,-4,,\n"  # 3: negative
        "VAC,Q2 2010,groups_supported,3,,\n"  # 4: not a quarter
        "VAC,2011/12 Q1,groups_supported,3,,\n"  # 5: has not started
        "VAM,2010/11 Q2,groups_supported,3,,\n"  # 6: fine
        "VAM,2010/11 Q2,groups_supported,4,,\n"  # 7: the same as line 6
        "SYS,2010/11 Q2,volunteers_referred,3,,\n"  # 8: a centre does not report it
        "VAM,2010/11 Q2,hours,3,,\n"  # 9: not a variable
        "VAM,2010/11 Q2,volunteer_enquiries,,,\n"  # 10: no figure and no reason
        "VAM,2010/11 Q2,volunteers_referred,twelve,x,=HYPERLINK(1)\x1b\n"  # 11
    )
    with pytest.raises(hubs.CsvImportError) as raised:
        hubs.import_returns(session, provider, text, VARIABLES, today=TODAY)
    messages = [str(p) for p in raised.value.problems]
    expected = [
        "line 2, column hub_ref: 'NOPE' is not a hub or centre on your register: add it first",
        "line 3, column value: -4 is negative: a figure is 0 or more",
        "line 4, column quarter: 'Q2 2010' is not a quarter (write it as 2010/11 Q2)",
        "line 5, column quarter: 2011/12 Q1 has not started yet",
        "line 7, column variable: VAM 2010/11 Q2 groups_supported appears again "
        "(first on line 6): a duplicate row",
        "line 8, column variable: a Local Resource Centre does not report volunteers_referred",
        "line 9, column variable: 'hours' is not a variable (use one of: groups_supported, "
        "volunteer_enquiries, volunteers_referred)",
        "line 10, column value: is empty: give the figure, or say in the note why it is not "
        "reported",
        "line 11, column value: 'twelve' is not a whole number",
        "line 11, column target: 'x' is not a whole number",
    ]
    for message in expected:
        assert message in messages
    assert any(m.startswith("line 11, column note:") for m in messages)  # the escape character
    assert len(messages) == len(expected) + 1
    session.expire_all()
    assert [(r.id, r.value, r.note) for r in session.scalars(select(models.HubReturn))] == before


def test_a_returns_file_without_its_columns_says_which_are_missing(
    session: Session, provider: models.Provider
) -> None:
    with pytest.raises(hubs.CsvImportError) as raised:
        hubs.import_returns(session, provider, "hub_ref,value\nVAC,3\n", VARIABLES, today=TODAY)
    assert [str(p) for p in raised.value.problems] == [
        "line 1, column quarter: required column is missing",
        "line 1, column variable: required column is missing",
    ]
