"""``search()``: sightings by plate (exact, OCR confusions, edits, pattern), label, time, place and clip."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    union_all,
)
from sqlmodel import Session, col

from dashcam.db.models import PLATE_COVER, Clip, Media, Plate, PlateVariant, Sighting
from dashcam.db.session import time_limit
from dashcam.gps.track import distance_m
from dashcam.localtime import local_bound
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


_PLATES_BY_KEY = select(col(Plate.text)).where(col(Plate.key) == bindparam("qkey"))
# sightings written since the last index_plates() still count for the confusion tier
_RECENT_BY_KEY = select(effective_plate()).where(col(Sighting.plate_key) == bindparam("qkey")).distinct()
_PLATES_BY_VARIANT = (
    select(col(Plate.text))
    .distinct()
    .join(PlateVariant, col(PlateVariant.plate_id) == col(Plate.id))
    .where(col(PlateVariant.variant).in_(bindparam("variants", expanding=True)))
)


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
        texts.update(session.scalars(_PLATES_BY_KEY, {"qkey": qkey}))
        texts.update(t for t in session.scalars(_RECENT_BY_KEY, {"qkey": qkey}) if t)
    if fuzzy:
        variants = sorted(deletion_variants(qkey, fuzzy))
        texts.update(session.scalars(_PLATES_BY_VARIANT, {"variants": variants}))
    found = [m for t in texts if (m := classify(t, q, fuzzy=fuzzy, confusions=confusions, table=table))]
    return sorted(found, key=lambda m: m.order)


TIME_LIMIT_S = 10.0
"""A search's statements are stopped after this long (dashcam.db.session.QueryTimeout)."""

# ---------------------------------------------------------------- statements, built once per shape
#
# A search's SQL depends only on which filters it has (its shape), never on their values: each shape's
# statements are built once, with bind parameters, and reused. Building a SQLAlchemy statement and
# computing its cache key cost more than the SQL of a map query; a reused statement keeps its cache key
# and hits the compiled cache. The SQL sent is what a statement built afresh per call renders (SQLAlchemy
# sends literal values as parameters either way).


def _inline(name: str, value: int | None = None) -> BindParameter[int]:
    """A LIMIT or OFFSET written into the SQL text, not bound. SQLite 3.4x and later read a bound LIMIT's
    value while preparing, so every new binding throws the prepared statement away and prepares it
    again (~0.1 ms for a search's page query, more than its SQL on a warm cache); as text, the driver's
    statement cache keeps one prepared statement per page size and offset."""
    return bindparam(name, value, type_=Integer, literal_execute=True)


def _thumb(sighting_id: Any) -> tuple[Any, Any]:
    """The id and key of the first thumbnail of ``sighting_id`` (a column of the outer query)."""
    q = (
        select(col(Media.id))
        .where(col(Media.sighting_id) == sighting_id, col(Media.kind) == "thumbnail")
        .order_by(col(Media.id))
        .limit(_inline("one", 1))
        .offset(_inline("zero", 0))
    )
    return (
        q.scalar_subquery().label("thumb_id"),
        q.with_only_columns(col(Media.key)).scalar_subquery().label("thumb_key"),
    )


def _hit_columns(s: Any) -> tuple[Any, ...]:
    """A hit's columns, in the order :func:`_hit_dicts` unpacks them; ``s``: where the sighting's columns
    come from (its table, or a subquery that carries them under the same names)."""
    return (
        s.id, s.clip_id, s.label, s.score, s.plate_text, s.plate_corrected, s.plate_confidence, s.time_utc,
        s.lat, s.lon, s.best_s, s.first_s, s.last_s, col(Clip.file_name), col(Clip.channel), col(Clip.kind),
        col(Clip.protected), s.time_local, col(Clip.utc_offset_s), *_thumb(s.id),
    )  # fmt: skip


_HIT_COLUMNS = _hit_columns(Sighting.__table__.c)  # type: ignore[attr-defined]
"""A hit's columns, in the order :func:`_hit_dicts` unpacks them."""
_HITS = TypeAdapter(list[SearchHit])


@dataclass(frozen=True)
class _Shape:
    """What decides the SQL of a search (the values travel as bind parameters)."""

    plates: bool  # a plate filter: the candidate texts (:texts)
    levels: tuple[int, ...]  # rank level of each candidate (:rt0, :rt1, ...), when there are several
    pattern: bool
    label: bool
    since: bool
    until: bool
    local_since: bool
    local_until: bool
    bbox: int  # 0: none, 1: a box, 2: a box and its latitude bands
    near: int  # the same, for the circle's box
    channel: bool
    kinds: bool
    protected: bool
    inline: bool  # count every match in the page query

    @property
    def by_plate(self) -> bool:
        return self.plates or self.pattern


@dataclass(frozen=True)
class _Statements:
    page: Any
    count: Any  # None when the page query counts


