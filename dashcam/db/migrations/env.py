"""Alembic environment: the URL comes from the caller (dashcam db upgrade) or the configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool
from sqlmodel import SQLModel

import dashcam.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from dashcam.db.session import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from dashcam.config import load_config

    return load_config().database_url()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # the caller's configuration (its database key), else the one in force
    engine = make_engine(_url(), config=config.attributes.get("dashcam_config"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table's shape by copying it and dropping the old one; with foreign keys on,
            # the drop would first delete every row that points at it (plate reads, media). Off while
            # migrating (it can only be switched outside a transaction), every reference checked after.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        # batch mode lets ALTER-style migrations work on SQLite too
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left {len(broken)} broken references, e.g. {broken[0]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
