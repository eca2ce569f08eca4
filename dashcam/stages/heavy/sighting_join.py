"""The sightings of one clip that are one vehicle, made one: tracks broken by a detector dropout longer
than the tracker waits, or by a gap between two preprocess windows, joined by motion, colour and plate
(:mod:`dashcam.stages.heavy.track_join`). Each sighting keeps the parts it was made of, so a wrong join can be undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dashcam.stages.heavy.track_join import Tracklet, chains

if TYPE_CHECKING:
    from dashcam.stages.heavy.analysis import PlateObservation, SightingOut

VEHICLES = {"car", "truck", "bus", "motorcycle"}
# a plate counts in a join once it was read alike at least twice with this much confidence in all
PLATE_MIN_READS = 2
PLATE_MIN_CONFIDENCE = 1.2
# a track is another's double when at least DOUBLE_SHARE of its frames are shared with it, their boxes
# overlapping DOUBLE_IOU or more in the middle frame of those (two cars side by side: 0 to 0.1)
DOUBLE_SHARE = 0.6
DOUBLE_IOU = 0.3
DOUBLE_GAP_S = 1.5


def plate_of(reads: Sequence[PlateObservation]) -> str | None:
    """The plate the reads agree on well enough to tell two vehicles apart; None when they do not."""
    votes: dict[str, tuple[int, float]] = {}
    for r in reads:
        n, c = votes.get(r.text, (0, 0.0))
        votes[r.text] = (n + 1, c + r.confidence)
    if not votes:
        return None
    text, (n, conf) = max(votes.items(), key=lambda kv: kv[1][1])
    return text if n >= PLATE_MIN_READS and conf >= PLATE_MIN_CONFIDENCE else None


def tracklet(s: SightingOut, offset_s: float = 0.0) -> Tracklet:
    """What the join compares of a sighting (its times moved by ``offset_s``: a drive's clock)."""
    boxes = [[b[0] + offset_s, *b[1:5]] for b in s.boxes] if offset_s else s.boxes
    return Tracklet(boxes, s.label, s.signature, plate_of(s.reads))


def join_dropouts(sightings: list[SightingOut], cuts: Sequence[float]) -> list[SightingOut]:
    """Vehicle sightings that continue one another joined (never across a scene cut at ``cuts``), and
    tracks that doubled one vehicle folded into it; other sightings as they are."""
    vehicles = fold_duplicates([s for s in sightings if s.label in VEHICLES and s.boxes])
    others = [s for s in sightings if not (s.label in VEHICLES and s.boxes)]
    tracks = [tracklet(s) for s in vehicles]

    def barrier(i: int, j: int) -> bool:
        return any(tracks[i].last_t < c <= tracks[j].first_t for c in cuts)

    out = []
    for chain in chains(tracks, barrier=barrier):
        host = vehicles[chain[0]]
        for k in chain[1:]:
            fold(host, vehicles[k])
        out.append(host)
    return out + others


def fold_duplicates(vehicles: list[SightingOut]) -> list[SightingOut]:
    """A track that runs beside a longer one on the same vehicle (the detector's second box on it: a
    part of it, or it and its neighbour together) folded into that one. Two vehicles side by side
    overlap little; a box and its double overlap a lot for as long as the double lasts."""
    kept: list[SightingOut] = []
    for s in sorted(vehicles, key=lambda s: -len(s.boxes)):
        host = next((k for k in kept if _doubles(s, k)), None)
        if host is None:
            kept.append(s)
        else:
            fold(host, s)
    return kept


def _doubles(s: SightingOut, host: SightingOut) -> bool:
    import numpy as np

    from dashcam.vision.boxes import iou_matrix

    pairs = [(b[1:5], at) for b in s.boxes if (at := _box_at(host.boxes, b[0])) is not None]
    if not pairs or len(pairs) < DOUBLE_SHARE * len(s.boxes):
        return False
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)
    overlap = np.diag(iou_matrix(a, b)) if len(pairs) < 400 else np.zeros(1)
    return float(np.median(overlap)) >= DOUBLE_IOU


