"""GPS tracks that are not freeGPS blocks: Google `camm` samples, NMEA logs (BlackVue), the 70mai `GPS ` box.

Each function turns bytes into (video second, record) pairs; the reader finds the bytes and
:mod:`dashcam.gps.assemble` judges the records like any others.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timedelta, timezone

from dashcam.gps.layouts.base import (
    KNOTS_TO_KMH,
    MPS_TO_KMH,
    BlockRecord,
    clock_of,
    ddmm_to_degrees,
    fix,
)

# ---------------------------------------------------------------------------------------------------
# camm (https://developers.google.com/streetview/publish/camm-spec): records of a 2-byte reserved field,
# a 2-byte type and a payload whose size the type fixes. Type 5: lat, lon, altitude (doubles, no time).
# Type 6: time (double seconds), fix type, lat / lon (doubles), altitude, accuracies and velocity (floats).

CAMM_SIZES = {0: 16, 1: 12, 2: 16, 3: 16, 4: 16, 5: 28, 6: 60, 7: 16}
GPS_EPOCH_OFFSET = 315964800  # 1980-01-06 in Unix seconds
FIVE_YEARS_S = 24 * 3600 * 365 * 5


def camm_time(value: float, creation_unix: float | None) -> datetime | None:
    """The spec counts from the GPS epoch but cameras also write Unix time: like ExifTool, take the GPS epoch
    only when Unix time would put the fix more than five years before the file's creation date."""
    if creation_unix and creation_unix - value > FIVE_YEARS_S:
        value += GPS_EPOCH_OFFSET
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def camm_records(data: bytes, creation_unix: float | None) -> list[BlockRecord]:
    out: list[BlockRecord] = []
    pos = 0
    while pos + 4 < len(data):
        kind = struct.unpack_from("<H", data, pos + 2)[0]
        size = CAMM_SIZES.get(kind)
        if size is None or pos + size > len(data):
            break
        if kind == 5:
            lat, lon = struct.unpack_from("<dd", data, pos + 4)
            out.append(fix("camm", None, lat, lon))
        elif kind == 6:
            when_s, fix_type, lat, lon = struct.unpack_from("<didd", data, pos + 4)
            east, north = struct.unpack_from("<ff", data, pos + 44)
            when = camm_time(when_s, creation_unix)
            clock = clock_of(when) if when else None
            if fix_type == 0:  # "no measurement": its coordinates are not a position
                out.append(BlockRecord("camm", "V"))
            else:
                speed = (east * east + north * north) ** 0.5 * MPS_TO_KMH
                out.append(fix("camm", clock, lat, lon, speed_kmh=speed))
        pos += size
    return out


# ---------------------------------------------------------------------------------------------------
# NMEA logs: BlackVue's `gps ` box inside its top-level `free` box, lines "[ms since 1970]$GPRMC,...".
# A fix is the RMC (date, position) of one time, with GGA's position when RMC has none, as ExifTool reads it.

SENTENCE = re.compile(rb"(?:\[(\d+)\])?\$[A-Z]{2}(RMC|GGA),(\d{4}\d+(?:\.\d*)?),")
RMC_BODY = re.compile(
    rb"(\d{2})(\d{2})(\d+(?:\.\d*)?),A?,(\d*?)(\d{1,2}\.\d+),([NS]),(\d*?)(\d{1,2}\.\d+),([EW]),"
    rb"(\d*\.?\d*),(\d*\.?\d*),(\d{2})(\d{2})(\d+)"
)
GGA_BODY = re.compile(
    rb"(\d{2})(\d{2})(\d+(?:\.\d*)?),(\d*?)(\d{1,2}\.\d+),([NS]),(\d*?)(\d{1,2}\.\d+),([EW]),[1-6]?,"
)


def _degrees(whole: bytes, minutes: bytes, ref: bytes, negative: bytes) -> float:
    value = int(whole or b"0") + float(minutes) / 60
    return -value if ref == negative else value


