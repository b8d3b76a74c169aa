"""Front-end assets: GOV.UK Frontend from node_modules, our CSS built without GDS Transport."""

from __future__ import annotations

import gzip
import os
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


def test_the_stylesheet_goes_gzipped_to_a_client_that_accepts_gzip(app: Flask) -> None:
    client = app.test_client()
    with client.get("/assets/tempcheck.css") as plain:
        css = plain.get_data()
    with client.get(
        "/assets/tempcheck.css", headers={"Accept-Encoding": "gzip, deflate, br"}
    ) as page:
        assert page.status_code == 200
        assert page.headers["Content-Encoding"] == "gzip"
        assert page.mimetype == "text/css"
        assert "Accept-Encoding" in page.headers["Vary"]
        assert page.headers["Cache-Control"] == "public, max-age=3600"
        assert page.headers["Last-Modified"]
        body = page.get_data()
        etag = page.headers["ETag"]
    assert gzip.decompress(body) == css
    assert int(page.headers["Content-Length"]) == len(body) < len(css) / 5
    # Its own ETag, not the plain file's; asked again with it, the browser's copy is still good.
    with client.get("/assets/tempcheck.css") as plain:
        assert plain.headers["ETag"] != etag
    with client.get(
        "/assets/tempcheck.css", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    ) as again:
        assert again.status_code == 304
        assert again.get_data() == b""


@pytest.mark.parametrize("accepts", [None, "identity", "gzip;q=0", "br"])
def test_the_stylesheet_goes_plain_to_a_client_that_does_not_accept_gzip(
    app: Flask, accepts: str | None
) -> None:
    headers = {"Accept-Encoding": accepts} if accepts else {}
    with app.test_client().get("/assets/tempcheck.css", headers=headers) as page:
        assert page.status_code == 200
        assert "Content-Encoding" not in page.headers
        assert "Accept-Encoding" in page.headers["Vary"]
        assert ".govuk-radios__input" in page.get_data(as_text=True)


def test_javascript_goes_gzipped_and_the_favicon_too(app: Flask) -> None:
    client = app.test_client()
    for name in ("govuk-frontend.min.js", "tempcheck.js", "console.js", "favicon.svg"):
        with client.get(f"/assets/{name}", headers={"Accept-Encoding": "gzip"}) as page:
            assert page.status_code == 200, name
            assert page.headers["Content-Encoding"] == "gzip", name
            assert gzip.decompress(page.get_data()), name


def test_a_rebuilt_stylesheet_is_compressed_again(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(assets.FILES, "tempcheck.css", tmp_path)
    css = tmp_path / "tempcheck.css"
    client = app.test_client()
    for n, rule in enumerate([".a{color:red}", ".b{color:blue}{}"]):
        css.write_text(rule)
        os.utime(css, (1_000_000 + n, 1_000_000 + n))
        with client.get("/assets/tempcheck.css", headers={"Accept-Encoding": "gzip"}) as page:
            assert gzip.decompress(page.get_data()).decode() == rule
