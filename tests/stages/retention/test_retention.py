"""Retention rules on real files and a real database; ages are simulated by editing timestamps."""

from __future__ import annotations

import os
import time
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from dashcam.db.models import Clip, Media, RetentionEvent, StageRun
from dashcam.db.session import session_scope
from dashcam.stages.archive.record import run_archive
from dashcam.stages.context import StageContext
from dashcam.stages.retention.apply import apply as apply_retention
from dashcam.stages.retention.apply import run as run_retention
from dashcam.stages.retention.plan import plan as plan_retention
from dashcam.storage import Area, clip_key
from tests.stages.conftest import MANIFEST, add_medium, age, clip_row, make_clip

OLD = 400  # days: past every default retention (90 / 30 / 7)
NAME = "2023_0815_120000_000001F.MP4"


def _events(ctx: StageContext) -> list[RetentionEvent]:
    with session_scope(ctx.engine) as s:
        rows = list(s.execute(select(RetentionEvent).order_by(RetentionEvent.id)).scalars())
        s.expunge_all()
    return rows


def _manifest(ctx: StageContext, clip_id: int) -> str:
    return clip_key(clip_row(ctx, clip_id).content_hash, MANIFEST)


def test_old_finished_clips_go_young_ones_stay(ctx_db: StageContext) -> None:
    ctx = ctx_db
    old = make_clip(ctx, NAME)
    young = make_clip(ctx, "2023_0815_120100_000002F.MP4")
    age(ctx, old, OLD)
    age(ctx, young, 10)  # past heavy_output (7) only: nothing of it is in heavy_output any more
    raw_key, old_manifest = clip_row(ctx, old).raw_key, _manifest(ctx, old)
    size = ctx.storage["raw"].size(raw_key)

    doc = run_retention(ctx)
    went = {(i["area"], i["key"]) for i in doc["items"] if i["status"] == "deleted"}
    assert went == {("raw", raw_key), ("preproc", old_manifest)}
    assert doc["by_area"]["raw"] == {"files": 1, "bytes": size}
    assert not ctx.storage["raw"].exists(raw_key) and not ctx.storage["preproc"].exists(old_manifest)
    assert ctx.storage["raw"].exists(clip_row(ctx, young).raw_key)
    assert ctx.storage["preproc"].exists(_manifest(ctx, young))
    c = clip_row(ctx, old)
    assert c.raw_key is None and c.raw_deleted_at is not None
    events = _events(ctx)
    assert {(e.area, e.key, e.status, e.reason) for e in events} == {
        ("raw", raw_key, "deleted", "age"),
        ("preproc", old_manifest, "deleted", "age"),
    }
    assert next(e for e in events if e.area == "raw").size_bytes == size
    # archived media are never retention's business
    assert len(list(ctx.storage["archive"].keys())) == 4
    assert run_retention(ctx)["files"] == 0


def _protected(ctx: StageContext, cid: int) -> None:
    with session_scope(ctx.engine) as s:
        s.execute(update(Clip).where(Clip.id == cid).values(protected=True))


def _event_kind(ctx: StageContext, cid: int) -> None:
    with session_scope(ctx.engine) as s:  # an event clip a user un-flagged: its kind still protects it
        s.execute(update(Clip).where(Clip.id == cid).values(kind="event", protected=False))


def _pinned(ctx: StageContext, cid: int) -> None:
    with session_scope(ctx.engine) as s:
        s.execute(update(Clip).where(Clip.id == cid).values(pinned=True))


def _stage(stage: str, status: str | None) -> Callable[[StageContext, int], None]:
    def change(ctx: StageContext, cid: int) -> None:
        with session_scope(ctx.engine) as s:
            q = StageRun.__table__.c
            if status is None:
                s.execute(StageRun.__table__.delete().where(q.clip_id == cid, q.stage == stage))
            else:
                s.execute(update(StageRun).where(q.clip_id == cid, q.stage == stage).values(status=status))

    return change


