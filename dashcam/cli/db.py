"""`dashcam db upgrade|downgrade|current`: schema migrations (Alembic is the only schema path), and
`dashcam db encrypt|rekey|decrypt`: the SQLite database's encryption at rest (SQLCipher)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dashcam.cli.common import JsonOpt, console, fail, print_json

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def _config() -> Any:
    from dashcam.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")


def _url() -> str:
    return str(_config().database_url())


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

    cfg = _config()
    url = cfg.database_url()
    try:
        dbs.upgrade(url, revision, config=cfg)
        now = dbs.current_revision(url, config=cfg)
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

    cfg = _config()
    url = cfg.database_url()
    try:
        dbs.downgrade(url, revision, config=cfg)
        now = dbs.current_revision(url, config=cfg)
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

    cfg = _config()
    url = cfg.database_url()
    try:
        now = dbs.current_revision(url, config=cfg)
    except SQLAlchemyError as exc:
        fail(f"{_safe(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    head = dbs.head_revision()
    if json_out:
        print_json({"database": _safe(url), "revision": now, "head": head, "up_to_date": now == head})
    else:
        console.print(f"{_safe(url)}: revision {now or 'none'} (newest {head})", highlight=False)


NewKeyEnvOpt = typer.Option(
    "DASHCAM_DB_NEW_KEY",
    "--new-key-env",
    help="Environment variable holding the new key (never an argument).",
)
NewKeyFileOpt = typer.Option(None, "--new-key-file", help="File holding the new key (mode 0600, one line).")


def _sqlite_file(cfg: Any) -> Path:
    from sqlalchemy.engine import make_url

    u = make_url(cfg.database_url())
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        fail(
            f"{_safe(cfg.database_url())}: only a SQLite database is encrypted by dashcam; for PostgreSQL "
            "encrypt its data directory on the host (infra/README.md, LUKS or ZFS)"
        )
    path = Path(u.database)
    if not path.is_file():
        fail(f"{path}: no database there yet (it is made encrypted from the start when a key is set)")
    return path


def _convert(cfg: Any, path: Path, source: Any, target: Any, *, verb: str, json_out: bool) -> None:
    from dashcam.cli.embedded import lock_data_folder
    from dashcam.db import cipher
    from dashcam.db.session import _cached_engine

    # nothing of ours may write while the file is copied: `dashcam run` and friends hold this lock
    lock = lock_data_folder(cfg.settings.data_dir, f"db {verb}")
    try:
        _cached_engine.cache_clear()
        counts = cipher.convert(path, source, target)
    finally:
        import os

        os.close(lock)
    rows = sum(counts.values())
    if json_out:
        print_json({"database": str(path), "done": verb, "tables": counts, "rows": rows})
    else:
        console.print(
            f"{path}: {verb} ({len(counts)} tables, {rows} rows, every table checked)",
            highlight=False,
            markup=False,
        )


@db_app.command("encrypt")
def encrypt(json_out: bool = JsonOpt) -> None:
    """Encrypt the SQLite database with the key in force: a verified copy renamed over it (stop the UI first)."""
    from dashcam.crypt.keys import database_key
    from dashcam.db import cipher

    cfg = _config()
    path = _sqlite_file(cfg)
    key = database_key(cfg)
    if key is None:
        fail("set DASHCAM_DB_KEY (or encryption.db_key_file) to the key to encrypt it with")
    state = cipher.file_state(path)
    if state == "encrypted":
        fail(f"{path} is encrypted already (`dashcam db rekey` changes its key)")
    _convert(cfg, path, None, key, verb="encrypted", json_out=json_out)


@db_app.command("rekey")
def rekey(
    new_key_env: str = NewKeyEnvOpt, new_key_file: Path | None = NewKeyFileOpt, json_out: bool = JsonOpt
) -> None:
    """Change the database key (the new one in DASHCAM_DB_NEW_KEY or --new-key-file), the same safe way."""
    from dashcam.crypt.keys import database_key, database_key_from, new_key_text
    from dashcam.db import cipher

    cfg = _config()
    path = _sqlite_file(cfg)
    key = database_key(cfg)
    if key is None or cipher.file_state(path) != "encrypted":
        fail(f"{path} is not encrypted with a key in force: set DASHCAM_DB_KEY, or run `dashcam db encrypt`")
    new = database_key_from(*new_key_text(new_key_env, new_key_file))
    if new.secret == key.secret:
        fail("the new key is the current key")
    _convert(cfg, path, key, new, verb="rekeyed", json_out=json_out)
    if not json_out:
        console.print(
            f"now set DASHCAM_DB_KEY (or the key file) to the new key from {new.source}",
            highlight=False,
            markup=False,
        )


@db_app.command("decrypt")
def decrypt(json_out: bool = JsonOpt) -> None:
    """Turn the database's encryption off (a verified plain copy renamed over it); then unset the key."""
    from dashcam.crypt.keys import database_key
    from dashcam.db import cipher

    cfg = _config()
    path = _sqlite_file(cfg)
    key = database_key(cfg)
    if key is None or cipher.file_state(path) != "encrypted":
        fail(f"{path} is not encrypted with a key in force (set DASHCAM_DB_KEY to its key)")
    _convert(cfg, path, key, None, verb="decrypted", json_out=json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
