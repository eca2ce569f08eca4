"""GPS tracks that are not freeGPS blocks: Google `camm` samples, NMEA logs (BlackVue), the 70mai `GPS ` box.

Each function turns bytes into (video second, record) pairs; the reader finds the bytes and
:mod:`dashcam.gps.assemble` judges the records like any others.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
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


def _by_time(records: list[BlockRecord]) -> list[tuple[float, BlockRecord]]:
    """Video seconds for a log without sample times: from the first fix's time (1 s apart when undated)."""
    first = next((when for r in records if (when := r.time_utc()) is not None), None)
    out = []
    for i, rec in enumerate(records):
        when = rec.time_utc()
        out.append(((when - first) / timedelta(seconds=1) if first and when else float(i), rec))
    return out


# ---------------------------------------------------------------------------------------------------
# DuDuBell M1 / VSYS M6L top-level `gps0` box: 32-byte records: double lat / lon (DDMM), int32 altitude,
# uint16 speed (km/h), year-2000, month, day, hour, minute, second bytes at 22, track / 2 at 28. The Lamax S9
# writes encrypted text there instead (not decoded).

GPS0_STEP = 32


def gps0_records(data: bytes) -> list[tuple[float, BlockRecord]] | None:
    """None for the encrypted (Lamax S9) form."""
    if data[2:9] == b"\xf2\xe1\xf0\xeeTT\x98":
        return None
    recs: list[BlockRecord] = []
    for pos in range(0, len(data) - GPS0_STEP + 1, GPS0_STEP):
        lat, lon = struct.unpack_from("<dd", data, pos)
        if not (abs(lat) <= 9000 and abs(lon) <= 18000):
            continue  # ExifTool skips these records
        year, month, day, hour, minute, second = data[pos + 22 : pos + 28]
        clock = {
            "year": year + 2000,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": minute,
            "second": second,
        }
        speed = struct.unpack_from("<H", data, pos + 0x14)[0]
        recs.append(
            fix(
                "gps0",
                clock,
                ddmm_to_degrees(lat),
                ddmm_to_degrees(lon),
                speed_kmh=float(speed),
                heading=data[pos + 0x1C] * 2.0,
            )
        )
    return _by_time(recs)


# ---------------------------------------------------------------------------------------------------
# Nextbase's software writes a top-level `gdat` box: base64 of JSON {"gpsData": [{"gpsStatus": "A",
# "datetime": "...", "lat": .., "lon": .., "speed": mph, "bearing": ..}, ...]}.

MPH_TO_KMH = 1.60934


def gdat_records(data: bytes) -> list[tuple[float, BlockRecord]]:
    text = re.match(rb"[A-Za-z0-9+/=\s]*", data)
    try:
        doc = json.loads(base64.b64decode(b"".join(text.group(0).split()) if text else b"", validate=False))
    except (ValueError, binascii.Error):
        return []
    points = doc.get("gpsData") if isinstance(doc, dict) else None
    recs: list[BlockRecord] = []
    for p in points if isinstance(points, list) else []:
        if not isinstance(p, dict) or p.get("gpsStatus") != "A":
            continue
        lat, lon = p.get("lat"), p.get("lon")
        if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
            continue
        clock = None
        if isinstance(p.get("datetime"), str):
            with contextlib.suppress(ValueError):
                when = datetime.fromisoformat(p["datetime"].rstrip("Z")).replace(tzinfo=timezone.utc)
                clock = clock_of(when)
        speed = p.get("speed")
        bearing = p.get("bearing")
        recs.append(
            fix(
                "nextbase-gdat",
                clock,
                float(lat),
                float(lon),
                speed_kmh=float(speed) * MPH_TO_KMH if isinstance(speed, (int, float)) else None,
                heading=float(bearing) if isinstance(bearing, (int, float)) else None,
            )
        )
    return _by_time(recs)
