"""The GPS track of one clip: fixes keyed by video second, interpolation, and the camera clock.

A track only holds real fixes; seconds without a fix are gaps (never a point at 0,0). ``at(t)`` answers
None inside a gap longer than ``max_gap_s``, so a sighting is never placed on a guessed road.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8
# Time zones are whole quarter hours; a camera offset is rounded to this.
ZONE_STEP_S = 900
MAX_ZONE_S = 14 * 3600


@dataclass(frozen=True)
class Fix:
    """One position. ``t`` is seconds from the start of the video (block i of the index is second i)."""

    t: float
    time_utc: datetime | None
    lat: float
    lon: float
    speed_kmh: float | None = None
    heading: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "t": self.t,
            "time_utc": self.time_utc.isoformat().replace("+00:00", "Z") if self.time_utc else None,
            "lat": self.lat,
            "lon": self.lon,
            "speed_kmh": self.speed_kmh,
            "heading": self.heading,
        }


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _lerp(a: float | None, b: float | None, w: float) -> float | None:
    if a is None or b is None:
        return a if w < 0.5 else b
    return a + (b - a) * w


def _lerp_angle(a: float | None, b: float | None, w: float) -> float | None:
    if a is None or b is None:
        return a if w < 0.5 else b
    diff = (b - a + 180.0) % 360.0 - 180.0  # the short way round: 350 -> 10 passes through 0
    return (a + diff * w) % 360.0


@dataclass
class Track:
    """Fixes of one clip, sorted by ``t``. An empty track says why in ``reason``."""

    points: list[Fix] = field(default_factory=list)
    source: str | None = None  # "gps-index", "scan", "gpmf", "camm", ...; None when the clip has no GPS
    reason: str | None = (
        None  # e.g. "no GPS track", "GPS present but no fix", "GPS layout not recognised (...)"
    )
    layout: str | None = None  # which payload layout(s) gave the points (or, without points, were seen)
    blocks: int = 0  # GPS blocks or samples found (fix or not)
    utc_offset_s: int | None = None  # camera local clock minus UTC, when it could be estimated
    local_time_as_utc: bool = False  # the camera wrote local time into the UTC fields (corrected here)
    clock_jump_s: float | None = None  # the jump between the no-fix RTC clock and the first fix
    path: str | None = None
    max_gap_s: float = 3.0
    unrecognised: list[str] = field(default_factory=list)  # the first few blocks / layouts that were not read
    unrecognised_blocks: int = 0

    def __post_init__(self) -> None:
        self.points.sort(key=lambda p: p.t)
        self._ts = [p.t for p in self.points]

    def __len__(self) -> int:
        return len(self.points)

    def __bool__(self) -> bool:
        return bool(self.points)

    @property
    def start_utc(self) -> datetime | None:
        """UTC time of video second 0, from the first timed fix."""
        first = next((p for p in self.points if p.time_utc), None)
        return first.time_utc - timedelta(seconds=first.t) if first and first.time_utc else None

    def at(self, t: float) -> Fix | None:
        """Position, speed and heading at video second ``t``; None outside the track or in a long gap."""
        pts, ts = self.points, self._ts
        if not pts:
            return None
        i = bisect.bisect_left(ts, t)
        if i < len(ts) and ts[i] == t:
            return pts[i]
        if i == 0 or i == len(ts):
            # A block covers its whole second: allow up to one second beyond either end.
            end = pts[0] if i == 0 else pts[-1]
            return end if abs(end.t - t) <= 1.0 else None
        a, b = pts[i - 1], pts[i]
        if b.t - a.t > self.max_gap_s:
            return None
        w = (t - a.t) / (b.t - a.t)
        time = a.time_utc + (b.time_utc - a.time_utc) * w if a.time_utc and b.time_utc else None
        return Fix(
            t=t,
            time_utc=time,
            lat=a.lat + (b.lat - a.lat) * w,
            lon=a.lon + (b.lon - a.lon) * w,
            speed_kmh=_lerp(a.speed_kmh, b.speed_kmh, w),
            heading=_lerp_angle(a.heading, b.heading, w),
        )

    def nearest(self, lat: float, lon: float) -> tuple[Fix, float] | None:
        """The fix closest to a place and its distance in metres (None for an empty track)."""
        best: tuple[Fix, float] | None = None
        for p in self.points:
            d = distance_m(lat, lon, p.lat, p.lon)
            if best is None or d < best[1]:
                best = (p, d)
        return best

    def segments(self) -> list[list[Fix]]:
        """Runs of fixes without a gap longer than ``max_gap_s`` (one GPX trkseg each)."""
        out: list[list[Fix]] = []
        for p in self.points:
            if out and p.t - out[-1][-1].t <= self.max_gap_s:
                out[-1].append(p)
            else:
                out.append([p])
        return out


@dataclass(frozen=True)
class Sighting:
    """Where a place was seen: which clip (track), which second, how far away."""

    track: Track
    t: float
    distance_m: float


def nearest_clip(tracks: Iterable[Track], lat: float, lon: float) -> Sighting | None:
    """Across clips: the clip and second that came nearest to (lat, lon)."""
    best: Sighting | None = None
    for track in tracks:
        hit = track.nearest(lat, lon)
        if hit and (best is None or hit[1] < best.distance_m):
            best = Sighting(track, hit[0].t, hit[1])
    return best


def round_zone(seconds: float) -> int | None:
    """Round a clock difference to a whole quarter hour; None when it is no plausible time zone."""
    zone = int(round(seconds / ZONE_STEP_S)) * ZONE_STEP_S
    return zone if abs(zone) <= MAX_ZONE_S else None


def estimate_utc_offset(local_start: datetime, utc_at: datetime, t: float) -> int | None:
    """Camera offset from UTC, from the local start time in a file name and one UTC time at video second t.

    ``local_start`` is naive (the camera's wall clock) or aware (its tzinfo is ignored: the file name
    carries no zone). The difference is rounded to a quarter hour: a file name is written when recording
    starts, which can be a second or two off the first GPS second.
    """
    utc_start = utc_at.astimezone(timezone.utc).replace(tzinfo=None) - timedelta(seconds=t)
    return round_zone((local_start.replace(tzinfo=None) - utc_start).total_seconds())


@dataclass(frozen=True)
class ClockVerdict:
    local_time_as_utc: bool
    jump_s: float | None
    offset_s: int | None


def judge_clock(
    no_fix: Sequence[tuple[float, datetime]], fixes: Sequence[tuple[float, datetime]]
) -> ClockVerdict:
    """Detect a camera that writes local time as if it were UTC.

    Before the first fix, a Novatek camera stamps blocks with its RTC, kept in UTC; once the receiver has a
    fix, some firmwares (A119 Mini 2) write the GPS time shifted into the camera's zone. The evidence is a
    jump, between the last no-fix block and the first fix, of a whole number of quarter hours beyond the
    video time that passed.
    """
    if not no_fix or not fixes:
        return ClockVerdict(False, None, None)
    before = [x for x in no_fix if x[0] < fixes[0][0]]
    if not before:
        return ClockVerdict(False, None, None)
    (t0, c0), (t1, c1) = before[-1], fixes[0]
    jump = (c1 - c0).total_seconds() - (t1 - t0)
    zone = round_zone(jump)
    if zone and abs(jump - zone) <= 2:
        log.info("camera writes local time as UTC: clock jumps %+.0f s at the first fix", jump)
        return ClockVerdict(True, jump, zone)
    return ClockVerdict(False, jump, None)
