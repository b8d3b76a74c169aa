"""The streaming XLSX writer: what openpyxl reads back is what was written, text stays text."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl

from collector.xlsx import SheetWriter, column_letters, serial, text_xml


def test_column_letters_run_past_z() -> None:
    assert [column_letters(i) for i in (0, 25, 26, 51, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "ZZ",
        "AAA",
    ]


def test_text_is_escaped_for_xml_and_for_excel() -> None:
    assert text_xml("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    # Excel reads _xHHHH_ in a string as an escaped character: written as typed, it shows so.
    assert text_xml("code _x0041_ here") == "code _x005F_x0041_ here"
    assert text_xml("bell\x07") == "bell\u2407"  # no control character XML cannot hold
    assert len(text_xml("x" * 40_000)) == 32_767
    assert serial(datetime(1900, 3, 1)) == 61.0 and serial(datetime(2026, 1, 1, 12)) == 46023.5


def test_rows_read_back_with_their_types_and_the_heading_frozen() -> None:
    out = io.BytesIO()
    with SheetWriter(out, "Responses", times=[1]) as sheet:
        sheet.heading(["Text", "When", "Number", "Empty", "Flag", "Not a number"])
        sheet.row(["=1+1", datetime(2026, 3, 3, 14, 5), 2.5, None, True, float("nan")])
        sheet.row(["@SUM(A1)", None, 7, None, False, 1.0])
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = book["Responses"]
    assert ws.freeze_panes == "B2"
    assert all(cell.font.b for cell in ws[1]) and [c.value for c in ws[1]][:3] == [
        "Text",
        "When",
        "Number",
    ]
    first = ws[2]
    assert first[0].data_type == "s" and first[0].value == "=1+1"  # text, never a formula
    assert first[1].value == datetime(2026, 3, 3, 14, 5)
    assert first[1].number_format == "yyyy-mm-dd hh:mm"
    assert (first[2].value, first[3].value, first[4].value, first[5].value) == (2.5, None, 1, "nan")
    assert [c.value for c in ws[3]] == ["@SUM(A1)", None, 7, None, 0, 1.0]
    assert ws.max_row == 3
