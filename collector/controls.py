"""Control characters: the one rule for the text tempcheck takes in.

Nobody types a NUL or a vertical tab; they come from a paste, a spreadsheet's export, a broken
client or an attacker. PostgreSQL cannot store a NUL, and a workbook or a PDF cannot show most
of the others, so every way in (the web forms, the CSV imports, Telegram) refuses text with any
C0 control character other than tab, newline and carriage return, or DEL, and says which.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_problem(text: str) -> str | None:
    """Say what is wrong with `text` if it holds a control character; None if nothing is."""
    match = CONTROL.search(text)
    if match is None:
        return None
    code = ord(match.group())
    return f"holds a control character (U+{code:04X}) that cannot be stored or shown: remove it"
