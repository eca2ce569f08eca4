"""SQLCipher: the SQLite database encrypted page by page (AES-256, an HMAC per page), with the key in force.

The engine factory (:func:`dashcam.db.session.make_engine`) asks :func:`opener` how to open a SQLite file.
Every new connection is checked before SQLAlchemy uses it, so a wrong or missing key is one line
(:class:`DatabaseKeyError`) instead of "file is not a database" somewhere in a query, or an empty search:

* no key, and the file is encrypted (its first 16 bytes are not SQLite's header): "is encrypted: set
  DASHCAM_DB_KEY";
* a key, and the file is a plain SQLite database: "is not encrypted: run `dashcam db encrypt`";
* a key that does not open the file: the first read fails its page HMAC, said as such.

:func:`convert` is `dashcam db encrypt`, `rekey` and `decrypt`: ``sqlcipher_export`` into a new file under the
new key, row counts compared table by table, fsync, rename. The database file is replaced only by a complete,
verified copy, so a kill at any point leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from dashcam.crypt.keys import DB_ENV, EncryptionProblem, Key
from dashcam.files import fsync_dir

log = logging.getLogger(__name__)
SQLITE_MAGIC = b"SQLite format 3\x00"
KEYED_CACHE_KIB = 64 * 1024  # the page cache of a keyed connection (SQLite's default: 2 MiB)
# Test hook: at a named point of convert(), write $DASHCAM_TEST_DB_CONVERT_PAUSE/paused and wait to be killed.
PAUSE_ENV = "DASHCAM_TEST_DB_CONVERT_PAUSE"
PAUSE_AT_ENV = "DASHCAM_TEST_DB_CONVERT_PAUSE_AT"
FileState = Literal["new", "plain", "encrypted"]


class DatabaseKeyError(EncryptionProblem):
    """The database cannot be opened with the key in force (or without one)."""


def file_state(path: Path) -> FileState:
    """Whether a SQLite file is missing or empty, plain, or encrypted (SQLCipher starts with its salt)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return "new"
    if not head:
        return "new"
    return "plain" if head == SQLITE_MAGIC else "encrypted"


def sqlcipher() -> Any:
    """The SQLCipher DB-API module, or a one-line error naming the extra that brings it."""
    try:
        import sqlcipher3
    except ImportError:
        raise DatabaseKeyError(
            f"{DB_ENV} is set but SQLCipher is not installed: install the [encryption] extra "
            "(uv sync --extra encryption)"
        ) from None
    return sqlcipher3


def _key_connection(dbapi: Any, conn: Any, key: Key | None, path: Path) -> None:
    """Give a new connection its key and prove it opens the file (SQLCipher checks on the first read)."""
    # a wrong key is ours to report, once, not SQLCipher's (plain SQLite ignores a pragma it does not know)
    conn.execute("PRAGMA cipher_log_level = NONE")
    if key is not None:
        conn.execute(f'PRAGMA key = "{key.sqlcipher_pragma()}"')
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except dbapi.DatabaseError as exc:
        conn.close()
        if "not a database" not in str(exc):
            raise
        # the file's header is read directly only here, where the connection has failed anyway
        if key is not None and file_state(path) == "plain":
            raise DatabaseKeyError(not_encrypted(path, key)) from None
        raise DatabaseKeyError(wrong_key(path, key)) from None


def wrong_key(path: Path, key: Key | None) -> str:
    if key is None:
        return f"{path} is encrypted: set {DB_ENV}"
    return f"{path} is encrypted: set {DB_ENV} to its key (the key from {key.source} does not open it)"


def not_encrypted(path: Path, key: Key) -> str:
    return (
        f"{path} is not encrypted, but a database key is set ({key.source}): run `dashcam db encrypt` "
        f"to encrypt it, or unset the key"
    )


def opener(path: Path, key: Key | None) -> Callable[..., Any]:
    """A ``do_connect`` listener: opens each connection, keyed or not, and proves the key fits the file.

    It never opens the database file itself. POSIX locks belong to the process, and closing any descriptor
    of the file drops every lock the process's SQLite connections hold on it: another process closing its
    last connection would then take itself for the last one and delete the WAL, and this process's pooled
    connections would go on reading the deleted one, never seeing another commit (seen: the web UI kept an
    account deleted from the CLI, and a clip's old name).
    """

    def do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        conn = dialect.loaded_dbapi.connect(*cargs, **cparams)
        _key_connection(dialect.loaded_dbapi, conn, key, path)
        if key is not None:
            # every page read from the file is decrypted and its HMAC checked (~10 us a page here, against a
            # copy from the OS cache for a plain file): a connection keeps more of them decrypted than
            # SQLite's 2 MiB default, filled only as pages are read
            conn.execute(f"PRAGMA cache_size = -{KEYED_CACHE_KIB}")
        return conn

    return do_connect


