"""Schema migrations and idempotent writes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from dashcam.db import crud
from dashcam.db.models import Clip, GpsPoint, StageRun
from dashcam.db.session import current_revision, downgrade, head_revision, make_engine, session_scope, upgrade

TABLES = {"clip", "stage_run", "gps_point", "window", "sighting", "plate_read", "media", "watchlist"}
H1 = "a" * 64
H2 = "b" * 64


def test_migration_up_and_down(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    engine = make_engine(db_url)
    insp = inspect(engine)
    assert set(insp.get_table_names()) >= TABLES
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("sighting")}
    assert ("plate_text",) in indexed and ("lat", "lon") in indexed and ("label", "time_utc") in indexed
    engine.dispose()
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    assert not TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    upgrade(db_url)  # and back up again
    assert current_revision(db_url) == head_revision()


def test_migration_0011_adds_and_removes_the_track_columns(db_url: str) -> None:
    new = {"merged_from", "parts", "signature", "continues_id"}
    upgrade(db_url)
    engine = make_engine(db_url)
    cols = {c["name"] for c in inspect(engine).get_columns("sighting")}
    fks = {tuple(fk["constrained_columns"]) for fk in inspect(engine).get_foreign_keys("sighting")}
    engine.dispose()
    assert new <= cols and ("continues_id",) in fks
    downgrade(db_url, "0010")
    engine = make_engine(db_url)
    left = {c["name"] for c in inspect(engine).get_columns("sighting")}
    assert not new & left and {"time_local", "label_scores"} <= left
    # SQLite's copy of the table on the way down keeps the index 0009 made
    assert "ix_sighting_time_local" in {ix["name"] for ix in inspect(engine).get_indexes("sighting")}
    engine.dispose()
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


@pytest.fixture
def engine(db_url: str):
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def test_register_clip_is_idempotent(engine) -> None:
    t = datetime(2023, 8, 15, 10, 34, 56, tzinfo=timezone.utc)
    with session_scope(engine) as s:
        cid, created = crud.register_clip(
            session=s,
            content_hash=H1,
            file_name="2023_0815_123456_000120F.MP4",
            size_bytes=5 << 30,
            channel="F",
            recorded_at=t,
            protected=True,
        )
        assert created
    with session_scope(engine) as s:
        # the same bytes arriving again (SD card import, different name, unprotected folder)
        cid2, created2 = crud.register_clip(
            session=s, content_hash=H1, file_name="copy.MP4", size_bytes=5 << 30, protected=False
        )
        assert (cid2, created2) == (cid, False)
    with session_scope(engine) as s:
        rows = s.execute(select(Clip)).scalars().all()
        assert len(rows) == 1
        assert rows[0].protected is True  # never cleared by a later arrival
        assert rows[0].size_bytes == 5 << 30  # 64-bit sizes
        assert rows[0].recorded_at is not None and rows[0].recorded_at.replace(tzinfo=timezone.utc) == t


def test_stage_runs_count_attempts_and_never_duplicate(engine) -> None:
    with session_scope(engine) as s:
        cid, _ = crud.register_clip(session=s, content_hash=H2, file_name="x.MP4", size_bytes=1)
    for attempt in range(3):
        with session_scope(engine) as s:
            crud.stage_started(session=s, clip_id=cid, stage="preprocess", version="1")
        with session_scope(engine) as s:
            status = "failed" if attempt < 2 else "done"
            crud.stage_finished(
                session=s,
                clip_id=cid,
                stage="preprocess",
                status=status,
                error="boom" if attempt < 2 else None,
            )
    with session_scope(engine) as s:
        runs = s.execute(select(StageRun)).scalars().all()
        assert len(runs) == 1
        assert (runs[0].attempts, runs[0].status, runs[0].error) == (3, "done", None)
        assert runs[0].duration_s is not None and runs[0].duration_s >= 0


def test_replacing_gps_points_replaces(engine) -> None:
    with session_scope(engine) as s:
        cid, _ = crud.register_clip(session=s, content_hash=H2, file_name="x.MP4", size_bytes=1)
    pts = [
        {"t": float(i), "lat": 50.0 + i * 1e-4, "lon": 30.0, "speed_kmh": 36.0, "heading": 90.0}
        for i in range(5)
    ]
    for _ in range(2):
        with session_scope(engine) as s:
            crud.replace_gps_points(session=s, clip_id=cid, points=pts)
    with session_scope(engine) as s:
        assert crud.count_rows(session=s, model=GpsPoint) == 5
        assert s.get(Clip, cid).gps_points == 5


def test_deleting_a_clip_cascades(engine) -> None:
    with session_scope(engine) as s:
        cid, _ = crud.register_clip(session=s, content_hash=H1, file_name="x.MP4", size_bytes=1)
        crud.replace_gps_points(session=s, clip_id=cid, points=[{"t": 0.0, "lat": 1.0, "lon": 2.0}])
        crud.stage_started(session=s, clip_id=cid, stage="ingest", version="1")
    with session_scope(engine) as s:
        s.delete(s.get(Clip, cid))
    with session_scope(engine) as s:
        assert crud.count_rows(session=s, model=GpsPoint) == 0
        assert crud.count_rows(session=s, model=StageRun) == 0


def test_a_clip_is_claimed_by_one_attempt_at_a_time(engine) -> None:
    with session_scope(engine) as s:
        cid, _ = crud.register_clip(session=s, content_hash=H1, file_name="x.MP4", size_bytes=1)
    claim = dict(clip_id=cid, stage="heavy", version="1", lease_s=60)
    with session_scope(engine) as s:
        assert crud.claim_stage(session=s, owner="worker-a", **claim)
    with session_scope(engine) as s:
        assert not crud.claim_stage(session=s, owner="worker-b", **claim)  # a live claim holds
        assert crud.renew_claim(session=s, clip_id=cid, stage="heavy", owner="worker-a", lease_s=60)
        assert not crud.renew_claim(session=s, clip_id=cid, stage="heavy", owner="worker-b", lease_s=60)
    # worker-a dies: its lease runs out (time is moved, not waited for)
    with session_scope(engine) as s:
        s.execute(StageRun.__table__.update().values(lease_until=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    with session_scope(engine) as s:
        assert crud.claim_stage(session=s, owner="worker-b", **claim)
    with session_scope(engine) as s:
        # the dead attempt's late word is refused; the live one's is recorded
        assert not crud.stage_finished(
            session=s, clip_id=cid, stage="heavy", status="failed", owner="worker-a"
        )
        assert crud.stage_finished(session=s, clip_id=cid, stage="heavy", status="done", owner="worker-b")
    with session_scope(engine) as s:
        run = s.execute(select(StageRun)).scalar_one()
        assert (run.status, run.attempts, run.owner, run.lease_until) == ("done", 2, "worker-b", None)
        # finished work is free again (a rerun may claim it)
        assert crud.claim_stage(session=s, owner="worker-c", **claim)


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "sqlcipher"])
def test_a_pooled_connection_sees_what_others_committed_after_a_read_left_unfinished(
    tmp_path: Path, keyed: bool
) -> None:
    """A result whose rows were not all read keeps a read snapshot open on its connection; back in the
    pool, the connection must not hand that old snapshot to its next user."""
    from sqlalchemy.pool import QueuePool

    from dashcam.config import load_config
    from dashcam.settings import Settings

    env = {"DASHCAM_DB_KEY": secrets.token_urlsafe(32)} if keyed else {}
    config = load_config(Settings.from_env(env))
    url = f"sqlite:///{tmp_path / 'dashcam.db'}"
    engine = make_engine(url, config=config, poolclass=QueuePool, pool_size=1, max_overflow=0)
    writer = make_engine(url, config=config, poolclass=QueuePool)  # another process, as far as SQLite knows
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        c.exec_driver_sql("INSERT INTO t VALUES (1), (2), (3)")
    with engine.connect() as c:
        unfinished = c.exec_driver_sql("SELECT x FROM t")
        assert unfinished.fetchone() == (1,)  # the rest is never read, and the result is still held
    with writer.begin() as c:
        c.exec_driver_sql("INSERT INTO t VALUES (4)")
    with engine.connect() as c:  # the same pooled connection
        assert c.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 4
    assert unfinished is not None
    engine.dispose()
    writer.dispose()


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "sqlcipher"])
def test_opening_another_connection_keeps_the_process_locks_so_others_commits_are_seen(
    tmp_path: Path, keyed: bool
) -> None:
    """POSIX locks belong to the process: a new connection that opened and closed the database file on
    its own would drop the locks of the connections already open. Another process closing its last
    connection would then delete the WAL under them, and they would never see a commit again."""
    import subprocess
    import sys

    from sqlalchemy.pool import QueuePool

    from dashcam.config import load_config
    from dashcam.settings import Settings

    env = {"DASHCAM_DB_KEY": secrets.token_urlsafe(32)} if keyed else {}
    config = load_config(Settings.from_env(env))
    db = tmp_path / "dashcam.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url, config=config, poolclass=QueuePool, pool_size=2)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as a, engine.connect() as b:  # the second opens while the first is open
        assert a.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
        assert b.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
    writer = (
        "import sys\nfrom dashcam.config import load_config\nfrom dashcam.db.session import make_engine\n"
        "e = make_engine(sys.argv[1], config=load_config())\n"
        "with e.begin() as c:\n    c.exec_driver_sql('INSERT INTO t VALUES (2)')\ne.dispose()\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DASHCAM_")}
    done = subprocess.run(
        [sys.executable, "-c", writer, url], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert Path(f"{db}-wal").exists()  # this process's connections are still open on it
    with engine.connect() as a, engine.connect() as b:  # the pooled connections, as they were
        assert a.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2
        assert b.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2
    engine.dispose()
