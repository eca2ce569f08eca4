"""Clips with real files in real storage areas and real database rows, aged by editing timestamps."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from dashcam.db import crud
from dashcam.db.models import Clip, Media, StageRun, utcnow
from dashcam.db.session import session_scope
from dashcam.stages.archive.record import run_archive
from dashcam.stages.context import StageContext
from dashcam.stages.keys import STAGE_VERSIONS
from dashcam.storage import clip_key
from flows.common import reset_context

MANIFEST = "preprocess.json"


@pytest.fixture
def ctx(pipeline_env: Path) -> StageContext:
    """The pipeline config with SQLite under the test's data dir."""
    return StageContext.load()


@pytest.fixture
def ctx_db(pipeline_env: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> StageContext:
    """The same, on SQLite and on PostgreSQL (migrated to head by the stage context)."""
    monkeypatch.setenv("DASHCAM_DATABASE_URL", db_url)
    reset_context()
    return StageContext.load()


def _bytes(seed: str, size: int) -> bytes:
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def add_medium(ctx: StageContext, clip_id: int, name: str, size: int = 3000) -> str:
    """A web medium in heavy_output with its row, as the heavy stage writes it."""
    with session_scope(ctx.engine) as s:
        h = s.get(Clip, clip_id).content_hash
    key = clip_key(h, name)
    data = _bytes(key, size)
    ctx.storage["heavy_output"].write_bytes(key, data)
    with session_scope(ctx.engine) as s:
        s.add(
            Media(
                clip_id=clip_id,
                kind="thumbnail" if name.endswith(".jpg") else "sighting_clip",
                key=key,
                area="heavy_output",
                mime="image/jpeg" if name.endswith(".jpg") else "video/mp4",
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=utcnow(),
            )
        )
    return key


def make_clip(
    ctx: StageContext,
    name: str,
    *,
    size: int = 5000,
    stages: Iterable[str] = ("ingest", "preprocess", "heavy"),
    media: int = 2,
    archive: bool = True,
    **fields: object,
) -> int:
    """A clip with a raw file, a preprocess manifest, web media, the given stages done; archived for real."""
    data = _bytes(name, size)
    h = hashlib.sha256(data).hexdigest()
    raw_key = clip_key(h, name)
    ctx.storage["raw"].write_bytes(raw_key, data)
    ctx.storage["preproc"].write_bytes(clip_key(h, MANIFEST), b'{"windows": []}')
    with session_scope(ctx.engine) as s:
        clip_id, _ = crud.register_clip(
            session=s, content_hash=h, file_name=name, size_bytes=size, raw_key=raw_key, **fields
        )
    for stage in stages:
        with session_scope(ctx.engine) as s:
            crud.stage_started(session=s, clip_id=clip_id, stage=stage, version=STAGE_VERSIONS[stage])
            crud.stage_finished(session=s, clip_id=clip_id, stage=stage)
    for i in range(media):
        add_medium(ctx, clip_id, f"sighting-{i:04d}-thumb.jpg")
    if archive:
        run_archive(clip_id, ctx)
    return clip_id


def age(ctx: StageContext, clip_id: int, days: float) -> None:
    """Pretend everything about a clip happened ``days`` ago."""
    then = utcnow() - timedelta(days=days)
    with session_scope(ctx.engine) as s:
        s.execute(update(Clip).where(Clip.id == clip_id).values(created_at=then))
        s.execute(
            update(StageRun).where(StageRun.clip_id == clip_id).values(finished_at=then, started_at=then)
        )
        s.execute(update(Media).where(Media.clip_id == clip_id).values(created_at=then))
        s.execute(
            update(Media)
            .where(Media.clip_id == clip_id, Media.archived_at.is_not(None))
            .values(archived_at=then)
        )


def clip_row(ctx: StageContext, clip_id: int) -> Clip:
    with session_scope(ctx.engine) as s:
        c = s.get(Clip, clip_id)
        s.expunge(c)
        return c
