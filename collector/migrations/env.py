"""Alembic environment: the engine comes from `collector.db.upgrade` (never from alembic.ini)."""

from __future__ import annotations

from alembic import context

from collector.models import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    driver = connection.connection.driver_connection
    if sqlite:
        # SQLite alters a table by building a new copy and dropping the old one (batch mode):
        # with foreign keys enforced, dropping a table other rows point at fails, so a
        # database with answers in it could not be upgraded. Off while the migrations run
        # (outside any transaction, where SQLite takes the pragma), checked after.
        driver.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(
                        f"the upgrade would leave {len(broken)} rows pointing at rows that are "
                        f"not there (first: table {broken[0][0]}): nothing was changed"
                    )
        connection.commit()
    finally:
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")
