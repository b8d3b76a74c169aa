"""Benchmark: the whole Essex framework (issue 17) for 30 providers with a year of records each.

It builds a database (SQLite in a temporary folder, or the one `--database-url` names, which
must be empty) of 30 providers, each with 50 groups, a closed cvs-support round for the year
2025/26 and about 1,667 activity records dated in that year (50,000 in all: events, health
checks, guidance, funding applications with amounts, training; each with a group and
beneficiaries), 13 evidence items with staff's statuses and 3 milestones; all with bulk inserts.
The rounds have no answers: the survey KPIs say "no data", the 23 KPIs staff record and ii are
what is timed. Then, after a warm-up that is not counted, `--repeats` times:

- `ii, 30 reports`: `build_reports(framework="essex-2017")`: every provider's report, loading
  the records once, with ii over every KPI;
- `whole report`: the same, gathered into the collective report and rendered as HTML (the
  county overview, the providers side by side and the 30 reports, without charts for the
  recorded KPIs);

and prints each run and the medians, and checks the county's events against a SQL count.

    python bench/bench_framework.py [--repeats 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from analysis.build import build_reports
from analysis.collective import collective_of
from analysis.kpis.definitions import framework
from analysis.render.html import collective_html
from collector import activities, db, models, rounds
from collector.config import Settings
from collector.survey.loader import library_survey
from collector.survey.store import register

PROVIDERS = 30
ROWS = 50_000
YEAR_START = date(2025, 4, 1)
KINDS = ("event", "health_check", "guidance", "funding_application", "training")


def build(url: str, seed: int = 17) -> None:
    """Fill the database with the benchmark's providers and their year of records."""
    rng = random.Random(seed)
    engine = db.make_engine(Settings(database_url=url))
    db.upgrade(engine)
    with db.transaction(db.make_sessionmaker(engine)) as session:
        survey = register(session, library_survey("cvs-support"))
        per_provider = ROWS // PROVIDERS + 1
        for p in range(PROVIDERS):
            provider = models.Provider(slug=f"cvs-{p:02d}", name=f"CVS {p:02d}", kind="cvs")
            session.add(provider)
            session.flush()
            session.execute(
                insert(models.Organisation),
                [
                    {
                        "provider_id": provider.id,
                        "external_ref": f"G{p:02d}{n:03d}",
                        "name": f"Group {n}",
                        "org_type": rng.choice(("registered_charity", "community_group")),
                        "income_band": rng.choice(("under_10k", "10k_100k")),
                        "district": rng.choice(("North", "South", "East")),
                        "outcomes": "good_lives",
                        "is_member": rng.random() < 0.6,
                    }
                    for n in range(50)
                ],
            )
            groups = list(
                session.scalars(
                    select(models.Organisation.id).where(
                        models.Organisation.provider_id == provider.id
                    )
                )
            )
            round_ = rounds.create_round(
                session,
                provider=provider,
                survey=survey,
                period_label="2025/26",
                opens_at=datetime(2026, 3, 1, tzinfo=UTC),
                closes_at=datetime(2026, 4, 15, tzinfo=UTC),
            )
            round_.status = "closed"
            rows = []
            for n in range(per_provider if p < PROVIDERS - 1 else ROWS - per_provider * p):
                kind = KINDS[n % len(KINDS)]
                funding = kind == "funding_application"
                rows.append(
                    {
                        "provider_id": provider.id,
                        "external_ref": f"A{n:05d}",
                        "kind": kind,
                        "occurred_on": YEAR_START + timedelta(days=rng.randint(0, 364)),
                        "organisation_id": rng.choice(groups),
                        "description": "",
                        "amount_applied_pence": rng.randint(1, 500) * 10_000 if funding else None,
                        "amount_obtained_pence": rng.randint(0, 300) * 10_000 if funding else None,
                        "beneficiaries": rng.randint(0, 200),
                    }
                )
            session.execute(insert(models.ActivityRecord), rows)
            for kpi_id in ("c", "d", "f", "j", "k", "m", "n", "o", "iii", "v", "vii", "viii"):
                activities.add_evidence(
                    session,
                    provider,
                    period="2025/26",
                    title=f"Evidence for {kpi_id}",
                    text="Text",
                    indicators=[("essex-2017", kpi_id)],
                    is_case_study=True,
                )
                activities.set_assessment(
                    session,
                    provider,
                    framework="essex-2017",
                    kpi_id=kpi_id,
                    period="2025/26",
                    status=rng.choice(("met", "partly_met", "not_met")),
                    reason="Reason",
                )
            for kpi_id in ("I.i", "iv", "vi"):
                activities.set_milestone(
                    session,
                    provider,
                    framework="essex-2017",
                    kpi_id=kpi_id,
                    title="Milestone",
                    due_on=date(2026, 3, 31),
                    achieved_on=date(2026, 1, rng.randint(1, 31)),
                )
    engine.dispose()


def main() -> None:
    """Build the data, time ii and the whole report, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        build(url)
        print(f"built {PROVIDERS} providers, {ROWS:,} activity rows in "
              f"{time.perf_counter() - started:.1f} s")
        engine = db.make_engine(Settings(database_url=url))
        chosen = framework("essex-2017")
        timings: dict[str, list[float]] = {"ii, 30 reports": [], "whole report": []}
        for run in range(args.repeats + 1):
            with engine.connect() as connection:
                started = time.perf_counter()
                built = build_reports(connection, framework="essex-2017")
                ii_time = time.perf_counter() - started
                collective = collective_of(chosen, "2025/26", built)
                page = collective_html(collective)
                whole = time.perf_counter() - started
            if run:  # the first is a warm-up
                timings["ii, 30 reports"].append(ii_time)
                timings["whole report"].append(whole)
                print(f"run {run}: ii, 30 reports {ii_time:.2f} s; whole report {whole:.2f} s "
                      f"({len(page) / 1e6:.1f} MB of HTML)")
        for label, values in timings.items():
            print(f"median {label}: {statistics.median(values):.2f} s")
        with engine.connect() as connection:
            events = connection.scalar(
                select(func.count(models.ActivityRecord.id)).where(
                    models.ActivityRecord.kind == "event"
                )
            )
        assert len(built) == PROVIDERS and collective.line("a").total == events, (
            collective.line("a").total,
            events,
        )
        print(f"checked: the county's events ({events:,}) are SQL's count")
        engine.dispose()


if __name__ == "__main__":
    main()
