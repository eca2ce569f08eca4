"""The reconcile sweep's view: which clips stalled, and which are merely on their way."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from dashcam.db import crud
from dashcam.db.models import StageRun
from dashcam.db.session import make_engine, session_scope, upgrade
from dashcam.stages.keys import pending_work

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def _finish(s, clip_id: int, stage: str, at: datetime) -> None:
    crud.stage_started(session=s, clip_id=clip_id, stage=stage, version="1")
    crud.stage_finished(session=s, clip_id=clip_id, stage=stage)
    s.execute(
        update(StageRun).where(StageRun.clip_id == clip_id, StageRun.stage == stage).values(finished_at=at)
    )


def test_pending_work_finds_lost_events_and_dead_claims(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        ids = [
            crud.register_clip(session=s, content_hash=c * 64, file_name=f"{c}.MP4", size_bytes=1)[0]
            for c in "abcd"
        ]
        a, b, c, d = ids
        _finish(s, a, "ingest", NOW - timedelta(hours=1))  # preprocess never started: a lost chain event
        _finish(s, b, "ingest", NOW - timedelta(seconds=30))  # ...just now: the event may be on its way
        _finish(s, c, "ingest", NOW - timedelta(hours=1))
        _finish(s, c, "preprocess", NOW - timedelta(hours=1))
        crud.claim_stage(session=s, clip_id=c, stage="heavy", version="1", owner="dead", lease_s=60)
        s.execute(
            update(StageRun)
            .where(StageRun.clip_id == c, StageRun.stage == "heavy")
            .values(lease_until=NOW - timedelta(minutes=5))
        )
        _finish(s, d, "ingest", NOW - timedelta(hours=1))
        crud.claim_stage(session=s, clip_id=d, stage="preprocess", version="1", owner="alive", lease_s=60)
        s.execute(
            update(StageRun)
            .where(StageRun.clip_id == d, StageRun.stage == "preprocess")
            .values(lease_until=NOW + timedelta(minutes=1))
        )
    with session_scope(engine) as s:
        todo = {(w["clip_id"], w["stage"], w["attempt"]) for w in pending_work(s, now=NOW, grace_s=600)}
    engine.dispose()
    assert todo == {(a, "preprocess", 0), (c, "heavy", 1)}