def _media_waiting(ctx: StageContext, cid: int) -> None:
    key = add_medium(ctx, cid, "sighting-0009-thumb.jpg")  # a heavy rerun after the archive
    with session_scope(ctx.engine) as s:
        s.execute(update(Media).where(Media.key == key).values(created_at=clip_row(ctx, cid).created_at))


RAW_RULES: dict[str, Callable[[StageContext, int], None] | None] = {
    "no rule applies (control)": None,
    "protected": _protected,
    "event clip": _event_kind,
    "pinned": _pinned,
    "ingest not done": _stage("ingest", None),
    "preprocess failed": _stage("preprocess", "failed"),
    "heavy running": _stage("heavy", "running"),
    "archive not done": _stage("archive", None),
    "archive failed": _stage("archive", "failed"),
    "media not archived": _media_waiting,
}


@pytest.mark.parametrize("rule", list(RAW_RULES))
def test_each_rule_keeps_an_old_raw_clip(ctx_db: StageContext, rule: str) -> None:
    ctx = ctx_db
    cid = make_clip(ctx, NAME)
    age(ctx, cid, OLD)
    change = RAW_RULES[rule]
    if change is not None:
        change(ctx, cid)
    raw_key = clip_row(ctx, cid).raw_key
    dry = run_retention(ctx, dry_run=True)
    planned = {i["key"] for i in dry["items"] if i["area"] == "raw"}
    run_retention(ctx)
    if change is None:  # the same clip, no rule: it goes, so each rule below is what keeps it
        assert planned == {raw_key} and not ctx.storage["raw"].exists(raw_key)
        return
    assert planned == set() and ctx.storage["raw"].exists(raw_key)
    assert clip_row(ctx, cid).raw_key == raw_key
    assert any(h["key"] == raw_key for h in dry["held"])
    assert not [e for e in _events(ctx) if e.area == "raw"]


PREPROC_RULES = {
    "no rule applies (control)": None,
    "heavy not done": _stage("heavy", "failed"),
    "preprocess not done": _stage("preprocess", "running"),
    "protected": _protected,
    "pinned": _pinned,
}


@pytest.mark.parametrize("rule", list(PREPROC_RULES))
def test_each_rule_keeps_old_preprocess_data(ctx: StageContext, rule: str) -> None:
    cid = make_clip(ctx, NAME)
    age(ctx, cid, OLD)
    change = PREPROC_RULES[rule]
    if change is not None:
        change(ctx, cid)
    key = _manifest(ctx, cid)
    run_retention(ctx)
    assert ctx.storage["preproc"].exists(key) == (change is not None)


def _leftover(ctx: StageContext, cid: int) -> str:
    """An archived medium whose heavy_output copy survived (the delete after the flip failed)."""
    m = _rows(ctx, cid)[0]
    ctx.storage["heavy_output"].put_file(m.key, ctx.storage["archive"].path(m.key))
    return m.key


def _rows(ctx: StageContext, cid: int) -> list[Media]:
    with session_scope(ctx.engine) as s:
        rows = list(s.execute(select(Media).where(Media.clip_id == cid).order_by(Media.key)).scalars())
        s.expunge_all()
    return rows


def test_heavy_output_only_loses_archived_copies_and_old_orphans(ctx: StageContext) -> None:
    heavy = ctx.storage["heavy_output"]
    cid = make_clip(ctx, NAME, media=3)
    leftover = _leftover(ctx, cid)
    corrupt = _rows(ctx, cid)[1].key  # a leftover whose archive copy went bad: the only good copy
    heavy.put_file(corrupt, ctx.storage["archive"].path(corrupt))
    ctx.storage["archive"].write_bytes(corrupt, b"bit rot")
    waiting = add_medium(ctx, cid, "sighting-0009-thumb.jpg")  # not archived yet
    orphan = clip_key(clip_row(ctx, cid).content_hash, "sighting-0042-thumb.jpg")  # no row: a crashed heavy
    heavy.write_bytes(orphan, b"x" * 100)
    fresh_orphan = "ff/ffffffffffffffff/sighting-0001-thumb.jpg"  # maybe being written right now
    heavy.write_bytes(fresh_orphan, b"y" * 100)
    age(ctx, cid, OLD)
    past = time.time() - OLD * 86400
    os.utime(heavy.path(orphan), (past, past))

    doc = run_retention(ctx)
    outcome = {i["key"]: i["status"] for i in doc["items"] if i["area"] == "heavy_output"}
    assert outcome == {leftover: "deleted", orphan: "deleted", corrupt: "kept"}
    assert not heavy.exists(leftover) and not heavy.exists(orphan)
    assert heavy.exists(corrupt) and heavy.exists(waiting) and heavy.exists(fresh_orphan)
    assert ctx.storage["archive"].exists(leftover)
    kept = next(i for i in doc["items"] if i["key"] == corrupt)
    assert kept["error"] == "archive copy differs from its row"
    assert any(h["key"] == waiting and h["why"] == "not archived" for h in doc["held"])


