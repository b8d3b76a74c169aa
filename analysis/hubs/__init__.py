"""The Community Hub Temperature Check (issue 17): the variables Community Hubs and Local
Resource Centres report each quarter, as data (``*.yaml`` here), and the RAG table across
localities with the comparison with the quarter before (`analysis.hubs.table`)."""

from analysis.hubs.definitions import (
    DEFAULT_CHECK,
    HubCheck,
    HubCheckError,
    Variable,
    check,
    check_from_data,
    checks,
    load_check,
)
from analysis.hubs.table import (
    HubCell,
    HubInfo,
    HubRow,
    HubStatus,
    HubTable,
    ReturnRow,
    build_table,
    judge,
    load_table,
    report_quarter,
    report_table,
    table_from_json,
    table_to_json,
)

__all__ = [
    "DEFAULT_CHECK",
    "HubCell",
    "HubCheck",
    "HubCheckError",
    "HubInfo",
    "HubRow",
    "HubStatus",
    "HubTable",
    "ReturnRow",
    "Variable",
    "build_table",
    "check",
    "check_from_data",
    "checks",
    "judge",
    "load_check",
    "load_table",
    "report_quarter",
    "report_table",
    "table_from_json",
    "table_to_json",
]
