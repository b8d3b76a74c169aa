"""KPI frameworks: definitions as data (``*.yaml`` here), targets and the RAG rule, evaluation.

Import evaluation from :mod:`analysis.kpis.evaluation`; this package only re-exports the
definitions and targets, so that importing it stays cheap and free of cycles.
"""

from analysis.kpis.definitions import (
    Framework,
    Kpi,
    KpiDefinitionError,
    KpiKind,
    framework,
    frameworks,
    load_framework,
)
from analysis.kpis.targets import RAG_RULE, Status, Target, TargetRule, rag

__all__ = [
    "RAG_RULE",
    "Framework",
    "Kpi",
    "KpiDefinitionError",
    "KpiKind",
    "Status",
    "Target",
    "TargetRule",
    "framework",
    "frameworks",
    "load_framework",
    "rag",
]
