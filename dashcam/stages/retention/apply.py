"""Retention's deleting half: the planned files go, each re-checked against the rules just before, and every
outcome recorded in ``retention_event`` (the rules and the plan: :mod:`dashcam.stages.retention.plan`)."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from typing import Any

from sqlalchemy import update

from dashcam.crypt.keys import EncryptionProblem
from dashcam.db.models import Clip, Media, RetentionEvent, utcnow
from dashcam.db.session import session_scope
from dashcam.stages.context import StageContext
from dashcam.stages.retention.plan import DiskUsage, Facts, Item, Plan, plan
from dashcam.storage import Area

log = logging.getLogger(__name__)


def apply(ctx: StageContext, plan_: Plan) -> Plan:
    """Delete the planned files, re-checking the rules per file; record each outcome in retention_event."""
    clip_ids = sorted({i.clip_id for i in plan_.items if i.clip_id is not None})
    facts = Facts.read(ctx, clip_ids)
    for item in plan_.items:
        why = _still_held(ctx, facts, item)
        if why is not None:
            item.status, item.error = "kept", why
            log.info("retention: kept %s/%s: %s", item.area, item.key, why)
            continue
        try:
            ctx.storage[item.area].delete(item.key)
        except OSError as exc:
            item.status, item.error = "failed", f"{type(exc).__name__}: {exc.strerror or exc}"
            log.warning("retention: cannot delete %s/%s: %s (tried again next run)", item.area, item.key, exc)
        else:
            item.status = "deleted"
        _record(ctx, item)
    return plan_


def _still_held(ctx: StageContext, facts: Facts, item: Item) -> str | None:
    """The rules again, just before deleting: a user may have pinned the clip since the plan was made."""
    clip = facts.clips.get(item.clip_id) if item.clip_id is not None else None
    if item.what == "raw_clip":
        if clip is None or clip.raw_key != item.key:
            return "clip changed since planning"
        return facts.raw_hold(clip)
    if item.what == "preproc" and clip is not None:
        return facts.protection(clip)
    if item.what == "archived_media":
        m = facts.media.get(item.key)
        if m is None or m.area != "archive":
            return "media row changed since planning"
        bad = _archive_copy_problem(ctx.storage["archive"], m)
        return f"archive copy {bad}" if bad else None
    if item.what == "orphan":
        if item.key in facts.media:
            return "a media row now refers to it"
        return facts.protection(clip) if clip is not None else None
    return None


def _archive_copy_problem(area: Area, m: Media) -> str | None:
    """Why the archive copy does not stand for the heavy_output one (a sealed copy is decrypted to check it,
    and one that cannot be opened, damaged or without its key, keeps the heavy_output copy)."""
    if not area.exists(m.key):
        return "missing"
    try:
        if area.size(m.key) != m.size_bytes or area.sha256(m.key) != m.sha256:
            return "differs from its row"
    except EncryptionProblem as exc:
        return f"cannot be opened ({exc})"
    return None


def _record(ctx: StageContext, item: Item) -> None:
    now = utcnow()
    with session_scope(ctx.engine) as s:
        s.add(
            RetentionEvent(
                at=now,
                clip_id=item.clip_id,
                area=item.area,
                key=item.key,
                what=item.what,
                reason=item.reason,
                status=item.status,
                size_bytes=item.size_bytes,
                error=item.error[:1000] if item.error else None,
            )
        )
        if item.what == "raw_clip" and item.status == "deleted":
            s.execute(
                update(Clip)
                .where(Clip.id == item.clip_id, Clip.raw_key == item.key)  # type: ignore[arg-type]
                .values(raw_key=None, raw_deleted_at=now, updated_at=now)
            )


def summary(plan_: Plan, *, dry_run: bool) -> dict[str, Any]:
    """The report: every file with its outcome, bytes per area, and what the rules held back."""
    doc = plan_.as_dict()
    gone = [i for i in plan_.items if i.status in (("planned",) if dry_run else ("deleted",))]
    by_area: dict[str, dict[str, int]] = {}
    for i in gone:
        a = by_area.setdefault(i.area, {"files": 0, "bytes": 0})
        a["files"] += 1
        a["bytes"] += i.size_bytes
    doc.update(
        dry_run=dry_run,
        files=len(gone),
        bytes=sum(i.size_bytes for i in gone),
        by_area=by_area,
        failed=[
            {"area": i.area, "key": i.key, "error": i.error} for i in plan_.items if i.status == "failed"
        ],
    )
    return doc


def run(
    ctx: StageContext,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    disk_usage: DiskUsage = shutil.disk_usage,
) -> dict[str, Any]:
    """Plan, and unless a dry run, delete; returns the report (see :func:`summary`)."""
    p = plan(ctx, now=now, disk_usage=disk_usage)
    if not dry_run:
        apply(ctx, p)
    return summary(p, dry_run=dry_run)
