"""Alembic environment: runs on the engine handed over by chengyun.db.migrate."""

from alembic import context

from chengyun.db.schema import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # a batch migration rebuilds a table (copy, drop, rename); with foreign keys on, dropping the old table would
        # cascade into the tables that reference it (case_timeline's steps gone with `cases`). SQLite's own procedure
        # for schema changes turns them off first, outside a transaction, and checks them at the end.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                raise RuntimeError(f"a migration left rows whose references are gone: {broken[:5]}")
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
