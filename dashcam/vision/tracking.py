"""Multi-object tracking by detection, in the manner of ByteTrack, for any detector backend.

Each track carries a Kalman filter over its box as centre, aspect and height with their velocities (the
state ByteTrack uses), so an unseen box keeps its shape and moves as it did. Each frame's boxes are
matched to the tracks' predictions by IoU: confident boxes first, then the weak ones, which keep a track
alive through a blurred or half-hidden frame. A box of middling score may start a track, but only a
track that some confident box confirms is reported: weak boxes alone are not a vehicle. Labels in the
same group (car/truck/bus) may flip from frame to frame; a track's label is the score-weighted majority.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dashcam.vision.boxes import iou_matrix
from dashcam.vision.types import Detection

# Labels that may be confused with one another: one object, one track.
LABEL_GROUPS = [{"car", "truck", "bus", "motorcycle"}, {"person"}, {"bicycle"}]
# Kalman noise, as fractions of the box height (ByteTrack's values): how far a box may wander per frame
POS_NOISE = 1.0 / 20
VEL_NOISE = 1.0 / 160


def label_group(label: str) -> int:
    for i, g in enumerate(LABEL_GROUPS):
        if label in g:
            return i
    return len(LABEL_GROUPS) + hash(label) % 1000


Box = tuple[float, float, float, float]


def to_xyah(b: Sequence[float]) -> np.ndarray:
    w, h = max(1e-3, b[2] - b[0]), max(1e-3, b[3] - b[1])
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, w / h, h])


def to_xyxy(m: np.ndarray) -> Box:
    cx, cy, a, h = (float(v) for v in m[:4])
    h = max(h, 1.0)
    w = max(a, 0.05) * h
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


class BoxFilter:
    """A constant-velocity Kalman filter over (cx, cy, aspect, height); noise scales with the height.

    The transition, the noises and the starting uncertainty never couple two coordinates, so the 8-state
    filter is four independent (value, speed) filters: each keeps the three numbers of its 2 x 2
    covariance (``pp``, ``pv``, ``vv``), and a frame costs a few vector operations instead of 8 x 8 matrix
    products and a solve (the same numbers; predict + update 29 instead of 54 us)."""

    def __init__(self, box: Sequence[float]):
        m = to_xyah(box)
        self.x = np.concatenate([m, np.zeros(4)])
        h = m[3]
        self.pp = np.square([2 * POS_NOISE * h, 2 * POS_NOISE * h, 1e-2, 2 * POS_NOISE * h])
        self.pv = np.zeros(4)
        self.vv = np.square([10 * VEL_NOISE * h, 10 * VEL_NOISE * h, 1e-5, 10 * VEL_NOISE * h])

    def predict(self, *, unseen: bool = False, coast: bool = False) -> None:
        """One frame ahead. ``unseen``: the box was not found in the frame before, so its change of size
        is halved each frame (a guess of the size compounds fast: ten frames of a receding car's shrinking
        make a box of nothing); ``coast``: unseen too long to trust its speed either, so the box stays
        where it is (its uncertainty still grows) instead of sliding off."""
        if coast:
            self.x[4:] = 0.0
        elif unseen:
            self.x[6:] *= 0.5
        h = max(self.x[3], 1.0)
        q_pos = np.square([POS_NOISE * h, POS_NOISE * h, 1e-2, POS_NOISE * h])
        q_vel = np.square([VEL_NOISE * h, VEL_NOISE * h, 1e-5, VEL_NOISE * h])
        self.x[:4] += self.x[4:]
        self.x[2] = min(max(self.x[2], 0.1), 10.0)
        self.x[3] = max(self.x[3], 2.0)
        # P <- F P F' + Q with F = [[1, 1], [0, 1]] per coordinate
        self.pp = self.pp + 2 * self.pv + self.vv + q_pos
        self.pv = self.pv + self.vv
        self.vv = self.vv + q_vel

    def update(self, box: Sequence[float]) -> None:
        z = to_xyah(box)
        h = max(self.x[3], 1.0)
        r = np.square([POS_NOISE * h, POS_NOISE * h, 1e-1, POS_NOISE * h])
        s = self.pp + r
        k_pos, k_vel = self.pp / s, self.pv / s
        y = z - self.x[:4]
        self.x[:4] += k_pos * y
        self.x[4:] += k_vel * y
        # P <- (I - K H) P
        self.vv = self.vv - k_vel * self.pv
        self.pv = self.pv * (1 - k_pos)
        self.pp = self.pp * (1 - k_pos)

    @property
    def box(self) -> Box:
        return to_xyxy(self.x)


@dataclass
class TrackPoint:
    t: float
    frame_index: int
    box: Box
    score: float
    label: str


@dataclass
class Track:
    track_id: int
    points: list[TrackPoint] = field(default_factory=list)
    misses: int = 0
    kf: BoxFilter | None = None
    best_score: float = 0.0
    votes: dict[str, float] = field(default_factory=dict)  # label -> summed score

    @property
    def last(self) -> TrackPoint:
        return self.points[-1]

    @property
    def label(self) -> str:
        if not self.votes:  # points added from outside
            for p in self.points:
                self.votes[p.label] = self.votes.get(p.label, 0.0) + p.score
        return max(self.votes, key=self.votes.__getitem__)

    @property
    def score(self) -> float:
        return float(np.mean([p.score for p in self.points]))

    @property
    def first_t(self) -> float:
        return self.points[0].t

    @property
    def last_t(self) -> float:
        return self.points[-1].t

    def predict(self) -> Box:
        """Where the box is expected in the current frame."""
        return self.kf.box if self.kf is not None else self.last.box

    def best(self) -> TrackPoint:
        """The frame that shows the object best: big, confident, not cut by the frame edge."""
        return max(self.points, key=lambda p: p.score * np.sqrt(max(1.0, _area(p.box))))


def _area(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _same_size(a: np.ndarray, b: np.ndarray, max_scale: float) -> np.ndarray:
    """1 where boxes ``a`` [N,4] and ``b`` [M,4] have widths and heights within ``max_scale`` of each
    other, else 0: a box around two cars side by side is neither of them, though it overlaps both."""
    if len(a) == 0 or len(b) == 0:
        return np.ones((len(a), len(b)))
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    wb, hb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    rw = np.maximum(wa[:, None], wb[None, :]) / np.maximum(np.minimum(wa[:, None], wb[None, :]), 1e-3)
    rh = np.maximum(ha[:, None], hb[None, :]) / np.maximum(np.minimum(ha[:, None], hb[None, :]), 1e-3)
    return ((rw <= max_scale) & (rh <= max_scale)).astype(float)


def _greedy(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    used_r: set[int] = set()
    used_c: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
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
    """Associate detections frame by frame into tracks (one tracker per clip window).

    ``high``: a track is reported only once a box this confident joined it; ``start``: the score a box
    needs to start a track (default ``high``); ``low``: weaker boxes are ignored; ``coast``: frames after
    which an unseen track stops moving; ``max_misses``: frames after which it ends; ``max_scale``: a box
    wider or taller than the prediction by more than this factor (or narrower) is not the track's.
    """

    def __init__(
        self,
        *,
        high: float = 0.5,
        low: float = 0.15,
        start: float | None = None,
        match_iou: float = 0.25,
        max_misses: int = 10,
        coast: int | None = None,
        min_points: int = 2,
        max_scale: float = 2.0,
    ):
        self.high, self.low, self.match_iou = high, low, match_iou
        self.max_scale = max_scale
        self.start = high if start is None else start
        self.max_misses, self.min_points = max_misses, min_points
        self.coast = max(1, max_misses // 2) if coast is None else coast
        self.active: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1
        self._frame: int | None = None

    def update(self, t: float, frame_index: int, detections: Sequence[Detection]) -> dict[int, Track]:
        """Feed one frame's detections; returns which track each detection (by index) went to."""
        steps = 1 if self._frame is None else max(1, frame_index - self._frame)
        self._frame = frame_index
        for tr in self.active:
            if tr.kf is not None:
                for k in range(steps):
                    tr.kf.predict(unseen=tr.misses + k >= 1, coast=tr.misses + k >= self.coast)
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
                tr.misses += steps
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
        for pool in (high, low):
            cand = [tracks[i] for i in unmatched]
            preds = np.array([tr.predict() for tr in cand], dtype=float).reshape(-1, 4)
            boxes = np.array([dets[i].xyxy for i in pool], dtype=float).reshape(-1, 4)
            matched_tracks: set[int] = set()
            iou = iou_matrix(preds, boxes) * _same_size(preds, boxes, self.max_scale)
            for r, c in _greedy(iou, self.match_iou):
                self._extend(cand[r], t, fi, dets[pool[c]])
                matched_tracks.add(unmatched[r])
                got[pool[c]] = cand[r]
            unmatched = [i for i in unmatched if i not in matched_tracks]
        # boxes no track took start tracks, the most confident first
        for i in sorted(high + low, key=lambda i: -dets[i].score):
            if i in got or dets[i].score < self.start:
                continue
            d = dets[i]
            tr = Track(self._next_id, kf=BoxFilter(d.xyxy), best_score=float(d.score))
            self._next_id += 1
            tr.points.append(TrackPoint(t, fi, d.xyxy, float(d.score), d.label))
            tr.votes[d.label] = float(d.score)
            self.active.append(tr)
            got[i] = tr
        return got

    @staticmethod
    def _extend(tr: Track, t: float, fi: int, d: Detection) -> None:
        if tr.kf is not None:
            tr.kf.update(d.xyxy)
        tr.points.append(TrackPoint(t, fi, d.xyxy, float(d.score), d.label))
        tr.votes[d.label] = tr.votes.get(d.label, 0.0) + float(d.score)
        tr.best_score = max(tr.best_score, float(d.score))
        tr.misses = 0

    def cut(self) -> None:
        """A scene cut: no track carries over into what follows (the boxes there are other objects)."""
        self.finished.extend(self.active)
        self.active = []

    def tracks(self) -> list[Track]:
        """Every confirmed track with enough points, in order of first appearance."""
        done = [
            tr
            for tr in self.finished + self.active
            if len(tr.points) >= self.min_points and tr.best_score >= self.high
        ]
        done.sort(key=lambda tr: (tr.first_t, tr.points[0].box))
        return done
