"""Engine, sessions and schema migrations (Alembic is the only way the schema changes)."""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, create_engine

from dashcam.config import Config, load_config

if TYPE_CHECKING:
    from dashcam.crypt.keys import Key

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web UI read while a stage writes; busy_timeout rides out short write locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    # REGEXP through RE2 instead of SQLAlchemy's Python-re function (registered before this listener
    # runs): user patterns reach it, and a backtracking engine can be held for hours by one of them.
    from dashcam.search.pattern import regexp

    dbapi_conn.create_function("regexp", 2, regexp, deterministic=True)


def _remember_cursor(conn: Any, cursor: Any, *_args: Any) -> None:
    conn.connection.info.setdefault("cursors", weakref.WeakSet()).add(cursor)


def _close_cursors(_dbapi_conn: Any, record: Any) -> None:
    """Close what is left of the cursors of a connection going back to the pool. A cursor whose rows were
    not all read keeps its statement running, and with it a read snapshot of the WAL: Python's sqlite3
    (3.11+) does not reset statements on rollback, and there is no transaction for SQLAlchemy's reset to
    end. The next user of the pooled connection would not see what others committed since."""
    for cursor in list(record.info.pop("cursors", ())):
        with contextlib.suppress(Exception):
            cursor.close()


def sqlite_key(url: str, config: Config | None = None) -> Key | None:
    """The SQLCipher key for a SQLite file URL (None for other databases, memory, or no key configured)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    from dashcam.crypt.keys import database_key

    return database_key(config or load_config())


def make_engine(url: str, *, config: Config | None = None, **kwargs: Any) -> Engine:
    """The one engine factory: every process (CLI, stages, web UI, API, workers, migrations) opens the
    database through it. A SQLite file is opened through SQLCipher when the configuration holds a key."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    key = sqlite_key(url, config)
    return _sqlite_engine(url, key, **kwargs)


def _sqlite_engine(url: str, key: Key | None, **kwargs: Any) -> Engine:
    from dashcam.db import cipher

    u = make_url(url)
    path = Path(u.database) if u.database and u.database != ":memory:" else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    target: Any = url
    if key is not None and path is not None:
        cipher.sqlcipher()  # one line naming the extra when SQLCipher is missing
        # the pysqlcipher dialect; the key travels in the URL object, whose str() and repr() hide it
        target = u.set(drivername="sqlite+pysqlcipher", password=key.sqlcipher_pragma())
        # as for a plain file: a pool of connections (the dialect's default keeps one per thread)
        kwargs.setdefault("poolclass", QueuePool)
    engine = create_engine(target, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
    if path is not None:
        event.listen(engine, "do_connect", cipher.opener(path, key))
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "after_cursor_execute", _remember_cursor)
    event.listen(engine, "checkin", _close_cursors)
    return engine


@lru_cache(maxsize=8)
def _cached_engine(url: str, key: Key | None = None) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, key)
    return make_engine(url)


def get_engine(config: Config | None = None, *, url: str | None = None) -> Engine:
    """The engine of the configured database (one per URL and key per process)."""
    config = config or load_config()
    url = url or config.database_url()
    return _cached_engine(url, sqlite_key(url, config))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error: one transaction."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class QueryTimeout(RuntimeError):
    """A statement ran past the time allowed to it and was stopped by the database."""


@contextmanager
def time_limit(session: Session, seconds: float) -> Iterator[None]:
    """Stop the statements run inside after ``seconds``: a request never holds a worker for longer.

    SQLite checks a deadline from a progress handler; PostgreSQL gets a ``statement_timeout`` for the
    rest of the transaction. Either way an overrun raises :class:`QueryTimeout`.
    """
    conn = session.connection()
    name = conn.dialect.name
    if name == "sqlite":
        raw: Any = conn.connection.dbapi_connection
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 20_000)
        try:
            yield
        except OperationalError as exc:
            if "interrupted" in str(exc.orig):
                raise QueryTimeout(f"the query took longer than {seconds:g} s and was stopped") from None
            raise
        finally:
            raw.set_progress_handler(None, 0)
        return
    if name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
        try:
            yield
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled
                raise QueryTimeout(f"the query took longer than {seconds:g} s and was stopped") from None
            raise
        conn.exec_driver_sql("SET LOCAL statement_timeout TO DEFAULT")
        return
    yield


def _alembic_config(url: str, config: Config | None = None) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["dashcam_config"] = config  # env.py opens the database with this configuration's key
    return cfg


def upgrade(url: str, revision: str = "head", *, config: Config | None = None) -> None:
    from alembic import command

    make_engine(url, config=config).dispose()  # creates the SQLite folder if needed
    command.upgrade(_alembic_config(url, config), revision)


def downgrade(url: str, revision: str, *, config: Config | None = None) -> None:
    from alembic import command

    command.downgrade(_alembic_config(url, config), revision)


def current_revision(url: str, *, config: Config | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url, config=config)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def ensure_schema(url: str, *, config: Config | None = None) -> None:
    """Bring the database to the newest schema (used by the embedded default and at stage start)."""
    if current_revision(url, config=config) != head_revision():
        log.info("migrating database to %s", head_revision())
        upgrade(url, config=config)
