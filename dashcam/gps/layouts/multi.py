"""Layouts with several records per block (ExifTool GPSTypes 11, 13, 14, 20): every record is a fix.

These read the whole block, not just its first DECODE_BYTES. ExifTool reads only the first record of a
Nextbase block (its loop's step binds to a comparison); here every valid record is kept, which is what the
camera wrote.
"""

from __future__ import annotations

import re
import struct
from dataclasses import replace
from datetime import timedelta

from dashcam.gps.layouts.base import (
    KNOTS_TO_KMH,
    MPS_TO_KMH,
    BlockContext,
    BlockRecord,
    Layout,
    ddmm_to_degrees,
    f32,
    fix,
    i32,
    signed,
    u32,
)

# ---------------------------------------------------------------------------------------------------
# Type 13 (INNOVV MP4, as in its TS files): 32-byte records "A" N/S E/W NUL, float lat / lon (DDMM),
# float speed (knots), float track, three int32 accelerometer values. No time.

INNOVV_RECORD = re.compile(rb"A[NS][EW]\x00.{28}", re.S)


def _decode_innovv(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    out = []
    for m in INNOVV_RECORD.finditer(data):
        r = m.group(0)
        lat = signed(ddmm_to_degrees(abs(f32(r, 4))), r[1:2], b"S")
        lon = signed(ddmm_to_degrees(abs(f32(r, 8))), r[2:3], b"W")
        out.append(fix("innovv", None, lat, lon, speed_kmh=f32(r, 12) * KNOTS_TO_KMH, heading=f32(r, 16)))
    return out


INNOVV = Layout(
    "innovv",
    "13",
    "INNOVV (several records a block, no time)",
    lambda d: len(d) >= 20 and d[16] == 0x41 and d[17] in b"NS" and d[18] in b"EW" and d[19] == 0,
    _decode_innovv,
    whole_block=True,
)


# ---------------------------------------------------------------------------------------------------
# Type 14 (XBHT XB702 motorcycle camera): 36-byte records: year-2000, month, day, hour, minute, second,
# tenths (bytes), 'A', N/S, E/W, five bytes, uint32 lat and lon (DDMM * 1e4), four bytes, uint16 speed (km/h).
# ExifTool compares the hemisphere bytes as numbers with 'S' / 'W', so it never makes them negative; they are
# applied here, as the camera means them.

XBHT_RECORD = re.compile(rb".{7}[\x00-\x09]A[NS][EW].{25}", re.S)


def _detect_xbht(d: bytes) -> bool:
    return (
        len(d) >= 27
        and d[20] <= 0x18
        and d[21] <= 0x3B
        and d[22] <= 0x3B
        and d[23] <= 0x09
        and d[24] == 0x41
        and d[25] in b"NS"
        and d[26] in b"EW"
    )


def _decode_xbht(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    out = []
    for m in XBHT_RECORD.finditer(data):
        r = m.group(0)
        year, month, day, hour, minute, second, tenths = r[1:8]
        clock = {
            "year": year + 2000,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": minute,
            "second": second + tenths / 10,
        }
        lat = signed(ddmm_to_degrees(u32(r, 16) / 1e4), r[9:10], b"S")
        lon = signed(ddmm_to_degrees(u32(r, 20) / 1e4), r[10:11], b"W")
        speed = float(struct.unpack_from("<H", r, 28)[0])
        out.append(fix("xbht", clock, lat, lon, speed_kmh=speed))
    return out


XBHT = Layout("xbht", "14", "XBHT XB702 (10 Hz records)", _detect_xbht, _decode_xbht, whole_block=True)


# ---------------------------------------------------------------------------------------------------
# Type 20 (Nextbase 512G), ExifTool's fallback: 32-byte big-endian records from 0x30: "$S", uint16 speed
# (m/s * 100), int16 heading (deg * 100), uint16 year, month, day, hour, minute (bytes), uint16 tenths of
# seconds, one byte, int32 lat and lon (degrees * 1e7). A record is valid when its date is (ExifTool's check).

NEXTBASE_FIRST = 0x32
NEXTBASE_STEP = 0x20
NEXTBASE = struct.Struct(">HhHBBBBHxii")


def _nextbase_record(data: bytes, pos: int) -> BlockRecord | None:
    if pos + NEXTBASE.size > len(data):
        return None
    speed, heading, year, month, day, hour, minute, tenths, lat, lon = NEXTBASE.unpack_from(data, pos)
    if not (2000 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 59 and minute <= 59):
        return None
    if tenths > 600:
        return None
    clock = {"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": tenths / 10}
    track = heading / 100
    return fix(
        "nextbase-be",
        clock,
        lat / 1e7,
        lon / 1e7,
        speed_kmh=speed / 100 * MPS_TO_KMH,
        heading=track + 360 if track < 0 else track,
    )


def _decode_nextbase(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    out = []
    pos = NEXTBASE_FIRST
    while (rec := _nextbase_record(data, pos)) is not None:
        out.append(rec)
        pos += NEXTBASE_STEP
    return out


NEXTBASE_BE = Layout(
    "nextbase-be",
    "20",
    "Nextbase 512G (big-endian 32-byte records, all of them)",
    lambda d: _nextbase_record(d, NEXTBASE_FIRST) is not None,
    _decode_nextbase,
    whole_block=True,
)


# ---------------------------------------------------------------------------------------------------
# Type 11 ("ATC", IQS 2013 firmwares): the camera's ring buffer of 52-byte records, each XOR-ed with two key
# bytes it carries (at 0x14 and 0x1c), stored whole in every block. ExifTool keeps the records newer than
# the last one it printed; here every valid record is kept, placed relative to the block's newest record,
# and the reader drops those before the video and the repeats across blocks.

ATC_FIRST, ATC_SIZE = 0x30, 52
ATC_DATE_MAX = (24, 59, 59, 2200, 12, 31)  # hour, minute, second, year, month, day


def _atc_clear(rec: bytes) -> bytes:
    a = bytearray(rec)
    key1, key2 = a[0x14], a[0x1C]
    for i in [*range(0x00, 0x15), *range(0x18, 0x1C)]:
        a[i] ^= key1
    for i in [0x1C, *range(0x20, 0x33)]:
        a[i] ^= key2
    return bytes(a)


def _decode_atc(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    found = []
    pos = ATC_FIRST
    while pos + ATC_SIZE < len(data):
        b = _atc_clear(data[pos : pos + ATC_SIZE])
        pos += ATC_SIZE
        hour = (b[13] + 1) & 0xFF  # stored as hour - 1
        year, month, day = struct.unpack_from("<HBB", b, 0x2C)
        now = (hour, b[14], b[15], year, month, day)
        if any(v > top for v, top in zip(now, ATC_DATE_MAX, strict=True)):
            continue  # ExifTool: "Invalid GPS date/time"
        track = struct.unpack_from("<h", b, 0x24)[0] / 100
        clock = {"year": year, "month": month, "day": day, "hour": hour, "minute": b[14], "second": b[15]}
        rec = fix(
            "atc",
            clock,
            i32(b, 0x10) / 1e7,
            i32(b, 0x18) / 1e7,
            speed_kmh=i32(b, 0x20) / 100 * MPS_TO_KMH,
            heading=track + 360 if track < 0 else track,
        )
        if (when := rec.time_utc()) is not None:
            found.append((when, rec))
    if not found:
        return []
    newest = max(w for w, _ in found)
    found.sort(key=lambda wr: wr[0])
    return [replace(rec, dt=(when - newest) / timedelta(seconds=1)) for when, rec in found]


ATC = Layout(
    "atc",
    "11",
    "IQS 2013 firmwares ('ATC' ring buffer of encrypted records)",
    lambda d: d[0x45:0x48] == b"ATC",
    _decode_atc,
    whole_block=True,
)
