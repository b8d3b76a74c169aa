"""Render KPI reports: text, JSON and CSV here; HTML, XLSX, PDF, charts and a short message in
the submodules (:mod:`analysis.render.html`, ``xlsx``, ``pdf``, ``charts``, ``message``).

Renderers only read :class:`analysis.model.KpiReport` objects, whose small cells are already
empty (see :mod:`analysis.suppression`), so nothing here can show a hidden count.
"""

from __future__ import annotations

from analysis.render.text import CSV_COLUMNS, csv_rows, to_csv, to_json, to_table

__all__ = ["CSV_COLUMNS", "csv_rows", "to_csv", "to_json", "to_table"]
