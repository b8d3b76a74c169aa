"""KPI frameworks load from YAML and are checked against the surveys, every problem at once."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from analysis.kpis import KpiDefinitionError, KpiKind, TargetRule, framework, frameworks
from analysis.kpis.definitions import framework_from_data, load_framework, problems_with_survey
from collector.survey.loader import library_survey, survey_from_data


def test_the_built_in_frameworks_load() -> None:
    assert set(frameworks()) == {"essex-2017", "kent-2017", "leicestershire-val"}
    essex = framework("essex-2017")
    # Every KPI of the scope: Part B's a to o, Part C's i to xii (i is "I.i": Part B has an i).
    assert [k.id for k in essex.kpis] == [
        *"abcdefghijklmno", "I.i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi",
        "xii",
    ]
    kinds = {k.id: k.kind for k in essex.kpis}
    assert [kinds[k] for k in ("ix", "b", "x", "ii")] == [
        KpiKind.PROPORTION, KpiKind.AWARENESS, KpiKind.COUNT, KpiKind.TARGETS_MET,
    ]
    assert {k for k, kind in kinds.items() if kind is KpiKind.ACTIVITY} == {
        "a", "e", "g", "h", "i", "l", "xi"}
    assert {k for k, kind in kinds.items() if kind is KpiKind.MILESTONE} == {"I.i", "iv", "vi"}
    assert [g.key for g, _ in essex.grouped() if g is not None] == [
        "development", "support", "liaison", "representation", "partnerships", "blocks"]
    ix = essex.kpi("ix")
    assert str(ix.target) == "≥ 75%" and ix.survey == "cvs-support"
    # The denominator defaults to the responses that answered every question used.
    assert ix.denominator_is_default
    assert ix.denominator_text == "${ease_of_access} != '' and ${satisfaction} != ''"
    assert essex.kpi("x").target.value == 50
    assert essex.kpi("ii").target.value == Fraction(4, 5)
    val = framework("leicestershire-val")
    assert [k.id for k in val.kpis] == [f"VAL {n}" for n in range(1, 31)]
    # Table Two's classes: one-off events, narrative targets, no target; the rest quantitative.
    classes = {g.key: [k.id for k in kpis] for g, kpis in val.grouped() if g is not None}
    assert classes["one_off"] == ["VAL 1", "VAL 3", "VAL 29"]
    assert classes["nar"] == ["VAL 4", "VAL 8", "VAL 16", "VAL 18", "VAL 21"]
    assert classes["x"] == ["VAL 5", "VAL 6", "VAL 11", "VAL 13", "VAL 14"]
    at_least = {"VAL 9": "≥ 50%", "VAL 10": "≥ 50%", "VAL 12": "≥ 90%"}
    assert {k.id: str(k.target) for k in val.kpis if k.id in at_least} == at_least
    assert all(
        k.target.rule is TargetRule.MORE_THAN
        for k in val.kpis
        if k.id not in ("VAL 25", *at_least) and not k.is_recorded
    )
    for two in ("VAL 7", "VAL 10"):
        kpi = val.kpi(two)
        assert kpi.kind is KpiKind.AUDIENCES and kpi.combine == "pooled"
        assert [(p.part_key, p.survey) for p in kpi.parts] == [
            ("groups", "sector-voice"),
            (kpi.parts[1].part_key, "funder-satisfaction"),
        ]
    enquiries = val.kpi("VAL 25")
    assert enquiries.kind is KpiKind.RECORDS and enquiries.is_count
    assert str(enquiries.target) == "≥ 3,327 a year" and enquiries.target_period == "year"
    assert val.kpi("VAL 26").breakdowns == ("district",) and not val.kpi("VAL 26").is_count
    assert val.kpi("VAL 20").breakdowns == ("org_type",)
    assert val.kpi("VAL 24").breakdowns == ("district",)
    assert val.surveys == ("cvs-support", "sector-voice", "funder-satisfaction",
                           "representative-views", "volunteer-placement", "volunteer-host")


def _framework(*kpis: dict[str, Any]) -> dict[str, Any]:
    return {"id": "test-framework", "title": "Test", "kpis": list(kpis)}


def _problems(data: object) -> list[str]:
    with pytest.raises(KpiDefinitionError) as caught:
        framework_from_data(data, source="test.yaml")
    return caught.value.problems


IX = {
    "id": "ix",
    "title": "Easy and satisfied",
    "survey": "cvs-support",
    "numerator": "${ease_of_access} = 'easy' and ${satisfaction} = 'satisfied'",
    "target": "75%",
}


def test_a_good_definition_loads() -> None:
    loaded = framework_from_data(_framework(IX))
    assert loaded.kpi("ix").questions == {"ease_of_access", "satisfaction"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"numerator": "${ease_of_acess} = 'easy'"},
            "KPI ix: numerator: survey cvs-support has no question ${ease_of_acess} "
            "(did you mean 'ease_of_access'?)",
        ),
        (
            {"numerator": "${satisfaction} = 'satisfed'"},
            "KPI ix: numerator: question satisfaction has no choice 'satisfed' (did you mean "
            "'satisfied'?)",
        ),
        (
            {"denominator": "selected(${support_kinds}, 'fundng')"},
            "KPI ix: denominator: question support_kinds has no choice 'fundng' (did you mean "
            "'funding'?)",
        ),
        ({"survey": "cvs-suport"}, "unknown survey 'cvs-suport' (did you mean 'cvs-support'?)"),
        ({"numerator": "${ease_of_access} = "}, "KPI ix: numerator: unexpected end"),
        ({"numerator": ". = 'easy'"}, "'.' (the current answer) has no meaning in a KPI"),
        ({"target": "75"}, "KPI ix: target: cannot read the target '75'"),
        ({"target": "increase"}, "a proportion KPI cannot have the target increase"),
        ({"breakdowns": ["org_typ"]}, "unknown segment 'org_typ' (did you mean 'org_type'?)"),
        ({"numerater": "x"}, "KPI ix: unknown key 'numerater' (did you mean 'numerator'?)"),
        ({"kind": "ratio"}, "KPI ix: unknown kind 'ratio'"),
    ],
)
def test_a_bad_definition_says_what_and_where(change: dict[str, Any], message: str) -> None:
    problems = _problems(_framework({**IX, **change}))
    assert any(message in p for p in problems), problems
    assert all(p.startswith("test.yaml: ") for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        _framework(
            {**IX, "numerator": "${nope} = 'x'"},
            {**IX, "id": "b", "target": "lots"},
            {**IX},  # the same id twice
            {"id": "aw", "kind": "awareness", "title": "Aware", "survey": "cvs-support",
             "aware": "ease_of_access", "raised": "awareness_raised",
             "raised_among": "${used_support} = 'yes'", "exclude": ["nothing"],
             "target": "increase"},
        )
    )
    text = "\n".join(problems)
    assert "no question ${nope}" in text
    assert "cannot read the target 'lots'" in text
    assert "KPI ix: two KPIs have this id" in text
    assert "question ease_of_access is scale, not multiple choice" in text
    assert len(problems) == 4


def test_a_count_and_targets_met_need_what_they_need() -> None:
    problems = _problems(
        _framework(
            {"id": "x", "kind": "count", "title": "Orgs", "survey": "cvs-support",
             "count": "people", "target": 12.5},
            {"id": "ii", "kind": "targets_met", "title": "Met", "target": "increase"},
        )
    )
    text = "\n".join(problems)
    assert "the only thing a count KPI counts is 'organisations'" in text
    assert "KPI x: target: a count's target must be a whole number" in text
    assert "a targets_met KPI cannot have the target increase" in text


def test_a_framework_file_is_checked_for_its_name_and_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "other-name.yaml"
    path.write_text("id: test-framework\ntitle: T\nkpis:\n  - id: ix\n    title: A\n"
                    "    survey: cvs-support\n    numerator: \"${used_support} = 'yes'\"\n"
                    "    target: 50%\n")
    with pytest.raises(KpiDefinitionError, match="must match the framework id"):
        load_framework(path)
    doubled = tmp_path / "test-framework.yaml"
    doubled.write_text("id: test-framework\ntitle: T\ntitle: U\nkpis: []\n")
    with pytest.raises(KpiDefinitionError, match="duplicate key 'title'"):
        load_framework(doubled)


def test_a_kpi_is_checked_against_the_survey_version_a_round_used() -> None:
    ix = framework("essex-2017").kpi("ix")
    assert problems_with_survey(ix, library_survey("cvs-support")) == []
    data = library_survey("cvs-support").to_dict()
    data["version"] = 2
    data["questions"] = [q for q in data["questions"] if q["id"] != "satisfaction"]
    del data["choices"]["satisfaction"]
    changed = survey_from_data(data)
    problems = problems_with_survey(ix, changed)
    assert problems and "has no question ${satisfaction}" in problems[0]