def _box(south: float, west: float, north: float, east: float) -> tuple[int, dict[str, Any]]:
    """A bounding box's shape (2: the latitude-band index serves it, a strip per band) and values."""
    values: dict[str, Any] = {"s": south, "w": west, "n": north, "e": east}
    # the cast truncates on SQLite and rounds on PostgreSQL: both land in [floor, ceil]
    lo, hi = math.floor(south * LAT_BANDS), math.ceil(north * LAT_BANDS)
    if hi - lo < MAX_BANDS:
        values["bands"] = list(range(lo, hi + 1))
        return 2, values
    return 1, values


def _box_sql(prefix: str, bands: bool) -> list[ColumnElement[bool]]:
    p: dict[str, BindParameter[float]] = {k: bindparam(prefix + k) for k in "swne"}
    out: list[ColumnElement[bool]] = [
        col(Sighting.lat).between(p["s"], p["n"]),
        col(Sighting.lon).between(p["w"], p["e"]),
    ]
    if bands:
        band = cast(
            col(Sighting.lat) * literal_column(str(LAT_BANDS)), Integer
        )  # a literal, to match the index
        out.append(band.in_(bindparam(prefix + "bands", expanding=True)))
    return out


def _where_sql(shape: _Shape) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """The sighting filters and the clip filters of a shape."""
    where: list[ColumnElement[bool]] = []
    if shape.plates:
        where.append(shows_plate(bindparam("texts", expanding=True)))
    if shape.pattern:
        pattern = select(col(Plate.text)).where(
            col(Plate.sightings) > 0, col(Plate.text).regexp_match(bindparam("pattern"), flags="i")
        )
        where.append(shows_plate(pattern))
    if shape.label:
        where.append(col(Sighting.label) == bindparam("label"))
    if shape.since:
        where.append(col(Sighting.time_utc) >= bindparam("since"))
    if shape.until:
        where.append(col(Sighting.time_utc) < bindparam("until"))
    if shape.local_since:
        where.append(col(Sighting.time_local) >= bindparam("local_since"))
    if shape.local_until:
        where.append(col(Sighting.time_local) < bindparam("local_until"))
    if shape.bbox:
        where += _box_sql("b_", shape.bbox == 2)
    if shape.near:
        where += _box_sql("n_", shape.near == 2)
        lat: BindParameter[float] = bindparam("n_lat")
        lon: BindParameter[float] = bindparam("n_lon")
        kx: BindParameter[float] = bindparam("n_kx")
        # the equirectangular circle test is exact enough below a few hundred km; the hit's distance_m
        # is the great-circle one
        where.append(
            (col(Sighting.lat) - lat) * (col(Sighting.lat) - lat)
            + (col(Sighting.lon) - lon) * kx * (col(Sighting.lon) - lon) * kx
            <= bindparam("n_d2")
        )
    clip_where: list[ColumnElement[bool]] = []
    if shape.channel:
        clip_where.append(col(Clip.channel) == bindparam("channel"))
    if shape.kinds:
        clip_where.append(col(Clip.kind).in_(bindparam("kinds", expanding=True)))
    if shape.protected:
        clip_where.append(col(Clip.protected).is_(True) | col(Clip.pinned).is_(True))
    return where, clip_where


def _rank(shape: _Shape, plate: Any) -> Any:
    """The candidate's rank (:rt0, :rt1, ... hold the texts), or None for a single candidate: equal
    (tier, distance) share a rank so that confidence, then time, orders them."""
    if not shape.levels:
        return None
    return case(
        *[(bindparam(f"rt{i}"), level) for i, level in enumerate(shape.levels)],
        value=plate,
        else_=max(shape.levels) + 1,
    )


def _plate_page(shape: _Shape) -> Any:
    """The page query of a search by candidate plate texts, from ix_sighting_plate_cover alone.

    The two ways a sighting shows a plate (a user's correction; else the OCR's consensus, the common case)
    are two branches, so that each reads an index: an OR of the two makes SQLite gather row ids and read
    every hit's row from the table. The clip and the thumbnail are looked up for the page only.
    """
    where, clip_where = _where_sql(replace(shape, plates=False))
    texts: BindParameter[Any] = bindparam("texts", expanding=True)
    covered = [getattr(Sighting, name) for name in PLATE_COVER]
    hits = union_all(
        select(*covered).where(col(Sighting.plate_corrected).in_(texts), *where),
        select(*covered).where(
            col(Sighting.plate_text).in_(texts), col(Sighting.plate_corrected).is_(None), *where
        ),
    ).subquery("hit")
    rank = _rank(shape, func.coalesce(hits.c.plate_corrected, hits.c.plate_text))
    keys: list[Any] = list(hits.c)
    if rank is not None:
        keys.append(rank.label("rank"))
    if shape.inline:
        keys.append(func.count().over().label("n_total"))
    page = select(*keys).select_from(hits)
    if clip_where:
        page = page.join(Clip, col(Clip.id) == hits.c.clip_id).where(*clip_where)
    page = page.order_by(*_order(True, rank, hits.c.plate_confidence, hits.c.time_utc, hits.c.id))
    ids = page.offset(_inline("offset")).limit(_inline("limit")).subquery()
    c = ids.c
    outer: list[Any] = list(_hit_columns(c))
    if shape.inline:
        outer.append(c.n_total)
    return (
        select(*outer)
        .join(Clip, col(Clip.id) == c.clip_id)
        .order_by(*_order(True, c.rank if rank is not None else None, c.plate_confidence, c.time_utc, c.id))
    )


