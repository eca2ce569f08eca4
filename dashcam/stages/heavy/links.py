"""A vehicle in view while the camera starts a new file stays one vehicle: the sighting at the start of a
file is linked (``continues_id``) to the one it continues at the end of the file before.

Two files are consecutive when they come from the same camera channel and the second starts where the
first ends (within ``MAX_SEAM_S``, and with the next running number where both have one). Their
sightings near the seam are compared on one clock, the drive's, as :mod:`dashcam.stages.heavy.track_join` compares
the tracks of one file: motion, colour signature, plate (two different plates are never linked). The
heavy stage links a clip with both neighbours each time it stores the clip's sightings, so the links do
not depend on the order the files were processed in; a rerun's new sightings are linked again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from dashcam.db.models import Clip, Sighting, SightingTrack, StageRun
from dashcam.stages.heavy.track_join import Tracklet, chains

log = logging.getLogger(__name__)

MAX_SEAM_S = 2.0  # the next file starts within this many seconds of the end of the one before
EDGE_S = 3.0  # sightings this close to the seam (ending before it, starting after it) are compared


def consecutive(a: Clip, b: Clip) -> bool:
    """Whether ``b`` is the file the camera wrote right after ``a``."""
    if a.id == b.id or a.recorded_at is None or b.recorded_at is None or not a.duration_s:
        return False
    if (a.channel or "") != (b.channel or ""):
        return False
    if a.sequence is not None and b.sequence is not None and b.sequence != a.sequence + 1:
        return False
    seam = (b.recorded_at - a.recorded_at).total_seconds() - a.duration_s
    return abs(seam) <= MAX_SEAM_S


def neighbours(session: Session, clip: Clip) -> tuple[Clip | None, Clip | None]:
    """The files before and after ``clip`` in its drive (their sightings, if any, are complete: the heavy
    stage stores a clip's sightings in one transaction)."""
    if clip.recorded_at is None or not clip.duration_s:
        return None, None
    from datetime import timedelta

    span = timedelta(seconds=clip.duration_s + 3600)  # the longest file a camera writes, and then some
    near = (
        session.execute(
            select(Clip).where(
                col(Clip.recorded_at) >= clip.recorded_at - span,
                col(Clip.recorded_at) <= clip.recorded_at + span,
                col(Clip.id) != clip.id,
            )
        )
        .scalars()
        .all()
    )
    before = next((c for c in near if consecutive(c, clip)), None)
    after = next((c for c in near if consecutive(clip, c)), None)
    return before, after


def link(
    session: Session, first: Clip, second: Clip, first_edges: dict[str, Any], second_edges: dict[str, Any]
) -> int:
    """Link the sightings at the start of ``second`` to those they continue at the end of ``first``;
    returns how many were linked (links made before between the two are replaced). ``*_edges``: the
    heavy stage's first and last frames looked at of each (``HeavyOutput.edges``): the picture must go
    on over the seam (two files of one name series may still be two drives)."""
    assert first.recorded_at is not None and second.recorded_at is not None and first.duration_s
    offset = (second.recorded_at - first.recorded_at).total_seconds()
    old = [r.id for r, _ in _rows(session, second.id)]
    if old:
        session.execute(
            update(Sighting)
            .where(col(Sighting.id).in_(old), col(Sighting.continues_id).is_not(None))
            .values(continues_id=None)
        )
    if not _goes_on(first, first_edges, second_edges):
        return 0
    ends = _rows(session, first.id, last_after=first.duration_s - EDGE_S)
    starts = _rows(session, second.id, first_before=EDGE_S)
    tracks = [_tracklet(r, t, 0.0) for r, t in ends] + [_tracklet(r, t, offset) for r, t in starts]
    n_end = len(ends)
    if not ends or not starts:
        return 0
    joined = 0
    for chain in chains(tracks, barrier=lambda i, j: (i < n_end) == (j < n_end)):
        for i, j in zip(chain, chain[1:], strict=False):
            prev, nxt = ends[i][0], starts[j - n_end][0]
            session.execute(update(Sighting).where(col(Sighting.id) == nxt.id).values(continues_id=prev.id))
            joined += 1
    return joined


def link_neighbours(session: Session, clip_id: int, edges: dict[str, Any]) -> int:
    """Link ``clip_id``'s sightings (its heavy stage's ``edges`` just found) with those of the files before
    and after it, where their heavy stage is done."""
    clip = session.get(Clip, clip_id)
    if clip is None:
        return 0
    before, after = neighbours(session, clip)
    n = 0
    if before is not None and (e := _edges(session, before.id)) is not None:
        n += link(session, before, clip, e, edges)
    if after is not None and (e := _edges(session, after.id)) is not None:
        n += link(session, clip, after, edges, e)
    if n:
        log.info("%s: %d sighting(s) continue over a file split", clip.file_name, n)
    return n


def _edges(session: Session, clip_id: int | None) -> dict[str, Any] | None:
    """The edges the clip's finished heavy stage recorded (None: not processed, or before they were)."""
    stats = session.execute(
        select(col(StageRun.stats)).where(
            col(StageRun.clip_id) == clip_id, col(StageRun.stage) == "heavy", col(StageRun.status) == "done"
        )
    ).scalar()
    edges = (stats or {}).get("edges")
    return edges if isinstance(edges, dict) else None


def _goes_on(first: Clip, first_edges: dict[str, Any], second_edges: dict[str, Any]) -> bool:
    """Whether the last frame looked at in ``first`` and the first in the next file are close to the seam
    and show the same scene."""
    from dashcam.stages.heavy.analysis import seam_is_cut

    last, start = first_edges.get("last"), second_edges.get("first")
    if not last or not start or first.duration_s is None:
        return False
    if float(last[0]) < first.duration_s - EDGE_S or float(start[0]) > EDGE_S:
        return False
    return not seam_is_cut(last[1], start[1])


def _rows(
    session: Session,
    clip_id: int | None,
    *,
    last_after: float | None = None,
    first_before: float | None = None,
) -> list[tuple[Sighting, SightingTrack]]:
    q = (
        select(Sighting, SightingTrack)
        .join(SightingTrack, col(SightingTrack.sighting_id) == col(Sighting.id))
        .where(col(Sighting.clip_id) == clip_id)
    )
    if last_after is not None:
        q = q.where(col(Sighting.last_s) >= last_after)
    if first_before is not None:
        q = q.where(col(Sighting.first_s) <= first_before)
    return [(r, t) for r, t in session.execute(q.order_by(col(Sighting.first_s))).tuples() if t.boxes]


def _tracklet(row: Sighting, track: SightingTrack, offset: float) -> Tracklet:
    boxes = [[b[0] + offset, *b[1:5]] for b in track.boxes if len(b) >= 5 and (len(b) < 6 or b[5] > 0)]
    if not boxes:  # only drawn boxes: keep them rather than nothing
        boxes = [[b[0] + offset, *b[1:5]] for b in track.boxes]
    return Tracklet(boxes, row.label, track.signature, row.plate_corrected or row.plate_text)
