"""Ingest stage: register each clip once, keyed by its content hash, with its GPS track.

A file lands in the raw area under a key derived from its hash (``ab/abcdef0123456789/NAME``), so the
same clip arriving twice (camera and SD card) is one clip in one place. The name tells channel, kind,
sequence and the camera's local start time; the embedded GPS gives the UTC time and the camera's offset.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import delete, select

from dashcam.camera.names import HostileName, moment_key, parse_clip_name, safe_name
from dashcam.camera.sync import sync
from dashcam.db import crud
from dashcam.db.models import Clip
from dashcam.db.session import session_scope
from dashcam.files import file_digest
from dashcam.gps import GpsError, read_track
from dashcam.stages.context import NotRetryable, StageContext, recorded
from dashcam.storage import clip_key
from dashcam.video.decode import VideoError, probe
from dashcam.video.mp4box import Mp4Error, check_complete

log = logging.getLogger(__name__)
STAGE = "ingest"


@dataclass
class Registered:
    clip_id: int
    content_hash: str
    name: str
    created: bool
    raw_key: str
    gps_points: int
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _place_raw(ctx: StageContext, src: Path, key: str, size: int, move: bool) -> None:
    """Put the file at its raw key (a rename when it can be), verified by size."""
    area = ctx.storage["raw"]
    if area.exists(key) and area.size(key) == size:
        if move:
            src.unlink()
        return
    if area.is_local and move:
        dest = area.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dest)  # same file system: atomic, no copy
            return
        except OSError:
            pass
    area.put_file(key, src)
    if area.size(key) != size:
        area.delete(key)
        raise OSError(f"{src.name}: copy into the raw area came out the wrong size")
    if move:
        src.unlink()


def register_file(
    path: str | os.PathLike[str],
    ctx: StageContext,
    *,
    source: str | None = None,
    move: bool = False,
    protected: bool = False,
    content_hash: str | None = None,
) -> Registered:
    """Register one clip file (and put it in the raw area). Raises NotRetryable for a bad file."""
    src = Path(path)
    try:
        name = safe_name(src.name)
    except HostileName as exc:
        raise NotRetryable(f"refused file name: {exc}") from exc
    try:
        check_complete(src)
    except Mp4Error as exc:
        raise NotRetryable(f"{name}: {exc}") from exc
    except OSError as exc:
        raise NotRetryable(f"{name}: cannot read: {exc.strerror or exc}") from exc
    warnings: list[str] = []
    size = src.stat().st_size
    digest = content_hash or file_digest(src)
    known = _known_copy(ctx, digest)
    if known is not None:
        # the same bytes arrived again (camera and SD card): one clip, kept where it already is
        clip_id, raw_key, was_protected = known
        if move:
            src.unlink()
        raise_protection = protected or parse_clip_name(name).kind in ("event", "protected")
        if raise_protection and not was_protected:
            with session_scope(ctx.engine) as s:
                crud.update_clip(session=s, clip_id=clip_id, protected=True)
        known_name = PurePosixPath(raw_key).name
        same = f"{name}: same content as {known_name} (clip {clip_id}): one clip"
        return Registered(clip_id, digest, name, False, raw_key, 0, [same])
    grown = _grown_from(ctx, src, name, source or str(src.parent), size)
    if grown is not None:
        # the same recording, registered while it was still being copied: replaced, never doubled
        _forget_clip(ctx, grown.id, grown.content_hash)  # type: ignore[arg-type]
        warnings.append(
            f"{name}: grew since it was registered as clip {grown.id} ({grown.size_bytes} -> {size} bytes): "
            "the unfinished registration is replaced"
        )
    key = clip_key(digest, name)
    mtime = datetime.fromtimestamp(src.stat().st_mtime)
    parsed = parse_clip_name(name, fallback_time=mtime)
    if not parsed.matched:
        warnings.append(f"{name}: name matches no known camera style; using the file time")
    fields: dict[str, Any] = {
        "source": source or str(src.parent),
        "channel": parsed.channel,
        "kind": parsed.kind,
        "sequence": parsed.sequence,
        "moment_key": moment_key(parsed) if parsed.matched else None,
        "recorded_local": parsed.recorded_local.isoformat() if parsed.recorded_local else None,
        "raw_key": key,
        "protected": protected or parsed.kind in ("event", "protected"),
    }
    try:
        info = probe(src)
        fields.update(
            duration_s=round(info.duration_s, 3), width=info.width, height=info.height, fps=round(info.fps, 3)
        )
    except VideoError as exc:
        warnings.append(str(exc))
    try:
        track = read_track(src, local_start=parsed.recorded_local if parsed.matched else None)
    except GpsError as exc:
        warnings.append(f"{name}: GPS unreadable: {exc}")
        track = None
    points: list[dict[str, Any]] = []
    if track is not None and not track.points and track.unrecognised:
        warnings.append(f"{name}: {track.reason}")  # GPS is there but in no layout we know: say so
    if track is not None and track.points:
        points = [
            {
                "t": p.t,
                "time_utc": p.time_utc,
                "lat": p.lat,
                "lon": p.lon,
                "speed_kmh": p.speed_kmh,
                "heading": p.heading,
            }
            for p in track.points
        ]
        fields["utc_offset_s"] = track.utc_offset_s
        if track.start_utc is not None:
            fields["recorded_at"] = track.start_utc
    if "recorded_at" not in fields and parsed.recorded_local is not None:
        # no GPS time: the camera clock is the best we have (offset unknown)
        fields["recorded_at"] = parsed.recorded_local.replace(tzinfo=timezone.utc)

    _place_raw(ctx, src, key, size, move)
    with session_scope(ctx.engine) as s:
        clip_id, created = crud.register_clip(
            session=s, content_hash=digest, file_name=name, size_bytes=size, **fields
        )
        crud.replace_gps_points(session=s, clip_id=clip_id, points=points)
    with recorded(ctx, clip_id, STAGE, f"ingest-{digest[:32]}") as out:
        out.update(created=created, gps_points=len(points), warnings=warnings or None)
    return Registered(clip_id, digest, name, created, key, len(points), warnings)


def _grown_from(ctx: StageContext, src: Path, name: str, source: str, size: int) -> Clip | None:
    """The clip registered from this same file while it was shorter: its bytes are the start of this one."""
    with session_scope(ctx.engine) as s:
        shorter = (
            s.execute(
                select(Clip).where(Clip.file_name == name, Clip.source == source, Clip.size_bytes < size)
            )
            .scalars()
            .all()
        )
        for c in shorter:
            s.expunge(c)
    for clip in shorter:
        h = hashlib.sha256()
        left = clip.size_bytes
        with open(src, "rb") as f:
            while left > 0 and (chunk := f.read(min(left, 1 << 20))):
                h.update(chunk)
                left -= len(chunk)
        if left == 0 and h.hexdigest() == clip.content_hash:
            return clip
    return None


def _forget_clip(ctx: StageContext, clip_id: int, content_hash: str) -> None:
    """A clip's rows (its stage runs, windows, sightings, media go with it) and its stored files."""
    prefix = clip_key(content_hash, "x")[: -len("x")]
    for area in ("raw", "preproc", "heavy_output", "archive"):
        for key in list(ctx.storage[area].keys(prefix)):
            ctx.storage[area].delete(key)
    with session_scope(ctx.engine) as s:
        s.execute(delete(Clip).where(Clip.id == clip_id))  # type: ignore[arg-type]


