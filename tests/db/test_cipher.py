"""The SQLite database under real SQLCipher (sqlcipher3): nothing readable without the key, a wrong or
missing key said in one line, migrations on the encrypted file, and `dashcam db encrypt` that keeps every
row and leaves the plain database intact wherever it is killed."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dashcam.config import load_config
from dashcam.db import cipher
from dashcam.db.session import make_engine, session_scope, upgrade
from dashcam.settings import Settings
from tests.support import dashcam_command, run_dashcam, user_env

PLATE = "AB12CDE"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return user_env(tmp_path / "home", DASHCAM_DATA_DIR=str(tmp_path / "data"))


def _db(env: dict[str, str]) -> Path:
    return Path(env["DASHCAM_DATA_DIR"]) / "dashcam.db"


def _files(db: Path) -> bytes:
    """The database and whatever SQLite keeps beside it (WAL, shared memory, journal)."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


def _populate(env: dict[str, str]) -> None:
    """The search tests' clips and sightings, and 5 000 GPS fixes so a copy takes a while."""
    from dashcam.db.models import GpsPoint
    from tests.search.seed import T0, seed

    cfg = load_config(Settings.from_env(env))
    upgrade(cfg.database_url(), config=cfg)
    engine = make_engine(cfg.database_url(), config=cfg)
    with session_scope(engine) as s:
        ids = seed(s)
        s.bulk_save_objects(
            GpsPoint(
                clip_id=ids["clip_front"],
                t=i / 10,
                time_utc=T0,
                lat=48.1 + i * 1e-6,
                lon=11.5,
                speed_kmh=30.0,
            )
            for i in range(5_000)
        )
    engine.dispose()


def _snapshot(env: dict[str, str]) -> dict[str, Any]:
    """Every table's row count and a digest of all its rows, read through the engine factory."""
    cfg = load_config(Settings.from_env(env))
    engine = make_engine(cfg.database_url(), config=cfg)
    out: dict[str, Any] = {}
    with engine.connect() as c:
        tables = (
            c.execute(text("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")).scalars().all()
        )
        for t in tables:
            rows = sorted(repr(tuple(r)) for r in c.execute(text(f'SELECT * FROM "{t}"')))
            out[t] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    engine.dispose()
    return out


def _key() -> str:
    return secrets.token_urlsafe(32)


def _one_line_error(res: subprocess.CompletedProcess[str], says: str) -> None:
    assert res.returncode == 1, res.stdout
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], res.stderr
    assert res.stdout.strip() == ""  # never an empty search instead


def test_a_new_database_with_a_key_holds_no_plate_text(env: dict[str, str]) -> None:
    env["DASHCAM_DB_KEY"] = _key()
    _populate(env)
    cfg = load_config(Settings.from_env(env))
    engine = make_engine(cfg.database_url(), config=cfg)
    with engine.connect() as c:
        assert c.execute(text("PRAGMA cipher_version")).scalar_one().startswith("4.")
        assert (
            c.execute(text("SELECT count(*) FROM sighting WHERE plate_text = :p"), {"p": PLATE}).scalar_one()
            > 0
        )
        assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    db = _db(env)
    assert cipher.file_state(db) == "encrypted"
    assert PLATE.encode() not in _files(db) and b"SQLite format 3" not in _files(db)
    engine.dispose()
    res = run_dashcam(["search", "--plate", PLATE, "--json"], cwd=db.parent, env=env)
    assert res.returncode == 0 and PLATE in res.stdout, res.stderr


def test_wrong_missing_or_unexpected_keys_are_one_line(env: dict[str, str]) -> None:
    key = _key()
    _populate({**env, "DASHCAM_DB_KEY": key})
    db = _db(env)
    for argv in (["search", "--plate", PLATE], ["db", "current"], ["ui", "--list-users"]):
        _one_line_error(run_dashcam(argv, cwd=db.parent, env=env), f"{db} is encrypted: set DASHCAM_DB_KEY")
        _one_line_error(
            run_dashcam(argv, cwd=db.parent, env={**env, "DASHCAM_DB_KEY": _key()}),
            "is encrypted: set DASHCAM_DB_KEY to its key (the key from DASHCAM_DB_KEY does not open it)",
        )
    plain = {**env, "DASHCAM_DATA_DIR": str(db.parent.parent / "plain")}
    _populate(plain)
    _one_line_error(
        run_dashcam(["search", "--plate", PLATE], cwd=db.parent, env={**plain, "DASHCAM_DB_KEY": key}),
        "is not encrypted, but a database key is set (DASHCAM_DB_KEY): run `dashcam db encrypt`",
    )


