"""Archive stage for one clip: move its web media from ``heavy_output/`` to the archive, verified.

Per medium, in this order: copy to the archive under the same key (atomic), check the archived copy's
size and sha256 against the media row, flip the row to ``area='archive'`` in one transaction, and only
then delete the source. A crash at any point leaves the file in at least one place, and a rerun finishes
the job from whatever it finds:

* a good copy already in the archive: the row is flipped and the source deleted, nothing is copied again;
* the source gone but a good archive copy: the row is flipped;
* a row already saying ``archive`` whose source is still there (crash after the flip): the source goes;
* neither copy (or only a corrupt archive copy): reported as lost and never silently dropped.

A copy that fails verification is removed from the archive, the source is kept, and the stage fails with
the reason (a retry copies again). With ``archive.web_copy_of_clip`` the stage first makes a browser-playable
H.264 copy of the whole clip (``clip-web.mp4``, a ``clip_web`` media row) and archives it the same way.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from dashcam.crypt.keys import EncryptionProblem
from dashcam.crypt.sealed import ObjectDamaged
from dashcam.db import crud
from dashcam.db.models import Clip, Media, StageRun, utcnow
from dashcam.db.session import session_scope
from dashcam.files import file_digest
from dashcam.stages.context import NotRetryable, StageContext, StageFailed, already_done, recorded
from dashcam.stages.keys import config_hash, stage_key
from dashcam.storage import Area, clip_key
from dashcam.video.decode import VideoError, iter_frames, probe
from dashcam.video.encode import write_mp4

log = logging.getLogger(__name__)
STAGE = "archive"
WEB_NAME = "clip-web.mp4"
WEB_MAX_WIDTH = 1280
WEB_CRF = 28
# Test hook: pause after a verified copy (or after the row flip) until killed; see _pause().
PAUSE_ENV = "DASHCAM_TEST_ARCHIVE_PAUSE"
PAUSE_AT_ENV = "DASHCAM_TEST_ARCHIVE_PAUSE_AT"


@dataclass
class ArchiveResult:
    clip_id: int
    skipped: bool
    archived: int = 0  # copied and verified by this run
    resumed: int = 0  # found already archived (an interrupted run's copy) and finished
    cleaned: int = 0  # leftover sources of already archived media deleted
    bytes: int = 0
    web_copy: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def archive_key(ctx: StageContext, clip_hash: str) -> str:
    """The cache key: the clip's bytes, the stage version, and whether a web copy is wanted."""
    web = ctx.config.global_config.archive.web_copy_of_clip
    return stage_key(STAGE, clip_hash, config=config_hash({"web_copy_of_clip": web}))


def pending_clip_ids(engine: Engine) -> list[int]:
    """Clips whose heavy stage is done and whose archive is not: never archived, or media still waiting."""
    run, clip, media = col(StageRun.clip_id), col(Clip.id), col(Media.clip_id)
    heavy_done = exists().where(run == clip, col(StageRun.stage) == "heavy", col(StageRun.status) == "done")
    archive_done = exists().where(run == clip, col(StageRun.stage) == STAGE, col(StageRun.status) == "done")
    waiting = exists().where(media == clip, col(Media.area) == "heavy_output")
    stmt = select(clip).where(heavy_done, or_(~archive_done, waiting)).order_by(clip)
    with session_scope(engine) as s:
        return [int(i) for i in s.execute(stmt).scalars()]


def _media(ctx: StageContext, clip_id: int) -> list[Media]:
    with session_scope(ctx.engine) as s:
        rows = list(
            s.execute(select(Media).where(col(Media.clip_id) == clip_id).order_by(col(Media.key))).scalars()
        )
        for r in rows:
            s.expunge(r)
    return rows


def run_archive(clip_id: int, ctx: StageContext) -> ArchiveResult:
    """Archive (or skip, when done with the same key and nothing waits) one clip's web media."""
    clip = ctx.clip(clip_id)
    key = archive_key(ctx, clip.content_hash)
    src = ctx.storage["heavy_output"]
    rows = _media(ctx, clip_id)
    waiting = [m for m in rows if m.area == "heavy_output"]
    leftovers = [m for m in rows if m.area == "archive" and src.exists(m.key)]
    want_web = ctx.config.global_config.archive.web_copy_of_clip and not any(
        m.kind == "clip_web" for m in rows
    )
    if already_done(ctx, clip_id, STAGE, key) and not waiting and not leftovers:
        return ArchiveResult(clip_id, True)
    res = ArchiveResult(clip_id, False)
    with recorded(ctx, clip_id, STAGE, key) as out:
        if want_web:
            web = _make_web_copy(ctx, clip, res)
            if web is not None:
                waiting.append(web)
        mismatched: list[str] = []
        lost: list[str] = []
        try:
            for m in waiting:
                problem = _archive_one(ctx, m, res)
                if problem is not None:
                    (lost if problem.startswith("lost") else mismatched).append(f"{m.key}: {problem}")
            for m in leftovers:
                _drop_leftover(ctx, m, res)
        except EncryptionProblem as exc:  # a key to set: no retry fixes that
            raise NotRetryable(f"{clip.file_name}: {exc}") from exc
        out.update(
            archived=res.archived, resumed=res.resumed, cleaned=res.cleaned, bytes=res.bytes, notes=res.notes
        )
        if lost:
            raise NotRetryable(f"{clip.file_name}: {len(lost)} file(s) lost: {'; '.join(lost)}")
        if mismatched:
            raise StageFailed(
                f"{clip.file_name}: {len(mismatched)} file(s) failed verification, sources kept: "
                + "; ".join(mismatched)
            )
    log.info(
        "clip %s: %d archived, %d resumed, %d leftover(s) cleaned",
        clip_id,
        res.archived,
        res.resumed,
        res.cleaned,
    )
    return res


