"""Front-end assets: GOV.UK Frontend from node_modules, our CSS built without GDS Transport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from collector.config import Settings
from forms import assets, create_app, services


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """Give the app; serving assets never touches the database."""
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", secret_key="a" * 32)
    )
    yield app
    services(app).engine.dispose()


def test_the_assets_are_built(app: Flask) -> None:
    assert assets.missing() == [], "run `make install` (npm ci, then the Sass build)"


def test_the_stylesheet_is_govuk_frontend_without_gds_transport_or_the_crown(app: Flask) -> None:
    with app.test_client().get("/assets/tempcheck.css") as page:
        assert page.status_code == 200
        assert page.mimetype == "text/css"
        css = page.get_data(as_text=True)
    assert ".govuk-radios__input" in css
    assert "GDS Transport" not in css
    assert "@font-face" not in css
    assert "font-family:arial,sans-serif" in css


def test_govuk_frontend_javascript_and_ours_are_served_as_modules(app: Flask) -> None:
    client = app.test_client()
    with client.get("/assets/govuk-frontend.min.js") as govuk:
        assert govuk.status_code == 200
        assert "javascript" in govuk.mimetype
        assert "max-age" in govuk.headers["Cache-Control"]
    with client.get("/assets/tempcheck.js") as ours:
        assert ours.status_code == 200
        assert "javascript" in ours.mimetype
        assert "initAll" in ours.get_data(as_text=True)


@pytest.mark.parametrize(
    "name",
    [
        "fonts/bold-b542beb274-v2.woff2",
        "bold-b542beb274-v2.woff2",
        "images/govuk-crest.svg",
        "govuk-crest.svg",
        "..%2Fpackage.json",
        "manifest.json",
    ],
)
def test_govuk_fonts_images_and_anything_else_are_not_served(app: Flask, name: str) -> None:
    assert app.test_client().get(f"/assets/{name}").status_code == 404
