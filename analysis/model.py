"""The KPI report: one framework's results for one provider, and its plain data (JSON).

A :class:`KpiReport` is pure data: building one from the database is :mod:`analysis.build`'s
work, drawing one is :mod:`analysis.render`'s. Its plain data (:meth:`KpiReport.to_json`) is
what a published report freezes (:mod:`analysis.publish`), and :meth:`KpiReport.from_json`
rebuilds the same report from it, with the KPI definitions it was computed with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from analysis.comparisons import RateCell, ResponseRates
from analysis.kpis.definitions import (
    Alliance,
    Benchmark,
    Focus,
    Framework,
    Group,
    Kpi,
    KpiKind,
    Records,
)
from analysis.kpis.results import (
    Cell,
    Change,
    Component,
    Evidence,
    KpiResult,
    OutcomeResult,
    RoundRef,
)
from analysis.kpis.targets import RAG_RULE, Status, Target, TargetRule
from analysis.periods import Period
from analysis.suppression import SUPPRESS_BELOW
from collector.errors import NotFound

__all__ = ["OVERVIEW", "AllianceMember", "KpiReport", "ReportDataError"]

# The narrative key of a report's strategic overview (beside the KPIs' own explanations): the
# scope asks for "a strategic overview" at the top of each 6-monthly report.
OVERVIEW = "overview"


@dataclass(frozen=True)
class AllianceMember:
    """One provider of an alliance's report: the rounds its responses came from, or why none."""

    slug: str
    name: str
    rounds: tuple[int, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Give the member as plain data."""
        return {
            "slug": self.slug,
            "name": self.name,
            "rounds": list(self.rounds),
            "note": self.note or None,
        }


@dataclass(frozen=True)
class KpiReport:
    """One framework's KPI results for one provider, anchored on one round."""

    framework: Framework
    provider: str
    provider_name: str
    round: RoundRef
    results: tuple[KpiResult, ...]
    response_rates: tuple[ResponseRates, ...] = ()
    # The provider's explanation of each KPI's result (kpi id -> text), written by staff.
    narratives: Mapping[str, str] = field(default_factory=dict)
    # An alliance's report (all its providers' responses together): its providers. Empty for
    # one provider's own report.
    members: tuple[AllianceMember, ...] = ()

    @property
    def is_alliance(self) -> bool:
        """Tell whether this is an alliance's report rather than one provider's."""
        return bool(self.members)

    @property
    def overview(self) -> str:
        """Give the strategic overview staff wrote for the report (empty if none)."""
        return self.narratives.get(OVERVIEW, "").strip()

    @property
    def rag_rule(self) -> str:
        """Give the RAG rule in words, as funders read it."""
        return RAG_RULE.format(min_n=self.framework.min_n)

    def result(self, kpi_id: str) -> KpiResult:
        """Give the result of one KPI."""
        for result in self.results:
            if result.kpi.id == kpi_id:
                return result
        raise NotFound(f"The report has no KPI {kpi_id!r}")

    def to_json(self) -> dict[str, Any]:
        """Give the report as plain data."""
        return {
            "framework": {
                "id": self.framework.id,
                "title": self.framework.title,
                "source": self.framework.source,
                "min_n": self.framework.min_n,
                "focus": None if self.framework.focus is None else self.framework.focus.to_json(),
                "alliance": None
                if self.framework.alliance is None
                else {
                    "name": self.framework.alliance.name,
                    "providers": list(self.framework.alliance.providers),
                },
                "groups": [group.to_json() for group in self.framework.groups],
            },
            "alliance_members": [member.to_json() for member in self.members],
            "provider": {"slug": self.provider, "name": self.provider_name},
            "round": self.round.to_json(),
            "kpis": [
                {**result.to_json(), "definition": _definition_json(result.kpi)}
                for result in self.results
            ],
            "response_rates": [rates.to_json() for rates in self.response_rates],
            "narratives": {
                kpi_id: text for kpi_id, text in sorted(self.narratives.items()) if text
            },
            "rag_rule": self.rag_rule,
            "suppression": f"Groups with fewer than {SUPPRESS_BELOW} responses are not shown.",
        }

    def with_narratives(self, narratives: Mapping[str, str]) -> KpiReport:
        """Give the same report with these narratives (kpi id -> text)."""
        return dataclasses.replace(self, narratives=dict(narratives))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KpiReport:
        """Rebuild a report from :meth:`to_json`'s data (a frozen snapshot renders the same).

        The KPI definitions come from the data, not from today's framework files, so a report
        already sent keeps the definitions it was computed with.
        """
        try:
            return _report_from_json(data)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ReportDataError(f"The report data cannot be read: {error!r}") from None


class ReportDataError(ValueError):
    """Report data (a snapshot) that does not have the shape KpiReport.to_json gives."""


# --- from plain data -----------------------------------------------------------------------


def _definition_json(kpi: Kpi) -> dict[str, Any]:
    """Give what to_json's result lacks to rebuild a KPI's definition."""
    return {
        "denominator_is_default": kpi.denominator_is_default,
        "breakdowns": list(kpi.breakdowns),
        "where": kpi.where_text or None,
        "window_days": kpi.window_days,
        "aware": kpi.aware,
        "raised": kpi.raised,
        "raised_among": kpi.raised_among_text or None,
        "exclude": list(kpi.exclude),
        "target_period": kpi.target_period,
        "group": kpi.group or None,
        "target_text": kpi.target_text or None,
        "activities": list(kpi.activities),
        "measure": kpi.measure or None,
        "case_studies": kpi.case_studies,
        "with_records": kpi.with_records,
    }


def _round_from_json(data: Mapping[str, Any]) -> RoundRef:
    return RoundRef(
        id=int(data["id"]),
        provider=str(data["provider"]),
        provider_name=str(data["provider_name"]),
        survey=str(data["survey"]),
        survey_version=int(data["survey_version"]),
        period=str(data["period"]),
        status=str(data["status"]),
        opens_at=datetime.fromisoformat(data["opens_at"]),
        closes_at=datetime.fromisoformat(data["closes_at"]),
        kind=str(data.get("kind") or "survey"),
        # Reports published before the real close date was kept have none: as planned.
        closed_at=datetime.fromisoformat(data["closed_at"]) if data.get("closed_at") else None,
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _cell_from_json(data: Mapping[str, Any]) -> Cell:
    return Cell(
        label=str(data["label"]),
        key=data.get("key"),
        n=_optional_int(data.get("n")),
        numerator=_optional_int(data.get("numerator")),
        proportion=_optional_float(data.get("proportion")),
        low=_optional_float(data.get("ci_low")),
        high=_optional_float(data.get("ci_high")),
        count=_optional_int(data.get("count")),
        status=Status(data["status"]),
        note=str(data.get("note") or ""),
        amount=_optional_float(data.get("amount")),
        text=str(data.get("text") or ""),
    )


def _change_from_json(data: Mapping[str, Any] | None) -> Change | None:
    if data is None:
        return None
    return Change(
        previous_round=_round_from_json(data["round"]),
        previous=_cell_from_json(data["previous"]),
        difference=_optional_float(data.get("difference")),
        low=_optional_float(data.get("ci_low")),
        high=_optional_float(data.get("ci_high")),
        verdict=str(data["verdict"]),
    )


def _target_from_json(data: Mapping[str, Any], kind: KpiKind) -> Target:
    value = data.get("value")
    # Targets are written as percentages or whole numbers: the float's shortest text is exact.
    exact = None if value is None else Fraction(repr(float(value))).limit_denominator(10**6)
    # Snapshots from before record-based KPIs have no "count": only count KPIs had counts then.
    is_count = bool(data.get("count", kind is KpiKind.COUNT))
    return Target(
        TargetRule(data["rule"]),
        exact,
        is_count=is_count,
        is_amount=bool(data.get("amount", False)),
        basis=str(data.get("basis") or ""),
    )


def _period_from_json(data: Mapping[str, Any] | None) -> Period | None:
    if data is None:
        return None
    return Period(
        str(data["label"]), date.fromisoformat(data["start"]), date.fromisoformat(data["end"])
    )


def _kpi_from_json(data: Mapping[str, Any]) -> Kpi:
    kind = KpiKind(data["kind"])
    definition = data.get("definition") or {}
    return Kpi(
        id=str(data["id"]),
        title=str(data["title"]),
        kind=kind,
        target=_target_from_json(data["target"], kind),
        source=str(data.get("source") or ""),
        note=str(data.get("definition_note") or ""),
        survey=data.get("survey"),
        numerator_text=str(data.get("numerator") or ""),
        denominator_text=str(data.get("denominator") or ""),
        denominator_is_default=bool(definition.get("denominator_is_default", False)),
        breakdowns=tuple(definition.get("breakdowns") or ()),
        where_text=str(definition.get("where") or ""),
        window_days=int(definition.get("window_days") or 365),
        aware=definition.get("aware"),
        raised=definition.get("raised"),
        raised_among_text=str(definition.get("raised_among") or ""),
        exclude=tuple(definition.get("exclude") or ()),
        records=None if data.get("records") is None else Records(data["records"]),
        target_period=str(definition.get("target_period") or "period"),
        combine=str(data.get("combine") or ""),
        parts=tuple(
            Kpi(
                id=f"{data['id']}/{part['key']}",
                title=str(part["label"]),
                kind=KpiKind.PROPORTION,
                target=_target_from_json(data["target"], kind),
                survey=part.get("survey"),
                numerator_text=str(part.get("numerator") or ""),
                denominator_text=str(part.get("denominator") or ""),
            )
            for part in data.get("audiences") or ()
        ),
        # Snapshots from before benchmarks have none.
        benchmarks=tuple(Benchmark.from_json(b) for b in data.get("benchmarks") or ()),
        # Snapshots from before issue 17 have no groups, activities or evidence.
        group=str(definition.get("group") or ""),
        target_text=str(definition.get("target_text") or ""),
        activities=tuple(definition.get("activities") or ()),
        measure=str(definition.get("measure") or ""),
        case_studies=int(definition.get("case_studies") or 0),
        with_records=bool(definition.get("with_records", False)),
    )


def _result_from_json(data: Mapping[str, Any]) -> KpiResult:
    kind = KpiKind(data["kind"])
    return KpiResult(
        kpi=_kpi_from_json(data),
        overall=_cell_from_json(data["overall"]),
        round=None if data.get("round") is None else _round_from_json(data["round"]),
        change=_change_from_json(data.get("change")),
        breakdowns={
            str(segment): tuple(_cell_from_json(cell) for cell in cells)
            for segment, cells in data.get("breakdowns", {}).items()
        },
        outcomes=tuple(
            OutcomeResult(
                value=str(outcome["outcome"]),
                label=str(outcome["label"]),
                aware=_cell_from_json(outcome["aware"]),
                raised=_cell_from_json(outcome["raised"]),
                change=_change_from_json(outcome.get("change")),
            )
            for outcome in data.get("outcomes", ())
        ),
        note=str(data.get("note") or ""),
        period=_period_from_json(data.get("period")),
        period_target=None
        if data.get("period_target") is None
        else _target_from_json(data["period_target"], kind),
        focus=None if data.get("focus") is None else _cell_from_json(data["focus"]),
        evidence=tuple(
            Evidence(
                str(item["title"]),
                str(item.get("text") or ""),
                bool(item.get("case_study")),
                str(item.get("attachment") or ""),
            )
            for item in data.get("evidence") or ()
        ),
        components=tuple(
            Component(str(c["id"]), str(c["title"]), Status(c["status"]), str(c["verdict"]))
            for c in data.get("components") or ()
        ),
    )


def _rate_from_json(data: Mapping[str, Any]) -> RateCell:
    return RateCell(
        label=str(data["label"]),
        key=data.get("key"),
        invited=_optional_int(data.get("invited")),
        responded=_optional_int(data.get("responded")),
        rate=_optional_float(data.get("rate")),
        suppressed=bool(data.get("suppressed", False)),
        note=str(data.get("note") or ""),
        warning=str(data.get("warning") or ""),
    )


def _report_from_json(data: Mapping[str, Any]) -> KpiReport:
    results = tuple(_result_from_json(kpi) for kpi in data["kpis"])
    about = data["framework"]
    framework = Framework(
        id=str(about["id"]),
        title=str(about["title"]),
        kpis=tuple(result.kpi for result in results),
        source=str(about.get("source") or ""),
        min_n=int(about["min_n"]),
        focus=None if about.get("focus") is None else Focus.from_json(about["focus"]),
        alliance=None
        if about.get("alliance") is None
        else Alliance(
            str(about["alliance"]["name"]), tuple(map(str, about["alliance"]["providers"]))
        ),
        groups=tuple(
            Group(str(g["key"]), str(g["title"]), str(g.get("note") or ""))
            for g in about.get("groups") or ()
        ),
    )
    return KpiReport(
        framework=framework,
        provider=str(data["provider"]["slug"]),
        provider_name=str(data["provider"]["name"]),
        round=_round_from_json(data["round"]),
        results=results,
        response_rates=tuple(
            ResponseRates(
                round=_round_from_json(rates["round"]),
                overall=_rate_from_json(rates["overall"]),
                segments={
                    str(segment): tuple(_rate_from_json(cell) for cell in cells)
                    for segment, cells in rates.get("segments", {}).items()
                },
            )
            for rates in data.get("response_rates", ())
        ),
        narratives={str(k): str(v) for k, v in (data.get("narratives") or {}).items()},
        members=tuple(
            AllianceMember(
                slug=str(m["slug"]),
                name=str(m["name"]),
                rounds=tuple(int(r) for r in m.get("rounds") or ()),
                note=str(m.get("note") or ""),
            )
            for m in data.get("alliance_members") or ()
        ),
    )
