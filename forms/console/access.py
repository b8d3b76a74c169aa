"""Who may open which console and funder page: one decorator per kind of page.

Every view under /console and /funder carries one of these (the role-by-route test fails for
a view without one). Each decorator marks the view with its kind in `view.access`.

- Anonymous visitors are sent to sign in, and come back afterwards.
- A provider an account may not see is "not found" (404): its existence is not revealed.
- A provider an account may see but not change (a funder's, on a staff page) is 403.
- A published report is read by everyone who may see its provider: its staff, its funders
  and admins (`reader_required`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, g
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from collector import db, models, users
from forms import services
from forms.auth import Account, redirect_to_sign_in, signed_in

View = Callable[..., ResponseReturnValue]


@dataclass(frozen=True)
class ProviderRef:
    """The provider a page is about, as plain values (no session behind it)."""

    id: int
    slug: str
    name: str


def _provider(slug: str) -> ProviderRef | None:
    with db.transaction(services(current_app).readers) as reader:
        row = reader.execute(
            select(models.Provider.id, models.Provider.slug, models.Provider.name).where(
                models.Provider.slug == slug
            )
        ).first()
    return ProviderRef(*row) if row is not None else None


def _mark(kind: str, guarded: View) -> View:
    guarded.access = kind  # type: ignore[attr-defined]
    return guarded


def signed_in_required(view: View) -> View:
    """Let in anyone signed in; the view decides where each role goes."""

    @functools.wraps(view)
    def guarded(**kwargs: Any) -> ResponseReturnValue:
        account = signed_in()
        if account is None:
            return redirect_to_sign_in()
        g.account = account
        return view(account, **kwargs)

    return _mark("signed_in", guarded)


def admin_required(view: View) -> View:
    """Let in admins only; anyone else signed in is refused (403)."""

    @functools.wraps(view)
    def guarded(**kwargs: Any) -> ResponseReturnValue:
        account = signed_in()
        if account is None:
            return redirect_to_sign_in()
        if not account.is_admin:
            abort(403)
        g.account = account
        return view(account, **kwargs)

    return _mark("admin", guarded)


def _guard_provider(kind: str, allowed: Callable[[Account, ProviderRef], bool], view: View) -> View:
    @functools.wraps(view)
    def guarded(provider_slug: str, **kwargs: Any) -> ResponseReturnValue:
        account = signed_in()
        if account is None:
            return redirect_to_sign_in()
        provider = _provider(provider_slug)
        if provider is None or not users.can_see(account.user, provider.id):
            abort(404)
        if not allowed(account, provider):
            abort(403)
        g.account, g.provider = account, provider
        return view(provider, **kwargs)

    return _mark(kind, guarded)


def staff_required(view: View) -> View:
    """Let in the provider's staff and admins, for `/console/<provider_slug>/...` pages.

    The view is called with the provider (a `ProviderRef`) instead of its slug.
    """
    return _guard_provider("staff", lambda a, p: users.can_run(a.user, p.id), view)


def funder_required(view: View) -> View:
    """Let in the provider's funders and admins, for `/funder/<provider_slug>` pages."""
    return _guard_provider(
        "funder", lambda a, p: a.role in ("admin", "funder") and users.can_see(a.user, p.id), view
    )


def reader_required(view: View) -> View:
    """Let in everyone who may see the provider: its staff, funders and admins (read-only pages)."""
    return _guard_provider("reader", lambda a, p: True, view)
