"""The report as a PDF: WeasyPrint from the standalone HTML, offline.

The document carries everything it needs (inline CSS, charts as data: URIs), so the fetcher
refuses every other URL, and a refused URL stops the rendering: a report never reaches the
network or the file system, and a template that tried to would fail its tests loudly.

The PDF is tagged, as PDF/UA-1 (WeasyPrint's `pdf/ua-1` variant): headings, lists, tables
with their header cells and the charts as figures with their descriptions, in reading
order, with the document's language and title, so a screen reader reads it as the page.
Text people typed (a narrative) may hold emoji: fontconfig draws them from Noto Color
Emoji (`make pdf-deps` installs it), or they would be empty boxes.
"""

from __future__ import annotations

from typing import Any

from analysis.model import KpiReport
from analysis.render.html import report_html

__all__ = ["PDF_VARIANT", "OfflineFetchError", "offline_fetcher", "pdf_from_html", "report_pdf"]

# Tagged for assistive technology: PDF/UA-1.
PDF_VARIANT = "pdf/ua-1"


class OfflineFetchError(ValueError):
    """A report tried to load something that is not inside it (only data: URIs are allowed)."""


def offline_fetcher() -> Any:
    """Give a WeasyPrint URL fetcher that loads data: URIs and refuses everything else."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=True)


def pdf_from_html(html: str) -> bytes:
    """Render a self-contained HTML document as a PDF, refusing every URL but data: ones."""
    # Imported here: WeasyPrint loads Pango when imported, which only PDF rendering needs.
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    try:
        pdf: bytes = HTML(string=html, base_url=None, url_fetcher=offline_fetcher()).write_pdf(
            pdf_variant=PDF_VARIANT
        )
    except FatalURLFetchingError as error:
        raise OfflineFetchError(f"The report refers to something outside it: {error}") from None
    return pdf


def report_pdf(report: KpiReport) -> bytes:
    """Render the report as an A4 PDF from its standalone HTML."""
    return pdf_from_html(report_html(report, standalone=True))
