"""From decoded records to a track: plausibility, impossible dates, repeats, spikes, the camera clock.

Never a wrong position: a fix off the globe or faster than any car is dropped, an isolated jump is dropped
as a GPS spike, and a layout whose fixes are implausible as a whole (all of them, or most consecutive pairs
jumping impossibly) is reported as not recognised instead of being written.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashcam.gps.layouts import BlockRecord, valid_position
from dashcam.gps.track import Fix, Track, distance_m, estimate_utc_offset, judge_clock

log = logging.getLogger(__name__)

NO_GPS = "no GPS track"
NO_NOVATEK_GPS = NO_GPS  # the old name, kept for callers
NO_FIX = "GPS present but no fix"
NOT_RECOGNISED = "GPS layout not recognised"
MAX_SPEED_KMH = 300.0  # a jump faster than this between fixes is a GPS spike, not a car
MAX_REPORTED_SPEED_KMH = 400.0  # a decoded speed at or above this is a misread field, not a car
METRES_PER_DEGREE = 111_195.0
MAX_LISTED = 3  # problems named in a track; the rest are counted


@dataclass(frozen=True)
class Problem:
    """A block that could not be read as GPS: where it is and what it starts with."""

    offset: int
    head: bytes
    note: str | None = None

    def message(self) -> str:
        words = self.head[:32].hex()
        grouped = " ".join(words[i : i + 8] for i in range(0, len(words), 8))
        why = f"; {self.note}" if self.note else ""
        return f"{NOT_RECOGNISED} (block header {grouped}, offset {self.offset}{why})"


def plausible(rec: BlockRecord) -> bool:
    """A fix on the globe, moving slower than any car could."""
    assert rec.lat is not None and rec.lon is not None
    if not valid_position(rec.lat, rec.lon):
        return False
    speed = rec.speed_kmh
    return speed is None or not math.isfinite(speed) or abs(speed) < MAX_REPORTED_SPEED_KMH


def too_fast(a: Fix, b: Fix) -> bool:
    limit_m = MAX_SPEED_KMH / 3.6 * max(abs(b.t - a.t), 1.0)
    # Cheap flat-earth bound first (per point, on hour-long tracks); haversine only near the limit.
    dy = (b.lat - a.lat) * METRES_PER_DEGREE
    dx = (b.lon - a.lon) * METRES_PER_DEGREE * math.cos(math.radians(a.lat))
    if dx * dx + dy * dy < 0.25 * limit_m * limit_m:
        return False
    return distance_m(a.lat, a.lon, b.lat, b.lon) > limit_m


def drop_spikes(points: list[Fix]) -> list[Fix]:
    """Remove fixes that imply a speed no car reaches, when their neighbours agree with each other."""
    keep: list[Fix] = []
    n = len(points)
    for i, p in enumerate(points):
        prev = keep[-1] if keep else None
        nxt = points[i + 1] if i + 1 < n else None
        after = points[i + 2] if i + 2 < n else None
        if (
            prev is not None
            and too_fast(prev, p)
            and (nxt is None or (too_fast(p, nxt) and not too_fast(prev, nxt)))  # its neighbours agree
        ):
            log.debug("dropping GPS spike at t=%s (%.6f, %.6f)", p.t, p.lat, p.lon)
            continue
        if (
            prev is None
            and nxt is not None
            and after is not None
            and too_fast(p, nxt)
            and not too_fast(nxt, after)
        ):
            log.debug("dropping GPS spike at the start, t=%s", p.t)
            continue
        keep.append(p)
    return keep


def jumpy(points: Sequence[Fix]) -> bool:
    """Most consecutive fixes imply an impossible jump: values of a misread layout, not a drive."""
    pairs = len(points) - 1
    bad = 0
    for i in range(pairs):
        bad += too_fast(points[i], points[i + 1])
        if bad * 2 > pairs:
            return True
        if (bad + pairs - i - 1) * 2 <= pairs:
            return False  # even if every pair left jumped, they would not be most
    return False


def _clean(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def build_track(
    records: Sequence[tuple[float, BlockRecord | None]],
    *,
    source: str,
    local_start: datetime | None = None,
    path: str | None = None,
    problems: Sequence[Problem] = (),
    blocks: int | None = None,
    first_offset: dict[str, Problem] | None = None,
) -> Track:
    """Turn decoded records (video second, record) into a track.

    ``problems``: blocks no layout could read. ``first_offset``: per layout, a block of it to name when the
    layout as a whole is rejected as implausible.
    """
    no_fix_clock: list[tuple[float, datetime]] = []
    fixes: list[tuple[float, datetime | None, BlockRecord]] = []
    seen: set[str] = set()
    implausible: dict[str, int] = defaultdict(int)
    for t, rec in records:
        if rec is None:
            continue
        seen.add(rec.layout)
        when = rec.time_utc()
        if rec.has_clock and when is None:
            log.debug("record at t=%s has an impossible date, skipped", t)
            continue
        if rec.has_fix:
            if plausible(rec):
                fixes.append((float(t), when, rec))
            else:
                implausible[rec.layout] += 1
        elif when is not None:
            no_fix_clock.append((float(t), when))

    fixes.sort(key=lambda x: x[0])
    verdict = judge_clock(
        sorted(no_fix_clock, key=lambda x: x[0]), [(t, w) for t, w, _ in fixes if w is not None]
    )
    shift = timedelta(seconds=verdict.offset_s if verdict.local_time_as_utc and verdict.offset_s else 0)
    by_layout: dict[str, list[Fix]] = defaultdict(list)
    repeated: set[tuple[datetime, float, float]] = set()
    layout_of: dict[int, str] = {}
    for t, when, rec in fixes:
        assert rec.lat is not None and rec.lon is not None
        if t < 0:
            continue  # a ring-buffer record from before the video started
        if when is not None and shift:
            when -= shift
        fix = Fix(t, when, rec.lat, rec.lon, _clean(rec.speed_kmh), _clean(rec.heading))
        if fix.time_utc is not None:
            key = (fix.time_utc, fix.lat, fix.lon)
            if key in repeated:
                continue  # the camera repeated a fix it had already written
            repeated.add(key)
        by_layout[rec.layout].append(fix)
        layout_of[id(fix)] = rec.layout

    problems = list(problems)
    points: list[Fix] = []
    for layout, pts in by_layout.items():
        if jumpy(pts):
            log.warning("layout %s gives impossible jumps between most fixes: not used", layout)
            problems.append(_rejected(layout, first_offset, "positions jump impossibly"))
            continue
        points.extend(pts)
    for layout, count in implausible.items():
        if layout not in by_layout:
            problems.append(
                _rejected(layout, first_offset, f"{count} positions off the globe, not DDMM or too fast")
            )
    points.sort(key=lambda p: p.t)
    points = drop_spikes(points)

    offset = verdict.offset_s if verdict.local_time_as_utc else None
    if offset is None and local_start is not None:
        anchor = next(((p.t, p.time_utc) for p in points if p.time_utc), None) or (
            no_fix_clock[0] if no_fix_clock else None
        )
        if anchor is not None:
            assert anchor[1] is not None
            offset = estimate_utc_offset(local_start, anchor[1], anchor[0])
    used = {layout_of[id(p)] for p in points}
    count = len(records) if blocks is None else blocks
    reason = None
    if not points:
        # A block nobody could read may hold the fix: only recognised no-fix blocks mean "no fix".
        reason = problems[0].message() if problems else (NO_FIX if count else NO_GPS)
    return Track(
        points=points,
        source=source if count or problems else None,
        reason=reason,
        layout=",".join(sorted(used or seen)) or None,
        blocks=count,
        utc_offset_s=offset,
        local_time_as_utc=verdict.local_time_as_utc,
        clock_jump_s=verdict.jump_s,
        path=path,
        unrecognised=[p.message() for p in problems[:MAX_LISTED]],
        unrecognised_blocks=len(problems),
    )


def _rejected(layout: str, first_offset: dict[str, Problem] | None, why: str) -> Problem:
    known = (first_offset or {}).get(layout)
    return Problem(known.offset if known else -1, known.head if known else b"", f"layout {layout}: {why}")