def test_an_orphan_of_a_running_stage_stays(ctx: StageContext) -> None:
    cid = make_clip(ctx, NAME)
    age(ctx, cid, OLD)
    _stage("heavy", "running")(ctx, cid)
    heavy = ctx.storage["heavy_output"]
    orphan = clip_key(clip_row(ctx, cid).content_hash, "sighting-0042-thumb.jpg")
    heavy.write_bytes(orphan, b"x" * 100)
    past = time.time() - OLD * 86400
    os.utime(heavy.path(orphan), (past, past))
    run_retention(ctx)
    assert heavy.exists(orphan)


def test_dry_run_lists_files_and_bytes_and_touches_nothing(ctx: StageContext) -> None:
    cid = make_clip(ctx, NAME, size=12345)
    age(ctx, cid, OLD)
    raw_key = clip_row(ctx, cid).raw_key
    doc = run_retention(ctx, dry_run=True)
    assert doc["dry_run"] and doc["files"] == 2
    assert doc["by_area"]["raw"] == {"files": 1, "bytes": 12345}
    assert doc["bytes"] == 12345 + ctx.storage["preproc"].size(_manifest(ctx, cid))
    assert all(i["status"] == "planned" for i in doc["items"])
    assert ctx.storage["raw"].exists(raw_key) and clip_row(ctx, cid).raw_key == raw_key
    assert _events(ctx) == []


