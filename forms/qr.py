"""QR codes on pages: an address drawn as an SVG data URI (the pages' CSP allows data: images),
so a phone's camera opens it and no route serves the picture."""

from __future__ import annotations

import segno


def qr_image(url: str) -> str:
    """Give a QR code of `url` as an SVG data URI."""
    return str(segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#0b0c0c"))
