"""Charts: valid PNGs of the expected size, status shown by colour and by pattern and word,
no bar for a hidden result, the same bytes however many threads draw them."""

from __future__ import annotations

import dataclasses
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from analysis.kpis.targets import Status
from analysis.model import KpiReport
from analysis.render.charts import PALETTE, kpi_chart, locality_chart, trend_chart
from tests.analysis.samples import essex_report, leicestershire_report

PNG = b"\x89PNG\r\n\x1a\n"


def image(data: bytes) -> Image.Image:
    assert data.startswith(PNG)
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture.convert("RGB")


def colours(data: bytes) -> set[tuple[int, int, int]]:
    return {c for _, c in image(data).getcolors(maxcolors=1 << 20) or []}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def with_status(report: KpiReport, kpi_id: str, status: Status) -> KpiReport:
    results = tuple(
        dataclasses.replace(r, overall=dataclasses.replace(r.overall, status=status))
        if r.kpi.id == kpi_id
        else r
        for r in report.results
    )
    return dataclasses.replace(report, results=results)


def test_every_chart_is_a_small_png() -> None:
    for report in (essex_report(), leicestershire_report()):
        for result in report.results:
            chart = image(kpi_chart(result, report))
            assert chart.width == 800 and 300 <= chart.height <= 600, chart.size
            trend = trend_chart(result, report)
            if trend is not None:
                assert image(trend).size == (800, 400)
    essex = essex_report()
    assert trend_chart(essex.result("ix"), essex) is not None
    assert trend_chart(essex.result("x"), essex) is None  # a count has no change to draw
    locality = locality_chart(essex)
    assert locality is not None and image(locality).width == 800


def test_the_status_is_drawn_in_its_own_colour_and_pattern() -> None:
    report = essex_report()
    green = kpi_chart(report.result("ix"), report)
    amber_report = with_status(report, "ix", Status.AMBER)
    amber = kpi_chart(amber_report.result("ix"), amber_report)
    assert green != amber
    assert rgb(PALETTE[Status.GREEN][0]) in colours(green)
    assert rgb(PALETTE[Status.AMBER][0]) not in colours(green)
    assert rgb(PALETTE[Status.AMBER][0]) in colours(amber)
    # Amber and red are hatched, so they differ in greyscale too (green is solid).
    assert PALETTE[Status.GREEN][1] != PALETTE[Status.AMBER][1] != PALETTE[Status.RED][1]
    red = kpi_chart(report.result("x"), report)
    assert rgb(PALETTE[Status.RED][0]) in colours(red)


def test_a_hidden_result_has_no_bar() -> None:
    report = leicestershire_report()
    hidden = kpi_chart(report.result("VAL 19"), report)
    palette = {rgb(colour) for colour, _ in PALETTE.values()}
    assert not palette & colours(hidden)
    shown = kpi_chart(report.result("VAL 20"), report)
    assert palette & colours(shown)


def test_charts_drawn_in_threads_are_the_same_as_one_by_one() -> None:
    report = essex_report()
    one_by_one = [kpi_chart(r, report) for r in report.results] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda r: kpi_chart(r, report), list(report.results) * 3))
    assert together == one_by_one


def test_the_trend_chart_gives_its_plot_the_height_below_the_title(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The plot spans from above the bars' labels down to the periods' names, whatever the
    # results: a low result once squashed it into a strip at the bottom of the picture.
    from matplotlib.figure import Figure

    from analysis.render import charts

    drawn: list[Figure] = []
    real_png = charts._png
    monkeypatch.setattr(charts, "_png", lambda figure: drawn.append(figure) or real_png(figure))
    report = essex_report()
    result = report.result("ix")
    assert result is not None and result.change is not None
    low = dataclasses.replace(result.overall, proportion=0.2, low=0.12, high=0.3)
    assert trend_chart(dataclasses.replace(result, overall=low), report) is not None
    [figure] = drawn
    [axes] = figure.axes
    box = axes.get_position()
    assert box.y1 > 0.7 and box.height > 0.5, box