# ---------------------------------------------------------------- encrypt, rekey, decrypt


class ConvertError(EncryptionProblem):
    """`dashcam db encrypt|rekey|decrypt` stopped; the database file is as it was."""


def _pause(point: str) -> None:
    """Test hook: at ``point``, say so in ``$DASHCAM_TEST_DB_CONVERT_PAUSE/paused`` and wait (to be killed)."""
    folder = os.environ.get(PAUSE_ENV)
    if not folder or os.environ.get(PAUSE_AT_ENV) != point:
        return
    (Path(folder) / "paused").write_text(point + "\n")
    while not (Path(folder) / "resume").exists():
        time.sleep(0.05)


def _tables(conn: Any, schema: str) -> list[str]:
    rows = conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows]


def _objects(conn: Any, schema: str) -> list[tuple[str, str]]:
    rows = conn.execute(f"SELECT type, name FROM {schema}.sqlite_master ORDER BY type, name")
    return [(r[0], r[1]) for r in rows]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stamp(path: Path) -> tuple[int, int, int]:
    wal = Path(f"{path}-wal")
    st = path.stat()
    return st.st_size, st.st_mtime_ns, wal.stat().st_size if wal.exists() else 0


def convert(path: Path, source: Key | None, target: Key | None) -> dict[str, int]:
    """Rewrite the database at ``path`` from ``source`` (None: plain) to ``target`` (None: plain).

    Returns the rows per table, checked equal in both files. Raises :class:`DatabaseKeyError` when
    ``source`` does not open it, :class:`ConvertError` when the copy differs or the file changed meanwhile.
    """
    dbapi = sqlcipher()
    tmp = path.with_name(f".{path.name}.converting")
    for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)  # a killed run's half copy: never the database itself
    src = dbapi.connect(str(path), isolation_level=None, timeout=30)
    try:
        _key_connection(dbapi, src, source, path)
        # every committed change into the main file, so the copy and the stamp below see all of it
        src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        src.execute(
            "ATTACH DATABASE ? AS converted KEY ?", (str(tmp), target.sqlcipher_pragma() if target else "")
        )
        src.execute("BEGIN IMMEDIATE")  # no writer gets in while the copy is made
        if os.environ.get(PAUSE_ENV):  # the test hook kills the export half-way through, from here

            def exporting() -> int:
                _pause("exporting")
                return 0  # go on

            src.set_progress_handler(exporting, 1000)
        src.execute("SELECT sqlcipher_export('converted')")
        src.set_progress_handler(None, 0)
        version = src.execute("PRAGMA main.user_version").fetchone()[0]
        src.execute(f"PRAGMA converted.user_version = {int(version)}")
        counts: dict[str, int] = {}
        if _objects(src, "main") != _objects(src, "converted"):
            raise ConvertError(
                f"{path}: the copy's tables and indexes differ from the original; nothing changed"
            )
        for table in _tables(src, "main"):
            want = src.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0]
            got = src.execute(f'SELECT count(*) FROM converted."{table}"').fetchone()[0]
            if want != got:
                raise ConvertError(f"{path}: table {table}: {got} rows copied of {want}; nothing changed")
            counts[table] = int(want)
        src.execute("COMMIT")
        src.execute("DETACH DATABASE converted")
        stamp = _stamp(path)
    except BaseException:
        if src.in_transaction:
            src.execute("ROLLBACK")
        raise
    finally:
        src.close()
    _pause("copied")
    check = dbapi.connect(str(tmp), isolation_level=None)
    try:
        _key_connection(dbapi, check, target, tmp)
        if (ok := check.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
            raise ConvertError(f"{path}: the copy fails SQLite's check ({ok}); nothing changed")
        check.execute("PRAGMA journal_mode = WAL")
    finally:
        check.close()
    _fsync(tmp)
    _pause("verified")
    if _stamp(path) != stamp:
        tmp.unlink(missing_ok=True)
        raise ConvertError(
            f"{path} changed while it was copied (another dashcam process is using it): stop the web UI, the "
            "API and any worker, then run it again; nothing changed"
        )
    for side in ("-wal", "-shm"):
        # the old file's (empty) WAL index must not be taken for the new file's
        Path(f"{path}{side}").unlink(missing_ok=True)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    log.info("database %s converted (%d tables)", path, len(counts))
    return counts
