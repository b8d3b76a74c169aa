"""The audit log, for admins: who did what to which provider's data, newest first."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from collector import audit, models
from forms.auth import Account
from forms.console import bp
from forms.console.access import admin_required
from forms.console.pages import reading, render

SHOWN = 200


@bp.get("/audit", endpoint="audit")
@admin_required
def audit_page(account: Account) -> ResponseReturnValue:
    """Show the newest events, optionally only one provider's."""
    with reading() as session:
        providers = {
            p.id: p for p in session.scalars(select(models.Provider).order_by(models.Provider.name))
        }
        chosen = next(
            (p for p in providers.values() if p.slug == request.args.get("provider")), None
        )
        events = audit.recent(session, limit=SHOWN, provider_id=chosen.id if chosen else None)
    return render(
        "console/audit.html",
        section="audit",
        provider=None,
        events=events,
        providers=providers,
        chosen=chosen,
        shown=SHOWN,
    )
