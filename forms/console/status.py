"""The status page, for admins: is tempcheck healthy (the same checks as `tempcheck status`)."""

from __future__ import annotations

from flask import current_app
from flask.typing import ResponseReturnValue

from collector import health
from forms import services
from forms.auth import Account
from forms.console import bp
from forms.console.access import admin_required
from forms.console.pages import reading, render


@bp.get("/status", endpoint="status")
@admin_required
def status_page(account: Account) -> ResponseReturnValue:
    """Show each check (outbox, dispatcher, bot, failed sends, backup, disk): ok or warning."""
    with reading() as session:
        found = health.status(session, services(current_app).settings)
    return render("console/status.html", section="status", provider=None, health=found)