def _box_at(rows: Sequence[Sequence[float]], t: float) -> Sequence[float] | None:
    """A track's box at time ``t``: its own, or where it was lost for at most DOUBLE_GAP_S, the line between
    the boxes either side (the detector's boxes on one vehicle often go to its double for a few frames)."""
    import bisect

    i = bisect.bisect_left([r[0] for r in rows], t - 1e-6)
    if i < len(rows) and abs(rows[i][0] - t) <= 1e-3:
        return rows[i][1:5]
    if i == 0 or i == len(rows):
        return None
    a, b = rows[i - 1], rows[i]
    if b[0] - a[0] > DOUBLE_GAP_S:
        return None
    k = (t - a[0]) / (b[0] - a[0])
    return [a[j] + (b[j] - a[j]) * k for j in range(1, 5)]


def fold(host: SightingOut, s: SightingOut) -> None:
    """Make ``host`` the sighting of both: boxes, reads and clip frames of both, the best frame of the two,
    the parts of each."""
    from dashcam.stages.heavy.analysis import CLIP_MARGIN_S, CLIP_MAX_S, _merge_classes, _one_read_per_frame

    host.parts = sorted((host.parts or [[host.first_s, host.last_s]]) + (s.parts or [[s.first_s, s.last_s]]))
    n_host, n_s = len(host.boxes), len(s.boxes)
    host.first_s, host.last_s = min(host.first_s, s.first_s), max(host.last_s, s.last_s)
    host.boxes = sorted(host.boxes + [b for b in s.boxes if all(b[0] != h[0] for h in host.boxes)])
    host.reads = _one_read_per_frame(host.reads + s.reads)
    if s.thumbnail_jpeg is not None and _quality(s) > _quality(host):
        host.best_s, host.best_box, host.thumbnail_jpeg = s.best_s, s.best_box, s.thumbnail_jpeg
    host.score = round((host.score * n_host + s.score * n_s) / max(1, n_host + n_s), 4)
    # the class votes of both, summed; the label follows them (where neither has votes, the longer's)
    if not host.class_votes and not s.class_votes and n_s > n_host:
        host.label = s.label
    _merge_classes(host, s)
    if host.signature is not None and s.signature is not None:
        w = n_host / max(1, n_host + n_s)
        host.signature = [
            round(w * a + (1 - w) * b, 5) for a, b in zip(host.signature, s.signature, strict=True)
        ]
    else:
        host.signature = host.signature or s.signature
    have = {t for t, _ in host.clip_frames}
    frames = sorted(host.clip_frames + [f for f in s.clip_frames if f[0] not in have])
    # the short clip stays as long as one track's would: around the best frame
    lo = max(host.first_s - CLIP_MARGIN_S, host.best_s - CLIP_MAX_S / 2)
    hi = min(host.last_s + CLIP_MARGIN_S, lo + CLIP_MAX_S)
    host.clip_frames = [(t, j) for t, j in frames if lo - 1e-6 <= t <= hi + 1e-6]


def _quality(s: SightingOut) -> float:
    b = s.best_box
    row = next((r for r in s.boxes if abs(r[0] - s.best_s) < 1e-6), None)
    score = row[5] if row is not None and len(row) > 5 else s.score
    return float(score) * max(1.0, (b[2] - b[0]) * (b[3] - b[1])) ** 0.5


def fill_gaps(s: SightingOut, decoded: Sequence[float], max_gap_s: float) -> None:
    """Boxes for the decoded frames where the detector lost ``s`` for at most ``max_gap_s`` between two
    of its boxes: the line between those two, with score 0 (drawn, not detected)."""
    import bisect

    rows = s.boxes
    out: list[list[float]] = []
    for a, b in zip(rows, rows[1:], strict=False):
        out.append(a)
        gap = b[0] - a[0]
        if gap <= 0 or gap > max_gap_s:
            continue
        lo, hi = bisect.bisect_right(decoded, a[0] + 1e-6), bisect.bisect_left(decoded, b[0] - 1e-6)
        for t in decoded[lo:hi]:
            k = (t - a[0]) / gap
            out.append([round(t, 3), *(round(a[i] + (b[i] - a[i]) * k, 1) for i in range(1, 5)), 0.0])
    if rows:
        out.append(rows[-1])
    s.boxes = out
