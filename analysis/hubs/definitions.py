"""The Community Hub Temperature Check as data: its variables, their targets per kind of hub,
and the RAG rule, loaded from ``analysis/hubs/<id>.yaml`` and validated on load.

A check file has an ``id`` (its file name), a ``title``, a ``source``, a ``rag`` rule
(``amber_from``: the share of the target at or above which a shortfall is amber, between 0%
and 100%) and its ``variables``: each with an ``id`` (lower case, digits and _), a ``title``,
optionally the VAL indicator it matches (``val``), and ``targets``: for each kind that reports
it (``hub``, ``centre``) its quarterly target, a whole number, or null for none.

These files sit apart from the KPI frameworks (``analysis/kpis/*.yaml``), whose loader reads
only its own folder: hubs report figures, not survey answers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from collector.errors import NotFound
from collector.hubs import KINDS

__all__ = [
    "DEFAULT_CHECK",
    "HubCheck",
    "HubCheckError",
    "Variable",
    "check",
    "checks",
    "load_check",
]

DEFAULT_CHECK = "leicestershire-hubs"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


class HubCheckError(ValueError):
    """A check file with problems; `problems` lists each, with where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Variable:
    """One variable hubs report each quarter, with its target per kind (None: no target)."""

    id: str
    title: str
    val: str | None
    targets: dict[str, int | None]

    def reported_by(self, kind: str) -> bool:
        """Tell whether a kind of hub ("hub", "centre") reports this variable."""
        return kind in self.targets


@dataclass(frozen=True)
class HubCheck:
    """A temperature check: its variables and its RAG rule."""

    id: str
    title: str
    source: str
    amber_from: Fraction
    variables: tuple[Variable, ...]

    def variables_for(self, kind: str) -> tuple[Variable, ...]:
        """Give the variables a kind of hub reports, in the check's order."""
        return tuple(v for v in self.variables if v.reported_by(kind))

    def variable_kinds(self) -> dict[str, frozenset[str]]:
        """Give each variable's id and the kinds that report it (for the returns import)."""
        return {v.id: frozenset(v.targets) for v in self.variables}

    @property
    def rule(self) -> str:
        """State the RAG rule in words, as every output prints it."""
        share = f"{float(self.amber_from) * 100:g}%"
        return (
            "Green: the quarter's figure meets the target. Amber: below the target, but at "
            f"least {share} of it. Red: below {share} of the target. Not reported: no figure "
            "was returned (or the hub said it does not apply), or there is no target to judge "
            "it against; a figure without a target is shown, not rated. Not reported counts "
            "in the totals, as the review counts it."
        )


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


def load_yaml(text: str, name: str) -> Any:
    """Parse a check file's text, refusing duplicate keys; say where a problem is."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise HubCheckError([f"{name}: {where}{problem}"]) from None


def check_from_data(data: object, source: str = "<data>") -> HubCheck:
    """Validate plain data (parsed YAML) and build the check; list every problem at once."""
    problems: list[str] = []

    def problem(where: str, message: str) -> None:
        problems.append(f"{source}: {where}: {message}")

    if not isinstance(data, dict):
        raise HubCheckError([f"{source}: the file must be a mapping"])
    for key in sorted(set(data) - {"id", "title", "source", "rag", "variables"}):
        problem(str(key), "unknown key")
    check_id = data.get("id")
    if not isinstance(check_id, str) or not re.match(r"^[a-z0-9-]{1,64}$", check_id):
        problem("id", "must be lower-case letters, digits and -")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problem("title", "is missing")
    rag = data.get("rag")
    amber_from = Fraction(0)
    if not isinstance(rag, dict) or "amber_from" not in rag:
        problem("rag", "must give amber_from, the share of the target that is still amber")
    else:
        for key in sorted(set(rag) - {"amber_from"}):
            problem(f"rag.{key}", "unknown key")
        found = _PERCENT.match(str(rag["amber_from"]))
        if found is None:
            problem("rag.amber_from", f"{rag['amber_from']!r} is not a percentage such as 80%")
        else:
            amber_from = Fraction(found[1]) / 100
            if not 0 < amber_from < 1:
                problem("rag.amber_from", "must be between 0% and 100%, both excluded")
    variables: list[Variable] = []
    raw_variables = data.get("variables")
    if not isinstance(raw_variables, list) or not raw_variables:
        problem("variables", "must be a list of at least one variable")
        raw_variables = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_variables, start=1):
        where = f"variable {number}"
        if not isinstance(raw, dict):
            problem(where, "must be a mapping")
            continue
        for key in sorted(set(raw) - {"id", "title", "val", "targets"}):
            problem(f"{where}.{key}", "unknown key")
        variable_id = raw.get("id")
        if not isinstance(variable_id, str) or not _ID.match(variable_id):
            problem(f"{where}.id", "must be lower-case letters, digits and _")
            variable_id = f"#{number}"
        elif variable_id in seen:
            problem(f"{where}.id", f"{variable_id} appears twice")
        seen.add(variable_id)
        where = f"variable {variable_id}"
        variable_title = raw.get("title")
        if not isinstance(variable_title, str) or not variable_title.strip():
            problem(f"{where}.title", "is missing")
        targets = raw.get("targets")
        clean: dict[str, int | None] = {}
        if not isinstance(targets, dict) or not targets:
            problem(f"{where}.targets", "must name the kinds that report it (hub, centre)")
        else:
            for kind, target in targets.items():
                if kind not in KINDS:
                    problem(f"{where}.targets.{kind}", "is not a kind (use hub or centre)")
                elif target is not None and (
                    isinstance(target, bool) or not isinstance(target, int) or target < 0
                ):
                    problem(f"{where}.targets.{kind}", f"{target!r} is not a whole number >= 0")
                else:
                    clean[kind] = target
        val = raw.get("val")
        variables.append(
            Variable(
                id=variable_id,
                title=str(variable_title or ""),
                val=str(val) if val is not None else None,
                targets=clean,
            )
        )
    if problems:
        raise HubCheckError(problems)
    return HubCheck(
        id=str(check_id),
        title=str(title),
        source=str(data.get("source") or ""),
        amber_from=amber_from,
        variables=tuple(variables),
    )


def checks_path() -> Path:
    """Give the folder of the built-in check files."""
    return Path(__file__).resolve().parent


def load_check(path: str | Path) -> HubCheck:
    """Load and validate a check from a YAML file (its name must be its id)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HubCheckError([f"{path.name}: cannot read the file ({exc})"]) from None
    loaded = check_from_data(load_yaml(text, path.name), source=path.name)
    if loaded.id != path.stem:
        raise HubCheckError([f"{path.name}: the file name must match the check id {loaded.id!r}"])
    return loaded


@functools.cache
def _builtin() -> dict[str, HubCheck]:
    return {c.id: c for c in (load_check(p) for p in sorted(checks_path().glob("*.yaml")))}


def checks() -> dict[str, HubCheck]:
    """Give the built-in checks by id."""
    return dict(_builtin())


def check(check_id: str = DEFAULT_CHECK) -> HubCheck:
    """Give one built-in check by id."""
    known = _builtin()
    if check_id not in known:
        raise NotFound(f"No hub check {check_id!r} (there are: {', '.join(sorted(known))})")
    return known[check_id]