def _known_copy(ctx: StageContext, digest: str) -> tuple[int, str, bool] | None:
    """(id, raw key, protected) of the clip with these bytes, if its raw file is still in place."""
    with session_scope(ctx.engine) as s:
        clip = crud.clip_by_hash(session=s, content_hash=digest)
        if clip is None or not clip.raw_key:
            return None
        found = (int(clip.id), clip.raw_key, clip.protected)  # type: ignore[arg-type]
    return found if ctx.storage["raw"].exists(found[1]) else None


def known_file(ctx: StageContext, name: str, size: int) -> int | None:
    """The id of a registered clip with this name and size whose raw file is still present (a cheap pre-check)."""
    with session_scope(ctx.engine) as s:
        row = s.execute(
            select(Clip.id, Clip.raw_key).where(Clip.file_name == name, Clip.size_bytes == size)
        ).first()
    if row is None or not row.raw_key:
        return None
    return int(row.id) if ctx.storage["raw"].exists(row.raw_key) else None


def incoming_dir(ctx: StageContext) -> Path:
    """Where downloads and imports land before registration (hidden, on the raw area's file system)."""
    raw = ctx.storage["raw"]
    base = Path(raw.root) if raw.is_local else ctx.storage.scratch_dir
    d = base / ".incoming"
    d.mkdir(parents=True, exist_ok=True)
    return d


