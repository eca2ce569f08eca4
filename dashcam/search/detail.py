"""The plates listing, one sighting in full, and the watchlist."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from dashcam.db.models import Clip, Media, Plate, PlateRead, Sighting, WatchlistEntry
from dashcam.search.index import effective_plate, ranked_by_plate, shows_plate
from dashcam.search.pattern import PatternError, full_match
from dashcam.search.query import _HIT_COLUMNS, _hit
from dashcam.search.text import MAX_EDITS, fold_confusions, levenshtein, normalize_plate
from dashcam.search.types import SearchHit, SearchQuery, utc

log = logging.getLogger(__name__)
PlateOrder = Literal["count", "last_seen", "plate"]
_WARNED: set[tuple[int | None, str]] = set()


class WatchlistMatch(BaseModel):
    """A watchlist entry a plate matches."""

    entry_id: int
    name: str
    mode: str
    pattern: str
    edits: int


class PlateSummary(BaseModel):
    """One plate of the plates listing."""

    plate: str
    key: str
    sightings: int
    first_seen: datetime | None
    last_seen: datetime | None
    last_sighting_id: int | None
    last_lat: float | None
    last_lon: float | None
    watchlist: list[str] = []


class PlatesPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[PlateSummary]


class PlateReadOut(BaseModel):
    id: int
    t: float
    text_raw: str
    text: str
    confidence: float
    evidence: float | None = None
    time_utc: datetime | None
    lat: float | None
    lon: float | None


class MediaOut(BaseModel):
    id: int
    kind: str
    key: str
    area: str
    mime: str


class SightingDetail(BaseModel):
    """Everything the sighting page shows."""

    hit: SearchHit
    recorded_at: datetime | None
    speed_kmh: float | None
    heading: float | None
    best_box: list[float] | None
    label_scores: dict[str, float] = {}
    plate_alternatives: list[str]
    reads: list[PlateReadOut]
    media: list[MediaOut]
    previous_id: int | None
    next_id: int | None
    watchlist: list[WatchlistMatch]
    merged_from: int = Field(
        default=1, description="tracks joined into this sighting (a user may split them)"
    )
    continues_id: int | None = Field(
        default=None, description="the sighting of this vehicle in the previous file of the drive"
    )
    continued_by_id: int | None = Field(
        default=None, description="the sighting of this vehicle in the next file of the drive"
    )


# ---------------------------------------------------------------- watchlist


def _entry_matches(entry: WatchlistEntry, plate: str, table: Mapping[str, str] | None) -> int | None:
    """Edits between an entry and a normalised plate when it matches, else None."""
    if entry.mode == "exact":
        return 0 if normalize_plate(entry.pattern) == plate else None
    if entry.mode == "pattern":
        try:
            return 0 if full_match(entry.pattern, plate) else None
        except PatternError as exc:  # stored before patterns were checked: never matches, says why (once)
            if (entry.id, entry.pattern) not in _WARNED:
                _WARNED.add((entry.id, entry.pattern))
                log.warning("watchlist entry %s: pattern %r refused: %s", entry.id, entry.pattern, exc)
            return None
    if entry.mode == "edits":
        edits = levenshtein(fold_confusions(entry.pattern, table), fold_confusions(plate, table))
        return edits if edits <= entry.max_edits else None
    log.warning("watchlist entry %s: unknown mode %r", entry.id, entry.mode)
    return None


def watchlist_matches(
    *,
    session: Session,
    plate_text: str,
    confusions: Mapping[str, str] | None = None,
    entries: Sequence[WatchlistEntry] | None = None,
) -> list[WatchlistMatch]:
    """The watchlist entries a plate matches (exact text, a regular expression, or within N edits)."""
    plate = normalize_plate(plate_text)
    if not plate:
        return []
    if entries is None:
        entries = session.execute(select(WatchlistEntry).order_by(col(WatchlistEntry.id))).scalars().all()
    out = []
    for e in entries:
        edits = _entry_matches(e, plate, confusions)
        if edits is not None:
            assert e.id is not None
            out.append(
                WatchlistMatch(entry_id=e.id, name=e.name, mode=e.mode, pattern=e.pattern, edits=edits)
            )
    return out


def query_for_entry(entry: WatchlistEntry, **filters: Any) -> SearchQuery:
    """The search that lists a watchlist entry's sightings (edits beyond MAX_EDITS are capped)."""
    if entry.mode == "pattern":
        return SearchQuery(plate_pattern=entry.pattern, **filters)
    if entry.mode == "edits":
        return SearchQuery(plate=entry.pattern, fuzzy=min(entry.max_edits, MAX_EDITS), **filters)
    return SearchQuery(plate=entry.pattern, confusions=False, **filters)


# ---------------------------------------------------------------- plates listing


