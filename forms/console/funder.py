"""The funder pages: the providers a funder funds, and each one's published reports, rounds
and response rates.

Read only, and only totals: no organisation names and no answers. The reports themselves
(`reports.snapshot_page`) are the snapshots as published, with their small cells suppressed.
"""

from __future__ import annotations

from flask import redirect, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from collector import hubs, models, users
from forms.auth import Account
from forms.console import funder_bp
from forms.console.access import ProviderRef, funder_required, signed_in_required
from forms.console.pages import reading, render
from forms.console.reports import replaced, snapshots_of
from forms.console.rounds import response_counts
from forms.console.selfeval import published_of


@funder_bp.get("/")
@signed_in_required
def index(account: Account) -> ResponseReturnValue:
    """List the providers this funder funds (every provider, for an admin)."""
    if account.role == "staff":
        return redirect(url_for("console.index"), 303)
    with reading() as session:
        ids = users.visible_provider_ids(session, account.user)
        providers = session.scalars(
            select(models.Provider)
            .where(models.Provider.id.in_(ids))
            .order_by(models.Provider.name)
        ).all()
    return render("funder/index.html", area="funder", provider=None, providers=providers)


@funder_bp.get("/<provider_slug>")
@funder_required
def provider(provider: ProviderRef) -> ResponseReturnValue:
    """Show a funded provider's published reports, newest first, and its rounds and rates."""
    with reading() as session:
        found = session.scalars(
            select(models.Round)
            .where(models.Round.provider_id == provider.id, models.Round.status != "draft")
            .order_by(models.Round.opens_at.desc(), models.Round.id.desc())
        ).all()
        rows = [(r, r.survey.title) for r in found]
        rates = response_counts(session, provider.id)
        reports = snapshots_of(session, provider.id)
        hub_count = len(hubs.hubs_of(session, provider.id))
        self_evaluations = published_of(session, provider.id)
        page = render(
            "funder/provider.html",
            area="funder",
            rows=rows,
            rates=rates,
            reports=reports,
            replaced=replaced(reports),
            hub_count=hub_count,
            self_evaluations=self_evaluations,
        )
    return page
