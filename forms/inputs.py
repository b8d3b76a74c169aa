"""Input no page takes: control characters, refused before any view sees them.

The rule is `collector.controls`'s (PostgreSQL cannot store a NUL at all: the driver raised,
which was a 500). A request whose address, query or form carries a control character gets a
page that says so, with status 400, and nothing is saved; an address with one is a link that
is not valid (404). Uploaded files are read by their own checks (the CSV imports name the line
and column).
"""

from __future__ import annotations

from flask import Flask, request

from collector.errors import ControlCharacters, NotFound


def refuse_control_characters() -> None:
    """Refuse the request if its path, query or form fields hold a control character."""
    if ControlCharacters.found_in(request.path):
        # No address of ours has one: a respondent's link is simply not valid.
        raise NotFound("no such page")
    texts: list[str] = []
    for fields in (request.args, request.form):
        for name, values in fields.lists():
            texts.append(name)
            texts.extend(values)
    if ControlCharacters.found_in(*texts):
        raise ControlCharacters()


def init_app(app: Flask) -> None:
    """Check every request's input before its view runs."""
    app.before_request(refuse_control_characters)
