"""`dashcam db upgrade|downgrade|current`: schema migrations (Alembic is the only schema path)."""

from __future__ import annotations

import typer

from dashcam.cli.common import JsonOpt, console, fail, print_json

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def _url() -> str:
    from dashcam.config import ConfigError, load_config

    try:
        return load_config().database_url()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade(
    revision: str = typer.Argument("head", help="Target revision."), json_out: bool = JsonOpt
) -> None:
    """Create or migrate the schema to the newest revision."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashcam.db import session as dbs

    url = _url()
    try:
        dbs.upgrade(url, revision)
        now = dbs.current_revision(url)
    except SQLAlchemyError as exc:
        fail(f"{_safe(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if json_out:
        print_json({"database": _safe(url), "revision": now})
    else:
        console.print(f"{_safe(url)}: schema at revision {now}", highlight=False)


@db_app.command("downgrade")
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base."), json_out: bool = JsonOpt
) -> None:
    """Migrate the schema back (every migration has a real downgrade)."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashcam.db import session as dbs

    url = _url()
    try:
        dbs.downgrade(url, revision)
        now = dbs.current_revision(url)
    except SQLAlchemyError as exc:
        fail(f"{_safe(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if json_out:
        print_json({"database": _safe(url), "revision": now})
    else:
        console.print(f"{_safe(url)}: schema at revision {now or 'base (empty)'}", highlight=False)


@db_app.command("current")
def current(json_out: bool = JsonOpt) -> None:
    """Show the schema revision of the configured database."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashcam.db import session as dbs

    url = _url()
    try:
        now = dbs.current_revision(url)
    except SQLAlchemyError as exc:
        fail(f"{_safe(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    head = dbs.head_revision()
    if json_out:
        print_json({"database": _safe(url), "revision": now, "head": head, "up_to_date": now == head})
    else:
        console.print(f"{_safe(url)}: revision {now or 'none'} (newest {head})", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