def test_migrations_run_on_the_encrypted_database(env: dict[str, str]) -> None:
    env["DASHCAM_DB_KEY"] = _key()
    db = _db(env)
    up = run_dashcam(["db", "upgrade"], cwd=db.parent.parent, env=env)
    assert up.returncode == 0, up.stderr
    head = up.stdout.strip().rsplit(" ", 1)[-1]
    down = run_dashcam(["db", "downgrade", "base"], cwd=db.parent.parent, env=env)
    assert down.returncode == 0 and down.stdout.strip().endswith("base (empty)"), down.stderr
    again = run_dashcam(["db", "upgrade"], cwd=db.parent.parent, env=env)
    assert again.returncode == 0 and again.stdout.strip().endswith(head), again.stderr
    assert cipher.file_state(db) == "encrypted"


def test_keyed_connections_keep_more_decrypted_pages(env: dict[str, str]) -> None:
    """Each page read from an encrypted file is decrypted and checked again once SQLite's cache lets it go:
    keyed connections get a larger page cache; plain ones keep SQLite's default."""
    env["DASHCAM_DB_KEY"] = _key()
    cfg = load_config(Settings.from_env(env))
    upgrade(cfg.database_url(), config=cfg)
    engine = make_engine(cfg.database_url(), config=cfg)
    with engine.connect() as c:
        assert c.execute(text("PRAGMA cache_size")).scalar_one() == -cipher.KEYED_CACHE_KIB
    engine.dispose()
    plain = make_engine(
        f"sqlite:///{_db(env).parent / 'plain.db'}", config=load_config(Settings.from_env({}))
    )
    with plain.connect() as c:
        assert c.execute(text("PRAGMA cache_size")).scalar_one() == -2000
    plain.dispose()


def test_encrypt_keeps_every_row_then_rekey_and_decrypt(env: dict[str, str]) -> None:
    _populate(env)
    before = _snapshot(env)
    db = _db(env)
    key = _key()
    res = run_dashcam(["db", "encrypt"], cwd=db.parent, env={**env, "DASHCAM_DB_KEY": key})
    assert res.returncode == 0, res.stderr
    assert "every table checked" in res.stdout and str(sum(n for n, _ in before.values())) in res.stdout
    assert cipher.file_state(db) == "encrypted" and PLATE.encode() not in _files(db)
    assert _snapshot({**env, "DASHCAM_DB_KEY": key}) == before
    assert sorted(p.name for p in db.parent.iterdir()) == [".lock", "dashcam.db"]  # no copy left behind

    new = _key()
    res = run_dashcam(
        ["db", "rekey"], cwd=db.parent, env={**env, "DASHCAM_DB_KEY": key, "DASHCAM_DB_NEW_KEY": new}
    )
    assert res.returncode == 0, res.stderr
    _one_line_error(
        run_dashcam(["db", "current"], cwd=db.parent, env={**env, "DASHCAM_DB_KEY": key}), "does not open it"
    )
    assert _snapshot({**env, "DASHCAM_DB_KEY": new}) == before

    res = run_dashcam(["db", "decrypt"], cwd=db.parent, env={**env, "DASHCAM_DB_KEY": new})
    assert res.returncode == 0, res.stderr
    assert cipher.file_state(db) == "plain" and _snapshot(env) == before


@pytest.mark.parametrize("point", ["exporting", "copied", "verified"])
def test_kill_9_during_encrypt_leaves_the_plain_database_usable(
    env: dict[str, str], tmp_path: Path, point: str
) -> None:
    _populate(env)
    before = _snapshot(env)
    db = _db(env)
    key = _key()
    marker = tmp_path / "marker"
    marker.mkdir()
    paused = {**env, "DASHCAM_DB_KEY": key, cipher.PAUSE_ENV: str(marker), cipher.PAUSE_AT_ENV: point}
    proc = subprocess.Popen([dashcam_command(), "db", "encrypt"], env=paused, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not (marker / "paused").exists():
        assert proc.poll() is None, f"dashcam db encrypt ended ({proc.returncode}) before {point}"
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    assert cipher.file_state(db) == "plain"
    with sqlite3.connect(db) as c:  # any SQLite opens it, and it is whole
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _snapshot(env) == before
    found = run_dashcam(["search", "--plate", PLATE, "--json"], cwd=tmp_path, env=env)
    assert found.returncode == 0 and PLATE in found.stdout, found.stderr

    again = run_dashcam(["db", "encrypt"], cwd=tmp_path, env={**env, "DASHCAM_DB_KEY": key})
    assert again.returncode == 0, again.stderr
    assert _snapshot({**env, "DASHCAM_DB_KEY": key}) == before
    assert not list(db.parent.glob(".*converting*"))
