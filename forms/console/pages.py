"""What every console page shares: rendering in the console's frame, forms with per-field
errors, transactions, finding a provider's rows, and how dates and numbers are shown."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, abort, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from collector import db, localtime, models
from collector.spreadsheets import csv_cell
from forms import services
from forms.console import bp
from forms.text import Words

# Staff work in UK time: dates are entered and shown in it (they are stored in UTC).

# The rows that belong to one provider, which `owned` finds.
Row = TypeVar(
    "Row",
    models.Round,
    models.Organisation,
    models.OutboxMessage,
    models.Volunteer,
    models.Placement,
    models.Contact,
    models.EvaluationAction,
)


def render(
    template: str, *, status: int = 200, section: str | None = None, **context: Any
) -> ResponseReturnValue:
    """Render a console page: the signed-in account, the provider and the section in view."""
    form = context.get("form")
    error = context.pop("error", False) or bool(form is not None and form.errors)
    return (
        render_template(
            template,
            t=Words("en"),
            frame=None,
            account=g.get("account"),
            provider=context.pop("provider", g.get("provider")),
            section=section,
            error=error,
            **context,
        ),
        status,
    )


@contextmanager
def writing() -> Iterator[Session]:
    """Open a transaction that may write; it commits when the block ends."""
    with db.transaction(services(current_app).sessions) as session:
        yield session


@contextmanager
def reading() -> Iterator[Session]:
    """Open a transaction that only reads (on SQLite it takes no write lock)."""
    with db.transaction(services(current_app).readers) as session:
        yield session


def owned(session: Session, model: type[Row], row_id: int, provider_id: int) -> Row:
    """Give the provider's row with this id, or "not found" (another provider's is not shown)."""
    row = session.get(model, row_id)
    if row is None or row.provider_id != provider_id:
        abort(404)
    return row


@dataclass
class Form:
    """A form's values as sent and its errors by field id (first error per field wins)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        """Record a problem with a field."""
        self.errors.setdefault(name, message)

    def message(self, name: str) -> dict[str, str] | None:
        """Give a field's error as a GOV.UK errorMessage, or None."""
        return {"text": self.errors[name]} if name in self.errors else None

    def summary(self) -> list[dict[str, str]]:
        """Give the errors for the GOV.UK error summary, each linking to its field."""
        return [{"text": text, "href": f"#{name}"} for name, text in self.errors.items()]

    def get(self, name: str, default: Any = "") -> Any:
        """Give a field's value as sent."""
        return self.values.get(name, default)

    def __bool__(self) -> bool:
        return True


def text_field(name: str, limit: int = 500) -> str:
    """Give a text field from the posted form, trimmed and cut to a sane length."""
    return request.form.get(name, "").strip()[:limit]


def many(name: str, allowed: Iterable[str]) -> list[str]:
    """Give the values of a multi-valued field that are among `allowed`, in that order."""
    sent = set(request.values.getlist(name))
    return [value for value in allowed if value in sent]


def page_number() -> int:
    """Give the page asked for in `?page=`, at least 1."""
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


def pagination(page: int, per_page: int, total: int) -> dict[str, Any] | None:
    """Build GOV.UK pagination for this page, keeping the other query arguments."""
    pages = max(1, -(-total // per_page))
    if pages == 1:
        return None
    args = {k: v for k, v in request.args.items(multi=True) if k != "page"}

    def href(number: int) -> str:
        query = list(args.items()) + [("page", str(number))]
        return f"{request.path}?{urlencode(query)}"

    items: list[dict[str, Any]] = []
    for number in range(1, pages + 1):
        if number in (1, pages) or abs(number - page) <= 1:
            items.append({"number": number, "href": href(number), "current": number == page})
        elif items and not items[-1].get("ellipsis"):
            items.append({"ellipsis": True})
    return {
        "items": items,
        "previous": {"href": href(page - 1)} if page > 1 else None,
        "next": {"href": href(page + 1)} if page < pages else None,
    }


def csv_download(name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """Give a CSV file to download; cells that a spreadsheet would run as formulas are quoted."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def mask_address(address: str) -> str:
    """Show enough of an address to recognise it, not to copy it: j•••@example.org."""
    local, at, domain = address.partition("@")
    if not at:
        return address[:2] + "•••" if len(address) > 2 else "•••"
    return f"{local[:1]}•••@{domain}"


@bp.app_template_filter("tc_date")
def format_date(value: datetime | None) -> str:
    """Show a moment's UK date as 3 March 2026."""
    return localtime.long_date(value) if value is not None else ""


@bp.app_template_filter("tc_day")
def format_day(value: datetime | None) -> str:
    """Show a moment's UK date briefly, for tables: 3 Mar 2026."""
    return localtime.short_date(value) if value is not None else ""


@bp.app_template_filter("tc_time")
def format_time(value: datetime | None) -> str:
    """Show a moment in UK time as 3 Mar 2026, 14:05."""
    return localtime.date_time(value) if value is not None else ""


@bp.app_template_filter("tc_rate")
def format_rate(value: float | None) -> str:
    """Show a rate as a whole percentage, or a dash when there is none."""
    return "–" if value is None else f"{value:.0%}"
