"""The plate search index: one ``plate`` row per plate text and its key's deletion neighbourhood.

The heavy stage calls :func:`index_plates` after writing a clip's sightings; a user's correction calls it
for the corrected sighting; retention calls :func:`refresh_plates` with the texts of the sightings it
deleted (or :func:`reindex_plates`, which also follows a change of the configured confusions).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, delete, func, or_, select
from sqlalchemy.sql import Select
from sqlmodel import Session, col

from dashcam.db.models import Plate, PlateVariant, Sighting
from dashcam.search.text import deletion_variants, fold_confusions

log = logging.getLogger(__name__)
BATCH = 5000
_VARIANTS: Any = PlateVariant.__table__  # type: ignore[attr-defined]


def effective_plate() -> ColumnElement[Any]:
    """The plate a sighting shows: the user's correction, else the OCR consensus."""
    return func.coalesce(col(Sighting.plate_corrected), col(Sighting.plate_text))


def shows_plate(texts: Collection[str] | Select[Any] | BindParameter[Any]) -> ColumnElement[bool]:
    """Sightings whose effective plate is one of ``texts``, written so both plate indexes serve it.

    ``texts`` may be an expanding bind parameter, for a statement built once and run with many lists.
    """
    return or_(
        col(Sighting.plate_corrected).in_(texts),
        and_(col(Sighting.plate_corrected).is_(None), col(Sighting.plate_text).in_(texts)),
    )


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def ranked_by_plate(eff: Any, where: Sequence[Any]) -> Any:
    """Sightings with their plate's count and first time; ``rn == 1`` marks each plate's latest sighting."""
    return (
        select(
            eff,
            col(Sighting.id),
            col(Sighting.time_utc),
            col(Sighting.lat),
            col(Sighting.lon),
            func.count().over(partition_by=eff).label("n"),
            func.min(col(Sighting.time_utc)).over(partition_by=eff).label("first"),
            func.row_number()
            .over(
                partition_by=eff,
                order_by=(col(Sighting.time_utc).desc().nulls_last(), col(Sighting.id).desc()),
            )
            .label("rn"),
        )
        .where(*where)
        .subquery()
    )


def _stats(session: Session, texts: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Count, first/last time and last place of each plate text (all texts when ``texts`` is None)."""
    eff = effective_plate().label("eff")
    where = [eff.is_not(None), eff != ""] if texts is None else [shows_plate(texts)]
    ranked = ranked_by_plate(eff, where)
    rows = session.execute(select(ranked).where(ranked.c.rn == 1))
    return {
        r.eff: {
            "sightings": r.n,
            "first_seen": r.first,
            "last_seen": r.time_utc,
            "last_sighting_id": r.id,
            "last_lat": r.lat,
            "last_lon": r.lon,
        }
        for r in rows
    }


def _add_variants(session: Session, plates: Iterable[tuple[int, str]]) -> int:
    """Insert the deletion neighbourhood of each (plate id, key); returns the rows written."""
    rows: list[dict[str, Any]] = []
    n = 0
    for plate_id, key in plates:
        rows.extend({"variant": v, "plate_id": plate_id} for v in deletion_variants(key))
        if len(rows) >= 50_000:
            session.execute(_VARIANTS.insert(), rows)
            n += len(rows)
            rows = []
    if rows:
        session.execute(_VARIANTS.insert(), rows)
        n += len(rows)
    return n


def refresh_plates(
    *, session: Session, texts: Iterable[str], confusions: Mapping[str, str] | None = None
) -> int:
    """Recompute the index rows of these plate texts from the sightings; returns how many were touched.

    A plate no sighting shows any more keeps its row with ``sightings=0`` (its variants never change for
    a given key), so a later sighting of it costs no index writes.
    """
    wanted = sorted({t for t in texts if t})
    touched = 0
    for chunk in _chunks(wanted):
        stats = _stats(session, chunk)
        existing = {
            p.text: p for p in session.execute(select(Plate).where(col(Plate.text).in_(chunk))).scalars()
        }
        new_variants: list[tuple[int, str]] = []
        for text in chunk:
            key = fold_confusions(text, confusions)
            st = stats.get(text) or {
                "sightings": 0,
                "first_seen": None,
                "last_seen": None,
                "last_sighting_id": None,
                "last_lat": None,
                "last_lon": None,
            }
            plate = existing.get(text)
            if plate is None:
                if not st["sightings"]:
                    continue
                plate = Plate(text=text, key=key, **st)
                session.add(plate)
                session.flush()
                assert plate.id is not None
                new_variants.append((plate.id, key))
            else:
                if plate.key != key:  # the confusions changed: swap its variants (by primary key)
                    assert plate.id is not None
                    session.execute(
                        delete(PlateVariant).where(
                            col(PlateVariant.variant).in_(deletion_variants(plate.key)),
                            col(PlateVariant.plate_id) == plate.id,
                        )
                    )
                    new_variants.append((plate.id, key))
                    plate.key = key
                for k, v in st.items():
                    setattr(plate, k, v)
                session.add(plate)
            touched += 1
        session.flush()
        _add_variants(session, new_variants)
    return touched


def index_plates(
    *, session: Session, sighting_ids: Iterable[int], confusions: Mapping[str, str] | None = None
) -> int:
    """Bring the plate index up to date for these sightings (call after writing or correcting them)."""
    ids = sorted(set(sighting_ids))
    texts: set[str] = set()
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(col(Sighting.plate_text), col(Sighting.plate_corrected)).where(
                col(Sighting.id).in_(ids[i : i + 500])
            )
        )
        for ocr, corrected in rows:
            texts.update(t for t in (ocr, corrected) if t)
    return refresh_plates(session=session, texts=texts, confusions=confusions)


def reindex_plates(*, session: Session, confusions: Mapping[str, str] | None = None) -> tuple[int, int]:
    """Rebuild the whole plate index from the sightings; returns (plates, variants)."""
    session.execute(delete(PlateVariant))
    session.execute(delete(Plate))
    stats = _stats(session, None)
    table: Any = Plate.__table__  # type: ignore[attr-defined]
    rows = [{"text": t, "key": fold_confusions(t, confusions), **st} for t, st in stats.items()]
    for i in range(0, len(rows), BATCH * 4):
        session.execute(table.insert(), rows[i : i + BATCH * 4])
    variants = _add_variants(session, session.execute(select(col(Plate.id), col(Plate.key))).tuples().all())
    log.info("plate index rebuilt: %d plates, %d variants", len(rows), variants)
    return len(rows), variants
