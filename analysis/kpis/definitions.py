"""KPI definitions as data: one YAML file per funder framework, validated against the surveys.

A framework file (``analysis/kpis/<id>.yaml``) has an ``id``, a ``title``, a ``source`` (where
the indicators come from), optionally ``min_n`` (the fewest responses a result is judged on;
10 unless given) and a list of ``kpis``. Each KPI has an ``id``, a ``title``, a ``source``, a
``target`` and a ``kind``:

``proportion`` (the default)
    ``survey``: the survey id; ``numerator``: a condition in the condition language (the
    XLSForm subset: ``${q} = 'x'``, ``selected(${q}, 'x')``, ``and``, ``or``, ``not()``...);
    ``denominator``: a condition, by default "answered every question the numerator uses"
    (``${q} != ''`` for each); ``target``: ``'75%'``, ``0.75``, ``majority`` (strictly more
    than half) or ``none``; ``breakdowns``: the segments the funder requires the result broken
    down by (``org_type``, ``income_band``, ``district``, ``outcomes``, ``channel``,
    ``is_member``). Only responses in the denominator count towards the numerator.
``count``
    the number of different organisations with a completed response meeting ``where`` (a
    condition) in the rounds of the survey that opened in the ``window_days`` (365 by default)
    up to the close of the reported round; with ``with_records: true``, also those the
    provider's activity records name, dated in the same days; ``target``: a whole number.
``awareness``
    per choice of the multiple-choice question ``aware`` (less those listed in ``exclude``):
    the share of respondents who selected it, against the previous round; and the share of
    those meeting ``raised_among`` who selected it in the multiple-choice question ``raised``.
    ``target: increase``.
``records``
    counted from the provider's volunteering records (not a survey) in the report's period
    (see :mod:`analysis.periods`). ``records: enquiries``: the number of volunteer enquiries
    dated in the period; ``target``: a whole number, for the period, or for a year with
    ``target_period: year`` (then compared pro rata to the period's length in days).
    ``records: placements_per_enquiry``: the share of the period's enquiries taken up, with
    its Wilson interval and the same suppression and RAG rule as survey shares (an enquiry is
    taken up when its volunteer has a placement, not "did not start", that starts on or after
    the enquiry's date; an enquiry with no volunteer linked counts when its outcome is
    "placed"); ``target``: a share; ``breakdowns``: ``district`` (the enquiry's).
``audiences``
    one indicator asked of several audiences, each with its own survey (VAL 7 and 10: VCS groups
    and public agencies). ``parts``: a list of at least two, each with a ``key`` (lowercase
    letters, digits and ``_``), a ``label`` (who they are, as reports name them), a ``survey``,
    a ``numerator`` and optionally a ``denominator`` (as a proportion KPI's); ``combine``: how
    the audiences make the one figure judged against the ``target``: ``pooled`` (the default:
    every respondent counts once, whichever audience, so the figure is all the audiences'
    numerators over all their denominators, with its Wilson interval) or ``equal`` (the mean of
    the audiences' shares, each audience weighing the same however many answered, with a
    normal-approximation interval; judged only when every audience has at least ``min_n``).
    Each audience's own share is reported beside it, suppressed like any breakdown.
``activity``
    counted from the provider's activity records (:mod:`collector.activities`) dated in the
    report's period: ``activity``: the kind of record (``event``, ``health_check``,
    ``guidance``, ``funding_application``, ``training``, ``volunteer_opportunity``,
    ``compact_signup``) or a list of kinds; ``measure``: what is counted, ``activities`` (the
    default: the rows), ``organisations`` (different groups helped), ``amount_obtained`` or
    ``amount_applied`` (pounds, summed), ``beneficiaries`` (summed), or ``members`` (the
    member groups on the provider's list, whatever ``activity`` says); ``target``: a whole
    number (pounds for an amount), for the period or, with ``target_period: year``, a year
    (compared pro rata to the period's days); ``breakdowns``: segments of the group helped
    (``org_type``, ``income_band``, ``district``, ``outcomes``, ``is_member``). Nothing
    recorded in the period is "not reported".
``evidence``
    case studies and other evidence staff attach to the indicator for the period, with their
    status (met, partly met, not met) and the reason; ``case_studies``: how many case studies
    the target asks for, in the period or a year (``target_period: year``, pro rata, rounded
    up); ``target: stated`` (judged by staff against ``target_text``) or ``none``. No evidence
    and no status is "not reported".
``milestone``
    a one-off event with the provider's dates (progress due by, achieved by): met, on track,
    late (progress or achievement after its date) or missed (not achieved by its date, as at
    the period's end); ``target: stated``. No milestone recorded is "not reported".
``targets_met``
    the share of the framework's other KPIs with a target that are met, out of those met, not
    met and not reported (a KPI with too few answers to judge is left out, and listed);
    ``target``: a share. The result lists each KPI it counts with its verdict.

Every KPI may have a ``group`` (the key of one of the framework's ``groups``, each a mapping
with ``key`` and ``title``, in the order reports show them: Essex's development, support,
liaison, representation, strategic partnerships and building blocks) and a ``target_text``
(the target in the source's own words, shown beside the result).

Any KPI whose result is a share may list ``benchmarks``: published figures shown beside its
result (the national NI7 figure, another area's), each a mapping with ``label`` (whose figure:
"England", "Thurrock"), ``value`` (a percentage, ``'16.3%'``, or a fraction, 0.163),
``source`` (who published it, where) and ``year``. A benchmark without a source, or with a
value outside 0-100%, is refused.

A framework may have a ``focus``: the organisations the funder wants reported separately and
highlighted (Kent: income under £500k), as ``title``, ``segment`` (``income_band`` or
``org_type``) and ``values`` (the segment's keys). Every share KPI read from a survey then
gives the focus group's result beside the overall one.

A framework may name an ``alliance``: providers contracted together under this one framework
(Kent's alliance contract), as ``name`` and ``providers`` (their slugs). Besides each
provider's own report, the alliance then has one of all its providers' responses together.

Loading checks every KPI against the built-in survey it names and reports every problem at
once, with where it is: unknown survey, unknown question, unknown choice value, a condition
that does not parse, an unknown segment, a target that cannot be read.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from analysis.frames import ALL_SEGMENTS as SEGMENTS
from analysis.kpis.targets import DEFAULT_MIN_N, Target, TargetError, TargetRule
from collector.errors import NotFound, ProblemsError
from collector.segments import INCOME_BANDS, ORGANISATION_TYPES
from collector.survey.expr import ExprError, Node, literal_comparisons, parse, references
from collector.survey.expr import uses_current as expr_uses_current
from collector.survey.loader import library_surveys
from collector.survey.model import QuestionType, Survey

__all__ = [
    "ACTIVITY_KINDS",
    "MEASURES",
    "Alliance",
    "Group",
    "Benchmark",
    "Focus",
    "Framework",
    "Kpi",
    "KpiDefinitionError",
    "KpiKind",
    "Records",
    "framework",
    "framework_from_data",
    "frameworks",
    "frameworks_path",
    "load_framework",
    "problems_with_survey",
]

KPI_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}")
FRAMEWORK_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DEFAULT_WINDOW_DAYS = 365

FRAMEWORK_KEYS = ("id", "title", "source", "min_n", "focus", "alliance", "groups", "kpis")
COMMON_KEYS = (
    "id",
    "kind",
    "title",
    "source",
    "target",
    "note",
    "benchmarks",
    "group",
    "target_text",
)
GROUP_KEYS = ("key", "title", "note")
BENCHMARK_KEYS = ("label", "value", "source", "year")
FOCUS_KEYS = ("title", "segment", "values")
FOCUS_SEGMENTS = ("income_band", "org_type")
ALLIANCE_KEYS = ("name", "providers")
PROVIDER_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A benchmark's value: a percentage, signed so that '-3%' is refused as out of range, not unread.
BENCHMARK_PERCENT = re.compile(r"\s*([-+]?[0-9]+(?:\.[0-9]+)?)\s*%\s*")


class KpiKind(StrEnum):
    """What a KPI measures."""

    PROPORTION = "proportion"
    COUNT = "count"
    AWARENESS = "awareness"
    TARGETS_MET = "targets_met"
    RECORDS = "records"
    AUDIENCES = "audiences"
    ACTIVITY = "activity"
    EVIDENCE = "evidence"
    MILESTONE = "milestone"


class Records(StrEnum):
    """What a record-based KPI counts."""

    ENQUIRIES = "enquiries"
    PLACEMENTS_PER_ENQUIRY = "placements_per_enquiry"


RECORD_SEGMENTS = ("district",)
ACTIVITY_KINDS = (
    "event",
    "health_check",
    "guidance",
    "funding_application",
    "training",
    "volunteer_opportunity",
    "compact_signup",
)
MEASURES = {
    "activities": "activities",
    "organisations": "organisations",
    "amount_obtained": "pounds obtained",
    "amount_applied": "pounds applied for",
    "beneficiaries": "beneficiaries",
    "members": "member groups",
}
AMOUNT_MEASURES = ("amount_obtained", "amount_applied")
ACTIVITY_SEGMENTS = ("org_type", "income_band", "district", "outcomes", "is_member")
# The kinds recorded by staff rather than read from surveys or volunteering records.
RECORDED_KINDS = ("activity", "evidence", "milestone")
COMBINE_METHODS = {
    "pooled": "pooled: every respondent counts once, whichever audience",
    "equal": "the mean of the audiences' shares, each audience weighing the same",
}
PART_KEYS = ("key", "label", "survey", "numerator", "denominator")
PART_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
TARGET_PERIODS = ("period", "year")

KIND_KEYS: dict[KpiKind, tuple[str, ...]] = {
    KpiKind.PROPORTION: ("survey", "numerator", "denominator", "breakdowns"),
    KpiKind.COUNT: ("survey", "count", "where", "window_days", "with_records"),
    KpiKind.AWARENESS: ("survey", "aware", "raised", "raised_among", "exclude"),
    KpiKind.TARGETS_MET: (),
    KpiKind.RECORDS: ("records", "target_period", "breakdowns"),
    KpiKind.AUDIENCES: ("parts", "combine"),
    KpiKind.ACTIVITY: ("activity", "measure", "target_period", "breakdowns"),
    KpiKind.EVIDENCE: ("case_studies", "target_period"),
    KpiKind.MILESTONE: (),
}


class KpiDefinitionError(ProblemsError):
    """A KPI framework file with problems; `problems` lists every one of them."""

    code = "bad_kpi_definition"
    what = "the KPI definitions"


@dataclass(frozen=True)
class Benchmark:
    """A published figure to set beside a KPI's result: whose, how much, who says so, when."""

    label: str
    value: Fraction
    source: str
    year: int

    def to_json(self) -> dict[str, Any]:
        """Give the benchmark as plain data (the value as a fraction of 1)."""
        return {
            "label": self.label,
            "value": float(self.value),
            "source": self.source,
            "year": self.year,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Benchmark:
        """Rebuild a benchmark from :meth:`to_json`'s data."""
        value = Fraction(repr(float(data["value"]))).limit_denominator(10**6)
        return cls(str(data["label"]), value, str(data["source"]), int(data["year"]))


@dataclass(frozen=True)
class Focus:
    """The organisations a funder wants reported separately: some values of one segment."""

    title: str
    segment: str
    values: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Give the focus as plain data."""
        return {"title": self.title, "segment": self.segment, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Focus:
        """Rebuild a focus from :meth:`to_json`'s data."""
        return cls(str(data["title"]), str(data["segment"]), tuple(map(str, data["values"])))


@dataclass(frozen=True)
class Alliance:
    """Providers contracted together under one framework, reported on together as well."""

    name: str
    providers: tuple[str, ...]

    @property
    def slug(self) -> str:
        """Give the alliance's name as a slug, for addresses and file names."""
        return "-".join(re.findall(r"[a-z0-9]+", self.name.lower())) or "alliance"


@dataclass(frozen=True)
class Group:
    """A heading of the framework its KPIs are reported under (the scope's own grouping)."""

    key: str
    title: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Give the group as plain data."""
        return {"key": self.key, "title": self.title, "note": self.note or None}


@dataclass(frozen=True)
class Kpi:
    """One indicator of a framework, ready to evaluate."""

    id: str
    title: str
    kind: KpiKind
    target: Target
    source: str = ""
    note: str = ""
    survey: str | None = None
    # proportion
    numerator: Node | None = None
    denominator: Node | None = None
    numerator_text: str = ""
    denominator_text: str = ""
    denominator_is_default: bool = False
    breakdowns: tuple[str, ...] = ()
    # count
    where: Node | None = None
    where_text: str = ""
    window_days: int = DEFAULT_WINDOW_DAYS
    # also the organisations the provider's activity records name, in the same window
    with_records: bool = False
    # awareness
    aware: str | None = None
    raised: str | None = None
    raised_among: Node | None = None
    raised_among_text: str = ""
    exclude: tuple[str, ...] = ()
    # records
    records: Records | None = None
    target_period: str = "period"  # or "year": an annual target, compared pro rata
    # audiences: one proportion per audience (id "<kpi id>/<key>", title its label), and how
    # they are combined (COMBINE_METHODS)
    parts: tuple[Kpi, ...] = ()
    combine: str = ""
    benchmarks: tuple[Benchmark, ...] = ()
    group: str = ""
    target_text: str = ""
    # activity: the kinds of record counted and what is measured (MEASURES)
    activities: tuple[str, ...] = ()
    measure: str = ""
    # evidence: the case studies the target asks for (per period, or a year: target_period)
    case_studies: int = 0

    @property
    def is_recorded(self) -> bool:
        """Tell whether staff record this KPI (activity, evidence, milestone)."""
        return self.kind.value in RECORDED_KINDS

    @property
    def is_amount(self) -> bool:
        """Tell whether the KPI's result is an amount of money (pounds)."""
        return self.measure in AMOUNT_MEASURES

    @property
    def readings(self) -> tuple[Kpi, ...]:
        """Give the survey KPIs that read answers for this one: its parts, or itself."""
        return self.parts or ((self,) if self.survey is not None else ())

    @property
    def part_key(self) -> str:
        """Give an audience part's key (the end of its id)."""
        return self.id.rpartition("/")[2]

    @property
    def is_count(self) -> bool:
        """Tell whether the KPI's result is a count (not a share)."""
        return self.kind in (KpiKind.COUNT, KpiKind.ACTIVITY) or self.records is Records.ENQUIRIES

    @property
    def questions(self) -> frozenset[str]:
        """Give the ids of the questions the KPI reads."""
        used: set[str] = set()
        for node in (self.numerator, self.denominator, self.where, self.raised_among):
            if node is not None:
                used |= references(node)
        used |= {q for q in (self.aware, self.raised) if q is not None}
        return frozenset(used)

    def outcomes(self, survey: Survey) -> tuple[tuple[str, str], ...]:
        """Give an awareness KPI's (choice value, label) pairs in the survey's order."""
        assert self.aware is not None
        question = survey.question(self.aware)
        return tuple(
            (c.value, c.label.get("en")) for c in question.choices if c.value not in self.exclude
        )


@dataclass(frozen=True)
class Framework:
    """A funder's set of KPIs, with where they come from and the minimum n to judge."""

    id: str
    title: str
    kpis: tuple[Kpi, ...]
    source: str = ""
    min_n: int = DEFAULT_MIN_N
    focus: Focus | None = None
    alliance: Alliance | None = None
    groups: tuple[Group, ...] = ()
    _index: dict[str, Kpi] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {k.id: k for k in self.kpis})

    def kpi(self, kpi_id: str) -> Kpi:
        """Give the KPI with this id."""
        try:
            return self._index[kpi_id]
        except KeyError:
            raise NotFound(f"Framework {self.id} has no KPI {kpi_id!r}") from None

    def grouped(self) -> list[tuple[Group | None, tuple[Kpi, ...]]]:
        """Give the KPIs under their groups, in the groups' order (ungrouped ones last)."""
        out: list[tuple[Group | None, tuple[Kpi, ...]]] = []
        for group in self.groups:
            mine = tuple(k for k in self.kpis if k.group == group.key)
            if mine or group.note:  # a group with no KPIs of its own says where they are
                out.append((group, mine))
        known = {g.key for g in self.groups}
        rest = tuple(k for k in self.kpis if k.group not in known)
        if rest:
            out.append((None, rest))
        return out

    @property
    def has_recorded(self) -> bool:
        """Tell whether any KPI is recorded by staff (and so needs the report's period)."""
        return any(k.is_recorded or k.kind is KpiKind.RECORDS for k in self.kpis)

    @property
    def surveys(self) -> tuple[str, ...]:
        """Give the ids of the surveys the KPIs read, in order of first use."""
        seen: dict[str, None] = {}
        for kpi in self.kpis:
            for reading in kpi.readings:
                assert reading.survey is not None
                seen.setdefault(reading.survey)
        return tuple(seen)


