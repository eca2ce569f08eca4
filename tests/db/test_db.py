"""Schema migrations and idempotent writes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from dashcam.db import crud
from dashcam.db.models import PLATE_COVER, Clip, GpsPoint, Sighting, SightingTrack, StageRun
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
    assert PLATE_COVER in indexed and ("lat", "lon") in indexed and ("label", "time_utc") in indexed
    engine.dispose()
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    assert not TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    upgrade(db_url)  # and back up again
    assert current_revision(db_url) == head_revision()


def test_migration_0011_adds_and_removes_the_track_columns(db_url: str) -> None:
    new = {"merged_from", "parts", "signature", "continues_id"}
    upgrade(db_url, "0011")
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


def test_migration_0012_moves_the_boxes_out_of_the_sighting_row_and_back(db_url: str) -> None:
    """A database with sightings written before 0012 keeps every box and signature: in sighting_track on
    the way up (rows without boxes get an empty list), in the sighting row again on the way down; a
    sighting deleted takes its boxes with it."""
    import json

    from sqlalchemy import text

    boxes = [[0.5, 10.0, 20.0, 110.0, 90.0, 0.8], [0.6, 12.0, 20.0, 112.0, 90.0, 0.0]]
    upgrade(db_url, "0011")
    engine = make_engine(db_url)
    with session_scope(engine) as s:  # the clip table is the same at 0011 and at the head
        clip, _ = crud.register_clip(session=s, content_hash=H1, file_name="a.MP4", size_bytes=1)
    with engine.begin() as c:
        ids = [
            c.execute(
                text(
                    "INSERT INTO sighting (clip_id, track_id, label, score, first_s, last_s, best_s, frames, "
                    "boxes, signature) VALUES (:c, :t, 'car', 0.8, 0.5, 0.6, 0.5, 2, :b, :s) RETURNING id"
                ),
                {"c": clip, "t": t, "b": b, "s": sig},
            ).scalar_one()
            for t, b, sig in ((1, json.dumps(boxes), json.dumps([0.25] * 4)), (2, None, None))
        ]
        c.execute(
            text(
                "INSERT INTO plate_read (sighting_id, clip_id, t, text_raw, text, plate_key, confidence) "
                "VALUES (:s, :c, 0.5, 'AB12CDE', 'AB12CDE', 'AB12CDE', 0.9)"
            ),
            {"s": ids[0], "c": clip},
        )
    engine.dispose()
    upgrade(db_url, "0012")
    engine = make_engine(db_url)
    insp = inspect(engine)
    assert not {"boxes", "signature"} & {c["name"] for c in insp.get_columns("sighting")}
    # SQLite copies the table: what points at a sighting stays, and so do its indexes (the expression
    # index too, which SQLAlchemy's reflection skips: read from sqlite_master)
    names = {ix["name"] for ix in insp.get_indexes("sighting")}
    if db_url.startswith("sqlite"):
        with engine.connect() as c:
            names = set(
                c.execute(text("SELECT name FROM sqlite_master WHERE tbl_name = 'sighting'")).scalars()
            )
    assert {"ix_sighting_lat_band", "ix_sighting_plate_corrected", "ix_sighting_plate_text"} <= names
    with engine.begin() as c:
        assert c.execute(text("SELECT sighting_id FROM plate_read")).scalars().all() == [ids[0]]
        # the link to the previous file's sighting still lets go when that one is deleted (ON DELETE SET NULL)
        c.execute(text("UPDATE sighting SET continues_id = :a WHERE id = :b"), {"a": ids[1], "b": ids[0]})
        rows = c.execute(
            text("SELECT sighting_id, boxes, signature FROM sighting_track ORDER BY sighting_id")
        )
        got = [(sid, json.loads(b) if isinstance(b, str) else b, s) for sid, b, s in rows]
        assert [g[:2] for g in got] == [(ids[0], boxes), (ids[1], [])]
        assert (json.loads(got[0][2]) if isinstance(got[0][2], str) else got[0][2]) == [0.25] * 4
        c.execute(text("DELETE FROM sighting WHERE id = :i"), {"i": ids[1]})
        assert c.execute(text("SELECT count(*) FROM sighting_track")).scalar_one() == 1
        assert (
            c.execute(text("SELECT continues_id FROM sighting WHERE id = :i"), {"i": ids[0]}).scalar() is None
        )
    engine.dispose()
    downgrade(db_url, "0011")
    engine = make_engine(db_url)
    assert "sighting_track" not in inspect(engine).get_table_names()
    with engine.connect() as c:
        b, sig = c.execute(text("SELECT boxes, signature FROM sighting WHERE id = :i"), {"i": ids[0]}).one()
    engine.dispose()
    assert (json.loads(b) if isinstance(b, str) else b) == boxes
    assert (json.loads(sig) if isinstance(sig, str) else sig) == [0.25] * 4
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
        sighting = Sighting(clip_id=cid, track_id=1, label="car", score=0.9, first_s=0, last_s=1, best_s=0)
        s.add(sighting)
        s.flush()
        assert sighting.id is not None
        s.add(SightingTrack(sighting_id=sighting.id, boxes=[[0.0, 1.0, 2.0, 3.0, 4.0, 0.9]]))
    with session_scope(engine) as s:
        s.delete(s.get(Clip, cid))
    with session_scope(engine) as s:
        assert crud.count_rows(session=s, model=GpsPoint) == 0
        assert crud.count_rows(session=s, model=StageRun) == 0
        assert crud.count_rows(session=s, model=Sighting) == 0
        assert crud.count_rows(session=s, model=SightingTrack) == 0


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
