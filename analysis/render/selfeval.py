"""The perception-gap report (analysis.selfeval) as a chart, HTML (page fragment or standalone
document), PDF and workbook, and the action plan as a workbook sheet.

Small numbers stay counts: a side of fewer than 5 shows its ratings as "2 good to best
practice, 1 meets minimum standards", never as percentages. Text people typed (evidence,
comments, actions) is data everywhere: escaped in HTML, never a formula in the workbook, with
control characters made visible where a format cannot hold them.
"""

from __future__ import annotations

import base64
import functools
import io
import textwrap
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from analysis.render.html import GOVUK, PLAIN, report_css
from analysis.render.html import TEMPLATES as REPORT_TEMPLATES
from analysis.render.pdf import pdf_from_html
from analysis.selfeval import ActionRow, GapReport, QuestionGap, SideRating
from collector.localtime import long_date
from collector.selfeval import CHOICES, DONT_KNOW, LA, LEVELS, MODES, SIDES, VCS
from collector.spreadsheets import FORMULA_STARTS, visible_controls

__all__ = [
    "action_plan_xlsx",
    "gap_chart",
    "gap_html",
    "gap_pdf",
    "gap_xlsx",
    "level_text",
    "ratings_text",
]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "selfeval"
DASH = "–"
# Okabe-Ito blue and orange; the sector's bars are hatched too, so they read in greyscale.
COLOURS = {LA: ("#0072B2", ""), VCS: ("#E69F00", "//")}
SHORT = {"good": "good", "minimum": "minimum", "improve": "needs improvement"}


def ratings_text(rating: SideRating) -> str:
    """Say how a side rated a question: counts when few answered, else percentages."""
    if not rating.answered:
        return "No ratings"
    parts = []
    for value, label in CHOICES.items():
        count = rating.counts.get(value, 0)
        if not count:
            continue
        if rating.small:
            parts.append(f"{count} {label.lower()}")
        else:
            parts.append(f"{count / rating.answered:.0%} {label.lower()}")
    text = ", ".join(parts)
    return text if rating.small else f"{text} (of {rating.answered})"


def level_text(rating: SideRating) -> str:
    """Say a side's level: its agreed one, else its modal level(s), else a dash."""
    if rating.agreed is not None:
        return f"{CHOICES[rating.agreed.level]} (agreed)"
    if rating.modal:
        return " / ".join(LEVELS[level] for level in rating.modal)
    return DASH


def number(value: float | None, signed: bool = False) -> str:
    """Show a score or change to one decimal place; a dash when missing."""
    if value is None:
        return DASH
    if signed:
        return f"{value:+.1f}".replace("-", "−") if round(value, 1) != 0 else "0.0"
    return f"{value:.1f}"


def share(value: float | None) -> str:
    """Show a share as a whole percentage, or a dash."""
    return DASH if value is None else f"{value:.0%}"


def gap_words(question: QuestionGap) -> str:
    """Say which side rates the question higher."""
    gap = question.gap
    if gap is None:
        return "Not both sides rated it"
    if abs(gap) < 0.05:
        return "Both sides agree"
    who = SIDES[LA] if gap > 0 else "The sector"
    return f"{who} rates it higher by {abs(gap):.1f}"


def dont_know_text(rating: SideRating) -> str:
    """Say a side's don't-know answers: a count when few answered, else a share."""
    if not rating.answered:
        return DASH
    if rating.small:
        return f"{rating.dont_know} of {rating.answered}"
    return share(rating.dont_know_share)


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def gap_chart(report: GapReport) -> bytes:
    """Draw each side's rating of each question side by side (1-3), as a PNG."""
    # The chart depends on the scores alone; the page, the PDF and the workbook of one report
    # (and a page opened again) draw the same one, so it is drawn once.
    scores = tuple(
        (q.title, *((q.sides[side].score, q.sides[side].agreed is not None) for side in SIDES))
        for q in report.questions
    )
    return _chart(scores)


