"""Multi-object tracking by detection, in the manner of ByteTrack, for any detector backend.

Each frame's boxes are matched to the live tracks by IoU against the tracks' constant-velocity
prediction: confident boxes first, then the weak ones (which keep a track alive through a blurred or
half-hidden frame but never start one). Labels in the same group (car/truck/bus) may flip from frame to
frame; a track's label is the score-weighted majority. A car in view for 4 seconds is one track.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dashcam.vision.types import Detection

# Labels that may be confused with one another: one object, one track.
LABEL_GROUPS = [{"car", "truck", "bus", "motorcycle"}, {"person"}, {"bicycle"}]


def label_group(label: str) -> int:
    for i, g in enumerate(LABEL_GROUPS):
        if label in g:
            return i
    return len(LABEL_GROUPS) + hash(label) % 1000


@dataclass
class TrackPoint:
    t: float
    frame_index: int
    box: tuple[float, float, float, float]
    score: float
    label: str


@dataclass
class Track:
    track_id: int
    points: list[TrackPoint] = field(default_factory=list)
    misses: int = 0
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def last(self) -> TrackPoint:
        return self.points[-1]

    @property
    def label(self) -> str:
        votes: Counter[str] = Counter()
        for p in self.points:
            votes[p.label] += p.score
        return votes.most_common(1)[0][0]

    @property
    def score(self) -> float:
        return float(np.mean([p.score for p in self.points]))

    @property
    def first_t(self) -> float:
        return self.points[0].t

    @property
    def last_t(self) -> float:
        return self.points[-1].t

    def predict(self) -> tuple[float, float, float, float]:
        b, v = self.last.box, self.velocity
        k = self.misses + 1
        return (b[0] + v[0] * k, b[1] + v[1] * k, b[2] + v[2] * k, b[3] + v[3] * k)

    def best(self) -> TrackPoint:
        """The frame that shows the object best: big, confident, not cut by the frame edge."""
        return max(self.points, key=lambda p: p.score * np.sqrt(max(1.0, _area(p.box))))


def _area(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` [N,4] and ``b`` [M,4] (x1, y1, x2, y2)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _greedy(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    used_r: set[int] = set()
    used_c: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        r, c = divmod(int(flat), iou.shape[1])
        if iou[r, c] < threshold:
            break
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((r, c))
    return pairs


class ByteTracker:
    """Associate detections frame by frame into tracks (one tracker per clip window)."""

    def __init__(
        self,
        *,
        high: float = 0.5,
        low: float = 0.15,
        match_iou: float = 0.25,
        max_misses: int = 10,
        min_points: int = 2,
    ):
        self.high, self.low, self.match_iou = high, low, match_iou
        self.max_misses, self.min_points = max_misses, min_points
        self.active: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1

    def update(self, t: float, frame_index: int, detections: Sequence[Detection]) -> dict[int, Track]:
        """Feed one frame's detections; returns which track each detection (by index) went to."""
        assigned: dict[int, Track] = {}
        for group in {label_group(d.label) for d in detections} | {
            label_group(tr.label) for tr in self.active
        }:
            idx = [i for i, d in enumerate(detections) if label_group(d.label) == group]
            got = self._update_group(group, t, frame_index, [detections[i] for i in idx])
            assigned.update({idx[k]: tr for k, tr in got.items()})
        keep = []
        for tr in self.active:
            if tr.points[-1].frame_index != frame_index:
                tr.misses += 1
            if tr.misses > self.max_misses:
                self.finished.append(tr)
            else:
                keep.append(tr)
        self.active = keep
        return assigned

    def _update_group(self, group: int, t: float, fi: int, dets: list[Detection]) -> dict[int, Track]:
        tracks = [tr for tr in self.active if label_group(tr.label) == group]
        got: dict[int, Track] = {}
        high = [i for i, d in enumerate(dets) if d.score >= self.high]
        low = [i for i, d in enumerate(dets) if self.low <= d.score < self.high]
        unmatched = list(range(len(tracks)))
        for pool, may_start in ((high, True), (low, False)):
            cand = [tracks[i] for i in unmatched]
            preds = np.array([tr.predict() for tr in cand], dtype=float).reshape(-1, 4)
            boxes = np.array([dets[i].xyxy for i in pool], dtype=float).reshape(-1, 4)
            matched_tracks: set[int] = set()
            for r, c in _greedy(iou_matrix(preds, boxes), self.match_iou):
                self._extend(cand[r], t, fi, dets[pool[c]])
                matched_tracks.add(unmatched[r])
                got[pool[c]] = cand[r]
            unmatched = [i for i in unmatched if i not in matched_tracks]
            if may_start:
                for i in pool:
                    if i not in got:
                        d = dets[i]
                        tr = Track(self._next_id)
                        self._next_id += 1
                        tr.points.append(TrackPoint(t, fi, d.xyxy, float(d.score), d.label))
                        self.active.append(tr)
                        got[i] = tr
        return got

    @staticmethod
    def _extend(tr: Track, t: float, fi: int, d: Detection) -> None:
        prev = tr.last
        steps = max(1, fi - prev.frame_index)
        new = d.xyxy
        v = tuple((n - o) / steps for n, o in zip(new, prev.box, strict=True))
        # smooth the velocity: one jittery box should not throw the prediction off
        tr.velocity = tuple(0.6 * a + 0.4 * b for a, b in zip(tr.velocity, v, strict=True))  # type: ignore[assignment]
        tr.points.append(TrackPoint(t, fi, new, float(d.score), d.label))
        tr.misses = 0

    def cut(self) -> None:
        """A scene cut: no track carries over into what follows (the boxes there are other objects)."""
        self.finished.extend(self.active)
        self.active = []

    def tracks(self) -> list[Track]:
        """Every track with enough points, in order of first appearance."""
        done = [tr for tr in self.finished + self.active if len(tr.points) >= self.min_points]
        done.sort(key=lambda tr: (tr.first_t, tr.points[0].box))
        return done