def nmea_log_records(text: bytes, start_ms: int | None = None) -> list[tuple[float, BlockRecord]]:
    """(video second, record) per fix. Video seconds come from the line timecodes (relative to ``start_ms``,
    BlackVue's `sttm`, or to the first timecode), else from the fix times."""
    fixes: list[tuple[int | None, BlockRecord]] = []
    current: dict[str, object] = {}

    def flush() -> None:
        if current.get("clock") and "lat" in current:
            rec = fix(
                "nmea-log",
                current["clock"],  # type: ignore[arg-type]
                current["lat"],  # type: ignore[arg-type]
                current["lon"],  # type: ignore[arg-type]
                speed_kmh=current.get("speed"),
                heading=current.get("track"),
            )
            fixes.append((current.get("tc"), rec))  # type: ignore[arg-type]
        current.clear()

    for m in SENTENCE.finditer(text):
        tc, kind, tim = m.groups()
        if current.get("tim") is not None and float(current["tim"]) != float(tim):  # type: ignore[arg-type]
            flush()
        current["tim"] = tim
        body_at = m.start(3)
        if kind == b"RMC" and (r := RMC_BODY.match(text, body_at)):
            year = int(r.group(14))
            current["tc"] = int(tc) if tc else None
            current["clock"] = {
                "year": year + (1900 if year >= 70 else 2000),
                "month": int(r.group(13)),
                "day": int(r.group(12)),
                "hour": int(r.group(1)),
                "minute": int(r.group(2)),
                "second": float(r.group(3)),
            }
            current["lat"] = _degrees(r.group(4), r.group(5), r.group(6), b"S")
            current["lon"] = _degrees(r.group(7), r.group(8), r.group(9), b"W")
            current["speed"] = float(r.group(10)) * KNOTS_TO_KMH if r.group(10) else None
            current["track"] = float(r.group(11)) if r.group(11) else None
        elif kind == b"GGA" and (g := GGA_BODY.match(text, body_at)):
            current["lat"] = _degrees(g.group(4), g.group(5), g.group(6), b"S")
            current["lon"] = _degrees(g.group(7), g.group(8), g.group(9), b"W")
    flush()

    base = start_ms if start_ms else next((tc for tc, _ in fixes if tc), None)
    first_time = next((r.time_utc() for _, r in fixes if r.time_utc()), None)
    out: list[tuple[float, BlockRecord]] = []
    for i, (tc, rec) in enumerate(fixes):
        if tc and base:
            t = (tc - base) / 1000
        elif first_time and (when := rec.time_utc()):
            t = (when - first_time) / timedelta(seconds=1)
        else:
            t = float(i)
        out.append((t, rec))
    return out


def looks_like_nmea(data: bytes) -> bool:
    return SENTENCE.search(data[:4096]) is not None


# ---------------------------------------------------------------------------------------------------
# 70mai's top-level `GPS ` box: 36-byte records: two words, the video second, speed * 1000, N/S, latitude
# (DDMM * 1000), E/W, longitude; an all-zero record ends the list.

MAI70_RECORD = struct.Struct("<IIIIcIcI")
MAI70_STEP = 36


def mai70_box_records(data: bytes) -> list[tuple[float, BlockRecord]]:
    out: list[tuple[float, BlockRecord]] = []
    pos = 0
    while pos + MAI70_STEP < len(data):
        chunk = data[pos : pos + MAI70_STEP]
        if not any(chunk):
            break
        _, _, second, speed, lat_ref, lat, lon_ref, lon = MAI70_RECORD.unpack_from(chunk)
        lat_deg, lon_deg = ddmm_to_degrees(lat / 1e3), ddmm_to_degrees(lon / 1e3)
        if lat_ref == b"S":
            lat_deg = -abs(lat_deg)
        if lon_ref == b"W":
            lon_deg = -abs(lon_deg)
        out.append((float(second), fix("70mai-gps-box", None, lat_deg, lon_deg, speed_kmh=speed / 1e3)))
        pos += MAI70_STEP
    return out