@functools.lru_cache(maxsize=32)
def _chart(scores: tuple[tuple[Any, ...], ...]) -> bytes:
    questions = [(title, {LA: la, VCS: vcs}) for title, la, vcs in scores]
    height = 1.6 + 0.42 * len(questions)
    figure = Figure(figsize=(8.0, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.36, 0.9 / height, 0.6, 1 - 1.5 / height))
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    bar = 0.38
    labelled: set[str] = set()
    for offset, side in ((-bar / 2, LA), (bar / 2, VCS)):
        colour, hatch = COLOURS[side]
        for index, (_, by_side) in enumerate(questions):
            score, agreed_rating = by_side[side]
            y = index + offset
            if score is None:
                axes.text(0.05, y, "no rating", va="center", fontsize=7, color="#505a5f")
                continue
            axes.barh(
                y,
                score,
                height=bar,
                color=colour,
                hatch=hatch,
                edgecolor="#0B0C0C",
                linewidth=0.4,
                label=None if side in labelled else SIDES[side],
            )
            labelled.add(side)
            agreed = " (agreed)" if agreed_rating else ""
            axes.text(score + 0.04, y, f"{score:.1f}{agreed}", va="center", fontsize=7)
    axes.set_yticks(
        range(len(questions)),
        ["\n".join(textwrap.wrap(title, 34)) for title, _ in questions],
        fontsize=8,
    )
    axes.invert_yaxis()
    axes.set_xlim(0, 3.6)
    axes.set_xticks([1, 2, 3], ["1 Needs\nimprovement", "2 Minimum\nstandards", "3 Good to\nbest"])
    axes.tick_params(axis="x", labelsize=7)
    axes.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    axes.set_axisbelow(True)
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        axes.legend(
            handles,
            labels,
            loc="lower right",
            fontsize=7,
            frameon=False,
            bbox_to_anchor=(1.0, 1.0),
            ncols=2,
        )
    figure.text(
        0.02, 1 - 0.35 / height, "Each side's rating of each question", fontsize=11, weight="bold"
    )
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, metadata={"Software": None})
    return out.getvalue()


def chart_alt(report: GapReport) -> str:
    """Say what the chart shows, for a screen reader."""
    parts = []
    for question in report.questions:
        la, vcs = question.sides[LA].score, question.sides[VCS].score
        parts.append(f"{question.title}: local authority {number(la)}, sector {number(vcs)}")
    return "Paired bar chart of each side's rating from 1 to 3: " + "; ".join(parts) + "."


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES, REPORT_TEMPLATES]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        ratings=ratings_text,
        level=level_text,
        number=number,
        share=share,
        gap_words=gap_words,
        dont_know=dont_know_text,
        long_date=long_date,
        day=lambda d: f"{d:%-d %b %Y}" if d else DASH,
    )
    env.globals.update(SIDES=SIDES, LA=LA, VCS=VCS, MODES=MODES, DONT_KNOW=DONT_KNOW)
    return env


def gap_html(report: GapReport, *, standalone: bool = True) -> str:
    """Render the report as a whole HTML document (standalone) or a fragment for the site."""
    env = _environment()
    body = env.get_template("body.html").render(
        report=report,
        c=PLAIN if standalone else GOVUK,
        standalone=standalone,
        chart=_png_uri(gap_chart(report)),
        chart_alt=chart_alt(report),
    )
    if not standalone:
        return body
    return env.get_template("document.html").render(
        title=report.title,
        css=markupsafe.Markup(report_css()),
        body=markupsafe.Markup(body),
    )


def gap_pdf(report: GapReport) -> bytes:
    """Render the report as an A4 PDF from its standalone HTML."""
    return pdf_from_html(gap_html(report, standalone=True))


def _text(value: Any) -> Any:
    return visible_controls(value) if isinstance(value, str) else value


