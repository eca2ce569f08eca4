"""``GET /clips`` and ``GET /clips/{id}``: the clips, one with its GPS track and its stages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlmodel import Session, col

from dashcam.db.models import Clip, ClipBase, GpsPoint, Sighting, StageRun
from webui import state
from webui.api.common import NOT_FOUND, UtcTime, as_utc, not_found
from webui.api.security import ERRORS, Reader
from webui.api.tasks import TaskOut, task_out

router = APIRouter(tags=["clips"])
Kind = Literal["normal", "parking", "event", "protected"]
Channel = Literal["F", "R", "I", "T"]
ID_MAX = 2**62


class ClipOut(ClipBase):
    """A clip (times in UTC)."""

    id: int
    recorded_at: UtcTime
    created_at: UtcTime
    raw_deleted_at: UtcTime


class ClipsPage(BaseModel):
    """One page of clips, newest recording first."""

    total: int
    offset: int
    limit: int
    items: list[ClipOut]


class TrackPoint(BaseModel):
    """One GPS fix of a clip."""

    t: float
    time_utc: UtcTime
    lat: float
    lon: float
    speed_kmh: float | None
    heading: float | None


class ClipDetail(ClipOut):
    """A clip with its GPS track, its stages and how many sightings it has."""

    track: list[TrackPoint]
    stages: list[TaskOut]
    sightings: int


def list_clips(
    *,
    session: Session,
    channel: str | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> ClipsPage:
    """Matching clips and their count."""
    where = []
    if channel:
        where.append(col(Clip.channel) == channel)
    if kind:
        where.append(col(Clip.kind) == kind)
    if since:
        where.append(col(Clip.recorded_at) >= since)
    if until:
        where.append(col(Clip.recorded_at) < until)
    total = session.execute(select(func.count()).select_from(Clip).where(*where)).scalar_one()
    rows = session.execute(
        select(Clip)
        .where(*where)
        .order_by(col(Clip.recorded_at).desc().nulls_last(), col(Clip.id).desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    items = [ClipOut.model_validate(c, from_attributes=True) for c in rows]
    return ClipsPage(total=int(total), offset=offset, limit=limit, items=items)


def clip_detail(*, session: Session, clip_id: int) -> ClipDetail | None:
    """One clip with its track and stages, or None."""
    clip = session.get(Clip, clip_id)
    if clip is None:
        return None
    track = session.execute(
        select(GpsPoint).where(col(GpsPoint.clip_id) == clip_id).order_by(col(GpsPoint.t))
    ).scalars()
    runs = session.execute(
        select(StageRun).where(col(StageRun.clip_id) == clip_id).order_by(col(StageRun.id))
    ).scalars()
    sightings = session.execute(
        select(func.count()).select_from(Sighting).where(col(Sighting.clip_id) == clip_id)
    ).scalar_one()
    return ClipDetail(
        **ClipOut.model_validate(clip, from_attributes=True).model_dump(),
        track=[TrackPoint.model_validate(p, from_attributes=True) for p in track],
        stages=[task_out(r, clip.file_name) for r in runs],
        sightings=int(sightings),
    )


@router.get("/clips", response_model=ClipsPage, responses=ERRORS)
def get_clips(
    _: Reader,
    channel: Annotated[Channel | None, Query(description="F front, R rear, I interior, T telephoto")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="recorded at or after")] = None,
    until: Annotated[datetime | None, Query(description="recorded before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> ClipsPage:
    """The clips, newest recording first, paginated."""
    return state.in_session(
        list_clips,
        channel=channel,
        kind=kind,
        since=as_utc(since, "since"),
        until=as_utc(until, "until"),
        limit=limit,
        offset=offset,
    )


@router.get("/clips/{clip_id}", response_model=ClipDetail, responses={**ERRORS, **NOT_FOUND})
def get_clip(_: Reader, clip_id: Annotated[int, Path(ge=1, le=ID_MAX)]) -> ClipDetail:
    """One clip with its GPS track and the state of each stage."""
    found = state.in_session(clip_detail, clip_id=clip_id)
    if found is None:
        raise not_found(f"clip {clip_id}")
    return found
