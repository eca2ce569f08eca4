"""A plausible drive for synthetic footage: speed profile with stops, turns, and one GPS fix per second.

The route is integrated on a fine time grid (``DT``), so scene rendering can ask for speed and distance at
any frame time. The per-second fixes are rounded the way the freeGPS writer stores them (whole UTC seconds,
float32 DDMM.MMMM, float32 knots and degrees), so what a reader gets back from the clip equals the route.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from dashcam.gps.layouts import KNOTS_TO_KMH
from dashcam.gps.track import EARTH_RADIUS_M, Fix

log = logging.getLogger(__name__)

DT = 0.1  # integration step, seconds
ACCEL = 2.0  # m/s^2 when speeding up
DECEL = 2.8  # m/s^2 when braking
DEFAULT_START = datetime(2024, 5, 18, 9, 30, 0, tzinfo=timezone.utc)
DEFAULT_LAT, DEFAULT_LON = 52.2053, 0.1218


def _f32(value: float) -> float:
    return float(np.float32(value))


def _quantize_degrees(value: float) -> float:
    """The value a reader decodes after the writer stored it as float32 DDMM.MMMM."""
    deg = int(abs(value))
    ddmm = _f32(deg * 100 + (abs(value) - deg) * 60)
    whole = int(ddmm / 100)
    out = whole + (ddmm - whole * 100) / 60
    return -out if value < 0 else out


def quantize_fix(fix: Fix) -> Fix:
    """A fix rounded to exactly what the A129 block layout can hold."""
    assert fix.time_utc is not None
    when = (fix.time_utc + timedelta(microseconds=500_000)).replace(microsecond=0)
    knots = _f32((fix.speed_kmh or 0.0) / KNOTS_TO_KMH)
    return Fix(
        t=fix.t,
        time_utc=when,
        lat=_quantize_degrees(fix.lat),
        lon=_quantize_degrees(fix.lon),
        speed_kmh=knots * KNOTS_TO_KMH,
        heading=_f32((fix.heading or 0.0) % 360.0),
    )


@dataclass
class Route:
    """A drive: dense samples every ``DT`` seconds and the per-second fixes written into the clip."""

    start_utc: datetime
    t: np.ndarray  # seconds from the start of the clip
    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray  # m/s
    heading: np.ndarray  # degrees clockwise from north
    distance: np.ndarray  # metres driven since t=0
    fixes: list[Fix] = field(default_factory=list)

    def speed_at(self, t: float) -> float:
        """Speed in m/s at clip time ``t``."""
        return float(np.interp(t, self.t, self.speed))

    def distance_at(self, t: float) -> float:
        """Metres driven since the start at clip time ``t``."""
        return float(np.interp(t, self.t, self.distance))

    def yaw_rate_at(self, t: float) -> float:
        """Heading change in degrees per second at ``t`` (positive: turning right)."""
        i = int(np.clip(np.searchsorted(self.t, t), 1, len(self.t) - 1))
        diff = (self.heading[i] - self.heading[i - 1] + 180.0) % 360.0 - 180.0
        return float(diff / (self.t[i] - self.t[i - 1]))

    def position(self, t: float) -> tuple[float, float]:
        """Latitude and longitude of the camera at clip time ``t``."""
        return float(np.interp(t, self.t, self.lat)), float(np.interp(t, self.t, self.lon))

    def as_dicts(self) -> list[dict[str, object]]:
        """The per-second fixes as JSON-ready dicts."""
        return [f.as_dict() for f in self.fixes]


def _speed_targets(rng: random.Random, seconds: float) -> list[tuple[float, float]]:
    """(until_t, target m/s) pieces: cruising at changing speeds, with stops now and then."""
    pieces: list[tuple[float, float]] = []
    t = 0.0
    while t < seconds + 2:
        if pieces and rng.random() < 0.3:
            brake = pieces[-1][1] / DECEL + 0.5
            pieces.append((t + brake + rng.uniform(3.0, 7.0), 0.0))  # stop at a light or junction
        else:
            pieces.append((t + rng.uniform(6.0, 14.0), rng.uniform(25.0, 70.0) / 3.6))
        t = pieces[-1][0]
    return pieces


def _turns(rng: random.Random, seconds: float) -> list[tuple[float, float, float]]:
    """(start_t, duration, degrees) of the turns and bends of the drive."""
    out: list[tuple[float, float, float]] = []
    t = rng.uniform(4.0, 10.0)
    while t < seconds:
        angle = rng.choice([-1, 1]) * (rng.uniform(60, 95) if rng.random() < 0.4 else rng.uniform(8, 30))
        duration = rng.uniform(3.0, 7.0)
        out.append((t, duration, angle))
        t += duration + rng.uniform(6.0, 15.0)
    return out


def make_route(
    seconds: float,
    *,
    seed: int = 0,
    start_utc: datetime = DEFAULT_START,
    start_lat: float = DEFAULT_LAT,
    start_lon: float = DEFAULT_LON,
    heading: float | None = None,
    parked: bool = False,
) -> Route:
    """A deterministic drive of ``seconds`` (one fix per whole second, t = 0 .. ceil(seconds) - 1); with
    ``parked``, the car stands still the whole time (parking mode, a long wait at lights)."""
    if seconds <= 0:
        raise ValueError(f"route length must be positive, got {seconds} s")
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    rng = random.Random(f"route:{seed}")
    start_utc = start_utc.astimezone(timezone.utc).replace(microsecond=0)
    n = int(round((seconds + 1.0) / DT)) + 1
    ts = np.arange(n) * DT
    targets = [(seconds + 2.0, 0.0)] if parked else _speed_targets(rng, seconds)
    turns = [] if parked else _turns(rng, seconds)
    speed = np.zeros(n)
    head = np.zeros(n)
    v = targets[0][1] * rng.uniform(0.7, 1.0)
    h = rng.uniform(0.0, 360.0) if heading is None else heading
    k = 0
    for i, t in enumerate(ts):
        while k < len(targets) - 1 and t >= targets[k][0]:
            k += 1
        goal = targets[k][1]
        v = min(goal, v + ACCEL * DT) if goal > v else max(goal, v - DECEL * DT)
        for t0, dur, angle in turns:
            if t0 <= t < t0 + dur and v > 0.5:
                h += angle / dur * DT  # a car only turns while it moves
        speed[i], head[i] = v, h % 360.0
    lat, lon, dist = np.zeros(n), np.zeros(n), np.zeros(n)
    lat[0], lon[0] = start_lat, start_lon
    for i in range(1, n):
        step = speed[i - 1] * DT
        rad = math.radians(head[i - 1])
        lat[i] = lat[i - 1] + math.degrees(step * math.cos(rad) / EARTH_RADIUS_M)
        lon[i] = lon[i - 1] + math.degrees(
            step * math.sin(rad) / (EARTH_RADIUS_M * math.cos(math.radians(lat[i - 1])))
        )
        dist[i] = dist[i - 1] + step
    fixes = []
    for s in range(int(math.ceil(seconds - 1e-9))):
        j = int(round(s / DT))
        raw = Fix(
            t=float(s),
            time_utc=start_utc + timedelta(seconds=s),
            lat=float(lat[j]),
            lon=float(lon[j]),
            speed_kmh=float(speed[j] * 3.6),
            heading=float(head[j]),
        )
        fixes.append(quantize_fix(raw))
    log.debug("route: %d fixes, %.0f m driven", len(fixes), dist[-1])
    return Route(start_utc, ts, lat, lon, speed, head, dist, fixes)
