"""A round's raw responses to download (CSV, XLSX or Parquet), for staff and admins only.

Funders never download raw responses: the route is staff-only (a funder is refused), so free
text and the groups' names never reach them. The file is written to a temporary file that
spills to disk past a few megabytes (memory stays flat however large the round), then sent;
each download is audited (the round, the format and the number of rows, never the answers).
"""

from __future__ import annotations

import io
from tempfile import SpooledTemporaryFile
from typing import IO

from flask import flash, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from collector import audit, exports, models
from forms.console import bp
from forms.console.access import ProviderRef, staff_required
from forms.console.pages import owned, reading, writing

IN_MEMORY = 8 * 1024 * 1024  # bytes of an export kept in memory before it goes to disk
FORMAT_NAMES = {"csv": "CSV", "xlsx": "Excel workbook (XLSX)", "parquet": "Parquet"}


@bp.get("/<provider_slug>/rounds/<int:round_id>/responses")
@staff_required
def round_responses(provider: ProviderRef, round_id: int) -> ResponseReturnValue:
    """Give a round's responses as a file: ?format=csv|xlsx|parquet, &values=codes for choice
    codes instead of labels, &in_progress=yes to include responses not yet submitted."""
    format_ = request.args.get("format", "csv")
    if format_ not in exports.FORMATS:
        flash("Responses download as CSV, Excel workbook or Parquet: choose one of those.")
        return redirect(
            url_for("console.round", provider_slug=provider.slug, round_id=round_id)
            + "#responses"
        )
    options = exports.Options(
        labels=request.args.get("values") != "codes",
        in_progress=request.args.get("in_progress") == "yes",
        free_text=True,
    )
    out = SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - send_file closes it
    try:
        with reading() as session:
            found = owned(session, models.Round, round_id, provider.id)
            written = exports.write(exports.Export(session, found, options), format_, out)
            name = exports.file_name(found, format_)
    except BaseException:
        out.close()  # another provider's round (not found), or the export failed
        raise
    with writing() as session:
        audit.record(
            session,
            "responses.export",
            user=current_user.user,
            provider_id=provider.id,
            subject=f"round {round_id}",
            details={
                "format": format_,
                "rows": written,
                "labels": options.labels,
                "in_progress": options.in_progress,
                "free_text": options.free_text,
            },
        )
    size = out.tell()
    out.seek(0)
    body: IO[bytes] | io.BytesIO = out
    if size <= IN_MEMORY:  # still in memory: send its bytes, and close it now
        body = io.BytesIO(out.read())
        out.close()
    response = send_file(
        body, mimetype=exports.MEDIA_TYPES[format_], as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "no-store"
    return response