@lru_cache(maxsize=512)
def _statements(shape: _Shape) -> _Statements:
    where, clip_where = _where_sql(shape)
    # by candidate texts: every hit from ix_sighting_plate_cover; else (a pattern, a map area, a label) the
    # ids of the page first and its rows after
    stmt = (
        _plate_page(shape)
        if shape.plates and not shape.pattern
        else _two_phase_page(shape, where, clip_where)
    )
    count = None
    if not shape.inline:
        count = select(func.count()).select_from(Sighting).where(*where)
        if clip_where:
            count = count.join(Clip, col(Clip.id) == col(Sighting.clip_id)).where(*clip_where)
    return _Statements(page=stmt, count=count)


def _two_phase_page(shape: _Shape, where: list[Any], clip_where: list[Any]) -> Any:
    """The ids of the page first (filters and sort keys only, which the indexes cover), the page's columns
    and clip after: a dense map area sorts thousands of index entries, not table rows."""
    rank = _rank(shape, effective_plate())
    keys: list[Any] = [col(Sighting.id).label("sid"), col(Sighting.time_utc)]
    if shape.by_plate:
        keys.append(col(Sighting.plate_confidence))  # map queries then sort within the covering index
    if rank is not None:
        keys.append(rank.label("rank"))
    if shape.inline:
        keys.append(func.count().over().label("n_total"))
    page = select(*keys).where(*where, *clip_where)
    if clip_where:
        page = page.join(Clip, col(Clip.id) == col(Sighting.clip_id))
    page = page.order_by(
        *_order(
            shape.by_plate, rank, col(Sighting.plate_confidence), col(Sighting.time_utc), col(Sighting.id)
        )
    )
    ids = page.offset(_inline("offset")).limit(_inline("limit")).subquery()
    outer: list[Any] = [*_HIT_COLUMNS, ids.c.n_total] if shape.inline else list(_HIT_COLUMNS)
    return (
        select(*outer)
        .join(ids, ids.c.sid == col(Sighting.id))
        .join(Clip, col(Clip.id) == col(Sighting.clip_id))
        .order_by(
            *_order(
                shape.by_plate,
                ids.c.rank if rank is not None else None,
                ids.c.get("plate_confidence"),
                ids.c.time_utc,
                ids.c.sid,
            )
        )
    )


def search(
    *, session: Session, query: SearchQuery, confusions: Mapping[str, str] | None = None
) -> SearchPage:
    """One page of sightings matching ``query``: best plate match first, then confidence, then newest."""
    params: dict[str, Any] = {"offset": query.offset, "limit": query.limit + 1}
    matches: dict[str, PlateMatch] = {}
    levels: tuple[int, ...] = ()
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
        params["texts"] = list(matches)
        if len(found) > 1:
            distinct = sorted({m.order[:2] for m in found})
            levels = tuple(distinct.index(m.order[:2]) for m in found)
            params.update((f"rt{i}", m.text) for i, m in enumerate(found))
    if query.plate_pattern:
        # a checked pattern (dashcam.search.pattern): RE2 on SQLite, the same reading on PostgreSQL.
        # (?i) inline: SQLite's REGEXP ignores the flags argument; PostgreSQL takes both
        params["pattern"] = f"(?i)^(?:{query.plate_pattern})$"
    for name in ("label", "since", "until", "channel"):
        if value := getattr(query, name):
            params[name] = value
    for name in ("local_since", "local_until"):
        if value := getattr(query, name):
            params[name] = local_bound(value)
    bbox = near = 0
    if query.bbox is not None:
        bbox, box = _box(*query.bbox)
        params.update((f"b_{k}", v) for k, v in box.items())
    if query.near is not None:
        lat, lon, r = query.near
        dlat = r / METRES_PER_DEGREE
        kx = max(math.cos(math.radians(lat)), 1e-6)
        dlon = min(180.0, dlat / kx)
        near, box = _box(max(-90.0, lat - dlat), lon - dlon, min(90.0, lat + dlat), lon + dlon)
        params.update((f"n_{k}", v) for k, v in box.items())
        params.update(n_lat=lat, n_lon=lon, n_kx=kx, n_d2=dlat * dlat)
    if query.kinds:
        params["kinds"] = list(query.kinds)
    # a selective filter means the page query reads every match anyway (to sort them): count them in
    # the same pass; otherwise the newest-first page stops early and a separate count is cheaper
    inline = query.count_total and bool(query.plate or query.plate_pattern or query.near or query.bbox)
    shape = _Shape(
        plates=bool(query.plate),
        levels=levels,
        pattern=bool(query.plate_pattern),
        label=bool(query.label),
        since=bool(query.since),
        until=bool(query.until),
        local_since=bool(query.local_since),
        local_until=bool(query.local_until),
        bbox=bbox,
        near=near,
        channel=bool(query.channel),
        kinds=bool(query.kinds),
        protected=query.protected_only,
        inline=inline,
    )
    stmts = _statements(shape)
    conn = session.connection()  # Core: no ORM result processing needed
    # SQLite's deadline costs nothing per query; PostgreSQL's costs two round trips, so only a pattern
    # (the one filter whose cost the user controls) pays it there
    bound = conn.dialect.name == "sqlite" or shape.pattern
    with time_limit(session, TIME_LIMIT_S) if bound else nullcontext():
        return _run(session, conn, stmts, shape, params, query, matches)


