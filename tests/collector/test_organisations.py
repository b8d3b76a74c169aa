"""Organisations CSV import: every row or none, problems named by line and column."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import models, organisations
from tests.factories import make_organisation, make_provider

HEADER = (
    "external_ref,name,org_type,income_band,district,outcomes,is_member,contact_email,consent_email"
)
GOOD = [
    "A1,Harlow Foodbank,registered_charity,10k_100k,Harlow,healthy_lifestyles;good_lives,yes,"
    "info@foodbank.example,yes",
    "A2,Old Harlow Men's Shed,Community group,Under £10k,Old Harlow,Winter preparedness,no,,no",
]


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.Organisation)) or 0


def test_a_good_file_imports_every_row_with_keys_or_labels(session: Session) -> None:
    provider = make_provider(session)
    plan = organisations.import_csv(session, provider, _csv(*GOOD))
    assert (len(plan.new), len(plan.updated)) == (2, 0)
    shed = session.scalar(
        select(models.Organisation).where(models.Organisation.external_ref == "A2")
    )
    assert shed is not None
    assert (shed.org_type, shed.income_band, shed.outcomes, shed.is_member) == (
        "community_group",
        "under_10k",
        "winter_preparedness",
        False,
    )
    foodbank = session.scalar(
        select(models.Organisation).where(models.Organisation.external_ref == "A1")
    )
    assert foodbank is not None and foodbank.outcomes == "healthy_lifestyles good_lives"


def test_reimporting_updates_by_external_reference(session: Session) -> None:
    provider = make_provider(session)
    organisations.import_csv(session, provider, _csv(*GOOD))
    changed = GOOD[1].replace("Community group", "faith_group")
    plan = organisations.import_csv(session, provider, _csv(changed))
    assert (len(plan.new), len(plan.updated)) == (0, 1)
    assert _count(session) == 2
    shed = session.scalar(
        select(models.Organisation).where(models.Organisation.external_ref == "A2")
    )
    assert shed is not None and shed.org_type == "faith_group"


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        ((GOOD[0].replace("A1,", ",", 1),), HEADER, "line 2, column external_ref: is empty"),
        (
            (GOOD[0].replace("registered_charity", "charity shop"),),
            HEADER,
            "line 2, column org_type: 'charity shop' is not a known type of group",
        ),
        (
            (GOOD[0].replace("10k_100k", "loads"),),
            HEADER,
            "line 2, column income_band: 'loads' is not an income band",
        ),
        (
            (GOOD[0].replace("good_lives", "world peace"),),
            HEADER,
            "line 2, column outcomes: 'world peace' is not an outcome area",
        ),
        (
            (GOOD[0].replace(",yes,info", ",perhaps,info"),),
            HEADER,
            "line 2, column is_member: 'perhaps' is not yes or no",
        ),
        (
            (GOOD[0].replace("info@foodbank.example", "not-an-email"),),
            HEADER,
            "line 2, column contact_email: 'not-an-email' is not an email address",
        ),
        (
            (GOOD[1].replace(",,no", ",,yes").replace("A2,", "A3,"),),
            HEADER,
            "line 2, column consent_email: consent to email given but no contact_email",
        ),
        (
            (GOOD[0], GOOD[0]),
            HEADER,
            "line 3, column external_ref: 'A1' appears again (first on line 2)",
        ),
        (
            (GOOD[0],),
            HEADER.replace("org_type", "kind"),
            "line 1, column org_type: required column is missing",
        ),
        ((GOOD[0] + ",extra",), HEADER + ",colour", "line 1, column colour: unknown column"),
        ((GOOD[0] + ",x,y",), HEADER, "line 2: more cells than columns"),
        ((), HEADER, "line 1: the file has a header but no rows"),
        (
            (GOOD[0].replace(",Harlow,", ",Mid\x0bHarlow,"),),
            HEADER,
            "line 2, column district: holds a control character (U+000B)",
        ),
        (
            (GOOD[0].replace("Harlow Foodbank", "Harlow\x00Foodbank"),),
            HEADER,
            "line 2, column name: holds a control character (U+0000)",
        ),
    ],
)
def test_any_bad_row_means_nothing_is_imported(
    session: Session, rows: tuple[str, ...], header: str, expected: str
) -> None:
    provider = make_provider(session)
    make_organisation(session, provider)
    before = _count(session)
    # A good row alongside the bad one must not be saved either.
    with_good = (*rows, GOOD[1]) if rows else rows
    with pytest.raises(organisations.CsvImportError) as error:
        organisations.import_csv(session, provider, _csv(*with_good, header=header))
    assert any(str(p).startswith(expected) for p in error.value.problems), error.value.problems
    assert str(error.value).startswith("Nothing was imported")
    assert _count(session) == before


def test_every_problem_in_the_file_is_listed_at_once(session: Session) -> None:
    provider = make_provider(session)
    bad = _csv(
        GOOD[0].replace("registered_charity", "club"),
        GOOD[1].replace("Under £10k", "tiny").replace("A2,", ",", 1),
    )
    with pytest.raises(organisations.CsvImportError) as error:
        organisations.import_csv(session, provider, bad)
    assert [str(p).split(":")[0] for p in error.value.problems] == [
        "line 2, column org_type",
        "line 3, column external_ref",
        "line 3, column income_band",
    ]


def test_the_shared_csv_reader_checks_header_cells_and_repeats_line_by_line() -> None:
    from collector.organisations import Problem, Unique, read_csv

    def check(line: int, cells: dict[str, str]) -> tuple[dict[str, object], list[Problem]]:
        return {"line": line, "code": cells.get("code", "")}, []

    unique = [Unique("code", "code", "{value} again (line {first})", fold_case=True)]
    text = "Code ,Extra\nA,1\nb,2,3\na,4\n"
    rows, problems = read_csv(text, ["code"], [], check, unique)
    assert [row["line"] for row in rows] == [2, 3, 4]
    assert [str(p) for p in problems] == [
        "line 1, column extra: unknown column",
        "line 3: more cells than columns",
        "line 4, column code: a again (line 2)",
    ]
    assert read_csv("name\n", ["code"], [], check) == (
        [],
        [Problem(1, "code", "required column is missing")],
    )
    assert read_csv("code\n", ["code"], [], check)[1] == [
        Problem(1, "", "the file has a header but no rows")
    ]