def _check(area: Area, m: Media) -> str | None:
    """Why the copy of ``m`` in ``area`` is not the medium the row describes (None: it is). A sealed archive
    object is decrypted for it, so every chunk's tag is checked too; without its key this raises."""
    if not area.exists(m.key):
        return "missing"
    try:
        size = area.size(m.key)
        if size != m.size_bytes:
            return f"size {size} != {m.size_bytes}"
        digest = area.sha256(m.key)
    except ObjectDamaged as exc:
        return f"damaged ({str(exc).split(': ', 1)[-1]})"
    if digest != m.sha256:
        return f"sha256 {digest[:12]} != {m.sha256[:12]}"
    return None


def _archive_one(ctx: StageContext, m: Media, res: ArchiveResult) -> str | None:
    """Move one medium; returns None when done, else the reason ('lost: ...' when nowhere to be found)."""
    src, dst = ctx.storage["heavy_output"], ctx.storage["archive"]
    in_archive = _check(dst, m)
    if in_archive is None:
        res.resumed += 1
    elif not src.exists(m.key):
        if in_archive == "missing":
            return "lost: in neither heavy_output nor the archive"
        # the only bytes left: keep them for a person to look at
        return f"lost: no source, and the archive copy is wrong ({in_archive})"
    else:
        with _local(src, m.key, ctx.storage.scratch_dir) as path:
            dst.put_file(m.key, path)
        bad = _check(dst, m)
        if bad is not None:
            dst.delete(m.key)
            source = _check(src, m)
            why = f"source does not match its row ({source})" if source else "archived copy differs"
            log.error("archive of %s failed verification (%s): %s; source kept", m.key, bad, why)
            return f"{why} ({bad})"
        res.archived += 1
        res.bytes += m.size_bytes
    _pause("copied", m.key)
    with session_scope(ctx.engine) as s:
        s.execute(
            update(Media)
            .where(Media.id == m.id, Media.area == "heavy_output")  # type: ignore[arg-type]
            .values(area="archive", archived_at=utcnow())
        )
    _pause("flipped", m.key)
    _delete_source(src, m.key, res)
    return None


def _drop_leftover(ctx: StageContext, m: Media, res: ArchiveResult) -> None:
    """A row already says archive but its source is still there (crash after the flip)."""
    bad = _check(ctx.storage["archive"], m)
    if bad is not None:
        res.notes.append(f"{m.key}: archived copy is wrong ({bad}); heavy_output copy kept")
        log.error("%s: archived copy is wrong (%s); heavy_output copy kept", m.key, bad)
        return
    if _delete_source(ctx.storage["heavy_output"], m.key, res):
        res.cleaned += 1


def _delete_source(src: Area, key: str, res: ArchiveResult) -> bool:
    """Delete a verified medium's source; a failure leaves a leftover for the next run or retention."""
    try:
        src.delete(key)
    except OSError as exc:
        res.notes.append(f"{key}: archived, but the heavy_output copy could not be deleted ({exc})")
        log.warning("%s: archived, but the heavy_output copy could not be deleted: %s", key, exc)
        return False
    return True


@contextmanager
def _local(area: Area, key: str, scratch: Path) -> Iterator[Path]:
    """A local path to a key's bytes (downloaded to scratch when the area is remote)."""
    if area.is_local:
        yield area.path(key)
        return
    fd, name = tempfile.mkstemp(prefix="archive-", dir=scratch)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, area.open(key) as f:
            while chunk := f.read(1 << 20):
                out.write(chunk)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _make_web_copy(ctx: StageContext, clip: Clip, res: ArchiveResult) -> Media | None:
    """Encode a browser-playable H.264 copy of the whole clip into heavy_output and register its row."""
    if not clip.raw_key:
        res.notes.append("no web copy: the raw clip is gone")
        return None
    path = ctx.raw_path(clip)
    fd, name = tempfile.mkstemp(prefix="clip-web-", suffix=".mp4", dir=ctx.storage.scratch_dir)
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            fps = probe(path).fps
            frames = (f.image for f in iter_frames(path, max_width=WEB_MAX_WIDTH))
            if write_mp4(tmp, frames, fps=fps, crf=WEB_CRF) == 0:
                raise NotRetryable(f"{clip.file_name}: no frames to make a web copy of")
        except VideoError as exc:
            raise NotRetryable(f"{clip.file_name}: web copy: {str(exc).split(': ', 1)[-1]}") from exc
        key = clip_key(clip.content_hash, WEB_NAME)
        values: dict[str, Any] = {
            "clip_id": clip.id,
            "sighting_id": None,
            "kind": "clip_web",
            "key": key,
            "area": "heavy_output",
            "mime": "video/mp4",
            "size_bytes": tmp.stat().st_size,
            "sha256": file_digest(tmp),
            "created_at": utcnow(),
            "archived_at": None,
        }
        ctx.storage["heavy_output"].put_file(key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    with session_scope(ctx.engine) as s:
        mid = crud.upsert(session=s, model=Media, values=values, keys=["key"])
    res.web_copy = key
    return Media(id=mid, **values)


def _pause(point: str, key: str) -> None:
    """Test hook: at ``point``, say so in ``$DASHCAM_TEST_ARCHIVE_PAUSE/paused`` and wait for ``resume``.

    The crash tests kill the process while it waits, at an exactly known moment. Unset in production.
    """
    folder = os.environ.get(PAUSE_ENV)
    if not folder or os.environ.get(PAUSE_AT_ENV, "copied") != point:
        return
    marker = Path(folder)
    (marker / "paused").write_text(f"{point} {key}\n")
    while not (marker / "resume").exists():
        time.sleep(0.05)