def _sheet(book: Workbook, name: str, title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Write one sheet: a title, a header row and data; typed text never becomes a formula."""
    sheet = book.create_sheet(name)
    sheet.cell(row=1, column=1, value=_text(title)).font = Font(bold=True, size=13)
    for col, text in enumerate(header, start=1):
        cell = sheet.cell(row=3, column=col, value=text)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(col)].width = 40 if col == 1 else 16
    for r, values in enumerate(rows, start=4):
        for col, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=col, value=_text(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"
                if cell.value.startswith(FORMULA_STARTS):
                    cell.quotePrefix = True
    sheet.freeze_panes = "A4"


def _action_rows(actions: tuple[ActionRow, ...], title_of: dict[str, str]) -> list[list[Any]]:
    return [
        [
            title_of.get(a.question_id, a.question_id),
            a.text,
            a.owner,
            a.due_on,
            a.status_label,
            a.review_on,
            "Overdue" if a.overdue else "",
        ]
        for a in actions
    ]


ACTION_HEADER = ["Question", "Action", "Owner", "Due", "Status", "Review", "Overdue"]


def _add_action_plan(book: Workbook, report: GapReport) -> None:
    titles = {q.question_id: q.title for q in report.questions}
    _sheet(
        book,
        "Action plan",
        f"{report.title}: action plan",
        ACTION_HEADER,
        _action_rows(report.actions, titles),
    )
    for column in ("D", "F"):
        for cell in book["Action plan"][column][3:]:
            cell.number_format = "yyyy-mm-dd"


def gap_xlsx(report: GapReport) -> bytes:
    """Render the report as a workbook: the gap per question, by heading, the ratings as
    counts, the chart, and the action plan."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    side_names = [SIDES[LA], SIDES[VCS]]
    gap_rows = []
    for q in report.questions:
        la, vcs = q.sides[LA], q.sides[VCS]
        gap_rows.append(
            [
                q.title,
                selfeval_heading(q),
                level_text(la),
                la.score,
                level_text(vcs),
                vcs.score,
                q.gap,
                dont_know_text(la),
                dont_know_text(vcs),
                ", ".join(SIDES[s] for s in q.prioritised_by),
                q.change(LA),
                q.change(VCS),
            ]
        )
    _sheet(
        book,
        "Perception gap",
        f"{report.title}. Scores 1-3; gap = local authority minus sector.",
        [
            "Question",
            "Heading",
            f"{side_names[0]}: level",
            f"{side_names[0]}: score",
            f"{side_names[1]}: level",
            f"{side_names[1]}: score",
            "Gap",
            f"{side_names[0]}: don't know",
            f"{side_names[1]}: don't know",
            "Prioritised by",
            f"Change since {report.previous_period or 'last'}: local authority",
            f"Change since {report.previous_period or 'last'}: sector",
        ],
        gap_rows,
    )
    _sheet(
        book,
        "By heading",
        f"{report.title}: the overall picture by heading",
        [
            "Heading",
            f"{side_names[0]}: mean",
            f"{side_names[1]}: mean",
            "Gap",
            f"{side_names[0]}: don't know",
            f"{side_names[1]}: don't know",
        ],
        [
            [
                h.title,
                h.scores[LA],
                h.scores[VCS],
                h.gap,
                share(h.dont_know_share[LA]),
                share(h.dont_know_share[VCS]),
            ]
            for h in report.headings
        ],
    )
    count_rows = []
    for q in report.questions:
        for side in SIDES:
            rating = q.sides[side]
            agreed = rating.agreed
            count_rows.append(
                [
                    q.title,
                    SIDES[side],
                    *(rating.counts.get(v, 0) for v in CHOICES),
                    rating.prioritised,
                    CHOICES[agreed.level] if agreed else "",
                    (agreed.evidence or "") if agreed else "",
                ]
            )
    _sheet(
        book,
        "Ratings",
        f"{report.title}: how many chose each level (counts), and agreed ratings",
        [
            "Question",
            "Side",
            *CHOICES.values(),
            "Prioritised (members)",
            "Agreed level",
            "Agreed evidence",
        ],
        count_rows,
    )
    _add_action_plan(book, report)
    if report.previous_period is not None:
        titles = {q.question_id: q.title for q in report.questions}
        previous = tuple(a for q in report.questions for a in q.previous_actions)
        _sheet(
            book,
            "Previous actions",
            f"The actions planned after {report.previous_period}",
            ACTION_HEADER,
            _action_rows(previous, titles),
        )
    from openpyxl.drawing.image import Image

    chart_sheet = book.create_sheet("Chart")
    chart_sheet.cell(row=1, column=1, value=_text(report.title)).font = Font(bold=True, size=13)
    chart_sheet.add_image(Image(io.BytesIO(gap_chart(report))), "A3")
    book.properties.title = _text(report.title)
    book.properties.creator = "tempcheck"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def action_plan_xlsx(report: GapReport) -> bytes:
    """Render the action plan alone as a workbook."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    _add_action_plan(book, report)
    book.properties.title = _text(f"{report.title}: action plan")
    book.properties.creator = "tempcheck"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def selfeval_heading(question: QuestionGap) -> str:
    """Give the title of a question's heading."""
    from collector.selfeval import HEADINGS

    return HEADINGS[question.heading]
