"""The `tempcheck` command, run as a user would, against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, users
from collector.cli import main
from collector.survey.loader import library_path
from tests.conftest import demo_build


def test_init_creates_then_reports_an_up_to_date_database(run) -> None:  # noqa: ANN001
    result = run("init")
    assert result.exit_code == 0
    # The test database is already migrated by the fixture: init says so.
    assert f"up to date (schema {db.head_revision()})" in result.output


def test_init_creates_a_fresh_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"], env={"TEMPCHECK_INSTANCE": str(tmp_path / "i")})
    assert result.exit_code == 0, result.output
    assert f"upgraded from nothing to schema {db.head_revision()}" in result.output
    assert (tmp_path / "i" / "tempcheck.db").exists()


def test_a_bad_setting_stops_the_command_with_a_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init"], env={"SMTP_PORT": "lots"})
    assert result.exit_code == 1
    assert "Configuration problem: SMTP_PORT must be a whole number" in result.output
    assert "Traceback" not in result.output


def test_surveys_list_and_show(run) -> None:  # noqa: ANN001
    listed = run("surveys", "list")
    for survey_id in (
        "cvs-support",
        "volunteer-placement",
        "volunteer-host",
        "funder-satisfaction",
    ):
        assert survey_id in listed.output
    # Machine-drafted translations are marked as drafts awaiting review.
    assert "en, cy (draft), ur (draft)" in listed.output
    shown = run("surveys", "show", "cvs-support")
    assert "ease_of_access" in shown.output
    assert "only if ${used_support} = 'yes'" in shown.output
    missing = run("surveys", "show", "no-such-survey")
    assert missing.exit_code == 1 and "No built-in survey called 'no-such-survey'" in missing.output


def test_surveys_validate_accepts_the_library_and_lists_every_problem(
    run,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    good = run("surveys", "validate", str(library_path() / "cvs-support.yaml"))
    assert good.exit_code == 0 and "OK, cvs-support v2" in good.output
    assert "languages en, cy (draft), ur (draft)" in good.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\nversion: 1\ntitle: Bad\nminutes: 1\nquestions:\n"
        "  - {id: a, type: single, choices: nope, label: A}\n"
        '  - {id: b, type: text, label: B, relevant: "${a} = "}\n'
        "  - {id: a, type: text, label: C}\n"
    )
    result = run("surveys", "validate", str(bad))
    assert result.exit_code == 1
    assert "unknown choice list 'nope'" in result.output
    assert "question 'a': duplicate question id" in result.output
    assert "position" in result.output  # the bad condition's position


def test_orgs_import_is_all_or_nothing(run, tmp_path: Path, session_factory) -> None:  # noqa: ANN001
    with session_factory() as session, session.begin():
        session.add(models.Provider(slug="harlow-cvs", name="Harlow CVS"))
    header = "external_ref,name,org_type,income_band\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "H1,Foodbank,registered_charity,under_10k\nH2,Club,pub,under_10k\n")
    result = run("orgs", "import", str(bad), "--provider", "harlow-cvs")
    assert result.exit_code == 1
    assert "Nothing was imported: 1 problem in the file" in result.output
    assert "line 3, column org_type: 'pub' is not a known type of group" in result.output
    assert _count(session_factory, models.Organisation) == 0
    good = tmp_path / "good.csv"
    good.write_text(header + "H1,Foodbank,registered_charity,under_10k\nH2,Club,other,\n")
    dry = run("orgs", "import", str(good), "--provider", "harlow-cvs", "--dry-run")
    assert "Would add 2" in dry.output and _count(session_factory, models.Organisation) == 0
    done = run("orgs", "import", str(good), "--provider", "harlow-cvs")
    assert done.exit_code == 0 and "Added 2 and updated 0" in done.output
    assert _count(session_factory, models.Organisation) == 2
    assert "Foodbank" in run("orgs", "list", "--provider", "harlow-cvs").output
    unknown = run("orgs", "import", str(good), "--provider", "nobody")
    assert unknown.exit_code == 1 and "No provider called 'nobody'" in unknown.output


def test_orgs_import_refuses_a_file_that_is_not_utf8(run, tmp_path: Path) -> None:  # noqa: ANN001
    latin = tmp_path / "latin.csv"
    latin.write_bytes("external_ref,name,org_type\nX,Caf\xe9 club,other\n".encode("latin-1"))
    result = run("orgs", "import", str(latin), "--provider", "any")
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def demo_data_output(
    request: pytest.FixtureRequest,
    database_url: str,
    run,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Give what `tempcheck demo-data` printed for the test's database.

    On SQLite the database is a copy of the run's published demo, which that command built
    (tests/conftest.py); on PostgreSQL the command runs here, on an empty database.
    """
    if database_url.startswith("sqlite"):
        build = demo_build(request.getfixturevalue("tmp_path_factory"), "published")
        return build.output
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@tempcheck_demo_bot")
    made = run("demo-data")
    assert made.exit_code == 0, made.output
    return str(made.output)


