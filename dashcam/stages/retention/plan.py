"""Retention's rules and plan: which files in raw, preproc and heavy_output may go (deleting them: ``apply``).

What is looked at, and the age each is judged by (all from the database, except orphans):

* raw clips (``clip.raw_key``): age since the clip finished every stage, i.e. the latest ``finished_at`` of
  its ingest, preprocess, heavy and archive runs, against ``storage_retention_days.raw_videos``. Only when all
  four runs are ``done``, no media of the clip still waits in heavy_output, and the clip is not protected
  (``protected``, or an event/protected clip by kind) and not pinned. Raw files without a clip row are never
  touched: they may be footage still being registered.
* preprocess data (the manifest ``clip_key(hash, "preprocess.json")``): age since the preprocess run
  finished, against ``preproc_data``; only once the heavy stage (its reader) is done, and never for
  protected or pinned clips.
* heavy output: media whose row says ``archive`` but whose heavy_output copy is still there (a crash or a
  failed delete after the archive flip), by ``media.archived_at`` against ``heavy_output``, and only while the
  archive copy is verified (size and sha256) at deletion time. Media whose row says ``heavy_output`` are
  never deleted: they are not archived yet.
* orphans in preproc and heavy_output (files no row knows: leftovers of a crashed stage): by file time,
  at least a day old, and never under a clip whose stage is running. The archive itself is never touched.

Disk-quota mode (``archive.quota_percent`` / ``archive.quota_areas``): when a local area's file system is
fuller than its threshold, the same eligible files go regardless of age, oldest first, until it is not.

A real run deletes, records every file in ``retention_event`` (deleted, or failed with the reason) and
reports the bytes. A file that cannot be deleted keeps its state, so the next run tries again.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dashcam.db.models import Clip, Media, StageRun, utcnow
from dashcam.db.session import session_scope
from dashcam.stages.context import StageContext
from dashcam.stages.keys import STAGES
from dashcam.storage import Area, clip_key

log = logging.getLogger(__name__)
MANIFEST_NAME = "preprocess.json"  # the preprocess stage's manifest (dashcam.stages.preprocess.record)
ORPHAN_MIN_AGE = timedelta(days=1)
PROTECTED_KINDS = ("event", "protected")
DiskUsage = Callable[[str], Any]  # shutil.disk_usage's shape: .total, .used, .free


@dataclass
class Item:
    """One file retention deletes (or would)."""

    area: str
    key: str
    what: str  # raw_clip, preproc, archived_media, orphan
    size_bytes: int
    aged_at: datetime
    clip_id: int | None = None
    reason: str = "age"  # age or quota
    status: str = "planned"  # planned, deleted, failed, kept
    error: str | None = None


@dataclass
class Plan:
    """What retention would delete now, what the rules held back although old enough, and notes."""

    at: datetime
    items: list[Item] = field(default_factory=list)
    held: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "items": [{**asdict(i), "aged_at": i.aged_at.isoformat()} for i in self.items],
            "held": self.held,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Plan:
        items = [Item(**{**i, "aged_at": datetime.fromisoformat(i["aged_at"])}) for i in doc["items"]]
        return cls(datetime.fromisoformat(doc["at"]), items, list(doc["held"]), list(doc["notes"]))


def _utc(ts: datetime | None) -> datetime | None:
    return ts if ts is None or ts.tzinfo else ts.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- the rules


@dataclass
class Facts:
    """What the rules need from the database, read once per plan."""

    clips: dict[int, Clip]
    by_prefix: dict[str, Clip]
    runs: dict[tuple[int, str], StageRun]
    media: dict[str, Media]
    waiting: set[int]  # clips with media still in heavy_output

    @classmethod
    def read(cls, ctx: StageContext, clip_ids: list[int] | None = None) -> Facts:
        with session_scope(ctx.engine) as s:
            q_clip, q_run, q_media = select(Clip), select(StageRun), select(Media)
            if clip_ids is not None:
                q_clip = q_clip.where(Clip.id.in_(clip_ids))  # type: ignore[union-attr]
                q_run = q_run.where(StageRun.clip_id.in_(clip_ids))  # type: ignore[attr-defined]
                q_media = q_media.where(Media.clip_id.in_(clip_ids))  # type: ignore[attr-defined]
            clips = {int(c.id): c for c in s.execute(q_clip).scalars()}  # type: ignore[arg-type]
            runs = {(r.clip_id, r.stage): r for r in s.execute(q_run).scalars()}
            media = {m.key: m for m in s.execute(q_media).scalars()}
            s.expunge_all()
        by_prefix = {clip_key(c.content_hash, "x").rsplit("/", 1)[0]: c for c in clips.values()}
        waiting = {m.clip_id for m in media.values() if m.area == "heavy_output"}
        return cls(clips, by_prefix, runs, media, waiting)

    def protection(self, clip: Clip) -> str | None:
        if clip.protected or clip.kind in PROTECTED_KINDS:
            return "protected"
        if clip.pinned:
            return "pinned"
        return None

    def done(self, clip_id: int, stage: str) -> StageRun | None:
        run = self.runs.get((clip_id, stage))
        return run if run is not None and run.status == "done" else None

    def raw_hold(self, clip: Clip) -> str | None:
        """Why a raw clip must stay (None: it may go)."""
        if (why := self.protection(clip)) is not None:
            return why
        for stage in STAGES:
            if self.done(int(clip.id), stage) is None:  # type: ignore[arg-type]
                return f"{stage} not done"
        if clip.id in self.waiting:
            return "media not archived"
        return None

    def finished_all(self, clip: Clip) -> datetime:
        """When the clip finished its last stage (the age of a raw clip)."""
        runs = [self.runs.get((int(clip.id), st)) for st in STAGES]  # type: ignore[arg-type]
        times = [t for r in runs if r is not None and (t := _utc(r.finished_at)) is not None]
        return max(times, default=_utc(clip.created_at) or utcnow())

    def running(self, clip: Clip, stage: str) -> bool:
        run = self.runs.get((int(clip.id), stage))  # type: ignore[arg-type]
        return run is not None and run.status == "running"


def plan(
    ctx: StageContext, *, now: datetime | None = None, disk_usage: DiskUsage = shutil.disk_usage
) -> Plan:
    """What retention would delete now (by age, then by quota), and what the rules held back."""
    now = now or utcnow()
    days = ctx.config.global_config.global_.storage_retention_days
    cutoffs = {
        "raw": now - timedelta(days=days.raw_videos),
        "preproc": now - timedelta(days=days.preproc_data),
        "heavy_output": now - timedelta(days=days.heavy_output),
    }
    facts = Facts.read(ctx)
    out = Plan(now)
    eligible = _raw(ctx, facts, out)
    eligible += _files(ctx, facts, out, "preproc", now)
    eligible += _files(ctx, facts, out, "heavy_output", now)
    # report only what the rules saved: files old enough that age alone would have deleted them
    out.held = [h for h in out.held if datetime.fromisoformat(h["aged_at"]) < cutoffs[h["area"]]]
    out.items = [i for i in eligible if i.aged_at < cutoffs[i.area]]
    _quota(ctx, out, [i for i in eligible if i.aged_at >= cutoffs[i.area]], disk_usage)
    return out


def _raw(ctx: StageContext, facts: Facts, out: Plan) -> list[Item]:
    area = ctx.storage["raw"]
    items = []
    for clip in facts.clips.values():
        if not clip.raw_key:
            continue
        hold = facts.raw_hold(clip)
        aged = facts.finished_all(clip)
        if hold is not None:
            _held(out, "raw", clip.raw_key, hold, aged)
            continue
        size = area.size(clip.raw_key) if area.exists(clip.raw_key) else 0
        items.append(Item("raw", clip.raw_key, "raw_clip", size, aged, int(clip.id)))  # type: ignore[arg-type]
    return items


def _files(ctx: StageContext, facts: Facts, out: Plan, area_name: str, now: datetime) -> list[Item]:
    """Candidates among the files in preproc or heavy_output."""
    area = ctx.storage[area_name]
    stage = "preprocess" if area_name == "preproc" else "heavy"
    items = []
    for key in area.keys(""):
        prefix, _, name = key.rpartition("/")
        clip = facts.by_prefix.get(prefix)
        medium = facts.media.get(key) if area_name == "heavy_output" else None
        if area_name == "preproc" and clip is not None and name == MANIFEST_NAME:
            run = facts.done(int(clip.id), "preprocess")  # type: ignore[arg-type]
            aged = _utc(run.finished_at) if run is not None else None
            hold = facts.protection(clip)
            if hold is None and run is None:
                hold = "preprocess not done"
            if hold is None and facts.done(int(clip.id), "heavy") is None:  # type: ignore[arg-type]
                hold = "heavy not done"
            aged = aged or _utc(clip.created_at) or now
            if hold is not None:
                _held(out, area_name, key, hold, aged)
                continue
            items.append(Item(area_name, key, "preproc", area.size(key), aged, clip.id))
        elif medium is not None:
            if medium.area != "archive" or medium.archived_at is None:
                _held(out, area_name, key, "not archived", _utc(medium.created_at) or now)
                continue
            aged = _utc(medium.archived_at)
            items.append(Item(area_name, key, "archived_media", area.size(key), aged, medium.clip_id))  # type: ignore[arg-type]
        else:
            if not area.is_local:
                continue  # no file times on a remote area: orphans there are left alone
            aged = datetime.fromtimestamp(area.path(key).stat().st_mtime, tz=timezone.utc)
            if now - aged < ORPHAN_MIN_AGE:
                continue  # possibly a stage's file whose row is being written right now
            if clip is not None and facts.running(clip, stage):
                _held(out, area_name, key, f"{stage} running", aged)
                continue
            if clip is not None and (why := facts.protection(clip)) is not None:
                _held(out, area_name, key, why, aged)
                continue
            cid = int(clip.id) if clip is not None else None  # type: ignore[arg-type]
            items.append(Item(area_name, key, "orphan", area.size(key), aged, cid))
    return items


def _held(out: Plan, area: str, key: str, why: str, aged: datetime | None) -> None:
    out.held.append({"area": area, "key": key, "why": why, "aged_at": (aged or out.at).isoformat()})


def _quota(ctx: StageContext, out: Plan, younger: list[Item], disk_usage: DiskUsage) -> None:
    """Disk-quota mode: over an area's threshold, add eligible younger files, oldest first, until under it."""
    cfg = ctx.config.global_config.archive
    freed: dict[Any, int] = defaultdict(int)  # per file system: areas may share a disk

    def device(area: Area) -> Any:
        return Path(area.root).stat().st_dev

    for item in out.items:
        area = ctx.storage[item.area]
        if area.is_local and Path(area.root).exists():
            freed[device(area)] += item.size_bytes
    for name in ("raw", "preproc", "heavy_output"):
        threshold = cfg.quota_for(name)
        area = ctx.storage[name]
        if threshold is None:
            continue
        if not area.is_local:
            out.notes.append(f"{name}: quota mode needs a local area (mount the share); skipped")
            continue
        if not Path(area.root).exists():
            continue
        usage = disk_usage(area.root)
        dev = device(area)
        limit = usage.total * threshold / 100.0
        used = usage.used - freed[dev]
        for item in sorted((i for i in younger if i.area == name), key=lambda i: i.aged_at):
            if used <= limit:
                break
            item.reason = "quota"
            out.items.append(item)
            used -= item.size_bytes
            freed[dev] += item.size_bytes
        if used > limit:
            out.notes.append(
                f"{name}: {100.0 * used / usage.total:.1f}% full, over the {threshold:g}% quota "
                "even after deleting everything the rules allow"
            )
