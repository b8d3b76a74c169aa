"""Pictures of the rendered report, saved in artifacts/screenshots/ to be looked at: the PDF's
pages through pdftoppm, and the standalone HTML in Chromium (screen and print media, desktop
and phone widths), with every request the page tries refused and counted."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Route, sync_playwright

from analysis.render.html import report_html
from analysis.render.pdf import report_pdf
from tests.analysis.samples import essex_report, leicestershire_report

SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def test_the_pdf_renders_to_a4_pages(screenshots: Path, tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm is not None, "pdftoppm is missing: `make system-deps` installs poppler-utils"
    for name, report in (("essex", essex_report()), ("val", leicestershire_report())):
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(report_pdf(report))
        for old in screenshots.glob(f"report-pdf-{name}-*.png"):
            old.unlink()
        subprocess.run([pdftoppm, "-r", "60", "-png", str(pdf),
                        str(screenshots / f"report-pdf-{name}")], check=True, timeout=120)
        pages = sorted(screenshots.glob(f"report-pdf-{name}-*.png"))
        assert len(pages) >= 5, pages  # summary, a page per KPI, breakdowns, rates, definitions
        with Image.open(pages[0]) as first:
            width, height = first.size
        # A4 (210 x 297 mm) at 60 dpi: about 496 x 702 pixels.
        assert abs(width - 496) <= 1 and abs(height - 702) <= 1, (width, height)


@pytest.mark.e2e
def test_the_standalone_page_in_chromium(screenshots: Path) -> None:
    html = report_html(essex_report())
    refused: list[str] = []

    def refuse(route: Route) -> None:
        refused.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1280, "height": 900}),
                                   ("phone", {"width": 390, "height": 844})):
                page = browser.new_page(viewport=viewport)
                page.route("http*://**/*", refuse)
                page.set_content(html, wait_until="load")
                assert page.title().startswith("Harlow Cvs: Essex CVS infrastructure support")
                # Every chart loaded (from its data: URI) and fits the page.
                sizes = page.eval_on_selector_all(
                    "img",
                    "imgs => imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().right])",
                )
                assert sizes and all(w == 800 and right <= viewport["width"] for w, right in sizes)
                page.screenshot(path=str(screenshots / f"report-html-{name}.png"), full_page=True)
                if name == "desktop":
                    page.emulate_media(media="print")
                    page.screenshot(path=str(screenshots / "report-html-print.png"),
                                    full_page=True)
                page.close()
        finally:
            browser.close()
    assert refused == []
