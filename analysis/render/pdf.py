"""The report as a PDF: WeasyPrint from the standalone HTML, offline.

The document carries everything it needs (inline CSS, charts as data: URIs), so the fetcher
refuses every other URL: rendering a report never reaches the network or the file system.
"""

from __future__ import annotations

import logging
from typing import Any

from analysis.render.html import report_html
from analysis.report import KpiReport

__all__ = ["OfflineFetchError", "offline_fetcher", "report_pdf"]


class OfflineFetchError(ValueError):
    """A report tried to load something that is not inside it (only data: URIs are allowed)."""


def offline_fetcher(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
    """Load data: URIs as WeasyPrint would, and refuse every other URL."""
    if not url.startswith("data:"):
        raise OfflineFetchError(f"the report may only use data: URIs, not {url[:60]!r}")
    from weasyprint.urls import default_url_fetcher

    result: dict[str, Any] = default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)
    return result


def report_pdf(report: KpiReport) -> bytes:
    """Render the report as an A4 PDF from its standalone HTML."""
    # Imported here: WeasyPrint loads Pango at import, which only PDF rendering needs.
    from weasyprint import HTML

    # WeasyPrint logs every CSS property it does not support as a warning; the report's CSS
    # is written for browsers too, so those are expected and not worth a log line each.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = HTML(string=report_html(report, standalone=True), base_url=None,
                    url_fetcher=offline_fetcher)
    pdf: bytes = document.write_pdf()
    return pdf
