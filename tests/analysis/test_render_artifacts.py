"""Pictures of the rendered report, saved in artifacts/screenshots/ to be looked at: the PDF's
pages through pdftoppm, and the standalone HTML in Chromium (screen and print media, desktop
and phone widths), with every request the page tries refused and counted."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Route, sync_playwright
from pypdf import PdfReader

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


# What a provider might type into a KPI's explanation.
EMOJI_NARRATIVE = "Groups loved the evening sessions 👍🎉 ☕ ❤️ (and said so 🙂)."


@pytest.fixture(scope="module")
def emoji_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Render the essex report, with emoji in a narrative, as a PDF file (once)."""
    pdf = tmp_path_factory.mktemp("pdf") / "emoji.pdf"
    pdf.write_bytes(report_pdf(essex_report({"ix": EMOJI_NARRATIVE})))
    return pdf


def _poppler(tool: str, *args: str) -> str:
    found = shutil.which(tool)
    assert found is not None, f"{tool} is missing: `make system-deps` installs poppler-utils"
    done = subprocess.run([found, *args], check=True, timeout=60, capture_output=True, text=True)
    return done.stdout


def test_the_pdf_is_tagged_for_screen_readers_as_pdf_ua(emoji_pdf: Path) -> None:
    info = _poppler("pdfinfo", str(emoji_pdf))
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info
    assert re.search(r"^Title:\s+Harlow Cvs: Essex CVS", info, re.M), info
    reader = PdfReader(emoji_pdf)
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en-GB"
    assert bool(root["/MarkInfo"]["/Marked"])
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])
    metadata = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfuaid:part=\"1\"|<pdfuaid:part>1</pdfuaid:part>", metadata), metadata
    # The structure a screen reader follows: headings, tables with header cells, the charts
    # as figures with their descriptions.
    structure = _poppler("pdfinfo", "-struct", str(emoji_pdf))
    tags = {line.split()[0].rstrip(":") for line in structure.splitlines() if line.strip()}
    assert {"H1", "H2", "Table", "TH", "TD", "Figure", "L", "LI"} <= tags, tags
    figures = [
        node.get_object()
        for node in _struct_nodes(root["/StructTreeRoot"])
        if node.get_object().get("/S") == "/Figure"
    ]
    assert figures and all(str(figure.get("/Alt", "")).strip() for figure in figures)


def _struct_nodes(node: Any) -> Iterator[Any]:
    """Give every element of a PDF structure tree under `node`."""
    kids = node.get_object().get("/K")
    if kids is None:
        return
    for kid in kids if isinstance(kids, list) else [kids]:
        kid = kid.get_object() if hasattr(kid, "get_object") else kid
        if isinstance(kid, dict) and "/S" in kid:
            yield kid
            yield from _struct_nodes(kid)


def test_emoji_typed_in_a_narrative_are_drawn_with_an_emoji_font_in_the_pdf(
    emoji_pdf: Path, screenshots: Path
) -> None:
    # The text is all there, emoji included...
    text = " ".join(_poppler("pdftotext", str(emoji_pdf), "-").split())
    assert EMOJI_NARRATIVE in text
    # ...and drawn from a font that has them (without one, each was an empty box: a glyph the
    # body font does not have).
    fonts = _poppler("pdffonts", str(emoji_pdf))
    assert "Noto-Color-Emoji" in fonts, (
        "no emoji font in the PDF: `make pdf-deps` installs fonts-noto-color-emoji\n" + fonts
    )
    # The page with the narrative, to look at.
    pdf = str(emoji_pdf)
    page = next(
        n for n in range(1, 20)
        if "evening sessions" in _poppler("pdftotext", "-f", str(n), "-l", str(n), pdf, "-")
    )
    for old in screenshots.glob("report-pdf-emoji-*.png"):
        old.unlink()
    _poppler("pdftoppm", "-f", str(page), "-l", str(page), "-r", "100", "-png", str(emoji_pdf),
             str(screenshots / "report-pdf-emoji"))
    assert list(screenshots.glob("report-pdf-emoji-*.png"))
