"""``search()``: sightings by plate (exact, OCR confusions, edits, pattern), label, time, place and clip."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal_column, select
from sqlmodel import Session, col

from dashcam.db.models import Clip, Media, Plate, PlateVariant, Sighting
from dashcam.search.index import effective_plate, shows_plate
from dashcam.search.text import deletion_variants, fold_confusions, levenshtein, normalize_plate
from dashcam.search.text import weighted_distance as _weighted
from dashcam.search.types import (
    LAT_BANDS,
    MAX_BANDS,
    METRES_PER_DEGREE,
    PlateMatch,
    SearchHit,
    SearchPage,
    SearchQuery,
    haversine_m,
    utc,
)


def classify(
    text: str, query: str, *, fuzzy: int, confusions: bool, table: Mapping[str, str] | None = None
) -> PlateMatch | None:
    """How ``text`` answers the (normalised) plate ``query``, or None."""
    if text == query:
        return PlateMatch(text, "exact", 0, 0.0)
    if not (confusions or fuzzy):
        return None
    key, qkey = fold_confusions(text, table), fold_confusions(query, table)
    if key == qkey:
        return PlateMatch(text, "confusion", 0, _weighted(text, query, table))
    if fuzzy and abs(len(key) - len(qkey)) <= fuzzy:
        edits = levenshtein(key, qkey)
        if edits <= fuzzy:
            return PlateMatch(text, "edits", edits, _weighted(text, query, table))
    return None


def plate_candidates(
    *,
    session: Session,
    plate: str,
    fuzzy: int = 0,
    confusions: bool = True,
    table: Mapping[str, str] | None = None,
) -> list[PlateMatch]:
    """Plate texts answering a plate query, best first, found through the indexes (never a scan)."""
    q = normalize_plate(plate)
    qkey = fold_confusions(q, table)
    texts = {q}
    if confusions or fuzzy:
        texts.update(session.scalars(select(col(Plate.text)).where(col(Plate.key) == qkey)))
        # sightings written since the last index_plates() still count for the confusion tier
        texts.update(
            t
            for t in session.scalars(
                select(effective_plate()).where(col(Sighting.plate_key) == qkey).distinct()
            )
            if t
        )
    if fuzzy:
        texts.update(
            session.scalars(
                select(col(Plate.text))
                .distinct()
                .join(PlateVariant, col(PlateVariant.plate_id) == col(Plate.id))
                .where(col(PlateVariant.variant).in_(sorted(deletion_variants(qkey, fuzzy))))
            )
        )
    found = [m for t in texts if (m := classify(t, q, fuzzy=fuzzy, confusions=confusions, table=table))]
    return sorted(found, key=lambda m: m.order)


def _box(south: float, west: float, north: float, east: float) -> list[ColumnElement[bool]]:
    """A bounding box, written so the latitude-band index serves it (a strip per band)."""
    out: list[ColumnElement[bool]] = [
        col(Sighting.lat).between(south, north),
        col(Sighting.lon).between(west, east),
    ]
    # the cast truncates on SQLite and rounds on PostgreSQL: both land in [floor, ceil]
    lo, hi = math.floor(south * LAT_BANDS), math.ceil(north * LAT_BANDS)
    if hi - lo < MAX_BANDS:
        band = cast(
            col(Sighting.lat) * literal_column(str(LAT_BANDS)), Integer
        )  # a literal, to match the index
        out.append(band.in_(list(range(lo, hi + 1))))
    return out


def _place_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if query.bbox is not None:
        out += _box(*query.bbox)
    if query.near is not None:
        lat, lon, r = query.near
        dlat = r / METRES_PER_DEGREE
        kx = max(math.cos(math.radians(lat)), 1e-6)
        dlon = min(180.0, dlat / kx)
        # the equirectangular circle test is exact enough below a few hundred km; the hit's distance_m
        # is the great-circle one
        out += _box(max(-90.0, lat - dlat), lon - dlon, min(90.0, lat + dlat), lon + dlon)
        out.append(
            (col(Sighting.lat) - lat) * (col(Sighting.lat) - lat)
            + (col(Sighting.lon) - lon) * kx * (col(Sighting.lon) - lon) * kx
            <= dlat * dlat
        )
    return out


def _clip_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if query.channel:
        out.append(col(Clip.channel) == query.channel)
    if query.kinds:
        out.append(col(Clip.kind).in_(query.kinds))
    if query.protected_only:
        out.append(col(Clip.protected).is_(True) | col(Clip.pinned).is_(True))
    return out


_THUMB = (
    select(col(Media.id))
    .where(col(Media.sighting_id) == col(Sighting.id), col(Media.kind) == "thumbnail")
    .order_by(col(Media.id))
    .limit(1)
)
_HIT_COLUMNS = (
    col(Sighting.id),
    col(Sighting.clip_id),
    col(Sighting.label),
    col(Sighting.score),
    col(Sighting.plate_text),
    col(Sighting.plate_corrected),
    col(Sighting.plate_confidence),
    col(Sighting.time_utc),
    col(Sighting.lat),
    col(Sighting.lon),
    col(Sighting.best_s),
    col(Sighting.first_s),
    col(Sighting.last_s),
    col(Clip.file_name),
    col(Clip.channel),
    col(Clip.kind),
    col(Clip.protected),
    _THUMB.scalar_subquery().label("thumb_id"),
    _THUMB.with_only_columns(col(Media.key)).scalar_subquery().label("thumb_key"),
)


def search(
    *, session: Session, query: SearchQuery, confusions: Mapping[str, str] | None = None
) -> SearchPage:
    """One page of sightings matching ``query``: best plate match first, then confidence, then newest."""
    where: list[ColumnElement[bool]] = []
    matches: dict[str, PlateMatch] = {}
    rank: Any = None
    if query.plate:
        found = plate_candidates(
            session=session,
            plate=query.plate,
            fuzzy=query.fuzzy,
            confusions=query.confusions,
            table=confusions,
        )
        if not found:
            return SearchPage(total=0, has_more=False, offset=query.offset, limit=query.limit, hits=[])
        matches = {m.text: m for m in found}
        where.append(shows_plate(list(matches)))
        if len(found) > 1:
            # equal (tier, distance) share a rank so that confidence, then time, orders them
            levels = sorted({m.order[:2] for m in found})
            rank = case(
                {m.text: levels.index(m.order[:2]) for m in found}, value=effective_plate(), else_=len(levels)
            )
    if query.plate_pattern:
        pattern = select(col(Plate.text)).where(
            col(Plate.sightings) > 0, col(Plate.text).regexp_match(f"^(?:{query.plate_pattern})$", flags="i")
        )
        where.append(shows_plate(pattern))
    if query.label:
        where.append(col(Sighting.label) == query.label)
    if query.since:
        where.append(col(Sighting.time_utc) >= query.since)
    if query.until:
        where.append(col(Sighting.time_utc) < query.until)
    where += _place_filters(query)
    clip_where = _clip_filters(query)

    # the ids of the page first (filters and sort keys only, which the indexes cover), the page's
    # columns and clip after: a dense map area sorts thousands of index entries, not table rows
    keys: list[Any] = [col(Sighting.id).label("sid"), col(Sighting.time_utc)]
    if query.plate or query.plate_pattern:
        keys.append(col(Sighting.plate_confidence))  # map queries then sort within the covering index
    if rank is not None:
        keys.append(rank.label("rank"))
    # a selective filter means the page query reads every match anyway (to sort them): count them in
    # the same pass; otherwise the newest-first page stops early and a separate count is cheaper
    inline = query.count_total and bool(query.plate or query.plate_pattern or query.near or query.bbox)
    if inline:
        keys.append(func.count().over().label("n_total"))
    page = select(*keys).where(*where, *clip_where)
    if clip_where:
        page = page.join(Clip, col(Clip.id) == col(Sighting.clip_id))
    page = page.order_by(
        *_order(query, rank, col(Sighting.plate_confidence), col(Sighting.time_utc), col(Sighting.id))
    )
    ids = page.offset(query.offset).limit(query.limit + 1).subquery()
    outer: list[Any] = [*_HIT_COLUMNS, ids.c.n_total] if inline else list(_HIT_COLUMNS)
    stmt = (
        select(*outer)
        .join(ids, ids.c.sid == col(Sighting.id))
        .join(Clip, col(Clip.id) == col(Sighting.clip_id))
        .order_by(
            *_order(
                query,
                ids.c.rank if rank is not None else None,
                ids.c.get("plate_confidence"),
                ids.c.time_utc,
                ids.c.sid,
            )
        )
    )
    rows = session.connection().execute(stmt).all()  # Core: no ORM result processing needed
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    total: int | None = None
    if query.count_total:
        if inline and rows:
            total = int(rows[0].n_total)
        elif not has_more and (rows or query.offset == 0):
            total = query.offset + len(rows)
        else:
            count = select(func.count()).select_from(Sighting).where(*where)
            if clip_where:
                count = count.join(Clip, col(Clip.id) == col(Sighting.clip_id)).where(*clip_where)
            total = int(session.execute(count).scalar_one())
    hits = [_hit(r, query, matches) for r in rows]
    return SearchPage(total=total, has_more=has_more, offset=query.offset, limit=query.limit, hits=hits)


def _order(query: SearchQuery, rank: Any, confidence: Any, when: Any, sid: Any) -> list[Any]:
    """Best plate match, then confidence (plate searches), then newest first."""
    out: list[Any] = [] if rank is None else [rank]
    if query.plate or query.plate_pattern:
        out.append(confidence.desc().nulls_last())
    return [*out, when.desc().nulls_last(), sid.desc()]


def _hit(row: Any, query: SearchQuery, matches: dict[str, PlateMatch]) -> SearchHit:
    s = row
    plate = s.plate_corrected or s.plate_text
    m = matches.get(plate or "")
    dist = None
    if query.near is not None and s.lat is not None and s.lon is not None:
        dist = round(haversine_m(query.near[0], query.near[1], s.lat, s.lon), 1)
    return SearchHit(
        sighting_id=s.id,
        clip_id=s.clip_id,
        file_name=s.file_name,
        channel=s.channel,
        clip_kind=s.kind,
        protected=s.protected,
        label=s.label,
        score=s.score,
        plate=plate,
        plate_ocr=s.plate_text,
        corrected=s.plate_corrected is not None,
        plate_confidence=s.plate_confidence,
        time_utc=utc(s.time_utc),
        lat=s.lat,
        lon=s.lon,
        best_s=s.best_s,
        first_s=s.first_s,
        last_s=s.last_s,
        thumbnail_id=s.thumb_id,
        thumbnail_key=s.thumb_key,
        match=m.match if m else ("pattern" if query.plate_pattern and plate else None),
        edits=m.edits if m else None,
        distance=m.distance if m else None,
        distance_m=dist,
    )