def _run(
    session: Session,
    conn: Any,
    stmts: _Statements,
    shape: _Shape,
    params: dict[str, Any],
    query: SearchQuery,
    matches: dict[str, PlateMatch],
) -> SearchPage:
    rows = conn.execute(stmts.page, params).all()
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    total: int | None = None
    if query.count_total:
        if shape.inline and rows:
            total = int(rows[0][-1])
        elif not has_more and (rows or query.offset == 0):
            total = query.offset + len(rows)
        else:  # past the last match of an inline count, or a newest-first page that stopped early
            count = (
                stmts.count if stmts.count is not None else _statements(replace(shape, inline=False)).count
            )
            total = int(session.execute(count, params).scalar_one())
    hits = _HITS.validate_python(_hit_dicts(rows, query, matches))
    return SearchPage(total=total, has_more=has_more, offset=query.offset, limit=query.limit, hits=hits)


def _order(by_plate: bool, rank: Any, confidence: Any, when: Any, sid: Any) -> list[Any]:
    """Best plate match, then confidence (plate searches), then newest first."""
    out: list[Any] = [] if rank is None else [rank]
    if by_plate:
        out.append(confidence.desc().nulls_last())
    return [*out, when.desc().nulls_last(), sid.desc()]


def _hit_dicts(
    rows: Sequence[Any], query: SearchQuery, matches: dict[str, PlateMatch]
) -> list[dict[str, Any]]:
    """The fields of each row's :class:`SearchHit` (rows carry :data:`_HIT_COLUMNS` first).

    Rows are unpacked by position and the dicts validated in one go by the caller's model: attribute
    access on a row and a model per hit cost more than the SQL of a map query.
    """
    near = query.near
    pattern = bool(query.plate_pattern)
    out = []
    for row in rows:
        (
            sid,
            clip_id,
            label,
            score,
            ocr,
            corrected,
            confidence,
            when,
            lat,
            lon,
            best_s,
            first_s,
            last_s,
            file_name,
            channel,
            kind,
            protected,
            when_local,
            offset_s,
            thumb_id,
            thumb_key,
        ) = row[:21]
        plate = corrected or ocr
        m = matches.get(plate or "")
        dist = None
        if near is not None and lat is not None and lon is not None:
            dist = round(distance_m(near[0], near[1], lat, lon), 1)
        out.append(
            {
                "sighting_id": sid,
                "clip_id": clip_id,
                "file_name": file_name,
                "channel": channel,
                "clip_kind": kind,
                "protected": protected,
                "label": label,
                "score": score,
                "plate": plate,
                "plate_ocr": ocr,
                "corrected": corrected is not None,
                "plate_confidence": confidence,
                "time_utc": utc(when),
                "time_local": when_local,
                "utc_offset_s": offset_s,
                "lat": lat,
                "lon": lon,
                "best_s": best_s,
                "first_s": first_s,
                "last_s": last_s,
                "thumbnail_id": thumb_id,
                "thumbnail_key": thumb_key,
                "match": m.match if m else ("pattern" if pattern and plate else None),
                "edits": m.edits if m else None,
                "distance": m.distance if m else None,
                "distance_m": dist,
            }
        )
    return out


def _hit(row: Any, query: SearchQuery, matches: dict[str, PlateMatch]) -> SearchHit:
    """One row of :data:`_HIT_COLUMNS` as a hit."""
    return SearchHit.model_validate(_hit_dicts([row], query, matches)[0])
