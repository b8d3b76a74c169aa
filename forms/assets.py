"""Front-end assets under /assets: GOV.UK Frontend from node_modules, built CSS, our own files.

Nothing is copied into the repository: `make install` runs `npm ci` and builds
`build/assets/tempcheck.css` from `forms/static/tempcheck.scss` with Sass. GOV.UK's fonts
and images (the crown, the crest) are not served: tempcheck is not a GOV.UK service.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

from forms import ROOT

GOVUK = ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
BUILT = ROOT / "build" / "assets"
OURS = Path(__file__).parent / "static"

# Each served name, and the folder it comes from.
FILES = {
    "tempcheck.css": BUILT,
    "govuk-frontend.min.js": GOVUK,
    "tempcheck.js": OURS,
    "console.js": OURS,
    "favicon.svg": OURS,
}
CACHE_SECONDS = 3600

bp = Blueprint("assets", __name__, url_prefix="/assets")


@bp.get("/<name>")
def file(name: str) -> Response:
    """Serve one of the known asset files."""
    folder = FILES.get(name)
    if folder is None or not (folder / name).is_file():
        abort(404)
    return send_from_directory(folder, name, max_age=CACHE_SECONDS)


def missing() -> list[str]:
    """List the asset files that are not there (`make install` builds them)."""
    return [str(folder / name) for name, folder in FILES.items() if not (folder / name).is_file()]
