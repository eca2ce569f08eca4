"""Single-record binary layouts other than the Novatek record (ExifTool GPSTypes 6, 8, 9, 10, 12, 15, 19).

Each has its own signature: status and hemisphere letters at fixed places, which is all ExifTool checks
too. Types 8 and 9 are known but encrypted: they are recognised so that they are reported as undecodable
instead of being mistaken for another layout, and never give a position.
"""

from __future__ import annotations

from dashcam.gps.layouts.base import (
    KNOTS_TO_KMH,
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

# ---------------------------------------------------------------------------------------------------
# Type 6 (Akaso dashcams, "Anticlock 2"): time at 0x30, 'A' as uint32 at 0x3c, float lat + 'N' uint32,
# float lon + 'E' uint32, float speed (unconverted) and track, then year, month, day.


def _detect_akaso(d: bytes) -> bool:
    return (
        len(d) >= 80
        and d[60] == 0x41
        and d[61:64] == b"\0\0\0"
        and d[68] in b"NS"
        and d[69:72] == b"\0\0\0"
        and d[76] in b"EW"
        and d[77:80] == b"\0\0\0"
    )


def _decode_akaso(d: bytes, ctx: BlockContext) -> list[BlockRecord]:
    if len(d) < 0x58:
        return []
    hour, minute, second = u32s(d, 48, 3)
    clock = None
    if len(d) >= 100:
        year, month, day = u32s(d, 88, 3)
        clock = year_clock(year, month, day, hour, minute, second)
    heading = f32(d, 0x54)
    if d[16:20] == b"x.xx":  # ExifTool found these cameras' track 180 degrees off
        heading += 180
        if heading >= 360:
            heading -= 360
    lat = signed(ddmm_to_degrees(f32(d, 0x40)), d[68:69], b"S")
    lon = signed(ddmm_to_degrees(f32(d, 0x48)), d[76:77], b"W")
    return [fix("akaso", clock, lat, lon, speed_kmh=f32(d, 0x50), heading=heading)]


AKASO = Layout("akaso", "6", "Akaso dashcams; Anticlock 2", _detect_akaso, _decode_akaso)


# ---------------------------------------------------------------------------------------------------
# Types 8 and 9: encrypted coordinates. ExifTool prints type 8's raw doubles with a warning that they are
# wrong; here they are reported as not decodable.


def _detect_akaso_v1(d: bytes) -> bool:
    return (
        len(d) >= 0x50
        and 1 <= d[64] <= 0x0C
        and d[65:68] == b"\0\0\0"
        and 1 <= d[68] <= 0x1F
        and d[69:72] == b"\0\0\0"
        and d[72] == 0x41
        and d[73] in b"NS"
        and d[74] in b"EW"
        and d[75:80] == bytes(5)
    )


def _refuse(why: str):  # type: ignore[no-untyped-def]
    def decode(d: bytes, ctx: BlockContext) -> list[BlockRecord]:
        raise LayoutUnsupported(why)

    return decode


AKASO_V1_ENCRYPTED = Layout(
    "akaso-v1-encrypted",
    "8",
    "Akaso V1, Redtiger F7N (coordinates encrypted: not decodable, by ExifTool either)",
    _detect_akaso_v1,
    _refuse("encrypted coordinates (Akaso V1 / Redtiger F7N)"),
)

EACHPAI_ENCRYPTED = Layout(
    "eachpai-encrypted",
    "9",
    "EACHPAI (encrypted text: not decodable, by ExifTool either)",
    lambda d: len(d) >= 132 and d[12:16] == b"\xac\0\0\0",
    _refuse("encrypted GPS text (EACHPAI)"),
)


# ---------------------------------------------------------------------------------------------------
# Type 10 (Vantrue S1, "horsontech"): 'A' N/S E/W at 0x40, then year, month, day, hour, minute, second as
# uint32, then float longitude (first), latitude, speed (knots), track, altitude.


def _decode_vantrue_s1(d: bytes, ctx: BlockContext) -> list[BlockRecord]:
    if len(d) < 0x70:
        return []
    year, month, day, hour, minute, second = u32s(d, 68, 6)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return []  # ExifTool skips such a block: recognised, nothing to say
    clock = year_clock(year, month, day, hour, minute, second)
    lon = signed(ddmm_to_degrees(f32(d, 0x5C)), d[66:67], b"W")
    lat = signed(ddmm_to_degrees(f32(d, 0x60)), d[65:66], b"S")
    return [fix("vantrue-s1", clock, lat, lon, speed_kmh=f32(d, 0x64) * KNOTS_TO_KMH, heading=f32(d, 0x68))]


VANTRUE_S1 = Layout(
    "vantrue-s1",
    "10",
    "Vantrue S1",
    lambda d: len(d) >= 68 and d[64] == 0x41 and d[65] in b"NS" and d[66] in b"EW" and d[67] == 0,
    _decode_vantrue_s1,
)


# ---------------------------------------------------------------------------------------------------
# Type 12: time at 0x30, 'A' at 0x3c, double lat (DDMM) at 0x40 + ref at 0x48, double lon at 0x50 + ref at
# 0x58, double speed (knots) at 0x60 and track at 0x68, then year, month, day at 0x70.


def _detect_doubles(d: bytes) -> bool:
    return (
        len(d) >= 0x88
        and d[60] == 0x41
        and d[61] == 0
        and d[72] in b"NS"
        and d[73] == 0
        and d[88] in b"EW"
        and d[89] == 0
    )


def _decode_doubles(d: bytes, ctx: BlockContext) -> list[BlockRecord]:
    hour, minute, second = u32s(d, 48, 3)
    year, month, day = u32s(d, 0x70, 3)
    clock = year_clock(year, month, day, hour, minute, second)
    lat = signed(ddmm_to_degrees(f64(d, 0x40)), d[72:73], b"S")
    lon = signed(ddmm_to_degrees(f64(d, 0x50)), d[88:89], b"W")
    return [fix("doubles-0x40", clock, lat, lon, speed_kmh=f64(d, 0x60) * KNOTS_TO_KMH, heading=f64(d, 0x68))]


DOUBLES = Layout(
    "doubles-0x40",
    "12",
    "IQS / Novatek cameras with DDMM doubles (Jun 2017 firmware)",
    _detect_doubles,
    _decode_doubles,
)


# ---------------------------------------------------------------------------------------------------
# Type 15 (Vantrue N4): time at 0x10, 'A' at 0x1c, double lat at 0x20 + ref at 0x28, double lon at 0x30 +
# ref at 0x38, double speed (knots) at 0x40, track at 0x48, year, month, day at 0x50.


def _decode_vantrue_n4(d: bytes, ctx: BlockContext) -> list[BlockRecord]:
    if len(d) < 92:
        return []
    hour, minute, second = u32s(d, 16, 3)
    year, month, day = u32s(d, 80, 3)
    clock = year_clock(year, month, day, hour, minute, second)
    if d[28] != 0x41:
        return [BlockRecord("vantrue-n4", "V", **clock)]  # type: ignore[arg-type]
    lat = signed(ddmm_to_degrees(abs(f64(d, 32))), d[40:41], b"S")
    lon = signed(ddmm_to_degrees(abs(f64(d, 48))), d[56:57], b"W")
    return [fix("vantrue-n4", clock, lat, lon, speed_kmh=f64(d, 64) * KNOTS_TO_KMH, heading=f64(d, 72))]


VANTRUE_N4 = Layout(
    "vantrue-n4",
    "15",
    "Vantrue N4 (N2X without its NMEA sentence)",
    lambda d: len(d) >= 57 and d[28] == 0x41 and d[40] in b"NS" and d[56] in b"EW",
    _decode_vantrue_n4,
)

# Ours: the same record before the first fix ('V'), for its RTC clock.
VANTRUE_N4_NOFIX = Layout(
    "vantrue-n4-nofix",
    "",
    "Vantrue N4 before its first fix (status V)",
    lambda d: len(d) >= 92 and d[28] == 0x56 and d[29:32] == b"\0\0\0" and 1 <= u32s(d, 84, 1)[0] <= 12,
    _decode_vantrue_n4,
    variants=("vantrue-n4",),
)


# ---------------------------------------------------------------------------------------------------
# Type 19 (70mai A810): 'A' at 30 and "VV" at 51, int32 lat / lon at 31 / 35 in DDMM * 1e5 (no hemisphere
# letters), int32 speed at 43 (km/h, not confirmed by ExifTool). No time: the fix only has its video second.
# ExifTool's pattern has no /s flag, so a newline byte before "VV" means it is not this layout.


def _detect_70mai(d: bytes) -> bool:
    return len(d) >= 53 and d[30] == 0x41 and d[51:53] == b"VV" and b"\n" not in d[:30] + d[31:51]


def _decode_70mai(d: bytes, ctx: BlockContext) -> list[BlockRecord]:
    lat = ddmm_to_degrees(i32(d, 31) / 1e5)
    lon = ddmm_to_degrees(i32(d, 35) / 1e5)
    return [fix("70mai", None, lat, lon, speed_kmh=float(i32(d, 43)))]


MAI70 = Layout("70mai", "19", "70mai A810 (no time in the block)", _detect_70mai, _decode_70mai)


# ---------------------------------------------------------------------------------------------------
# Ours, after every ExifTool layout: the signatures above with status 'V' (or no hemisphere yet), which
# ExifTool skips silently. They are the camera saying "no fix", so the clip is "no fix", not "unrecognised".

NS0, EW0 = b"NS\0", b"EW\0"
STATUS_V_SIGNATURES = (
    # type 6 (Akaso)
    lambda d: d[60:64] == b"V\0\0\0" and d[68] in NS0 and d[69:72] == b"\0\0\0" and d[76] in EW0,
    # type 10 (Vantrue S1)
    lambda d: d[64] == 0x56 and d[65] in NS0 and d[66] in EW0 and d[67] == 0 and d[48:58] == b"horsontech",
    # type 12 (doubles)
    lambda d: d[60:62] == b"V\0" and d[72] in NS0 and d[73] == 0 and d[88] in EW0 and d[89] == 0,
    # type 13 (INNOVV)
    lambda d: d[16] == 0x56 and d[17] in NS0 and d[18] in EW0 and d[19] == 0,
    # type 14 (XBHT)
    lambda d: d[20] <= 0x18 and d[21] <= 0x3B and d[22] <= 0x3B and d[23] <= 9 and d[24] == 0x56,
    # type 20 (Nextbase 512G): the record marker without a valid date
    lambda d: d[0x30:0x32] == b"$S",
)


def _status_v(d: bytes) -> bool:
    return len(d) >= 0x5A and any(sig(d) for sig in STATUS_V_SIGNATURES)


STATUS_V = Layout(
    "status-v",
    "",
    "Akaso, Vantrue S1, IQS doubles, INNOVV, XBHT, Nextbase 512G blocks written before a fix",
    _status_v,
    lambda d, ctx: [],
)
