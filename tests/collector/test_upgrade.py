"""Upgrading keeps every row and its meaning; the long-running processes refuse a database whose
schema is behind or ahead of the code, naming the command that puts it right.

The old database is made by the migrations of an earlier revision (0008: before the survey
data migration 0009, the tables SQLite rebuilds in 0011, and everything after), then filled
with a realistic provider's data by SQL: the rows a scenario built through today's code has,
in the columns that revision's tables have.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, rounds
from collector.cli import main
from collector.config import Settings
from collector.models import Base, utcnow
from tests.analysis.builders import store_response
from tests.collector.test_backup import fresh  # noqa: F401 - a fixture
from tests.conftest import create_database, drop_database
from tests.factories import (
    cvs_support,
    make_organisation,
    make_placement,
    make_provider,
    make_round,
    make_volunteer,
)

OLD = "0008"
POSITIVE = {"ease_of_access": "easy", "satisfaction": "satisfied"}
NEGATIVE = {"ease_of_access": "difficult", "satisfaction": "satisfied"}


def supported(answers: dict[str, str], aware: str = "none") -> dict[str, str]:
    """Stored answers of a group that had support (skip logic obeyed)."""
    stored = {
        "used_support": "yes",
        "support_kinds": "networking training",
        **answers,
        "outcomes_contributed": "good_lives",
        "aware_outcomes": aware,
        "informed_strategies": "well_informed",
        "informed_district": "not_very_well_informed",
    }
    if aware != "none":
        stored["awareness_raised"] = aware
    return stored


def scenario(sessions: sessionmaker[Session]) -> None:
    """Harlow CVS: 14 groups, two closed rounds of cvs-support answered, an open one being
    answered through the engine (one done, one half-way), and volunteers with placements."""
    with db.transaction(sessions) as session:
        provider = make_provider(session, slug="harlow-cvs", name="Harlow CVS")
        types = ["registered_charity"] * 7 + ["community_group"] * 5 + ["faith_group"] * 2
        groups = [make_organisation(session, provider, org_type=t) for t in types]
        for period, days_ago, offset in (("2025/26 H1", 220, 0), ("2025/26 H2", 60, 2)):
            opens = utcnow() - timedelta(days=days_ago)
            closed = make_round(
                session,
                provider,
                cvs_support(),
                period_label=period,
                opens_at=opens,
                closes_at=opens + timedelta(days=42),
            )
            for n, group in enumerate(groups[offset : offset + 12]):
                store_response(
                    session,
                    closed,
                    group,
                    supported(
                        POSITIVE if n < 6 + offset * 2 else NEGATIVE,
                        aware="good_lives" if n % 3 == 0 else "none",
                    ),
                    channel="telegram" if n % 4 == 0 else "web",
                )
            rounds.close_round(session, closed, now=closed.closes_at, reports=False)
        current = make_round(
            session, provider, cvs_support(), opens_at=utcnow() - timedelta(days=3)
        )
        done, halfway = current.invitations[:2]
        response = flow.start(session, done, channel="web")
        given = supported(POSITIVE, aware="good_lives")
        for _ in range(30):
            view = flow.view(session, response)
            if not isinstance(view, flow.QuestionView):
                break
            value = given.get(view.question_id)
            if value is None and view.required and view.choices:
                value = view.choices[0].value
            raw = value.split() if value and view.type == "multiple" else value
            flow.answer(session, response, view.question_id, raw)
        assert isinstance(flow.complete(session, response), flow.DoneView)
        response = flow.start(session, halfway, channel="telegram")
        flow.answer(session, response, "intro", None)
        flow.answer(session, response, "used_support", "yes")
        for _ in range(3):
            make_placement(session, provider, make_volunteer(session, provider))


def copy_rows(source: Engine, target: Engine) -> dict[str, list[str]]:
    """Copy every row of `source` (today's schema) into `target` (an older one), in the columns
    the older tables have; give those columns by table."""
    old = sa.MetaData()
    old.reflect(target)
    copied: dict[str, list[str]] = {}
    with source.connect() as reading, target.begin() as writing:
        for table in Base.metadata.sorted_tables:
            if table.name not in old.tables:
                continue
            names = [c.name for c in table.columns if c.name in old.tables[table.name].c]
            trimmed = sa.Table(
                table.name, sa.MetaData(), *[table.c[name]._copy() for name in names]
            )
            rows = [dict(row._mapping) for row in reading.execute(sa.select(trimmed))]
            if rows:
                writing.execute(trimmed.insert(), rows)
            if target.dialect.name == "postgresql" and "id" in names:
                writing.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f'COALESCE(MAX(id), 0) + 1, false) FROM "{table.name}"'
                    )
                )
            copied[table.name] = names
    return copied


def rows_of(engine: Engine, columns: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """Give every row of these tables, in these columns, ordered by them (JSON as text)."""
    found = {}
    with engine.connect() as connection:
        for name, names in columns.items():
            table = Base.metadata.tables[name]
            rows = connection.execute(sa.select(*[table.c[n] for n in names])).all()
            shown = [
                tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in r)
                for r in rows
            ]
            found[name] = sorted(shown, key=repr)
    return found


def kpis(engine: Engine) -> list[dict[str, Any]]:
    """Give every framework's report of Harlow CVS's latest closed round, as plain data."""
    from analysis.build import build_reports

    with engine.connect() as connection:
        return [r.to_json() for r in build_reports(connection, provider="harlow-cvs")]


@pytest.fixture
def old_settings(
    settings: Settings, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Settings]:
    """Give settings for a database of the test's kind at schema OLD, with no rows."""
    if settings.resolved_database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old.db'}"
        server, name = None, ""
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"old_{uuid.uuid4().hex[:12]}"
        url = create_database(server, name)
    old = Settings(
        database_url=url, instance_path=str(tmp_path / "old-instance"), secret_key="x" * 32
    )
    engine = db.make_engine(old)
    db.upgrade(engine, OLD)
    engine.dispose()
    yield old
    if server is not None:
        drop_database(server, name)


def cli(settings: Settings, *args: str, **env: str) -> Result:
    """Run `tempcheck ARGS` on the database of `settings`."""
    return CliRunner().invoke(
        main,
        list(args),
        env={
            "DATABASE_URL": settings.resolved_database_url,
            "TEMPCHECK_INSTANCE": settings.instance_path,
            "SECRET_KEY": "a-secret-key-for-the-test-only",
            **env,
        },
        catch_exceptions=False,
    )


# Every long-running process, as `tempcheck up` and a production set-up start them.
SERVICES = [
    ("serve", "--port", "5999"),
    ("dispatch", "--once"),
    ("bot",),
    ("up", "--port", "5998", "--mail-port", "5997"),
]


def test_an_upgrade_from_an_older_schema_keeps_every_row_and_every_kpi(
    engine: Engine,
    session_factory: sessionmaker[Session],
    old_settings: Settings,
    fresh: Settings,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    scenario(session_factory)
    old = db.make_engine(old_settings)
    columns = copy_rows(engine, old)
    assert db.current_revision(old) == OLD
    before = rows_of(old, columns)
    assert min(len(before[t]) for t in ("responses", "answers", "invitations", "placements")) > 0
    old.dispose()

    # Behind: every long-running process refuses it and names the fix.
    for service in SERVICES:
        refused = cli(old_settings, *service, TELEGRAM_BOT_TOKEN="123:abc")
        assert refused.exit_code == 1, (service, refused.output)
        assert f"The database is at schema {OLD}, behind this tempcheck's schema" in (
            refused.output
        )
        assert "upgrade it with `tempcheck init`" in refused.output

    # A backup of the old database, restored by this version, is upgraded as it goes back.
    output = tmp_path / "old.backup"
    assert cli(old_settings, "backup", "--output", str(output)).exit_code == 0
    restored = cli(fresh, "restore", str(output))
    assert restored.exit_code == 0, restored.output
    assert f"Upgraded from schema {OLD} to {db.head_revision()}." in restored.output
    back = db.make_engine(fresh)
    try:
        after = rows_of(back, columns)
        # The one row more: the restore, in the audit log.
        audit = after.pop("audit_events")
        assert [r for r in audit if "backup.restore" not in r] == before["audit_events"]
        assert len(audit) == len(before["audit_events"]) + 1
        assert after == {name: rows for name, rows in before.items() if name != "audit_events"}
    finally:
        back.dispose()

    upgraded = cli(old_settings, "init")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Database upgraded from {OLD} to schema {db.head_revision()}." in upgraded.output
    new = db.make_engine(old_settings)
    try:
        assert rows_of(new, columns) == before
        # The answers mean what they meant: the same KPIs, figure for figure.
        reports = kpis(new)
        assert reports == kpis(engine)
        assert reports, "the scenario has a closed round to report on"
        assert any((k.get("overall") or {}).get("n") for r in reports for k in r["kpis"])
    finally:
        new.dispose()


def test_the_long_running_processes_refuse_a_schema_newer_than_the_code(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, instance_path=str(tmp_path / "instance"))
    engine = db.make_engine(settings)
    head = db.head_revision()
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    try:
        for service in SERVICES:
            refused = cli(settings, *service, TELEGRAM_BOT_TOKEN="123:abc")
            assert refused.exit_code == 1, (service, refused.output)
            assert "The database is at schema 0099, which this tempcheck" in refused.output
            assert "Install that version or newer" in refused.output
            assert "`tempcheck restore FILE --force`" in refused.output
        # Nothing was changed by trying.
        assert db.current_revision(engine) == "0099"
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()