def test_a_file_that_cannot_be_deleted_is_reported_and_retried(
    ctx: StageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = make_clip(ctx, NAME)
    age(ctx, cid, OLD)
    raw_key = clip_row(ctx, cid).raw_key
    real_delete = Area.delete

    def refusing(self: Area, key: str) -> bool:
        # tests run as root, where a read-only folder does not stop unlink(): refuse like a NAS would
        if key == raw_key:
            raise PermissionError(13, "Permission denied", str(self.path(key)))
        return real_delete(self, key)

    monkeypatch.setattr(Area, "delete", refusing)
    doc = run_retention(ctx)
    assert doc["failed"] == [{"area": "raw", "key": raw_key, "error": "PermissionError: Permission denied"}]
    assert "raw" not in doc["by_area"]
    assert ctx.storage["raw"].exists(raw_key) and clip_row(ctx, cid).raw_key == raw_key
    assert [(e.key, e.status) for e in _events(ctx) if e.area == "raw"] == [(raw_key, "failed")]

    monkeypatch.setattr(Area, "delete", real_delete)
    doc = run_retention(ctx)
    assert [i["key"] for i in doc["items"] if i["status"] == "deleted"] == [raw_key]
    assert clip_row(ctx, cid).raw_key is None
    assert [(e.key, e.status) for e in _events(ctx) if e.area == "raw"] == [
        (raw_key, "failed"),
        (raw_key, "deleted"),
    ]


def test_a_pin_between_plan_and_delete_keeps_the_clip(ctx: StageContext) -> None:
    cid = make_clip(ctx, NAME)
    age(ctx, cid, OLD)
    plan = plan_retention(ctx)
    _pinned(ctx, cid)
    apply_retention(ctx, plan)
    assert ctx.storage["raw"].exists(clip_row(ctx, cid).raw_key)
    assert {i.what: i.status for i in plan.items} == {"raw_clip": "kept", "preproc": "kept"}


Usage = namedtuple("Usage", "total used free")


def test_quota_mode_deletes_oldest_first_within_the_rules(ctx: StageContext, pipeline_env: Path) -> None:
    import json

    from flows.common import reset_context

    cfg = pipeline_env / "config.json"
    doc = json.loads(cfg.read_text())
    doc["archive"] = {"quota_areas": {"raw": 80}}
    cfg.write_text(json.dumps(doc))
    reset_context()
    ctx = StageContext.load()
    size = 100_000
    ids = [make_clip(ctx, f"2023_0815_12{i:02d}00_00000{i}F.MP4", size=size) for i in range(5)]
    for i, cid in enumerate(ids):
        age(ctx, cid, 50 - i)  # all younger than 90 days: age alone deletes no raw clip
    _pinned(ctx, ids[0])  # the oldest, but pinned
    raw_keys = [clip_row(ctx, cid).raw_key for cid in ids]

    def full_disk(path: str) -> Usage:
        # a 1 MB disk holding these clips and 470 kB of other things: 97% -> 170 kB must go
        used = 470_000 + sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
        return Usage(1_000_000, used, 1_000_000 - used)

    dry = run_retention(ctx, dry_run=True, disk_usage=full_disk)
    raw = [(i["key"], i["reason"]) for i in dry["items"] if i["area"] == "raw"]
    assert raw == [(raw_keys[1], "quota"), (raw_keys[2], "quota")]  # oldest eligible first, until under 80%
    doc = run_retention(ctx, disk_usage=full_disk)
    assert [ctx.storage["raw"].exists(k) for k in raw_keys] == [True, False, False, True, True]
    assert doc["by_area"]["raw"] == {"files": 2, "bytes": 2 * size}
    assert {e.reason for e in _events(ctx) if e.area == "raw"} == {"quota"}
    assert run_retention(ctx, dry_run=True, disk_usage=full_disk)["files"] == 0  # now under the quota

    # nothing eligible left that could help: say so instead of breaking a rule
    def fuller(path: str) -> Usage:
        return Usage(2_000_000, 1_950_000, 50_000)

    doc = run_retention(ctx, dry_run=True, disk_usage=fuller)
    assert [i["key"] for i in doc["items"] if i["area"] == "raw"] == [raw_keys[3], raw_keys[4]]
    assert any("over the 80% quota" in n for n in doc["notes"])


def test_an_archived_clip_with_a_rerun_heavy_is_archived_again_before_raw_can_go(ctx: StageContext) -> None:
    cid = make_clip(ctx, NAME)
    _media_waiting(ctx, cid)
    age(ctx, cid, OLD)
    run_retention(ctx)
    raw_key = clip_row(ctx, cid).raw_key
    assert ctx.storage["raw"].exists(raw_key)
    run_archive(cid, ctx)
    age(ctx, cid, OLD)
    run_retention(ctx)
    assert not ctx.storage["raw"].exists(raw_key)


def test_a_fresh_orphan_stays_even_with_zero_day_retention(ctx: StageContext, pipeline_env: Path) -> None:
    """heavy_output: 0 days would delete a file a running heavy stage wrote a moment ago, before its row."""
    import json

    from flows.common import reset_context

    cfg = pipeline_env / "config.json"
    doc = json.loads(cfg.read_text())
    doc["global"]["storage_retention_days"] = {"heavy_output": 0}
    cfg.write_text(json.dumps(doc))
    reset_context()
    ctx = StageContext.load()
    heavy = ctx.storage["heavy_output"]
    fresh, stale = (
        "ff/ffffffffffffffff/sighting-0001-thumb.jpg",
        "ee/eeeeeeeeeeeeeeee/sighting-0001-thumb.jpg",
    )
    heavy.write_bytes(fresh, b"y" * 100)
    heavy.write_bytes(stale, b"z" * 100)
    past = time.time() - 2 * 86400
    os.utime(heavy.path(stale), (past, past))
    run_retention(ctx)
    assert heavy.exists(fresh) and not heavy.exists(stale)
