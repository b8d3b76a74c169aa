"""Answering in a terminal: a third channel over the same engine as the web and Telegram."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, models
from collector.errors import CollectorError

HELP = "b = back, Enter = skip an optional question, q = stop (your answers are kept)"


class TerminalChannel:
    """Show each view as text and pass what is typed back to the flow, one transaction a step."""

    def __init__(self, sessions: sessionmaker[Session], response_id: int) -> None:
        self.sessions = sessions
        self.response_id = response_id

    def run(self) -> None:
        """Ask questions until the response is submitted or the person stops."""
        click.echo(HELP)
        refused: flow.View | None = None
        while True:
            if refused is not None:
                view, refused = refused, None  # the same question, with why it was not taken
            else:
                with db.transaction(self.sessions) as session:
                    view = flow.view(session, self._response(session))
            if isinstance(view, flow.DoneView):
                click.secho("\nThank you: your answers have been submitted.", fg="green", bold=True)
                return
            try:
                typed = click.prompt(
                    self._render(view), default="", show_default=False, prompt_suffix=" "
                )
            except (click.Abort, EOFError):
                click.echo("\nStopped. Your answers are saved: run the same command to carry on.")
                return
            typed = typed.strip()
            if typed.lower() == "q":
                click.echo("Stopped. Your answers are saved: run the same command to carry on.")
                return
            try:
                with db.transaction(self.sessions) as session:
                    after = self._act(session, view, typed)
            except CollectorError as error:
                click.secho(error.message, fg="yellow")
                continue
            if isinstance(after, flow.QuestionView) and after.error:
                refused = after

    def _response(self, session: Session) -> models.Response:
        response = session.get(models.Response, self.response_id)
        assert response is not None
        return response

    def _act(self, session: Session, view: flow.View, typed: str) -> flow.View | None:
        """Do what was typed; give the view it led to (with an error if the answer was refused)."""
        response = self._response(session)
        if typed.lower() == "b":
            return flow.back(session, response)
        if isinstance(view, flow.ReviewView):
            if typed == "":
                return flow.complete(session, response, channel="terminal")
            if typed.isdigit() and 1 <= int(typed) <= len(view.items):
                return flow.change(session, response, view.items[int(typed) - 1].question_id)
            click.secho(
                "Press Enter to submit, or type the number of an answer to change it.",
                fg="yellow",
            )
            return None
        if isinstance(view, flow.QuestionView):
            return flow.answer(
                session, response, view.question_id, _raw(view, typed), channel="terminal"
            )
        return None

    @staticmethod
    def _render(view: flow.View) -> str:
        lines: list[str] = [""]
        if isinstance(view, flow.ReviewView):
            lines.append(click.style("Check your answers", bold=True))
            for n, item in enumerate(view.items, 1):
                lines.append(f"  {n:>2}. {item.label}")
                lines.append(f"      {item.answer}")
            lines.append("Enter = submit, a number = change that answer, b = back")
            return "\n".join(lines)
        assert isinstance(view, flow.QuestionView)
        if view.type != "note":
            lines.append(click.style(view.progress, dim=True))
        lines.append(click.style(view.label, bold=True))
        if view.hint:
            lines.append(click.style(view.hint, dim=True))
        for n, choice in enumerate(view.choices, 1):
            mark = " *" if choice.selected else ""
            lines.append(f"  {n}. {choice.label}{mark}")
        if view.error:
            lines.append(click.style(f"! {view.error}", fg="red"))
        if view.type == "note":
            lines.append("(Enter to continue)")
        elif view.type == "multiple":
            lines.append("Type the numbers of all that apply, separated by commas")
        elif view.choices:
            lines.append("Type the number of your answer")
        if view.value is not None and view.type not in ("single", "scale", "multiple"):
            lines.append(f"(your answer so far: {view.value}; Enter keeps it)")
        if not view.required and view.type != "note":
            lines.append("(optional: Enter to skip)")
        return "\n".join(lines) + "\n>"


def _raw(view: flow.QuestionView, typed: str) -> str | list[str] | None:
    """Turn what was typed into the raw input the flow expects: choice values for numbers."""
    if view.type == "note":
        return None
    if typed == "" and view.value is not None:
        # Enter keeps the answer already given (as a browser would show it pre-filled).
        return view.value.split() if view.type == "multiple" else view.value
    if not view.choices:
        return typed or None
    parts = [p.strip() for p in typed.replace(";", ",").split(",") if p.strip()]
    values = []
    for part in parts:
        if part.isdigit() and 1 <= int(part) <= len(view.choices):
            values.append(view.choices[int(part) - 1].value)
        else:
            values.append(part)  # let the engine say it is not one of the options
    if view.type == "multiple":
        return values
    return values[0] if len(values) == 1 else (typed or None)