def clean_incoming(ctx: StageContext, older_than: timedelta = timedelta(hours=12)) -> int:
    """Remove stale leftovers of interrupted imports (a download's .part file is kept for resuming)."""
    d = incoming_dir(ctx)
    cutoff = datetime.now().timestamp() - older_than.total_seconds()
    n = 0
    for p in d.iterdir():
        if p.is_file() and not p.name.endswith(".part") and p.stat().st_mtime < cutoff:
            p.unlink(missing_ok=True)
            n += 1
        elif p.is_dir() and not any(p.iterdir()):
            shutil.rmtree(p, ignore_errors=True)
    return n


# ---------------------------------------------------------------- the steps of an ingest run


def camera_client(ctx: StageContext, url: str) -> Any:
    """A client of the camera at ``url`` with the configured limits and password (from its env variable)."""
    from dashcam.camera.client import CameraClient

    cam = ctx.config.global_config.camera
    password = os.environ.get(cam.password_env)
    auth = ("admin", password) if password else None
    return CameraClient(url, max_connections=cam.max_connections, timeout=cam.timeout_s, auth=auth)


def import_into_incoming(
    ctx: StageContext, folder: str | None, move: bool = False, files: list[str] | None = None
) -> dict[str, Any]:
    """Copy (or move) new clips from a folder, or single files, into the incoming area, verified by sha256.

    Unfinished MP4s are failures to report (the user handed us that folder); clips we have are skipped.
    """
    from dashcam.camera.importer import import_files, import_folder

    def have(p: Path, size: int) -> bool:
        return known_file(ctx, p.name, size) is not None

    stable_s = ctx.config.global_config.import_.stable_s
    if folder is not None:
        rep = import_folder(folder, incoming_dir(ctx), move=move, already_have=have, stable_s=stable_s)
    else:
        rep = import_files(files or [], incoming_dir(ctx), move=move, already_have=have, stable_s=stable_s)
    failed = dict(rep.failed)
    skipped = {}
    for rel, why in rep.skipped.items():
        (failed if why.startswith("unfinished MP4") else skipped)[rel] = (
            f"{rel}: {why}" if why.startswith("unfinished") else why
        )
    for r in rep.rejected:
        failed[r.entry] = r.reason  # it names the file already
    return {
        "files": [{"path": str(f.path), "sha256": f.sha256, "source": str(f.source)} for f in rep.imported],
        "skipped": skipped,
        "failed": failed,
        "warnings": rep.warnings,
        "passed_over": rep.passed_over,
    }


def plan_camera_sync(ctx: StageContext, url: str, stable_check_s: float = 2.0) -> dict[str, Any]:
    """List the camera and pick the finished clips we do not have yet ("no camera" is a state, not an error)."""
    import dataclasses

    cam = ctx.config.global_config.camera
    with camera_client(ctx, url) as client:
        rep = sync(
            client,
            incoming_dir(ctx),
            protected_only=cam.protected_only,
            dry_run=True,
            order=cam.order,
            stable_check=stable_check_s,
            already_have=lambda r: r.size is not None and known_file(ctx, r.name, r.size) is not None,
        )
    return {
        "camera_reachable": rep.camera_reachable,
        "camera_lost": rep.camera_lost,
        "error": rep.error,
        "files": [dataclasses.asdict(r) for r in rep.planned_files],
        "still_recording": rep.still_recording,
        "skipped": rep.skipped,
        "failed": rep.failed,
        "rejected": {r.entry: r.reason for r in rep.rejected},
    }


def download_and_register(ctx: StageContext, url: str, remote: dict[str, Any]) -> Registered:
    """Download one clip (resuming a .part), register it, and delete it from the camera if configured."""
    from dashcam.camera.listing import RemoteFile

    rf = RemoteFile(**remote)
    with camera_client(ctx, url) as client:
        path = client.download(rf, incoming_dir(ctx))
        reg = register_file(path, ctx, source=f"{url}{rf.url_path}", move=True, protected=rf.protected)
        if ctx.config.global_config.camera.delete_after_download:
            client.delete(rf)
    return reg