def plates_summary(
    *,
    session: Session,
    prefix: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    order: PlateOrder = "count",
    limit: int = 100,
    offset: int = 0,
    confusions: Mapping[str, str] | None = None,
) -> PlatesPage:
    """Every plate seen: how often, first and last seen, where last (from the index; live for a time range)."""
    since, until = utc(since), utc(until)
    p = normalize_plate(prefix) if prefix else ""
    if since is None and until is None:
        where = [col(Plate.sightings) > 0]
        if p:
            where += [col(Plate.text) >= p, col(Plate.text) < p[:-1] + chr(ord(p[-1]) + 1)]
        src = select(Plate).where(*where)
        total = int(session.execute(select(func.count()).select_from(src.subquery())).scalar_one())
        sort: tuple[Any, ...] = {
            "count": (col(Plate.sightings).desc(), col(Plate.text)),
            "last_seen": (col(Plate.last_seen).desc().nulls_last(), col(Plate.text)),
            "plate": (col(Plate.text),),
        }[order]
        rows = session.execute(src.order_by(*sort).offset(offset).limit(limit)).scalars().all()
        items = [
            PlateSummary(
                plate=r.text,
                key=r.key,
                sightings=r.sightings,
                first_seen=utc(r.first_seen),
                last_seen=utc(r.last_seen),
                last_sighting_id=r.last_sighting_id,
                last_lat=r.last_lat,
                last_lon=r.last_lon,
            )
            for r in rows
        ]
    else:
        eff = effective_plate().label("eff")
        where = [eff.is_not(None), eff != ""]
        if since is not None:
            where.append(col(Sighting.time_utc) >= since)
        if until is not None:
            where.append(col(Sighting.time_utc) < until)
        if p:
            where += [eff >= p, eff < p[:-1] + chr(ord(p[-1]) + 1)]
        ranked = ranked_by_plate(eff, where)
        src = select(ranked).where(ranked.c.rn == 1)
        total = int(session.execute(select(func.count()).select_from(src.subquery())).scalar_one())
        sort = {
            "count": (ranked.c.n.desc(), ranked.c.eff),
            "last_seen": (ranked.c.time_utc.desc().nulls_last(), ranked.c.eff),
            "plate": (ranked.c.eff,),
        }[order]
        rows = session.execute(src.order_by(*sort).offset(offset).limit(limit)).all()
        items = [
            PlateSummary(
                plate=r.eff,
                key=fold_confusions(r.eff, confusions),
                sightings=r.n,
                first_seen=utc(r.first),
                last_seen=utc(r.time_utc),
                last_sighting_id=r.id,
                last_lat=r.lat,
                last_lon=r.lon,
            )
            for r in rows
        ]
    entries = session.execute(select(WatchlistEntry)).scalars().all()
    if entries:
        for item in items:
            found = watchlist_matches(
                session=session, plate_text=item.plate, confusions=confusions, entries=entries
            )
            item.watchlist = [m.name for m in found]
    return PlatesPage(total=total, offset=offset, limit=limit, items=items)


# ---------------------------------------------------------------- one sighting


def sighting_detail(
    *, session: Session, sighting_id: int, confusions: Mapping[str, str] | None = None
) -> SightingDetail | None:
    """A sighting with its clip, plate reads, media, watchlist hits and its plate's previous/next sighting."""
    row = session.execute(
        select(*_HIT_COLUMNS)
        .join(Clip, col(Clip.id) == col(Sighting.clip_id))
        .where(col(Sighting.id) == sighting_id)
    ).first()
    if row is None:
        return None
    s = session.get(Sighting, sighting_id)
    clip = session.get(Clip, row.clip_id)
    assert s is not None and clip is not None
    media_rows = session.execute(
        select(Media).where(col(Media.sighting_id) == sighting_id).order_by(col(Media.kind), col(Media.id))
    ).scalars()
    media = [MediaOut(id=m.id, kind=m.kind, key=m.key, area=m.area, mime=m.mime) for m in media_rows if m.id]
    hit = _hit(row, SearchQuery(), {})
    reads = session.execute(
        select(PlateRead).where(col(PlateRead.sighting_id) == sighting_id).order_by(col(PlateRead.t))
    ).scalars()
    prev_id = next_id = None
    if hit.plate:
        same = shows_plate([hit.plate])
        t, i = s.time_utc, sighting_id
        if t is not None:
            before = or_(col(Sighting.time_utc) < t, and_(col(Sighting.time_utc) == t, col(Sighting.id) < i))
            after = or_(col(Sighting.time_utc) > t, and_(col(Sighting.time_utc) == t, col(Sighting.id) > i))
            prev_id = session.execute(
                select(col(Sighting.id))
                .where(same, before)
                .order_by(col(Sighting.time_utc).desc(), col(Sighting.id).desc())
                .limit(1)
            ).scalar()
            next_id = session.execute(
                select(col(Sighting.id))
                .where(same, after)
                .order_by(col(Sighting.time_utc), col(Sighting.id))
                .limit(1)
            ).scalar()
    return SightingDetail(
        hit=hit,
        recorded_at=utc(clip.recorded_at),
        speed_kmh=s.speed_kmh,
        heading=s.heading,
        best_box=s.best_box,
        label_scores=dict(s.label_scores or {}),
        plate_alternatives=list(s.plate_alternatives or []),
        reads=[
            PlateReadOut(
                id=r.id,
                t=r.t,
                text_raw=r.text_raw,
                text=r.text,
                confidence=r.confidence,
                evidence=r.evidence,
                time_utc=utc(r.time_utc),
                lat=r.lat,
                lon=r.lon,
            )
            for r in reads
            if r.id is not None
        ],
        media=media,
        previous_id=prev_id,
        next_id=next_id,
        watchlist=watchlist_matches(session=session, plate_text=hit.plate, confusions=confusions)
        if hit.plate
        else [],
        merged_from=s.merged_from,
        continues_id=s.continues_id,
        continued_by_id=session.execute(
            select(col(Sighting.id)).where(col(Sighting.continues_id) == sighting_id).limit(1)
        ).scalar(),
    )
