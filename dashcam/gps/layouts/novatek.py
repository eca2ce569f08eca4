"""The Novatek binary record and the layouts built on it (ExifTool GPSTypes 3, 4, 16, 17, 17b, 17c).

The record: six little-endian uint32 time fields (hour, minute, second, year, month, day), a status byte
('A' fix / 'V' none), hemisphere letters, then float32 latitude / longitude as DDMM.MMMM, speed in knots and
heading in degrees. Cameras differ in where it starts (0x10 on the Viofo A119 v3, 0x30 on the A119S, 0x40 on
the Kenwood DRV-A510W) and in how the coordinates are stored (E-ACE encrypts them, IQS and Transcend store
decimal degrees, Rexing scales them).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct

from dashcam.gps.layouts.base import (
    KNOTS_TO_KMH,
    MPS_TO_KMH,
    BlockContext,
    BlockRecord,
    Layout,
    LayoutUnsupported,
    ddmm_to_degrees,
    f32,
    f64,
    fix,
    i32,
    signed,
    u32s,
    year_clock,
)

KENWOOD_SHIFT = 48  # the DRV-A510W's header is 48 bytes longer ("MN:DRV-A510W@..."), then the same record
UNUSED_ACCEL = (bytes(12), b"\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06\x00")  # zeros, or a 1..6 counter


def _record_sig(data: bytes, base: int) -> bool:
    """Three zero bytes (the day's high bytes), 'A', N/S, E/W, NUL: ExifTool's type 3 signature."""
    return (
        len(data) >= base + 44
        and data[base + 37 : base + 40] == b"\0\0\0"
        and data[base + 40] == 0x41
        and data[base + 41] in b"NS"
        and data[base + 42] in b"EW"
        and data[base + 43] == 0
    )


# ---------------------------------------------------------------------------------------------------
# Type 3 / 4: record at 0x10 (Kenwood: at 0x40). Type 4 is the E-ACE B44, whose lat/lon are ASCII strings,
# base64 of an RC4-encrypted string when the camera encrypts them ("luckychip" firmware).

LUCKY_KEYS = [b"luckychip gps"] + [b"customer %s gps" % (bytes([c]) * 2) for c in range(ord("a"), ord("t"))]
BASE64_FIELD = re.compile(rb"[A-Za-z0-9+/]{8,20}={0,2}\x00*")
DECIMAL_FIELD = re.compile(rb"\d{1,5}\.\d+\x00*")
DECRYPTED_LAT = re.compile(rb"\d{1,4}\.\d+")
DECRYPTED_LON = re.compile(rb"\d{1,5}\.\d+")


def rc4(data: bytes, key: bytes) -> bytes:
    """RC4, which is what ExifTool's DecryptLucky is; the key schedule cycles the key bytes."""
    box = list(range(256))
    j = 0
    for i in range(256):
        j = (j + box[i] + key[i % len(key)]) & 0xFF
        box[i], box[j] = box[j], box[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + box[i]) & 0xFF
        box[i], box[j] = box[j], box[i]
        out.append(byte ^ box[(box[i] + box[j]) & 0xFF])
    return bytes(out)


def _b64(field: bytes) -> bytes:
    """Base64 as ExifTool reads it: up to the first byte outside the alphabet, padding optional."""
    text = re.match(rb"[A-Za-z0-9+/= \t\n\r\f]*", field).group(0)  # type: ignore[union-attr]
    text = bytes(c for c in text if c not in b"= \t\n\r\f")
    text = text[: len(text) - len(text) % 4] if len(text) % 4 == 1 else text
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


TEXT_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/."


def _lucky_fields(d: bytes) -> tuple[bytes, bytes, bool, bool] | None:
    """(lat field, lon field, plain decimal strings?, base64?) or None when the block is too short to tell."""
    if len(d) < 0x78:
        return None
    lt, ln = d[0x2C:0x40], d[0x40:0x54]
    if lt[:8].translate(None, TEXT_BYTES) or ln[:8].translate(None, TEXT_BYTES):
        return lt, ln, False, False  # both forms start with 8 text bytes; the float record never does
    plain = all(DECIMAL_FIELD.fullmatch(x) for x in (lt, ln))
    encoded = all(BASE64_FIELD.fullmatch(x) for x in (lt, ln))
    return lt, ln, plain, encoded


TYPE3 = struct.Struct("<6IBcc1x4f")  # hour .. day, status, N/S, E/W, pad, lat, lon, knots, track (at 0x10)


def _decode_type3(d: bytes, name: str) -> list[BlockRecord]:
    if len(d) < 0x3C:
        hour, minute, second, year, month, day = u32s(d, 16, 6)
        return [BlockRecord(name, "V", **year_clock(year, month, day, hour, minute, second))]  # type: ignore[arg-type]
    hour, minute, second, year, month, day, _, ns, ew, lat, lon, knots, track = TYPE3.unpack_from(d, 16)
    accel = None
    raw = d[60:72]
    if len(raw) == 12 and raw not in UNUSED_ACCEL:
        accel = tuple(v / 256 for v in struct.unpack("<3i", raw))
    return [
        BlockRecord(
            name,
            "A",
            year if year >= 2000 else year + 2000,
            month,
            day,
            hour,
            minute,
            second,
            signed(ddmm_to_degrees(lat), ns, b"S"),
            signed(ddmm_to_degrees(lon), ew, b"W"),
            knots * KNOTS_TO_KMH,
            track,
            accel,  # type: ignore[arg-type]
            year >= 2000,
        )
    ]


def _decode_lucky(d: bytes, name: str) -> list[BlockRecord]:
    fields = _lucky_fields(d)
    assert fields is not None
    lt, ln, plain, _ = fields
    hour, minute, second, year, month, day = u32s(d, 16, 6)
    clock = year_clock(year, month, day, hour, minute, second)
    if plain:
        lat_text, lon_text = lt.rstrip(b"\0"), ln.rstrip(b"\0")
    else:
        lat_raw, lon_raw = _b64(lt), _b64(ln)
        for key in LUCKY_KEYS:
            lat_text, lon_text = rc4(lat_raw, key), rc4(lon_raw, key)
            if DECRYPTED_LAT.fullmatch(lat_text) and DECRYPTED_LON.fullmatch(lon_text):
                break
        else:
            raise LayoutUnsupported("E-ACE coordinates encrypted with an unknown key")
    lat = signed(ddmm_to_degrees(float(lat_text)), d[41:42], b"S")
    lon = signed(ddmm_to_degrees(float(lon_text)), d[42:43], b"W")
    return [fix(name, clock, lat, lon, speed_kmh=f32(d, 0x54) * KNOTS_TO_KMH, heading=f32(d, 0x58))]


def _type34_at(base: int) -> tuple[str, str]:
    return ("kenwood", "lucky-kenwood") if base else ("novatek", "lucky")


def _detect_type34(data: bytes) -> bool:
    return _record_sig(data, 0) or _record_sig(data, KENWOOD_SHIFT)


def _decode_type34(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    base = 0 if _record_sig(data, 0) else KENWOOD_SHIFT
    d = data[base:]
    plain_name, lucky_name = _type34_at(base)
    fields = _lucky_fields(d)
    if fields is not None and (fields[2] or fields[3]):
        return _decode_lucky(d, lucky_name)
    return _decode_type3(d, plain_name)


NOVATEK = Layout(
    "novatek",
    "3/4",
    "Viofo A119 v3, A129, A139, A229; Kenwood DRV-A510W (record 48 bytes later); "
    "E-ACE B44 (lat/lon as RC4+base64 text, 'lucky')",
    _detect_type34,
    _decode_type34,
    variants=("novatek", "kenwood", "lucky", "lucky-kenwood"),
)


# ---------------------------------------------------------------------------------------------------
# Types 16 / 17: the record at 0x30 (status at 0x48).

REXING_VERSION = "3.01.054"
REXING_LAT_OFFSET, REXING_LON_OFFSET = 187.982162849635, 2199.19873715495
TRANSCEND_BLOCK_WORD = 0x400000  # the block's size field read little-endian: a 0x4000-byte block


def _detect_0x30(data: bytes) -> bool:
    return (
        len(data) >= 0x58 and data[72] == 0x41 and data[73] in b"NS" and data[74] in b"EW" and data[75] == 0
    )


def _decode_0x30(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    hour, minute, second, year, month, day = u32s(data, 48, 6)
    clock = year_clock(year, month, day, hour, minute, second)
    if len(data) < 0x5C:
        return [BlockRecord("novatek-0x30", "V", **clock)]  # type: ignore[arg-type]
    heading: float | None = None
    degrees = False  # True when the stored values are already decimal degrees
    if data[16:19] == b"IQS":
        name, degrees = "iqs", True
        lat, lon = abs(i32(data, 0x4C)) / 1e7, abs(i32(data, 0x50)) / 1e7
        speed = i32(data, 0x54) / 100 * MPS_TO_KMH
    else:
        lat, lon = f32(data, 0x4C), f32(data, 0x50)
        speed, heading = f32(data, 0x54) * KNOTS_TO_KMH, f32(data, 0x58)
        if ctx.kodak_version == REXING_VERSION:
            name, degrees = "rexing-scaled", True
            lat, lon = (lat - REXING_LAT_OFFSET) / 3, (lon - REXING_LON_OFFSET) / 2
        elif (
            int.from_bytes(data[0:4], "little") == TRANSCEND_BLOCK_WORD and abs(lat) <= 90 and abs(lon) <= 180
        ):
            name, degrees = "transcend-degrees", True
            speed /= KNOTS_TO_KMH  # stored in km/h already
        else:
            name = "novatek-0x30"
    if len(data) >= 0xB0:
        # Transcend Driver Pro 230 repeats the position as doubles: more digits, same value.
        lat2, lon2 = f64(data, 0x70), f64(data, 0x80)
        if abs(lat2 - lat) < 0.001 and abs(lon2 - lon) < 0.001:
            lat, lon = lat2, lon2
    if not degrees:
        lat, lon = ddmm_to_degrees(lat), ddmm_to_degrees(lon)
    lat = signed(lat, data[73:74], b"S")
    lon = signed(lon, data[74:75], b"W")
    return [fix(name, clock, lat, lon, speed_kmh=speed, heading=heading)]


NOVATEK_0X30 = Layout(
    "novatek-0x30",
    "16/17",
    "Viofo A119S, 2E Drive 730, SilverStone F1 A80; IQS (int32 degrees); Rexing V1-4K (scaled, by its "
    "`frea` version 3.01.054); Transcend Drive Body Camera 70 (degrees, km/h); Transcend Driver Pro 230",
    _detect_0x30,
    _decode_0x30,
    variants=("novatek-0x30", "iqs", "rexing-scaled", "transcend-degrees"),
)


# ---------------------------------------------------------------------------------------------------
# Ours, tried after every ExifTool layout: no-fix blocks of the layouts above (status 'V', the RTC clock in
# UTC, which the clock judgement needs), and the A119 Mini 2 / A229 firmwares whose record moves.


def _plausible_clock(v: tuple[int, ...]) -> bool:
    hour, minute, second, year, month, day = v
    return (
        hour < 24
        and minute < 60
        and second < 61
        and (year < 100 or 2000 <= year < 2200)
        and 1 <= month <= 12
        and 1 <= day <= 31
    )


def _nofix_base(data: bytes) -> int | None:
    """Where a 'V' Novatek record starts (0x10, 0x40 Kenwood, 0x30 A119S), or None."""
    for base, status_at in ((0, 40), (KENWOOD_SHIFT, 88), (32, 72)):
        if len(data) >= status_at + 1 and data[status_at] == 0x56:
            clock = u32s(data, base + 16, 6)
            if _plausible_clock(clock) or clock == (0,) * 6:
                return base
    return None


def _decode_nofix(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    base = _nofix_base(data)
    assert base is not None
    hour, minute, second, year, month, day = u32s(data, base + 16, 6)
    if year == month == day == 0:
        return [BlockRecord("novatek-nofix", "V")]
    return [BlockRecord("novatek-nofix", "V", **year_clock(year, month, day, hour, minute, second))]  # type: ignore[arg-type]


NOVATEK_NOFIX = Layout(
    "novatek-nofix",
    "",
    "the Novatek cameras above before their first fix (status V, RTC clock)",
    lambda data: _nofix_base(data) is not None,
    _decode_nofix,
)

FLOATING_MARKER = re.compile(rb"\x00\x00\x00A[NS][EW]\x00")


def _minutes_ok(ddmm: float) -> bool:
    return math.isfinite(ddmm) and abs(ddmm) % 100 < 60


def _floating_records(data: bytes) -> list[BlockRecord]:
    for m in FLOATING_MARKER.finditer(data, 36 - 3):
        base = m.start() + 3 - 40  # the marker's 'A' is at base + 40, as in type 3
        d = data[base:]
        if base < 0 or len(d) < 0x3C or not _plausible_clock(u32s(d, 16, 6)):
            continue
        if not (_minutes_ok(f32(d, 0x2C)) and _minutes_ok(f32(d, 0x30))):
            continue
        recs = _decode_type3(d, "novatek-floating")
        if recs and recs[0].has_fix:
            return recs
    return []


NOVATEK_FLOATING = Layout(
    "novatek-floating",
    "",
    "Viofo A119 Mini 2 / A229 firmwares whose type 3 record moves inside the block",
    lambda data: bool(_floating_records(data)),
    lambda data, ctx: _floating_records(data),
)
