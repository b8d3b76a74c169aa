"""Front-end assets under /assets: GOV.UK Frontend from node_modules, built CSS, our own files.

Nothing is copied into the repository: `make install` runs `npm ci` and builds
`build/assets/tempcheck.css` from `forms/static/tempcheck.scss` with Sass. GOV.UK's fonts
and images (the crown, the crest) are not served: tempcheck is not a GOV.UK service.

Text files go gzipped to a client that accepts gzip (the stylesheet is 144 KB, about 17 KB
gzipped: seconds on a slow phone). Each is compressed once, when first asked for, and kept
until the file changes.
"""

from __future__ import annotations

import gzip
import io
import threading
from pathlib import Path
from zlib import adler32

from flask import Blueprint, Response, abort, request, send_file, send_from_directory

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
# Worth compressing: text. (A woff2 font or a PNG is compressed already.)
TEXT = (".css", ".js", ".svg")

# The gzipped bytes of each text file, with the file's (mtime, size) they were made from.
_gzipped: dict[Path, tuple[tuple[float, int], bytes]] = {}
_gzipping = threading.Lock()

bp = Blueprint("assets", __name__, url_prefix="/assets")


@bp.get("/<name>")
def file(name: str) -> Response:
    """Serve one of the known asset files."""
    folder = FILES.get(name)
    if folder is None or not (folder / name).is_file():
        abort(404)
    if not name.endswith(TEXT):
        return send_from_directory(folder, name, max_age=CACHE_SECONDS)
    if request.accept_encodings.quality("gzip") > 0:
        response = _send_gzipped(folder / name)
    else:
        response = send_from_directory(folder, name, max_age=CACHE_SECONDS)
    # A cache keeps the two encodings apart.
    response.vary.add("Accept-Encoding")
    return response


def _send_gzipped(path: Path) -> Response:
    stat = path.stat()
    version = (stat.st_mtime, stat.st_size)
    with _gzipping:
        kept = _gzipped.get(path)
        if kept is None or kept[0] != version:
            # mtime=0: the same file always gives the same bytes (and so the same ETag).
            kept = version, gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
            _gzipped[path] = kept
    body = kept[1]
    response = send_file(
        io.BytesIO(body),
        mimetype=None,
        download_name=path.name,  # gives the content type, as for the plain file
        as_attachment=False,
        conditional=True,
        # Not the plain file's ETag: a different representation of it.
        etag=f"{stat.st_mtime}-{len(body)}-{adler32(str(path).encode()) & 0xFFFFFFFF}-gzip",
        last_modified=stat.st_mtime,
        max_age=CACHE_SECONDS,
    )
    response.headers["Content-Encoding"] = "gzip"
    return response


def missing() -> list[str]:
    """List the asset files that are not there (`make install` builds them)."""
    return [str(folder / name) for name, folder in FILES.items() if not (folder / name).is_file()]
