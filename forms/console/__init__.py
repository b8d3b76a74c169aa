"""The staff console (/console) and the funder pages (/funder).

Pages are grouped by noun: `organisations`, `imports` (CSV), `rounds`, `reports`, `outbox`,
`audit`, `funder`, `volunteers` (with placements and enquiries); `access` holds the decorators
every view wears, `pages` what the views share.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

bp = Blueprint("console", __name__, url_prefix="/console")
funder_bp = Blueprint("funder", __name__, url_prefix="/funder")


@bp.url_value_preprocessor
def _upload_limits(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Raise the request size limit for the views that take a file (CSV import).

    This runs before any before_request function, so before the CSRF check reads the form.
    """
    view = current_app.view_functions.get(endpoint or "")
    limit = getattr(view, "max_upload", None)
    if limit:
        request.max_content_length = limit
        request.max_form_memory_size = limit


from forms.console import (  # noqa: E402 - the views register themselves on bp and funder_bp
    activities,
    audit,
    contacts,
    exports,
    funder,
    home,
    hubs,
    imports,
    links,
    organisations,
    outbox,
    reports,
    rounds,
    selfeval,
    status,
    surveys,
    telegram,
    volunteers,
)

__all__ = [
    "activities",
    "audit",
    "bp",
    "contacts",
    "exports",
    "funder",
    "funder_bp",
    "home",
    "hubs",
    "imports",
    "links",
    "organisations",
    "outbox",
    "reports",
    "rounds",
    "selfeval",
    "status",
    "surveys",
    "telegram",
    "volunteers",
]
