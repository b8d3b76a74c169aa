"""The console's front door: admins choose a provider, staff go to theirs, funders to theirs."""

from __future__ import annotations

from flask import redirect, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from collector import models
from forms.auth import Account
from forms.console import bp
from forms.console.access import ProviderRef, signed_in_required, staff_required
from forms.console.pages import reading, render


@bp.get("/")
@signed_in_required
def index(account: Account) -> ResponseReturnValue:
    """Send staff to their provider and funders to the funder pages; list providers for admins."""
    if account.role == "staff" and account.user.provider is not None:
        return redirect(url_for("console.rounds", provider_slug=account.user.provider.slug), 303)
    if account.role != "admin":
        return redirect(url_for("funder.index"), 303)
    org, round_ = models.Organisation, models.Round
    with reading() as session:
        organisations = dict(
            session.execute(
                select(org.provider_id, func.count(org.id)).group_by(org.provider_id)
            ).all()
        )
        open_rounds = dict(
            session.execute(
                select(round_.provider_id, func.count(round_.id))
                .where(round_.status == "open")
                .group_by(round_.provider_id)
            ).all()
        )
        providers = [
            (p, organisations.get(p.id, 0), open_rounds.get(p.id, 0))
            for p in session.scalars(select(models.Provider).order_by(models.Provider.name))
        ]
    return render("console/index.html", section="providers", providers=providers)


@bp.get("/<provider_slug>/")
@staff_required
def provider_home(provider: ProviderRef) -> ResponseReturnValue:
    """Open a provider's console at its rounds."""
    return redirect(url_for("console.rounds", provider_slug=provider.slug), 303)
