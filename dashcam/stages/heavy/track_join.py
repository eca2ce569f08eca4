"""Which tracks are one vehicle seen twice: across a detector dropout, a gap between preprocess windows, or
the split between two files of one drive.

A track that ends and another that starts a little later are joined when three things agree:

- **motion**: each track's box, carried on at its own speed (for at most ``EXTRAPOLATE_S``) to the middle
  of the gap, lands where the other one's does, at a similar size; the allowance grows with the gap;
- **appearance**: their colour signatures (:mod:`dashcam.vision.reid`) are alike;
- **plate**: where both have a plate read well enough to count, it is the same plate. Two different
  plates are never joined, however well the rest agrees.

Tracks seen together in the same frames are two objects. Joins are made cheapest first, each track joined at most once
forward and once backward, so what comes out are chains in time order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dashcam.vision.plate_text import edit_distance, plate_key
from dashcam.vision.reid import distance as look_distance
from dashcam.vision.tracking import label_group

MAX_GAP_S = 8.0  # a car unseen for longer may have turned off and another come along ...
LONG_GAP_S = 20.0  # ... unless it is found where it was left, as it was (a wait at the lights)
EXTRAPOLATE_S = 1.0  # a box is carried on at its speed for at most this long; then it stays put
FIT_S = 1.0  # the speed of a track's end (or start) is fitted over this much of it
# Tracks seen together in more than this many frames are two objects. Tracks may overlap in time and
# still be one: the detector's box for a car sometimes goes to one track, sometimes to another, for a
# second, before one of them ends.
SHARED_FRAMES = 1
INTERLEAVE_S = 1.5  # ... for at most this long
# allowances at a gap of 0 s, and what each second of gap adds
CENTRE_BASE, CENTRE_PER_S, CENTRE_MAX = 0.6, 0.3, 2.0  # centre distance / box height
SIZE_BASE, SIZE_PER_S, SIZE_MAX = math.log(1.35), 0.08, math.log(2.2)  # |log of the height ratio|
LOOK_MAX = 0.45  # Hellinger distance of the colour signatures


@dataclass
class Tracklet:
    """What the join looks at: boxes ``[t, x1, y1, x2, y2, ...]`` in time order (seconds on one clock: the
    drive's, where tracks of two files are compared), the colour signature, the plate, the label."""

    boxes: Sequence[Sequence[float]]
    label: str
    signature: Sequence[float] | None = None
    plate: str | None = None

    @property
    def first_t(self) -> float:
        return float(self.boxes[0][0])

    @property
    def last_t(self) -> float:
        return float(self.boxes[-1][0])


@dataclass
class Join:
    before: int
    after: int
    cost: float


def _fit(boxes: Sequence[Sequence[float]], at_end: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """(cx, cy, log h) at the track's end (or start), their rates per second, and that time."""
    b = np.asarray([row[:5] for row in boxes], dtype=float)
    edge_t = b[-1, 0] if at_end else b[0, 0]
    near = b[np.abs(b[:, 0] - edge_t) <= FIT_S]
    t = near[:, 0]
    ys = np.stack(
        [
            (near[:, 1] + near[:, 3]) / 2,
            (near[:, 2] + near[:, 4]) / 2,
            np.log(np.maximum(near[:, 4] - near[:, 2], 1.0)),
        ],
        axis=1,
    )
    if len(near) >= 3 and float(t.max() - t.min()) >= 0.2:
        rate, icpt = np.polyfit(t - edge_t, ys, 1)
        return icpt, rate, float(edge_t)
    return ys[-1] if at_end else ys[0], np.zeros(3), float(edge_t)


def _carry(state: np.ndarray, rate: np.ndarray, dt: float) -> np.ndarray:
    """The state ``dt`` seconds on (negative: back), carried at most EXTRAPOLATE_S at its rate."""
    k = math.copysign(min(abs(dt), EXTRAPOLATE_S), dt)
    return state + rate * k


def motion_cost(a: Tracklet, b: Tracklet) -> float | None:
    """How well ``b`` (starting after ``a`` ends) continues ``a``'s motion: 0 perfectly, 1 at the edge of
    the allowance for their gap; None beyond it."""
    gap = b.first_t - a.last_t
    sa, ra, ta = _fit(a.boxes, at_end=True)
    sb, rb, tb = _fit(b.boxes, at_end=False)
    mid = (ta + tb) / 2
    long = gap > MAX_GAP_S
    gap = max(gap, 0.0)
    centre_max = CENTRE_BASE if long else min(CENTRE_MAX, CENTRE_BASE + CENTRE_PER_S * gap)
    size_max = SIZE_BASE if long else min(SIZE_MAX, SIZE_BASE + SIZE_PER_S * gap)
    best = None
    # carried on at their speeds, or held where they were: a car that was closing in may have settled
    # at the same distance while it was unseen (speeds change; positions do not jump)
    for k in (0.0,) if long else (1.0, 0.0):
        pa, pb = _carry(sa, ra * k, mid - ta), _carry(sb, rb * k, mid - tb)
        h = math.exp((pa[2] + pb[2]) / 2)
        centre = math.hypot(pa[0] - pb[0], pa[1] - pb[1]) / max(h, 1.0)
        size = abs(pa[2] - pb[2])
        if centre <= centre_max and size <= size_max:
            cost = 0.5 * (centre / centre_max + size / size_max)
            best = cost if best is None else min(best, cost)
    return best


def plates_differ(a: str | None, b: str | None) -> bool:
    """Two plates that cannot be one: both known, and more than OCR's usual confusions apart."""
    if not a or not b:
        return False
    ka, kb = plate_key(a), plate_key(b)
    return ka != kb and not (len(ka) == len(kb) and edit_distance(ka, kb) <= 1 and min(len(ka), len(kb)) >= 6)


def join_cost(a: Tracklet, b: Tracklet, *, max_gap: float = LONG_GAP_S) -> float | None:
    """The cost of ``b`` continuing ``a`` (lower is likelier), or None when they cannot be one vehicle."""
    gap = b.first_t - a.last_t
    if gap < -INTERLEAVE_S or gap > max_gap or label_group(a.label) != label_group(b.label):
        return None
    if gap < 0 and shared_frames(a, b) > SHARED_FRAMES:
        return None
    if plates_differ(a.plate, b.plate):
        return None
    motion = motion_cost(a, b)
    if motion is None:
        return None
    if a.signature is None or b.signature is None:
        look = 0.5  # no signature: motion alone, with the doubt of a middling look
        if a.plate is None or a.plate != b.plate:
            return None
    else:
        look = look_distance(a.signature, b.signature) / LOOK_MAX
        if look > 1.0:
            return None
    same_plate = a.plate is not None and plate_key(a.plate) == plate_key(b.plate or "")
    return (motion + look) / 2 * (0.5 if same_plate else 1.0)


def chains(
    tracks: Sequence[Tracklet],
    *,
    barrier: Callable[[int, int], bool] | None = None,
    max_gap: float = LONG_GAP_S,
) -> list[list[int]]:
    """Indices of ``tracks`` grouped into chains of one vehicle each, in time order (a track joined to
    nothing is a chain of one). ``barrier(i, j)``: True where nothing may join ``i`` to ``j`` (a scene
    cut between them)."""
    order = sorted(range(len(tracks)), key=lambda i: tracks[i].first_t)
    cands: list[Join] = []
    for i in order:
        for j in order:
            if i == j or tracks[j].first_t <= tracks[i].first_t:
                continue
            if barrier is not None and barrier(i, j):
                continue
            cost = join_cost(tracks[i], tracks[j], max_gap=max_gap)
            if cost is not None:
                cands.append(Join(i, j, cost))
    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for c in sorted(cands, key=lambda c: c.cost):
        if c.before in nxt or c.after in prv:
            continue
        # the chain so far must not overlap the newcomer's chain in time
        if not _chains_apart(_chain_of(c.before, nxt, prv), _chain_of(c.after, nxt, prv), tracks):
            continue
        nxt[c.before], prv[c.after] = c.after, c.before
    out = []
    for i in order:
        if i in prv:
            continue
        chain = [i]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        out.append(chain)
    return out


def _chain_of(i: int, nxt: dict[int, int], prv: dict[int, int]) -> list[int]:
    while i in prv:
        i = prv[i]
    chain = [i]
    while chain[-1] in nxt:
        chain.append(nxt[chain[-1]])
    return chain


def shared_frames(a: Tracklet, b: Tracklet) -> int:
    """In how many frames both tracks have a box."""
    if a.last_t < b.first_t or b.last_t < a.first_t:
        return 0
    times = {round(float(r[0]), 3) for r in a.boxes}
    return sum(1 for r in b.boxes if round(float(r[0]), 3) in times)


def _chains_apart(a: list[int], b: list[int], tracks: Sequence[Tracklet]) -> bool:
    if set(a) & set(b):
        return False
    return sum(shared_frames(tracks[i], tracks[j]) for i in a for j in b) <= SHARED_FRAMES