# --- loading -------------------------------------------------------------------------------


def frameworks_path() -> Path:
    """Give the folder of the built-in framework files."""
    return Path(__file__).resolve().parent


def load_framework(path: str | Path, surveys: Mapping[str, Survey] | None = None) -> Framework:
    """Load and validate a framework from a YAML file (against the built-in surveys)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KpiDefinitionError([f"{path.name}: cannot read the file ({exc})"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise KpiDefinitionError([f"{path.name}: {where}{problem}"]) from None
    loaded = framework_from_data(data, source=path.name, surveys=surveys)
    if loaded.id != path.stem:
        raise KpiDefinitionError(
            [f"{path.name}: the file name must match the framework id {loaded.id!r}"]
        )
    return loaded


def framework_from_data(
    data: object, source: str = "<data>", surveys: Mapping[str, Survey] | None = None
) -> Framework:
    """Validate plain data (parsed YAML) against the surveys and build the framework."""
    return _Checker(source, library_surveys() if surveys is None else surveys).framework(data)


@functools.cache
def _builtin() -> dict[str, Framework]:
    found: dict[str, Framework] = {}
    problems: list[str] = []
    for path in sorted(frameworks_path().glob("*.yaml")):
        try:
            loaded = load_framework(path)
        except KpiDefinitionError as error:
            problems.extend(error.problems)
            continue
        found[loaded.id] = loaded
    if problems:
        raise KpiDefinitionError(problems)
    return found


def frameworks() -> dict[str, Framework]:
    """Give the built-in frameworks by id."""
    return dict(_builtin())


def framework(framework_id: str) -> Framework:
    """Give one built-in framework by id."""
    known = _builtin()
    if framework_id not in known:
        raise NotFound(f"No KPI framework {framework_id!r} (there are: {', '.join(sorted(known))})")
    return known[framework_id]


def problems_with_survey(kpi: Kpi, survey: Survey) -> list[str]:
    """List why a KPI cannot be measured with a survey version (empty when it can)."""
    checker = _Checker(f"{survey.id} v{survey.version}", {survey.id: survey})
    for node in (kpi.numerator, kpi.denominator, kpi.where, kpi.raised_among):
        if node is not None:
            checker.check_node(f"KPI {kpi.id}", node, survey)
    for name in (kpi.aware, kpi.raised):
        if name is not None:
            checker.multiple_question(f"KPI {kpi.id}", name, survey)
    return checker.problems


# --- checking ------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys (PyYAML would keep the last one silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int) and key in seen:
            raise yaml.constructor.ConstructorError(
                problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    """Walks one framework, collecting every problem before deciding."""

    def __init__(self, source: str, surveys: Mapping[str, Survey]) -> None:
        self.source = source
        self.surveys = surveys
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )

    def unknown_keys(self, where: str, data: Mapping[Any, Any], allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in data:
            if key not in allowed:
                self.problem(where, f"unknown key {key!r}{_suggest(str(key), allowed)}")

    def framework(self, data: object) -> Framework:
        if not isinstance(data, Mapping):
            self.problem("", "a framework must be a mapping with id, title and kpis")
            raise KpiDefinitionError(self.problems)
        self.unknown_keys("", data, FRAMEWORK_KEYS)
        framework_id = data.get("id")
        if not isinstance(framework_id, str) or not FRAMEWORK_ID.fullmatch(framework_id):
            self.problem(
                "id", f"a framework id is lowercase words joined by '-', not {framework_id!r}"
            )
            framework_id = "?"
        title = self.text("title", data.get("title"), required=True)
        min_n = data.get("min_n", DEFAULT_MIN_N)
        if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 5:
            self.problem("min_n", f"min_n must be a whole number of at least 5, not {min_n!r}")
            min_n = DEFAULT_MIN_N
        raw_kpis = data.get("kpis")
        kpis: list[Kpi] = []
        if not isinstance(raw_kpis, list) or not raw_kpis:
            self.problem("kpis", "list at least one KPI")
            raw_kpis = []
        seen: set[str] = set()
        for n, raw in enumerate(raw_kpis, 1):
            kpi = self.kpi(n, raw)
            if kpi is None:
                continue
            if kpi.id in seen:
                self.problem(f"KPI {kpi.id}", "two KPIs have this id")
            seen.add(kpi.id)
            kpis.append(kpi)
        focus = self.focus(data.get("focus"))
        alliance = self.alliance(data.get("alliance"))
        groups = self.groups(data.get("groups"))
        keys = {g.key for g in groups}
        for kpi in kpis:
            if kpi.group and kpi.group not in keys:
                self.problem(
                    f"KPI {kpi.id}: group",
                    f"unknown group {kpi.group!r}{_suggest(kpi.group, keys)} "
                    f"(the framework's groups: {', '.join(keys) or 'none'})",
                )
        if self.problems:
            raise KpiDefinitionError(self.problems)
        return Framework(
            id=framework_id,
            title=title,
            kpis=tuple(kpis),
            source=self.text("source", data.get("source")),
            min_n=min_n,
            focus=focus,
            alliance=alliance,
            groups=groups,
        )

    def groups(self, raw: object) -> tuple[Group, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem("groups", "must be a list of groups, each with key and title")
            return ()
        found: list[Group] = []
        for n, item in enumerate(raw, 1):
            if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
                self.problem(f"groups: group {n}", "must be a mapping with key and title")
                continue
            self.unknown_keys(f"groups: group {n}", item, GROUP_KEYS)
            title = self.text(f"groups: group {n}: title", item.get("title"), required=True)
            note = self.text(f"groups: group {n}: note", item.get("note"))
            if any(g.key == item["key"] for g in found):
                self.problem(f"groups: group {n}", f"two groups have the key {item['key']!r}")
            found.append(Group(str(item["key"]), title, note))
        return tuple(found)

    def focus(self, raw: object) -> Focus | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problem("focus", "must be a mapping with title, segment and values")
            return None
        self.unknown_keys("focus", raw, FOCUS_KEYS)
        title = self.text("focus: title", raw.get("title"), required=True)
        segment = raw.get("segment")
        if segment not in FOCUS_SEGMENTS:
            self.problem(
                "focus: segment",
                f"must be one of {', '.join(FOCUS_SEGMENTS)}, not {segment!r}",
            )
            return None
        known = INCOME_BANDS if segment == "income_band" else ORGANISATION_TYPES
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            self.problem("focus: values", f"list the {segment} values the focus keeps")
            return None
        for value in values:
            if value not in known:
                self.problem(
                    "focus: values",
                    f"unknown {segment} {value!r}{_suggest(str(value), known)} "
                    f"(values: {', '.join(known)})",
                )
        return Focus(title, str(segment), tuple(str(v) for v in values))

    def alliance(self, raw: object) -> Alliance | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problem("alliance", "must be a mapping with name and providers")
            return None
        self.unknown_keys("alliance", raw, ALLIANCE_KEYS)
        name = self.text("alliance: name", raw.get("name"), required=True)
        providers = raw.get("providers")
        if not isinstance(providers, list) or not providers:
            self.problem("alliance: providers", "list the slugs of the alliance's providers")
            return None
        for slug in providers:
            if not isinstance(slug, str) or not PROVIDER_SLUG.fullmatch(slug):
                self.problem("alliance: providers", f"{slug!r} is not a provider slug")
        if len(set(map(str, providers))) != len(providers):
            self.problem("alliance: providers", "a provider is listed twice")
        return Alliance(name, tuple(str(p) for p in providers))

    def benchmarks(
        self, where: str, raw: object, kind: KpiKind, is_count: bool
    ) -> tuple[Benchmark, ...]:
        if raw is None:
            return ()
        where = f"{where}: benchmarks"
        if not isinstance(raw, list) or not raw:
            self.problem(where, "must be a list of benchmarks (label, value, source, year)")
            return ()
        if is_count or kind not in (KpiKind.PROPORTION, KpiKind.RECORDS):
            self.problem(
                where, f"only a KPI whose result is a share can have benchmarks, not a {kind}"
            )
            return ()
        found: list[Benchmark] = []
        for n, item in enumerate(raw, 1):
            if not isinstance(item, Mapping):
                self.problem(
                    where, f"benchmark {n} must be a mapping with label, value, source, year"
                )
                continue
            self.unknown_keys(f"{where}: benchmark {n}", item, BENCHMARK_KEYS)
            label = self.text(f"{where}: benchmark {n}: label", item.get("label"), required=True)
            name = f"benchmark {n} ({label})" if label else f"benchmark {n}"
            source = item.get("source")
            if not isinstance(source, str) or not source.strip():
                self.problem(
                    where,
                    f"{name} has no source: say who published the figure and where "
                    "(a benchmark without a source cannot be checked)",
                )
                source = ""
            value = self.benchmark_value(where, name, item.get("value"))
            year = item.get("year")
            if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
                self.problem(
                    where, f"{name} needs the year of its figure (like 2008), not {year!r}"
                )
                year = 0
            if label and source and value is not None and year:
                found.append(Benchmark(label, value, " ".join(source.split()), year))
        return tuple(found)

    def benchmark_value(self, where: str, name: str, raw: object) -> Fraction | None:
        if isinstance(raw, str):
            match = BENCHMARK_PERCENT.fullmatch(raw)
            if match is None:
                self.problem(
                    where, f"{name}: cannot read the value {raw!r}: write a percentage like '16.3%'"
                )
                return None
            value = Fraction(match.group(1)) / 100
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = Fraction(str(raw))
        else:
            self.problem(where, f"{name} needs a value, a percentage like '16.3%'")
            return None
        if not 0 <= value <= 1:
            self.problem(
                where,
                f"{name}: the value {raw!r} is outside 0-100% (write 16.3% as '16.3%' or 0.163)",
            )
            return None
        return value

    def text(self, where: str, value: object, *, required: bool = False) -> str:
        if value is None:
            if required:
                self.problem(where, "is required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(where, f"must be text, not {value!r}")
            return ""
        return " ".join(value.split())

    def kpi(self, n: int, raw: object) -> Kpi | None:
        if not isinstance(raw, Mapping):
            self.problem(f"KPI number {n}", "must be a mapping with id, title, target...")
            return None
        kpi_id = raw.get("id")
        if isinstance(kpi_id, int) and not isinstance(kpi_id, bool):
            kpi_id = str(kpi_id)
        if not isinstance(kpi_id, str) or not KPI_ID.fullmatch(kpi_id):
            self.problem(
                f"KPI number {n}",
                f"needs an id of letters, digits, spaces, '.', '_' "
                f"or '-' (up to 32), not {kpi_id!r}",
            )
            return None
        where = f"KPI {kpi_id}"
        try:
            kind = KpiKind(raw.get("kind", KpiKind.PROPORTION))
        except ValueError:
            kinds = ", ".join(k.value for k in KpiKind)
            self.problem(where, f"unknown kind {raw.get('kind')!r} (kinds: {kinds})")
            return None
        self.unknown_keys(where, raw, COMMON_KEYS + KIND_KEYS[kind])
        title = self.text(f"{where}: title", raw.get("title"), required=True)
        records = self.records(where, raw) if kind is KpiKind.RECORDS else None
        is_count = kind in (KpiKind.COUNT, KpiKind.ACTIVITY) or records is Records.ENQUIRIES
        try:
            target = Target.parse(raw.get("target"), count=is_count)
        except TargetError as error:
            self.problem(f"{where}: target", str(error))
            target = Target(TargetRule.NONE)
        allowed_rules = {
            KpiKind.PROPORTION: {TargetRule.AT_LEAST, TargetRule.MORE_THAN, TargetRule.NONE},
            KpiKind.COUNT: {TargetRule.AT_LEAST, TargetRule.NONE},
            KpiKind.AWARENESS: {TargetRule.INCREASE, TargetRule.NONE},
            KpiKind.TARGETS_MET: {TargetRule.AT_LEAST, TargetRule.MORE_THAN},
            KpiKind.AUDIENCES: {TargetRule.AT_LEAST, TargetRule.MORE_THAN, TargetRule.NONE},
            KpiKind.RECORDS: {TargetRule.AT_LEAST, TargetRule.NONE}
            if is_count
            else {TargetRule.AT_LEAST, TargetRule.MORE_THAN, TargetRule.NONE},
            KpiKind.ACTIVITY: {TargetRule.AT_LEAST, TargetRule.NONE},
            KpiKind.EVIDENCE: {TargetRule.STATED, TargetRule.NONE},
            KpiKind.MILESTONE: {TargetRule.STATED},
        }[kind]
        if target.rule not in allowed_rules:
            self.problem(f"{where}: target", f"a {kind} KPI cannot have the target {target}")
        common: dict[str, Any] = {
            "id": kpi_id,
            "title": title,
            "kind": kind,
            "target": target,
            "source": self.text(f"{where}: source", raw.get("source")),
            "note": self.text(f"{where}: note", raw.get("note")),
            "benchmarks": self.benchmarks(where, raw.get("benchmarks"), kind, is_count),
            "group": self.text(f"{where}: group", raw.get("group")),
            "target_text": self.text(f"{where}: target_text", raw.get("target_text")),
        }
        if kind is KpiKind.TARGETS_MET or kind is KpiKind.MILESTONE:
            return Kpi(**common)
        if kind is KpiKind.RECORDS:
            return self.records_kpi(where, raw, records, common)
        if kind is KpiKind.AUDIENCES:
            return self.audiences(where, raw, common)
        if kind is KpiKind.ACTIVITY:
            return self.activity(where, raw, common)
        if kind is KpiKind.EVIDENCE:
            return self.evidence(where, raw, common)
        survey = self.survey(where, raw.get("survey"))
        if kind is KpiKind.PROPORTION:
            return self.proportion(where, raw, survey, common)
        if kind is KpiKind.COUNT:
            return self.count(where, raw, survey, common)
        return self.awareness(where, raw, survey, common)

    def records(self, where: str, raw: Mapping[str, Any]) -> Records | None:
        value = raw.get("records")
        try:
            return Records(str(value))
        except ValueError:
            known = ", ".join(r.value for r in Records)
            self.problem(f"{where}: records", f"unknown records {value!r} (records: {known})")
            return None

    def records_kpi(
        self,
        where: str,
        raw: Mapping[str, Any],
        records: Records | None,
        common: dict[str, Any],
    ) -> Kpi:
        period = raw.get("target_period", "period")
        if period not in TARGET_PERIODS:
            self.problem(
                f"{where}: target_period",
                f"must be 'period' or 'year' (an annual target, compared pro rata), not {period!r}",
            )
            period = "period"
        target: Target = common["target"]
        if period == "year":
            if records is not Records.ENQUIRIES:
                self.problem(f"{where}: target_period", "only a count can have an annual target")
            else:
                common = {**common, "target": dataclasses.replace(target, basis="a year")}
        breakdowns = raw.get("breakdowns", [])
        if not isinstance(breakdowns, list):
            self.problem(f"{where}: breakdowns", "must be a list of segments")
            breakdowns = []
        for segment in breakdowns:
            if records is not Records.PLACEMENTS_PER_ENQUIRY or segment not in RECORD_SEGMENTS:
                self.problem(
                    f"{where}: breakdowns",
                    f"records KPIs can be broken down only by district (placements per "
                    f"enquiry), not {segment!r}",
                )
        return Kpi(
            **common,
            records=records,
            target_period=str(period),
            breakdowns=tuple(s for s in breakdowns if s in RECORD_SEGMENTS),
        )

    def target_period(self, where: str, raw: Mapping[str, Any]) -> str:
        period = raw.get("target_period", "period")
        if period not in TARGET_PERIODS:
            self.problem(
                f"{where}: target_period",
                f"must be 'period' or 'year' (an annual target, compared pro rata), not {period!r}",
            )
            return "period"
        return str(period)

    def activity(self, where: str, raw: Mapping[str, Any], common: dict[str, Any]) -> Kpi:
        measure = raw.get("measure", "activities")
        if measure not in MEASURES:
            self.problem(
                f"{where}: measure",
                f"unknown measure {measure!r}{_suggest(str(measure), MEASURES)} "
                f"(measures: {', '.join(MEASURES)})",
            )
            measure = "activities"
        kinds = raw.get("activity")
        listed = kinds if isinstance(kinds, list) else [kinds]
        if measure == "members":
            listed = [k for k in listed if k is not None]
        elif not listed or listed == [None]:
            self.problem(
                f"{where}: activity",
                f"name the kind of record counted ({', '.join(ACTIVITY_KINDS)})",
            )
            listed = []
        for kind in listed:
            if kind not in ACTIVITY_KINDS:
                self.problem(
                    f"{where}: activity",
                    f"unknown kind of activity {kind!r}{_suggest(str(kind), ACTIVITY_KINDS)} "
                    f"(kinds: {', '.join(ACTIVITY_KINDS)})",
                )
        period = self.target_period(where, raw)
        target: Target = common["target"]
        if period == "year" and target.numeric:
            common = {**common, "target": dataclasses.replace(target, basis="a year")}
        if measure in AMOUNT_MEASURES and target.numeric:
            common = {
                **common,
                "target": dataclasses.replace(common["target"], is_amount=True),
            }
        breakdowns = raw.get("breakdowns", [])
        if not isinstance(breakdowns, list):
            self.problem(f"{where}: breakdowns", "must be a list of segments")
            breakdowns = []
        for segment in breakdowns:
            if segment not in ACTIVITY_SEGMENTS:
                self.problem(
                    f"{where}: breakdowns",
                    f"activity records can be broken down by {', '.join(ACTIVITY_SEGMENTS)}, "
                    f"not {segment!r}",
                )
        return Kpi(
            **common,
            activities=tuple(str(k) for k in listed if k in ACTIVITY_KINDS),
            measure=str(measure),
            target_period=period,
            breakdowns=tuple(s for s in breakdowns if s in ACTIVITY_SEGMENTS),
        )

    def evidence(self, where: str, raw: Mapping[str, Any], common: dict[str, Any]) -> Kpi:
        wanted = raw.get("case_studies", 0)
        if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 0:
            self.problem(f"{where}: case_studies", f"must be a whole number, not {wanted!r}")
            wanted = 0
        return Kpi(**common, case_studies=wanted, target_period=self.target_period(where, raw))

    def survey(self, where: str, survey_id: object) -> Survey | None:
        if not isinstance(survey_id, str):
            self.problem(f"{where}: survey", "name the survey the KPI reads (e.g. cvs-support)")
            return None
        if survey_id not in self.surveys:
            self.problem(
                f"{where}: survey",
                f"unknown survey {survey_id!r}{_suggest(survey_id, self.surveys)}",
            )
            return None
        return self.surveys[survey_id]

    def condition(
        self, where: str, raw: object, survey: Survey | None, *, required: bool = True
    ) -> tuple[Node | None, str]:
        if raw is None:
            if required:
                self.problem(where, "is required (a condition such as ${q} = 'yes')")
            return None, ""
        if not isinstance(raw, str):
            self.problem(where, f"must be a condition in quotes, not {raw!r}")
            return None, ""
        text = " ".join(raw.split())
        try:
            node = parse(text)
        except ExprError as error:
            self.problem(where, str(error))
            return None, text
        if survey is not None:
            self.check_node(where, node, survey)
        return node, text

    def check_node(self, where: str, node: Node, survey: Survey) -> None:
        if expr_uses_current(node):
            self.problem(where, "'.' (the current answer) has no meaning in a KPI; use ${question}")
        answerable = {q.id: q for q in survey.answerable_questions()}
        for name in sorted(references(node)):
            if name not in answerable:
                self.problem(
                    where,
                    f"survey {survey.id} has no question ${{{name}}}{_suggest(name, answerable)}",
                )
        for name, value in literal_comparisons(node):
            question = answerable.get(name)
            if question is None or not question.is_choice or value == "":
                continue  # '' is how the condition language says "not answered"
            values = [c.value for c in question.choices]
            if value not in values:
                self.problem(
                    where,
                    f"question {name} has no choice {value!r}{_suggest(value, values)} "
                    f"(its choices: {', '.join(values)})",
                )

    def multiple_question(self, where: str, name: object, survey: Survey) -> bool:
        if not isinstance(name, str):
            self.problem(where, f"name a multiple-choice question, not {name!r}")
            return False
        answerable = {q.id: q for q in survey.answerable_questions()}
        question = answerable.get(name)
        if question is None:
            self.problem(
                where, f"survey {survey.id} has no question {name!r}{_suggest(name, answerable)}"
            )
            return False
        if question.type is not QuestionType.MULTIPLE:
            self.problem(where, f"question {name} is {question.type}, not multiple choice")
            return False
        return True

    def proportion(
        self, where: str, raw: Mapping[str, Any], survey: Survey | None, common: dict[str, Any]
    ) -> Kpi:
        numerator, numerator_text = self.condition(
            f"{where}: numerator", raw.get("numerator"), survey
        )
        denominator, denominator_text = self.condition(
            f"{where}: denominator", raw.get("denominator"), survey, required=False
        )
        is_default = raw.get("denominator") is None
        if is_default and numerator is not None:
            answered = sorted(references(numerator))
            if not answered:
                self.problem(f"{where}: numerator", "must use at least one question")
            else:
                denominator_text = " and ".join(f"${{{q}}} != ''" for q in answered)
                denominator = parse(denominator_text)
        breakdowns = raw.get("breakdowns", [])
        if not isinstance(breakdowns, list):
            self.problem(f"{where}: breakdowns", "must be a list of segments")
            breakdowns = []
        for segment in breakdowns:
            if segment not in SEGMENTS:
                self.problem(
                    f"{where}: breakdowns",
                    f"unknown segment {segment!r}{_suggest(str(segment), SEGMENTS)} "
                    f"(segments: {', '.join(SEGMENTS)})",
                )
        return Kpi(
            **common,
            survey=survey.id if survey else None,
            numerator=numerator,
            numerator_text=numerator_text,
            denominator=denominator,
            denominator_text=denominator_text,
            denominator_is_default=is_default,
            breakdowns=tuple(s for s in breakdowns if s in SEGMENTS),
        )

    def audiences(self, where: str, raw: Mapping[str, Any], common: dict[str, Any]) -> Kpi:
        combine = raw.get("combine", "pooled")
        if combine not in COMBINE_METHODS:
            self.problem(
                f"{where}: combine",
                f"must be one of {', '.join(COMBINE_METHODS)}, not {combine!r}",
            )
            combine = "pooled"
        raw_parts = raw.get("parts")
        if not isinstance(raw_parts, list) or len(raw_parts) < 2:
            self.problem(f"{where}: parts", "list at least two audiences, each with its survey")
            raw_parts = raw_parts if isinstance(raw_parts, list) else []
        parts: list[Kpi] = []
        for n, part in enumerate(raw_parts, 1):
            here = f"{where}: part {n}"
            if not isinstance(part, Mapping):
                self.problem(here, "must be a mapping with key, label, survey and numerator")
                continue
            self.unknown_keys(here, part, PART_KEYS)
            key = part.get("key")
            if not isinstance(key, str) or not PART_KEY.fullmatch(key):
                self.problem(here, f"key must be lowercase letters, digits and '_', not {key!r}")
                continue
            if any(p.part_key == key for p in parts):
                self.problem(here, f"two parts have the key {key!r}")
            label = self.text(f"{here}: label", part.get("label"), required=True)
            survey = self.survey(here, part.get("survey"))
            shared = {**common, "id": f"{common['id']}/{key}", "title": label, "note": ""}
            parts.append(self.proportion(here, part, survey, shared))
        # Each audience's share is the KPI's one breakdown, always shown.
        return Kpi(**common, parts=tuple(parts), combine=str(combine), breakdowns=("audience",))

    def count(
        self, where: str, raw: Mapping[str, Any], survey: Survey | None, common: dict[str, Any]
    ) -> Kpi:
        if raw.get("count") != "organisations":
            self.problem(f"{where}: count", "the only thing a count KPI counts is 'organisations'")
        node, text = self.condition(f"{where}: where", raw.get("where"), survey, required=False)
        window = raw.get("window_days", DEFAULT_WINDOW_DAYS)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            self.problem(f"{where}: window_days", f"must be a whole number of days, not {window!r}")
            window = DEFAULT_WINDOW_DAYS
        with_records = raw.get("with_records", False)
        if not isinstance(with_records, bool):
            self.problem(f"{where}: with_records", f"must be true or false, not {with_records!r}")
            with_records = False
        return Kpi(
            **common,
            survey=survey.id if survey else None,
            where=node,
            where_text=text,
            window_days=window,
            with_records=with_records,
        )

    def awareness(
        self, where: str, raw: Mapping[str, Any], survey: Survey | None, common: dict[str, Any]
    ) -> Kpi:
        aware, raised = raw.get("aware"), raw.get("raised")
        exclude = raw.get("exclude", [])
        if not isinstance(exclude, list):
            self.problem(f"{where}: exclude", "must be a list of choice values")
            exclude = []
        if survey is not None:
            if self.multiple_question(f"{where}: aware", aware, survey):
                values = [c.value for c in survey.question(str(aware)).choices]
                for value in exclude:
                    if value not in values:
                        hint = _suggest(str(value), values)
                        self.problem(
                            f"{where}: exclude", f"question {aware} has no choice {value!r}{hint}"
                        )
            self.multiple_question(f"{where}: raised", raised, survey)
        among, among_text = self.condition(
            f"{where}: raised_among", raw.get("raised_among"), survey
        )
        return Kpi(
            **common,
            survey=survey.id if survey else None,
            aware=aware if isinstance(aware, str) else None,
            raised=raised if isinstance(raised, str) else None,
            raised_among=among,
            raised_among_text=among_text,
            exclude=tuple(str(v) for v in exclude),
        )