@pytest.mark.demo_data("published", only="sqlite")
def test_demo_data_then_answer_a_survey_in_the_terminal(  # noqa: ANN001
    run, session_factory, demo_data_output: str
) -> None:
    made = demo_data_output
    assert (
        "38 surveys (per Essex and Kent provider: two closed and one open of cvs-support or "
        "kent-support, and in Essex two closed of each partnership survey; Voluntary Action "
        "LeicesterShire's two self-evaluations), 12 placement follow-up"
    ) in made
    # Essex's three providers, Kent's alliance of three and Voluntary Action LeicesterShire.
    assert "providers:       7" in made
    assert "contacts:        144 partners, commissioners and representatives" in made
    # Three rounds per provider; in Essex, six of sector-voice, funder-satisfaction and
    # representative-views (two periods); and two volunteer centres' rolling rounds: two
    # surveys, three periods; and Leicestershire's two self-evaluations.
    assert _count(session_factory, models.Round) == 18 + 18 + 2 * 2 * 3 + 2
    assert "volunteering:" in made and "follow-ups answered" in made
    assert 140 + 4 * 44 <= _count(session_factory, models.Organisation) <= 165 + 4 * 52
    again = run("demo-data")
    assert again.exit_code == 1 and "already has data" in again.output
    token = made.split("tempcheck answer TOKEN`:")[1].split()[0]
    assert f"https://t.me/tempcheck_demo_bot?start={token}" in made
    # The demo logins are printed, and sign in.
    heading = "Sign in to the staff console at http://localhost:5000/login"
    assert heading in made
    block = made.split(heading)[1].split("\n\n")[0].splitlines()[1:]
    logins = [line.split(maxsplit=3) for line in block]
    assert [(role, email) for role, email, _, _ in logins] == [
        ("admin", "admin@example.org"),
        ("staff", "staff@brentwood-cvs.example.org"),
        ("staff", "staff@harlow-cvs.example.org"),
        ("staff", "staff@uttlesford-cvs.example.org"),
        ("funder", "funder@example.org"),
        ("staff", "staff@west-kent-cvs.example.org"),
        ("staff", "staff@east-kent-cvs.example.org"),
        ("staff", "staff@north-kent-vc.example.org"),
        ("funder", "kent-funder@example.org"),
        ("staff", "staff@val-leicestershire.example.org"),
        ("funder", "leicestershire-funder@example.org"),
    ]
    assert logins[4][3] == "funds brentwood-cvs, harlow-cvs"
    assert logins[-3][3] == "funds west-kent-cvs, east-kent-cvs, north-kent-vc"
    assert logins[-1][3] == "funds val-leicestershire"
    with session_factory() as session:
        for _, email, password, _ in logins:
            assert users.authenticate(session, email, password) is not None
    assert "invitation emails wait in the outbox" in made
    assert "instance/mail/" in made

    # intro, "No" support, then the questions that remain: skip logic hides the support ones.
    typed = "\n".join(["", "2", "9", "8", "1,3", "2", "2", "", ""]) + "\n"
    result = run("answer", token, input=typed)
    assert result.exit_code == 0, result.output
    assert "How easy was it to get support from us?" not in result.output
    assert "Select one of the options shown" in result.output  # the typed 9 is refused
    assert "Question 2 of 6" in result.output
    assert "Thank you: your answers have been submitted." in result.output
    with session_factory() as session:
        invitation = session.scalar(
            select(models.Invitation).where(models.Invitation.token == token)
        )
        assert invitation is not None and invitation.response is not None
        response = invitation.response
        assert response.status == "completed" and response.channel == "terminal"
        stored = {a.question_id: a.value for a in response.answers}
    assert stored == {
        "used_support": "no",
        "outcomes_contributed": "none",
        "aware_outcomes": "weight_management healthy_lifestyles",
        "informed_strategies": "well_informed",
        "informed_district": "well_informed",
    }
    finished = run("answer", token)
    assert finished.exit_code == 0 and "You have already answered" in finished.output
    assert "Check your answers" not in finished.output


def test_answer_with_an_unknown_token_says_the_link_is_not_valid(run) -> None:  # noqa: ANN001
    result = run("answer", "A" * 32)
    assert result.exit_code == 1 and "This link is not valid" in result.output
    assert "A" * 32 not in result.output
