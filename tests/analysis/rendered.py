"""Read rendered reports back for the tests: HTML tables and term lists, workbook rows, PDF text.

The expected text of a figure is written here independently of analysis.render.formats (whole
percentages rounded half up, intervals as 'low–high%'), so a test compares the renderers with
the KpiReport, not the renderers with themselves.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from typing import Any

import openpyxl
import pypdf


def pct(value: float) -> str:
    """Write a proportion as a whole percentage, halves rounded up (as Excel shows 0%)."""
    return f"{whole(value)}%"


def whole(value: float) -> int:
    """Give a proportion in whole percent, halves rounded up."""
    return int(Decimal(repr(value * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def interval(low: float, high: float) -> str:
    """Write a 95% interval as the reports do."""
    return f"{whole(low)}–{whole(high)}%"


@dataclass
class Table:
    """One HTML table: its caption and rows of cell texts (header cells included)."""

    caption: str = ""
    section: str = ""
    rows: list[list[str]] = field(default_factory=list)

    def row(self, label: str) -> list[str]:
        """Give the row whose first cell is `label`."""
        found = [r for r in self.rows if r and r[0] == label]
        assert len(found) == 1, (label, self.caption, self.rows)
        return found[0]

    def column(self, name: str) -> int:
        """Give the index of a column by its header."""
        return self.rows[0].index(name)


@dataclass
class Page:
    """What an HTML report holds: tables, term lists by section, image alts, visible text."""

    tables: list[Table] = field(default_factory=list)
    terms: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    alts: list[str] = field(default_factory=list)
    srcs: list[str] = field(default_factory=list)
    text: str = ""

    def table(self, caption_start: str) -> Table:
        """Give the one table whose caption starts with this text."""
        found = [t for t in self.tables if t.caption.startswith(caption_start)]
        assert len(found) == 1, (caption_start, [t.caption for t in self.tables])
        return found[0]

    def facts(self, section: str) -> dict[str, str]:
        """Give a section's first term list as {term: text}."""
        return dict(self.terms[section])


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.section = ""
        self.table: Table | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_caption = False
        self.term: list[str] | None = None
        self.value: list[str] | None = None
        self.pending_term = ""
        self.seen_dl: set[str] = set()
        self.dl_section: str | None = None
        self.skip = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("style", "script"):
            self.skip += 1
        if tag == "section":
            self.section = values.get("id") or ""
        elif tag == "table":
            self.table = Table(section=self.section)
        elif tag == "caption":
            self.in_caption = True
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "dl":
            self.dl_section = self.section if self.section not in self.seen_dl else None
            self.seen_dl.add(self.section)
        elif tag == "dt":
            self.term = []
        elif tag == "dd":
            self.value = []
        elif tag == "img":
            self.page.alts.append(values.get("alt") or "")
            self.page.srcs.append(values.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.skip -= 1
        if tag == "table" and self.table is not None:
            self.page.tables.append(self.table)
            self.table = None
        elif tag == "caption":
            self.in_caption = False
        elif tag == "tr" and self.row is not None and self.table is not None:
            self.table.rows.append(self.row)
            self.row = None
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "dt" and self.term is not None:
            self.pending_term = " ".join("".join(self.term).split())
            self.term = None
        elif tag == "dd" and self.value is not None:
            if self.dl_section is not None:
                self.page.terms.setdefault(self.dl_section, []).append(
                    (self.pending_term, " ".join("".join(self.value).split()))
                )
            self.value = None
        elif tag == "dl":
            self.dl_section = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.texts.append(data)
        for part in (self.cell, self.term, self.value):
            if part is not None:
                part.append(data)
        if self.in_caption and self.table is not None:
            self.table.caption = " ".join((self.table.caption + data).split())


def read_html(html: str) -> Page:
    """Read an HTML report (document or fragment)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.page.text = " ".join(" ".join(reader.texts).split())
    return reader.page


def read_xlsx(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Read every sheet's table (header on row 3) as dicts of the cells' stored values."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheets = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
        header = [str(h) for h in rows[0]] if rows else []
        sheets[sheet.title] = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    return sheets


def pdf_text(data: bytes) -> str:
    """Give a PDF's text, whitespace folded to single spaces."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.split())


def digits(text: str) -> list[str]:
    """Give the numbers in a text, leaving out 'fewer than 5', which every hidden cell says."""
    return re.findall(r"\d+", text.replace("fewer than 5", ""))
