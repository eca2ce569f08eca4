"""Undo a join: a sighting made of several tracks (``merged_from`` > 1) becomes one sighting per track.

The heavy stage joins the tracks of one vehicle broken by a detector dropout or a gap between windows
(:mod:`dashcam.stages.heavy.sighting_join`), and records each track's time span in ``parts``. When a user sees that the
join was wrong (two cars of the same colour one after the other), splitting gives each track back its
boxes and plate reads, its best frame, place and plate. The media stay with the first track's sighting
(the others have none of their own); a later rerun of the heavy stage joins afresh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from dashcam.db.models import Clip, GpsPoint, PlateRead, Sighting, SightingTrack
from dashcam.gps import Fix, Track
from dashcam.search import index_plates, refresh_plates
from dashcam.vision.plate_text import consensus, plate_key


class SplitError(ValueError):
    """The sighting does not exist or is one track already."""


def part_of(t: float, parts: Sequence[Sequence[float]]) -> int | None:
    """Which part a time belongs to: the latest-starting part whose span holds it (tracks that took turns
    on one car overlap in time); None in a gap between parts."""
    holding = [i for i, (a, b) in enumerate(parts) if a - 1e-6 <= t <= b + 1e-6]
    return max(holding, key=lambda i: parts[i][0]) if holding else None


def split_sighting(*, session: Session, sighting_id: int, confusions: Mapping[str, str] | None) -> list[int]:
    """Split a joined sighting into its tracks; returns the ids of the sightings it became, in time order
    (the first is the sighting itself)."""
    s = session.get(Sighting, sighting_id)
    if s is None:
        raise SplitError(f"no sighting {sighting_id}")
    parts = sorted([float(a), float(b)] for a, b in (s.parts or []))
    if len(parts) < 2:
        raise SplitError(f"sighting {sighting_id} is one track: there is nothing to split")
    clip = session.get(Clip, s.clip_id)
    assert clip is not None
    st = session.get(SightingTrack, sighting_id) or SightingTrack(sighting_id=sighting_id)
    boxes: list[list[list[float]]] = [[] for _ in parts]
    for b in st.boxes:
        k = part_of(b[0], parts)
        if k is not None:
            boxes[k].append(b)
    reads = (
        session.execute(select(PlateRead).where(col(PlateRead.sighting_id) == sighting_id)).scalars().all()
    )
    track = _track(session, s.clip_id)
    next_track = (
        session.execute(
            select(func.max(Sighting.track_id)).where(col(Sighting.clip_id) == s.clip_id)
        ).scalar()
        or 0
    )
    texts_before = {t for t in (s.plate_text, s.plate_corrected) if t}
    ids = [sighting_id]
    rows: list[Sighting] = [s]
    for k in range(1, len(parts)):
        next_track += 1
        row = Sighting(
            clip_id=s.clip_id,
            track_id=next_track,
            label=s.label,
            score=s.score,
            first_s=parts[k][0],
            last_s=parts[k][1],
            best_s=parts[k][0],
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for k, row in enumerate(rows):
        assert row.id is not None
        session.merge(SightingTrack(sighting_id=row.id, boxes=boxes[k], signature=st.signature))
        _fill(row, parts[k], boxes[k], track, clip)
        mine = [r for r in reads if part_of(r.t, parts) == k]
        _plate(row, mine, confusions)
        if k > 0:
            ids.append(row.id)
            for r in mine:
                r.sighting_id = row.id
                session.add(r)
        session.add(row)
    session.flush()
    # the next file's sighting continued the vehicle's last track (the first keeps the link before)
    last = max(range(len(rows)), key=lambda k: parts[k][1])
    if last != 0:
        session.execute(
            update(Sighting)
            .where(col(Sighting.continues_id) == sighting_id, col(Sighting.clip_id) != s.clip_id)
            .values(continues_id=ids[last])
        )
    index_plates(session=session, sighting_ids=ids, confusions=confusions)
    texts_after = {t for r in rows for t in (r.plate_text, r.plate_corrected) if t}
    if texts_before - texts_after:
        refresh_plates(session=session, texts=texts_before - texts_after, confusions=confusions)
    return ids


def _track(session: Session, clip_id: int) -> Track:
    pts = session.execute(select(GpsPoint).where(col(GpsPoint.clip_id) == clip_id).order_by(col(GpsPoint.t)))
    return Track(points=[Fix(r.t, r.time_utc, r.lat, r.lon, r.speed_kmh, r.heading) for r in pts.scalars()])


def _fill(row: Sighting, span: list[float], boxes: list[list[float]], track: Track, clip: Clip) -> None:
    """A part's times, best frame and where the car was then (its boxes are its SightingTrack's)."""
    seen = [b for b in boxes if len(b) < 6 or b[5] > 0] or boxes
    row.frames = len(boxes)
    if seen:
        best = max(seen, key=lambda b: (b[5] if len(b) > 5 else 1.0) * math.sqrt(max(1.0, _area(b))))
        row.best_s, row.best_box = float(best[0]), [float(v) for v in best[1:5]]
        row.first_s, row.last_s = float(boxes[0][0]), float(boxes[-1][0])
        row.score = round(sum(b[5] if len(b) > 5 else 0.0 for b in seen) / len(seen), 4)
    else:
        row.first_s, row.last_s, row.best_s = span[0], span[1], span[0]
    fix = track.at(row.best_s)
    row.lat, row.lon = (fix.lat, fix.lon) if fix else (None, None)
    row.speed_kmh, row.heading = (fix.speed_kmh, fix.heading) if fix else (None, None)
    start = track.start_utc or clip.recorded_at
    row.time_utc = (
        fix.time_utc
        if fix and fix.time_utc
        else (start + timedelta(seconds=row.best_s) if start is not None else None)
    )
    row.merged_from, row.parts = 1, None


def _plate(row: Sighting, reads: Sequence[PlateRead], confusions: Mapping[str, str] | None) -> None:
    plate: Any = consensus([(r.text, r.confidence) for r in reads], confusions=confusions) if reads else None
    text = plate.text if plate is not None and plate.text else None
    row.plate_text = text
    row.plate_key = plate_key(text, confusions) if text else None
    row.plate_confidence = plate.confidence if text else None
    row.plate_alternatives = plate.alternatives if plate is not None else None


def _area(b: Sequence[float]) -> float:
    return max(0.0, b[3] - b[1]) * max(0.0, b[4] - b[2])


__all__ = ["SplitError", "part_of", "split_sighting"]
